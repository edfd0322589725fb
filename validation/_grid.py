"""Coefficient grids chosen from measured scales, so that a sweep reaches the interesting range on any model.

A fixed ``c in [-10, 10]`` means nothing across models: what matters is how far
the representation moves per unit ``c`` (``kappa = ||delta_c|| / |c|``, A3), how
fast the behaviour log-odds move, and how widely the option gaps spread per unit
norm (``sigma``, A2). :func:`measure_scales` reads these from a short pilot
sweep (any bundle with a few coefficients around 0), and :func:`choose_grid`
turns them into one joint grid ``-c_max..c_max`` (behaviour and helpfulness on
the same coefficients) that covers

* the behaviour's saturation: ``|B| >= 0.95`` on most prompts (the log-odds
  ``l_q(c) = log P+/P-`` extrapolated linearly from the pilot reach
  ``2 artanh 0.95``), and
* a helpfulness drop of at least half of ``p0 - chance``: every question's
  option gaps, moved linearly by their measured changes per unit ``c`` (A3's
  linear response: ``X_ki(c) = c s_ki``, whose spread per unit norm is A2's
  ``sigma``), predict mean restricted ``P(correct) <= p0 - (p0 - chance) / 2``,

on both sides of 0, with a safety factor for the extrapolation. The linear
extrapolation is exact when the final representation is steered and first-order
otherwise, so a driver checks the chosen ``c_max`` with a short sweep and widens
it until :func:`grid_coverage` finds both targets reached.
:func:`grid_coverage` then says whether the measured curves did reach both
targets, for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._bundle import ActivationBundle

SATURATION = 0.95  # |B| the grid must reach
DROP_FRACTION = 0.5  # fraction of p0 - chance the helpfulness must lose


@dataclass(frozen=True)
class MeasuredScales:
    """Scales of a model's response to steering, from a pilot sweep (:func:`measure_scales`).

    >>> s = MeasuredScales(1.0, 1.0, np.zeros(3), np.ones(3), np.full((2, 3), 2.0), np.ones((2, 3)), 0.5, 0.0, 4)
    >>> s.n_prompts, s.n_questions
    (3, 2)
    """

    kappa_behaviour: float  # median ||delta_c|| / |c| over behaviour prompts (A3)
    kappa_helpfulness: float  # median ||delta_c|| / |c| over questions
    logodds0_q: np.ndarray  # behaviour log-odds log(P+/P-) at c = 0, per prompt
    logodds_slope_q: np.ndarray  # d log-odds / dc per prompt (least squares over the pilot coefficients)
    gaps0_ki: np.ndarray  # option log-probability gaps, correct minus each competitor, at c = 0
    gap_slopes_ki: np.ndarray  # their change per unit c (least squares over the pilot coefficients)
    sigma: float  # std of the gap changes per unit norm, pooled over questions, competitors and c != 0
    mu: float  # mean of the gap changes per unit norm (A2's bias)
    n_options: int  # options per question (chance = 1 / n_options)

    @property
    def n_prompts(self) -> int:
        return int(self.logodds0_q.shape[0])

    @property
    def n_questions(self) -> int:
        return int(self.gaps0_ki.shape[0])

    def as_dict(self) -> dict[str, Any]:
        """Summary numbers (JSON-ready)."""
        return {"kappa_behaviour": self.kappa_behaviour, "kappa_helpfulness": self.kappa_helpfulness,
                "logodds_slope_median": float(np.median(self.logodds_slope_q)),
                "logodds0_median": float(np.median(self.logodds0_q)), "sigma": self.sigma, "mu": self.mu,
                "n_options": self.n_options, "n_prompts": self.n_prompts, "n_questions": self.n_questions}


@dataclass(frozen=True)
class GridChoice:
    """A joint coefficient grid and why it is this wide (:func:`choose_grid`).

    ``c_saturation`` and ``c_drop`` are ``(c > 0 side, c < 0 side)``; ``inf`` means
    the target is not reached at any ``c`` under the measured scales.
    """

    c_max: float  # the grid runs from -c_max to c_max
    steps: tuple[float, ...]  # the step of each layer, finest first (fine near 0, coarser further out)
    coefficients_tuple: tuple[float, ...]  # the grid: symmetric, sorted, 0 exactly on it
    c_saturation: tuple[float, float]  # |c| where |B| reaches the saturation level (quantile over prompts)
    c_drop: tuple[float, float]  # |c| where the predicted mean P(correct) has lost drop_fraction of p0 - chance
    p0: float  # mean restricted P(correct) at c = 0
    chance: float  # 1 / n_options
    saturation: float
    drop_fraction: float
    safety: float
    scales: MeasuredScales
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def coefficients(self) -> np.ndarray:
        """The grid as an array (0 exactly on it)."""
        return np.asarray(self.coefficients_tuple, dtype=np.float64)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the grid, the targets, the scales, the reasons)."""
        def f(x: float) -> float | str:
            return x if math.isfinite(x) else "inf"

        return {"c_max": self.c_max, "steps": list(self.steps), "n_coefficients": int(self.coefficients.size),
                "c_saturation": [f(x) for x in self.c_saturation], "c_drop": [f(x) for x in self.c_drop],
                "p0": self.p0, "chance": self.chance, "saturation": self.saturation,
                "drop_fraction": self.drop_fraction, "safety": self.safety, "scales": self.scales.as_dict(),
                "notes": list(self.notes),
                "how": "c_max = safety x the largest |c| at which |B| reaches the saturation level (log-odds "
                       "extrapolated linearly from the pilot, quantile over prompts) or the mean restricted "
                       "P(correct) has lost drop_fraction of p0 - chance (each option gap extrapolated linearly), "
                       "on both sides of 0"}


