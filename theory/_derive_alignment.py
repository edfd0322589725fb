"""Derivations of docs/theory.md#alignment: T1 and its corollaries C1.1-C1.3.

Each function returns a :class:`~steerbounds.theory._statement.Statement`
whose results are sympy expressions; identities used along the way are
verified symbolically when the function runs (and numerically by the tests).
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from ._statement import Statement, require_zero
from ._symbols import B0, Delta, eps, eta, logp_minus, logp_plus, m, r, rho, rho0, u0

_P_PLUS, _P_MINUS = sp.symbols("P_+ P_-", positive=True)
_B_R = sp.Symbol("B_r", real=True)  # behaviour expectation at norm r
_KAPPA = sp.Symbol("kappa", positive=True)  # A3: ||delta_c|| = kappa |c|
_C = sp.Symbol("c", real=True)  # steering coefficient


def _odds_factorisation(n_plus: int, n_minus: int) -> sp.Expr:
    """rho_r - e^(r Delta) rho_0 F(r) for explicit token sets: zero when T1's factorisation holds."""
    za = sp.symbols(f"z_a1:{n_plus + 1}", real=True)
    zb = sp.symbols(f"z_b1:{n_minus + 1}", real=True)
    da = sp.symbols(f"d_a1:{n_plus + 1}", nonnegative=True)  # <dhat, u_a> - min_a <dhat, u_a>
    db = sp.symbols(f"d_b1:{n_minus + 1}", nonnegative=True)  # max_b <dhat, u_b> - <dhat, u_b>
    w_min, w_max = sp.symbols("w_min w_max", real=True)
    plus = lambda rr: sum(sp.exp(z + rr * (w_min + d)) for z, d in zip(za, da))  # noqa: E731
    minus = lambda rr: sum(sp.exp(z + rr * (w_max - d)) for z, d in zip(zb, db))  # noqa: E731
    rho_r, rho_0 = plus(r) / minus(r), plus(0) / minus(0)
    factor = (sum(sp.exp(z + r * d) for z, d in zip(za, da)) / plus(0)) / (
        sum(sp.exp(z - r * d) for z, d in zip(zb, db)) / minus(0)
    )
    return sp.expand(rho_r) - sp.expand(sp.exp(r * (w_min - w_max)) * rho_0 * factor)


