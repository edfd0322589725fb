"""verify / find_counterexample: property tests of a bound and shrunk counterexamples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings, strategies as st

from steerbounds.testing import Assumption, BoundEvaluationError, Inequality, find_counterexample, verify

pairs = st.tuples(st.floats(-10, 10, allow_nan=False), st.floats(-10, 10, allow_nan=False))


def am_gm(pair):
    a, b = pair
    return Inequality(observed=(a * a + b * b) / 2, bound=a * b)


def test_a_true_bound_survives_and_reports_how_close_it_came():
    result = verify(Assumption("reals", lambda p: True, am_gm, pairs, licenses="AM-GM"))
    assert result.holds and result.counterexample is None
    assert result.n_satisfying >= 1 and result.closest_slack >= -1e-9
    assert "AM-GM under reals holds" in result.report()
    assert result.assert_holds() is result
    with pytest.raises(AssertionError, match="expected a counterexample"):
        result.assert_fails()


def test_a_false_bound_is_shrunk_to_a_minimal_counterexample():
    # a^2 >= a * b fails for b > a > 0 and for b < a < 0; hypothesis shrinks towards small simple values
    wrong = Assumption("reals", lambda p: True, lambda p: Inequality(p[0] * p[0], p[0] * p[1]), pairs,
                       licenses="a^2 >= ab")
    result = verify(wrong)
    assert not result.holds
    cx = result.counterexample
    a, b = cx.measurements
    assert a * a < a * b
    assert (a, b) in {(1.0, 2.0), (-1.0, -2.0)}  # the minimal example
    assert "Counterexample to a^2 >= ab under reals" in cx.report()
    with pytest.raises(AssertionError, match="FAILS"):
        result.assert_holds()


def test_counterexamples_only_come_from_where_the_predicate_holds():
    # x^2 >= x is false on (0, 1) only; restricted to x >= 1 it holds
    square = Assumption("x >= 1", lambda x: x >= 1, lambda x: Inequality(x * x, x), st.floats(-3, 3))
    assert square.verify().holds
    assert square.replace(predicate=lambda x: x > 0).find_counterexample().measurements == 0.5


def test_per_element_predicate_checks_only_the_elements_where_it_holds():
    arrays = st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=5).map(np.array)
    nonneg = Assumption("x_i >= 0", lambda x: x >= 0, lambda x: Inequality(np.sqrt(np.abs(x)) ** 2, x), arrays)
    assert nonneg.verify().holds
    cx = nonneg.replace(bound=lambda x: Inequality(x, 0.5)).find_counterexample()
    x = cx.measurements
    assert np.any((x >= 0) & (x < 0.5))


def test_search_is_deterministic_for_a_seed():
    wrong = Assumption("reals", lambda p: True, lambda p: Inequality(p[0], p[1]), pairs)
    first = find_counterexample(wrong, seed=7).measurements
    assert find_counterexample(wrong, seed=7).measurements == first


def test_a_narrow_violation_is_found_with_a_modest_budget():
    # the bound fails only within 0.2 of 7.3 (2% of the range); the search is steered by the slack
    narrow = Assumption("x", lambda x: True, lambda x: Inequality(abs(x - 7.3), 0.2), st.floats(0, 10))
    found = [narrow.find_counterexample(max_examples=100, seed=seed) for seed in range(10)]
    assert sum(cx is not None for cx in found) >= 8
    assert all(abs(cx.measurements - 7.3) < 0.2 for cx in found if cx is not None)


def test_unsatisfiable_predicate_is_a_clear_error():
    never = Assumption("never", lambda x: False, lambda x: Inequality(x, 0.0), st.floats(0, 1))
    with pytest.raises(ValueError, match="held on none of the"):
        never.verify(max_examples=5)


def test_errors_in_the_bound_are_reported_with_the_instance():
    broken = Assumption("x", lambda x: True, lambda x: Inequality(np.log(-1.0 - x), 0.0), st.floats(0, 1))
    with pytest.raises(BoundEvaluationError, match="instance: 0") as info:
        with np.errstate(invalid="raise"):
            broken.verify()
    assert "FloatingPointError" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"measurements": [1.0]}, "SearchStrategy"),
        ({"settings": {"max_examples": 3}}, "hypothesis.settings"),
        ({"max_examples": 0}, "positive int"),
    ],
)
def test_verify_checks_its_arguments(kwargs, message):
    a = Assumption("x", lambda x: True, lambda x: Inequality(1.0, 0.0), st.just(0.0))
    with pytest.raises((TypeError, ValueError), match=message):
        verify(a, **kwargs)


def test_verify_needs_a_strategy():
    with pytest.raises(ValueError, match="no measurements strategy"):
        verify(Assumption("x", bool, lambda x: Inequality(1.0, 0.0)))


def test_settings_and_max_examples_are_honoured():
    a = Assumption("x", lambda x: True, lambda x: Inequality(1.0, 0.0), st.integers(0, 10**6))
    assert verify(a, max_examples=7).max_examples == 7
    assert verify(a, settings=settings(max_examples=3)).max_examples == 3
