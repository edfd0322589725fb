"""Derivations of docs/theory.md#helpfulness: the helpfulness definition, T2a, T2b, C2.1-C2.3.

Statements are derived for a general number ``k`` of competitors with indexed
symbols (``g[i]``, ``Sigma[i, j]``); where sympy cannot close an identity over
a symbolic ``k`` it is also verified for every explicit ``k`` in 1..4.
"""

from __future__ import annotations

import functools

import sympy as sp

from ._statement import Statement, require_zero
from ._symbols import X, Sigma, a, g, i, j, k, l, mu, p, p0, r, s_H, sd, sigma

_XI = sp.Symbol("xi", real=True)  # standard normal variable
_TAU = sp.Symbol("tau", positive=True)  # its scale
_PHI = sp.exp(-(_XI**2) / 2) / sp.sqrt(2 * sp.pi)  # standard normal density
_KAPPA = sp.Symbol("kappa", positive=True)  # A3 response ||delta_c|| = kappa |c|
_B = sp.Symbol("b", positive=True)  # the paper's fitted width, b ~ sigma kappa
_C = sp.Symbol("c", real=True)  # steering coefficient
EXPLICIT_K = (1, 2, 3, 4)  # sizes for which identities over k are expanded and checked


def gaussian_moment(f: sp.Expr) -> sp.Expr:
    """E[f(tau xi)] for xi ~ N(0, 1), as a function of tau (a derived helper)."""
    return sp.simplify(sp.integrate(f * _PHI, (_XI, -sp.oo, sp.oo)))


def _in_range(expr: sp.Expr) -> sp.Expr:
    """Drop sympy's index-range Piecewise: every index lies in 1..k by construction."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)


def _explicit(expr: sp.Expr, n: int) -> sp.Expr:
    """``expr`` with every sum over 1..k written out for k = n (indices become 1..n)."""

    def expand(summation: sp.Sum) -> sp.Expr:
        terms = [summation.function]
        for index, _, _ in summation.limits:
            terms = [t.xreplace({index: m}) for t in terms for m in range(1, n + 1)]
        return sp.Add(*terms)

    return expr.replace(lambda e: isinstance(e, sp.Sum), expand).xreplace({k: n}).doit()


def _sum(expr, *indices):
    return sp.Sum(expr, *[(ix, 1, k) for ix in indices])


@functools.cache
def definition() -> Statement:
    """Section 3's helpfulness H = p_0 = 1/(1 + sum_i e^{g_i}) and its log-space forms."""
    verified: list[str] = []
    prob = 1 / (1 + _sum(sp.exp(g[l]), l))
    log_prob = -sp.log(1 + _sum(sp.exp(g[l]), l))
    competitor = g[j] - sp.log(1 + _sum(sp.exp(g[l]), l))
    require_zero("exp(log H) = H", sp.exp(log_prob) - prob, verified)
    require_zero("p_j = e^{g_j} p_0", sp.exp(competitor) - sp.exp(g[j]) * prob, verified)
    return Statement(
        name="H",
        title="helpfulness of a multiple-choice answer",
        assumptions=("gaps g_i = z_i - z_* over the k competitors of the correct token",),
        results={
            "probability": prob,
            "log_probability": log_prob,
            "competitor_log_probability": competitor,
            "steered": 1 / (1 + _sum(sp.exp(g[l] + X[l]), l)),
            "steered_log_probability": -sp.log(1 + _sum(sp.exp(g[l] + X[l]), l)),
        },
        verified=tuple(verified),
        notes=("the log forms are evaluated with log-sum-exp, so tiny probabilities keep full precision",),
    )


