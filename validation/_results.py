"""Typed results of the bundle analysis: frozen dataclasses, serialised as report.json.

Every result kind of :func:`~steerbounds.validation.analyze_bundle` is a frozen
dataclass read by attribute: the assumption checks A1-A4 with their statistics,
the T1 and T2a/T2b bound checks, the tanh and bell fits next to their predicted
parameters, the tradeoff and its measured crossover, and
:class:`BundleAnalysis`, which holds them with the bundle's identity.
``to_dict()`` gives the JSON form written to report.json (large per-pair arrays
left out, NaN as ``null``) and ``from_dict`` reads it back, so that
``from_dict(x).to_dict() == x`` for every part of a report.

Fields hold numpy arrays after an analysis and the lists of report.json after
``from_dict``; readers convert with ``np.asarray`` where they compute.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

def to_jsonable(obj: Any) -> Any:
    """Numpy arrays and scalars to lists and floats; NaN (undefined, e.g. a margin at ``c = 0``) to ``None``.

    Typed results become their ``to_dict()``.

    >>> import numpy as np
    >>> to_jsonable({"a": np.array([1.0, np.nan]), "b": np.int64(3), "c": (True,)})
    {'a': [1.0, None], 'b': 3, 'c': [True]}
    """
    if isinstance(obj, ReportRecord):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype == bool:
            return obj.tolist()
        if np.issubdtype(obj.dtype, np.integer):
            return obj.tolist()
        return to_jsonable(obj.astype(np.float64).tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if np.isnan(v):
            return None
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    return obj


def _internal() -> Any:
    """A field left out of report.json (``None`` after ``from_dict``)."""
    return field(default=None, repr=False, compare=False, metadata={"omit": True})


def _optional(**metadata: Any) -> Any:
    """A field absent from report.json when it is ``None``."""
    return field(default=None, metadata={"optional": True, **metadata})


def _nested(kind: type, *, many: bool = False, mapping: bool = False, key: str | None = None,
            optional: bool = False, nullable: bool = False) -> Any:
    """A field holding a typed part (``many``: a tuple of them; ``mapping``: a dict of them).

    ``optional``: absent from report.json when ``None``; ``nullable``: written as ``null`` when ``None``.
    """
    meta = {"type": kind, "many": many, "mapping": mapping, "optional": optional}
    if key is not None:
        meta["key"] = key
    return field(default=None, metadata=meta) if optional or nullable else field(metadata=meta)


def _key(name: str) -> Any:
    """A plain field whose report.json key differs from its attribute name."""
    return field(metadata={"key": name})


@dataclass(frozen=True)
class ReportRecord:
    """Base of the typed results: ``to_dict()`` to the report.json form, ``from_dict`` back.

    >>> s = ValueSummary.from_dict({"n": 0})
    >>> s.n, s.to_dict()
    (0, {'n': 0})
    """

    def _absent(self, name: str) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (as in report.json): lists, floats, ``None`` for NaN, large arrays left out.

        Returns:
            a dict of JSON values, keys in report.json order.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            meta = f.metadata
            value = getattr(self, f.name)
            if meta.get("omit") or (meta.get("optional") and value is None) or self._absent(f.name):
                continue
            out[meta.get("key", f.name)] = to_jsonable(value)
        return out

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as a JSON string (``kwargs`` go to ``json.dumps``; NaN is never written).

        Returns:
            the JSON text.
        """
        import json

        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Read the JSON form back (a part of report.json, or an analysis' dict of arrays).

        Keys the type does not know raise ``ValueError``; a missing key raises
        ``ValueError`` unless its field is optional (absent) or internal.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict: data must be a dict (a part of report.json), got "
                            f"{type(data).__name__}")
        fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}.from_dict: unknown keys {unknown}; expected some of {sorted(fields)}")
        kwargs = {}
        for key, f in fields.items():
            if key in data:
                kwargs[f.name] = _load(f, data[key])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{cls.__name__}.from_dict: key {key!r} is missing; pass a {cls.__name__} "
                                 "written by to_dict (report.json)")
        return cls(**kwargs)


def _load(f: dataclasses.Field, value: Any) -> Any:
    kind = f.metadata.get("type")
    if kind is None or value is None:
        return value
    if f.metadata.get("many"):
        return tuple(v if isinstance(v, kind) else kind.from_dict(v) for v in value)
    if f.metadata.get("mapping"):
        return {k: v if isinstance(v, kind) else kind.from_dict(v) for k, v in value.items()}
    return value if isinstance(value, kind) else kind.from_dict(value)


# ----------------------------------------------------------------------------- shared parts


@dataclass(frozen=True)
class ValueSummary(ReportRecord):
    """Count, mean, standard deviation and quantiles of a set of values (only ``n`` when it is empty).

    >>> ValueSummary.from_dict({"n": 2, "mean": 1.5, "std": 0.7, "min": 1.0, "q05": 1.0, "q25": 1.2,
    ...                         "median": 1.5, "q75": 1.8, "q95": 2.0, "max": 2.0}).median
    1.5
    """

    n: int
    mean: float | None = _optional()
    std: float | None = _optional()
    min: float | None = _optional()
    q05: float | None = _optional()
    q25: float | None = _optional()
    median: float | None = _optional()
    q75: float | None = _optional()
    q95: float | None = _optional()
    max: float | None = _optional()


