"""The Flax encoder against a numpy reference: forward, masking, steering (no wheel needed)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from encoder_reference import randomised_encoder, reference_forward
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.numerics import (
    Encoder,
    EncoderConfig,
    encoder_forward,
    make_steering,
    mean_pool,
    steered_embeddings,
)
from steerbounds.numerics import _encoder

_forward = jax.jit(encoder_forward, static_argnums=0)
B, T = 3, 8
# One fixed (B, T) batch for the example-based tests, so they reuse compiled programs.
IDS = np.array([[3, 4, 5, 0, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11, 12, 13], [14, 15, 0, 0, 0, 0, 0, 0]], np.int32)
MASK = IDS > 0


@st.composite
def padded_batches(draw):
    """Token ids (pad id 0 at pads, real ids >= 1) and a right-padded mask of shape (B, T)."""
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    ids = draw(st.lists(st.lists(st.integers(1, 63), min_size=T, max_size=T), min_size=B, max_size=B))
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    return np.where(mask, np.array(ids), 0).astype(np.int32), mask


@given(padded_batches())
def test_forward_matches_numpy_reference(tiny_split, tiny_tensors, batch):
    ids, mask = batch
    graphdef, state = tiny_split
    out = _forward(graphdef, state, ids, mask, None)
    hidden_ref, emb_ref = reference_forward(tiny_tensors, EncoderConfig.tiny(), ids, mask)
    real = mask[None, :, :, None]
    np.testing.assert_allclose(np.where(real, out.hidden_lbtd, 0), np.where(real, hidden_ref, 0), atol=1e-4)
    np.testing.assert_allclose(out.h_bd, emb_ref, atol=1e-5)
    assert out.states_btd.dtype == jnp.float32 and out.h_bd.dtype == jnp.float32


def _padding_gap(graphdef, state, ids_t: np.ndarray, other_t: np.ndarray, junk: int, fwd=None) -> float:
    """Largest change of a sentence's embedding and token states when it sits in a padded batch of width T."""
    fwd = fwd or _forward
    n = ids_t.shape[0]
    alone = fwd(graphdef, state, ids_t[None], np.ones((1, n), bool), None)
    ids = np.stack([np.concatenate([ids_t, np.full(T - n, junk, np.int32)]), other_t])  # junk ids under the pad
    mask = np.stack([np.arange(T) < n, np.ones(T, bool)])
    padded = fwd(graphdef, state, ids, mask, None)
    return max(
        float(np.abs(padded.h_bd[0] - alone.h_bd[0]).max()),
        float(np.abs(padded.states_btd[0, :n] - alone.states_btd[0]).max()),
    )


@given(
    st.sampled_from([1, 3, 6]).flatmap(lambda n: st.lists(st.integers(1, 63), min_size=n, max_size=n)),
    st.lists(st.integers(1, 63), min_size=T, max_size=T),
    st.integers(0, 63),
)
def test_padding_invariance(tiny_split, ids, other, junk):
    # Three sentence lengths only: each length compiles its own unpadded program.
    gap = _padding_gap(*tiny_split, np.array(ids, np.int32), np.array(other, np.int32), junk)
    assert gap < 1e-5


def test_padding_check_catches_a_model_that_attends_to_pads(tiny_split, monkeypatch):
    """Planted bug: blocks that ignore the mask must fail the padding-invariance check."""
    original = _encoder._Block.__call__
    monkeypatch.setattr(_encoder._Block, "__call__", lambda self, x, mask: original(self, x, jnp.ones_like(mask)))
    # A fresh function object, so no trace cached before the patch is reused.
    fwd = jax.jit(lambda g, s, i, m, _: encoder_forward(g, s, i, m, None), static_argnums=0)
    ids = np.array([5, 9, 11, 13], np.int32)
    assert _padding_gap(*tiny_split, ids, np.arange(1, T + 1, dtype=np.int32), 7, fwd=fwd) > 1e-3


def _unit(seed: int, d: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=d)
    return v / np.linalg.norm(v)


@given(padded_batches(), st.sampled_from([(0,), (1,), (0, 1), (2,), (1, 2)]), st.floats(-3.0, 3.0))
def test_steering_matches_numpy_reference(tiny_split, tiny_tensors, batch, layers, c):
    ids, mask = batch
    graphdef, state = tiny_split
    v = _unit(1)
    out = _forward(graphdef, state, ids, mask, make_steering(EncoderConfig.tiny(), v, layers, c))
    hidden_ref, emb_ref = reference_forward(tiny_tensors, EncoderConfig.tiny(), ids, mask, steer=(v, layers, c))
    real = mask[None, :, :, None]
    np.testing.assert_allclose(np.where(real, out.hidden_lbtd, 0), np.where(real, hidden_ref, 0), atol=1e-4)
    np.testing.assert_allclose(out.h_bd, emb_ref, atol=2e-5)


def test_steering_at_zero_is_a_no_op(tiny_split):
    graphdef, state = tiny_split
    base = _forward(graphdef, state, IDS, MASK, None)
    zero = _forward(graphdef, state, IDS, MASK, make_steering(EncoderConfig.tiny(), _unit(2), [0, 1, 2], 0.0))
    # Equal up to float rounding: the steered program is compiled (and fused) differently.
    np.testing.assert_allclose(zero.hidden_lbtd, base.hidden_lbtd, atol=1e-6, rtol=0)
    np.testing.assert_allclose(zero.h_bd, base.h_bd, atol=1e-6, rtol=0)


