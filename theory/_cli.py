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
        help="print every derived statement of the specification (sympy); LaTeX, Markdown or JSON",
        description=(
            "Derive every statement of docs/theory.md (sections 2-4) with sympy and print it: as text, "
            "as a LaTeX file a paper can include (--latex --out bounds.tex also writes bounds.sty beside it), "
            "as the docs/theory.md page (--markdown) or as JSON (--json)."
        ),
    )
    form = derive.add_mutually_exclusive_group()
    form.add_argument("--latex", action="store_true",
                      help="a LaTeX file: theorem environments, labelled equations (\\label{sb:T1}); compiles alone "
                           "or \\input into a paper that loads bounds.sty")
    form.add_argument("--markdown", action="store_true", help="the docs/theory.md page")
    form.add_argument("--json", action="store_true", help="words, anchors and formulas (sympy and LaTeX) as JSON")
    derive.add_argument("--out", "--output", dest="output", type=Path, metavar="FILE",
                        help="write to this file instead of standard output (with --latex, bounds.sty goes beside it)")
    derive.add_argument("--only", type=_names, default=None, metavar="NAMES",
                        help="only these statements, comma-separated (e.g. T1,T2a; with --latex also the assumptions "
                             "they rest on); not with --markdown")
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
    from ._check import DEFAULT_INSTANCES  # the constant only: the checks themselves load when they run

    check.add_argument("--instances", type=_positive_int, default=DEFAULT_INSTANCES,
                       help=f"instances per theorem (default {DEFAULT_INSTANCES:,})")
    check.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    check.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    check.add_argument("--only", type=lambda text: tuple(text.split(",")), default=None, metavar="NAMES",
                       help="run only the checks reporting on these statements, comma-separated (e.g. T1,C2.1)")
    check.set_defaults(func=_check)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated statement names such as T1,T2a, got {text!r}")
    return names


def _derive(args: argparse.Namespace) -> int:
    # sympy loads when the command runs, not when the parser is built
    from ._render import LATEX_PACKAGE, latex_package, render_all, render_latex, render_markdown, to_json

    try:
        if args.markdown:
            if args.only is not None:
                raise ValueError("--only: the --markdown page always holds every statement; drop --only")
            text = render_markdown()
        elif args.latex:
            text = render_latex(args.only)
        elif args.json:
            text = json.dumps(to_json(args.only), indent=1) + "\n"
        else:
            text = render_all(only=args.only)
    except ValueError as err:
        print(f"steerbounds derive: {err}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        if args.latex:
            (args.output.parent / f"{LATEX_PACKAGE}.sty").write_text(latex_package())
    except OSError as err:
        print(f"steerbounds derive: --out {args.output}: cannot write ({err.strerror}); choose a writable path",
              file=sys.stderr)
        return 2
    return 0


def _check(args: argparse.Namespace) -> int:
    from ._check import format_table, run_checks, to_json  # JAX loads when the command runs

    try:
        rows, seconds = run_checks(instances=args.instances, seed=args.seed, progress=not args.json, only=args.only)
    except ValueError as err:
        print(f"steerbounds check-theory: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(to_json(rows, seconds, instances=args.instances, seed=args.seed), indent=1))
    else:
        print(format_table(rows, seconds))
    return 0 if all(row.ok for row in rows) else 1
