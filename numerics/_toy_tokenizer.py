"""A word-level tokenizer with a fixed vocabulary, for the toy world.

Text is split on whitespace; every word must be in the vocabulary (there is no
unknown-token fallback: an unknown word is a bug in the caller or in the world
and raises an error that names it). Batches are left-padded, so the last
column of every row is the last real token: the position whose next-token
distribution the behaviour (docs/theory.md#alignment) and helpfulness (section 3)
measurements read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"


@dataclass(frozen=True)
class WordTokenizer:
    """Whitespace word tokenizer over a fixed vocabulary.

    Token id ``i`` is ``vocab[i]``. The vocabulary must start with the
    padding token ``<pad>`` (id 0) and contain ``<bos>`` and ``<eos>``; words
    are case-sensitive (``A`` the option letter and ``a`` the article are
    different tokens).

    >>> tok = WordTokenizer(("<pad>", "<bos>", "<eos>", "hello", "world"))
    >>> tok.encode("hello world")
    [3, 4]
    >>> tok.decode([1, 3, 4])
    '<bos> hello world'
    >>> tokens_bt, mask_bt = tok.pad_batch([[3], [3, 4]])
    >>> tokens_bt.tolist(), mask_bt.tolist()
    ([[0, 3], [3, 4]], [[False, True], [True, True]])
    """

    vocab: tuple[str, ...]  # the words, in id order; vocab[0] is "<pad>"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vocab = tuple(self.vocab)
        if not vocab or vocab[0] != PAD:
            raise ValueError(f"vocab must start with {PAD!r} (id 0); it starts with {vocab[:1]!r}")
        for special in (BOS, EOS):
            if special not in vocab:
                raise ValueError(f"vocab must contain the special token {special!r}")
        bad = [w for w in vocab if not isinstance(w, str) or not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"vocab entries must be non-empty strings without whitespace; got {bad[:5]!r}")
        index: dict[str, int] = {}
        for i, word in enumerate(vocab):
            if word in index:
                raise ValueError(f"vocab lists {word!r} twice (ids {index[word]} and {i}); make it unique")
            index[word] = i
        object.__setattr__(self, "vocab", vocab)
        object.__setattr__(self, "_index", index)

    @property
    def vocab_size(self) -> int:
        """Number of tokens, ``len(vocab)``."""
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (always 0)."""
        return 0

    @property
    def bos_id(self) -> int:
        """Id of ``<bos>``."""
        return self._index[BOS]

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>``."""
        return self._index[EOS]

    def token_id(self, word: str) -> int:
        """The id of one word; raises ``KeyError`` naming an unknown word."""
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(
                f"unknown token {word!r}: it is not in the {len(self.vocab)}-word vocabulary "
                "(the toy tokenizer has no fallback; use only words of the world's vocabulary)"
            ) from None

    def encode(self, text: str) -> list[int]:
        """Ids of the whitespace-separated words of ``text`` (no ``<bos>`` added)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids = []
        for word in text.split():
            if word not in self._index:
                raise KeyError(
                    f"unknown token {word!r} in text {text!r}: it is not in the "
                    f"{len(self.vocab)}-word vocabulary (the toy tokenizer has no fallback)"
                )
            ids.append(self._index[word])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Words of ``ids`` joined by single spaces (padding included if present)."""
        words = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"token id {i} is outside the vocabulary [0, {len(self.vocab)})")
            words.append(self.vocab[i])
        return " ".join(words)

    def pad_batch(
        self, sequences: Sequence[Sequence[int]], *, length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Left-pad id sequences into ``(tokens_bt, mask_bt)``.

        ``tokens_bt`` is int32 with ``<pad>`` (0) on the left; ``mask_bt`` is
        True on real tokens. ``length`` defaults to the longest sequence; a
        sequence longer than ``length`` raises (nothing is truncated).
        """
        if len(sequences) == 0:
            raise ValueError("sequences is empty; pass at least one token sequence")
        lengths = [len(s) for s in sequences]
        if min(lengths) == 0:
            raise ValueError(f"sequence {lengths.index(0)} is empty; every sequence needs a token")
        width = max(lengths) if length is None else int(length)
        if max(lengths) > width:
            raise ValueError(
                f"a sequence has {max(lengths)} tokens but length={width}; raise length (no truncation)"
            )
        tokens_bt = np.zeros((len(sequences), width), dtype=np.int32)
        mask_bt = np.zeros((len(sequences), width), dtype=bool)
        for b, seq in enumerate(sequences):
            ids = np.asarray(seq, dtype=np.int64)
            if ids.min() < 0 or ids.max() >= len(self.vocab):
                raise ValueError(f"sequence {b} has ids outside the vocabulary [0, {len(self.vocab)})")
            tokens_bt[b, width - len(ids) :] = ids
            mask_bt[b, width - len(ids) :] = True
        return tokens_bt, mask_bt

    def encode_batch(
        self, texts: Sequence[str], *, length: int | None = None, add_bos: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode texts (with a leading ``<bos>`` by default) and left-pad them.

        >>> tok = WordTokenizer(("<pad>", "<bos>", "<eos>", "hi"))
        >>> tok.encode_batch(["hi", "hi hi"])[0].tolist()
        [[0, 1, 3], [1, 3, 3]]
        """
        prefix = [self.bos_id] if add_bos else []
        return self.pad_batch([prefix + self.encode(t) for t in texts], length=length)