@dataclass(frozen=True)
class FailingPrompt(ReportRecord):
    """A prompt (or question) where an assumption fails, with the coefficients where it does.

    ``worst`` is the smallest value there of the quantity named ``worst_of``
    (``"margin"`` for A1, ``"mass"`` for A4); report.json writes it as
    ``worst_<worst_of>``.

    >>> p = FailingPrompt.from_dict({"index": 3, "coefficients": [1.0], "worst_margin": -0.2})
    >>> p.worst_of, p.worst, p.to_dict()["worst_margin"]
    ('margin', -0.2, -0.2)
    """

    index: int
    coefficients: list[float]
    text: str | None = None
    worst: float | None = None
    worst_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "coefficients": to_jsonable(self.coefficients)}
        if self.text is not None:
            out["text"] = self.text
        if self.worst_of is not None:
            out[f"worst_{self.worst_of}"] = to_jsonable(self.worst)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FailingPrompt:
        if not isinstance(data, Mapping) or "index" not in data or "coefficients" not in data:
            raise ValueError("FailingPrompt.from_dict: data must be a dict with 'index' and 'coefficients'")
        worst = [k for k in data if k.startswith("worst_")]
        unknown = set(data) - {"index", "coefficients", "text", *worst}
        if unknown or len(worst) > 1:
            raise ValueError(f"FailingPrompt.from_dict: unexpected keys {sorted(unknown) or worst}")
        of = worst[0][len("worst_"):] if worst else None
        return cls(data["index"], data["coefficients"], data.get("text"), data[worst[0]] if worst else None, of)


# ----------------------------------------------------------------------------- A1 and A4


@dataclass(frozen=True, kw_only=True)
class MarginCheck(ReportRecord):
    """Assumption A1 measured per prompt and coefficient (:func:`~steerbounds.validation.a1_margins`).

    >>> from steerbounds.validation import a1_margins, synthetic_bundle
    >>> a1 = a1_margins(synthetic_bundle(seed=0, n_prompts=3, n_questions=2, margin=1.0).behaviour)
    >>> a1.holds, round(a1.margin_summary.min, 6), a1.failing_prompts
    (True, 1.0, ())
    """

    radius_qc: Any  # signed radius r = sign(c) ||delta||
    margin_qc: Any  # Delta per prompt and coefficient (NaN at c = 0)
    consistency_qc: Any  # spread over tokens of (log-probability change - <delta, u_t>)
    projection_scale: float  # largest |<delta, u_t>|
    holds: bool
    fraction_holding: float  # of the (prompt, coefficient) points where the margin is defined
    margin_summary: ValueSummary = _nested(ValueSummary)
    margin_per_prompt_median: Any  # each prompt's median margin over c != 0
    failing_prompts: tuple[FailingPrompt, ...] = _nested(FailingPrompt, many=True)
    holds_qc: Any = _internal()


@dataclass(frozen=True, kw_only=True)
class BehaviourMassCheck(ReportRecord):
    """Assumption A4: the mass ``P+ + P-`` on the behaviour tokens (:func:`~steerbounds.validation.a4_behaviour_mass`).

    >>> from steerbounds.validation import a4_behaviour_mass, synthetic_bundle
    >>> a4 = a4_behaviour_mass(synthetic_bundle(seed=0, n_prompts=2, n_questions=2).behaviour)
    >>> a4.mass_qc.shape, a4.holds
    ((2, 21), True)
    """

    mass_qc: Any
    mass_mean_c: Any
    mass_min_c: Any
    mass_summary: ValueSummary = _nested(ValueSummary)
    fraction_holding: float
    failing_prompts: tuple[FailingPrompt, ...] = _nested(FailingPrompt, many=True)
    mass_min: float  # the threshold 1 - eta
    holds: bool


# ----------------------------------------------------------------------------- A2


@dataclass(frozen=True)
class GapChangeRow(ReportRecord):
    """A2's statistics of the gap changes at one coefficient (over every question and competitor).

    >>> GapChangeRow(c=1.0, n=90, mean=0.0, std=1.0, sem=0.1, skewness=0.0, excess_kurtosis=0.0,
    ...              test="shapiro-wilk", statistic=0.99, p_value=0.5).p_value
    0.5
    """

    c: float
    n: int
    mean: float
    std: float
    sem: float | None
    skewness: float | None
    excess_kurtosis: float | None
    test: str | None  # "shapiro-wilk", "dagostino-pearson", or None at c = 0 / zero spread
    statistic: float | None
    p_value: float | None


@dataclass(frozen=True)
class LinearFit(ReportRecord):
    """Least squares ``y = slope x + intercept`` with its ``R^2``.

    >>> LinearFit(slope=2.0, intercept=0.0, r2=1.0).to_dict()
    {'slope': 2.0, 'intercept': 0.0, 'r2': 1.0}
    """

    slope: float
    intercept: float
    r2: float


