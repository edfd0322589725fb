"""The model and the pure forward pass against a plain-numpy reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st
from numerics_reference import FWD, get_model, randomised, reference_forward, small_config

from steerbounds.numerics import Transformer, TransformerConfig, forward, make_steering

TOKENS = np.array([[3, 7, 1, 9, 4, 2], [5, 5, 8, 0, 11, 6]])
LEFT_MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])


def test_forward_matches_numpy_reference_with_left_padding(model):
    graphdef, state = nnx.split(model)
    out = FWD(graphdef, state, TOKENS, mask_bt=LEFT_MASK, residual_layers=(0, 1, 2))
    ref_logits, ref_h, ref_res = reference_forward(model, TOKENS, LEFT_MASK)
    real = LEFT_MASK.astype(bool)
    np.testing.assert_allclose(np.asarray(out.logits_btv)[real], ref_logits[real], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(out.h_btd)[real], ref_h[real], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(out.residuals_lbtd)[:, real], ref_res[:, real], rtol=1e-4, atol=1e-4)
    assert out.logits_btv.dtype == jnp.float32 and out.h_btd.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(out.logits_btv))), "padded positions must stay finite"


def test_module_call_equals_pure_forward(model):
    graphdef, state = nnx.split(model)
    np.testing.assert_array_equal(
        np.asarray(model(TOKENS, mask_bt=LEFT_MASK)), np.asarray(forward(graphdef, state, TOKENS, mask_bt=LEFT_MASK).logits_btv)
    )


def test_residual_layer_order_and_final_slot(model):
    graphdef, state = nnx.split(model)
    n = model.config.n_layers
    out = FWD(graphdef, state, TOKENS, residual_layers=(n, 0))
    np.testing.assert_array_equal(np.asarray(out.residuals_lbtd[0]), np.asarray(out.h_btd))
    first = FWD(graphdef, state, TOKENS, residual_layers=(0,)).residuals_lbtd[0]
    np.testing.assert_array_equal(np.asarray(out.residuals_lbtd[1]), np.asarray(first))


@given(pad=st.integers(0, 5), side=st.sampled_from(["left", "right"]), seed=st.integers(0, 2**16))
def test_padding_never_changes_real_positions(style, pad, side, seed):
    model = get_model(style)
    graphdef, state = nnx.split(model)
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, model.config.vocab_size, size=(1, 6))
    filler = rng.integers(0, model.config.vocab_size, size=(1, pad))
    if side == "left":
        tokens, mask = np.concatenate([filler, prompt], 1), np.r_[[0] * pad, [1] * 6][None]
    else:
        tokens, mask = np.concatenate([prompt, filler], 1), np.r_[[1] * 6, [0] * pad][None]
    tokens, mask = np.pad(tokens, ((0, 0), (0, 5 - pad))), np.pad(mask, ((0, 0), (0, 5 - pad)))  # one compiled shape
    padded = np.asarray(FWD(graphdef, state, tokens, mask_bt=mask).logits_btv)[mask.astype(bool)]
    plain = np.asarray(FWD(graphdef, state, prompt).logits_btv)[0]
    np.testing.assert_allclose(padded, plain, rtol=1e-5, atol=1e-5)



def test_positions_from_the_mask_matter(model):
    """Planted wrong implementation: positions 0..t-1 regardless of padding must differ (the test has power)."""
    graphdef, state = nnx.split(model)
    padded = np.asarray(FWD(graphdef, state, TOKENS, mask_bt=LEFT_MASK).logits_btv)[0, 2:]
    wrong_positions = reference_forward(model, TOKENS[:1], np.ones((1, 6)))[0][0, 2:]  # attends to pads too
    assert np.abs(padded - wrong_positions).max() > 1e-3


def test_steering_matches_reference_including_final_slot_and_position_mask(model):
    graphdef, state = nnx.split(model)
    cfg = model.config
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(2, cfg.d_model))
    layers = [1, cfg.n_layers]
    pm = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1]])
    steering = make_steering(cfg, vecs, layers, 1.7, position_mask_bt=pm)
    out = FWD(graphdef, state, TOKENS, mask_bt=LEFT_MASK, steering=steering)
    full = np.zeros((cfg.n_layers + 1, cfg.d_model))
    full[layers] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    ref_logits, ref_h, _ = reference_forward(model, TOKENS, LEFT_MASK, steer=(full, set(layers), 1.7, pm))
    real = LEFT_MASK.astype(bool)
    np.testing.assert_allclose(np.asarray(out.logits_btv)[real], ref_logits[real], rtol=1e-4, atol=1e-4)
    unsteered = np.asarray(FWD(graphdef, state, TOKENS, mask_bt=LEFT_MASK).logits_btv)
    assert np.abs(unsteered[real] - ref_logits[real]).max() > 1e-2  # the steering did something


def test_training_gradients_are_finite(style):
    model = Transformer(small_config(style, n_layers=1), rngs=nnx.Rngs(0))

    def loss(m):
        logits = m(jnp.asarray(TOKENS[:, :-1]), mask_bt=jnp.asarray(LEFT_MASK[:, :-1]))
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, jnp.asarray(TOKENS[:, 1:, None]), axis=-1))

    value, grads = nnx.jit(nnx.value_and_grad(loss))(model)
    flat = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(value)) and all(np.all(np.isfinite(np.asarray(g))) for g in flat)
    assert any(float(jnp.abs(g).max()) > 0 for g in flat)


def test_bfloat16_compute_keeps_float32_parameters():
    model = Transformer(small_config("llama", dtype="bfloat16"), rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(state)} == {jnp.dtype("float32")}
    out = FWD(graphdef, state, TOKENS, mask_bt=LEFT_MASK)
    ref = FWD(*nnx.split(Transformer(small_config("llama"), rngs=nnx.Rngs(0))), TOKENS, mask_bt=LEFT_MASK)
    assert out.h_btd.dtype == jnp.bfloat16 and out.logits_btv.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out.logits_btv), np.asarray(ref.logits_btv), atol=0.1)


def test_gqa_and_explicit_head_dim_match_reference():
    model = randomised(Transformer(small_config("llama", n_heads=4, n_kv_heads=1, head_dim=6), rngs=nnx.Rngs(2)))
    out = FWD(*nnx.split(model), TOKENS, mask_bt=LEFT_MASK)
    ref = reference_forward(model, TOKENS, LEFT_MASK)[0]
    real = LEFT_MASK.astype(bool)
    np.testing.assert_allclose(np.asarray(out.logits_btv)[real], ref[real], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(d_model=10, n_heads=4), "not divisible by n_heads"),
        (dict(n_heads=4, n_kv_heads=3), "not a multiple of n_kv_heads"),
        (dict(norm="batchnorm"), "norm must be one of"),
        (dict(n_layers=0), "n_layers must be a positive int"),
        (dict(dtype="float64"), "dtype must be one of"),
    ],
)
def test_bad_config_is_explained(kwargs, match):
    base = dict(vocab_size=10, d_model=8, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=8, max_len=8)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TransformerConfig(**base)


@pytest.mark.parametrize(
    ("tokens", "kwargs", "match"),
    [
        (np.array([1, 2, 3]), {}, "must be 2-D"),
        (np.array([[1.0, 2.0]]), {}, "integer token ids"),
        (np.array([[1, 99]]), {}, "outside the vocabulary"),
        (np.array([[1, 2]]), dict(mask_bt=np.array([[1, 1, 1]])), "mask_bt has shape"),
        (np.array([[1, 2]]), dict(mask_bt=np.array([[0, 0]])), "have no tokens"),
        (np.array([[1, 2]]), dict(residual_layers=(7,)), "unknown layer index 7"),
        (np.array([[1, 2]]), dict(residual_layers=(-1,)), "unknown layer index -1"),
        (np.ones((1, 17), int), {}, "exceeds max_len"),
    ],
)
def test_bad_input_is_explained(tokens, kwargs, match):
    model = get_model("gpt2")
    with pytest.raises((ValueError, TypeError), match=match):
        forward(*nnx.split(model), tokens, **kwargs)


def test_bad_steering_is_explained():
    cfg = small_config("gpt2")
    with pytest.raises(ValueError, match="zero norm"):
        make_steering(cfg, np.zeros(cfg.d_model), [1])
    with pytest.raises(ValueError, match="unknown layer index 9"):
        make_steering(cfg, np.ones(cfg.d_model), [9])
    with pytest.raises(ValueError, match="expected"):
        make_steering(cfg, np.ones(cfg.d_model + 1), [1])
    with pytest.raises(ValueError, match="NaN"):
        make_steering(cfg, np.full(cfg.d_model, np.nan), [1])
    with pytest.raises(ValueError, match="not 1"):
        make_steering(cfg, 2 * np.ones(cfg.d_model), [1], normalize=False)
    other = make_steering(small_config("gpt2", n_layers=2), np.ones(cfg.d_model), [1])
    with pytest.raises(ValueError, match="another model"):
        forward(*nnx.split(get_model("gpt2")), TOKENS, steering=other)
