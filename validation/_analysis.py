"""The validation of one activation bundle: assumptions, theorems, fits, tradeoff."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from steerbounds import theory
from steerbounds.theory import instance_of

from ._assumptions import a1_margins, a2_gap_changes, a3_linear_response, a4_behaviour_mass
from ._bundle import ActivationBundle, BundleError, validate_bundle
from ._checks import behaviour_values, check_t1, compare_t2, helpfulness_values
from ._config import ValidationConfig
from ._crossover import DEFAULT_LAMBDAS, measured_tradeoff
from ._fits import fit_bell, fit_tanh, identifiability, restricted_bell_range_note
from ._grid import grid_coverage
from ._results import (AssumptionChecks, BehaviourCurves, BellFit, BellPrediction, BundleAnalysis, BundleSizes,
                       ConsistencyCheck, CurveFits, GapChangeBias, GapChangeSamples, GridCoverage, GridSummary,
                       HelpfulnessCurves, JointTradeoff, LinearResponseCheck, MarginCheck, PairRadii,
                       PredictedTradeoff, ProjectionSummary, RadiusQuartiles, TanhPrediction, Verdicts)
from ._sequence import analyze_sequence
from ._tradeoff import projection_2d, tradeoff
from ._x64 import float64


def _sem(x_qc: np.ndarray) -> np.ndarray:
    n = x_qc.shape[0]
    return x_qc.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(x_qc.shape[1])


def _consistency(a1: MarginCheck, helpfulness, config: ValidationConfig) -> ConsistencyCheck:
    """Logit changes against <delta, u>: the bundle's delta must be the change of the unembedded representation."""
    h = helpfulness
    c = h.coefficients_c
    i0 = int(np.flatnonzero(c == 0.0)[0])
    proj = np.einsum("qcd,qod->qco", h.delta_qcd, h.option_rows_qod())  # each question's own rows
    dev = (h.logprobs_qco - h.logprobs_qco[:, i0 : i0 + 1]) - proj
    spread_h = dev.max(-1) - dev.min(-1)
    out = {"behaviour_max": float(a1.consistency_qc.max()), "helpfulness_max": float(spread_h.max())}
    for part, spread, scale in (("behaviour", a1.consistency_qc, a1.projection_scale),
                                ("helpfulness", spread_h, float(np.abs(proj).max()))):
        tol = config.consistency_atol + config.consistency_rtol * scale
        out[f"{part}_tolerance"] = tol
        if spread.max() > tol:
            q, j = np.unravel_index(int(np.argmax(spread)), spread.shape)
            raise BundleError(
                f"bundle {part}: the stored log-probabilities do not change by <delta, u_t> "
                f"(largest spread {spread.max():.4g} > tolerance {tol:.3g} at prompt {q}, coefficient index {j}). "
                "delta must be the change of the representation the unembedding reads (after the final "
                "normalisation), and unembed rows must be those of the listed tokens; re-export the bundle "
                "(docs/bundle.md), or raise ValidationConfig.consistency_atol if the model adds a known nonlinearity")
    return ConsistencyCheck(**out)


def _per_pair_radii(margin_q: np.ndarray, b0_q: np.ndarray, gaps_qk: np.ndarray, sigma_kk: np.ndarray,
                    lam: float) -> PairRadii:
    """``theory.efficient_radius`` and ``theory.best_radius`` for every (behaviour prompt, question) pair.

    Only prompts where A1 holds (positive median margin) and ``|B_0| < 1`` enter; a
    pair whose question has ``s_H <= 0`` has an infinite radius (no second-order loss).
    """
    ok = (margin_q > 0) & (np.abs(b0_q) < 1)
    if not ok.any():
        return PairRadii(n_pairs=0, note="no prompt with a positive margin and |B_0| < 1")
    m, b = margin_q[ok][:, None], b0_q[ok][:, None]
    g = gaps_qk[None, :, :]
    r_eff = np.asarray(theory.efficient_radius(m, b, g, sigma_kk), dtype=np.float64)
    r_star = np.asarray(theory.best_radius(m, b, g, sigma_kk, lam=lam), dtype=np.float64)
    finite = np.isfinite(r_eff)

    def quartiles(x: np.ndarray) -> RadiusQuartiles | None:
        x = x[np.isfinite(x)]
        if x.size == 0:
            return None
        q = np.quantile(x, [0.25, 0.5, 0.75])
        return RadiusQuartiles(q25=float(q[0]), median=float(q[1]), q75=float(q[2]))

    return PairRadii(n_pairs=int(r_eff.size), n_infinite=int((~finite).sum()), r_eff=quartiles(r_eff),
                     r_star=quartiles(r_star))


