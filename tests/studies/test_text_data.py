"""The packaged text data: counts, validity, and the loaders' errors on malformed files."""

from __future__ import annotations

import collections
import json

import pytest

from steerbounds.validation.studies import load_instruction_pairs, load_mc_questions, load_response_sets, split_mc_questions

SUBJECTS = {"computer_science", "international_law", "medical_genetics", "general_science"}


def test_instruction_pairs():
    pairs = load_instruction_pairs()
    assert len(pairs) >= 150
    texts = [t.casefold() for p in pairs for t in p]
    assert len(set(texts)) == len(texts)
    for p in pairs:
        # Matched form: the two members share their opening word (same kind of request).
        assert p.harmful.split()[0] == p.harmless.split()[0], p


def test_mc_questions():
    questions = load_mc_questions()
    assert len(questions) >= 150
    counts = collections.Counter(q.subject for q in questions)
    assert set(counts) == SUBJECTS and min(counts.values()) >= 35
    assert len({q.question.casefold() for q in questions}) == len(questions)
    for q in questions:
        assert len(q.options) == 4 and len(set(q.options)) == 4 and 0 <= q.answer < 4
    # The correct option is spread over the four positions (no position bias to exploit).
    positions = collections.Counter(q.answer for q in questions)
    assert min(positions.values()) >= len(questions) // 5


def test_response_sets():
    sets = load_response_sets()
    assert 10 <= len(sets.refusal) <= 20 and 10 <= len(sets.compliance) <= 20
    assert not set(sets.refusal) & set(sets.compliance)


def test_split_is_deterministic_balanced_and_disjoint():
    questions = load_mc_questions()
    tune, held = split_mc_questions(questions)
    assert (tune, held) == split_mc_questions(questions)
    assert len(tune) + len(held) == len(questions) and not set(tune) & set(held)
    for subject in SUBJECTS:
        n_tune = sum(q.subject == subject for q in tune)
        n_held = sum(q.subject == subject for q in held)
        assert abs(n_tune - n_held) <= 1
    with pytest.raises(ValueError, match="questions is empty"):
        split_mc_questions([])
    with pytest.raises(ValueError, match="held-out split would be empty"):
        split_mc_questions(questions[:1])


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


GOOD_Q = {"subject": "s", "question": "Q?", "options": ["a", "b", "c", "d"], "answer": 2}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**GOOD_Q, "options": ["a", "b", "c"]}, "must be a list of 4 strings"),
        ({**GOOD_Q, "options": ["a", "b", "c", "A"]}, "must be distinct"),
        ({**GOOD_Q, "answer": 4}, r"integer index 0..3, got 4"),
        ({**GOOD_Q, "answer": True}, r"integer index 0..3, got True"),
        ({**GOOD_Q, "answer": "2"}, r"integer index 0..3, got '2'"),
        ({**GOOD_Q, "question": "  "}, "'question' is empty or blank"),
        ({**GOOD_Q, "options": ["a", "b", 3, "d"]}, "option 2 must be a string"),
        ({**GOOD_Q, "subject": " s"}, "leading or trailing whitespace"),
        ({k: v for k, v in GOOD_Q.items() if k != "answer"}, "exactly the keys"),
        ({**GOOD_Q, "extra": 1}, "exactly the keys"),
    ],
)
def test_mc_loader_rejects_malformed_entries(tmp_path, entry, message):
    path = _write(tmp_path, "mc.json", {"questions": [GOOD_Q | {"question": "Other?"}, entry]})
    with pytest.raises(ValueError, match=message) as info:
        load_mc_questions(path)
    assert "question 1" in str(info.value) and str(path) in str(info.value)


def test_mc_loader_rejects_duplicates_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="question 1 duplicates question 0"):
        load_mc_questions(_write(tmp_path, "dup.json", {"questions": [GOOD_Q, GOOD_Q | {"question": "q? "[:2]}]}))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_mc_questions(_write(tmp_path, "bad.json", "{"))
    with pytest.raises(ValueError, match="must be a JSON object with a 'questions' list"):
        load_mc_questions(_write(tmp_path, "list.json", [GOOD_Q]))
    with pytest.raises(ValueError, match="'questions' must be a non-empty list"):
        load_mc_questions(_write(tmp_path, "empty.json", {"questions": []}))
    with pytest.raises(FileNotFoundError, match="not found"):
        load_mc_questions(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([{"harmful": "Do x.", "harmless": "Do y.", "note": 1}], "exactly the keys"),
        ([{"harmful": "Do x.", "harmless": "do x."}], "same harmful and harmless text"),
        ([{"harmful": "", "harmless": "Do y."}], "'harmful' is empty or blank"),
        ([{"harmful": "Do x.", "harmless": None}], "'harmless' must be a string"),
        ([{"harmful": "Do x.", "harmless": "Do y."}, {"harmful": "Do  X.", "harmless": "Do z."}], "duplicates"),
        ([{"harmful": "Do x.", "harmless": "Do y."}, {"harmful": "Do y.", "harmless": "Do z."}], "duplicates"),
    ],
)
def test_pair_loader_rejects_malformed_entries(tmp_path, pairs, message):
    with pytest.raises(ValueError, match=message):
        load_instruction_pairs(_write(tmp_path, "pairs.json", {"pairs": pairs}))


def test_response_loader_rejects_malformed_files(tmp_path):
    with pytest.raises(ValueError, match="'compliance' list"):
        load_response_sets(_write(tmp_path, "r1.json", {"refusal": ["No."]}))
    with pytest.raises(ValueError, match="'refusal' must be a non-empty list"):
        load_response_sets(_write(tmp_path, "r2.json", {"refusal": [], "compliance": ["Sure."]}))
    with pytest.raises(ValueError, match="duplicates"):
        load_response_sets(_write(tmp_path, "r3.json", {"refusal": ["Sure."], "compliance": ["sure."]}))
    with pytest.raises(ValueError, match="refusal sentence 0 must be a string"):
        load_response_sets(_write(tmp_path, "r4.json", {"refusal": [1], "compliance": ["Sure."]}))
    custom = load_response_sets(_write(tmp_path, "ok.json", {"refusal": ["No."], "compliance": ["Sure."]}))
    assert custom.refusal == ("No.",) and custom.compliance == ("Sure.",)