def _logodds(logprobs_qcr: np.ndarray, n_aligned: int) -> np.ndarray:
    return logsumexp(logprobs_qcr[..., :n_aligned], axis=-1) - logsumexp(logprobs_qcr[..., n_aligned:], axis=-1)


def _kappa(delta_qcd: np.ndarray, c: np.ndarray) -> float:
    nz = c != 0
    norms = np.linalg.norm(np.asarray(delta_qcd, np.float64)[:, nz], axis=-1)
    return float(np.median(norms / np.abs(c[nz])[None, :]))


def measure_scales(bundle: ActivationBundle) -> MeasuredScales:
    """The scales :func:`choose_grid` needs, from a (pilot) bundle with at least one ``c != 0``.

    ``kappa`` from ``||delta_c||``, the behaviour log-odds slope by least squares
    through the pilot coefficients, the option gaps at ``c = 0``, and the gap
    changes per unit norm ``X / ||delta||`` pooled over questions, competitors and
    coefficients (``sigma``: their standard deviation, ``mu``: their mean).

    >>> from steerbounds.validation import synthetic_bundle
    >>> s = measure_scales(synthetic_bundle(seed=0, n_prompts=4, n_questions=30))
    >>> s.kappa_behaviour > 0, s.sigma > 0, s.n_options
    (True, True, 4)
    """
    bh, hp = bundle.behaviour, bundle.helpfulness
    cb, ch = np.asarray(bh.coefficients_c, np.float64), np.asarray(hp.coefficients_c, np.float64)
    for name, c in (("behaviour", cb), ("helpfulness", ch)):
        if not np.any(c == 0) or not np.any(c != 0):
            raise ValueError(f"measure_scales: the {name} sweep needs c = 0 and at least one c != 0; "
                             "sweep a pilot such as c in (-1, 0, 1)")
    lo = _logodds(np.asarray(bh.logprobs_qcr, np.float64), bh.n_aligned)
    i0b = int(np.flatnonzero(cb == 0)[0])
    lo0 = lo[:, i0b]
    slope = ((lo - lo0[:, None]) @ cb) / float(cb @ cb)
    lp = np.asarray(hp.logprobs_qco, np.float64)
    correct = np.asarray(hp.correct_q)
    i0h = int(np.flatnonzero(ch == 0)[0])
    star = np.take_along_axis(lp, correct[:, None, None], axis=2)  # (k, c, 1)
    gaps = star - lp  # (k, c, o): 0 at the correct option
    others = np.arange(lp.shape[-1])[None, :] != correct[:, None]  # (k, o)
    gaps_ki = gaps[:, i0h][others].reshape(lp.shape[0], -1)
    changes = gaps - gaps[:, i0h : i0h + 1]
    slopes = np.einsum("kco,c->ko", changes, ch) / float(ch @ ch)
    slopes_ki = slopes[others].reshape(lp.shape[0], -1)
    norms = np.linalg.norm(np.asarray(hp.delta_qcd, np.float64), axis=-1)  # (k, c)
    nz = ch != 0
    per_norm = changes[:, nz] / np.where(norms[:, nz] > 0, norms[:, nz], np.nan)[..., None]
    x = per_norm[np.broadcast_to(others[:, None, :], per_norm.shape)]
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError("measure_scales: the pilot's delta is zero for every question; steering does not move "
                         "the representation, so no scale can be measured")
    return MeasuredScales(_kappa(bh.delta_qcd, cb), _kappa(hp.delta_qcd, ch), lo0, slope, gaps_ki, slopes_ki,
                          float(x.std(ddof=1)), float(x.mean()), int(lp.shape[-1]))