@functools.cache
def t2a() -> Statement:
    """T2a: Jensen's lower bound L(r) on the expected helpfulness under A2."""
    verified: list[str] = []
    x = sp.Symbol("x", positive=True)
    convexity = sp.diff(1 / (1 + x), x, 2)
    if not convexity.is_positive:
        raise AssertionError("1/(1 + x) must be convex on x > 0")
    verified.append(f"d^2/dx^2 1/(1+x) = {convexity} > 0 (convex)")
    mgf = gaussian_moment(sp.exp(_TAU * _XI))
    require_zero("E[e^{X_i}] = e^{r^2 Sigma_ii / 2} for X_i ~ N(0, r^2 Sigma_ii)", mgf - sp.exp(_TAU**2 / 2), verified)
    exponent = g[i] + r**2 * Sigma[i, i] / 2
    bound = 1 / (1 + _sum(sp.exp(exponent), i))
    log_bound = -sp.log(1 + _sum(sp.exp(exponent), i))
    log_bound_diagonal = log_bound.xreplace({Sigma[i, i]: sd[i]})
    iid = 1 / (1 + a * sp.exp(sigma**2 * r**2 / 2))
    for n in EXPLICIT_K:
        odds = sum(sp.exp(g[m]) for m in range(1, n + 1))
        require_zero(
            f"Sigma = sigma^2 I gives 1/(1 + a e^(sigma^2 r^2/2)), a = sum_i e^(g_i) = (1 - p_0)/p_0 (k = {n})",
            _explicit(bound.xreplace({Sigma[i, i]: sigma**2}), n) - iid.subs(a, odds),
            verified,
        )
    slope = sp.diff(log_bound, r)
    return Statement(
        name="T2a",
        title="global lower bound on the expected helpfulness",
        assumptions=("A2: X ~ N(0, r^2 Sigma), Sigma positive semi-definite", "any real r"),
        results={
            "bound": bound,
            "log_bound": log_bound,
            "log_bound_diagonal": log_bound_diagonal,
            "bound_iid": iid,
            "theorem": sp.Ge(sp.Symbol("E[H_r]"), bound),
            "d_log_bound_dr": slope,
        },
        steps=(
            ("x -> 1/(1 + x) is convex, so E[H_r] >= 1/(1 + E[sum_i e^(g_i + X_i)]) (Jensen)", convexity),
            ("the Gaussian moment generating function", sp.Eq(sp.Symbol("E[e^{X_i}]"), sp.exp(r**2 * Sigma[i, i] / 2))),
            ("so", sp.Ge(sp.Symbol("E[H_r]"), bound)),
        ),
        verified=tuple(verified),
        notes=(
            "d_log_bound_dr is -r times a positive sum over (1 + sum): L is even in r and falls as |r| "
            "grows (bell-shaped)",
        ),
    )


def _hessian() -> tuple[sp.Expr, sp.Expr, list[str]]:
    """Gradient and Hessian entries of p_0 with respect to the gaps, as p-polynomials."""
    verified: list[str] = []
    total = _sum(sp.exp(g[l]), l)
    prob = 1 / (1 + total)
    grad = _in_range(sp.diff(prob, g[i]).doit())
    hess = _in_range(sp.diff(grad, g[j]).doit())

    def to_p(e):
        return e.subs(total, 1 / p0 - 1).subs({sp.exp(g[i]): p[i] / p0, sp.exp(g[j]): p[j] / p0})

    grad_p, hess_p = sp.simplify(to_p(grad)), sp.factor(sp.simplify(to_p(hess)))
    grad_entry = -p0 * p[i]
    hess_entry = p0 * (2 * p[i] * p[j] - sp.KroneckerDelta(i, j) * p[i])
    require_zero("dp_0/dg_i = -p_0 p_i", grad_p - grad_entry, verified)
    require_zero("d^2 p_0/dg_i dg_j = p_0 (2 p_i p_j - delta_ij p_i)", hess_p - hess_entry, verified)
    return grad_entry, hess_entry, verified


