"""The ``steerbounds`` command line: one subcommand per job.

Each layer registers its own subcommands (``theory/_cli.py``,
``numerics/_cli.py``, ``validation/studies/_cli.py``, ``validation/_cli.py``);
this module only assembles them.
"""

from __future__ import annotations

import argparse
import sys


def _build_parser() -> argparse.ArgumentParser:
    # each layer registers its own subcommands; the parser is built only when a command runs
    from steerbounds import __version__
    from steerbounds.numerics import _cli as numerics_cli
    from steerbounds.theory import _cli as theory_cli
    from steerbounds.validation import _cli as validation_cli
    from steerbounds.validation.studies import _cli as studies_cli

    parser = argparse.ArgumentParser(
        prog="steerbounds",
        description="Alignment-helpfulness bounds for steered language models (docs/theory.md).",
    )
    parser.add_argument("--version", action="version", version=f"steerbounds {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for layer in (theory_cli, numerics_cli, studies_cli, validation_cli):
        layer.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
