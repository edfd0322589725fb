"""The shipped toy model: it loads, matches its recorded hash, meets its targets; broken files are errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from steerbounds.numerics import TOY_MODEL_DIR, evaluate_toy_model, load_toy_model, model_hash, save_toy_model


@pytest.fixture(scope="module")
def toy():
    return load_toy_model()


@pytest.fixture(scope="module")
def evaluation(toy):
    return evaluate_toy_model(toy.model, toy.world)


def test_shipped_checkpoint_is_small_and_complete():
    sizes = {p.name: p.stat().st_size for p in TOY_MODEL_DIR.iterdir()}
    assert set(sizes) == {"model.safetensors", "config.json", "world.json"}
    assert sum(sizes.values()) < 5 * 2**20


def test_loads_and_reproduces_its_recorded_hash(toy):
    recorded = json.loads((TOY_MODEL_DIR / "config.json").read_text())
    assert toy.model_hash == recorded["model_hash"] == model_hash(toy.model)
    assert toy.config.vocab_size == len(toy.world.vocab)
    assert toy.train_config.steps == recorded["training"]["steps"]


def test_meets_the_targets_on_held_out_sets(evaluation):
    assert evaluation.n_mc >= 200 and evaluation.n_harmful >= 90
    assert evaluation.mc_accuracy >= 0.7
    assert 0.6 <= evaluation.mc_p_correct <= 0.9  # graded uncertainty: neither certain nor guessing
    lo, q10, _, _, _, q90, hi = evaluation.mc_p_correct_quantiles
    assert q10 < 0.55 and q90 > 0.85 and lo < 0.35 and hi > 0.9  # graded: from near chance to confident
    assert sum(evaluation.mc_p_correct_histogram) == evaluation.n_mc
    assert -0.6 <= evaluation.harmful_behaviour <= 0.6  # neither aligned nor misaligned: room both ways
    assert evaluation.harmless_behaviour < -0.9  # harmless prompts are complied with
    assert evaluation.harmful_mass > 0.95 and evaluation.harmless_mass > 0.95  # A4 holds at c = 0


def test_recorded_evaluation_is_what_the_model_gives(toy, evaluation):
    recorded = toy.recorded["evaluation"]
    for key, value in evaluation.to_dict().items():
        assert recorded[key] == pytest.approx(value, abs=1e-5), key


def test_saving_again_rewrites_the_files_byte_for_byte(toy, tmp_path):
    rec = toy.recorded
    save_toy_model(tmp_path, toy.model, toy.world, toy.train_config, final_loss=rec["final_loss"],
                   evaluation=rec["evaluation"])
    for name in ("model.safetensors", "config.json", "world.json"):
        assert (tmp_path / name).read_bytes() == (TOY_MODEL_DIR / name).read_bytes(), name


def _copy(tmp_path):
    folder = tmp_path / "toy"
    shutil.copytree(TOY_MODEL_DIR, folder)
    return folder


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "world.json"])
def test_missing_file_is_named(tmp_path, name):
    folder = _copy(tmp_path)
    (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match=name):
        load_toy_model(folder)


def test_corrupt_files_are_errors(tmp_path):
    folder = _copy(tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_toy_model(folder)

    folder = _copy(tmp_path / "b")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_toy_model(folder)

    folder = _copy(tmp_path / "c")
    world = json.loads((folder / "world.json").read_text())
    world["vocab"] = world["vocab"][:-1]
    (folder / "world.json").write_text(json.dumps(world))
    with pytest.raises(ValueError, match="vocab"):
        load_toy_model(folder)


def test_tampered_weights_fail_the_hash_check(tmp_path):
    folder = _copy(tmp_path)
    tensors = load_file(str(folder / "model.safetensors"))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].copy()
    tensors[name].flat[0] = np.float32(tensors[name].flat[0] + 1e-3)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match="hash"):
        load_toy_model(folder)


def test_mismatched_parameters_are_named(tmp_path):
    folder = _copy(tmp_path)
    tensors = load_file(str(folder / "model.safetensors"))
    name = sorted(tensors)[0]
    del tensors[name]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match="missing parameters"):
        load_toy_model(folder)
