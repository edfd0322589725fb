"""Figures of a report, drawn from report.json alone (nothing is recomputed).

One set per condition, each as PNG and vector PDF, with its caption in
``captions.md`` beside them:

* ``behaviour``: the S-curve (mean with 95 % error bars, each prompt in grey),
  its tanh fit and T1's bound with the region T1 allows shaded; a lower panel
  shows the slack ``sign(c) (B - bound)``, so the gap to the bound is visible;
* ``helpfulness``: the bell (restricted and full vocabulary) with its fits,
  T2a's bound, T2b's parabola and ``E[H]`` under the fitted A2, and the measured
  minus T2a's bound below;
* ``gap_changes``: the empirical distribution (ECDF) of the gap changes at a
  few coefficients, and their spread against ``c`` (a strip plot with quantile
  bands and the fitted ``sigma |c|``): both honest for discrete values;
* ``delta_norm``: ``||delta||`` against ``c`` and the direction's stability (A3);
* ``projection``: the two contrast classes in two dimensions;
* ``tradeoff``: gain and loss on the joint grid with bootstrap bands, the
  measured crossover with its interval, the best ``c`` for ``G - lam Lambda``,
  and the predictions;
* ``overview``: the paper's four panels in one full-width figure;
* ``sequence_behaviour`` (where sampled responses were measured): the
  sequence-level mean with 95 % error bars and the first-token expectation on
  the same axes (``validation/_sequence.py``).

Fits that are not identifiable (:func:`steerbounds.validation._fits.identifiability`)
are drawn as thin grey lines labelled so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from ._bundle import atomic_write_bytes
from ._fits import bell_curve, tanh_curve
from ._results import BellFit, BundleAnalysis, TanhFit
from ._sequence import sequence_figure
from ._style import PALETTE, figure_size, percent_sign, rc_params, with_titles

FORMATS = ("png", "pdf")
Z95 = 1.959964  # error bars are 95 % intervals of the mean (1.96 standard errors)


def _a(x: Any) -> np.ndarray:
    """A report list (None for undefined) as a float array (NaN for undefined)."""
    if x is None:
        return np.array([])
    return np.array([np.nan if v is None else (np.inf if v == "inf" else (-np.inf if v == "-inf" else v))
                     for v in np.ravel(np.array(x, dtype=object))], dtype=np.float64).reshape(np.shape(x))


def _save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    paths = []
    for ext in FORMATS:
        path = out_dir / f"{name}.{ext}"
        tmp = out_dir / f".{name}.tmp.{ext}"
        kwargs: dict[str, Any] = {"metadata": {"CreationDate": None}} if ext == "pdf" else {"metadata": {"Software": None}}
        fig.savefig(tmp, format=ext, **kwargs)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _g(x: float) -> str:
    """A number for a label: 3 significant digits."""
    return f"{x:.3g}"




def _legend_below(ax: Any, ncol: int = 1) -> None:
    """Legend under the panel (outside the axes), so it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.get_figure(root=False).legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="x-small")


def _title(fig: Any, style: str, cond: BundleAnalysis, what: str) -> None:
    if with_titles(style):
        fig.suptitle(f"{what}: {cond.condition.replace('_', ' ')}", fontsize="medium")


def _fit_line(ax: Any, cc: np.ndarray, y: np.ndarray, fit: TanhFit | BellFit, label: str) -> None:
    """A fitted curve: solid in the fit colour when identifiable, thin grey and labelled so otherwise."""
    if fit.identifiable:
        ax.plot(cc, y, color=PALETTE["fit"], lw=1.1, label=label, zorder=3)
    else:
        ax.plot(cc, y, color=PALETTE["individual"], lw=0.6, ls="--", zorder=2,
                label=label.split(",")[0] + " (not identifiable)")


def _mean_points(ax: Any, c: np.ndarray, mean: np.ndarray, se: np.ndarray, label: str, every: int = 1) -> None:
    """Measured means with 95 % error bars (thinned to about 25 points so the bars stay visible)."""
    step = max(1, int(np.ceil(c.size / 25))) if every == 1 else every
    idx = np.arange(0, c.size, step)
    i0 = np.flatnonzero(c == 0)
    idx = np.union1d(idx, i0)
    ax.errorbar(c[idx], mean[idx], yerr=Z95 * se[idx], fmt="o", color=PALETTE["measured"], ms=2.2, lw=0.7,
                elinewidth=0.7, capthick=0.7, label=label, zorder=4)