@functools.cache
def t2b() -> Statement:
    """T2b: the second-order law E[H_r] = p_0 - s_H r^2 + O(r^4) for a general covariance."""
    grad_entry, hess_entry, verified = _hessian()
    moments = {n: gaussian_moment((_TAU * _XI) ** n) for n in (1, 2, 3)}
    if moments[1] != 0 or moments[3] != 0 or sp.simplify(moments[2] - _TAU**2) != 0:
        raise AssertionError(f"unexpected Gaussian moments {moments}")
    verified.append("E[X] = 0, E[X_i X_j] = r^2 Sigma_ij and third moments vanish (centred Gaussian)")
    contraction = r**2 / 2 * _sum(hess_entry * Sigma[i, j], i, j)
    curvature = p0 / 2 * (_sum(p[i] * Sigma[i, i], i) - 2 * _sum(p[i] * p[j] * Sigma[i, j], i, j))
    curvature_diagonal = p0 / 2 * _sum(p[i] * sd[i] * (1 - 2 * p[i]), i)
    curvature_iid = sigma**2 / 2 * p0 * _sum(p[i] * (1 - 2 * p[i]), i)
    for n in EXPLICIT_K:
        require_zero(f"(r^2/2) sum_ij Hess_ij Sigma_ij = -s_H r^2 (k = {n})", _explicit(contraction + curvature * r**2, n), verified)
        diagonal = _explicit(curvature, n).subs({Sigma[u, v]: (sd[u] if u == v else 0) for u in range(1, n + 1) for v in range(1, n + 1)})
        require_zero(f"diagonal Sigma gives (p_0/2) sum_i p_i s_i (1 - 2 p_i) (k = {n})", diagonal - _explicit(curvature_diagonal, n), verified)
        iid = _explicit(curvature_diagonal, n).subs({sd[u]: sigma**2 for u in range(1, n + 1)})
        require_zero(f"Sigma = sigma^2 I gives (sigma^2/2) p_0 sum_i p_i (1 - 2 p_i) (k = {n})", iid - _explicit(curvature_iid, n), verified)
    expected = sp.Symbol("E[H_r]")
    second_order = p0 - curvature * r**2
    return Statement(
        name="T2b",
        title="second-order law of the expected helpfulness",
        assumptions=("A2: X ~ N(0, r^2 Sigma)", "small r: the remainder is O(r^4) (T2c bounds it)"),
        results={
            "gradient_entry": grad_entry,
            "hessian_entry": hess_entry,
            "curvature": curvature,
            "curvature_diagonal": curvature_diagonal,
            "curvature_iid": curvature_iid,
            "second_order": second_order,
            "second_order_from_curvature": p0 - s_H * r**2,
            "law": sp.Eq(expected, second_order + sp.O(r**4)),
        },
        steps=(
            ("Taylor expansion of H(g + X) in X; odd Gaussian moments vanish", sp.Eq(expected, p0 + contraction + sp.O(r**4))),
            ("Hessian of p_0 with respect to the gaps", sp.Eq(sp.Symbol("Hess_ij"), hess_entry)),
            ("contracted with E[X_i X_j] = r^2 Sigma_ij", sp.Eq(expected, second_order + sp.O(r**4))),
        ),
        verified=tuple(verified),
        notes=("s_H = curvature is the helpfulness loss per r^2 (section 4); it can be negative when p_0 < 1/2",),
    )


