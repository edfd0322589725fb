"""Control vectors: steering vectors in the files llama.cpp and repeng read and write.

A *control vector* file holds one direction per steered layer. The GGUF layout is
the one llama.cpp's ``--control-vector`` / ``--control-vector-scaled FILE S``
loads and repeng's ``ControlVector.export_gguf`` writes:

* ``general.architecture = "controlvector"``;
* ``controlvector.model_hint`` (string: the model family, e.g. ``"llama"``) and
  ``controlvector.layer_count`` (number of direction tensors);
* one 1-D float32 tensor ``direction.{L}`` of length ``d_model`` per layer ``L``.

**Layer index.** llama.cpp adds ``S * direction.L`` to the output of
transformer block ``L`` (0-based), at every position, after the block's last
residual addition; its loader rejects ``direction.0`` and only ever applies
``L = 1 .. n_layers - 1`` (the data of layer ``L`` sits at offset
``(L - 1) * n_embd``; block 0's output has no slot). repeng applies
``direction.L`` to the output of ``model.layers[L]``, the same place. In this
package layer ``l < n_layers`` is the residual stream after block ``l``
(0-based), so the indices agree: our layer ``l`` is ``direction.l``. Layer 0 and
the final representation (layer ``n_layers``, after the final normalisation)
cannot be expressed in the format; exporting them is an error.

**Scale.** The directions are written with unit norm, so llama.cpp's strength
``S`` is this package's coefficient ``c`` (``c v`` added after each layer). The
coefficient the tradeoff analysis recommends (the best ``c`` for
``G - lambda Lambda``, docs/theory.md#s4) goes into
``steerbounds.recommended_coefficient`` with its ``steerbounds.lambda``; run it
as ``llama-cli --control-vector-scaled FILE C``. Readers that do not know the
``steerbounds.*`` keys ignore them (llama.cpp reads only the tensors).

The safetensors layout holds the same tensors (``direction.{L}``) and the same
keys as string metadata.
"""

from __future__ import annotations

import os

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._vectors import SIGN_CONVENTION, SteeringVectors

ARCHITECTURE = "controlvector"
LAYER_CONVENTION = "direction.L is added to the output of transformer block L (0-based), as llama.cpp applies it"
_TENSOR = re.compile(r"direction\.(\d+)")
_FORMATS = ("gguf", "safetensors")


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays
class ControlVector:
    """A control vector as read from a file: raw directions per layer and the file's metadata.

    ``directions_ld[i]`` is the tensor ``direction.{layers[i]}`` as stored (not
    normalised; llama.cpp multiplies it by its strength ``S`` as it is), and
    ``norms_l`` are their norms, so ``S * norms_l[i]`` is this package's
    coefficient at that layer. ``recommended_coefficient`` and ``lam`` are
    ``None`` unless the file records them.

    >>> import numpy as np
    >>> cv = ControlVector(np.array([[3.0, 4.0]], np.float32), (2,), model_hint="llama")
    >>> cv.norms_l.tolist(), cv.steering_vectors().directions_ld.tolist()
    ([5.0], [[0.6000000238418579, 0.800000011920929]])
    """

    directions_ld: np.ndarray  # (len(layers), d) float32, as stored
    layers: tuple[int, ...]  # llama.cpp layer index L of each row (this package's layer index)
    model_hint: str = ""
    layer_count: int | None = None  # controlvector.layer_count as recorded
    recommended_coefficient: float | None = None
    lam: float | None = None  # the lambda of G - lambda Lambda the coefficient maximises
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # every key of the file

    def __post_init__(self) -> None:
        d = np.asarray(self.directions_ld)
        if d.ndim != 2 or d.shape[0] != len(self.layers) or d.shape[0] == 0:
            raise ValueError(
                f"ControlVector: directions_ld has shape {d.shape} for layers {self.layers}; "
                "give one row per layer and at least one layer."
            )
        if not np.all(np.isfinite(d)):
            raise ValueError("ControlVector: directions_ld contains NaN or inf.")

    @property
    def norms_l(self) -> np.ndarray:
        return np.linalg.norm(np.asarray(self.directions_ld, np.float64), axis=1)

    def steering_vectors(self) -> SteeringVectors:
        """The directions scaled to unit norm, as :class:`SteeringVectors` (method ``imported`` unless recorded)."""
        norms = self.norms_l
        if np.any(norms == 0):
            zero = [self.layers[i] for i in np.flatnonzero(norms == 0)]
            raise ValueError(f"ControlVector.steering_vectors: direction.{zero[0]} is all zeros; it has no direction.")
        method = str(self.metadata.get("steerbounds.method", "imported"))
        if method not in ("pca", "mean_difference", "random", "imported"):
            method = "imported"
        hash_ = self.metadata.get("steerbounds.model_hash") or None
        return SteeringVectors(
            np.asarray(self.directions_ld / norms[:, None], np.float32), self.layers, method,
            sign=str(self.metadata.get("steerbounds.sign", SIGN_CONVENTION)),
            n_pairs=int(self.metadata.get("steerbounds.n_pairs", 0) or 0),
            model_hash=hash_,
        )