@functools.cache
def t1() -> Statement:
    """T1: the tanh lower bound on the steered behaviour expectation (under A1)."""
    verified: list[str] = []
    b_def = (_P_PLUS - _P_MINUS) / (_P_PLUS + _P_MINUS)
    as_tanh = sp.tanh(sp.log(_P_PLUS / _P_MINUS) / 2)
    require_zero("B = (P+ - P-)/(P+ + P-) = tanh(ln(P+/P-)/2)", as_tanh.rewrite(sp.exp) - b_def, verified)
    require_zero(
        "artanh(B_0) = ln(rho_0)/2 where B_0 = (rho_0 - 1)/(rho_0 + 1)",
        sp.atanh((rho0 - 1) / (rho0 + 1)).rewrite(sp.log) - sp.log(rho0) / 2,
        verified,
    )
    for n_plus, n_minus in itertools.product((1, 2, 3), repeat=2):
        require_zero(
            f"rho_r = e^(r Delta) rho_0 F(r) for |A+| = {n_plus}, |A-| = {n_minus}",
            _odds_factorisation(n_plus, n_minus),
            verified,
        )
    bound = sp.tanh(r * Delta / 2 + sp.atanh(B0))
    log_odds_gain = sp.log(rho) / 2 - sp.log(rho0) / 2 - r * Delta / 2
    steps = (
        ("restricted behaviour expectation as a function of the odds rho = P+/P-", sp.Eq(_B_R, sp.tanh(sp.log(rho) / 2))),
        (
            "every aligned logit moves by at least r*min<dhat,u_a>, every misaligned one by at most "
            "r*max<dhat,u_b> (r >= 0; reversed for r < 0), so rho_r = e^(r Delta) rho_0 F(r) with "
            "F(r) >= 1 for r >= 0 and F(r) <= 1 for r <= 0",
            sp.Ge(sp.sign(r) * log_odds_gain, 0),
        ),
        ("tanh is increasing and ln(rho_0)/2 = artanh(B_0)", sp.Ge(sp.sign(r) * (_B_R - bound), 0)),
    )
    return Statement(
        name="T1",
        title="alignment lower bound (S-curve)",
        assumptions=(
            "A1: Delta = min_{a in A+} <dhat, u_a> - max_{b in A-} <dhat, u_b> > 0 "
            "(the inequality itself holds for this Delta of either sign; A1 makes it rise with r)",
            "steering moves the logits as z_r = z + r U dhat (delta = r dhat)",
            "-1 < B_0 < 1 (both token sets carry probability)",
        ),
        results={
            "bound": bound,
            "theorem": sp.Ge(sp.sign(r) * (_B_R - bound), 0),
            "log_odds_form": sp.Ge(sp.sign(r) * log_odds_gain, 0),
            "half_log_odds_bound": u0 + r * Delta / 2,
            "equality": sp.Eq(rho, sp.exp(r * Delta) * rho0),
            "behaviour": sp.tanh((logp_plus - logp_minus) / 2),
            "behaviour_unrestricted": sp.exp(logp_plus) - sp.exp(logp_minus),
        },
        steps=steps,
        verified=tuple(verified),
        notes=(
            "equality: A+ = {a}, A- = {b} and Delta = <dhat, u_a - u_b> give F(r) = 1",
            "half_log_odds_bound is the bound on artanh(B_r) = ln(rho_r)/2 given u_0 = artanh(B_0): "
            "T1 without rounding near B = +-1",
            "behaviour is B evaluated from log P+ and log P- (log space); behaviour_unrestricted is "
            "P+ - P- from log-probabilities normalised over the whole vocabulary",
        ),
    )


@functools.cache
def c1_1() -> Statement:
    """C1.1: the linear regime of T1's bound, with its r^2 term."""
    verified: list[str] = []
    bound = t1()["bound"]
    series = sp.series(bound, r, 0, 3).removeO()
    slope = Delta / 2 * (1 - B0**2)
    curvature = -(Delta**2) / 4 * B0 * (1 - B0**2)
    require_zero("constant term = B_0", series.coeff(r, 0) - B0, verified)
    require_zero("s_A = (Delta/2)(1 - B_0^2)", series.coeff(r, 1) - slope, verified)
    require_zero("r^2 coefficient = -(Delta^2/4) B_0 (1 - B_0^2)", series.coeff(r, 2) - curvature, verified)
    fit_slope = _KAPPA * Delta / 2
    x, big_t = sp.Symbol("x", real=True), sp.Symbol("T", real=True)
    third = sp.diff(sp.tanh(x), x, 3)
    third_in_t = sp.expand(-2 + 8 * big_t**2 - 6 * big_t**4)
    require_zero("d^3/dx^3 tanh = -2 + 8 tanh^2 - 6 tanh^4", (third - third_in_t.subs(big_t, sp.tanh(x))).rewrite(sp.exp), verified)
    critical = [c for c in sp.solve(sp.diff(third_in_t, big_t), big_t) if -1 <= c <= 1] + [-1, 1]
    peak = max(abs(third_in_t.subs(big_t, c)) for c in critical)
    if peak != 2:
        raise AssertionError(f"sup |d^3 tanh| = {peak}, expected 2")
    verified.append("sup |d^3/dx^3 tanh| = 2 (attained at 0)")
    # |Delta r|^3 / 24 kept unevaluated: sympy would print the equal Delta^3 r^2 |r| / 24 otherwise.
    remainder = sp.Mul(peak / sp.factorial(3) / 2**3, sp.Pow(sp.Abs(Delta * r, evaluate=False), 3, evaluate=False), evaluate=False)
    return Statement(
        name="C1.1",
        title="linear regime of the alignment bound",
        assumptions=("as T1", "the remainder is at most remainder_bound = |Delta r|^3 / 24 for every r (Lagrange)"),
        results={
            "expansion": sp.Eq(bound, B0 + slope * r + curvature * r**2 + sp.O(r**3)),
            "slope": slope,
            "r2_coefficient": curvature,
            "remainder_bound": remainder,
            "fit_form": sp.tanh(fit_slope * _C + sp.atanh(B0)),
            "fit_slope": fit_slope,
        },
        steps=(("Taylor series of tanh(r Delta/2 + artanh B_0) at r = 0", sp.Eq(bound, series + sp.O(r**3))),),
        verified=tuple(verified),
        notes=(
            "fit_form is the paper's tanh(a c + b_0) against the coefficient c, predicted with "
            "a = kappa Delta/2 (A3: ||delta_c|| = kappa |c|) and b_0 = artanh B_0",
        ),
    )


