"""Reliability of the theory layer.

* ``expected_helpfulness``'s quadrature against adaptive integration for
  ``r sqrt(Sigma)`` from 1e-3 to 1e3: its stated error bounds the true error;
* gradients of every public function at 0 and near both ends of its domain,
  against central finite differences;
* argument checks under ``jax.jit`` and ``jax.vmap`` through ``checked``;
* PRNG keys, Monte Carlo draw counts, and hints that fit their argument.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import steerbounds as sb
from steerbounds import checked, expected_helpfulness

SQRT_2PI = np.sqrt(2 * np.pi)


def _phi(x):
    return np.exp(-0.5 * x * x) / SQRT_2PI


def _logistic_normal(a, s):
    """E[1/(1 + e^(a + s xi))], xi ~ N(0, 1), by adaptive quadrature split at the transition."""
    f = lambda x: _phi(x) * np.exp(-np.logaddexp(0.0, a + s * x))  # noqa: E731
    points = [-a / s] if s > 0 and abs(a / s) < 14 else None
    value, err = integrate.quad(f, -14, 14, points=points, limit=2000, epsabs=1e-300, epsrel=1e-12)
    return value, err


# ---------------------------------------------------------------- item 1: quadrature


def test_issue_examples_are_exact():
    value, err = expected_helpfulness(10.0, [40.0], 1000.0)
    assert abs(float(value) - 0.449672) < 1e-6 and float(err) < 1e-6
    value, err = expected_helpfulness(1.0, [-1.0], 1000.0)
    assert abs(float(value) - 0.512593) < 1e-6 and float(err) < 1e-6


@pytest.mark.parametrize("var", [1.0, 1000.0])
def test_quadrature_error_bounds_true_error_one_competitor(var):
    scales = np.array([1e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0])
    gaps = np.array([-20.0, -3.0, -1.0, 0.0, 0.5, 2.0, 5.0, 40.0])
    means = np.array([0.0, 0.7])
    r = np.broadcast_to(scales[:, None, None] / np.sqrt(var), (scales.size, gaps.size, means.size))
    g = np.broadcast_to(gaps[None, :, None, None], r.shape + (1,))
    m = np.broadcast_to(means[None, None, :, None], r.shape + (1,))
    value, err = (np.asarray(x) for x in expected_helpfulness(r, g, var, mean=m, method="quadrature"))
    for index in np.ndindex(r.shape):
        rr, gg, mm = r[index], g[index][0], m[index][0]
        truth, truth_err = _logistic_normal(gg + rr * mm, rr * np.sqrt(var))
        assert abs(value[index] - truth) <= err[index] + 10 * truth_err + 1e-15 * truth, (index, value[index], truth)
    assert np.all(err[scales < 1] < 1e-10)  # smooth integrands: the estimate is tight, not just safe


def _two_competitors(r, gaps, cov):
    """E[H] for k = 2 by nested adaptive quadrature over the Cholesky axes, the inner one exact per outer node."""
    low = np.linalg.cholesky(cov)
    a1, a2 = gaps

    def outer(x1):
        t1 = a1 + r * low[0, 0] * x1
        # H = 1/(1 + e^t1) * 1/(1 + e^(t2 - softplus(t1))): the inner integral is a logistic-normal one.
        inner, _ = _logistic_normal(a2 + r * low[1, 0] * x1 - np.logaddexp(0.0, t1), r * low[1, 1])
        return _phi(x1) * np.exp(-np.logaddexp(0.0, t1)) * inner

    s = r * low[0, 0]
    points = [-a1 / s] if abs(a1 / s) < 14 else None
    return integrate.quad(outer, -14, 14, points=points, limit=400, epsabs=1e-13, epsrel=1e-11)[0]


COVS = {
    "identity": np.eye(2),
    "correlated": np.array([[1.0, 0.9], [0.9, 1.0]]),
    "anticorrelated": np.array([[2.0, -0.5], [-0.5, 0.3]]),
}


@pytest.mark.parametrize("name", sorted(COVS))
def test_quadrature_error_bounds_true_error_two_competitors(name):
    cov = COVS[name]
    gaps = np.array([-1.0, -2.0])
    for scale in (0.01, 1.0, 10.0, 100.0):
        r = scale / np.sqrt(cov.diagonal().max())
        value, err = expected_helpfulness(r, gaps, cov, method="quadrature")
        truth = _two_competitors(r, gaps, cov)
        assert abs(float(value) - truth) <= float(err) + 1e-11, (scale, float(value), truth, float(err))


@pytest.mark.parametrize("name", sorted(COVS))
def test_quadrature_at_large_norms_two_competitors(name):
    """At r sqrt(Sigma) = 1e3: the labelling of the competitors and the node count change nothing beyond the error."""
    cov = COVS[name]
    gaps = np.array([0.5, -1.5])
    r = 1e3 / np.sqrt(cov.diagonal().max())
    value, err = expected_helpfulness(r, gaps, cov, method="quadrature")
    swapped, err_s = expected_helpfulness(r, gaps[::-1], cov[::-1, ::-1], method="quadrature")
    fine, err_f = expected_helpfulness(r, gaps, cov, method="quadrature", n=257)
    assert abs(float(value) - float(swapped)) <= float(err) + float(err_s)
    assert abs(float(value) - float(fine)) <= float(err) + float(err_f)
    assert float(err) < 1e-3


def test_monte_carlo_agrees_with_quadrature_at_large_norm():
    value, err = expected_helpfulness(30.0, [1.0], 4.0, method="quadrature")
    mc, se = expected_helpfulness(30.0, [1.0], 4.0, method="monte_carlo", n=1 << 16, key=1)
    assert abs(float(mc) - float(value)) <= 5 * float(se) + float(err)


# ---------------------------------------------------------------- item 3: gradients


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


END = 1 - 1e-3
GAPS2 = jnp.array([0.3, -0.4])

# (name, function of one scalar, points: 0 and near both ends of the argument's domain)
GRADIENT_CASES = [
    ("alignment_bound/r", lambda x: sb.alignment_bound(x, 1.0, 0.3), [0.0, -20.0, 20.0]),
    ("alignment_bound/margin", lambda x: sb.alignment_bound(1.0, x, 0.3), [0.0, -20.0, 20.0]),
    ("alignment_bound/b0", lambda x: sb.alignment_bound(1.0, 1.0, x), [0.0, -END, END]),
    ("alignment_slope/margin", lambda x: sb.alignment_slope(x, 0.3), [0.0, 50.0]),
    ("alignment_slope/b0", lambda x: sb.alignment_slope(1.0, x), [0.0, -END, END]),
    ("guarantee_radius/b0", lambda x: sb.guarantee_radius(1.0, x, eps=0.1), [0.0, -END, 0.85]),
    ("guarantee_radius/eps", lambda x: sb.guarantee_radius(1.0, 0.0, eps=x), [1e-3, 0.5, 0.99]),
    ("guarantee_radius/margin", lambda x: sb.guarantee_radius(x, 0.0, eps=0.1), [1e-3, 1.0, 1e3]),
    ("behaviour_expectation/logit", lambda x: sb.behaviour_expectation(jnp.array([x, 0.0, 1.0]), [0], [1]),
     [0.0, -30.0, 30.0]),
    ("behaviour_expectation/unrestricted", lambda x: sb.behaviour_expectation(
        jnp.array([x, 0.0, 1.0]), [0], [1], restricted=False), [0.0, -30.0, 30.0]),
    ("helpfulness/logit", lambda x: sb.helpfulness(jnp.array([x, 0.0, 1.0]), 0), [0.0, -30.0, 30.0]),
    ("helpfulness_lower_bound/r", lambda x: sb.helpfulness_lower_bound(x, GAPS2, 1.0), [0.0, -5.0, 5.0]),
    ("helpfulness_lower_bound/gap", lambda x: sb.helpfulness_lower_bound(0.5, jnp.array([x, 0.1]), 1.0),
     [0.0, -30.0, 30.0]),
    ("helpfulness_lower_bound/cov", lambda x: sb.helpfulness_lower_bound(0.5, GAPS2, x), [0.0, 1e3]),
    ("helpfulness_curvature/gap", lambda x: sb.helpfulness_curvature(jnp.array([x, 0.1]), 1.0), [0.0, -30.0, 30.0]),
    ("helpfulness_curvature/cov", lambda x: sb.helpfulness_curvature(GAPS2, x), [0.0, 1e3]),
    ("helpfulness_second_order/r", lambda x: sb.helpfulness_second_order(x, GAPS2, 1.0), [0.0, -5.0, 5.0]),
    ("helpfulness_second_order/cov", lambda x: sb.helpfulness_second_order(0.5, GAPS2, x), [0.0, 1e3]),
    ("expected_helpfulness/r", lambda x: expected_helpfulness(x, GAPS2, 1.0).value, [0.0, -30.0, 30.0]),
    ("expected_helpfulness/gap", lambda x: expected_helpfulness(0.5, jnp.array([x, 0.1]), 1.0).value,
     [0.0, -30.0, 30.0]),
    ("expected_helpfulness/cov", lambda x: expected_helpfulness(0.5, GAPS2, x).value, [0.0, 1e3]),
    ("expected_helpfulness/full cov", lambda x: expected_helpfulness(
        0.5, GAPS2, jnp.array([[1.0, x], [x, 1.0]])).value, [0.0, -0.9, 0.9]),
    ("expected_helpfulness/k=1 cov", lambda x: expected_helpfulness(0.7, jnp.array([0.2]), x).value, [0.0, 1e3]),
    ("expected_helpfulness/mean", lambda x: expected_helpfulness(
        0.5, GAPS2, 1.0, mean=jnp.array([x, 0.0])).value, [0.0, -10.0, 10.0]),
    ("efficient_radius/margin", lambda x: sb.efficient_radius(x, 0.0, GAPS2, 1.0), [1e-3, 1e3]),
    ("efficient_radius/b0", lambda x: sb.efficient_radius(1.0, x, GAPS2, 1.0), [0.0, -END, END]),
    ("efficient_radius/cov", lambda x: sb.efficient_radius(1.0, 0.0, GAPS2, x), [1e-3, 1e3]),
    ("best_radius/lam", lambda x: sb.best_radius(1.0, 0.0, GAPS2, 1.0, lam=x), [1e-3, 1e3]),
    ("best_radius/b0", lambda x: sb.best_radius(1.0, x, GAPS2, 1.0, lam=2.0), [0.0, -END, END]),
]

# Points at 0 where a one-sided domain (cov >= 0) forbids the central difference: forward difference instead.
ONE_SIDED = {"cov", "k=1 cov"}


@pytest.mark.parametrize("name,f,points", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_matches_finite_difference(name, f, points):
    grad = jax.grad(lambda x: jnp.asarray(f(x)).sum())
    for x0 in points:
        x0 = float(x0)
        g = float(grad(x0))
        h = 1e-6 * max(1.0, abs(x0))
        if name.split("/")[1] in ONE_SIDED and x0 == 0.0:
            fd = (-3 * float(f(0.0)) + 4 * float(f(h)) - float(f(2 * h))) / (2 * h)
        else:
            fd = float(_central(lambda x: float(jnp.asarray(f(x)).sum()), x0, h))
        assert np.isfinite(g), (name, x0, g)
        assert abs(g - fd) <= 1e-5 * (1 + abs(fd)), (name, x0, g, fd)


def test_artanh_gradient_at_zero():
    # d/db0 tanh(r m / 2 + artanh b0) at b0 = 0 is sech^2(r m / 2); the sign/abs form gave 0.
    assert float(jax.grad(sb.alignment_bound, argnums=2)(1.0, 1.0, 0.0)) == pytest.approx(1 / np.cosh(0.5) ** 2)


# ---------------------------------------------------------------- item 4: checks under jit and vmap

JIT_CASES = [
    ("alignment_bound b0", lambda v: sb.alignment_bound(1.0, 1.0, v), 1.5, 0.2, "b0 must lie strictly inside"),
    ("alignment_bound nan", lambda v: sb.alignment_bound(v, 1.0, 0.2), jnp.nan, 1.0, "r contains NaN or inf"),
    ("alignment_slope b0", lambda v: sb.alignment_slope(1.0, v), -1.0, 0.2, "b0 must lie strictly inside"),
    ("guarantee_radius eps", lambda v: sb.guarantee_radius(1.0, 0.0, eps=v), 3.0, 0.1, "eps must lie strictly"),
    ("guarantee_radius target", lambda v: sb.guarantee_radius(1.0, v, eps=0.5), 0.7, 0.1, "eps is too large"),
    ("guarantee_radius margin", lambda v: sb.guarantee_radius(v, 0.0, eps=0.5), -1.0, 1.0, "margin must lie"),
    ("behaviour_expectation nan", lambda v: sb.behaviour_expectation(jnp.array([v, 0.0]), [0], [1]), jnp.inf, 0.5,
     "logits contains NaN or inf"),
    ("helpfulness nan", lambda v: sb.helpfulness(jnp.array([v, 0.0]), 0), jnp.nan, 0.5, "logits contains NaN"),
    ("helpfulness_lower_bound cov", lambda v: sb.helpfulness_lower_bound(1.0, jnp.array([0.0]), v), -1.0, 1.0,
     "cov must be non-negative"),
    ("helpfulness_lower_bound r", lambda v: sb.helpfulness_lower_bound(v, jnp.array([0.0]), 1.0), jnp.nan, 1.0,
     "r contains NaN"),
    ("helpfulness_curvature cov", lambda v: sb.helpfulness_curvature(jnp.array([0.0, 0.0]), jnp.array([1.0, v])),
     -1.0, 1.0, "cov must be non-negative"),
    ("helpfulness_second_order psd", lambda v: sb.helpfulness_second_order(
        1.0, jnp.array([0.0, 0.0]), jnp.array([[1.0, v], [v, 1.0]])), 2.0, 0.5, "not positive semi-definite"),
    ("helpfulness_second_order symmetric", lambda v: sb.helpfulness_second_order(
        1.0, jnp.array([0.0, 0.0]), jnp.array([[1.0, v], [0.0, 1.0]])), 0.5, 0.0, "not symmetric"),
    ("expected_helpfulness cov", lambda v: expected_helpfulness(1.0, jnp.array([0.0]), v).value, -1.0, 1.0,
     "cov must be non-negative"),
    ("expected_helpfulness mean", lambda v: expected_helpfulness(
        1.0, jnp.array([0.0]), 1.0, mean=jnp.array([v])).value, jnp.nan, 1.0, "mean contains NaN"),
    ("expected_helpfulness mc", lambda v: expected_helpfulness(
        1.0, jnp.array([0.0, 1.0, 2.0]), v, n=64).value, -1.0, 1.0, "cov must be non-negative"),
    ("efficient_radius margin", lambda v: sb.efficient_radius(v, 0.0, jnp.array([0.0]), 1.0), -1.0, 1.0,
     "margin must be positive"),
    ("efficient_radius b0", lambda v: sb.efficient_radius(1.0, v, jnp.array([0.0]), 1.0), 1.0, 0.0,
     "b0 must lie strictly"),
    ("best_radius lam", lambda v: sb.best_radius(1.0, 0.0, jnp.array([0.0]), 1.0, lam=v), 0.0, 1.0,
     "lam must be positive"),
]


@pytest.mark.parametrize("name,f,bad,good,message", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_checked_raises_under_jit_and_vmap(name, f, bad, good, message):
    with pytest.raises(ValueError, match=message):
        f(bad)  # a plain call checks the value
    jitted = jax.jit(f)
    jitted(bad)  # a plain jit skips the checks (documented) ...
    with pytest.raises(ValueError, match=message):
        checked(jitted)(bad)  # ... checked raises them
    assert np.allclose(checked(jitted)(good), f(good), rtol=1e-12)
    batch = jnp.array([good, bad])
    with pytest.raises(ValueError, match=message):
        checked(jax.vmap(f))(batch)
    assert np.allclose(checked(jax.vmap(f))(jnp.array([good, good])), np.stack([f(good)] * 2), rtol=1e-12)


def test_issue_examples_under_jit():
    assert bool(jnp.isnan(jax.jit(lambda b: sb.alignment_bound(1.0, 1.0, b))(1.5)))  # the documented plain-jit result
    with pytest.raises(ValueError, match="b0 must lie strictly inside"):
        checked(jax.jit(lambda b: sb.alignment_bound(1.0, 1.0, b)))(1.5)
    with pytest.raises(ValueError, match="cov must be non-negative"):
        checked(jax.jit(lambda c: sb.helpfulness_lower_bound(1.0, jnp.array([0.0]), c)))(-1.0)


def test_checked_needs_a_function():
    with pytest.raises(TypeError, match="checked needs a function"):
        checked(3)


def test_every_public_function_documents_its_jit_behaviour():
    import inspect

    from steerbounds import theory

    lacking = [name for name in theory.__all__ if name != "checked"
               and "jax.jit" not in inspect.getdoc(getattr(theory, name))]
    assert not lacking, f"docstrings that do not state the jit behaviour: {lacking}"


# ---------------------------------------------------------------- item 6 and 13: keys and draws


@pytest.mark.parametrize("key", [0, 7, np.int64(3), jax.random.key(5), jax.random.PRNGKey(5), None])
def test_monte_carlo_accepts_seeds_and_keys(key):
    value, se = expected_helpfulness(1.0, [0.0, 1.0, 2.0], 1.0, method="monte_carlo", n=256, key=key)
    assert 0 < float(value) < 1 and float(se) > 0
    again, _ = expected_helpfulness(1.0, [0.0, 1.0, 2.0], 1.0, method="monte_carlo", n=256, key=key)
    assert float(again) == float(value)


@pytest.mark.parametrize("key", ["0", 1.5, [1, 2, 3], -1, True, jax.random.split(jax.random.key(0), 3)])
def test_bad_keys_name_the_argument(key):
    with pytest.raises((TypeError, ValueError), match="key"):
        expected_helpfulness(1.0, [0.0, 1.0, 2.0], 1.0, method="monte_carlo", n=256, key=key)


def test_odd_draw_count_is_refused():
    with pytest.raises(ValueError, match="n must be an even number.*pass 4 or 6"):
        expected_helpfulness(1.0, [0.0], 1.0, method="monte_carlo", n=5)


def test_monte_carlo_uses_exactly_n_draws():
    """n = 2050 is 1025 antithetic pairs: the estimate is the mean over exactly those (not 2048 pairs)."""
    from steerbounds.theory._expectation import _CHUNK

    r, gaps, var, n = 1.3, np.array([0.4, -0.2, 1.0]), 0.8, 2050
    value, se = expected_helpfulness(r, gaps, var, method="monte_carlo", n=n, key=11)
    pairs = n // 2
    keys = jax.random.split(jax.random.key(11), -(-pairs // _CHUNK))
    xi = np.concatenate([np.asarray(jax.random.normal(k, (_CHUNK, 3), dtype=jnp.float64)) for k in keys])[:pairs]
    h = lambda x: 1 / (1 + np.exp(gaps + r * np.sqrt(var) * x).sum(-1))  # noqa: E731
    pair = (h(xi) + h(-xi)) / 2
    assert float(value) == pytest.approx(pair.mean(), rel=1e-12)
    assert float(se) == pytest.approx(pair.std(ddof=1) / np.sqrt(pairs), rel=1e-6)


# ---------------------------------------------------------------- item 10: hints that fit


@pytest.mark.parametrize("name,call", [
    ("r", lambda v: sb.alignment_bound(v, 1.0, 0.0)),
    ("cov", lambda v: sb.helpfulness_lower_bound(1.0, [0.0], v)),
    ("lam", lambda v: sb.best_radius(1.0, 0.0, [0.0], 1.0, lam=v)),
    ("gaps", lambda v: sb.helpfulness_curvature([v], 1.0)),
    ("eps", lambda v: sb.guarantee_radius(1.0, 0.0, eps=v)),
])
def test_nan_hint_fits_the_argument(name, call):
    with pytest.raises(ValueError) as info:
        call(np.nan)
    message = str(info.value)
    assert message.startswith(f"{name} contains NaN or inf") and "token" not in message
    assert f"finite numbers for {name}" in message


def test_nan_logits_hint_mentions_token_sets():
    with pytest.raises(ValueError, match="logits contains NaN or inf.*leave unwanted tokens out"):
        sb.helpfulness([np.nan, 0.0], 0)


def test_float32_rounding_of_b0_is_explained():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match=r"found 0\.999999999999999.*rounds to 1\.0 in float32.*jax_enable_x64"):
            sb.alignment_bound(1.0, 1.0, 1 - 1e-15)
        with pytest.raises(ValueError, match=r"found 1\.0 at index \(\)\. b0 is"):  # exactly 1: no rounding story
            sb.alignment_bound(1.0, 1.0, 1.0)
    finally:
        jax.config.update("jax_enable_x64", True)
