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
from ._params import model_hash as model_hash
from ._params import check_finite_parameters as check_finite_parameters
from ._hf import load_hf_checkpoint as load_hf_checkpoint
from ._hf import hf_config_to_config as hf_config_to_config
from ._hf import hf_position_ids as hf_position_ids

__all__ = [
    "ForwardOutput",
    "Steering",
    "SweepOutput",
    "Transformer",
    "TransformerConfig",
    "check_finite_parameters",
    "default_chunk_size",
    "estimate_sweep_bytes",
    "final_steering_logits",
    "forward",
    "forward_module",
    "graphdef_config",
    "hf_config_to_config",
    "hf_position_ids",
    "last_positions",
    "load_hf_checkpoint",
    "make_steering",
    "model_hash",
    "rotary_inverse_frequencies",
    "steered_layers",
    "steering_sweep",
    "sweep_coefficients",
]
