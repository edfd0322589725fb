"""RoPE inverse frequencies, shared by the forward pass, the model and the KV cache."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from steerbounds.theory import instance_of

from ._config import TransformerConfig


def rotary_inverse_frequencies(config: TransformerConfig) -> jax.Array:
    """RoPE inverse frequencies ``theta^(-2i/hd)``, with linear or Llama-3.1 rescaling.

    Args:
        config: a Llama-style config.

    Returns:
        inverse frequencies, shape (head_dim / 2,).

    >>> cfg = TransformerConfig.llama_style(vocab_size=8, d_model=16, n_heads=2)
    >>> rotary_inverse_frequencies(cfg).shape
    (4,)
    """
    instance_of("rotary_inverse_frequencies", "config", config, TransformerConfig, "TransformerConfig.llama_style(...)")
    hd = config.head_size
    inv = 1.0 / (config.rope_theta ** (jnp.arange(0, hd, 2, dtype=jnp.float32) / hd))
    if config.rope_scaling == "linear":
        inv = inv / config.rope_factor
    elif config.rope_scaling == "llama3":
        low_wavelen = config.rope_original_max_len / config.rope_low_freq_factor
        high_wavelen = config.rope_original_max_len / config.rope_high_freq_factor
        wavelen = 2 * math.pi / inv
        scaled = jnp.where(wavelen > low_wavelen, inv / config.rope_factor, inv)
        smooth = (config.rope_original_max_len / wavelen - config.rope_low_freq_factor) / (
            config.rope_high_freq_factor - config.rope_low_freq_factor
        )
        smoothed = (1 - smooth) * scaled / config.rope_factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        inv = jnp.where(medium, smoothed, scaled)
    return inv.astype(jnp.float32)
