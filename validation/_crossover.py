"""The measured tradeoff on one joint grid: where the loss catches up with the gain, with a bootstrap interval.

docs/theory.md#tradeoff predicts that the alignment gain ``G(c)`` grows linearly and
the helpfulness loss ``Lambda(c)`` quadratically, so they cross at ``c_eff`` and
``G - lam Lambda`` is largest at ``c*_lam = c_eff / (2 lam)``. This module measures
both on the coefficients where behaviour and helpfulness were both swept:

* ``G(c) = mean_q B_q(c) - mean_q B_q(0)`` over behaviour prompts,
* ``Lambda(c) = mean_k H_k(0) - mean_k H_k(c)`` over questions,
* the measured crossover: the smallest ``c > 0`` where ``Lambda >= G`` (linear
  interpolation between grid points), after an efficient regime ``G > Lambda``;
* the measured best ``c`` for ``G - lam Lambda`` at each ``lam``.

Uncertainty comes from a bootstrap over prompts and questions (resampled
independently, with replacement; percentile intervals). A bootstrap draw
without a crossover inside the grid counts as "beyond the grid": when more than
``alpha / 2`` of the draws are, the interval's upper end is open (``None``)
rather than a number that the grid cannot support.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._results import Interval

DEFAULT_LAMBDAS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class MeasuredTradeoff:
    """The measured tradeoff of :func:`measured_tradeoff`.

    ``crossover`` is where ``Lambda = G`` (``estimate`` 0 when the loss is not
    below the gain even at the first grid point: no efficient regime resolved);
    ``best_c[lam]`` maximises ``G - lam Lambda`` on the grid.
    """

    grid_c: np.ndarray  # the joint grid, c >= 0
    gain_c: np.ndarray  # G(c)
    loss_c: np.ndarray  # Lambda(c)
    gain_se_c: np.ndarray  # bootstrap SE of G(c)
    loss_se_c: np.ndarray  # bootstrap SE of Lambda(c)
    crossover: Interval
    best_c: dict[float, Interval]
    crossover_lambda: dict[float, Interval]  # where lam Lambda = G: the end of the regime where G - lam Lambda > 0
    n_prompts: int
    n_questions: int
    seed: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def crossover_points(grid_c: np.ndarray, gain_bc: np.ndarray, loss_bc: np.ndarray) -> np.ndarray:
    """Per row: the smallest ``c > 0`` with ``Lambda >= G`` (interpolated); NaN when never within the grid.

    ``grid_c`` starts at 0 (where ``G = Lambda = 0``). A row whose loss already
    reaches its gain at the first positive grid point gives 0: no efficient
    regime is resolved.

    >>> c = np.linspace(0, 4, 5)
    >>> crossover_points(c, np.array([0.5 * c]), np.array([0.25 * c**2])).tolist()
    [2.0]
    >>> crossover_points(c, np.array([c]), np.array([0.1 * c])).tolist()
    [nan]
    """
    c = np.asarray(grid_c, dtype=np.float64)
    diff = np.atleast_2d(np.asarray(gain_bc, np.float64) - np.asarray(loss_bc, np.float64))
    if c.ndim != 1 or c.size < 2 or c[0] != 0.0 or np.any(np.diff(c) <= 0):
        raise ValueError("grid_c must be increasing, start at 0 and hold at least one c > 0")
    if diff.shape[-1] != c.size:
        raise ValueError(f"gain and loss have {diff.shape[-1]} coefficients, grid_c has {c.size}")
    out = np.full(diff.shape[0], np.nan)
    below = diff[:, 1:] <= 0  # loss caught up at grid point j + 1
    hit = below.any(axis=1)
    j = np.argmax(below, axis=1) + 1  # first index >= 1 where diff <= 0
    rows = np.flatnonzero(hit)
    first = rows[j[rows] == 1]
    out[first] = 0.0
    rest = rows[j[rows] > 1]
    if rest.size:
        jr = j[rest]
        d0, d1 = diff[rest, jr - 1], diff[rest, jr]
        t = d0 / (d0 - d1)
        out[rest] = c[jr - 1] + t * (c[jr] - c[jr - 1])
    return out


def _resample_means(x_qc: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    n = x_qc.shape[0]
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    return counts @ x_qc / n


def _interval(estimate: float | None, draws: np.ndarray, level: float) -> Interval:
    alpha = 1.0 - level
    beyond = ~np.isfinite(draws)
    n_beyond = int(beyond.sum())
    finite = draws[~beyond]
    low = high = None
    # Beyond-the-grid draws are larger than every finite one: sort them to the top.
    if n_beyond <= alpha / 2 * draws.size and finite.size:
        high = float(np.quantile(np.concatenate([finite, np.full(n_beyond, np.inf)]), 1 - alpha / 2))
        high = None if not np.isfinite(high) else high
    if n_beyond < (1 - alpha / 2) * draws.size and finite.size:
        low = float(np.quantile(np.concatenate([finite, np.full(n_beyond, np.inf)]), alpha / 2))
    return Interval(estimate, low, high, level, n_beyond, int(draws.size))


def measured_tradeoff(coefficients_c: np.ndarray, behaviour_qc: np.ndarray, helpfulness_kc: np.ndarray, *,
                      lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> MeasuredTradeoff:
    """Gain, loss, crossover and best ``c`` on one joint grid, with bootstrap intervals over prompts and questions.

    ``behaviour_qc`` (prompts x coefficients) and ``helpfulness_kc`` (questions x
    coefficients) are measured on the same ``coefficients_c``, which must hold 0;
    only ``c >= 0`` enters (``c > 0`` is the aligning direction). Deterministic for
    a given ``seed``.

    .. math:: G(c) = \\bar B(c) - \\bar B(0), \\quad \\Lambda(c) = \\bar H(0) - \\bar H(c)

    >>> c = np.linspace(-4, 4, 41)
    >>> rng = np.random.default_rng(0)
    >>> b = 0.5 * c + rng.normal(0, 0.1, (30, 1)); h = 0.9 - 0.25 * c**2 + rng.normal(0, 0.1, (40, 1))
    >>> out = measured_tradeoff(c, b, h, n_boot=200)   # per-row offsets cancel: G = c/2, Lambda = c^2/4 exactly
    >>> round(out.crossover.estimate, 6), round(out.crossover.low, 6), round(out.best_c[1.0].estimate, 6)
    (2.0, 2.0, 1.0)
    """
    c = np.asarray(coefficients_c, dtype=np.float64)
    b_qc = np.asarray(behaviour_qc, dtype=np.float64)
    h_kc = np.asarray(helpfulness_kc, dtype=np.float64)
    if c.ndim != 1 or not np.any(c == 0.0):
        raise ValueError("coefficients_c must be a 1-D grid that holds c = 0 (the unsteered reference)")
    for name, x in (("behaviour_qc", b_qc), ("helpfulness_kc", h_kc)):
        if x.ndim != 2 or x.shape[1] != c.size or x.shape[0] < 1:
            raise ValueError(f"{name} has shape {x.shape}; expected (rows >= 1, {c.size}) on coefficients_c")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} holds non-finite values; every measured value must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}")
    if any(not lam > 0 for lam in lambdas):
        raise ValueError(f"lambdas must be positive, got {lambdas}")
    keep = np.flatnonzero(c >= 0)
    order = keep[np.argsort(c[keep])]
    grid = c[order]
    if grid.size < 2:
        raise ValueError("coefficients_c holds no c > 0; the tradeoff is measured for c >= 0")
    b_qc, h_kc = b_qc[:, order], h_kc[:, order]

    def curves(b_mean_c: np.ndarray, h_mean_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return b_mean_c - b_mean_c[..., :1], h_mean_c[..., :1] - h_mean_c

    gain, loss = curves(b_qc.mean(0), h_kc.mean(0))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xC055]))
    gain_b, loss_b = curves(_resample_means(b_qc, n_boot, rng), _resample_means(h_kc, n_boot, rng))
    cross = float(crossover_points(grid, gain[None], loss[None])[0])
    cross_b = crossover_points(grid, gain_b, loss_b)
    crossover = _interval(None if np.isnan(cross) else cross, cross_b, level)
    best, cross_lam = {}, {}
    for lam in lambdas:
        x = float(crossover_points(grid, gain[None], lam * loss[None])[0])
        cross_lam[float(lam)] = _interval(None if np.isnan(x) else x,
                                          crossover_points(grid, gain_b, lam * loss_b), level)
        u, u_b = gain - lam * loss, gain_b - lam * loss_b
        best_b = grid[np.argmax(u_b, axis=1)].astype(np.float64)
        est = float(grid[int(np.argmax(u))])
        iv = _interval(est, best_b, level)
        best[float(lam)] = iv
    notes = []
    h0 = float(h_kc[:, 0].mean())
    if np.isnan(cross) and gain[-1] > h0 and np.all(h_kc >= 0):
        notes.append(f"the loss stays below the gain for every 0 < c <= {grid[-1]:.4g}, and no crossover exists at "
                     f"any c: the gain at the largest c ({gain[-1]:.3g}) already exceeds the largest loss possible, "
                     f"H(0) = {h0:.3g} (helpfulness cannot fall below 0); the behaviour saturates before the "
                     "helpfulness is lost, so the linear-against-quadratic crossover of section 4 is not reached")
    elif np.isnan(cross):
        notes.append(f"the loss stays below the gain for every 0 < c <= {grid[-1]:.4g}: the crossover lies beyond "
                     "the grid")
    elif cross == 0.0:
        notes.append("the loss reaches the gain at the first positive grid point: no efficient regime is resolved "
                     "(refine the grid near 0)")
    if gain[-1] <= 0:
        notes.append("the gain is not positive at the largest c: steering with c > 0 does not align here")
    return MeasuredTradeoff(grid, gain, loss, gain_b.std(0, ddof=1), loss_b.std(0, ddof=1), crossover, best, cross_lam,
                            int(b_qc.shape[0]), int(h_kc.shape[0]), int(seed), tuple(notes))