# ----------------------------------------------------------------------------- panels (shared by the overview)


def _behaviour_panel(ax: Any, cond: BundleAnalysis, *, individual: bool = True) -> dict[str, Any]:
    b = cond.behaviour
    c = _a(b.coefficients)
    if individual:
        for row in _a(b.b_qc):
            ax.plot(c, row, color=PALETTE["individual"], lw=0.25, alpha=0.3, zorder=1)
    mean, se = _a(b.b_mean_c), _a(b.b_se_c)
    bound = _a(b.t1_bound_mean_c)
    ok = np.isfinite(bound)
    pos, neg = ok & (c >= 0), ok & (c <= 0)
    ax.fill_between(c[pos], bound[pos], 1.0, color=PALETTE["bound"], alpha=0.12, lw=0, zorder=0,
                    label="region T1 allows (A1 holds)")
    ax.fill_between(c[neg], -1.0, bound[neg], color=PALETTE["bound"], alpha=0.12, lw=0, zorder=0)
    ax.plot(c[ok], bound[ok], "--", color=PALETTE["bound"], lw=1.0, zorder=2,
            label=r"T1 bound $\tanh(r\Delta/2+\mathrm{artanh}\,B_0)$")
    fit = cond.fits.behaviour_tanh
    if fit.converged:
        cc = np.linspace(c.min(), c.max(), 400)
        _fit_line(ax, cc, tanh_curve(cc, fit.a, fit.b0), fit,
                  rf"fit $\tanh(ac+b_0)$, $a$={_g(fit.a)}")
    _mean_points(ax, c, mean, se, f"mean $B$ (95{percent_sign()} CI)")
    ax.axhline(0, color="k", lw=0.4)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(r"behaviour $B$")
    return {"c": c, "mean": mean, "se": se, "bound": bound, "ok": ok}


def _bell_panel(ax: Any, cond: BundleAnalysis, *, which: str = "restricted") -> None:
    h, t2, fits = cond.helpfulness, cond.t2, cond.fits
    c = _a(h.coefficients)
    cc = np.linspace(c.min(), c.max(), 400)
    if which == "restricted":
        mean, se = _a(h.restricted_mean_c), _a(h.restricted_se_c)
        fit = fits.bell_restricted
        if fit.converged:
            _fit_line(ax, cc, bell_curve(cc, fit.a, fit.b, restricted=True), fit,
                      rf"fit $\frac{{0.5}}{{1+a+a b^2c^2/2}}+\frac{{1}}{{4}}$, $b$={_g(fit.b)}")
        ax.plot(c, _a(t2.t2a_c), "--", color=PALETTE["bound"], lw=1.0, label=r"T2a bound $L(r)$")
        ax.plot(c, _a(t2.t2b_c), ":", color=PALETTE["second_order"], lw=1.0, label=r"T2b $p_0-s_H r^2$")
        if t2.expected_c is not None:
            exp, exp_se = _a(t2.expected_c), _a(t2.expected_se_c)
            ax.plot(c, exp, "-.", color=PALETTE["model"], lw=0.9, label=r"$E[H_r]$ under fitted A2")
            ax.fill_between(c, exp - Z95 * exp_se, exp + Z95 * exp_se, color=PALETTE["model"], alpha=0.2, lw=0)
        n_opt = cond.sizes.n_options
        ax.axhline(1.0 / n_opt, color="k", lw=0.4, ls=(0, (1, 2)))
        ax.set_ylabel("P(correct) among options")
    else:
        mean, se = _a(h.full_mean_c), _a(h.full_se_c)
        fit = fits.bell_full
        if fit.converged:
            _fit_line(ax, cc, bell_curve(cc, fit.a, fit.b), fit,
                      rf"fit $1/(1+a+a b^2c^2/2)$, $b$={_g(fit.b)}")
        ax.set_ylabel("P(correct), full vocabulary")
    _mean_points(ax, c, mean, se, f"mean (95{percent_sign()} CI)")
    top = float(np.nanmax(mean + Z95 * se))
    ax.set_ylim(min(0.0, float(np.nanmin(mean - Z95 * se))), max(1.02, top) if which == "restricted" else 1.05 * top)


