"""Property tests of a licensed bound and the search for a minimal counterexample.

:func:`verify` draws measurements from a hypothesis strategy, keeps those on
which the assumption's predicate holds somewhere, evaluates the bound there,
and asks hypothesis (``find``, with targeting towards the largest violation)
for one where the bound fails. A failing instance is shrunk by hypothesis to
a minimal one and reported with the element where the bound fails worst.

Searches are deterministic (``seed=0`` unless told otherwise; no example
database), run with the hypothesis profile in force (``fast`` or
``thorough``, see :func:`load_profile`) and compute in float64 (JAX's x64
mode is switched on for the duration of the search).
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import jax
from hypothesis import Phase, errors as hypothesis_errors, find, reject, settings as Settings, target

from typing import Protocol, runtime_checkable


@runtime_checkable
class Searchable(Protocol):
    """What a search needs of an assumption (:class:`Assumption` has it; ``_assumption`` imports this module).

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> isinstance(Assumption("x", bool, lambda x: Inequality(1, 0), st.just(1.0)), Searchable)
    True
    """

    name: str
    measurements: Any

    @property
    def title(self) -> str: ...

    def holds(self, measurements: Any) -> Any: ...

    def evaluate(self, measurements: Any) -> Any: ...

    def describe_measurements(self, measurements: Any) -> str: ...


class BoundEvaluationError(RuntimeError):
    """The predicate or the bound raised on a drawn instance; the message shows the (shrunk) instance.

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> broken = Assumption("x", lambda x: True, lambda x: Inequality(1 / x, 0.0), st.just(0.0))
    >>> try:
    ...     broken.verify()
    ... except BoundEvaluationError as err:
    ...     print(str(err).splitlines()[0])
    evaluating the bound of x raised ZeroDivisionError: float division by zero
    """


@dataclasses.dataclass(frozen=True, eq=False)
class Counterexample:
    """Measurements satisfying an assumption on which its licensed bound fails, shrunk by hypothesis.

    ``report()`` (also ``str()``) gives the assumption, the bound, the instance and
    the element where the bound fails worst.

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> wrong = Assumption("any x", lambda x: True, lambda x: Inequality(x * x, x), st.floats(-5, 5),
    ...                    licenses="x^2 >= x")
    >>> print(wrong.find_counterexample())
    Counterexample to x^2 >= x under any x
      instance: 0.5
      violated at 1 of 1 checked elements; worst at []: observed 0.25 >= bound 0.5 fails by 0.25 (tolerance 1.5e-09)
    """

    assumption: Searchable  # the assumption whose bound fails (an Assumption)
    measurements: Any  # the shrunk instance
    evaluation: Any  # the bound evaluated on it (an Evaluation)

    def report(self) -> str:
        """The counterexample as readable text.

        >>> from hypothesis import strategies as st
        >>> from steerbounds.testing import Assumption, Inequality
        >>> a = Assumption("any x", lambda x: True, lambda x: Inequality(-1.0, 0.0), st.just(2.0))
        >>> a.find_counterexample().report().splitlines()[1]
        '  instance: 2'
        """
        a = self.assumption
        lines = [f"Counterexample to {a.title}"]
        if a.statement:
            lines.append(f"  statement: {a.statement}")
        instance = a.describe_measurements(self.measurements).replace("\n", "\n  ")
        lines.append(f"  instance: {instance}")
        lines.append(f"  {self.evaluation.describe()}")
        return "\n".join(lines)

    __str__ = report


@dataclasses.dataclass(frozen=True, eq=False)
class Verification:
    """The outcome of :func:`verify`: whether the bound survived, on how many instances, how closely.

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> v = Assumption("x >= 1", lambda x: x >= 1, lambda x: Inequality(x * x, x), st.floats(0, 4)).verify()
    >>> v.holds, v.n_satisfying > 0, v.counterexample
    (True, True, None)
    """

    assumption: Searchable  # what was tested (an Assumption)
    holds: bool  # no counterexample was found
    n_drawn: int  # instances drawn (including shrinking)
    n_satisfying: int  # of which the predicate held somewhere (the bound was checked)
    closest_slack: float  # smallest slack (observed - bound) seen on a satisfying instance
    profile: str  # hypothesis profile in force ("settings given" when the search had its own)
    max_examples: int  # the search's example budget
    counterexample: Counterexample | None = None  # the shrunk counterexample when the bound fails

    def report(self) -> str:
        """A readable summary (with the counterexample when there is one).

        >>> from hypothesis import strategies as st
        >>> from steerbounds.testing import Assumption, Inequality
        >>> v = Assumption("any", lambda x: True, lambda x: Inequality(x * x, 0.0), st.just(0.5)).verify()
        >>> print(v.report().splitlines()[0])
        the bound of 'any' holds: no counterexample in 1 instances satisfying the predicate (of 1 drawn; profile ..., max_examples ...); closest slack 0.25
        """
        a = self.assumption
        head = (f"{self.n_satisfying} instances satisfying the predicate (of {self.n_drawn} drawn; profile "
                f"{self.profile}, max_examples {self.max_examples})")
        title = a.title if a.licenses else f"the bound of {a.name!r}"
        if self.holds:
            return f"{title} holds: no counterexample in {head}; closest slack {self.closest_slack:.6g}"
        return f"{title} FAILS: counterexample found among {head}\n{self.counterexample.report()}"

    __str__ = report

    def assert_holds(self) -> Verification:
        """Raise ``AssertionError`` with the counterexample when the bound failed; else return ``self``.

        >>> from hypothesis import strategies as st
        >>> from steerbounds.testing import Assumption, Inequality
        >>> Assumption("a", lambda x: True, lambda x: Inequality(1.0, 0.0), st.just(0.0)).verify().assert_holds().holds
        True
        """
        if not self.holds:
            raise AssertionError(self.report())
        return self

    def assert_fails(self) -> Counterexample:
        """Return the counterexample; raise ``AssertionError`` when the bound survived the search.

        >>> from hypothesis import strategies as st
        >>> from steerbounds.testing import Assumption, Inequality
        >>> Assumption("a", lambda x: True, lambda x: Inequality(0.0, 1.0), st.just(3.0)).verify().assert_fails().measurements
        3.0
        """
        if self.holds:
            raise AssertionError(
                f"expected a counterexample, found none: {self.report()}. A bound that the search cannot "
                "falsify is either true or the strategy does not reach the instances where it fails"
            )
        return self.counterexample


class _Tally:
    def __init__(self) -> None:
        self.drawn = 0
        self.satisfying = 0
        self.closest = math.inf


def _search_settings(base: Settings | None, max_examples: int | None) -> Settings:
    base = Settings.default if base is None else base
    if not isinstance(base, Settings):
        raise TypeError(f"settings must be a hypothesis.settings object, got {type(base).__name__}")
    # the explain phase re-runs the shrunk example many times to annotate it; a bound needs no annotation
    phases = tuple(p for p in base.phases if p != Phase.explain)
    changes: dict[str, Any] = {"database": None, "deadline": None, "phases": phases}
    if max_examples is not None:
        if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
            raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
        changes["max_examples"] = max_examples
    return Settings(base, **changes)


def verify(
    assumption: Searchable,
    *,
    measurements=None,
    settings: Settings | None = None,
    max_examples: int | None = None,
    seed: int | None = 0,
) -> Verification:
    """Property-test ``assumption``'s bound on every drawn instance where its predicate holds.

    Draws from ``measurements`` (default: the assumption's own strategy); an
    instance on which the predicate holds nowhere is rejected. When the bound
    fails somewhere, hypothesis shrinks the instance and the returned
    :class:`Verification` carries the :class:`Counterexample`.

    Args:
      assumption: the :class:`Assumption` to test.
      measurements: a strategy overriding ``assumption.measurements``.
      settings: hypothesis settings (default: the profile in force).
      max_examples: override the number of examples.
      seed: seed of the search (None: fresh randomness each call).

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> cauchy = Assumption("vectors", lambda v: True, lambda v: Inequality(abs(v[0] * v[1]), 0.0),
    ...                     st.tuples(st.floats(-3, 3), st.floats(-3, 3)))
    >>> verify(cauchy).holds
    True
    """
    if not isinstance(assumption, Searchable):
        raise TypeError(f"assumption must be an Assumption (steerbounds.testing.Assumption), "
                        f"got {type(assumption).__name__}")
    strategy = assumption.measurements if measurements is None else measurements
    if strategy is None:
        raise ValueError(
            f"Assumption {assumption.name!r} has no measurements strategy; pass measurements=<strategy> or build "
            "the assumption with measurements=<strategy>"
        )
    from hypothesis.strategies import SearchStrategy

    if not isinstance(strategy, SearchStrategy):
        raise TypeError(f"measurements must be a hypothesis SearchStrategy, got {type(strategy).__name__}")
    search = _search_settings(settings, max_examples)
    tally = _Tally()

    def violates(m) -> bool:
        tally.drawn += 1
        try:
            mask = assumption.holds(m)
            satisfied = bool(mask.any())
            evaluation = assumption.evaluate(m) if satisfied else None
        except Exception as err:
            raise BoundEvaluationError(
                f"evaluating {assumption.title} raised {type(err).__name__}: {err}\n  instance: "
                + assumption.describe_measurements(m).replace("\n", "\n  ")
            ) from err
        if evaluation is None or evaluation.n_checked == 0:
            reject()
        tally.satisfying += 1
        index = evaluation.worst_index
        score = float(evaluation.slack[index] + evaluation.tolerance[index])
        tally.closest = min(tally.closest, float(evaluation.slack[index]))
        if math.isfinite(score):
            target(-score, label="violation of the bound")
        return not evaluation.holds

    rng = None if seed is None else random.Random(seed)
    with jax.enable_x64(True):
        try:
            found = find(strategy, violates, settings=search, random=rng)
        except hypothesis_errors.NoSuchExample:
            found = _NOTHING
        except hypothesis_errors.Unsatisfiable:
            raise ValueError(
                f"the predicate of {assumption.name!r} held on none of the {tally.drawn} drawn instances; "
                "draw from a strategy that produces instances satisfying it"
            ) from None
        evaluation = None if found is _NOTHING else assumption.evaluate(found)
    if tally.satisfying == 0:
        raise ValueError(
            f"the predicate of {assumption.name!r} held on none of the {tally.drawn} drawn instances; "
            "draw from a strategy that produces instances satisfying it"
        )
    counterexample = None if evaluation is None else Counterexample(assumption, found, evaluation)
    return Verification(
        assumption=assumption,
        holds=counterexample is None,
        n_drawn=tally.drawn,
        n_satisfying=tally.satisfying,
        closest_slack=tally.closest,
        profile=Settings.get_current_profile_name() if settings is None else "settings given",
        max_examples=search.max_examples,
        counterexample=counterexample,
    )


_NOTHING = object()


def find_counterexample(assumption: Searchable, **kwargs) -> Counterexample | None:
    """The shrunk :class:`Counterexample` to ``assumption``'s bound, or None when the search finds none.

    Takes the keyword arguments of :func:`verify`.

    >>> from hypothesis import strategies as st
    >>> from steerbounds.testing import Assumption, Inequality
    >>> linear = Assumption("p in [0, 1]", lambda p: True, lambda p: Inequality(p * p, p - 0.1),
    ...                     st.floats(0, 1), licenses="p^2 >= p - 0.1")
    >>> cx = find_counterexample(linear)
    >>> 0 < cx.measurements < 1 and cx.evaluation.worst_slack < 0
    True
    """
    return verify(assumption, **kwargs).counterexample