@dataclass(frozen=True)
class NormalityVerdict(ReportRecord):
    """A2's normality tests over the coefficients, at the Bonferroni-corrected level.

    >>> NormalityVerdict(n_tests=40, min_p_value=0.4, bonferroni_level=0.00025, n_rejected=0, holds=True).holds
    True
    """

    n_tests: int
    min_p_value: float | None
    bonferroni_level: float
    n_rejected: int
    holds: bool


@dataclass(frozen=True)
class StdLinearity(ReportRecord):
    """Whether the standard deviation of the gap changes is linear in ``|c|`` (``R^2 >= r2_min``).

    >>> StdLinearity(holds=True, r2_min=0.95).r2_min
    0.95
    """

    holds: bool
    r2_min: float


@dataclass(frozen=True)
class GapChangeBias(ReportRecord):
    """C2.3's mean gap change per unit norm ``mu``, its question-clustered SE and z-test.

    >>> GapChangeBias(mu=0.03, se=0.09, z=0.36, z_critical=2.58, significant=False, clustered_by="question").z
    0.36
    """

    mu: float
    se: float
    z: float
    z_critical: float
    significant: bool
    clustered_by: str


@dataclass(frozen=True)
class GapCovariance(ReportRecord):
    """A2's covariance ``Sigma`` fitted from ``Y = X / r``, symmetrised over the competitors.

    >>> import numpy as np
    >>> cov = GapCovariance(np.eye(3), 1.0, 0.0, 1.0, np.eye(3), 120, [1.0], "second moments")
    >>> cov.sigma_iid, cov.to_dict()["sigma_kk"][0]
    (1.0, [1.0, 0.0, 0.0])
    """

    sigma_kk: Any
    diagonal: float
    off_diagonal: float
    sigma_iid: float  # sqrt of the diagonal
    second_moment_kk: Any
    n_samples: int
    coefficients_used: list[float]
    method: str


@dataclass(frozen=True)
class GapChangeHistograms(ReportRecord):
    """Histograms of the gap changes per coefficient on one set of bins (values clipped at ``clipped_at``).

    >>> import numpy as np
    >>> GapChangeHistograms(np.linspace(-1, 1, 3), np.ones((2, 2)), 1.0).to_dict()["edges"]
    [-1.0, 0.0, 1.0]
    """

    edges: Any
    counts_cb: Any
    clipped_at: float


@dataclass(frozen=True)
class GapChangeSamples(ReportRecord):
    """Gap changes for the figures: every value at a few ``c > 0``, quantiles (``q05`` ... ``q95``) at every ``c``.

    >>> GapChangeSamples(c=[1.0], values=[[0.1, 0.2]], n_distinct=[2], quantiles_c={"q50": [0.15]}).n_distinct
    [2]
    """

    c: Any
    values: Any
    n_distinct: list[int]
    quantiles_c: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class GapChangeCheck(ReportRecord):
    """Assumption A2 (Gaussian gap changes) measured on a helpfulness sweep (:func:`~steerbounds.validation.a2_gap_changes`).

    >>> from steerbounds.validation import a2_gap_changes, synthetic_bundle
    >>> a2 = a2_gap_changes(synthetic_bundle(seed=0, n_prompts=2, n_questions=60).helpfulness)
    >>> a2.holds, a2.covariance.sigma_kk.shape, a2.bias.significant
    (True, (3, 3), False)
    """

    per_coefficient: tuple[GapChangeRow, ...] = _nested(GapChangeRow, many=True)
    std_c: Any
    std_fit: LinearFit = _nested(LinearFit)
    normality: NormalityVerdict = _nested(NormalityVerdict)
    std_linear: StdLinearity = _nested(StdLinearity)
    bias: GapChangeBias = _nested(GapChangeBias)
    covariance: GapCovariance = _nested(GapCovariance)
    histograms: GapChangeHistograms = _nested(GapChangeHistograms)
    gaps_qci: Any = _internal()  # restricted gaps, correct minus each competitor
    x_qci: Any = _internal()  # gap changes <delta, u_i - u_*>
    radius_qc: Any
    holds: bool
    samples: GapChangeSamples | None = _nested(GapChangeSamples, optional=True)  # set by the analysis


# ----------------------------------------------------------------------------- A3


@dataclass(frozen=True)
class NonlinearPrompt(ReportRecord):
    """A prompt (or question) where A3's linear response fails.

    >>> NonlinearPrompt(index=2, r2=0.5, min_cosine=0.9, kappa=1.1).to_dict()
    {'index': 2, 'r2': 0.5, 'min_cosine': 0.9, 'kappa': 1.1}
    """

    index: int
    r2: float
    min_cosine: float
    kappa: float
    text: str | None = _optional()


