"""Example 1: gap changes with a nonzero mean (docs/theory.md#c2-3).

A2 says that steering changes the gaps by X ~ N(0, r^2 Sigma). Drop "zero
mean": with X ~ N(r mu, r^2 Sigma), does T2a's bound, whose loss
p_0 - L(r) is quadratic in r, still hold?
"""

import dataclasses

import numpy as np
import pytest

from steerbounds import helpfulness_lower_bound
from steerbounds.testing import A2_MODEL, Inequality, gap_change_models

# Gap-change models of one question whose mean change per unit norm, mu_i, lies in [-1, 1].
BIASED_MODELS = gap_change_models(mean=(-1.0, 1.0), max_radius=2.0)

# The new assumption is one predicate: Gaussian gap changes, any mean. It keeps A2's bound, T2a.
BIASED_A2 = A2_MODEL.replace(
    name="A2 with a mean",
    predicate=lambda model: model.gaussian,
    measurements=BIASED_MODELS,
    statement="X ~ N(r mu, r^2 Sigma); T2a: E[H_r] >= 1/(1 + sum_i e^{g_i + r^2 Sigma_ii/2})",
)


def bias_corrected_t2a(model):
    """Jensen with the mean kept: E[H_r] >= 1/(1 + sum_i e^{g_i + r mu_i + r^2 Sigma_ii/2})."""
    value, stderr = model.expected_helpfulness()
    shifted_gaps = model.gaps_k + model.radius * model.mean_k
    bound = helpfulness_lower_bound(model.radius, shifted_gaps, model.cov_kk)
    return Inequality(observed=value, bound=bound, stderr=stderr)


def test_t2a_fails_when_gap_changes_have_a_mean():
    counterexample = BIASED_A2.find_counterexample(max_examples=100)
    assert counterexample is not None
    print(counterexample)  # shown with pytest -s
    model = counterexample.measurements
    # Only competitors that gain on average (mu_i > 0) can push E[H_r] below the bound.
    assert np.any(model.mean_k > 0)
    # C2.3: E[H_r] = p_0 - r p_0 sum_i p_i mu_i + O(r^2), a linear term no quadratic loss absorbs.
    near_zero = dataclasses.replace(model, radius=1e-4)
    slope = (near_zero.expected_helpfulness().value - model.p0) / near_zero.radius
    p_k = model.p0 * np.exp(model.gaps_k)  # competitor probabilities p_i = p_0 e^{g_i}
    assert slope == pytest.approx(-model.p0 * p_k @ model.mean_k, abs=1e-3)


def test_bias_corrected_bound_holds():
    corrected = BIASED_A2.replace(bound=bias_corrected_t2a, licenses="bias-corrected T2a")
    print(corrected.verify().assert_holds())


# The same two claims as plain tests, with the kit's pytest fixture and markers.
@pytest.mark.steer(BIASED_MODELS)
@pytest.mark.counterexample
def test_quadratic_only_loss_is_not_a_bound(steer_instance):
    value, stderr = steer_instance.expected_helpfulness()
    assert value + 5 * stderr >= steer_instance.lower_bound()


@pytest.mark.steer(BIASED_MODELS)
def test_bias_corrected_bound(steer_instance):
    claim = bias_corrected_t2a(steer_instance)
    assert claim.observed + 5 * claim.stderr >= claim.bound - 1e-9