def _spread_panel(ax: Any, cond: BundleAnalysis) -> None:
    """Gap changes against c: quantile bands over every c, every value at a few c (jittered), the fitted std."""
    a2 = cond.assumptions.a2
    c = _a(cond.helpfulness.coefficients)
    samples = a2.samples
    q = (samples.quantiles_c if samples is not None else None) or {}
    if q:
        ax.fill_between(c, _a(q["q05"]), _a(q["q95"]), color=PALETTE["shade"], alpha=0.25, lw=0,
                        label=f"5-95{percent_sign()} of $X$")
        ax.fill_between(c, _a(q["q25"]), _a(q["q75"]), color=PALETTE["shade"], alpha=0.5, lw=0,
                        label=f"25-75{percent_sign()}")
    rng = np.random.default_rng(0)  # jitter only
    width = 0.012 * (c.max() - c.min())
    for k, (cj, values) in enumerate(zip(_a([] if samples is None else samples.c), [] if samples is None else samples.values)):
        x = _a(values)
        ax.scatter(cj + width * rng.uniform(-1, 1, x.size), x, s=1.2, color=PALETTE["measured"], alpha=0.35, lw=0,
                   label="every $X$ at a few $c$" if k == 0 else None, zorder=3)
    fitp = a2.std_fit
    cc = np.linspace(c.min(), c.max(), 200)
    sd = fitp.slope * np.abs(cc) + fitp.intercept
    ax.plot(cc, sd, color=PALETTE["fit"], lw=0.9, label=rf"$\pm$ std, linear in $|c|$ ($R^2$={fitp.r2:.3f})")
    ax.plot(cc, -sd, color=PALETTE["fit"], lw=0.9)
    ax.axhline(0, color="k", lw=0.4)
    ax.set_ylabel(r"gap change $X_i=\langle\delta,u_i-u_*\rangle$")


def _tradeoff_panel(ax: Any, cond: BundleAnalysis) -> None:
    t = cond.tradeoff
    joint = t.joint
    pred = t.predicted
    if joint:
        c = _a(joint.grid_c)
        gain, loss = _a(joint.gain_c), _a(joint.loss_c)
        gse, lse = _a(joint.gain_se_c), _a(joint.loss_se_c)
    else:
        c, gain, loss = _a(t.grid_c), _a(t.gain_c), _a(t.loss_c)
        gse = lse = np.zeros_like(c)
    cross = None if joint is None else joint.crossover
    est = None if cross is None else cross.estimate
    if est is not None and est > 0:
        ax.axvspan(0, est, color=PALETTE["shade"], alpha=0.12, lw=0, label=r"measured efficient regime $G>\Lambda$")
    ax.fill_between(c, gain - Z95 * gse, gain + Z95 * gse, color=PALETTE["gain"], alpha=0.25, lw=0)
    ax.fill_between(c, loss - Z95 * lse, loss + Z95 * lse, color=PALETTE["loss"], alpha=0.25, lw=0)
    ax.plot(c, gain, "-", color=PALETTE["gain"], lw=1.2, label=rf"gain $G$ (measured, 95{percent_sign()} band)")
    ax.plot(c, loss, "-", color=PALETTE["loss"], lw=1.2, label=r"loss $\Lambda$ (measured)")
    if pred.gain_slope_c is not None:
        ax.plot(c, pred.gain_slope_c * c, ":", color=PALETTE["gain"], lw=0.9, label=r"predicted $s_A\kappa c$")
    if pred.loss_curvature_c is not None:
        ax.plot(c, pred.loss_curvature_c * c**2, ":", color=PALETTE["loss"], lw=0.9,
                label=r"predicted $s_H\kappa^2c^2$")
    top = float(np.nanmax(np.concatenate([gain + Z95 * gse, loss + Z95 * lse])))
    ymax = 1.15 * max(top, 0.05)
    if est is not None:
        lo, hi = cross.low, cross.high
        if lo is not None:
            ax.axvspan(lo, hi if hi is not None else c.max(), color="k", alpha=0.08, lw=0)
        ax.axvline(est, color="k", ls="--", lw=0.8, label=rf"crossover $c$={_g(est)} (95{percent_sign()} CI shaded)")
    markers = {"0.5": "v", "1": "o", "2": "^"}
    for lam, iv in ({} if joint is None else joint.best_c).items():
        cb = iv.estimate
        j = int(np.argmin(np.abs(c - cb)))
        ax.plot([cb], [gain[j]], markers.get(lam, "s"), color="k", ms=3.5, mfc="white",
                mew=0.8, zorder=5, label=rf"best $c$ for $G-\lambda\Lambda$, $\lambda$={lam}: {_g(cb)}")
    c_eff = pred.c_eff
    if c_eff is not None and np.isfinite(c_eff):
        if c_eff <= c.max():
            ax.axvline(c_eff, color=PALETTE["model"], ls="-.", lw=0.8, label=rf"predicted $c_\mathrm{{eff}}$={_g(c_eff)}")
        else:
            ax.annotate(rf"predicted $c_\mathrm{{eff}}$={_g(c_eff)} $\rightarrow$", xy=(0.98, 0.04),
                        xycoords="axes fraction", ha="right", va="bottom", fontsize="x-small", color=PALETTE["model"])
    ax.set_ylim(min(-0.05, float(np.nanmin(loss - Z95 * lse))), ymax)
    ax.set_xlim(0, c.max())
    ax.set_ylabel("change from $c=0$")


