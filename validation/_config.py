"""The analysis configuration: thresholds that turn measured numbers into verdicts."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """Thresholds and choices of the bundle analysis (:func:`analyze_bundle`).

    Every verdict in a report ("A2 holds", "T1: 0 violations") is a comparison of
    a measured number with one of these fields; the report records them.

    >>> ValidationConfig.default().alpha
    0.01
    >>> ValidationConfig.strict().r2_min
    0.99
    """

    t1_atol: float = 1e-4  # T1 slack allowed for float32 rounding of measured log-probabilities
    consistency_atol: float = 1e-2  # max |logit change - <delta, u>| (spread over tokens) before a bundle is rejected
    consistency_rtol: float = 1e-3  # ... plus this fraction of the largest |<delta, u>|
    alpha: float = 0.01  # family-wise level of the A2 tests (normality over coefficients, zero mean)
    r2_min: float = 0.95  # A2: std of X linear in |c|; A3: ||delta|| linear in |c| (R^2 at least this)
    cosine_min: float = 0.9  # A3: smallest cosine between steering directions at different c
    mass_min: float = 0.5  # A4: P+ + P- at least this on every prompt and coefficient
    cov_fit_max_abs_c: float | None = None  # A2 covariance fitted from |c| <= this (None: every c != 0)
    lam: float = 1.0  # weight of the helpfulness loss in the utility G - lam * Lambda (section 4)
    histogram_bins: int = 40  # bins of the gap-change histograms kept in the report
    n_mc: int = 4000  # Monte-Carlo draws per question for E[H_r] under the fitted A2 model
    seed: int = 0  # seed of that Monte-Carlo estimate

    def __post_init__(self) -> None:
        checks = {
            "t1_atol": self.t1_atol >= 0,
            "consistency_atol": self.consistency_atol > 0,
            "consistency_rtol": self.consistency_rtol >= 0,
            "alpha": 0 < self.alpha < 1,
            "r2_min": 0 <= self.r2_min <= 1,
            "cosine_min": -1 <= self.cosine_min <= 1,
            "mass_min": 0 <= self.mass_min <= 1,
            "cov_fit_max_abs_c": self.cov_fit_max_abs_c is None or self.cov_fit_max_abs_c > 0,
            "lam": self.lam > 0,
            "histogram_bins": self.histogram_bins >= 2,
            "n_mc": self.n_mc >= 2,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"ValidationConfig: invalid value for {bad}: "
                             f"{ {n: getattr(self, n) for n in bad} }; see the field comments for valid ranges")

    @classmethod
    def default(cls) -> "ValidationConfig":
        """The thresholds used by ``steerbounds reproduce`` and ``analyze``.

        >>> ValidationConfig.default().mass_min
        0.5
        """
        return cls()

    @classmethod
    def strict(cls) -> "ValidationConfig":
        """Tighter thresholds (R^2 >= 0.99, cosines >= 0.98, mass >= 0.9).

        >>> ValidationConfig.strict().mass_min
        0.9
        """
        return cls(r2_min=0.99, cosine_min=0.98, mass_min=0.9)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        >>> ValidationConfig().to_dict()["lam"]
        1.0
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ValidationConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error.

        >>> ValidationConfig.from_dict({"alpha": 0.05}).alpha
        0.05
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"ValidationConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)
