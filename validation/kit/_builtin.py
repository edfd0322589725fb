"""The assumptions A1-A4 of docs/theory.md as :class:`Assumption` objects on measured sweeps.

Each wraps the validation layer's measurement of the assumption (``a1_margins``,
``a2_gap_changes``, ``a3_linear_response``, ``a4_behaviour_mass``) for its
predicate and its report, and states the bound it licenses with the theory
layer's functions (through ``check_t1`` and ``compare_t2`` where the validation
layer already lines measurements up against a bound):

* ``A1`` (margin) licenses T1 at every prompt and coefficient where it holds;
* ``A2`` (Gaussian gap changes) licenses T2a for the mean helpfulness over
  questions (a statistical claim: the measured mean carries its standard error);
* ``A3`` (linear response), together with A1 at every coefficient, licenses
  T1 in coefficient units: the ``tanh`` fit's slope is at least
  ``kappa_min Delta_min / 2``;
* ``A4`` (mass on the behaviour tokens, ``m >= 1 - eta``) licenses C1.3:
  ``B~_r >= (1 - eta) B_r`` where ``B_r >= 0``;
* ``A2_MODEL`` states A2 on a :class:`GapChangeModel` (the law itself rather
  than measurements of it) and licenses T2a for the exact ``E[H_r]``: the
  object to derive variants of A2 from (a mean, heavy tails).

The comparisons use float64 tolerances (synthetic sweeps are float64); for
float32 measurements of a real model use e.g. ``A1.replace(atol=1e-4)``.
"""

from __future__ import annotations

import numpy as np

from steerbounds.theory import alignment_bound

from .._assumptions import a1_margins, a2_gap_changes, a3_linear_response, a4_behaviour_mass
from .._bundle import BehaviourSweep, HelpfulnessSweep
from .._checks import behaviour_values, check_t1, compare_t2, helpfulness_values
from .._config import ValidationConfig
from .._results import SweepLinearity
from ._assumption import Assumption, AssumptionReport, Inequality
from ._gaps import GapChangeModel, gap_change_models
from ._sweeps import behaviour_sweeps, helpfulness_sweeps

_CONFIG = ValidationConfig.default()


def _require(kind: type, name: str, measurements) -> None:
    if not isinstance(measurements, kind):
        raise TypeError(f"{name} is measured on a {kind.__name__} (e.g. bundle.{_FIELD[kind]}), "
                        f"got {type(measurements).__name__}")


_FIELD = {BehaviourSweep: "behaviour", HelpfulnessSweep: "helpfulness"}


def _zero_index(coefficients_c: np.ndarray) -> int:
    return int(np.flatnonzero(coefficients_c == 0.0)[0])


# ---------------------------------------------------------------- A1 and T1


def _a1_predicate(sweep: BehaviourSweep) -> np.ndarray:
    _require(BehaviourSweep, "A1", sweep)
    out = a1_margins(sweep, _CONFIG)
    return out.holds_qc & (out.radius_qc != 0)


def _t1(sweep: BehaviourSweep) -> Inequality:
    out = a1_margins(sweep, _CONFIG)
    b_qc = behaviour_values(sweep)
    b0_q = b_qc[:, _zero_index(sweep.coefficients_c)]
    r_qc, margin_qc = out.radius_qc, out.margin_qc
    t1 = check_t1(b_qc, r_qc, margin_qc, b0_q, atol=0.0)
    defined = (r_qc != 0) & np.isfinite(margin_qc) & (np.abs(b0_q)[:, None] < 1.0)
    sign = np.sign(r_qc)
    return Inequality(observed=sign * b_qc, bound=np.where(defined, sign * t1.bound_qc, 0.0), where=defined)


def _a1_report(sweep: BehaviourSweep) -> AssumptionReport:
    _require(BehaviourSweep, "A1", sweep)
    out = a1_margins(sweep, _CONFIG)
    summary = out.margin_summary
    return AssumptionReport(
        "A1", out.holds, out.fraction_holding,
        {"min margin": float("nan") if summary.min is None else summary.min,
         "median margin": float("nan") if summary.median is None else summary.median},
        tuple(p.to_dict() for p in out.failing_prompts), out,
    )


A1 = Assumption(
    name="A1",
    predicate=_a1_predicate,
    bound=_t1,
    measurements=behaviour_sweeps(min_prompts=3, max_prompts=3, max_failing=1, max_jitter=2.0),
    statement=("A1: Delta = min_{A+} <dhat, u_a> - max_{A-} <dhat, u_b> > 0 at (prompt, coefficient); "
               "T1: sign(r) (B_r - tanh(r Delta/2 + artanh B_0)) >= 0 there"),
    licenses="T1",
    checker=_a1_report,
)