@functools.cache
def c2_1() -> Statement:
    """C2.1: when p_0 >= 1/2 the r^2 coefficient is a loss, bracketed by an interval."""
    verified: list[str] = []
    curvature = t2b()["curvature"]
    weighted = _sum(p[i] * Sigma[i, i], i)  # T = sum_i p_i Sigma_ii
    quad = _sum(p[i] * p[j] * Sigma[i, j], i, j)  # p^T Sigma p
    T, Q = sp.symbols("T Q", nonnegative=True)
    coefficient = -curvature.xreplace({quad: Q, weighted: T})
    lower = -p0 / 2 * T
    upper = -p0 / 2 * (2 * p0 - 1) * T
    require_zero("coefficient at p^T Sigma p = 0 is the lower end", coefficient.subs(Q, 0) - lower, verified)
    require_zero("coefficient at p^T Sigma p = (1 - p_0) T is the upper end", coefficient.subs(Q, (1 - p0) * T) - upper, verified)
    iid_lower, iid_upper = (e.subs(T, sigma**2 * (1 - p0)) for e in (lower, upper))
    require_zero("i.i.d. lower end -(sigma^2/2) p_0 (1 - p_0)", iid_lower + sigma**2 / 2 * p0 * (1 - p0), verified)
    require_zero("i.i.d. upper end -(sigma^2/2) p_0 (1 - p_0)(2 p_0 - 1)", iid_upper + sigma**2 / 2 * p0 * (1 - p0) * (2 * p0 - 1), verified)
    gain_region = sp.solve_univariate_inequality(iid_upper > 0, p0, relational=False).intersect(sp.Interval.open(0, 1))
    if gain_region != sp.Interval.open(0, sp.Rational(1, 2)):
        raise AssertionError(f"the upper end is positive on {gain_region}, expected (0, 1/2)")
    verified.append("the upper end is positive exactly for 0 < p_0 < 1/2")
    one_competitor = _explicit(t2b()["curvature_iid"], 1).subs(p[1], 1 - p0)
    require_zero("k = 1 attains the upper end", -one_competitor - iid_upper, verified)
    return Statement(
        name="C2.1",
        title="helpfulness is harmed when the model is right",
        assumptions=(
            "A2 with Sigma positive semi-definite; T = sum_i p_i Sigma_ii",
            "the interval: 0 <= p^T Sigma p <= (sum_i p_i)(sum_i p_i Sigma_ii) = (1 - p_0) T (Cauchy-Schwarz twice)",
        ),
        results={
            "coefficient": -curvature,
            "interval": sp.Tuple(lower, upper),
            "interval_lower": lower.xreplace({T: weighted}),
            "interval_upper": upper.xreplace({T: weighted}),
            "interval_iid": sp.Tuple(iid_lower, iid_upper),
            "interval_iid_lower": iid_lower,
            "interval_iid_upper": iid_upper,
            "sign_condition": sp.Implies(sp.Ge(p0, sp.Rational(1, 2)), sp.Le(-curvature, 0)),
            "gain_region": gain_region,
            "gain_witness": -one_competitor,
        },
        steps=(
            ("r^2 coefficient of E[H_r] (T2b)", sp.Eq(sp.Symbol("c"), -curvature)),
            ("bracketing p^T Sigma p between 0 and (1 - p_0) T", sp.Tuple(lower, upper)),
            ("Sigma = sigma^2 I: T = sigma^2 (1 - p_0)", sp.Tuple(iid_lower, iid_upper)),
        ),
        verified=tuple(verified),
        notes=(
            "p_0 >= 1/2: the upper end is <= 0, a genuine quadratic loss with no linear term",
            "p_0 < 1/2: the coefficient can be positive (one competitor attains the upper end, "
            "gain_witness > 0): noise helps a model that was wrong; the package reports this case",
        ),
    )


