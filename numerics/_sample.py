"""Sampling continuations (optionally steered) and the sequence-level behaviour expectation."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.theory._validate import prng_key

from ._params import require_finite_parameters
from ._forward import Steering, _check_steering, check_tokens, forward_module
from ._measure import SequenceBehaviour, summarize_scores
from ._sweep import graphdef_config, last_positions


def _sample_impl(graphdef, state, tokens_bt, mask_bt, steering, key, temperature, *, n_new: int, greedy: bool):
    model = nnx.merge(graphdef, state)
    b, t = tokens_bt.shape
    buf = jnp.concatenate([tokens_bt, jnp.zeros((b, n_new), tokens_bt.dtype)], axis=1)
    mbuf = jnp.concatenate([mask_bt, jnp.zeros((b, n_new), bool)], axis=1)
    if steering is not None and steering.position_mask_bt is not None:
        steering = steering._replace(
            position_mask_bt=jnp.concatenate([steering.position_mask_bt, jnp.ones((b, n_new), bool)], axis=1)
        )

    def step(i, carry):
        buf, mbuf = carry
        logits = forward_module(model, buf, mask_bt=mbuf, steering=steering).logits_btv
        last = last_positions(mbuf)
        logits_bv = jnp.take_along_axis(logits, last[:, None, None], axis=1)[:, 0, :]
        if greedy:
            new = jnp.argmax(logits_bv, axis=-1)
        else:
            new = jax.random.categorical(jax.random.fold_in(key, i), logits_bv / temperature, axis=-1)
        buf = buf.at[:, t + i].set(new.astype(buf.dtype))
        mbuf = mbuf.at[:, t + i].set(True)
        return buf, mbuf

    buf, _ = jax.lax.fori_loop(0, n_new, step, (buf, mbuf))
    return buf[:, t:]


_SAMPLE = jax.jit(_sample_impl, static_argnums=0, static_argnames=("n_new", "greedy"))


def sample_continuations(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    *,
    key: jax.Array,
    max_new_tokens: int,
    temperature: float = 1.0,
    mask_bt=None,
    steering: Steering | None = None,
) -> np.ndarray:
    """Sample ``max_new_tokens`` tokens after each prompt: shape (b, max_new_tokens).

    Seeded by ``key``, an int seed or a ``jax.random.key`` (same key, same tokens); ``temperature = 0`` is greedy
    decoding. Steering, if given, applies at every position of the prompt (or
    its position mask) and at every generated token, as activation-addition
    hooks do during generation. Each step recomputes the whole sequence (no
    key/value cache): meant for small models and short continuations.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> sample_continuations(graphdef, state, jnp.array([[1, 2]]), key=jax.random.key(0), max_new_tokens=4).shape
    (1, 4)
    """
    config = graphdef_config(graphdef, state)
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where="sample_continuations")
    require_finite_parameters(state)
    _check_steering(config, steering, tokens_bt.shape, where="sample_continuations")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"sample_continuations: max_new_tokens must be a positive int, got {max_new_tokens!r}.")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"sample_continuations: temperature must be finite and >= 0, got {temperature!r}.")
    total = tokens_bt.shape[1] + max_new_tokens
    if config.positions == "learned" and total > config.max_len:
        raise ValueError(f"sample_continuations: prompt plus {max_new_tokens} new tokens ({total}) exceeds "
                         f"max_len={config.max_len}; shorten the prompt or the continuation.")
    key = prng_key("sample_continuations: key", key)
    out = _SAMPLE(graphdef, state, tokens_bt, mask_bt, steering, key, jnp.float32(max(temperature, 1e-30)),
                  n_new=max_new_tokens, greedy=temperature == 0)
    return np.asarray(out)


def sequence_behaviour(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens_bt,
    scorer: Callable[[np.ndarray], int],
    *,
    key: jax.Array,
    n_samples: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    mask_bt=None,
    steering: Steering | None = None,
) -> SequenceBehaviour:
    """Sequence-level behaviour expectation ``B_P(q) = E_a B(a)``, estimated by sampling (docs/theory.md#alignment).

    Draws ``n_samples`` continuations per prompt (:func:`sample_continuations`),
    scores each with ``scorer`` (token ids (max_new_tokens,) -> -1, 0 or +1)
    and returns the per-prompt and average estimates with standard errors.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> scorer = lambda ids: 1 if ids[0] < 5 else -1
    >>> out = sequence_behaviour(graphdef, state, jnp.array([[1, 2]]), scorer, key=jax.random.key(0),
    ...                          n_samples=8, max_new_tokens=2)
    >>> out.scores_bs.shape, -1 <= out.mean <= 1, out.stderr > 0
    ((1, 8), True, True)
    """
    key = prng_key("sequence_behaviour: key", key)
    if not callable(scorer):
        raise TypeError(f"sequence_behaviour: scorer must be callable on token ids, got {type(scorer).__name__}.")
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"sequence_behaviour: n_samples must be an int >= 2 (for a standard error), got {n_samples!r}.")
    config = graphdef_config(graphdef, state)
    tokens_bt, mask_bt = check_tokens(config, tokens_bt, mask_bt, where="sequence_behaviour")
    _check_steering(config, steering, tokens_bt.shape, where="sequence_behaviour")
    b = tokens_bt.shape[0]
    rows = np.repeat(np.arange(b), n_samples)
    if steering is not None and steering.position_mask_bt is not None:
        steering = steering._replace(position_mask_bt=steering.position_mask_bt[rows])
    new = sample_continuations(graphdef, state, tokens_bt[rows], key=key, max_new_tokens=max_new_tokens,
                               temperature=temperature, mask_bt=mask_bt[rows], steering=steering)
    scores = np.empty(len(new), np.float64)
    for i, row in enumerate(new):
        value = scorer(row)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value not in (-1, 0, 1):
            raise ValueError(f"sequence_behaviour: the scorer returned {value!r} for continuation {row.tolist()}; "
                             "it must return -1 (misaligned), 0 (neutral) or +1 (aligned).")
        scores[i] = value
    return summarize_scores(scores.reshape(b, n_samples))
