"""Blocks over a key/value cache: the shared leading span, each prompt's own tokens, generated tokens.

A batch of prompts is laid out in three segments (:func:`arrange_prompts`):

* the *span*: the longest run of leading tokens common to every prompt (a chat
  template's system turn and user header). With per-prompt positions counted
  from each prompt's first token, its keys and values are the same for every
  prompt, so it is computed once per coefficient with one row, not ``b`` rows;
* the prompts' *own* tokens after the span, left-padded to a common width;
* during generation, the *generated* tokens, written one slot per step.

A block's attention concatenates the scores of the segments before one
softmax, which is the same as attending over the whole sequence. Queries have
leading axes ``(b, s, q)``: prompt, sample, query position. The span's keys
have no prompt axis, the own tokens' keys no sample axis; they broadcast.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._forward import Steering
from ._model import Block, Transformer
from ._rotary import rotary_inverse_frequencies

_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def bucket(n: int, *, minimum: int = 1) -> int:
    """The compiled size for ``n``: the smallest of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers of two and 1.5x) >= n.

    At most a third of a bucket is padding, and a sweep over many shapes
    compiles once per bucket. Sizes above 1024 round up to a multiple of 512.

    >>> [bucket(n) for n in (0, 1, 5, 11, 21, 43, 49)], bucket(3, minimum=8)
    ([0, 1, 6, 12, 24, 48, 64], 8)
    """
    if n <= 0:
        return 0
    n = max(n, minimum)
    for size in _BUCKETS:
        if size >= n:
            return size
    return -(-n // 512) * 512


class PromptLayout(NamedTuple):
    """A batch of prompts as shared span plus own tokens (host arrays; see :func:`arrange_prompts`).

    >>> PromptLayout._fields[:4]
    ('span_tokens_p', 'span_mask_p', 'span_steer_p', 'span_positions_p')
    """

    span_tokens_p: np.ndarray  # (P,) int32 the common leading tokens, left-padded to the bucket P
    span_mask_p: np.ndarray  # (P,) bool, True on span tokens
    span_steer_p: np.ndarray  # (P,) bool, steer there
    span_positions_p: np.ndarray  # (P,) int32 position of each span token (0 .. L - 1)
    own_tokens_bt: np.ndarray  # (b, T) int32 each prompt's tokens after the span, left-padded to the bucket T
    own_mask_bt: np.ndarray  # (b, T) bool
    own_steer_bt: np.ndarray  # (b, T) bool
    own_positions_bt: np.ndarray  # (b, T) int32, continuing from the span
    lengths_b: np.ndarray  # (b,) int32 full prompt lengths (span included): the first generated position


def common_span_length(tokens_bt, mask_bt, steer_bt=None) -> int:
    """Length of the longest leading run of tokens shared by every prompt, at most the shortest prompt minus one.

    Counted on each prompt's real tokens (padding anywhere is skipped); where
    ``steer_bt`` is given the run also stops where the prompts disagree on
    being steered. Detected from the ids, never assumed.

    Args:
        tokens_bt: prompts, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steer_bt: optional 1 where a position is steered, shape (b, t).

    Returns:
        the length of the shared leading span, in tokens.

    >>> common_span_length([[0, 5, 6, 7], [5, 6, 8, 9]], [[0, 1, 1, 1], [1, 1, 1, 1]])
    2
    >>> common_span_length([[5, 6], [5, 6]], [[1, 1], [1, 1]])  # every prompt keeps at least one own token
    1
    """
    tokens_bt, mask_bt = np.asarray(tokens_bt), np.asarray(mask_bt).astype(bool)
    steer_bt = np.ones_like(mask_bt) if steer_bt is None else np.asarray(steer_bt).astype(bool)
    rows = [(t[m], s[m]) for t, m, s in zip(tokens_bt, mask_bt, steer_bt)]
    limit = min(len(t) for t, _ in rows) - 1
    if len(rows) < 2 or limit <= 0:
        return 0
    toks = np.stack([t[:limit] for t, _ in rows])
    steer = np.stack([s[:limit] for _, s in rows])
    same = np.all(toks == toks[:1], axis=0) & np.all(steer == steer[:1], axis=0)
    return int(limit if same.all() else np.argmin(same))


def arrange_prompts(tokens_bt, mask_bt, steer_bt, *, share_span: bool, min_width: int = 8) -> PromptLayout:
    """Split prompts into the common span and left-padded own tokens, padded to :func:`bucket` sizes.

    Padding in the input may be anywhere: each prompt's tokens are its
    mask's 1s in order (positions count them), so moving them together
    changes nothing the model computes. ``steer_bt`` (bool, or None for
    everywhere) marks the prompt positions to steer.

    >>> lay = arrange_prompts([[7, 7, 1], [7, 7, 2]], [[1, 1, 1], [1, 1, 1]], None, share_span=True, min_width=1)
    >>> lay.span_tokens_p.tolist(), lay.own_tokens_bt.tolist(), lay.own_positions_bt.tolist(), lay.lengths_b.tolist()
    ([7, 7], [[1], [2]], [[2], [2]], [3, 3])
    """
    tokens_bt = np.asarray(tokens_bt)
    mask_bt = np.asarray(mask_bt).astype(bool)
    steer_bt = np.ones_like(mask_bt) if steer_bt is None else np.asarray(steer_bt).astype(bool) & mask_bt
    span = common_span_length(tokens_bt, mask_bt, steer_bt) if share_span else 0
    rows = [(t[m], s[m]) for t, m, s in zip(tokens_bt, mask_bt, steer_bt)]
    p = bucket(span, minimum=min_width) if span else 0
    span_tokens = np.zeros(p, np.int32)
    span_mask = np.zeros(p, bool)
    span_steer = np.zeros(p, bool)
    if span:
        span_tokens[p - span:] = rows[0][0][:span]
        span_mask[p - span:] = True
        span_steer[p - span:] = rows[0][1][:span]
    span_positions = np.maximum(np.cumsum(span_mask) - 1, 0).astype(np.int32)
    width = bucket(max(len(t) for t, _ in rows) - span, minimum=min_width)
    b = len(rows)
    own_tokens = np.zeros((b, width), np.int32)
    own_mask = np.zeros((b, width), bool)
    own_steer = np.zeros((b, width), bool)
    for i, (t, s) in enumerate(rows):
        k = len(t) - span
        own_tokens[i, width - k:] = t[span:]
        own_mask[i, width - k:] = True
        own_steer[i, width - k:] = s[span:]
    own_positions = (span + np.maximum(np.cumsum(own_mask, axis=1) - 1, 0)).astype(np.int32)
    lengths = np.array([len(t) for t, _ in rows], np.int32)
    return PromptLayout(span_tokens, span_mask, span_steer, span_positions, own_tokens, own_mask, own_steer,
                        own_positions, lengths)


# ----------------------------------------------------------------------------- pieces of a block


def rotary(model: Transformer, positions):
    """cos and sin of the rotary angles at integer ``positions`` (any shape), or (None, None)."""
    if model.config.positions != "rotary":
        return None, None
    inv = rotary_inverse_frequencies(model.config)
    angles = positions.astype(jnp.float32)[..., None] * jnp.reshape(inv, (1,) * positions.ndim + (-1,))
    return jnp.cos(angles), jnp.sin(angles)


def embed(model: Transformer, tokens, positions) -> jax.Array:
    """Token (and learned position) embeddings, any leading shape."""
    x = jnp.take(model.token_embed_vd[...], tokens, axis=0)
    if model.pos_embed_td is not None:
        x = x + jnp.take(model.pos_embed_td[...], positions, axis=0)
    return x.astype(model.config.dtype)


def steer(x, steering: Steering | None, layer: int, where) -> jax.Array:
    """``x + c * v_layer`` where ``where`` (the leading shape of x, bool) holds; layers outside S add 0."""
    if steering is None:
        return x
    amount = steering.coefficient * steering.layer_mask_l[layer]
    vec = jnp.reshape(steering.vectors_ld[layer], (1,) * where.ndim + (-1,))
    add = amount * where[..., None].astype(jnp.float32) * vec
    return x + add.astype(x.dtype)


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x32 = x.astype(jnp.float32)
    x1, x2 = x32[..., :half], x32[..., half:]
    cos, sin = cos[..., None, :], sin[..., None, :]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x.dtype)


# Einsum subscripts of a segment's keys and values: span (k, p, h), own tokens (b, k, p, h), generated
# (b, s, k, p, h). Heads come before positions so that the batch axes of both attention products lead and
# positions and head features trail: the products read the cache in place, without a transposed copy per step.
_KEYS = {"span": "kph", "own": "bkph", "gen": "bskph"}


class Segment(NamedTuple):
    """Keys and values one attention step can see, with where it may look (broadcastable to (b, s, q, p))."""

    kind: str  # "span", "own" or "gen" (see _KEYS)
    k: jax.Array
    v: jax.Array
    allowed: jax.Array  # bool, 4-D, broadcastable to (b, s, q, p)


def attend(block: Block, q_bsqhd, segments: list[Segment]) -> jax.Array:
    """Attention of the queries over the concatenated segments (one softmax), projected by ``o``."""
    attn = block.attn
    b, s, nq, _, hd = q_bsqhd.shape
    kv, g = attn.n_kv_heads, attn.n_heads // attn.n_kv_heads
    q = q_bsqhd.reshape(b, s, nq, kv, g, hd)
    scale = 1.0 / math.sqrt(hd)
    scores, sizes = [], []
    for seg in segments:
        sc = jnp.einsum(f"bsqkgh,{_KEYS[seg.kind]}->bskgqp", q, seg.k, preferred_element_type=jnp.float32) * scale
        sc = jnp.where(seg.allowed[:, :, None, None, :, :], sc, jnp.finfo(jnp.float32).min)
        scores.append(sc)
        sizes.append(sc.shape[-1])
    probs = jax.nn.softmax(jnp.concatenate(scores, axis=-1) if len(scores) > 1 else scores[0], axis=-1)
    probs = probs.astype(attn.dtype)
    out, start = 0, 0
    for seg, size in zip(segments, sizes):
        p = probs[..., start:start + size]
        out = out + jnp.einsum(f"bskgqp,{_KEYS[seg.kind]}->bsqkgh", p, seg.v)
        start += size
    return attn.o(out.reshape(b, s, nq, attn.n_heads * hd))


def project(block: Block, x, cos, sin):
    """Queries, keys and values (rotated) of the normed residual ``x`` (leading shape ..., d)."""
    attn = block.attn
    h = block.norm1(x)
    lead, hd = x.shape[:-1], attn.head_size
    q = attn.q(h).reshape(*lead, attn.n_heads, hd)
    k = attn.k(h).reshape(*lead, attn.n_kv_heads, hd)
    v = attn.v(h).reshape(*lead, attn.n_kv_heads, hd)
    if attn.rotary:
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
    return q, k, v


def finish(block: Block, x, attended) -> jax.Array:
    """Residual additions of the block: ``x + attention``, then ``+ mlp(norm2 .)``."""
    y = x + attended
    return y + block.mlp(block.norm2(y))


# ----------------------------------------------------------------------------- prefill


class PromptCache(NamedTuple):
    """Per layer: keys and values of the span ((kv, P, hd), or None) and of the own tokens ((b, kv, T, hd))."""

    span_k: tuple
    span_v: tuple
    own_k: tuple
    own_v: tuple


class PromptArrays(NamedTuple):
    """:class:`PromptLayout` as device arrays (what the compiled functions take)."""

    span_tokens_p: jax.Array
    span_mask_p: jax.Array
    span_steer_p: jax.Array
    span_positions_p: jax.Array
    own_tokens_bt: jax.Array
    own_mask_bt: jax.Array
    own_steer_bt: jax.Array
    own_positions_bt: jax.Array
    lengths_b: jax.Array

    @classmethod
    def of(cls, layout: PromptLayout) -> PromptArrays:
        return cls(*(jnp.asarray(x) for x in layout))


def _causal(t: int) -> jax.Array:
    return jnp.arange(t)[:, None] >= jnp.arange(t)[None, :]


def embed_prompts(model: Transformer, prompt: PromptArrays):
    """Embeddings of the span (1, 1, P, d) (None if there is no span) and of the own tokens (b, 1, T, d)."""
    x_span = None
    if prompt.span_tokens_p.shape[0]:
        x_span = embed(model, prompt.span_tokens_p, prompt.span_positions_p)[None, None]
    x_own = embed(model, prompt.own_tokens_bt, prompt.own_positions_bt)[:, None]
    return x_span, x_own


def prefill(
    model: Transformer,
    prompt: PromptArrays,
    x_span,
    x_own,
    steering: Steering | None,
    *,
    start: int,
    stop: int,
    last_only_at: int | None = None,
    collect: tuple[int, ...] = (),
):
    """Blocks ``start .. stop - 1`` over the span and the own tokens (steered where the layout says).

    Returns ``(x_span, x_own, cache, collected)``: the residual streams after
    block ``stop - 1``, the keys and values of every block run, and the
    residual at each prompt's last token after the layers in ``collect``.
    ``last_only_at``: a block that computes its output at the last column only
    (what a sweep needs of its last block); ``x_own`` then has width 1.
    """
    has_span = x_span is not None
    t = prompt.own_tokens_bt.shape[1]
    cos_s, sin_s = rotary(model, prompt.span_positions_p[None, None]) if has_span else (None, None)
    cos_o, sin_o = rotary(model, prompt.own_positions_bt[:, None])
    span_self = None
    if has_span:
        span_self = (_causal(x_span.shape[2]) & prompt.span_mask_p[None, :])[None, None]
        span_keys = prompt.span_mask_p[None, None, None, :]
    own_self = (_causal(t)[None] & prompt.own_mask_bt[:, None, :])[:, None]  # (b, 1, T, T)
    span_where = prompt.span_mask_p & prompt.span_steer_p
    own_where = (prompt.own_mask_bt & prompt.own_steer_bt)[:, None]
    cache = PromptCache((), (), (), ())
    collected = {}
    for layer in range(start, stop):
        block = model.blocks[layer]
        segments = []
        k_s = v_s = None
        if has_span:
            q, k, v = project(block, x_span, cos_s, sin_s)
            k_s, v_s = jnp.swapaxes(k[0, 0], 0, 1), jnp.swapaxes(v[0, 0], 0, 1)  # (kv, P, hd)
            if layer != last_only_at:  # after that block only the own tokens' last column is needed
                x_span = finish(block, x_span, attend(block, q, [Segment("span", k_s, v_s, span_self)]))
                x_span = steer(x_span, steering, layer, span_where[None, None])
            segments.append(Segment("span", k_s, v_s, span_keys))
        q, k, v = project(block, x_own, cos_o, sin_o)
        k_o, v_o = jnp.swapaxes(k[:, 0], 1, 2), jnp.swapaxes(v[:, 0], 1, 2)  # (b, kv, T, hd)
        if layer == last_only_at:
            x_own, q = x_own[:, :, -1:], q[:, :, -1:]
            segments.append(Segment("own", k_o, v_o, own_self[:, :, -1:]))
            own_where = own_where[:, :, -1:]
        else:
            segments.append(Segment("own", k_o, v_o, own_self))
        x_own = finish(block, x_own, attend(block, q, segments))
        x_own = steer(x_own, steering, layer, own_where)
        if layer in collect:
            collected[layer] = x_own[:, 0, -1]
        cache = PromptCache(cache.span_k + (k_s,), cache.span_v + (v_s,), cache.own_k + (k_o,), cache.own_v + (v_o,))
    return x_span, x_own, cache, collected


def join_caches(*caches: PromptCache) -> PromptCache:
    """Concatenate the per-layer tuples of consecutive layer ranges."""
    return PromptCache(*(sum((getattr(c, f) for c in caches), ()) for f in PromptCache._fields))


def cache_bytes_per_token_per_layer(config) -> int:
    """Bytes of keys plus values one token adds to the cache of one layer: ``2 * n_kv_heads * head_size * itemsize``.

    Args:
        config: the model config.

    Returns:
        bytes per token and layer.

    >>> from steerbounds.numerics import TransformerConfig
    >>> cache_bytes_per_token_per_layer(TransformerConfig.llama_style(vocab_size=8, d_model=576, n_heads=9,
    ...                                                               n_kv_heads=3))
    1536
    """
    return 2 * config.n_kv_heads * config.head_size * jnp.dtype(config.dtype).itemsize
