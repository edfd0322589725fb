"""Training the toy model on the toy world: a seeded AdamW loop with warmup and cosine decay.

The recipe (``ToyTrainConfig.default()``) is what ``steerbounds train-toy`` runs
to reproduce the shipped checkpoint: same seed, same numbers on the same machine
(batches come from a seeded numpy generator, initialisation from the seed, and
the step is one jitted pure function).
"""

from __future__ import annotations

from steerbounds.theory import check_array, is_concrete

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ._config import TransformerConfig
from ._forward import forward_module
from ._model import Transformer
from ._toy_world import DEFAULT_MIX, ToyWorld


@dataclass(frozen=True)
class ToyTrainConfig:
    """Model shape and optimiser recipe of the toy model.

    >>> cfg = ToyTrainConfig.tiny(steps=3)
    >>> cfg.steps, cfg.model_config(vocab_size=140, max_len=27).d_model
    (3, 32)
    """

    seed: int = 0  # seeds initialisation and the batch stream
    world_seed: int = 0  # seed of the ToyWorld the model is trained on
    steps: int = 3000  # optimiser steps
    batch_size: int = 64  # sequences per step
    learning_rate: float = 3e-3  # peak learning rate
    warmup_steps: int = 300  # linear warmup from 0 to the peak
    final_lr_fraction: float = 0.05  # cosine decays to this fraction of the peak
    weight_decay: float = 0.05  # AdamW decoupled weight decay (matrices only)
    b1: float = 0.9  # Adam first-moment decay
    b2: float = 0.98  # Adam second-moment decay
    grad_clip: float = 1.0  # global gradient-norm clip
    style: Literal["gpt2", "llama"] = "gpt2"  # which TransformerConfig preset
    d_model: int = 64  # residual width
    n_layers: int = 4  # transformer blocks
    n_heads: int = 4  # attention heads
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX  # fractions of each text kind per batch
    prompt_loss_weight: float = 0.1  # loss weight of prompt tokens (completion tokens weigh 1)
    residual_norm_target: float | None = 8.0  # per-token residual norm above which the penalty starts (None: off)
    residual_norm_weight: float = 1.0  # weight of the penalty mean(relu(||x|| / target - 1)^2)
    model_overrides: tuple[tuple[str, Any], ...] = ()  # extra TransformerConfig fields

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "d_model", "n_layers", "n_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ToyTrainConfig.{name} must be a positive int, got {value!r}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"ToyTrainConfig.warmup_steps must lie in [0, steps={self.steps}), got {self.warmup_steps}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"ToyTrainConfig.learning_rate must be positive and finite, got {self.learning_rate}")
        if self.residual_norm_target is not None and not self.residual_norm_target > 0:
            raise ValueError(f"ToyTrainConfig.residual_norm_target must be positive or None, got {self.residual_norm_target}")
        if self.style not in ("gpt2", "llama"):
            raise ValueError(f"ToyTrainConfig.style must be 'gpt2' or 'llama', got {self.style!r}")
        object.__setattr__(self, "mix", tuple((str(k), float(w)) for k, w in self.mix))
        object.__setattr__(self, "model_overrides", tuple((str(k), v) for k, v in self.model_overrides))

    @classmethod
    def default(cls, **changes: Any) -> ToyTrainConfig:
        """The recipe of the shipped checkpoint (fields can be overridden)."""
        return cls(**changes)

    @classmethod
    def tiny(cls, **changes: Any) -> ToyTrainConfig:
        """A very small model for tests: 2 layers of width 32, short warmup."""
        fields = dict(steps=20, batch_size=16, warmup_steps=1, d_model=32, n_layers=2, n_heads=2)
        fields.update(changes)
        return cls(**fields)

    def model_config(self, *, vocab_size: int, max_len: int) -> TransformerConfig:
        """The :class:`TransformerConfig` of this recipe for a vocabulary and sequence length."""
        preset = TransformerConfig.gpt2_style if self.style == "gpt2" else TransformerConfig.llama_style
        return preset(
            vocab_size=vocab_size,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            max_len=max_len,
            **dict(self.model_overrides),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (inverse: :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        d["mix"] = [list(m) for m in self.mix]
        d["model_overrides"] = [list(m) for m in self.model_overrides]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyTrainConfig:
        """Rebuild from :meth:`to_dict` output."""
        data = dict(data)
        data["mix"] = tuple(tuple(m) for m in data.get("mix", DEFAULT_MIX))
        data["model_overrides"] = tuple(tuple(m) for m in data.get("model_overrides", ()))
        return cls(**data)


@dataclass
class ToyTrainResult:
    """What :func:`train_toy_model` returns: the trained model, its world and the loss curve.

    >>> result = train_toy_model(ToyTrainConfig.tiny(steps=2), progress=False)
    >>> result.losses.shape, result.world.seed, result.cpu_seconds > 0
    ((2,), 0, True)
    """

    model: Transformer  # the trained model
    world: ToyWorld  # the world it was trained on
    config: ToyTrainConfig  # the recipe
    losses: np.ndarray  # training loss per step, shape [steps]
    wall_seconds: float  # wall-clock time of the loop
    cpu_seconds: float  # process CPU time of the loop


def next_token_loss(
    logits_btv: jax.Array, tokens_bt: jax.Array, mask_bt: jax.Array, weights_bt: jax.Array | None = None
) -> jax.Array:
    """Weighted mean next-token cross-entropy over real (unpadded) targets, in float32.

    Position ``t`` predicts token ``t + 1``; a target counts when both it and
    its input are real tokens, with weight ``weights_bt[:, t + 1]`` (default 1).

    Args:
        logits_btv: logits, shape (b, t, V).
        tokens_bt: tokens, shape (b, t).
        mask_bt: 1 on tokens, shape (b, t).
        weights_bt: optional weight per target, shape (b, t).

    Returns:
        the scalar loss, float32.

    >>> logits = jnp.zeros((1, 3, 4), jnp.float32)
    >>> loss = next_token_loss(logits, jnp.array([[0, 1, 2]]), jnp.array([[False, True, True]]))
    >>> round(float(loss), 4) == round(float(np.log(4)), 4)
    True
    """
    logits_btv = check_array("next_token_loss", "logits_btv", logits_btv, ndim=3)
    tokens_bt = check_array("next_token_loss", "tokens_bt", tokens_bt, ndim=2, integer=True)
    mask_bt = check_array("next_token_loss", "mask_bt", mask_bt, ndim=2, finite=False)
    if tokens_bt.shape != logits_btv.shape[:2] or mask_bt.shape != tokens_bt.shape:
        raise ValueError(f"next_token_loss: logits_btv {logits_btv.shape}, tokens_bt {tokens_bt.shape} and mask_bt "
                         f"{mask_bt.shape} must share the batch and token axes")
    if is_concrete(tokens_bt) and ((np.asarray(tokens_bt) < 0) | (np.asarray(tokens_bt) >= logits_btv.shape[2])).any():
        raise ValueError(f"next_token_loss: tokens_bt holds ids outside the vocabulary [0, {logits_btv.shape[2]})")
    logits = logits_btv[:, :-1].astype(jnp.float32)
    targets = tokens_bt[:, 1:]
    weights = (mask_bt[:, 1:] & mask_bt[:, :-1]).astype(jnp.float32)
    if weights_bt is not None:
        weights = weights * weights_bt[:, 1:].astype(jnp.float32)
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    return jnp.sum(nll * weights) / jnp.maximum(jnp.sum(weights), 1e-6)


def residual_norm_penalty(residuals_lbtd: jax.Array, mask_bt: jax.Array, *, target: float) -> jax.Array:
    """Mean over layers and real tokens of ``relu(||x|| / target - 1)^2``: zero while every norm is below ``target``.

    Normalised blocks make the model's function invariant to the overall scale
    of the residual stream, so nothing but this penalty pins that scale; it
    keeps the stream at a norm where steering coefficients of a few units
    (docs/theory.md#setting: the paper sweeps -5..5 and -10..10) have a visible
    but not overwhelming effect.

    Args:
        residuals_lbtd: residual streams, shape (l, b, t, d).
        mask_bt: 1 on tokens, shape (b, t).
        target: the norm below which there is no penalty.

    Returns:
        the scalar penalty.

    >>> x = jnp.ones((1, 1, 2, 4), jnp.float32) * jnp.array([1.0, 4.0])[None, None, :, None]  # norms 2 and 8
    >>> float(residual_norm_penalty(x, jnp.array([[True, True]]), target=4.0))
    0.5
    """
    residuals_lbtd = check_array("residual_norm_penalty", "residuals_lbtd", residuals_lbtd, ndim=4)
    mask_bt = check_array("residual_norm_penalty", "mask_bt", mask_bt, ndim=2, finite=False)
    if mask_bt.shape != residuals_lbtd.shape[1:3]:
        raise ValueError(f"residual_norm_penalty: mask_bt has shape {mask_bt.shape}, expected {residuals_lbtd.shape[1:3]}")
    if not (isinstance(target, (int, float)) and np.isfinite(target) and target > 0):
        raise ValueError(f"residual_norm_penalty: target must be a finite number > 0, got {target!r}")
    norms_lbt = jnp.sqrt(jnp.sum(jnp.square(residuals_lbtd.astype(jnp.float32)), axis=-1))
    excess_lbt = jnp.square(jax.nn.relu(norms_lbt / target - 1.0))
    weights_bt = mask_bt.astype(jnp.float32)
    return jnp.sum(excess_lbt * weights_bt[None]) / (residuals_lbtd.shape[0] * jnp.maximum(jnp.sum(weights_bt), 1.0))


def _decay_mask(params: Any) -> Any:
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: ToyTrainConfig) -> optax.GradientTransformation:
    """Clipped AdamW with linear warmup and cosine decay (weight decay on matrices only)."""
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=config.warmup_steps,
        decay_steps=config.steps,
        end_value=config.learning_rate * config.final_lr_fraction,
    )
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(schedule, b1=config.b1, b2=config.b2, weight_decay=config.weight_decay, mask=_decay_mask),
    )


