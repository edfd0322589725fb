"""check-theory, sections 3-4: T2a, T2b, T2c, C2.1-C2.3, the section-4 radii, planted T2 bounds."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _bridge, _derive_helpfulness as derive, _derive_remainder, _derive_tradeoff, _planted
from ._alignment import alignment_slope
from ._check_rows import Rows, Task
from ._check_alignment import EPS, loguniform
from ._expectation import expected_helpfulness
from ._helpfulness import helpfulness_curvature, helpfulness_lower_bound, helpfulness_second_order, probabilities
from ._symbols import Sigma, a, mu, p, p0, r as r_sym, sigma
from ._tradeoff import best_radius, efficient_radius

_STATEMENTS = {"t2c": _derive_remainder.t2c, "S4": _derive_tradeoff.tradeoff}


@functools.cache
def _kernel(statement: str, result: str, args: tuple):
    source = _STATEMENTS.get(statement) or getattr(derive, statement)
    return jax.jit(_bridge.lambdify(source()[result], args))


def covariance_batch(rng, n, k, *, max_sd=2.0):
    """Covariances ``(n, k, k)``: diagonal, correlated, rank one, near-singular, equicorrelated."""
    sd = np.exp(rng.uniform(np.log(1e-3), np.log(max_sd), (n, k)))
    kind = rng.integers(0, 5, n)[:, None, None]
    eye = np.broadcast_to(np.eye(k), (n, k, k))
    factor = rng.normal(size=(n, k, k))
    corr = factor @ np.swapaxes(factor, 1, 2) + 1e-3 * eye
    d = np.sqrt(np.diagonal(corr, axis1=1, axis2=2))
    corr = corr / d[:, :, None] / d[:, None, :]
    signs = np.where(rng.random((n, k)) < 0.5, -1.0, 1.0)
    rank_one = signs[:, :, None] * signs[:, None, :]
    lowest = -1.0 / max(k - 1, 1)
    rho = rng.uniform(lowest, 1.0, n)[:, None, None] if k > 1 else np.zeros((n, 1, 1))
    equi = (1 - rho) * eye + rho
    chosen = np.select([kind == 0, kind == 1, kind == 2, kind == 3], [eye, corr, rank_one, (1 - 1e-6) * rank_one + 1e-6 * eye], equi)
    cov = chosen * sd[:, :, None] * sd[:, None, :]
    return (cov + np.swapaxes(cov, 1, 2)) / 2


def gaps_batch(rng, n, k):
    """Gaps ``(n, k)``: generic, p_0 near 1/2, p_0 below 1/2, huge gaps, a dominant correct answer."""
    kind = rng.integers(0, 5, n)[:, None]
    noise = rng.normal(size=(n, k))
    half = np.log((1 - rng.uniform(0.45, 0.55, n)) / k)[:, None] + 0.01 * noise
    generic = noise * loguniform(rng, 1e-2, 10.0, n)[:, None]
    below = generic + rng.uniform(0.5, 3.0, n)[:, None]
    huge = noise * rng.uniform(30.0, 300.0, n)[:, None]
    dominant = noise - rng.uniform(5.0, 40.0, n)[:, None]
    return np.select([kind == 0, kind == 1, kind == 2, kind == 3], [generic, half, below, huge], dominant)


def _norms(rng, cov, n, top):
    largest = np.sqrt(np.max(np.diagonal(cov, axis1=1, axis2=2), axis=1))
    return loguniform(rng, 1e-3, top, n) / largest


def t2_rows(rng, n, rows: Rows, k: int) -> None:
    quadrature = k <= 2
    cov = covariance_batch(rng, n, k)
    gaps = gaps_batch(rng, n, k)
    r = _norms(rng, cov, n, 4.0 if quadrature else 8.0)
    if quadrature:
        value, err = expected_helpfulness(r, gaps, cov, method="quadrature")
        allow, label = 10 * np.asarray(err) + 1e-13, "quadrature"
    else:
        key = jax.random.key(int(rng.integers(2**31)))
        value, err = expected_helpfulness(r, gaps, cov, method="monte_carlo", n=512 if k < 10 else 256, key=key)
        allow, label = 6 * np.asarray(err) + 1e-13, "Monte Carlo"
    value = np.asarray(value)
    lower = np.asarray(helpfulness_lower_bound(r, gaps, cov))
    row = rows("T2a", "E[H_r] >= L(r) (k <= 2 quadrature, k > 2 Monte Carlo)", "numerical")
    row.add(value - lower, allow)
    row.details[label] = row.details.get(label, 0) + n
    second = np.asarray(helpfulness_second_order(r, gaps, cov))
    constant = np.asarray(_kernel("t2c", "constant", (Sigma,))(cov))
    error = np.abs(value - second)
    row = rows("T2b", "|E[H_r] - (p_0 - s_H r^2)| <= K r^4, K from T2c", "numerical")
    row.add(constant * r**4 - error, allow)
    resolved = allow < 0.01 * constant * r**4  # instances where the estimate's error cannot hide the bound
    row.note_max("max error/(K r^4) where resolved", (error / (constant * r**4))[resolved])
    row.details["resolved"] = row.details.get("resolved", 0) + int(np.count_nonzero(resolved))
    flipped = np.asarray(_planted.t2a_flipped_exponent(r, gaps, cov))
    rows("planted", "T2a with the exponent's sign flipped", "planted").add(value - flipped, allow)
    linear = np.asarray(_planted.linear_helpfulness_bound(r, gaps, cov))
    rows("planted", "linear helpfulness law p_0 - s_H |r| (as an upper bound)", "planted").add(linear - value, allow)


def c2_3_rows(rng, n, rows: Rows) -> None:
    k = int(rng.integers(1, 3))
    cov = covariance_batch(rng, n, k)
    gaps = gaps_batch(rng, n, k)
    mean = rng.normal(size=(n, k)) * loguniform(rng, 1e-2, 2.0, n)[:, None]
    size = np.sqrt(np.max(np.diagonal(cov, axis1=1, axis2=2), axis=1)) + np.abs(mean).max(1)
    r = loguniform(rng, 1e-3, 3.0, n) / size
    value, err = expected_helpfulness(r, gaps, cov, method="quadrature", mean=mean)
    p0_b, p_bk = (np.asarray(x) for x in probabilities(jnp.asarray(gaps)))
    expansion = np.asarray(_kernel("c2_3", "expansion", (r_sym, p0, p, Sigma, mu))(r, p0_b, p_bk, cov, mean))
    constant = np.asarray(_kernel("t2c", "bias_constant", (mu, Sigma))(mean, cov))
    error = np.abs(np.asarray(value) - expansion)
    row = rows("C2.3", "|E[H_r] - expansion with mean| <= K_3 r^3 (k<=2, quadrature)", "numerical")
    allow = 10 * np.asarray(err) + 1e-13
    row.add(constant * r**3 - error, allow)
    resolved = allow < 0.01 * constant * r**3
    row.note_max("max error/(K_3 r^3) where resolved", (error / (constant * r**3))[resolved])


def t2c_lemma_rows(rng, n, rows: Rows) -> None:
    """|f'''| and |f''''| of a softmax probability along a direction, by autodiff, against T2c's bounds."""
    vocab = int(rng.choice([2, 3, 5, 10, 40]))
    z = rng.normal(size=(n, vocab)) * loguniform(rng, 1e-2, 30.0, n)[:, None]
    y = rng.normal(size=(n, vocab)) * loguniform(rng, 1e-2, 10.0, n)[:, None]
    two_point = rng.random(n) < 0.3  # extreme distributions for the cumulant bounds
    y = np.where(two_point[:, None], np.where(rng.random((n, vocab)) < 0.5, 0.0, 1.0) * loguniform(rng, 1e-2, 10.0, n)[:, None], y)
    z = np.where((rng.random(n) < 0.3)[:, None], z - z[:, :1] + np.log(vocab - 1), z)  # pi_0 near 1/2
    y[:, 0] = 0.0
    d3, d4 = _derivatives(jnp.asarray(z), jnp.asarray(y))
    total = np.logaddexp.reduce(z, axis=1)
    pi0 = np.exp(z[:, 0] - total)
    q = np.exp(np.logaddexp.reduce(z[:, 1:], axis=1) - total)
    spread = y.max(1) - y.min(1)
    stmt = _derive_remainder.t2c()
    for order, derivative, coeff in ((3, d3, stmt["third_derivative_coefficient"]), (4, d4, stmt["fourth_derivative_coefficient"])):
        bound = float(coeff) * pi0 * q * spread**order
        row = rows("T2c", f"|f^({order})| <= {coeff} pi_0 (1 - pi_0) D^{order} (autodiff)", "rigorous")
        row.add(bound - np.abs(np.asarray(derivative)), 1e-9 * bound + 1e-300)
        with np.errstate(invalid="ignore", divide="ignore"):
            row.note_max("max |f|/bound", np.nan_to_num(np.abs(np.asarray(derivative)) / bound))


@jax.jit
def _derivatives(z, y):
    def f(t, zz, yy):
        logits = zz + t * yy
        return jnp.exp(logits[0] - jax.scipy.special.logsumexp(logits))

    third = jax.grad(jax.grad(jax.grad(f)))
    fourth = jax.grad(third)
    zero = jnp.zeros((), z.dtype)
    return jax.vmap(third, (None, 0, 0))(zero, z, y), jax.vmap(fourth, (None, 0, 0))(zero, z, y)


def c2_1_rows(rng, n, rows: Rows) -> None:
    k = int(rng.choice([1, 2, 3, 5, 8, 12]))
    base = rng.uniform(0.5, 1.0, n)
    base = np.where(rng.random(n) < 0.05, 0.5, np.where(rng.random(n) < 0.05, 1 - 1e-9, base))
    weights = rng.dirichlet(np.full(k, loguniform(rng, 0.05, 5.0, 1)[0]), n)
    gaps = np.log(np.maximum(weights * (1 - base)[:, None], 1e-300)) - np.log(base)[:, None]
    cov = covariance_batch(rng, n, k)
    coefficient = -np.asarray(helpfulness_curvature(gaps, cov))
    p0_b, p_bk = (np.asarray(x) for x in probabilities(jnp.asarray(gaps)))
    lower = np.asarray(_kernel("c2_1", "interval_lower", (p0, p, Sigma))(p0_b, p_bk, cov))
    upper = np.asarray(_kernel("c2_1", "interval_upper", (p0, p, Sigma))(p0_b, p_bk, cov))
    tol = 1e-12 * np.abs(lower) + 1e-300
    row = rows("C2.1", "p_0 >= 1/2: r^2 coefficient in [-p_0 T/2, -p_0 (2p_0 - 1) T/2]", "rigorous")
    row.add(np.minimum(coefficient - lower, upper - coefficient), tol)
    sig2 = loguniform(rng, 1e-3, 4.0, n)
    iid = -np.asarray(helpfulness_curvature(gaps, sig2[0]))
    iid_lower = np.asarray(_kernel("c2_1", "interval_iid_lower", (p0, sigma))(p0_b, np.sqrt(sig2[0])))
    iid_upper = np.asarray(_kernel("c2_1", "interval_iid_upper", (p0, sigma))(p0_b, np.sqrt(sig2[0])))
    rows("C2.1", "p_0 >= 1/2, Sigma = sigma^2 I: C2.1's interval", "rigorous").add(
        np.minimum(iid - iid_lower, iid_upper - iid), 1e-12 * np.abs(iid_lower) + 1e-300)
    # p_0 < 1/2 with one competitor: the coefficient is positive, noise helps.
    wrong = rng.uniform(0.01, 0.49, n)
    witness = -np.asarray(helpfulness_curvature((np.log1p(-wrong) - np.log(wrong))[:, None], 1.0))
    row = rows("C2.1", "p_0 < 1/2, one competitor: r^2 coefficient > 0 (gain)", "rigorous")
    row.add(np.where(witness > 0, witness, -1.0), 0.0)
    row.details["gain cases"] = row.details.get("gain cases", 0) + int(np.count_nonzero(witness > 0))


def c2_2_rows(rng, n, rows: Rows) -> None:
    base = rng.uniform(1e-6, 1 - 1e-6, n)
    odds = (1 - base) / base
    sig = loguniform(rng, 1e-3, 10.0, n)
    r = loguniform(rng, 1e-4, 10.0, n)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = np.asarray(_kernel("t2a", "bound_iid", (r_sym, sigma, a))(r, sig, odds))
        fit = np.asarray(_kernel("c2_2", "fit_form", (r_sym, sigma, a))(r, sig, odds))
        remainder = np.asarray(_kernel("c2_2", "remainder_bound", (r_sym, sigma, a))(r, sig, odds))
    remainder = np.where(np.isnan(remainder), np.inf, remainder)  # inf * 0 where e^x overflows
    tol = 8 * EPS * (fit + lower)
    rows("C2.2", "0 <= fit - L <= p_0 (1 - p_0) x^2 e^x / 2", "rigorous").add(
        np.minimum(fit - lower, remainder - (fit - lower)), tol)


def s4_rows(rng, n, rows: Rows) -> None:
    k = int(rng.choice([1, 2, 3, 6]))
    gaps = gaps_batch(rng, n, k)
    cov = covariance_batch(rng, n, k)
    margin = loguniform(rng, 1e-3, 10.0, n)
    b0 = rng.uniform(-0.999, 0.999, n)
    lam = loguniform(rng, 1e-2, 1e2, n)
    s_a = np.asarray(alignment_slope(margin, b0))
    s_h = np.asarray(helpfulness_curvature(gaps, cov))
    r_eff = np.asarray(efficient_radius(margin, b0, gaps, cov))
    r_best = np.asarray(best_radius(margin, b0, gaps, cov, lam=lam))
    finite = np.isfinite(r_eff)
    # Radii beyond 1e100 (s_H within rounding of 0) would overflow r^2: those test the infinite branch's claim.
    finite_small = finite & (r_eff < 1e100)
    rows("S4", "r_eff and r*_lambda are positive", "rigorous").add(np.minimum(r_eff, r_best), 0.0)
    finite, r_eff = finite_small, np.where(finite & ~finite_small, np.inf, r_eff)
    r = rng.uniform(0, 3, n) * np.where(finite, r_eff, 10.0)
    tol = 1e-12 * (s_a * r + np.abs(s_h) * r**2) + 1e-300
    gain_minus_loss = s_a * r - s_h * r**2
    rows("S4", "gain - loss > 0 exactly below r_eff", "rigorous").add(
        np.where(finite, gain_minus_loss * np.sign(r_eff - r), gain_minus_loss), tol)
    utility = lambda x: s_a * x - lam * s_h * x**2  # noqa: E731
    best = np.where(finite, r_best, 0.0)
    rows("S4", "r*_lambda maximises s_A r - lambda s_H r^2", "rigorous").add(
        (utility(best) - utility(r))[finite], (1e-12 * (np.abs(utility(r)) + s_a * r + lam * np.abs(s_h) * r**2) + 1e-300)[finite])
    rows("S4", "r_eff infinite exactly when s_H <= 0", "rigorous").add(
        np.where(np.isfinite(np.asarray(efficient_radius(margin, b0, gaps, cov))) == (s_h > 0), 1.0, -1.0), 0.0)


def _t2_task(k, share, chunk):
    return Task(f"T2a/T2b k={k}", lambda rng, n, rows: t2_rows(rng, n, rows, k), chunk=chunk, share=share,
                statements=("T2a", "T2b", "planted"))


TASKS = [
    _t2_task(1, 0.3, 5000),
    _t2_task(2, 0.3, 5000),
    _t2_task(4, 0.2, 2500),
    _t2_task(12, 0.15, 2500),
    _t2_task(40, 0.05, 1000),
    Task("C2.3", c2_3_rows, chunk=5000, share=1.0, statements=("C2.3",)),
    Task("T2c lemma", t2c_lemma_rows, chunk=10_000, share=1.0, statements=("T2c",)),
    Task("C2.1", c2_1_rows, chunk=10_000, share=1.0, statements=("C2.1",)),
    Task("C2.2", c2_2_rows, chunk=100_000, share=1.0, statements=("C2.2",)),
    Task("S4", s4_rows, chunk=20_000, share=1.5, statements=("S4",)),
]
