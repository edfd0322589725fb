"""steerbounds.numerics.steering: Steering, sweeps and steered generation: ``c v`` added to the residual stream (docs/theory.md#setting), swept over coefficients.

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    Steering as Steering,
    make_steering as make_steering,
    steered_layers as steered_layers,
    steering_sweep as steering_sweep,
    SweepOutput as SweepOutput,
    sweep_coefficients as sweep_coefficients,
    default_chunk_size as default_chunk_size,
    estimate_sweep_bytes as estimate_sweep_bytes,
    last_positions as last_positions,
    graphdef_config as graphdef_config,
    sweep_mesh as sweep_mesh,
    final_steering_logits as final_steering_logits,
    final_steering_behaviour as final_steering_behaviour,
    steered_embeddings as steered_embeddings,
    steered_embed_texts as steered_embed_texts,
    generate as generate,
    GenerationResult as GenerationResult,
    generation_chunk_size as generation_chunk_size,
    estimate_generation_bytes as estimate_generation_bytes,
    cache_bytes_per_token_per_layer as cache_bytes_per_token_per_layer,
    common_span_length as common_span_length,
)

__all__ = [
    "Steering",
    "make_steering",
    "steered_layers",
    "steering_sweep",
    "SweepOutput",
    "sweep_coefficients",
    "default_chunk_size",
    "estimate_sweep_bytes",
    "last_positions",
    "graphdef_config",
    "sweep_mesh",
    "final_steering_logits",
    "final_steering_behaviour",
    "steered_embeddings",
    "steered_embed_texts",
    "generate",
    "GenerationResult",
    "generation_chunk_size",
    "estimate_generation_bytes",
    "cache_bytes_per_token_per_layer",
    "common_span_length",
]