def _saturation_c(lo0: np.ndarray, slope: np.ndarray, level: float, quantile: float) -> float:
    """Quantile over prompts of the smallest c >= 0 where |lo0 + slope c| reaches 2 artanh(level)."""
    target = 2.0 * math.atanh(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(slope != 0, (target - lo0) / slope, np.inf)
        down = np.where(slope != 0, (-target - lo0) / slope, np.inf)
    cand = np.stack([up, down])
    cand = np.where(cand >= 0, cand, np.inf).min(axis=0)
    cand = np.where(np.abs(lo0) >= target, 0.0, cand)
    return float(np.quantile(cand, quantile, method="higher"))


def predicted_restricted_p(gaps0_ki: np.ndarray, gap_slopes_ki: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mean over questions of the restricted P(correct) with linearly moved gaps, ``1/(1 + sum_i exp(-(g_ki + c s_ki)))``.

    >>> p = predicted_restricted_p(np.zeros((2, 3)), np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]), np.array([0.0]))
    >>> round(float(p[0]), 6)
    0.25
    """
    g = np.asarray(gaps0_ki, np.float64)
    s = np.asarray(gap_slopes_ki, np.float64)
    c = np.atleast_1d(np.asarray(c, np.float64))
    gaps = g[None] + c[:, None, None] * s[None]  # (c, k, i)
    denom = logsumexp(np.concatenate([np.zeros((*gaps.shape[:2], 1)), -gaps], axis=-1), axis=-1)
    return np.exp(-denom).mean(axis=1)


def _drop_c(gaps0_ki: np.ndarray, slopes_ki: np.ndarray, target: float, sign: float) -> float:
    """Smallest c >= 0 at which the predicted mean P(correct) at ``sign * c`` falls to ``target`` (inf: never)."""
    scale = float(np.abs(slopes_ki).max())
    if scale == 0:
        return math.inf
    p = lambda x: float(predicted_restricted_p(gaps0_ki, slopes_ki, np.array([sign * x]))[0])  # noqa: E731
    hi = 1.0 / scale
    for _ in range(30):  # up to 2^30 / scale: beyond that the response is not linear anyway
        if p(hi) <= target:
            break
        hi *= 2.0
    else:
        return math.inf
    lo = 0.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if p(mid) <= target else (mid, hi)
    return hi


def nice_step(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``x``.

    >>> nice_step(0.3), nice_step(0.7), nice_step(2.2), nice_step(12)
    (0.5, 1.0, 2.5, 20.0)
    """
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"nice_step: x must be positive and finite, got {x}")
    e = math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        v = round(m * 10.0**e, 12)
        if v >= x * (1 - 1e-12):
            return v
    return round(10.0 ** (e + 1), 12)


def layered_grid(reaches: list[float], points_per_scale: int) -> tuple[np.ndarray, tuple[float, ...]]:
    """A symmetric grid with one layer per scale: about ``points_per_scale`` round-numbered points out to each reach.

    Fine near 0 (where the behaviour turns) and coarser further out (where the
    helpfulness falls), so one joint grid resolves both. Returns the grid and
    the step of each layer.

    >>> c, steps = layered_grid([2.0, 20.0], 4)
    >>> steps, c.tolist()[:4], c.size
    ((0.5, 5.0), [-20.0, -15.0, -10.0, -5.0], 17)
    """
    points: set[float] = {0.0}
    steps = []
    for reach in sorted({float(r) for r in reaches if math.isfinite(r) and r > 0}):
        step = nice_step(reach / points_per_scale)
        n = math.ceil(reach / step - 1e-9)
        points |= {round(k * step, 12) + 0.0 for k in range(-n, n + 1)}
        steps.append(step)
    return np.array(sorted(points), dtype=np.float64), tuple(steps)


