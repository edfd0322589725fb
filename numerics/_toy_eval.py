"""Measuring the toy model on its held-out sets: helpfulness and behaviour at the first answer token.

Helpfulness (docs/theory.md#helpfulness): for each held-out multiple-choice question,
``P(correct)`` is the probability of the correct letter after ``answer :``,
over the full vocabulary (``full``) and renormalised over the four letters
(``restricted``); accuracy is ``1[argmax over the full vocabulary = correct letter]``.

Behaviour (section 2, first-token form): for each held-out instruction,
``P± = sum_{t in A±} P(t | q)`` and the restricted behaviour expectation
``B = (P+ - P-) / (P+ + P-)``; ``m = P+ + P-`` is the mass on behaviour tokens.
The per-question and per-prompt numbers come from :func:`multiple_choice` and
:func:`first_token_behaviour`, fed with log-probabilities.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._forward import forward
from ._measure import FirstTokenBehaviour, MultipleChoice, first_token_behaviour, multiple_choice
from ._toy_world import ToyWorld


@dataclass(frozen=True)
class ToyEvaluation:
    """Held-out measurements of a toy model (see the module docstring for the definitions).

    >>> from steerbounds.numerics import load_toy_model
    >>> ev = ToyEvaluation(**load_toy_model().recorded["evaluation"])  # as recorded at training time
    >>> ev.n_mc, ev.mc_accuracy >= 0.7, 0.6 <= ev.mc_p_correct <= 0.9, -0.6 <= ev.harmful_behaviour <= 0.6
    (224, True, True, True)
    """

    mc_accuracy: float  # fraction of held-out MC questions whose top token (full vocabulary) is the correct letter
    mc_p_correct: float  # mean P(correct letter) over the full vocabulary
    mc_p_correct_restricted: float  # mean P(correct letter) among A-D
    transfer_mc_accuracy: float  # accuracy on MC questions about pairs never asked as MC in training
    transfer_mc_p_correct: float  # their mean P(correct letter) over the full vocabulary
    harmful_behaviour: float  # mean restricted B over held-out harmful prompts
    harmless_behaviour: float  # mean restricted B over held-out harmless prompts
    harmful_mass: float  # mean m = P+ + P- over held-out harmful prompts
    harmless_mass: float  # mean m over held-out harmless prompts
    n_mc: int  # number of held-out MC questions
    n_transfer: int  # number of transfer MC questions
    n_harmful: int  # number of held-out harmful prompts
    n_harmless: int  # number of held-out harmless prompts
    mc_p_correct_quantiles: tuple[float, ...] = ()  # P(correct letter), full vocabulary: min, 10, 25, 50, 75, 90 %, max
    mc_p_correct_histogram: tuple[int, ...] = ()  # held-out questions per P(correct) bin [0, 0.1), ..., [0.9, 1]

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in
                ((k, getattr(self, k)) for k in self.__dataclass_fields__)}


def last_token_log_probs(model, world: ToyWorld, prompts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
    """Next-token log-probabilities after each prompt, shape ``[b, V]`` (float64 numpy).

    Prompts are prefixed with ``<bos>`` and left-padded to the world's longest
    text, so the last column is every prompt's last token; they run
    ``batch_size`` at a time.

    Args:
        model: a :class:`Transformer`.
        world: the :class:`ToyWorld` (tokenizer, padding length).
        prompts: b prompts.
        batch_size: prompts per forward pass.

    Returns:
        log-probabilities, shape (b, V), float64.

    >>> from steerbounds.numerics import load_toy_model
    >>> toy = load_toy_model()
    >>> logp = last_token_log_probs(toy.model, toy.world, ["user : help me fix a boat . assistant :"])
    >>> logp.shape == (1, len(toy.world.vocab)), bool(abs(np.exp(logp).sum() - 1) < 1e-5)
    (True, True)
    """
    if len(prompts) == 0:
        raise ValueError("prompts is empty; pass at least one prompt")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    graphdef, state = nnx.split(model)
    # one compiled shape: every chunk is batch_size rows of the world's longest text
    width = max(world.max_text_length(), *(len(world.tokenizer.encode(p)) + 1 for p in prompts))
    tokens_bt, mask_bt = world.encode_prompts(prompts, length=width)
    out = []
    for start in range(0, len(prompts), batch_size):
        rows = np.arange(start, start + batch_size) % len(prompts)  # the last chunk wraps around
        logp = _last_log_probs(graphdef, state, tokens_bt[rows], mask_bt[rows])
        out.append(np.asarray(logp, np.float64)[: min(batch_size, len(prompts) - start)])
    return np.concatenate(out, axis=0)


@functools.partial(jax.jit, static_argnums=0)
def _last_log_probs(graphdef, state, tokens_bt, mask_bt):
    logits_btv = forward(graphdef, state, tokens_bt, mask_bt=mask_bt).logits_btv
    return jax.nn.log_softmax(logits_btv[:, -1].astype(jnp.float32), axis=-1)


def _choice(model, world: ToyWorld, questions) -> MultipleChoice:
    logp = last_token_log_probs(model, world, [q.prompt for q in questions])
    return multiple_choice(logp, world.answer_ids(questions), world.option_letter_ids)


def _behaviour(model, world: ToyWorld, prompts) -> FirstTokenBehaviour:
    logp = last_token_log_probs(model, world, prompts)
    return first_token_behaviour(logp, world.aligned_token_ids, world.misaligned_token_ids)


def evaluate_toy_model(model, world: ToyWorld) -> ToyEvaluation:
    """Accuracy, ``P(correct)`` and behaviour expectations of ``model`` on ``world``'s held-out sets.

    ``model`` is a :class:`Transformer`.

    Args:
        model: a :class:`Transformer` trained on the toy world.
        world: the :class:`ToyWorld`.

    Returns:
        :class:`ToyEvaluation`.

    >>> from steerbounds.numerics import load_toy_model
    >>> toy = load_toy_model()
    >>> ev = evaluate_toy_model(toy.model, toy.world)
    >>> 0.6 <= ev.mc_p_correct <= 0.9, ev.harmless_behaviour < -0.9, sum(ev.mc_p_correct_histogram) == ev.n_mc
    (True, True, True)
    """
    mc = _choice(model, world, world.heldout_mc_questions)
    transfer = _choice(model, world, world.transfer_mc_questions)
    harmful = _behaviour(model, world, world.heldout_harmful_prompts)
    harmless = _behaviour(model, world, world.heldout_harmless_prompts)
    mean = lambda x: float(np.mean(np.asarray(x, np.float64)))  # noqa: E731
    p = np.asarray(mc.p_full, np.float64)
    quantiles = tuple(float(v) for v in np.quantile(p, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]))
    histogram = tuple(int(n) for n in np.histogram(p, bins=np.linspace(0.0, 1.0, 11))[0])
    return ToyEvaluation(
        mc_accuracy=mean(mc.correct_full),
        mc_p_correct=mean(mc.p_full),
        mc_p_correct_restricted=mean(mc.p_restricted),
        transfer_mc_accuracy=mean(transfer.correct_full),
        transfer_mc_p_correct=mean(transfer.p_full),
        harmful_behaviour=mean(harmful.restricted),
        harmless_behaviour=mean(harmless.restricted),
        harmful_mass=mean(harmful.mass),
        harmless_mass=mean(harmless.mass),
        n_mc=len(world.heldout_mc_questions),
        n_transfer=len(world.transfer_mc_questions),
        n_harmful=len(world.heldout_harmful_prompts),
        n_harmless=len(world.heldout_harmless_prompts),
        mc_p_correct_quantiles=quantiles,
        mc_p_correct_histogram=histogram,
    )
