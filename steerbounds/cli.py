"""The ``steerbounds`` command line: one subcommand per job.

Each layer registers its own subcommands (``theory/_cli.py``,
``numerics/_cli.py``, ``validation/studies/_cli.py``, ``validation/_cli.py``);
this module only assembles them, and turns every error into one line on
standard error with exit status 2 (argument errors included; set
``STEERBOUNDS_TRACEBACK=1`` to see the traceback of an unexpected error).
``analyze`` and ``reproduce`` with ``--strict`` exit 3 when a theorem is
violated where its assumption holds.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Subcommands whose --out names a folder (minilm-readout's names a file).
_OUT_IS_FOLDER = {"analyze", "reproduce", "train-toy", "plot"}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (usage stays behind --help)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    # each layer registers its own subcommands; the parser is built only when a command runs
    from steerbounds import __version__
    from steerbounds.numerics import _cli as numerics_cli
    from steerbounds.theory import _cli as theory_cli
    from steerbounds.validation import _cli as validation_cli
    from steerbounds.validation.studies import _cli as studies_cli

    parser = _Parser(
        prog="steerbounds",
        description="Alignment-helpfulness bounds for steered language models (docs/theory.md).",
    )
    parser.add_argument("--version", action="version", version=f"steerbounds {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for layer in (theory_cli, numerics_cli, studies_cli, validation_cli):
        layer.register(subparsers)
    return parser


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if type(err) is Exception or isinstance(err, (OSError, ValueError, TypeError, LookupError, RuntimeError,
                                                   ImportError)):
        return text
    return f"unexpected {type(err).__name__}: {text} (rerun with STEERBOUNDS_TRACEBACK=1 for the traceback)"


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    prog = f"steerbounds {args.command}"
    out = getattr(args, "out", None)
    if args.command in _OUT_IS_FOLDER and out is not None:
        blocker = next((p for p in (Path(out), *Path(out).parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            where = "is a file" if blocker == Path(out) else f"lies under {blocker}, a file"
            print(f"{prog}: error: --out {out} {where}; pass a folder (it is created if missing)", file=sys.stderr)
            return 2
    try:
        return int(args.func(args) or 0)
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            raise
        print(f"{prog}: error: {_one_line(Exception(exit_.code)).removeprefix(prog + ': ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every error is one line; the traceback only on request
        if os.environ.get("STEERBOUNDS_TRACEBACK"):
            raise
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