def _step_key(config: ToyTrainConfig) -> ToyTrainConfig:
    """The fields that define the compiled step (seeds do not): equal keys share one compilation."""
    return dataclasses.replace(config, seed=0, world_seed=0)


@functools.lru_cache(maxsize=8)
def _train_step(graphdef: nnx.GraphDef, config: ToyTrainConfig, n_layers: int):
    """The jitted optimiser step ``(params, rest, opt_state, tokens, mask, weights) -> (params, opt_state, loss)``.

    ``loss`` is the language-modelling loss; the gradient also carries the
    residual-norm penalty when ``config.residual_norm_target`` is set.
    """
    optimizer = make_optimizer(config)
    layers = tuple(range(n_layers)) if config.residual_norm_target is not None else ()

    def loss_fn(p, rest, tokens_bt, mask_bt, weights_bt):
        out = forward_module(nnx.merge(graphdef, p, rest), tokens_bt, mask_bt=mask_bt, residual_layers=layers)
        loss = next_token_loss(out.logits_btv, tokens_bt, mask_bt, weights_bt)
        if not layers:
            return loss, loss
        penalty = residual_norm_penalty(out.residuals_lbtd, mask_bt, target=config.residual_norm_target)
        return loss + config.residual_norm_weight * penalty, loss

    @jax.jit
    def step(p, rest, state, tokens_bt, mask_bt, weights_bt):
        (_, loss), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, rest, tokens_bt, mask_bt, weights_bt)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    return step


