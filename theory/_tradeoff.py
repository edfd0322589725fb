"""Numeric section-4 radii, compiled from the tradeoff derivation through the bridge."""

from __future__ import annotations

import functools

import jax

from . import _bridge, _derive_tradeoff as derive
from ._alignment import alignment_slope
from ._helpfulness import gaps_and_covariance, helpfulness_curvature
from ._symbols import lam as lam_sym, s_A, s_H
from ._validate import broadcast_batch, check_positive, elementwise_arrays


@functools.cache
def _fn(result: str, args: tuple):
    return jax.jit(_bridge.lambdify(derive.tradeoff()[result], args))


def _slopes(margin, b0, gaps, cov):
    margin, b0 = elementwise_arrays(margin=margin, b0=b0)
    check_positive("margin", margin, "the radii need assumption A1 (a positive margin)")
    _, gaps_bk, cov_, kind = gaps_and_covariance(None, gaps, cov)
    broadcast_batch([("margin", margin, 0), ("b0", b0, 0), ("gaps", gaps_bk, 1)])
    return alignment_slope(margin, b0), helpfulness_curvature(gaps, cov)


def efficient_radius(margin, b0, gaps, cov):
    """Section 4: ``r_eff = s_A / s_H``, below which the alignment gain exceeds the helpfulness loss.

    ``s_A = (Delta/2)(1 - B_0^2)`` (C1.1, under A1) and
    ``s_H = (p_0/2)(sum_i p_i Sigma_ii - 2 p^T Sigma p)`` (T2b, under A2); the
    gain ``s_A r`` exceeds the loss ``s_H r^2`` for ``0 < r < r_eff``. When
    ``s_H <= 0`` (possible if ``p_0 < 1/2``, C2.1) the loss does not grow to
    second order and the result is ``inf``.

    Args:
      margin: the A1 margin Delta (> 0); b0: B_0 in (-1, 1).
      gaps: ``(..., k)`` helpfulness gaps; cov: Sigma as in :func:`helpfulness_lower_bound`.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> import numpy as np
    >>> from steerbounds import efficient_radius
    >>> gaps = np.log([0.25, 0.25])  # p_0 = 2/3: s_H = 2/27
    >>> round(float(efficient_radius(2.0, 0.0, gaps, 1.0)), 6)  # s_A = 1
    13.5
    """
    s_a, s_h = _slopes(margin, b0, gaps, cov)
    return _fn("efficient_radius", (s_A, s_H))(s_a, s_h)


def best_radius(margin, b0, gaps, cov, *, lam):
    """Section 4: ``r*_lambda = s_A / (2 lambda s_H)``, the norm maximising ``s_A r - lambda s_H r^2``.

    Same slopes and assumptions as :func:`efficient_radius`; ``lam`` (> 0)
    weighs the helpfulness loss. ``inf`` when ``s_H <= 0``.

    Under ``jax.jit``/``jax.vmap`` the shapes are checked as usual and the values
    (NaN/inf, ranges, PSD) only inside :func:`steerbounds.checked`; a plain jitted call skips them.

    >>> import numpy as np
    >>> from steerbounds import best_radius
    >>> gaps = np.log([0.25, 0.25])
    >>> round(float(best_radius(2.0, 0.0, gaps, 1.0, lam=1.0)), 6)  # r_eff / 2
    6.75
    """
    s_a, s_h = _slopes(margin, b0, gaps, cov)
    (lam_,) = elementwise_arrays(lam=lam)
    check_positive("lam", lam_, "lam weighs the helpfulness loss; use a positive weight")
    return _fn("best_radius", (s_A, s_H, lam_sym))(s_a, s_h, lam_)
