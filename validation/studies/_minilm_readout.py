"""Measure the MiniLM-L6 readout: temperature, helpfulness, behaviour, and a steering sweep.

The encoder's softmax readout (``steerbounds.numerics.option_logits`` and
``behaviour_logits``) needs one number, the temperature ``tau``; this module
chooses it on the tuning half of the multiple-choice questions, scores the
held-out half, evaluates the behaviour readout on the instruction pairs, and
injects a contrast-pair steering direction at a middle band of blocks to see
whether the behaviour expectation moves (docs/theory.md #setting, #alignment, #helpfulness).

The steering directions are built the way docs/theory.md#setting describes, with the
encoder's sentence representation (the mean-pooled residual stream,
``pooled_layer_states``) in place of a last-token state: at each block of the
band, ``contrast_vectors`` takes the first principal direction of the pair
differences, the harmful instruction as the aligned member (the one that should
elicit a refusal), so ``c > 0`` moves a representation from the harmless towards
the harmful side. Directions are extracted on the even-numbered pairs and
measured on the odd ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from steerbounds.numerics import (
    TextEncoder,
    behaviour_logits,
    choose_tau,
    contrast_vectors,
    embed_texts,
    log_softmax,
    option_logits,
    pooled_layer_states,
    steered_embed_texts,
)
from steerbounds.theory import behaviour_expectation

from ._text_data import (
    InstructionPair,
    MCQuestion,
    ResponseSets,
    load_instruction_pairs,
    load_mc_questions,
    load_response_sets,
    split_mc_questions,
)

DEFAULT_BAND = (2, 3)
DEFAULT_COEFFICIENTS = (-8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


@dataclasses.dataclass(frozen=True)
class MiniLMReadoutReport:
    """The numbers that characterise the MiniLM readout (see ``measure_minilm_readout``).

    >>> [f.name for f in dataclasses.fields(MiniLMReadoutReport)][:3]
    ['tau', 'n_tune', 'n_held_out']
    """

    tau: float  # temperature chosen on the tuning questions
    n_tune: int  # questions used to choose tau
    n_held_out: int  # questions scored
    held_out_accuracy: float  # fraction of held-out questions whose correct option has the top logit
    held_out_p_correct: tuple[float, float]  # mean P(correct among 4) and its standard error
    per_subject: dict[str, dict[str, float]]  # held-out accuracy and mean P(correct) per subject
    behaviour_harmful: tuple[float, float]  # mean base B on harmful instructions, standard error
    behaviour_harmless: tuple[float, float]  # mean base B on harmless instructions, standard error
    pairs_harmful_higher: float  # fraction of pairs whose harmful instruction has the larger B
    band: tuple[int, ...]  # blocks the steering vectors are injected after
    direction_separation: tuple[float, ...]  # per band block: share of extraction pairs with <v, harmful - harmless> > 0
    direction_explained: tuple[float, ...]  # per band block: share of the pair differences' second moment along v
    coefficients: tuple[float, ...]  # steering coefficients c
    steered_behaviour_harmful: tuple[float, ...]  # mean B on held-out harmful instructions per c
    steered_behaviour_harmless: tuple[float, ...]  # mean B on held-out harmless instructions per c
    steered_p_correct: tuple[float, ...]  # mean P(correct) on held-out questions per c
    steered_delta_norm: tuple[float, ...]  # mean ||h_c(q) − h_0(q)|| over the steered instructions per c

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field.

        >>> import json
        >>> r = MiniLMReadoutReport(1.0, 1, 1, 1.0, (0.5, 0.1), {}, (0, 0), (0, 0), 0.5, (2,), (1.0,), (0.5,),
        ...                         (0.0,), (0.0,), (0.0,), (0.5,), (0.0,))
        >>> json.loads(json.dumps(r.as_dict()))["tau"]
        1.0
        """
        return dataclasses.asdict(self)


def _options(encoder: TextEncoder, questions: Sequence[Any]) -> np.ndarray:
    texts = [o for q in questions for o in q.options]
    return np.asarray(embed_texts(encoder, texts)).reshape(len(questions), 4, -1)


