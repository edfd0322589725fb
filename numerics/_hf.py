"""Load local Hugging Face-format checkpoints (GPT-2 and Llama families) into our model.

A checkpoint folder holds ``config.json`` and either ``model.safetensors`` or
shards listed in ``model.safetensors.index.json``. Nothing is downloaded.
"""

from __future__ import annotations

from steerbounds.theory import check_array

import json
from pathlib import Path
from typing import Callable

import jax
import numpy as np
from flax import nnx

from ._config import TransformerConfig
from ._model import Transformer

_SUPPORTED = ("gpt2", "llama")


def _fail(folder: Path, message: str) -> ValueError:
    return ValueError(f"load_hf_checkpoint({str(folder)!r}): {message}")


def hf_config_to_config(hf: dict, *, dtype: str = "float32") -> TransformerConfig:
    """Translate a Hugging Face ``config.json`` dict (model_type gpt2 or llama) into a :class:`TransformerConfig`.

    Args:
        hf: the parsed ``config.json``.
        dtype: compute dtype.

    Returns:
        the :class:`TransformerConfig`.

    >>> cfg = hf_config_to_config({"model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": 2,
    ...                            "n_head": 4, "n_positions": 32})
    >>> cfg.d_ff, cfg.norm, cfg.gelu_approximate
    (64, 'layernorm', True)
    """
    if not isinstance(hf, dict):
        raise TypeError(f"hf must be the parsed config.json (a dict), got {type(hf).__name__}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'float16' (for the config.json model), got {dtype!r}")
    kind = hf.get("model_type")
    if kind not in _SUPPORTED:
        raise ValueError(f"config.json: model_type {kind!r} is not supported; supported families: {_SUPPORTED}.")

    def need(key):
        if key not in hf:
            raise ValueError(f"config.json ({kind}): the field {key!r} is missing; the checkpoint's config is incomplete.")
        return hf[key]

    if kind == "gpt2":
        act = hf.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu"):
            raise ValueError(f"config.json (gpt2): activation_function {act!r} is not supported (gelu_new, gelu).")
        if hf.get("scale_attn_by_inverse_layer_idx", False) or not hf.get("scale_attn_weights", True):
            raise ValueError("config.json (gpt2): only the standard 1/sqrt(head_dim) attention scaling is supported "
                             "(scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False).")
        d = need("n_embd")
        return TransformerConfig.gpt2_style(
            vocab_size=need("vocab_size"),
            d_model=d,
            n_layers=need("n_layer"),
            n_heads=need("n_head"),
            d_ff=hf.get("n_inner") or 4 * d,
            max_len=need("n_positions"),
            gelu_approximate=act != "gelu",
            norm_eps=float(hf.get("layer_norm_epsilon", 1e-5)),
            tie_embeddings=bool(hf.get("tie_word_embeddings", True)),
            dtype=dtype,
        )
    if hf.get("hidden_act", "silu") != "silu":
        raise ValueError(f"config.json (llama): hidden_act {hf.get('hidden_act')!r} is not supported (silu).")
    rope = dict(hf.get("rope_parameters") or {})
    legacy = hf.get("rope_scaling") or {}
    rope = {**legacy, **rope}
    theta = float(rope.get("rope_theta", hf.get("rope_theta", 10000.0)))
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    scaling = {"default": "none", "linear": "linear", "llama3": "llama3"}.get(rope_type)
    if scaling is None:
        raise ValueError(f"config.json (llama): rope type {rope_type!r} is not supported (default, linear, llama3).")
    if float(rope.get("partial_rotary_factor", 1.0)) != 1.0:
        raise ValueError("config.json (llama): partial rotary embeddings are not supported.")
    extra = {}
    if scaling in ("linear", "llama3"):
        extra["rope_factor"] = float(rope["factor"])
    if scaling == "llama3":
        extra.update(
            rope_low_freq_factor=float(rope["low_freq_factor"]),
            rope_high_freq_factor=float(rope["high_freq_factor"]),
            rope_original_max_len=int(rope["original_max_position_embeddings"]),
        )
    n_heads = need("num_attention_heads")
    d = need("hidden_size")
    head_dim = hf.get("head_dim")
    return TransformerConfig.llama_style(
        vocab_size=need("vocab_size"),
        d_model=d,
        n_layers=need("num_hidden_layers"),
        n_heads=n_heads,
        n_kv_heads=hf.get("num_key_value_heads") or n_heads,
        d_ff=need("intermediate_size"),
        max_len=need("max_position_embeddings"),
        head_dim=None if head_dim in (None, d // n_heads) else int(head_dim),
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        rope_theta=theta,
        rope_scaling=scaling,
        attn_bias=bool(hf.get("attention_bias", False)),
        mlp_bias=bool(hf.get("mlp_bias", False)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        dtype=dtype,
        **extra,
    )


def _read_tensors(folder: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise _fail(folder, f"{index.name} is malformed ({err}); it needs a 'weight_map' of tensor -> file.") from err
        files = sorted(set(weight_map.values()))
    else:
        files = sorted(p.name for p in folder.glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(
                f"load_hf_checkpoint({str(folder)!r}): no *.safetensors file; save the model with "
                "save_pretrained(..., safe_serialization=True) (PyTorch .bin files are not read)."
            )
        weight_map = None
    tensors: dict[str, np.ndarray] = {}
    for name in files:
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"load_hf_checkpoint({str(folder)!r}): shard {name!r} listed in the index is missing.")
        try:
            loaded = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise _fail(folder, f"{name} is not a readable safetensors file ({err}).") from err
        tensors.update(loaded)
    if weight_map is not None:
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise _fail(folder, f"tensors {missing[:5]} are listed in the index but absent from the shards.")
    return tensors


_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")


def _gpt2_map(cfg: TransformerConfig, names: set[str]) -> dict[tuple, tuple[str, Callable]]:
    prefix = "transformer." if any(n.startswith("transformer.") for n in names) else ""
    same = lambda w: w  # noqa: E731  (GPT-2's Conv1D weights are already (in, out))
    m = {("token_embed_vd",): (f"{prefix}wte.weight", same), ("pos_embed_td",): (f"{prefix}wpe.weight", same)}
    d = cfg.d_model
    for i in range(cfg.n_layers):
        hp, bp = f"{prefix}h.{i}.", ("blocks", i)
        for ours, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
            m[bp + (ours, "scale")] = (hp + theirs + ".weight", same)
            m[bp + (ours, "bias")] = (hp + theirs + ".bias", same)
        for j, proj in enumerate("qkv"):
            m[bp + ("attn", proj, "kernel")] = (hp + "attn.c_attn.weight", lambda w, j=j: w[:, j * d : (j + 1) * d])
            m[bp + ("attn", proj, "bias")] = (hp + "attn.c_attn.bias", lambda w, j=j: w[j * d : (j + 1) * d])
        m[bp + ("attn", "o", "kernel")] = (hp + "attn.c_proj.weight", same)
        m[bp + ("attn", "o", "bias")] = (hp + "attn.c_proj.bias", same)
        for ours, theirs in (("fc_in", "c_fc"), ("fc_out", "c_proj")):
            m[bp + ("mlp", ours, "kernel")] = (hp + f"mlp.{theirs}.weight", same)
            m[bp + ("mlp", ours, "bias")] = (hp + f"mlp.{theirs}.bias", same)
    m[("final_norm", "scale")] = (f"{prefix}ln_f.weight", same)
    m[("final_norm", "bias")] = (f"{prefix}ln_f.bias", same)
    if not cfg.tie_embeddings:
        m[("unembed_vd",)] = ("lm_head.weight", same)
    return m


def _llama_map(cfg: TransformerConfig, names: set[str]) -> dict[tuple, tuple[str, Callable]]:
    prefix = "model." if any(n.startswith("model.") for n in names) else ""
    same = lambda w: w  # noqa: E731
    t = lambda w: w.T  # noqa: E731  (torch Linear stores (out, in))
    m = {("token_embed_vd",): (f"{prefix}embed_tokens.weight", same)}
    for i in range(cfg.n_layers):
        hp, bp = f"{prefix}layers.{i}.", ("blocks", i)
        m[bp + ("norm1", "scale")] = (hp + "input_layernorm.weight", same)
        m[bp + ("norm2", "scale")] = (hp + "post_attention_layernorm.weight", same)
        for ours, theirs in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "o_proj")):
            m[bp + ("attn", ours, "kernel")] = (hp + f"self_attn.{theirs}.weight", t)
            if cfg.attn_bias:
                m[bp + ("attn", ours, "bias")] = (hp + f"self_attn.{theirs}.bias", same)
        for ours in ("gate", "up", "down"):
            m[bp + ("mlp", ours, "kernel")] = (hp + f"mlp.{ours}_proj.weight", t)
            if cfg.mlp_bias:
                m[bp + ("mlp", ours, "bias")] = (hp + f"mlp.{ours}_proj.bias", same)
    m[("final_norm", "scale")] = (f"{prefix}norm.weight", same)
    if not cfg.tie_embeddings:
        m[("unembed_vd",)] = ("lm_head.weight", same)
    return m


def load_hf_checkpoint(path, *, dtype: str = "float32") -> Transformer:
    """Load a local Hugging Face GPT-2 or Llama checkpoint folder into a :class:`Transformer`.

    Reads ``config.json`` and the ``*.safetensors`` weights (sharded or not,
    never from the network). Every tensor must be used and every parameter
    found, with the shape the config implies and finite values; otherwise the
    error names the tensor. Parameters are stored in float32; ``dtype`` is the
    compute dtype. Verified against ``transformers`` in the test suite.

    Args:
        path: folder with ``config.json`` and ``*.safetensors``.
        dtype: compute dtype.

    Returns:
        the :class:`Transformer`.

    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     load_hf_checkpoint(folder)
    ... except FileNotFoundError as err:
    ...     print("config.json" in str(err))
    True
    """
    folder = Path(path)
    config_path = folder / "config.json"
    if not folder.is_dir():
        raise FileNotFoundError(f"load_hf_checkpoint: {str(folder)!r} is not a folder; pass the checkpoint directory.")
    if not config_path.exists():
        raise FileNotFoundError(
            f"load_hf_checkpoint({str(folder)!r}): config.json is missing; a Hugging Face checkpoint folder "
            "holds config.json next to its *.safetensors files."
        )
    try:
        hf = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise _fail(folder, f"config.json is not valid JSON ({err}).") from err
    config = hf_config_to_config(hf, dtype=dtype)
    tensors = _read_tensors(folder)
    names = set(tensors)
    mapping = (_gpt2_map if config.norm == "layernorm" else _llama_map)(config, names)
    abstract = nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    wanted = {tuple(p): v for p, v in nnx.to_flat_state(abstract_state)}
    if set(wanted) != set(mapping):  # an internal inconsistency, not a user error
        raise AssertionError(f"parameter map out of date: {sorted(set(wanted) ^ set(mapping))}")
    missing = sorted({theirs for theirs, _ in mapping.values()} - names)
    if missing:
        raise _fail(
            folder,
            f"tensor(s) {missing[:5]} are missing (found {len(names)} tensors); the weights do not match "
            f"config.json (model_type {hf.get('model_type')!r}, tie_word_embeddings, attention_bias, mlp_bias).",
        )
    used = {theirs for theirs, _ in mapping.values()}
    if config.tie_embeddings and "lm_head.weight" in names:
        lm, emb = tensors["lm_head.weight"], tensors[mapping[("token_embed_vd",)][0]]
        if lm.shape != emb.shape or not np.array_equal(lm, emb):
            raise _fail(folder, "config.json says tie_word_embeddings but lm_head.weight differs from the embedding; "
                                "set tie_word_embeddings to false.")
        used.add("lm_head.weight")
        del lm, emb, tensors["lm_head.weight"]  # the same values as the embedding: not kept
    unused = sorted(n for n in names - used if not n.endswith(_IGNORED_SUFFIXES))
    if unused:
        raise _fail(folder, f"tensor(s) {unused[:5]} are not used by a {hf['model_type']} model with this config.json; "
                            "the checkpoint and its config do not match.")
    flat = {}
    uses: dict[str, int] = {}
    for theirs, _ in mapping.values():
        uses[theirs] = uses.get(theirs, 0) + 1
    for ours, (theirs, transform) in mapping.items():
        value = np.asarray(transform(tensors[theirs]), dtype=np.float32)
        expected = tuple(wanted[ours].shape)
        if value.shape != expected:
            raise _fail(
                folder,
                f"tensor {theirs!r} gives shape {value.shape} for {'.'.join(map(str, ours))}, but config.json "
                f"implies {expected}; the config does not match the weights.",
            )
        if not np.all(np.isfinite(value)):
            raise _fail(folder, f"tensor {theirs!r} contains NaN or inf; the checkpoint is corrupt.")
        # A device array, contiguous, made once here: a host (numpy) parameter would be copied into every compiled
        # call (0.3 s and the weights' size again per call on SmolLM2). The host tensor goes after its last use.
        flat[ours] = jax.device_put(value)
        del value
        uses[theirs] -= 1
        if not uses[theirs]:
            del tensors[theirs]
    pure = {}
    for ours, value in flat.items():
        node = pure
        for key in ours[:-1]:
            node = node.setdefault(key, {})
        node[ours[-1]] = value
    nnx.replace_by_pure_dict(abstract_state, pure)
    return nnx.merge(graphdef, abstract_state)  # every tensor was checked finite above: once, at load


def hf_position_ids(mask_bt) -> np.ndarray:
    """Position ids for a padded batch, as our model counts them: ``cumsum(mask) - 1`` (0 on padding).

    Pass them as ``position_ids`` to a Hugging Face model to reproduce our
    handling of left padding.

    Args:
        mask_bt: 1 on tokens, shape (b, t).

    Returns:
        position ids, shape (b, t), int.

    >>> hf_position_ids([[0, 0, 1, 1]]).tolist()
    [[0, 0, 0, 1]]
    """
    mask_bt = check_array("hf_position_ids", "mask_bt", mask_bt, ndim=2, integer=True, host=True)
    if not np.isin(mask_bt, (0, 1)).all():
        raise ValueError("hf_position_ids: mask_bt must hold 0/1 (or booleans)")
    mask = np.asarray(mask_bt).astype(np.int64)
    return np.maximum(np.cumsum(mask, axis=1) - 1, 0)


