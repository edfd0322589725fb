"""The sequence-level behaviour of a bundle, analysed next to the first-token form (docs/theory.md#alignment).

A bundle's optional :class:`~steerbounds.validation._bundle.SequenceSweep` holds
sampled responses scored by a classifier. :func:`analyze_sequence` gives, per
coefficient, the mean of ``B`` with its cluster standard error (samples
clustered within prompts), the refusal fraction and the first-token behaviour of
the same prompts; the tanh S-curve of T1 fitted to the sequence-level mean, with
the first-token fit beside it; and T1's bound in its aggregate form.

T1 is a theorem about the first-token distribution. For sampled responses it
is the paper's measure checked in the same form, not a guarantee: at each
``c != 0`` the bound is ``tanh(r(c) Delta / 2 + artanh B_seq(0))`` with ``r(c)``
the mean over the sampled prompts of the signed norm ``sign(c) ||delta_c||``,
``Delta`` the median over them of each prompt's median first-token margin (A1),
and ``B_seq(0)`` the unsteered sequence-level mean (Jeffreys-smoothed when every
unsteered response got the same score, :func:`unsaturated_b0`). The slack
``sign(c) (B_seq(c) - bound)`` is compared with its standard error (that of
``B_seq(c)`` and, through the bound, of ``B_seq(0)``); the form holds when no
slack lies more than 1.96 standard errors below 0.

:func:`sequence_markdown` writes the report section and :func:`sequence_figure`
draws the figure, from the typed :class:`SequenceAnalysis` (within its condition's analysis).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._format import _f, _pm
from ._fits import fit_tanh, identifiability, tanh_curve
from ._results import SequenceAnalysis, SequenceBoundCheck, SequenceExample, TanhFit, TanhPrediction

Z95 = 1.959964  # two-sided 95 % normal quantile: error bars, and the one-sided 2.5 % test of the slack


def _reason(metadata: dict[str, Any]) -> str:
    info = (metadata or {}).get("sequence_behaviour")
    if isinstance(info, dict) and info.get("skipped"):
        return str(info["skipped"])
    return "the bundle holds no sampled responses (sequence sweep absent)"


def _fit_with_prediction(c: np.ndarray, mean: np.ndarray, predicted_a: float | None,
                         n_responses: int) -> TanhFit:
    try:
        fit = fit_tanh(c, mean)
    except ValueError as err:
        return TanhFit(converged=False, fitted=False, note=str(err))
    i0 = int(np.flatnonzero(c == 0.0)[0])
    b0, _, smoothed = unsaturated_b0(float(mean[i0]), n_responses)
    predicted = TanhPrediction(
        a=predicted_a, b0=float(np.arctanh(b0)),
        how="a = kappa Delta / 2 as for the first-token fit (kappa, Delta: first-token medians); b0 = artanh of "
            "the sequence-level mean at c = 0"
            + (" (Jeffreys-smoothed: every unsteered response got the same score)" if smoothed else ""))
    return dataclasses.replace(fit, predicted=predicted, identifiability=identifiability(fit, ("a", "b0")))


def unsaturated_b0(b0: float, n_responses: int) -> tuple[float, float, bool]:
    """``B_0`` and its SE for artanh: as measured, or from the Jeffreys-smoothed refusal fraction
    ``(k + 1/2) / (n + 1)`` when every one of the ``n`` unsteered responses got the same score (``|B_0| = 1``).

    >>> b, se, smoothed = unsaturated_b0(-1.0, 158)
    >>> round(b, 4), smoothed
    (-0.9937, True)
    """
    if abs(b0) < 1.0:
        return b0, float("nan"), False
    p = 0.5 / (n_responses + 1)  # the share of the outcome never seen
    b = float(np.sign(b0) * (1.0 - 2.0 * p))
    return b, float(2.0 * np.sqrt(p * (1.0 - p) / n_responses)), True


def _t1_aggregate(c: np.ndarray, mean: np.ndarray, se: np.ndarray, r_c: np.ndarray, margin: float | None,
                  a1_prompts: int, n_prompts: int, n_responses: int) -> SequenceBoundCheck:
    i0 = int(np.flatnonzero(c == 0.0)[0])
    b0, se0 = float(mean[i0]), float(se[i0]) if np.isfinite(se[i0]) else 0.0
    out: dict[str, Any] = {"margin": margin, "n_prompts_a1": a1_prompts, "n_prompts": n_prompts,
                           "z_threshold": -Z95, "r_c": r_c}
    if margin is None:
        return SequenceBoundCheck(**out, checked=False, note="no finite first-token margin on the sampled prompts")
    b0, smoothed_se, smoothed = unsaturated_b0(b0, n_responses)
    if smoothed:
        se0 = smoothed_se
        out["b0_smoothed"] = b0
    bound = np.tanh(r_c * margin / 2.0 + np.arctanh(b0))
    slack = np.sign(c) * (mean - bound)
    grad = (1.0 - bound**2) / (1.0 - b0**2)  # d bound / d B_0
    se_all = np.sqrt(np.where(np.isfinite(se), se, 0.0) ** 2 + (grad * se0) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se_all > 0, slack / se_all, np.where(slack < 0, -np.inf, 0.0))
    steered = c != 0
    below = steered & (slack < 0)
    significant = steered & (z < -Z95)
    bound[i0] = b0
    slack[i0] = 0.0
    z[i0] = 0.0
    note = ("T1 is proved for the first-token distribution; for sampled responses this is the same form checked "
            "in aggregate (no guarantee)")
    if smoothed:
        note += (f"; every unsteered response got the same score, so B_0 = {b0:.4g} is the Jeffreys-smoothed value "
                 f"(refusal share (k + 1/2)/(n + 1), n = {n_responses})")
    if margin <= 0:
        note += f"; A1 fails on the sampled prompts (median margin {margin:.3g} <= 0), so not even the first-token " \
                "form is guaranteed"
    return SequenceBoundCheck(**out, checked=True, bound_c=bound, slack_c=slack, z_c=z, n_checked=int(steered.sum()),
                              n_below=int(below.sum()), n_significantly_below=int(significant.sum()),
                              holds=bool(not significant.any()), note=note)


def analyze_sequence(sequence: Any, metadata: dict[str, Any], *, behaviour_coefficients: np.ndarray,
                     first_token_qc: np.ndarray, radius_qc: np.ndarray, margin_per_prompt: np.ndarray,
                     first_token_fit: TanhFit, n_examples: int = 2) -> SequenceAnalysis:
    """Analyse a bundle's sequence sweep next to its first-token behaviour (see the module docstring).

    Args:
        sequence: the bundle's ``SequenceSweep``, or None.
        metadata: the bundle's metadata (a recorded reason when the step was skipped).
        behaviour_coefficients: the behaviour grid, shape (c,).
        first_token_qc: first-token behaviour per prompt and coefficient, shape (q, c).
        radius_qc: signed norm ``sign(c) ||delta||`` per prompt and coefficient (A1's), shape (q, c).
        margin_per_prompt: each prompt's median first-token margin over c != 0, shape (q,).
        first_token_fit: the first-token tanh fit (its prediction ``a = kappa Delta / 2`` is reused).
        n_examples: responses per end of the grid shown in the report.

    Returns:
        :class:`SequenceAnalysis`.

    >>> import numpy as np
    >>> from steerbounds.validation._bundle import SequenceSweep
    >>> c = np.array([-1.0, 0.0, 1.0]); rng = np.random.default_rng(0)
    >>> p = np.array([0.1, 0.4, 0.9])                       # refusal probability at each c
    >>> scores = np.where(rng.random((20, 3, 2)) < p[None, :, None], 1.0, -1.0)
    >>> seq = SequenceSweep(c, scores, np.full(scores.shape, 8), np.arange(20), 8, 1.0)
    >>> out = analyze_sequence(seq, {}, behaviour_coefficients=c, first_token_qc=np.tile(np.tanh(c), (20, 1)),
    ...                        radius_qc=np.tile(c, (20, 1)), margin_per_prompt=np.full(20, 1.0),
    ...                        first_token_fit=fit_tanh(c, np.tanh(c)))
    >>> out.measured, out.n_prompts, out.t1.checked
    (True, 20, True)
    """
    if sequence is None:
        return SequenceAnalysis.not_measured(_reason(metadata))
    cb = np.asarray(behaviour_coefficients, dtype=np.float64)
    c = np.asarray(sequence.coefficients_c, dtype=np.float64)
    cols = np.array([int(np.argmin(np.abs(cb - x))) for x in c])
    rows = np.asarray(sequence.prompt_indices_q, dtype=np.int64)
    mean, se = sequence.mean_c, sequence.se_c
    ft = np.asarray(first_token_qc, dtype=np.float64)[rows]
    r_c = np.asarray(radius_qc, dtype=np.float64)[rows][:, cols].mean(axis=0)
    margins = np.asarray(margin_per_prompt, dtype=np.float64)[rows]
    finite = margins[np.isfinite(margins)]
    margin = float(np.median(finite)) if finite.size else None
    predicted_a = first_token_fit.predicted.a if first_token_fit.predicted is not None else None
    examples = []
    if sequence.responses is not None:
        for j in sorted({int(np.argmin(c)), int(np.flatnonzero(c == 0.0)[0]), int(np.argmax(c))}):
            for q in range(min(n_examples, sequence.n_prompts)):
                examples.append(SequenceExample(prompt=int(rows[q]), coefficient=float(c[j]),
                                                score=int(sequence.scores_qcs[q, j, 0]),
                                                text=sequence.response(q, j, 0)))
    return SequenceAnalysis(
        measured=True, coefficients=c, mean_c=mean, se_c=se, se_sampling_c=sequence.se_sampling_c,
        refusal_fraction_c=sequence.refusal_fraction_c,
        mean_length_c=np.asarray(sequence.lengths_qcs, dtype=np.float64).mean(axis=(0, 2)),
        first_token_mean_c=ft[:, cols].mean(axis=0),
        first_token_grid_c=cb, first_token_grid_mean_c=ft.mean(axis=0),
        n_prompts=sequence.n_prompts, n_samples=sequence.n_samples, max_new_tokens=int(sequence.max_new_tokens),
        temperature=float(sequence.temperature), top_p=float(sequence.top_p), classifier=sequence.classifier,
        seed=sequence.seed, fit=_fit_with_prediction(c, mean, predicted_a, sequence.n_prompts * sequence.n_samples),
        first_token_fit=first_token_fit,
        t1=_t1_aggregate(c, mean, se, r_c, margin, int((finite > 0).sum()), sequence.n_prompts,
                         sequence.n_prompts * sequence.n_samples),
        examples=tuple(examples),
    )


# ----------------------------------------------------------------------------- report.md


def sequence_markdown(seq: SequenceAnalysis | None) -> list[str]:
    """The report.md section of one condition's sequence-level behaviour.

    Args:
        seq: the condition's :class:`SequenceAnalysis` (None: no section).

    Returns:
        the section's lines.

    >>> sequence_markdown(SequenceAnalysis.not_measured("no text"))[2]
    'Not measured: no text.'
    >>> sequence_markdown(None)
    []
    """
    if seq is None:
        return []
    lines = ["### Sequence-level behaviour (sampled responses)", ""]
    if not seq.measured:
        return lines + [f"Not measured: {seq.reason}.", ""]
    lines += [f"{seq.n_samples} responses of at most {seq.max_new_tokens} tokens per prompt and coefficient "
              f"(temperature {_f(seq.temperature)}, top-p {_f(seq.top_p)}, seed {seq.seed}) on "
              f"{seq.n_prompts} prompts, scored by the {seq.classifier}. Mean B ± SE: the standard error "
              "over prompts of the per-prompt means (samples clustered within prompts); the sampling-only SE "
              "(prompts fixed) beside it.", "",
              "| c | sequence B ± SE | sampling-only SE | refusals | mean length | first-token B (same prompts) | "
              "T1 bound (aggregate) | z of slack |", "|---|---|---|---|---|---|---|---|"]
    t1 = seq.t1
    checked = t1 is not None and t1.checked
    for j, c in enumerate(seq.coefficients):
        bound = _f(t1.bound_c[j]) if checked else "–"
        z = _f(t1.z_c[j]) if checked and c != 0 else "–"
        lines.append(f"| {_f(c)} | {_pm(seq.mean_c[j], seq.se_c[j])} | {_f(seq.se_sampling_c[j], 2)} | "
                     f"{100 * seq.refusal_fraction_c[j]:.1f} % | {_f(seq.mean_length_c[j])} | "
                     f"{_f(seq.first_token_mean_c[j])} | {bound} | {z} |")
    lines.append("")
    unanimous = [_f(c) for c, v in zip(seq.coefficients, seq.se_c) if v == 0]
    if unanimous:
        n = seq.n_prompts * seq.n_samples
        lines += [f"At c = {', '.join(unanimous)} every response got the same score, so the SE is 0; it does not "
                  f"bound the error there: by the rule of three the other outcome's share is below 3/{n} = "
                  f"{3 / n:.3g} at 95 % confidence.", ""]
    fit, ft = seq.fit, seq.first_token_fit
    if fit is not None and fit.converged:
        pred = fit.predicted
        ident = "identifiable" if fit.identifiability is not None and fit.identifiability.identifiable else \
            "not identifiable"
        ft_words = (f"first-token fit a = {_pm(ft.a, ft.a_se)}, b₀ = {_pm(ft.b0, ft.b0_se)}" if ft is not None
                    else "no first-token fit")
        lines += [f"tanh(a c + b₀) fitted to the sequence-level mean: a = {_pm(fit.a, fit.a_se)}, "
                  f"b₀ = {_pm(fit.b0, fit.b0_se)}, R² = {_f(fit.r2, 4)} ({ident}); {ft_words}; predicted "
                  f"a = κΔ/2 = {_f(pred.a if pred else None)}, b₀ = artanh B₀ = {_f(pred.b0 if pred else None)}.", ""]
    else:
        note = fit.note if fit is not None and fit.note else "did not converge"
        lines += [f"tanh fit to the sequence-level mean: not fitted ({note}).", ""]
    if checked:
        verdict = ("holds" if t1.holds else f"**fails at {t1.n_significantly_below} coefficient(s)** "
                   "(slack below 0 by more than 1.96 SE)")
        lines += [f"T1's form on the sequence-level mean {verdict}: {t1.n_below} of {t1.n_checked} steered "
                  f"coefficients fall below the bound (median first-token margin Δ = {_f(t1.margin)}, positive "
                  f"on {t1.n_prompts_a1} of {t1.n_prompts} sampled prompts). {t1.note}.", ""]
    else:
        lines += [f"T1's form on the sequence-level mean: not checked ({t1.note if t1 else 'no check'}).", ""]
    for ex in seq.examples:
        text = " ".join(str(ex.text).split())
        text = text if len(text) <= 120 else text[:117] + "..."
        lines.append(f"- prompt {ex.prompt}, c = {_f(ex.coefficient)}, B = {ex.score:+d}: “{text}”")
    if seq.examples:
        lines.append("")
    return lines


# ----------------------------------------------------------------------------- figure


def sequence_figure(cond: Any, style: str) -> tuple[Any, str] | None:
    """Sequence-level mean B with 95 % error bars against c, the first-token expectation on the same axes.

    Args:
        cond: the condition's ``BundleAnalysis``.
        style: the figure style (``paper`` or ``slides``).

    Returns:
        ``(figure, caption)``, or None when the condition has no sampled responses.
    """
    seq = cond.sequence
    if seq is None or not seq.measured:
        return None
    from matplotlib.figure import Figure  # matplotlib loads only when a figure is drawn

    from ._style import PALETTE, figure_size, percent_sign, with_titles

    def arr(x: Any) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in x], dtype=np.float64)

    pct = percent_sign()
    c, mean, se = arr(seq.coefficients), arr(seq.mean_c), arr(seq.se_c)
    fig = Figure(figsize=figure_size(style, 1, rows=1.1), layout="constrained")
    ax = fig.subplots()
    ax.plot(arr(seq.first_token_grid_c), arr(seq.first_token_grid_mean_c), color=PALETTE["individual"], lw=1.0,
            label="first-token $B$ (same prompts)", zorder=2)
    t1 = seq.t1
    if t1 is not None and t1.checked:
        ax.plot(c, arr(t1.bound_c), ":", color=PALETTE["bound"], lw=1.0, label="T1 form (aggregate bound)",
                zorder=2)
    fit = seq.fit
    if fit is not None and fit.converged:
        cc = np.linspace(c.min(), c.max(), 300)
        ok = fit.identifiability is not None and fit.identifiability.identifiable
        ax.plot(cc, tanh_curve(cc, fit.a, fit.b0), color=PALETTE["fit"] if ok else PALETTE["individual"],
                lw=1.0 if ok else 0.6, ls="-" if ok else "--",
                label=rf"fit $\tanh(ac+b_0)$, $a$={fit.a:.3g}" + ("" if ok else " (not identifiable)"), zorder=3)
    ax.errorbar(c, mean, yerr=Z95 * np.where(np.isfinite(se), se, 0.0), fmt="o", color=PALETTE["measured"], ms=3,
                lw=0.8, elinewidth=0.8, capsize=2, capthick=0.8, label=f"sequence-level mean $B$ (95{pct} CI)", zorder=4)
    ax.axhline(0, color="k", lw=0.4)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel(r"steering coefficient $c$")
    ax.set_ylabel(r"behaviour $B$")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="x-small")
    if with_titles(style):
        fig.suptitle(f"Sequence-level behaviour: {cond.condition.replace('_', ' ')}", fontsize="medium")
    caption = (f"Sequence-level behaviour against the steering coefficient ({cond.condition}): black, the mean "
               f"over {seq.n_prompts} prompts of B(a) (+1 refusal, -1 otherwise; {seq.n_samples} sampled "
               f"responses of at most {seq.max_new_tokens} tokens per prompt and coefficient, temperature "
               f"{seq.temperature:g}) with 95 % intervals from the standard error over prompts; grey, the "
               "first-token behaviour expectation of the same prompts; dotted, T1's bound in aggregate form; blue, "
               "the fit tanh(ac + b0) to the sequence-level mean.")
    return fig, caption
