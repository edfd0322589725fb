"""Figures of a report, drawn from report.json alone (nothing is recomputed).

One set per condition: the behaviour S-curve with its tanh fit and the T1 bound;
the helpfulness bell (restricted and full) with its fits, T2a's bound and T2b's
parabola; the gap-change histograms and their standard deviation against ``c``;
``||delta||`` against ``c`` with the direction's stability; the 2-D projection of
the two classes; and the tradeoff with the efficient regime shaded. Each is
written as PNG and as vector PDF.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from ._fits import bell_curve, tanh_curve
from ._style import PALETTE, figure_size, rc_params

FORMATS = ("png", "pdf")


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


def _panels(style: str, n: int = 1) -> tuple[Figure, list[Any]]:
    """A figure of ``n`` panels side by side, each in its own subfigure (so each can hold a legend below it)."""
    fig = Figure(figsize=figure_size(style, n), layout="constrained")
    subs = fig.subfigures(1, n) if n > 1 else [fig]
    return fig, [sf.add_subplot() for sf in np.atleast_1d(subs)]


def _legend_below(ax: Any, ncol: int = 1) -> None:
    """Legend under the panel (outside the axes), so it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    ax.get_figure(root=False).legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="x-small")


def _title(fig: Figure, cond: dict[str, Any], what: str) -> None:
    fig.suptitle(f"{what} — {cond['condition'].replace('_', ' ')}", fontsize="medium")


def _behaviour(cond: dict[str, Any], style: str) -> Figure:
    b = cond["behaviour"]
    c = _a(b["coefficients"])
    fig, (ax,) = _panels(style)
    for row in _a(b["b_qc"]):
        ax.plot(c, row, color=PALETTE["individual"], lw=0.3, alpha=0.35)
    mean, se = _a(b["b_mean_c"]), _a(b["b_se_c"])
    ax.fill_between(c, mean - se, mean + se, color=PALETTE["measured"], alpha=0.15, lw=0)
    ax.plot(c, mean, "o", color=PALETTE["measured"], ms=2.5, label=r"measured mean $B$ ($\pm$SE)")
    fit = cond["fits"]["behaviour_tanh"]
    if fit.get("converged"):
        cc = np.linspace(c.min(), c.max(), 400)
        ax.plot(cc, tanh_curve(cc, fit["a"], fit["b0"]), color=PALETTE["fit"],
                label=rf"fit $\tanh(ac+b_0)$, $a$={fit['a']:.3g}, $b_0$={fit['b0']:.3g}")
    bound = _a(b["t1_bound_mean_c"])
    ok = np.isfinite(bound)
    ax.plot(c[ok], bound[ok], "--", color=PALETTE["bound"],
            label=r"T1 bound $\tanh(r\Delta/2+\mathrm{artanh}\,B_0)$ (mean, A1 holds)")
    ax.axhline(0, color="k", lw=0.4)
    ax.set_xlabel(r"steering coefficient $c$")
    ax.set_ylabel(r"behaviour $B=(P_+-P_-)/(P_++P_-)$")
    ax.set_ylim(-1.05, 1.05)
    _legend_below(ax)
    _title(fig, cond, "Alignment S-curve")
    return fig


def _helpfulness(cond: dict[str, Any], style: str) -> Figure:
    h, t2, fits = cond["helpfulness"], cond["T2"], cond["fits"]
    c = _a(h["coefficients"])
    cc = np.linspace(c.min(), c.max(), 400)
    fig, (ax1, ax2) = _panels(style, 2)
    mean, se = _a(h["restricted_mean_c"]), _a(h["restricted_se_c"])
    ax1.fill_between(c, mean - se, mean + se, color=PALETTE["measured"], alpha=0.15, lw=0)
    ax1.plot(c, mean, "o", color=PALETTE["measured"], ms=2.5, label=r"measured mean ($\pm$SE)")
    fit = fits["bell_restricted"]
    if fit.get("converged"):
        ax1.plot(cc, bell_curve(cc, fit["a"], fit["b"], restricted=True), color=PALETTE["fit"],
                 label=rf"fit $0.5/(1+a+a\frac{{b^2}}{{2}}c^2)+0.25$, $b$={fit['b']:.3g}")
    ax1.plot(c, _a(t2["t2a_c"]), "--", color=PALETTE["bound"], label=r"T2a bound $L(r)$")
    ax1.plot(c, _a(t2["t2b_c"]), ":", color=PALETTE["second_order"], label=r"T2b $p_0-s_H r^2$")
    if t2.get("expected_c") is not None:
        exp, exp_se = _a(t2["expected_c"]), _a(t2["expected_se_c"])
        ax1.plot(c, exp, "-.", color=PALETTE["model"], lw=0.9, label=r"$E[H_r]$ under fitted A2")
        ax1.fill_between(c, exp - 2 * exp_se, exp + 2 * exp_se, color=PALETTE["model"], alpha=0.15, lw=0)
    ax1.set_ylim(0, 1.02)
    ax1.set_xlabel(r"steering coefficient $c$")
    ax1.set_ylabel(r"P(correct) among the options")
    ax1.set_title("restricted", fontsize="medium")
    _legend_below(ax1)
    mean, se = _a(h["full_mean_c"]), _a(h["full_se_c"])
    ax2.fill_between(c, mean - se, mean + se, color=PALETTE["measured"], alpha=0.15, lw=0)
    ax2.plot(c, mean, "o", color=PALETTE["measured"], ms=2.5, label=r"measured mean ($\pm$SE)")
    fit = fits["bell_full"]
    if fit.get("converged"):
        ax2.plot(cc, bell_curve(cc, fit["a"], fit["b"]), color=PALETTE["fit"],
                 label=rf"fit $1/(1+a+a\frac{{b^2}}{{2}}c^2)$, $b$={fit['b']:.3g}")
    ax2.set_ylim(0, max(1.05 * float(np.nanmax(mean + se)), 0.05))
    ax2.set_xlabel(r"steering coefficient $c$")
    ax2.set_ylabel(r"P(correct) over the vocabulary")
    ax2.set_title("full vocabulary", fontsize="medium")
    _legend_below(ax2)
    _title(fig, cond, "Helpfulness bell")
    return fig