# ----------------------------------------------------------------------------- figures


def _ident_words(fit: TanhFit | BellFit) -> str:
    ident = fit.identifiability
    if not fit.converged:
        return f"not fitted ({fit.note or 'did not converge'})"
    if fit.identifiable:
        return "identifiable"
    return "not identifiable: " + "; ".join([] if ident is None else ident.reasons)


def _behaviour(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    fig = Figure(figsize=figure_size(style, 1, rows=1.45), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.2])
    info = _behaviour_panel(ax, cond)
    c, ok = info["c"], info["ok"]
    slack = np.sign(c) * (info["mean"] - info["bound"])
    ax2.axhline(0, color=PALETTE["bound"], lw=0.8, ls="--")
    ax2.errorbar(c[ok], slack[ok], yerr=Z95 * info["se"][ok], fmt="o", ms=1.8, color=PALETTE["measured"],
                 elinewidth=0.5, capthick=0.5)
    ax2.set_ylabel(r"sign$(c)(B-$bound$)$", fontsize="x-small")
    ax2.set_xlabel(r"steering coefficient $c$")
    _legend_below(ax, ncol=2)
    _title(fig, style, cond, "Alignment S-curve")
    fit = cond.fits.behaviour_tanh
    caption = (f"Behaviour $B=(P_+-P_-)/(P_++P_-)$ against the steering coefficient ({cond.condition}). Black: "
               f"mean over {cond.sizes.n_prompts} prompts with 95 % intervals; grey: each prompt. Dashed: "
               "T1's bound (mean over prompts where A1 holds), with the region it allows shaded; the lower panel "
               "shows the slack sign(c)(B - bound), which T1 says is non-negative. Blue: the fit tanh(ac + b0), "
               f"{_ident_words(fit)}" + (f", a = {_g(fit.a)} +- {_g(fit.a_se)} (predicted kappa Delta/2 = "
                                         f"{_g(fit.predicted.a)})" if fit.converged and
                                         fit.predicted is not None and fit.predicted.a is not None else "") + ".")
    return fig, caption


