"""Steering vectors as representation engineering builds them (docs/theory.md#setting).

Contrast pairs (an aligned and a misaligned member, e.g. a refusal-eliciting
and a complying version of an instruction) are run through the model; the
residual stream at each prompt's last token is read at every layer; the
direction is the first principal component of the pair differences (or their
mean), oriented from the misaligned towards the aligned side and scaled to
unit norm. A random unit direction is the control.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.theory import check_array, prng_key

from ._forward import _check_layers, check_tokens, forward_module, make_steering, Steering
from ._params import model_hash as _model_hash
from ._sweep import graphdef_config, last_positions


SIGN_CONVENTION = "aligned_minus_misaligned"  # <v, aligned - misaligned> > 0 on average over the pairs
_FORMAT = "steerbounds.steering_vectors"


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class SteeringVectors:
    """Unit steering directions, one per layer, with their provenance.

    ``directions_ld[i]`` belongs to layer ``layers[i]`` (``n_layers`` is the
    final representation). Orientation (``sign``): adding ``c v`` with ``c > 0``
    moves a representation from the misaligned towards the aligned side.

    >>> import numpy as np
    >>> sv = SteeringVectors(np.eye(2, dtype=np.float32), (0, 1), "mean_difference")
    >>> sv.direction(1).tolist()
    [0.0, 1.0]
    """

    directions_ld: np.ndarray  # (len(layers), d) unit directions, float32
    layers: tuple[int, ...]  # the layer of each row
    method: str  # "pca", "mean_difference", "random" or "imported" (read from a control-vector file)
    sign: str = SIGN_CONVENTION  # orientation convention (see class docstring)
    separation_l: np.ndarray | None = None  # share of pairs with <v, aligned - misaligned> > 0, per layer
    explained_l: np.ndarray | None = None  # pca: share of the pair differences' second moment along v, per layer
    n_pairs: int = 0  # number of contrast pairs used (0 for random directions)
    model_hash: str | None = None  # hash of the parameters the states were read from (see model_hash)

    def __post_init__(self) -> None:
        d = np.asarray(self.directions_ld)
        if d.ndim != 2 or d.shape[0] != len(self.layers):
            raise ValueError(
                f"SteeringVectors: directions_ld has shape {d.shape} but layers has {len(self.layers)} entries; "
                "give one row per layer."
            )
        if not np.all(np.isfinite(d)):
            raise ValueError("SteeringVectors: directions_ld contains NaN or inf.")
        norms = np.linalg.norm(d, axis=1)
        if np.any(np.abs(norms - 1) > 1e-4):
            raise ValueError(f"SteeringVectors: directions must have unit norm, got norms {norms.tolist()}.")
        if self.method not in ("pca", "mean_difference", "random", "imported"):
            raise ValueError(f"SteeringVectors: unknown method {self.method!r} (pca, mean_difference, random, imported).")

    def direction(self, layer: int) -> np.ndarray:
        """The unit direction at ``layer``.

        >>> import numpy as np
        >>> SteeringVectors(np.eye(2, dtype=np.float32), (3, 5), "random").direction(5).tolist()
        [0.0, 1.0]
        """
        if layer not in self.layers:
            raise ValueError(f"SteeringVectors.direction: no direction for layer {layer}; available: {self.layers}.")
        return np.asarray(self.directions_ld[self.layers.index(layer)])

    def steering(self, config, layers: Sequence[int], coefficient: float = 1.0, *, position_mask_bt=None) -> Steering:
        """A :class:`Steering` adding ``c v_l`` after each layer ``l`` of ``layers`` (each with its own direction).

        >>> import numpy as np
        >>> from steerbounds.numerics import TransformerConfig
        >>> cfg = TransformerConfig.gpt2_style(vocab_size=5, d_model=2, n_layers=2, n_heads=1)
        >>> sv = SteeringVectors(np.eye(2, dtype=np.float32), (0, 1), "random")
        >>> sv.steering(cfg, [1], 2.0).vectors_ld.tolist()
        [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
        """
        rows = np.stack([self.direction(layer) for layer in layers]) if len(layers) else np.zeros((0, 0))
        return make_steering(config, rows, layers, coefficient, position_mask_bt=position_mask_bt)


_LAST_STATES = {}


def _last_states_fn(graphdef, layers):
    key = (graphdef, layers)
    if key not in _LAST_STATES:

        def fn(state, tokens_bt, mask_bt):
            out = forward_module(nnx.merge(graphdef, state), tokens_bt, mask_bt=mask_bt, residual_layers=layers)
            last = last_positions(mask_bt)
            return jnp.take_along_axis(out.residuals_lbtd, last[None, :, None, None], axis=2)[:, :, 0, :]

        _LAST_STATES[key] = jax.jit(fn)
    return _LAST_STATES[key]


def last_token_states(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    *,
    mask_bt=None,
    layers: Sequence[int] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Residual stream at each prompt's last token after every layer in ``layers``: shape (l, b, d), float32.

    ``layers=None`` reads all of ``0 .. n_layers`` (``n_layers`` is the final
    representation ``h``). Prompts run ``batch_size`` at a time.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        layers: layers to read (``n_layers`` = final representation).
        batch_size: prompts per forward pass.

    Returns:
        states, shape (len(layers), b, d), float32.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> last_token_states(graphdef, state, jnp.array([[1, 2], [0, 3]]), mask_bt=jnp.array([[1, 1], [0, 1]])).shape
    (3, 2, 8)
    """
    config = graphdef_config(graphdef, state)
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where="last_token_states")
    layers = tuple(range(config.n_layers + 1)) if layers is None else _check_layers(layers, config.n_layers, name="last_token_states: layers")
    if not layers:
        raise ValueError("last_token_states: layers is empty; pass None for all layers.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"last_token_states: batch_size must be a positive int, got {batch_size!r}.")
    fn = _last_states_fn(graphdef, layers)
    b = tokens_bt.shape[0]
    size = min(batch_size, b)
    parts = []
    for start in range(0, b, size):
        idx = np.arange(start, start + size) % b  # the last chunk wraps around: one compiled shape
        out = np.asarray(fn(state, tokens_bt[idx], mask_bt[idx]), dtype=np.float32)
        parts.append(out[:, : min(size, b - start)])
    return np.concatenate(parts, axis=1)


def _orient(v_d: np.ndarray, diffs_bd: np.ndarray, layer: int) -> np.ndarray:
    proj = diffs_bd @ v_d
    s = np.sign(proj.mean())
    if s == 0:
        s = np.sign(np.sign(proj).sum())
    if s == 0:
        raise ValueError(
            f"contrast_vectors: at layer {layer} the direction does not separate the pairs (projections "
            "cancel exactly); its sign is undetermined. Add contrast pairs or check that they differ."
        )
    return s * v_d


def contrast_vectors(
    aligned_lbd,
    misaligned_lbd,
    *,
    layers: Sequence[int],
    method: Literal["pca", "mean_difference"] = "pca",
    model_hash: str | None = None,
) -> SteeringVectors:
    """Steering directions from last-token states of contrast pairs (docs/theory.md#setting).

    ``aligned_lbd[l, i]`` and ``misaligned_lbd[l, i]`` are the states of pair
    ``i`` at ``layers[l]``; the differences are ``D_i = aligned_i - misaligned_i``.

    * ``"pca"``: the first principal direction of the differences, i.e. the top
      right singular vector of ``D`` (taken about zero: this equals the
      centred PCA of representation engineering after randomly swapping pair
      order, without the randomness);
    * ``"mean_difference"``: the mean of ``D``.

    Each direction is oriented so that ``<v, D_i>`` is positive on average
    (misaligned -> aligned) and scaled to unit norm. ``separation_l`` reports
    the share of pairs with ``<v, D_i> > 0``; for pca ``explained_l`` is the
    share of ``sum ||D_i||^2`` along ``v``.

    Args:
        aligned_lbd: aligned last-token states, shape (len(layers), pairs, d).
        misaligned_lbd: misaligned states, same shape.
        layers: the layer of each leading row.
        method: ``"pca"`` or ``"mean_difference"``.
        model_hash: hash of the weights the states came from (recorded).

    Returns:
        :class:`SteeringVectors` with unit directions of shape (len(layers), d).

    >>> import numpy as np
    >>> aligned = np.array([[[2.0, 1.0], [3.0, -1.0]]])  # one layer, two pairs, d = 2
    >>> sv = contrast_vectors(aligned, np.zeros_like(aligned), layers=[0], method="mean_difference")
    >>> sv.directions_ld.round(3).tolist(), sv.separation_l.tolist()
    ([[1.0, 0.0]], [1.0])
    """
    aligned_lbd = check_array("contrast_vectors", "aligned_lbd", aligned_lbd, ndim=3, host=True)
    misaligned_lbd = check_array("contrast_vectors", "misaligned_lbd", misaligned_lbd, ndim=3, host=True)
    layers = tuple(int(x) for x in layers)
    a = np.asarray(aligned_lbd, dtype=np.float64)
    m = np.asarray(misaligned_lbd, dtype=np.float64)
    if a.ndim != 3 or a.shape != m.shape:
        raise ValueError(
            f"contrast_vectors: aligned_lbd {a.shape} and misaligned_lbd {m.shape} must have the same shape "
            "(layers, pairs, d); pair i is (aligned[:, i], misaligned[:, i])."
        )
    if a.shape[0] != len(layers):
        raise ValueError(f"contrast_vectors: the states have {a.shape[0]} layers but layers lists {len(layers)}.")
    if a.shape[1] < 1:
        raise ValueError("contrast_vectors: no contrast pairs; pass at least one (pca: preferably many).")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(m))):
        raise ValueError("contrast_vectors: the states contain NaN or inf; check the model's parameters.")
    if method not in ("pca", "mean_difference"):
        raise ValueError(f"contrast_vectors: unknown method {method!r}; use 'pca' or 'mean_difference' "
                         "(random_vectors builds the random control).")
    diffs = a - m
    directions, separation, explained = [], [], []
    for i, layer in enumerate(layers):
        d_bd = diffs[i]
        total = float(np.sum(d_bd**2))
        if total == 0:
            raise ValueError(f"contrast_vectors: at layer {layer} every pair difference is zero; the aligned and "
                             "misaligned prompts give identical states (are the pairs identical?).")
        if method == "pca":
            _, s, vt = np.linalg.svd(d_bd, full_matrices=False)
            v = vt[0]
            explained.append(float(s[0] ** 2 / total))
        else:
            v = d_bd.mean(axis=0)
            if np.linalg.norm(v) == 0:
                raise ValueError(f"contrast_vectors: at layer {layer} the mean difference is zero (differences "
                                 "cancel); use method='pca' or check the pair order.")
        v = _orient(v / np.linalg.norm(v), d_bd, layer)
        directions.append(v)
        separation.append(float(np.mean(d_bd @ v > 0)))
    return SteeringVectors(
        np.asarray(directions, np.float32),
        layers,
        method,
        separation_l=np.asarray(separation, np.float32),
        explained_l=np.asarray(explained, np.float32) if method == "pca" else None,
        n_pairs=int(a.shape[1]),
        model_hash=model_hash,
    )


