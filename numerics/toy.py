"""steerbounds.numerics.toy: The toy world, its tokenizer, training, evaluation and the shipped checkpoint (docs/toy_model.md).

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    ToyWorld as ToyWorld,
    MCQuestion as MCQuestion,
    WordTokenizer as WordTokenizer,
    load_toy_model as load_toy_model,
    save_toy_model as save_toy_model,
    ToyModel as ToyModel,
    TOY_MODEL_DIR as TOY_MODEL_DIR,
    ToyTrainConfig as ToyTrainConfig,
    train_toy_model as train_toy_model,
    ToyTrainResult as ToyTrainResult,
    next_token_loss as next_token_loss,
    residual_norm_penalty as residual_norm_penalty,
    evaluate_toy_model as evaluate_toy_model,
    ToyEvaluation as ToyEvaluation,
    last_token_log_probs as last_token_log_probs,
)

__all__ = [
    "ToyWorld",
    "MCQuestion",
    "WordTokenizer",
    "load_toy_model",
    "save_toy_model",
    "ToyModel",
    "TOY_MODEL_DIR",
    "ToyTrainConfig",
    "train_toy_model",
    "ToyTrainResult",
    "next_token_loss",
    "residual_norm_penalty",
    "evaluate_toy_model",
    "ToyEvaluation",
    "last_token_log_probs",
]
