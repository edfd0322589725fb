"""T1 and T2 against measured sweeps: zero violations where the theorem applies, planted violations caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.validation import (
    ValidationConfig,
    a1_margins,
    a2_gap_changes,
    analyze_bundle,
    behaviour_values,
    check_t1,
    compare_t2,
    helpfulness_values,
    synthetic_bundle,
)


def _t1_inputs(bundle):
    a1 = a1_margins(bundle.behaviour)
    b = behaviour_values(bundle.behaviour)
    i0 = int(np.flatnonzero(bundle.behaviour.coefficients_c == 0)[0])
    return b, a1.radius_qc, a1.margin_qc, b[:, i0]


def test_t1_equality_case_is_tight():
    """One aligned and one misaligned token: B_r equals the bound (T1 with equality)."""
    bundle = synthetic_bundle(seed=0, n_prompts=5, n_questions=4, n_aligned=1, n_misaligned=1)
    b, r, m, b0 = _t1_inputs(bundle)
    out = check_t1(b, r, m, b0, atol=1e-9)
    assert out.n_violations == 0 and out.n_checked == 5 * 20
    np.testing.assert_allclose(out.bound_qc[out.checked_qc], b[out.checked_qc], atol=1e-9)


@given(seed=st.integers(0, 10_000), jitter=st.floats(0.0, 2.0), margin=st.floats(0.05, 3.0),
       n_aligned=st.integers(1, 3), n_misaligned=st.integers(1, 3))
def test_t1_never_violated_where_a1_holds(seed, jitter, margin, n_aligned, n_misaligned):
    bundle = synthetic_bundle(seed=seed, n_prompts=4, n_questions=2, direction_jitter=jitter, margin=margin,
                              n_aligned=n_aligned, n_misaligned=n_misaligned, a1_failing=(1,))
    b, r, m, b0 = _t1_inputs(bundle)
    out = check_t1(b, r, m, b0, atol=1e-9)
    assert out.n_violations == 0, out.violations[:3]
    assert out.n_checked + out.n_outside_a1 == 4 * 20  # every steered point is evaluated


def test_planted_violations_are_flagged_exactly():
    bundle = synthetic_bundle(seed=2, n_prompts=6, n_questions=4)
    b, r, m, b0 = _t1_inputs(bundle)
    c = bundle.behaviour.coefficients_c
    bound = check_t1(b, r, m, b0).bound_qc
    planted = [(1, 15), (4, 3)]  # (prompt, coefficient index): one c > 0, one c < 0
    bad = b.copy()
    for q, j in planted:  # just past the bound on the wrong side
        bad[q, j] = bound[q, j] - np.sign(r[q, j]) * 1e-3
    out = check_t1(bad, r, m, b0, atol=1e-4, coefficients_c=c, texts=bundle.behaviour.prompts)
    assert sorted((v.prompt, v.coefficient_index) for v in out.violations) == sorted(planted)
    assert out.n_violations == 2 and out.min_slack == pytest.approx(-1e-3)
    assert {v.c for v in out.violations} == {c[15], c[3]}
    assert out.violations[0].text.startswith("synthetic prompt")
    # Within the rounding tolerance, the same push is not a violation.
    assert check_t1(bad, r, m, b0, atol=2e-3).n_violations == 0


def test_planted_wrong_margin_is_caught():
    """A bound built from an inflated margin (a wrong, too-steep tanh) must produce violations."""
    bundle = synthetic_bundle(seed=3, n_prompts=6, n_questions=4, n_aligned=1, n_misaligned=1)
    b, r, m, b0 = _t1_inputs(bundle)
    assert check_t1(b, r, m, b0, atol=1e-9).n_violations == 0
    wrong = check_t1(b, r, 1.5 * m, b0, atol=1e-9)
    assert wrong.n_violations == wrong.n_checked > 0


def test_t1_outside_a1_is_not_counted_as_a_violation():
    bundle = synthetic_bundle(seed=4, n_prompts=4, n_questions=2, a1_failing=(0, 3))
    b, r, m, b0 = _t1_inputs(bundle)
    out = check_t1(b, r, m, b0)
    assert out.n_outside_a1 == 2 * 20 and out.n_checked == 2 * 20
    assert out.n_violations == 0
    assert not out.checked_qc[[0, 3]].any()


def test_check_t1_shape_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        check_t1(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)), np.zeros(2))


def test_helpfulness_values_match_a_direct_softmax():
    bundle = synthetic_bundle(seed=5, n_prompts=2, n_questions=7)
    h = bundle.helpfulness
    out = helpfulness_values(h)
    lp = h.logprobs_qco
    p = np.exp(lp - lp.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = np.take_along_axis(p, h.correct_q[:, None, None], axis=2)[..., 0]
    np.testing.assert_allclose(out["restricted_qc"], expected, rtol=1e-12)
    np.testing.assert_allclose(out["full_qc"], np.exp(np.take_along_axis(lp, h.correct_q[:, None, None], 2)[..., 0]))
    argmax_ok = (np.argmax(lp, -1) == h.correct_q[:, None]).astype(float)
    np.testing.assert_array_equal(out["accuracy_restricted_qc"], argmax_ok)


def test_t2_on_gaussian_gap_changes():
    """Under A2 the measured mean lies above T2a (up to noise) and follows T2b at small r."""
    bundle = synthetic_bundle(seed=6, n_prompts=2, n_questions=400, gap_scale=0.2,
                              helpfulness_coefficients=np.linspace(-3, 3, 13))
    a2 = a2_gap_changes(bundle.helpfulness)
    h = helpfulness_values(bundle.helpfulness)["restricted_qc"]
    i0 = 6
    out = compare_t2(h, a2.radius_qc, a2.gaps_qci[:, i0], a2.covariance.sigma_kk)
    assert np.all(out.z_t2a_c > -2.5)
    small = np.abs(bundle.helpfulness.coefficients_c) <= 1
    np.testing.assert_allclose(out.t2b_c[small], out.measured_c[small], atol=3 * out.measured_se_c.max())
    np.testing.assert_allclose(out.p0_q, h[:, i0], rtol=1e-10)


def test_analysis_of_a_holding_bundle():
    result = analyze_bundle(synthetic_bundle(seed=7, n_prompts=6, n_questions=60))
    v = result.verdicts
    assert v.to_dict() == {"A1": True, "A2": True, "A3": True, "A4": True, "T1_violations": 0}
    assert result.consistency.behaviour_max < 1e-9