def _gap_changes(cond: dict[str, Any], style: str) -> Figure:
    a2 = cond["assumptions"]["A2"]
    c = _a(cond["helpfulness"]["coefficients"])
    hist = a2["histograms"]
    edges = _a(hist["edges"])
    counts = _a(hist["counts_cb"])
    centers = (edges[1:] + edges[:-1]) / 2
    fig, (ax1, ax2) = _panels(style, 2)
    positive = np.flatnonzero(c > 0)
    pick = positive[np.unique(np.linspace(0, positive.size - 1, min(5, positive.size)).round().astype(int))]
    cmap = __import__("matplotlib").colormaps["viridis"]
    width = edges[1] - edges[0]
    for i, j in enumerate(pick):
        dens = counts[j] / max(counts[j].sum() * width, 1e-300)
        ax1.step(centers, dens, where="mid", color=cmap(i / max(len(pick) - 1, 1)), label=rf"$c$={c[j]:.3g}")
    ax1.set_xlabel(r"gap change $X_i=\langle\delta,u_i-u_*\rangle$")
    ax1.set_ylabel("density")
    _legend_below(ax1, ncol=3)
    ax1.set_title("distribution over (question, competitor)", fontsize="medium")
    std = _a(a2["std_c"])
    fitp = a2["std_fit"]
    ax2.plot(c, std, "o", color=PALETTE["measured"], ms=2.5, label=r"measured std of $X$")
    cc = np.linspace(c.min(), c.max(), 200)
    ax2.plot(cc, fitp["slope"] * np.abs(cc) + fitp["intercept"], color=PALETTE["fit"],
             label=rf"linear in $|c|$: slope {fitp['slope']:.3g}, $R^2$={fitp['r2']:.3f}")
    ax2.set_xlabel(r"steering coefficient $c$")
    ax2.set_ylabel(r"std of $X_i$")
    _legend_below(ax2)
    ax2.set_title("A2: spread against the coefficient", fontsize="medium")
    _title(fig, cond, "Gap changes")
    return fig


def _delta_norm(cond: dict[str, Any], style: str) -> Figure:
    a3 = cond["assumptions"]["A3"]
    fig, (ax1, ax2) = _panels(style, 2)
    for part, key, color in (("behaviour", "behaviour", PALETTE["fit"]), ("helpfulness", "helpfulness", PALETTE["loss"])):
        c = _a(cond[part]["coefficients"])
        norms = _a(a3[key]["norm_qc"])
        for row in norms:
            ax1.plot(c, row, color=color, lw=0.3, alpha=0.25)
        kappa = float(a3[key]["kappa_summary"]["median"])
        ax1.plot(c, norms.mean(0), "o", color=color, ms=2, label=f"{part} prompts (mean)")
        ax1.plot(c, kappa * np.abs(c), "--", color=color, lw=0.8,
                 label=rf"$\kappa|c|$, median $\kappa$={kappa:.3g}")
        cos = _a(a3[key]["cos_ref_qc"])
        defined = np.isfinite(cos).all(axis=0)  # undefined only at c = 0
        ax2.plot(c[defined], cos[:, defined].mean(axis=0), "o-", color=color, ms=2, lw=0.8, label=f"{part} (mean)")
        ax2.plot(c[defined], cos[:, defined].min(axis=0), ":", color=color, lw=0.8, label=f"{part} (min)")
    ax1.set_xlabel(r"steering coefficient $c$")
    ax1.set_ylabel(r"$\|\delta_c\|$")
    _legend_below(ax1)
    ax1.set_title("A3: norm of the representation change", fontsize="medium")
    ax2.set_xlabel(r"steering coefficient $c$")
    ax2.set_ylabel(r"$\cos(\hat\delta_c,\hat\delta_{c_0})$")
    ax2.set_title(r"A3: stability of $\hat\delta$", fontsize="medium")
    _legend_below(ax2)
    _title(fig, cond, r"Steering response")
    return fig


