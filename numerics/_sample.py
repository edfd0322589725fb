"""Sampling continuations (optionally steered) and the sequence-level behaviour expectation."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.theory import prng_key

from ._forward import Steering, _check_steering, check_tokens, forward_module
from ._generate import generate
from ._measure import SequenceBehaviour, summarize_scores
from ._sweep import graphdef_config, last_positions


def _uncached_impl(graphdef, state, tokens_bt, mask_bt, steering, key, temperature, *, n_new: int, greedy: bool):
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


# The uncached reference (every step recomputes the whole buffer): what the cached path is tested against.
_UNCACHED = jax.jit(_uncached_impl, static_argnums=0, static_argnames=("n_new", "greedy"))


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
    top_p: float = 1.0,
) -> np.ndarray:
    """Sample ``max_new_tokens`` tokens after each prompt: shape (b, max_new_tokens).

    Seeded by ``key`` (same key, same tokens); ``temperature = 0`` is greedy
    decoding; ``top_p < 1`` samples from the nucleus. Steering, if given,
    applies at every position of the prompt (or its position mask) and at
    every generated token, as activation-addition hooks do during generation.
    Runs :func:`generate` (key/value cache) at the steering's coefficient.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: prompts, shape (b, t).
        key: an int seed or a ``jax.random.key``.
        max_new_tokens: tokens to generate n.
        temperature: sampling temperature (0: greedy).
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering`.
        top_p: nucleus probability (1: the whole vocabulary).

    Returns:
        generated token ids, shape (b, n).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from steerbounds.numerics import Transformer, TransformerConfig
    >>> cfg = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=1, n_heads=2)
    >>> graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(0)))
    >>> sample_continuations(graphdef, state, jnp.array([[1, 2]]), key=jax.random.key(0), max_new_tokens=4).shape
    (1, 4)
    """
    if key is not None:
        key = prng_key("sample_continuations: key", key)
    out = generate(graphdef, state, tokens_bt, key=key, max_new_tokens=max_new_tokens, temperature=temperature,
                   top_p=top_p, mask_bt=mask_bt, steering=steering)
    return out.tokens_cbsn[0, :, 0]


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

    Draws ``n_samples`` continuations per prompt (:func:`generate`, one key per sample),
    scores each with ``scorer`` (token ids (max_new_tokens,) -> -1, 0 or +1)
    and returns the per-prompt and average estimates with standard errors.

    Args:
        graphdef: static half of ``nnx.split(model)``.
        state: parameter half.
        tokens_bt: prompts, shape (b, t).
        scorer: token ids (n,) -> -1, 0 or +1.
        key: an int seed or a ``jax.random.key``.
        n_samples: continuations per prompt s (at least 2).
        max_new_tokens: tokens per continuation n.
        temperature: sampling temperature.
        mask_bt: 1 on tokens, shape (b, t).
        steering: optional :class:`Steering`.

    Returns:
        :class:`SequenceBehaviour`: per-prompt means and standard errors, shape (b,), and their average.

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
    draws = 1 if temperature == 0 else n_samples  # greedy: every sample is the same continuation
    out = generate(graphdef, state, tokens_bt, key=key, max_new_tokens=max_new_tokens, temperature=temperature,
                   mask_bt=mask_bt, steering=steering, n_samples=draws).tokens_cbsn[0]
    new = np.repeat(out, n_samples // draws, axis=1).reshape(b * n_samples, -1)
    scores = np.empty(len(new), np.float64)
    for i, row in enumerate(new):
        value = scorer(row)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value not in (-1, 0, 1):
            raise ValueError(f"sequence_behaviour: the scorer returned {value!r} for continuation {row.tolist()}; "
                             "it must return -1 (misaligned), 0 (neutral) or +1 (aligned).")
        scores[i] = value
    return summarize_scores(scores.reshape(b, n_samples))
