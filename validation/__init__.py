"""steerbounds.validation: the theory checked against measured activations.

Packaged text data (``load_instruction_pairs``, ``load_mc_questions``,
``load_response_sets``) and the MiniLM-L6 readout measurement
(``measure_minilm_readout``; see docs/minilm.md).
"""

from ._minilm_readout import MiniLMReadoutReport as MiniLMReadoutReport
from ._minilm_readout import measure_minilm_readout as measure_minilm_readout
from ._text_data import InstructionPair as InstructionPair
from ._text_data import MCQuestion as MCQuestion
from ._text_data import ResponseSets as ResponseSets
from ._text_data import load_instruction_pairs as load_instruction_pairs
from ._text_data import load_mc_questions as load_mc_questions
from ._text_data import load_response_sets as load_response_sets
from ._text_data import split_mc_questions as split_mc_questions

__all__ = [
    "InstructionPair",
    "MCQuestion",
    "MiniLMReadoutReport",
    "ResponseSets",
    "load_instruction_pairs",
    "load_mc_questions",
    "load_response_sets",
    "measure_minilm_readout",
    "split_mc_questions",
]
