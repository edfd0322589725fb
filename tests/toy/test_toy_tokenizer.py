"""The word tokenizer: round trips, left padding, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steerbounds.numerics import ToyWorld, WordTokenizer

WORLD = ToyWorld.generate(seed=0)
TOK = WORLD.tokenizer
WORDS = [w for w in TOK.vocab if w != "<pad>"]


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30))
def test_encode_decode_round_trip(words):
    text = " ".join(words)
    ids = TOK.encode(text)
    assert len(ids) == len(words)
    assert TOK.decode(ids) == text
    assert [TOK.vocab[i] for i in ids] == words


def test_ids_are_positions_in_the_vocabulary():
    assert TOK.pad_id == 0 and TOK.vocab[TOK.bos_id] == "<bos>" and TOK.vocab[TOK.eos_id] == "<eos>"
    assert all(TOK.token_id(w) == i for i, w in enumerate(TOK.vocab))
    assert TOK.token_id("A") != TOK.token_id("a")  # case-sensitive: option letter vs article


def test_unknown_token_is_named():
    with pytest.raises(KeyError, match="unknown token 'dragon'"):
        TOK.encode("how do i steal a dragon ?")
    with pytest.raises(KeyError, match="unknown token 'Alice'"):
        TOK.token_id("Alice")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TOK.decode([len(TOK.vocab)])


@given(st.lists(st.lists(st.integers(1, len(WORDS)), min_size=1, max_size=12), min_size=1, max_size=6))
def test_pad_batch_left_pads(seqs):
    tokens_bt, mask_bt = TOK.pad_batch(seqs)
    width = max(len(s) for s in seqs)
    assert tokens_bt.shape == mask_bt.shape == (len(seqs), width)
    assert tokens_bt.dtype == np.int32 and mask_bt.dtype == bool
    for row, mrow, seq in zip(tokens_bt, mask_bt, seqs):
        assert row[-len(seq):].tolist() == list(seq)  # real tokens flush right
        assert mrow.sum() == len(seq) and mrow[-1]
        assert not mrow[: width - len(seq)].any() and (row[: width - len(seq)] == 0).all()


def test_pad_batch_rejects_bad_input():
    with pytest.raises(ValueError, match="sequences is empty"):
        TOK.pad_batch([])
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        TOK.pad_batch([[3], []])
    with pytest.raises(ValueError, match="length=2"):
        TOK.pad_batch([[3, 4, 5]], length=2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TOK.pad_batch([[3, 10_000]])


def test_encode_batch_adds_bos_and_pads_left():
    tokens_bt, mask_bt = TOK.encode_batch(["question :", "answer :"], length=4)
    assert tokens_bt[:, -3].tolist() == [TOK.bos_id, TOK.bos_id]
    assert mask_bt.sum(axis=1).tolist() == [3, 3]


@pytest.mark.parametrize(
    "vocab, message",
    [
        (("<bos>", "<pad>", "<eos>"), "must start with '<pad>'"),
        (("<pad>", "<eos>", "x"), "'<bos>'"),
        (("<pad>", "<bos>", "<eos>", "x", "x"), "twice"),
        (("<pad>", "<bos>", "<eos>", "two words"), "without whitespace"),
    ],
)
def test_vocab_validation(vocab, message):
    with pytest.raises(ValueError, match=message):
        WordTokenizer(vocab)
