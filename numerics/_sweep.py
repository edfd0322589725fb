"""Coefficient sweeps: the model steered by ``c v`` for many ``c`` at once.

The sweep is two pure functions with explicit prompt (b) and coefficient (c)
axes, composed by :func:`sweep_coefficients`:

* the *prefix*, blocks ``0 .. f`` where ``f = min S`` is the first steered
  layer: it does not depend on ``c`` and runs once per batch (prefix caching);
* the *suffix*, ``c v`` added after block ``f``, the remaining blocks (steered
  wherever ``S`` says), the final norm and the unembedding at the last token:
  it is ``jax.vmap``-ed over ``c`` and run in chunks of ``chunk_size``
  coefficients (``jax.lax.map`` with ``batch_size``), so that memory grows
  with the chunk, not with the whole sweep. The vmapped coefficient axis
  folds into the rows of every matrix product (``c * b * t`` rows), and the
  last block computes its queries, attention output and MLP at the last token
  only (its keys and values still cover every position).

Both are pure in ``(state, tokens, mask, steering, coefficients)``; ``_shard.py``
shards the prompt and coefficient axes over a device mesh (``mesh=``).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from steerbounds.theory import check_array, check_finite, check_token_ids, instance_of, is_concrete, positive_int

from ._config import TransformerConfig
from ._forward import (
    Steering,
    _check_layers,
    _check_steering,
    _context,
    _Context,
    _embed,
    _final,
    _run_blocks,
    _add_steering,
    check_tokens,
    steered_layers,
)
from ._cache import PromptArrays, PromptLayout, arrange_prompts, embed_prompts, prefill, steer
from ._model import Transformer
from ._shard import run_sharded_sweep, sharded_final


_DEFAULT_BUDGET = 1 << 30  # bytes, when an accelerator does not report its memory
# On CPU the chunk is limited for speed, not memory: once a chunk's activations grow past a few hundred MB the
# elementwise work between the matrix products runs from main memory instead of cache (GPT-2 small, 32 x 64
# tokens: 4 coefficients at once cost 30% more CPU time than one at a time).
_CPU_BUDGET = 256 << 20


class SweepOutput(NamedTuple):
    """Per coefficient and prompt, at the last non-pad position of each prompt.

    >>> SweepOutput._fields
    ('logits_cbv', 'h_cbd', 'residuals_clbd')
    """

    logits_cbv: jax.Array | None  # logits z_c (float32); None unless requested
    h_cbd: jax.Array | None  # final representation h_c; None unless requested
    residuals_clbd: jax.Array | None  # residual stream after each requested layer; None unless requested


def last_positions(mask_bt: jax.Array) -> jax.Array:
    """Index of the last token (last 1 of the mask) in every row, shape (b,).

    Args:
        mask_bt: 1 on tokens, shape (b, t).

    Returns:
        index of each row's last token, shape (b,).

    >>> last_positions(jnp.array([[0, 1, 1], [1, 1, 0]])).tolist()
    [2, 1]
    """
    if getattr(mask_bt, "dtype", None) == bool:  # a boolean mask is a 0/1 mask
        mask_bt = jnp.asarray(mask_bt, jnp.int32)
    mask_bt = check_array("last_positions", "mask_bt", mask_bt, ndim=2, integer=True)
    if is_concrete(mask_bt):
        host = np.asarray(mask_bt)
        if not np.isin(host, (0, 1)).all():
            raise ValueError("last_positions: mask_bt must hold 0/1 (or booleans)")
        if not host.any(axis=1).all():
            raise ValueError("last_positions: a row of mask_bt holds no real token; every row needs at least one")
    t = mask_bt.shape[1]
    return jnp.max(jnp.where(mask_bt.astype(bool), jnp.arange(t, dtype=jnp.int32)[None, :], -1), axis=1)


def _at(x_btd: jax.Array, last_b: jax.Array) -> jax.Array:
    return jnp.take_along_axis(x_btd, last_b[:, None, None], axis=1)[:, 0, :]


def _steer_last(x_bd: jax.Array, steering: Steering, layer: int, where_b: jax.Array) -> jax.Array:
    """``_add_steering`` at the last token of each prompt only (``where_b``: is it steered)."""
    amount = steering.coefficient * steering.layer_mask_l[layer]
    add = amount * where_b[:, None].astype(jnp.float32) * steering.vectors_ld[layer][None, :]
    return x_bd + add.astype(x_bd.dtype)


def _prefix(
    model: Transformer, tokens_bt: jax.Array, ctx: _Context, *, stop: int, collect: tuple[int, ...]
) -> tuple[jax.Array, dict[int, jax.Array]]:
    """Embedding and blocks ``0 .. stop - 1`` unsteered; the residuals after ``collect`` at the last tokens."""
    last_b = last_positions(ctx.mask_bt)
    x0 = _embed(model, tokens_bt, ctx)
    x_btd, early_btd = _run_blocks(model, x0, ctx, None, 0, stop, collect)
    return x_btd, {layer: _at(x, last_b) for layer, x in early_btd.items()}


def _suffix(
    model: Transformer,
    x_btd: jax.Array,
    ctx: _Context,
    steering: Steering,
    coefficient: jax.Array,
    *,
    start: int,
    pending: int | None,
    return_logits: bool,
    return_h: bool,
    residual_layers: tuple[int, ...],
    cached_lbd: dict[int, jax.Array],
) -> SweepOutput:
    """From the residual stream before block ``start`` to the outputs; ``pending``: a layer whose steering is still to add.

    Blocks ``start .. n - 2`` run at every position (their keys and values are
    needed downstream); the last block runs its queries, attention output and
    MLP at the last token only, since nothing after it looks at other positions.
    """
    n = model.config.n_layers
    steering = steering._replace(coefficient=coefficient)
    b = x_btd.shape[0]
    last_b = last_positions(ctx.mask_bt)
    where_b = ctx.mask_bt[jnp.arange(b), last_b]
    if steering.position_mask_bt is not None:
        where_b = where_b & steering.position_mask_bt[jnp.arange(b), last_b]
    collected = dict(cached_lbd)
    if pending is not None:
        x_btd = _add_steering(x_btd, steering, pending, ctx)
        if pending in residual_layers:
            collected[pending] = _at(x_btd, last_b)
    if start < n:
        full_stop = n - 1
        x_btd, full = _run_blocks(
            model, x_btd, ctx, steering, start, full_stop, tuple(layer for layer in residual_layers if layer >= start)
        )
        collected.update({layer: _at(x, last_b) for layer, x in full.items()})
        x_bd = model.blocks[n - 1](x_btd, ctx.cos_bth, ctx.sin_bth, ctx.allowed_btt, last_b[:, None])[:, 0, :]
        x_bd = _steer_last(x_bd, steering, n - 1, where_b)
        if n - 1 in residual_layers:
            collected[n - 1] = x_bd
    else:
        x_bd = _at(x_btd, last_b)
    logits_bv, h_bd = _final(model, x_bd, steering, None, where_b)
    collected[n] = h_bd
    residuals = jnp.stack([collected[layer] for layer in residual_layers]) if residual_layers else None
    return SweepOutput(logits_bv if return_logits else None, h_bd if return_h else None, residuals)


def sweep_coefficients(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt: jax.Array,
    mask_bt: jax.Array,
    steering: Steering,
    coefficients_c: jax.Array,
    *,
    first_layer: int,
    return_logits: bool = True,
    return_h: bool = False,
    residual_layers: tuple[int, ...] = (),
    chunk_size: int | None = None,
    cache_prefix: bool = True,
) -> SweepOutput:
    """The pure sweep: outputs at the last token for every coefficient ``c`` (docs/theory.md#setting).

    ``first_layer`` must be the smallest layer of ``steering`` (static: it
    decides where the prefix ends); ``steering.coefficient`` is ignored and
    replaced by each entry of ``coefficients_c``. With ``cache_prefix`` the
    blocks up to ``first_layer`` run once; without it every coefficient runs
    the whole model (same numbers, more work). ``chunk_size`` coefficients are
    vmapped at a time (None: all at once). Arguments after ``*`` are static
    under ``jax.jit``; :func:`steering_sweep` is the validating front end.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: prompts, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steering: fixes v and the layer set.
        coefficients_c: coefficients, shape (c,).
        first_layer: smallest steered layer (static).
        return_logits: return ``logits_cbv``.
        return_h: return ``h_cbd``.
        residual_layers: blocks whose output to return.
        chunk_size: coefficients per chunk.
        cache_prefix: run the prefix once.

    Returns:
        :class:`SweepOutput`, as :func:`steering_sweep`.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig, make_steering
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> s = make_steering(cfg, jnp.ones(8), layers=[1])
    >>> out = sweep_coefficients(graphdef, state, jnp.array([[1, 2, 3]]), jnp.array([[1, 1, 1]]), s,
    ...                          jnp.linspace(-1.0, 1.0, 5), first_layer=1)
    >>> out.logits_cbv.shape
    (5, 1, 11)
    """
    model = nnx.merge(graphdef, state)
    n = model.config.n_layers
    mask_bt = mask_bt.astype(bool)
    ctx = _context(model.config, mask_bt)
    kw = dict(return_logits=return_logits, return_h=return_h, residual_layers=residual_layers)
    stop = min(first_layer + 1, n) if cache_prefix else 0
    early = tuple(layer for layer in residual_layers if layer < first_layer) if cache_prefix else ()
    x_prefix, cached = _prefix(model, tokens_bt, ctx, stop=stop, collect=early)
    pending = first_layer if cache_prefix and first_layer < n else None

    def one(c):
        return _suffix(model, x_prefix, ctx, steering, c, start=stop, pending=pending, cached_lbd=cached, **kw)

    coefficients_c = jnp.asarray(coefficients_c, jnp.float32)
    if chunk_size is None or chunk_size >= coefficients_c.shape[0]:
        return jax.vmap(one)(coefficients_c)
    return jax.lax.map(one, coefficients_c, batch_size=chunk_size)


def estimate_sweep_bytes(config: TransformerConfig, batch: int, seq_len: int) -> int:
    """Peak activation memory of one coefficient of the sweep suffix, in bytes (an upper estimate).

    Counts the residual stream and its norm, q/k/v/attention output, the
    float32 attention scores and probabilities, the MLP hidden layer(s) and the
    last-token logits: ``chunk_size`` coefficients need about ``chunk_size``
    times this.

    Args:
        config: the model config.
        batch: number of prompts b.
        seq_len: prompt length t.

    Returns:
        bytes of activations per coefficient (an upper estimate).

    >>> cfg = TransformerConfig.gpt2_style(vocab_size=100, d_model=8, n_layers=2, n_heads=2)
    >>> estimate_sweep_bytes(cfg, batch=4, seq_len=16) > 0
    True
    """
    instance_of("estimate_sweep_bytes", "config", config, TransformerConfig, "TransformerConfig.gpt2_style(...)")
    positive_int("estimate_sweep_bytes", "batch", batch)
    positive_int("estimate_sweep_bytes", "seq_len", seq_len)
    item = jnp.dtype(config.dtype).itemsize
    hd = config.head_size
    per_token = 3 * config.d_model + (2 * config.n_heads + 2 * config.n_kv_heads) * hd
    per_token += (3 if config.mlp == "swiglu" else 2) * config.d_ff
    act = batch * seq_len * per_token * item
    scores = 2 * batch * config.n_heads * seq_len * seq_len * 4
    logits = batch * config.vocab_size * 4
    return int(2 * (act + scores + logits))


def default_memory_budget(cpu_bytes: int) -> int:
    """Bytes a chunk may use: ``cpu_bytes`` on CPU, a quarter of an accelerator's free memory, else 1 GiB."""
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    if device.platform == "cpu":
        return cpu_bytes
    if "bytes_limit" in stats:
        return (stats["bytes_limit"] - stats.get("bytes_in_use", 0)) // 4
    return _DEFAULT_BUDGET


def default_chunk_size(
    config: TransformerConfig, batch: int, seq_len: int, n_coefficients: int, *, memory_budget_bytes: int | None = None
) -> int:
    """How many coefficients to vmap at once so that a chunk fits ``memory_budget_bytes``.

    The default budget is a quarter of the device memory still free (from
    ``jax.devices()[0].memory_stats()``), 1 GiB on an accelerator that does
    not report it, and 256 MiB on CPU, where larger chunks are slower (their
    activations fall out of cache) rather than too big. The result lies in
    ``1 .. n_coefficients``.

    Args:
        config: the model config.
        batch: number of prompts b.
        seq_len: prompt length t.
        n_coefficients: number of coefficients c.
        memory_budget_bytes: bytes a chunk may use (default: see above).

    Returns:
        the number of coefficients per chunk, in ``1 .. n_coefficients``.

    >>> cfg = TransformerConfig.gpt2_style(vocab_size=100, d_model=8, n_layers=2, n_heads=2)
    >>> default_chunk_size(cfg, 4, 16, 41, memory_budget_bytes=10**9)
    41
    >>> default_chunk_size(cfg, 4, 16, 41, memory_budget_bytes=1)
    1
    """
    instance_of("default_chunk_size", "config", config, TransformerConfig, "TransformerConfig.gpt2_style(...)")
    for name, value in (("batch", batch), ("seq_len", seq_len), ("n_coefficients", n_coefficients)):
        positive_int("default_chunk_size", name, value)
    positive_int("default_chunk_size", "memory_budget_bytes", memory_budget_bytes, allow_none=True)
    if memory_budget_bytes is None:
        memory_budget_bytes = default_memory_budget(_CPU_BUDGET)
    per = estimate_sweep_bytes(config, batch, seq_len)
    return int(max(1, min(n_coefficients, memory_budget_bytes // per)))


_SWEEP = jax.jit(
    sweep_coefficients,
    static_argnums=0,
    static_argnames=("first_layer", "return_logits", "return_h", "residual_layers", "chunk_size", "cache_prefix"),
)


def steering_sweep(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    steering: Steering,
    coefficients_c,
    *,
    mask_bt=None,
    return_logits: bool = True,
    return_h: bool = False,
    residual_layers: Sequence[int] = (),
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    cache_prefix: bool = True,
    share_span: bool = True,
    mesh: Mesh | None = None,
) -> SweepOutput:
    """Sweep the steering coefficient: last-token outputs for every ``c`` and prompt.

    For each ``c`` in ``coefficients_c`` the model runs with ``c v`` added
    after every layer of ``steering`` (docs/theory.md#setting; the paper sweeps
    ``c`` over a symmetric range). Returns, at each prompt's last token, the
    logits ``z_c`` (default), the final representation ``h_c``
    (``return_h=True``) and the residual stream after ``residual_layers``
    (shape (c, l, b, d)). The unsteered prefix is computed once (prefix
    caching); coefficients run ``chunk_size`` at a time, by default as many as
    fit :func:`default_chunk_size`. Compiled once per shape and option set.

    With ``share_span`` (and ``cache_prefix``), the leading tokens common to
    every prompt (a chat template's system turn and user header, detected
    from the ids by :func:`common_span_length`) run once per coefficient with
    one row, their keys and values shared by the batch, and only each prompt's
    own tokens run per prompt: the same numbers (float32 rounding aside) for
    fewer operations. Without a common span, or with a ``mesh``, every prompt
    runs whole.

    ``mesh`` (a ``jax.sharding.Mesh`` with axes ``"coefficients"`` and/or
    ``"prompts"``, see :func:`sweep_mesh`) shards the sweep across devices:
    each device sweeps its block of coefficients over its block of prompts
    (prefix caching and chunking per device, ``chunk_size`` per device), and
    the outputs come back sharded the same way. Without a mesh the sweep runs
    on the default device.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: prompts, shape (b, t).
        steering: fixes v and the layer set S.
        coefficients_c: coefficients, shape (c,).
        mask_bt: 1 on tokens, shape (b, t).
        return_logits: return ``logits_cbv``.
        return_h: return ``h_cbd``.
        residual_layers: blocks whose last-token output to return.
        chunk_size: coefficients per vmapped chunk (default: :func:`default_chunk_size`).
        memory_budget_bytes: budget for the default chunk size.
        cache_prefix: run the unsteered prefix once.
        share_span: run the leading tokens common to every prompt once (with ``cache_prefix``).
        mesh: optional device mesh (:func:`sweep_mesh`).

    Returns:
        :class:`SweepOutput`: ``logits_cbv`` (c, b, V), ``h_cbd`` (c, b, d), ``residuals_clbd`` (c, len(residual_layers), b, d), as requested.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig, make_steering
    >>> cfg = TransformerConfig.llama_style(vocab_size=11, d_model=8, n_layers=3, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> s = make_steering(cfg, jnp.ones(8), layers=[1, 2])
    >>> out = steering_sweep(graphdef, state, jnp.array([[0, 4, 5], [6, 7, 8]]), s, jnp.linspace(-5, 5, 11),
    ...                      mask_bt=jnp.array([[0, 1, 1], [1, 1, 1]]), return_h=True, chunk_size=4)
    >>> out.logits_cbv.shape, out.h_cbd.shape, out.residuals_clbd
    ((11, 2, 11), (11, 2, 8), None)
    """
    coefficients_c = check_finite("coefficients_c", coefficients_c, where="steering_sweep", host=True)
    config = graphdef_config(graphdef, state)
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where="steering_sweep")
    _check_steering(config, steering, tokens_bt.shape, where="steering_sweep")
    residual_layers = _check_layers(residual_layers, config.n_layers, name="steering_sweep: residual_layers")
    layers = steered_layers(steering)
    if not layers:
        raise ValueError("steering_sweep: the steering steers no layer; build it with make_steering(..., layers=[...]).")
    coefficients_c = np.asarray(coefficients_c, dtype=np.float64)
    if coefficients_c.ndim != 1 or coefficients_c.size == 0:
        raise ValueError(f"steering_sweep: coefficients_c must be a non-empty 1-D array, got shape {coefficients_c.shape}.")
    if not np.all(np.isfinite(coefficients_c)):
        raise ValueError("steering_sweep: coefficients_c contains NaN or inf.")
    if not (return_logits or return_h or residual_layers):
        raise ValueError("steering_sweep: nothing requested; set return_logits, return_h or residual_layers.")
    b, t = tokens_bt.shape
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"steering_sweep: chunk_size must be a positive int, got {chunk_size!r}.")
    static = dict(
        first_layer=layers[0],
        return_logits=return_logits,
        return_h=return_h,
        residual_layers=residual_layers,
        cache_prefix=cache_prefix,
    )
    if mesh is not None:
        if chunk_size is None:
            chunk_size = lambda b_local, c_local: default_chunk_size(  # noqa: E731
                config, b_local, t, c_local, memory_budget_bytes=memory_budget_bytes
            )
        return run_sharded_sweep(
            graphdef, state, np.asarray(tokens_bt), np.asarray(mask_bt), steering, coefficients_c,
            sweep_fn=sweep_coefficients, output_type=SweepOutput, mesh=mesh, chunk_size=chunk_size, **static,
        )
    if share_span and cache_prefix:
        pm = None if steering.position_mask_bt is None else np.asarray(steering.position_mask_bt)
        layout = arrange_prompts(np.asarray(tokens_bt), np.asarray(mask_bt), pm, share_span=True, min_width=1)
        if layout.span_tokens_p.shape[0]:
            layout = layout._replace(  # exact widths: a sweep compiles per shape
                **_unbucketed(layout))
            width = layout.own_tokens_bt.shape[1] + layout.span_tokens_p.shape[0] / b
            if chunk_size is None:
                chunk_size = default_chunk_size(config, b, max(1, int(np.ceil(width))), coefficients_c.size,
                                                memory_budget_bytes=memory_budget_bytes)
            return _SWEEP_SPAN(
                graphdef, state, PromptArrays.of(layout), steering._replace(position_mask_bt=None),
                jnp.asarray(coefficients_c, jnp.float32), first_layer=layers[0], return_logits=return_logits,
                return_h=return_h, residual_layers=residual_layers, chunk_size=min(chunk_size, coefficients_c.size),
            )
    if chunk_size is None:
        chunk_size = default_chunk_size(config, b, t, coefficients_c.size, memory_budget_bytes=memory_budget_bytes)
    return _SWEEP(
        graphdef,
        state,
        tokens_bt,
        mask_bt,
        steering,
        jnp.asarray(coefficients_c, jnp.float32),
        chunk_size=min(chunk_size, coefficients_c.size),
        **static,
    )


def _unbucketed(layout: PromptLayout) -> dict:
    """The layout's span and own-token arrays cut to their true widths (no bucket padding)."""
    span = int(layout.span_mask_p.sum())
    width = int(layout.own_mask_bt.sum(axis=1).max())
    out = {f: getattr(layout, f)[-span:] for f in PromptLayout._fields if f.startswith("span_")}
    out.update({f: getattr(layout, f)[:, -width:] for f in PromptLayout._fields if f.startswith("own_")})
    return out


def sweep_shared_span(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    prompt: PromptArrays,
    steering: Steering,
    coefficients_c: jax.Array,
    *,
    first_layer: int,
    return_logits: bool = True,
    return_h: bool = False,
    residual_layers: tuple[int, ...] = (),
    chunk_size: int | None = None,
) -> SweepOutput:
    """:func:`sweep_coefficients` over a :class:`PromptLayout`: the common span once per coefficient.

    ``prompt`` is ``PromptArrays.of(arrange_prompts(...))``; the steering's
    position mask is carried by the layout (``steering.position_mask_bt`` must
    be None). Prefix caching as in :func:`sweep_coefficients`; the last block
    runs its queries and MLP at the last token only.
    """
    model = nnx.merge(graphdef, state)
    n = model.config.n_layers
    stop = min(first_layer + 1, n)
    early = tuple(layer for layer in residual_layers if layer < first_layer)
    x_span0, x_own0 = embed_prompts(model, prompt)
    x_span0, x_own0, _, cached = prefill(model, prompt, x_span0, x_own0, None, start=0, stop=stop, collect=early)
    pending = first_layer if first_layer < n else None
    has_span = x_span0 is not None
    span_where = (prompt.span_mask_p & prompt.span_steer_p)[None, None]
    own_where = (prompt.own_mask_bt & prompt.own_steer_bt)[:, None]
    last_where = prompt.own_mask_bt[:, -1] & prompt.own_steer_bt[:, -1]

    def one(c):
        st = steering._replace(coefficient=c)
        x_span, x_own = x_span0, x_own0
        collected = dict(cached)
        if pending is not None:
            x_own = steer(x_own, st, pending, own_where)
            if has_span:
                x_span = steer(x_span, st, pending, span_where)
            if pending in residual_layers:
                collected[pending] = x_own[:, 0, -1]
        if stop < n:
            later = tuple(layer for layer in residual_layers if layer >= stop)
            _, x_own, _, more = prefill(model, prompt, x_span, x_own, st, start=stop, stop=n, last_only_at=n - 1,
                                        collect=later)
            collected.update(more)
        logits_bv, h_bd = _final(model, x_own[:, 0, -1], st, None, last_where)
        collected[n] = h_bd
        residuals = jnp.stack([collected[layer] for layer in residual_layers]) if residual_layers else None
        return SweepOutput(logits_bv if return_logits else None, h_bd if return_h else None, residuals)

    coefficients_c = jnp.asarray(coefficients_c, jnp.float32)
    if chunk_size is None or chunk_size >= coefficients_c.shape[0]:
        return jax.vmap(one)(coefficients_c)
    return jax.lax.map(one, coefficients_c, batch_size=chunk_size)


_SWEEP_SPAN = jax.jit(
    sweep_shared_span,
    static_argnums=0,
    static_argnames=("first_layer", "return_logits", "return_h", "residual_layers", "chunk_size"),
)


def graphdef_config(graphdef: nnx.GraphDef, state: nnx.State) -> TransformerConfig:
    """The :class:`TransformerConfig` of a split model.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.

    Returns:
        the model's :class:`TransformerConfig`.

    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> graphdef_config(*nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))) == cfg
    True
    """
    from flax import nnx as _nnx
    
    instance_of("graphdef_config", "graphdef", graphdef, _nnx.GraphDef, "nnx.split(model)[0]")
    model = nnx.merge(graphdef, state)
    if not isinstance(model, Transformer):
        raise TypeError(f"expected the split of a Transformer, got the split of a {type(model).__name__}.")
    return model.config


def final_steering_logits(
    logits_bv, unembed_vd, vector_d, coefficients_c, *, normalize: bool = True, token_ids=None, mesh: Mesh | None = None
) -> jax.Array:
    """Final-layer steering without a forward pass: ``z_c = z + c (U v)`` (docs/theory.md#setting).

    Adding ``c v`` to the final representation ``h`` changes the logits by
    ``c U v`` exactly (``δ = c v``, ``r = |c|``); the bias is unchanged.
    Returns shape (c, b, v), or (c, b, k) at the ``k`` tokens ``token_ids``
    (e.g. the behaviour sets A+ and A-, or the options of a question): the
    restriction is what makes sweeps of thousands of coefficients over
    thousands of prompts cheap, since only ``U`` at those rows is used. ``v``
    is normalised to unit norm unless ``normalize=False`` (then it must already
    have unit norm). ``mesh`` (see :func:`sweep_mesh`) shards the output over
    its coefficient and prompt axes.

    Args:
        logits_bv: unsteered logits, shape (b, V).
        unembed_vd: unembedding rows, shape (V, d).
        vector_d: steering direction, shape (d,).
        coefficients_c: coefficients, shape (c,).
        normalize: scale ``vector_d`` to unit norm first.
        token_ids: optional k token ids to keep.
        mesh: optional device mesh.

    Returns:
        steered logits, shape (c, b, V), or (c, b, k) with ``token_ids``.

    >>> import jax.numpy as jnp
    >>> z = final_steering_logits(jnp.zeros((1, 2)), jnp.eye(2), jnp.array([3.0, 4.0]), jnp.array([0.0, 10.0]))
    >>> z[1].round(4).tolist()
    [[6.0, 8.0]]
    >>> final_steering_logits(jnp.zeros((1, 2)), jnp.eye(2), jnp.array([3.0, 4.0]), jnp.array([10.0]),
    ...                       token_ids=[1]).tolist()
    [[[8.0]]]
    """
    where = "final_steering_logits"
    logits_bv = check_finite("logits_bv", logits_bv, where=where, finite=False)
    unembed_vd = check_finite("unembed_vd", unembed_vd, where=where, finite=False)
    vector_d = check_finite("vector_d", vector_d, where=where)
    coefficients_c = check_finite("coefficients_c", coefficients_c, where=where)
    if logits_bv.ndim != 2 or unembed_vd.ndim != 2 or vector_d.ndim != 1 or coefficients_c.ndim != 1:
        raise ValueError(
            "final_steering_logits: expected logits_bv (b, v), unembed_vd (v, d), vector_d (d,), coefficients_c (c,); "
            f"got {logits_bv.shape}, {unembed_vd.shape}, {vector_d.shape}, {coefficients_c.shape}."
        )
    if unembed_vd.shape != (logits_bv.shape[1], vector_d.shape[0]):
        raise ValueError(
            f"final_steering_logits: unembed_vd has shape {unembed_vd.shape}, expected "
            f"({logits_bv.shape[1]}, {vector_d.shape[0]}) = (vocabulary of logits_bv, length of vector_d)."
        )
    norm = jnp.linalg.norm(vector_d)
    if is_concrete(norm):
        if not np.isfinite(float(norm)) or float(norm) == 0:
            raise ValueError(f"final_steering_logits: vector_d has norm {float(norm)}; it must be finite and non-zero.")
        if not normalize and abs(float(norm) - 1) > 1e-4:
            raise ValueError(f"final_steering_logits: normalize=False but |vector_d| = {float(norm)}, not 1.")
    if token_ids is not None:
        ids = check_token_ids("final_steering_logits: token_ids", token_ids, logits_bv.shape[1])
        logits_bv, unembed_vd = logits_bv[:, ids], unembed_vd[ids]
    # Only the logits and rows at token_ids (all, without it) enter the result.
    logits_bv = check_finite("logits_bv", logits_bv, where=where)
    unembed_vd = check_finite("unembed_vd", unembed_vd, where=where)
    v = vector_d / norm if normalize else vector_d
    uv_v = unembed_vd @ v
    if mesh is None:
        return _shift(logits_bv, uv_v, coefficients_c)
    return sharded_final(_shift, logits_bv, uv_v, coefficients_c, mesh=mesh)


def _shift(logits_bv: jax.Array, uv_v: jax.Array, coefficients_c: jax.Array) -> jax.Array:
    return logits_bv[None, :, :] + coefficients_c[:, None, None] * uv_v[None, None, :]