def test_final_slot_adds_exactly_cv_and_last_block_moves_the_pooled_mean(tiny_split):
    graphdef, state = tiny_split
    cfg = EncoderConfig.tiny()
    v, c = _unit(3), 1.7
    base = _forward(graphdef, state, IDS, MASK, None)
    final = _forward(graphdef, state, IDS, MASK, make_steering(cfg, v, [cfg.n_layers], c))
    np.testing.assert_allclose(final.h_bd - base.h_bd, np.broadcast_to(c * v, (B, 16)), atol=1e-6)
    last = _forward(graphdef, state, IDS, MASK, make_steering(cfg, v, [cfg.n_layers - 1], c))
    moved = mean_pool(last.states_btd, MASK) - mean_pool(base.states_btd, MASK)
    np.testing.assert_allclose(moved, np.broadcast_to(c * v, (B, 16)), atol=1e-5)


def test_position_mask_limits_where_steering_is_added(tiny_split):
    graphdef, state = tiny_split
    s = make_steering(EncoderConfig.tiny(), _unit(4), [0], 2.0, position_mask_bt=np.zeros_like(MASK))
    steered, base = _forward(graphdef, state, IDS, MASK, s), _forward(graphdef, state, IDS, MASK, None)
    np.testing.assert_allclose(steered.h_bd, base.h_bd, atol=1e-6, rtol=0)


def test_steering_vmap_equals_loop(tiny_split):
    graphdef, state = tiny_split
    cfg = EncoderConfig.tiny()
    coefficients = [-2.0, -0.5, 0.0, 0.25, 3.0]
    s = make_steering(cfg, _unit(5), [0, 1])
    swept = steered_embeddings(graphdef, state, IDS, MASK, s, coefficients)
    loop = np.stack([_forward(graphdef, state, IDS, MASK, make_steering(cfg, _unit(5), [0, 1], c)).h_bd for c in coefficients])
    assert swept.shape == (5, B, 16)
    np.testing.assert_allclose(swept, loop, atol=1e-6)


def test_steering_errors(tiny_split):
    graphdef, state = tiny_split
    ids, mask = np.array([[1, 2]], np.int32), np.ones((1, 2), bool)
    other = EncoderConfig(vocab_size=64, d_model=8, n_layers=2, n_heads=2, d_ff=16, max_len=32)
    with pytest.raises(ValueError, match="another model"):
        _forward(graphdef, state, ids, mask, make_steering(other, np.eye(8)[0], [0], 1.0))
    s = make_steering(EncoderConfig.tiny(), _unit(6), [0])
    with pytest.raises(ValueError, match="coefficients_c must be a non-empty 1-D"):
        steered_embeddings(graphdef, state, ids, mask, s, [])
    with pytest.raises(ValueError, match="NaN or inf"):
        steered_embeddings(graphdef, state, ids, mask, s, [0.0, float("nan")])
    with pytest.raises(ValueError, match="unknown layer index"):
        make_steering(EncoderConfig.tiny(), _unit(6), [3])


def test_input_errors(tiny_model):
    with pytest.raises(ValueError, match="same shape"):
        tiny_model(jnp.zeros((1, 3), jnp.int32), jnp.ones((1, 4), bool))
    with pytest.raises(ValueError, match="only 32"):
        tiny_model(jnp.zeros((1, 33), jnp.int32), jnp.ones((1, 33), bool))
    with pytest.raises(ValueError, match="integer token ids"):
        tiny_model(jnp.zeros((1, 3), jnp.float32), jnp.ones((1, 3), bool))


def test_config_validation():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        EncoderConfig(vocab_size=10, d_model=10, n_layers=1, n_heads=3, d_ff=8, max_len=8)
    with pytest.raises(ValueError, match="n_layers must be a positive integer"):
        EncoderConfig(vocab_size=10, d_model=8, n_layers=0, n_heads=2, d_ff=8, max_len=8)
    with pytest.raises(ValueError, match="dtype must be one of"):
        EncoderConfig(vocab_size=10, d_model=8, n_layers=1, n_heads=2, d_ff=8, max_len=8, dtype="int8")
    hf = EncoderConfig.minilm_l6().to_hf_config()
    assert EncoderConfig.from_hf_config(hf) == EncoderConfig.minilm_l6()
    with pytest.raises(ValueError, match="hidden_act='relu' is not supported"):
        EncoderConfig.from_hf_config({**hf, "hidden_act": "relu"})
    with pytest.raises(ValueError, match="only BERT-style"):
        EncoderConfig.from_hf_config({**hf, "model_type": "gpt2"})
    with pytest.raises(ValueError, match=r"missing required key\(s\) \['hidden_size'\]"):
        EncoderConfig.from_hf_config({k: v for k, v in hf.items() if k != "hidden_size"})
    with pytest.raises(ValueError, match="expected a JSON object"):
        EncoderConfig.from_hf_config([1, 2])


def test_float64_config_computes_in_float64():
    cfg = EncoderConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=16, dtype="float64")
    if not jax.config.jax_enable_x64:
        pytest.skip("float64 needs jax_enable_x64")
    # Built and run inside eval_shape: traced for dtypes, never compiled.
    out = jax.eval_shape(lambda: Encoder(cfg, rngs=nnx.Rngs(0))(jnp.array([[1, 2]]), jnp.array([[True, True]])))
    assert out.h_bd.dtype == jnp.float64 and out.hidden_lbtd.dtype == jnp.float64


def test_random_init_is_deterministic():
    a = nnx.state(randomised_encoder(EncoderConfig.tiny(), seed=3))
    b = nnx.state(randomised_encoder(EncoderConfig.tiny(), seed=3))
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
