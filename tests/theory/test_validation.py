"""Bad input raises an error that names the argument and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from steerbounds import (
    alignment_bound,
    behaviour_expectation,
    guarantee_radius,
    helpfulness,
    helpfulness_curvature,
    helpfulness_lower_bound,
    helpfulness_second_order,
)

LOGITS = np.log([0.4, 0.3, 0.2, 0.1])
GAPS = np.array([-1.0, 0.5])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_logits(bad):
    logits = LOGITS.copy()
    logits[2] = bad
    with pytest.raises(ValueError, match="logits contains NaN or inf.*finite"):
        behaviour_expectation(logits, [0], [1])
    with pytest.raises(ValueError, match="logits contains NaN or inf"):
        helpfulness(logits, 0)


@pytest.mark.parametrize("name", ["r", "margin", "b0"])
def test_nan_in_alignment_bound_arguments(name):
    args = {"r": 1.0, "margin": 1.0, "b0": 0.2}
    args[name] = np.nan
    with pytest.raises(ValueError, match=f"{name} contains NaN or inf"):
        alignment_bound(**args)


@pytest.mark.parametrize("b0", [1.0, -1.0, 1.5, -3.0])
def test_b0_outside_open_interval(b0):
    with pytest.raises(ValueError, match=r"b0 must lie strictly inside \(-1.0, 1.0\).*artanh"):
        alignment_bound(1.0, 1.0, b0)


def test_empty_token_set():
    with pytest.raises(ValueError, match="aligned_ids is empty; pass at least one token id"):
        behaviour_expectation(LOGITS, [], [1])
    with pytest.raises(ValueError, match="competitor_ids is empty"):
        helpfulness(LOGITS, 0, [])


def test_overlapping_token_sets():
    with pytest.raises(ValueError, match="aligned_ids and misaligned_ids overlap.*remove it from one set"):
        behaviour_expectation(LOGITS, [0, 1], [1, 2])


def test_unknown_and_repeated_tokens():
    with pytest.raises(ValueError, match="misaligned_ids holds token id 9, outside the vocabulary"):
        behaviour_expectation(LOGITS, [0], [9])
    with pytest.raises(ValueError, match="aligned_ids repeats token id 0"):
        behaviour_expectation(LOGITS, [0, 0], [1])
    with pytest.raises(ValueError, match="correct_id .* outside the vocabulary"):
        helpfulness(LOGITS, 7)
    with pytest.raises(ValueError, match="competitor_ids names no token other than correct_id"):
        helpfulness(LOGITS, 1, [1])


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="batch shapes do not broadcast.*r"):
        alignment_bound(np.ones(3), np.ones(4), 0.0)
    with pytest.raises(ValueError, match=r"cov has shape \(3,\) but gaps has k=2"):
        helpfulness_lower_bound(1.0, GAPS, np.ones(3))
    with pytest.raises(ValueError, match=r"needs shape \(\.\.\., 2, 2\)"):
        helpfulness_second_order(1.0, GAPS, np.eye(3))
    with pytest.raises(ValueError, match="batch shapes do not broadcast"):
        helpfulness_lower_bound(np.ones(4), np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="correct_id has shape"):
        helpfulness(np.zeros((3, 4)), np.array([0, 1]))


def test_covariance_not_psd():
    with pytest.raises(ValueError, match="cov is not positive semi-definite.*A @ A.T"):
        helpfulness_curvature(GAPS, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="cov is not symmetric"):
        helpfulness_curvature(GAPS, np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="cov must be non-negative"):
        helpfulness_lower_bound(1.0, GAPS, -1.0)


def test_empty_gaps_and_bad_eps():
    with pytest.raises(ValueError, match="gaps is empty"):
        helpfulness_lower_bound(1.0, np.zeros(0), 1.0)
    with pytest.raises(ValueError, match="target 1 - eps must exceed b0"):
        guarantee_radius(1.0, 0.95, eps=0.1)
    with pytest.raises(ValueError, match="margin must lie strictly inside.*A1"):
        guarantee_radius(-1.0, 0.0, eps=0.1)


def test_type_errors():
    with pytest.raises(TypeError, match="r must be a number"):
        alignment_bound("one", 1.0, 0.0)
    with pytest.raises(TypeError, match="correct_id must be an integer"):
        helpfulness(LOGITS, 0.5)
    with pytest.raises(TypeError, match="restricted must be True or False"):
        behaviour_expectation(LOGITS, [0], [1], restricted="yes")


def test_expected_helpfulness_and_radii_arguments():
    from steerbounds import best_radius, expected_helpfulness

    with pytest.raises(ValueError, match="method must be 'auto', 'quadrature' or 'monte_carlo'"):
        expected_helpfulness(1.0, GAPS, 1.0, method="simpson")
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        expected_helpfulness(1.0, GAPS, 1.0, method="quadrature", n=1)
    with pytest.raises(ValueError, match="mean has 3 entries per row but gaps has k=2"):
        expected_helpfulness(1.0, GAPS, 1.0, mean=np.zeros(3))
    with pytest.raises(ValueError, match="use method='monte_carlo'"):
        expected_helpfulness(1.0, np.zeros(8), 1.0, method="quadrature", n=64)
    with pytest.raises(ValueError, match="lam must be positive"):
        best_radius(1.0, 0.0, GAPS, 1.0, lam=0.0)
    with pytest.raises(ValueError, match="margin must be positive.*A1"):
        best_radius(-1.0, 0.0, GAPS, 1.0, lam=1.0)
