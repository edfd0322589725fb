"""steerbounds.numerics.studies: What a steering study needs of a model (the StudyModel interface), its adapters, the chat tokenizer of checkpoint folders, and log-probabilities.

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    StudyModel as StudyModel,
    Readout as Readout,
    Candidates as Candidates,
    PromptEncoder as PromptEncoder,
    DecoderStudyModel as DecoderStudyModel,
    EncodedPrompts as EncodedPrompts,
    ToyPromptEncoder as ToyPromptEncoder,
    ReadoutStudyModel as ReadoutStudyModel,
    EncodedTexts as EncodedTexts,
    load_checkpoint_study_model as load_checkpoint_study_model,
    load_gguf_study_model as load_gguf_study_model,
    ChatTokenizer as ChatTokenizer,
    compile_chat_template as compile_chat_template,
    log_softmax as log_softmax,
    candidate_log_probs as candidate_log_probs,
    pad_coefficients as pad_coefficients,
)

__all__ = [
    "StudyModel",
    "Readout",
    "Candidates",
    "PromptEncoder",
    "DecoderStudyModel",
    "EncodedPrompts",
    "ToyPromptEncoder",
    "ReadoutStudyModel",
    "EncodedTexts",
    "load_checkpoint_study_model",
    "load_gguf_study_model",
    "ChatTokenizer",
    "compile_chat_template",
    "log_softmax",
    "candidate_log_probs",
    "pad_coefficients",
]
