"""steerbounds.numerics: our JAX/Flax transformer, steering, sweeps and measurements.

The model produces the quantities of THEORY.md section 1: logits ``z = U h (+ b)``,
the final representation ``h`` and the residual stream after each block.
"""

from ._config import TransformerConfig as TransformerConfig
from ._forward import ForwardOutput as ForwardOutput
from ._forward import Steering as Steering
from ._forward import forward as forward
from ._forward import forward_module as forward_module
from ._forward import make_steering as make_steering
from ._forward import steered_layers as steered_layers
from ._model import Transformer as Transformer
from ._model import rotary_inverse_frequencies as rotary_inverse_frequencies
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
from ._vectors import SteeringVectors as SteeringVectors
from ._vectors import contrast_vectors as contrast_vectors
from ._vectors import last_token_states as last_token_states
from ._vectors import steering_vectors_from_pairs as steering_vectors_from_pairs
from ._vectors import random_vectors as random_vectors
from ._vectors import save_steering_vectors as save_steering_vectors
from ._vectors import load_steering_vectors as load_steering_vectors
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
from ._sample import sequence_behaviour as sequence_behaviour

__all__ = [
    "A1Margin",
    "FirstTokenBehaviour",
    "ForwardOutput",
    "MultipleChoice",
    "RepresentationChange",
    "SequenceBehaviour",
    "Steering",
    "SteeringVectors",
    "SweepOutput",
    "Transformer",
    "TransformerConfig",
    "a1_margin",
    "check_finite_parameters",
    "contrast_vectors",
    "default_chunk_size",
    "estimate_sweep_bytes",
    "final_steering_behaviour",
    "final_steering_logits",
    "first_token_behaviour",
    "forward",
    "forward_module",
    "gap_changes",
    "graphdef_config",
    "hf_config_to_config",
    "hf_position_ids",
    "last_positions",
    "last_token_states",
    "load_hf_checkpoint",
    "load_steering_vectors",
    "make_steering",
    "model_hash",
    "multiple_choice",
    "random_vectors",
    "representation_change",
    "rotary_inverse_frequencies",
    "sample_continuations",
    "save_steering_vectors",
    "sequence_behaviour",
    "steered_layers",
    "steering_sweep",
    "steering_vectors_from_pairs",
    "summarize_scores",
    "sweep_coefficients",
    "sweep_mesh",
]
