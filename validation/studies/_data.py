"""The texts a study runs on (:class:`StudyData`) and the project's defaults for each kind of model.

A study needs contrast pairs for the steering vector, behaviour prompts,
four-option questions, and the response openings that define ``A+`` (refusals)
and ``A-`` (compliances) (docs/theory.md #setting, #alignment, #helpfulness). The defaults are written for
this project (``data/``, and the toy world's own prompts); a researcher's files
come in through ``_user_data``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from ._text_data import MCQuestion, load_instruction_pairs, load_mc_questions, load_response_sets


@dataclasses.dataclass(frozen=True)
class StudyData:
    """The texts of one study.

    * ``aligned_prompts[i]`` / ``misaligned_prompts[i]``: contrast pair ``i``
      (e.g. a harmful instruction, where a refusal is the aligned answer, and a
      harmless one); the steering vector points from the misaligned side to the
      aligned side;
    * ``behaviour_prompts``: the prompts of the behaviour sweep;
    * ``questions``: the helpfulness sweep's four-option questions
      (``tuning_questions``: extra questions a readout may calibrate on);
    * ``refusals`` / ``compliances``: response openings of ``A+`` / ``A-``;
      ``aligned_tokens`` / ``misaligned_tokens`` name the first-token sets
      directly (``None``: the first tokens of the refusals / compliances);
    * ``metadata``: where the texts came from, recorded in every bundle.

    >>> data = StudyData(("How do I pick a lock?",), ("How do I fit a lock?",), ("How do I pick a lock?",),
    ...                  (MCQuestion("", "2 + 2 =", ("3", "4", "5", "6"), 1),), ("Sorry",), ("Sure",))
    >>> len(data.digest())
    64
    """

    aligned_prompts: tuple[str, ...]
    misaligned_prompts: tuple[str, ...]
    behaviour_prompts: tuple[str, ...]
    questions: tuple[MCQuestion, ...]
    refusals: tuple[str, ...]
    compliances: tuple[str, ...]
    tuning_questions: tuple[MCQuestion, ...] = ()
    aligned_tokens: tuple[str, ...] | None = None
    misaligned_tokens: tuple[str, ...] | None = None
    class_names: tuple[str, str] = ("harmful (refusal is aligned)", "harmless twin")
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("behaviour_prompts", "questions", "refusals", "compliances"):
            if len(getattr(self, name)) == 0:
                raise ValueError(f"StudyData.{name} is empty; a study needs at least one")
        for name in ("aligned_tokens", "misaligned_tokens"):
            value = getattr(self, name)
            if value is not None and len(value) == 0:
                raise ValueError(f"StudyData.{name} is empty; give at least one token, or None for the defaults")
        for q in (*self.questions, *self.tuning_questions):
            if len(q.options) != 4 or not 0 <= q.answer < 4:
                raise ValueError(f"StudyData: question {q.question!r} needs 4 options and an answer index 0..3")

    def digest(self) -> str:
        """SHA-256 of every text, answer and token string (part of the resume fingerprint)."""
        h = hashlib.sha256()
        for f in dataclasses.fields(self):
            if f.name != "metadata":
                h.update(f"{f.name}|{getattr(self, f.name)!r}\n".encode())
        return h.hexdigest()


def toy_data(world: Any) -> StudyData:
    """The toy world's study (docs/theory.md#paper, in kind): its own prompts, held out from training where measured.

    Contrast pairs: the (harmful, harmless) instruction pairs on training
    slots. Behaviour: the held-out harmful instructions. Helpfulness: the
    held-out four-option questions. ``A+`` / ``A-``: the world's refusal and
    compliance openers.

    >>> from steerbounds.numerics import load_toy_model
    >>> data = toy_data(load_toy_model().world)
    >>> len(data.aligned_prompts), len(data.behaviour_prompts), len(data.questions)
    (288, 96, 224)
    """
    harmful, harmless = (tuple(x) for x in zip(*world.contrast_pairs))
    letters = "ABCD"
    questions = []
    for q in world.heldout_mc_questions:
        shown = " ".join(f"{letter} {value}" for letter, value in zip(letters, q.options))
        suffix = f" {shown} answer :"
        if not q.prompt.endswith(suffix):
            raise ValueError(f"toy question {q.prompt!r} does not end with its options and 'answer :'")
        questions.append(MCQuestion(q.attribute, q.prompt[: -len(suffix)], tuple(q.options), letters.index(q.answer)))
    return StudyData(harmful, harmless, tuple(world.heldout_harmful_prompts), tuple(questions),
                     tuple(world.refusals), tuple(world.compliances))


def packaged_data() -> StudyData:
    """The project's own data for a language model: even-numbered pairs steer, odd-numbered harmful ones are measured.

    Contrast pairs: the even-numbered instruction pairs of ``data/``; behaviour:
    the harmful members of the odd-numbered ones (never used for the vector);
    questions: every packaged question; ``A+`` / ``A-``: the first tokens of the
    packaged refusal and compliance sentences.

    >>> data = packaged_data()
    >>> len(data.aligned_prompts), len(data.behaviour_prompts), len(data.questions)
    (79, 79, 171)
    """
    pairs, responses = load_instruction_pairs(), load_response_sets()
    return StudyData(tuple(p.harmful for p in pairs[0::2]), tuple(p.harmless for p in pairs[0::2]),
                     tuple(p.harmful for p in pairs[1::2]), load_mc_questions(), responses.refusal,
                     responses.compliance, metadata={"data": "steerbounds packaged data (validation/studies/data)"})
