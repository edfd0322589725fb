"""DELIBERATELY WRONG bounds, planted to show that the checks can fail.

Nothing here is a result. Each function is a derived expression with one
deliberate mutation, compiled through the same bridge as the real bounds;
the property tests (tests/theory/test_planted.py) and
``steerbounds check-theory`` must find a counterexample to each, and report
a failure if they do not.

* :func:`t1_double_slope` - T1 with twice the slope, ``tanh(r Delta + artanh B_0)``:
  wrong, the equality case (one aligned, one misaligned token) has exactly
  ``tanh(r Delta/2 + artanh B_0)``, which it exceeds for every ``r > 0``.
* :func:`t2a_flipped_exponent` - T2a with the sign of the exponent flipped,
  ``1/(1 + sum_i e^{g_i - r^2 Sigma_ii/2})``: wrong, it exceeds ``p_0`` for
  ``r != 0`` while ``E[H_r] < p_0`` at small r when ``p_0 > 1/2`` (C2.1).
* :func:`linear_helpfulness_bound` - a linear law claimed as an upper bound,
  ``E[H_r] <= p_0 - s_H |r|``: wrong, the loss is quadratic at small r
  (T2b), so ``E[H_r] ~ p_0 - s_H r^2`` exceeds it for ``0 < |r| < 1``.
"""

from __future__ import annotations

import functools

import jax
import sympy as sp

from . import _bridge
from ._derive_alignment import t1
from ._derive_helpfulness import t2a, t2b
from ._helpfulness import gaps_and_covariance, helpfulness_curvature, probabilities
from ._symbols import B0, Delta, Sigma, g, p0, r as r_sym, s_H, sd, u0
from ._validate import elementwise_arrays


@functools.cache
def expressions() -> dict[str, sp.Expr]:
    """The mutated sympy expressions, keyed by name."""
    flip = {r_sym**2: -(r_sym**2)}
    return {
        "t1_double_slope": t1()["bound"].xreplace({Delta: 2 * Delta}),
        "t1_double_slope_half_log_odds": t1()["half_log_odds_bound"].xreplace({Delta: 2 * Delta}),
        "t2a_flipped_exponent": t2a()["log_bound"].xreplace(flip),
        "t2a_flipped_exponent_diagonal": t2a()["log_bound_diagonal"].xreplace(flip),
        "linear_helpfulness_bound": t2b()["second_order_from_curvature"].xreplace({r_sym**2: sp.Abs(r_sym)}),
    }


@functools.cache
def kernel(name: str, args: tuple):
    """The compiled (jit) function of one mutated expression."""
    return jax.jit(_bridge.lambdify(expressions()[name], args))


def t1_double_slope(r, margin, b0):
    """DELIBERATELY WRONG: T1 with twice the slope, claimed as a lower bound on B_r.

    >>> from steerbounds.theory._planted import t1_double_slope
    >>> round(float(t1_double_slope(1.0, 1.0, 0.0)), 6)  # tanh(1), the true bound is tanh(1/2)
    0.761594
    """
    r, margin, b0 = elementwise_arrays(r=r, margin=margin, b0=b0)
    return kernel("t1_double_slope", (r_sym, Delta, B0))(r, margin, b0)


def t1_double_slope_half_log_odds(r, margin, u_0):
    """DELIBERATELY WRONG: the half log-odds form of :func:`t1_double_slope`, ``u_0 + r Delta``.

    >>> from steerbounds.theory._planted import t1_double_slope_half_log_odds
    >>> float(t1_double_slope_half_log_odds(1.0, 1.0, 0.0))
    1.0
    """
    r, margin, u_0 = elementwise_arrays(r=r, margin=margin, u_0=u_0)
    return kernel("t1_double_slope_half_log_odds", (r_sym, Delta, u0))(r, margin, u_0)


def t2a_flipped_exponent(r, gaps, cov):
    """DELIBERATELY WRONG: T2a with ``+r^2 Sigma_ii/2`` flipped to ``-r^2 Sigma_ii/2``.

    >>> import numpy as np
    >>> from steerbounds.theory._planted import t2a_flipped_exponent
    >>> bool(t2a_flipped_exponent(1.0, np.zeros(1), 1.0) > 0.5)  # above p_0 = 1/2
    True
    """
    r, gaps_bk, cov, kind = gaps_and_covariance(r, gaps, cov)
    if kind == "full":
        return jax.numpy.exp(kernel("t2a_flipped_exponent", (r_sym, g, Sigma))(r, gaps_bk, cov))
    return jax.numpy.exp(kernel("t2a_flipped_exponent_diagonal", (r_sym, g, sd))(r, gaps_bk, cov))


def linear_helpfulness_bound(r, gaps, cov):
    """DELIBERATELY WRONG: ``p_0 - s_H |r|``, claimed as an upper bound on ``E[H_r]``.

    >>> import numpy as np
    >>> from steerbounds.theory._planted import linear_helpfulness_bound
    >>> gaps = np.log([0.25, 0.25])  # p_0 = 2/3, s_H = 2/27
    >>> round(float(linear_helpfulness_bound(0.5, gaps, 1.0)), 6)
    0.62963
    """
    r, gaps_bk, cov, _ = gaps_and_covariance(r, gaps, cov)
    p0_b, _ = probabilities(gaps_bk)
    return kernel("linear_helpfulness_bound", (r_sym, p0, s_H))(r, p0_b, helpfulness_curvature(gaps, cov))