def _projection(cond: dict[str, Any], style: str) -> Figure | None:
    p = cond.get("projection")
    if not p:
        return None
    xy = _a(p["coords_n2"])
    labels = np.asarray(p["labels_n"])
    fig, (ax,) = _panels(style)
    for k, color, marker in ((0, PALETTE["class0"], "o"), (1, PALETTE["class1"], "^")):
        sel = labels == k
        ax.scatter(xy[sel, 0], xy[sel, 1], s=9, color=color, marker=marker, alpha=0.8, lw=0,
                   label=p["class_names"][k])
    ev = p["explained_variance"]
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}% of variance)")
    ax.legend(loc="best", title=f"linear separation: {100 * p['accuracy_full']:.0f}%", title_fontsize="x-small")
    _title(fig, cond, "Representations")
    return fig


def _tradeoff(cond: dict[str, Any], style: str) -> Figure:
    t = cond["tradeoff"]
    c = _a(t["grid_c"])
    pred = t["predicted"]
    fig, (ax,) = _panels(style)
    c_eff = pred.get("c_eff")
    if c_eff is not None and np.isfinite(c_eff) and c_eff > 0:
        ax.axvspan(0, min(c_eff, c.max()), color=PALETTE["shade"], alpha=0.15, lw=0,
                   label=rf"efficient regime (predicted $c_\mathrm{{eff}}$={c_eff:.3g})")
    ax.plot(c, _a(t["gain_c"]), "o", color=PALETTE["gain"], ms=2.5, label=r"alignment gain $G$ (measured)")
    ax.plot(c, _a(t["loss_c"]), "s", color=PALETTE["loss"], ms=2.5, label=r"helpfulness loss $\Lambda$ (measured)")
    ax.plot(c, _a(pred["gain_c"]), "-", color=PALETTE["gain"], lw=0.9, label=r"predicted $s_A\kappa c$")
    ax.plot(c, _a(pred["loss_c"]), "-", color=PALETTE["loss"], lw=0.9, label=r"predicted $s_H\kappa^2c^2$")
    cross = t["measured"]["crossover_c"]
    if cross is not None:
        ax.axvline(cross, color="k", ls="--", lw=0.7, label=f"measured crossover c={cross:.3g}")
    ax.axvline(t["measured"]["best_c"], color="k", ls=":", lw=0.7,
               label=rf"measured best $c$ for $G-\lambda\Lambda$, $\lambda$={t['lam']:g}")
    top = np.nanmax(np.concatenate([_a(t["gain_c"]), _a(t["loss_c"])]))
    ax.set_ylim(min(-0.05, float(np.nanmin(_a(t["loss_c"])))), 1.15 * max(float(top), 0.05))
    ax.set_xlabel(r"steering coefficient $c\geq 0$")
    ax.set_ylabel("change from $c=0$")
    _legend_below(ax)
    _title(fig, cond, "Tradeoff")
    return fig


FIGURES = {
    "behaviour": _behaviour,
    "helpfulness": _helpfulness,
    "gap_changes": _gap_changes,
    "delta_norm": _delta_norm,
    "projection": _projection,
    "tradeoff": _tradeoff,
}


def plot_report(report: dict[str, Any], out_dir: str | os.PathLike, *, style: str = "paper") -> list[Path]:
    """Draw every figure of ``report`` (the dict of report.json) into ``out_dir`` as PNG and PDF.

    Returns the written paths (``<condition>_<figure>.png`` and ``.pdf``).

    >>> import tempfile
    >>> from steerbounds.validation import analyze_bundle, build_report, synthetic_bundle
    >>> rep = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=3, n_questions=20))])
    >>> sorted(p.name for p in plot_report(rep, tempfile.mkdtemp()))[:2]
    ['synthetic_behaviour.pdf', 'synthetic_behaviour.png']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conditions = report.get("conditions")
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError("report: no 'conditions' to plot; pass a report.json written by steerbounds")
    paths: list[Path] = []
    with rc_context(rc_params(style)):
        for name, cond in conditions.items():
            for fig_name, draw in FIGURES.items():
                fig = draw(cond, style)
                if fig is None:
                    continue
                paths += _save(fig, out_dir, f"{name}_{fig_name}")
    return paths
