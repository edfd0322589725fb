"""A BERT-style encoder (post-LayerNorm transformer) in Flax NNX, with steering.

The architecture is the one of BERT and of sentence-transformers' MiniLM-L6
(``all-MiniLM-L6-v2``): word-piece + absolute position + segment embeddings, a
LayerNorm, then ``n_layers`` post-LN blocks ``x <- LN(x + Attn(x))``,
``x <- LN(x + FFN(x))`` with an exact (erf) GELU. Padded positions are masked
out of every attention softmax exactly (their keys get the most negative finite
score), so the states of real tokens do not depend on how much padding a batch
carries.

Steering (docs/theory.md#setting, "representation engineering") uses the package's
``Steering`` (built by ``make_steering(config, v, layers, c)``): ``c·v`` is added to
the residual stream after every block ``l`` in the layer set ``S`` (0-based,
``l < n_layers``), at every non-pad position (intersected with the steering's
position mask, if any). Slot ``l = n_layers`` is the final representation
``h(q)``: the mean over real tokens of the last block's states, L2-normalised;
steering there gives ``h_c = h + c·v`` exactly (no renormalisation), the
"final-layer steering" special case. Steering after the last block
(``l = n_layers − 1``) moves the pooled mean by exactly ``c·v`` before the
normalisation.
"""

from __future__ import annotations

from steerbounds.theory import check_array, is_concrete

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._forward import Steering, _check_steering

_SUPPORTED_DTYPES = ("float32", "float64", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Shape and numerics of a BERT-style encoder.

    Named presets: ``EncoderConfig.minilm_l6()`` (all-MiniLM-L6-v2) and
    ``EncoderConfig.tiny()`` (a small random model for examples and tests);
    ``EncoderConfig.from_hf_config`` reads a Hugging Face ``config.json`` mapping.

    >>> cfg = EncoderConfig.minilm_l6()
    >>> cfg.d_model, cfg.n_layers, cfg.head_size
    (384, 6, 32)
    """

    vocab_size: int  # rows of the word-piece embedding table
    d_model: int  # width of the residual stream (d)
    n_layers: int  # number of transformer blocks (l)
    n_heads: int  # attention heads per block; must divide d_model
    d_ff: int  # width of the feed-forward hidden layer
    max_len: int  # learned absolute positions (longest input, special tokens included)
    type_vocab_size: int = 2  # segment embeddings; single sentences use segment 0
    norm_eps: float = 1e-12  # epsilon inside every LayerNorm
    pad_id: int = 0  # token id used for padding
    dtype: str = "float32"  # parameter and compute dtype, whatever jax_enable_x64 says

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "max_len", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EncoderConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"EncoderConfig.d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                "choose n_heads dividing d_model"
            )
        if not (isinstance(self.norm_eps, float) and 0.0 < self.norm_eps < 1.0):
            raise ValueError(f"EncoderConfig.norm_eps must be a float in (0, 1), got {self.norm_eps!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"EncoderConfig.pad_id={self.pad_id} is outside the vocabulary [0, {self.vocab_size})")
        if self.dtype not in _SUPPORTED_DTYPES:
            raise ValueError(f"EncoderConfig.dtype must be one of {_SUPPORTED_DTYPES}, got {self.dtype!r}")

    @property
    def head_size(self) -> int:
        """Width of one attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads

    @property
    def jnp_dtype(self) -> jnp.dtype:
        """The config dtype as a ``jnp.dtype``."""
        return jnp.dtype(self.dtype)

    @classmethod
    def minilm_l6(cls) -> EncoderConfig:
        """all-MiniLM-L6-v2: 6 blocks, width 384, 12 heads, uncased 30522-piece vocabulary."""
        return cls(vocab_size=30522, d_model=384, n_layers=6, n_heads=12, d_ff=1536, max_len=512)

    @classmethod
    def tiny(cls) -> EncoderConfig:
        """A 2-block, width-16 encoder with a 64-piece vocabulary, for examples and tests."""
        return cls(vocab_size=64, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_len=32)

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any], *, source: str = "config.json") -> EncoderConfig:
        """Read a Hugging Face BERT ``config.json`` mapping; ``source`` names it in errors."""
        if not isinstance(config, Mapping):
            raise ValueError(f"{source}: expected a JSON object, got {type(config).__name__}")
        checks = {"hidden_act": "gelu", "position_embedding_type": "absolute"}
        for key, wanted in checks.items():
            if config.get(key, wanted) != wanted:
                raise ValueError(
                    f"{source}: {key}={config[key]!r} is not supported (this encoder implements {key}={wanted!r})"
                )
        if config.get("model_type", "bert") != "bert":
            raise ValueError(f"{source}: model_type={config['model_type']!r}; only BERT-style encoders load here")
        fields = {
            "vocab_size": "vocab_size",
            "d_model": "hidden_size",
            "n_layers": "num_hidden_layers",
            "n_heads": "num_attention_heads",
            "d_ff": "intermediate_size",
            "max_len": "max_position_embeddings",
        }
        missing = [key for key in fields.values() if key not in config]
        if missing:
            raise ValueError(f"{source}: missing required key(s) {missing}; is this a BERT config.json?")
        kwargs: dict[str, Any] = {name: config[key] for name, key in fields.items()}
        kwargs["type_vocab_size"] = config.get("type_vocab_size", 2)
        kwargs["norm_eps"] = float(config.get("layer_norm_eps", 1e-12))
        kwargs["pad_id"] = config.get("pad_token_id", 0)
        try:
            return cls(**kwargs)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    def to_hf_config(self) -> dict[str, Any]:
        """The Hugging Face ``config.json`` mapping of this config (inverse of ``from_hf_config``)."""
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_act": "gelu",
            "position_embedding_type": "absolute",
            "vocab_size": self.vocab_size,
            "hidden_size": self.d_model,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "intermediate_size": self.d_ff,
            "max_position_embeddings": self.max_len,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.norm_eps,
            "pad_token_id": self.pad_id,
        }


