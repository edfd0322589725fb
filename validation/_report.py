"""report.json and report.md: every number of a validation run, and the tables a person reads."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ._analysis import condition_to_json
from ._results import (BellFit, BundleAnalysis, DropReach, FailingPrompt, NonlinearPrompt, SaturationReach, TanhFit, TradeoffCheck,
                       to_jsonable)
from ._bundle import atomic_write_bytes
from ._config import ValidationConfig
from ._format import _f, _pm
from ._sequence import sequence_markdown

REPORT_FORMAT = "steerbounds-report"
REPORT_VERSION = 1
_PACKAGES = ("steerbounds", "jax", "jaxlib", "flax", "numpy", "scipy", "sympy", "matplotlib", "safetensors", "tqdm")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that produce the numbers.

    >>> "numpy" in package_versions()
    True
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_report(results: list[BundleAnalysis], *, config: ValidationConfig | None = None,
                 command: str = "analyze", run_config: dict[str, Any] | None = None, seed: int | None = None,
                 model: dict[str, Any] | None = None, sources: list[str] | None = None) -> dict[str, Any]:
    """Assemble the report (the dict written to report.json) from :func:`analyze_bundle` results.

    ``run_config`` is the producing job's own configuration (e.g. the reproduce
    sweep), ``sources`` the bundles analysed.

    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20))])
    >>> rep["format"], list(rep["conditions"])
    ('steerbounds-report', ['synthetic'])
    """
    if not isinstance(results, list) or not all(isinstance(r, BundleAnalysis) for r in results):
        raise TypeError("build_report: results must be a list of analyze_bundle(...) results (BundleAnalysis), got "
                        f"{type(results).__name__}")
    config = config or ValidationConfig()
    if not results:
        raise ValueError("build_report: no analysed conditions; pass at least one analyze_bundle result")
    conditions: dict[str, Any] = {}
    for r in results:
        name = r.condition
        if name in conditions:
            raise ValueError(f"build_report: two results share the condition name {name!r}; name them differently")
        conditions[name] = condition_to_json(r)
    if model is None:
        model = results[0].model or {}
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "command": command,
        "seed": seed if seed is not None else config.seed,
        "model": to_jsonable(model),
        "config": {"validation": config.to_dict(), "run": to_jsonable(run_config)},
        "versions": package_versions(),
        "sources": sources or [],
        "summary": {name: c["verdicts"] for name, c in conditions.items()},
        "conditions": conditions,
    }


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """Read a report.json, checking that it is one.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"; _ = p.write_text("{}")
    >>> load_report(p)
    Traceback (most recent call last):
    ...
    ValueError: ...is not a steerbounds report...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"report {path}: no such file; pass the report.json written by reproduce or analyze")
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"report {path}: not valid JSON ({e})") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise ValueError(f"report {path}: is not a steerbounds report (no format {REPORT_FORMAT!r})")
    if report.get("version") != REPORT_VERSION:
        raise ValueError(f"report {path}: version {report.get('version')!r} is not supported")
    return report


# ----------------------------------------------------------------------------- markdown


def crossover_text(tradeoff: TradeoffCheck) -> str:
    """The measured crossover with its bootstrap interval, e.g. ``2.1 [1.8, 2.5]`` (or why there is none).

    >>> from steerbounds.validation import Interval, JointTradeoff
    >>> joint = JointTradeoff(grid_c=[0, 4], gain_c=[], loss_c=[], gain_se_c=[], loss_se_c=[],
    ...                       crossover=Interval(2.1, 1.8, None, 0.95), best_c={}, crossover_lambda={},
    ...                       n_prompts=1, n_questions=1, seed=0, notes=[], predicted_c_eff=None,
    ...                       predicted_c_star={}, joint_grid="one grid for both sweeps")
    >>> crossover_text(TradeoffCheck(grid_c=[0, 4], gain_c=[], loss_c=[], utility_c=[], lam=1.0, measured=None,
    ...                              predicted=None, notes=[], joint=joint))
    '2.1 [1.8, beyond c = 4]'
    """
    joint = tradeoff.joint
    cross = None if joint is None else joint.crossover
    top = _f(max(list(joint.grid_c) if joint is not None else [0]))
    if cross is None or cross.estimate is None:
        return f"none for 0 < c ≤ {top}"
    high = _f(cross.high) if cross.high is not None else f"beyond c = {top}"
    low = _f(cross.low) if cross.low is not None else "n/a"
    return f"{_f(cross.estimate)} [{low}, {high}]"


