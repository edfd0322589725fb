"""The MiniLM study's data and defaults: all-MiniLM-L6-v2 with its softmax readout (docs/minilm.md).

``steerbounds reproduce --model minilm`` runs :func:`run_study` on the encoder
adapter ``steerbounds.numerics.ReadoutStudyModel`` with the data and the
configuration of this module, then the same analysis as ``steerbounds analyze``.
The readout (docs/minilm.md):
a candidate answer ``k`` is embedded (unsteered) to a unit vector ``e_k`` and
``u_k = tau * e_k`` is its unembedding row, so ``z_k = <u_k, h>`` with ``h`` the
sentence embedding of the prompt or question.

* **Readout temperature**: ``tau`` from ``choose_tau`` on the tuning half of the
  multiple-choice questions (``split_mc_questions``); the held-out half is the
  helpfulness sweep.
* **Steering vector** (docs/theory.md#setting): ``contrast_vectors`` (first
  principal direction, harmful member aligned) on the mean-pooled residual
  stream of the even-numbered instruction pairs, one direction per steered
  block; ``c > 0`` moves a representation towards the harmful side, where a
  refusal is the aligned answer.
* **Conditions**: ``mid_layers`` injects ``c v_l`` after every block ``l`` of
  the middle band (default blocks 2 and 3 of 6, ``default_layers(6)``) at every
  token, and reads ``delta`` off the normalised sentence embedding;
  ``final_representation`` adds ``c v`` (the direction read off ``h`` itself) to
  ``h``, the theory's own setting (``delta = c v``, exactly linear, no forward
  pass per coefficient).
* **Behaviour**: the harmful members of the odd-numbered pairs; the candidates
  are the refusal sentences (``A+``) and the compliance sentences (``A-``) of
  ``load_response_sets``, which carry all the probability (``P+ + P- = 1``).
* **Helpfulness**: each held-out question's own four options; the option rows
  differ per question, so the bundle stores them per question
  (``HelpfulnessSweep.unembed_qod``, bundle format version 2). The candidate set
  is the whole "vocabulary": full and restricted P(correct) coincide.
* **Grid**: ``|c| <= 4`` step 0.2 for both sweeps. ``h`` lies on the unit
  sphere, so ``||delta|| <= 2`` whatever ``c`` is; at ``|c| = 4`` the mean
  ``||delta||`` is about 1, a rotation of about 60 degrees, and beyond it the
  steered embedding is closer to other sentences than to the one it came from.

Each finished chunk of coefficients is saved at once (``SweepStore``); an
interrupted run resumes, and a run with another configuration, data or model
refuses to mix with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from ._data import StudyData
from ._study import StudyConfig, default_layers
from ._text_data import (
    InstructionPair,
    MCQuestion,
    ResponseSets,
    load_instruction_pairs,
    load_mc_questions,
    load_response_sets,
    split_mc_questions,
)

MINILM_GRID = (-4.0, 4.0, 0.2)  # |c| <= 4: mean ||delta|| up to about 1 (a 60 degree turn on the unit sphere)
MINILM_CHUNK = 7  # 41 coefficients in 6 chunks of 7 (the last padded by one)


def minilm_study_config(**changes: Any) -> StudyConfig:
    """The MiniLM study's defaults: both grids ``-4..4`` step 0.2, blocks 2 and 3, chunks of 7; ``changes`` override.

    >>> cfg = minilm_study_config()
    >>> cfg.behaviour_coefficients().size, cfg.layers, minilm_study_config(seed=3).seed
    (41, (2, 3), 3)
    """
    base = StudyConfig(behaviour_grid=MINILM_GRID, helpfulness_grid=MINILM_GRID, layers=default_layers(6),
                       chunk_size=MINILM_CHUNK)
    return dataclasses.replace(base, **changes)


@dataclasses.dataclass(frozen=True)
class MiniLMStudyData:
    """The texts of the MiniLM study: contrast pairs, questions and the two response sets.

    Even-numbered pairs give the steering direction, the harmful members of the
    odd-numbered ones are the behaviour prompts; the questions are split by
    :func:`split_mc_questions` into tuning (``tau``) and held-out (helpfulness).

    >>> data = MiniLMStudyData.packaged()
    >>> len(data.extraction_pairs()), len(data.behaviour_prompts()), len(data.held_out_questions())
    (79, 79, 85)
    >>> len(data.subset(pairs=10, questions=20).behaviour_prompts())
    5
    """

    pairs: tuple[InstructionPair, ...]  # harmful/harmless instruction pairs
    questions: tuple[MCQuestion, ...]  # four-option questions (tuning and held-out halves)
    responses: ResponseSets  # refusal (A+) and compliance (A-) sentences

    def __post_init__(self) -> None:
        if len(self.pairs) < 4:
            raise ValueError(f"MiniLMStudyData.pairs: {len(self.pairs)} pairs; need at least 4 (even pairs give the "
                             "direction, odd pairs are the behaviour prompts)")
        if len(self.questions) < 8:
            raise ValueError(f"MiniLMStudyData.questions: {len(self.questions)} questions; need at least 8 (half "
                             "choose tau, half are measured)")
        if not self.responses.refusal or not self.responses.compliance:
            raise ValueError("MiniLMStudyData.responses: both response sets must be non-empty")

    @classmethod
    def packaged(cls) -> "MiniLMStudyData":
        """The packaged data of ``validation/data`` (158 pairs, 171 questions, 16 + 16 responses)."""
        return cls(load_instruction_pairs(), load_mc_questions(), load_response_sets())

    def subset(self, *, pairs: int, questions: int) -> "MiniLMStudyData":
        """The first ``pairs`` pairs and every ``len/questions``-th question (all subjects keep a share)."""
        step = max(1, len(self.questions) // questions)
        return MiniLMStudyData(self.pairs[:pairs], self.questions[::step][:questions], self.responses)

    def extraction_pairs(self) -> tuple[InstructionPair, ...]:
        """The pairs the steering direction is read from (even positions)."""
        return self.pairs[0::2]

    def behaviour_prompts(self) -> tuple[str, ...]:
        """The behaviour sweep's prompts: harmful members of the odd-positioned pairs."""
        return tuple(p.harmful for p in self.pairs[1::2])

    def tuning_questions(self) -> tuple[MCQuestion, ...]:
        """Questions that choose ``tau``."""
        return split_mc_questions(self.questions)[0]

    def held_out_questions(self) -> tuple[MCQuestion, ...]:
        """Questions of the helpfulness sweep."""
        return split_mc_questions(self.questions)[1]

    def digest(self) -> str:
        """SHA-256 of every text and answer (part of the resume fingerprint)."""
        h = hashlib.sha256()
        for p in self.pairs:
            h.update(f"pair|{p.harmful}|{p.harmless}\n".encode())
        for q in self.questions:
            h.update(f"question|{q.subject}|{q.question}|{'|'.join(q.options)}|{q.answer}\n".encode())
        for side, texts in (("refusal", self.responses.refusal), ("compliance", self.responses.compliance)):
            for t in texts:
                h.update(f"{side}|{t}\n".encode())
        return h.hexdigest()

    def to_study_data(self) -> StudyData:
        """The texts as :class:`StudyData`: extraction pairs, behaviour prompts, held-out and tuning questions.

        >>> data = MiniLMStudyData.packaged().to_study_data()
        >>> len(data.aligned_prompts), len(data.questions), len(data.tuning_questions), len(data.refusals)
        (79, 85, 86, 16)
        """
        pairs = self.extraction_pairs()
        return StudyData(tuple(p.harmful for p in pairs), tuple(p.harmless for p in pairs), self.behaviour_prompts(),
                         self.held_out_questions(), self.responses.refusal, self.responses.compliance,
                         tuning_questions=self.tuning_questions(),
                         metadata={"data_sha256": self.digest(), "n_contrast_pairs_total": len(self.pairs),
                                   "n_questions_total": len(self.questions)})