def _helpfulness(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    fig = Figure(figsize=figure_size(style, 2, rows=1.45), layout="constrained")
    subs = fig.subfigures(1, 2)
    t2 = cond.t2
    c = _a(cond.helpfulness.coefficients)
    for sf, which in zip(subs, ("restricted", "full")):
        if which == "restricted":
            ax, ax2 = sf.subplots(2, 1, sharex=True, height_ratios=[3, 1.2])
            _bell_panel(ax, cond, which=which)
            diff = _a(t2.measured_c) - _a(t2.t2a_c)
            ax2.axhline(0, color=PALETTE["bound"], lw=0.8, ls="--")
            ax2.errorbar(c, diff, yerr=Z95 * _a(t2.measured_se_c), fmt="o", ms=1.5, color=PALETTE["measured"],
                         elinewidth=0.4, capthick=0.4)
            ax2.set_ylabel("measured - T2a", fontsize="x-small")
            ax2.set_xlabel(r"steering coefficient $c$")
            handles, labels = ax.get_legend_handles_labels()
            sf.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="x-small")
        else:
            ax = sf.subplots(1, 1)
            _bell_panel(ax, cond, which=which)
            ax.set_xlabel(r"steering coefficient $c$")
            _legend_below(ax)
    _title(fig, style, cond, "Helpfulness bell")
    fits = cond.fits
    fb, fr = fits.bell_full, fits.bell_restricted
    pred_b = None if fb.predicted is None else fb.predicted.b
    caption = (f"Helpfulness against the steering coefficient ({cond.condition}), mean over "
               f"{cond.sizes.n_questions} questions with 95 % intervals. Left: P(correct) among the options, "
               "with T2a's bound (dashed), T2b's second-order parabola (dotted) and the expectation under the fitted "
               "A2 model (dash-dot); the lower panel shows measured minus T2a's bound. Right: P(correct) over the "
               f"whole vocabulary with the bell 1/(1 + a + a b^2 c^2/2): {_ident_words(fb)}"
               + (f", b = {_g(fb.b)} +- {_g(fb.b_se)} against the predicted sigma kappa = {_g(pred_b)}"
                  if fb.converged and pred_b is not None else "")
               + f". Restricted form with the chance floor: {_ident_words(fr)}.")
    return fig, caption