class EncoderOutput(NamedTuple):
    """What the encoder computes for a padded batch.

    ``embedded_btd``: the embedding LayerNorm output (input of block 0);
    ``hidden_lbtd[i]``: the residual stream after block ``i`` (steering included);
    ``states_btd``: the final token states, equal to ``hidden_lbtd[-1]``;
    ``h_bd``: the final representation (mean-pooled, L2-normalised ``states_btd``,
    plus any steering at slot ``n_layers``); ``mask_bt``: True at real tokens.
    Token states at pad positions are not meaningful.

    >>> EncoderOutput._fields
    ('embedded_btd', 'hidden_lbtd', 'states_btd', 'h_bd', 'mask_bt')
    """

    embedded_btd: jax.Array  # embedding LayerNorm output (b, t, d)
    hidden_lbtd: jax.Array  # residual stream after each block (n_layers, b, t, d)
    states_btd: jax.Array  # final token states (b, t, d)
    h_bd: jax.Array  # final representation h(q) (b, d)
    mask_bt: jax.Array  # True at real tokens (b, t)


def _param(rngs: nnx.Rngs, shape: tuple[int, ...], dtype: jnp.dtype, *, std: float = 0.02) -> nnx.Param:
    return nnx.Param((std * jax.random.normal(rngs.params(), shape, jnp.float32)).astype(dtype))


class _LayerNorm(nnx.Module):
    def __init__(self, d: int, eps: float, dtype: jnp.dtype, stack: tuple[int, ...] = ()):
        self.scale_d = nnx.Param(jnp.ones((*stack, d), dtype))
        self.bias_d = nnx.Param(jnp.zeros((*stack, d), dtype))
        self.eps = eps

    def __call__(self, x_btd: jax.Array) -> jax.Array:
        mean_bt1 = jnp.mean(x_btd, axis=-1, keepdims=True)
        centred_btd = x_btd - mean_bt1
        var_bt1 = jnp.mean(centred_btd * centred_btd, axis=-1, keepdims=True)
        normed_btd = centred_btd * jax.lax.rsqrt(var_bt1 + jnp.asarray(self.eps, x_btd.dtype))
        return normed_btd * self.scale_d[...][None, None, :] + self.bias_d[...][None, None, :]


