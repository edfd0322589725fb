"""The typed analysis results: report.json is their to_dict(), from_dict reads it back, bad input is refused."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

import steerbounds.validation as validation
from steerbounds.validation import (BellFit, BundleAnalysis, FailingPrompt, MarginCheck, ReportRecord, ValueSummary,
                                    analyze_bundle, build_report, condition_to_json, synthetic_bundle)


@pytest.fixture(scope="module")
def result() -> BundleAnalysis:
    return analyze_bundle(synthetic_bundle(seed=3, n_prompts=3, n_questions=24))


def test_report_json_round_trips_exactly(result):
    entry = json.loads(json.dumps(condition_to_json(result), allow_nan=False))
    again = BundleAnalysis.from_dict(entry)
    assert again.to_dict() == entry
    assert json.loads(result.to_json()) == entry
    # the parts are typed after reading back, and the numbers are those of the analysis
    assert isinstance(again.assumptions.a1, MarginCheck) and isinstance(again.fits.bell_restricted, BellFit)
    np.testing.assert_array_equal(np.asarray(again.behaviour.b_mean_c, dtype=float), result.behaviour.b_mean_c)
    assert again.tradeoff.joint.crossover == result.tradeoff.joint.crossover


def test_results_are_frozen_and_hold_the_internal_arrays(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.t1.n_violations = 3
    # arrays left out of report.json are on the analysis, not in its JSON form
    assert result.assumptions.a2.x_qci.shape[0] == 24
    assert "x_qci" not in result.to_dict()["assumptions"]["A2"] and "checked_qc" not in result.to_dict()["T1"]
    assert BundleAnalysis.from_dict(result.to_dict()).assumptions.a2.x_qci is None


def test_summary_is_built_from_the_verdicts(result):
    report = build_report([result])
    assert report["summary"]["synthetic"] == result.verdicts.to_dict()
    assert set(report["summary"]["synthetic"]) == {"A1", "A2", "A3", "A4", "T1_violations"}


def test_optional_keys_are_absent_not_null():
    fit = BellFit(converged=False, fitted=False, note="not fitted", predicted=None)
    assert fit.to_dict() == {"converged": False, "fitted": False, "note": "not fitted", "predicted": None}
    assert ValueSummary(n=0).to_dict() == {"n": 0}
    p = FailingPrompt(1, [0.5], None, -0.1, "margin")
    assert p.to_dict() == {"index": 1, "coefficients": [0.5], "worst_margin": -0.1}
    assert FailingPrompt.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("bad, error, words", [
    ({"n": 1, "median": 2.0, "mode": 1.0}, ValueError, "unknown keys ['mode']"),
    ({"median": 2.0}, ValueError, "key 'n' is missing"),
    ([1, 2], TypeError, "must be a dict"),
])
def test_from_dict_refuses_bad_input(bad, error, words):
    with pytest.raises(error, match=f"ValueSummary.from_dict: .*{re.escape(words)}"):
        ValueSummary.from_dict(bad)


def test_a_changed_report_entry_is_read_as_changed(result):
    entry = result.to_dict()
    entry["T1"]["n_violations"] = 7
    assert BundleAnalysis.from_dict(entry).t1.n_violations == 7
    entry["fits"]["behaviour_tanh"]["unexpected"] = 1
    with pytest.raises(ValueError, match="TanhFit.from_dict: unknown keys"):
        BundleAnalysis.from_dict(entry)


def test_every_result_type_is_public():
    records = {name for name in validation.__all__
               if isinstance(getattr(validation, name), type) and issubclass(getattr(validation, name), ReportRecord)}
    from steerbounds.validation import _results

    defined = {name for name, value in vars(_results).items()
               if isinstance(value, type) and issubclass(value, ReportRecord) and not name.startswith("_")}
    assert records == defined
