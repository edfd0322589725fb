"""The pure forward pass: ``(graphdef, state, tokens, steering) -> logits, h, residuals``.

Layer indices: ``l`` in ``0 .. n_layers - 1`` is the residual stream *after*
block ``l`` (after any steering added there); ``l = n_layers`` is the final
representation ``h`` (docs/theory.md#setting: the input of the unembedding, after
the final norm). Steering at ``l = n_layers`` is the "final-layer steering"
special case ``h_c = h + c v`` of docs/theory.md#setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.theory import as_float_array, instance_of, is_concrete

from ._config import TransformerConfig
from ._rotary import rotary_inverse_frequencies


if TYPE_CHECKING:  # for annotations only: ._model imports this module
    from ._model import Transformer


class ForwardOutput(NamedTuple):
    """What the forward pass returns.

    >>> ForwardOutput._fields
    ('logits_btv', 'h_btd', 'residuals_lbtd')
    """

    logits_btv: jax.Array  # logits z = U h (+ b), float32, at every position
    h_btd: jax.Array  # final representation h (after the final norm, steering at layer n_layers included)
    residuals_lbtd: jax.Array | None  # residual stream after each requested layer, in the order requested


class Steering(NamedTuple):
    """Steering as data: add ``coefficient * vectors_ld[l]`` after every layer ``l`` with ``layer_mask_l[l] = 1``.

    Slot ``l = n_layers`` steers the final representation ``h``. The addition
    happens at every non-pad position, or where ``position_mask_bt`` is 1
    (intersected with the padding mask). Build it with :func:`make_steering`;
    being a NamedTuple of arrays it passes through ``jax.jit`` and ``jax.vmap``
    (e.g. vmap over ``coefficient``).

    >>> Steering._fields
    ('vectors_ld', 'layer_mask_l', 'coefficient', 'position_mask_bt')
    """

    vectors_ld: jax.Array  # (n_layers + 1, d) unit direction per layer slot (rows outside S are ignored)
    layer_mask_l: jax.Array  # (n_layers + 1,) 1.0 for the layers in S, 0.0 elsewhere
    coefficient: jax.Array  # () the coefficient c (a float32 scalar)
    position_mask_bt: jax.Array | None  # (b, t) where to steer; None: every non-pad position


def _check_layers(layers: Sequence[int], n_layers: int, *, name: str) -> tuple[int, ...]:
    try:
        out = tuple(int(layer) for layer in layers)
    except TypeError as err:
        raise TypeError(f"{name} must be a sequence of ints, got {layers!r}.") from err
    for layer, raw in zip(out, layers):
        if isinstance(raw, bool) or int(raw) != raw or not 0 <= layer <= n_layers:
            raise ValueError(
                f"{name}: unknown layer index {raw!r}; valid indices are 0..{n_layers - 1} (residual stream "
                f"after that block) and {n_layers} (the final representation h). Negative indices are not accepted."
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} lists a layer twice: {out}; give each layer once.")
    return out


def make_steering(
    config: TransformerConfig,
    vector,
    layers: Sequence[int],
    coefficient: float = 1.0,
    *,
    position_mask_bt=None,
    normalize: bool = True,
) -> Steering:
    """Build a :class:`Steering`: add ``c * v`` after every layer in ``layers`` (docs/theory.md#setting).

    ``vector`` has shape (d,) (one direction for every layer in S) or
    (len(layers), d) (one per layer, in the order of ``layers``). With
    ``normalize=True`` each direction is scaled to unit norm, so that ``c`` is
    the norm of what is added; with ``normalize=False`` the directions must
    already have unit norm. A zero or non-finite vector is an error.

    Args:
        config: the model config.
        vector: direction(s), shape (d,) or (len(layers), d).
        layers: the layer set S (``n_layers`` = final representation).
        coefficient: the coefficient c.
        position_mask_bt: optional 1 on the positions to steer, shape (b, t).
        normalize: scale each direction to unit norm.

    Returns:
        a :class:`Steering` pytree (vectors (n_layers + 1, d), layer mask (n_layers + 1,), coefficient).

    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=4, n_layers=2, n_heads=2)
    >>> s = make_steering(cfg, [3.0, 0.0, 4.0, 0.0], layers=[1], coefficient=2.0)
    >>> s.vectors_ld[1].tolist(), s.layer_mask_l.tolist()
    ([0.6000000238418579, 0.0, 0.800000011920929, 0.0], [0.0, 1.0, 0.0])
    """
    # Any model config with n_layers and d_model (TransformerConfig, EncoderConfig) defines the steering shape.
    if not all(isinstance(getattr(config, f, None), int) for f in ("n_layers", "d_model")):
        raise TypeError(f"make_steering: config must be a model config with integer n_layers and d_model "
                        f"(e.g. TransformerConfig.gpt2_style(...) or an EncoderConfig), got {type(config).__name__}")
    if isinstance(coefficient, bool) or not isinstance(coefficient, (int, float, np.integer, np.floating)) \
            or not np.isfinite(coefficient):
        raise ValueError(f"make_steering: coefficient must be a finite number, got {coefficient!r}")
    n, d = config.n_layers, config.d_model
    layers = _check_layers(layers, n, name="make_steering: layers")
    if not layers:
        raise ValueError("make_steering: layers is empty; give at least one layer index to steer.")
    v = np.asarray(as_float_array("make_steering: vector", vector), dtype=np.float64)  # finite numbers
    if v.ndim == 1:
        v = np.broadcast_to(v, (len(layers), v.shape[0]))
    if v.ndim != 2 or v.shape != (len(layers), d):
        raise ValueError(
            f"make_steering: vector has shape {np.shape(vector)}; expected ({d},) or ({len(layers)}, {d}) "
            f"(d_model = {d}, one row per steered layer)."
        )
    norms = np.linalg.norm(v, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            f"make_steering: vector for layer(s) {[layers[i] for i in np.flatnonzero(norms == 0)]} has zero norm; "
            "a steering direction must be non-zero (it is normalised to unit norm)."
        )
    if normalize:
        v = v / norms[:, None]
    elif np.any(np.abs(norms - 1) > 1e-4):
        raise ValueError(
            f"make_steering: normalize=False but the vector norms are {norms.tolist()}, not 1; "
            "normalise the vector or pass normalize=True."
        )
    vectors = np.zeros((n + 1, d), np.float32)
    mask = np.zeros((n + 1,), np.float32)
    for i, layer in enumerate(layers):
        vectors[layer] = v[i]
        mask[layer] = 1.0
    as_float_array("make_steering: coefficient", coefficient)
    pm = None
    if position_mask_bt is not None:
        pm = jnp.asarray(position_mask_bt)
        if pm.ndim != 2:
            raise ValueError(f"make_steering: position_mask_bt must be 2-D (batch, time), got shape {pm.shape}.")
        pm = pm.astype(bool)
    return Steering(jnp.asarray(vectors), jnp.asarray(mask), jnp.asarray(coefficient, jnp.float32), pm)


def steered_layers(steering: Steering) -> tuple[int, ...]:
    """The layer set S of a (concrete) :class:`Steering`.

    Args:
        steering: a concrete :class:`Steering`.

    Returns:
        the steered layer indices, increasing.

    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=4, n_layers=3, n_heads=2)
    >>> steered_layers(make_steering(cfg, [1.0, 0, 0, 0], layers=[2, 1]))
    (1, 2)
    """
    instance_of("steered_layers", "steering", steering, Steering, "make_steering(config, vector, layers)")
    return tuple(int(i) for i in np.flatnonzero(np.asarray(steering.layer_mask_l)))


class _Context(NamedTuple):
    mask_bt: jax.Array  # bool, True on tokens
    positions_bt: jax.Array  # int32 position of each token, counted from the mask
    allowed_btt: jax.Array  # bool, query t may attend to key s
    cos_bth: jax.Array | None
    sin_bth: jax.Array | None


def check_tokens(config: TransformerConfig, tokens_bt, mask_bt, *, where: str) -> tuple[jax.Array, jax.Array]:
    """Validate token ids and mask (shapes always; values when concrete); return them as arrays."""
    tokens_bt = jnp.asarray(tokens_bt)
    if tokens_bt.ndim != 2:
        raise ValueError(f"{where}: tokens_bt must be 2-D (batch, time), got shape {tokens_bt.shape}; "
                         "add a batch axis with tokens[None].")
    if not jnp.issubdtype(tokens_bt.dtype, jnp.integer):
        raise TypeError(f"{where}: tokens_bt must hold integer token ids, got dtype {tokens_bt.dtype}.")
    if mask_bt is None:
        mask_bt = jnp.ones(tokens_bt.shape, bool)
    mask_bt = jnp.asarray(mask_bt)
    if mask_bt.shape != tokens_bt.shape:
        raise ValueError(f"{where}: mask_bt has shape {mask_bt.shape} but tokens_bt has shape {tokens_bt.shape}; "
                         "they must match (1 = token, 0 = padding).")
    if config.positions == "learned" and tokens_bt.shape[1] > config.max_len:
        raise ValueError(f"{where}: sequence length {tokens_bt.shape[1]} exceeds max_len={config.max_len} of the "
                         "learned position table; shorten the input.")
    if is_concrete(tokens_bt):
        tok = np.asarray(tokens_bt)
        bad = (tok < 0) | (tok >= config.vocab_size)
        if np.any(bad):
            raise ValueError(f"{where}: token id {int(tok[bad][0])} is outside the vocabulary 0..{config.vocab_size - 1}.")
    if is_concrete(mask_bt):
        m = np.asarray(mask_bt)
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{where}: mask_bt must contain only 0/1 (or booleans).")
        empty = np.flatnonzero(~m.astype(bool).any(axis=1))
        if empty.size:
            raise ValueError(f"{where}: row(s) {empty.tolist()} of mask_bt have no tokens; drop empty prompts.")
    return tokens_bt, mask_bt.astype(bool)


def _context(config: TransformerConfig, mask_bt: jax.Array) -> _Context:
    b, t = mask_bt.shape
    positions = jnp.maximum(jnp.cumsum(mask_bt.astype(jnp.int32), axis=1) - 1, 0)
    causal = jnp.arange(t, dtype=jnp.int32)[:, None] >= jnp.arange(t, dtype=jnp.int32)[None, :]
    allowed = causal[None, :, :] & mask_bt[:, None, :]
    cos = sin = None
    if config.positions == "rotary":
        angles = positions.astype(jnp.float32)[:, :, None] * rotary_inverse_frequencies(config)[None, None, :]
        cos, sin = jnp.cos(angles), jnp.sin(angles)
    return _Context(mask_bt, positions, allowed, cos, sin)


def _embed(model: Transformer, tokens_bt: jax.Array, ctx: _Context) -> jax.Array:
    x = jnp.take(model.token_embed_vd[...], tokens_bt, axis=0)
    if model.pos_embed_td is not None:
        x = x + jnp.take(model.pos_embed_td[...], ctx.positions_bt, axis=0)
    return x.astype(model.config.dtype)


def _add_steering(x_btd: jax.Array, steering: Steering | None, layer: int, ctx: _Context) -> jax.Array:
    if steering is None:
        return x_btd
    where = ctx.mask_bt if steering.position_mask_bt is None else ctx.mask_bt & steering.position_mask_bt
    amount = steering.coefficient * steering.layer_mask_l[layer]
    add = amount * where[:, :, None].astype(jnp.float32) * steering.vectors_ld[layer][None, None, :]
    return x_btd + add.astype(x_btd.dtype)


def _run_blocks(
    model: Transformer, x_btd, ctx: _Context, steering, start: int, stop: int, collect: tuple[int, ...]
) -> tuple[jax.Array, dict[int, jax.Array]]:
    out = {}
    for layer in range(start, stop):
        x_btd = model.blocks[layer](x_btd, ctx.cos_bth, ctx.sin_bth, ctx.allowed_btt)
        x_btd = _add_steering(x_btd, steering, layer, ctx)
        if layer in collect:
            out[layer] = x_btd
    return x_btd, out


def _final(model: Transformer, x, steering, ctx: _Context | None, mask=None):
    """Final norm, final-representation steering, unembedding (x is (b, t, d) or (b, d))."""
    h = model.final_norm(x)
    if steering is not None:
        n = model.config.n_layers
        amount = steering.coefficient * steering.layer_mask_l[n]
        where = mask.astype(jnp.float32)[..., None]
        vec = jnp.reshape(steering.vectors_ld[n], (1,) * (h.ndim - 1) + (-1,))
        h = h + (amount * where * vec).astype(h.dtype)
    return unembed(model, h), h


def unembed(model: Transformer, h) -> jax.Array:
    """Logits ``z = U h (+ b)`` in float32 of final representations ``h`` (..., d)."""
    u_vd, b_v = model.unembedding()
    logits = jnp.einsum("...d,vd->...v", h, u_vd.astype(h.dtype), preferred_element_type=jnp.float32)
    if b_v is not None:
        logits = logits + jnp.reshape(b_v.astype(jnp.float32), (1,) * (logits.ndim - 1) + (-1,))
    return logits.astype(jnp.float32)


def _check_steering(config: TransformerConfig, steering: Steering | None, shape_bt, *, where: str) -> None:
    if steering is None:
        return
    if not isinstance(steering, Steering):
        raise TypeError(f"{where}: steering must be a Steering (see make_steering), got {type(steering).__name__}.")
    n, d = config.n_layers, config.d_model
    if steering.vectors_ld.shape != (n + 1, d) or steering.layer_mask_l.shape != (n + 1,):
        raise ValueError(
            f"{where}: steering was built for another model: vectors_ld {steering.vectors_ld.shape} and "
            f"layer_mask_l {steering.layer_mask_l.shape}, expected ({n + 1}, {d}) and ({n + 1},); "
            "rebuild it with make_steering(model.config, ...)."
        )
    if steering.position_mask_bt is not None and tuple(steering.position_mask_bt.shape) != tuple(shape_bt):
        raise ValueError(f"{where}: steering.position_mask_bt has shape {steering.position_mask_bt.shape}, "
                         f"but the tokens have shape {tuple(shape_bt)}.")


def forward_module(
    model: Transformer,
    tokens_bt,
    *,
    mask_bt=None,
    steering: Steering | None = None,
    residual_layers: Sequence[int] = (),
) -> ForwardOutput:
    """The forward pass on a merged module (what :func:`forward` runs after ``nnx.merge``).

    Args:
        model: a :class:`Transformer`.
        tokens_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering`.
        residual_layers: blocks whose output to return.

    Returns:
        :class:`ForwardOutput`, as :func:`forward`.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> out = forward_module(Transformer(cfg, rngs=nnx.Rngs(0)), jnp.array([[1, 2]]), residual_layers=(0, 2))
    >>> out.residuals_lbtd.shape
    (2, 1, 2, 8)
    """
    config = model.config
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where="forward")
    _check_steering(config, steering, tokens_bt.shape, where="forward")
    residual_layers = _check_layers(residual_layers, config.n_layers, name="forward: residual_layers")
    ctx = _context(config, mask_bt)
    x = _embed(model, tokens_bt, ctx)
    x, collected = _run_blocks(model, x, ctx, steering, 0, config.n_layers, residual_layers)
    if steering is not None and steering.position_mask_bt is not None:
        final_mask = mask_bt & steering.position_mask_bt
    else:
        final_mask = mask_bt
    logits, h = _final(model, x, steering, ctx, final_mask)
    collected[config.n_layers] = h
    residuals = jnp.stack([collected[layer] for layer in residual_layers]) if residual_layers else None
    return ForwardOutput(logits, h, residuals)


def forward(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    *,
    mask_bt=None,
    steering: Steering | None = None,
    residual_layers: Sequence[int] = (),
) -> ForwardOutput:
    """Pure forward pass over ``(graphdef, state) = nnx.split(model)``.

    Returns the logits ``z = U h (+ b)``, the final representation ``h``
    (docs/theory.md#setting) and, for the layers in ``residual_layers``, the
    residual stream after those blocks. ``mask_bt`` (1 = token) may pad on
    either side; positions come from the mask. ``steering`` adds ``c v`` after
    the layers it names. Jit it with the graphdef and ``residual_layers`` static:
    ``jax.jit(forward, static_argnums=0, static_argnames="residual_layers")``.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: token ids, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t) (default: all ones).
        steering: optional :class:`Steering`.
        residual_layers: blocks whose output to return.

    Returns:
        :class:`ForwardOutput`: ``logits_btv`` (b, t, V), ``h_btd`` (b, t, d), ``residuals_lbtd`` (len(residual_layers), b, t, d).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer
    >>> cfg = TransformerConfig.llama_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> fwd = jax.jit(forward, static_argnums=0, static_argnames="residual_layers")
    >>> out = fwd(graphdef, state, jnp.array([[0, 5, 6]]), mask_bt=jnp.array([[0, 1, 1]]))
    >>> out.logits_btv.shape, out.h_btd.shape, out.residuals_lbtd
    ((1, 3, 11), (1, 3, 8), None)
    """
    return forward_module(
        nnx.merge(graphdef, state), tokens_bt, mask_bt=mask_bt, steering=steering, residual_layers=residual_layers
    )