# ---------------------------------------------------------------- A2 and T2a


def _a2_predicate(sweep: HelpfulnessSweep) -> bool:
    _require(HelpfulnessSweep, "A2", sweep)
    return a2_gap_changes(sweep, _CONFIG).holds


def _t2a(sweep: HelpfulnessSweep) -> Inequality:
    a2 = a2_gap_changes(sweep, _CONFIG)
    gaps_qk = a2.gaps_qci[:, _zero_index(sweep.coefficients_c), :]
    measured_qc = helpfulness_values(sweep)["restricted_qc"]
    t2 = compare_t2(measured_qc, a2.radius_qc, gaps_qk, a2.covariance.sigma_kk, n_mc=16)
    return Inequality(observed=t2.measured_c, bound=t2.t2a_c, stderr=t2.measured_se_c)


def _a2_report(sweep: HelpfulnessSweep) -> AssumptionReport:
    _require(HelpfulnessSweep, "A2", sweep)
    out = a2_gap_changes(sweep, _CONFIG)
    normal, bias = out.normality, out.bias
    statistic = {
        "min normality p-value": normal.min_p_value if normal.min_p_value is not None else float("nan"),
        "normality tests rejected": normal.n_rejected,
        "std vs |c| R^2": out.std_fit.r2,
        "mean per unit norm mu": bias.mu,
        "mu z-score": bias.z,
    }
    checks = (("normality", normal.holds), ("std linear in |c|", out.std_linear.holds),
              ("zero mean", not bias.significant))
    detail = tuple({"check": name, "holds": ok} for name, ok in checks if not ok)
    return AssumptionReport("A2", out.holds, float(out.holds), statistic, detail, out)


A2 = Assumption(
    name="A2",
    predicate=_a2_predicate,
    bound=_t2a,
    measurements=helpfulness_sweeps(),
    statement=("A2: gap changes X ~ N(0, r^2 Sigma) (normal at every coefficient, std linear in |c|, zero "
               "mean); T2a: mean over questions of H_r >= mean of 1/(1 + sum_i e^{g_i + r^2 Sigma_ii/2})"),
    licenses="T2a",
    checker=_a2_report,
)


# ---------------------------------------------------------------- A3 and T1 in coefficient units


def _a3_measure(sweep: BehaviourSweep) -> SweepLinearity:
    _require(BehaviourSweep, "A3", sweep)
    return a3_linear_response(sweep.coefficients_c, sweep.delta_qcd, sweep.prompts, _CONFIG)


def _a3_predicate(sweep: BehaviourSweep) -> np.ndarray:
    a3 = _a3_measure(sweep)
    a1 = _a1_predicate(sweep)
    steered = sweep.coefficients_c != 0
    prompt_ok = (a3.r2_q >= _CONFIG.r2_min) & (a3.min_cosine_q >= _CONFIG.cosine_min)
    prompt_ok &= a1[:, steered].all(axis=1)
    return np.broadcast_to(prompt_ok[:, None], a1.shape)


def _t1_in_coefficients(sweep: BehaviourSweep) -> Inequality:
    c = sweep.coefficients_c
    steered = c != 0
    a1 = a1_margins(sweep, _CONFIG)
    norm_qc = np.linalg.norm(sweep.delta_qcd, axis=-1)
    kappa_min_q = (norm_qc[:, steered] / np.abs(c[steered])).min(axis=1)
    margin_min_q = np.nanmin(np.where(steered, a1.margin_qc, np.nan), axis=1)
    b_qc = behaviour_values(sweep)
    b0_q = b_qc[:, _zero_index(c)]
    defined = steered[None, :] & (np.abs(b0_q)[:, None] < 1.0) & (margin_min_q > 0)[:, None]
    bound = alignment_bound(
        np.where(defined, kappa_min_q[:, None] * c[None, :], 0.0),
        np.where(defined, margin_min_q[:, None], 0.0),
        np.where(defined, b0_q[:, None], 0.0),
    )
    sign = np.sign(c)[None, :]
    return Inequality(observed=sign * b_qc, bound=sign * np.asarray(bound), where=defined)