class _Embeddings(nnx.Module):
    def __init__(self, cfg: EncoderConfig, rngs: nnx.Rngs):
        dt = cfg.jnp_dtype
        self.word_vd = _param(rngs, (cfg.vocab_size, cfg.d_model), dt)
        self.position_pd = _param(rngs, (cfg.max_len, cfg.d_model), dt)
        self.segment_sd = _param(rngs, (cfg.type_vocab_size, cfg.d_model), dt)
        self.norm = _LayerNorm(cfg.d_model, cfg.norm_eps, dt)

    def __call__(self, ids_bt: jax.Array) -> jax.Array:
        t = ids_bt.shape[1]
        x_btd = jnp.take(self.word_vd[...], ids_bt, axis=0)
        x_btd = x_btd + self.position_pd[...][None, :t, :] + self.segment_sd[...][None, None, 0, :]
        return self.norm(x_btd)


class _Block(nnx.Module):
    """One post-LN block. Built with ``stack=(L,)`` every parameter gets a leading
    layer axis (the shape suffixes name one block's axes); the forward scans over
    that axis, merging one slice at a time into a single-block view."""

    def __init__(self, cfg: EncoderConfig, rngs: nnx.Rngs, stack: tuple[int, ...] = ()):
        dt, d, n, h, f = cfg.jnp_dtype, cfg.d_model, cfg.n_heads, cfg.head_size, cfg.d_ff
        self.q_dnh, self.k_dnh, self.v_dnh = (_param(rngs, (*stack, d, n, h), dt) for _ in range(3))
        self.q_bias_nh, self.k_bias_nh, self.v_bias_nh = (
            nnx.Param(jnp.zeros((*stack, n, h), dt)) for _ in range(3)
        )
        self.o_nhd = _param(rngs, (*stack, n, h, d), dt)
        self.o_bias_d = nnx.Param(jnp.zeros((*stack, d), dt))
        self.attn_norm = _LayerNorm(d, cfg.norm_eps, dt, stack)
        self.ff_in_df = _param(rngs, (*stack, d, f), dt)
        self.ff_in_bias_f = nnx.Param(jnp.zeros((*stack, f), dt))
        self.ff_out_fd = _param(rngs, (*stack, f, d), dt)
        self.ff_out_bias_d = nnx.Param(jnp.zeros((*stack, d), dt))
        self.ff_norm = _LayerNorm(d, cfg.norm_eps, dt, stack)
        self.scale = 1.0 / math.sqrt(h)

    def __call__(self, x_btd: jax.Array, mask_bt: jax.Array) -> jax.Array:
        q_btnh = jnp.einsum("btd,dnh->btnh", x_btd, self.q_dnh[...]) + self.q_bias_nh[...][None, None]
        k_btnh = jnp.einsum("btd,dnh->btnh", x_btd, self.k_dnh[...]) + self.k_bias_nh[...][None, None]
        v_btnh = jnp.einsum("btd,dnh->btnh", x_btd, self.v_dnh[...]) + self.v_bias_nh[...][None, None]
        scores_bnst = jnp.einsum("bsnh,btnh->bnst", q_btnh, k_btnh) * jnp.asarray(self.scale, x_btd.dtype)
        # Exact masking: pad keys get the most negative finite score, so exp() of
        # them underflows to exactly 0 next to any real key.
        keep_b11t = mask_bt[:, None, None, :]
        scores_bnst = jnp.where(keep_b11t, scores_bnst, jnp.finfo(x_btd.dtype).min)
        probs_bnst = jax.nn.softmax(scores_bnst, axis=-1)
        attn_bsnh = jnp.einsum("bnst,btnh->bsnh", probs_bnst, v_btnh)
        attn_btd = jnp.einsum("btnh,nhd->btd", attn_bsnh, self.o_nhd[...]) + self.o_bias_d[...][None, None, :]
        x_btd = self.attn_norm(x_btd + attn_btd)
        ff_btf = jnp.einsum("btd,df->btf", x_btd, self.ff_in_df[...]) + self.ff_in_bias_f[...][None, None, :]
        ff_btf = jax.nn.gelu(ff_btf, approximate=False)
        ff_btd = jnp.einsum("btf,fd->btd", ff_btf, self.ff_out_fd[...]) + self.ff_out_bias_d[...][None, None, :]
        return self.ff_norm(x_btd + ff_btd)


