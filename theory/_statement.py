"""A derived statement: its results as sympy expressions, its assumptions, its steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Statement:
    """One statement of the specification (docs/theory.md) as the symbolic layer derives it."""

    name: str  # the statement name in docs/theory.md, e.g. "T1", "C2.1"
    title: str  # a few words
    assumptions: tuple[str, ...]  # what must hold, in words (A1, A2, ranges of symbols)
    results: Mapping[str, sp.Basic]  # named results: expressions, equations or inequalities
    steps: tuple[tuple[str, sp.Basic], ...] = ()  # the derivation, step by step (text, formula)
    verified: tuple[str, ...] = ()  # identities the derivation verified symbolically
    notes: tuple[str, ...] = field(default=())  # remarks for the reader (sign cases, scope)

    def __getitem__(self, key: str) -> sp.Basic:
        return self.results[key]


def require_zero(description: str, expr: sp.Basic, verified: list[str]) -> None:
    """Simplify ``expr``; raise if it is not identically zero, else record ``description``."""
    if sp.simplify(expr) != 0:
        raise AssertionError(f"symbolic check failed: {description}: {sp.simplify(expr)} != 0")
    verified.append(description)
