"""One matplotlib style for every figure: ``paper`` (column-width, small type) or ``slides``.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no
GUI backend): PNG through Agg, vector PDF with embedded TrueType fonts. Text uses
mathtext, so no LaTeX installation is needed, and labels are LaTeX-friendly.
"""

from __future__ import annotations

from typing import Any

# Okabe-Ito, distinguishable in colour-vision deficiency and in greyscale print.
PALETTE = {
    "measured": "#000000",
    "fit": "#0072B2",
    "bound": "#D55E00",
    "second_order": "#009E73",
    "model": "#CC79A7",
    "gain": "#0072B2",
    "loss": "#D55E00",
    "class0": "#0072B2",
    "class1": "#E69F00",
    "individual": "#999999",
    "shade": "#56B4E9",
}

STYLES: dict[str, dict[str, Any]] = {
    "paper": {
        "width": 3.4,  # inches: one column of a two-column paper
        "height": 2.5,
        "rc": {
            "font.size": 8, "axes.labelsize": 8, "axes.titlesize": 8, "legend.fontsize": 6.5,
            "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.2, "lines.markersize": 3,
            "axes.linewidth": 0.6, "legend.frameon": False, "figure.dpi": 200, "savefig.dpi": 300,
        },
    },
    "slides": {
        "width": 6.4,
        "height": 4.2,
        "rc": {
            "font.size": 14, "axes.labelsize": 14, "axes.titlesize": 14, "legend.fontsize": 11,
            "xtick.labelsize": 12, "ytick.labelsize": 12, "lines.linewidth": 2.0, "lines.markersize": 5,
            "axes.linewidth": 1.0, "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": 150,
        },
    },
}

COMMON_RC: dict[str, Any] = {
    "text.usetex": False,
    "mathtext.fontset": "dejavusans",
    "font.family": "DejaVu Sans",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


def style_names() -> list[str]:
    """Names accepted by ``--style``.

    >>> style_names()
    ['paper', 'slides']
    """
    return list(STYLES)


def rc_params(style: str) -> dict[str, Any]:
    """The matplotlib rcParams of ``style`` (use with ``matplotlib.rc_context``).

    >>> rc_params("paper")["pdf.fonttype"]
    42
    """
    if style not in STYLES:
        raise ValueError(f"style={style!r}: unknown; choose one of {style_names()}")
    return {**COMMON_RC, **STYLES[style]["rc"]}


def figure_size(style: str, ncols: int = 1) -> tuple[float, float]:
    """Figure size in inches for ``ncols`` panels side by side.

    >>> figure_size("paper", 2)
    (6.8, 2.5)
    """
    s = STYLES[style]
    return (round(s["width"] * ncols, 3), s["height"])
