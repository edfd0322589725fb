"""Shared test configuration: strict JAX, hypothesis profiles, a PRNG key fixture.

Hypothesis profiles: ``fast`` (default) for every local run and ``thorough``
under CI (the ``CI`` environment variable) or when ``HYPOTHESIS_PROFILE`` names it.
"""

from __future__ import annotations

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

# Strict mode: implicit rank promotion is an error; float64 is available for the
# theory checks (models keep their own float32 parameters).
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "thorough" if os.environ.get("CI") else "fast"))


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key; tests that need several split it."""
    return jax.random.key(0)
