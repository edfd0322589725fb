"""Bundle format version 2: option rows per question (readouts whose candidates differ by question)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.special import log_softmax

from steerbounds.validation import (
    BundleError,
    HelpfulnessSweep,
    analyze_bundle,
    gap_changes,
    load_bundle,
    save_bundle,
    synthetic_bundle,
    validate_bundle,
)
from steerbounds.validation._tradeoff import tradeoff


@pytest.fixture(scope="module")
def shared():
    return synthetic_bundle(seed=5, n_prompts=3, n_questions=24, d=12, vocab_size=20)


def _as_per_question(bundle):
    h = bundle.helpfulness
    rows = np.broadcast_to(h.unembed_od[None], (h.n_questions, *h.unembed_od.shape)).copy()
    return dataclasses.replace(bundle, helpfulness=dataclasses.replace(h, unembed_od=None, unembed_qod=rows))


def _own_rows_bundle(shared, seed=0):
    """Questions with genuinely different option rows; log-probabilities over the options (the whole vocabulary)."""
    rng = np.random.default_rng(seed)
    h = shared.helpfulness
    nq, nc, d = h.delta_qcd.shape
    rows_qod = rng.normal(size=(nq, 4, d))
    h0_qd = rng.normal(size=(nq, d)) / np.sqrt(d)
    lp = log_softmax(np.einsum("qcd,qod->qco", h0_qd[:, None, :] + h.delta_qcd, rows_qod), axis=-1)
    part = HelpfulnessSweep(h.coefficients_c, lp, lp.max(-1), h.delta_qcd, None, (0, 1, 2, 3), h.correct_q,
                            unembed_qod=rows_qod)
    return dataclasses.replace(shared, helpfulness=part)


def test_per_question_rows_equal_to_shared_rows_give_the_same_analysis(shared):
    a, b = analyze_bundle(shared), analyze_bundle(_as_per_question(shared))
    assert a.sizes.option_rows == "shared" and b.sizes.option_rows == "per_question"
    np.testing.assert_allclose(b.assumptions.a2.x_qci, a.assumptions.a2.x_qci, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.t2.t2a_c, a.t2.t2a_c, rtol=1e-12)
    assert b.verdicts == a.verdicts
    assert b.consistency.helpfulness_max == pytest.approx(a.consistency.helpfulness_max, abs=1e-12)


def test_gap_changes_use_each_questions_own_rows(shared):
    bundle = _own_rows_bundle(shared)
    h = bundle.helpfulness
    _, x = gap_changes(h)
    rows = h.unembed_qod
    for q in (0, 7, 23):
        star = int(h.correct_q[q])
        others = [o for o in range(4) if o != star]
        want = np.einsum("cd,kd->ck", h.delta_qcd[q], rows[q, others] - rows[q, star])
        np.testing.assert_allclose(x[q], want, rtol=1e-10, atol=1e-12)
    analyze_bundle(bundle)  # consistent: no error


def test_rows_of_the_wrong_question_are_caught(shared):
    """A planted mix-up (each question given its neighbour's rows) fails the consistency check."""
    bundle = _own_rows_bundle(shared)
    h = bundle.helpfulness
    wrong = dataclasses.replace(bundle, helpfulness=dataclasses.replace(h, unembed_qod=np.roll(h.unembed_qod, 1, 0)))
    with pytest.raises(BundleError, match="do not change by <delta, u_t>"):
        analyze_bundle(wrong)


def test_round_trip_writes_version_2_only_when_needed(shared, tmp_path):
    per_q = _own_rows_bundle(shared)
    d = save_bundle(per_q, tmp_path / "v2")
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["version"] == 2 and manifest["helpfulness"]["unembedding"] == "per_question"
    assert "helpfulness.unembed_qod" in manifest["arrays"] and "helpfulness.unembed_od" not in manifest["arrays"]
    loaded = load_bundle(d)
    assert loaded.helpfulness.unembed_od is None
    np.testing.assert_array_equal(loaded.helpfulness.unembed_qod, per_q.helpfulness.unembed_qod)  # float64 kept
    manifest = json.loads((save_bundle(shared, tmp_path / "v1") / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["helpfulness"]["unembedding"] == "shared"


def test_row_errors_name_the_problem(shared, tmp_path):
    h = shared.helpfulness
    with pytest.raises(BundleError, match="exactly one of unembed_od .* got both"):
        validate_bundle(dataclasses.replace(shared, helpfulness=dataclasses.replace(
            h, unembed_qod=np.broadcast_to(h.unembed_od, (h.n_questions, *h.unembed_od.shape)).copy())))
    with pytest.raises(BundleError, match="got neither"):
        validate_bundle(dataclasses.replace(shared, helpfulness=dataclasses.replace(h, unembed_od=None)))
    per_q = _own_rows_bundle(shared)
    with pytest.raises(BundleError, match="unembed_qod has shape"):
        validate_bundle(dataclasses.replace(per_q, helpfulness=dataclasses.replace(
            per_q.helpfulness, unembed_qod=per_q.helpfulness.unembed_qod[:-1])))
    d = save_bundle(per_q, tmp_path / "b")
    m = json.loads((d / "manifest.json").read_text())
    m["version"] = 1
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="needs format version 2"):
        load_bundle(d)


def test_both_row_arrays_in_one_file_are_rejected(shared, tmp_path):
    from safetensors.numpy import load_file, save_file

    d = save_bundle(_own_rows_bundle(shared), tmp_path / "b")
    arrays = load_file(str(d / "arrays.safetensors"))
    arrays["helpfulness.unembed_od"] = arrays["helpfulness.unembed_qod"][0]
    save_file(arrays, str(d / "arrays.safetensors"))
    m = json.loads((d / "manifest.json").read_text())
    m.pop("arrays_sha256")
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="holds both"):
        load_bundle(d)


def test_no_efficient_regime_without_an_alignment_gain():
    """A negative gain slope (e.g. A1's worst-case margin < 0) predicts no efficient regime, not a negative radius."""
    c = np.linspace(0, 2, 21)
    out = tradeoff(c, 0.1 * c, c, 0.5 - 0.01 * c**2, s_a_q=np.array([-0.4]), kappa_b_q=np.ones(1),
                   s_h_q=np.array([0.01]), kappa_h_q=np.ones(1), lam=1.0)
    pred = out.predicted
    assert pred.r_eff is None and pred.c_eff is None and pred.r_star is None and pred.c_star is None
    assert any("no predicted efficient regime" in n for n in out.notes)
