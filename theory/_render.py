"""Printing the derived statements: plain text, LaTeX, and the docs/theory.md page."""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from . import _derive_alignment as alignment, _derive_helpfulness as helpfulness
from ._derive_remainder import t2c
from ._derive_tradeoff import tradeoff
from ._statement import Statement

DERIVATIONS: tuple[Callable[[], Statement], ...] = (
    alignment.t1,
    alignment.c1_1,
    alignment.c1_2,
    alignment.c1_3,
    helpfulness.definition,
    helpfulness.t2a,
    helpfulness.t2b,
    t2c,
    helpfulness.c2_1,
    helpfulness.c2_2,
    helpfulness.c2_3,
    tradeoff,
)
DOCS_PATH = "docs/theory.md"
REGENERATE = f"steerbounds derive --markdown --output {DOCS_PATH}"


def statements() -> list[Statement]:
    """Every derived statement, in THEORY.md order (sections 2, 3, 4)."""
    return [derive() for derive in DERIVATIONS]


def _formula(expr: sp.Basic, latex: bool) -> str:
    return sp.latex(expr) if latex else sp.sstr(expr)


def render_text(statement: Statement, *, latex: bool = False) -> str:
    """One statement as indented plain text (formulas in sympy or LaTeX syntax)."""
    lines = [f"{statement.name}: {statement.title}", "  assumptions:"]
    lines += [f"    - {a}" for a in statement.assumptions]
    lines.append("  results:")
    lines += [f"    {key}: {_formula(value, latex)}" for key, value in statement.results.items()]
    if statement.steps:
        lines.append("  derivation:")
        for number, (text, formula) in enumerate(statement.steps, 1):
            lines += [f"    {number}. {text}", f"       {_formula(formula, latex)}"]
    lines.append(f"  verified symbolically ({len(statement.verified)}):")
    lines += [f"    - {v}" for v in statement.verified]
    if statement.notes:
        lines.append("  notes:")
        lines += [f"    - {n}" for n in statement.notes]
    return "\n".join(lines)


def render_all(*, latex: bool = False) -> str:
    """Every statement as text, separated by blank lines."""
    return "\n\n".join(render_text(s, latex=latex) for s in statements()) + "\n"


_INTRO = f"""\
# Derived statements

<!-- Generated from the sympy derivations in theory/; do not edit by hand.
     Regenerate with: {REGENERATE} -->

This page is produced by `{REGENERATE}` from the same sympy derivations that
`steerbounds derive` prints and that the numeric functions are compiled from
(one sympy-to-JAX bridge, `theory/_bridge.py`). Statement names follow
THEORY.md. Every identity listed under "verified symbolically" is checked by
sympy each time the derivation runs; `steerbounds check-theory` then tests
every statement numerically on random and adversarial instances, every
expansion against high-precision (mpmath) evaluation, and every JAX function
against a plain numpy reference, and shows that the planted wrong bounds
(`theory/_planted.py`) are caught.

Numeric functions compute in float64 when `jax_enable_x64` is on (the checks
and the tests turn it on) and in float32 otherwise; probabilities are formed
in log space (log-sum-exp), so tiny probabilities and B near +-1 keep their
precision.
"""


def render_markdown() -> str:
    """The docs/theory.md page."""
    parts = [_INTRO]
    for statement in statements():
        parts.append(f"## {statement.name}: {statement.title}\n")
        parts.append("Assumptions:\n")
        parts += [f"- {a}" for a in statement.assumptions]
        parts.append("\nResults:\n")
        for key, value in statement.results.items():
            parts.append(f"- `{key}`:\n\n  $$ {sp.latex(value)} $$\n")
        if statement.steps:
            parts.append("Derivation:\n")
            for number, (text, formula) in enumerate(statement.steps, 1):
                parts.append(f"{number}. {text}\n\n   $$ {sp.latex(formula)} $$\n")
        parts.append(f"Verified symbolically ({len(statement.verified)}):\n")
        parts += [f"- {v}" for v in statement.verified]
        if statement.notes:
            parts.append("\nNotes:\n")
            parts += [f"- {n}" for n in statement.notes]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
