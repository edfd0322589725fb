"""The paper's fits recover known parameters, with standard errors that cover them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.validation import (
    ValidationConfig,
    analyze_bundle,
    bell_curve,
    fit_bell,
    fit_tanh,
    projection_2d,
    synthetic_bundle,
    tradeoff,
)


@given(a=st.floats(0.05, 2.0), b0=st.floats(-1.5, 1.5), seed=st.integers(0, 1000))
def test_tanh_fit_recovers_parameters_within_their_standard_errors(a, b0, seed):
    c = np.linspace(-5, 5, 51)
    y = np.tanh(a * c + b0) + 0.01 * np.random.default_rng(seed).normal(size=c.size)
    fit = fit_tanh(c, y)
    assert fit.converged
    assert abs(fit.a - a) < 5 * fit.a_se + 1e-3
    assert abs(fit.b0 - b0) < 5 * fit.b0_se + 1e-3


@given(a=st.floats(0.1, 5.0), b=st.floats(0.05, 1.0), restricted=st.booleans(), seed=st.integers(0, 1000))
def test_bell_fit_recovers_parameters(a, b, restricted, seed):
    c = np.linspace(-10, 10, 81)
    y = bell_curve(c, a, b, restricted=restricted) + 0.002 * np.random.default_rng(seed).normal(size=c.size)
    fit = fit_bell(c, y, restricted=restricted)
    assert fit.converged
    assert abs(fit.a - a) < 5 * fit.a_se + 1e-3 * a
    assert abs(fit.b - b) < 5 * fit.b_se + 1e-3 * b


def test_exact_curves_give_exact_parameters_and_zero_errors():
    c = np.linspace(-5, 5, 26)
    fit = fit_tanh(c, np.tanh(0.3 * c + 0.2))
    assert fit.a == pytest.approx(0.3, abs=1e-8) and fit.a_se == pytest.approx(0, abs=1e-8)
    assert fit.r2 == pytest.approx(1.0)


def test_fit_input_errors():
    with pytest.raises(ValueError, match="equal length"):
        fit_tanh(np.zeros(5), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        fit_bell(np.linspace(-1, 1, 5), np.array([0.1, 0.2, np.nan, 0.2, 0.1]))
    with pytest.raises(ValueError, match="points for 2 parameters"):
        fit_tanh(np.array([0.0, 1.0]), np.array([0.0, 0.5]))


def test_fit_on_an_exact_tanh_bundle_matches_the_prediction():
    """Single tokens, one direction, one kappa, one B_0: mean behaviour = tanh(kappa Delta c / 2 + artanh B_0)."""
    bundle = synthetic_bundle(seed=0, n_prompts=4, n_questions=40, n_aligned=1, n_misaligned=1, margin=0.8,
                              kappa=1.25, behaviour_b0=-0.3)
    fit = analyze_bundle(bundle).fits.behaviour_tanh
    assert fit.a == pytest.approx(1.25 * 0.8 / 2, rel=1e-6)
    assert fit.b0 == pytest.approx(np.arctanh(-0.3), abs=1e-6)
    assert fit.predicted.a == pytest.approx(fit.a, rel=1e-6)
    assert fit.predicted.b0 == pytest.approx(fit.b0, abs=1e-6)


def test_tradeoff_crossover_and_best_point():
    c = np.linspace(0, 4, 81)
    out = tradeoff(c, 0.5 * c, c, 0.9 - 0.25 * c**2, s_a_q=np.array([0.25, 0.75]), kappa_b_q=np.ones(2),
                   s_h_q=np.array([0.25]), kappa_h_q=np.ones(1), lam=2.0)
    assert out.measured.crossover_c == pytest.approx(2.0)
    assert out.predicted.r_eff == pytest.approx(2.0) and out.predicted.c_eff == pytest.approx(2.0)
    assert out.predicted.r_star == pytest.approx(0.5)
    assert out.measured.best_c == pytest.approx(0.5)  # argmax of 0.5 c - 2 (0.25 c^2)


def test_tradeoff_converts_norm_to_coefficient_units():
    c = np.linspace(0, 4, 41)
    out = tradeoff(c, 0 * c, c, 0 * c, s_a_q=np.array([0.5]), kappa_b_q=np.array([2.0]), s_h_q=np.array([0.25]),
                   kappa_h_q=np.array([0.5]), lam=1.0)
    # gain 0.5 * 2 c = c, loss 0.25 * 0.25 c^2 -> c_eff = 16; r_eff = 0.5 / 0.25 = 2
    assert out.predicted.c_eff == pytest.approx(16.0) and out.predicted.r_eff == pytest.approx(2.0)
    assert out.measured.crossover_c == 0.0  # flat measured curves: no efficient regime resolved


def test_projection_separates_planted_clusters():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 10))
    y = np.repeat([0, 1], 30)
    x[y == 1, 3] += 6.0
    out = projection_2d(x, y)
    assert out["accuracy_full"] == 1.0 and out["coords_n2"].shape == (60, 2)
    mixed = projection_2d(rng.normal(size=(60, 10)), y)
    assert mixed["accuracy_2d"] < 0.9