def _steer(x: jax.Array, steering: Steering | None, slot: int, where: jax.Array) -> jax.Array:
    """``x + c·1[slot ∈ S]·v_slot`` where ``where`` is 1 (``where`` has x's shape without the last axis)."""
    if steering is None:
        return x
    amount = jnp.asarray(steering.coefficient, jnp.float32) * steering.layer_mask_l[slot]
    vec = jnp.reshape(steering.vectors_ld[slot].astype(jnp.float32), (1,) * (x.ndim - 1) + (-1,))
    return x + (amount * where.astype(jnp.float32)[..., None] * vec).astype(x.dtype)


class Encoder(nnx.Module):
    """A BERT-style post-LayerNorm encoder whose call returns every block's states.

    ``Encoder(cfg, rngs=...)`` initialises random weights (normal, std 0.02; unit
    LayerNorm scales); ``load_encoder_model`` fills one from a checkpoint folder.
    ``blocks`` holds the parameters of all blocks stacked along a leading layer
    axis, and the forward pass runs them with one ``jax.lax.scan`` (one block is
    compiled, not ``n_layers`` copies).
    Calling it on ``ids_bt`` (int) and ``mask_bt`` (True at real tokens) with an
    optional ``Steering`` returns an ``EncoderOutput``; ``encoder_forward`` is the
    pure ``(graphdef, state, ...)`` form for ``jax.jit``/``jax.vmap``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> model = Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0))
    >>> out = model(jnp.array([[1, 5, 7, 0]]), jnp.array([[True, True, True, False]]))
    >>> out.hidden_lbtd.shape, out.states_btd.dtype
    ((2, 1, 4, 16), dtype('float32'))
    """

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.embeddings = _Embeddings(config, rngs)
        self.blocks = _Block(config, rngs, stack=(config.n_layers,))

    def __call__(self, ids_bt: jax.Array, mask_bt: jax.Array, steering: Steering | None = None) -> EncoderOutput:
        cfg = self.config
        dt = cfg.jnp_dtype
        ids_bt = jnp.asarray(ids_bt)
        mask_bt = jnp.asarray(mask_bt)
        if ids_bt.ndim != 2 or mask_bt.shape != ids_bt.shape:
            raise ValueError(
                f"ids_bt and mask_bt must be 2-D arrays of the same shape (batch, time); "
                f"got ids_bt {ids_bt.shape} and mask_bt {mask_bt.shape}"
            )
        if ids_bt.shape[1] > cfg.max_len:
            raise ValueError(
                f"ids_bt has {ids_bt.shape[1]} positions but the encoder has only {cfg.max_len}; "
                "shorten or split the inputs"
            )
        if not jnp.issubdtype(ids_bt.dtype, jnp.integer):
            raise ValueError(f"ids_bt must hold integer token ids, got dtype {ids_bt.dtype}")
        mask_bt = mask_bt.astype(bool)
        _check_steering(cfg, steering, ids_bt.shape, where="Encoder")
        where_bt = mask_bt
        if steering is not None and steering.position_mask_bt is not None:
            where_bt = mask_bt & jnp.asarray(steering.position_mask_bt).astype(bool)
        embedded_btd = self.embeddings(ids_bt)
        block_graphdef, block_state = nnx.split(self.blocks)
        if steering is None:
            xs = (block_state, None, None)
        else:
            n = cfg.n_layers
            amount_l = jnp.asarray(steering.coefficient, jnp.float32) * steering.layer_mask_l[:n]
            xs = (block_state, amount_l, steering.vectors_ld[:n].astype(jnp.float32))
        push_bt1 = where_bt.astype(jnp.float32)[:, :, None]

        def step(x_btd, xs_i):
            state_i, amount, vector_d = xs_i
            x_btd = nnx.merge(block_graphdef, state_i)(x_btd, mask_bt)
            if amount is not None:
                x_btd = x_btd + (amount * push_bt1 * vector_d[None, None, :]).astype(x_btd.dtype)
            return x_btd, x_btd

        x_btd, hidden_lbtd = jax.lax.scan(step, embedded_btd, xs)
        h_bd = l2_normalize(mean_pool(x_btd, mask_bt))
        h_bd = _steer(h_bd, steering, cfg.n_layers, jnp.ones(h_bd.shape[:1], bool))
        return EncoderOutput(embedded_btd, hidden_lbtd, x_btd, h_bd, mask_bt)


