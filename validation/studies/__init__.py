"""steerbounds.validation.studies: experiments that run models and hand their bundles to the validation.

One driver, :func:`run_study`, runs the study on any ``steerbounds.numerics.StudyModel``
with a :class:`StudyData` and a :class:`StudyConfig`; the registry
(:func:`register_model`, :func:`register_format`, :func:`resolve_model`) maps
``--model NAME|PATH`` to a model and its default data; :class:`UserFiles`
bring the researcher's own prompts and questions (:func:`read_prompts`,
:func:`read_questions`, every row checked).

``steerbounds reproduce`` extracts a steering vector, sweeps its coefficient,
writes one activation bundle per condition and analyses them exactly as
``steerbounds analyze`` would (``steerbounds.validation``). This subpackage holds
those drivers, the project's own text data (``load_instruction_pairs``,
``load_mc_questions``, ``load_response_sets``), the resumable sweep store
(``SweepStore``, ``run_chunked``) and the MiniLM-L6 readout measurement
(``measure_minilm_readout``; docs/minilm.md). It imports the validation layer;
the validation layer never imports it.
"""

from ._data import StudyData as StudyData
from ._minilm_readout import MiniLMReadoutReport as MiniLMReadoutReport
from ._minilm_readout import measure_minilm_readout as measure_minilm_readout
from ._registry import ModelEntry as ModelEntry
from ._registry import model_names as model_names
from ._registry import register_format as register_format
from ._registry import register_model as register_model
from ._registry import resolve_model as resolve_model
from ._reproduce import reproduce as reproduce
from ._reproduce import study_and_report as study_and_report
from ._store import ResumeMismatchError as ResumeMismatchError
from ._store import SweepStore as SweepStore
from ._store import run_chunked as run_chunked
from ._study import StudyConfig as StudyConfig
from ._study import run_study as run_study
from ._text_data import InstructionPair as InstructionPair
from ._text_data import MCQuestion as MCQuestion
from ._text_data import ResponseSets as ResponseSets
from ._text_data import load_instruction_pairs as load_instruction_pairs
from ._text_data import load_mc_questions as load_mc_questions
from ._text_data import load_response_sets as load_response_sets
from ._text_data import split_mc_questions as split_mc_questions
from ._user_data import DataFileError as DataFileError
from ._user_data import UserFiles as UserFiles
from ._user_data import read_prompts as read_prompts
from ._user_data import read_questions as read_questions

__all__ = [
    "DataFileError",
    "ModelEntry",
    "StudyConfig",
    "StudyData",
    "UserFiles",
    "model_names",
    "read_prompts",
    "read_questions",
    "register_format",
    "register_model",
    "reproduce",
    "resolve_model",
    "run_study",
    "study_and_report",
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