def _check_layers(layers: tuple[int, ...], n_layers: int) -> None:
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or n_layers < 2:
        raise ValueError(f"n_layers: expected the model's number of transformer blocks (an int >= 2), got {n_layers!r}.")
    for layer in layers:
        if layer == 0:
            raise ValueError(
                "vectors: layer 0 (after the first block) cannot be written as a control vector: llama.cpp rejects "
                "direction.0 and never steers block 0's output; steer layers 1.."
                f"{n_layers - 1} instead."
            )
        if layer >= n_layers:
            what = "the final representation (after the final normalisation)" if layer == n_layers else "not a layer"
            raise ValueError(
                f"vectors: layer {layer} is {what} of a {n_layers}-block model; control vectors steer the outputs of "
                f"blocks 1..{n_layers - 1} only (direction.L is added after block L)."
            )


def _metadata(
    vectors: SteeringVectors, n_layers: int, coefficient: float | None, lam: float | None, source: str,
) -> dict[str, Any]:
    from ._version import package_version  # provenance only; the top package is not imported (no cycle)

    __version__ = package_version()

    out: dict[str, Any] = {
        "steerbounds.version": __version__,
        "steerbounds.layer_convention": LAYER_CONVENTION,
        "steerbounds.n_layers": int(n_layers),
        "steerbounds.layers": json.dumps(list(vectors.layers)),
        "steerbounds.method": vectors.method,
        "steerbounds.sign": vectors.sign,
        "steerbounds.n_pairs": int(vectors.n_pairs),
        "steerbounds.model_hash": vectors.model_hash or "",
    }
    if coefficient is not None:
        if not math.isfinite(coefficient):
            raise ValueError(f"coefficient: the recommended coefficient must be a finite number, got {coefficient!r}.")
        out["steerbounds.recommended_coefficient"] = float(coefficient)
        out["steerbounds.coefficient_source"] = source or "given"
        if lam is not None:
            out["steerbounds.lambda"] = float(lam)
    return out


