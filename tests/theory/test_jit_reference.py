"""Every public JAX function, under ``jax.jit``, against a plain numpy reference.

One shared parametrised suite over all implementations: each case draws inputs
from a seed, calls the public function inside ``jax.jit`` (token ids and
keyword options are closed over, arrays are traced), and compares with a numpy
formula written independently of the sympy derivations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import logsumexp

import steerbounds as sb

PLUS, MINUS, OPTIONS = [0, 4, 5], [2, 7], [1, 3, 6, 8]


def softmax(z):
    return np.exp(z - logsumexp(z, axis=-1, keepdims=True))


def random_cov(rng, batch, k):
    a = rng.normal(size=(*batch, k, k))
    return a @ np.swapaxes(a, -1, -2) / k + 1e-3 * np.eye(k)


def probs(gaps):
    base = 1 / (1 + np.exp(gaps).sum(-1))
    return base, np.exp(gaps) * base[..., None]


def curvature(gaps, cov):
    base, p = probs(gaps)
    return base / 2 * ((p * np.diagonal(cov, axis1=-2, axis2=-1)).sum(-1) - 2 * np.einsum("...i,...ij,...j->...", p, cov, p))


@dataclass(frozen=True)
class Case:
    name: str
    inputs: Callable[[np.random.Generator], tuple]
    function: Callable[..., jax.Array]
    reference: Callable[..., np.ndarray]


def _alignment_inputs(rng):
    return rng.uniform(-3, 3, (4, 3)), rng.uniform(0.01, 5, (4, 3)), rng.uniform(-0.99, 0.99, (4, 3))


def _helpfulness_inputs(rng):
    return rng.uniform(0, 2, (2, 3)), rng.normal(size=(2, 3, 4)) * 2, random_cov(rng, (2, 3), 4)


HERMITE_NODES, HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(200)


def _hermite_reference(r, gaps, var):
    x, w = HERMITE_NODES, HERMITE_WEIGHTS
    values = 1 / (1 + np.exp(gaps[..., None] + r[..., None] * np.sqrt(var) * x))
    return (values * w).sum(-1) / np.sqrt(2 * np.pi)


CASES = [
    Case("alignment_bound", _alignment_inputs, sb.alignment_bound, lambda r, m, b: np.tanh(r * m / 2 + np.arctanh(b))),
    Case("alignment_slope", lambda rng: _alignment_inputs(rng)[1:], sb.alignment_slope, lambda m, b: m / 2 * (1 - b**2)),
    Case(
        "guarantee_radius",
        lambda rng: (rng.uniform(0.1, 5, 6), rng.uniform(-0.99, 0.5, 6), rng.uniform(1e-6, 0.4, 6)),
        lambda m, b, e: sb.guarantee_radius(m, b, eps=e),
        lambda m, b, e: 2 / m * (0.5 * np.log((2 - e) / e) - np.arctanh(b)),
    ),
    Case(
        "behaviour_expectation",
        lambda rng: (rng.normal(size=(3, 5, 9)) * 4,),
        lambda z: sb.behaviour_expectation(z, PLUS, MINUS),
        lambda z: (softmax(z)[..., PLUS].sum(-1) - softmax(z)[..., MINUS].sum(-1)) / softmax(z)[..., PLUS + MINUS].sum(-1),
    ),
    Case(
        "behaviour_expectation(restricted=False)",
        lambda rng: (rng.normal(size=(3, 5, 9)) * 4,),
        lambda z: sb.behaviour_expectation(z, PLUS, MINUS, restricted=False),
        lambda z: softmax(z)[..., PLUS].sum(-1) - softmax(z)[..., MINUS].sum(-1),
    ),
    Case("helpfulness", lambda rng: (rng.normal(size=(4, 9)) * 3,), lambda z: sb.helpfulness(z, 3), lambda z: softmax(z)[..., 3]),
    Case(
        "helpfulness(options)",
        lambda rng: (rng.normal(size=(4, 9)) * 3,),
        lambda z: sb.helpfulness(z, 3, OPTIONS),
        lambda z: softmax(z)[..., 3] / softmax(z)[..., OPTIONS].sum(-1),
    ),
    Case(
        "helpfulness_lower_bound",
        _helpfulness_inputs,
        sb.helpfulness_lower_bound,
        lambda r, g, c: 1 / (1 + np.exp(g + r[..., None] ** 2 * np.diagonal(c, axis1=-2, axis2=-1) / 2).sum(-1)),
    ),
    Case(
        "helpfulness_lower_bound(scalar)",
        lambda rng: _helpfulness_inputs(rng)[:2],
        lambda r, g: sb.helpfulness_lower_bound(r, g, 0.3),
        lambda r, g: 1 / (1 + np.exp(g + r[..., None] ** 2 * 0.3 / 2).sum(-1)),
    ),
    Case("helpfulness_curvature", lambda rng: _helpfulness_inputs(rng)[1:], sb.helpfulness_curvature, curvature),
    Case(
        "helpfulness_second_order",
        _helpfulness_inputs,
        sb.helpfulness_second_order,
        lambda r, g, c: probs(g)[0] - curvature(g, c) * r**2,
    ),
    Case(
        "efficient_radius",
        lambda rng: (rng.uniform(0.1, 3, (2, 3)), rng.uniform(-0.9, 0.9, (2, 3)), *_helpfulness_inputs(rng)[1:]),
        sb.efficient_radius,
        lambda m, b, g, c: np.where(curvature(g, c) > 0, m / 2 * (1 - b**2) / curvature(g, c), np.inf),
    ),
    Case(
        "best_radius",
        lambda rng: (rng.uniform(0.1, 3, (2, 3)), rng.uniform(-0.9, 0.9, (2, 3)), *_helpfulness_inputs(rng)[1:]),
        lambda m, b, g, c: sb.best_radius(m, b, g, c, lam=3.0),
        lambda m, b, g, c: np.where(curvature(g, c) > 0, m / 2 * (1 - b**2) / (6 * curvature(g, c)), np.inf),
    ),
    Case(
        "expected_helpfulness",
        lambda rng: (rng.uniform(0, 2, 5), rng.normal(size=(5, 1)) * 2),
        lambda r, g: sb.expected_helpfulness(r, g, 0.7).value,
        lambda r, g: _hermite_reference(r, g[..., 0], 0.7),
    ),
]


JITTED = {case.name: jax.jit(case.function) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(seed=st.integers(0, 2**32 - 1))
def test_jit_matches_numpy_reference(case, seed):
    inputs = case.inputs(np.random.default_rng(seed))
    expected = case.reference(*inputs)
    jitted = np.asarray(JITTED[case.name](*inputs))
    eager = np.asarray(case.function(*inputs))
    assert jitted.shape == np.shape(expected) and jitted.dtype == np.float64
    np.testing.assert_allclose(jitted, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eager, jitted, rtol=1e-12, atol=1e-15)


def test_float32_without_x64():
    """With x64 disabled the functions compute (and return) float32."""
    with jax.enable_x64(False):
        out = sb.alignment_bound(np.float64(1.0), 1.0, 0.0)
        assert out.dtype == np.float32
        assert float(out) == pytest.approx(np.tanh(0.5), rel=1e-6)
