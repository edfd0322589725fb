"""steerbounds.numerics.model: The models: the Flax NNX decoder (GPT-2 and Llama shapes), its forward pass and the encoder (MiniLM).

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    TransformerConfig as TransformerConfig,
    Transformer as Transformer,
    rotary_inverse_frequencies as rotary_inverse_frequencies,
    forward as forward,
    forward_module as forward_module,
    ForwardOutput as ForwardOutput,
    model_hash as model_hash,
    check_finite_parameters as check_finite_parameters,
    EncoderConfig as EncoderConfig,
    Encoder as Encoder,
    EncoderOutput as EncoderOutput,
    encoder_forward as encoder_forward,
    mean_pool as mean_pool,
    l2_normalize as l2_normalize,
    sentence_embeddings as sentence_embeddings,
    TextEncoder as TextEncoder,
    TokenBatch as TokenBatch,
    tokenize as tokenize,
    embed_texts as embed_texts,
    pooled_layer_states as pooled_layer_states,
)

__all__ = [
    "TransformerConfig",
    "Transformer",
    "rotary_inverse_frequencies",
    "forward",
    "forward_module",
    "ForwardOutput",
    "model_hash",
    "check_finite_parameters",
    "EncoderConfig",
    "Encoder",
    "EncoderOutput",
    "encoder_forward",
    "mean_pool",
    "l2_normalize",
    "sentence_embeddings",
    "TextEncoder",
    "TokenBatch",
    "tokenize",
    "embed_texts",
    "pooled_layer_states",
]
