"""The rows and tasks of ``steerbounds check-theory`` (see :mod:`steerbounds.theory._check`).

The checks (``_check_alignment``, ``_check_helpfulness``, ``_check_reference``)
fill these rows; ``_check`` runs their tasks. Both import this module, so that
the checks do not import the runner that imports them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Row:
    """The outcome of one check."""

    statement: str  # statement name (docs/theory.md)
    check: str  # what was checked, in a few words
    kind: str  # rigorous, statistical, expansion, reference or planted
    instances: int = 0  # instances tried
    violations: int = 0  # instances where slack < -tolerance (or not finite)
    worst_slack: float = math.inf  # smallest slack seen
    worst_margin: float = math.inf  # smallest slack + tolerance (negative exactly when violated)
    details: dict = field(default_factory=dict)  # extra figures (tightness, cases found)

    def add(self, slack, tolerance=0.0) -> None:
        """Record instances with their slacks; NaN slacks count as violations."""
        slack = np.asarray(slack, dtype=np.float64).ravel()
        if slack.size == 0:
            return
        tolerance = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), slack.shape)
        self.instances += slack.size
        self.violations += int(np.count_nonzero(~(slack >= -tolerance)))
        if np.isnan(slack).any():
            self.worst_slack = self.worst_margin = -math.inf
            return
        self.worst_slack = min(self.worst_slack, float(slack.min()))
        with np.errstate(invalid="ignore"):
            margin = slack + tolerance
        self.worst_margin = min(self.worst_margin, float(np.nanmin(margin)) if not np.isnan(margin).all() else 0.0)

    def note_max(self, key: str, value) -> None:
        """Keep the largest value seen under ``details[key]``."""
        value = float(np.max(value)) if np.size(value) else -math.inf
        self.details[key] = max(self.details.get(key, -math.inf), value)

    @property
    def ok(self) -> bool:
        if self.kind == "planted":
            return self.violations > 0
        return self.violations == 0 and self.instances > 0


class Rows:
    """An ordered collection of rows, created on first use."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Row] = {}

    def __call__(self, statement: str, check: str, kind: str) -> Row:
        key = (statement, check)
        if key not in self._rows:
            self._rows[key] = Row(statement, check, kind)
        return self._rows[key]

    def __iter__(self):
        return iter(self._rows.values())


@dataclass(frozen=True)
class Task:
    """A check split into chunks: ``run(rng, n, rows)`` is called once per chunk."""

    name: str
    run: Callable[[np.random.Generator, int, Rows], None]
    chunk: int  # instances per chunk
    share: float  # fraction of the requested instance count
    statements: tuple[str, ...]  # the row statements it reports on (for --only)
