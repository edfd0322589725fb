"""Assumptions as objects: a predicate on measurements and the bound it licenses.

An :class:`Assumption` holds

* a *predicate* on measurements: ``True``/``False``, or a boolean array with one
  entry per prompt (or per prompt and coefficient) saying where it holds;
* a *bound*: a function of the same measurements returning an
  :class:`Inequality`, the claim that the bound licenses wherever the
  predicate holds (docs/theory.md#measured: where the assumption holds, a
  failure of the bound is a bug);
* optionally a strategy producing measurements to property-test on, and a
  checker producing the report of a measured assumption (the built-in A1-A4
  wrap ``steerbounds.validation``'s measurement functions).

Searching for counterexamples lives in :mod:`._search`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._describe import describe, format_index
from ._search import find_counterexample as _find_counterexample
from ._search import verify as _verify

_SENSES = (">=", "<=")


def _tolerance_arg(name: str, value, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    if positive and value == 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Inequality:
    """The claim ``observed >= bound`` (or ``<=`` with ``sense="<="``), elementwise.

    ``stderr`` is the standard error (or error estimate) of ``observed`` when it
    is estimated, e.g. by :func:`steerbounds.expected_helpfulness`; a violation
    must then exceed ``z * stderr`` to count. ``where`` restricts the claim to
    the elements where the bound's own conditions hold (e.g. ``r >= 0``); the
    assumption's predicate restricts it further. All fields broadcast together.

    >>> ineq = Inequality(observed=[0.5, 0.2], bound=[0.4, 0.3])
    >>> (ineq.sense, ineq.stderr)
    ('>=', 0.0)
    """

    observed: Any  # the bounded quantity (measured, or computed exactly from the instance)
    bound: Any  # the bound on it
    stderr: Any = 0.0  # standard error of observed (0 when exact)
    where: Any = True  # where the claim applies (the bound's own conditions)
    sense: str = ">="  # ">=": observed >= bound (a lower bound); "<=": an upper bound

    def __post_init__(self) -> None:
        if self.sense not in _SENSES:
            raise ValueError(f"Inequality.sense must be '>=' or '<=', got {self.sense!r}")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """An :class:`Inequality` evaluated on one instance: where it was checked, by how much it held.

    ``slack`` is ``observed - bound`` (``bound - observed`` for ``"<="``): the
    claim is violated at a checked element when ``slack < -tolerance``, with
    ``tolerance = atol + rtol * max(|observed|, |bound|) + z * stderr``.

    >>> ev = evaluate_inequality(Inequality([0.5, 0.2], [0.4, 0.3]), True)
    >>> ev.holds, ev.n_violated, format_index(ev.worst_index)
    (False, 1, '[1]')
    """

    observed: np.ndarray  # broadcast observed values
    bound: np.ndarray  # broadcast bound values
    stderr: np.ndarray  # broadcast standard errors
    checked: np.ndarray  # bool: the predicate and the bound's conditions hold here
    slack: np.ndarray  # sense-adjusted observed - bound (NaN where not checked)
    tolerance: np.ndarray  # allowed shortfall at each element
    sense: str  # ">=" or "<="

    @property
    def violated(self) -> np.ndarray:
        """Boolean mask of the checked elements where the claim fails beyond the tolerance."""
        with np.errstate(invalid="ignore"):
            return self.checked & (self.slack < -self.tolerance)

    @property
    def holds(self) -> bool:
        """Whether the claim holds at every checked element."""
        return not bool(self.violated.any())

    @property
    def n_checked(self) -> int:
        """Number of elements where the claim applies."""
        return int(self.checked.sum())

    @property
    def n_violated(self) -> int:
        """Number of elements where it fails."""
        return int(self.violated.sum())

    @property
    def worst_index(self) -> tuple[int, ...] | None:
        """Index of the checked element with the smallest ``slack + tolerance`` (None if nothing was checked)."""
        if not self.checked.any():
            return None
        score = np.where(self.checked, self.slack + self.tolerance, np.inf)
        return tuple(int(i) for i in np.unravel_index(int(np.argmin(score)), score.shape))

    @property
    def worst_slack(self) -> float:
        """The smallest slack over the checked elements (``inf`` if nothing was checked)."""
        index = self.worst_index
        return math.inf if index is None else float(self.slack[index])

    def describe(self) -> str:
        """A few lines: how many elements were checked and violated, and the worst element.

        >>> print(evaluate_inequality(Inequality([0.5, 0.2], [0.4, 0.3]), True).describe())
        violated at 1 of 2 checked elements; worst at [1]: observed 0.2 >= bound 0.3 fails by 0.1 (tolerance 1.3e-09)
        """
        index = self.worst_index
        if index is None:
            return "not checked anywhere (the predicate or the bound's conditions hold nowhere)"
        where = format_index(index)
        obs, bnd, tol = float(self.observed[index]), float(self.bound[index]), float(self.tolerance[index])
        slack = float(self.slack[index])
        err = float(self.stderr[index])
        err_text = f", stderr {err:.3g}" if err > 0 else ""
        claim = f"observed {obs:.6g} {self.sense} bound {bnd:.6g}"
        if self.holds:
            return (f"holds at all {self.n_checked} checked elements; closest at {where}: {claim} "
                    f"with slack {slack:.3g}{err_text}")
        return (f"violated at {self.n_violated} of {self.n_checked} checked elements; worst at {where}: "
                f"{claim} fails by {-slack:.3g} (tolerance {tol:.3g}{err_text})")


def _as_array(owner: str, name: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: {name} must be numbers or an array of numbers: {err}") from None
    return array


def _as_mask(owner: str, name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != np.bool_:
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"{owner}: {name} must be a bool or an array of bools, got dtype {array.dtype}")
        if not np.all((array == 0) | (array == 1)):
            raise TypeError(f"{owner}: {name} must be a bool or an array of bools, got values other than 0/1")
        array = array.astype(bool)
    return array


def evaluate_inequality(
    inequality: Inequality, predicate_mask, *, atol: float = 1e-9, rtol: float = 1e-9, z: float = 5.0,
    owner: str = "bound",
) -> Evaluation:
    """Evaluate ``inequality`` where ``predicate_mask`` (and the inequality's ``where``) hold.

    A NaN in ``observed`` or ``bound`` at a checked element is an error (the
    bound function is broken there), never a silent pass.

    >>> ev = evaluate_inequality(Inequality([1.0, 2.0], [0.0, 3.0]), [True, False])
    >>> ev.holds, ev.n_checked
    (True, 1)
    """
    if not isinstance(inequality, Inequality):
        raise TypeError(f"{owner} must return an Inequality(observed, bound, ...), got {type(inequality).__name__}")
    observed = _as_array(owner, "observed", inequality.observed)
    bound = _as_array(owner, "bound", inequality.bound)
    stderr = _as_array(owner, "stderr", inequality.stderr)
    where = _as_mask(owner, "where", inequality.where)
    mask = _as_mask(owner, "the predicate", predicate_mask)
    try:
        shape = np.broadcast_shapes(observed.shape, bound.shape, stderr.shape, where.shape, mask.shape)
    except ValueError:
        raise ValueError(
            f"{owner}: shapes do not broadcast: observed {observed.shape}, bound {bound.shape}, stderr "
            f"{stderr.shape}, where {where.shape}, predicate {mask.shape}; return arrays with one entry per "
            "element the predicate describes (or scalars)"
        ) from None
    observed, bound, stderr, where, mask = (np.broadcast_to(a, shape) for a in (observed, bound, stderr, where, mask))
    checked = mask & where
    for name, array in (("observed", observed), ("bound", bound), ("stderr", stderr)):
        bad = checked & np.isnan(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{owner}: {name} is NaN at {format_index(index)}, where the claim applies; the bound must be "
                "defined wherever the predicate holds (restrict it with Inequality(where=...) otherwise)"
            )
    if (checked & (stderr < 0)).any():
        raise ValueError(f"{owner}: stderr must be non-negative")
    with np.errstate(invalid="ignore"):
        slack = observed - bound if inequality.sense == ">=" else bound - observed
        scale = np.maximum(np.abs(observed), np.abs(bound))
        tolerance = atol + rtol * np.where(np.isfinite(scale), scale, 0.0) + z * stderr
    slack = np.where(checked, slack, np.nan)
    return Evaluation(observed, bound, stderr, checked, slack, np.asarray(tolerance, dtype=np.float64), inequality.sense)


@dataclasses.dataclass(frozen=True)
class AssumptionReport:
    """The outcome of :meth:`Assumption.check` on measurements.

    >>> report = AssumptionReport("A1", holds=False, fraction_holding=0.5,
    ...                           statistic={"min margin": -0.25}, detail=({"index": 1, "margin": -0.25},))
    >>> print(report)
    A1 fails (holds on 50% of the elements); min margin = -0.25; 1 failing: {'index': 1, 'margin': -0.25}
    """

    name: str  # the assumption
    holds: bool  # the verdict on the measurements
    fraction_holding: float  # fraction of the prompts (elements) where the predicate holds
    statistic: Mapping[str, float]  # the numbers behind the verdict
    detail: tuple[Mapping[str, Any], ...] = ()  # per-prompt detail of where it fails (nothing dropped)
    raw: Any = None  # the full measurement (e.g. steerbounds.validation's MarginCheck)

    def __str__(self) -> str:
        verdict = "holds" if self.holds else "fails"
        stats = "; ".join(f"{k} = {_fmt(v)}" for k, v in self.statistic.items())
        text = f"{self.name} {verdict} (holds on {self.fraction_holding:.0%} of the elements)"
        if stats:
            text += f"; {stats}"
        if self.detail:
            shown = ", ".join(str(dict(d)) for d in self.detail[:5])
            more = f" and {len(self.detail) - 5} more" if len(self.detail) > 5 else ""
            text += f"; {len(self.detail)} failing: {shown}{more}"
        return text


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _describe_callable(function) -> str:
    """``name: first docstring line`` of a predicate or bound, for derived statements."""
    name = getattr(function, "__name__", type(function).__name__)
    name = "a lambda" if name == "<lambda>" else name
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    return f"{name}: {doc[0].strip()}" if doc and doc[0].strip() else name


@dataclasses.dataclass(frozen=True, eq=False)
class Assumption:
    """An assumption: a predicate on measurements and the bound it licenses.

    A new assumption needs one predicate and one bound; the kit then
    property-tests the bound on every instance where the predicate holds
    (:meth:`verify`) and, when it fails, reports a counterexample shrunk to a
    minimal one (:meth:`find_counterexample`).

    Args (fields):
      name: a short name, e.g. ``"A1"``.
      predicate: ``measurements -> bool`` or a boolean array saying where the
        assumption holds (per prompt, or per prompt and coefficient).
      bound: ``measurements -> Inequality``, the claim licensed where the
        predicate holds; its arrays broadcast with the predicate's.
      measurements: a hypothesis strategy drawing measurements to test on.
      statement: the assumption and its bound in words (shown in reports).
      licenses: the name of the bound, e.g. ``"T1"``.
      checker: optional ``measurements -> AssumptionReport`` for :meth:`check`
        (default: built from the predicate).
      atol, rtol, z: tolerances of the comparison (see :class:`Evaluation`).

    >>> from hypothesis import strategies as st
    >>> square = Assumption("x >= 1", predicate=lambda x: x >= 1,
    ...                     bound=lambda x: Inequality(observed=x * x, bound=x),
    ...                     measurements=st.floats(-10, 10), licenses="x^2 >= x")
    >>> square.holds(3.0), square.evaluate(3.0).holds
    (array(True), True)
    >>> square.verify().holds
    True
    """

    name: str  # short name, e.g. "A1"
    predicate: Callable[[Any], Any]  # measurements -> bool or boolean array (where the assumption holds)
    bound: Callable[[Any], Inequality]  # measurements -> the licensed claim
    measurements: Any = None  # hypothesis SearchStrategy of measurements to property-test on
    statement: str = ""  # the assumption and its bound in words
    licenses: str = ""  # the bound's name, e.g. "T1"
    checker: Callable[[Any], AssumptionReport] | None = None  # measured report (default: from the predicate)
    atol: float = 1e-9  # absolute tolerance of the comparison
    rtol: float = 1e-9  # relative tolerance (times max(|observed|, |bound|))
    z: float = 5.0  # standard errors of observed allowed before a shortfall counts

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Assumption.name must be a non-empty string, got {self.name!r}")
        for field in ("predicate", "bound"):
            if not callable(getattr(self, field)):
                raise TypeError(f"Assumption {self.name!r}: {field} must be callable, got {getattr(self, field)!r}")
        if self.checker is not None and not callable(self.checker):
            raise TypeError(f"Assumption {self.name!r}: checker must be callable or None")
        if self.measurements is not None:
            from hypothesis.strategies import SearchStrategy

            if not isinstance(self.measurements, SearchStrategy):
                raise TypeError(
                    f"Assumption {self.name!r}: measurements must be a hypothesis SearchStrategy, "
                    f"got {type(self.measurements).__name__}"
                )
        _tolerance_arg("atol", self.atol)
        _tolerance_arg("rtol", self.rtol)
        _tolerance_arg("z", self.z)

    @property
    def title(self) -> str:
        """``"licenses under name"`` for reports.

        >>> Assumption("A1", bool, lambda m: Inequality(1, 0), licenses="T1").title
        'T1 under A1'
        """
        return f"{self.licenses} under {self.name}" if self.licenses else f"the bound of {self.name}"

    def replace(self, **changes) -> Assumption:
        """A copy with some fields changed: the way to derive a variant of an assumption.

        A new ``bound`` or ``predicate`` without a new ``statement`` gets a
        statement derived from what replaced it (its name and the first line
        of its docstring), and a new ``bound`` without ``licenses`` gets that
        name too, so reports never describe a bound that was not tested.

        >>> a = Assumption("A", bool, lambda m: Inequality(1, 0), statement="A: B >= 0", licenses="T0")
        >>> a.replace(name="A at 90%").name
        'A at 90%'
        >>> def halved(m):
        ...     "B >= 1/2"
        ...     return Inequality(1, 0.5)
        >>> b = a.replace(bound=halved)
        >>> b.statement, b.licenses
        ('A, with its bound replaced by halved: B >= 1/2', 'halved')
        """
        replaced = [field for field in ("predicate", "bound") if field in changes]
        if replaced and "statement" not in changes:
            described = "; ".join(f"its {field} replaced by {_describe_callable(changes[field])}" for field in replaced)
            changes["statement"] = f"{self.name}, with {described}"
        if "bound" in changes and "licenses" not in changes:
            changes["licenses"] = getattr(changes["bound"], "__name__", "") if getattr(
                changes["bound"], "__name__", "<lambda>") != "<lambda>" else "a replaced bound"
        return dataclasses.replace(self, **changes)

    def holds(self, measurements) -> np.ndarray:
        """The predicate as a boolean array (shape ``()`` for a single verdict).

        >>> import numpy as np
        >>> Assumption("pos", lambda x: x > 0, lambda x: Inequality(x, 0)).holds(np.array([1.0, -1.0]))
        array([ True, False])
        """
        return _as_mask(f"Assumption {self.name!r}", "the predicate", self.predicate(measurements))

    def evaluate(self, measurements) -> Evaluation:
        """The licensed bound evaluated where the predicate holds.

        >>> a = Assumption("pos", lambda x: x > 0, lambda x: Inequality(observed=x, bound=0.0))
        >>> a.evaluate(2.0).holds, a.evaluate(-2.0).n_checked
        (True, 0)
        """
        mask = self.holds(measurements)
        inequality = self.bound(measurements)
        return evaluate_inequality(inequality, mask, atol=self.atol, rtol=self.rtol, z=self.z,
                                   owner=f"the bound of {self.name!r}")

    def check(self, measurements) -> AssumptionReport:
        """Whether the assumption holds on ``measurements``, with its statistic and per-prompt detail.

        >>> import numpy as np
        >>> a = Assumption("pos", lambda x: x > 0, lambda x: Inequality(x, 0.0))
        >>> print(a.check(np.array([1.0, -2.0, 3.0])))
        pos fails (holds on 67% of the elements); 1 failing: {'index': (1,)}
        """
        if self.checker is not None:
            report = self.checker(measurements)
            if not isinstance(report, AssumptionReport):
                raise TypeError(f"Assumption {self.name!r}: checker must return an AssumptionReport, "
                                f"got {type(report).__name__}")
            return report
        mask = self.holds(measurements)
        failing = tuple({"index": tuple(int(i) for i in idx)} for idx in np.argwhere(~mask)) if mask.ndim else ()
        return AssumptionReport(self.name, bool(mask.all()), float(mask.mean()) if mask.size else 1.0, {}, failing)

    def verify(self, **kwargs):
        """Property-test the bound on measurements satisfying the predicate (see :func:`verify`).

        >>> from hypothesis import strategies as st
        >>> Assumption("any", lambda x: True, lambda x: Inequality(x * x, 0.0), st.floats(-5, 5)).verify().holds
        True
        """
        return _verify(self, **kwargs)

    def find_counterexample(self, **kwargs):
        """Search for measurements satisfying the predicate where the bound fails; shrunk, or None.

        >>> from hypothesis import strategies as st
        >>> wrong = Assumption("any", lambda x: True, lambda x: Inequality(x * x, x), st.floats(-5, 5))
        >>> wrong.find_counterexample().measurements  # x^2 >= x fails on (0, 1); shrunk towards a simple value
        0.5
        """
        return _find_counterexample(self, **kwargs)

    def describe_measurements(self, measurements) -> str:
        """The measurements as readable text (arrays rounded), as reports show them.

        >>> import numpy as np
        >>> print(Assumption("A", bool, lambda m: Inequality(1, 0)).describe_measurements(np.array([1/3, 2.0])))
        [0.333333, 2]
        """
        return describe(measurements)
