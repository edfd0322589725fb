"""The decoder-only transformer as a Flax NNX module.

Parameter layout (all matrices map ``x @ kernel``; ``unembed_vd`` holds the rows
``u_t`` of ``U`` from docs/theory.md#setting):

* ``token_embed_vd`` (V, d), ``pos_embed_td`` (max_len, d) for learned positions;
* per block: ``norm1``, ``attn.{q,k,v,o}`` (kernels (d, H*hd), (d, K*hd), (d, K*hd),
  (H*hd, d)), ``norm2``, ``mlp.{fc_in, fc_out}`` (GELU) or ``mlp.{gate, up, down}`` (SwiGLU);
* ``final_norm``; ``unembed_vd`` (absent when tied) and ``unembed_bias_v`` (optional).

The forward pass itself lives in ``_forward.py`` as pure functions; the module's
``__call__`` is the training entry point and calls the same code.
"""

from __future__ import annotations

from steerbounds.theory import instance_of, positive_int

import math

import jax
import jax.numpy as jnp
from flax import nnx

from ._config import TransformerConfig
from ._forward import forward_module


def _normal(rngs: nnx.Rngs, shape: tuple[int, ...], std: float, dtype: str) -> jax.Array:
    return std * jax.random.normal(rngs.params(), shape, dtype=jnp.float32).astype(dtype)


class Linear(nnx.Module):
    """``y = x @ kernel (+ bias)`` with an explicit (in, out) kernel."""

    def __init__(self, d_in: int, d_out: int, *, bias: bool, std: float, config: TransformerConfig, rngs: nnx.Rngs):
        self.kernel = nnx.Param(_normal(rngs, (d_in, d_out), std, config.param_dtype))
        self.bias = nnx.Param(jnp.zeros((d_out,), config.param_dtype)) if bias else None
        self.dtype = config.dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jnp.einsum("...i,io->...o", x.astype(self.dtype), self.kernel[...].astype(self.dtype))
        if self.bias is not None:
            y = y + jnp.reshape(self.bias[...].astype(self.dtype), (1,) * (y.ndim - 1) + (-1,))
        return y


class Norm(nnx.Module):
    """LayerNorm or RMSNorm over the last axis, computed in float32."""

    def __init__(self, config: TransformerConfig):
        d = config.d_model
        self.kind = config.norm
        self.eps = config.norm_eps
        self.dtype = config.dtype
        self.scale = nnx.Param(jnp.ones((d,), config.param_dtype))
        use_bias = config.norm == "layernorm" and config.norm_bias
        self.bias = nnx.Param(jnp.zeros((d,), config.param_dtype)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        if self.kind == "layernorm":
            mean = jnp.mean(x32, axis=-1, keepdims=True)
            var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
            y = (x32 - mean) * jax.lax.rsqrt(var + self.eps)
        else:
            y = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + self.eps)
        shape = (1,) * (y.ndim - 1) + (-1,)
        y = y * jnp.reshape(self.scale[...].astype(jnp.float32), shape)
        if self.bias is not None:
            y = y + jnp.reshape(self.bias[...].astype(jnp.float32), shape)
        return y.astype(self.dtype)


def _rotate(x_bthd: jax.Array, cos_bth: jax.Array, sin_bth: jax.Array) -> jax.Array:
    """Half-split rotary embedding (the Llama / Hugging Face convention)."""
    half = x_bthd.shape[-1] // 2
    x32 = x_bthd.astype(jnp.float32)
    x1, x2 = x32[..., :half], x32[..., half:]
    cos = cos_bth[:, :, None, :]
    sin = sin_bth[:, :, None, :]
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x_bthd.dtype)


def _rows(x_bt_, index_bq: jax.Array) -> jax.Array:
    """``x[i, index[i, j]]`` along the time axis (axis 1), keeping the trailing axes."""
    index = jnp.reshape(index_bq, index_bq.shape + (1,) * (x_bt_.ndim - 2))
    return jnp.take_along_axis(x_bt_, index, axis=1)