def measure_minilm_readout(
    encoder: TextEncoder,
    *,
    band: Sequence[int] = DEFAULT_BAND,
    coefficients: Sequence[float] = DEFAULT_COEFFICIENTS,
    questions: Sequence[MCQuestion] | None = None,
    pairs: Sequence[InstructionPair] | None = None,
    responses: ResponseSets | None = None,
) -> MiniLMReadoutReport:
    """Choose ``tau``, score helpfulness and behaviour, and sweep a contrast-pair steering vector.

    ``questions``, ``pairs`` and ``responses`` default to the packaged data
    (``load_mc_questions``, ``load_instruction_pairs``, ``load_response_sets``);
    the questions are split by ``split_mc_questions`` and the pairs into
    even (direction) and odd (measured) halves, so at least 2 pairs are needed.
    Deterministic: no sampling anywhere.

    >>> from steerbounds.numerics import load_encoder
    >>> from steerbounds.validation.studies import load_instruction_pairs, load_mc_questions
    >>> try:
    ...     report = measure_minilm_readout(load_encoder(), coefficients=(0.0, 1.0),
    ...                                     questions=load_mc_questions()[::6], pairs=load_instruction_pairs()[:6])
    ... except ImportError:
    ...     print(True)
    ... else:
    ...     print(report.tau > 0)
    True
    """
    questions = load_mc_questions() if questions is None else tuple(questions)
    tune, held = split_mc_questions(questions)
    pairs = load_instruction_pairs() if pairs is None else tuple(pairs)
    if len(pairs) < 2:
        raise ValueError(f"pairs needs at least 2 instruction pairs (one to extract, one to measure), got {len(pairs)}")
    responses = load_response_sets() if responses is None else responses

    q_tune = np.asarray(embed_texts(encoder, [q.question for q in tune]))
    choice = choose_tau(q_tune, _options(encoder, tune), np.array([q.answer for q in tune]))
    tau = choice.tau

    opts_held = _options(encoder, held)
    correct = np.array([q.answer for q in held])
    q_held = np.asarray(embed_texts(encoder, [q.question for q in held]))
    logits = np.asarray(option_logits(q_held, opts_held, tau=tau), np.float64)
    p_correct = np.exp(np.take_along_axis(log_softmax(logits), correct[:, None], axis=1)[:, 0])
    hit = logits.argmax(axis=1) == correct
    per_subject = {}
    for subject in sorted({q.subject for q in held}):
        idx = np.array([q.subject == subject for q in held])
        per_subject[subject] = {"n": int(idx.sum()), "accuracy": float(hit[idx].mean()), "p_correct": float(p_correct[idx].mean())}

    refusal = np.asarray(embed_texts(encoder, list(responses.refusal)))
    compliance = np.asarray(embed_texts(encoder, list(responses.compliance)))

    def behaviour(h_bd: np.ndarray) -> np.ndarray:
        r = behaviour_logits(h_bd, refusal, compliance, tau=tau)
        return np.asarray(behaviour_expectation(r.logits_bv, r.plus_v, r.minus_v), np.float64)

    harmful_texts = [p.harmful for p in pairs]
    harmless_texts = [p.harmless for p in pairs]
    b_harmful = behaviour(np.asarray(embed_texts(encoder, harmful_texts)))
    b_harmless = behaviour(np.asarray(embed_texts(encoder, harmless_texts)))

    band = tuple(int(i) for i in band)
    pooled_harmful = np.asarray(pooled_layer_states(encoder, harmful_texts[0::2]))[list(band)]
    pooled_harmless = np.asarray(pooled_layer_states(encoder, harmless_texts[0::2]))[list(band)]
    vectors = contrast_vectors(pooled_harmful, pooled_harmless, layers=band, method="pca")

    test_texts = harmful_texts[1::2] + harmless_texts[1::2]
    n_test = len(harmful_texts[1::2])
    coeffs = tuple(float(c) for c in coefficients)
    steer = dict(steering=vectors.steering(encoder.config, band), coefficients_c=coeffs)
    h_cbd = np.asarray(steered_embed_texts(encoder, test_texts, **steer))
    h0_bd = np.asarray(embed_texts(encoder, test_texts))
    q_cbd = np.asarray(steered_embed_texts(encoder, [q.question for q in held], **steer))
    steered_harmful, steered_harmless, steered_p, delta = [], [], [], []
    for j in range(len(coeffs)):
        b = behaviour(h_cbd[j])
        steered_harmful.append(float(b[:n_test].mean()))
        steered_harmless.append(float(b[n_test:].mean()))
        lg = np.asarray(option_logits(q_cbd[j], opts_held, tau=tau), np.float64)
        steered_p.append(float(np.exp(np.take_along_axis(log_softmax(lg), correct[:, None], axis=1)[:, 0]).mean()))
        delta.append(float(np.linalg.norm(h_cbd[j] - h0_bd, axis=1).mean()))

    return MiniLMReadoutReport(
        tau=tau,
        n_tune=len(tune),
        n_held_out=len(held),
        held_out_accuracy=float(hit.mean()),
        held_out_p_correct=_mean_se(p_correct),
        per_subject=per_subject,
        behaviour_harmful=_mean_se(b_harmful),
        behaviour_harmless=_mean_se(b_harmless),
        pairs_harmful_higher=float(np.mean(b_harmful > b_harmless)),
        band=band,
        direction_separation=tuple(float(x) for x in vectors.separation_l),
        direction_explained=tuple(float(x) for x in vectors.explained_l),
        coefficients=coeffs,
        steered_behaviour_harmful=tuple(steered_harmful),
        steered_behaviour_harmless=tuple(steered_harmless),
        steered_p_correct=tuple(steered_p),
        steered_delta_norm=tuple(delta),
    )
