"""The activation bundle: round trip, and clear errors for malformed or incomplete bundles."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from steerbounds.validation import (
    BundleError,
    ValidationConfig,
    analyze_bundle,
    load_bundle,
    save_bundle,
    synthetic_bundle,
    validate_bundle,
)


@pytest.fixture(scope="module")
def bundle():
    return synthetic_bundle(seed=3, n_prompts=4, n_questions=6, d=12, vocab_size=20)


def _replace(bundle, part, **changes):
    return dataclasses.replace(bundle, **{part: dataclasses.replace(getattr(bundle, part), **changes)})


def test_round_trip_keeps_every_array_and_field(bundle, tmp_path):
    loaded = load_bundle(save_bundle(bundle, tmp_path / "b"))
    for part in ("behaviour", "helpfulness"):
        a, b = getattr(bundle, part), getattr(loaded, part)
        for field in dataclasses.fields(a):
            x, y = getattr(a, field.name), getattr(b, field.name)
            if isinstance(x, np.ndarray):
                np.testing.assert_allclose(y, x.astype(np.float32) if x.dtype != np.int64 else x, rtol=1e-6,
                                           atol=1e-6)
            else:
                assert x == y, field.name
    assert loaded.condition == bundle.condition and loaded.model == bundle.model
    np.testing.assert_array_equal(loaded.projection.labels_n, bundle.projection.labels_n)
    assert loaded.projection.class_names == bundle.projection.class_names


def test_float64_arrays_are_kept_in_float64(bundle, tmp_path):
    loaded = load_bundle(save_bundle(bundle, tmp_path / "b"))
    np.testing.assert_array_equal(loaded.behaviour.logprobs_qcr, bundle.behaviour.logprobs_qcr)


@pytest.mark.parametrize(
    ("part", "changes", "message"),
    [
        ("behaviour", {"coefficients_c": np.array([], float)}, "empty"),
        ("behaviour", {"coefficients_c": np.linspace(0.5, 5, 21)}, "does not contain 0"),
        ("helpfulness", {"coefficients_c": np.linspace(-10, 10, 41)[::-1].copy()}, "strictly increasing"),
        ("behaviour", {"coefficients_c": np.array([0.0])}, "only c = 0"),
        ("behaviour", {"aligned_ids": ()}, "aligned_ids is empty"),
        ("behaviour", {"misaligned_ids": (0, 3)}, "share ids"),
        ("helpfulness", {"correct_q": np.array([0, 1, 2, 3, 4, 0])}, "outside"),
        ("helpfulness", {"correct_q": np.zeros(6)}, "integer"),
        ("helpfulness", {"option_ids": (4,)}, "at least two options"),
    ],
)
def test_bad_fields_raise_naming_the_problem(bundle, part, changes, message):
    with pytest.raises(BundleError, match=message):
        validate_bundle(_replace(bundle, part, **changes))


def test_array_problems_raise(bundle):
    lp = bundle.behaviour.logprobs_qcr.copy()
    lp[1, 2, 0] = np.nan
    with pytest.raises(BundleError, match=r"logprobs_qcr holds NaN or inf \(first at index \[1, 2, 0\]\)"):
        validate_bundle(_replace(bundle, "behaviour", logprobs_qcr=lp))
    with pytest.raises(BundleError, match="logprobs_qcr has shape"):
        validate_bundle(_replace(bundle, "behaviour", logprobs_qcr=lp[:, :-1]))
    with pytest.raises(BundleError, match="values > 0"):
        validate_bundle(_replace(bundle, "behaviour", logprobs_qcr=bundle.behaviour.logprobs_qcr + 50.0))
    delta = bundle.helpfulness.delta_qcd + 1.0
    with pytest.raises(BundleError, match="delta at c = 0"):
        validate_bundle(_replace(bundle, "helpfulness", delta_qcd=delta))
    with pytest.raises(BundleError, match="unembed_od has shape"):
        validate_bundle(_replace(bundle, "helpfulness", unembed_od=bundle.helpfulness.unembed_od[:, :-1]))


def test_inconsistent_delta_is_rejected_by_the_analysis(bundle):
    """A delta that is not the change of the unembedded representation (e.g. pre-norm) is an error, not a finding."""
    wrong = _replace(bundle, "behaviour", delta_qcd=bundle.behaviour.delta_qcd * 1.5)
    with pytest.raises(BundleError, match="do not change by <delta, u_t>"):
        analyze_bundle(wrong)


def test_disk_errors(bundle, tmp_path):
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(tmp_path / "missing")
    d = save_bundle(bundle, tmp_path / "b")
    (d / "arrays.safetensors").write_bytes((d / "arrays.safetensors").read_bytes()[:-10])
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(d)
    d = save_bundle(bundle, tmp_path / "c")
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(d)
    d = save_bundle(bundle, tmp_path / "e")
    (d / "arrays.safetensors").unlink()
    with pytest.raises(BundleError, match="arrays.safetensors is missing"):
        load_bundle(d)


def _edit_manifest(d, edit):
    m = json.loads((d / "manifest.json").read_text())
    edit(m)
    (d / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format="other"), "does not declare format"),
        (lambda m: m.update(version=99), "version 99 is not supported"),
        (lambda m: m["behaviour"].pop("aligned_ids"), "missing field 'aligned_ids'"),
        (lambda m: m["helpfulness"].update(correct="A"), "integer option indices"),
        (lambda m: m["helpfulness"].update(option_ids=["A", "B"]), "integer token ids"),
        (lambda m: m.pop("condition"), "missing field 'condition'"),
    ],
)
def test_malformed_manifest(bundle, tmp_path, edit, message):
    d = save_bundle(bundle, tmp_path / "b")
    _edit_manifest(d, edit)
    with pytest.raises(BundleError, match=message):
        load_bundle(d)


def test_missing_array_in_an_unhashed_bundle(bundle, tmp_path):
    """Hand-written bundles may omit the hash; a missing array is then named."""
    from safetensors.numpy import load_file, save_file

    d = save_bundle(bundle, tmp_path / "b")
    arrays = load_file(str(d / "arrays.safetensors"))
    arrays.pop("helpfulness.max_logprob_qc")
    save_file(arrays, str(d / "arrays.safetensors"))
    _edit_manifest(d, lambda m: m.pop("arrays_sha256"))
    with pytest.raises(BundleError, match="helpfulness.max_logprob_qc"):
        load_bundle(d)
