"""Loading Hugging Face checkpoints, checked against transformers (PyTorch, CPU) on tiny random models."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from flax import nnx

from steerbounds.numerics import Transformer, forward, hf_position_ids, load_hf_checkpoint, model_hash

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOL = 1e-4  # max |logit difference| in float32
VOCAB = 61


def _gpt2(**kw):
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=32, bos_token_id=0, eos_token_id=0, **kw
    )
    return transformers.GPT2LMHeadModel(cfg)


def _llama(**kw):
    base = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=44, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=64, bos_token_id=0, eos_token_id=0)
    base.update(kw)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**base))


LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}

VARIANTS = {
    "gpt2": lambda: _gpt2(),
    "gpt2-untied-exact-gelu": lambda: _gpt2(activation_function="gelu", tie_word_embeddings=False),
    "llama-gqa": lambda: _llama(),
    "llama-mha-tied-bias-headdim": lambda: _llama(num_key_value_heads=4, tie_word_embeddings=True, attention_bias=True,
                                                  mlp_bias=True, head_dim=6),
    "llama3-rope-scaling": lambda: _llama(rope_parameters=LLAMA3_ROPE),
}


def _save(hf_model, folder, seed=0, **kw):
    torch.manual_seed(seed)
    hf_model.eval()
    with torch.no_grad():
        for p in hf_model.parameters():
            p.add_(0.2 * torch.randn_like(p))  # break the symmetric initialisation (norm weights of one, zero biases)
    hf_model.save_pretrained(folder, **kw)
    return hf_model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    out = {}
    for name, make in VARIANTS.items():
        folder = tmp_path_factory.mktemp(name)
        out[name] = (_save(make(), folder), folder)
    return out


TOKENS = np.random.default_rng(0).integers(0, VOCAB, size=(3, 12))
MASKS = {"no-padding": np.ones((3, 12), int), "left-padding": np.array([[0] * 5 + [1] * 7, [1] * 12, [0] * 10 + [1] * 2])}


def _worst(hf_model, ours, mask):
    with torch.no_grad():
        ref = hf_model(
            input_ids=torch.tensor(TOKENS), attention_mask=torch.tensor(mask), position_ids=torch.tensor(hf_position_ids(mask))
        ).logits.numpy()
    got = np.asarray(forward(*nnx.split(ours), TOKENS, mask_bt=mask).logits_btv)
    real = mask.astype(bool)
    return float(np.abs(got[real] - ref[real]).max()), ref


@pytest.mark.parametrize("padding", list(MASKS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_logits_match_transformers(checkpoints, variant, padding):
    hf_model, folder = checkpoints[variant]
    ours = load_hf_checkpoint(folder)
    worst, ref = _worst(hf_model, ours, MASKS[padding])
    print(f"max |logit difference| {variant} {padding}: {worst:.3g}")
    assert worst <= TOL
    assert np.abs(ref).max() > 1.0  # logits of a size where a mismatch would show


def test_rope_scaling_is_not_ignored(checkpoints):
    """Planted wrong config: dropping the llama3 rescaling must break the match (the comparison has power)."""
    hf_model, folder = checkpoints["llama3-rope-scaling"]
    plain = load_hf_checkpoint(folder)
    cfg = dataclasses.replace(plain.config, rope_scaling="none")
    wrong = Transformer(cfg, rngs=nnx.Rngs(0))
    nnx.update(wrong, nnx.state(plain))
    assert _worst(hf_model, wrong, MASKS["no-padding"])[0] > 1e-3


def test_sharded_checkpoint_loads_identically(checkpoints, tmp_path):
    hf_model, folder = checkpoints["llama-gqa"]
    hf_model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert model_hash(load_hf_checkpoint(tmp_path)) == model_hash(load_hf_checkpoint(folder))


def _copy(folder, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(folder, target)
    return target


def _edit_config(folder, **changes):
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


def test_missing_things_are_explained(checkpoints, tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_hf_checkpoint(tmp_path / "nowhere")
    _, folder = checkpoints["gpt2"]
    broken = _copy(folder, tmp_path)
    for f in broken.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors"):
        load_hf_checkpoint(broken)
    (broken / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        load_hf_checkpoint(broken)


def test_missing_shard_is_explained(checkpoints, tmp_path):
    hf_model, _ = checkpoints["gpt2"]
    hf_model.save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    shards[-1].unlink()
    with pytest.raises(FileNotFoundError, match="listed in the index is missing"):
        load_hf_checkpoint(tmp_path)


@pytest.mark.parametrize(
    ("variant", "changes", "match"),
    [
        ("gpt2", dict(n_embd=48), "implies"),
        ("gpt2", dict(n_layer=1), "are not used"),
        ("gpt2", dict(n_layer=3), "are missing"),
        ("llama-gqa", dict(num_key_value_heads=4), "implies"),
        ("llama-gqa", dict(tie_word_embeddings=True), "are not used|differs from the embedding"),
        ("llama-gqa", dict(model_type="bert"), "not supported"),
        ("llama-gqa", dict(hidden_act="gelu"), "hidden_act"),
    ],
)
def test_config_that_does_not_match_the_weights(checkpoints, tmp_path, variant, changes, match):
    broken = _copy(checkpoints[variant][1], tmp_path)
    _edit_config(broken, **changes)
    with pytest.raises(ValueError, match=match):
        load_hf_checkpoint(broken)


def test_nan_weights_are_named(checkpoints, tmp_path):
    from safetensors.numpy import load_file, save_file

    broken = _copy(checkpoints["llama-gqa"][1], tmp_path)
    path = broken / "model.safetensors"
    tensors = load_file(str(path))
    tensors["model.layers.1.mlp.up_proj.weight"][0, 0] = np.nan
    save_file(tensors, str(path), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="model.layers.1.mlp.up_proj.weight.*NaN"):
        load_hf_checkpoint(broken)


def test_parameters_are_device_arrays_made_at_load(checkpoints):
    """Host (numpy) parameters would be copied into every compiled call; the loader converts each tensor once."""
    import jax

    leaves = jax.tree_util.tree_leaves(nnx.state(load_hf_checkpoint(checkpoints["llama-gqa"][1])))
    assert leaves and all(isinstance(x, jax.Array) for x in leaves), {type(x).__name__ for x in leaves}


def test_malformed_files_are_explained(checkpoints, tmp_path):
    broken = _copy(checkpoints["gpt2"][1], tmp_path)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_hf_checkpoint(broken)
    broken2 = _copy(checkpoints["gpt2"][1], tmp_path / "b")
    (broken2 / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_hf_checkpoint(broken2)


def test_inspect_checkpoint_command(checkpoints, capsys):
    from steerbounds.cli import main

    _, folder = checkpoints["llama-gqa"]
    assert main(["inspect-checkpoint", str(folder)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("parameters: ") and "n_kv_heads: 2" in text
    assert main(["inspect-checkpoint", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model_hash"] == model_hash(load_hf_checkpoint(folder))
    assert report["config"]["n_kv_heads"] == 2 and report["n_params"] > 0
