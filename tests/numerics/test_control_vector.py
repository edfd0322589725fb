"""Control-vector files: the llama.cpp / repeng GGUF layout, safetensors, round trips and errors."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest

from steerbounds.cli import main
from steerbounds.numerics import (
    SteeringVectors,
    export_control_vector,
    import_control_vector,
    load_steering_vectors,
    recommended_coefficient,
    save_steering_vectors,
)


def _vectors(layers=(1, 2, 3), d=8, seed=0):
    g = np.random.default_rng(seed).normal(size=(len(layers), d))
    return SteeringVectors((g / np.linalg.norm(g, axis=1, keepdims=True)).astype(np.float32), tuple(layers), "pca",
                           n_pairs=12, model_hash="abc")


def test_gguf_follows_the_llama_cpp_layout_and_reads_back_equal(tmp_path):
    sv = _vectors()
    path = export_control_vector(tmp_path / "v.gguf", sv, n_layers=4, model_hint="llama", coefficient=2.25, lam=0.5,
                                 coefficient_source="report.json condition mid_layers, lambda 0.5")
    reader = gguf.GGUFReader(str(path))
    fields = reader.fields
    assert bytes(fields["general.architecture"].parts[-1]).decode() == "controlvector"
    assert bytes(fields["controlvector.model_hint"].parts[-1]).decode() == "llama"
    assert fields["controlvector.layer_count"].types == [gguf.GGUFValueType.UINT32]
    assert int(fields["controlvector.layer_count"].parts[-1][0]) == 3
    assert [(t.name, t.tensor_type, list(t.shape)) for t in reader.tensors] == [
        (f"direction.{layer}", gguf.GGMLQuantizationType.F32, [8]) for layer in (1, 2, 3)
    ]
    cv = import_control_vector(path)
    assert cv.layers == (1, 2, 3) and cv.layer_count == 3 and cv.model_hint == "llama"
    np.testing.assert_array_equal(cv.directions_ld, sv.directions_ld)
    assert cv.recommended_coefficient == 2.25 and cv.lam == 0.5
    back = cv.steering_vectors()
    assert back.method == "pca" and back.n_pairs == 12 and back.model_hash == "abc"
    np.testing.assert_allclose(back.directions_ld, sv.directions_ld, rtol=0, atol=1e-7)


def test_safetensors_round_trip(tmp_path):
    sv = _vectors(layers=(2, 5), d=6, seed=1)
    path = export_control_vector(tmp_path / "v.safetensors", sv, n_layers=6, format="safetensors", coefficient=1.0)
    cv = import_control_vector(path)
    assert cv.layers == (2, 5) and cv.recommended_coefficient == 1.0 and cv.lam is None
    np.testing.assert_array_equal(cv.directions_ld, sv.directions_ld)
    assert cv.metadata["general.architecture"] == "controlvector"


def test_imports_a_file_written_in_repengs_layout(tmp_path):
    """repeng's export_gguf: GGUFWriter(path, "controlvector"), model_hint, layer_count, direction.{layer}."""
    rng = np.random.default_rng(3)
    directions = {layer: (rng.normal(size=16) * 3).astype(np.float32) for layer in (5, 3, 4)}  # not unit, unordered
    path = tmp_path / "repeng.gguf"
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "mistral")
    writer.add_uint32("controlvector.layer_count", len(directions))
    for layer, v in directions.items():
        writer.add_tensor(f"direction.{layer}", v)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    cv = import_control_vector(path)
    assert cv.layers == (3, 4, 5) and cv.model_hint == "mistral" and cv.recommended_coefficient is None
    np.testing.assert_array_equal(cv.directions_ld, np.stack([directions[k] for k in (3, 4, 5)]))
    np.testing.assert_allclose(cv.norms_l, [np.linalg.norm(directions[k]) for k in (3, 4, 5)], rtol=1e-6)
    sv = cv.steering_vectors()
    assert sv.method == "imported"
    np.testing.assert_allclose(np.linalg.norm(sv.directions_ld, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(("layers", "message"), [((0, 1), "layer 0"), ((1, 4), "final representation"),
                                                 ((1, 7), "not a layer")])
def test_layers_llama_cpp_cannot_steer_are_refused(tmp_path, layers, message):
    with pytest.raises(ValueError, match=message):
        export_control_vector(tmp_path / "v.gguf", _vectors(layers=layers), n_layers=4)
    assert not (tmp_path / "v.gguf").exists()


def test_bad_arguments_and_files_are_named(tmp_path):
    sv = _vectors()
    with pytest.raises(ValueError, match="format"):
        export_control_vector(tmp_path / "v.bin", sv, n_layers=4, format="npz")
    with pytest.raises(ValueError, match="coefficient"):
        export_control_vector(tmp_path / "v.gguf", sv, n_layers=4, coefficient=float("nan"))
    model = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(model), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((4, 2), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="architecture 'llama'"):
        import_control_vector(model)
    zero = tmp_path / "zero.gguf"
    writer = gguf.GGUFWriter(str(zero), "controlvector")
    writer.add_tensor("direction.0", np.ones(4, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="direction.0"):
        import_control_vector(zero)
    (tmp_path / "junk.gguf").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="not a readable"):
        import_control_vector(tmp_path / "junk.gguf")


def _report(tmp_path):
    report = {"conditions": {
        "mid_layers": {"metadata": {"layers": [1, 2]}, "tradeoff": {"lam": 1.0, "measured": {"best_c": 1.75}}},
        "final_representation": {"metadata": {"layers": [4]}, "tradeoff": {"lam": 1.0, "measured": {"best_c": 3.0}}},
    }}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def test_recommended_coefficient_from_a_report(tmp_path):
    path = _report(tmp_path)
    rec = recommended_coefficient(path, n_layers=4)  # the only condition a control vector can hold
    assert (rec.coefficient, rec.lam, rec.condition, rec.layers) == (1.75, 1.0, "mid_layers", (1, 2))
    assert recommended_coefficient(path, condition="final_representation").coefficient == 3.0
    with pytest.raises(ValueError, match="choose one"):
        recommended_coefficient(path)
    with pytest.raises(ValueError, match="no best coefficient for lambda 2"):
        recommended_coefficient(path, n_layers=4, lam=2.0)
    interval_form = {"conditions": {"c": {"measured_tradeoff": {"best_c": {"0.5": {"estimate": 0.8}, "1": {"estimate": 0.4}}}}}}
    assert recommended_coefficient(interval_form, lam=0.5).coefficient == 0.8


def test_cli_export_with_report_then_import(tmp_path, capsys):
    vec = tmp_path / "vectors.safetensors"
    save_steering_vectors(vec, _vectors(layers=(1, 2, 4)))  # as reproduce writes them: mid layers + final
    out = tmp_path / "refusal.gguf"
    assert main(["vectors", "export", str(vec), "--format", "gguf", "--out", str(out), "--n-layers", "4",
                 "--report", str(_report(tmp_path)), "--model-hint", "gpt2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["layers"] == [1, 2] and summary["recommended_coefficient"] == 1.75
    cv = import_control_vector(out)
    assert cv.layers == (1, 2) and cv.recommended_coefficient == 1.75
    assert cv.metadata["steerbounds.coefficient_source"].endswith("condition mid_layers, lambda 1")
    back = tmp_path / "back.safetensors"
    assert main(["vectors", "import", str(out), "--out", str(back)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["layers"] == [1, 2] and shown["recommended_coefficient"] == 1.75
    np.testing.assert_allclose(load_steering_vectors(back).directions_ld, cv.directions_ld, atol=1e-7)
    assert main(["vectors", "export", str(vec), "--out", str(out), "--n-layers", "4"]) == 2  # layer 4: the final h
    err = capsys.readouterr().err
    assert err.startswith("steerbounds vectors: ") and err.count("\n") == 1 and "final representation" in err
    assert main(["vectors", "import", str(tmp_path / "missing.gguf")]) == 2
