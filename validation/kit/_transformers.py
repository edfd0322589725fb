"""Hypothesis strategies for small random transformers (configs with their weights).

For property tests that need a real forward pass: small GPT-2 or Llama style
configs (:class:`TransformerConfig` presets) and models with random weights
drawn from a seed, given as the ``(graphdef, state)`` pair of the pure
:func:`forward`. The weights are drawn with numpy (no JAX compilation per
architecture): every matrix ``N(0, init_std^2)`` with ``init_std`` drawn with
the config, so that logits range from nearly uniform to peaked, and every
vector (norm scales, biases) ``1 + 0.3 N(0, 1)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from hypothesis import strategies as st

from steerbounds.numerics import Transformer, TransformerConfig

_STYLES = ("gpt2", "llama")


def _check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_styles(styles) -> tuple[str, ...]:
    styles = (styles,) if isinstance(styles, str) else tuple(styles)
    if not styles or any(s not in _STYLES for s in styles):
        raise ValueError(f"styles must be a non-empty selection of {_STYLES}, got {styles!r}")
    return styles


def transformer_configs(
    *,
    styles=_STYLES,
    min_vocab: int = 8,
    max_vocab: int = 32,
    max_layers: int = 3,
    max_heads: int = 4,
    max_head_size: int = 8,
    max_len: int = 16,
    min_init_std: float = 0.02,
    max_init_std: float = 1.0,
) -> st.SearchStrategy[TransformerConfig]:
    """Small :class:`TransformerConfig` s from the ``gpt2_style`` / ``llama_style`` presets.

    ``d_model = n_heads * head_size`` with an even head size (rotary positions
    need one); Llama configs use grouped-query attention when ``n_heads`` is
    even. ``init_std`` (the weights' scale) is drawn in
    ``[min_init_std, max_init_std]``.

    >>> from hypothesis import find
    >>> cfg = find(transformer_configs(styles=["llama"]), lambda c: c.n_layers == 2)
    >>> cfg.norm, cfg.n_layers, cfg.head_size % 2
    ('rmsnorm', 2, 0)
    """
    styles = _check_styles(styles)
    _check_int("min_vocab", min_vocab, minimum=2)
    _check_int("max_vocab", max_vocab, minimum=min_vocab)
    _check_int("max_layers", max_layers, minimum=1)
    _check_int("max_heads", max_heads, minimum=1)
    _check_int("max_head_size", max_head_size, minimum=2)
    _check_int("max_len", max_len, minimum=1)
    if not (isinstance(min_init_std, (int, float)) and isinstance(max_init_std, (int, float))
            and 0 < min_init_std <= max_init_std < float("inf")):
        raise ValueError(f"need 0 < min_init_std <= max_init_std (finite), got {min_init_std!r}, {max_init_std!r}")

    @st.composite
    def build(draw):
        style = draw(st.sampled_from(styles))
        n_heads = draw(st.integers(1, max_heads))
        head_size = 2 * draw(st.integers(1, max_head_size // 2))
        common = dict(
            vocab_size=draw(st.integers(min_vocab, max_vocab)),
            d_model=n_heads * head_size,
            n_layers=draw(st.integers(1, max_layers)),
            n_heads=n_heads,
            max_len=max_len,
            init_std=draw(st.floats(min_init_std, max_init_std)),
        )
        if style == "gpt2":
            return TransformerConfig.gpt2_style(**common)
        divisors = [k for k in range(1, n_heads + 1) if n_heads % k == 0]
        return TransformerConfig.llama_style(n_kv_heads=draw(st.sampled_from(divisors)), **common)

    return build()


@dataclasses.dataclass(frozen=True)
class RandomTransformer:
    """A randomly initialised :class:`Transformer` as the pair of the pure :func:`forward`.

    >>> from hypothesis import find
    >>> net = find(random_transformers(), lambda n: True)
    >>> net.model.config == net.config
    True
    """

    config: TransformerConfig  # the architecture (its init_std is the scale of the weight matrices)
    seed: int  # numpy seed of the weights
    graphdef: Any = dataclasses.field(repr=False)  # nnx.GraphDef of the model
    state: Any = dataclasses.field(repr=False)  # nnx.State: its weights

    @property
    def model(self) -> Transformer:
        """The module, merged from ``(graphdef, state)``."""
        return nnx.merge(self.graphdef, self.state)


def random_transformers(*, configs: st.SearchStrategy[TransformerConfig] | None = None) -> st.SearchStrategy[RandomTransformer]:
    """Small transformers with random weights: a config from ``configs`` and a drawn seed.

    ``configs`` defaults to :func:`transformer_configs` with its defaults.

    >>> import jax.numpy as jnp
    >>> from hypothesis import find
    >>> from steerbounds.numerics import forward
    >>> net = find(random_transformers(), lambda n: n.config.vocab_size >= 10)
    >>> forward(net.graphdef, net.state, jnp.array([[1, 2, 3]])).logits_btv.shape[-1] >= 10
    True
    """
    if configs is None:
        configs = transformer_configs()
    if not isinstance(configs, st.SearchStrategy):
        raise TypeError(f"configs must be a SearchStrategy of TransformerConfig, got {type(configs).__name__}")

    return st.builds(_random_transformer, configs, st.integers(0, 2**31 - 1))


def _random_transformer(config: TransformerConfig, seed: int) -> RandomTransformer:
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"configs drew a {type(config).__name__}, not a TransformerConfig")
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0))))
    rng = np.random.default_rng(seed)

    def draw(leaf) -> jax.Array:
        if len(leaf.shape) >= 2:
            values = rng.normal(0.0, config.init_std, size=leaf.shape)
        else:
            values = 1.0 + 0.3 * rng.normal(size=leaf.shape)
        return jnp.asarray(values, dtype=leaf.dtype)

    return RandomTransformer(config, seed, graphdef, jax.tree.map(draw, abstract))