def steering_vectors_from_pairs(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    aligned_tokens_bt,
    misaligned_tokens_bt,
    *,
    aligned_mask_bt=None,
    misaligned_mask_bt=None,
    layers: Sequence[int] | None = None,
    method: Literal["pca", "mean_difference"] = "pca",
    batch_size: int = 64,
) -> SteeringVectors:
    """Run contrast pairs through the model and build steering vectors at every layer (records the model hash).

    Row ``i`` of the two token arrays is pair ``i``; see :func:`contrast_vectors`.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        aligned_tokens_bt: aligned member of each pair, shape (pairs, t).
        misaligned_tokens_bt: misaligned member, shape (pairs, t').
        aligned_mask_bt: 1 on tokens.
        misaligned_mask_bt: 1 on tokens.
        layers: layers to build directions at (default: all, with ``n_layers``).
        method: ``"pca"`` or ``"mean_difference"``.
        batch_size: prompts per forward pass.

    Returns:
        :class:`SteeringVectors`, shape (len(layers), d), with the model hash.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> sv = steering_vectors_from_pairs(graphdef, state, jnp.array([[1, 2], [3, 4]]), jnp.array([[1, 5], [3, 6]]))
    >>> sv.layers, sv.directions_ld.shape, sv.model_hash.startswith("sha256:")
    ((0, 1, 2), (3, 8), True)
    """
    aligned_tokens_bt = np.asarray(aligned_tokens_bt)
    misaligned_tokens_bt = np.asarray(misaligned_tokens_bt)
    if aligned_tokens_bt.ndim != 2 or misaligned_tokens_bt.ndim != 2 or aligned_tokens_bt.shape[0] != misaligned_tokens_bt.shape[0]:
        raise ValueError(
            f"steering_vectors_from_pairs: aligned_tokens_bt {aligned_tokens_bt.shape} and misaligned_tokens_bt "
            f"{misaligned_tokens_bt.shape} must be 2-D with one row per pair (same number of rows)."
        )
    config = graphdef_config(graphdef, state)
    if layers is None:
        layers = tuple(range(config.n_layers + 1))
    kw = dict(layers=layers, batch_size=batch_size)
    a = last_token_states(graphdef, state, aligned_tokens_bt, mask_bt=aligned_mask_bt, **kw)
    m = last_token_states(graphdef, state, misaligned_tokens_bt, mask_bt=misaligned_mask_bt, **kw)
    return contrast_vectors(a, m, layers=layers, method=method, model_hash=_model_hash(state))


