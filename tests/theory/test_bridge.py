"""The one sympy-to-JAX bridge: its table, indexed sums, log-space patterns, and jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from steerbounds.theory import _bridge
from steerbounds.theory._symbols import Sigma, g, i, j, k, p, r, sd

x, y = sp.symbols("x y", real=True)
# Rounded to 1e-6: products of tiny values would be subnormal, which XLA flushes to zero.
finite = st.floats(-5.0, 5.0, allow_nan=False).map(lambda v: round(v, 6))


ELEMENTWISE = sp.tanh(x / 2 + y) * sp.exp(-(x**2)) + sp.Abs(y) ** sp.Rational(3, 2) - sp.log(1 + x**2) / (2 + sp.cosh(y))
ELEMENTWISE_JIT = jax.jit(_bridge.lambdify(ELEMENTWISE, (x, y)))
ELEMENTWISE_MP = sp.lambdify((x, y), ELEMENTWISE, "mpmath")


@given(a=finite, b=finite)
def test_elementwise_expressions_match_sympy(a, b):
    got = float(ELEMENTWISE_JIT(a, b))
    assert got == pytest.approx(float(ELEMENTWISE_MP(a, b)), rel=1e-12, abs=1e-14)


@given(vec=hnp.arrays(np.float64, 4, elements=finite), mat=hnp.arrays(np.float64, (4, 4), elements=finite))
def test_indexed_sums_diagonals_and_deltas(vec, mat):
    double = sp.Sum(p[i] * p[j] * Sigma[i, j], (i, 1, k), (j, 1, k))
    diagonal = sp.Sum(p[i] * Sigma[i, i], (i, 1, k))
    delta = sp.Sum(sp.KroneckerDelta(i, j) * p[i] * Sigma[i, j], (i, 1, k), (j, 1, k))
    fn = lambda e: float(_bridge.lambdify(e, (p, Sigma))(vec, mat))  # noqa: E731
    assert fn(double) == pytest.approx(vec @ mat @ vec, rel=1e-12, abs=1e-12)
    assert fn(diagonal) == pytest.approx(vec @ np.diag(mat), rel=1e-12, abs=1e-12)
    assert fn(delta) == pytest.approx(vec @ np.diag(mat), rel=1e-12, abs=1e-12)
    free = _bridge.lambdify(p[i] * Sigma[i, j], (p, Sigma), out_indices=(j, i))(vec, mat)
    np.testing.assert_allclose(free, (vec[:, None] * mat).T)


def test_log_space_patterns_do_not_underflow():
    log_h = -sp.log(1 + sp.Sum(sp.exp(g[i]), (i, 1, k)))
    gaps = np.array([800.0, 795.0])  # linear space overflows to inf
    got = float(_bridge.lambdify(log_h, (g,))(gaps))
    assert got == pytest.approx(-np.logaddexp.reduce([0.0, 800.0, 795.0]), rel=1e-14)
    log_sum = sp.log(sp.Sum(sp.exp(g[i]), (i, 1, k)))
    assert float(_bridge.lambdify(log_sum, (g,))(np.array([-800.0, -801.0]))) == pytest.approx(np.logaddexp(-800.0, -801.0))
    softplus = -sp.log(1 + sp.exp(x))
    assert float(_bridge.lambdify(softplus, (x,))(-900.0)) == 0.0
    assert float(_bridge.lambdify(softplus, (x,))(900.0)) == -900.0


def test_atanh_is_accurate_near_the_ends():
    fn = _bridge.lambdify(sp.atanh(x), (x,))
    for value in (1e-12, 0.41, -0.41, 1 - 1e-12, -(1 - 1e-12)):
        exact = float(sp.atanh(sp.Float(value, 40)).evalf(40))
        assert float(fn(value)) == pytest.approx(exact, rel=4e-16)


def test_batch_axes_broadcast_explicitly_under_strict_rank_promotion():
    expr = r**2 * sp.Sum(sd[i] * sp.exp(g[i]), (i, 1, k))
    fn = jax.jit(_bridge.lambdify(expr, (r, g, sd)))
    out = fn(np.ones((3, 1)), np.zeros((1, 5, 2)), np.ones(2))
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out, 2.0)


def test_piecewise_and_infinity():
    expr = sp.Piecewise((x / y, y > 0), (sp.oo, True))
    fn = _bridge.lambdify(expr, (x, y))
    np.testing.assert_array_equal(fn(np.array([2.0, 2.0]), np.array([4.0, -1.0])), [0.5, np.inf])


def test_unsupported_nodes_raise():
    with pytest.raises(NotImplementedError, match="no entry for"):
        _bridge.lambdify(sp.gamma(x), (x,))(1.0)
    with pytest.raises(ValueError, match="not an argument"):
        _bridge.lambdify(p[i] * g[i], (p,))
    with pytest.raises(ValueError, match="used with 1 indices"):
        _bridge.lambdify(sp.Sum(p[i], (i, 1, k)), (p,))(1.0)
    with pytest.raises(NotImplementedError, match="from 1 to k"):
        index = sp.Symbol("n", integer=True)
        _bridge.lambdify(sp.Sum(p[index], (index, 0, k)), (p,))(np.ones(3))


def test_dtype_follows_the_inputs():
    fn = _bridge.lambdify(sp.exp(x), (x,))
    assert fn(jnp.float32(1.0)).dtype == jnp.float32
    assert fn(np.float64(1.0)).dtype == jnp.float64
