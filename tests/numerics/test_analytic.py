"""The analytic final-representation sweep: logits at chosen tokens and the behaviour curve it implies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.numerics import final_steering_behaviour, final_steering_logits
from steerbounds.numerics import _analytic
from steerbounds.theory import behaviour_expectation


def _problem(seed, b=5, v=40, d=6, scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(b, v)) * scale, rng.normal(size=(v, d)), rng.normal(size=d))


def _reference_behaviour(logits_bv, unembed_vd, vector_d, coefficients_c, plus, minus):
    """float64 numpy: z_c = z + c U v at every token, then B = tanh((LSE+ - LSE-)/2)."""
    v = vector_d / np.linalg.norm(vector_d)
    z_cbv = logits_bv[None] + coefficients_c[:, None, None] * (unembed_vd @ v)[None, None, :]

    def lse(ids):
        x = z_cbv[..., ids]
        top = x.max(-1, keepdims=True)
        return np.log(np.exp(x - top).sum(-1)) + top[..., 0]

    return np.tanh(0.5 * (lse(plus) - lse(minus)))


def test_token_ids_select_columns_of_the_full_result():
    z, u, v = _problem(0)
    c = np.linspace(-2, 2, 7)
    full = np.asarray(final_steering_logits(z, u, v, c))
    ids = [5, 0, 17]
    part = np.asarray(final_steering_logits(z, u, v, c, token_ids=ids))
    assert part.shape == (7, 5, 3)
    np.testing.assert_allclose(part, full[..., ids], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="token_ids holds token id 40"):
        final_steering_logits(z, u, v, c, token_ids=[40])
    with pytest.raises(ValueError, match="repeats token id 5"):
        final_steering_logits(z, u, v, c, token_ids=[5, 5])


@pytest.mark.parametrize("sizes", [(1, 1), (3, 4), (40 // 2, 40 // 2)])
def test_behaviour_equals_behaviour_expectation_of_steered_logits(sizes):
    """Both code paths (unrolled token loop; (c, b, k) reduction for large sets) against the library composition."""
    z, u, v = _problem(1)
    c = np.linspace(-4, 4, 9)
    order = np.random.default_rng(2).permutation(40)
    plus, minus = order[: sizes[0]], order[sizes[0] : sizes[0] + sizes[1]]
    got = np.asarray(final_steering_behaviour(z, u, v, c, plus, minus))
    composed = np.asarray(behaviour_expectation(final_steering_logits(z, u, v, c), plus, minus))
    assert got.shape == (9, 5)
    np.testing.assert_allclose(got, composed, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, _reference_behaviour(z, u, v, c, plus, minus), rtol=1e-5, atol=1e-5)


def test_large_token_sets_take_the_reduction_path():
    z, u, v = _problem(3, v=100)
    plus, minus = np.arange(0, 40), np.arange(40, 75)  # 40 > the unroll limit, 35 too
    assert max(plus.size, minus.size) > _analytic._UNROLL
    c = np.linspace(-1, 1, 3)
    np.testing.assert_allclose(
        np.asarray(final_steering_behaviour(z, u, v, c, plus, minus)),
        _reference_behaviour(z, u, v, c, plus, minus), rtol=1e-5, atol=1e-5,
    )


@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.1, 3.0, 300.0]),
    c_max=st.sampled_from([0.5, 5.0, 50.0]),
)
def test_behaviour_matches_float64_reference(seed, scale, c_max):
    z, u, v = _problem(seed, scale=scale)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(40)
    plus, minus = order[: rng.integers(1, 6)], order[10 : 10 + rng.integers(1, 6)]
    c = np.linspace(-c_max, c_max, 11)
    got = np.asarray(final_steering_behaviour(z, u, v, c, plus, minus))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _reference_behaviour(z, u, v, c, plus, minus), rtol=1e-4, atol=1e-4)


@given(seed=st.integers(0, 2**31 - 1))
def test_t1_lower_bound_holds_on_the_analytic_curve(seed):
    """T1 with delta = c v, r = c >= 0: B_c >= tanh(c Δ/2 + artanh B_0) whenever the A1 margin Δ > 0."""
    z, u, v = _problem(seed)
    v = v / np.linalg.norm(v)
    proj = u @ v
    order = np.argsort(-proj)
    plus, minus = order[:3], order[-4:]  # the most and least aligned tokens: Δ > 0
    margin = proj[plus].min() - proj[minus].max()
    assert margin > 0
    c = np.linspace(0.0, 3.0, 13)
    b_c = np.asarray(final_steering_behaviour(z, u, v, c, plus, minus), np.float64)
    b0 = np.clip(b_c[0], -1 + 1e-6, 1 - 1e-6)
    bound = np.tanh(c[:, None] * margin / 2 + np.arctanh(b0)[None, :])
    assert np.all(b_c >= bound - 1e-5)


def test_unshifted_log_sum_exp_is_caught():
    """Planted bug: summing exponentials without the running-maximum shift overflows in float32."""
    z, u, v = _problem(4, scale=300.0)
    plus, minus, c = [0, 1, 2], [3, 4], np.array([0.0, 1.0])

    def naive(z_kb, w_k, coefficients_c):
        terms = [z_kb[j][None, :] + coefficients_c[:, None] * w_k[j] for j in range(z_kb.shape[0])]
        return jnp.log(sum(jnp.exp(t) for t in terms))

    reference = _reference_behaviour(z, u, v, c, plus, minus)
    original = _analytic._logsumexp_rows
    try:
        _analytic._logsumexp_rows = naive
        _analytic._behaviour_function.cache_clear()
        wrong = np.asarray(final_steering_behaviour(z, u, v, c, plus, minus))
    finally:
        _analytic._logsumexp_rows = original
        _analytic._behaviour_function.cache_clear()
    assert not np.allclose(wrong, reference, atol=1e-3, equal_nan=False)
    np.testing.assert_allclose(np.asarray(final_steering_behaviour(z, u, v, c, plus, minus)), reference, atol=1e-5)


def test_behaviour_under_jit_of_the_caller():
    z, u, v = _problem(5)
    c = jnp.linspace(-1.0, 1.0, 4)
    got = final_steering_behaviour(jnp.asarray(z, jnp.float32), u, v, c, [1, 2], [3])
    assert got.dtype == jnp.float32 and got.shape == (4, 5)
    assert isinstance(got, jax.Array)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(vector_d=np.zeros(6)), "norm 0.0"),
        (dict(vector_d=np.ones(6), normalize=False), "normalize=False"),
        (dict(coefficients_c=np.array([np.inf])), "finite numbers"),
        (dict(coefficients_c=np.array([])), "non-empty"),
        (dict(aligned_ids=[1], misaligned_ids=[1]), "overlap"),
        (dict(aligned_ids=[]), "aligned_ids is empty"),
        (dict(misaligned_ids=[99]), "misaligned_ids holds token id 99"),
        (dict(unembed_vd=np.ones((39, 6))), "unembed_vd has shape"),
    ],
)
def test_bad_behaviour_input_is_explained(kwargs, match):
    z, u, v = _problem(6)
    args = dict(logits_bv=z, unembed_vd=u, vector_d=v, coefficients_c=np.ones(2), aligned_ids=[0], misaligned_ids=[2])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        final_steering_behaviour(**args)


def test_non_finite_logit_at_a_behaviour_token_is_reported():
    z, u, v = _problem(7)
    z[2, 4] = np.nan
    with pytest.raises(ValueError, match=r"logits_bv\[2, 4\] is not finite"):
        final_steering_behaviour(z, u, v, np.ones(2), [4], [0])
    final_steering_behaviour(z, u, v, np.ones(2), [5], [0])  # a NaN elsewhere does not enter the result
