"""Parameter bookkeeping: a content hash of the weights and a finiteness check."""

from __future__ import annotations

import hashlib

import jax
import numpy as np
from flax import nnx


def _flat_params(model_or_state) -> list[tuple[str, np.ndarray]]:
    if not isinstance(model_or_state, (nnx.State, nnx.Module)):
        raise TypeError(f"model_or_state must be an nnx.Module or an nnx.State (nnx.split(model)[1]), "
                        f"got {type(model_or_state).__name__}")
    state = model_or_state if isinstance(model_or_state, nnx.State) else nnx.state(model_or_state, nnx.Param)
    out = []
    for path, value in nnx.to_flat_state(state):
        array = value[...] if isinstance(value, nnx.Variable) else value
        out.append((".".join(str(p) for p in path), np.asarray(jax.device_get(array))))
    return sorted(out, key=lambda item: item[0])


def model_hash(model_or_state) -> str:
    """SHA-256 of the parameters (names, shapes, dtypes and bytes), as ``"sha256:<hex>"``.

    Two models hash equal exactly when their parameters are identical; the hash
    is recorded with steering vectors and outputs so that results can be tied to
    the weights that produced them. Accepts a module or an ``nnx.State``.

    Args:
        model_or_state: a module or an ``nnx.State``.

    Returns:
        ``"sha256:<hex>"``.

    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> a, b = Transformer(cfg, rngs=nnx.Rngs(0)), Transformer(cfg, rngs=nnx.Rngs(1))
    >>> model_hash(a) == model_hash(nnx.split(a)[1]), model_hash(a) == model_hash(b)
    (True, False)
    """
    digest = hashlib.sha256()
    for name, array in _flat_params(model_or_state):
        array = np.ascontiguousarray(array)
        digest.update(f"{name}|{array.dtype.str}|{array.shape}\n".encode())
        digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def check_finite_parameters(model_or_state) -> None:
    """Raise ``ValueError`` naming the first parameter that holds NaN or inf.

    Args:
        model_or_state: a module or an ``nnx.State``.

    Returns:
        None; raises ``ValueError`` naming the first non-finite parameter.

    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> check_finite_parameters(Transformer(cfg, rngs=nnx.Rngs(0)))  # silent when all finite
    """
    for name, array in _flat_params(model_or_state):
        if not np.all(np.isfinite(array.astype(np.float32))):
            raise ValueError(
                f"parameter {name!r} (shape {array.shape}) contains NaN or inf; the weights are corrupt "
                "(reload the checkpoint or retrain)."
            )
