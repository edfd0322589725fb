"""A BERT-style encoder (post-LayerNorm transformer) in Flax NNX, with steering.

The architecture is the one of BERT and of sentence-transformers' MiniLM-L6
(``all-MiniLM-L6-v2``): word-piece + absolute position + segment embeddings, a
LayerNorm, then ``num_layers`` post-LN blocks ``x <- LN(x + Attn(x))``,
``x <- LN(x + FFN(x))`` with an exact (erf) GELU. Padded positions are masked
out of every attention softmax exactly (their keys get the most negative finite
score), so the states of real tokens do not depend on how much padding a batch
carries.

Steering (THEORY.md §1, "representation engineering"): a unit vector ``v`` is
added, times a coefficient ``c``, to the residual stream after every block whose
0-based index is in a layer set ``S``, at every non-pad position. The encoder's
final representation ``h(q)`` is the mean over real tokens of the last block's
states, L2-normalised (see ``sentence_embeddings``); so final-block steering moves
the pooled mean by exactly ``c·v`` before the normalisation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_SUPPORTED_DTYPES = ("float32", "float64", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Shape and numerics of a BERT-style encoder.

    Named presets: ``EncoderConfig.minilm_l6()`` (all-MiniLM-L6-v2) and
    ``EncoderConfig.tiny()`` (a small random model for examples and tests);
    ``EncoderConfig.from_hf_config`` reads a Hugging Face ``config.json`` mapping.

    >>> cfg = EncoderConfig.minilm_l6()
    >>> cfg.d_model, cfg.num_layers, cfg.head_dim
    (384, 6, 32)
    """

    vocab_size: int  # rows of the word-piece embedding table
    d_model: int  # width of the residual stream (d)
    num_layers: int  # number of transformer blocks (l)
    num_heads: int  # attention heads per block; must divide d_model
    d_ff: int  # width of the feed-forward hidden layer
    max_positions: int  # learned absolute positions (longest input, special tokens included)
    type_vocab_size: int = 2  # segment embeddings; single sentences use segment 0
    layer_norm_eps: float = 1e-12  # epsilon inside every LayerNorm
    pad_id: int = 0  # token id used for padding
    dtype: str = "float32"  # parameter and compute dtype, whatever jax_enable_x64 says

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "num_layers", "num_heads", "d_ff", "max_positions", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EncoderConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"EncoderConfig.d_model={self.d_model} is not divisible by num_heads={self.num_heads}; "
                "choose num_heads dividing d_model"
            )
        if not (isinstance(self.layer_norm_eps, float) and 0.0 < self.layer_norm_eps < 1.0):
            raise ValueError(f"EncoderConfig.layer_norm_eps must be a float in (0, 1), got {self.layer_norm_eps!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"EncoderConfig.pad_id={self.pad_id} is outside the vocabulary [0, {self.vocab_size})")
        if self.dtype not in _SUPPORTED_DTYPES:
            raise ValueError(f"EncoderConfig.dtype must be one of {_SUPPORTED_DTYPES}, got {self.dtype!r}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head, ``d_model // num_heads``."""
        return self.d_model // self.num_heads

    @property
    def jnp_dtype(self) -> jnp.dtype:
        """The config dtype as a ``jnp.dtype``."""
        return jnp.dtype(self.dtype)

    @classmethod
    def minilm_l6(cls) -> EncoderConfig:
        """all-MiniLM-L6-v2: 6 blocks, width 384, 12 heads, uncased 30522-piece vocabulary."""
        return cls(vocab_size=30522, d_model=384, num_layers=6, num_heads=12, d_ff=1536, max_positions=512)

    @classmethod
    def tiny(cls) -> EncoderConfig:
        """A 2-block, width-16 encoder with a 64-piece vocabulary, for examples and tests."""
        return cls(vocab_size=64, d_model=16, num_layers=2, num_heads=2, d_ff=32, max_positions=32)

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
            "num_layers": "num_hidden_layers",
            "num_heads": "num_attention_heads",
            "d_ff": "intermediate_size",
            "max_positions": "max_position_embeddings",
        }
        missing = [key for key in fields.values() if key not in config]
        if missing:
            raise ValueError(f"{source}: missing required key(s) {missing}; is this a BERT config.json?")
        kwargs: dict[str, Any] = {name: config[key] for name, key in fields.items()}
        kwargs["type_vocab_size"] = config.get("type_vocab_size", 2)
        kwargs["layer_norm_eps"] = float(config.get("layer_norm_eps", 1e-12))
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
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.d_ff,
            "max_position_embeddings": self.max_positions,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps,
            "pad_token_id": self.pad_id,
        }


