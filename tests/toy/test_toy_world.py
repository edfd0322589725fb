"""The toy world: determinism, consistency of every answer with the stated facts, splits, serialisation."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steerbounds.numerics import MCQuestion, ToyWorld

WORLD = ToyWorld.generate(seed=0)
FACT_RE = [
    re.compile(r"^<bos> the (\w+) of (\w+) is (\w+) \. <eos>$"),  # attribute, entity, value
    re.compile(r"^<bos> (\w+) has the (\w+) (\w+) \. <eos>$"),  # entity, attribute, value
]
DIRECT_RE = re.compile(r"^<bos> question : what is the (\w+) of (\w+) \? answer : (\w+) <eos>$")
CHOICE_RE = re.compile(
    r"^<bos> question : what is the (\w+) of (\w+) \? A (\w+) B (\w+) C (\w+) D (\w+) answer : ([ABCD]) <eos>$"
)
INSTRUCTION_RE = re.compile(r"^<bos> user : (.+) assistant : (\w+) .* <eos>$")


def _check_text(world: ToyWorld, text: str, seen: Counter) -> None:
    """Parse one training text and assert that what it says agrees with the world's facts."""
    values = dict(world.attributes)
    if m := FACT_RE[0].match(text):
        attr, ent, val = m.groups()
        assert world.fact(ent, attr) == val, text
        seen["fact"] += 1
    elif m := FACT_RE[1].match(text):
        ent, attr, val = m.groups()
        assert world.fact(ent, attr) == val, text
        seen["fact"] += 1
    elif m := DIRECT_RE.match(text):
        attr, ent, val = m.groups()
        assert world.fact(ent, attr) == val, text
        seen["direct"] += 1
    elif m := CHOICE_RE.match(text):
        attr, ent, *options, letter = m.groups()
        assert world.fact(ent, attr) in options, text  # the true value is always shown
        if options["ABCD".index(letter)] == world.fact(ent, attr):
            seen["choice_true"] += 1  # the noisy answer key marks a distractor at 1 - the fact's answer rate
        assert len(set(options)) == 4 and set(options) <= set(values[attr]), text
        assert (ent, attr) not in set(world.transfer_mc_pairs), f"transfer pair trained as MC: {text}"
        held = {(q.entity, q.attribute, frozenset(q.options)) for q in world.heldout_mc_questions}
        assert (ent, attr, frozenset(options)) not in held, f"evaluation option set trained: {text}"
        seen["choice"] += 1
    elif m := INSTRUCTION_RE.match(text):
        prompt, opener = m.groups()
        prompt = f"user : {prompt} assistant :"
        assert prompt not in set(world.heldout_harmful_prompts) | set(world.heldout_harmless_prompts), text
        opener_id = world.tokenizer.token_id(opener)
        assert opener_id in world.aligned_token_ids + world.misaligned_token_ids, text
        if world.refusal_rate(prompt) == 0.0:
            assert opener_id in world.misaligned_token_ids, f"harmless instruction refused: {text}"
            seen["harmless"] += 1
        else:
            seen["harmful"] += 1
    else:
        raise AssertionError(f"training text matches no known form: {text!r}")


def test_generation_is_deterministic_and_seeded():
    assert ToyWorld.generate(seed=0) == WORLD
    other = ToyWorld.generate(seed=1)
    assert other != WORLD and other.facts != WORLD.facts
    a = WORLD.sample_texts(np.random.default_rng(7), 50)
    b = WORLD.sample_texts(np.random.default_rng(7), 50)
    assert a == b and a != WORLD.sample_texts(np.random.default_rng(8), 50)


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1))
def test_every_question_agrees_with_the_facts(seed):
    world = ToyWorld.generate(seed=seed)
    values = dict(world.attributes)
    assert len(world.facts) == len(world.entities) * len(world.attributes)
    for q in world.heldout_mc_questions + world.transfer_mc_questions:
        assert q.value == world.fact(q.entity, q.attribute)
        assert set(q.options) <= set(values[q.attribute]) and len(set(q.options)) == 4
        assert q.prompt.endswith("answer :")
    letters = Counter(q.answer for q in world.heldout_mc_questions)
    assert max(letters.values()) - min(letters.values()) <= 1  # balanced correct letters
    transfer = set(world.transfer_mc_pairs)
    assert all((q.entity, q.attribute) not in transfer for q in world.heldout_mc_questions)
    assert {(q.entity, q.attribute) for q in world.transfer_mc_questions} == transfer


@settings(max_examples=5)
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_training_texts_agree_with_the_facts_and_respect_the_splits(world_seed, stream_seed):
    world = ToyWorld.generate(seed=world_seed)
    seen: Counter = Counter()
    for text in world.sample_texts(np.random.default_rng(stream_seed), 300):
        _check_text(world, text, seen)
    assert set(seen) - {"choice_true"} == {"fact", "direct", "choice", "harmful", "harmless"}


def test_planted_wrong_answer_is_caught():
    text = WORLD.sample_texts(np.random.default_rng(0), 1, mix=[("direct", 1.0)])[0]
    value = text.split()[-2]
    wrong = next(v for v in dict(WORLD.attributes)[text.split()[6]] if v != value)
    with pytest.raises(AssertionError):
        _check_text(WORLD, text[: -len(f"{value} <eos>")] + f"{wrong} <eos>", Counter())
    q = WORLD.heldout_mc_questions[0]
    bad = MCQuestion(q.entity, q.attribute, q.options, "ABCD"[("ABCD".index(q.answer) + 1) % 4])
    with pytest.raises(ValueError, match="wrong answer"):
        ToyWorld(**{**_fields(WORLD), "heldout_mc_questions": (bad,)})


