"""The softmax readout over candidate embeddings, against numpy references (no wheel needed)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from steerbounds.numerics import behaviour_logits, choose_tau, option_logits, readout_logits
from steerbounds.theory import behaviour_expectation

_option_probs = jax.jit(lambda q, o, tau: jax.nn.softmax(option_logits(q, o, tau=tau), axis=-1))


def _unit_rows(rng, *shape):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _reference_option_probs(q_bd, o_bkd, tau):
    return softmax(tau * np.einsum("bd,bkd->bk", q_bd.astype(np.float64), o_bkd.astype(np.float64)), axis=1)


def _max_error(probs_fn, seed: int, tau: float) -> float:
    rng = np.random.default_rng(seed)
    q, o = _unit_rows(rng, 5, 12), _unit_rows(rng, 5, 4, 12)
    return float(np.abs(np.asarray(probs_fn(q, o, tau)) - _reference_option_probs(q, o, tau)).max())


@given(st.integers(0, 10_000), st.floats(0.1, 80.0))
def test_option_probabilities_match_numpy_and_sum_to_one(seed, tau):
    assert _max_error(lambda q, o, t: _option_probs(q, o, t), seed, tau) < 1e-5
    rng = np.random.default_rng(seed)
    probs = np.asarray(_option_probs(_unit_rows(rng, 5, 12), _unit_rows(rng, 5, 4, 12), tau))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_reference_check_catches_a_readout_without_temperature():
    """Planted bug: dropping tau must fail the comparison the property test makes."""
    wrong = lambda q, o, tau: jax.nn.softmax(option_logits(q, o, tau=1.0), axis=-1)  # noqa: E731
    assert _max_error(wrong, seed=1, tau=20.0) > 1e-2


@given(st.integers(0, 10_000), st.floats(0.1, 80.0))
def test_behaviour_readout_matches_numpy(seed, tau):
    rng = np.random.default_rng(seed)
    q, plus, minus = _unit_rows(rng, 3, 10), _unit_rows(rng, 4, 10), _unit_rows(rng, 6, 10)
    r = behaviour_logits(q, plus, minus, tau=tau)
    probs = softmax(tau * q.astype(np.float64) @ np.concatenate([plus, minus]).astype(np.float64).T, axis=1)
    expected = probs[:, :4].sum(1) - probs[:, 4:].sum(1)  # m = P+ + P- = 1: restricted = unrestricted
    np.testing.assert_allclose(behaviour_expectation(r.logits_bv, r.plus_v, r.minus_v), expected, atol=1e-5)
    assert r.plus_v.tolist() == [0, 1, 2, 3] and r.minus_v.tolist() == [4, 5, 6, 7, 8, 9]
    np.testing.assert_allclose(readout_logits(q, plus, tau=tau), tau * q @ plus.T, rtol=1e-5, atol=1e-5)


def _synthetic_questions(seed: int, n: int = 40, d: int = 16, signal: float = 0.3):
    rng = np.random.default_rng(seed)
    o = _unit_rows(rng, n, 4, d)
    correct = rng.integers(0, 4, size=n)
    q = _unit_rows(rng, n, d) + signal * o[np.arange(n), correct]
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32), o, correct


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choose_tau_finds_the_log_likelihood_maximum(seed):
    q, o, correct = _synthetic_questions(seed)
    choice = choose_tau(q, o, correct)
    s = np.einsum("bd,bkd->bk", q.astype(np.float64), o.astype(np.float64))

    def neg_ll(tau):
        return -log_softmax(tau * s, axis=1)[np.arange(len(correct)), correct].mean()

    best = minimize_scalar(neg_ll, bounds=(0.5, 500.0), method="bounded", options={"xatol": 1e-6}).x
    grid = choice.grid_g
    i = int(np.searchsorted(grid, choice.tau))
    assert grid[i - 1] <= best <= grid[i + 1]  # the continuous maximiser lies next to the grid choice
    assert choice.mean_log_likelihood_g.max() == pytest.approx(-neg_ll(choice.tau), abs=1e-9)
    again = choose_tau(q, o, correct)
    assert again.tau == choice.tau  # deterministic


def test_choose_tau_refuses_an_edge_maximum():
    q, o, correct = _synthetic_questions(0, signal=3.0)  # so separable that larger tau always helps
    with pytest.raises(ValueError, match="grid edge"):
        choose_tau(q, o, correct, grid_g=np.linspace(0.5, 2.0, 7))


def test_readout_input_errors():
    q, o = np.ones((2, 3), np.float32) / np.sqrt(3), np.ones((2, 4, 3), np.float32) / np.sqrt(3)
    with pytest.raises(ValueError, match="tau must be a finite positive number"):
        option_logits(q, o, tau=0.0)
    with pytest.raises(ValueError, match="tau must be a finite positive number"):
        readout_logits(q, o[0], tau=float("inf"))
    with pytest.raises(ValueError, match="query_bd must have 2 axes"):
        option_logits(q[0], o, tau=1.0)
    with pytest.raises(ValueError, match="does not match query_bd"):
        option_logits(q, o[:1], tau=1.0)
    with pytest.raises(ValueError, match="options_bkd contains NaN or inf"):
        option_logits(q, np.full((2, 4, 3), np.nan, np.float32), tau=1.0)
    with pytest.raises(ValueError, match="at least 2 options"):
        option_logits(q, o[:, :1], tau=1.0)
    with pytest.raises(ValueError, match="has width 3 but unembed_kd has width 2"):
        readout_logits(q, np.ones((4, 2), np.float32), tau=1.0)
    with pytest.raises(ValueError, match="must be a floating array"):
        readout_logits(np.ones((2, 3), np.int32), o[0], tau=1.0)
    with pytest.raises(ValueError, match="both response sets must be non-empty"):
        behaviour_logits(q, o[0], np.zeros((0, 3), np.float32), tau=1.0)
    with pytest.raises(ValueError, match=r"correct_b has entries outside 0..3"):
        choose_tau(q, o, np.array([0, 4]))
    with pytest.raises(ValueError, match="correct_b must be an integer array"):
        choose_tau(q, o, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="grid_g must be an increasing"):
        choose_tau(q, o, np.array([0, 1]), grid_g=np.array([3.0, 2.0, 1.0]))