class Steering(NamedTuple):
    """Add ``coefficient · vector_d`` to the residual stream after each block in ``layers``.

    THEORY.md §1: ``v`` (``vector_d``) must have unit norm; ``layers`` are 0-based
    block indices (a tuple of ints or an int array); ``coefficient`` is the scalar
    ``c`` (a leaf, so ``jax.vmap`` sweeps it). The injection happens at every
    non-pad position, after the block's closing LayerNorm, before the next block.

    >>> import jax.numpy as jnp
    >>> s = Steering(vector_d=jnp.eye(16)[0], layers=(0, 1), coefficient=2.0)
    >>> s.layers
    (0, 1)
    """

    vector_d: jax.Array  # unit steering direction v
    layers: Any  # 0-based indices of the blocks after which c·v is added
    coefficient: Any  # scalar c


class EncoderOutput(NamedTuple):
    """What the encoder computes for a padded batch.

    ``embedded_btd``: the embedding LayerNorm output (input of block 0);
    ``hidden_lbtd[i]``: the residual stream after block ``i`` (steering included);
    ``states_btd``: the final token states, equal to ``hidden_lbtd[-1]``;
    ``mask_bt``: True at real tokens. Rows at pad positions are not meaningful.

    >>> out = EncoderOutput(*(None,) * 4)
    >>> out._fields
    ('embedded_btd', 'hidden_lbtd', 'states_btd', 'mask_bt')
    """

    embedded_btd: jax.Array
    hidden_lbtd: jax.Array
    states_btd: jax.Array
    mask_bt: jax.Array


def _param(rngs: nnx.Rngs, shape: tuple[int, ...], dtype: jnp.dtype, *, std: float = 0.02) -> nnx.Param:
    return nnx.Param((std * jax.random.normal(rngs.params(), shape, jnp.float32)).astype(dtype))


class _LayerNorm(nnx.Module):
    def __init__(self, d: int, eps: float, dtype: jnp.dtype):
        self.scale_d = nnx.Param(jnp.ones((d,), dtype))
        self.bias_d = nnx.Param(jnp.zeros((d,), dtype))
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
        self.position_pd = _param(rngs, (cfg.max_positions, cfg.d_model), dt)
        self.segment_sd = _param(rngs, (cfg.type_vocab_size, cfg.d_model), dt)
        self.norm = _LayerNorm(cfg.d_model, cfg.layer_norm_eps, dt)

    def __call__(self, ids_bt: jax.Array) -> jax.Array:
        t = ids_bt.shape[1]
        x_btd = jnp.take(self.word_vd[...], ids_bt, axis=0)
        x_btd = x_btd + self.position_pd[...][None, :t, :] + self.segment_sd[...][None, None, 0, :]
        return self.norm(x_btd)


class _Block(nnx.Module):
    def __init__(self, cfg: EncoderConfig, rngs: nnx.Rngs):
        dt, d, n, h, f = cfg.jnp_dtype, cfg.d_model, cfg.num_heads, cfg.head_dim, cfg.d_ff
        self.q_dnh, self.k_dnh, self.v_dnh = (_param(rngs, (d, n, h), dt) for _ in range(3))
        self.q_bias_nh, self.k_bias_nh, self.v_bias_nh = (nnx.Param(jnp.zeros((n, h), dt)) for _ in range(3))
        self.o_nhd = _param(rngs, (n, h, d), dt)
        self.o_bias_d = nnx.Param(jnp.zeros((d,), dt))
        self.attn_norm = _LayerNorm(d, cfg.layer_norm_eps, dt)
        self.ff_in_df = _param(rngs, (d, f), dt)
        self.ff_in_bias_f = nnx.Param(jnp.zeros((f,), dt))
        self.ff_out_fd = _param(rngs, (f, d), dt)
        self.ff_out_bias_d = nnx.Param(jnp.zeros((d,), dt))
        self.ff_norm = _LayerNorm(d, cfg.layer_norm_eps, dt)
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


