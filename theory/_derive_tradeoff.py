"""Derivations of docs/theory.md#tradeoff: the efficient radius and the best radius."""

from __future__ import annotations

import functools

import sympy as sp

from ._derive_alignment import c1_1, t1
from ._derive_helpfulness import t2a, t2b
from ._statement import Statement, require_zero
from ._symbols import B0, lam, p0, r, s_A, s_H

_RP = sp.Symbol("r", positive=True)  # a positive norm, for the optimisation


@functools.cache
def tradeoff() -> Statement:
    """Section 4: gain s_A r against loss s_H r^2; r_eff = s_A/s_H, r*_lambda = s_A/(2 lambda s_H)."""
    verified: list[str] = []
    gain, loss = s_A * _RP, s_H * _RP**2
    roots = sp.solve(sp.Eq(gain, loss), _RP)
    if len(roots) != 1:
        raise AssertionError(f"expected one positive crossing of gain and loss, got {roots}")
    efficient = roots[0]
    require_zero("r_eff = s_A / s_H", efficient - s_A / s_H, verified)
    require_zero("gain - loss = r s_H (r_eff - r): positive on 0 < r < r_eff when s_H > 0",
                 sp.expand(gain - loss - _RP * s_H * (efficient - _RP)), verified)
    utility = gain - lam * loss
    (best,) = sp.solve(sp.diff(utility, _RP), _RP)
    require_zero("r*_lambda = s_A / (2 lambda s_H)", best - s_A / (2 * lam * s_H), verified)
    require_zero("d^2/dr^2 (G - lambda Lambda) = -2 lambda s_H (a maximum when s_H > 0)",
                 sp.diff(utility, _RP, 2) + 2 * lam * s_H, verified)
    best_utility = sp.simplify(utility.subs(_RP, best))
    slope, curvature = c1_1()["slope"], t2b()["curvature"]
    region = sp.Ge(t1()["bound"] - B0, lam * (p0 - t2a()["bound"]))
    return Statement(
        name="S4",
        title="the tradeoff: efficient and best steering norms",
        assumptions=(
            "s_A = (Delta/2)(1 - B_0^2) from C1.1 (A1) and s_H from T2b (A2)",
            "s_H > 0 (e.g. p_0 >= 1/2, C2.1); when s_H <= 0 helpfulness does not fall to second "
            "order and both radii are infinite",
            "lambda > 0 weighs the helpfulness loss against the alignment gain",
        ),
        results={
            "gain": sp.Eq(sp.Symbol("G(r)"), s_A * r),
            "loss": sp.Eq(sp.Symbol("Lambda(r)"), s_H * r**2),
            "efficient_radius": sp.Piecewise((s_A / s_H, s_H > 0), (sp.oo, True)),
            "best_radius": sp.Piecewise((s_A / (2 * lam * s_H), s_H > 0), (sp.oo, True)),
            "best_utility": best_utility,
            "slope": slope,
            "curvature": curvature,
            "guaranteed_region": region,
        },
        steps=(
            ("gain equals loss at r = 0 and at", sp.Eq(sp.Symbol("r_eff"), efficient)),
            ("the utility G - lambda Lambda peaks where its derivative vanishes", sp.Eq(sp.Symbol("r*_lambda"), best)),
        ),
        verified=tuple(verified),
        notes=(
            "guaranteed_region (no expansion): the norms where T1's gain exceeds lambda times T2a's "
            "loss bound; it is found numerically on a grid",
        ),
    )