@dataclass(frozen=True, kw_only=True)
class SweepLinearity(ReportRecord):
    """Assumption A3 on one sweep: ``||delta_c|| ~ kappa |c|`` and a stable direction (:func:`~steerbounds.validation.a3_linear_response`).

    >>> import numpy as np
    >>> from steerbounds.validation import a3_linear_response
    >>> c = np.array([-1.0, 0.0, 1.0, 2.0])
    >>> out = a3_linear_response(c, (c[:, None] * np.array([3.0, 4.0]))[None])
    >>> round(float(out.kappa_q[0]), 6), out.holds, out.kappa_summary.n
    (5.0, True, 1)
    """

    kappa_q: Any
    r2_q: Any
    min_cosine_q: Any
    cos_ref_qc: Any
    norm_qc: Any
    kappa_summary: ValueSummary = _nested(ValueSummary)
    r2_summary: ValueSummary = _nested(ValueSummary)
    min_cosine_summary: ValueSummary = _nested(ValueSummary)
    reference_coefficient: float
    failing_prompts: tuple[NonlinearPrompt, ...] = _nested(NonlinearPrompt, many=True)
    holds: bool


@dataclass(frozen=True, kw_only=True)
class LinearResponseCheck(ReportRecord):
    """Assumption A3 on both sweeps; it holds when it holds on each.

    >>> import numpy as np
    >>> from steerbounds.validation import a3_linear_response
    >>> c = np.array([-1.0, 0.0, 1.0])
    >>> one = a3_linear_response(c, (c[:, None] * np.ones(2))[None])
    >>> LinearResponseCheck(behaviour=one, helpfulness=one, holds=True).helpfulness.holds
    True
    """

    behaviour: SweepLinearity = _nested(SweepLinearity)
    helpfulness: SweepLinearity = _nested(SweepLinearity)
    holds: bool


@dataclass(frozen=True, kw_only=True)
class AssumptionChecks(ReportRecord):
    """A1-A4 on one bundle (report.json keys ``A1`` ... ``A4``).

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> a = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)).assumptions
    >>> a.a1.holds, a.a4.holds, sorted(a.to_dict())
    (True, True, ['A1', 'A2', 'A3', 'A4'])
    """

    a1: MarginCheck = _nested(MarginCheck, key="A1")
    a2: GapChangeCheck = _nested(GapChangeCheck, key="A2")
    a3: LinearResponseCheck = _nested(LinearResponseCheck, key="A3")
    a4: BehaviourMassCheck = _nested(BehaviourMassCheck, key="A4")


# ----------------------------------------------------------------------------- T1, T2a, T2b


@dataclass(frozen=True)
class T1Violation(ReportRecord):
    """A (prompt, coefficient) point where A1 holds and the behaviour falls below T1's bound (a bug).

    >>> T1Violation(prompt=0, coefficient_index=3, r=1.0, margin=1.0, behaviour=0.3, bound=0.46, slack=-0.16).slack
    -0.16
    """

    prompt: int
    coefficient_index: int
    r: float
    margin: float
    behaviour: float
    bound: float
    slack: float
    c: float | None = _optional()
    text: str | None = _optional()


@dataclass(frozen=True, kw_only=True)
class AlignmentBoundCheck(ReportRecord):
    """T1 checked at every prompt and coefficient where A1 holds (:func:`~steerbounds.validation.check_t1`).

    >>> import numpy as np
    >>> from steerbounds.validation import check_t1
    >>> r = np.array([[-1.0, 0.0, 1.0]]); margin = np.array([[1.0, np.nan, 1.0]])
    >>> t1 = check_t1(np.tanh(r / 2) - np.array([[0, 0, 0.1]]), r, margin, np.zeros(1))
    >>> t1.n_checked, t1.n_violations, t1.violations[0].prompt
    (2, 1, 0)
    """

    bound_qc: Any
    n_checked: int
    n_violations: int
    violations: tuple[T1Violation, ...] = _nested(T1Violation, many=True)
    min_slack: float | None
    atol: float
    n_outside_a1: int
    n_outside_a1_below_bound: int
    n_saturated_prompts: int
    slack_qc: Any = _internal()
    checked_qc: Any = _internal()


@dataclass(frozen=True)
class HelpfulnessBoundCheck(ReportRecord):
    """T2a's lower bound and T2b's parabola against the measured mean helpfulness (:func:`~steerbounds.validation.compare_t2`).

    >>> import numpy as np
    >>> from steerbounds.validation import compare_t2
    >>> r = np.array([[0.0, 1.0, 2.0]]); g = np.array([[-1.0, -1.0, -1.0]])
    >>> t2 = compare_t2(np.array([[0.4754, 0.47, 0.45]]), r, g, 0.1 * np.eye(3), n_mc=200)
    >>> bool(np.all(t2.t2a_c <= t2.measured_c + 1e-12)), t2.n_questions_gain_predicted
    (True, 0)
    """

    measured_c: Any
    measured_se_c: Any
    t2a_c: Any
    t2b_c: Any
    z_t2a_c: Any  # (measured - T2a) / SE
    n_below_t2a_2se: int
    p0_q: Any
    s_h_q: Any  # each question's T2b curvature
    n_questions_gain_predicted: int
    n_questions_p0_below_half: int
    expected_c: Any = None  # E[H_r] under the fitted A2 model
    expected_se_c: Any = None
    expected_note: str | None = None
    t2a_qc: Any = _internal()
    t2b_qc: Any = _internal()


# ----------------------------------------------------------------------------- fits