def _gap_changes(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    a2 = cond.assumptions.a2
    samples = a2.samples
    fig = Figure(figsize=figure_size(style, 2), layout="constrained")
    s1, s2 = fig.subfigures(1, 2)
    ax1, ax2 = s1.add_subplot(), s2.add_subplot()
    cmap = __import__("matplotlib").colormaps["viridis"]
    cs = _a([] if samples is None else samples.c)
    for i, (cj, values) in enumerate(zip(cs, [] if samples is None else samples.values)):
        x = _a(values)
        y = np.arange(1, x.size + 1) / x.size
        ax1.step(x, y, where="post", color=cmap(i / max(cs.size - 1, 1)), lw=0.9, label=rf"$c$={_g(cj)}")
    ax1.set_xlabel(r"gap change $X_i=\langle\delta,u_i-u_*\rangle$")
    ax1.set_ylabel("empirical CDF")
    _legend_below(ax1, ncol=3)
    _spread_panel(ax2, cond)
    ax2.set_xlabel(r"steering coefficient $c$")
    _legend_below(ax2, ncol=2)
    _title(fig, style, cond, "Gap changes")
    distinct = [] if samples is None else samples.n_distinct
    caption = (f"Gap changes X_i = <delta, u_i - u_*> over (question, competitor) pairs ({cond.condition}). "
               "Left: their empirical distribution function at a few coefficients"
               + (f" ({min(distinct)}-{max(distinct)} distinct values each)" if distinct else "")
               + ". Right: quantile bands over every coefficient, every value at the same few coefficients "
                 f"(jittered), and plus/minus the standard deviation fitted linearly in |c| (A2: slope "
                 f"{_g(a2.std_fit.slope)}, R^2 = {a2.std_fit.r2:.3f}).")
    return fig, caption


def _delta_norm(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    a3 = cond.assumptions.a3
    fig = Figure(figsize=figure_size(style, 2), layout="constrained")
    s1, s2 = fig.subfigures(1, 2)
    ax1, ax2 = s1.add_subplot(), s2.add_subplot()
    for part, color in (("behaviour", PALETTE["fit"]), ("helpfulness", PALETTE["loss"])):
        c = _a(getattr(cond, part).coefficients)
        norms = _a(getattr(a3, part).norm_qc)
        for row in norms:
            ax1.plot(c, row, color=color, lw=0.3, alpha=0.25)
        kappa = float(getattr(a3, part).kappa_summary.median)
        ax1.plot(c, norms.mean(0), "o", color=color, ms=2, label=f"{part} prompts (mean)")
        ax1.plot(c, kappa * np.abs(c), "--", color=color, lw=0.8, label=rf"$\kappa|c|$, median $\kappa$={_g(kappa)}")
        cos = _a(getattr(a3, part).cos_ref_qc)
        defined = np.isfinite(cos).all(axis=0)  # undefined only at c = 0
        ax2.plot(c[defined], cos[:, defined].mean(axis=0), "o-", color=color, ms=2, lw=0.8, label=f"{part} (mean)")
        ax2.plot(c[defined], cos[:, defined].min(axis=0), ":", color=color, lw=0.8, label=f"{part} (min)")
    ax1.set_xlabel(r"steering coefficient $c$")
    ax1.set_ylabel(r"$\|\delta_c\|$")
    _legend_below(ax1)
    ax2.set_xlabel(r"steering coefficient $c$")
    ax2.set_ylabel(r"$\cos(\hat\delta_c,\hat\delta_{c_0})$")
    _legend_below(ax2)
    _title(fig, style, cond, "Steering response")
    caption = (f"A3 ({cond.condition}): left, the norm of the change of the final representation against c, per "
               "prompt (thin) and on average (points), with kappa |c| for the median kappa; right, the cosine "
               "between the change's direction at c and at a reference coefficient (mean and minimum over prompts).")
    return fig, caption


def _projection(cond: BundleAnalysis, style: str) -> tuple[Figure, str] | None:
    p = cond.projection
    if not p:
        return None
    xy = _a(p.coords_n2)
    labels = np.asarray(p.labels_n)
    fig = Figure(figsize=figure_size(style, 1), layout="constrained")
    ax = fig.add_subplot()
    for k, color, marker in ((0, PALETTE["class0"], "o"), (1, PALETTE["class1"], "^")):
        sel = labels == k
        ax.scatter(xy[sel, 0], xy[sel, 1], s=9, color=color, marker=marker, alpha=0.8, lw=0,
                   label=p.class_names[k])
    ev = p.explained_variance
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}{percent_sign()} of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}{percent_sign()} of variance)")
    ax.legend(loc="best", title=f"linear separation: {100 * p.accuracy_full:.0f}{percent_sign()}", title_fontsize="x-small")
    _title(fig, style, cond, "Representations")
    caption = (f"The two contrast classes ({p.class_names[0]}; {p.class_names[1]}) in the first two principal "
               f"components of {p.description or 'the representations'} ({cond.condition}); a linear rule "
               f"separates {100 * p.accuracy_full:.1f} % of them in the full space.")
    return fig, caption


def _crossover_words(cond: BundleAnalysis) -> str:
    joint = cond.tradeoff.joint
    cross = None if joint is None else joint.crossover
    if cross is None or cross.estimate is None:
        top = max(_a(joint.grid_c).tolist() or [0]) if joint is not None else 0
        return f"the loss stays below the gain for 0 < c <= {_g(top)}"
    lo, hi = cross.low, cross.high
    return (f"the measured crossover is c = {_g(cross.estimate)} (95 % bootstrap interval "
            f"{'n/a' if lo is None else _g(lo)} to {'beyond the grid' if hi is None else _g(hi)})")


