"""A plain-numpy (float64) forward pass of our model, written independently of the JAX code."""

from __future__ import annotations

import math

import numpy as np
from flax import nnx

from steerbounds.numerics import Transformer, TransformerConfig


def _a(p):
    return None if p is None else np.asarray(p[...], dtype=np.float64)


def _norm(x, norm, cfg):
    scale, bias = _a(norm.scale), _a(norm.bias)
    if cfg.norm == "layernorm":
        y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + cfg.norm_eps)
    else:
        y = x / np.sqrt((x**2).mean(-1, keepdims=True) + cfg.norm_eps)
    y = y * scale
    return y if bias is None else y + bias


def _lin(x, lin):
    y = x @ _a(lin.kernel)
    return y if lin.bias is None else y + _a(lin.bias)


def _gelu(x, approximate):
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def reference_forward(model, tokens, mask=None, *, steer=None):
    """Logits (b, t, v), h (b, t, d) and residuals after each block (L, b, t, d).

    ``steer``: optional (vectors (L+1, d) numpy, set of layers, coefficient, position mask or None).
    """
    cfg = model.config
    tokens = np.asarray(tokens)
    b, t = tokens.shape
    mask = np.ones((b, t), bool) if mask is None else np.asarray(mask).astype(bool)
    pos = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    x = _a(model.token_embed_vd)[tokens]
    if cfg.positions == "learned":
        x = x + _a(model.pos_embed_td)[pos]
    hd, H, K = cfg.head_size, cfg.n_heads, cfg.n_kv_heads
    inv = 1.0 / cfg.rope_theta ** (np.arange(0, hd, 2) / hd)
    ang = pos[..., None] * inv
    cos, sin = np.cos(ang)[:, :, None, :], np.sin(ang)[:, :, None, :]

    def rope(q):
        q1, q2 = q[..., : hd // 2], q[..., hd // 2 :]
        return np.concatenate([q1 * cos - q2 * sin, q2 * cos + q1 * sin], -1)

    def add_steer(x, layer):
        if steer is None:
            return x
        vecs, layers, c, pm = steer
        if layer not in layers:
            return x
        where = mask if pm is None else mask & np.asarray(pm).astype(bool)
        return x + c * where[..., None] * vecs[layer]

    allowed = (np.tril(np.ones((t, t), bool))[None] & mask[:, None, :]) | np.eye(t, dtype=bool)[None]  # pads: self
    residuals = []
    for layer, blk in enumerate(model.blocks):
        y = _norm(x, blk.norm1, cfg)
        q = _lin(y, blk.attn.q).reshape(b, t, H, hd)
        k = _lin(y, blk.attn.k).reshape(b, t, K, hd)
        v = _lin(y, blk.attn.v).reshape(b, t, K, hd)
        if cfg.positions == "rotary":
            q, k = rope(q), rope(k)
        k = np.repeat(k, H // K, axis=2)
        v = np.repeat(v, H // K, axis=2)
        s = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hd)
        s = np.where(allowed[:, None], s, -np.inf)
        s = s - s.max(-1, keepdims=True)
        p = np.exp(s)
        p = p / p.sum(-1, keepdims=True)
        o = np.einsum("bhqk,bkhd->bqhd", p, v).reshape(b, t, H * hd)
        x = x + _lin(o, blk.attn.o)
        y = _norm(x, blk.norm2, cfg)
        if cfg.mlp == "gelu":
            m = _lin(_gelu(_lin(y, blk.mlp.fc_in), cfg.gelu_approximate), blk.mlp.fc_out)
        else:
            g = _lin(y, blk.mlp.gate)
            m = _lin(g / (1 + np.exp(-g)) * _lin(y, blk.mlp.up), blk.mlp.down)
        x = add_steer(x + m, layer)
        residuals.append(x)
    h = add_steer(_norm(x, model.final_norm, cfg), cfg.n_layers)
    u = _a(model.token_embed_vd) if model.unembed_vd is None else _a(model.unembed_vd)
    logits = h @ u.T
    if model.unembed_bias_v is not None:
        logits = logits + _a(model.unembed_bias_v)
    return logits, h, np.stack(residuals)


def small_config(style: str, **overrides) -> TransformerConfig:
    base = dict(vocab_size=23, d_model=16, n_layers=3, n_heads=4, max_len=16)
    base.update(overrides)
    if style == "gpt2":
        return TransformerConfig.gpt2_style(**base)
    return TransformerConfig.llama_style(n_kv_heads=base.pop("n_kv_heads", 2), **base)


def randomised(model: Transformer, seed: int = 1) -> Transformer:
    """Give every parameter (norm scales and biases too) random values of order one."""
    import jax
    import jax.numpy as jnp

    graphdef, state = nnx.split(model)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = []
    for k, leaf in zip(keys, leaves):
        noise = jax.random.normal(k, leaf.shape, jnp.float32)
        new.append((leaf + 0.3 * noise).astype(leaf.dtype) if leaf.ndim == 1 else (0.3 * noise).astype(leaf.dtype))
    return nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, new))


_MODELS: dict[str, Transformer] = {}


def get_model(style: str) -> Transformer:
    """One randomised small model per style and test process."""
    if style not in _MODELS:
        _MODELS[style] = randomised(Transformer(small_config(style), rngs=nnx.Rngs(0)))
    return _MODELS[style]


def _jit_forward():
    import jax

    from steerbounds.numerics import forward

    return jax.jit(forward, static_argnums=0, static_argnames="residual_layers")


FWD = _jit_forward()  # one compiled forward shared by every test module of a process
