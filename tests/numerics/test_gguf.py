"""GGUF checkpoints: tiny llama files written with the gguf package, checked against the original weights and
against transformers' own GGUF loader (its own dequantisation and head un-permutation)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from gguf_reference import (CHAT_TEMPLATE, SPECIAL, Q, gguf, hf_state_to_gguf, interleave_rotary_halves,
                            tiny_vocab, write_gguf)
from steerbounds.numerics import forward, hf_position_ids
from steerbounds.numerics._gguf import gguf_config, load_gguf_checkpoint, read_gguf
from steerbounds.numerics._gguf_tokenizer import load_gguf_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

D, LAYERS, HEADS, KV, FF = 256, 2, 4, 2, 512  # rows of 256: the K-quant block size
VOCAB = len(tiny_vocab()[0])
SHAPE = dict(d_model=D, n_layers=LAYERS, n_heads=HEADS, n_kv_heads=KV, d_ff=FF)
TOL = 1e-4


def _hf_llama(tie: bool, seed: int = 0):
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=D, intermediate_size=FF, num_hidden_layers=LAYERS,
                                   num_attention_heads=HEADS, num_key_value_heads=KV, max_position_embeddings=64,
                                   rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=tie)
    model = transformers.LlamaForCausalLM(cfg).eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # norm weights away from one, attention away from uniform
    return model


def _state(model) -> dict[str, np.ndarray]:
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    return state


# name -> (ggml type of every matrix or per tensor, tied embeddings)
MIXED = {"blk.0.attn_q.weight": Q.Q4_K, "blk.0.attn_k.weight": Q.Q5_K, "blk.0.attn_v.weight": Q.Q6_K,
         "blk.0.attn_output.weight": Q.Q8_0, "blk.0.ffn_gate.weight": Q.Q4_0, "blk.0.ffn_up.weight": Q.Q4_1,
         "blk.0.ffn_down.weight": Q.BF16, "blk.1.attn_q.weight": Q.F16, "blk.1.attn_k.weight": Q.Q6_K,
         "blk.1.ffn_down.weight": Q.Q5_K, "blk.1.ffn_up.weight": Q.Q4_K, "token_embd.weight": Q.Q8_0,
         "output.weight": Q.Q6_K}
VARIANTS = {
    "f32-untied": ({"*": Q.F32}, False),
    "f16-tied": ({"*": Q.F16}, True),
    "q8_0": ({"*": Q.Q8_0}, False),
    "q4_0": ({"*": Q.Q4_0}, True),
    "q4_1": ({"*": Q.Q4_1}, False),
    "bf16": ({"*": Q.BF16}, True),
    "q4_k": ({"*": Q.Q4_K}, True),
    "q5_k": ({"*": Q.Q5_K}, True),
    "q6_k": ({"*": Q.Q6_K}, True),
    "mixed-k-quants": (MIXED, False),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = {}
    folder = tmp_path_factory.mktemp("gguf")
    for i, (name, (types, tie)) in enumerate(VARIANTS.items()):
        hf = _hf_llama(tie, seed=i)
        tensors = hf_state_to_gguf(_state(hf), HEADS, KV)
        out[name] = (hf, write_gguf(folder / f"{name}.gguf", tensors, types=types, seed=i, **SHAPE))
    return out


@pytest.fixture(scope="module")
def reference(files):
    """transformers' model of each file, loaded from the GGUF itself (its dequantisation, its un-permutation)."""
    out = {}
    for name, (_, path) in files.items():
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                                  dtype=torch.float32)
        out[name] = model.eval()
    return out


TOKENS = np.random.default_rng(1).integers(0, VOCAB, size=(3, 10))
MASK = np.array([[0] * 4 + [1] * 6, [1] * 10, [0] * 8 + [1] * 2])  # left padding


def _torch_logits(model, tokens=TOKENS, mask=MASK):
    with torch.no_grad():
        return model(input_ids=torch.tensor(tokens), attention_mask=torch.tensor(mask),
                     position_ids=torch.tensor(hf_position_ids(mask))).logits.numpy()


def _our_logits(model, tokens=TOKENS, mask=MASK):
    return np.asarray(forward(*nnx.split(model), tokens, mask_bt=mask).logits_btv)


