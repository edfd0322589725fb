"""The project's text data: instruction pairs, multiple-choice questions, response sets.

Three JSON files ship in ``validation/studies/data/`` (written for this project):

* ``instruction_pairs.json``: ``{"pairs": [{"harmful": str, "harmless": str}, ...]}``,
  matched instructions of the same form, one harmful and one benign (plain
  requests; none contains harmful content) -- contrast pairs for a steering
  direction and prompts for the behaviour readout (docs/theory.md #setting, #alignment);
* ``mc_questions.json``: ``{"questions": [{"subject", "question", "options"
  (4 distinct strings), "answer" (0-based index)}, ...]}`` -- helpfulness (§3);
* ``responses.json``: ``{"refusal": [str, ...], "compliance": [str, ...]}`` --
  the behaviour sets ``A+`` (refusals) and ``A−`` (compliance) (§2).

Each loader validates every entry and raises ``ValueError`` naming the file, the
entry and what is wrong; nothing is dropped or repaired.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

_DATA_PACKAGE = "steerbounds.validation.studies"


class InstructionPair(NamedTuple):
    """A harmful instruction and its benign counterpart of the same form.

    >>> InstructionPair("Explain how to pick a lock to enter a stranger's home.", "Explain how to fit a lock.").harmful[:7]
    'Explain'
    """

    harmful: str
    harmless: str


class MCQuestion(NamedTuple):
    """A multiple-choice question: ``options[answer]`` is the correct option.

    >>> q = MCQuestion("general_science", "Which planet is largest?", ("Mars", "Jupiter", "Venus", "Earth"), 1)
    >>> q.options[q.answer]
    'Jupiter'
    """

    subject: str
    question: str
    options: tuple[str, ...]
    answer: int


class ResponseSets(NamedTuple):
    """Refusal sentences (``A+``, aligned) and compliance sentences (``A−``, misaligned).

    >>> ResponseSets(("No, I can't help.",), ("Sure, here it is.",)).refusal
    ("No, I can't help.",)
    """

    refusal: tuple[str, ...]
    compliance: tuple[str, ...]


def _read(path: str | Path | None, name: str) -> tuple[Any, str]:
    if path is None:
        resource = importlib.resources.files(_DATA_PACKAGE) / "data" / name
        where = f"steerbounds/validation/studies/data/{name}"
        try:
            text = resource.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"{where} is missing from the installed package; reinstall steerbounds") from None
    else:
        where = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f"{where} not found")
        text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text), where
    except json.JSONDecodeError as err:
        raise ValueError(f"{where} is not valid JSON: {err}") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{where} is empty or blank")
    if value != value.strip():
        raise ValueError(f"{where} has leading or trailing whitespace: {value!r}")
    return value


def _entries(data: Any, key: str, where: str) -> list[Any]:
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"{where} must be a JSON object with a {key!r} list")
    entries = data[key]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{where}: {key!r} must be a non-empty list")
    return entries


def _no_duplicates(texts: Sequence[str], where: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        folded = " ".join(text.casefold().split())
        if folded in seen:
            raise ValueError(f"{where}: {what} {i} duplicates {what} {seen[folded]}: {text!r}")
        seen[folded] = i


def load_instruction_pairs(path: str | Path | None = None) -> tuple[InstructionPair, ...]:
    """The harmful/harmless instruction pairs (the packaged file, or ``path``).

    >>> pairs = load_instruction_pairs()
    >>> len(pairs) >= 150, pairs[0].harmful != pairs[0].harmless
    (True, True)
    """
    data, where = _read(path, "instruction_pairs.json")
    pairs = []
    for i, entry in enumerate(_entries(data, "pairs", where)):
        if not isinstance(entry, dict) or set(entry) != {"harmful", "harmless"}:
            raise ValueError(f"{where}: pair {i} must be an object with exactly the keys 'harmful' and 'harmless'")
        pair = InstructionPair(
            _text(entry["harmful"], f"{where}: pair {i} 'harmful'"),
            _text(entry["harmless"], f"{where}: pair {i} 'harmless'"),
        )
        if pair.harmful.casefold() == pair.harmless.casefold():
            raise ValueError(f"{where}: pair {i} has the same harmful and harmless text")
        pairs.append(pair)
    _no_duplicates([p.harmful for p in pairs], where, "harmful instruction of pair")
    _no_duplicates([p.harmless for p in pairs], where, "harmless instruction of pair")
    _no_duplicates([p.harmful for p in pairs] + [p.harmless for p in pairs], where, "instruction")
    return tuple(pairs)


def load_mc_questions(path: str | Path | None = None) -> tuple[MCQuestion, ...]:
    """The 4-option multiple-choice questions (the packaged file, or ``path``).

    Checks: 4 distinct non-blank options, an integer answer in 0..3, a non-blank
    subject, no duplicate questions (case and spacing ignored).

    >>> questions = load_mc_questions()
    >>> sorted({q.subject for q in questions})
    ['computer_science', 'general_science', 'international_law', 'medical_genetics']
    """
    data, where = _read(path, "mc_questions.json")
    questions = []
    for i, entry in enumerate(_entries(data, "questions", where)):
        at = f"{where}: question {i}"
        if not isinstance(entry, dict) or set(entry) != {"subject", "question", "options", "answer"}:
            raise ValueError(f"{at} must be an object with exactly the keys 'subject', 'question', 'options', 'answer'")
        options = entry["options"]
        if not isinstance(options, list) or len(options) != 4:
            raise ValueError(f"{at}: 'options' must be a list of 4 strings, got {options!r}")
        options = tuple(_text(o, f"{at} option {j}") for j, o in enumerate(options))
        if len({" ".join(o.casefold().split()) for o in options}) != 4:
            raise ValueError(f"{at}: the 4 options must be distinct, got {list(options)}")
        answer = entry["answer"]
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < 4:
            raise ValueError(f"{at}: 'answer' must be an integer index 0..3, got {answer!r}")
        questions.append(
            MCQuestion(_text(entry["subject"], f"{at} 'subject'"), _text(entry["question"], f"{at} 'question'"), options, answer)
        )
    _no_duplicates([q.question for q in questions], where, "question")
    return tuple(questions)


def load_response_sets(path: str | Path | None = None) -> ResponseSets:
    """The refusal (``A+``) and compliance (``A−``) response sentences (the packaged file, or ``path``).

    >>> sets = load_response_sets()
    >>> len(sets.refusal) >= 10, len(sets.compliance) >= 10
    (True, True)
    """
    data, where = _read(path, "responses.json")
    sides = {}
    for key in ("refusal", "compliance"):
        entries = _entries(data, key, where)
        sides[key] = tuple(_text(s, f"{where}: {key} sentence {i}") for i, s in enumerate(entries))
    _no_duplicates(sides["refusal"] + sides["compliance"], where, "response sentence")
    return ResponseSets(sides["refusal"], sides["compliance"])


def split_mc_questions(questions: Sequence[MCQuestion]) -> tuple[tuple[MCQuestion, ...], tuple[MCQuestion, ...]]:
    """Deterministic tuning/evaluation split: within each subject, in file order, even positions tune.

    ``tau`` is chosen on the tuning half and scored on the held-out half, so the
    reported accuracy is not fitted to the questions it is measured on.

    >>> tune, held_out = split_mc_questions(load_mc_questions())
    >>> abs(len(tune) - len(held_out)) <= 4, not set(tune) & set(held_out)
    (True, True)
    """
    if len(questions) == 0:
        raise ValueError("questions is empty; nothing to split")
    position: dict[str, int] = {}
    tune, held_out = [], []
    for q in questions:
        k = position.get(q.subject, 0)
        position[q.subject] = k + 1
        (tune if k % 2 == 0 else held_out).append(q)
    if not held_out:
        raise ValueError("every subject has a single question; the held-out split would be empty")
    return tuple(tune), tuple(held_out)
