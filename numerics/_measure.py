"""Measurements on model outputs: behaviour, helpfulness, and the geometry of a steering step.

The first-token behaviour expectation and helpfulness themselves are
``steerbounds.theory.behaviour_expectation`` and ``steerbounds.theory.helpfulness``;
this module combines them with what the theory needs from a model: the mass on
the behaviour tokens (A4), accuracy, the change ``δ`` of the final
representation, the A1 margin and the gap changes ``X_i`` (A2).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from steerbounds.theory import (
    as_float_array,
    behaviour_expectation,
    check_array,
    check_disjoint,
    check_token_ids,
    helpfulness,
    is_concrete,
)


class FirstTokenBehaviour(NamedTuple):
    """First-token behaviour (docs/theory.md#alignment) per prompt.

    >>> FirstTokenBehaviour._fields
    ('restricted', 'unrestricted', 'mass')
    """

    restricted: jax.Array  # B = (P+ - P-)/(P+ + P-)
    unrestricted: jax.Array  # B~ = P+ - P- = m B
    mass: jax.Array  # m = P+ + P-, the mass on the behaviour tokens (assumption A4)


def first_token_behaviour(logits, aligned_ids, misaligned_ids) -> FirstTokenBehaviour:
    """Restricted and unrestricted behaviour expectation and the behaviour-token mass, per prompt.

    ``logits`` has shape (..., V); ``aligned_ids`` is A+ (e.g. refusal
    openers), ``misaligned_ids`` is A- (compliance openers); docs/theory.md#alignment.

    Args:
        logits: next-token logits, shape (..., V).
        aligned_ids: A+ token ids.
        misaligned_ids: A- token ids.

    Returns:
        :class:`FirstTokenBehaviour`: restricted and unrestricted expectations and the mass, each of shape ``logits.shape[:-1]``.

    >>> import numpy as np
    >>> out = first_token_behaviour(np.log([[0.6, 0.2, 0.2]]), [0], [1])
    >>> [round(float(x[0]), 6) for x in out]
    [0.5, 0.4, 0.8]
    """
    logits_bv = as_float_array("logits", logits, min_ndim=1)
    restricted = behaviour_expectation(logits_bv, aligned_ids, misaligned_ids, restricted=True)
    unrestricted = behaviour_expectation(logits_bv, aligned_ids, misaligned_ids, restricted=False)
    both = np.concatenate([np.asarray(aligned_ids).reshape(-1), np.asarray(misaligned_ids).reshape(-1)])
    log_mass = jax.nn.logsumexp(logits_bv[..., both], axis=-1) - jax.nn.logsumexp(logits_bv, axis=-1)
    return FirstTokenBehaviour(restricted, unrestricted, jnp.exp(log_mass))


class MultipleChoice(NamedTuple):
    """Helpfulness on multiple-choice questions (docs/theory.md#helpfulness) per question.

    >>> MultipleChoice._fields
    ('p_full', 'p_restricted', 'correct_full', 'correct_restricted')
    """

    p_full: jax.Array  # P(correct) over the whole vocabulary (full helpfulness)
    p_restricted: jax.Array  # P(correct | one of the options) (restricted helpfulness)
    correct_full: jax.Array  # the correct token is the argmax over the whole vocabulary
    correct_restricted: jax.Array  # the correct token is the argmax over the options (mean: accuracy)


def multiple_choice(logits, correct_ids, option_ids) -> MultipleChoice:
    """P(correct) over the vocabulary and among the options, and whether the question is answered correctly.

    ``logits`` (..., V); ``correct_ids`` one id per question (broadcasting with
    the batch axes) and every one of them among ``option_ids`` (e.g. the
    tokens of A, B, C, D). Accuracy is ``correct_restricted.mean()``.

    Args:
        logits: next-token logits, shape (..., V).
        correct_ids: correct option id per question.
        option_ids: option token ids, k of them.

    Returns:
        :class:`MultipleChoice`: P(correct) full and restricted and correctness, each of shape ``logits.shape[:-1]``.

    >>> import numpy as np
    >>> mc = multiple_choice(np.log([[0.4, 0.3, 0.1, 0.2]]), [1], [0, 1])
    >>> round(float(mc.p_full[0]), 6), round(float(mc.p_restricted[0]), 6), bool(mc.correct_restricted[0])
    (0.3, 0.428571, False)
    """
    logits_bv = as_float_array("logits", logits, min_ndim=1)
    options = check_token_ids("option_ids", option_ids, logits_bv.shape[-1])
    if options.size < 2:
        raise ValueError("multiple_choice: option_ids needs at least two options.")
    correct = np.asarray(correct_ids)
    if not np.issubdtype(correct.dtype, np.integer):
        raise TypeError(f"multiple_choice: correct_ids must hold integer token ids, got dtype {correct.dtype}.")
    if not np.isin(correct, options).all():
        raise ValueError(
            f"multiple_choice: correct_ids holds id {int(correct[~np.isin(correct, options)].reshape(-1)[0])}, not among "
            f"option_ids {options.tolist()}; the correct answer must be one of the options."
        )
    p_full = helpfulness(logits_bv, correct, None)
    p_restricted = helpfulness(logits_bv, correct, options)
    correct_b = jnp.broadcast_to(jnp.asarray(correct), logits_bv.shape[:-1])
    correct_full = jnp.argmax(logits_bv, axis=-1) == correct_b
    restricted_argmax = jnp.asarray(options)[jnp.argmax(logits_bv[..., options], axis=-1)]
    return MultipleChoice(p_full, p_restricted, correct_full, restricted_argmax == correct_b)


def _scaled_norm(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(||x||, max|x|)`` over the last axis, without underflow for tiny vectors."""
    scale = jnp.max(jnp.abs(x), axis=-1)
    safe = jnp.where(scale > 0, scale, 1.0)
    return scale * jnp.linalg.norm(x / safe[..., None], axis=-1), scale


class RepresentationChange(NamedTuple):
    """``δ_c = h_c - h`` and ``r = ||δ_c||`` (docs/theory.md#setting).

    >>> RepresentationChange._fields
    ('delta_cbd', 'norm_cb')
    """

    delta_cbd: jax.Array  # the change of the final representation
    norm_cb: jax.Array  # its Euclidean norm r


def representation_change(h_cbd, h0_bd) -> RepresentationChange:
    """The change of the final representation under steering, per coefficient and prompt.

    ``h_cbd`` holds the steered final representations (coefficient axis first),
    ``h0_bd`` the unsteered ones. Assumption A3 (linear response) expects
    ``norm_cb ≈ κ |c|``.

    Args:
        h_cbd: steered final representations, shape (c, b, d).
        h0_bd: unsteered ones, shape (b, d).

    Returns:
        :class:`RepresentationChange`: ``delta_cbd`` (c, b, d) and ``norm_cb`` (c, b).

    >>> import numpy as np
    >>> rc = representation_change(np.array([[[3.0, 4.0]], [[0.0, 0.0]]]), np.zeros((1, 2)))
    >>> rc.norm_cb.tolist()
    [[5.0], [0.0]]
    """
    h_cbd = as_float_array("h_cbd", h_cbd, min_ndim=3)
    h0_bd = as_float_array("h0_bd", h0_bd, min_ndim=2)
    if h_cbd.shape[1:] != h0_bd.shape:
        raise ValueError(f"representation_change: h_cbd {h_cbd.shape} and h0_bd {h0_bd.shape} must agree on (b, d).")
    delta = h_cbd - h0_bd[None]
    return RepresentationChange(delta, _scaled_norm(delta)[0])


class A1Margin(NamedTuple):
    """The A1 margin per coefficient and prompt, and where it is defined.

    >>> A1Margin._fields
    ('margin_cb', 'defined_cb')
    """

    margin_cb: jax.Array  # Δ = min_{a∈A+} <δ̂, u_a> - max_{b∈A-} <δ̂, u_b>; 0.0 where undefined
    defined_cb: jax.Array  # False where δ = 0 (no direction, e.g. c = 0): exclude those entries


def a1_margin(delta_cbd, unembed_vd, aligned_ids, misaligned_ids) -> A1Margin:
    """Assumption A1's margin ``Δ = min_{a∈A+} <δ̂, u_a> − max_{b∈A−} <δ̂, u_b>`` (docs/theory.md#alignment).

    ``delta_cbd`` (..., d) are changes of the final representation,
    ``unembed_vd`` the unembedding rows ``u_t``. Where ``δ = 0`` the direction
    ``δ̂`` does not exist: ``defined_cb`` is False there and the margin is
    reported as 0.0 (never NaN); XLA flushes subnormal numbers to zero, so a
    ``δ`` made only of subnormals counts as zero. T1 applies where the margin
    is positive.

    Args:
        delta_cbd: changes of the final representation, shape (..., d).
        unembed_vd: unembedding rows ``u_t``, shape (V, d).
        aligned_ids: token ids of A+.
        misaligned_ids: token ids of A-.

    Returns:
        :class:`A1Margin` with ``margin_cb`` and ``defined_cb`` of shape ``delta_cbd.shape[:-1]``.

    >>> import numpy as np
    >>> u = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> m = a1_margin(np.array([[2.0, 0.0], [0.0, 0.0]]), u, [0], [1, 2])
    >>> m.margin_cb.tolist(), m.defined_cb.tolist()
    ([1.0, 0.0], [True, False])
    """
    delta = as_float_array("delta_cbd", delta_cbd, min_ndim=1)
    unembed = as_float_array("unembed_vd", unembed_vd, min_ndim=2)
    if unembed.ndim != 2 or unembed.shape[1] != delta.shape[-1]:
        raise ValueError(f"a1_margin: unembed_vd {unembed.shape} must be (V, d) with d = {delta.shape[-1]} "
                         "(the last axis of delta_cbd).")
    plus = check_token_ids("aligned_ids", aligned_ids, unembed.shape[0])
    minus = check_token_ids("misaligned_ids", misaligned_ids, unembed.shape[0])
    check_disjoint("aligned_ids", plus, "misaligned_ids", minus)
    _, scale = _scaled_norm(delta)
    defined = scale > 0
    scaled = delta / jnp.where(defined, scale, 1.0)[..., None]  # no underflow for tiny δ
    unit = scaled / jnp.where(defined, jnp.linalg.norm(scaled, axis=-1), 1.0)[..., None]
    proj_plus = unit @ unembed[plus].T
    proj_minus = unit @ unembed[minus].T
    margin = jnp.min(proj_plus, axis=-1) - jnp.max(proj_minus, axis=-1)
    return A1Margin(jnp.where(defined, margin, 0.0), defined)


def gap_changes(delta_cbd, unembed_vd, correct_ids, competitor_ids=None) -> jax.Array:
    """Gap changes ``X_i = <δ, u_i − u_*>`` of docs/theory.md#helpfulness (assumption A2), per coefficient and prompt.

    ``delta_cbd`` (..., d); ``correct_ids`` the correct token per prompt
    (broadcasting with ``delta_cbd.shape[:-1]``); ``competitor_ids`` the
    competitor tokens (e.g. the options; the correct one, where listed, is
    left out), or None for every other token of the vocabulary. The result has
    shape (..., k) with competitors in the order given.

    Args:
        delta_cbd: changes of the final representation, shape (..., d).
        unembed_vd: unembedding rows, shape (V, d).
        correct_ids: correct token per prompt, broadcasting with ``delta_cbd.shape[:-1]``.
        competitor_ids: k competitor ids, or None for the whole vocabulary.

    Returns:
        ``X``, shape ``delta_cbd.shape[:-1] + (k,)`` (k = V - 1 without competitors).

    >>> import numpy as np
    >>> u = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> gap_changes(np.array([[1.0, 2.0]]), u, [0], [0, 1, 2]).tolist()
    [[1.0, 2.0]]
    """
    delta = as_float_array("delta_cbd", delta_cbd, min_ndim=1)
    unembed = as_float_array("unembed_vd", unembed_vd, min_ndim=2)
    vocab = unembed.shape[0]
    if unembed.ndim != 2 or unembed.shape[1] != delta.shape[-1]:
        raise ValueError(f"gap_changes: unembed_vd {unembed.shape} must be (V, d) with d = {delta.shape[-1]}.")
    correct = np.asarray(correct_ids)
    if not np.issubdtype(correct.dtype, np.integer):
        raise TypeError(f"gap_changes: correct_ids must hold integer token ids, got dtype {correct.dtype}.")
    if ((correct < 0) | (correct >= vocab)).any():
        raise ValueError(f"gap_changes: correct_ids holds ids outside the vocabulary [0, {vocab}).")
    try:
        correct = np.broadcast_to(correct, delta.shape[:-1])
    except ValueError:
        raise ValueError(f"gap_changes: correct_ids {np.shape(correct_ids)} does not broadcast with the batch "
                         f"axes {delta.shape[:-1]} of delta_cbd.") from None
    comps = np.arange(vocab) if competitor_ids is None else check_token_ids("competitor_ids", competitor_ids, vocab)
    listed = np.isin(correct, comps)
    if listed.any() and not listed.all():
        raise ValueError("gap_changes: the correct id is among competitor_ids for some prompts but not others; "
                         "list the same kind of competitor set for every prompt.")
    k = comps.size - int(listed.all())
    if k < 1:
        raise ValueError("gap_changes: no competitor other than the correct token.")
    correct_j = jnp.asarray(correct, jnp.int32)
    comps_j = jnp.asarray(comps, jnp.int32)
    scores = delta @ unembed.T  # <δ, u_t> for every token
    star = jnp.take_along_axis(scores, correct_j[..., None], axis=-1)
    comps_bk = jnp.reshape(comps_j, (1,) * correct_j.ndim + (-1,))
    order = jnp.argsort(comps_bk == correct_j[..., None], axis=-1, stable=True)[..., :k]
    idx = comps_j[order]
    return jnp.take_along_axis(scores, idx, axis=-1) - star


def _check_scores(scores: np.ndarray) -> np.ndarray:
    bad = ~np.isin(scores, (-1, 0, 1))
    if bad.any():
        raise ValueError(f"sequence_behaviour: the scorer returned {scores[bad].reshape(-1)[0]!r}; "
                         "it must return -1 (misaligned), 0 (neutral) or +1 (aligned).")
    return scores


class SequenceBehaviour(NamedTuple):
    """Monte-Carlo sequence-level behaviour expectation with standard errors (docs/theory.md#alignment).

    >>> SequenceBehaviour._fields
    ('mean', 'stderr', 'mean_b', 'stderr_b', 'scores_bs')
    """

    mean: float  # average over prompts of the per-prompt estimates of B_P(q)
    stderr: float  # its standard error (prompts fixed, sampling noise only)
    mean_b: np.ndarray  # per-prompt estimate of B_P(q)
    stderr_b: np.ndarray  # per-prompt standard error (sample std, ddof=1, over sqrt(n_samples))
    scores_bs: np.ndarray  # every score, (prompts, samples)


def summarize_scores(scores_bs) -> SequenceBehaviour:
    """Means and standard errors of scorer outputs in {-1, 0, +1}, shape (prompts, samples >= 2).

    Args:
        scores_bs: scores in {-1, 0, +1}, shape (b, s), s >= 2.

    Returns:
        :class:`SequenceBehaviour`.

    >>> s = summarize_scores([[1, 1, -1, 1], [0, 0, 0, 0]])
    >>> s.mean_b.tolist(), round(s.mean, 3), round(s.stderr, 3)
    ([0.5, 0.0], 0.25, 0.25)
    """
    scores = check_array("summarize_scores", "scores_bs", scores_bs, finite=False, host=True).astype(np.float64)
    if not np.isin(scores, (-1.0, 0.0, 1.0)).all():
        raise ValueError(f"summarize_scores: scores_bs must hold +1 (aligned), 0 (neutral) or -1 (misaligned), "
                         f"found {float(scores[~np.isin(scores, (-1.0, 0.0, 1.0))][0])!r}")
    if scores.ndim != 2 or scores.shape[1] < 2 or scores.shape[0] < 1:
        raise ValueError(f"summarize_scores: scores_bs must be (prompts, samples) with >= 2 samples, got {scores.shape}; "
                         "a standard error needs at least two samples per prompt.")
    _check_scores(scores)
    s = scores.shape[1]
    mean_b = scores.mean(axis=1)
    stderr_b = scores.std(axis=1, ddof=1) / np.sqrt(s)
    return SequenceBehaviour(
        float(mean_b.mean()), float(np.sqrt(np.sum(stderr_b**2)) / scores.shape[0]), mean_b, stderr_b, scores
    )
