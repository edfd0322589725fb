"""A softmax readout over candidate sentences for a sentence encoder.

An encoder has no vocabulary head, so docs/theory.md#setting's ``z(q) = U h(q)`` is built
from embeddings: the candidates (the 4 options of a question, or the refusal and
compliance response sentences) are embedded, and their unit embeddings ``e_k``
scaled by a temperature ``tau`` act as unembedding rows, ``u_k = tau·e_k``:

    z_k(q) = tau · <h(q), e_k>,    P(k | q) = softmax_k(z(q)).

``h(q)`` is the (possibly steered) normalised embedding of the question or
instruction; the candidates are embedded without steering (they are the fixed
``U``). ``tau`` is chosen by ``choose_tau`` on held-out questions. The logit functions
are pure and work under ``jax.jit``/``jax.vmap`` (value checks then apply only
to concrete inputs).
"""

from __future__ import annotations

from steerbounds.theory import check_array

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def _array(x, name: str, ndim: int, dims: str) -> jax.Array:
    arr = jnp.asarray(x)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes ({dims}), got shape {arr.shape}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise ValueError(f"{name} must be a floating array, got dtype {arr.dtype}")
    if not isinstance(arr, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _tau(tau: float, dtype) -> jax.Array:
    """``tau`` as a scalar of ``dtype``; checked to be finite and positive when concrete (not traced)."""
    if isinstance(tau, jax.core.Tracer):
        if jnp.ndim(tau) != 0:
            raise ValueError(f"tau must be a scalar, got shape {jnp.shape(tau)}")
        return jnp.asarray(tau, dtype)
    value = np.asarray(tau, dtype=np.float64)
    if value.ndim != 0 or not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"tau must be a finite positive number, got {tau!r}")
    return jnp.asarray(value, dtype)


def readout_logits(query_bd: jax.Array, unembed_kd: jax.Array, *, tau: float) -> jax.Array:
    """Logits ``z_bk = tau·<h_b, e_k>`` over one candidate set shared by every query.

    Args:
        query_bd: query embeddings, shape (b, d).
        unembed_kd: candidate embeddings, shape (k, d).
        tau: the readout temperature.

    Returns:
        logits, shape (b, k).

    >>> import jax.numpy as jnp
    >>> readout_logits(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 0.0], [0.0, 1.0]]), tau=10.0).tolist()
    [[10.0, 0.0]]
    """
    query_bd = _array(query_bd, "query_bd", 2, "batch, d")
    unembed_kd = _array(unembed_kd, "unembed_kd", 2, "candidates, d")
    if query_bd.shape[1] != unembed_kd.shape[1]:
        raise ValueError(f"query_bd has width {query_bd.shape[1]} but unembed_kd has width {unembed_kd.shape[1]}")
    if unembed_kd.shape[0] == 0:
        raise ValueError("unembed_kd is empty; pass at least one candidate")
    return _tau(tau, query_bd.dtype) * jnp.einsum("bd,kd->bk", query_bd, unembed_kd)


def option_logits(query_bd: jax.Array, options_bkd: jax.Array, *, tau: float) -> jax.Array:
    """Logits ``z_bk = tau·<h_b, e_bk>`` where each query has its own candidates (the options of a question).

    Restricted helpfulness (docs/theory.md#helpfulness): ``softmax(z_b)[correct_b]`` is
    P(correct among the options), and ``u_bk = tau·e_bk`` are the rows whose
    differences give the gap changes ``X_i = <δ, u_i − u_*>``.

    Args:
        query_bd: query embeddings, shape (b, d).
        options_bkd: option embeddings per query, shape (b, k, d).
        tau: the readout temperature.

    Returns:
        logits, shape (b, k).

    >>> import jax, jax.numpy as jnp
    >>> q = jnp.array([[1.0, 0.0]])
    >>> opts = jnp.array([[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]]])
    >>> jax.nn.softmax(option_logits(q, opts, tau=2.0)).round(3).tolist()
    [[0.624, 0.084, 0.28, 0.011]]
    """
    query_bd = _array(query_bd, "query_bd", 2, "batch, d")
    options_bkd = _array(options_bkd, "options_bkd", 3, "batch, options, d")
    if options_bkd.shape[0] != query_bd.shape[0] or options_bkd.shape[2] != query_bd.shape[1]:
        raise ValueError(f"options_bkd {options_bkd.shape} does not match query_bd {query_bd.shape} (batch, ?, d)")
    if options_bkd.shape[1] < 2:
        raise ValueError(f"options_bkd needs at least 2 options per query, got {options_bkd.shape[1]}")
    return _tau(tau, query_bd.dtype) * jnp.einsum("bd,bkd->bk", query_bd, options_bkd)


class BehaviourReadout(NamedTuple):
    """Logits over ``A+ ∪ A−`` (refusals first) and the index sets of each side.

    >>> BehaviourReadout._fields
    ('logits_bv', 'plus_v', 'minus_v')
    """

    logits_bv: jax.Array  # tau·<h_b, e_v>, refusal sentences then compliance sentences
    plus_v: np.ndarray  # column indices of A+ (refusal, aligned)
    minus_v: np.ndarray  # column indices of A− (compliance, misaligned)