def export_control_vector(
    path,
    vectors: SteeringVectors,
    *,
    n_layers: int,
    format: str = "gguf",  # noqa: A002 - the file format, as on the command line
    model_hint: str = "",
    coefficient: float | None = None,
    lam: float | None = None,
    coefficient_source: str = "",
) -> Path:
    """Write ``vectors`` as a control-vector file llama.cpp (GGUF) or any safetensors reader can load.

    Args:
        path: the file to write (its folder is created).
        vectors: unit directions ``(len(layers), d_model)``; layer ``l`` becomes
            the tensor ``direction.l`` of shape ``(d_model,)``, float32.
        n_layers: the model's number of transformer blocks; layers must lie in
            ``1 .. n_layers - 1`` (see the module docstring).
        format: ``"gguf"`` (llama.cpp / repeng layout) or ``"safetensors"``.
        model_hint: ``controlvector.model_hint``, the model family (``"llama"``, ``"gpt2"``).
        coefficient: the recommended strength ``c`` (e.g. the best ``c`` of the
            tradeoff analysis, :func:`recommended_coefficient`); stored as
            ``steerbounds.recommended_coefficient``.
        lam: the ``lambda`` that coefficient maximises ``G - lambda Lambda`` for.
        coefficient_source: where the coefficient came from (stored as text).

    Returns:
        The path written.

    >>> import os, tempfile, numpy as np
    >>> sv = SteeringVectors(np.eye(3, dtype=np.float32)[:2], (1, 2), "pca")
    >>> path = export_control_vector(os.path.join(tempfile.mkdtemp(), "v.gguf"), sv, n_layers=4,
    ...                              model_hint="llama", coefficient=1.5, lam=1.0)
    >>> cv = import_control_vector(path)
    >>> cv.layers, cv.recommended_coefficient, cv.metadata["general.architecture"]
    ((1, 2), 1.5, 'controlvector')
    """
    if not isinstance(vectors, SteeringVectors):
        raise TypeError(f"export_control_vector: vectors must be SteeringVectors, got {type(vectors).__name__}.")
    if format not in _FORMATS:
        raise ValueError(f"format: unknown control-vector format {format!r}; choose one of {', '.join(_FORMATS)}.")
    _check_layers(tuple(vectors.layers), n_layers)
    if not isinstance(model_hint, str):
        raise TypeError(f"model_hint: expected a string such as 'llama', got {type(model_hint).__name__}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _metadata(vectors, n_layers, coefficient, lam, coefficient_source)
    tensors = {f"direction.{layer}": np.ascontiguousarray(row, np.float32)
               for layer, row in zip(vectors.layers, np.asarray(vectors.directions_ld))}
    tmp = path.with_name(path.name + ".tmp")
    if format == "gguf":
        _write_gguf(tmp, tensors, model_hint, meta)
    else:
        from safetensors.numpy import save_file

        strings = {
            "general.architecture": ARCHITECTURE,
            f"{ARCHITECTURE}.model_hint": model_hint,
            f"{ARCHITECTURE}.layer_count": str(len(tensors)),
            **{key: str(value) for key, value in meta.items()},
        }
        save_file(tensors, str(tmp), metadata=strings)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def _write_gguf(path: Path, tensors: dict[str, np.ndarray], model_hint: str, meta: dict[str, Any]) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), ARCHITECTURE)
    writer.add_string(f"{ARCHITECTURE}.model_hint", model_hint)
    writer.add_uint32(f"{ARCHITECTURE}.layer_count", len(tensors))
    for key, value in meta.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, int):
            writer.add_int32(key, value)
        else:
            writer.add_float64(key, value)
    for name, row in tensors.items():
        writer.add_tensor(name, row)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _gguf_value(field) -> Any:
    import gguf

    kind = field.types[0] if field.types else None
    if kind == gguf.GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    if kind == gguf.GGUFValueType.ARRAY:
        return [field.parts[i].tolist() for i in field.data]
    return field.parts[field.data[0]].tolist()[0]


