"""steerbounds.validation.studies: experiments that run models and hand their bundles to the validation.

``steerbounds reproduce`` extracts a steering vector, sweeps its coefficient,
writes one activation bundle per condition and analyses them exactly as
``steerbounds analyze`` would (``steerbounds.validation``). This subpackage holds
those drivers, the project's own text data (``load_instruction_pairs``,
``load_mc_questions``, ``load_response_sets``), the resumable sweep store
(``SweepStore``, ``run_chunked``) and the MiniLM-L6 readout measurement
(``measure_minilm_readout``; docs/minilm.md). It imports the validation layer;
the validation layer never imports it.
"""

from ._minilm_readout import MiniLMReadoutReport as MiniLMReadoutReport
from ._minilm_readout import measure_minilm_readout as measure_minilm_readout
from ._store import ResumeMismatchError as ResumeMismatchError
from ._store import SweepStore as SweepStore
from ._store import run_chunked as run_chunked
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
    "ResumeMismatchError",
    "SweepStore",
    "load_instruction_pairs",
    "load_mc_questions",
    "load_response_sets",
    "measure_minilm_readout",
    "run_chunked",
    "split_mc_questions",
]
