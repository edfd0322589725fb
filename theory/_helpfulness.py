"""Numeric helpfulness functions (docs/theory.md#helpfulness), compiled from the T2 derivations.

Every formula comes from :mod:`._derive_helpfulness` through the one bridge
(:mod:`._bridge`); probabilities are formed in log space. Inputs are converted
to float64 when ``jax_enable_x64`` is on (float32 otherwise).

Covariances (assumption A2's Sigma, the gap changes per unit steering norm)
are given as a scalar sigma squared (``()``: Sigma = sigma^2 I), a diagonal
(``(k,)``) or full matrices (``(..., k, k)``, which may carry batch axes).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _bridge, _derive_helpfulness as derive
from ._symbols import Sigma, g, j, p, p0, r as r_sym, s_H, sd
from ._validate import broadcast_batch, covariance, float_input, token_ids


@functools.cache
def _fn(statement: str, result: str, args: tuple, out: tuple = ()):
    return _bridge.lambdify(getattr(derive, statement)()[result], args, out_indices=out)


def probabilities(gaps_bk: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(p_0, p_bk)`` from the gaps, in log space (section 3's definition)."""
    log_p0 = _fn("definition", "log_probability", (g,))(gaps_bk)
    log_p = _fn("definition", "competitor_log_probability", (g,), (j,))(gaps_bk)
    return jnp.exp(log_p0), jnp.exp(log_p)


def gaps_and_covariance(r, gaps, cov):
    """Validate ``(r, gaps, cov)``; return them as arrays with the covariance kind.

    Kinds are ``"scalar"``, ``"diagonal"`` and ``"full"``; the kernels turn a
    scalar into a diagonal of length k (no k x k matrix is formed).
    """
    gaps_bk = float_input("gaps", gaps, min_ndim=1)
    k = gaps_bk.shape[-1]
    if k == 0:
        raise ValueError("gaps is empty: pass the gaps z_i - z_* of at least one competitor")
    cov, kind = covariance(cov, k)
    parts = [("gaps", gaps_bk, 1), ("cov", cov, 2 if kind == "full" else cov.ndim)]
    if r is not None:
        r = float_input("r", r)
        parts.append(("r", r, 0))
    broadcast_batch(parts)
    return r, gaps_bk, cov, kind


def as_diagonal(cov, kind: str, k: int):
    """Inside a kernel: sigma squared as a diagonal of length k (other kinds unchanged)."""
    return jnp.broadcast_to(cov, (k,)) if kind == "scalar" else cov


@functools.partial(jax.jit, static_argnames=("kind",))
def _lower_bound(r, gaps_bk, cov, kind):
    cov = as_diagonal(cov, kind, gaps_bk.shape[-1])
    if kind == "full":
        return jnp.exp(_fn("t2a", "log_bound", (r_sym, g, Sigma))(r, gaps_bk, cov))
    return jnp.exp(_fn("t2a", "log_bound_diagonal", (r_sym, g, sd))(r, gaps_bk, cov))


@functools.partial(jax.jit, static_argnames=("kind",))
def _curvature(gaps_bk, cov, kind):
    cov = as_diagonal(cov, kind, gaps_bk.shape[-1])
    p0_b, p_bk = probabilities(gaps_bk)
    if kind == "full":
        return _fn("t2b", "curvature", (p0, p, Sigma))(p0_b, p_bk, cov)
    return _fn("t2b", "curvature_diagonal", (p0, p, sd))(p0_b, p_bk, cov)


@functools.partial(jax.jit, static_argnames=("kind",))
def _second_order(r, gaps_bk, cov, kind):
    p0_b, _ = probabilities(gaps_bk)
    s_h = _curvature(gaps_bk, cov, kind)
    return _fn("t2b", "second_order_from_curvature", (r_sym, p0, s_H))(r, p0_b, s_h)