def _tradeoff(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    fig = Figure(figsize=figure_size(style, 1, rows=1.3), layout="constrained")
    ax = fig.add_subplot()
    _tradeoff_panel(ax, cond)
    ax.set_xlabel(r"steering coefficient $c\geq 0$")
    _legend_below(ax)
    _title(fig, style, cond, "Tradeoff")
    pred = cond.tradeoff.predicted
    best = {} if cond.tradeoff.joint is None else cond.tradeoff.joint.best_c
    caption = (f"Alignment gain G(c) = B(c) - B(0) and helpfulness loss Lambda(c) = H(0) - H(c) (restricted "
               f"P(correct)) on one joint grid ({cond.condition}), with 95 % bootstrap bands over prompts and "
               f"questions, against the predictions s_A kappa c and s_H kappa^2 c^2 (dotted). {_crossover_words(cond)}; "
               f"the predicted c_eff is {'n/a' if pred.c_eff is None else _g(pred.c_eff)}. Open markers: "
               "the measured best c for G - lambda Lambda (on the gain curve), "
               + ", ".join(f"lambda = {lam}: {_g(iv.estimate)}" for lam, iv in best.items()) + ".")
    return fig, caption


def _overview(cond: BundleAnalysis, style: str) -> tuple[Figure, str]:
    fig = Figure(figsize=figure_size(style, 2, rows=2.35), layout="constrained")
    subs = fig.subfigures(2, 2)
    panels: list[tuple[str, Callable[[Any], None], str]] = [
        ("a", lambda ax: _behaviour_panel(ax, cond), r"steering coefficient $c$"),
        ("b", lambda ax: _bell_panel(ax, cond, which="restricted"), r"steering coefficient $c$"),
        ("c", lambda ax: _spread_panel(ax, cond), r"steering coefficient $c$"),
        ("d", lambda ax: _tradeoff_panel(ax, cond), r"steering coefficient $c\geq 0$"),
    ]
    for sf, (letter, draw, xlabel) in zip(np.ravel(subs), panels):
        ax = sf.add_subplot()
        draw(ax)
        ax.set_xlabel(xlabel)
        ax.text(-0.02, 1.02, f"({letter})", transform=ax.transAxes, ha="right", va="bottom", fontweight="bold")
        _legend_below(ax, ncol=2)
    _title(fig, style, cond, "Overview")
    fits = cond.fits
    caption = (f"Overview ({cond.condition}). (a) Behaviour against c: mean with 95 % intervals, each prompt in "
               f"grey, the tanh fit ({_ident_words(fits.behaviour_tanh)}) and T1's bound with the region it "
               f"allows. (b) P(correct) among the options: mean, the restricted bell "
               f"({_ident_words(fits.bell_restricted)}), T2a's bound, T2b and E[H] under the fitted A2. (c) The "
               "spread of the gap changes against c: quantile bands, every value at a few c, and the fitted "
               f"standard deviation. (d) Gain and loss on the joint grid: {_crossover_words(cond)}.")
    return fig, caption


FIGURES: dict[str, Callable[[BundleAnalysis, str], tuple[Figure, str] | None]] = {
    "overview": _overview,
    "behaviour": _behaviour,
    "helpfulness": _helpfulness,
    "gap_changes": _gap_changes,
    "delta_norm": _delta_norm,
    "projection": _projection,
    "tradeoff": _tradeoff,
    "sequence_behaviour": sequence_figure,  # drawn only where sampled responses were measured
}


def plot_report(report: dict[str, Any], out_dir: str | os.PathLike, *, style: str = "paper") -> list[Path]:
    """Draw every figure of ``report`` (the dict of report.json) into ``out_dir`` as PNG and PDF, with captions.

    Returns the written paths (``<condition>_<figure>.png`` and ``.pdf``, then
    ``captions.md``, which holds one caption per figure: the ``paper`` style has
    no titles in the figures).

    >>> import tempfile
    >>> from steerbounds.validation import analyze_bundle, build_report, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=3, n_questions=20))])
    >>> names = sorted(p.name for p in plot_report(rep, tempfile.mkdtemp()))
    >>> names[:3], "captions.md" in names
    (['captions.md', 'synthetic_behaviour.pdf', 'synthetic_behaviour.png'], True)
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conditions = report.get("conditions")
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError("report: no 'conditions' to plot; pass a report.json written by steerbounds")
    conditions = {name: BundleAnalysis.from_dict(cond) for name, cond in conditions.items()}
    paths: list[Path] = []
    captions = ["# Figure captions", "",
                "Each figure is written as PNG and PDF; error bars and bands are 95 % intervals.", ""]
    with rc_context(rc_params(style)):
        for name, cond in conditions.items():
            for fig_name, draw in FIGURES.items():
                drawn = draw(cond, style)
                if drawn is None:
                    continue
                fig, caption = drawn
                paths += _save(fig, out_dir, f"{name}_{fig_name}")
                captions += [f"## `{name}_{fig_name}`", "", caption, ""]
    path = out_dir / "captions.md"
    atomic_write_bytes(path, "\n".join(captions).encode())
    paths.append(path)
    return paths