def random_vectors(d_model: int, layers: Sequence[int], *, key: jax.Array) -> SteeringVectors:
    """Random unit directions (uniform on the sphere, independent per layer): the control for steering vectors.

    ``key`` is an int seed or a ``jax.random.key``.

    Args:
        d_model: dimension d.
        layers: the layer of each direction.
        key: an int seed or a ``jax.random.key``.

    Returns:
        :class:`SteeringVectors` (method ``random``), shape (len(layers), d).

    >>> import jax, numpy as np
    >>> sv = random_vectors(16, [0, 1], key=jax.random.key(0))
    >>> np.linalg.norm(sv.directions_ld, axis=1).round(5).tolist(), sv.method
    ([1.0, 1.0], 'random')
    """
    layers = tuple(int(x) for x in layers)
    if not isinstance(d_model, int) or d_model < 1:
        raise ValueError(f"random_vectors: d_model must be a positive int, got {d_model!r}.")
    if not layers:
        raise ValueError("random_vectors: layers is empty.")
    key = prng_key("random_vectors: key", key)
    g = np.asarray(jax.random.normal(key, (len(layers), d_model), jnp.float32), np.float64)
    return SteeringVectors(np.asarray(g / np.linalg.norm(g, axis=1, keepdims=True), np.float32), layers, "random")