def analyze_bundle(bundle: ActivationBundle, config: ValidationConfig | None = None) -> BundleAnalysis:
    """Validate docs/theory.md sections 2-5 (#alignment, #helpfulness, #tradeoff, #measured) on one bundle: A1-A4, T1, T2a/T2b, fits and the tradeoff.

    Returns a :class:`BundleAnalysis` of frozen dataclasses holding numbers and
    numpy arrays; its ``to_dict()`` is the JSON form written to report.json
    (:func:`condition_to_json`). Nothing is dropped: assumptions that
    fail on some prompts are reported with those prompts, and T1 is checked on
    every prompt and coefficient where A1 holds (a violation there is a bug).

    >>> from steerbounds.validation import synthetic_bundle
    >>> out = analyze_bundle(synthetic_bundle(seed=0, n_prompts=4, n_questions=30))
    >>> out.t1.n_violations, out.assumptions.a1.holds
    (0, True)
    """
    validate_bundle(bundle)
    if config is not None:
        instance_of("analyze_bundle", "config", config, ValidationConfig, "ValidationConfig()")
    return _analyze(bundle, config or ValidationConfig())


def _canonical(bundle: ActivationBundle) -> ActivationBundle:
    """Fresh contiguous float64 copies of every array, so that the numbers do not depend on memory layout
    (an in-memory bundle and the same bundle read from disk give identical reports)."""

    def fresh(part: Any) -> Any:
        changes = {f.name: np.array(getattr(part, f.name), dtype=np.float64, order="C", copy=True)
                   for f in dataclasses.fields(part)
                   if isinstance(getattr(part, f.name), np.ndarray) and getattr(part, f.name).dtype.kind == "f"}
        return dataclasses.replace(part, **changes)

    projection = bundle.projection if bundle.projection is None else fresh(bundle.projection)
    return dataclasses.replace(bundle, behaviour=fresh(bundle.behaviour), helpfulness=fresh(bundle.helpfulness),
                               projection=projection)


