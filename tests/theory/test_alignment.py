"""T1 and its corollaries on random instances (docs/theory.md#alignment)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from scipy.special import logsumexp

from steerbounds import alignment_bound, alignment_slope, behaviour_expectation, guarantee_radius
from steerbounds.testing import alignment_instances

norms = st.floats(-5.0, 5.0, allow_nan=False)


def half_log_odds(logits, plus, minus):
    """Plain numpy reference: artanh(B) = (ln P+ - ln P-)/2."""
    return (logsumexp(logits[..., plus], axis=-1) - logsumexp(logits[..., minus], axis=-1)) / 2


@given(inst=alignment_instances(max_vocab=12), r=norms)
def test_t1_log_odds_form_holds_for_both_signs(inst, r):
    """sign(r) (artanh B_r - r Delta/2 - artanh B_0) >= 0: T1 without rounding near +-1."""
    u0 = half_log_odds(inst.logits_v, inst.aligned_ids, inst.misaligned_ids)
    ur = half_log_odds(inst.steered_logits(r), inst.aligned_ids, inst.misaligned_ids)
    slack = np.sign(r) * (ur - r * inst.margin / 2 - u0)
    assert slack >= -1e-9 * (1 + abs(ur) + abs(u0))


def behaviour(logits, plus, minus):
    """Plain numpy reference for B (behaviour_expectation itself is tested below on fixed shapes)."""
    return float(np.tanh(half_log_odds(logits, plus, minus)))


@given(inst=alignment_instances(max_vocab=12, max_logit=4.0), r=norms)
def test_t1_bound_holds_for_both_signs(inst, r):
    b0 = behaviour(inst.logits_v, inst.aligned_ids, inst.misaligned_ids)
    assume(abs(b0) < 1 - 1e-12)
    b_r = behaviour(inst.steered_logits(r), inst.aligned_ids, inst.misaligned_ids)
    bound = float(alignment_bound(r, inst.margin, b0))
    assert np.sign(r) * (b_r - bound) >= -1e-12


@given(inst=alignment_instances(min_vocab=2, max_vocab=6, max_logit=4.0), r=norms)
def test_t1_equality_for_one_token_each(inst, r):
    plus, minus = inst.aligned_ids[:1], inst.misaligned_ids[:1]
    w = inst.unembed_vd @ inst.direction_d
    margin = float(w[plus[0]] - w[minus[0]])
    b0 = behaviour(inst.logits_v, plus, minus)
    assume(abs(b0) < 1 - 1e-9)
    b_r = behaviour(inst.steered_logits(r), plus, minus)
    assert b_r == pytest.approx(float(alignment_bound(r, margin, b0)), abs=1e-9)


@given(inst=alignment_instances(max_vocab=12, max_logit=3.0), eps=st.floats(1e-6, 0.5))
def test_c1_2_guarantee_radius_reaches_target(inst, eps):
    b0 = behaviour(inst.logits_v, inst.aligned_ids, inst.misaligned_ids)
    assume(1 - eps > b0 + 1e-9)
    radius = float(guarantee_radius(inst.margin, b0, eps=eps))
    assert radius > 0
    b_r = behaviour(inst.steered_logits(radius), inst.aligned_ids, inst.misaligned_ids)
    assert b_r >= 1 - eps - 1e-9


@given(inst=alignment_instances(min_vocab=6, max_vocab=6, max_logit=5.0), r=norms, eta_extra=st.floats(0.0, 0.2))
def test_c1_3_unrestricted_expectation_with_neutral_mass(inst, r, eta_extra):
    plus, minus = inst.aligned_ids, inst.misaligned_ids
    logits = inst.steered_logits(r)
    prob = np.exp(logits - logsumexp(logits))
    mass = prob[plus].sum() + prob[minus].sum()
    eta = 1 - mass + eta_extra * mass
    b_r = behaviour(logits, plus, minus)
    assume(b_r >= 0)
    b_tilde = prob[plus].sum() - prob[minus].sum()
    assert b_tilde >= (1 - eta) * b_r - 1e-12


@given(z=st.lists(st.floats(-40, 40), min_size=7, max_size=7))
def test_behaviour_expectation_against_reference_fixed_sets(z):
    logits = np.array(z)
    plus, minus = [0, 3], [1, 5, 6]
    expected = behaviour(logits, plus, minus)
    # B = tanh of a difference of two log-sum-exps: its absolute rounding scales with the logits.
    tol = 1e-14 * (1 + np.abs(logits).max())
    assert float(behaviour_expectation(logits, plus, minus)) == pytest.approx(expected, rel=1e-12, abs=tol)


def test_behaviour_expectation_matches_definition():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 7, 11))
    plus, minus = [0, 3, 4], [1, 9]
    prob = np.exp(logits - logsumexp(logits, axis=-1, keepdims=True))
    p_plus, p_minus = prob[..., plus].sum(-1), prob[..., minus].sum(-1)
    np.testing.assert_allclose(behaviour_expectation(logits, plus, minus), (p_plus - p_minus) / (p_plus + p_minus), rtol=1e-12)
    np.testing.assert_allclose(behaviour_expectation(logits, plus, minus, restricted=False), p_plus - p_minus, rtol=1e-10, atol=1e-14)


def test_behaviour_expectation_keeps_precision_near_one():
    logits = np.array([0.0, -60.0])  # P-/P+ = e^-60: B = 1 - 2e^-60 in exact arithmetic
    assert float(behaviour_expectation(logits, [1], [0])) == pytest.approx(-1.0, abs=1e-15)
    logits = np.array([0.0, -30.0])
    expected = np.tanh(15.0)
    assert float(behaviour_expectation(logits, [0], [1])) == pytest.approx(expected, rel=1e-15)


def test_alignment_slope_and_bound_agree_at_small_r():
    margin, b0, r = 1.7, 0.3, 1e-6
    slope = float(alignment_slope(margin, b0))
    assert slope == pytest.approx(margin / 2 * (1 - b0**2))
    assert (float(alignment_bound(r, margin, b0)) - b0) / r == pytest.approx(slope, rel=1e-5)
