"""The study on a small random transformer: resume after an interruption, refuse mixing, bundle round trip."""

from __future__ import annotations

import numpy as np
import pytest

from steerbounds.validation import ValidationConfig, analyze_bundle, condition_to_json, load_bundle
from steerbounds.validation.studies import ResumeMismatchError, run_study, study_and_report
from steerbounds.validation.studies._study import StudyConfig, _tiny_model_and_data, coefficient_grid

CONFIG = StudyConfig(behaviour_grid=(-2, 2, 0.5), helpfulness_grid=(-3, 3, 0.75), chunk_size=4)


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def inputs():
    return _tiny_model_and_data(seed=1)


def test_interrupted_study_resumes_and_matches_an_uninterrupted_run(inputs, tmp_path, monkeypatch):
    model, data = inputs
    real = model.sweep_chunk
    calls = []

    def counting(*args, **kwargs):
        calls.append(np.array(args[2]))  # the chunk's coefficients
        if fail_at is not None and len(calls) == fail_at:
            raise Interrupted
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "sweep_chunk", counting)
    fail_at = 4  # behaviour has 3 chunks: the interruption hits the first helpfulness chunk
    with pytest.raises(Interrupted):
        run_study(model, data, CONFIG, tmp_path / "run")
    assert len(calls) == 4
    kept = sorted(p.name for p in (tmp_path / "run" / "work").glob("*.safetensors"))
    assert kept == ["behaviour-0000.safetensors", "behaviour-0001.safetensors", "behaviour-0002.safetensors",
                    "vectors.safetensors"]

    calls.clear()
    fail_at = None
    resumed = run_study(model, data, CONFIG, tmp_path / "run")
    n_help_chunks = -(-CONFIG.helpfulness_coefficients().size // CONFIG.chunk_size)
    assert len(calls) == n_help_chunks  # no behaviour chunk redone
    np.testing.assert_array_equal(np.concatenate(calls), CONFIG.helpfulness_coefficients())

    calls.clear()
    fresh = run_study(model, data, CONFIG, tmp_path / "fresh")
    for a, b in zip(resumed, fresh):
        np.testing.assert_array_equal(a.behaviour.logprobs_qcr, b.behaviour.logprobs_qcr)
        np.testing.assert_array_equal(a.helpfulness.delta_qcd, b.helpfulness.delta_qcd)


def test_resume_refuses_another_configuration_or_model(inputs, tmp_path):
    model, data = inputs
    other_model, _ = _tiny_model_and_data(seed=2)
    run_study(model, data, CONFIG, tmp_path)
    other = StudyConfig(behaviour_grid=(-2, 2, 0.25), helpfulness_grid=(-3, 3, 0.75), chunk_size=4)
    with pytest.raises(ResumeMismatchError, match="study.behaviour_grid"):
        run_study(model, data, other, tmp_path)
    with pytest.raises(ResumeMismatchError, match="model.hash"):
        run_study(other_model, data, CONFIG, tmp_path)
    assert len(run_study(other_model, data, CONFIG, tmp_path, fresh=True)) == 2


def test_reproduce_report_equals_analysis_of_the_saved_bundles(inputs, tmp_path):
    """Round trip: the bundles written by the study, analysed from disk, give the same report."""
    out = study_and_report(*inputs, CONFIG, tmp_path, progress=False, figures=False)
    report = out["report"]
    assert report["command"] == "reproduce" and report["model"]["hash"].startswith("sha256:")
    assert report["config"]["run"]["behaviour_grid"] == [-2, 2, 0.5]
    for name in ("mid_layers", "final_representation"):
        again = condition_to_json(analyze_bundle(load_bundle(tmp_path / "bundles" / name), ValidationConfig()))
        assert again == report["conditions"][name]
    final = report["conditions"]["final_representation"]
    # Final-representation steering: delta = c v exactly, so A3 holds with kappa = 1.
    assert final["assumptions"]["A3"]["holds"]
    assert final["assumptions"]["A3"]["behaviour"]["kappa_summary"]["median"] == pytest.approx(1.0, abs=1e-6)
    assert report["conditions"]["mid_layers"]["T1"]["n_violations"] == 0


def test_grids_must_be_valid():
    with pytest.raises(ValueError, match="does not contain 0"):
        coefficient_grid(0.1, 1.0, 0.2)
    with pytest.raises(ValueError, match="empty"):
        coefficient_grid(1.0, -1.0, 0.5)
    with pytest.raises(ValueError, match="step must be positive"):
        coefficient_grid(-1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="only c = 0"):
        coefficient_grid(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="behaviour grid"):
        StudyConfig(behaviour_grid=(0.5, 5, 0.5))
    np.testing.assert_array_equal(coefficient_grid(-5, 5, 0.2)[[0, 25, 50]], [-5.0, 0.0, 5.0])