@functools.cache
def c1_2() -> Statement:
    """C1.2: the norm that guarantees B_r >= 1 - eps, and the misaligned share's decay."""
    verified: list[str] = []
    bound = t1()["bound"]
    (radius,) = sp.solve(sp.Eq(sp.atanh(1 - eps), r * Delta / 2 + sp.atanh(B0)), r)
    require_zero("T1's bound equals 1 - eps at r_eps", bound.subs(r, radius) - (1 - eps), verified)
    radius_log = sp.expand(radius.rewrite(sp.log))
    require_zero("log form of r_eps", (radius_log - radius).rewrite(sp.log), verified)
    share = 1 / (1 + rho)
    require_zero("P-/(P+ + P-) = 1/(1 + rho)", share - _P_MINUS / (_P_PLUS + _P_MINUS).subs(_P_PLUS, rho * _P_MINUS), verified)
    share_bound = 1 / (1 + rho0 * sp.exp(r * Delta))
    require_zero(
        "log form with rho_0 = e^(2 u_0)",
        sp.exp(-sp.log(1 + sp.exp(2 * u0 + r * Delta))) - share_bound.subs(rho0, sp.exp(2 * u0)),
        verified,
    )
    return Statement(
        name="C1.2",
        title="guaranteed alignment and the misaligned share",
        assumptions=("as T1", "0 < eps and 1 - eps > B_0 (so r_eps > 0)", "r >= r_eps >= 0"),
        results={
            "radius": radius,
            "radius_log_form": radius_log,
            "guarantee": sp.Implies(sp.Ge(r, radius), sp.Ge(_B_R, 1 - eps)),
            "misaligned_share_bound": sp.Le(share, share_bound),
            "misaligned_share_bound_expr": share_bound,
            "log_misaligned_share_bound": -sp.log(1 + sp.exp(2 * u0 + r * Delta)),
        },
        steps=(
            ("solve tanh(r Delta/2 + artanh B_0) = 1 - eps for r (T1's bound increases in r)", sp.Eq(r, radius)),
            ("rho_r >= e^(r Delta) rho_0 (T1, r >= 0) and 1/(1 + rho) decreases in rho", sp.Le(share, share_bound)),
        ),
        verified=tuple(verified),
        notes=("radius_log_form avoids artanh(1 - eps) so that tiny eps keep full precision",),
    )


@functools.cache
def c1_3() -> Statement:
    """C1.3: the unrestricted expectation when little mass is neutral."""
    verified: list[str] = []
    unrestricted = m * _B_R
    gap = sp.factor(unrestricted - (1 - eta) * _B_R)
    require_zero("m B - (1 - eta) B = (m - (1 - eta)) B", gap - (m - (1 - eta)) * _B_R, verified)
    return Statement(
        name="C1.3",
        title="neutral mass",
        assumptions=("m_r = P+ + P- >= 1 - eta (A4)", "B_r >= 0"),
        results={
            "unrestricted": unrestricted,
            "bound": sp.Ge(unrestricted, (1 - eta) * _B_R),
            "slack": gap,
        },
        steps=(("B~ = P+ - P- = m B, and (m - (1 - eta)) B >= 0 when both factors are", sp.Eq(unrestricted - (1 - eta) * _B_R, gap)),),
        verified=tuple(verified),
    )