def test_f32_file_gives_back_the_original_weights_exactly(files):
    """The un-permutation is the inverse of the converter's interleaving: every weight comes back bit for bit."""
    hf, path = files["f32-untied"]
    ours = load_gguf_checkpoint(path)
    state = _state(hf)
    for i in range(LAYERS):
        attn = ours.blocks[i].attn
        for proj in "qkvo":
            np.testing.assert_array_equal(np.asarray(getattr(attn, proj).kernel[...]),
                                          state[f"model.layers.{i}.self_attn.{proj}_proj.weight"].T)
        for proj in ("gate", "up", "down"):
            np.testing.assert_array_equal(np.asarray(getattr(ours.blocks[i].mlp, proj).kernel[...]),
                                          state[f"model.layers.{i}.mlp.{proj}_proj.weight"].T)
    np.testing.assert_array_equal(np.asarray(ours.unembed_vd[...]), state["lm_head.weight"])
    worst = np.abs(_our_logits(ours) - _torch_logits(hf))[MASK.astype(bool)].max()
    assert worst <= TOL


def test_interleaving_is_the_converters_layout():
    """Row 2i+j of a stored head is row j*hd/2+i of the original (the converter's reshape/swapaxes)."""
    w = np.arange(2 * 8 * 3).reshape(16, 3)
    out = interleave_rotary_halves(w, 2)
    expected = w.reshape(2, 2, 4, 3).swapaxes(1, 2).reshape(16, 3)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_logits_match_transformers_gguf_loader(files, reference, variant):
    ours = load_gguf_checkpoint(files[variant][1])
    ref = _torch_logits(reference[variant])
    got = _our_logits(ours)
    real = MASK.astype(bool)
    worst = float(np.abs(got[real] - ref[real]).max())
    print(f"max |logit difference| {variant}: {worst:.3g}")
    assert worst <= TOL
    assert np.abs(ref[real]).std() > 0.05  # logits that vary: a wrong weight would show


def test_config_from_metadata(files):
    cfg = gguf_config(files["mixed-k-quants"][1])
    assert (cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.d_ff, cfg.vocab_size) == (D, LAYERS, HEADS, KV,
                                                                                                 FF, VOCAB)
    assert cfg.norm == "rmsnorm" and cfg.rope_theta == 10000.0 and cfg.norm_eps == 1e-5 and not cfg.tie_embeddings
    assert gguf_config(files["q4_k"][1]).tie_embeddings


def test_without_unpermuting_the_logits_differ(files, reference, monkeypatch):
    """Planted bug: skipping the un-permutation must break the match (the comparison has power)."""
    import steerbounds.numerics._gguf as mod

    monkeypatch.setattr(mod, "_unpermute_rows", lambda w, n_heads: w)
    wrong = load_gguf_checkpoint(files["q8_0"][1])
    real = MASK.astype(bool)
    assert np.abs(_our_logits(wrong)[real] - _torch_logits(reference["q8_0"])[real]).max() > 1e-2


def test_reader_agrees_with_gguf_reader(files):
    """Our one-pass header parser and the gguf package's GGUFReader see the same metadata and tensors."""
    path = files["mixed-k-quants"][1]
    ours = read_gguf(path)
    theirs = gguf.GGUFReader(str(path))
    keys = [k for k in theirs.fields if not k.startswith("GGUF.")]
    assert keys == list(ours.metadata)
    for key in keys:
        value = theirs.fields[key].contents()
        mine = ours.metadata[key]
        assert (mine.tolist() if isinstance(mine, np.ndarray) else mine) == value, key
    assert [t.name for t in theirs.tensors] == list(ours.tensors)
    for t in theirs.tensors:
        info = ours.tensors[t.name]
        assert info.type_name == t.tensor_type.name and info.n_bytes == t.n_bytes
        assert info.offset == t.data_offset and info.shape == tuple(int(x) for x in reversed(t.shape.tolist()))
        np.testing.assert_array_equal(ours.raw(t.name).reshape(-1), np.asarray(t.data).view(np.uint8).reshape(-1))


# --- errors --------------------------------------------------------------------------------------------------------


def _small(tmp_path, name="x.gguf", **kw):
    hf = _hf_llama(tie=True)
    return write_gguf(tmp_path / name, hf_state_to_gguf(_state(hf), HEADS, KV), **{**SHAPE, **kw})


