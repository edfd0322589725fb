"""Grid choice, measured crossover and the identifiability rule, on synthetic curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steerbounds.validation import bell_curve, fit_bell, fit_tanh, synthetic_bundle
from steerbounds.validation._crossover import crossover_points, measured_tradeoff
from steerbounds.validation._fits import identifiability, restricted_bell_range_note
from steerbounds.validation._grid import (
    MeasuredScales,
    choose_grid,
    grid_coverage,
    measure_scales,
    predicted_restricted_p,
)

# ----------------------------------------------------------------------------- crossover


@given(a=st.floats(0.1, 2.0), b=st.floats(0.05, 1.0))
def test_crossover_of_a_line_and_a_parabola_is_a_over_b(a, b):
    c_true = a / b
    grid = np.linspace(0, 2 * c_true, 201)
    got = crossover_points(grid, (a * grid)[None], (b * grid**2)[None])[0]
    assert got == pytest.approx(c_true, rel=1e-9)


def test_crossover_edge_cases_are_flagged():
    c = np.linspace(0, 1, 11)
    assert np.isnan(crossover_points(c, c[None], (0.1 * c)[None])[0])  # never within the grid
    assert crossover_points(c, (0.1 * c)[None], c[None])[0] == 0.0  # no efficient regime resolved
    with pytest.raises(ValueError, match="start at 0"):
        crossover_points(c + 1, c[None], c[None])


def _population(rng, n_prompts, n_questions, c, a=0.5, b=0.25, noise=0.3):
    """Prompts with gain slopes a_q (mean a) and questions with loss curvatures b_k (mean b), plus noise."""
    a_q = a * rng.gamma(4.0, 0.25, n_prompts)
    b_k = b * rng.gamma(4.0, 0.25, n_questions)
    beh = a_q[:, None] * c[None] + noise * rng.normal(size=(n_prompts, c.size)) * (c != 0)
    hel = 0.9 - b_k[:, None] * c[None] ** 2 + noise * rng.normal(size=(n_questions, c.size)) * (c != 0)
    return a_q, b_k, beh, hel


def test_measured_tradeoff_recovers_crossover_and_best_c():
    c = np.linspace(-6, 6, 121)
    rng = np.random.default_rng(0)
    b = 0.5 * c + rng.normal(0, 0.2, (40, 1))  # per-prompt offsets cancel in G
    h = 0.9 - 0.125 * c**2 + rng.normal(0, 0.2, (50, 1))
    out = measured_tradeoff(c, b, h, n_boot=200)
    assert out.crossover.estimate == pytest.approx(4.0, abs=1e-9)
    for lam in (0.5, 1.0, 2.0):  # argmax of 0.5 c - lam 0.125 c^2 = 2 / lam
        assert out.best_c[lam].estimate == pytest.approx(2.0 / lam, abs=0.05 + 1e-9)
    assert out.grid_c[0] == 0.0 and np.all(out.grid_c >= 0)


def test_bootstrap_interval_covers_the_population_crossover():
    """Population crossover = mean slope / mean curvature; the 90 % interval covers it in most repetitions."""
    c = np.linspace(0, 8, 81)
    hits, widths = 0, []
    reps = 20
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        # the population's means: a = 0.5, b = 0.25 (gamma(4, 0.25) has mean 1) -> crossover 2
        _, _, beh, hel = _population(rng, 60, 80, c)
        out = measured_tradeoff(c, beh, hel, n_boot=300, level=0.9, seed=seed)
        iv = out.crossover
        assert iv.low is not None and iv.high is not None and iv.low <= iv.estimate <= iv.high
        widths.append(iv.high - iv.low)
        hits += iv.low <= 2.0 <= iv.high
    assert hits >= 0.7 * reps, hits  # nominal 90 %; a broken interval (e.g. zero width) fails this
    assert min(widths) > 0


def test_planted_wrong_crossover_is_caught():
    """A loss twice as curved halves the crossover: the estimate must move, not stay at a fixed answer."""
    c = np.linspace(0, 8, 161)
    rng = np.random.default_rng(1)
    _, _, beh, hel = _population(rng, 50, 50, c, noise=0.05)
    base = measured_tradeoff(c, beh, hel, n_boot=100).crossover.estimate
    steeper = measured_tradeoff(c, beh, 0.9 - 2 * (0.9 - hel), n_boot=100).crossover.estimate
    assert steeper == pytest.approx(base / 2, rel=0.1)


def test_crossover_beyond_the_grid_gives_an_open_interval_and_a_note():
    c = np.linspace(0, 1, 21)
    rng = np.random.default_rng(0)
    beh = np.tile(c, (20, 1)) + rng.normal(0, 0.01, (20, 21))
    hel = 0.9 - np.tile(0.01 * c**2, (20, 1))
    out = measured_tradeoff(c, beh, hel, n_boot=100)
    assert out.crossover.estimate is None and out.crossover.high is None
    assert out.crossover.n_beyond == 100 and "no crossover exists at any c" in out.notes[0]  # gain 1 > H(0)
    out = measured_tradeoff(c, 0.5 * beh, hel, n_boot=100)  # gain 0.5 < H(0) = 0.9: it may still cross later
    assert out.crossover.estimate is None and "beyond the grid" in out.notes[0]


def test_measured_tradeoff_input_errors():
    c = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="c = 0"):
        measured_tradeoff(c + 0.1, np.zeros((2, 5)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="helpfulness_kc has shape"):
        measured_tradeoff(c, np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        measured_tradeoff(c, np.full((2, 5), np.nan), np.zeros((2, 5)))


# ----------------------------------------------------------------------------- identifiability


def test_identifiability_rule_on_known_cases():
    c = np.linspace(-10, 10, 81)
    good = fit_bell(c, bell_curve(c, 0.3, 0.4) + 0.001 * np.random.default_rng(0).normal(size=c.size))
    assert identifiability(good, ("a", "b")).identifiable
    # flat data: the curvature b is not determined (the old toy's final-representation case)
    flat = fit_bell(c, 0.995 + 1e-4 * np.random.default_rng(1).normal(size=c.size))
    verdict = identifiability(flat, ("a", "b"))
    assert not verdict.identifiable
    assert any("R^2" in r or "relative standard error" in r for r in verdict.reasons)
    # a good R^2 but a huge SE on b is still not identifiable
    rule = identifiability({"converged": True, "r2": 0.95, "a": 0.1, "a_se": 0.001, "b": 47.9, "b_se": 1.8e4},
                           ("a", "b"))
    assert not rule.identifiable and rule.relative_se["b"] == pytest.approx(1.8e4 / 47.9)
    # the thresholds are the stated ones: 50 % relative SE and R^2 0.5
    edge = {"converged": True, "r2": 0.5, "b": 1.0, "b_se": 0.5}
    assert identifiability(edge, ("b",)).identifiable
    assert not identifiability({**edge, "b_se": 0.51}, ("b",)).identifiable
    assert not identifiability({**edge, "r2": 0.49}, ("b",)).identifiable
    assert not identifiability({"converged": False, "note": "boom"}, ("b",)).identifiable


def test_tanh_fit_on_a_flat_line_is_not_identifiable():
    c = np.linspace(-5, 5, 51)
    fit = fit_tanh(c, 0.3 + 0.001 * np.random.default_rng(0).normal(size=c.size))
    assert not identifiability(fit, ("a", "b0")).identifiable


def test_restricted_bell_only_where_its_range_contains_the_data():
    assert restricted_bell_range_note(np.array([0.3, 0.7, 0.3])) is None
    assert "above the form's maximum" in restricted_bell_range_note(np.array([0.6, 0.995, 0.6]))
    assert "below the form's floor" in restricted_bell_range_note(np.array([0.1, 0.7, 0.6]))
    # within two standard errors of the range counts as inside
    assert restricted_bell_range_note(np.array([0.5, 0.78]), se=np.array([0.02, 0.02])) is None
    assert "four options" in restricted_bell_range_note(np.array([0.5]), n_options=3)


# ----------------------------------------------------------------------------- grid


def _scales(slope=1.0, lo0=0.0, gap=2.0, sigma=0.5, kappa=1.0, n=60, seed=0):
    """Scales of a linear model: gap slopes per unit c drawn with spread sigma per unit norm (kappa |c|)."""
    slopes = sigma * kappa * np.random.default_rng(seed).normal(size=(n, 3))
    return MeasuredScales(kappa, kappa, np.full(n, lo0), np.full(n, slope), np.full((n, 3), gap), slopes, sigma,
                          0.0, 4)


def test_saturation_scale_is_known_in_closed_form():
    g = choose_grid(_scales(slope=0.8, lo0=0.4))
    target = 2 * math.atanh(0.95)
    assert g.c_saturation[0] == pytest.approx((target - 0.4) / 0.8)
    assert g.c_saturation[1] == pytest.approx((target + 0.4) / 0.8)


def test_drop_scale_meets_its_target_and_scales_with_kappa():
    s = _scales()
    g = choose_grid(s)
    for side, sign in ((0, 1.0), (1, -1.0)):
        p = predicted_restricted_p(s.gaps0_ki, s.gap_slopes_ki, np.array([sign * g.c_drop[side]]))[0]
        assert p == pytest.approx(g.p0 - 0.5 * (g.p0 - 0.25), abs=1e-6)
    # one-sided slopes (every gap grows with c): no drop for c > 0, a drop for c < 0
    one_sided = MeasuredScales(1.0, 1.0, np.zeros(5), np.ones(5), np.full((5, 3), 1.0), np.full((5, 3), 0.5), 0.5,
                               0.5, 4)
    g1 = choose_grid(one_sided)
    assert math.isinf(g1.c_drop[0]) and math.isfinite(g1.c_drop[1]) and "one side" in " ".join(g1.notes)
    g2 = choose_grid(_scales(kappa=2.0))
    assert g2.c_drop[0] == pytest.approx(g.c_drop[0] / 2, rel=1e-6)
    g3 = choose_grid(_scales(sigma=1.0))  # twice the spread: half the norm
    assert g3.c_drop[0] == pytest.approx(g.c_drop[0] / 2, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(slope=st.floats(0.05, 5.0), gap=st.floats(0.3, 5.0), sigma=st.floats(0.05, 3.0), kappa=st.floats(0.1, 10.0))
def test_grid_covers_both_targets_and_stays_bounded(slope, gap, sigma, kappa):
    s = _scales(slope=slope, gap=gap, sigma=sigma, kappa=kappa, n=20)
    g = choose_grid(s)
    c = g.coefficients
    assert c.size <= 121 and np.any(c == 0) and c[-1] == pytest.approx(g.c_max)
    assert g.c_max >= 1.25 * max(*g.c_saturation, *g.c_drop) - 1e-9
    # a model that follows the scales exactly reaches both targets on the grid
    b = np.tanh((s.logodds0_q[0] + slope * c) / 2)
    h = predicted_restricted_p(s.gaps0_ki, s.gap_slopes_ki, c)
    assert grid_coverage(c, b, h, n_options=4)["covered"]


def test_grid_from_a_measured_synthetic_bundle():
    """A pilot at three coefficients measures kappa exactly; the grid then covers a full sweep of the same model."""
    pilot = synthetic_bundle(seed=0, n_prompts=12, n_questions=60, kappa=2.0, n_aligned=1, n_misaligned=1,
                             behaviour_coefficients=np.array([-0.5, 0.0, 0.5]),
                             helpfulness_coefficients=np.array([-0.5, 0.0, 0.5]))
    s = measure_scales(pilot)
    assert s.kappa_behaviour == pytest.approx(2.0, rel=1e-6) and s.kappa_helpfulness > 0
    g = choose_grid(s)
    full = synthetic_bundle(seed=0, n_prompts=12, n_questions=60, kappa=2.0, n_aligned=1, n_misaligned=1,
                            behaviour_coefficients=g.coefficients, helpfulness_coefficients=g.coefficients)
    from steerbounds.validation import behaviour_values, helpfulness_values

    b = behaviour_values(full.behaviour).mean(0)
    h = helpfulness_values(full.helpfulness)["restricted_qc"].mean(0)
    cov = grid_coverage(g.coefficients, b, h, n_options=4)
    assert cov["covered"], (cov, g.as_dict())
    # a grid half as wide would miss at least one target: the choice is not wastefully wide
    half = np.abs(g.coefficients) <= g.c_max / 2.5
    assert not grid_coverage(g.coefficients[half], b[half], h[half], n_options=4)["covered"]


def test_grid_errors_name_the_problem():
    with pytest.raises(ValueError, match="responds to steering"):
        choose_grid(_scales(slope=0.0, sigma=0.0, gap=1.0))
    with pytest.raises(ValueError, match="saturation"):
        choose_grid(_scales(), saturation=1.0)
    with pytest.raises(ValueError, match="drop_fraction"):
        choose_grid(_scales(), drop_fraction=0.0)


def test_weighted_crossover_is_where_lambda_loss_meets_the_gain():
    c = np.linspace(0, 8, 161)
    rng = np.random.default_rng(3)
    b = 0.5 * c + rng.normal(0, 0.1, (30, 1))
    h = 0.9 - 0.125 * c**2 + rng.normal(0, 0.1, (30, 1))
    out = measured_tradeoff(c, b, h, n_boot=100)
    for lam in (0.5, 1.0, 2.0):  # 0.5 c = lam 0.125 c^2  ->  c = 4 / lam
        assert out.crossover_lambda[lam].estimate == pytest.approx(4.0 / lam, abs=1e-9)
    assert out.crossover_lambda[1.0].estimate == out.crossover.estimate
