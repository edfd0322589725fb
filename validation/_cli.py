"""Subcommands of ``steerbounds`` that belong to the validation layer: analyze and plot (bundle in, report out)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._bundle import BundleError
from ._pipeline import analyze_bundles
from ._plots import plot_report
from . import _report
from ._report import load_report


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this layer's subcommands; each sets ``func(args) -> exit status``."""
    p = subparsers.add_parser(
        "analyze",
        help="validate the theory on activation bundles (docs/bundle.md)",
        description="Run the same validation as reproduce on one or more activation bundles "
                    "(each a folder with manifest.json and arrays.safetensors).",
    )
    p.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE", help="bundle folder(s)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: BUNDLE/../report)")
    p.add_argument("--style", choices=["paper", "slides"], default="paper", help="figure style")
    p.add_argument("--no-figures", action="store_true", help="write report.json and report.md only")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a theorem is violated where its assumption holds (a failing assumption does not)")
    p.add_argument("--json", action="store_true",
                   help="print the files written and each condition's verdicts as JSON (no progress bar)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_analyze)

    p = subparsers.add_parser(
        "plot",
        help="redraw the figures of a report.json (nothing is recomputed)",
        description="Redraw every figure from a report.json written by reproduce or analyze.",
    )
    p.add_argument("report", type=Path, metavar="REPORT.json")
    p.add_argument("--style", choices=["paper", "slides"], default="paper", help="figure style")
    p.add_argument("--out", type=Path, default=None, help="figure folder (default: figures/ next to the report)")
    p.set_defaults(func=_plot)


def _error(message: str) -> int:
    print(f"steerbounds: error: {message}", file=sys.stderr)
    return 2


def _analyze(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    out = args.out or args.bundles[0].resolve().parent / "report"
    bars = []  # the bar starts with the first finished step, so that an early error stays one line

    def tick(label: str) -> None:
        if not bars:
            bars.append(tqdm(total=2 * len(args.bundles) + 1, desc="analyze", unit="step", file=sys.stderr,
                             disable=args.json or args.quiet))
        bars[0].set_postfix_str(label)
        bars[0].update()

    try:
        paths = analyze_bundles(args.bundles, out, style=args.style, figures=not args.no_figures, progress=tick)
    except (BundleError, ValueError) as e:
        return _error(str(e))
    finally:
        for bar in bars:
            bar.close()
    if args.json:
        summary = json.loads(Path(paths["json"]).read_text()).get("summary", {})
        print(json.dumps({"report": str(paths["json"]), "markdown": str(paths["markdown"]),
                          "figures": [str(f) for f in paths["figures"]], "summary": summary}, indent=1))
    else:
        print(f"wrote {paths['json']} and {paths['markdown']} ({len(paths['figures'])} figure files)")
    return strict_status(args, paths["report"])


def strict_status(args: argparse.Namespace, report: dict) -> int:
    """0, or 3 under ``--strict`` when the report has a theorem violated where its assumption holds."""
    found = _report.theorem_violations(report)  # looked up at call time (tests replace it)
    if getattr(args, "strict", False) and found:
        for line in found:
            print(f"steerbounds {args.command}: strict: {line}", file=sys.stderr)
        return 3
    return 0


def _plot(args: argparse.Namespace) -> int:
    try:
        report = load_report(args.report)
    except (FileNotFoundError, ValueError) as e:
        return _error(str(e))
    out = args.out or args.report.resolve().parent / "figures"
    try:
        paths = plot_report(report, out, style=args.style)
    except (TypeError, ValueError) as e:  # a condition that is not the analysis' typed form (from_dict refuses it)
        return _error(f"report {args.report}: {e}")
    print(f"wrote {len(paths)} figure files to {out}")
    return 0
