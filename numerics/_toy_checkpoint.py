"""The shipped toy model: saving and loading a trained model together with its world.

A toy-model folder holds three files:

* ``model.safetensors``: the parameters, named by their path in the module
  (``blocks.0.attn.q.kernel``), float32;
* ``config.json``: the :class:`TransformerConfig`, the training recipe
  (:class:`ToyTrainConfig`), the parameter hash (``model_hash``), the final
  training loss and the held-out evaluation recorded at training time;
* ``world.json``: the :class:`ToyWorld` (vocabulary, facts, splits, held-out sets).

Loading checks that every file is present and well formed, that the
parameters match the configuration name by name and shape by shape, and that
their hash equals the recorded one, so a corrupt or mismatched checkpoint is
an error, never a silently different model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._config import TransformerConfig
from ._model import Transformer
from ._params import _flat_params, model_hash
from ._toy_train import ToyTrainConfig
from ._toy_world import ToyWorld

TOY_MODEL_DIR = Path(__file__).resolve().parent / "toy_model"
_FORMAT = "steerbounds-toy-model/1"
_FILES = ("model.safetensors", "config.json", "world.json")


@dataclass(frozen=True)
class ToyModel:
    """A loaded toy model: the module, its world, its configs and its parameter hash.

    >>> toy = load_toy_model()
    >>> toy.model_hash == toy.recorded["model_hash"], toy.config.n_layers
    (True, 4)
    """

    model: Transformer  # the trained transformer (call it, or nnx.split it for the pure forward)
    world: ToyWorld  # the world it was trained on (vocabulary, token sets, held-out sets)
    config: TransformerConfig  # its architecture
    train_config: ToyTrainConfig  # the recipe that trained it
    model_hash: str  # "sha256:..." of the loaded parameters (equal to the recorded one)
    recorded: dict[str, Any]  # the whole config.json (final loss, evaluation at training time)


def save_toy_model(
    directory: str | Path,
    model: Transformer,
    world: ToyWorld,
    train_config: ToyTrainConfig,
    *,
    final_loss: float,
    evaluation: dict[str, Any] | None = None,
) -> str:
    """Write ``model.safetensors``, ``config.json`` and ``world.json`` to ``directory``; return the model hash.

    The files depend only on the parameters and the arguments (no timestamps),
    so retraining with the same recipe on the same machine rewrites them byte
    for byte.

    Args:
        directory: folder to write.
        model: the :class:`Transformer`.
        world: its :class:`ToyWorld`.
        train_config: the recipe it was trained with.
        final_loss: last training loss.
        evaluation: optional :class:`ToyEvaluation` as a dict.

    Returns:
        the model hash.

    >>> import tempfile
    >>> toy = load_toy_model()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     h = save_toy_model(tmp, toy.model, toy.world, toy.train_config, final_loss=0.0)
    ...     load_toy_model(tmp).model_hash == h == toy.model_hash
    True
    """
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    digest = model_hash(model)
    tensors = {name: np.ascontiguousarray(array) for name, array in _flat_params(model)}
    # a single metadata entry: safetensors does not keep the order of several, and the file must be reproducible
    save_file(tensors, str(directory / "model.safetensors"), metadata={"model_hash": digest})
    (directory / "model.safetensors").chmod(0o644)
    record = {
        "format": _FORMAT,
        "model_hash": digest,
        "model": model.config.to_dict(),
        "training": train_config.to_dict(),
        "final_loss": float(final_loss),
        "evaluation": evaluation or {},
    }
    (directory / "config.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    (directory / "world.json").write_text(json.dumps(world.to_dict(), indent=1) + "\n")
    return digest


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"toy model file {path} is not valid JSON ({err}); the checkpoint is corrupt") from err
    if not isinstance(data, dict):
        raise ValueError(f"toy model file {path} must hold a JSON object, got {type(data).__name__}")
    return data


def load_toy_model(directory: str | Path | None = None) -> ToyModel:
    """Load a toy model folder (default: the checkpoint shipped with the package).

    Raises ``FileNotFoundError`` naming a missing file and ``ValueError`` for a
    malformed file, parameters that do not fit the configuration, or
    parameters whose hash differs from the recorded ``model_hash``
    (retrain with ``steerbounds train-toy`` or restore the files).

    Args:
        directory: a toy model folder, or None for the shipped checkpoint.

    Returns:
        :class:`ToyModel` (model, world, config, training recipe, model hash, recorded metadata).

    >>> toy = load_toy_model()
    >>> tokens_bt, mask_bt = toy.world.encode_prompts([toy.world.heldout_mc_questions[0].prompt])
    >>> toy.model(tokens_bt, mask_bt=mask_bt).shape[-1] == len(toy.world.vocab)
    True
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    directory = TOY_MODEL_DIR if directory is None else Path(directory)
    for name in _FILES:
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"toy model file {directory / name} is missing; a toy model folder needs {', '.join(_FILES)} "
                "(run `steerbounds train-toy --out DIR` to create one)"
            )
    record = _read_json(directory / "config.json")
    if record.get("format") != _FORMAT:
        raise ValueError(f"{directory / 'config.json'} has format {record.get('format')!r}, expected {_FORMAT!r}")
    try:
        config = TransformerConfig(**record["model"])
        train_config = ToyTrainConfig.from_dict(record["training"])
        recorded_hash = str(record["model_hash"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{directory / 'config.json'} is malformed ({type(err).__name__}: {err})") from err
    world = ToyWorld.from_dict(_read_json(directory / "world.json"))
    if len(world.vocab) != config.vocab_size:
        raise ValueError(
            f"world.json has {len(world.vocab)} tokens but the model's vocab_size is {config.vocab_size}; "
            "the files come from different checkpoints"
        )
    try:
        tensors = load_file(str(directory / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{directory / 'model.safetensors'} cannot be read ({err}); the checkpoint is corrupt") from err
    # an abstract model (shapes only, no random initialisation) filled with the file's arrays
    model = nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0)))
    flat = [(".".join(str(p) for p in path), path, var) for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param))]
    expected = {name: var.get_value() for name, _, var in flat}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{directory / 'model.safetensors'} does not fit config.json: missing parameters {missing[:5]}, "
            f"unexpected parameters {extra[:5]}"
        )
    new = []
    for name, path, variable in flat:
        array, want = tensors[name], expected[name]
        if tuple(array.shape) != tuple(want.shape) or array.dtype != np.dtype(want.dtype):
            raise ValueError(
                f"parameter {name!r} has shape {array.shape} and dtype {array.dtype} in the file, but the config "
                f"needs {tuple(want.shape)} {np.dtype(want.dtype)}"
            )
        new.append((path, variable.replace(jnp.asarray(array))))
    nnx.update(model, nnx.from_flat_state(new))
    digest = model_hash(model)
    if digest != recorded_hash:
        raise ValueError(
            f"the parameters in {directory / 'model.safetensors'} hash to {digest}, but config.json records "
            f"{recorded_hash}: the weights are corrupt or from another training run (retrain with "
            "`steerbounds train-toy` or restore the files)"
        )
    return ToyModel(model, world, config, train_config, digest, record)