def train_toy_model(
    config: ToyTrainConfig,
    *,
    world: ToyWorld | None = None,
    progress: bool = True,
    callback: Callable[[int, float, Any], None] | None = None,
) -> ToyTrainResult:
    """Train a fresh model on the toy world with ``config``'s recipe.

    Deterministic: the same config gives the same parameters on the same
    machine. ``progress`` shows a tqdm bar with the running loss;
    ``callback(step, loss, params)`` is called after every step with the
    current parameters (an ``nnx.State``; ``nnx.merge(graphdef, params, rest)``
    of the returned model's split rebuilds a model from them).

    Args:
        config: the :class:`ToyTrainConfig` recipe.
        world: the world (default: the recipe's).
        progress: show a progress bar.
        callback: ``callback(step, loss, params)`` after each step.

    Returns:
        :class:`ToyTrainResult` (model, world, losses, timings).

    >>> result = train_toy_model(ToyTrainConfig.tiny(steps=2), progress=False)
    >>> result.losses.shape
    (2,)
    """
    world = ToyWorld.generate(seed=config.world_seed) if world is None else world
    length = world.max_text_length()
    model_config = config.model_config(vocab_size=len(world.vocab), max_len=length)
    model = Transformer(model_config, rngs=nnx.Rngs(config.seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    optimizer = make_optimizer(config)
    opt_state = optimizer.init(params)
    step = _train_step(graphdef, _step_key(config), model_config.n_layers)

    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 0xDA7A]))
    losses = np.zeros(config.steps, dtype=np.float64)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, desc="train-toy", unit="step")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(config.steps):
        tokens_bt, mask_bt, completion_bt = world.sample_batch(rng, config.batch_size, length=length, mix=config.mix)
        weights_bt = np.where(completion_bt, 1.0, config.prompt_loss_weight).astype(np.float32)
        params, opt_state, loss = step(params, rest, opt_state, tokens_bt, mask_bt, weights_bt)
        losses[i] = float(loss)
        if not np.isfinite(losses[i]):
            raise FloatingPointError(f"training loss became {losses[i]} at step {i}; lower learning_rate")
        if bar is not None:
            bar.update(1)
            if i % 10 == 0 or i == config.steps - 1:
                bar.set_postfix(loss=f"{losses[i]:.4f}")
        if callback is not None:
            callback(i, losses[i], params)
    if bar is not None:
        bar.close()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    nnx.update(model, params)
    return ToyTrainResult(model=model, world=world, config=config, losses=losses, wall_seconds=wall, cpu_seconds=cpu)
