"""A1-A4 on synthetic bundles whose answer is known: holding instances hold, planted failures are reported."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.validation import (
    HelpfulnessSweep,
    ValidationConfig,
    a1_margins,
    a2_gap_changes,
    a3_linear_response,
    a4_behaviour_mass,
    synthetic_bundle,
)


def test_a1_margin_equals_the_planted_margin():
    b = synthetic_bundle(seed=0, n_prompts=5, n_questions=4, n_aligned=1, n_misaligned=1, margin=0.7)
    out = a1_margins(b.behaviour)
    c = b.behaviour.coefficients_c
    np.testing.assert_allclose(out.margin_qc[:, c != 0], 0.7, rtol=1e-10)
    assert np.all(np.isnan(out.margin_qc[:, c == 0]))
    assert out.holds and out.failing_prompts == ()


def test_a1_failures_are_reported_with_their_prompts_and_nothing_is_dropped():
    b = synthetic_bundle(seed=1, n_prompts=8, n_questions=4, a1_failing=(2, 6))
    out = a1_margins(b.behaviour)
    assert not out.holds
    assert [f.index for f in out.failing_prompts] == [2, 6]
    assert out.failing_prompts[0].text == "synthetic prompt 2"
    assert out.margin_qc.shape == (8, b.behaviour.coefficients_c.size)
    assert np.all(out.margin_qc[[2, 6]][:, b.behaviour.coefficients_c != 0] < 0)


def test_a1_consistency_detects_a_delta_that_does_not_match_the_logits():
    b = synthetic_bundle(seed=0, n_prompts=3, n_questions=4)
    assert a1_margins(b.behaviour).consistency_qc.max() < 1e-10
    wrong = dataclasses.replace(b.behaviour, delta_qcd=b.behaviour.delta_qcd * 2)
    assert a1_margins(wrong).consistency_qc.max() > 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a2_holds_on_gaussian_gap_changes(seed):
    b = synthetic_bundle(seed=seed, n_prompts=2, n_questions=120, gap_noise="gaussian")
    out = a2_gap_changes(b.helpfulness)
    assert out.normality.holds, out.normality
    assert out.std_fit.r2 > 0.999
    assert not out.bias.significant
    assert out.holds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a2_fails_on_heavy_tailed_gap_changes(seed):
    b = synthetic_bundle(seed=seed, n_prompts=2, n_questions=120, gap_noise="student_t", df=2.0)
    out = a2_gap_changes(b.helpfulness)
    assert not out.normality.holds
    assert not out.holds
    assert all(row.excess_kurtosis > 1 for row in out.per_coefficient if row.c != 0)


_NORM = 20.0  # every planted delta has norm |c| * _NORM


def _planted_sweep(y_qk: np.ndarray, c: np.ndarray) -> HelpfulnessSweep:
    """A consistent helpfulness sweep (option 0 correct) with gap changes ``X = c y`` and ``||delta|| = |c| _NORM``.

    Option rows are unit basis vectors; delta = c (0, y, s) with s filling the norm up to ``_NORM``.
    """
    nq, k = y_qk.shape
    fill = np.sqrt(_NORM**2 - (y_qk**2).sum(axis=1))
    base = np.concatenate([np.zeros((nq, 1)), y_qk, fill[:, None]], axis=1)  # (q, k + 2)
    delta = c[None, :, None] * base[:, None, :]
    unembed = np.eye(k + 1, k + 2)
    z = np.einsum("qcd,od->qco", delta, unembed) + np.arange(k + 1)[None, None, :] * 0.1
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True)) - 1.0  # a little mass elsewhere
    return HelpfulnessSweep(c, lp, lp.max(-1), delta, unembed, option_ids=tuple(range(k + 1)),
                            correct_q=np.zeros(nq, dtype=np.int64))


def test_a2_covariance_fit_recovers_an_exchangeable_sigma():
    rng = np.random.default_rng(0)
    k, nq = 3, 4000
    sigma = 0.5 * np.eye(k) + 0.2  # diagonal 0.7, off-diagonal 0.2
    c = np.array([-1.0, 0.0, 2.0])
    out = a2_gap_changes(_planted_sweep(rng.multivariate_normal(np.zeros(k), sigma, size=nq), c))
    cov = out.covariance  # per unit norm: Sigma / _NORM^2
    assert cov.diagonal * _NORM**2 == pytest.approx(0.7, rel=0.05)
    assert cov.off_diagonal * _NORM**2 == pytest.approx(0.2, abs=0.03)
    np.testing.assert_allclose(cov.sigma_kk * _NORM**2, sigma, atol=0.04)
    assert out.holds


def test_a2_bias_is_detected():
    rng = np.random.default_rng(1)
    c = np.array([-1.0, 0.0, 1.0, 2.0])
    out = a2_gap_changes(_planted_sweep(rng.normal(size=(300, 3)) + 0.5, c))
    assert out.bias.significant and out.bias.mu * _NORM == pytest.approx(0.5, abs=0.1)
    assert not out.holds


def test_a2_cov_fit_range_must_leave_a_coefficient():
    b = synthetic_bundle(seed=0, n_prompts=2, n_questions=10)
    with pytest.raises(ValueError, match="cov_fit_max_abs_c"):
        a2_gap_changes(b.helpfulness, ValidationConfig(cov_fit_max_abs_c=0.01))


def test_a3_kappa_and_linearity():
    b = synthetic_bundle(seed=0, n_prompts=6, n_questions=4, kappa=1.7, kappa_spread=0.2)
    out = a3_linear_response(b.behaviour.coefficients_c, b.behaviour.delta_qcd)
    assert out.holds and out.r2_summary.min > 0.999999
    assert np.all(np.abs(out.kappa_q - 1.7) <= 1.7 * 0.2 + 1e-9)
    np.testing.assert_allclose(out.min_cosine_q, 1.0, atol=1e-12)


def test_a3_fails_on_a_saturating_response():
    b = synthetic_bundle(seed=0, n_prompts=4, n_questions=4, response="saturating")
    out = a3_linear_response(b.behaviour.coefficients_c, b.behaviour.delta_qcd, b.behaviour.prompts)
    assert not out.holds and len(out.failing_prompts) == 4
    assert out.failing_prompts[0].r2 < 0.95


def test_a3_detects_a_rotating_direction():
    c = np.linspace(-2, 2, 9)
    angle = 0.8 * c  # the direction turns with c
    delta = (c[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))[None]
    out = a3_linear_response(c, delta, ("rotating",))
    assert out.r2_q[0] > 0.999  # the norm is still linear ...
    assert out.min_cosine_q[0] < 0.9  # ... but the direction is not stable
    assert not out.holds and out.failing_prompts[0].text == "rotating"


def test_a4_mass_failures_listed():
    b = synthetic_bundle(seed=0, n_prompts=5, n_questions=4)
    assert a4_behaviour_mass(b.behaviour).holds
    lp = b.behaviour.logprobs_qcr.copy()
    lp[3] -= 5.0  # prompt 3 puts almost no mass on the behaviour tokens
    out = a4_behaviour_mass(dataclasses.replace(b.behaviour, logprobs_qcr=lp))
    assert not out.holds and [f.index for f in out.failing_prompts] == [3]
    assert out.failing_prompts[0].worst_of == "mass" and out.failing_prompts[0].worst < 0.5


@given(seed=st.integers(0, 10_000), jitter=st.floats(0.0, 3.0), margin=st.floats(0.05, 3.0))
def test_a1_margin_is_invariant_to_the_coefficient_under_final_layer_steering(seed, jitter, margin):
    """Final-representation steering along a fixed direction: one margin per prompt at every c."""
    b = synthetic_bundle(seed=seed, n_prompts=3, n_questions=2, direction_jitter=jitter, margin=margin)
    m = a1_margins(b.behaviour).margin_qc[:, b.behaviour.coefficients_c != 0]
    np.testing.assert_allclose(m, m[:, :1].repeat(m.shape[1], 1), rtol=1e-9, atol=1e-12)