@dataclass(frozen=True)
class Identifiability(ReportRecord):
    """Whether a fit determines its parameters, and why not (:func:`~steerbounds.validation._fits.identifiability`).

    >>> Identifiability(identifiable=False, reasons=["R^2 = 0.1 (< 0.5)"], relative_se={"b": None}).reasons
    ['R^2 = 0.1 (< 0.5)']
    """

    identifiable: bool
    reasons: list[str]
    relative_se: dict[str, float | None]


@dataclass(frozen=True)
class TanhPrediction(ReportRecord):
    """The tanh parameters the theory predicts: ``a = kappa Delta / 2``, ``b0 = artanh B_0``.

    >>> TanhPrediction(a=0.5, b0=0.1, how="medians").a
    0.5
    """

    a: float | None
    b0: float | None
    how: str


@dataclass(frozen=True)
class BellPrediction(ReportRecord):
    """The bell parameters the theory predicts: ``a = (1 - p_0)/p_0``, ``b = sigma kappa`` (C2.2).

    >>> BellPrediction(a=1.0, b=0.4, how="p0 and sigma kappa").b
    0.4
    """

    a: float | None
    b: float | None
    how: str


@dataclass(frozen=True, kw_only=True)
class _FitRecord(ReportRecord):
    """The fields every fit has; the keys a fit writes depend on whether it was fitted and converged."""

    n_points: int | None = None
    converged: bool
    fitted: bool | None = None
    note: str | None = None
    r2: float | None = None
    rmse: float | None = None

    def _absent(self, name: str) -> bool:
        if name == "fitted":
            return self.fitted is not False
        if name in ("n_points",) + self._params():
            return self.fitted is False
        if name in ("r2", "rmse", "covariance"):
            return not self.converged
        if name in ("b_over_predicted", "b_agreement"):
            return getattr(self, name) is None
        return False

    @classmethod
    def _params(cls) -> tuple[str, ...]:
        return ()

    @property
    def identifiable(self) -> bool:
        """Whether the analysis found the fitted parameters identifiable (False before it has looked)."""
        ident = getattr(self, "identifiability", None)
        return bool(ident is not None and ident.identifiable)


@dataclass(frozen=True, kw_only=True)
class TanhFit(_FitRecord):
    """``tanh(a c + b0)`` fitted to the behaviour against the coefficient (:func:`~steerbounds.validation.fit_tanh`).

    ``predicted`` and ``identifiability`` are set by the analysis.

    >>> import numpy as np
    >>> from steerbounds.validation import fit_tanh
    >>> fit = fit_tanh(np.linspace(-5, 5, 51), np.tanh(0.4 * np.linspace(-5, 5, 51) - 0.3))
    >>> fit.converged, round(fit.a, 6), round(fit.b0, 6)
    (True, 0.4, -0.3)
    """

    a: float | None = None
    a_se: float | None = None
    b0: float | None = None
    b0_se: float | None = None
    covariance: list[list[float]] | None = None
    predicted: TanhPrediction | None = _nested(TanhPrediction, optional=True)
    identifiability: Identifiability | None = _nested(Identifiability, optional=True)
    b_over_predicted: float | None = None
    b_agreement: str | None = None

    @classmethod
    def _params(cls) -> tuple[str, ...]:
        return ("a", "a_se", "b0", "b0_se")


@dataclass(frozen=True, kw_only=True)
class BellFit(_FitRecord):
    """The bell ``1/(1 + a + a (b^2/2) c^2)`` (or C2.2's restricted form) fitted to P(correct) (:func:`~steerbounds.validation.fit_bell`).

    ``fitted`` is ``False`` when the restricted form's range cannot hold the
    data (then only ``note`` says why). ``b_over_predicted`` and
    ``b_agreement`` compare ``b`` with the predicted ``sigma kappa``.

    >>> import numpy as np
    >>> from steerbounds.validation import bell_curve, fit_bell
    >>> c = np.linspace(-10, 10, 81)
    >>> fit = fit_bell(c, bell_curve(c, 0.5, 0.3))
    >>> round(fit.a, 6), round(fit.b, 6), "r2" in fit.to_dict()
    (0.5, 0.3, True)
    """

    a: float | None = None
    a_se: float | None = None
    b: float | None = None
    b_se: float | None = None
    covariance: list[list[float]] | None = None
    predicted: BellPrediction | None = _nested(BellPrediction, nullable=True)  # null: the form was not fitted
    identifiability: Identifiability | None = _nested(Identifiability, optional=True)
    b_over_predicted: float | None = None
    b_agreement: str | None = None

    @classmethod
    def _params(cls) -> tuple[str, ...]:
        return ("a", "a_se", "b", "b_se")


@dataclass(frozen=True, kw_only=True)
class CurveFits(ReportRecord):
    """The paper's fits on one bundle: tanh on the behaviour, the bell on full and restricted P(correct).

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> fits = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)).fits
    >>> fits.behaviour_tanh.converged, round(fits.behaviour_tanh.predicted.a, 6)
    (True, 0.5)
    """

    behaviour_tanh: TanhFit = _nested(TanhFit)
    bell_full: BellFit = _nested(BellFit)
    bell_restricted: BellFit = _nested(BellFit)


# ----------------------------------------------------------------------------- tradeoff


