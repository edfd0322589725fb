"""The exact expected helpfulness under A2: Gauss-Hermite quadrature or Monte Carlo.

``E[H_r] = E[1/(1 + sum_i e^{g_i + X_i})]`` with ``X ~ N(r mu, r^2 Sigma)``.
The integrand is section 3's steered helpfulness, compiled through the bridge
and evaluated in log space. Writing ``X = r (mu + F xi)`` with ``F F^T = Sigma``
and ``xi ~ N(0, I)``:

* quadrature: a tensor Gauss-Hermite rule with ``n`` nodes per axis (``n^k``
  points, for a few competitors); its error estimate is the difference from
  the rule with ``n // 2`` nodes, a conservative figure for smooth integrands;
* Monte Carlo: ``n`` draws in antithetic pairs ``(xi, -xi)`` (the odd part of
  the integrand cancels, which removes most of the variance at small ``r``),
  with the standard error of the pair means.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _bridge, _derive_helpfulness as derive
from ._helpfulness import as_diagonal, gaps_and_covariance
from ._symbols import X, g
from ._validate import broadcast_batch, float_input

_QUADRATURE_MAX_K = 2  # "auto" uses quadrature up to this many competitors
_DEFAULT_NODES = {1: 64, 2: 40}
_DEFAULT_SAMPLES = 1 << 16
_CHUNK = 1024  # Monte Carlo pairs evaluated at once


class Expectation(NamedTuple):
    """An estimate of ``E[H_r]`` and its error: a standard error (Monte Carlo) or a quadrature error estimate."""

    value: jax.Array
    stderr: jax.Array


@functools.cache
def _steered_log_probability():
    return _bridge.lambdify(derive.definition()["steered_log_probability"], (g, X))


def _hermite_grid(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``(n^k, k)`` and weights ``(n^k,)`` of the tensor rule for E over N(0, I_k)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    grids = np.meshgrid(*([x] * k), indexing="ij")
    weights = np.prod(np.meshgrid(*([w] * k), indexing="ij"), axis=0)
    return np.stack([gr.ravel() for gr in grids], axis=-1), weights.ravel()


def _factor(cov, kind):
    """F with F F^T = Sigma: (..., k, k) for a full covariance, (k,) standard deviations for a diagonal."""
    if kind == "full":
        eig, vec = jnp.linalg.eigh(cov)
        # Sigma has passed the PSD check; eigenvalues below zero are rounding and are set to zero.
        return vec * jnp.sqrt(jnp.maximum(eig, 0.0))[..., None, :]
    return jnp.sqrt(cov)


def _mean_helpfulness(r, gaps_bk, factor, mean_bk, xi_qk, kind):
    """H at ``X = r (mu + F xi_q)`` for every node ``q``: shape ``batch + (q,)``."""
    batch = r.shape
    if kind == "full":
        noise = jnp.einsum("...ij,qj->...qi", factor, xi_qk)
    else:
        noise = jnp.broadcast_to(factor[None, :] * xi_qk, batch + xi_qk.shape)
    change = r[..., None, None] * (mean_bk[..., None, :] + noise)
    return jnp.exp(_steered_log_probability()(gaps_bk[..., None, :], change))


def _broadcast(r, gaps_bk, cov, mean_bk, kind, batch):
    """Inside a kernel: every argument broadcast to the batch shape, sigma squared as a diagonal."""
    k = gaps_bk.shape[-1]
    cov = as_diagonal(cov, kind, k)
    if kind == "full":
        cov = jnp.broadcast_to(cov, batch + (k, k))
    mean_bk = jnp.zeros((k,), gaps_bk.dtype) if mean_bk is None else mean_bk
    return (jnp.broadcast_to(r, batch), jnp.broadcast_to(gaps_bk, batch + (k,)), cov,
            jnp.broadcast_to(mean_bk, batch + (k,)), "full" if kind == "full" else "diagonal")


@functools.partial(jax.jit, static_argnames=("kind", "n", "batch"))
def _quadrature(r, gaps_bk, cov, mean_bk, kind, n, batch):
    r, gaps_bk, cov, mean_bk, kind = _broadcast(r, gaps_bk, cov, mean_bk, kind, batch)
    factor = _factor(cov, kind)
    k = gaps_bk.shape[-1]
    estimates = []
    for nodes in (n, max(n // 2, 1)):
        xi, w = _hermite_grid(nodes, k)
        values = _mean_helpfulness(r, gaps_bk, factor, mean_bk, jnp.asarray(xi, r.dtype), kind)
        estimates.append(values @ jnp.asarray(w, r.dtype))
    return Expectation(estimates[0], jnp.abs(estimates[0] - estimates[1]))


@functools.partial(jax.jit, static_argnames=("kind", "pairs", "batch"))
def _monte_carlo(r, gaps_bk, cov, mean_bk, key, kind, pairs, batch):
    r, gaps_bk, cov, mean_bk, kind = _broadcast(r, gaps_bk, cov, mean_bk, kind, batch)
    factor = _factor(cov, kind)
    k = gaps_bk.shape[-1]
    chunk = min(_CHUNK, pairs)
    n_chunks = -(-pairs // chunk)

    # Sums of (pair mean - H at X = 0): shifting by a value near the mean keeps the
    # variance accurate when H is close to 1 or its spread is tiny.
    shift = jnp.exp(_steered_log_probability()(gaps_bk, jnp.zeros_like(gaps_bk)))

    def body(carry, chunk_key):
        total, total_sq = carry
        xi = jax.random.normal(chunk_key, (chunk, k), dtype=r.dtype)
        plus = _mean_helpfulness(r, gaps_bk, factor, mean_bk, xi, kind)
        minus = _mean_helpfulness(r, gaps_bk, factor, mean_bk, -xi, kind)
        pair = (plus + minus) / 2 - shift[..., None]
        return (total + jnp.sum(pair, axis=-1), total_sq + jnp.sum(pair**2, axis=-1)), None

    zero = jnp.zeros(r.shape, dtype=r.dtype)
    (total, total_sq), _ = jax.lax.scan(body, (zero, zero), jax.random.split(key, n_chunks))
    count = n_chunks * chunk
    offset = total / count
    var = jnp.maximum(total_sq / count - offset**2, 0.0) * count / (count - 1)
    return Expectation(shift + offset, jnp.sqrt(var / count))


def expected_helpfulness(r, gaps, cov, *, method="auto", n=None, key=None, mean=None):
    """The exact ``E[H_r]`` under A2, with its error; what T2a bounds and T2b expands.

    ``E[1/(1 + sum_i e^{g_i + X_i})]`` for ``X ~ N(r mu, r^2 Sigma)`` (``mu = 0``
    unless ``mean`` is given, as in C2.3). ``method="quadrature"`` uses a tensor
    Gauss-Hermite rule with ``n`` nodes per competitor axis (default 64 for one
    competitor, 40 for two); ``"monte_carlo"`` uses ``n`` antithetic draws
    (default 65536) from ``key`` (default ``jax.random.key(0)``, so results are
    reproducible); ``"auto"`` picks quadrature for at most two competitors.
    Quadrature is accurate while ``r * sqrt(Sigma_ii)`` is moderate (up to
    about 5); its error estimate grows beyond.

    Args:
      r: steering norm.
      gaps: ``(..., k)`` gaps ``g_i = z_i - z_*``.
      cov: Sigma as in :func:`helpfulness_lower_bound`.
      method: ``"auto"``, ``"quadrature"`` or ``"monte_carlo"``, as above (keyword-only).
      n: Monte Carlo sample size (keyword-only).
      key: Monte Carlo key (keyword-only).
      mean: optional ``(..., k)`` mean gap change per unit norm mu (C2.3).

    Returns:
      ``Expectation(value, stderr)``, a named pair of arrays of the batch shape.

    >>> import numpy as np
    >>> from steerbounds import expected_helpfulness, helpfulness_lower_bound
    >>> gaps = np.log([0.25, 0.25])
    >>> value, err = expected_helpfulness(0.5, gaps, 1.0)
    >>> round(float(value), 4), bool(err < 1e-10)
    (0.6491, True)
    >>> bool(value >= helpfulness_lower_bound(0.5, gaps, 1.0))  # T2a
    True
    """
    r, gaps_bk, cov, kind = gaps_and_covariance(r, gaps, cov)
    k = gaps_bk.shape[-1]
    parts = [("r", r, 0), ("gaps", gaps_bk, 1), ("cov", cov, 2 if kind == "full" else cov.ndim)]
    mean_bk = None
    if mean is not None:
        mean_bk = float_input("mean", mean, min_ndim=1)
        if mean_bk.shape[-1] != k:
            raise ValueError(f"mean has {mean_bk.shape[-1]} entries per row but gaps has k={k}; pass one mean per competitor")
        parts.append(("mean", mean_bk, 1))
    batch = broadcast_batch(parts)
    if method == "auto":
        method = "quadrature" if k <= _QUADRATURE_MAX_K else "monte_carlo"
    if method == "quadrature":
        nodes = _DEFAULT_NODES.get(k, 16) if n is None else _count("n", n, minimum=2)
        if nodes**k > 1 << 22:
            raise ValueError(f"quadrature with n={nodes} nodes on k={k} axes needs {nodes}^{k} points; use method='monte_carlo'")
        return _quadrature(r, gaps_bk, cov, mean_bk, kind, nodes, batch)
    if method == "monte_carlo":
        samples = _DEFAULT_SAMPLES if n is None else _count("n", n, minimum=4)
        key = jax.random.key(0) if key is None else key
        return _monte_carlo(r, gaps_bk, cov, mean_bk, key, kind, samples // 2, batch)
    raise ValueError(f"method must be 'auto', 'quadrature' or 'monte_carlo', got {method!r}")


def _count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
