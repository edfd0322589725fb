"""Helpfulness and the T2 functions against plain numpy references (THEORY.md section 3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from steerbounds import helpfulness


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
    expected = np.exp(mine - logsumexp(sub, axis=-1))
    np.testing.assert_allclose(helpfulness(logits, correct, options), expected, rtol=1e-12)


def test_helpfulness_tiny_probability_in_log_space():
    logits = np.array([-700.0, 0.0, 5.0])
    expected = np.exp(-700.0 - logsumexp([0.0, 5.0]))
    assert float(helpfulness(logits, 0)) == pytest.approx(expected, rel=1e-12)
    assert expected > 0