def _layer_weights(steering: Steering, num_layers: int, dtype: jnp.dtype) -> jax.Array:
    """Per-block injection weight ``c·1[i ∈ S]`` (traceable: layers may be a traced int array)."""
    layers = jnp.asarray(steering.layers, dtype=jnp.int32).reshape(-1)
    in_set_l = jnp.zeros((num_layers,), dtype).at[layers].set(1)
    return in_set_l * jnp.asarray(steering.coefficient, dtype)


class Encoder(nnx.Module):
    """A BERT-style post-LayerNorm encoder whose call returns every block's states.

    ``Encoder(cfg, rngs=...)`` initialises random weights (normal, std 0.02; unit
    LayerNorm scales); ``load_encoder_weights`` fills one from a checkpoint folder.
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
        self.blocks = nnx.List([_Block(config, rngs) for _ in range(config.num_layers)])

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
        if ids_bt.shape[1] > cfg.max_positions:
            raise ValueError(
                f"ids_bt has {ids_bt.shape[1]} positions but the encoder has only {cfg.max_positions}; "
                "shorten or split the inputs"
            )
        if not jnp.issubdtype(ids_bt.dtype, jnp.integer):
            raise ValueError(f"ids_bt must hold integer token ids, got dtype {ids_bt.dtype}")
        mask_bt = mask_bt.astype(bool)
        x_btd = self.embeddings(ids_bt)
        embedded_btd = x_btd
        if steering is not None:
            weight_l = _layer_weights(steering, cfg.num_layers, dt)
            push_btd = mask_bt.astype(dt)[:, :, None] * jnp.asarray(steering.vector_d, dt)[None, None, :]
        hidden = []
        for i, block in enumerate(self.blocks):
            x_btd = block(x_btd, mask_bt)
            if steering is not None:
                x_btd = x_btd + weight_l[i] * push_btd
            hidden.append(x_btd)
        return EncoderOutput(embedded_btd, jnp.stack(hidden), x_btd, mask_bt)


def encoder_forward(
    graphdef: nnx.GraphDef, state: nnx.State, ids_bt: jax.Array, mask_bt: jax.Array, steering: Steering | None = None
) -> EncoderOutput:
    """Pure forward pass ``(graphdef, state, ids_bt, mask_bt, steering) -> EncoderOutput``.

    ``graphdef, state = nnx.split(model)``; ``graphdef`` is hashable, so pass it
    as a static argument under ``jax.jit``. Use ``check_steering`` beforehand:
    inside a trace, out-of-range layer indices cannot be detected.

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

    >>> import jax.numpy as jnp
    >>> mean_pool(jnp.array([[[1.0], [3.0], [100.0]]]), jnp.array([[True, True, False]])).tolist()
    [[2.0]]
    """
    weight_bt = jnp.asarray(mask_bt).astype(states_btd.dtype)
    total_bd = jnp.einsum("btd,bt->bd", states_btd, weight_bt)
    count_b1 = jnp.sum(weight_bt, axis=1, keepdims=True)
    return total_bd / count_b1


def l2_normalize(x_bd: jax.Array) -> jax.Array:
    """Rows scaled to unit Euclidean norm (norms below 1e-12 are treated as 1e-12, as in torch).

    >>> import jax.numpy as jnp
    >>> l2_normalize(jnp.array([[0.0, 2.0], [-4.0, 0.0]])).tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    """
    norm_b1 = jnp.sqrt(jnp.sum(x_bd * x_bd, axis=-1, keepdims=True))
    return x_bd / jnp.maximum(norm_b1, jnp.asarray(1e-12, x_bd.dtype))


def sentence_embeddings(
    graphdef: nnx.GraphDef, state: nnx.State, ids_bt: jax.Array, mask_bt: jax.Array, steering: Steering | None = None
) -> jax.Array:
    """The final representation ``h(q)``: mean-pooled final token states, L2-normalised.

    This is what sentence-transformers' all-MiniLM-L6-v2 returns (Transformer,
    mean Pooling, Normalize) and the ``h`` of THEORY.md §1 for the encoder readout.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> graphdef, state = nnx.split(Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0)))
    >>> h_bd = sentence_embeddings(graphdef, state, jnp.array([[1, 2, 0]]), jnp.array([[True, True, False]]))
    >>> round(float(jnp.linalg.norm(h_bd[0])), 5)
    1.0
    """
    out = encoder_forward(graphdef, state, ids_bt, mask_bt, steering)
    return l2_normalize(mean_pool(out.states_btd, out.mask_bt))


def check_steering(steering: Steering, config: EncoderConfig, *, atol: float = 1e-4) -> Steering:
    """Validate a concrete ``Steering`` for ``config`` and return it with array fields.

    Raises ``ValueError`` for a vector of the wrong shape, with NaN/inf, or not of
    unit norm (within ``atol``); for an empty, duplicated or out-of-range layer set;
    and for a non-finite coefficient (a scalar or a 1-D sweep of coefficients).

    >>> import jax.numpy as jnp
    >>> s = check_steering(Steering(jnp.eye(16)[3], [1], 0.5), EncoderConfig.tiny())
    >>> s.layers
    Array([1], dtype=int32)
    """
    vector = np.asarray(steering.vector_d, dtype=np.float64)
    if vector.shape != (config.d_model,):
        raise ValueError(f"steering.vector_d must have shape ({config.d_model},), got {vector.shape}")
    if not np.all(np.isfinite(vector)):
        raise ValueError("steering.vector_d contains NaN or inf")
    norm = float(np.linalg.norm(vector))
    if abs(norm - 1.0) > atol:
        raise ValueError(f"steering.vector_d must have unit norm, got norm {norm:.6g}; pass v / ||v||")
    layers = np.asarray(steering.layers)
    if layers.ndim > 1 or layers.size == 0:
        raise ValueError(f"steering.layers must be a non-empty sequence of block indices, got {steering.layers!r}")
    if not np.issubdtype(layers.dtype, np.integer):
        raise ValueError(f"steering.layers must hold integers, got {steering.layers!r}")
    layers = layers.reshape(-1)
    bad = [int(i) for i in layers if not 0 <= i < config.num_layers]
    if bad:
        raise ValueError(f"steering.layers {bad} are outside the blocks 0..{config.num_layers - 1}")
    if len(set(layers.tolist())) != layers.size:
        raise ValueError(f"steering.layers {layers.tolist()} contains duplicates")
    coefficient = np.asarray(steering.coefficient, dtype=np.float64)
    if coefficient.ndim > 1 or not np.all(np.isfinite(coefficient)):
        raise ValueError(f"steering.coefficient must be a finite scalar (or 1-D sweep), got {steering.coefficient!r}")
    dt = config.jnp_dtype
    return Steering(jnp.asarray(vector, dt), jnp.asarray(layers, jnp.int32), jnp.asarray(coefficient, dt))


def _steered_embeddings_impl(graphdef, state, ids_bt, mask_bt, vector_d, layers, coefficients_c):
    def one(c):
        return sentence_embeddings(graphdef, state, ids_bt, mask_bt, Steering(vector_d, layers, c))

    return jax.vmap(one)(coefficients_c)


_steered_embeddings_jit = jax.jit(_steered_embeddings_impl, static_argnums=0)


def steered_embeddings(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    ids_bt: jax.Array,
    mask_bt: jax.Array,
    *,
    vector_d: jax.Array,
    layers: Sequence[int],
    coefficients_c: Sequence[float] | jax.Array,
) -> jax.Array:
    """Sentence embeddings ``h_c(q)`` for a sweep of coefficients, jitted and vmapped over ``c``.

    Returns ``emb_cbd`` with ``emb_cbd[j] = sentence_embeddings(..., Steering(v, layers, c_j))``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> graphdef, state = nnx.split(Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0)))
    >>> emb = steered_embeddings(graphdef, state, jnp.array([[1, 2]]), jnp.array([[True, True]]),
    ...                          vector_d=jnp.eye(16)[0], layers=(0,), coefficients_c=[-1.0, 0.0, 1.0])
    >>> emb.shape
    (3, 1, 16)
    """
    config: EncoderConfig = nnx.merge(graphdef, state).config
    coefficients = np.asarray(coefficients_c, dtype=np.float64)
    if coefficients.ndim != 1 or coefficients.size == 0:
        raise ValueError(f"coefficients_c must be a non-empty 1-D sequence, got shape {coefficients.shape}")
    steering = check_steering(Steering(vector_d, layers, coefficients), config)
    return _steered_embeddings_jit(
        graphdef, state, jnp.asarray(ids_bt), jnp.asarray(mask_bt), steering.vector_d, steering.layers, steering.coefficient
    )