@dataclass(frozen=True)
class Interval(ReportRecord):
    """A point estimate with a bootstrap percentile interval (``None`` ends are open: beyond the grid).

    >>> Interval(1.0, 0.8, 1.3, 0.95).to_dict()["high"]
    1.3
    """

    estimate: float | None  # the value on the full sample (None: not reached within the grid)
    low: float | None  # lower percentile end
    high: float | None  # upper percentile end (None: beyond the grid in too many draws)
    level: float  # coverage of the interval, e.g. 0.95
    n_beyond: int = 0  # bootstrap draws in which the value was not reached within the grid
    n_boot: int = 0  # bootstrap draws


@dataclass(frozen=True)
class MeasuredOptimum(ReportRecord):
    """The crossover and the best ``c`` for ``G - lam Lambda`` on the tradeoff grid (no interval).

    >>> MeasuredOptimum(crossover_c=None, best_c=3.0, best_utility=0.5).best_c
    3.0
    """

    crossover_c: float | None
    best_c: float
    best_utility: float


@dataclass(frozen=True)
class PredictedTradeoff(ReportRecord):
    """Section 4's predictions: slopes, ``r_eff``, ``r*_lam`` and their coefficient-unit versions, and the curves.

    >>> PredictedTradeoff(0.5, 0.25, 0.5, 0.25, 2.0, 1.0, 2.0, 1.0, [0.0], [0.0]).c_eff
    2.0
    """

    s_a: float
    s_h: float
    gain_slope_c: float
    loss_curvature_c: float
    r_eff: float | None
    r_star: float | None
    c_eff: float | None
    c_star: float | None
    gain_c: Any
    loss_c: Any
    how: str | None = _optional()  # set by the analysis


@dataclass(frozen=True)
class RadiusQuartiles(ReportRecord):
    """Quartiles of a radius over (prompt, question) pairs.

    >>> RadiusQuartiles(q25=1.0, median=2.0, q75=3.0).median
    2.0
    """

    q25: float
    median: float
    q75: float


@dataclass(frozen=True)
class PairRadii(ReportRecord):
    """``theory.efficient_radius`` and ``theory.best_radius`` over every (prompt, question) pair.

    ``note`` says why there are none (then the counts and quartiles are absent).

    >>> PairRadii(n_pairs=0, note="no prompt with a positive margin").to_dict()
    {'n_pairs': 0, 'note': 'no prompt with a positive margin'}
    """

    n_pairs: int
    n_infinite: int | None = None
    r_eff: RadiusQuartiles | None = _nested(RadiusQuartiles, optional=True)
    r_star: RadiusQuartiles | None = _nested(RadiusQuartiles, optional=True)
    note: str | None = _optional()

    def _absent(self, name: str) -> bool:
        return name in ("n_infinite", "r_eff", "r_star") and self.note is not None


@dataclass(frozen=True, kw_only=True)
class JointTradeoff(ReportRecord):
    """The measured tradeoff on one joint grid with bootstrap intervals, next to the predictions.

    ``best_c`` and ``crossover_lambda`` are keyed by ``lam`` as written in
    report.json (``"0.5"``, ``"1"``, ``"2"``).

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> joint = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)).tradeoff.joint
    >>> sorted(joint.best_c), joint.crossover.level
    (['0.5', '1', '2'], 0.95)
    """

    grid_c: Any
    gain_c: Any
    loss_c: Any
    gain_se_c: Any
    loss_se_c: Any
    crossover: Interval = _nested(Interval)
    best_c: dict[str, Interval] = _nested(Interval, mapping=True)
    crossover_lambda: dict[str, Interval] = _nested(Interval, mapping=True)
    n_prompts: int
    n_questions: int
    seed: int
    notes: list[str]
    predicted_c_eff: float | None
    predicted_c_star: dict[str, float | None]
    joint_grid: str


@dataclass(frozen=True, kw_only=True)
class TradeoffCheck(ReportRecord):
    """Section 4's tradeoff: gain against loss over ``c >= 0``, measured and predicted (:func:`~steerbounds.validation.tradeoff`).

    ``per_pair`` and ``joint`` are set by the analysis.

    >>> import numpy as np
    >>> from steerbounds.validation import tradeoff
    >>> c = np.linspace(0, 4, 41)
    >>> out = tradeoff(c, 0.5 * c, c, 1 - 0.25 * c**2, s_a_q=np.array([0.5]), kappa_b_q=np.ones(1),
    ...                s_h_q=np.array([0.25]), kappa_h_q=np.ones(1), lam=1.0)
    >>> round(out.predicted.c_eff, 6), round(out.measured.crossover_c, 6)
    (2.0, 2.0)
    """

    grid_c: Any
    gain_c: Any
    loss_c: Any
    utility_c: Any
    lam: float
    measured: MeasuredOptimum = _nested(MeasuredOptimum)
    predicted: PredictedTradeoff = _nested(PredictedTradeoff)
    notes: list[str]
    per_pair: PairRadii | None = _nested(PairRadii, optional=True)
    joint: JointTradeoff | None = _nested(JointTradeoff, optional=True)


# ----------------------------------------------------------------------------- the rest of a condition