class Attention(nnx.Module):
    """Causal multi-head attention with grouped key/value heads."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        d, hd = config.d_model, config.head_size
        self.n_heads, self.n_kv_heads, self.head_size = config.n_heads, config.n_kv_heads, hd
        self.rotary = config.positions == "rotary"
        self.dtype = config.dtype
        std, out_std = config.init_std, config.init_std / math.sqrt(2 * config.n_layers)
        kw = dict(bias=config.attn_bias, config=config, rngs=rngs)
        self.q = Linear(d, config.n_heads * hd, std=std, **kw)
        self.k = Linear(d, config.n_kv_heads * hd, std=std, **kw)
        self.v = Linear(d, config.n_kv_heads * hd, std=std, **kw)
        self.o = Linear(config.n_heads * hd, d, std=out_std, **kw)

    def __call__(
        self,
        x_btd: jax.Array,
        cos_bth: jax.Array,
        sin_bth: jax.Array,
        allowed_btt: jax.Array,
        query_bq: jax.Array | None = None,
    ) -> jax.Array:
        """Attention output at every position, or only at the positions ``query_bq`` (b, q) when given.

        Keys and values always cover every position; restricting the queries
        (e.g. to the last token) skips the query, output and MLP work elsewhere.
        """
        b, t, _ = x_btd.shape
        kv, g, hd = self.n_kv_heads, self.n_heads // self.n_kv_heads, self.head_size
        x_bqd, cos_bqh, sin_bqh, allowed_bqt = x_btd, cos_bth, sin_bth, allowed_btt
        if query_bq is not None:
            x_bqd = _rows(x_btd, query_bq)
            allowed_bqt = _rows(allowed_btt, query_bq)
            if self.rotary:
                cos_bqh, sin_bqh = _rows(cos_bth, query_bq), _rows(sin_bth, query_bq)
        nq = x_bqd.shape[1]
        q = self.q(x_bqd).reshape(b, nq, self.n_heads, hd)
        k = self.k(x_btd).reshape(b, t, kv, hd)
        v = self.v(x_btd).reshape(b, t, kv, hd)
        if self.rotary:
            q = _rotate(q, cos_bqh, sin_bqh)
            k = _rotate(k, cos_bth, sin_bth)
        q = q.reshape(b, nq, kv, g, hd)
        scores = jnp.einsum("btkgh,bskh->bkgts", q, k, preferred_element_type=jnp.float32) / math.sqrt(hd)
        scores = jnp.where(allowed_bqt[:, None, None, :, :], scores, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(scores, axis=-1).astype(self.dtype)
        out = jnp.einsum("bkgts,bskh->btkgh", probs, v).reshape(b, nq, self.n_heads * hd)
        return self.o(out)


class MLP(nnx.Module):
    """GELU MLP (``fc_out(gelu(fc_in x))``) or SwiGLU (``down(silu(gate x) * up x)``)."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        d, f = config.d_model, config.d_ff
        self.kind = config.mlp
        self.gelu_approximate = config.gelu_approximate
        std, out_std = config.init_std, config.init_std / math.sqrt(2 * config.n_layers)
        kw = dict(bias=config.mlp_bias, config=config, rngs=rngs)
        if config.mlp == "gelu":
            self.fc_in = Linear(d, f, std=std, **kw)
            self.fc_out = Linear(f, d, std=out_std, **kw)
        else:
            self.gate = Linear(d, f, std=std, **kw)
            self.up = Linear(d, f, std=std, **kw)
            self.down = Linear(f, d, std=out_std, **kw)

    def __call__(self, x_btd: jax.Array) -> jax.Array:
        if self.kind == "gelu":
            return self.fc_out(jax.nn.gelu(self.fc_in(x_btd), approximate=self.gelu_approximate))
        return self.down(jax.nn.silu(self.gate(x_btd)) * self.up(x_btd))


class Block(nnx.Module):
    """Pre-norm block: ``x + attn(norm1 x)``, then ``+ mlp(norm2 x)``."""

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        self.norm1 = Norm(config)
        self.attn = Attention(config, rngs=rngs)
        self.norm2 = Norm(config)
        self.mlp = MLP(config, rngs=rngs)

    def __call__(
        self,
        x_btd: jax.Array,
        cos_bth: jax.Array,
        sin_bth: jax.Array,
        allowed_btt: jax.Array,
        query_bq: jax.Array | None = None,
    ) -> jax.Array:
        """The block's output at every position, or (b, q, d) at the positions ``query_bq`` only."""
        x_bqd = x_btd if query_bq is None else _rows(x_btd, query_bq)
        x_bqd = x_bqd + self.attn(self.norm1(x_btd), cos_bth, sin_bth, allowed_btt, query_bq)
        return x_bqd + self.mlp(self.norm2(x_bqd))


class Transformer(nnx.Module):
    """Decoder-only transformer (GPT-2 or Llama style, see :class:`TransformerConfig`).

    ``model(tokens_bt, mask_bt=...)`` returns next-token logits ``z = U h (+ b)``
    at every position (docs/theory.md#setting); ``h`` is the final-normed residual
    stream. ``mask_bt`` (1 = token, 0 = padding) may pad on either side:
    positions are counted from the mask, and padded keys are never attended to.
    Logits at padded positions are finite but meaningless. For activations,
    steering and ``jax.jit``/``jax.vmap``, use the pure :func:`forward`.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> model = Transformer(cfg, rngs=nnx.Rngs(0))
    >>> model(jnp.array([[1, 2, 3]])).shape
    (1, 3, 11)
    """

    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs):
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"Transformer: config must be a TransformerConfig, got {type(config).__name__}.")
        self.config = config
        v, d = config.vocab_size, config.d_model
        self.token_embed_vd = nnx.Param(_normal(rngs, (v, d), config.init_std, config.param_dtype))
        if config.positions == "learned":
            self.pos_embed_td = nnx.Param(_normal(rngs, (config.max_len, d), config.init_std, config.param_dtype))
        else:
            self.pos_embed_td = None
        self.blocks = nnx.List([Block(config, rngs=rngs) for _ in range(config.n_layers)])
        self.final_norm = Norm(config)
        if config.tie_embeddings:
            self.unembed_vd = None
        else:
            self.unembed_vd = nnx.Param(_normal(rngs, (v, d), config.init_std, config.param_dtype))
        self.unembed_bias_v = nnx.Param(jnp.zeros((v,), config.param_dtype)) if config.unembed_bias else None

    def unembedding(self) -> tuple[jax.Array, jax.Array | None]:
        """The unembedding ``U`` (rows ``u_t``, shape (V, d)) and its bias ``b`` (or None).

        >>> from flax import nnx
        >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
        >>> u_vd, b_v = Transformer(cfg, rngs=nnx.Rngs(0)).unembedding()
        >>> u_vd.shape, b_v
        ((11, 8), None)
        """
        u = self.token_embed_vd[...] if self.unembed_vd is None else self.unembed_vd[...]
        b = None if self.unembed_bias_v is None else self.unembed_bias_v[...]
        return u, b

    def __call__(self, tokens_bt: jax.Array, *, mask_bt: jax.Array | None = None) -> jax.Array:
        return forward_module(self, tokens_bt, mask_bt=mask_bt).logits_btv