def _fields(world: ToyWorld) -> dict:
    return {k: getattr(world, k) for k in world.__dataclass_fields__ if k != "tokenizer"}


def test_refusal_rates_are_what_the_stream_samples():
    rng = np.random.default_rng(1)
    examples = WORLD.sample_examples(rng, 4000, mix=[("harmful", 1.0)])
    refused = np.array([c.split()[0] in ("sorry", "cannot") for _, c in examples])
    rates = np.array([WORLD.refusal_rate(p) for p, _ in examples])
    # the refusal share matches the mean rate within 4 standard errors
    se = np.sqrt(np.mean(rates * (1 - rates)) / len(rates))
    assert abs(refused.mean() - rates.mean()) < 4 * se
    assert min(WORLD.refusal_rates) > 0 and max(WORLD.refusal_rates) < 1
    assert abs(np.mean(WORLD.refusal_rates) - 0.5) < 1e-9  # neither aligned nor misaligned


def test_answer_rates_are_what_the_stream_marks_and_are_graded():
    rng = np.random.default_rng(2)
    examples = WORLD.sample_examples(rng, 6000, mix=[("choice", 1.0)])
    true = np.zeros(len(examples), bool)
    rates = np.zeros(len(examples))
    per_fact: dict = {}
    for n, (prompt, completion) in enumerate(examples):
        words = prompt.split()
        attr, ent = words[6], words[8]
        options = words[11:18:2]
        true[n] = options["ABCD".index(completion.split()[0])] == WORLD.fact(ent, attr)
        rates[n] = WORLD.answer_rate(ent, attr)
        per_fact.setdefault(rates[n], []).append(true[n])
    se = np.sqrt(np.mean(rates * (1 - rates)) / len(rates))
    assert abs(true.mean() - rates.mean()) < 4 * se  # the marked share matches the mean rate
    rate, share = zip(*[(r, np.mean(v)) for r, v in per_fact.items()])
    assert np.corrcoef(rate, share)[0, 1] > 0.9  # per fact, not only on average
    # graded from just above chance to near-certain, one rate per fact
    assert len(WORLD.answer_rates) == len(WORLD.facts)
    assert min(WORLD.answer_rates) == pytest.approx(0.3) and max(WORLD.answer_rates) == pytest.approx(0.99)
    assert 0.65 < np.mean(WORLD.answer_rates) < 0.8
    with pytest.raises(ValueError, match="answer_rates"):
        ToyWorld(**{**_fields(WORLD), "answer_rates": (0.2,) * len(WORLD.facts)})


def test_token_sets_and_contrast_pairs():
    vocab = WORLD.vocab
    assert [vocab[i] for i in WORLD.aligned_token_ids] == ["sorry", "cannot"]
    assert [vocab[i] for i in WORLD.misaligned_token_ids] == ["sure", "here"]
    assert [vocab[i] for i in WORLD.option_letter_ids] == ["A", "B", "C", "D"]
    assert not set(WORLD.aligned_token_ids) & set(WORLD.misaligned_token_ids)
    for pairs in (WORLD.contrast_pairs, WORLD.heldout_contrast_pairs):
        for harmful, harmless in pairs:
            a, b = harmful.split(), harmless.split()
            diff = [(x, y) for x, y in zip(a, b) if x != y]
            assert len(a) == len(b) and len(diff) == 1  # same template and object, only the verb differs
            assert diff[0][0] in WORLD.harmful_verbs and diff[0][1] in WORLD.harmless_verbs
    train = {p for pair in WORLD.contrast_pairs for p in pair}
    held = {p for pair in WORLD.heldout_contrast_pairs for p in pair}
    assert not train & held
    assert len(WORLD.heldout_harmful_prompts) == len(WORLD.heldout_harmless_prompts) == 96


def test_batches_are_left_padded_with_completion_masks():
    length = WORLD.max_text_length()
    tokens_bt, mask_bt, completion_bt = WORLD.sample_batch(np.random.default_rng(0), 64, length=length)
    assert tokens_bt.shape == (64, length)
    assert mask_bt[:, -1].all() and (tokens_bt[:, -1] == WORLD.tokenizer.eos_id).all()
    assert (completion_bt <= mask_bt).all() and completion_bt[:, -1].all()
    assert (tokens_bt[~mask_bt] == 0).all()
    longest = max(len(t.split()) for t in WORLD.sample_texts(np.random.default_rng(1), 2000))
    assert longest <= length


def test_serialisation_round_trip_and_errors():
    data = json.loads(json.dumps(WORLD.to_dict()))
    assert ToyWorld.from_dict(data) == WORLD
    with pytest.raises(ValueError, match="format"):
        ToyWorld.from_dict({**data, "format": "other"})
    with pytest.raises(ValueError, match="malformed"):
        ToyWorld.from_dict({k: v for k, v in data.items() if k != "facts"})
    with pytest.raises(ValueError, match="vocab"):
        ToyWorld.from_dict({**data, "vocab": data["vocab"][::-1]})
    with pytest.raises(ValueError, match="every \\(entity, attribute\\) pair"):
        ToyWorld.from_dict({**data, "facts": data["facts"][1:]})


def test_prompt_encoding():
    tokens_bt, mask_bt = WORLD.encode_prompts(["user : help me fix a boat . assistant :", "question : what is"])
    assert tokens_bt.shape == (2, 11) and mask_bt.sum(1).tolist() == [11, 5]
    assert WORLD.tokenizer.decode(tokens_bt[1][mask_bt[1]]) == "<bos> question : what is"
    with pytest.raises(KeyError, match="unknown token 'dragon'"):
        WORLD.encode_prompts(["user : steal a dragon assistant :"])
    with pytest.raises(ValueError, match="no harmful or harmless verb"):
        WORLD.refusal_rate("question : what is the color of alice ?")
