"""``steerbounds check-theory``: every statement tested on random and adversarial instances.

Each check fills :class:`Row` objects: how many instances were tried, the
worst slack (the smallest value of ``claimed side - other side``, which must
not fall below ``-tolerance``) and the violations. Kinds of rows:

* ``rigorous`` - an inequality that must hold exactly (up to float64 rounding);
* ``numerical`` - an inequality involving ``E[H_r]``, computed by
  transition-centred quadrature (allowed ten times its error estimate) or by
  Monte Carlo (allowed six standard errors);
* ``expansion`` - a symbolic expansion against mpmath at 40 digits: the error
  must shrink at the claimed order;
* ``reference`` - a JAX function against a plain numpy (or mpmath) reference;
* ``planted`` - a deliberately wrong bound (``theory/_planted.py``); the row
  passes when the check catches it (at least one violation).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np

from ._check_rows import Row, Rows, Task

DEFAULT_INSTANCES = 100_000


def tasks() -> list[Task]:
    from . import _check_alignment, _check_helpfulness, _check_reference  # JAX and sympy load when checks run

    return [*_check_alignment.TASKS, *_check_helpfulness.TASKS, *_check_reference.TASKS]


def run_checks(
    *, instances: int = DEFAULT_INSTANCES, seed: int = 0, progress: bool = True, only: tuple[str, ...] | None = None
) -> tuple[list[Row], float]:
    """Run every check (or those reporting on the statements in ``only``); return rows and wall seconds.

    Turns on jax x64: every check runs in float64. Floating-point warnings are
    silenced inside the checks because overflow to inf and NaN are handled
    explicitly (a NaN slack counts as a violation).
    """
    import jax

    jax.config.update("jax_enable_x64", True)
    from tqdm.auto import tqdm

    if instances < 1:
        raise ValueError(f"instances must be positive, got {instances}")
    known = {name for task in tasks() for name in task.statements}
    if only is not None and not set(only) <= known:
        raise ValueError(f"unknown statement(s) {sorted(set(only) - known)}; choose from {sorted(known)}")
    start = time.perf_counter()
    rows = Rows()
    plan = []
    for index, task in enumerate(tasks()):
        if only is not None and not set(only) & set(task.statements):
            continue
        # Equal chunks (at least the requested share in all) keep array shapes, hence compilations, few.
        total = max(1, math.ceil(instances * task.share))
        count = math.ceil(total / task.chunk)
        chunks = [math.ceil(total / count)] * count
        plan.append((index, task, chunks))
    bar = tqdm(total=sum(len(c) for _, _, c in plan), disable=not progress, unit="chunk", desc="check-theory")
    generators = {}
    for index, task, chunks in plan:
        rng = generators[index] = np.random.default_rng([seed, index])
        bar.set_postfix_str(task.name)
        for n in chunks:
            with np.errstate(all="ignore"):
                task.run(rng, n, rows)
            bar.update()
    # Samplers discard some draws (instances outside a statement's assumptions): count the
    # accepted ones, and run more chunks until every statement has met its target.
    for _ in range(_MAX_TOP_UPS):
        short = _short_statements(rows, plan, instances)
        if not short:
            break
        for index, task, chunks in plan:
            if set(task.statements) & short:
                bar.total += 1
                with np.errstate(all="ignore"):
                    task.run(generators[index], chunks[0], rows)
                bar.update()
    else:
        short = _short_statements(rows, plan, instances)
        if short:
            raise RuntimeError(f"the samplers of {sorted(short)} accept too few instances to reach the target")
    bar.close()
    return list(rows), time.perf_counter() - start


_MAX_TOP_UPS = 50


def _short_statements(rows: Rows, plan, instances: int) -> set[str]:
    """Statements whose best-filled non-planted row has fewer accepted instances than their target.

    A statement's target is the requested count, scaled down for statements
    that only tasks with a small share report on (the references).
    """
    share: dict[str, float] = {}
    for _, task, _ in plan:
        for name in task.statements:
            share[name] = share.get(name, 0.0) + task.share
    counts: dict[str, int] = {}
    for row in rows:
        if row.kind != "planted":
            counts[row.statement] = max(counts.get(row.statement, 0), row.instances)
    return {name for name, count in counts.items()
            if name in share and count < math.ceil(instances * min(share[name], 1.0))}


def format_table(rows: list[Row], seconds: float) -> str:
    """The report as an aligned text table."""
    header = ("statement", "check", "kind", "instances", "worst slack", "worst slack + tol", "violations", "status")
    body = []
    for row in rows:
        status = "ok" if row.ok else "FAIL"
        if row.kind == "planted":
            status = "caught" if row.ok else "NOT CAUGHT"
        extra = " ".join(f"{k}={v:.3g}" for k, v in row.details.items())
        body.append((row.statement, row.check + (f" [{extra}]" if extra else ""), row.kind, f"{row.instances:,}",
                     f"{row.worst_slack:.3g}", f"{row.worst_margin:.3g}", str(row.violations), status))
    widths = [max(len(r[c]) for r in [header, *body]) for c in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in [header, *body]]
    failed = [r for r in rows if not r.ok]
    lines.append(f"\n{len(rows)} checks in {seconds:.1f} s; " + ("all passed" if not failed else f"{len(failed)} FAILED"))
    return "\n".join(lines)


def to_json(rows: list[Row], seconds: float, *, instances: int, seed: int) -> dict:
    """The report as a JSON-serialisable dict."""

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {
        "instances_requested": instances,
        "seed": seed,
        "seconds": round(seconds, 3),
        "passed": all(r.ok for r in rows),
        "rows": [clean(asdict(r)) | {"ok": r.ok} for r in rows],
    }
