"""Coefficient sweeps: c = 0, prefix caching, chunking, and the analytic final-layer path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from numerics_reference import FWD, get_model, reference_forward

from steerbounds.numerics import (
    default_chunk_size,
    estimate_sweep_bytes,
    final_steering_logits,
    make_steering,
    steering_sweep,
    sweep_coefficients,
)

TOKENS = np.array([[3, 7, 1, 9, 4, 2], [5, 5, 8, 0, 11, 6], [1, 2, 3, 4, 5, 6]])
MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
COEFS = np.linspace(-4.0, 4.0, 9)


def _vector(cfg, seed=0):
    return np.random.default_rng(seed).normal(size=cfg.d_model)


def test_zero_coefficient_reproduces_unsteered_logits(model):
    graphdef, state = nnx.split(model)
    cfg = model.config
    steering = make_steering(cfg, _vector(cfg), [1, 2])
    out = steering_sweep(graphdef, state, TOKENS, steering, np.array([-1.0, 0.0, 2.0]), mask_bt=MASK, return_h=True)
    plain = FWD(graphdef, state, TOKENS, mask_bt=MASK)
    np.testing.assert_allclose(np.asarray(out.logits_cbv[1]), np.asarray(plain.logits_btv[:, -1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out.h_cbd[1]), np.asarray(plain.h_btd[:, -1]), rtol=1e-5, atol=1e-5)
    assert np.abs(np.asarray(out.logits_cbv[0] - out.logits_cbv[1])).max() > 1e-3


@pytest.mark.parametrize(("style", "layers"), [("llama", [0]), ("gpt2", [1, 2]), ("llama", [2, 3]), ("gpt2", [3])])
def test_cached_sweep_equals_uncached_and_forward(style, layers):
    model = get_model(style)
    graphdef, state = nnx.split(model)
    cfg = model.config
    steering = make_steering(cfg, _vector(cfg, 1), layers)
    kw = dict(mask_bt=MASK, return_h=True, residual_layers=(0, 1, 2, 3))
    cached = steering_sweep(graphdef, state, TOKENS, steering, COEFS, chunk_size=4, **kw)
    uncached = steering_sweep(graphdef, state, TOKENS, steering, COEFS, cache_prefix=False, **kw)
    for a, b in zip(cached, uncached):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    # and the numpy reference at one coefficient
    vecs = np.zeros((cfg.n_layers + 1, cfg.d_model))
    vecs[layers] = _vector(cfg, 1) / np.linalg.norm(_vector(cfg, 1))
    ref_logits, ref_h, ref_res = reference_forward(model, TOKENS, MASK, steer=(vecs, set(layers), COEFS[7], None))
    np.testing.assert_allclose(np.asarray(cached.logits_cbv[7]), ref_logits[:, -1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(cached.residuals_clbd[7, :3]), ref_res[:, :, -1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(cached.residuals_clbd[7, 3]), ref_h[:, -1], rtol=1e-4, atol=1e-4)


def test_wrong_prefix_boundary_is_caught(llama):
    """Planted bug: a prefix that ends after the first steered layer skips its steering; the comparison sees it."""
    graphdef, state = nnx.split(llama)
    cfg = llama.config
    steering = make_steering(cfg, _vector(cfg, 2), [1, 2])
    args = (graphdef, state, jnp.asarray(TOKENS), jnp.asarray(MASK), steering, jnp.asarray(COEFS, jnp.float32))
    sweep = jax.jit(sweep_coefficients, static_argnums=0, static_argnames=("first_layer", "chunk_size"))
    right = sweep(*args, first_layer=1, chunk_size=4)
    wrong = sweep(*args, first_layer=2, chunk_size=4)
    assert np.abs(np.asarray(right.logits_cbv - wrong.logits_cbv)).max() > 1e-3


def test_chunking_does_not_change_results(gpt2):
    graphdef, state = nnx.split(gpt2)
    steering = make_steering(gpt2.config, _vector(gpt2.config, 3), [1])
    whole = steering_sweep(graphdef, state, TOKENS, steering, COEFS, mask_bt=MASK, chunk_size=len(COEFS))
    for chunk in (2,):  # 9 = 4 chunks of 2 and a remainder of 1
        part = steering_sweep(graphdef, state, TOKENS, steering, COEFS, mask_bt=MASK, chunk_size=chunk)
        np.testing.assert_allclose(np.asarray(part.logits_cbv), np.asarray(whole.logits_cbv), rtol=1e-6, atol=1e-6)


def test_position_mask_restricts_steering(llama):
    graphdef, state = nnx.split(llama)
    cfg = llama.config
    only_first = np.zeros_like(MASK)
    only_first[:, 0] = 1  # position 0 is padding in rows 0 and 2: nothing steered there
    steering = make_steering(cfg, _vector(cfg), [1], position_mask_bt=only_first)
    out = steering_sweep(graphdef, state, TOKENS, steering, np.array([0.0, 3.0]), mask_bt=MASK)
    diff = np.abs(np.asarray(out.logits_cbv[1] - out.logits_cbv[0])).max(axis=-1)
    assert diff[0] < 1e-6 and diff[2] < 1e-6 and diff[1] > 1e-3


def test_analytic_final_steering_equals_forward(model):
    graphdef, state = nnx.split(model)
    cfg = model.config
    v = _vector(cfg, 4)
    plain = FWD(graphdef, state, TOKENS, mask_bt=MASK).logits_btv[:, -1]
    u_vd, _ = model.unembedding()
    analytic = jax.jit(final_steering_logits)(plain, u_vd, jnp.asarray(v, jnp.float32), jnp.asarray(COEFS, jnp.float32))
    swept = steering_sweep(graphdef, state, TOKENS, make_steering(cfg, v, [cfg.n_layers]), COEFS, mask_bt=MASK)
    np.testing.assert_allclose(np.asarray(analytic), np.asarray(swept.logits_cbv), rtol=1e-4, atol=1e-4)
    for i, c in enumerate(COEFS):
        steered = FWD(graphdef, state, TOKENS, mask_bt=MASK, steering=make_steering(cfg, v, [cfg.n_layers], c))
        np.testing.assert_allclose(np.asarray(analytic[i]), np.asarray(steered.logits_btv[:, -1]), rtol=1e-4, atol=1e-4)
    # numpy reference of the formula z + c U v
    expected = np.asarray(plain)[None] + COEFS[:, None, None] * (np.asarray(u_vd) @ (v / np.linalg.norm(v)))[None, None]
    np.testing.assert_allclose(np.asarray(analytic), expected, rtol=1e-5, atol=1e-5)


def test_memory_estimate_and_default_chunk():
    from numerics_reference import small_config

    cfg = small_config("llama")
    per = estimate_sweep_bytes(cfg, 8, 32)
    assert estimate_sweep_bytes(cfg, 16, 32) > per and estimate_sweep_bytes(cfg, 8, 64) > per
    assert default_chunk_size(cfg, 8, 32, 100, memory_budget_bytes=10 * per) == 10
    assert default_chunk_size(cfg, 8, 32, 5, memory_budget_bytes=10 * per) == 5
    assert default_chunk_size(cfg, 8, 32, 100, memory_budget_bytes=per // 2) == 1
    assert 1 <= default_chunk_size(cfg, 8, 32, 100) <= 100


@pytest.mark.parametrize(
    ("coefs", "kwargs", "match"),
    [
        (np.array([]), {}, "non-empty 1-D"),
        (np.array([[1.0]]), {}, "non-empty 1-D"),
        (np.array([np.nan]), {}, "NaN or inf"),
        (np.array([1.0]), dict(chunk_size=0), "chunk_size must be a positive int"),
        (np.array([1.0]), dict(return_logits=False), "nothing requested"),
        (np.array([1.0]), dict(residual_layers=(11,)), "unknown layer index 11"),
    ],
)
def test_bad_sweep_input_is_explained(gpt2, coefs, kwargs, match):
    steering = make_steering(gpt2.config, _vector(gpt2.config), [1])
    with pytest.raises(ValueError, match=match):
        steering_sweep(*nnx.split(gpt2), TOKENS, steering, coefs, mask_bt=MASK, **kwargs)


def test_bad_analytic_input_is_explained():
    with pytest.raises(ValueError, match="norm 0.0"):
        final_steering_logits(jnp.zeros((1, 3)), jnp.ones((3, 2)), jnp.zeros(2), jnp.ones(2))
    with pytest.raises(ValueError, match="unembed_vd has shape"):
        final_steering_logits(jnp.zeros((1, 3)), jnp.ones((4, 2)), jnp.ones(2), jnp.ones(2))


def test_nan_weights_are_named(gpt2):
    """Parameters are checked once, where they are loaded (load_hf_checkpoint, tests/numerics/test_hf.py) or
    with check_finite_parameters; the check names the parameter."""
    from steerbounds.numerics import check_finite_parameters

    graphdef, state = nnx.split(gpt2)
    broken = jax.tree_util.tree_map(lambda x: x, state)
    broken["blocks"][1]["mlp"]["fc_in"]["kernel"][...] = state["blocks"][1]["mlp"]["fc_in"]["kernel"][...].at[0, 0].set(np.nan)
    check_finite_parameters(state)
    with pytest.raises(ValueError, match="blocks.1.mlp.fc_in.kernel.*NaN"):
        check_finite_parameters(broken)
