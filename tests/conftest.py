"""Shared test configuration: strict JAX, hypothesis profiles, a PRNG key fixture.

Hypothesis profiles: ``fast`` (default) for every local run and ``thorough``
under CI (the ``CI`` environment variable) or when ``HYPOTHESIS_PROFILE`` names it;
both are registered by the property-testing kit (``steerbounds.testing``).
"""

from __future__ import annotations

import jax
import pytest

from steerbounds.testing import load_profile

# Strict mode: implicit rank promotion is an error; float64 is available for the
# theory checks (models keep their own float32 parameters).
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_enable_x64", True)

# The kit registers the profiles and picks one from HYPOTHESIS_PROFILE (thorough under CI).
load_profile()


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key; tests that need several split it."""
    return jax.random.key(0)
