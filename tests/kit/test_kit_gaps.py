"""Gap-change models: E[H_r], tails and truncated moments against plain scipy/numpy references."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, stats
from scipy.special import expit

from steerbounds import expected_helpfulness
from steerbounds.testing import GapChangeModel, gap_change_models


def reference_one_competitor(gap, sd, df, shift):
    """E[1/(1 + e^{g + X})] by adaptive quadrature over the density of X (one competitor)."""
    if math.isinf(df):
        density = lambda x: stats.norm.pdf(x, loc=shift, scale=sd)  # noqa: E731
    else:
        scale = sd * math.sqrt((df - 2) / df)
        density = lambda x: stats.t.pdf((x - shift) / scale, df) / scale  # noqa: E731
    return integrate.quad(lambda x: expit(-(gap + x)) * density(x), -np.inf, np.inf, limit=500,
                          epsabs=1e-13, epsrel=1e-11)[0]


@given(gap=st.floats(-12, 4), sd=st.floats(0.05, 4), df=st.one_of(st.just(math.inf), st.floats(2.2, 60)),
       mu=st.floats(-1, 1))
def test_expected_helpfulness_matches_quadrature_for_one_competitor(gap, sd, df, mu):
    model = GapChangeModel(gaps_k=np.array([gap]), cov_kk=np.array([[sd * sd]]), radius=1.0,
                           mean_k=np.array([mu]), df=df)
    value, err = model.expected_helpfulness()
    reference = reference_one_competitor(gap, sd, df, mu)
    assert abs(float(value) - reference) <= 5 * float(err) + 1e-10


def test_student_t_with_two_competitors_matches_monte_carlo():
    model = GapChangeModel(gaps_k=np.array([-2.0, -0.5]), cov_kk=np.array([[1.0, 0.6], [0.6, 0.5]]),
                           radius=1.5, df=3.5)
    x = model.sample(400_000, seed=1)
    h = 1.0 / (1.0 + np.exp(model.gaps_k + x).sum(axis=1))
    value, err = model.expected_helpfulness()
    se = h.std() / math.sqrt(h.size)
    assert abs(float(value) - h.mean()) <= 5 * math.hypot(se, float(err))


def test_gaussian_model_is_the_theory_layer_expectation_with_shifted_gaps():
    model = GapChangeModel(gaps_k=np.array([-1.0, 0.5]), cov_kk=np.array([[1.0, 0.2], [0.2, 0.3]]),
                           radius=0.7, mean_k=np.array([0.4, -0.2]))
    value, _ = model.expected_helpfulness()
    direct, _ = expected_helpfulness(0.7, model.gaps_k, model.cov_kk, mean=model.mean_k)
    assert float(value) == pytest.approx(float(direct), abs=1e-12)


@pytest.mark.parametrize("df", [math.inf, 4.0])
def test_tails_and_truncated_moments_match_monte_carlo(df):
    model = GapChangeModel(gaps_k=np.zeros(2), cov_kk=np.diag([0.5, 1.0]), radius=1.2,
                           mean_k=np.array([0.3, -0.1]), df=df)
    x = model.sample(1_000_000, seed=2)
    tau = 1.0
    np.testing.assert_allclose(model.tail_probability(tau), (x > tau).mean(axis=0), atol=2e-3)
    empirical = (np.exp(x) * (x <= tau)).mean(axis=0)
    np.testing.assert_allclose(model.truncated_mgf(tau), empirical, rtol=5e-3)


def test_sample_has_the_model_covariance():
    cov = np.array([[1.0, -0.4], [-0.4, 0.6]])
    x = GapChangeModel(gaps_k=np.zeros(2), cov_kk=cov, radius=2.0, df=5.0).sample(400_000, seed=0)
    np.testing.assert_allclose(np.cov(x.T), 4.0 * cov, atol=0.05)


def test_student_t_has_no_exponential_moment():
    heavy = GapChangeModel(gaps_k=np.zeros(1), cov_kk=np.eye(1), radius=0.5, df=30.0)
    assert math.isinf(heavy.truncated_mgf(math.inf)[0])
    gaussian = dataclasses.replace(heavy, df=math.inf)
    assert gaussian.truncated_mgf(math.inf)[0] == pytest.approx(math.exp(0.125))


@given(model=gap_change_models(min_k=1, max_k=3, mean=(-0.5, 0.5), df=(2.5, 10.0)))
def test_drawn_models_respect_their_ranges(model):
    assert 1 <= model.k <= 3 and 2.5 <= model.df <= 10.0
    assert np.all(np.abs(model.mean_k) <= 0.5) and 0 <= model.radius <= 4.0
    assert np.linalg.eigvalsh(model.cov_kk).min() > -1e-9 * max(1.0, np.abs(model.cov_kk).max())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gaps_k": np.zeros((1, 1))}, "gaps_k must be a non-empty 1-D"),
        ({"gaps_k": np.array([np.nan])}, "NaN or inf"),
        ({"cov_kk": np.eye(2)}, "must be \\(1, 1\\)"),
        ({"cov_kk": -np.eye(1)}, "non-negative|positive semi-definite"),
        ({"radius": -1.0}, "radius must be a finite norm"),
        ({"df": 2.0}, "df must exceed 2"),
        ({"mean_k": np.zeros(3)}, "mean_k must be 1 finite"),
    ],
)
def test_model_rejects_bad_input(kwargs, message):
    fields = {"gaps_k": np.zeros(1), "cov_kk": np.eye(1), "radius": 1.0}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        GapChangeModel(**fields)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"df": (2.0, 5.0)}, "df\\[0\\] must exceed 2"),
        ({"min_gap": 1.0, "max_gap": 0.0}, "must not exceed"),
        ({"max_variance": 0.0}, "must be positive"),
        ({"min_k": 0}, "min_k must be >= 1"),
        ({"mean": (float("nan"), 1.0)}, "finite number"),
    ],
)
def test_strategy_checks_arguments_when_called(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gap_change_models(**kwargs)