def test_other_architecture_is_refused_by_name(tmp_path):
    hf = _hf_llama(tie=True)
    path = write_gguf(tmp_path / "q.gguf", hf_state_to_gguf(_state(hf), HEADS, KV), arch="qwen2", **SHAPE)
    with pytest.raises(ValueError, match="architecture 'qwen2'.*not supported.*llama"):
        load_gguf_checkpoint(path)


@pytest.mark.parametrize("qtype", [Q.Q5_0, Q.Q2_K])
def test_unsupported_tensor_type_is_named(tmp_path, qtype):
    path = _small(tmp_path, types={"blk.1.ffn_up.weight": qtype})
    with pytest.raises(ValueError, match=f"{qtype.name}.*blk.1.ffn_up.weight.*supported types: F32"):
        load_gguf_checkpoint(path)


def test_truncated_file_is_reported(tmp_path):
    path = _small(tmp_path)
    data = path.read_bytes()
    f = read_gguf(path)
    header_end = min(t.offset for t in f.tensors.values())
    for cut, where in ((12, "header"), (header_end // 3, "metadata|tensor table|header"),
                       (header_end + 100, "truncated: tensor"), (len(data) - 1, "truncated: tensor")):
        short = tmp_path / f"cut{cut}.gguf"
        short.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"truncated|only {cut} bytes") as err:
            load_gguf_checkpoint(short)
        assert str(short) in str(err.value)


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="not a GGUF file"):
        load_gguf_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_gguf_checkpoint(tmp_path / "absent.gguf")


def test_missing_and_extra_tensors_are_named(tmp_path):
    hf = _hf_llama(tie=True)
    tensors = hf_state_to_gguf(_state(hf), HEADS, KV)
    del tensors["blk.1.ffn_gate.weight"]
    with pytest.raises(ValueError, match="blk.1.ffn_gate.weight.*missing"):
        load_gguf_checkpoint(write_gguf(tmp_path / "m.gguf", tensors, **SHAPE))
    tensors = hf_state_to_gguf(_state(hf), HEADS, KV)
    tensors["blk.0.attn_q_norm.weight"] = np.ones(D // HEADS, np.float32)
    with pytest.raises(ValueError, match="attn_q_norm.*not used"):
        load_gguf_checkpoint(write_gguf(tmp_path / "e.gguf", tensors, **SHAPE))


def test_nan_weight_is_named(tmp_path):
    hf = _hf_llama(tie=True)
    tensors = hf_state_to_gguf(_state(hf), HEADS, KV)
    # the finite model loads as device arrays (numpy ones would be copied into every compiled call)
    leaves = jax.tree_util.tree_leaves(nnx.state(load_gguf_checkpoint(write_gguf(tmp_path / "f.gguf", tensors, **SHAPE))))
    assert leaves and all(isinstance(x, jax.Array) for x in leaves)
    tensors["blk.0.ffn_up.weight"][3, 3] = np.nan
    with pytest.raises(ValueError, match="blk.0.ffn_up.weight.*NaN"):
        load_gguf_checkpoint(write_gguf(tmp_path / "n.gguf", tensors, **SHAPE))


# --- tokenizer -----------------------------------------------------------------------------------------------------

STRINGS = ["the world", "Hello world, the 12 is 1234!", "  two  spaces\n\nnew lines\t tabs", "éàü — ünïcödé 日本語 🙂",
           "<|im_start|>user\nhi there<|im_end|>\n", "it's the 3rd; they're", "def f(x):\n    return x**2  # ok",
           "<|endoftext|><|endoftext|>", "    ", "", "x<|im_end|>y", "12 123 1 2 3 0.5 -7", "wor ld world worlds"]


@pytest.mark.parametrize("pre", ["gpt-2", "llama-bpe"])
def test_tokenizer_matches_transformers(tmp_path, pre):
    path = _small(tmp_path, pre=pre)
    ours = load_gguf_tokenizer(path)
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=path.name)
    for text in STRINGS:
        assert ours.tokenizer.encode(text, add_special_tokens=False).ids == theirs(text, add_special_tokens=False)[
            "input_ids"], text
        assert ours.tokenizer.decode(ours.tokenizer.encode(text).ids, skip_special_tokens=False) == text


def test_smollm_pre_tokenizer_splits_digits(tmp_path):
    """smollm isolates every digit before the merges (the vocabulary's "1 2" merge must not apply)."""
    tok = load_gguf_tokenizer(_small(tmp_path, pre="smollm")).tokenizer
    assert tok.encode("12 x").tokens == ["1", "2", "Ġ", "x"]
    gpt2 = load_gguf_tokenizer(_small(tmp_path, name="g.gguf", pre="gpt-2")).tokenizer
    assert gpt2.encode("12 x").tokens == ["12", "Ġ", "x"]


