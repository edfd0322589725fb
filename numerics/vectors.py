"""steerbounds.numerics.vectors: Steering vectors from contrast pairs, their files, and control vectors for llama.cpp and repeng.

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    SteeringVectors as SteeringVectors,
    last_token_states as last_token_states,
    contrast_vectors as contrast_vectors,
    steering_vectors_from_pairs as steering_vectors_from_pairs,
    random_vectors as random_vectors,
    save_steering_vectors as save_steering_vectors,
    load_steering_vectors as load_steering_vectors,
    export_control_vector as export_control_vector,
    import_control_vector as import_control_vector,
    ControlVector as ControlVector,
    recommended_coefficient as recommended_coefficient,
    Recommendation as Recommendation,
)

__all__ = [
    "SteeringVectors",
    "last_token_states",
    "contrast_vectors",
    "steering_vectors_from_pairs",
    "random_vectors",
    "save_steering_vectors",
    "load_steering_vectors",
    "export_control_vector",
    "import_control_vector",
    "ControlVector",
    "recommended_coefficient",
    "Recommendation",
]
