"""Argument checks under ``jax.jit`` and ``jax.vmap``: :func:`checked`.

On concrete inputs every public function checks its arguments when called and
raises an error naming the argument. Under tracing the values are unknown, so
the value checks (NaN/inf, ranges, positive semi-definiteness) are staged as
``jax.experimental.checkify`` debug checks: they cost nothing and raise nothing
in a plain ``jax.jit`` (the function then returns whatever the arithmetic gives,
often NaN), and :func:`checked` turns them into a ``ValueError``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from jax.experimental import checkify


def staged(ok, message: str) -> None:
    """Stage the check ``ok`` (a traced boolean) with ``message``; raised only under :func:`checked`."""
    checkify.debug_check(ok, message.replace("{", "{{").replace("}", "}}"))


def checked(function: Callable) -> Callable:
    """``function`` with its argument checks raised under ``jax.jit``/``jax.vmap`` too.

    Wrap the outermost transformation: ``checked(jax.jit(f))`` or
    ``checked(jax.vmap(f))`` runs ``f`` through ``jax.experimental.checkify``
    and raises ``ValueError`` with the first failed check's message (naming
    the argument and the rule it broke) instead of returning NaN or a
    plausible-looking number. The checks run on the device with the
    computation; their cost is a few reductions over the inputs. Without
    ``checked``, a jitted call skips them.

    >>> import jax
    >>> from steerbounds import alignment_bound, checked
    >>> f = jax.jit(lambda b0: alignment_bound(1.0, 1.0, b0))
    >>> bool(jax.numpy.isnan(f(1.5)))  # plain jit: no check, NaN
    True
    >>> checked(f)(1.5)
    Traceback (most recent call last):
    ...
    ValueError: b0 must lie strictly inside (-1.0, 1.0). b0 is an unsteered behaviour expectation B_0; ...
    >>> round(float(checked(f)(0.0)), 6)
    0.462117
    """
    if not callable(function):
        raise TypeError(f"checked needs a function, got {type(function).__name__}")
    run = checkify.checkify(function, errors=checkify.user_checks)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        error, out = run(*args, **kwargs)
        message = error.get()
        if message is not None:
            raise ValueError(message.split(" (`check` failed)")[0].split("\n")[0]) from None
        return out

    return wrapper