@float64  # the theory and numerics layers compute in float64 only under JAX's x64 mode
def _analyze(bundle: ActivationBundle, config: ValidationConfig) -> BundleAnalysis:
    bundle = _canonical(bundle)
    bh, hp = bundle.behaviour, bundle.helpfulness
    cb, ch = bh.coefficients_c, hp.coefficients_c
    ib0 = int(np.flatnonzero(cb == 0.0)[0])

    # Assumptions.
    a1 = a1_margins(bh, config)
    consistency = _consistency(a1, hp, config)
    a2 = a2_gap_changes(hp, config)
    a2 = dataclasses.replace(a2, samples=_gap_change_samples(hp.coefficients_c, a2.x_qci))
    a3b = a3_linear_response(cb, bh.delta_qcd, bh.prompts, config)
    a3h = a3_linear_response(ch, hp.delta_qcd, hp.questions, config)
    a4 = a4_behaviour_mass(bh, config)

    # Behaviour and T1.
    b_qc = behaviour_values(bh)
    b0_q = b_qc[:, ib0]
    t1 = check_t1(b_qc, a1.radius_qc, a1.margin_qc, b0_q, atol=config.t1_atol, coefficients_c=cb,
                  texts=bh.prompts)
    checked = t1.checked_qc
    with np.errstate(invalid="ignore"):
        n_c = checked.sum(axis=0)
        bound_mean = np.where(n_c > 0, np.where(checked, t1.bound_qc, 0.0).sum(0) / np.maximum(n_c, 1), np.nan)
        b_mean_checked = np.where(n_c > 0, np.where(checked, b_qc, 0.0).sum(0) / np.maximum(n_c, 1), np.nan)
    bound_mean[ib0] = b0_q.mean()
    b_mean_checked[ib0] = b0_q.mean()

    # Helpfulness and T2.
    hv = helpfulness_values(hp)
    gaps0 = a2.gaps_qci[:, int(np.flatnonzero(ch == 0.0)[0]), :]
    t2 = compare_t2(hv["restricted_qc"], a2.radius_qc, gaps0, a2.covariance.sigma_kk,
                    n_mc=config.n_mc, seed=config.seed)

    # Fits, with predicted parameters alongside.
    b_mean = b_qc.mean(axis=0)
    kappa_b = float(np.median(a3b.kappa_q))
    kappa_h = float(np.median(a3h.kappa_q))
    per_prompt = a1.margin_per_prompt_median
    margin_med = float(np.median(per_prompt[np.isfinite(per_prompt)])) if np.isfinite(per_prompt).any() else None
    sigma = a2.covariance.sigma_iid
    fit_b = dataclasses.replace(fit_tanh(cb, b_mean), predicted=TanhPrediction(
        a=None if margin_med is None else kappa_b * margin_med / 2.0,
        b0=float(np.arctanh(b_mean[ib0])) if abs(b_mean[ib0]) < 1 else None,
        how="a = kappa Delta / 2 with kappa and Delta the medians over prompts (Delta: each prompt's median "
            "margin over c != 0); b0 = artanh of the mean behaviour at c = 0",
    ))
    full_mean = hv["full_qc"].mean(axis=0)
    restr_mean = hv["restricted_qc"].mean(axis=0)
    ih0 = int(np.flatnonzero(ch == 0.0)[0])
    fit_full = dataclasses.replace(fit_bell(ch, full_mean), predicted=BellPrediction(
        a=float((1 - full_mean[ih0]) / full_mean[ih0]), b=sigma * kappa_h,
        how="a = (1 - p0)/p0 with p0 the mean full-vocabulary P(correct) at c = 0; "
            "b = sigma kappa with sigma^2 the fitted Sigma_ii (option competitors) and "
            "kappa the median over questions"))
    range_note = restricted_bell_range_note(restr_mean, _sem(hv["restricted_qc"]), n_options=hp.n_options)
    if range_note is None:
        p0r = float(restr_mean[ih0])
        fit_restr = dataclasses.replace(fit_bell(ch, restr_mean, restricted=True), predicted=BellPrediction(
            a=0.5 / (p0r - 0.25) - 1.0 if 0.25 < p0r <= 0.75 else None, b=sigma * kappa_h,
            how="a from 0.5/(1 + a) + 0.25 = mean restricted P(correct) at c = 0; b = sigma kappa"))
    else:
        fit_restr = BellFit(converged=False, fitted=False, note=f"C2.2's restricted form: {range_note}",
                            predicted=None)
    fit_b, fit_full, fit_restr = (dataclasses.replace(fit, identifiability=identifiability(fit, params))
                                  for fit, params in ((fit_b, ("a", "b0")), (fit_full, ("a", "b")),
                                                      (fit_restr, ("a", "b"))))
    share_c = (hv["full_qc"] / np.maximum(hv["restricted_qc"], 1e-300)).mean(axis=0)  # mass on the options
    fit_full = _compare_b(fit_full, share_c, ih0, a2.bias, full=True)
    fit_restr = _compare_b(fit_restr, share_c, ih0, a2.bias, full=False)

    # Tradeoff (section 4).
    margin_for_slope = np.where(np.isfinite(a1.margin_per_prompt_median), a1.margin_per_prompt_median, 0.0)
    inside = np.abs(b0_q) < 1.0  # a saturated prompt (B_0 = +-1) has slope 0 (C1.1's limit)
    s_a_q = np.zeros_like(b0_q)
    if inside.any():
        s_a_q[inside] = np.asarray(theory.alignment_slope(margin_for_slope[inside], b0_q[inside]), dtype=np.float64)
    trade = tradeoff(cb, b_mean, ch, restr_mean, s_a_q=s_a_q, kappa_b_q=a3b.kappa_q, s_h_q=t2.s_h_q,
                     kappa_h_q=a3h.kappa_q, lam=config.lam)
    trade = dataclasses.replace(
        trade,
        per_pair=_per_pair_radii(margin_for_slope, b0_q, gaps0, a2.covariance.sigma_kk, config.lam),
        joint=_joint_tradeoff(cb, b_qc, ch, hv["restricted_qc"], trade.predicted, config),
        predicted=dataclasses.replace(
            trade.predicted, how="s_A per prompt: C1.1's slope with the prompt's median margin over c != 0 and its "
                                 "B_0; s_H per question: T2b's curvature with the fitted Sigma; kappa per prompt "
                                 "from A3; loss measured on restricted P(correct)"))

    projection = None
    if bundle.projection is not None:
        projection = ProjectionSummary(
            **projection_2d(bundle.projection.representations_nd, bundle.projection.labels_n),
            class_names=list(bundle.projection.class_names), description=bundle.projection.description)

    coverage = _coverage(cb, b_mean, ch, restr_mean, hp.n_options)

    a3 = LinearResponseCheck(behaviour=a3b, helpfulness=a3h, holds=bool(a3b.holds and a3h.holds))
    verdicts = Verdicts(a1=a1.holds, a2=a2.holds, a3=a3.holds, a4=a4.holds, t1_violations=t1.n_violations)
    return BundleAnalysis(
        condition=bundle.condition,
        model=bundle.model,
        metadata=bundle.metadata,
        sizes=BundleSizes(n_prompts=bh.n_prompts, n_questions=hp.n_questions, d=int(bh.delta_qcd.shape[2]),
                          n_options=hp.n_options, option_rows="shared" if hp.shared_unembedding else "per_question",
                          n_aligned_tokens=bh.n_aligned, n_misaligned_tokens=len(bh.misaligned_ids),
                          n_behaviour_coefficients=int(cb.size), n_helpfulness_coefficients=int(ch.size)),
        consistency=consistency,
        behaviour=BehaviourCurves(
            coefficients=cb, b_qc=b_qc, b_mean_c=b_mean, b_se_c=_sem(b_qc),
            b_unrestricted_mean_c=(a4.mass_qc * b_qc).mean(axis=0), b0_q=b0_q,
            t1_bound_mean_c=bound_mean, t1_behaviour_mean_c=b_mean_checked, t1_n_checked_c=n_c,
        ),
        helpfulness=HelpfulnessCurves(
            coefficients=ch,
            restricted_mean_c=restr_mean, restricted_se_c=_sem(hv["restricted_qc"]),
            full_mean_c=full_mean, full_se_c=_sem(hv["full_qc"]),
            accuracy_restricted_c=hv["accuracy_restricted_qc"].mean(axis=0),
            accuracy_full_c=hv["accuracy_full_qc"].mean(axis=0),
        ),
        assumptions=AssumptionChecks(a1=a1, a2=a2, a3=a3, a4=a4),
        t1=t1,
        t2=t2,
        fits=CurveFits(behaviour_tanh=fit_b, bell_full=fit_full, bell_restricted=fit_restr),
        tradeoff=trade,
        grid=GridSummary(coverage=coverage, choice=(bundle.metadata or {}).get("grid_choice")),
        projection=projection,
        verdicts=verdicts,
        sequence=analyze_sequence(bundle.sequence, bundle.metadata, behaviour_coefficients=cb, first_token_qc=b_qc,
                                  radius_qc=a1.radius_qc, margin_per_prompt=per_prompt, first_token_fit=fit_b),
    )