def choose_grid(scales: MeasuredScales, *, saturation: float = SATURATION, drop_fraction: float = DROP_FRACTION,
                quantile: float = 0.9, safety: float = 1.25, points_per_scale: int = 10,
                max_points: int = 121) -> GridChoice:
    """One symmetric joint grid that reaches behaviour saturation and the helpfulness drop on both sides of 0.

    Each of the four scales (saturation and drop, each sign of ``c``) times
    ``safety`` gets a layer of about ``points_per_scale`` round-numbered points
    (:func:`layered_grid`), so the grid reaches ``c_max = safety * max(...)`` and
    is fine where the behaviour turns; fewer points per layer are used when the
    union would exceed ``max_points``.

    >>> slopes = np.tile([-1.0, 0.0, 1.0], (40, 1))  # gap changes per unit c, spread over competitors
    >>> s = MeasuredScales(1.0, 1.0, np.zeros(50), np.ones(50), np.full((40, 3), 3.0), slopes, 0.8, 0.0, 4)
    >>> g = choose_grid(s)
    >>> round(g.c_saturation[0], 3), g.c_max >= 1.25 * max(g.c_drop), float(g.coefficients[0]) == -g.c_max
    (3.664, True, True)
    """
    if not 0 < saturation < 1:
        raise ValueError(f"saturation must lie in (0, 1), got {saturation}")
    if not 0 < drop_fraction < 1:
        raise ValueError(f"drop_fraction must lie in (0, 1), got {drop_fraction}")
    if not safety >= 1:
        raise ValueError(f"safety must be at least 1, got {safety}")
    if not (isinstance(max_points, int) and max_points >= 5 and isinstance(points_per_scale, int)
            and points_per_scale >= 2):
        raise ValueError(f"max_points must be an int >= 5 and points_per_scale an int >= 2, got {max_points}, "
                         f"{points_per_scale}")
    notes = []
    sat = (_saturation_c(scales.logodds0_q, scales.logodds_slope_q, saturation, quantile),
           _saturation_c(scales.logodds0_q, -scales.logodds_slope_q, saturation, quantile))
    chance = 1.0 / scales.n_options
    p0 = float(predicted_restricted_p(scales.gaps0_ki, scales.gap_slopes_ki, np.array([0.0]))[0])
    target = p0 - drop_fraction * (p0 - chance)
    if p0 <= chance:
        drop = (0.0, 0.0)
        notes.append(f"p0 = {p0:.3g} is not above chance {chance:.3g}: there is no helpfulness to lose")
    else:
        drop = tuple(_drop_c(scales.gaps0_ki, scales.gap_slopes_ki, target, sign) for sign in (1.0, -1.0))
    for name, pair in (("behaviour saturation", sat), ("helpfulness drop", drop)):
        if not all(math.isfinite(x) for x in pair):
            notes.append(f"{name} is not reached at any c under the measured scales on "
                         f"{'both sides' if not any(math.isfinite(x) for x in pair) else 'one side'}")
    finite = [x for x in (*sat, *drop) if math.isfinite(x) and x > 0]
    if not finite:
        raise ValueError("choose_grid: neither the behaviour nor the helpfulness responds to steering at the "
                         "pilot's scale (zero log-odds slope, zero gap spread); check the steering vector and layers")
    c_far = safety * max(finite)
    if c_far == 0:
        raise ValueError("choose_grid: every target is already met at c = 0; nothing to sweep")
    per_layer = points_per_scale
    grid, steps = layered_grid([safety * x for x in finite], per_layer)
    while grid.size > max_points and per_layer > 2:
        per_layer -= 1
        grid, steps = layered_grid([safety * x for x in finite], per_layer)
    return GridChoice(float(grid[-1]), steps, tuple(float(x) for x in grid), sat, drop, p0, chance, saturation,
                      drop_fraction, safety, scales,
                      tuple(notes))


def grid_coverage(coefficients_c: np.ndarray, behaviour_mean_c: np.ndarray, helpfulness_mean_c: np.ndarray, *,
                  n_options: int, saturation: float = SATURATION,
                  drop_fraction: float = DROP_FRACTION) -> dict[str, Any]:
    """Whether a measured sweep reached both targets, per side of 0, and at which ``|c|`` first.

    >>> c = np.linspace(-4, 4, 9)
    >>> cov = grid_coverage(c, np.tanh(c), 0.9 - 0.05 * c**2, n_options=4)
    >>> cov["saturation"]["positive"], cov["drop"]["positive"], cov["covered"]
    (2.0, 3.0, True)
    """
    c = np.asarray(coefficients_c, np.float64)
    b = np.asarray(behaviour_mean_c, np.float64)
    h = np.asarray(helpfulness_mean_c, np.float64)
    if not (c.shape == b.shape == h.shape and c.ndim == 1 and np.any(c == 0)):
        raise ValueError("grid_coverage: coefficients, behaviour and helpfulness must be 1-D of one length, with c = 0")
    i0 = int(np.flatnonzero(c == 0)[0])
    chance = 1.0 / n_options
    target = h[i0] - drop_fraction * (h[i0] - chance)

    def first(mask: np.ndarray, side: np.ndarray) -> float | None:
        idx = side[mask[side]]
        return float(abs(c[idx[np.argmin(np.abs(c[idx]))]])) if idx.size else None

    pos, neg = np.flatnonzero(c > 0), np.flatnonzero(c < 0)
    sat = np.abs(b) >= saturation
    drop = h <= target if h[i0] > chance else np.ones_like(h, dtype=bool)  # at or below chance: nothing to lose
    out = {"saturation": {"positive": first(sat, pos), "negative": first(sat, neg), "level": saturation},
           "drop": {"positive": first(drop, pos), "negative": first(drop, neg), "target": float(target),
                    "p0": float(h[i0]), "chance": chance, "fraction": drop_fraction}}
    out["covered"] = all(v is not None for part in ("saturation", "drop")
                         for k, v in out[part].items() if k in ("positive", "negative"))
    return out
