"""Steered generation with a key/value cache, vmapped over coefficients and samples.

``generate`` runs, for every coefficient ``c`` and prompt, the model steered by
``c v`` (docs/theory.md#setting) and decodes new tokens one at a time:

1. *shared prefix*: the embedding and the blocks before the first steered
   layer do not depend on ``c``; they run once per prompt batch;
2. *prefill*, per coefficient: the remaining blocks over the prompts, whose
   leading span common to every prompt (:func:`common_span_length`) is
   computed once with one row and shared by the batch (``_cache.py``);
3. *decode*, per coefficient and sample: one token per step, attending over
   the cached span, own prompt tokens and the tokens generated so far.

Coefficients are ``jax.vmap``-ed (each has its own cache) in chunks that fit a
memory budget; every (coefficient, prompt, sample) has its own random key.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.theory import as_float_array, prng_key

from ._cache import (
    PromptArrays,
    Segment,
    arrange_prompts,
    attend,
    bucket,
    cache_bytes_per_token_per_layer,
    embed,
    embed_prompts,
    finish,
    join_caches,
    prefill,
    project,
    rotary,
    steer,
)
from ._config import TransformerConfig
from ._forward import Steering, _check_steering, _final, check_tokens, steered_layers
from ._sweep import default_memory_budget, graphdef_config

_CPU_BUDGET = 4 << 30  # bytes: the default --memory-budget on CPU
# On CPU a decode step is compute-bound once it puts this many rows (coefficients x prompts x samples) through
# each weight matrix: every 4-byte weight read then feeds 2 x 64 FLOPs (32 per byte), more than a 2-core CPU's
# FLOP/byte ratio (about 13). More coefficients per chunk only hold more cache: on the SmolLM2 shape (16 prompts)
# chunks of 4 and 12 coefficients took the same CPU time, with 205 and 592 MiB of peak growth.
_CPU_DECODE_ROWS = 64
STEER_POSITIONS = ("all", "generated")


class GenerationResult(NamedTuple):
    """Generated tokens per coefficient, prompt and sample.

    After a stop token a row is finished: its later entries hold ``fill_token``
    and ``lengths_cbs`` counts the tokens up to and including the stop token.

    >>> GenerationResult._fields
    ('tokens_cbsn', 'lengths_cbs', 'finished_cbs')
    """

    tokens_cbsn: np.ndarray  # (c, b, s, n) int32 generated ids; fill_token after a stop token
    lengths_cbs: np.ndarray  # (c, b, s) int32 tokens generated, the stop token included
    finished_cbs: np.ndarray  # (c, b, s) bool, True where a stop token ended the row


def estimate_generation_bytes(
    config: TransformerConfig, batch: int, n_samples: int, span: int, width: int, max_new_tokens: int,
    *, top_p: bool = False,
) -> int:
    """Peak memory of one coefficient of :func:`generate`, in bytes (an upper estimate).

    The cache holds ``cache_bytes_per_token_per_layer(config)`` bytes per token
    per layer for the span (once), the ``batch x width`` own prompt tokens and
    the ``batch x n_samples x max_new_tokens`` generated ones; on top come the
    prefill activations (residual stream, q/k/v, MLP hidden layer, float32
    attention scores) or the decode step's logits (three copies with top-p
    sorting), whichever is larger.

    Args:
        config: the model config.
        batch: number of prompts b.
        n_samples: samples per prompt s.
        span: length of the shared leading span.
        width: own prompt tokens after the span.
        max_new_tokens: tokens to generate n.
        top_p: whether top-p sampling is on.

    Returns:
        bytes per coefficient (an upper estimate).

    >>> from steerbounds.numerics import TransformerConfig
    >>> cfg = TransformerConfig.llama_style(vocab_size=100, d_model=16, n_layers=2, n_heads=4)
    >>> estimate_generation_bytes(cfg, 4, 1, 8, 16, 10) > 0
    True
    """
    item = jnp.dtype(config.dtype).itemsize
    per_token = cache_bytes_per_token_per_layer(config) * config.n_layers
    cache = per_token * (span + batch * width + batch * n_samples * max_new_tokens)
    hd = config.head_size
    act_token = 3 * config.d_model + (2 * config.n_heads + 2 * config.n_kv_heads) * hd
    act_token += (3 if config.mlp == "swiglu" else 2) * config.d_ff
    prefill_act = 2 * (batch * width * act_token * item + 2 * batch * config.n_heads * width * (span + width) * 4)
    rows = batch * n_samples
    decode_act = rows * config.vocab_size * 4 * (4 if top_p else 2)
    decode_act += 2 * rows * config.n_heads * (span + width + max_new_tokens) * 4
    return int(cache + max(prefill_act, decode_act))


def generation_chunk_size(
    config: TransformerConfig, batch: int, n_samples: int, span: int, width: int, max_new_tokens: int,
    n_coefficients: int, *, memory_budget_bytes: int | None = None, top_p: bool = False,
) -> int:
    """How many coefficients :func:`generate` vmaps at once: as many as fit ``memory_budget_bytes``.

    Default budget: 4 GiB on CPU; a quarter of the free memory on an
    accelerator that reports it (1 GiB otherwise). On CPU the chunk is also
    no larger than needed for 64 rows (coefficients x prompts x samples) per
    decode step, where a step becomes compute-bound: larger chunks hold more
    cache for no speed. The result lies in ``1 .. n_coefficients``.

    Args:
        config: the model config.
        batch: number of prompts b.
        n_samples: samples per prompt s.
        span: length of the shared leading span.
        width: own prompt tokens after the span.
        max_new_tokens: tokens to generate n.
        n_coefficients: number of coefficients c.
        memory_budget_bytes: bytes a chunk may use.
        top_p: whether top-p sampling is on.

    Returns:
        coefficients per chunk, in ``1 .. n_coefficients``.

    >>> from steerbounds.numerics import TransformerConfig
    >>> cfg = TransformerConfig.llama_style(vocab_size=100, d_model=16, n_layers=2, n_heads=4)
    >>> generation_chunk_size(cfg, 4, 1, 8, 16, 10, 11), generation_chunk_size(cfg, 4, 1, 8, 16, 10, 11,
    ...                                                                         memory_budget_bytes=1)
    (11, 1)
    """
    if memory_budget_bytes is None:
        memory_budget_bytes = default_memory_budget(_CPU_BUDGET)
    per = estimate_generation_bytes(config, batch, n_samples, span, width, max_new_tokens, top_p=top_p)
    most = memory_budget_bytes // per
    if jax.devices()[0].platform == "cpu":
        most = min(most, -(-_CPU_DECODE_ROWS // (batch * n_samples)))
    return int(max(1, min(n_coefficients, most)))


# ----------------------------------------------------------------------------- the compiled core


def _choose(logits_bsv, keys_bs, step, temperature, top_p, *, greedy: bool, use_top_p: bool):
    """Next tokens (b, s): argmax, or a sample from softmax(z / T) restricted to the top-p nucleus."""
    if greedy:
        return jnp.argmax(logits_bsv, axis=-1).astype(jnp.int32)
    z = logits_bsv / temperature
    if use_top_p:
        desc = -jnp.sort(-z, axis=-1)
        probs = jax.nn.softmax(desc, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs  # probability of the tokens ranked above
        n_keep = jnp.maximum(jnp.sum(before < top_p, axis=-1, keepdims=True), 1)
        threshold = jnp.take_along_axis(desc, n_keep - 1, axis=-1)
        z = jnp.where(z >= threshold, z, -jnp.inf)
    shape = z.shape[:-1]
    keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(keys_bs.reshape(-1))
    new = jax.vmap(lambda k, row: jax.random.categorical(k, row))(keys, z.reshape(-1, z.shape[-1]))
    return new.reshape(shape).astype(jnp.int32)


def _record(out_bsn, done_bs, lengths_bs, new_bs, step, stop_k, fill):
    out_bsn = out_bsn.at[:, :, step].set(jnp.where(done_bs, fill, new_bs))
    lengths_bs = lengths_bs + (~done_bs).astype(jnp.int32)
    done_bs = done_bs | jnp.any(new_bs[..., None] == jnp.reshape(stop_k, (1,) * new_bs.ndim + (-1,)), axis=-1)
    return out_bsn, done_bs, lengths_bs


def _decode_step(model, prompt: PromptArrays, cache, gen_k, gen_v, tokens_bs, step, steering):
    """Feed tokens (b, s) at slot ``step``: write their keys and values, return the next logits (b, s, V)."""
    n = model.config.n_layers
    b, s = tokens_bs.shape
    slots = gen_k.shape[4]
    positions = jnp.broadcast_to(prompt.lengths_b[:, None] + step, (b, s))[..., None]  # (b, s, 1)
    x = embed(model, tokens_bs[..., None], positions)
    cos, sin = rotary(model, positions)
    has_span = prompt.span_tokens_p.shape[0] > 0
    gen_allowed = (jnp.arange(slots) <= step)[None, None, None, :]
    where = jnp.ones((b, s, 1), bool)
    zero = jnp.zeros((), step.dtype)
    for layer in range(n):
        block = model.blocks[layer]
        q, k, v = project(block, x, cos, sin)
        at = (jnp.asarray(layer, step.dtype), zero, zero, zero, step, zero)  # in place: the loop carries the cache
        gen_k = jax.lax.dynamic_update_slice(gen_k, jnp.swapaxes(k, 2, 3)[None].astype(gen_k.dtype), at)
        gen_v = jax.lax.dynamic_update_slice(gen_v, jnp.swapaxes(v, 2, 3)[None].astype(gen_v.dtype), at)
        segments = []
        if has_span:
            segments.append(Segment("span", cache.span_k[layer], cache.span_v[layer],
                                    prompt.span_mask_p[None, None, None, :]))
        segments.append(Segment("own", cache.own_k[layer], cache.own_v[layer], prompt.own_mask_bt[:, None, None, :]))
        segments.append(Segment("gen", gen_k[layer], gen_v[layer], gen_allowed))
        x = finish(block, x, attend(block, q, segments))
        x = steer(x, steering, layer, where)
    logits, _ = _final(model, x[:, :, 0], steering, None, where[..., 0])
    return logits, gen_k, gen_v


def _generate_core(
    graphdef, state, prompt: PromptArrays, steering: Steering, coefficients_c, c_index_c, key, temperature, top_p,
    stop_k, fill, *, prefix_stop: int, pending: int | None, n_new: int, n_samples: int, greedy: bool,
    use_top_p: bool, chunk: int,
):
    model = nnx.merge(graphdef, state)
    config = model.config
    n = config.n_layers
    b = prompt.own_tokens_bt.shape[0]
    has_span = prompt.span_tokens_p.shape[0] > 0
    span_where = (prompt.span_mask_p & prompt.span_steer_p)[None, None]
    own_where = (prompt.own_mask_bt & prompt.own_steer_bt)[:, None]
    last_where = prompt.own_mask_bt[:, -1] & prompt.own_steer_bt[:, -1]
    # 1. blocks before the first steered layer: the same for every coefficient
    x_span0, x_own0 = embed_prompts(model, prompt)
    # The last block's keys and values cover every prompt position, but its output is needed at the last one only
    # (the first new token's logits): its queries, attention output and MLP run there alone (``last_only_at``).
    x_span0, x_own0, shared, _ = prefill(model, prompt, x_span0, x_own0, None, start=0, stop=prefix_stop,
                                         last_only_at=n - 1 if pending is None else None)
    key_b = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(b))

    def prefill_one(c):
        st = steering._replace(coefficient=c)
        x_span, x_own = x_span0, x_own0
        if pending is not None:
            x_own = steer(x_own, st, pending, own_where)
            if has_span:
                x_span = steer(x_span, st, pending, span_where)
        _, x_own, own_cache, _ = prefill(model, prompt, x_span, x_own, st, start=prefix_stop, stop=n,
                                         last_only_at=n - 1)
        logits_bv, _ = _final(model, x_own[:, 0, -1], st, None, last_where)
        return own_cache, logits_bv

    def keys_of(ci):  # (b, s): one key per (coefficient, prompt, sample)
        kc = jax.vmap(lambda k: jax.random.fold_in(k, ci))(key_b)
        return jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(jnp.arange(n_samples)))(kc)

    kv_shape = (n, b, n_samples, config.n_kv_heads, max(n_new - 1, 1), config.head_size)

    def run_chunk(args):
        cs, cis = args
        caches, logits_cbv = jax.vmap(prefill_one)(cs)
        keys_cbs = jax.vmap(keys_of)(cis)
        logits_cbsv = jnp.broadcast_to(logits_cbv[:, :, None], (chunk, b, n_samples, logits_cbv.shape[-1]))
        first = jax.vmap(lambda z, k: _choose(z, k, 0, temperature, top_p, greedy=greedy, use_top_p=use_top_p))(
            logits_cbsv, keys_cbs)
        out = jnp.full((chunk, b, n_samples, n_new), fill, jnp.int32)
        done = jnp.zeros((chunk, b, n_samples), bool)
        lengths = jnp.zeros((chunk, b, n_samples), jnp.int32)
        out, done, lengths = jax.vmap(lambda o, d, ln, t: _record(o, d, ln, t, 0, stop_k, fill))(
            out, done, lengths, first)
        gen_k = jnp.zeros((chunk,) + kv_shape, config.dtype)
        gen_v = jnp.zeros((chunk,) + kv_shape, config.dtype)

        def step_one(c, cache, gk, gv, tok, keys, o, d, ln, i):
            st = steering._replace(coefficient=c)
            full = join_caches(shared, cache)
            logits, gk, gv = _decode_step(model, prompt, full, gk, gv, tok, i, st)
            new = _choose(logits, keys, i + 1, temperature, top_p, greedy=greedy, use_top_p=use_top_p)
            o, d, ln = _record(o, d, ln, new, i + 1, stop_k, fill)
            return gk, gv, new, o, d, ln

        def cond(carry):
            i, _, _, _, _, done, _ = carry
            return (i < n_new - 1) & ~jnp.all(done)

        def body(carry):
            i, gk, gv, tok, o, d, ln = carry
            gk, gv, tok, o, d, ln = jax.vmap(step_one, in_axes=(0, 0, 0, 0, 0, 0, 0, 0, 0, None))(
                cs, caches, gk, gv, tok, keys_cbs, o, d, ln, i)
            return i + 1, gk, gv, tok, o, d, ln

        carry = (jnp.int32(0), gen_k, gen_v, first, out, done, lengths)
        _, _, _, _, out, done, lengths = jax.lax.while_loop(cond, body, carry)
        return out, lengths, done

    n_chunks = coefficients_c.shape[0] // chunk
    cs = coefficients_c.reshape(n_chunks, chunk)
    cis = c_index_c.reshape(n_chunks, chunk)
    if n_chunks == 1:
        out, lengths, done = run_chunk((cs[0], cis[0]))
        return out, lengths, done
    out, lengths, done = jax.lax.map(run_chunk, (cs, cis))
    flat = lambda x: x.reshape((n_chunks * chunk,) + x.shape[2:])  # noqa: E731
    return flat(out), flat(lengths), flat(done)


_GENERATE = jax.jit(
    _generate_core,
    static_argnums=0,
    static_argnames=("prefix_stop", "pending", "n_new", "n_samples", "greedy", "use_top_p", "chunk"),
)


def generate(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    *,
    max_new_tokens: int,
    key: jax.Array | int | None = None,
    mask_bt=None,
    steering: Steering | None = None,
    coefficients_c=None,
    n_samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop_tokens: Sequence[int] = (),
    steer_positions: str = "all",
    share_span: bool = True,
    fill_token: int = -1,
    memory_budget_bytes: int | None = None,
) -> GenerationResult:
    """Generate ``max_new_tokens`` tokens per coefficient, prompt and sample, with a key/value cache.

    For each ``c`` in ``coefficients_c`` (default: ``steering.coefficient``;
    no steering: the unsteered model) the model runs with ``c v`` added after
    every layer of ``steering`` (docs/theory.md#setting) and decodes:
    ``temperature = 0`` is greedy (argmax), otherwise each token is drawn from
    ``softmax(z / temperature)`` restricted to the smallest set of top tokens
    whose probability reaches ``top_p``. Every (coefficient, prompt, sample)
    has its own key, ``fold_in`` of ``key`` (an int seed or a
    ``jax.random.key``) by coefficient index, prompt index and sample index,
    then by step: same key, same tokens.

    Steering: ``steer_positions="all"`` steers every prompt position
    (``steering.position_mask_bt`` where given) and every generated token, as
    activation-addition hooks do; ``"generated"`` steers the generated tokens
    only (the first new token, read off the unsteered prompt, is then the same
    for every ``c``). A row stops after any token of ``stop_tokens`` (e.g.
    the EOS id): later entries hold ``fill_token`` and ``lengths_cbs`` counts
    up to the stop token. Prompts may be padded on either side (``mask_bt``,
    1 = token); positions count each prompt's own tokens, and generated
    tokens continue from each prompt's length.

    Work shared: blocks before the first steered layer run once for all
    coefficients; with ``share_span`` the leading tokens common to every
    prompt (a chat template's header) run once per coefficient, not once per
    prompt. Coefficients are vmapped in chunks that fit
    ``memory_budget_bytes`` (:func:`generation_chunk_size`).

    Compilation: one program per (model, batch size, ``n_samples``,
    ``max_new_tokens``, greedy or not, top-p or not, chunk size, which layers
    are shared) and per *bucket* of the span length, the own-token width
    (both padded to 8, 12, 16, 24, 32, 48, 64, ...; see :func:`bucket`), the
    number of coefficients (padded to 1, 2, 3, 4, 6, 8, 12, ...) and the number
    of stop tokens; other values (coefficients, temperature, top-p, stop ids,
    key) are arguments of the compiled program.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: prompts, shape (b, t).
        max_new_tokens: tokens to generate n.
        key: an int seed or a ``jax.random.key`` (sampling).
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering` (v and the layer set).
        coefficients_c: coefficients, shape (c,) (default: the steering's own).
        n_samples: samples per prompt s.
        temperature: 0 for greedy decoding.
        top_p: nucleus probability.
        stop_tokens: ids that finish a row.
        steer_positions: ``"all"`` or ``"generated"``.
        share_span: run the shared leading span once per coefficient.
        fill_token: id written after a row has stopped.
        memory_budget_bytes: budget for the coefficient chunk size.

    Returns:
        :class:`GenerationResult`: ``tokens_cbsn`` (c, b, s, n), ``lengths_cbs`` and ``finished_cbs`` (c, b, s).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig, make_steering
    >>> cfg = TransformerConfig.llama_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> s = make_steering(cfg, jnp.ones(8), layers=[1])
    >>> out = generate(graphdef, state, [[3, 4, 5], [3, 4, 6]], steering=s, coefficients_c=[-2.0, 0.0, 2.0],
    ...                max_new_tokens=4)
    >>> out.tokens_cbsn.shape, out.lengths_cbs.tolist()[0]
    ((3, 2, 1, 4), [[4], [4]])
    """
    where = "generate"
    config = graphdef_config(graphdef, state)
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where=where)
    _check_steering(config, steering, tokens_bt.shape, where=where)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise ValueError(f"{where}: max_new_tokens must be a positive int, got {max_new_tokens!r}.")
    max_new_tokens = int(max_new_tokens)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"{where}: n_samples must be a positive int, got {n_samples!r}.")
    n_samples = int(n_samples)
    if not isinstance(temperature, (int, float, np.number)) or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"{where}: temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}.")
    if not isinstance(top_p, (int, float, np.number)) or not 0 < top_p <= 1:
        raise ValueError(f"{where}: top_p must lie in (0, 1] (1 = no nucleus restriction), got {top_p!r}.")
    greedy = float(temperature) == 0.0
    if greedy and top_p != 1:
        raise ValueError(f"{where}: top_p={top_p} has no effect with temperature=0 (greedy); "
                         "set a temperature > 0 or leave top_p at 1.")
    if not greedy and key is None:
        raise ValueError(f"{where}: sampling (temperature > 0) needs a key, e.g. key=jax.random.key(0).")
    if greedy and n_samples > 1:
        raise ValueError(f"{where}: greedy decoding (temperature=0) gives the same tokens for every sample; "
                         f"use n_samples=1 or a temperature > 0, got n_samples={n_samples}.")
    if steer_positions not in STEER_POSITIONS:
        raise ValueError(f"{where}: steer_positions must be one of {STEER_POSITIONS}, got {steer_positions!r}.")
    stop = np.asarray(list(stop_tokens), dtype=np.int64).reshape(-1)
    if np.any((stop < 0) | (stop >= config.vocab_size)):
        raise ValueError(f"{where}: stop_tokens {stop.tolist()} must be token ids in 0..{config.vocab_size - 1}.")
    if isinstance(fill_token, bool) or not isinstance(fill_token, (int, np.integer)):
        raise TypeError(f"{where}: fill_token must be an int, got {fill_token!r}.")
    lengths = np.asarray(mask_bt).sum(axis=1)
    total = int(lengths.max()) + max_new_tokens
    if config.positions == "learned" and total > config.max_len:
        raise ValueError(f"{where}: the longest prompt ({int(lengths.max())} tokens) plus {max_new_tokens} new tokens "
                         f"exceeds max_len={config.max_len}; shorten the prompt or the continuation.")
    # coefficients and steering
    if steering is None:
        if coefficients_c is not None:
            raise ValueError(f"{where}: coefficients_c needs a steering (make_steering(...)) to scale.")
        steering = Steering(jnp.zeros((config.n_layers + 1, config.d_model), jnp.float32),
                            jnp.zeros((config.n_layers + 1,), jnp.float32), jnp.float32(0.0), None)
        layers: tuple[int, ...] = ()
        coefs = np.zeros(1)
    else:
        layers = steered_layers(steering)
        coefs = np.asarray(steering.coefficient if coefficients_c is None else
                           as_float_array(f"{where}: coefficients_c", coefficients_c), np.float64).reshape(-1)
        if coefs.size == 0:
            raise ValueError(f"{where}: coefficients_c is empty; give at least one coefficient.")
    prompt_steer = None if steering.position_mask_bt is None else np.asarray(steering.position_mask_bt)
    if steer_positions == "generated":
        prompt_steer = np.zeros(tokens_bt.shape, bool)
    layout = arrange_prompts(np.asarray(tokens_bt), np.asarray(mask_bt), prompt_steer, share_span=share_span)
    prompt_steered = bool(layers) and (layout.own_steer_bt.any() or layout.span_steer_p.any())
    n = config.n_layers
    if prompt_steered:
        first = layers[0]
        prefix_stop, pending = min(first + 1, n), (first if first < n else None)
    else:
        prefix_stop, pending = n, None
    k = coefs.size
    b, width = layout.own_tokens_bt.shape
    span = layout.span_tokens_p.shape[0]
    use_top_p = not greedy and top_p < 1
    most = generation_chunk_size(config, b, n_samples, span, width, max_new_tokens, bucket(k),
                                 memory_budget_bytes=memory_budget_bytes, top_p=use_top_p)
    n_chunks = -(-bucket(k) // most)
    chunk = -(-bucket(k) // n_chunks)  # chunks of equal size, as few padded coefficients as the budget allows
    padded = n_chunks * chunk
    coefs_pad = np.concatenate([coefs, np.full(padded - k, coefs[-1])]).astype(np.float32)
    index_pad = np.concatenate([np.arange(k), np.full(padded - k, k - 1)]).astype(np.int32)
    n_stop = bucket(max(stop.size, 1))
    stop_pad = np.full(n_stop, -1, np.int32)
    stop_pad[: stop.size] = stop
    # Greedy decoding draws nothing: a fixed key keeps the compiled program the same.
    key = prng_key(f"{where}: key", 0 if key is None else key)
    out, out_lengths, done = _GENERATE(
        graphdef, state, PromptArrays.of(layout), steering._replace(position_mask_bt=None),
        jnp.asarray(coefs_pad), jnp.asarray(index_pad), key, jnp.float32(max(float(temperature), 1e-30)),
        jnp.float32(top_p), jnp.asarray(stop_pad), jnp.int32(fill_token), prefix_stop=prefix_stop, pending=pending,
        n_new=max_new_tokens, n_samples=n_samples, greedy=greedy, use_top_p=use_top_p, chunk=chunk,
    )
    return GenerationResult(np.asarray(out)[:k], np.asarray(out_lengths)[:k], np.asarray(done)[:k])