def encoder_forward(
    graphdef: nnx.GraphDef, state: nnx.State, ids_bt: jax.Array, mask_bt: jax.Array, steering: Steering | None = None
) -> EncoderOutput:
    """Pure forward pass ``(graphdef, state, ids_bt, mask_bt, steering) -> EncoderOutput``.

    ``graphdef, state = nnx.split(model)``; ``graphdef`` is hashable, so pass it
    as a static argument under ``jax.jit``. ``steering`` comes from
    ``make_steering(model.config, v, layers, c)``; being a pytree it can be vmapped
    over its ``coefficient``.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        ids_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering`.

    Returns:
        :class:`EncoderOutput` with token states (b, t, d) and sentence embeddings ``h_bd`` (b, d).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> graphdef, state = nnx.split(Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0)))
    >>> fwd = jax.jit(encoder_forward, static_argnums=0)
    >>> out = fwd(graphdef, state, jnp.array([[1, 2, 3]]), jnp.array([[True, True, True]]))
    >>> out.states_btd.shape
    (1, 3, 16)
    """
    return nnx.merge(graphdef, state)(ids_bt, mask_bt, steering)


def mean_pool(states_btd: jax.Array, mask_bt: jax.Array) -> jax.Array:
    """Mean of the token states over real (unmasked) positions: ``Σ_t m_t x_t / Σ_t m_t``.

    Every row must hold at least one real token.

    Args:
        states_btd: token states, shape (b, t, d).
        mask_bt: 1 on tokens, shape (b, t).

    Returns:
        pooled states, shape (b, d).

    >>> import jax.numpy as jnp
    >>> mean_pool(jnp.array([[[1.0], [3.0], [100.0]]]), jnp.array([[True, True, False]])).tolist()
    [[2.0]]
    """
    states_btd = check_array("mean_pool", "states_btd", states_btd, ndim=3)
    if getattr(mask_bt, "dtype", None) == bool:  # a boolean mask is a 0/1 mask
        mask_bt = jnp.asarray(mask_bt, states_btd.dtype)
    mask_bt = check_array("mean_pool", "mask_bt", mask_bt, ndim=2)
    if mask_bt.shape != states_btd.shape[:2]:
        raise ValueError(f"mean_pool: mask_bt has shape {mask_bt.shape}, expected {states_btd.shape[:2]} (the batch and "
                         "token axes of states_btd)")
    if is_concrete(mask_bt) and not bool(np.all(np.asarray(mask_bt).sum(axis=1) > 0)):
        raise ValueError("mean_pool: a row of mask_bt holds no real token; every row needs at least one")
    weight_bt = jnp.asarray(mask_bt).astype(states_btd.dtype)
    total_bd = jnp.einsum("btd,bt->bd", states_btd, weight_bt)
    count_b1 = jnp.sum(weight_bt, axis=1, keepdims=True)
    return total_bd / count_b1


