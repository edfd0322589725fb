"""Resumable sweeps: an interrupted run keeps its finished chunks and computes only the rest."""

from __future__ import annotations

import numpy as np
import pytest

from steerbounds.validation.studies import ResumeMismatchError, SweepStore, run_chunked


class Interrupted(Exception):
    pass


def _compute(calls, fail_after=None):
    def compute(c):
        if fail_after is not None and len(calls) >= fail_after:
            raise Interrupted
        calls.append(c.copy())
        return {"y_qc": np.stack([np.sin(c), c**2]), "z_qcd": np.ones((2, c.size, 3)) * c[None, :, None]}

    return compute


def test_interrupted_sweep_resumes_without_redoing_finished_chunks(tmp_path):
    grid = np.linspace(-5, 5, 51)
    fingerprint = {"grid": grid.tolist(), "model": "sha256:abc"}
    first = []
    with pytest.raises(Interrupted):
        run_chunked(SweepStore(tmp_path, fingerprint), "behaviour", grid, 8, _compute(first, fail_after=3))
    assert len(first) == 3  # three chunks finished before the interruption
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [f"behaviour-000{i}.safetensors" for i in range(3)]
    second = []
    reused = []
    out = run_chunked(SweepStore(tmp_path, fingerprint), "behaviour", grid, 8, _compute(second), on_chunk=reused.append)
    assert len(second) == 4  # 7 chunks in all, 3 kept
    np.testing.assert_array_equal(np.concatenate(second), grid[24:])
    assert reused == [True] * 3 + [False] * 4
    reference = run_chunked(SweepStore(tmp_path / "ref", fingerprint), "behaviour", grid, 8, _compute([]))
    for k in reference:
        np.testing.assert_array_equal(out[k], reference[k])
    # A third run recomputes nothing.
    third = []
    run_chunked(SweepStore(tmp_path, fingerprint), "behaviour", grid, 8, _compute(third))
    assert third == []


def test_different_fingerprint_is_refused_with_the_differing_fields(tmp_path):
    SweepStore(tmp_path, {"grid": [0, 1], "model": "sha256:a", "seed": 0})
    with pytest.raises(ResumeMismatchError, match=r"differs in: model, seed.*--fresh"):
        SweepStore(tmp_path, {"grid": [0, 1], "model": "sha256:b", "seed": 1})


def test_fresh_discards_old_chunks(tmp_path):
    store = SweepStore(tmp_path, {"v": 1})
    store.save("p", 0, {"x": np.zeros((1, 2))})
    store = SweepStore(tmp_path, {"v": 2}, fresh=True)
    assert not store.done("p", 0)
    assert SweepStore(tmp_path, {"v": 2}).fingerprint == {"v": 2}


def test_unreadable_chunk_is_recomputed_not_trusted(tmp_path):
    grid = np.arange(4.0)
    store = SweepStore(tmp_path, {"v": 1})
    run_chunked(store, "p", grid, 2, _compute([]))
    store.path("p", 1).write_bytes(b"garbage")
    calls = []
    run_chunked(store, "p", grid, 2, _compute(calls))
    assert len(calls) == 1 and np.array_equal(calls[0], grid[2:])


def test_bad_compute_output_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="axis 1 must run over"):
        run_chunked(SweepStore(tmp_path, {}), "p", np.arange(3.0), 2, lambda c: {"y": np.zeros((5,))})
