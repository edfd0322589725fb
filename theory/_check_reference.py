"""check-theory references: JAX functions against numpy, the bridge and expansions against mpmath."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import mpmath
import numpy as np
import sympy as sp
from scipy.special import logsumexp

from . import _bridge, _derive_alignment, _derive_helpfulness, _derive_remainder, _derive_tradeoff
from ._alignment import alignment_bound, alignment_slope, behaviour_expectation, guarantee_radius
from ._check_rows import Rows, Task
from ._check_alignment import loguniform
from ._check_helpfulness import covariance_batch, gaps_batch
from ._expectation import expected_helpfulness
from ._helpfulness import (
    helpfulness,
    helpfulness_curvature,
    helpfulness_lower_bound,
    helpfulness_second_order,
    probabilities,
)
from ._symbols import B0, Delta, Sigma, X, a, eps, g, lam, logp_minus, logp_plus, mu, p, p0, r, rho0, s_A, s_H, sd, sigma, u0
from ._tradeoff import best_radius, efficient_radius

_DPS = 30


def _softmax(z):
    return np.exp(z - logsumexp(z, axis=-1, keepdims=True))


def _numpy_references(rng, n):
    """(name, jax value, numpy value) for every public numeric function on random inputs."""
    r_ = rng.uniform(-4, 4, n)
    m_ = loguniform(rng, 1e-3, 10.0, n)
    b0 = rng.uniform(-0.999, 0.999, n)
    e_ = loguniform(rng, 1e-9, 1e-3, n)
    out = [
        ("alignment_bound", alignment_bound(r_, m_, b0), np.tanh(r_ * m_ / 2 + np.arctanh(b0))),
        ("alignment_slope", alignment_slope(m_, b0), m_ / 2 * (1 - b0**2)),
        ("guarantee_radius", guarantee_radius(m_, b0, eps=e_), 2 / m_ * (0.5 * np.log((2 - e_) / e_) - np.arctanh(b0))),
    ]
    z = rng.normal(size=(n, 9)) * 4
    prob = _softmax(z)
    pp, pm = prob[:, [0, 4, 5]].sum(1), prob[:, [2, 7]].sum(1)
    out += [
        ("behaviour_expectation", behaviour_expectation(z, [0, 4, 5], [2, 7]), (pp - pm) / (pp + pm)),
        ("behaviour_expectation(restricted=False)", behaviour_expectation(z, [0, 4, 5], [2, 7], restricted=False), pp - pm),
        ("helpfulness(full)", helpfulness(z, 3), prob[:, 3]),
        ("helpfulness(options)", helpfulness(z, 3, [1, 3, 6, 8]), prob[:, 3] / prob[:, [1, 3, 6, 8]].sum(1)),
    ]
    k = 5
    gaps = gaps_batch(rng, n, k) / 10
    cov = covariance_batch(rng, n, k)
    rr = np.abs(r_) / 2
    diag = np.diagonal(cov, axis1=1, axis2=2)
    base = 1 / (1 + np.exp(gaps).sum(1))
    comp = np.exp(gaps) * base[:, None]
    s_h = base / 2 * ((comp * diag).sum(1) - 2 * np.einsum("bi,bij,bj->b", comp, cov, comp))
    s_a = m_ / 2 * (1 - b0**2)
    out += [
        ("helpfulness_lower_bound(full)", helpfulness_lower_bound(rr, gaps, cov), 1 / (1 + np.exp(gaps + rr[:, None] ** 2 * diag / 2).sum(1))),
        ("helpfulness_lower_bound(diagonal)", helpfulness_lower_bound(rr, gaps, diag[0]), 1 / (1 + np.exp(gaps + rr[:, None] ** 2 * diag[0] / 2).sum(1))),
        ("helpfulness_curvature(full)", helpfulness_curvature(gaps, cov), s_h),
        ("helpfulness_curvature(diagonal)", helpfulness_curvature(gaps, diag[0]), (base / 2 * (comp * diag[0] * (1 - 2 * comp)).sum(1))),
        ("helpfulness_second_order", helpfulness_second_order(rr, gaps, cov), base - s_h * rr**2),
        ("efficient_radius", efficient_radius(m_, b0, gaps, cov), np.where(s_h > 0, s_a / np.where(s_h > 0, s_h, 1), np.inf)),
        ("best_radius", best_radius(m_, b0, gaps, cov, lam=2.0), np.where(s_h > 0, s_a / (4 * np.where(s_h > 0, s_h, 1)), np.inf)),
    ]
    return out


def reference_rows(rng, n, rows: Rows) -> None:
    for name, value, expected in _numpy_references(rng, n):
        value = np.asarray(value)
        both_inf = np.isinf(value) & np.isinf(expected) & (np.sign(value) == np.sign(expected))
        diff = np.where(both_inf, 0.0, np.abs(value - expected) / (np.abs(np.where(both_inf, 0, expected)) + 1e-3))
        rows("JAX", f"{name} = numpy reference (relative)", "reference").add(-diff, 1e-9)


def _mp_expectation(g_value, s_value, r_value, mean=0.0):
    """E[1/(1 + e^(g + X))], X ~ N(r mean, r^2 s), by mpmath quadrature at _DPS digits."""
    g_value, scale, shift = mpmath.mpf(g_value), mpmath.mpf(r_value) * mpmath.sqrt(s_value), mpmath.mpf(r_value) * mean

    def integrand(xi):
        return mpmath.exp(-(xi**2) / 2) / (1 + mpmath.exp(g_value + shift + scale * xi))

    # The Gaussian weight beyond |xi| = 14 is below e^-98, far under the working precision.
    return mpmath.quad(integrand, [-14, 0, 14]) / mpmath.sqrt(2 * mpmath.pi)


@functools.cache
def _mp_function(statement: str, result: str, args: tuple):
    return sp.lambdify(args, _derive_helpfulness._explicit(_statement(statement)[result], 1), "mpmath")


def _statement(name):
    modules = (_derive_alignment, _derive_helpfulness, _derive_remainder, _derive_tradeoff)
    for module in modules:
        if hasattr(module, name):
            return getattr(module, name)()
    raise KeyError(name)


def _bounded(errors, norms, order) -> float:
    """Slack of the claim error = O(r^order) at norms r, r/4, r/16.

    ``c_j = error_j / r_j^order`` converges to a constant when the claim holds
    and grows fourfold per step when the true order is one less; the slack
    ``1 - c_2 / (2 max(c_0, c_1))`` is then negative.
    """
    c = [e / x**order for e, x in zip(errors, norms)]
    reference = max(c[0], c[1])
    if reference == 0:
        return 0.0 if c[2] == 0 else -1.0
    return float(1 - c[2] / (2 * reference))


def expansion_rows(rng, n, rows: Rows) -> None:
    """Each expansion's error, in mpmath, shrinks at its claimed order (norms r, r/4, r/16)."""
    mpmath.mp.dps = _DPS
    c11 = _statement("c1_1")
    taylor = sp.lambdify((r, Delta, B0), c11["expansion"].rhs.removeO(), "mpmath")
    exact = sp.lambdify((r, Delta, B0), c11["expansion"].lhs, "mpmath")
    c22 = _statement("c2_2")
    fit = sp.lambdify((r, sigma, a), c22["fit_form"], "mpmath")
    bound_iid = sp.lambdify((r, sigma, a), _statement("t2a")["bound_iid"], "mpmath")
    second = _mp_function("t2b", "second_order", (r, p0, p[1], Sigma[1, 1]))
    bias = _mp_function("c2_3", "expansion", (r, p0, p[1], Sigma[1, 1], mu[1]))
    for _ in range(n):
        r0 = mpmath.mpf(rng.uniform(0.02, 0.1))
        norms = (r0, r0 / 4, r0 / 16)
        m_, b0 = mpmath.mpf(rng.uniform(0.1, 3)), mpmath.mpf(rng.uniform(-0.95, 0.95))
        errs = [abs(exact(x, m_, b0) - taylor(x, m_, b0)) for x in norms]
        rows("C1.1", "error of B_0 + s_A r + c r^2 is O(r^3) (mpmath)", "expansion").add(_bounded(errs, norms, 3))
        s_, a_ = mpmath.mpf(rng.uniform(0.2, 2)), mpmath.mpf(rng.uniform(0.1, 5))
        errs = [abs(bound_iid(x, s_, a_) - fit(x, s_, a_)) for x in norms]
        rows("C2.2", "L(r) - fit is O(r^4) (mpmath)", "expansion").add(_bounded(errs, norms, 4))
        gap, var, mean = rng.normal() * 2, rng.uniform(0.2, 2), rng.normal()
        base = 1 / (1 + mpmath.exp(gap))
        errs = [abs(_mp_expectation(gap, var, x) - second(x, base, 1 - base, var)) for x in norms]
        rows("T2b", "E[H_r] - (p_0 - s_H r^2) is O(r^4) (mpmath, k=1)", "expansion").add(_bounded(errs, norms, 4))
        errs = [abs(_mp_expectation(gap, var, x, mean) - bias(x, base, 1 - base, var, mean)) for x in norms]
        rows("C2.3", "E[H_r] - expansion with mean is O(r^3) (mpmath, k=1)", "expansion").add(_bounded(errs, norms, 3))
        # the quadrature of expected_helpfulness against mpmath at a moderate norm
        r1 = rng.uniform(0.1, 3.0) / np.sqrt(var)
        value, err = expected_helpfulness(r1, np.array([gap]), var)
        diff = abs(float(value) - float(_mp_expectation(gap, var, r1)))
        rows("JAX", "expected_helpfulness quadrature = mpmath", "reference").add(-diff, 10 * float(err) + 1e-12)


