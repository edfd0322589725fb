"""A1-A4 as objects: their licensed bounds survive, their reports keep every failing prompt."""

from __future__ import annotations

import numpy as np
import pytest

from steerbounds.testing import A1, A2, A2_MODEL, A3, A4, GapChangeModel
from steerbounds.validation import a1_margins, behaviour_values, check_t1, synthetic_bundle


@pytest.mark.parametrize("assumption", [A1, A3, A4, A2_MODEL], ids=lambda a: a.name)
def test_licensed_bound_survives_the_property_test(assumption):
    result = assumption.verify()
    assert result.holds, result.report()
    assert result.n_satisfying >= 10


def test_a2_licenses_t2a_for_the_mean_helpfulness():
    # A2 on measured sweeps is a statistical claim; a few examples suffice (each sweep holds 60 questions)
    result = A2.verify(max_examples=3)
    assert result.holds, result.report()


def test_a1_wraps_the_validation_measurement_and_t1_check():
    sweep = synthetic_bundle(seed=3, n_prompts=4, n_questions=2, n_aligned=1, n_misaligned=1,
                             behaviour_b0=0.2, a1_failing=(2,)).behaviour
    holds = A1.holds(sweep)
    margins = a1_margins(sweep)
    np.testing.assert_array_equal(holds, margins.holds_qc & (margins.radius_qc != 0))
    assert not holds[2].any() and holds[[0, 1, 3]][:, sweep.coefficients_c != 0].all()
    evaluation = A1.evaluate(sweep)
    # one aligned and one misaligned token: T1 holds with equality where A1 holds
    assert evaluation.holds and abs(evaluation.worst_slack) < 1e-12
    b_qc = behaviour_values(sweep)
    expected = check_t1(b_qc, margins.radius_qc, margins.margin_qc, b_qc[:, 10]).bound_qc
    checked = evaluation.checked
    np.testing.assert_allclose(evaluation.bound[checked], (np.sign(margins.radius_qc) * expected)[checked])


def test_a1_report_keeps_the_failing_prompts():
    sweep = synthetic_bundle(seed=0, n_prompts=5, n_questions=2, a1_failing=(1, 4)).behaviour
    report = A1.check(sweep)
    assert not report.holds
    assert [d["index"] for d in report.detail] == [1, 4]
    assert report.statistic["min margin"] < 0 < report.statistic["median margin"]
    assert "A1 fails" in str(report) and report.raw.margin_qc.shape == (5, 21)


def test_a3_report_flags_a_saturating_response():
    sweep = synthetic_bundle(seed=0, n_prompts=3, n_questions=2, response="saturating").behaviour
    report = A3.check(sweep)
    assert not report.holds and report.statistic["min R^2 of ||delta|| vs |c|"] < 0.95
    assert len(report.detail) == 3
    assert not A3.holds(sweep).any()


def test_a4_report_flags_little_mass_on_the_behaviour_tokens():
    sweep = synthetic_bundle(seed=0, n_prompts=3, n_questions=2, behaviour_bias=-3.0).behaviour
    report = A4.check(sweep)
    assert not report.holds and report.statistic["min mass"] < 0.5
    assert 0 <= report.fraction_holding < 1


def test_a2_report_flags_student_t_gap_changes():
    sweep = synthetic_bundle(seed=0, n_prompts=2, n_questions=80, gap_noise="student_t", df=2.0).helpfulness
    report = A2.check(sweep)
    assert not report.holds
    assert report.statistic["normality tests rejected"] > 0
    assert {"check": "normality", "holds": False} in report.detail
    gaussian = synthetic_bundle(seed=0, n_prompts=2, n_questions=80).helpfulness
    assert A2.check(gaussian).holds and bool(A2.holds(gaussian))


def test_a2_model_report_names_what_departs_from_a2():
    model = GapChangeModel(gaps_k=np.zeros(2), cov_kk=np.eye(2), radius=1.0, mean_k=np.array([0.5, 0.0]), df=4.0)
    report = A2_MODEL.check(model)
    assert not report.holds
    assert {d["check"] for d in report.detail} == {"zero mean", "Gaussian"}
    assert A2_MODEL.check(GapChangeModel(gaps_k=np.zeros(1), cov_kk=np.eye(1), radius=1.0)).holds


@pytest.mark.parametrize("assumption, wrong", [(A1, "helpfulness"), (A2, "behaviour"), (A3, "helpfulness"),
                                               (A4, "helpfulness")], ids=["A1", "A2", "A3", "A4"])
def test_measurements_of_the_wrong_kind_are_refused(assumption, wrong):
    bundle = synthetic_bundle(seed=0, n_prompts=2, n_questions=3)
    with pytest.raises(TypeError, match="is measured on a"):
        assumption.check(getattr(bundle, wrong))


def test_a2_model_refuses_other_measurements():
    with pytest.raises(TypeError, match="GapChangeModel"):
        A2_MODEL.check(synthetic_bundle(seed=0, n_prompts=2, n_questions=3).helpfulness)
