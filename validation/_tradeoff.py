"""The tradeoff of docs/theory.md#tradeoff, measured against predicted, and the 2-D projection."""

from __future__ import annotations

from steerbounds.theory import check_array

from typing import Any

import numpy as np

from ._results import MeasuredOptimum, PredictedTradeoff, TradeoffCheck


def _crossover(c: np.ndarray, gain: np.ndarray, loss: np.ndarray) -> float | None:
    """Smallest ``c > 0`` where the loss catches up with the gain (linear interpolation).

    0 when the loss already exceeds the gain at the first positive grid point (no
    efficient regime resolved); ``None`` when it never does within the grid.
    """
    diff = gain - loss
    if diff[1] <= 0:
        return 0.0
    for j in range(2, len(c)):
        if diff[j] <= 0:
            t = diff[j - 1] / (diff[j - 1] - diff[j])
            return float(c[j - 1] + t * (c[j] - c[j - 1]))
    return None


def tradeoff(
    behaviour_c: np.ndarray,
    behaviour_mean_c: np.ndarray,
    helpfulness_c: np.ndarray,
    helpfulness_mean_c: np.ndarray,
    *,
    s_a_q: np.ndarray,
    kappa_b_q: np.ndarray,
    s_h_q: np.ndarray,
    kappa_h_q: np.ndarray,
    lam: float,
) -> TradeoffCheck:
    """Alignment gain against helpfulness loss over ``c >= 0``: measured and predicted.

    Measured: ``G(c) = mean B(c) - mean B(0)`` (behaviour interpolated onto the
    helpfulness grid) and ``Lambda(c) = mean H(0) - mean H(c)``; the measured
    crossover is the smallest ``c > 0`` with ``Lambda >= G``, and the measured best
    coefficient maximises ``G - lam Lambda`` on the grid.

    Predicted (C1.1, T2b): per prompt ``G ~ s_A r`` and per question
    ``Lambda ~ s_H r^2`` with ``r = kappa |c|`` (A3), so over the population
    ``G(c) ~ gA c`` with ``gA = mean(s_A kappa)`` and ``Lambda(c) ~ lH c^2`` with
    ``lH = mean(s_H kappa^2)``. In norm units ``r_eff = mean s_A / mean s_H`` and
    ``r*_lam = r_eff / (2 lam)`` (section 4); in coefficient units
    ``c_eff = gA / lH`` and ``c*_lam = c_eff / (2 lam)``. With final-layer
    steering ``kappa = 1`` and the two coincide. Where the gain slope or the loss
    curvature is not positive there is no efficient regime to bound, and these
    are ``None`` (with a note).

    >>> import numpy as np
    >>> c = np.linspace(0, 4, 41)
    >>> out = tradeoff(c, 0.5 * c, c, 1 - 0.25 * c**2, s_a_q=np.array([0.5]), kappa_b_q=np.ones(1),
    ...                s_h_q=np.array([0.25]), kappa_h_q=np.ones(1), lam=1.0)
    >>> round(out.predicted.c_eff, 6), round(out.measured.crossover_c, 6)
    (2.0, 2.0)
    """
    curves = {"behaviour_c": behaviour_c, "behaviour_mean_c": behaviour_mean_c, "helpfulness_c": helpfulness_c,
              "helpfulness_mean_c": helpfulness_mean_c}
    for name, value in curves.items():
        check_array("tradeoff", name, value, ndim=1)
    if len({np.shape(behaviour_c), np.shape(behaviour_mean_c)}) > 1 or len({np.shape(helpfulness_c),
                                                                              np.shape(helpfulness_mean_c)}) > 1:
        raise ValueError("tradeoff: each curve's coefficients (behaviour_c, helpfulness_c) and means "
                         "(behaviour_mean_c, helpfulness_mean_c) must have equal length")
    per_question = {"s_a_q": s_a_q, "kappa_b_q": kappa_b_q, "s_h_q": s_h_q, "kappa_h_q": kappa_h_q}
    for name, value in per_question.items():
        check_array("tradeoff", name, value, ndim=1, finite=False)
    if len({np.shape(s_a_q), np.shape(kappa_b_q)}) > 1 or len({np.shape(s_h_q), np.shape(kappa_h_q)}) > 1:
        raise ValueError("tradeoff: s_a_q and kappa_b_q (and s_h_q and kappa_h_q) must have one entry per prompt (question)")
    if not (isinstance(lam, (int, float)) and np.isfinite(lam) and lam > 0):
        raise ValueError(f"tradeoff: lam must be a finite number > 0, got {lam!r}")
    cb = np.asarray(behaviour_c, dtype=np.float64)
    ch = np.asarray(helpfulness_c, dtype=np.float64)
    top = min(cb.max(), ch.max())
    grid = ch[(ch >= 0) & (ch <= top)]
    if grid.size < 2:
        grid = np.linspace(0.0, top, 21) if top > 0 else np.array([0.0])
    b0 = float(np.interp(0.0, cb, behaviour_mean_c))
    h0 = float(np.interp(0.0, ch, helpfulness_mean_c))
    gain = np.interp(grid, cb, behaviour_mean_c) - b0
    loss = h0 - np.interp(grid, ch, helpfulness_mean_c)
    utility = gain - lam * loss
    measured_cross = _crossover(grid, gain, loss) if grid.size > 1 else None
    s_a = float(np.mean(s_a_q))
    s_h = float(np.mean(s_h_q))
    g_a = float(np.mean(np.asarray(s_a_q) * np.asarray(kappa_b_q)))
    l_h = float(np.mean(np.asarray(s_h_q) * np.asarray(kappa_h_q) ** 2))
    # The efficient regime 0 < r < s_A / s_H is empty unless both are positive: no (negative) radius then.
    r_eff = s_a / s_h if s_h > 0 and s_a > 0 else None
    c_eff = g_a / l_h if l_h > 0 and g_a > 0 else None
    notes = []
    if s_h <= 0:
        notes.append("mean T2b curvature s_H <= 0: second order predicts no helpfulness loss (C2.1), so no crossover")
    if s_a <= 0:
        notes.append("mean alignment slope s_A <= 0: steering is not predicted to align, so there is no predicted "
                     "efficient regime or best norm")
    return TradeoffCheck(
        grid_c=grid,
        gain_c=gain,
        loss_c=loss,
        utility_c=utility,
        lam=lam,
        measured=MeasuredOptimum(
            crossover_c=measured_cross,
            best_c=float(grid[int(np.argmax(utility))]),
            best_utility=float(utility.max()),
        ),
        predicted=PredictedTradeoff(
            s_a=s_a, s_h=s_h, gain_slope_c=g_a, loss_curvature_c=l_h,
            r_eff=r_eff, r_star=None if r_eff is None else r_eff / (2 * lam),
            c_eff=c_eff, c_star=None if c_eff is None else c_eff / (2 * lam),
            gain_c=g_a * grid, loss_c=l_h * grid**2,
        ),
        notes=notes,
    )