def _read_gguf(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as err:
        raise ValueError(f"import_control_vector: {str(path)!r} is not a readable GGUF file ({err}).") from err
    meta = {name: _gguf_value(field) for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    tensors = {}
    for tensor in reader.tensors:
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            raise ValueError(
                f"import_control_vector: {str(path)!r}: tensor {tensor.name} has type {tensor.tensor_type.name}; "
                "llama.cpp reads float32 control-vector tensors only."
            )
        tensors[tensor.name] = np.asarray(tensor.data, np.float32).reshape(-1)
    return meta, tensors


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta: dict[str, Any] = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError) as err:
        raise ValueError(f"import_control_vector: {str(path)!r} is not a readable safetensors file ({err}).") from err
    for key in ("steerbounds.recommended_coefficient", "steerbounds.lambda"):
        if key in meta:
            meta[key] = float(meta[key])
    for key in ("steerbounds.n_layers", "steerbounds.n_pairs", f"{ARCHITECTURE}.layer_count"):
        if key in meta:
            meta[key] = int(meta[key])
    return meta, tensors


def import_control_vector(path) -> ControlVector:
    """Read a control-vector file (GGUF from llama.cpp, repeng or this package; or its safetensors form).

    Args:
        path: a ``.gguf`` file with ``general.architecture = "controlvector"``,
            or a safetensors file with ``direction.{L}`` tensors.

    Returns:
        A :class:`ControlVector` with layers in increasing order, the raw
        directions ``(n, d_model)`` and every metadata key of the file.

    >>> try:
    ...     import_control_vector("/nonexistent.gguf")
    ... except FileNotFoundError as err:
    ...     print("no control-vector file" in str(err))
    True
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"import_control_vector: no control-vector file at {str(path)!r}.")
    with open(path, "rb") as f:
        magic = f.read(4)
    meta, tensors = _read_gguf(path) if magic == b"GGUF" else _read_safetensors(path)
    arch = meta.get("general.architecture")
    if arch is not None and arch != ARCHITECTURE:
        raise ValueError(
            f"import_control_vector: {str(path)!r} has general.architecture {arch!r}, not {ARCHITECTURE!r}: it is a "
            "model or another adapter, not a control vector."
        )
    rows: dict[int, np.ndarray] = {}
    for name, value in tensors.items():
        match = _TENSOR.fullmatch(name)
        if match is None:
            raise ValueError(f"import_control_vector: {str(path)!r}: tensor {name!r} is not named direction.L.")
        layer = int(match[1])
        if layer == 0:
            raise ValueError(f"import_control_vector: {str(path)!r} holds direction.0, which llama.cpp rejects "
                             "(block 0's output is never steered); the file is malformed.")
        value = np.asarray(value, np.float32)
        if value.ndim != 1:
            raise ValueError(f"import_control_vector: {str(path)!r}: {name} has shape {value.shape}; expected 1-D.")
        rows[layer] = rows[layer] + value if layer in rows else value  # llama.cpp sums repeated layers
    if not rows:
        raise ValueError(f"import_control_vector: {str(path)!r} holds no direction.L tensors.")
    widths = {row.shape[0] for row in rows.values()}
    if len(widths) != 1:
        raise ValueError(f"import_control_vector: {str(path)!r}: direction tensors have different lengths {sorted(widths)}.")
    layers = tuple(sorted(rows))
    count = meta.get(f"{ARCHITECTURE}.layer_count")
    coef = meta.get("steerbounds.recommended_coefficient")
    lam = meta.get("steerbounds.lambda")
    return ControlVector(
        np.stack([rows[layer] for layer in layers]), layers,
        model_hint=str(meta.get(f"{ARCHITECTURE}.model_hint", "")),
        layer_count=None if count is None else int(count),
        recommended_coefficient=None if coef is None else float(coef),
        lam=None if lam is None else float(lam),
        metadata=meta,
    )


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The coefficient a report recommends, for which lambda, condition and steered layers.

    >>> Recommendation(1.5, 1.0, "mid_layers", (1, 2), "report.json condition mid_layers, lambda 1").coefficient
    1.5
    """

    coefficient: float  # the best c >= 0 of the measured G - lambda Lambda
    lam: float
    condition: str
    layers: tuple[int, ...] | None  # the layers that condition steered (None when not recorded)
    source: str  # "<report> condition <name>, lambda <lam>"


def recommended_coefficient(
    report, *, condition: str | None = None, lam: float | None = None, n_layers: int | None = None,
) -> Recommendation:
    """The best coefficient for ``G - lambda Lambda`` from a report.json (a path or its parsed dict).

    Reads the measured tradeoff of one condition (docs/theory.md#s4): the grid
    coefficient ``c >= 0`` that maximises the measured ``G - lambda Lambda``.
    Without ``condition``, the report's only condition is used, or (given
    ``n_layers``) the only one whose steered layers a control vector can hold.
    With best coefficients for several ``lambda``, ``lam`` picks one.

    Args:
        report: a report.json path or its parsed dict.
        condition: the condition to read.
        lam: the lambda of ``G - lambda Lambda``.
        n_layers: the model's blocks, to pick the condition a control vector can hold.

    Returns:
        a :class:`Recommendation`.

    >>> rep = {"conditions": {"toy": {"metadata": {"layers": [1, 2]},
    ...                               "tradeoff": {"lam": 1.0, "measured": {"best_c": 2.5}}}}}
    >>> rec = recommended_coefficient(rep)
    >>> rec.coefficient, rec.lam, rec.layers, rec.source
    (2.5, 1.0, (1, 2), 'report condition toy, lambda 1')
    """
    if not isinstance(report, (dict, str, os.PathLike)):
        raise TypeError(f"recommended_coefficient: report must be a report.json path or its parsed dict, "
                        f"got {type(report).__name__}")
    where = "report"
    if not isinstance(report, Mapping):
        where = str(report)
        try:
            report = json.loads(Path(report).read_text())
        except FileNotFoundError as err:
            raise FileNotFoundError(f"report: no report.json at {where!r}; run steerbounds reproduce or analyze first.") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"report: {where!r} is not a JSON report ({err}).") from err
    conditions = report.get("conditions") if isinstance(report, Mapping) else None
    if not isinstance(conditions, Mapping) or not conditions:
        raise ValueError(f"report: {where!r} has no conditions; expected a steerbounds report.json.")

    def layers_of(name: str) -> tuple[int, ...] | None:
        layers = (conditions[name].get("metadata") or {}).get("layers")
        return None if layers is None else tuple(int(x) for x in layers)

    if condition is None:
        names = list(conditions)
        if len(names) > 1 and n_layers is not None:
            names = [n for n in names if (ls := layers_of(n)) is not None and all(0 < x < n_layers for x in ls)]
        if len(names) != 1:
            raise ValueError(f"condition: {where!r} has conditions {', '.join(conditions)}; choose one (--condition).")
        condition = names[0]
    if condition not in conditions:
        raise ValueError(f"condition: {where!r} has no condition {condition!r}; it has {', '.join(conditions)}.")
    cond = conditions[condition]
    candidates: dict[float, float] = {}
    tradeoff = cond.get("tradeoff") or {}
    best = (tradeoff.get("measured") or {}).get("best_c")
    if isinstance(best, (int, float)) and tradeoff.get("lam") is not None:
        candidates[float(tradeoff["lam"])] = float(best)
    measured = cond.get("measured_tradeoff") or {}
    for key, interval in (measured.get("best_c") or {}).items():  # {lambda: {"estimate": c, ...}}
        value = interval.get("estimate") if isinstance(interval, Mapping) else interval
        if isinstance(value, (int, float)):
            candidates.setdefault(float(key), float(value))
    if not candidates:
        raise ValueError(f"report: condition {condition!r} of {where!r} records no measured best coefficient.")
    if lam is None:
        if len(candidates) > 1:
            raise ValueError(f"lam: {where!r} has best coefficients for lambda {sorted(candidates)}; choose one.")
        lam = next(iter(candidates))
    if float(lam) not in candidates:
        raise ValueError(f"lam: {where!r} has no best coefficient for lambda {lam}; it has {sorted(candidates)}.")
    c = candidates[float(lam)]
    if not math.isfinite(c):
        raise ValueError(f"report: the best coefficient of condition {condition!r} is {c}, not a finite number.")
    return Recommendation(c, float(lam), condition, layers_of(condition),
                          f"{where} condition {condition}, lambda {float(lam):g}")