def _prompts(items: tuple[FailingPrompt | NonlinearPrompt, ...], limit: int = 12) -> str:
    idx = [str(i.index) for i in items]
    shown = ", ".join(idx[:limit]) + (f", … ({len(idx)} in all)" if len(idx) > limit else "")
    return f"#{shown}" if idx else ""


def _select(c: list[float], n: int = 9) -> list[int]:
    """Indices of about ``n`` coefficients >= 0 spread over the grid (for tables)."""
    arr = np.asarray(c, dtype=float)
    pos = np.flatnonzero(arr >= 0)
    if pos.size <= n:
        return pos.tolist()
    return pos[np.unique(np.linspace(0, pos.size - 1, n).round().astype(int))].tolist()


def assumption_statements(cond: BundleAnalysis | dict[str, Any]) -> list[str]:
    """Plain sentences saying which assumptions hold on a condition, with the numbers behind each.

    >>> from steerbounds.validation import analyze_bundle, build_report, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=3, n_questions=40))])
    >>> assumption_statements(rep["conditions"]["synthetic"])[0][:30]
    '**A1 (margin) holds** on all 3'
    """
    if isinstance(cond, dict):  # a condition of report.json
        cond = BundleAnalysis.from_dict(cond)
    a = cond.assumptions
    s = cond.sizes
    out = []
    a1 = a.a1
    ms = a1.margin_summary
    if a1.holds:
        out.append(f"**A1 (margin) holds** on all {s.n_prompts} prompts at every coefficient "
                   f"(margin min {_f(ms.min)}, median {_f(ms.median)}).")
    else:
        out.append(f"**A1 (margin) fails** on {len(a1.failing_prompts)} of {s.n_prompts} prompts "
                   f"({_prompts(a1.failing_prompts)}); it holds at {100 * a1.fraction_holding:.1f}% of "
                   f"(prompt, coefficient) points (margin min {_f(ms.min)}, median {_f(ms.median)}). "
                   "T1 is not guaranteed there; those prompts stay in every table and figure.")
    a2 = a.a2
    parts = []
    n = a2.normality
    parts.append(f"normality {'not rejected' if n.holds else 'rejected'} "
                 f"({n.n_rejected} of {n.n_tests} coefficients reject at Bonferroni level "
                 f"{_f(n.bonferroni_level)}; smallest p = {_f(n.min_p_value)})")
    parts.append(f"std of X against |c|: slope {_f(a2.std_fit.slope)}, R² = {_f(a2.std_fit.r2, 4)} "
                 f"({'linear' if a2.std_linear.holds else 'not linear'} at R² ≥ {_f(a2.std_linear.r2_min)})")
    bias = a2.bias
    parts.append(f"mean per unit norm μ = {_pm(bias.mu, bias.se)} "
                 f"({'significant' if bias.significant else 'not significant'}, z = {_f(bias.z)})")
    out.append(f"**A2 (Gaussian gap changes) {'holds' if a2.holds else 'fails'}**: " + "; ".join(parts) + ".")
    a3 = a.a3
    bits = []
    for part in ("behaviour", "helpfulness"):
        p = getattr(a3, part)
        bits.append(f"{part}: median κ = {_f(p.kappa_summary.median)}, smallest R² = "
                    f"{_f(p.r2_summary.min, 4)}, smallest cosine = {_f(p.min_cosine_summary.min, 4)}"
                    + (f", failing prompts {_prompts(p.failing_prompts)}" if p.failing_prompts else ""))
    out.append(f"**A3 (linear response) {'holds' if a3.holds else 'fails'}**: " + "; ".join(bits) + ".")
    a4 = a.a4
    mm = a4.mass_summary
    if a4.holds:
        out.append(f"**A4 (mass on behaviour tokens) holds**: P₊ + P₋ ≥ {_f(a4.mass_min)} everywhere "
                   f"(min {_f(mm.min)}, median {_f(mm.median)}).")
    else:
        out.append(f"**A4 (mass on behaviour tokens) fails** on {len(a4.failing_prompts)} of {s.n_prompts} "
                   f"prompts ({_prompts(a4.failing_prompts)}): P₊ + P₋ min {_f(mm.min)}, median "
                   f"{_f(mm.median)}; it holds at {100 * a4.fraction_holding:.1f}% of points.")
    return out