def projection_2d(representations_nd: np.ndarray, labels_n: np.ndarray) -> dict[str, Any]:
    """PCA to two dimensions, and how well a linear rule separates the two classes.

    ``accuracy_full``: best-threshold accuracy along the Fisher direction
    (class-mean difference whitened by the shrunk within-class covariance) in the
    full space; ``accuracy_2d``: the same in the 2-D projection;
    ``accuracy_mean_difference``: along the plain class-mean difference.

    >>> import numpy as np
    >>> x = np.concatenate([np.ones((5, 3)), -np.ones((5, 3))]); y = np.repeat([0, 1], 5)
    >>> projection_2d(x, y)["accuracy_full"]
    1.0
    """
    representations_nd = check_array("projection_2d", "representations_nd", representations_nd, ndim=2, host=True)
    labels_n = check_array("projection_2d", "labels_n", labels_n, ndim=1, integer=True, host=True)
    if labels_n.shape[0] != representations_nd.shape[0]:
        raise ValueError(f"projection_2d: labels_n has {labels_n.shape[0]} entries for {representations_nd.shape[0]} "
                         "representations")
    if set(np.unique(labels_n).tolist()) != {0, 1}:
        raise ValueError(f"projection_2d: labels_n must hold both classes 0 and 1, got {sorted(set(labels_n.tolist()))}")
    x = np.asarray(representations_nd, dtype=np.float64)
    y = np.asarray(labels_n)
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    coords = xc @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    var = s**2
    explained = (var[:2] / var.sum()).tolist() if var.sum() > 0 else [0.0, 0.0]

    def best_threshold(scores: np.ndarray) -> float:
        order = np.sort(np.unique(scores))
        cuts = np.concatenate([[order[0] - 1], (order[1:] + order[:-1]) / 2, [order[-1] + 1]])
        acc = [max(np.mean((scores > t) == (y == 1)), np.mean((scores > t) == (y == 0))) for t in cuts]
        return float(max(acc))

    def fisher(z: np.ndarray) -> np.ndarray:
        mu0, mu1 = z[y == 0].mean(0), z[y == 1].mean(0)
        within = np.cov(np.concatenate([z[y == 0] - mu0, z[y == 1] - mu1]).T).reshape(z.shape[1], z.shape[1])
        shrink = 1e-3 * np.trace(within) / z.shape[1] + 1e-12
        return z @ np.linalg.solve(within + shrink * np.eye(z.shape[1]), mu1 - mu0)

    mean_diff = x[y == 1].mean(0) - x[y == 0].mean(0)
    return {
        "coords_n2": coords,
        "labels_n": y,
        "explained_variance": explained,
        "accuracy_full": best_threshold(fisher(x)),
        "accuracy_2d": best_threshold(fisher(coords)),
        "accuracy_mean_difference": best_threshold(x @ mean_diff),
    }