@dataclass(frozen=True)
class BundleSizes(ReportRecord):
    """How many prompts, questions, coefficients, tokens and options a bundle holds.

    >>> BundleSizes(4, 30, 32, 4, "shared", 2, 2, 21, 41).n_questions
    30
    """

    n_prompts: int
    n_questions: int
    d: int  # final representation dimension
    n_options: int
    option_rows: str  # "shared" or "per_question"
    n_aligned_tokens: int
    n_misaligned_tokens: int
    n_behaviour_coefficients: int
    n_helpfulness_coefficients: int


@dataclass(frozen=True)
class ConsistencyCheck(ReportRecord):
    """The bundle's log-probability changes against ``<delta, u>``: largest spread and tolerance per sweep.

    >>> ConsistencyCheck(1e-15, 2e-15, 0.01, 0.02).behaviour_max < 0.01
    True
    """

    behaviour_max: float
    helpfulness_max: float
    behaviour_tolerance: float
    helpfulness_tolerance: float


@dataclass(frozen=True)
class BehaviourCurves(ReportRecord):
    """Behaviour per prompt and its means over the sweep, with T1's mean bound where it is checked.

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> b = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)).behaviour
    >>> b.b_qc.shape, b.coefficients.shape
    ((2, 21), (21,))
    """

    coefficients: Any
    b_qc: Any
    b_mean_c: Any
    b_se_c: Any
    b_unrestricted_mean_c: Any  # mean of (P+ - P-), the behaviour without the restriction
    b0_q: Any
    t1_bound_mean_c: Any
    t1_behaviour_mean_c: Any
    t1_n_checked_c: Any


@dataclass(frozen=True)
class HelpfulnessCurves(ReportRecord):
    """Mean P(correct) over the questions, restricted to the options and over the vocabulary, and accuracies.

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> h = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)).helpfulness
    >>> h.restricted_mean_c.shape
    (41,)
    """

    coefficients: Any
    restricted_mean_c: Any
    restricted_se_c: Any
    full_mean_c: Any
    full_se_c: Any
    accuracy_restricted_c: Any
    accuracy_full_c: Any


@dataclass(frozen=True)
class SaturationReach(ReportRecord):
    """The smallest ``|c|`` on each side where ``|B| >= level`` (``None``: not reached).

    >>> SaturationReach(positive=2.0, negative=None, level=0.95).negative is None
    True
    """

    positive: float | None
    negative: float | None
    level: float


@dataclass(frozen=True)
class DropReach(ReportRecord):
    """The smallest ``|c|`` on each side where restricted P(correct) falls to ``target``.

    >>> DropReach(positive=7.0, negative=None, target=0.41, p0=0.58, chance=0.25, fraction=0.5).target
    0.41
    """

    positive: float | None
    negative: float | None
    target: float
    p0: float
    chance: float
    fraction: float


@dataclass(frozen=True, kw_only=True)
class GridCoverage(ReportRecord):
    """Whether the sweep reached the behaviour's saturation and the helpfulness drop on both sides of 0.

    >>> GridCoverage(covered=None, note="a single option has no chance level").to_dict()
    {'covered': None, 'note': 'a single option has no chance level'}
    """

    saturation: SaturationReach | None = _nested(SaturationReach, optional=True)
    drop: DropReach | None = _nested(DropReach, optional=True)
    covered: bool | None = None
    behaviour_range: list[float] | None = _optional()
    helpfulness_range: list[float] | None = _optional()
    note: str | None = _optional()


@dataclass(frozen=True, kw_only=True)
class GridSummary(ReportRecord):
    """The grid's coverage and, when a driver chose the grid, that choice (the bundle's ``grid_choice``).

    >>> GridSummary(coverage=GridCoverage(covered=True), choice=None).coverage.covered
    True
    """

    coverage: GridCoverage = _nested(GridCoverage)
    choice: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProjectionSummary(ReportRecord):
    """The representations in two principal components and how well a linear rule separates the classes.

    >>> ProjectionSummary([[0.0, 1.0]], [0], [0.9, 0.1], 1.0, 1.0, 1.0, ["a", "b"], None).accuracy_2d
    1.0
    """

    coords_n2: Any
    labels_n: Any
    explained_variance: list[float]
    accuracy_full: float
    accuracy_2d: float
    accuracy_mean_difference: float
    class_names: list[str]
    description: str | None


@dataclass(frozen=True)
class Verdicts(ReportRecord):
    """Which assumptions hold and how many T1 violations there are (report.json's ``summary``).

    >>> Verdicts(a1=True, a2=True, a3=False, a4=True, t1_violations=0).to_dict()
    {'A1': True, 'A2': True, 'A3': False, 'A4': True, 'T1_violations': 0}
    """

    a1: bool = _key("A1")
    a2: bool = _key("A2")
    a3: bool = _key("A3")
    a4: bool = _key("A4")
    t1_violations: int = _key("T1_violations")


