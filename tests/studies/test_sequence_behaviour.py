"""The sequence-level behaviour step of the study: sampled responses, resumable, deterministic, skipped without text."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from steerbounds.cli import main
from steerbounds.numerics import make_steering, refusal_score
from steerbounds.validation import analyze_bundle, build_report, load_bundle, render_markdown
from steerbounds.validation.studies._store import SweepStore
from steerbounds.validation.studies._study import StudyConfig, _tiny_model_and_data, run_study, sequence_sweep

CONFIG = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3, samples_per_prompt=2,
                     max_new_tokens=4, seed=3)


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model_and_data(seed=0)


@pytest.fixture(scope="module")
def study(tiny, tmp_path_factory):
    model, data = tiny
    out = tmp_path_factory.mktemp("study")
    return run_study(model, data, CONFIG, out), out


@pytest.fixture()
def steering(tiny):
    model, _ = tiny
    v = np.random.default_rng(0).normal(size=model.config.d_model).astype(np.float32)
    return make_steering(model.config, jnp.asarray(v / np.linalg.norm(v)), layers=[1])


def test_the_mid_layer_bundle_carries_scored_responses(study, tiny):
    (mid, final), out = study
    _, data = tiny
    seq = mid.sequence
    assert seq is not None and final.sequence is None
    assert "mid-layer condition only" in final.metadata["sequence_behaviour"]["skipped"]
    assert seq.coefficients_c.tolist() == [-1.0, 0.0, 1.0]
    assert seq.scores_qcs.shape == (len(data.behaviour_prompts), 3, 2)
    assert np.all((seq.lengths_qcs >= 1) & (seq.lengths_qcs <= CONFIG.max_new_tokens))
    scored = np.array([refusal_score(t) for t in seq.responses]).reshape(seq.scores_qcs.shape)
    np.testing.assert_array_equal(scored, seq.scores_qcs)  # every score is the classifier's on its own text
    loaded = load_bundle(out / "bundles" / "mid_layers").sequence
    assert loaded.responses == seq.responses and np.array_equal(loaded.lengths_qcs, seq.lengths_qcs)
    rows = [json.loads(line) for line in (out / "bundles" / "mid_layers" / "sequence_responses.jsonl").read_text().splitlines()]
    assert len(rows) == seq.scores_qcs.size and set(rows[0]) == {"prompt", "coefficient", "sample", "length",
                                                                  "score", "text"}


def test_report_section_and_json(study):
    (mid, final), _ = study
    report = build_report([analyze_bundle(mid), analyze_bundle(final)])
    seq = report["conditions"]["mid_layers"]["sequence"]
    assert seq["measured"] and seq["n_samples"] == 2 and len(seq["mean_c"]) == 3
    assert report["conditions"]["final_representation"]["sequence"]["measured"] is False
    md = render_markdown(report)
    assert "### Sequence-level behaviour (sampled responses)" in md
    assert "| c | sequence B ± SE |" in md and "Not measured: sampled on the mid-layer condition only" in md


def test_interrupted_step_resumes_with_the_same_texts(tiny, steering, tmp_path, monkeypatch):
    model, data = tiny
    c = CONFIG.behaviour_coefficients()
    reference = sequence_sweep(model, data, CONFIG, SweepStore(tmp_path / "ref", {"k": 1}), steering, c)
    real, calls = model.sample_sweep, []

    def counting(*args, **kwargs):
        calls.append(np.asarray(args[2]).tolist())
        if fail_at is not None and len(calls) == fail_at:
            raise Interrupted
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "sample_sweep", counting)
    fail_at = 2
    store = SweepStore(tmp_path / "run", {"k": 1})
    with pytest.raises(Interrupted):
        sequence_sweep(model, data, CONFIG, store, steering, c)
    assert len(list((tmp_path / "run").glob("sequence-*-0000.jsonl"))) == 1  # the finished chunk is kept
    fail_at, calls[:] = None, []
    resumed = sequence_sweep(model, data, CONFIG, SweepStore(tmp_path / "run", {"k": 1}), steering, c)
    assert calls == [[0.0], [1.0]]  # only the unfinished chunks run again
    assert resumed.responses == reference.responses  # same seed, same texts
    np.testing.assert_array_equal(resumed.scores_qcs, reference.scores_qcs)
    # other sampling settings never reuse the chunks; another seed draws other texts
    calls[:] = []
    other = sequence_sweep(model, data, dataclasses.replace(CONFIG, seed=4), store, steering, c)
    assert len(calls) == 3 and other.responses != reference.responses


def test_a_model_without_text_is_skipped_and_the_report_says_why(tiny, tmp_path):
    model, data = tiny

    class NoText:  # the decoder behind an adapter that writes no text
        generates_text = False
        NO_TEXT_REASON = "an encoder with a readout writes no text"

        def __getattr__(self, name):
            return getattr(model, name)

    mid, _ = run_study(NoText(), data, CONFIG, tmp_path)
    assert mid.sequence is None
    assert "generates no text: an encoder with a readout writes no text" in mid.metadata["sequence_behaviour"]["skipped"]
    md = render_markdown(build_report([analyze_bundle(mid)]))
    assert "Not measured: the model tiny-random generates no text" in md


def test_readout_adapter_generates_no_text():
    from steerbounds.numerics import ReadoutStudyModel

    adapter = ReadoutStudyModel.minilm()  # the encoder loads only when used: not here
    assert adapter.generates_text is False
    with pytest.raises(ValueError, match="writes no text"):
        adapter.sample_sweep(None, None, [0.0], key=0, n_samples=2, max_new_tokens=4)


@pytest.mark.parametrize("fields, words", [
    ({"samples_per_prompt": -1}, ["samples_per_prompt", "--samples", ">= 0"]),
    ({"samples_per_prompt": 2.0}, ["samples_per_prompt", "int"]),
    ({"max_new_tokens": 0}, ["max_new_tokens", "--max-new-tokens"]),
    ({"temperature": 0.0}, ["temperature", "> 0"]),
    ({"temperature": float("nan")}, ["temperature", "finite"]),
    ({"sequence_prompts": 1}, ["sequence_prompts", "over prompts"]),
    ({"sequence_chunk_size": 0}, ["sequence_chunk_size"]),
    ({"sequence_coefficients": (1.0, 2.0)}, ["sequence_coefficients", "contain 0"]),
    ({"sequence_coefficients": (0.0, -1.0)}, ["sequence_coefficients", "increasing"]),
    ({"sequence_coefficients": (0.0, 0.5)}, ["sequence_coefficients", "[0.5] are not on the behaviour grid"]),
])
def test_bad_sequence_settings_are_named(fields, words):
    with pytest.raises(ValueError) as err:
        dataclasses.replace(CONFIG, **fields)
    for word in words:
        assert word in str(err.value)


def test_cli_rejects_bad_sequence_options_in_one_line(capsys, tmp_path):
    for argv, word in ((["--samples", "-2"], "--samples"), (["--temperature", "0"], "--temperature"),
                       (["--sequence-coefficients", "a,b"], "--sequence-coefficients"),
                       (["--sequence-prompts", "x"], "--sequence-prompts"),
                       (["--sequence-chunk-size", "0"], "--sequence-chunk-size"),
                       (["--model", "smollm2", "--behaviour-grid", "-2", "2", "1"], "not on the behaviour grid")):
        assert main(["reproduce", "--out", str(tmp_path / "r"), "--no-progress", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and word in err and "Traceback" not in err


def test_too_many_sequence_prompts_is_an_error(tiny, steering, tmp_path):
    model, data = tiny
    cfg = dataclasses.replace(CONFIG, sequence_prompts=len(data.behaviour_prompts) + 1)
    with pytest.raises(ValueError, match="sequence_prompts"):
        sequence_sweep(model, data, cfg, SweepStore(tmp_path, {}), steering, cfg.behaviour_coefficients())