def behaviour_logits(
    query_bd: jax.Array, refusal_pd: jax.Array, compliance_md: jax.Array, *, tau: float
) -> BehaviourReadout:
    """The behaviour readout (docs/theory.md#alignment): logits over refusal (``A+``) and compliance (``A−``) sentences.

    Every candidate is a behaviour "token", so the behaviour mass ``m = P+ + P−``
    is 1 and the restricted and unrestricted expectations agree:
    ``B = P+ − P− = tanh((lse(z_{A+}) − lse(z_{A−}))/2)``.

    Args:
        query_bd: query embeddings ``h``, shape (b, d).
        refusal_pd: refusal sentence embeddings (A+), shape (p, d).
        compliance_md: compliance sentence embeddings (A-), shape (m, d).
        tau: the readout temperature.

    Returns:
        :class:`BehaviourReadout`: ``logits_bv`` of shape (b, p + m), and which candidates are A+ (``plus_v``) and A- (``minus_v``).

    >>> import jax.numpy as jnp
    >>> r = behaviour_logits(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), tau=1.0)
    >>> r.logits_bv.tolist(), r.plus_v.tolist(), r.minus_v.tolist()
    ([[1.0, 0.0]], [0], [1])
    """
    query_bd = check_array("behaviour_logits", "query_bd", query_bd, ndim=2)
    refusal_pd = check_array("behaviour_logits", "refusal_pd", refusal_pd, ndim=2)
    compliance_md = check_array("behaviour_logits", "compliance_md", compliance_md, ndim=2)
    for name, rows in (("refusal_pd", refusal_pd), ("compliance_md", compliance_md)):
        if rows.shape[1] != query_bd.shape[1]:
            raise ValueError(f"behaviour_logits: {name} has width {rows.shape[1]}, query_bd has {query_bd.shape[1]}")
    refusal_pd = _array(refusal_pd, "refusal_pd", 2, "refusals, d")
    compliance_md = _array(compliance_md, "compliance_md", 2, "compliances, d")
    p, m = refusal_pd.shape[0], compliance_md.shape[0]
    if p == 0 or m == 0:
        raise ValueError(f"both response sets must be non-empty, got {p} refusal and {m} compliance sentences")
    logits = readout_logits(query_bd, jnp.concatenate([refusal_pd, compliance_md], axis=0), tau=tau)
    return BehaviourReadout(logits, np.arange(p), np.arange(p, p + m))


class TauChoice(NamedTuple):
    """The chosen temperature and the held-out mean log-likelihood over the grid.

    >>> TauChoice._fields
    ('tau', 'grid_g', 'mean_log_likelihood_g')
    """

    tau: float  # the grid point with the largest mean log P(correct)
    grid_g: np.ndarray  # the temperatures tried
    mean_log_likelihood_g: np.ndarray  # mean over questions of log P(correct) at each grid point


DEFAULT_TAU_GRID = np.round(np.geomspace(0.5, 500.0, 241), 6)


def choose_tau(
    query_bd: jax.Array, options_bkd: jax.Array, correct_b: jax.Array, *, grid_g: np.ndarray = DEFAULT_TAU_GRID
) -> TauChoice:
    """Pick ``tau`` maximising the mean log P(correct) over the given (held-out) questions.

    The procedure is deterministic: evaluate ``mean_b log softmax(tau·s_b)[correct_b]``
    (in float64) at every grid point and take the first maximiser. The
    log-likelihood is concave in ``tau`` (a log-sum-exp of linear functions), so
    the grid maximum brackets the true one; a maximum at either end of the grid
    raises ``ValueError`` (widen the grid) rather than returning an edge value.

    Args:
        query_bd: query embeddings, shape (b, d).
        options_bkd: option embeddings per query, shape (b, k, d).
        correct_b: index of the correct option per query, shape (b,).
        grid_g: candidate values of ``tau``, increasing, shape (g,).

    Returns:
        :class:`TauChoice`: the chosen ``tau`` and the mean log P(correct) on the grid, shape (g,).

    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    >>> opts = np.array([[[1, 0], [0, 1]], [[0.8, 0.6], [0, 1]]], np.float32)
    >>> choice = choose_tau(q, opts, np.array([0, 0]), grid_g=np.linspace(0.1, 5.0, 50))
    >>> round(choice.tau, 2)
    1.1
    """
    option_logits(query_bd, options_bkd, tau=1.0)  # validates shapes and values
    scores_bk = np.einsum(
        "bd,bkd->bk", np.asarray(query_bd, dtype=np.float64), np.asarray(options_bkd, dtype=np.float64)
    )
    correct = np.asarray(correct_b)
    if correct.shape != (scores_bk.shape[0],) or not np.issubdtype(correct.dtype, np.integer):
        raise ValueError(f"correct_b must be an integer array of shape ({scores_bk.shape[0]},), got {correct.shape}")
    if np.any((correct < 0) | (correct >= scores_bk.shape[1])):
        raise ValueError(f"correct_b has entries outside 0..{scores_bk.shape[1] - 1}")
    grid = np.asarray(grid_g, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 3 or not np.all(np.isfinite(grid)) or np.any(grid <= 0) or np.any(np.diff(grid) <= 0):
        raise ValueError("grid_g must be an increasing 1-D array of at least 3 finite positive temperatures")
    z_gbk = grid[:, None, None] * scores_bk[None, :, :]
    top_gb1 = z_gbk.max(axis=2, keepdims=True)
    lse_gb = top_gb1[:, :, 0] + np.log(np.exp(z_gbk - top_gb1).sum(axis=2))
    picked_gb = np.take_along_axis(z_gbk, correct[None, :, None].repeat(grid.size, axis=0), axis=2)[:, :, 0]
    mean_ll_g = (picked_gb - lse_gb).mean(axis=1)
    best = int(np.argmax(mean_ll_g))
    if best in (0, grid.size - 1):
        raise ValueError(
            f"the held-out log-likelihood is largest at the grid edge tau={grid[best]:.4g}; widen grid_g on that side"
        )
    return TauChoice(float(grid[best]), grid, mean_ll_g)