def render_markdown(report: dict[str, Any], figures: list[str] | None = None) -> str:
    """report.md: what holds, T1's violations, the fits, T2 and the tradeoff, in tables.

    >>> from steerbounds.validation import analyze_bundle, build_report, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=3, n_questions=20))])
    >>> render_markdown(rep).splitlines()[0]
    '# steerbounds validation report'
    """
    if not isinstance(report, dict):
        raise TypeError(f"render_markdown: report must be a report dict (build_report or load_report), got "
                        f"{type(report).__name__}")
    lines = ["# steerbounds validation report", ""]
    model = report.get("model") or {}
    lines += [f"- command: `{report.get('command')}`; seed {report.get('seed')}",
              f"- model: {model.get('name', 'unknown')} (hash `{model.get('hash', 'n/a')}`)",
              f"- steerbounds {report['versions'].get('steerbounds')}, jax {report['versions'].get('jax')}, "
              f"python {report['versions'].get('python')}",
              "- statements and assumptions are those of docs/theory.md (T1, T2a, T2b, A1-A4, C1.1, C2.2).", ""]
    lines += ["## Summary", "",
              "| condition | A1 margin | A2 Gaussian gap changes | A3 linear response | A4 behaviour mass | "
              "T1 checked | T1 violations | tanh fit a (pred.) | bell b (pred. σκ) | "
              "measured crossover c [95% CI] (pred. c_eff) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    conditions = {name: BundleAnalysis.from_dict(cond) for name, cond in report["conditions"].items()}
    for name, cond in conditions.items():
        v, fit, tr = cond.verdicts, cond.fits.behaviour_tanh, cond.tradeoff
        word = {True: "holds", False: "fails"}
        a_fit = f"{_f(fit.a)} ({_f(None if fit.predicted is None else fit.predicted.a)})" if fit.converged else "n/a"
        bell = cond.fits.bell_full
        b_fit = (f"{_pm(bell.b, bell.b_se)} ({_f(None if bell.predicted is None else bell.predicted.b)})"
                 + ("" if bell.identifiable else ", not identifiable")) if bell.converged else "n/a"
        lines.append(f"| `{name}` | {word[v.a1]} | {word[v.a2]} | {word[v.a3]} | {word[v.a4]} | "
                     f"{cond.t1.n_checked} | {v.t1_violations} | {a_fit} | {b_fit} | "
                     f"{crossover_text(tr)} ({_f(tr.predicted.c_eff)}) |")
    lines.append("")
    for name, cond in conditions.items():
        s = cond.sizes
        lines += [f"## Condition `{name}`", ""]
        meta = cond.metadata or {}
        if meta.get("description"):
            lines += [str(meta["description"]), ""]
        lines += [f"{s.n_prompts} behaviour prompts × {s.n_behaviour_coefficients} coefficients; "
                  f"{s.n_questions} questions × {s.n_helpfulness_coefficients} coefficients; "
                  f"final representation dimension {s.d}; {s.n_aligned_tokens} aligned and "
                  f"{s.n_misaligned_tokens} misaligned tokens, {s.n_options} options"
                  + (" (each question has its own option rows: its own unembedding)"
                     if s.option_rows == "per_question" else "") + ".", ""]
        cov, choice = cond.grid.coverage, cond.grid.choice
        if cov.saturation:
            sat, drop = cov.saturation, cov.drop

            def reach(d: SaturationReach | DropReach, side: str) -> str:
                return f"|c| = {_f(getattr(d, side))}" if getattr(d, side) is not None else "not reached"

            lines += ["### Coefficient grid", ""]
            if choice:
                lines += [f"One joint grid −{_f(choice['c_max'])} … {_f(choice['c_max'])} ({choice['n_coefficients']} "
                          f"coefficients; steps {', '.join(_f(x) for x in choice['steps'])} from 0 outwards), "
                          f"chosen from measured scales: pilot at c = ±{_f(choice['c_pilot'])} gave "
                          f"κ = {_f(choice['scales']['kappa_helpfulness'])} (‖δ‖ per unit c), σ = "
                          f"{_f(choice['scales']['sigma'])} (gap-change spread per unit norm); predicted |B| ≥ "
                          f"{_f(choice['saturation'])} at c = +{_f(choice['c_saturation'][0])} / "
                          f"−{_f(choice['c_saturation'][1])}, helpfulness drop of half of p₀ − chance at c = "
                          f"+{_f(choice['c_drop'][0])} / −{_f(choice['c_drop'][1])}; safety factor "
                          f"{_f(choice['safety'])}"
                          + (f"; widened from c_max = {', '.join(_f(x) for x in choice['widened_from'])} after "
                             "checks at ±c_max" if choice.get("widened_from") else "") + ".", ""]
            lines += [f"Measured: |B| ≥ {_f(sat.level)} first at {reach(sat, 'positive')} (c > 0) and "
                      f"{reach(sat, 'negative')} (c < 0); restricted P(correct) ≤ {_f(drop.target)} (p₀ = "
                      f"{_f(drop.p0)} minus half of p₀ − chance) at {reach(drop, 'positive')} (c > 0) and "
                      f"{reach(drop, 'negative')} (c < 0): the grid "
                      f"{'covers both targets' if cov.covered else '**does not cover every target**'}.", ""]
            for note in (choice or {}).get("notes") or []:
                lines.append(f"- {note}")
            if (choice or {}).get("notes"):
                lines.append("")
        lines += ["### Which assumptions hold", ""]
        lines += [f"- {t}" for t in assumption_statements(cond)] + [""]
        t1 = cond.t1
        lines += ["### T1 (alignment bound)", ""]
        verdict = "no violations" if t1.n_violations == 0 else f"**{t1.n_violations} VIOLATIONS (a bug)**"
        lines += [f"Checked at {t1.n_checked} (prompt, coefficient) points where A1 holds: {verdict}; smallest "
                  f"slack sign(r)(B − bound) = {_f(t1.min_slack)} (tolerance {_f(t1.atol)}). "
                  f"Outside A1: {t1.n_outside_a1} points, {t1.n_outside_a1_below_bound} of them below the "
                  "bound (not guaranteed there).", ""]
        for v in t1.violations[:10]:
            lines.append(f"- violation: prompt {v.prompt}, c = {_f(v.c)}, B = {_f(v.behaviour, 6)}, "
                         f"bound = {_f(v.bound, 6)}")
        if t1.violations:
            lines.append("")
        lines += sequence_markdown(cond.sequence)
        lines += ["### Fits (parameter ± standard error from the curve-fit covariance)", "",
                  "A fit is *not identifiable* when a parameter's relative standard error exceeds 50 % or R² < 0.5.",
                  "", "| fit | parameter | fitted | predicted | R² | identifiable |", "|---|---|---|---|---|---|"]
        fits = cond.fits
        rows = [("behaviour tanh(a c + b₀)", "behaviour_tanh", [("a (pred. κΔ/2)", "a"), ("b₀ (pred. artanh B₀)", "b0")]),
                ("P(correct), full", "bell_full", [("a (pred. (1−p₀)/p₀)", "a"), ("b (pred. σκ)", "b")]),
                ("P(correct), restricted + floor", "bell_restricted", [("a", "a"), ("b (pred. σκ)", "b")])]
        for label, key, params in rows:
            fit = getattr(fits, key)
            if not fit.converged:
                lines.append(f"| {label} | – | {fit.note or 'not fitted'} | – | – | no |")
                continue
            pred = fit.predicted
            ident = fit.identifiability
            rel = {} if ident is None else ident.relative_se
            for pl, pk in params:
                rs = rel.get(pk)
                lines.append(f"| {label} | {pl} | {_pm(getattr(fit, pk), getattr(fit, pk + '_se'))} | "
                             f"{_f(None if pred is None else getattr(pred, pk))} | "
                             f"{_f(fit.r2, 4)} | {'yes' if fit.identifiable else 'no'}"
                             f"{'' if rs is None else f' (rel. SE {100 * rs:.3g} %)'} |")
        converged = [(label, getattr(fits, key)) for label, key, _ in rows if getattr(fits, key).converged]
        notes = [(label, fit.note) for label, fit in converged if fit.note]
        notes += [(label, fit.b_agreement) for label, fit in converged if fit.b_agreement]
        notes += [(label, "not identifiable: " + "; ".join(fit.identifiability.reasons))
                  for label, fit in converged if fit.identifiability and not fit.identifiable]
        if notes:
            lines += [""] + [f"- {label}: {note}." for label, note in notes]
        lines += ["", "### T2a and T2b against the measured mean helpfulness (restricted P(correct))", ""]
        a2 = cond.assumptions.a2
        cov = a2.covariance
        lines += [f"Σ fitted as {cov.method}: diagonal {_f(cov.diagonal)}, off-diagonal "
                  f"{_f(cov.off_diagonal)} (from {cov.n_samples} question-coefficient pairs). "
                  "r = ‖δ_c(q)‖ per question. z = (measured − T2a)/SE; a significantly negative z is evidence "
                  "against A2, not a bug.", "",
                  "| c | measured ± SE | T2a bound | T2b | E[H] under fitted A2 | z |", "|---|---|---|---|---|---|"]
        t2 = cond.t2
        ch = cond.helpfulness.coefficients
        for j in _select(ch):
            expected = ("n/a" if t2.expected_c is None
                        else _pm(t2.expected_c[j], t2.expected_se_c[j]))
            lines.append(f"| {_f(ch[j])} | {_pm(t2.measured_c[j], t2.measured_se_c[j])} | {_f(t2.t2a_c[j])} | "
                         f"{_f(t2.t2b_c[j])} | {expected} | {_f(t2.z_t2a_c[j])} |")
        if t2.expected_note:
            lines += ["", f"E[H] under the A2 model: {t2.expected_note}."]
        lines += ["", f"T2b predicts a helpfulness *gain* (curvature s_H < 0, C2.1) on {t2.n_questions_gain_predicted} "
                  f"of {s.n_questions} questions; {t2.n_questions_p0_below_half} questions have p₀ < 1/2.", ""]
        lines += ["### A2 by coefficient (gap changes over question × competitor)", "",
                  "| c | n | mean | std | excess kurtosis | normality p |", "|---|---|---|---|---|---|"]
        for j in _select(ch):
            row = a2.per_coefficient[j]
            lines.append(f"| {_f(row.c)} | {row.n} | {_f(row.mean)} | {_f(row.std)} | "
                         f"{_f(row.excess_kurtosis)} | {_f(row.p_value)} |")
        lines += ["", "(every coefficient is in report.json)", ""]
        tr = cond.tradeoff
        pr, me = tr.predicted, tr.measured
        no_cross = f"none for 0 ≤ c ≤ {_f(max(tr.grid_c))} (both grids)"
        lines += ["### Tradeoff (section 4)", "",
                  "| quantity | predicted | measured |", "|---|---|---|",
                  f"| efficient regime ends (norm units r_eff) | {_f(pr.r_eff)} | – |",
                  f"| efficient regime ends (coefficient c_eff) | {_f(pr.c_eff)} | "
                  f"{_f(me.crossover_c) if me.crossover_c is not None else no_cross} |",
                  f"| best norm r*_λ (λ = {_f(tr.lam)}) | {_f(pr.r_star)} | – |",
                  f"| best coefficient c*_λ | {_f(pr.c_star)} | {_f(me.best_c)} |",
                  f"| s_A (gain slope per unit norm) | {_f(pr.s_a)} | – |",
                  f"| s_H (loss curvature per unit norm²) | {_f(pr.s_h)} | – |", ""]
        joint = tr.joint
        if joint:
            cr = joint.crossover
            lines += [f"Measured on one joint grid ({joint.joint_grid}; bootstrap over {joint.n_prompts} prompts "
                      f"and {joint.n_questions} questions, {cr.n_boot} draws, {100 * cr.level:.0f} % "
                      f"percentile intervals):", "",
                      "| quantity | measured [interval] | predicted |", "|---|---|---|",
                      f"| crossover Λ = G | {crossover_text(tr)} | c_eff = {_f(joint.predicted_c_eff)} |"]
            for lam, iv in joint.crossover_lambda.items():
                if lam == "1":
                    continue
                est = iv.estimate
                text = (f"none for 0 < c ≤ {_f(max(joint.grid_c))}" if est is None else
                        f"{_f(est)} [{_f(iv.low)}, {_f(iv.high) if iv.high is not None else 'beyond grid'}]")
                lines.append(f"| crossover λΛ = G, λ = {lam} | {text} | r_eff/λ in c units: "
                             f"{_f(None if joint.predicted_c_eff is None else joint.predicted_c_eff / float(lam))} |")
            for lam, iv in joint.best_c.items():
                hi = _f(iv.high) if iv.high is not None else "n/a"
                lines.append(f"| best c for G − λΛ, λ = {lam} | {_f(iv.estimate)} [{_f(iv.low)}, {hi}] | "
                             f"c*_λ = {_f(joint.predicted_c_star.get(lam))} |")
            lines.append("")
            for note in joint.notes or []:
                lines.append(f"- {note}")
            if joint.notes:
                lines.append("")
        pp = tr.per_pair
        if pp is not None and pp.r_eff:
            lines += [f"Per (prompt, question) pair (theory.efficient_radius / best_radius over {pp.n_pairs} pairs, "
                      f"{pp.n_infinite} infinite): r_eff median {_f(pp.r_eff.median)} "
                      f"(quartiles {_f(pp.r_eff.q25)}–{_f(pp.r_eff.q75)}), r*_λ median "
                      f"{_f(pp.r_star.median)}.", ""]
        for note in tr.notes or []:
            lines.append(f"- {note}")
        p = cond.projection
        if p:
            lines += [f"### Representations", "",
                      f"{p.class_names[0]} against {p.class_names[1]} ({p.description or 'bundle'}): "
                      f"linear separation accuracy {100 * p.accuracy_full:.1f}% in the full space, "
                      f"{100 * p.accuracy_2d:.1f}% in the first two principal components "
                      f"({100 * sum(p.explained_variance):.0f}% of the variance).", ""]
        cons = cond.consistency
        lines += [f"Bundle consistency (log-probability change against ⟨δ, u⟩, spread over tokens): behaviour "
                  f"{_f(cons.behaviour_max)}, helpfulness {_f(cons.helpfulness_max)}.", ""]
    if figures:
        lines += ["## Figures", ""] + [f"- `{f}`" for f in figures] + [""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], out_dir: str | os.PathLike, *, figures: list[str] | None = None) -> tuple[Path, Path]:
    """Write report.json and report.md into ``out_dir`` atomically; return their paths.

    >>> import tempfile
    >>> from steerbounds.validation import analyze_bundle, build_report, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20))])
    >>> [p.name for p in write_report(rep, tempfile.mkdtemp())]
    ['report.json', 'report.md']
    """
    out_dir = Path(out_dir)
    jpath, mpath = out_dir / "report.json", out_dir / "report.md"
    atomic_write_bytes(jpath, (json.dumps(report, indent=1, allow_nan=False) + "\n").encode())
    atomic_write_bytes(mpath, render_markdown(report, figures).encode())
    return jpath, mpath


def theorem_violations(report: dict[str, Any]) -> list[str]:
    """One line per condition where a theorem fails where its assumption holds (T1 where A1 holds).

    Such a violation is a bug, or a wrong model of the theory; a failing
    assumption is a finding and is not listed. ``--strict`` exits 3 on any.

    >>> theorem_violations({"conditions": {"toy": {"T1": {"n_violations": 2, "n_checked": 50}}}})
    ['toy: T1 violated at 2 of 50 (prompt, coefficient) points where A1 holds']
    """
    lines = []
    for name, cond in report.get("conditions", {}).items():
        t1 = cond.get("T1") or {}
        if t1.get("n_violations", 0):
            lines.append(f"{name}: T1 violated at {t1['n_violations']} of {t1.get('n_checked', '?')} "
                         "(prompt, coefficient) points where A1 holds")
    return lines