@dataclass(frozen=True)
class SequenceBoundCheck(ReportRecord):
    """T1's form checked on the sequence-level mean in aggregate (no guarantee: T1 is about the first token).

    At each ``c != 0`` the bound is ``tanh(r(c) margin / 2 + artanh B_seq(0))``; ``slack_c`` is
    ``sign(c) (B_seq(c) - bound_c)`` and ``z_c`` the slack over its standard error.

    >>> SequenceBoundCheck(margin=None, n_prompts_a1=0, n_prompts=3, z_threshold=-1.96, r_c=[0.0], checked=False,
    ...                    note="no margin").to_dict()["checked"]
    False
    """

    margin: float | None  # median first-token margin Delta over the sampled prompts
    n_prompts_a1: int  # sampled prompts whose margin is positive
    n_prompts: int
    z_threshold: float
    r_c: Any  # mean signed norm sign(c) ||delta_c|| over the sampled prompts
    checked: bool
    note: str
    b0_smoothed: float | None = _optional()  # Jeffreys-smoothed B_seq(0), when every response agreed
    bound_c: Any = _optional()
    slack_c: Any = _optional()
    z_c: Any = _optional()
    n_checked: int | None = _optional()
    n_below: int | None = _optional()
    n_significantly_below: int | None = _optional()
    holds: bool | None = _optional()


@dataclass(frozen=True)
class SequenceExample(ReportRecord):
    """One sampled response shown in the report.

    >>> SequenceExample(prompt=0, coefficient=8.0, score=1, text="I'm sorry").score
    1
    """

    prompt: int
    coefficient: float
    score: int  # +1 refusal, -1 otherwise
    text: str


@dataclass(frozen=True)
class SequenceAnalysis(ReportRecord):
    """The sequence-level behaviour of one condition, analysed (``report.json``'s ``sequence`` entry).

    ``measured`` is False (and ``reason`` says why) when the bundle holds no
    sampled responses; every other field is then empty.

    >>> SequenceAnalysis.not_measured("no text").to_dict()
    {'measured': False, 'reason': 'no text'}
    """

    measured: bool
    reason: str | None = None
    coefficients: Any = None  # the sampled coefficients
    mean_c: Any = None  # mean over prompts of the per-prompt mean B
    se_c: Any = None  # cluster standard error (prompts as clusters)
    se_sampling_c: Any = None  # standard error from the sampling alone (prompts fixed)
    refusal_fraction_c: Any = None  # fraction of responses scored +1
    mean_length_c: Any = None  # mean tokens per response
    first_token_mean_c: Any = None  # first-token B of the same prompts at the same coefficients
    first_token_grid_c: Any = None  # the whole behaviour grid ...
    first_token_grid_mean_c: Any = None  # ... and the first-token B of the same prompts on it
    n_prompts: int = 0
    n_samples: int = 0
    max_new_tokens: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    classifier: str = ""
    seed: int | None = None
    fit: TanhFit | None = _nested(TanhFit, nullable=True)  # tanh(a c + b0) fitted to mean_c, with its prediction
    first_token_fit: TanhFit | None = _nested(TanhFit, nullable=True)  # the first-token fit, for comparison
    t1: SequenceBoundCheck | None = _nested(SequenceBoundCheck, nullable=True)
    examples: tuple[SequenceExample, ...] = field(default=(), metadata={"type": SequenceExample, "many": True})

    @classmethod
    def not_measured(cls, reason: str) -> "SequenceAnalysis":
        """The entry of a condition without sampled responses, saying why.

        Args:
            reason: why nothing was sampled.

        Returns:
            a :class:`SequenceAnalysis` with ``measured=False``.
        """
        return cls(measured=False, reason=reason)

    def _absent(self, name: str) -> bool:
        return not self.measured and name not in ("measured", "reason")  # a skipped step writes only why


@dataclass(frozen=True, kw_only=True)
class BundleAnalysis(ReportRecord):
    """Everything :func:`~steerbounds.validation.analyze_bundle` measures on one bundle, with its identity.

    ``to_dict()`` is the bundle's entry under ``conditions`` in report.json;
    ``BundleAnalysis.from_dict`` reads that entry back.

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> out = analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20))
    >>> out.condition, out.t1.n_violations, out.assumptions.a1.holds
    ('synthetic', 0, True)
    >>> BundleAnalysis.from_dict(out.to_dict()).to_dict() == out.to_dict()
    True
    """

    condition: str
    model: dict[str, Any]
    metadata: dict[str, Any] | None
    sizes: BundleSizes = _nested(BundleSizes)
    consistency: ConsistencyCheck = _nested(ConsistencyCheck)
    behaviour: BehaviourCurves = _nested(BehaviourCurves)
    helpfulness: HelpfulnessCurves = _nested(HelpfulnessCurves)
    assumptions: AssumptionChecks = _nested(AssumptionChecks)
    t1: AlignmentBoundCheck = _nested(AlignmentBoundCheck, key="T1")
    t2: HelpfulnessBoundCheck = _nested(HelpfulnessBoundCheck, key="T2")
    fits: CurveFits = _nested(CurveFits)
    tradeoff: TradeoffCheck = _nested(TradeoffCheck)
    grid: GridSummary = _nested(GridSummary)
    projection: ProjectionSummary | None = _nested(ProjectionSummary, nullable=True)  # null: the bundle has none
    verdicts: Verdicts = _nested(Verdicts)
    sequence: SequenceAnalysis | None = _nested(SequenceAnalysis, optional=True)  # sampled responses (optional)