def l2_normalize(x_bd: jax.Array) -> jax.Array:
    """Rows scaled to unit Euclidean norm (norms below 1e-12 are treated as 1e-12, as in torch).

    Args:
        x_bd: rows, shape (..., d).

    Returns:
        unit-norm rows, same shape.

    >>> import jax.numpy as jnp
    >>> l2_normalize(jnp.array([[0.0, 2.0], [-4.0, 0.0]])).tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    """
    x_bd = check_array("l2_normalize", "x_bd", x_bd)
    norm_b1 = jnp.sqrt(jnp.sum(x_bd * x_bd, axis=-1, keepdims=True))
    return x_bd / jnp.maximum(norm_b1, jnp.asarray(1e-12, x_bd.dtype))


def sentence_embeddings(
    graphdef: nnx.GraphDef, state: nnx.State, ids_bt: jax.Array, mask_bt: jax.Array, steering: Steering | None = None
) -> jax.Array:
    """The final representation ``h(q)``: mean-pooled final token states, L2-normalised.

    This is what sentence-transformers' all-MiniLM-L6-v2 returns (Transformer,
    mean Pooling, Normalize) and the ``h`` of docs/theory.md#setting for the encoder readout
    (``EncoderOutput.h_bd``; steering at slot ``n_layers`` is added after the
    normalisation).

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        ids_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering`.

    Returns:
        ``h_bd``, shape (b, d), unit norm.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> graphdef, state = nnx.split(Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0)))
    >>> h_bd = sentence_embeddings(graphdef, state, jnp.array([[1, 2, 0]]), jnp.array([[True, True, False]]))
    >>> round(float(jnp.linalg.norm(h_bd[0])), 5)
    1.0
    """
    return encoder_forward(graphdef, state, ids_bt, mask_bt, steering).h_bd


def _steered_embeddings_impl(graphdef, state, ids_bt, mask_bt, steering, coefficients_c):
    def one(c):
        return sentence_embeddings(graphdef, state, ids_bt, mask_bt, steering._replace(coefficient=c))

    return jax.vmap(one)(coefficients_c)


_steered_embeddings_jit = jax.jit(_steered_embeddings_impl, static_argnums=0)


def _check_coefficients(coefficients_c) -> jax.Array:
    """A non-empty 1-D array of finite coefficients as float32 (raises ``ValueError`` otherwise)."""
    coefficients = np.asarray(coefficients_c, dtype=np.float64)
    if coefficients.ndim != 1 or coefficients.size == 0:
        raise ValueError(f"coefficients_c must be a non-empty 1-D sequence, got shape {coefficients.shape}")
    if not np.all(np.isfinite(coefficients)):
        raise ValueError("coefficients_c contains NaN or inf")
    return jnp.asarray(coefficients, jnp.float32)


def steered_embeddings(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    ids_bt: jax.Array,
    mask_bt: jax.Array,
    steering: Steering,
    coefficients_c: Sequence[float] | jax.Array,
) -> jax.Array:
    """Sentence embeddings ``h_c(q)`` for a sweep of coefficients, jitted and vmapped over ``c``.

    ``steering`` fixes ``v`` and the layer set (its own coefficient is ignored);
    returns ``emb_cbd`` with ``emb_cbd[j] = sentence_embeddings(..., steering with c_j)``.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        ids_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steering: fixes v and the layers.
        coefficients_c: coefficients, shape (c,).

    Returns:
        ``emb_cbd``, shape (c, b, d).

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import make_steering
    >>> cfg = EncoderConfig.tiny()
    >>> graphdef, state = nnx.split(Encoder(cfg, rngs=nnx.Rngs(0)))
    >>> s = make_steering(cfg, jnp.eye(16)[0], layers=[0])
    >>> emb = steered_embeddings(graphdef, state, jnp.array([[1, 2]]), jnp.array([[True, True]]), s, [-1.0, 0.0, 1.0])
    >>> emb.shape
    (3, 1, 16)
    """
    ids_bt, mask_bt = jnp.asarray(ids_bt), jnp.asarray(mask_bt)
    _check_steering(nnx.merge(graphdef, state).config, steering, ids_bt.shape, where="steered_embeddings")
    return _steered_embeddings_jit(graphdef, state, ids_bt, mask_bt, steering, _check_coefficients(coefficients_c))
