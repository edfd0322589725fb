"""Assumption objects and inequalities: evaluation, tolerances, reports, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from steerbounds.testing import Assumption, AssumptionReport, Inequality
from steerbounds.validation.kit._assumption import evaluate_inequality

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(observed=finite, bound=finite)
def test_lower_and_upper_bounds_are_mirror_images(observed, bound):
    lower = evaluate_inequality(Inequality(observed, bound), True, atol=0.0, rtol=0.0)
    upper = evaluate_inequality(Inequality(bound, observed, sense="<="), True, atol=0.0, rtol=0.0)
    assert lower.holds == (observed >= bound) == upper.holds
    assert lower.worst_slack == upper.worst_slack == observed - bound


def test_violation_is_found_only_where_predicate_and_conditions_hold():
    observed = np.array([[0.0, 1.0], [2.0, -5.0]])
    bound = np.zeros((2, 2))
    everywhere = evaluate_inequality(Inequality(observed, bound), True)
    assert not everywhere.holds and everywhere.worst_index == (1, 1) and everywhere.n_violated == 1
    masked = evaluate_inequality(Inequality(observed, bound), np.array([True, False])[:, None])
    assert masked.holds and masked.n_checked == 2
    conditioned = evaluate_inequality(Inequality(observed, bound, where=observed > -1), True)
    assert conditioned.holds and conditioned.n_checked == 3


def test_stderr_widens_the_tolerance_by_z():
    claim = Inequality(observed=0.9, bound=1.0, stderr=0.03)
    assert evaluate_inequality(claim, True, z=5.0).holds  # 0.1 < 5 * 0.03
    assert not evaluate_inequality(claim, True, z=3.0).holds  # 0.1 > 3 * 0.03


def test_nan_where_checked_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="bound is NaN at \\[1\\]"):
        evaluate_inequality(Inequality([1.0, 1.0], [0.0, np.nan]), True)
    # NaN outside the checked elements is fine (e.g. a margin undefined at r = 0)
    assert evaluate_inequality(Inequality([1.0, 1.0], [0.0, np.nan]), [True, False]).holds


@pytest.mark.parametrize(
    "claim, predicate, message",
    [
        (Inequality([1.0, 2.0], [0.0, 0.0, 0.0]), True, "do not broadcast"),
        (Inequality(1.0, 0.0), np.array([0.5]), "array of bools"),
        (Inequality("a", 0.0), True, "observed must be numbers"),
        ((1.0, 0.0), True, "must return an Inequality"),
        (Inequality(1.0, 0.0, stderr=-1.0), True, "stderr must be non-negative"),
    ],
)
def test_bad_inequalities_are_reported(claim, predicate, message):
    with pytest.raises((ValueError, TypeError), match=message):
        evaluate_inequality(claim, predicate)


def test_inequality_rejects_unknown_sense():
    with pytest.raises(ValueError, match="sense must be"):
        Inequality(1.0, 0.0, sense=">")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"predicate": 3}, "predicate must be callable"),
        ({"bound": None}, "bound must be callable"),
        ({"measurements": [1, 2]}, "SearchStrategy"),
        ({"atol": -1.0}, "atol must be a finite non-negative"),
        ({"z": float("nan")}, "z must be a finite non-negative"),
    ],
)
def test_assumption_checks_its_fields(kwargs, message):
    fields = {"name": "A", "predicate": bool, "bound": lambda m: Inequality(1.0, 0.0)}
    fields.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        Assumption(**fields)


def test_default_check_reports_every_failing_element():
    a = Assumption("positive", lambda x: x > 0, lambda x: Inequality(x, 0.0))
    report = a.check(np.array([[1.0, -1.0], [-2.0, 3.0]]))
    assert isinstance(report, AssumptionReport)
    assert not report.holds and report.fraction_holding == 0.5
    assert [d["index"] for d in report.detail] == [(0, 1), (1, 0)]


def test_checker_must_return_a_report():
    a = Assumption("A", bool, lambda m: Inequality(1.0, 0.0), checker=lambda m: {"holds": True})
    with pytest.raises(TypeError, match="must return an AssumptionReport"):
        a.check(1.0)


def test_replace_derives_a_variant_and_leaves_the_original():
    a = Assumption("A", lambda x: True, lambda x: Inequality(x, 0.0))
    b = a.replace(name="A'", predicate=lambda x: x > 0)
    assert a.name == "A" and bool(a.holds(-1.0)) and not bool(b.holds(-1.0))


def test_replacing_the_bound_replaces_the_statement():
    from steerbounds.testing import A1

    def doubled(measurements):
        """T1 with twice the slope"""
        return A1.bound(measurements)

    variant = A1.replace(bound=doubled)
    assert A1.statement and A1.statement not in variant.statement
    assert "doubled: T1 with twice the slope" in variant.statement and variant.licenses == "doubled"
    anonymous = A1.replace(predicate=lambda m: A1.predicate(m))
    assert anonymous.statement == "A1, with its predicate replaced by a lambda"
    assert A1.replace(bound=doubled, statement="mine").statement == "mine"
    assert A1.replace(atol=1e-3).statement == A1.statement
