"""steerbounds.validation: the theory of THEORY.md checked against measured activations.

The analysis runs on an *activation bundle* (:class:`ActivationBundle`, on disk
as safetensors plus a JSON manifest, see docs/bundle.md): assumptions A1-A4
(section 5), T1 at every prompt and coefficient where A1 holds, T2a/T2b against
the measured helpfulness, the paper's fits with predicted parameters, and the
tradeoff (section 4). ``steerbounds reproduce`` builds bundles from the embedded
toy model and runs the same analysis as ``steerbounds analyze``.

Also: packaged text data (``load_instruction_pairs``, ``load_mc_questions``,
``load_response_sets``) and the MiniLM-L6 readout measurement
(``measure_minilm_readout``; see docs/minilm.md).
"""

from ._analysis import analyze_bundle as analyze_bundle
from ._analysis import condition_to_json as condition_to_json
from ._assumptions import a1_margins as a1_margins
from ._assumptions import a2_gap_changes as a2_gap_changes
from ._assumptions import a3_linear_response as a3_linear_response
from ._assumptions import a4_behaviour_mass as a4_behaviour_mass
from ._assumptions import gap_changes as gap_changes
from ._assumptions import signed_radius as signed_radius
from ._bundle import ActivationBundle as ActivationBundle
from ._bundle import BehaviourSweep as BehaviourSweep
from ._bundle import BundleError as BundleError
from ._bundle import HelpfulnessSweep as HelpfulnessSweep
from ._bundle import Projection as Projection
from ._bundle import load_bundle as load_bundle
from ._bundle import save_bundle as save_bundle
from ._bundle import validate_bundle as validate_bundle
from ._checks import behaviour_values as behaviour_values
from ._checks import check_t1 as check_t1
from ._checks import compare_t2 as compare_t2
from ._checks import helpfulness_values as helpfulness_values
from ._config import ValidationConfig as ValidationConfig
from ._fits import bell_curve as bell_curve
from ._fits import fit_bell as fit_bell
from ._fits import fit_tanh as fit_tanh
from ._fits import tanh_curve as tanh_curve
from ._minilm_readout import MiniLMReadoutReport as MiniLMReadoutReport
from ._minilm_readout import measure_minilm_readout as measure_minilm_readout
from ._plots import plot_report as plot_report
from ._report import build_report as build_report
from ._report import load_report as load_report
from ._report import render_markdown as render_markdown
from ._report import write_report as write_report
from ._store import ResumeMismatchError as ResumeMismatchError
from ._store import SweepStore as SweepStore
from ._store import run_chunked as run_chunked
from ._synthetic import synthetic_bundle as synthetic_bundle
from ._text_data import InstructionPair as InstructionPair
from ._text_data import MCQuestion as MCQuestion
from ._text_data import ResponseSets as ResponseSets
from ._text_data import load_instruction_pairs as load_instruction_pairs
from ._text_data import load_mc_questions as load_mc_questions
from ._text_data import load_response_sets as load_response_sets
from ._text_data import split_mc_questions as split_mc_questions
from ._tradeoff import projection_2d as projection_2d
from ._tradeoff import tradeoff as tradeoff

__all__ = [
    "ActivationBundle",
    "BehaviourSweep",
    "BundleError",
    "HelpfulnessSweep",
    "InstructionPair",
    "MCQuestion",
    "MiniLMReadoutReport",
    "Projection",
    "ResponseSets",
    "ResumeMismatchError",
    "SweepStore",
    "ValidationConfig",
    "a1_margins",
    "a2_gap_changes",
    "a3_linear_response",
    "a4_behaviour_mass",
    "analyze_bundle",
    "behaviour_values",
    "bell_curve",
    "build_report",
    "check_t1",
    "compare_t2",
    "condition_to_json",
    "fit_bell",
    "fit_tanh",
    "gap_changes",
    "helpfulness_values",
    "load_bundle",
    "load_instruction_pairs",
    "load_mc_questions",
    "load_report",
    "load_response_sets",
    "measure_minilm_readout",
    "plot_report",
    "projection_2d",
    "render_markdown",
    "run_chunked",
    "save_bundle",
    "signed_radius",
    "split_mc_questions",
    "synthetic_bundle",
    "tanh_curve",
    "tradeoff",
    "validate_bundle",
    "write_report",
]
