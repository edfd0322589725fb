"""steerbounds.validation: the theory of docs/theory.md checked against measured activations.

The analysis runs on an *activation bundle* (:class:`ActivationBundle`, on disk
as safetensors plus a JSON manifest, see docs/bundle.md): assumptions A1-A4
(section 5), T1 at every prompt and coefficient where A1 holds, T2a/T2b against
the measured helpfulness, the paper's fits with predicted parameters, and the
tradeoff (section 4). Bundle in, report out: nothing here runs a model.

The drivers that run models (``steerbounds reproduce``, the packaged text data,
resumable sweeps, the MiniLM-L6 readout measurement) live in
:mod:`steerbounds.validation.studies`, which builds bundles and hands them to
the same analysis as ``steerbounds analyze``; nothing else in this package
imports it. The property-testing kit lives in ``validation/kit`` and is public
as :mod:`steerbounds.testing`.
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
from ._bundle import SequenceSweep as SequenceSweep
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
from ._plots import plot_report as plot_report
from ._report import build_report as build_report
from ._report import load_report as load_report
from ._report import render_markdown as render_markdown
from ._report import write_report as write_report
from ._results import AlignmentBoundCheck as AlignmentBoundCheck
from ._results import AssumptionChecks as AssumptionChecks
from ._results import BehaviourCurves as BehaviourCurves
from ._results import BehaviourMassCheck as BehaviourMassCheck
from ._results import BellFit as BellFit
from ._results import BellPrediction as BellPrediction
from ._results import BundleAnalysis as BundleAnalysis
from ._results import BundleSizes as BundleSizes
from ._results import ConsistencyCheck as ConsistencyCheck
from ._results import CurveFits as CurveFits
from ._results import DropReach as DropReach
from ._results import FailingPrompt as FailingPrompt
from ._results import GapChangeBias as GapChangeBias
from ._results import GapChangeCheck as GapChangeCheck
from ._results import GapChangeHistograms as GapChangeHistograms
from ._results import GapChangeRow as GapChangeRow
from ._results import GapChangeSamples as GapChangeSamples
from ._results import GapCovariance as GapCovariance
from ._results import GridCoverage as GridCoverage
from ._results import GridSummary as GridSummary
from ._results import HelpfulnessBoundCheck as HelpfulnessBoundCheck
from ._results import HelpfulnessCurves as HelpfulnessCurves
from ._results import Identifiability as Identifiability
from ._results import Interval as Interval
from ._results import JointTradeoff as JointTradeoff
from ._results import LinearFit as LinearFit
from ._results import LinearResponseCheck as LinearResponseCheck
from ._results import MarginCheck as MarginCheck
from ._results import MeasuredOptimum as MeasuredOptimum
from ._results import NonlinearPrompt as NonlinearPrompt
from ._results import NormalityVerdict as NormalityVerdict
from ._results import PairRadii as PairRadii
from ._results import PredictedTradeoff as PredictedTradeoff
from ._results import ProjectionSummary as ProjectionSummary
from ._results import RadiusQuartiles as RadiusQuartiles
from ._results import ReportRecord as ReportRecord
from ._results import SaturationReach as SaturationReach
from ._results import StdLinearity as StdLinearity
from ._results import SweepLinearity as SweepLinearity
from ._results import T1Violation as T1Violation
from ._results import TanhFit as TanhFit
from ._results import SequenceAnalysis as SequenceAnalysis
from ._results import SequenceBoundCheck as SequenceBoundCheck
from ._results import SequenceExample as SequenceExample
from ._results import TanhPrediction as TanhPrediction
from ._results import TradeoffCheck as TradeoffCheck
from ._results import ValueSummary as ValueSummary
from ._results import Verdicts as Verdicts
from ._synthetic import synthetic_bundle as synthetic_bundle
from ._tradeoff import projection_2d as projection_2d
from ._tradeoff import tradeoff as tradeoff

__all__ = [
    "ActivationBundle",
    "AlignmentBoundCheck",
    "AssumptionChecks",
    "BehaviourCurves",
    "BehaviourMassCheck",
    "BehaviourSweep",
    "BellFit",
    "BellPrediction",
    "BundleAnalysis",
    "BundleError",
    "BundleSizes",
    "ConsistencyCheck",
    "CurveFits",
    "DropReach",
    "FailingPrompt",
    "GapChangeBias",
    "GapChangeCheck",
    "GapChangeHistograms",
    "GapChangeRow",
    "GapChangeSamples",
    "GapCovariance",
    "GridCoverage",
    "GridSummary",
    "HelpfulnessBoundCheck",
    "HelpfulnessCurves",
    "HelpfulnessSweep",
    "Identifiability",
    "Interval",
    "JointTradeoff",
    "LinearFit",
    "LinearResponseCheck",
    "MarginCheck",
    "MeasuredOptimum",
    "NonlinearPrompt",
    "NormalityVerdict",
    "PairRadii",
    "PredictedTradeoff",
    "Projection",
    "ProjectionSummary",
    "RadiusQuartiles",
    "ReportRecord",
    "SaturationReach",
    "SequenceAnalysis",
    "SequenceBoundCheck",
    "SequenceExample",
    "SequenceSweep",
    "StdLinearity",
    "SweepLinearity",
    "T1Violation",
    "TanhFit",
    "TanhPrediction",
    "TradeoffCheck",
    "ValidationConfig",
    "ValueSummary",
    "Verdicts",
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
    "load_report",
    "plot_report",
    "projection_2d",
    "render_markdown",
    "save_bundle",
    "signed_radius",
    "synthetic_bundle",
    "tanh_curve",
    "tradeoff",
    "validate_bundle",
    "write_report",
]
