"""Numeric alignment functions (docs/theory.md#alignment), compiled from the T1/C1 derivations.

Every formula comes from :mod:`._derive_alignment` through the one bridge
(:mod:`._bridge`). Inputs are converted to the theory layer's dtype: float64
when ``jax_enable_x64`` is on, float32 otherwise; enable x64 for B_0 near +-1.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np

from . import _bridge, _derive_alignment as derive
from ._symbols import B0, Delta, eps as eps_sym, logp_minus, logp_plus, r as r_sym
from ._validate import (
    check_disjoint, check_open_interval, elementwise_arrays, float_input, is_concrete, staged_check, token_ids,
)

_B0_FIX = "b0 is an unsteered behaviour expectation B_0; at +-1 one token set has no mass and artanh is infinite"


@functools.cache
def _compiled(statement: str, result: str, args: tuple) -> jax.Array:
    return jax.jit(_bridge.lambdify(getattr(derive, statement)()[result], args))


def alignment_bound(r, margin, b0):
    """T1's lower bound on the steered behaviour expectation: ``tanh(r*margin/2 + artanh(b0))``.

    Under A1 (``margin`` = Delta = min over aligned tokens minus max over
    misaligned tokens of <dhat, u>), for every real ``r``:
    ``sign(r) * (B_r - alignment_bound(r, margin, b0)) >= 0``; for ``r >= 0`` it
    is a lower bound, with equality for one aligned and one misaligned token.
    The inequality holds for Delta of either sign; A1 (Delta > 0) makes it an
    increasing S-curve.

    Args:
      r: steering norm ``r`` (signed), any shape.
      margin: the A1 margin Delta, broadcasting with ``r``.
      b0: the unsteered restricted behaviour expectation B_0, in (-1, 1).

    Returns:
      the bound, of the broadcast shape, in float64 under jax x64 (else float32).

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> from steerbounds import alignment_bound
    >>> round(float(alignment_bound(1.0, 2.0, 0.0)), 6)  # tanh(1)
    0.761594
    >>> alignment_bound([0.0, 1.0, 2.0], 1.0, 0.5).shape
    (3,)
    """
    r, margin, b0_ = elementwise_arrays(r=r, margin=margin, b0=b0)
    check_open_interval("b0", b0_, -1.0, 1.0, _B0_FIX, original=b0)
    return _compiled("t1", "bound", (r_sym, Delta, B0))(r, margin, b0_)


def alignment_slope(margin, b0):
    """C1.1's slope ``s_A = (margin/2)(1 - b0^2)`` of T1's bound at ``r = 0``.

    ``tanh(r Delta/2 + artanh B_0) = B_0 + s_A r + O(r^2)`` (assumption A1);
    section 4 compares it with the helpfulness curvature.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> from steerbounds import alignment_slope
    >>> float(alignment_slope(2.0, 0.0))
    1.0
    """
    margin, b0_ = elementwise_arrays(margin=margin, b0=b0)
    check_open_interval("b0", b0_, -1.0, 1.0, _B0_FIX, original=b0)
    return _compiled("c1_1", "slope", (Delta, B0))(margin, b0_)


def guarantee_radius(margin, b0, *, eps):
    """C1.2: the steering norm ``r_eps`` beyond which T1 guarantees ``B_r >= 1 - eps``.

    ``r_eps = (2/Delta) (artanh(1 - eps) - artanh(B_0))``, evaluated in log form so
    that tiny ``eps`` keep full precision. Needs A1 (``margin > 0``) and
    ``1 - eps > b0``; ``0 < eps < 2``.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> from steerbounds import guarantee_radius
    >>> round(float(guarantee_radius(1.0, 0.0, eps=0.1)), 6)  # 2 artanh(0.9)
    2.944439
    """
    margin, b0_, eps_ = elementwise_arrays(margin=margin, b0=b0, eps=eps)
    check_open_interval("b0", b0_, -1.0, 1.0, _B0_FIX, original=b0)
    check_open_interval("eps", eps_, 0.0, 2.0, "eps is the tolerated shortfall from B = 1", original=eps)
    check_open_interval("margin", margin, 0.0, float("inf"), "C1.2 needs assumption A1 (a positive margin)")
    message = "eps is too large: the target 1 - eps must exceed b0 (already met at r = 0); pass a smaller eps"
    if is_concrete(b0_) and is_concrete(eps_):
        if bool(np.any(1.0 - eps_ <= b0_)):
            raise ValueError(message)
    else:
        staged_check(jnp.all(1.0 - eps_ > b0_), message)
    return _compiled("c1_2", "radius_log_form", (Delta, B0, eps_sym))(margin, b0_, eps_)


@functools.partial(jax.jit, static_argnames=("restricted",))
def _behaviour(logits_bv, plus_ids, minus_ids, restricted):
    lp = jss.logsumexp(jnp.take(logits_bv, plus_ids, axis=-1), axis=-1)
    lm = jss.logsumexp(jnp.take(logits_bv, minus_ids, axis=-1), axis=-1)
    if restricted:
        return _bridge.lambdify(derive.t1()["behaviour"], (logp_plus, logp_minus))(lp, lm)
    lz = jss.logsumexp(logits_bv, axis=-1)
    return _bridge.lambdify(derive.t1()["behaviour_unrestricted"], (logp_plus, logp_minus))(lp - lz, lm - lz)


def behaviour_expectation(logits, aligned_ids, misaligned_ids, *, restricted=True):
    """First-token behaviour expectation (docs/theory.md#alignment), in log space.

    With ``P+`` and ``P-`` the probabilities of the aligned and misaligned token
    sets, ``restricted=True`` gives ``B = (P+ - P-)/(P+ + P-) = tanh((ln P+ - ln P-)/2)``
    and ``restricted=False`` gives ``B~ = P+ - P-`` (probabilities over the whole
    vocabulary). Log-sum-exp over each set keeps B near +-1 accurate.

    Args:
      logits: ``(..., V)`` next-token logits; any leading batch axes.
      aligned_ids: the set A+ of token ids (non-empty, no repeats).
      misaligned_ids: the set A- (non-empty, disjoint from A+).
      restricted: which expectation (keyword-only).

    Under ``jax.jit``/``jax.vmap`` the logits' finiteness is checked only inside
    :func:`steerbounds.checked` (a plain jitted call skips it); the token ids must be concrete.

    >>> import numpy as np
    >>> from steerbounds import behaviour_expectation
    >>> logits = np.log([[0.6, 0.2, 0.2]])
    >>> np.round(np.asarray(behaviour_expectation(logits, [0], [1])), 6)
    array([0.5])
    >>> np.round(np.asarray(behaviour_expectation(logits, [0], [1], restricted=False)), 6)
    array([0.4])
    """
    logits_bv = float_input("logits", logits, min_ndim=1)
    vocab = logits_bv.shape[-1]
    plus = token_ids("aligned_ids", aligned_ids, vocab)
    minus = token_ids("misaligned_ids", misaligned_ids, vocab)
    check_disjoint("aligned_ids", plus, "misaligned_ids", minus)
    if not isinstance(restricted, bool):
        raise TypeError(f"restricted must be True or False, got {restricted!r}")
    return _behaviour(logits_bv, plus, minus, restricted)
