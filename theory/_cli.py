"""Subcommands of ``steerbounds`` that belong to the theory layer: derive, check-theory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this layer's subcommands; each sets ``func(args) -> exit status``."""
    derive = subparsers.add_parser(
        "derive",
        help="print every derived statement of THEORY.md (sympy)",
        description="Derive every statement of THEORY.md sections 2-4 with sympy and print it.",
    )
    form = derive.add_mutually_exclusive_group()
    form.add_argument("--latex", action="store_true", help="formulas in LaTeX")
    form.add_argument("--markdown", action="store_true", help="the docs/theory.md page")
    derive.add_argument("--output", type=Path, help="write to this file instead of standard output")
    derive.set_defaults(func=_derive)

    check = subparsers.add_parser(
        "check-theory",
        help="test every statement numerically on random and adversarial instances",
        description=(
            "Check every statement on random and adversarial instances (float64), every expansion "
            "against mpmath, every JAX function against a numpy reference, and that the planted "
            "wrong bounds are caught. Exit status 1 on any violation or uncaught planted bound."
        ),
    )
    from ._check import DEFAULT_INSTANCES

    check.add_argument("--instances", type=_positive_int, default=DEFAULT_INSTANCES,
                       help=f"instances per theorem (default {DEFAULT_INSTANCES:,})")
    check.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    check.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    check.set_defaults(func=_check)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _derive(args: argparse.Namespace) -> int:
    from ._render import render_all, render_markdown

    text = render_markdown() if args.markdown else render_all(latex=args.latex)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    from ._check import format_table, run_checks, to_json

    rows, seconds = run_checks(instances=args.instances, seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps(to_json(rows, seconds, instances=args.instances, seed=args.seed), indent=1))
    else:
        print(format_table(rows, seconds))
    return 0 if all(row.ok for row in rows) else 1
