"""The transformer configuration: one frozen dataclass with named presets."""

from __future__ import annotations

import numpy as np

import dataclasses
from typing import Literal

_NORMS = ("layernorm", "rmsnorm")
_POSITIONS = ("learned", "rotary")
_MLPS = ("gelu", "swiglu")
_ROPE_SCALINGS = ("none", "linear", "llama3")
_DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Shape and architecture of a decoder-only transformer.

    The model maps tokens to logits ``z = U h (+ b)`` where ``h`` is the final
    representation of docs/theory.md#setting (the input of the unembedding, after
    the final norm). Two families are covered by the presets: GPT-2 style
    (LayerNorm, learned positions, GELU MLP) and Llama style (RMSNorm, rotary
    positions, SwiGLU MLP, grouped-query attention).

    >>> cfg = TransformerConfig.llama_style(vocab_size=32, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2)
    >>> cfg.head_size, cfg.norm, cfg.mlp
    (4, 'rmsnorm', 'swiglu')
    """

    vocab_size: int  # number of tokens |V|
    d_model: int  # residual stream width d
    n_layers: int  # number of transformer blocks
    n_heads: int  # query heads per attention layer
    n_kv_heads: int  # key/value heads (grouped-query attention; = n_heads for plain MHA)
    d_ff: int  # hidden width of the MLP
    max_len: int  # longest sequence (size of the learned position table; rotary: informational)
    head_dim: int | None = None  # width of one head; None means d_model // n_heads
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"  # normalisation before attention, MLP and unembedding
    positions: Literal["learned", "rotary"] = "learned"  # absolute learned table or rotary (RoPE, half-split)
    mlp: Literal["gelu", "swiglu"] = "gelu"  # GELU MLP (2 matrices) or SwiGLU (gate, up, down)
    gelu_approximate: bool = True  # tanh approximation of GELU (GPT-2's "gelu_new"); False: exact erf form
    norm_eps: float = 1e-5  # epsilon inside the norm's square root
    rope_theta: float = 10000.0  # RoPE base wavelength
    rope_scaling: Literal["none", "linear", "llama3"] = "none"  # RoPE frequency rescaling (Llama-3.1 uses llama3)
    rope_factor: float = 1.0  # scaling factor of the linear / llama3 rescaling
    rope_low_freq_factor: float = 1.0  # llama3 rescaling: low-frequency factor
    rope_high_freq_factor: float = 4.0  # llama3 rescaling: high-frequency factor
    rope_original_max_len: int = 8192  # llama3 rescaling: context length the model was trained with
    attn_bias: bool = True  # biases on the q, k, v and output projections
    mlp_bias: bool = True  # biases on the MLP matrices
    norm_bias: bool = True  # LayerNorm has an additive bias (ignored by RMSNorm, which has none)
    unembed_bias: bool = False  # an additive bias b on the logits
    tie_embeddings: bool = True  # unembedding U is the token-embedding matrix
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # compute dtype (softmax and norms run in float32)
    param_dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # storage dtype of the parameters
    init_std: float = 0.02  # standard deviation of the random initialisation

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TransformerConfig.{name} must be a positive int, got {value!r}.")
        for name, allowed in (
            ("norm", _NORMS),
            ("positions", _POSITIONS),
            ("mlp", _MLPS),
            ("rope_scaling", _ROPE_SCALINGS),
            ("dtype", _DTYPES),
            ("param_dtype", _DTYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TransformerConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}.")
        if self.head_dim is None and self.d_model % self.n_heads:
            raise ValueError(
                f"TransformerConfig: d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                "choose n_heads dividing d_model or set head_dim explicitly."
            )
        if self.head_dim is not None and (not isinstance(self.head_dim, int) or self.head_dim < 1):
            raise ValueError(f"TransformerConfig.head_dim must be a positive int or None, got {self.head_dim!r}.")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"TransformerConfig: n_heads={self.n_heads} is not a multiple of n_kv_heads={self.n_kv_heads}; "
                "grouped-query attention needs each key/value head shared by the same number of query heads."
            )
        if self.positions == "rotary" and self.head_size % 2:
            raise ValueError(f"TransformerConfig: rotary positions need an even head size, got {self.head_size}.")
        if not self.norm_eps > 0:
            raise ValueError(f"TransformerConfig.norm_eps must be > 0, got {self.norm_eps!r}.")
        for name in ("init_std", "norm_eps", "rope_theta"):
            value = getattr(self, name, None)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"TransformerConfig.{name} must be a number, got {type(value).__name__}.")
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"TransformerConfig.{name} must be a finite number > 0, got {value!r}.")

    @property
    def head_size(self) -> int:
        """Width of one attention head (``head_dim`` or ``d_model // n_heads``).

        >>> TransformerConfig.gpt2_style(vocab_size=10, d_model=8, n_heads=2).head_size
        4
        """
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    @classmethod
    def gpt2_style(
        cls,
        *,
        vocab_size: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int | None = None,
        max_len: int = 128,
        **overrides,
    ) -> TransformerConfig:
        """GPT-2 blocks: LayerNorm, learned positions, GELU (tanh) MLP, biases, tied unembedding.

        >>> TransformerConfig.gpt2_style(vocab_size=50, d_model=32).d_ff
        128
        """
        fields = dict(
            vocab_size=vocab_size,
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            n_kv_heads=n_heads,
            d_ff=4 * d_model if d_ff is None else d_ff,
            max_len=max_len,
            norm="layernorm",
            positions="learned",
            mlp="gelu",
            gelu_approximate=True,
            norm_eps=1e-5,
            attn_bias=True,
            mlp_bias=True,
            norm_bias=True,
            tie_embeddings=True,
        )
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def llama_style(
        cls,
        *,
        vocab_size: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        n_kv_heads: int | None = None,
        d_ff: int | None = None,
        max_len: int = 128,
        **overrides,
    ) -> TransformerConfig:
        """Llama blocks: RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention, no biases.

        ``n_kv_heads`` defaults to half the query heads (when that divides).

        >>> cfg = TransformerConfig.llama_style(vocab_size=50, d_model=32, n_heads=4)
        >>> cfg.n_kv_heads, cfg.positions, cfg.tie_embeddings
        (2, 'rotary', False)
        """
        if n_kv_heads is None:
            n_kv_heads = n_heads // 2 if n_heads % 2 == 0 else n_heads
        fields = dict(
            vocab_size=vocab_size,
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            n_kv_heads=n_kv_heads,
            d_ff=(8 * d_model) // 3 if d_ff is None else d_ff,
            max_len=max_len,
            norm="rmsnorm",
            positions="rotary",
            mlp="swiglu",
            norm_eps=1e-6,
            rope_theta=10000.0,
            attn_bias=False,
            mlp_bias=False,
            norm_bias=False,
            tie_embeddings=False,
        )
        fields.update(overrides)
        return cls(**fields)

    def to_dict(self) -> dict:
        """The fields as a JSON-serialisable dict (inverse: ``TransformerConfig(**d)``).

        >>> cfg = TransformerConfig.gpt2_style(vocab_size=10, d_model=8, n_heads=2)
        >>> TransformerConfig(**cfg.to_dict()) == cfg
        True
        """
        return dataclasses.asdict(self)
