"""One matplotlib style for every figure: ``paper`` (column-width, small type) or ``slides``.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no
GUI backend): PNG through Agg, vector PDF with embedded TrueType fonts. ``paper``
(3.3 in one column, 6.8 in full width, serif, no titles: captions go to
``figures/captions.md``) typesets text with LaTeX when a TeX installation is
present and with mathtext otherwise; ``slides`` is larger, sans-serif, titled.
"""

from __future__ import annotations

import functools
import io
import shutil
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
        "widths": {1: 3.3, 2: 6.8},  # inches: one column and the full width of a two-column paper
        "height": 2.4,
        "titles": False,  # a paper's captions carry the titles (figures/captions.md)
        "rc": {
            "font.size": 8, "axes.labelsize": 8, "axes.titlesize": 8, "legend.fontsize": 6.5,
            "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.2, "lines.markersize": 3,
            "axes.linewidth": 0.6, "legend.frameon": False, "figure.dpi": 200, "savefig.dpi": 300,
            "font.family": "serif", "font.serif": ["DejaVu Serif"], "mathtext.fontset": "dejavuserif",
            "errorbar.capsize": 1.5,
        },
    },
    "slides": {
        "widths": {1: 6.4, 2: 12.8},
        "height": 4.2,
        "titles": True,
        "rc": {
            "font.size": 14, "axes.labelsize": 14, "axes.titlesize": 14, "legend.fontsize": 11,
            "xtick.labelsize": 12, "ytick.labelsize": 12, "lines.linewidth": 2.0, "lines.markersize": 5,
            "axes.linewidth": 1.0, "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": 150,
            "font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "errorbar.capsize": 2.5,
        },
    },
}

COMMON_RC: dict[str, Any] = {
    "text.usetex": False,
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


@functools.lru_cache(maxsize=1)
def tex_available() -> bool:
    """Whether a TeX installation can typeset figure text (latex, dvipng and a test render all work)."""
    if not (shutil.which("latex") and shutil.which("dvipng") and shutil.which("kpsewhich")):
        return False
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure

        with rc_context({"text.usetex": True, "font.family": "serif"}):
            fig = Figure(figsize=(1, 1))
            fig.text(0.5, 0.5, r"$\tanh(a c + b_0)$")
            fig.savefig(io.BytesIO(), format="png")
        return True
    except Exception:  # noqa: BLE001 - any failure of the TeX tool chain means: use mathtext
        return False


def rc_params(style: str) -> dict[str, Any]:
    """The matplotlib rcParams of ``style`` (use with ``matplotlib.rc_context``).

    ``paper`` typesets text with LaTeX when a TeX installation is present
    (:func:`tex_available`) and with matplotlib's mathtext otherwise.

    >>> rc_params("paper")["pdf.fonttype"], rc_params("paper")["font.family"]
    (42, 'serif')
    """
    if style not in STYLES:
        raise ValueError(f"style={style!r}: unknown; choose one of {style_names()}")
    rc = {**COMMON_RC, **STYLES[style]["rc"]}
    if style == "paper" and tex_available():
        rc.update({"text.usetex": True, "font.serif": ["Computer Modern Roman"]})
    return rc


def uses_tex(style: str) -> bool:
    """Whether ``style``'s figures are typeset by LaTeX (labels must then be LaTeX-safe)."""
    return bool(rc_params(style)["text.usetex"])


def percent_sign() -> str:
    """A percent sign for figure labels: escaped when LaTeX typesets the figure (LaTeX reads % as a comment).

    >>> percent_sign() in ("%", r"\\%")
    True
    """
    import matplotlib

    return r"\%" if matplotlib.rcParams["text.usetex"] else "%"


def with_titles(style: str) -> bool:
    """Whether figures of ``style`` carry titles (``paper``: no, its captions go to captions.md).

    >>> with_titles("paper"), with_titles("slides")
    (False, True)
    """
    if style not in STYLES:
        raise ValueError(f"style={style!r}: unknown; choose one of {style_names()}")
    return bool(STYLES[style]["titles"])


def figure_size(style: str, ncols: int = 1, *, rows: float = 1.0) -> tuple[float, float]:
    """Figure size in inches: one column (``ncols=1``) or the full width (``ncols=2``), ``rows`` panel heights.

    >>> figure_size("paper", 1), figure_size("paper", 2), figure_size("paper", 2, rows=2)
    ((3.3, 2.4), (6.8, 2.4), (6.8, 4.8))
    """
    if style not in STYLES:
        raise ValueError(f"style={style!r}: unknown; choose one of {style_names()}")
    s = STYLES[style]
    if ncols not in s["widths"]:
        raise ValueError(f"ncols={ncols}: figures are one column (1) or full width (2)")
    return (s["widths"][ncols], round(s["height"] * rows, 3))
