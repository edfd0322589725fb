"""Resumable coefficient sweeps: finished chunks on disk, written atomically.

A sweep over a coefficient grid is cut into chunks; each finished chunk is saved
as a safetensors file (temporary file, then ``os.replace``). A later run with the
same fingerprint (configuration and model hash) loads the finished chunks and
computes only the rest; a run with a different fingerprint refuses to mix results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._bundle import atomic_write_bytes

FINGERPRINT_NAME = "fingerprint.json"


class ResumeMismatchError(RuntimeError):
    """Finished results in a directory come from a different configuration or model.

    >>> import tempfile
    >>> d = tempfile.mkdtemp(); _ = SweepStore(d, {"model": "a"})
    >>> SweepStore(d, {"model": "b"})
    Traceback (most recent call last):
    ...
    steerbounds.validation.studies._store.ResumeMismatchError: ...differs in: model)...
    """


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


class SweepStore:
    """A directory of finished sweep chunks tied to one fingerprint.

    ``fingerprint`` is any JSON-ready dict (configuration, model hash, versions).
    Opening a directory that holds a different fingerprint raises
    :class:`ResumeMismatchError` naming the differing fields, unless ``fresh``
    (then the old chunks are deleted first).

    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> store = SweepStore(d, {"grid": [0, 1], "model": "m"})
    >>> store.save("part", 0, {"x": np.zeros(2)}); store.done("part", 0)
    True
    >>> SweepStore(d, {"grid": [0, 2], "model": "m"})
    Traceback (most recent call last):
    ...
    steerbounds.validation.studies._store.ResumeMismatchError: ...differs in: grid...
    """

    def __init__(self, directory: str | os.PathLike, fingerprint: dict[str, Any], *, fresh: bool = False) -> None:
        self.directory = Path(directory)
        self.fingerprint = _canonical(fingerprint)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / FINGERPRINT_NAME
        if path.exists() and fresh:
            for p in [*self.directory.glob("*.safetensors"), *self.directory.glob("*.jsonl")]:
                p.unlink()
            path.unlink()
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise ResumeMismatchError(
                    f"{path} is not valid JSON ({e}); delete {self.directory} or rerun with --fresh") from None
            if old != self.fingerprint:
                diff = _differences(old, self.fingerprint)
                raise ResumeMismatchError(
                    f"{self.directory} holds results of a different run (the configuration or model hash differs in: "
                    f"{', '.join(diff) or 'structure'}); refusing to mix them. Use another --out directory, or "
                    "rerun with --fresh to discard the old results.")
        else:
            atomic_write_bytes(path, (json.dumps(self.fingerprint, indent=1, sort_keys=True) + "\n").encode())

    def path(self, part: str, index: int) -> Path:
        """File of chunk ``index`` of ``part``.

        >>> import tempfile
        >>> SweepStore(tempfile.mkdtemp(), {}).path("behaviour", 3).name
        'behaviour-0003.safetensors'
        """
        return self.directory / f"{part}-{index:04d}.safetensors"

    def done(self, part: str, index: int) -> bool:
        """Whether chunk ``index`` of ``part`` is finished and readable.

        >>> import tempfile
        >>> SweepStore(tempfile.mkdtemp(), {}).done("behaviour", 0)
        False
        """
        return self.load(part, index) is not None

    def save(self, part: str, index: int, arrays: dict[str, np.ndarray]) -> None:
        """Write a finished chunk atomically.

        >>> import tempfile, numpy as np
        >>> s = SweepStore(tempfile.mkdtemp(), {}); s.save("p", 0, {"a": np.ones(3)})
        >>> s.load("p", 0)["a"].tolist()
        [1.0, 1.0, 1.0]
        """
        from safetensors.numpy import save

        data = save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
        atomic_write_bytes(self.path(part, index), data)

    def load(self, part: str, index: int) -> dict[str, np.ndarray] | None:
        """A finished chunk's arrays, or ``None`` if it is missing or unreadable.

        >>> import tempfile
        >>> SweepStore(tempfile.mkdtemp(), {}).load("p", 0) is None
        True
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        p = self.path(part, index)
        if not p.is_file():
            return None
        try:
            return dict(load_file(str(p)))
        except (SafetensorError, OSError, ValueError):
            return None


    def text_path(self, part: str, index: int) -> Path:
        """JSON-lines file of chunk ``index`` of ``part`` (texts kept beside a chunk's arrays).

        >>> import tempfile
        >>> SweepStore(tempfile.mkdtemp(), {}).text_path("sequence", 2).name
        'sequence-0002.jsonl'
        """
        return self.directory / f"{part}-{index:04d}.jsonl"

    def save_texts(self, part: str, index: int, rows: list[dict[str, Any]]) -> None:
        """Write a chunk's rows (JSON objects, one a line) atomically.

        >>> import tempfile
        >>> s = SweepStore(tempfile.mkdtemp(), {}); s.save_texts("p", 0, [{"text": "hi"}])
        >>> s.load_texts("p", 0)
        [{'text': 'hi'}]
        """
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        atomic_write_bytes(self.text_path(part, index), data.encode("utf-8"))

    def load_texts(self, part: str, index: int) -> list[dict[str, Any]] | None:
        """A chunk's rows, or ``None`` if the file is missing or unreadable.

        >>> import tempfile
        >>> SweepStore(tempfile.mkdtemp(), {}).load_texts("p", 0) is None
        True
        """
        p = self.text_path(part, index)
        if not p.is_file():
            return None
        try:
            rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None
        return rows if all(isinstance(r, dict) for r in rows) else None


def chunks(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` elements.

    >>> chunks(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def run_chunked(
    store: SweepStore,
    part: str,
    coefficients_c: np.ndarray,
    chunk_size: int,
    compute: Callable[[np.ndarray], dict[str, np.ndarray]],
    *,
    on_chunk: Callable[[bool], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``compute`` over the coefficient grid chunk by chunk, skipping finished chunks.

    ``compute(coefficients) -> {name: array}`` returns arrays whose axis 1 runs
    over the given coefficients (``(prompts, coefficients, ...)``). Each chunk is
    saved as soon as it is finished; the concatenation over all chunks is
    returned. ``on_chunk(reused)`` is called after each chunk (for a progress bar).

    >>> import tempfile, numpy as np
    >>> store = SweepStore(tempfile.mkdtemp(), {"k": 1})
    >>> out = run_chunked(store, "sq", np.arange(5.0), 2, lambda c: {"y": (c**2)[None, :]})
    >>> out["y"].tolist()
    [[0.0, 1.0, 4.0, 9.0, 16.0]]
    """
    coefficients_c = np.asarray(coefficients_c, dtype=np.float64)
    results = []
    for index, sl in enumerate(chunks(len(coefficients_c), chunk_size)):
        c = coefficients_c[sl]
        arrays = store.load(part, index)
        reused = arrays is not None and np.array_equal(arrays.get("__coefficients__"), c)
        if not reused:
            arrays = {k: np.asarray(v) for k, v in compute(c).items()}
            for name, a in arrays.items():
                if a.ndim < 2 or a.shape[1] != len(c):
                    raise ValueError(f"sweep part {part!r}: array {name!r} has shape {a.shape}; "
                                     f"axis 1 must run over the {len(c)} coefficients of the chunk")
            arrays["__coefficients__"] = c
            store.save(part, index, arrays)
        results.append(arrays)
        if on_chunk is not None:
            on_chunk(reused)
    names = [k for k in results[0] if k != "__coefficients__"]
    return {k: np.concatenate([r[k] for r in results], axis=1) for k in names}
