"""Numerics inputs: NaN logits, unwritable paths, bad configs and PRNG keys raise errors naming the argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steerbounds import checked
from steerbounds.numerics import (
    SteeringVectors,
    TransformerConfig,
    final_steering_behaviour,
    final_steering_logits,
    random_vectors,
    save_steering_vectors,
)

LOGITS = jnp.zeros((2, 3))
UNEMBED = jnp.eye(3)[:, :2]
VECTOR = jnp.array([1.0, 0.0])
COEFFICIENTS = jnp.array([0.0, 1.0])


@pytest.mark.parametrize("name", ["logits_bv", "unembed_vd", "vector_d", "coefficients_c"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_final_steering_logits_refuses_nan(name, bad):
    args = {"logits_bv": LOGITS, "unembed_vd": UNEMBED, "vector_d": VECTOR, "coefficients_c": COEFFICIENTS}
    args[name] = np.asarray(args[name]).copy()
    args[name].flat[0] = bad
    with pytest.raises(ValueError, match=f"final_steering_logits: {name} contains NaN or inf"):
        final_steering_logits(**args)


def test_final_steering_logits_nan_under_jit_is_raised_by_checked():
    f = jax.jit(lambda z: final_steering_logits(z, UNEMBED, VECTOR, COEFFICIENTS))
    bad = LOGITS.at[0, 0].set(jnp.nan)
    with pytest.raises(ValueError, match="logits_bv contains NaN or inf"):
        checked(f)(bad)
    assert checked(f)(LOGITS).shape == (2, 2, 3)


def test_final_steering_behaviour_refuses_nan():
    with pytest.raises(ValueError, match=r"logits_bv\[1, 0\] is not finite"):
        final_steering_behaviour(LOGITS.at[1, 0].set(jnp.nan), UNEMBED, VECTOR, COEFFICIENTS, [0], [1])
    with pytest.raises(ValueError, match="vector_d contains NaN or inf"):
        final_steering_behaviour(LOGITS, UNEMBED, VECTOR.at[0].set(jnp.nan), COEFFICIENTS, [0], [1])


def test_nan_outside_token_ids_does_not_enter():
    out = final_steering_logits(LOGITS.at[0, 2].set(jnp.nan), UNEMBED, VECTOR, COEFFICIENTS, token_ids=[0, 1])
    assert np.isfinite(np.asarray(out)).all()
    with pytest.raises(ValueError, match="logits_bv contains NaN"):
        final_steering_logits(LOGITS.at[0, 1].set(jnp.nan), UNEMBED, VECTOR, COEFFICIENTS, token_ids=[0, 1])


def test_final_steering_logits_refuses_strings():
    with pytest.raises(TypeError, match="coefficients_c must hold real numbers"):
        final_steering_logits(LOGITS, UNEMBED, VECTOR, np.array(["a", "b"]))


def test_save_steering_vectors_into_a_missing_folder(tmp_path):
    vectors = SteeringVectors(np.eye(2, dtype=np.float32), (0, 1), "random")
    with pytest.raises(FileNotFoundError, match="the folder .*missing.* of path does not exist; create it first"):
        save_steering_vectors(tmp_path / "missing" / "v.safetensors", vectors)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_steering_vectors(tmp_path, vectors)


@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), float("inf")])
def test_transformer_config_refuses_bad_init_std(value):
    with pytest.raises(ValueError, match="TransformerConfig.init_std must be a finite number > 0"):
        TransformerConfig.gpt2_style(vocab_size=10, d_model=8, n_heads=2, init_std=value)


def test_transformer_config_refuses_non_numeric_init_std():
    with pytest.raises(TypeError, match="TransformerConfig.init_std must be a number"):
        TransformerConfig.gpt2_style(vocab_size=10, d_model=8, n_heads=2, init_std="0.02")


@pytest.mark.parametrize("key", [0, 5, jax.random.key(0), jax.random.PRNGKey(0)])
def test_random_vectors_accepts_seeds_and_keys(key):
    assert random_vectors(8, [1], key=key).directions_ld.shape == (1, 8)
    np.testing.assert_array_equal(random_vectors(8, [1], key=key).directions_ld,
                                  random_vectors(8, [1], key=key).directions_ld)


@pytest.mark.parametrize("key", ["0", 1.5, None, [1, 2, 3]])  # None: no silent default seed
def test_random_vectors_bad_key_names_key(key):
    with pytest.raises((TypeError, ValueError), match="random_vectors: key"):
        random_vectors(8, [1], key=key)
