"""Sharded sweeps equal unsharded ones. Run by test_sharding.py in a process with four CPU devices.

This file is not collected by the normal test run (its name does not start
with ``test_``): ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` must be
set before JAX starts, so test_sharding.py runs it in a fresh interpreter.

With the same number of coefficients vmapped at once (``chunk_size``) on
every device as in the unsharded sweep, each device runs exactly the
unsharded computation on its block, and the results agree to 1e-6 (in fact
bit for bit). A different chunk size changes the shapes of the vmapped matrix
products and so the float32 rounding (about 1e-6 relative); that case is
checked with a tolerance of 1e-5.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh
from numerics_reference import small_config

from steerbounds.numerics import (
    Transformer,
    final_steering_behaviour,
    final_steering_logits,
    make_steering,
    steering_sweep,
    sweep_mesh,
)

TOL = 1e-6
TOKENS = np.random.default_rng(0).integers(0, 23, size=(6, 7))
MASK = np.ones_like(TOKENS)
MASK[1, :3] = 0  # left padding
MASK[4, 5:] = 0  # right padding


def test_four_devices_are_visible():
    assert jax.device_count() == 4, "run with XLA_FLAGS=--xla_force_host_platform_device_count=4"


@functools.cache
def _split(style):
    """A small model with random parameters of order one, drawn with numpy (nothing to compile)."""
    config = small_config(style, n_layers=2)
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0))))
    leaves, treedef = jax.tree_util.tree_flatten(abstract)
    rng = np.random.default_rng(0)
    values = [0.3 * rng.normal(size=leaf.shape).astype(np.float32) for leaf in leaves]
    values = [jax.numpy.asarray(v + 1.0 if v.ndim == 1 else v) for v in values]
    return graphdef, jax.tree_util.tree_unflatten(treedef, values)


def _steering(style, layers, **kw):
    graphdef, state = _split(style)
    config = nnx.merge(graphdef, state).config
    return make_steering(config, np.random.default_rng(1).normal(size=config.d_model), layers, **kw)


def _close(a, b, tol=TOL):
    assert (a is None) == (b is None)
    if a is not None:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def _both(style, steering, coefficients, prompt_shards, **kwargs):
    graphdef, state = _split(style)
    plain = steering_sweep(graphdef, state, TOKENS, steering, coefficients, mask_bt=MASK, **kwargs)
    sharded = steering_sweep(graphdef, state, TOKENS, steering, coefficients, mask_bt=MASK,
                             mesh=sweep_mesh(prompt_shards=prompt_shards), **kwargs)
    return plain, sharded


def test_sharded_sweep_equals_unsharded_and_stays_distributed():
    """2 x 2 mesh, 8 coefficients and 6 prompts (no padding), h and residuals too."""
    coefficients = np.linspace(-3, 3, 8)
    steering = _steering("llama", [0, 1])
    kw = dict(return_h=True, residual_layers=(0, 1, 2))
    plain, sharded = _both("llama", steering, coefficients, 2, chunk_size=2, **kw)
    for a, b in zip(sharded, plain):
        _close(a, b)
    for array in sharded:
        shards = array.addressable_shards
        assert len({s.device for s in shards}) == 4
        assert {s.data.shape[0] for s in shards} == {4}  # 8 coefficients over 2 coefficient shards
    # Without chunk_size each device chunks its own block (4 coefficients at once, not 2): the vmapped
    # shapes differ, and so does the float32 rounding, by about 1e-6 relative.
    graphdef, state = _split("llama")
    default = steering_sweep(graphdef, state, TOKENS, steering, coefficients, mask_bt=MASK,
                             mesh=sweep_mesh(prompt_shards=2), **kw)
    for a, b in zip(default, plain):
        _close(a, b, tol=1e-5)


def test_padded_coefficients_and_a_position_mask():
    """7 coefficients on 4 coefficient shards (padded to 8); steering only at the last two positions."""
    where = np.zeros_like(MASK)
    where[:, -2:] = 1
    plain, sharded = _both("gpt2", _steering("gpt2", [1], position_mask_bt=where), np.linspace(-3, 3, 7), 1,
                           chunk_size=1, return_h=True)
    for a, b in zip(sharded, plain):
        _close(a, b)
    # planted bug: shards put back in the wrong coefficient order are far outside the tolerance
    swapped = np.asarray(sharded.logits_cbv)[[1, 0, 2, 3, 4, 5, 6]]
    with pytest.raises(AssertionError):
        _close(swapped, plain.logits_cbv)


def test_padded_prompts_without_prefix_cache():
    """6 prompts on 4 prompt shards (padded to 8), the whole model per coefficient, no logits requested."""
    plain, sharded = _both("llama", _steering("llama", [0, 1]), np.linspace(-3, 3, 5), 4, chunk_size=1,
                           cache_prefix=False, residual_layers=(1,), return_logits=False, return_h=True)
    assert sharded.logits_cbv is None
    for a, b in zip(sharded, plain):
        _close(a, b)


@pytest.mark.parametrize("prompt_shards", [1, 2, 4])
def test_analytic_sweeps_sharded_equal_unsharded(prompt_shards):
    rng = np.random.default_rng(2)
    logits, unembed, vector = rng.normal(size=(6, 30)), rng.normal(size=(30, 5)), rng.normal(size=5)
    mesh = sweep_mesh(prompt_shards=prompt_shards)
    for n_coef in (8, 9):
        c = np.linspace(-2, 2, n_coef)
        _close(final_steering_logits(logits, unembed, vector, c, mesh=mesh),
               final_steering_logits(logits, unembed, vector, c))
        _close(final_steering_logits(logits, unembed, vector, c, token_ids=[3, 1], mesh=mesh),
               final_steering_logits(logits, unembed, vector, c, token_ids=[3, 1]))
        _close(final_steering_behaviour(logits, unembed, vector, c, [0, 4], [7], mesh=mesh),
               final_steering_behaviour(logits, unembed, vector, c, [0, 4], [7]))


def test_sharded_analytic_inside_a_callers_jit():
    rng = np.random.default_rng(3)
    logits, unembed, vector = rng.normal(size=(4, 30)), rng.normal(size=(30, 5)), rng.normal(size=5)
    c = np.linspace(-1, 1, 8)
    out = jax.jit(lambda z: final_steering_logits(z, unembed, vector, c, mesh=sweep_mesh(prompt_shards=2)))(logits)
    _close(out, final_steering_logits(logits, unembed, vector, c))
    assert len({s.device for s in out.addressable_shards}) == 4


def test_bad_meshes_are_explained():
    graphdef, state = _split("gpt2")
    steering = _steering("gpt2", [1])
    with pytest.raises(ValueError, match="mesh axis 'data' is not one of"):
        steering_sweep(graphdef, state, TOKENS, steering, [1.0], mesh=Mesh(np.array(jax.devices()), ("data",)))
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
        steering_sweep(graphdef, state, TOKENS, steering, [1.0], mesh="all")
    with pytest.raises(ValueError, match="prompt_shards=3 does not divide the 4 devices"):
        sweep_mesh(prompt_shards=3)
    with pytest.raises(ValueError, match="mesh axis 'data'"):
        final_steering_logits(np.zeros((2, 3)), np.ones((3, 2)), np.ones(2), [1.0],
                              mesh=Mesh(np.array(jax.devices()), ("data",)))
    one_axis = Mesh(np.array(jax.devices()), ("prompts",))  # an absent axis is not sharded
    coefficients = np.linspace(-3, 3, 7)
    _close(steering_sweep(graphdef, state, TOKENS, steering, coefficients, mask_bt=MASK, mesh=one_axis,
                          chunk_size=1).logits_cbv,
           steering_sweep(graphdef, state, TOKENS, steering, coefficients, mask_bt=MASK, chunk_size=1).logits_cbv)
