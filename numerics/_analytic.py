"""The analytic final-representation sweep reduced to first-token behaviour.

With final-layer steering ``h_c = h + c v`` the logits move along a line,
``z_c = z + c U v`` (docs/theory.md#setting), so the behaviour expectation of
every coefficient follows from the unsteered logits at the behaviour tokens
alone. For ``k`` behaviour tokens, ``c`` coefficients and ``b`` prompts the
work is ``c * b * k`` exponentials and nothing of size ``|V|``; the token loop
is unrolled so that XLA fuses it into one pass over the (c, b) output
(the (c, b, k) logits are never stored).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from steerbounds.theory import check_disjoint, check_finite, check_token_ids

from ._shard import sharded_final

_UNROLL = 32  # token sets up to this size are unrolled into one fused loop; larger ones reduce a (c, b, k) array


def _logsumexp_rows(z_kb: jax.Array, w_k: jax.Array, coefficients_c: jax.Array) -> jax.Array:
    """``log sum_k exp(z_kb + c w_k)`` for every (c, b), stable (shifted by the running maximum)."""
    k = z_kb.shape[0]
    if k > _UNROLL:
        t_cbk = z_kb.T[None, :, :] + coefficients_c[:, None, None] * w_k[None, None, :]
        return jax.nn.logsumexp(t_cbk, axis=-1)
    terms = [z_kb[j][None, :] + coefficients_c[:, None] * w_k[j] for j in range(k)]
    top = functools.reduce(jnp.maximum, terms)
    return jnp.log(functools.reduce(jnp.add, [jnp.exp(t - top) for t in terms])) + top


@functools.lru_cache(maxsize=None)
def _behaviour_function(n_plus: int, jit: bool):
    """``(z_kb, w_k, coefficients_c) -> B_cb`` for token rows ``[:n_plus]`` = A+ and ``[n_plus:]`` = A- (one object per size)."""

    def behaviour_cb(z_kb: jax.Array, w_k: jax.Array, coefficients_c: jax.Array) -> jax.Array:
        log_plus = _logsumexp_rows(z_kb[:n_plus], w_k[:n_plus], coefficients_c)
        log_minus = _logsumexp_rows(z_kb[n_plus:], w_k[n_plus:], coefficients_c)
        return jnp.tanh(0.5 * (log_plus - log_minus))

    return jax.jit(behaviour_cb) if jit else behaviour_cb


def final_steering_behaviour(
    logits_bv,
    unembed_vd,
    vector_d,
    coefficients_c,
    aligned_ids,
    misaligned_ids,
    *,
    normalize: bool = True,
    mesh: Mesh | None = None,
) -> jax.Array:
    """Restricted behaviour ``B_c = (P+ - P-)/(P+ + P-)`` under final-layer steering, shape (c, b).

    Final-layer steering adds ``c v`` to the final representation, so
    ``z_c = z + c U v`` (docs/theory.md#setting) and, in log space,
    ``B_c = tanh((LSE_{A+}(z_c) - LSE_{A-}(z_c)) / 2)`` (section 2). This is
    the exact curve that T1 bounds from below for ``c >= 0`` when the A1
    margin ``min_{a∈A+} <v, u_a> - max_{b∈A-} <v, u_b>`` is positive; it equals
    ``behaviour_expectation(final_steering_logits(...), ...)`` without storing
    the logits. ``logits_bv`` are the unsteered logits (b, V), ``unembed_vd``
    the rows ``u_t`` of ``U``; ``v`` is normalised unless ``normalize=False``.
    ``mesh`` (see :func:`sweep_mesh`) shards the result over its coefficient
    and prompt axes.

    Args:
        logits_bv: unsteered logits, shape (b, V).
        unembed_vd: unembedding rows, shape (V, d).
        vector_d: steering direction, shape (d,).
        coefficients_c: coefficients, shape (c,).
        aligned_ids: A+ token ids.
        misaligned_ids: A- token ids.
        normalize: scale ``vector_d`` to unit norm first.
        mesh: optional device mesh (:func:`sweep_mesh`).

    Returns:
        the restricted behaviour ``B_c``, shape (c, b).

    >>> import numpy as np
    >>> u = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    >>> b = final_steering_behaviour(np.zeros((1, 3)), u, [1.0, 0.0], [0.0, 1.0], [0], [1])
    >>> [round(float(x), 4) for x in b[:, 0]]  # tanh(c * (1 - (-1)) / 2)
    [0.0, 0.7616]
    """
    where = "final_steering_behaviour"
    # Only the behaviour tokens' logits and rows enter: their finiteness is checked below.
    logits_bv = jnp.asarray(check_finite("logits_bv", logits_bv, where=where, finite=False), jnp.float32)
    unembed_vd = jnp.asarray(check_finite("unembed_vd", unembed_vd, where=where, finite=False), jnp.float32)
    vector = np.asarray(check_finite("vector_d", vector_d, where=where), np.float64)
    coefficients = np.asarray(check_finite("coefficients_c", coefficients_c, where=where), np.float64)
    if logits_bv.ndim != 2 or unembed_vd.ndim != 2 or vector.ndim != 1 or coefficients.ndim != 1:
        raise ValueError(
            "final_steering_behaviour: expected logits_bv (b, v), unembed_vd (v, d), vector_d (d,), coefficients_c "
            f"(c,); got {logits_bv.shape}, {unembed_vd.shape}, {vector.shape}, {coefficients.shape}."
        )
    if unembed_vd.shape != (logits_bv.shape[1], vector.shape[0]):
        raise ValueError(
            f"final_steering_behaviour: unembed_vd has shape {unembed_vd.shape}, expected "
            f"({logits_bv.shape[1]}, {vector.shape[0]}) = (vocabulary of logits_bv, length of vector_d)."
        )
    if coefficients.size == 0 or not np.all(np.isfinite(coefficients)):
        raise ValueError("final_steering_behaviour: coefficients_c must be a non-empty array of finite numbers.")
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"final_steering_behaviour: vector_d has norm {norm}; it must be finite and non-zero.")
    if not normalize and abs(norm - 1) > 1e-4:
        raise ValueError(f"final_steering_behaviour: normalize=False but |vector_d| = {norm}, not 1.")
    vocab = logits_bv.shape[1]
    plus = check_token_ids("aligned_ids", aligned_ids, vocab)
    minus = check_token_ids("misaligned_ids", misaligned_ids, vocab)
    check_disjoint("aligned_ids", plus, "misaligned_ids", minus)
    ids = np.concatenate([plus, minus])
    z_kb = logits_bv[:, ids].T
    w_k = unembed_vd[ids] @ jnp.asarray(vector / norm if normalize else vector, jnp.float32)
    bad = ~np.isfinite(np.asarray(z_kb))
    if bad.any():
        k, row = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"final_steering_behaviour: logits_bv[{row}, {int(ids[k])}] is not finite; "
                         "the behaviour tokens need finite logits.")
    if not np.all(np.isfinite(np.asarray(w_k))):
        raise ValueError("final_steering_behaviour: unembed_vd has non-finite rows at the behaviour tokens.")
    coefficients = jnp.asarray(coefficients, jnp.float32)
    if mesh is None:
        return _behaviour_function(plus.size, True)(z_kb, w_k, coefficients)
    return sharded_final(_behaviour_function(plus.size, False), z_kb, w_k, coefficients, mesh=mesh,
                         prompt_axis_of_first=1)
