"""Steering vectors: PCA / mean difference / random, orientation, safetensors round trip, model hash."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numerics_reference import FWD

from steerbounds.numerics import (
    SteeringVectors,
    contrast_vectors,
    last_token_states,
    load_steering_vectors,
    model_hash,
    random_vectors,
    save_steering_vectors,
    steering_vectors_from_pairs,
)


def _planted(seed, n_pairs=12, d=10, layers=2, noise=0.05):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(layers, d))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    base = rng.normal(size=(layers, n_pairs, d))
    strength = rng.uniform(0.5, 2.0, size=(layers, n_pairs, 1))
    aligned = base + strength * w[:, None] + noise * rng.normal(size=base.shape)
    misaligned = base + noise * rng.normal(size=base.shape)
    return aligned, misaligned, w


@given(seed=st.integers(0, 2**20), method=st.sampled_from(["pca", "mean_difference"]))
def test_recovers_planted_direction_pointing_to_the_aligned_side(seed, method):
    aligned, misaligned, w = _planted(seed)
    sv = contrast_vectors(aligned, misaligned, layers=[0, 1], method=method)
    cos = np.sum(sv.directions_ld * w, axis=1)
    assert np.all(cos > 0.98), cos  # right direction AND right sign
    np.testing.assert_allclose(np.linalg.norm(sv.directions_ld, axis=1), 1.0, atol=1e-6)
    assert np.all(sv.separation_l == 1.0)
    swapped = contrast_vectors(misaligned, aligned, layers=[0, 1], method=method)
    np.testing.assert_allclose(swapped.directions_ld, -sv.directions_ld, atol=1e-6)


@given(d_bd=arrays(np.float64, (5, 4), elements=st.floats(-10, 10, allow_subnormal=False)))
def test_pca_is_the_top_eigenvector_of_the_difference_second_moment(d_bd):
    if np.linalg.norm(d_bd) < 1e-3:
        return
    eig, vec = np.linalg.eigh(d_bd.T @ d_bd)
    if eig[-1] - eig[-2] < 1e-6 * eig[-1] or abs(np.mean(d_bd @ vec[:, -1])) < 1e-9:
        return  # degenerate: the direction or its sign is not unique
    sv = contrast_vectors(d_bd[None], np.zeros((1, 5, 4)), layers=[3])
    ref = vec[:, -1] * np.sign(np.mean(d_bd @ vec[:, -1]))
    np.testing.assert_allclose(sv.directions_ld[0], ref, atol=1e-5)
    assert abs(sv.explained_l[0] - eig[-1] / eig.sum()) < 1e-5


def test_pca_direction_is_not_the_centred_pca():
    """Planted alternative: centred PCA of consistently ordered differences misses a shared shift."""
    rng = np.random.default_rng(0)
    shift = np.array([1.0, 0, 0, 0])
    diffs = shift + 0.01 * rng.normal(size=(20, 4)) + np.outer(rng.normal(size=20), [0, 0.3, 0, 0])
    sv = contrast_vectors(diffs[None], np.zeros((1, 20, 4)), layers=[0])
    centred = np.linalg.svd(diffs - diffs.mean(0))[2][0]
    assert sv.directions_ld[0] @ shift > 0.99 and abs(centred @ shift) < 0.5


def test_mean_difference_and_random_control():
    aligned, misaligned, _ = _planted(1)
    sv = contrast_vectors(aligned, misaligned, layers=[0, 1], method="mean_difference")
    ref = (aligned - misaligned).mean(axis=1)
    np.testing.assert_allclose(sv.directions_ld, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-6)
    a = random_vectors(10, [0, 1], key=jax.random.key(3))
    b = random_vectors(10, [0, 1], key=jax.random.key(3))
    c = random_vectors(10, [0, 1], key=jax.random.key(4))
    np.testing.assert_array_equal(a.directions_ld, b.directions_ld)
    assert np.abs(a.directions_ld - c.directions_ld).max() > 0.1
    np.testing.assert_allclose(np.linalg.norm(a.directions_ld, axis=1), 1.0, atol=1e-6)


def test_bad_contrast_input_is_explained():
    a, m, _ = _planted(2)
    with pytest.raises(ValueError, match="same shape"):
        contrast_vectors(a, m[:, :-1], layers=[0, 1])
    with pytest.raises(ValueError, match="identical states"):
        contrast_vectors(a, a, layers=[0, 1])
    with pytest.raises(ValueError, match="NaN"):
        contrast_vectors(np.where(a > 2, np.nan, a), m, layers=[0, 1])
    with pytest.raises(ValueError, match="unknown method"):
        contrast_vectors(a, m, layers=[0, 1], method="ica")
    with pytest.raises(ValueError, match="mean difference is zero"):
        d = np.array([[[1.0, 0.0], [-1.0, 0.0]]])
        contrast_vectors(d, np.zeros_like(d), layers=[0], method="mean_difference")
    with pytest.raises(ValueError, match="unit norm"):
        SteeringVectors(2 * np.eye(2, dtype=np.float32), (0, 1), "pca")


def test_last_token_states_read_the_last_real_token(llama):
    model = llama
    graphdef, state = nnx.split(model)
    tokens = np.array([[3, 7, 1, 9], [5, 5, 8, 0], [0, 2, 4, 6], [1, 9, 0, 0]])
    mask = np.array([[0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0]])  # left and right padding
    n = model.config.n_layers
    states = last_token_states(graphdef, state, tokens, mask_bt=mask, batch_size=3)  # chunks of 3 (the last wraps)
    full = np.asarray(FWD(graphdef, state, tokens, mask_bt=mask, residual_layers=tuple(range(n + 1))).residuals_lbtd)
    last = [3, 3, 3, 1]
    np.testing.assert_allclose(states, full[:, np.arange(4), last], rtol=1e-5, atol=1e-5)


def test_vectors_from_pairs_save_and_load(gpt2, tmp_path):
    model = gpt2
    graphdef, state = nnx.split(model)
    aligned = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    misaligned = np.array([[1, 2, 10], [4, 5, 11], [7, 8, 12]])
    sv = steering_vectors_from_pairs(graphdef, state, aligned, misaligned, layers=[0, 2, model.config.n_layers])
    assert sv.model_hash == model_hash(model) and sv.n_pairs == 3 and sv.layers == (0, 2, 3)
    path = tmp_path / "v.safetensors"
    save_steering_vectors(path, sv)
    back = load_steering_vectors(path, expected_model_hash=model_hash(state))
    np.testing.assert_array_equal(back.directions_ld, sv.directions_ld)
    np.testing.assert_array_equal(back.separation_l, sv.separation_l)
    assert (back.layers, back.method, back.sign, back.model_hash) == (sv.layers, sv.method, sv.sign, sv.model_hash)
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    assert meta["package_version"] and meta["d_model"] == str(model.config.d_model)
    with pytest.raises(ValueError, match="was built for the model"):
        load_steering_vectors(path, expected_model_hash="sha256:other")
    steering = back.steering(model.config, [2, 3], 1.5)
    np.testing.assert_allclose(np.asarray(steering.vectors_ld[2]), sv.direction(2), atol=1e-6)


def test_bad_files_are_explained(tmp_path):
    from safetensors.numpy import save_file

    with pytest.raises(FileNotFoundError, match="no steering-vector file"):
        load_steering_vectors(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_steering_vectors(tmp_path / "junk.safetensors")
    save_file({"x": np.zeros(2, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a steering-vector file"):
        load_steering_vectors(tmp_path / "other.safetensors")


def test_model_hash_sees_a_one_ulp_change(gpt2):
    model = gpt2
    graphdef, state = nnx.split(model)
    h = model_hash(state)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    leaves[3] = leaves[3].at[(0,) * leaves[3].ndim].set(np.nextafter(np.float32(leaves[3].reshape(-1)[0]), np.float32(np.inf)))
    assert model_hash(jax.tree_util.tree_unflatten(treedef, leaves)) != h
    assert model_hash(nnx.merge(graphdef, state)) == h