def helpfulness(logits, correct_id, competitor_ids=None):
    """Helpfulness ``H = P(correct | correct or competitors)`` (docs/theory.md#helpfulness).

    ``H = 1/(1 + sum_{i in C} e^{g_i})`` with gaps ``g_i = z_i - z_*``, computed in
    log space. ``competitor_ids=None`` compares with the whole vocabulary (full
    helpfulness); a list of option ids gives restricted helpfulness. The
    correct token may appear in ``competitor_ids`` (e.g. all option ids); it
    is counted once.

    Args:
      logits: ``(..., V)`` next-token logits.
      correct_id: the correct token id, an int or an int array broadcasting
        with the batch axes ``logits.shape[:-1]``.
      competitor_ids: token ids of the competitors C, or None for all others.

    Under ``jax.jit``/``jax.vmap`` the logits' finiteness is checked only inside
    :func:`steerbounds.checked` (a plain jitted call skips it); the token ids must be concrete.

    >>> import numpy as np
    >>> from steerbounds import helpfulness
    >>> logits = np.log([0.5, 0.25, 0.125, 0.125])
    >>> round(float(helpfulness(logits, 0)), 6)  # full vocabulary
    0.5
    >>> round(float(helpfulness(logits, 0, [0, 1])), 6)  # restricted to options 0, 1
    0.666667
    """
    logits_bv = float_input("logits", logits, min_ndim=1)
    vocab = logits_bv.shape[-1]
    batch = logits_bv.shape[:-1]
    correct = np.asarray(correct_id)
    if not np.issubdtype(correct.dtype, np.integer):
        raise TypeError(f"correct_id must be an integer token id (or array of ids), got dtype {correct.dtype}")
    if ((correct < 0) | (correct >= vocab)).any():
        raise ValueError(f"correct_id holds {correct.min()}..{correct.max()}, outside the vocabulary [0, {vocab})")
    try:
        correct = np.broadcast_to(correct, batch)
    except ValueError:
        raise ValueError(
            f"correct_id has shape {correct.shape}, which does not broadcast with the batch axes "
            f"{batch} of logits; pass one id per batch element or a single id"
        ) from None
    if vocab < 2:
        raise ValueError("logits must cover at least two tokens (the correct one and a competitor)")
    if competitor_ids is None:
        allowed = np.ones(vocab, dtype=bool)
    else:
        ids = token_ids("competitor_ids", competitor_ids, vocab)
        allowed = np.zeros(vocab, dtype=bool)
        allowed[ids] = True
        others = allowed.sum() - allowed[correct]
        if (others == 0).any():
            raise ValueError(
                "competitor_ids names no token other than correct_id; pass at least one competitor"
            )
    return _helpfulness(logits_bv, correct.astype(np.int32), allowed)


@jax.jit
def _helpfulness(logits_bv, correct_b, allowed_v):
    shape = logits_bv.shape
    z_star = jnp.take_along_axis(logits_bv, correct_b[..., None], axis=-1)
    vocab_bv = jax.lax.broadcasted_iota(jnp.int32, shape, len(shape) - 1)
    mask_bv = jnp.broadcast_to(allowed_v, shape) & (vocab_bv != correct_b[..., None])
    gaps_bv = jnp.where(mask_bv, logits_bv - z_star, -jnp.inf)
    return jnp.exp(_fn("definition", "log_probability", (g,))(gaps_bv))


def helpfulness_lower_bound(r, gaps, cov):
    """T2a: ``L(r) = 1/(1 + sum_i e^{g_i + r^2 Sigma_ii / 2}) <= E[H_r]`` for every r.

    Under A2 (gap changes ``X ~ N(0, r^2 Sigma)``), by Jensen's inequality; for
    ``Sigma = sigma^2 I`` it is ``1/(1 + a e^{sigma^2 r^2/2})`` with
    ``a = (1 - p_0)/p_0``. Evaluated in log space.

    Args:
      r: steering norm, shape broadcasting with the batch axes.
      gaps: ``(..., k)`` gaps ``z_i - z_*`` of the k competitors.
      cov: Sigma: ``()`` sigma squared, ``(k,)`` a diagonal, or ``(..., k, k)``.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> import numpy as np
    >>> from steerbounds import helpfulness_lower_bound
    >>> gaps = np.log([1.0, 1.0])  # p_0 = 1/3
    >>> round(float(helpfulness_lower_bound(0.0, gaps, 1.0)), 6)
    0.333333
    >>> round(float(helpfulness_lower_bound(1.0, gaps, 1.0)), 6)  # 1/(1 + 2 e^(1/2))
    0.232697
    """
    r, gaps_bk, cov, kind = gaps_and_covariance(r, gaps, cov)
    return _lower_bound(r, gaps_bk, cov, kind)


def helpfulness_curvature(gaps, cov):
    """T2b's curvature ``s_H = (p_0/2)(sum_i p_i Sigma_ii - 2 p^T Sigma p)``.

    ``E[H_r] = p_0 - s_H r^2 + O(r^4)`` under A2. By C2.1, ``s_H >= 0`` when
    ``p_0 >= 1/2``; it can be negative when ``p_0 < 1/2`` (noise then helps).

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> import numpy as np
    >>> from steerbounds import helpfulness_curvature
    >>> gaps = np.log([0.25, 0.25])  # p_0 = 2/3, p_i = 1/6
    >>> round(float(helpfulness_curvature(gaps, 1.0)), 6)  # (1/3) * 2 * (1/6)(1 - 1/3)
    0.074074
    """
    _, gaps_bk, cov, kind = gaps_and_covariance(None, gaps, cov)
    return _curvature(gaps_bk, cov, kind)


def helpfulness_second_order(r, gaps, cov):
    """T2b: the second-order law ``p_0 - s_H r^2`` for ``E[H_r]`` under A2.

    The error is O(r^4) (odd Gaussian moments vanish); T2c bounds it by
    ``K r^4``. See :func:`helpfulness_curvature` for ``s_H``.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> import numpy as np
    >>> from steerbounds import helpfulness_second_order
    >>> gaps = np.log([0.25, 0.25])
    >>> np.round(np.asarray(helpfulness_second_order(np.array([0.0, 0.5]), gaps, 1.0)), 6)
    array([0.666667, 0.648148])
    """
    r, gaps_bk, cov, kind = gaps_and_covariance(r, gaps, cov)
    return _second_order(r, gaps_bk, cov, kind)
