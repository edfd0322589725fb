"""The exact expected helpfulness under A2: transition-centred quadrature or Monte Carlo.

``E[H_r] = E[1/(1 + sum_i e^{g_i + X_i})]`` with ``X ~ N(r mu, r^2 Sigma)``.
The integrand is section 3's steered helpfulness, compiled through the bridge
and evaluated in log space. Writing ``X = r (mu + F xi)`` with ``F F^T = Sigma``
and ``xi ~ N(0, I)``:

* quadrature: an iterated trapezoid rule with ``n`` nodes per axis (``n^k``
  points, for a few competitors) in ``xi = c + s sinh(u)``, with ``L`` the
  Cholesky factor of Sigma: on each axis the rule is centred on the
  integrand's transition ``c`` and its nodes are ``s = 1/(r L_ii)`` apart
  there, so the transition stays resolved however large ``r sqrt(Sigma)`` is
  (it narrows like ``1/(r sqrt(Sigma))``, which defeats a fixed Gauss-Hermite
  rule). The rule converges geometrically in ``n``; its error estimate is the
  distance from the rule on every other node (plus a few ulp), which bounds
  the error of the full rule;
* Monte Carlo: ``n`` draws in antithetic pairs ``(xi, -xi)`` (the odd part of
  the integrand cancels, which removes most of the variance at small ``r``),
  with the standard error of the pair means.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _bridge, _derive_helpfulness as derive
from ._helpfulness import _curvature, as_diagonal, gaps_and_covariance
from ._symbols import X, g
from ._validate import broadcast_batch, float_input, prng_key

_QUADRATURE_MAX_K = 2  # "auto" uses quadrature up to this many competitors
_DEFAULT_NODES = {1: 257, 2: 65}
_DEFAULT_SAMPLES = 1 << 16
_CHUNK = 1024  # Monte Carlo pairs evaluated at once


class Expectation(NamedTuple):
    """An estimate of ``E[H_r]`` and its error: a standard error (Monte Carlo) or a quadrature error estimate.

    What :func:`expected_helpfulness` returns. A NamedTuple, hence a pytree: it passes into and out of
    ``jax.jit`` and ``jax.vmap`` as its two arrays.

    >>> Expectation(0.5, 0.01).stderr
    0.01
    """

    value: jax.Array
    stderr: jax.Array


@functools.cache
def _steered_log_probability():
    return _bridge.lambdify(derive.definition()["steered_log_probability"], (g, X))


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


_REACH = 9.0  # the rule covers xi in [-9, 9] on every axis: the normal mass outside is below 1e-18
_CENTRE_LIMIT = 6.0  # transitions further out carry normal mass below 1e-9 and are not followed


def _cholesky(cov):
    """Lower-triangular L with L L^T = Sigma for a PSD ``(..., k, k)`` Sigma, singular ones included.

    Column by column (k is small); a pivot that rounding leaves at or below zero
    gives a zero column, where ``jnp.linalg.cholesky`` would return NaN.
    """
    k = cov.shape[-1]
    cols = []
    for i in range(k):
        col = cov[..., :, i]
        for c in cols:
            col = col - c * c[..., i : i + 1]
        pivot = col[..., i]
        positive = pivot > 1e-14 * jnp.maximum(jnp.max(jnp.abs(jnp.diagonal(cov, axis1=-2, axis2=-1)), axis=-1), 1e-300)
        root = jnp.sqrt(jnp.where(positive, pivot, 1.0))
        col = jnp.where(positive[..., None], col / root[..., None], 0.0)
        col = col * (jnp.arange(k) >= i).reshape((1,) * (col.ndim - 1) + (k,))
        cols.append(col)
    return jnp.stack(cols, axis=-1)


def _mapped_rule(centre, scale, n, dtype):
    """Nodes ``xi = centre + scale sinh(u)`` and weights for E over N(0, 1), for ``n`` equal steps in u.

    The sinh map puts nodes ``scale`` apart at ``centre`` (the integrand's
    transition, of width about ``scale``) and spreads them geometrically
    towards the Gaussian's tails; the trapezoid rule in u then converges
    geometrically in n. Returns ``(xi, w, xi_half, w_half)`` with trailing axis
    n (and n // 2 + 1 for the rule on every other node, used for the error estimate).
    """
    lo = jnp.arcsinh((-_REACH - centre) / scale)
    hi = jnp.arcsinh((_REACH - centre) / scale)
    t = jnp.linspace(0.0, 1.0, n, dtype=dtype).reshape((1,) * lo.ndim + (n,))
    u = lo[..., None] + (hi - lo)[..., None] * t
    step = ((hi - lo) / (n - 1))[..., None]
    xi = centre[..., None] + scale[..., None] * jnp.sinh(u)
    density = jnp.exp(-0.5 * xi**2) / np.sqrt(2 * np.pi)
    w = step * scale[..., None] * jnp.cosh(u) * density
    return xi, w


def _nested(r, gaps_bk, low, mean_bk, n, stride, leaf=None):
    """The iterated mapped-trapezoid rule for ``E[H(r (mu + L xi))]``, ``L`` lower-triangular.

    Axis i is integrated inside axes 1..i-1; its rule is centred where
    competitor i's term ``g_i + X_i`` reaches ``log(1 + sum_{j<i} e^{g_j + X_j})``
    (for the innermost axis exactly the integrand's one transition) with
    scale ``1 / (r L_ii)`` (at most 1). ``stride=2`` uses every other node.
    ``leaf(g, X)`` is the integrand (default H), given arrays with n-axes
    between the batch axes and the competitor axis.
    """
    k = gaps_bk.shape[-1]
    log_h = _steered_log_probability()
    dtype = r.dtype

    def level(i, x_partial):
        # x_partial: batch + (n,) * i + (k,), the gap changes from axes < i.
        extra = x_partial.ndim - gaps_bk.ndim
        g_b = gaps_bk.reshape(gaps_bk.shape[:-1] + (1,) * extra + (k,))
        r_b = r.reshape(r.shape + (1,) * extra)
        if i == k:
            return jnp.exp(log_h(g_b, x_partial)) if leaf is None else leaf(g_b, x_partial)
        reach = r_b * low[..., i, i].reshape(r.shape + (1,) * extra)
        if i == 0:
            floor = jnp.zeros(x_partial.shape[:-1], dtype)
        else:
            floor = -log_h(g_b[..., :i], x_partial[..., :i])
        term = g_b[..., i] + x_partial[..., i]
        # A transition narrower than the normal's unit scale is followed; a wider one needs no help.
        sharp = reach > 1.0
        safe = jnp.where(sharp, reach, 1.0)
        centre = jnp.where(sharp, jnp.clip((floor - term) / safe, -_CENTRE_LIMIT, _CENTRE_LIMIT), 0.0)
        centre, scale = jax.lax.stop_gradient(centre), jax.lax.stop_gradient(1.0 / safe)
        xi, w = _mapped_rule(centre, scale, n, dtype)
        xi, w = xi[..., ::stride], w[..., ::stride] * stride
        column = low[..., :, i].reshape(low.shape[:-2] + (1,) * extra + (1, k))
        x_next = x_partial[..., None, :] + r_b[..., None, None] * column * xi[..., None]
        inner = level(i + 1, x_next)
        return jnp.sum(inner * w, axis=-1)

    start = r[..., None] * mean_bk
    return level(0, start)


def _lower_factor(cov, kind, batch):
    if kind == "full":
        return _cholesky(cov)
    return jnp.broadcast_to(jnp.diag(jnp.sqrt(cov)), batch + (cov.shape[-1],) * 2)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _rule(r, gaps_bk, cov, mean_bk, kind, n):
    """``(value, half)``: the rule on all nodes and on every other node (arguments broadcast)."""
    low = _lower_factor(cov, kind, r.shape)
    return _nested(r, gaps_bk, low, mean_bk, n, 1), _nested(r, gaps_bk, low, mean_bk, n, 2)


@_rule.defjvp
def _rule_jvp(kind, n, primals, tangents):
    """Derivatives under the integral sign; the covariance's by Stein's lemma.

    For ``X ~ N(m, r^2 Sigma)``, ``dE[H(g + X)]/dSigma_ij = (r^2/2) E[d^2 H/dx_i dx_j]``
    and ``sum_ij dSigma_ij d^2H/dx_i dx_j = -2 s_H(g + X; dSigma)``, T2b's
    curvature at the shifted gaps. This stays finite at Sigma = 0, where the
    derivative of the Cholesky factor (a square root) does not.
    """
    r, gaps_bk, cov, mean_bk = primals
    dr, dgaps, dcov, dmean = tangents
    low = _lower_factor(cov, kind, r.shape)

    def at_fixed_cov(r_, gaps_, mean_):
        return _nested(r_, gaps_, low, mean_, n, 1)

    value, d_value = jax.jvp(at_fixed_cov, (r, gaps_bk, mean_bk), (dr, dgaps, dmean))
    half = _nested(r, gaps_bk, low, mean_bk, n, 2)
    k = gaps_bk.shape[-1]

    def curvature(g_b, x):
        extra = x.ndim - gaps_bk.ndim
        if kind == "full":
            d = dcov.reshape(dcov.shape[:-2] + (1,) * extra + (k, k))
        else:
            d = dcov.reshape((1,) * (x.ndim - 1) + (k,))
        return _curvature(g_b + x, d, "full" if kind == "full" else "diagonal")

    d_value = d_value - r**2 * _nested(r, gaps_bk, low, mean_bk, n, 1, leaf=curvature)
    return (value, half), (d_value, jnp.zeros_like(half))


@functools.partial(jax.jit, static_argnames=("kind", "n", "batch"))
def _quadrature(r, gaps_bk, cov, mean_bk, kind, n, batch):
    r, gaps_bk, cov, mean_bk, kind = _broadcast(r, gaps_bk, cov, mean_bk, kind, batch)
    value, half = _rule(r, gaps_bk, cov, mean_bk, kind, n)
    # The rule converges geometrically, so the full rule's error is far below its
    # distance from the rule on every other node; a few ulp cover rounding, and
    # the normal mass outside [-9, 9]^k (0 <= H <= 1) bounds what the truncation leaves out.
    rounding = 64 * jnp.finfo(value.dtype).eps * jnp.abs(value)
    tail = gaps_bk.shape[-1] * math.erfc(_REACH / math.sqrt(2))
    return Expectation(value, jax.lax.stop_gradient(jnp.abs(value - half) + rounding + tail))


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

    def body(carry, step):
        total, total_sq = carry
        chunk_key, first = step
        xi = jax.random.normal(chunk_key, (chunk, k), dtype=r.dtype)
        plus = _mean_helpfulness(r, gaps_bk, factor, mean_bk, xi, kind)
        minus = _mean_helpfulness(r, gaps_bk, factor, mean_bk, -xi, kind)
        # The last chunk may run past the requested number of pairs: those pairs are masked out.
        used = (first + jnp.arange(chunk) < pairs).reshape((1,) * r.ndim + (chunk,))
        pair = jnp.where(used, (plus + minus) / 2 - shift[..., None], 0.0)
        return (total + jnp.sum(pair, axis=-1), total_sq + jnp.sum(pair**2, axis=-1)), None

    zero = jnp.zeros(r.shape, dtype=r.dtype)
    steps = (jax.random.split(key, n_chunks), jnp.arange(n_chunks) * chunk)
    (total, total_sq), _ = jax.lax.scan(body, (zero, zero), steps)
    count = pairs
    offset = total / count
    var = jnp.maximum(total_sq / count - offset**2, 0.0) * count / (count - 1)
    return Expectation(shift + offset, jnp.sqrt(var / count))


def expected_helpfulness(r, gaps, cov, *, method="auto", n=None, key=None, mean=None):
    """The exact ``E[H_r]`` under A2, with its error; what T2a bounds and T2b expands.

    ``E[1/(1 + sum_i e^{g_i + X_i})]`` for ``X ~ N(r mu, r^2 Sigma)`` (``mu = 0``
    unless ``mean`` is given, as in C2.3). ``method="quadrature"`` uses an
    iterated trapezoid rule in sinh-mapped variables centred on the
    integrand's transition, with ``n`` nodes per competitor axis (default 257
    for one competitor, 65 for two, 17 beyond): accurate for every
    ``r * sqrt(Sigma_ii)`` (checked against adaptive integration up to 10^3),
    its error estimate bounding the error. ``"monte_carlo"`` uses ``n``
    antithetic draws (an even number, default 65536) from ``key`` (an int
    seed or a ``jax.random.key``; default seed 0, so results are
    reproducible); ``"auto"`` picks quadrature for at most two competitors.

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

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

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
    key = prng_key("key", key, allow_none=True)  # checked whatever the method, so a bad key never goes unnoticed
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
        nodes = _DEFAULT_NODES.get(k, 17) if n is None else _count("n", n, minimum=2)
        if nodes**k > 1 << 22:
            raise ValueError(f"quadrature with n={nodes} nodes on k={k} axes needs {nodes}^{k} points; use method='monte_carlo'")
        return _quadrature(r, gaps_bk, cov, mean_bk, kind, nodes, batch)
    if method == "monte_carlo":
        samples = _DEFAULT_SAMPLES if n is None else _count("n", n, minimum=4)
        if samples % 2:
            raise ValueError(
                f"n must be an even number of Monte Carlo draws (they come in antithetic pairs), "
                f"got {samples}; pass {samples - 1} or {samples + 1}"
            )
        return _monte_carlo(r, gaps_bk, cov, mean_bk, key, kind, samples // 2, batch)
    raise ValueError(f"method must be 'auto', 'quadrature' or 'monte_carlo', got {method!r}")


def _count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