def _bridge_cases():
    """(statement, result, symbol args, sampler) for the bridged results the numeric layer uses."""
    k = 3
    cases = [
        ("t1", "bound", (r, Delta, B0), lambda rng: (rng.uniform(-3, 3), rng.uniform(0.1, 3), rng.uniform(-0.9, 0.9))),
        ("t1", "half_log_odds_bound", (r, Delta, u0), lambda rng: (rng.uniform(-3, 3), rng.uniform(0.1, 3), rng.normal())),
        ("t1", "behaviour", (logp_plus, logp_minus), lambda rng: tuple(-rng.uniform(0, 5, 2))),
        ("c1_1", "slope", (Delta, B0), lambda rng: (rng.uniform(0.1, 3), rng.uniform(-0.9, 0.9))),
        ("c1_2", "radius_log_form", (Delta, B0, eps), lambda rng: (rng.uniform(0.1, 3), rng.uniform(-0.9, 0.5), rng.uniform(1e-6, 0.4))),
        ("c1_2", "misaligned_share_bound_expr", (r, Delta, rho0), lambda rng: (rng.uniform(0, 3), rng.uniform(0.1, 3), rng.uniform(0.1, 5))),
        ("t2a", "log_bound", (r, g, Sigma), "matrix"),
        ("t2a", "log_bound_diagonal", (r, g, sd), "diagonal"),
        ("t2b", "curvature", (p0, p, Sigma), "probabilities"),
        ("t2b", "curvature_diagonal", (p0, p, sd), "probabilities_diagonal"),
        ("c2_3", "expansion", (r, p0, p, Sigma, mu), "bias"),
        ("t2c", "constant", (Sigma,), "matrix_only"),
        ("t2c", "bias_constant", (mu, Sigma), "mean_matrix"),
        ("definition", "steered_log_probability", (g, X), "two_vectors"),
        ("tradeoff", "efficient_radius", (s_A, s_H), lambda rng: (rng.uniform(0.1, 2), rng.uniform(-1, 1))),
        ("tradeoff", "best_radius", (s_A, s_H, lam), lambda rng: (rng.uniform(0.1, 2), rng.uniform(-1, 1), rng.uniform(0.1, 3))),
    ]
    return k, cases