def _gap_change_samples(c: np.ndarray, x_qci: np.ndarray, n_pick: int = 5) -> GapChangeSamples:
    """Gap changes for the figures: every value at a few ``c > 0`` (ECDF, strip plot) and quantiles at every ``c``."""
    pos = np.flatnonzero(c > 0)
    pick = pos[np.unique(np.linspace(0, pos.size - 1, min(n_pick, pos.size)).round().astype(int))] if pos.size else pos
    x_cn = np.moveaxis(x_qci, 1, 0).reshape(c.size, -1)
    q = np.quantile(x_cn, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
    return GapChangeSamples(c=c[pick], values=[np.sort(x_cn[j]) for j in pick],
                            n_distinct=[int(np.unique(np.round(x_cn[j], 6)).size) for j in pick],
                            quantiles_c={"q05": q[0], "q25": q[1], "q50": q[2], "q75": q[3], "q95": q[4]})


def _compare_b(fit: BellFit, share_c: np.ndarray, i0: int, bias: GapChangeBias, *, full: bool) -> BellFit:
    """The fitted bell width b against the predicted sigma kappa, and why they differ when they do (> 20 %)."""
    pred = None if fit.predicted is None else fit.predicted.b
    if not fit.converged or pred is None or not pred > 0:
        return fit
    ratio = float(fit.b / pred)
    if abs(ratio - 1) <= 0.2:
        return dataclasses.replace(fit, b_over_predicted=ratio, b_agreement="within 20 % of sigma kappa")
    reasons = []
    lo = float(share_c.min())
    if full and lo < 0.5 * float(share_c[i0]):
        reasons.append(f"the options' share of the probability falls from {share_c[i0]:.3g} at c = 0 to {lo:.3g}: "
                       "the full-vocabulary P(correct) is lost to tokens outside the options, which sigma (the "
                       "spread over option competitors) does not describe")
    if bias.significant:
        reasons.append(f"the gap changes have a significant mean (C2.3 bias, mu = {bias.mu:.3g}, "
                       f"z = {bias.z:.3g}): the loss has a linear term the symmetric bell lacks")
    if not reasons:
        reasons.append("A2's Gaussian model does not describe the gap changes here (see A2), so b need not be "
                       "sigma kappa")
    return dataclasses.replace(fit, b_over_predicted=ratio,
                               b_agreement=f"b is {ratio:.3g} times sigma kappa: " + "; ".join(reasons))


def _on_joint_grid(cb: np.ndarray, b_qc: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """Behaviour per prompt on the helpfulness coefficients within the behaviour grid (interpolated where needed)."""
    if cb.shape == ch.shape and np.array_equal(cb, ch):
        return b_qc
    return np.stack([np.interp(ch, cb, row) for row in b_qc])


def _joint_tradeoff(cb: np.ndarray, b_qc: np.ndarray, ch: np.ndarray, h_qc: np.ndarray,
                    predicted: PredictedTradeoff, config: ValidationConfig) -> JointTradeoff:
    """The measured crossover and best c on one joint grid, with bootstrap intervals, next to the predictions."""
    inside = (ch >= cb.min()) & (ch <= cb.max())
    c = ch[inside]
    m = measured_tradeoff(c, _on_joint_grid(cb, b_qc, c), h_qc[:, inside], lambdas=DEFAULT_LAMBDAS,
                          seed=config.seed)
    c_eff = predicted.c_eff
    return JointTradeoff(
        grid_c=m.grid_c, gain_c=m.gain_c, loss_c=m.loss_c, gain_se_c=m.gain_se_c, loss_se_c=m.loss_se_c,
        crossover=m.crossover, best_c={f"{lam:g}": iv for lam, iv in m.best_c.items()},
        crossover_lambda={f"{lam:g}": iv for lam, iv in m.crossover_lambda.items()},
        n_prompts=m.n_prompts, n_questions=m.n_questions, seed=m.seed, notes=list(m.notes),
        predicted_c_eff=c_eff,
        predicted_c_star={f"{lam:g}": (None if c_eff is None else c_eff / (2 * lam)) for lam in DEFAULT_LAMBDAS},
        joint_grid=("one grid for both sweeps" if cb.shape == ch.shape and np.array_equal(cb, ch)
                    else "helpfulness coefficients inside the behaviour grid, behaviour interpolated"))


def _coverage(cb: np.ndarray, b_mean: np.ndarray, ch: np.ndarray, h_mean: np.ndarray,
              n_options: int) -> GridCoverage:
    """Whether the sweep reached behaviour saturation and the helpfulness drop on both sides of 0."""
    if n_options < 2:
        return GridCoverage(covered=None, note="a single option has no chance level")
    return GridCoverage.from_dict(grid_coverage(ch, np.interp(ch, cb, b_mean), h_mean, n_options=n_options) | {
        "behaviour_range": [float(cb.min()), float(cb.max())],
        "helpfulness_range": [float(ch.min()), float(ch.max())]})


def condition_to_json(result: BundleAnalysis) -> dict[str, Any]:
    """The JSON form of :func:`analyze_bundle`'s result (large per-pair arrays left out): ``result.to_dict()``.

    >>> from steerbounds.validation import synthetic_bundle
    >>> import json
    >>> j = condition_to_json(analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20)))
    >>> json.loads(json.dumps(j, allow_nan=False))["condition"]
    'synthetic'
    """
    instance_of("condition_to_json", "result", result, BundleAnalysis, "analyze_bundle(bundle)")
    return result.to_dict()
