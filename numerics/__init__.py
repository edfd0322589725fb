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

__all__ = [
    "ForwardOutput",
    "Steering",
    "Transformer",
    "TransformerConfig",
    "forward",
    "forward_module",
    "make_steering",
    "rotary_inverse_frequencies",
    "steered_layers",
]