@functools.cache
def c2_2() -> Statement:
    """C2.2: expanding T2a's i.i.d. bound gives the paper's fit form."""
    verified: list[str] = []
    bound = t2a()["bound_iid"]
    fit = 1 / (1 + a + a * sigma**2 * r**2 / 2)
    difference = sp.series(bound - fit, r, 0, 4).removeO()
    require_zero("L(r) - 1/(1 + a + a sigma^2 r^2/2) = O(r^4)", difference, verified)
    expansion = sp.series(bound, r, 0, 4).removeO()
    require_zero("constant term 1/(1 + a) = p_0 with a = (1 - p_0)/p_0", (1 / (1 + a)).subs(a, (1 - p0) / p0) - p0, verified)
    fit_c = fit.subs(sigma * r, _B * _C).subs(sigma**2 * r**2, _B**2 * _C**2)
    x = sp.Symbol("x", nonnegative=True)  # sigma^2 r^2 / 2
    in_x = lambda e: e.subs(r, sp.sqrt(2 * x) / sigma)  # noqa: E731
    require_zero(
        "fit - L = a (e^x - 1 - x) / ((1 + a + a x)(1 + a e^x)) with x = sigma^2 r^2/2",
        in_x(fit - bound) - a * (sp.exp(x) - 1 - x) / ((1 + a + a * x) * (1 + a * sp.exp(x))),
        verified,
    )
    # e^x - 1 - x = x^2 e^theta / 2 <= x^2 e^x / 2 (Lagrange) and both denominators are >= 1 + a.
    require_zero("a/(1 + a)^2 = p_0 (1 - p_0)", (a / (1 + a) ** 2).subs(a, (1 - p0) / p0) - p0 * (1 - p0), verified)
    remainder = (a / (1 + a) ** 2 * x**2 * sp.exp(x) / 2).subs(x, sigma**2 * r**2 / 2)
    return Statement(
        name="C2.2",
        title="the paper's fit form",
        assumptions=(
            "as T2a with Sigma = sigma^2 I",
            "0 <= fit - L <= remainder_bound = p_0 (1 - p_0) x^2 e^x / 2, x = sigma^2 r^2/2, for every r",
        ),
        results={
            "expansion": sp.Eq(bound, expansion + sp.O(r**4)),
            "fit_form": fit,
            "fit_form_coefficient": fit_c,
            "restricted_fit_form": sp.Rational(1, 2) * fit_c + sp.Rational(1, 4),
            "width": sp.Eq(_B, sigma * _KAPPA),
            "remainder": sp.Le(0, fit - bound),
            "remainder_bound": remainder,
        },
        steps=(("series of 1/(1 + a e^(sigma^2 r^2/2)) at r = 0", sp.Eq(bound, expansion + sp.O(r**4))),),
        verified=tuple(verified),
        notes=(
            "in the coefficient c (A3: r = kappa |c|) the curve is 1/(1 + a + a (b^2/2) c^2) with b ~ sigma kappa",
            "restricted 4-option helpfulness adds a floor at chance: 0.5/(1 + a + a (b^2/2) c^2) + 0.25",
        ),
    )


@functools.cache
def c2_3() -> Statement:
    """C2.3: gap changes with mean r mu add a linear term to the helpfulness loss."""
    verified: list[str] = []
    grad_entry, hess_entry, _ = _hessian()
    linear = r * _sum(grad_entry * mu[i], i)
    quadratic = r**2 / 2 * _sum(hess_entry * (Sigma[i, j] + mu[i] * mu[j]), i, j)
    slope = p0 * _sum(p[i] * mu[i], i)
    require_zero("linear term = -r p_0 sum_i p_i mu_i", sp.simplify(linear + r * slope), verified)
    curvature = t2b()["curvature"]
    bias_curvature = p0 / 2 * (_sum(p[i] * mu[i] ** 2, i) - 2 * _sum(p[i] * mu[i], i) ** 2)
    for n in EXPLICIT_K:
        require_zero(
            f"r^2 term = -(s_H + p_0/2 (sum p_i mu_i^2 - 2 (sum p_i mu_i)^2)) r^2 (k = {n})",
            _explicit(quadratic + (curvature + bias_curvature) * r**2, n),
            verified,
        )
    expansion = p0 - slope * r - (curvature + bias_curvature) * r**2
    return Statement(
        name="C2.3",
        title="bias in the gap changes",
        assumptions=("X ~ N(r mu, r^2 Sigma): A2 with a mean", "small r: the remainder is O(r^3)"),
        results={
            "linear_term": -r * slope,
            "bias_slope": slope,
            "bias_curvature": bias_curvature,
            "expansion": expansion,
        },
        steps=(("first and second moments E[X] = r mu, E[X X^T] = r^2 (Sigma + mu mu^T)", sp.Eq(sp.Symbol("E[H_r]"), expansion + sp.O(r**3))),),
        verified=tuple(verified),
        notes=("with mu = 0 the expansion reduces to T2b",),
    )
