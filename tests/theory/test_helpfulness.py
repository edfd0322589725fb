"""Helpfulness and T2a-T2c, C2.1-C2.3 and section 4 on random instances (docs/theory.md sections 3-4 (#helpfulness, #tradeoff))."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import logsumexp

from steerbounds import (
    best_radius,
    efficient_radius,
    expected_helpfulness,
    helpfulness,
    helpfulness_curvature,
    helpfulness_lower_bound,
    helpfulness_second_order,
)
from steerbounds.theory import _derive_remainder
from steerbounds.theory._check_helpfulness import _kernel
from steerbounds.theory._symbols import Sigma, mu
from steerbounds.testing import covariances, gap_vectors

from theory_cases import helpfulness_cases, right_answer_cases


def remainder_constant(cov):
    """T2c's K = (21/16) sum_i Sigma_ii^2, read from the derivation."""
    coefficient = _derive_remainder.t2c()["constant"].args[0]
    return float(coefficient) * float(np.sum(np.diag(cov) ** 2))


def test_helpfulness_matches_softmax_full_and_restricted():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 3, 9)) * 3
    correct = rng.integers(0, 9, size=(4, 3))
    prob = np.exp(logits - logsumexp(logits, axis=-1, keepdims=True))
    expected = np.take_along_axis(prob, correct[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(helpfulness(logits, correct), expected, rtol=1e-12)
    options = np.array([0, 2, 4, 6])
    correct = options[rng.integers(0, 4, size=(4, 3))]
    sub = np.take_along_axis(logits, np.broadcast_to(options, (4, 3, 4)), axis=-1)
    mine = np.take_along_axis(logits, correct[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(helpfulness(logits, correct, options), np.exp(mine - logsumexp(sub, axis=-1)), rtol=1e-12)


def test_helpfulness_tiny_probability_in_log_space():
    logits = np.array([-700.0, 0.0, 5.0])
    expected = np.exp(-700.0 - logsumexp([0.0, 5.0]))
    assert float(helpfulness(logits, 0)) == pytest.approx(expected, rel=1e-12)


@given(case=helpfulness_cases(max_k=2))
def test_t2a_lower_bound_below_exact_expectation(case):
    gaps, cov, r = case
    value, err = expected_helpfulness(r, gaps, cov, method="quadrature", n=24)
    assert float(value) + 10 * float(err) + 1e-12 >= float(helpfulness_lower_bound(r, gaps, cov))


@given(case=helpfulness_cases(min_k=4, max_k=4, max_r=3.0), seed=st.integers(0, 2**31 - 1))
def test_t2a_with_many_competitors_monte_carlo(case, seed):
    import jax

    gaps, cov, r = case
    value, err = expected_helpfulness(r, gaps, cov, method="monte_carlo", n=4096, key=jax.random.key(seed))
    assert float(value) + 6 * float(err) + 1e-12 >= float(helpfulness_lower_bound(r, gaps, cov))


@given(case=helpfulness_cases(max_k=2, max_r=1.0))
def test_t2b_t2c_error_within_k_r4(case):
    gaps, cov, r = case
    value, err = expected_helpfulness(r, gaps, cov, method="quadrature", n=24)
    error = abs(float(value) - float(helpfulness_second_order(r, gaps, cov)))
    assert error <= remainder_constant(cov) * r**4 + 10 * float(err) + 1e-13


@given(case=helpfulness_cases(max_k=2, max_scale=1.0))
def test_t2b_error_shrinks_like_r4(case):
    """error(r)/r^4 stays bounded as r halves (it would grow fourfold per halving at order r^3)."""
    gaps, cov, _ = case
    r = 0.1 / np.sqrt(np.max(np.diag(cov)))
    norms = (r, r / 2, r / 4)
    scaled = []
    for norm in norms:
        value, _ = expected_helpfulness(norm, gaps, cov, method="quadrature", n=65)
        scaled.append(abs(float(value) - float(helpfulness_second_order(norm, gaps, cov))) / norm**4)
    assert scaled[2] <= 2 * max(scaled[0], scaled[1]) + 1e-13 / norms[2] ** 4


@given(case=right_answer_cases())
def test_c2_1_interval_when_right(case):
    gaps, cov = case
    p0 = 1 / (1 + np.exp(gaps).sum())
    p = np.exp(gaps) * p0
    assert p0 >= 0.5
    coefficient = -float(helpfulness_curvature(gaps, cov))
    weighted = float(p @ np.diag(cov))
    tol = 1e-12 * (1 + p0 * weighted)
    assert -p0 * weighted / 2 - tol <= coefficient <= -p0 * (2 * p0 - 1) * weighted / 2 + tol
    sigma2 = float(np.mean(np.diag(cov)))
    iid = -float(helpfulness_curvature(gaps, sigma2))
    assert -sigma2 / 2 * p0 * (1 - p0) - tol <= iid <= -sigma2 / 2 * p0 * (1 - p0) * (2 * p0 - 1) + tol


def test_c2_1_noise_helps_a_model_that_was_wrong():
    """p_0 = 0.33 with one competitor: the r^2 coefficient is positive and E[H_r] rises."""
    gaps = np.array([np.log(0.67 / 0.33)])
    assert float(helpfulness_curvature(gaps, 1.0)) < 0
    for r in (0.1, 0.3, 1.0):
        value, err = expected_helpfulness(r, gaps, 1.0)
        assert float(value) - float(err) > 0.33


@given(base=st.floats(0.01, 0.49), sigma2=st.floats(0.01, 4.0))
def test_c2_1_gain_for_every_wrong_single_competitor(base, sigma2):
    gaps = np.array([np.log((1 - base) / base)])
    assert -float(helpfulness_curvature(gaps, sigma2)) > 0
    value, _ = expected_helpfulness(0.05 / np.sqrt(sigma2), gaps, sigma2)
    assert float(value) > base


@given(case=helpfulness_cases(max_k=2, max_r=0.5), mean_scale=st.floats(0.0, 1.0))
def test_c2_3_bias_adds_a_linear_term(case, mean_scale):
    """The odd part of E[H_r] with mean r mu is -r p_0 sum_i p_i mu_i, within T2c's K_3 r^3 on each side."""
    gaps, cov, r = case
    mean = mean_scale * np.linspace(-1.0, 1.0, gaps.shape[0])
    p0 = 1 / (1 + np.exp(gaps).sum())
    p = np.exp(gaps) * p0
    plus, err_p = expected_helpfulness(r, gaps, cov, mean=mean, method="quadrature", n=32)
    minus, err_m = expected_helpfulness(-r, gaps, cov, mean=mean, method="quadrature", n=32)
    slope = (float(plus) - float(minus)) / (2 * r)
    k3 = float(_kernel("t2c", "bias_constant", (mu, Sigma))(mean, cov))
    assert abs(slope + p0 * float(p @ mean)) <= k3 * r**2 + 10 * (float(err_p) + float(err_m)) / r + 1e-12


def test_expected_helpfulness_methods_agree():
    rng = np.random.default_rng(3)
    gaps = rng.normal(size=(5, 2))
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    quad = expected_helpfulness(0.8, gaps, cov, method="quadrature")
    mc = expected_helpfulness(0.8, gaps, cov, method="monte_carlo", n=1 << 15)
    assert np.all(np.abs(np.asarray(quad.value) - np.asarray(mc.value)) <= 5 * np.asarray(mc.stderr) + 1e-9)
    assert np.all(np.asarray(quad.stderr) < 1e-8)
    again = expected_helpfulness(0.8, gaps, cov, method="monte_carlo", n=1 << 15)
    np.testing.assert_array_equal(np.asarray(again.value), np.asarray(mc.value))  # deterministic


@given(gaps=gap_vectors(min_k=4, max_k=4, min_gap=-6.0, max_gap=2.0), lam=st.floats(0.1, 10.0))
def test_section_4_radii(gaps, lam):
    cov = 0.5
    s_h = float(helpfulness_curvature(gaps, cov))
    r_eff = float(efficient_radius(1.5, 0.2, gaps, cov))
    r_best = float(best_radius(1.5, 0.2, gaps, cov, lam=lam))
    if s_h <= 0:
        assert r_eff == np.inf and r_best == np.inf
        return
    s_a = 1.5 / 2 * (1 - 0.2**2)
    assert s_a * r_eff == pytest.approx(s_h * r_eff**2, rel=1e-10)
    assert r_best == pytest.approx(r_eff / (2 * lam), rel=1e-10)


@given(cov=covariances(k=3))
def test_lower_bound_accepts_every_covariance_form(cov):
    gaps = np.array([-1.0, 0.0, 0.5])
    full = float(helpfulness_lower_bound(0.7, gaps, cov))
    diag = float(helpfulness_lower_bound(0.7, gaps, np.diag(cov)))
    assert full == pytest.approx(diag, rel=1e-12)
    batched = helpfulness_lower_bound(np.array([0.7, 0.7]), np.stack([gaps, gaps]), np.stack([cov, cov]))
    np.testing.assert_allclose(batched, full, rtol=1e-12)
