"""The symbolic layer: every derivation states assumptions, and its results agree with
independent high-precision numerics (sympy ``verify_numerically`` style: random points, mpmath)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from steerbounds.theory import _derive_alignment as al, _derive_helpfulness as he
from steerbounds.theory._derive_remainder import derivative_coefficient, t2c
from steerbounds.theory._derive_tradeoff import tradeoff
from steerbounds.theory._render import statements
from steerbounds.theory._symbols import B0, Delta, Sigma, a, eps, g, lam, p, p0, r, s_A, s_H, sigma

mpmath.mp.dps = 30
RNG = np.random.default_rng(11)


def verify_numerically(lhs, rhs, points, tol=1e-20):
    """lhs == rhs at each mapping of symbols to numbers, at 30 digits."""
    for point in points:
        point = {key: sp.Float(value, 40) for key, value in point.items()}  # the exact binary value, 40 digits
        left, right = (sp.N(e.xreplace(point), 30) for e in (lhs, rhs))
        assert abs(left - right) <= tol * (1 + abs(right)), (point, left, right)


def test_every_statement_is_complete():
    names = [s.name for s in statements()]
    assert names == ["T1", "C1.1", "C1.2", "C1.3", "H", "T2a", "T2b", "T2c", "C2.1", "C2.2", "C2.3", "S4"]
    for statement in statements():
        assert statement.assumptions and statement.results and statement.verified, statement.name


def test_t1_bound_is_tanh_of_half_log_odds():
    rho0 = sp.Symbol("rho_0", positive=True)
    points = [{r: RNG.uniform(-3, 3), Delta: RNG.uniform(0.1, 3), rho0: RNG.uniform(0.1, 10)} for _ in range(10)]
    bound = al.t1()["bound"].xreplace({B0: (rho0 - 1) / (rho0 + 1)})
    verify_numerically(bound, sp.tanh((sp.log(rho0) + r * Delta) / 2), points)


def test_c1_1_slope_and_curvature_match_numeric_derivatives():
    stmt = al.c1_1()
    for _ in range(5):
        point = {Delta: sp.Float(RNG.uniform(0.1, 3), 30), B0: sp.Float(RNG.uniform(-0.9, 0.9), 30)}
        f = sp.lambdify(r, al.t1()["bound"].xreplace(point), "mpmath")
        assert abs(mpmath.diff(f, 0) - stmt["slope"].xreplace(point)) < 1e-20
        assert abs(mpmath.diff(f, 0, 2) / 2 - stmt["r2_coefficient"].xreplace(point)) < 1e-20


def test_c1_2_radius_reaches_the_target():
    stmt = al.c1_2()
    points = [{Delta: RNG.uniform(0.1, 3), B0: RNG.uniform(-0.9, 0.5), eps: RNG.uniform(1e-6, 0.4)} for _ in range(5)]
    verify_numerically(al.t1()["bound"].xreplace({r: stmt["radius_log_form"]}), 1 - eps, points)


def test_t2a_mgf_matches_quadrature():
    s_value = 0.7
    numeric = mpmath.quad(lambda t: mpmath.exp(t) * mpmath.npdf(t, 0, mpmath.sqrt(s_value)), [-mpmath.inf, mpmath.inf])
    assert abs(numeric - mpmath.exp(s_value / 2)) < 1e-20


def _explicit_h(n):
    gs = sp.symbols(f"g1:{n + 1}", real=True)
    return gs, 1 / (1 + sum(sp.exp(v) for v in gs))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_t2b_curvature_equals_the_hessian_contracted_with_sigma(n):
    """Independent route: differentiate H(g) with explicit symbols, contract with Sigma, compare."""
    gs, h = _explicit_h(n)
    cov = np.atleast_2d(np.cov(RNG.normal(size=(n, n + 3))))
    values = RNG.normal(size=n)
    hess = sum(sp.diff(h, gs[u], gs[v]) * cov[u, v] for u in range(n) for v in range(n))
    point = dict(zip(gs, values))
    contraction = sp.N(hess.xreplace(point), 30) / 2
    base = 1 / (1 + np.exp(values).sum())
    curvature = he._explicit(he.t2b()["curvature"], n).xreplace(
        {p0: base, **{p[u + 1]: np.exp(values[u]) * base for u in range(n)},
         **{Sigma[u + 1, v + 1]: cov[u, v] for u in range(n) for v in range(n)}})
    assert float(contraction) == pytest.approx(-float(curvature), rel=1e-12)


def test_c2_1_gain_region_and_witness():
    stmt = he.c2_1()
    assert stmt["gain_region"] == sp.Interval.open(0, sp.Rational(1, 2))
    witness = stmt["gain_witness"]
    assert witness.xreplace({p0: sp.Rational(33, 100), sigma: 1}) > 0
    assert witness.xreplace({p0: sp.Rational(3, 4), sigma: 1}) < 0


def test_c2_2_remainder_bounds_the_fit_error():
    stmt = he.c2_2()
    for _ in range(10):
        point = {r: RNG.uniform(0.01, 3), sigma: RNG.uniform(0.1, 2), a: RNG.uniform(0.01, 10)}
        gap = sp.N((stmt["fit_form"] - he.t2a()["bound_iid"]).xreplace(point), 30)
        assert 0 <= gap <= sp.N(stmt["remainder_bound"].xreplace(point), 30)


def test_t2c_coefficients_bound_autodiff_free_mpmath_derivatives():
    """|f''''| <= c_4 pi_0 (1 - pi_0) D^4 for a softmax probability, derivatives by mpmath."""
    assert derivative_coefficient(4)[0] == sp.Rational(21, 4)
    assert derivative_coefficient(3)[0] == sp.Rational(11, 4)
    assert t2c()["constant"].args[0] == sp.Rational(21, 16)
    for _ in range(5):
        z = RNG.normal(size=4) * 3
        y = np.concatenate([[0.0], RNG.normal(size=3) * 2])
        f = lambda t: mpmath.exp(z[0] - mpmath.log(sum(mpmath.exp(zz + t * yy) for zz, yy in zip(z, y))))  # noqa: E731
        pi0 = f(0)
        spread = y.max() - y.min()
        for order, coeff in ((3, 11 / 4), (4, 21 / 4)):
            assert abs(mpmath.diff(f, 0, order)) <= coeff * pi0 * (1 - pi0) * spread**order


def test_tradeoff_radii():
    stmt = tradeoff()
    eff = stmt["efficient_radius"].xreplace({s_A: 2, s_H: sp.Rational(1, 2)})
    assert eff == 4
    assert stmt["efficient_radius"].xreplace({s_A: 2, s_H: -1}) == sp.oo
    assert stmt["best_radius"].xreplace({s_A: 2, s_H: sp.Rational(1, 2), lam: 2}) == 1


def test_helpfulness_definition_log_forms():
    stmt = he.definition()
    n = 3
    values = dict(zip([g[u] for u in range(1, n + 1)], RNG.normal(size=n)))
    prob = he._explicit(stmt["probability"], n).xreplace(values)
    log_prob = he._explicit(stmt["log_probability"], n).xreplace(values)
    assert float(sp.exp(log_prob)) == pytest.approx(float(prob), rel=1e-14)
