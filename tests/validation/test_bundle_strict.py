"""The bundle loader names the bundle in every error and checks dtypes, shapes and array names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from steerbounds.validation import BundleError, load_bundle, save_bundle, synthetic_bundle


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return save_bundle(synthetic_bundle(seed=3, n_prompts=3, n_questions=4, d=8, vocab_size=16), root / "good")


def _copy(saved, tmp_path, *, arrays=None, manifest=None):
    """A copy of the saved bundle with its arrays and/or manifest edited (the digest is dropped)."""
    folder = tmp_path / "edited"
    folder.mkdir()
    tensors = load_file(str(saved / "arrays.safetensors"))
    meta = json.loads((saved / "manifest.json").read_text())
    meta.pop("arrays_sha256")
    if arrays is not None:
        arrays(tensors)
    if manifest is not None:
        manifest(meta)
    save_file(tensors, str(folder / "arrays.safetensors"))
    (folder / "manifest.json").write_text(json.dumps(meta))
    return folder


def test_manifest_errors_name_the_bundle(saved, tmp_path):
    folder = _copy(saved, tmp_path, manifest=lambda m: m.pop("behaviour"))
    with pytest.raises(BundleError, match=rf"^bundle {folder}: manifest: missing field 'behaviour'"):
        load_bundle(folder)


@pytest.mark.parametrize("dtype", [np.float16, np.int32])
def test_wrong_dtype_is_refused(saved, tmp_path, dtype):
    def edit(t):
        t["behaviour.logprobs_qcr"] = t["behaviour.logprobs_qcr"].astype(dtype)

    folder = _copy(saved, tmp_path, arrays=edit)
    with pytest.raises(BundleError, match=rf"array 'behaviour.logprobs_qcr' has dtype {np.dtype(dtype).name}"):
        load_bundle(folder)


def test_shape_table_is_checked(saved, tmp_path):
    def edit(m):
        m["arrays"]["behaviour.delta_qcd"] = [1, 2, 3]

    folder = _copy(saved, tmp_path, manifest=edit)
    with pytest.raises(BundleError, match=r"'behaviour.delta_qcd' has shape \[.*\] but the manifest's 'arrays' table"):
        load_bundle(folder)


def test_unknown_arrays_are_named(saved, tmp_path):
    def edit(t):
        t["behaviour.extra"] = np.zeros(3, np.float32)

    folder = _copy(saved, tmp_path, arrays=edit)
    with pytest.raises(BundleError, match=r"stored but not listed \['behaviour.extra'\]"):
        load_bundle(folder)  # listed in no table: the table disagrees
    folder2 = tmp_path / "second"
    folder2.mkdir()
    tensors = load_file(str(folder / "arrays.safetensors"))
    meta = json.loads((folder / "manifest.json").read_text())
    meta.pop("arrays")
    save_file(tensors, str(folder2 / "arrays.safetensors"))
    (folder2 / "manifest.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"does not read, ignored: \['behaviour.extra'\]"):
        load_bundle(folder2)