def test_tokenizer_parts(tmp_path):
    parts = load_gguf_tokenizer(_small(tmp_path, add_bos=True))
    assert parts.chat_template == CHAT_TEMPLATE
    assert (parts.bos_token, parts.bos_token_id, parts.eos_token, parts.eos_token_id) == ("<|im_start|>", 1,
                                                                                          "<|im_end|>", 2)
    assert parts.special_tokens == tuple(SPECIAL) and parts.add_bos_token
    assert parts.tokenizer.encode("the").ids[0] == 1  # BOS prepended when the file asks for it
    assert parts.tokenizer.encode("the", add_special_tokens=False).ids[0] != 1
    assert parts.tokenizer.encode("<|im_end|>", add_special_tokens=False).ids == [2]  # control tokens stay whole
    assert load_gguf_tokenizer(_small(tmp_path, name="n.gguf", chat_template=None)).chat_template is None


def test_unknown_pre_tokenizer_and_tokenizer_model_are_refused(tmp_path):
    with pytest.raises(ValueError, match="pre-tokenizer 'falcon'.*supported: gpt-2"):
        load_gguf_tokenizer(_small(tmp_path, pre="falcon"))
    with pytest.raises(ValueError, match="tokenizer.ggml.model 'llama'.*byte-level BPE"):
        load_gguf_tokenizer(_small(tmp_path, name="s.gguf", tokenizer_model="llama"))


def test_duplicate_token_is_refused(tmp_path):
    tokens, merges, types = tiny_vocab()
    tokens[-1] = tokens[-2]
    with pytest.raises(ValueError, match="appears twice"):
        load_gguf_tokenizer(_small(tmp_path, vocab=(tokens, merges, types)))


# --- the study model and the registry ------------------------------------------------------------------------------


def test_gguf_file_as_a_study_model(files, tmp_path):
    """``--model FILE.gguf``: the registry recognises the file; the study runs end to end with its chat template."""
    from steerbounds.numerics import ChatTokenizer, load_gguf_study_model
    from steerbounds.validation.studies import _registry
    from steerbounds.validation.studies._reproduce import study_and_report
    from steerbounds.validation.studies._data import packaged_data
    from steerbounds.validation.studies._study import StudyConfig

    path = files["q8_0"][1]
    entry = _registry.resolve_model(str(path))
    assert entry.name == "gguf" and entry.source == path
    model = entry.load_model()
    assert isinstance(model.prompt_encoder, ChatTokenizer)
    assert model.prompt_encoder.render("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert model.model_hash == load_gguf_study_model(path).model_hash
    plain = load_gguf_study_model(path, use_chat_template=False)
    assert plain.prompt_encoder.render("hi") == "hi"
    import dataclasses

    full = packaged_data()
    data = dataclasses.replace(full, aligned_prompts=full.aligned_prompts[:6], misaligned_prompts=full.misaligned_prompts[:6],
                               behaviour_prompts=full.behaviour_prompts[:4], questions=full.questions[:6])
    config = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3, vector_method="caa")
    out = study_and_report(model, data, config, tmp_path / "out", progress=False, figures=False)
    report = out["report"]
    assert (tmp_path / "out" / "report.md").is_file()
    assert report["model"]["format"] == "gguf" and report["model"]["hash"] == model.model_hash


def test_other_paths_are_not_taken_for_gguf(tmp_path):
    from steerbounds.validation.studies import _registry

    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not gguf at all")
    with pytest.raises(ValueError, match="no registered format recognises it"):
        _registry.resolve_model(str(fake))


def test_smollm2_is_registered_with_its_own_defaults():
    from steerbounds.validation.studies import _registry

    entry = _registry.resolve_model("smollm2")
    config = entry.config()
    assert config.vector_method == "caa" and config.behaviour_grid == (-24.0, 24.0, 4.0)
    assert 0.0 in config.helpfulness_coefficients()
    data = entry.data(None)
    assert data.misaligned_tokens == _registry.SMOLLM2_COMPLIANCE_OPENERS and data.aligned_tokens is None
    assert len(data.behaviour_prompts) >= 50 and len(data.questions) >= 150