def _sample(kind, rng, k):
    cov = covariance_batch(rng, 1, k)[0]
    gaps = rng.normal(size=k)
    base, comp = (np.asarray(x) for x in probabilities(jnp.asarray(gaps)))
    return {
        "matrix": (rng.uniform(0, 2), gaps, cov),
        "diagonal": (rng.uniform(0, 2), gaps, np.diag(cov)),
        "probabilities": (base, comp, cov),
        "probabilities_diagonal": (base, comp, np.diag(cov)),
        "bias": (rng.uniform(0, 1), base, comp, cov, rng.normal(size=k)),
        "matrix_only": (cov,),
        "mean_matrix": (rng.normal(size=k), cov),
        "two_vectors": (gaps, rng.normal(size=k)),
    }[kind]


def bridge_rows(rng, n, rows: Rows) -> None:
    """The JAX function the bridge compiles equals the sympy expression evaluated by mpmath."""
    mpmath.mp.dps = _DPS
    k, cases = _bridge_cases()
    for statement, result, args, sampler in cases:
        expr = _statement(statement)[result]
        explicit = _derive_helpfulness._explicit(expr, k)
        compiled = _bridge.lambdify(expr, args)
        for _ in range(n):
            values = sampler(rng) if callable(sampler) else _sample(sampler, rng, k)
            subs = {}
            for symbol, value in zip(args, values):
                value = np.asarray(value, dtype=np.float64)
                if value.ndim == 0:
                    subs[symbol] = sp.Float(float(value), _DPS)
                else:
                    for index in np.ndindex(value.shape):
                        subs[symbol[tuple(x + 1 for x in index)]] = sp.Float(float(value[index]), _DPS)
            exact = explicit.xreplace(subs).evalf(_DPS)
            got = float(compiled(*[jnp.asarray(v, dtype=jnp.float64) for v in values]))
            if exact in (sp.oo, -sp.oo) or not exact.is_finite:
                ok = np.isinf(got) and (got > 0) == (exact > 0)
                rows("bridge", "compiled JAX = sympy evaluated in mpmath", "reference").add(0.0 if ok else -1.0, 0.0)
                continue
            diff = abs(got - float(exact))
            rows("bridge", "compiled JAX = sympy evaluated in mpmath", "reference").add(-diff, 1e-10 * abs(float(exact)) + 1e-13)


TASKS = [
    Task("JAX = numpy", reference_rows, chunk=5000, share=0.05, statements=("JAX",)),
    Task("expansions (mpmath)", expansion_rows, chunk=10, share=0.0003, statements=("C1.1", "C2.2", "T2b", "C2.3", "JAX")),
    Task("bridge = mpmath", bridge_rows, chunk=3, share=0.00003, statements=("bridge",)),
]