def _a3_report(sweep: BehaviourSweep) -> AssumptionReport:
    out = _a3_measure(sweep)
    holds_q = (out.r2_q >= _CONFIG.r2_min) & (out.min_cosine_q >= _CONFIG.cosine_min)
    statistic = {"min R^2 of ||delta|| vs |c|": out.r2_summary.min,
                 "min direction cosine": out.min_cosine_summary.min,
                 "median kappa": out.kappa_summary.median}
    return AssumptionReport("A3", out.holds, float(holds_q.mean()), statistic,
                            tuple(p.to_dict() for p in out.failing_prompts), out)


A3 = Assumption(
    name="A3",
    predicate=_a3_predicate,
    bound=_t1_in_coefficients,
    measurements=behaviour_sweeps(min_prompts=3, max_prompts=3, max_failing=1, max_kappa_spread=0.5,
                                  responses=("linear", "saturating")),
    statement=("A3: ||delta_c|| ~ kappa |c| (R^2 >= 0.95) with a stable direction (cosines >= 0.9), and A1 at "
               "every c; T1 in coefficient units: sign(c) (B_c - tanh(kappa_min c Delta_min/2 + artanh B_0)) >= 0"),
    licenses="T1 in coefficient units",
    checker=_a3_report,
)


# ---------------------------------------------------------------- A4 and C1.3


def _a4_predicate(sweep: BehaviourSweep) -> np.ndarray:
    _require(BehaviourSweep, "A4", sweep)
    return a4_behaviour_mass(sweep, _CONFIG).mass_qc >= _CONFIG.mass_min


def _c1_3(sweep: BehaviourSweep) -> Inequality:
    p_qcr = np.exp(sweep.logprobs_qcr)
    na = sweep.n_aligned
    unrestricted = p_qcr[..., :na].sum(-1) - p_qcr[..., na:].sum(-1)  # B~ = P+ - P- over the full vocabulary
    b_qc = behaviour_values(sweep)
    return Inequality(observed=unrestricted, bound=_CONFIG.mass_min * b_qc, where=b_qc >= 0)


def _a4_report(sweep: BehaviourSweep) -> AssumptionReport:
    _require(BehaviourSweep, "A4", sweep)
    out = a4_behaviour_mass(sweep, _CONFIG)
    statistic = {"min mass": out.mass_summary.min, "mass threshold 1 - eta": out.mass_min}
    return AssumptionReport("A4", out.holds, out.fraction_holding, statistic,
                            tuple(p.to_dict() for p in out.failing_prompts), out)


A4 = Assumption(
    name="A4",
    predicate=_a4_predicate,
    bound=_c1_3,
    measurements=behaviour_sweeps(min_prompts=3, max_prompts=3, min_behaviour_bias=-2.0, max_behaviour_bias=8.0),
    statement=(f"A4: m_r = P+ + P- >= 1 - eta = {_CONFIG.mass_min} at (prompt, coefficient); "
               "C1.3: B~_r >= (1 - eta) B_r where B_r >= 0"),
    licenses="C1.3",
    checker=_a4_report,
)


# ---------------------------------------------------------------- A2 on a gap-change model, and T2a


def _require_model(name: str, model) -> None:
    if not isinstance(model, GapChangeModel):
        raise TypeError(f"{name} is stated on a GapChangeModel (see gap_change_models), got {type(model).__name__}")


def _a2_model_predicate(model: GapChangeModel) -> bool:
    _require_model("A2_MODEL", model)
    return model.gaussian and not np.any(model.mean_k != 0)


def _t2a_model(model: GapChangeModel) -> Inequality:
    value, err = model.expected_helpfulness()
    return Inequality(observed=value, bound=model.lower_bound(), stderr=err)


def _a2_model_report(model: GapChangeModel) -> AssumptionReport:
    _require_model("A2_MODEL", model)
    statistic = {"max |mu_i|": float(np.abs(model.mean_k).max()), "df": model.df}
    detail = []
    if np.any(model.mean_k != 0):
        detail.append({"check": "zero mean", "holds": False, "mu": model.mean_k.tolist()})
    if not model.gaussian:
        detail.append({"check": "Gaussian", "holds": False, "df": model.df})
    ok = not detail
    return AssumptionReport("A2 (model)", ok, float(ok), statistic, tuple(detail))


A2_MODEL = Assumption(
    name="A2 (model)",
    predicate=_a2_model_predicate,
    bound=_t2a_model,
    measurements=gap_change_models(),
    statement=("A2 on a gap-change model: X ~ N(0, r^2 Sigma) exactly; T2a: E[H_r] >= "
               "1/(1 + sum_i e^{g_i + r^2 Sigma_ii/2}), with E[H_r] computed by quadrature (error estimate)"),
    licenses="T2a",
    checker=_a2_model_report,
)
