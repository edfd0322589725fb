"""Run a function with JAX's 64-bit mode on (the theory and numerics layers then compute in float64)."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def float64(fn: F) -> F:
    """Decorate ``fn`` so that it runs under ``jax.enable_x64(True)``.

    Measured log-probabilities near 0 or bounds near ``B_0 = +-1`` need float64;
    the setting is restored on return.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import jax

        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