def save_steering_vectors(path, vectors: SteeringVectors) -> None:
    """Write steering vectors to a safetensors file with their metadata.

    Metadata: layers, method, sign convention, number of pairs, model hash,
    package version and d_model. Inverse: :func:`load_steering_vectors`.

    Args:
        path: the safetensors file to write.
        vectors: the :class:`SteeringVectors`.

    Returns:
        None.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "v.safetensors")
    >>> save_steering_vectors(path, SteeringVectors(np.eye(2, dtype=np.float32), (0, 1), "random"))
    >>> load_steering_vectors(path).layers
    (0, 1)
    """
    from safetensors.numpy import save_file

    from ._version import package_version  # provenance only; the top package is not imported (no cycle)

    __version__ = package_version()

    if not isinstance(vectors, SteeringVectors):
        raise TypeError(f"save_steering_vectors: expected SteeringVectors, got {type(vectors).__name__}.")
    tensors = {"directions_ld": np.ascontiguousarray(vectors.directions_ld, np.float32)}
    if vectors.separation_l is not None:
        tensors["separation_l"] = np.ascontiguousarray(vectors.separation_l, np.float32)
    if vectors.explained_l is not None:
        tensors["explained_l"] = np.ascontiguousarray(vectors.explained_l, np.float32)
    metadata = {
        "format": _FORMAT,
        "format_version": "1",
        "layers": json.dumps(list(vectors.layers)),
        "method": vectors.method,
        "sign": vectors.sign,
        "n_pairs": str(vectors.n_pairs),
        "model_hash": vectors.model_hash or "",
        "package_version": __version__,
        "d_model": str(vectors.directions_ld.shape[1]),
    }
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"save_steering_vectors: path {str(target)!r} is a folder; pass a file path inside it.")
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"save_steering_vectors: the folder {str(target.parent)!r} of path does not exist; create it first."
        )
    try:
        save_file(tensors, str(target), metadata=metadata)
    except Exception as err:  # safetensors reports an unwritable folder through a temporary name
        raise OSError(f"save_steering_vectors: cannot write path {str(target)!r} ({err}).") from None


def load_steering_vectors(path, *, expected_model_hash: str | None = None) -> SteeringVectors:
    """Read steering vectors written by :func:`save_steering_vectors`.

    With ``expected_model_hash`` (e.g. ``model_hash(state)``) a file recorded
    for other weights is an error.

    Args:
        path: a file written by :func:`save_steering_vectors`.
        expected_model_hash: refuse a file recorded for other weights.

    Returns:
        the :class:`SteeringVectors`.

    >>> try:
    ...     load_steering_vectors("/nonexistent/v.safetensors")
    ... except FileNotFoundError as err:
    ...     print("no steering-vector file" in str(err))
    True
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_steering_vectors: no steering-vector file at {str(path)!r}.")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError) as err:
        raise ValueError(f"load_steering_vectors: {str(path)!r} is not a readable safetensors file ({err}).") from err
    if metadata.get("format") != _FORMAT or "directions_ld" not in tensors:
        raise ValueError(f"load_steering_vectors: {str(path)!r} is not a steering-vector file (format metadata "
                         f"{metadata.get('format')!r}); write it with save_steering_vectors.")
    recorded = metadata.get("model_hash") or None
    if expected_model_hash is not None and recorded != expected_model_hash:
        raise ValueError(
            f"load_steering_vectors: {str(path)!r} was built for the model {recorded!r}, not {expected_model_hash!r}; "
            "rebuild the vectors on this model or load the model they came from."
        )
    return SteeringVectors(
        tensors["directions_ld"],
        tuple(json.loads(metadata["layers"])),
        metadata["method"],
        sign=metadata.get("sign", SIGN_CONVENTION),
        separation_l=tensors.get("separation_l"),
        explained_l=tensors.get("explained_l"),
        n_pairs=int(metadata.get("n_pairs", 0)),
        model_hash=recorded,
    )
