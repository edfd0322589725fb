"""Cached generation: equal to the uncached reference and to transformers with hooks; sampling; stops; buckets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hooks_reference import assert_agrees_with_hooks
from numerics_reference import FWD, get_model, randomised, small_config

from steerbounds.numerics import (
    Transformer,
    generate,
    load_toy_model,
    make_steering,
    sample_continuations,
    steering_sweep,
)
from steerbounds.numerics._cache import arrange_prompts, bucket, common_span_length
from steerbounds.numerics._generate import _GENERATE
from steerbounds.numerics._sample import _UNCACHED

# three prompts sharing a leading span [3, 7, 1] (left padding, one with its own tokens only after the span)
TOKENS = np.array([[0, 0, 3, 7, 1, 9], [3, 7, 1, 4, 2, 5], [0, 3, 7, 1, 8, 8]])
MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]])
COEFS = [-3.0, 0.0, 1.5, 4.0]
_MODELS = {}


def _model(style):
    """Small random models whose greedy continuations vary with the steering (GPT-2: learned positions; Llama: GQA)."""
    if style not in _MODELS:
        _MODELS[style] = (randomised(Transformer(small_config("gpt2", max_len=24), rngs=nnx.Rngs(2)), seed=2)
                          if style == "gpt2" else get_model("llama"))
    return _MODELS[style]


@pytest.fixture
def gpt2():
    return _model("gpt2")


def _steering(cfg, layers, seed=0, **kw):
    return make_steering(cfg, np.random.default_rng(seed).normal(size=cfg.d_model), layers, **kw)


def _uncached(graphdef, state, tokens, mask, steering, c, n_new):
    s = None if steering is None else steering._replace(coefficient=jnp.float32(c))
    return np.asarray(_UNCACHED(graphdef, state, jnp.asarray(tokens, jnp.int32), jnp.asarray(mask, bool), s,
                                jax.random.key(0), jnp.float32(1.0), n_new=n_new, greedy=True))


@pytest.mark.parametrize(("style", "layers"), [("gpt2", [1, 2]), ("llama", [0, 2])])
def test_greedy_equals_uncached(style, layers):
    model = _model(style)
    graphdef, state = nnx.split(model)
    steering = _steering(model.config, layers)
    out = generate(graphdef, state, TOKENS, mask_bt=MASK, steering=steering, coefficients_c=COEFS, max_new_tokens=6)
    assert out.tokens_cbsn.shape == (4, 3, 1, 6)
    for i, c in enumerate(COEFS):
        np.testing.assert_array_equal(out.tokens_cbsn[i, :, 0], _uncached(graphdef, state, TOKENS, MASK, steering, c, 6))
    assert len({out.tokens_cbsn[i].tobytes() for i in range(4)}) > 1  # steering changed something
    np.testing.assert_array_equal(out.lengths_cbs, 6)
    assert not out.finished_cbs.any()
    if style == "llama":
        plain = generate(graphdef, state, TOKENS, mask_bt=MASK, steering=steering, coefficients_c=COEFS,
                         max_new_tokens=6, share_span=False)
        np.testing.assert_array_equal(plain.tokens_cbsn, out.tokens_cbsn)


def test_greedy_on_the_toy_model_with_a_position_mask():
    toy = load_toy_model()
    graphdef, state = nnx.split(toy.model)
    prompts = list(toy.world.heldout_harmful_prompts[:3]) + list(toy.world.heldout_harmless_prompts[:2])
    tokens, mask = toy.world.encode_prompts(prompts)
    steering = _steering(toy.config, [1, 2], seed=3)
    n_new = min(8, toy.config.max_len - tokens.shape[1])
    out = generate(graphdef, state, tokens, mask_bt=mask, steering=steering, coefficients_c=[0.0, 6.0],
                   max_new_tokens=n_new)
    for i, c in enumerate([0.0, 6.0]):
        np.testing.assert_array_equal(out.tokens_cbsn[i, :, 0], _uncached(graphdef, state, tokens, mask, steering, c,
                                                                          n_new))
    # steer the generated tokens only: the prompt mask is zero, generated positions steered
    gen = generate(graphdef, state, tokens, mask_bt=mask, steering=steering, coefficients_c=[6.0],
                   max_new_tokens=n_new, steer_positions="generated")
    masked = steering._replace(position_mask_bt=jnp.zeros(tokens.shape, bool))
    np.testing.assert_array_equal(gen.tokens_cbsn[0, :, 0], _uncached(graphdef, state, tokens, mask, masked, 6.0, n_new))
    np.testing.assert_array_equal(gen.tokens_cbsn[0, :, 0, 0], out.tokens_cbsn[0, :, 0, 0])  # first token unsteered


def test_zero_coefficient_is_exactly_unsteered(llama):
    graphdef, state = nnx.split(llama)
    steering = _steering(llama.config, [1, 2])
    steered = generate(graphdef, state, TOKENS, mask_bt=MASK, steering=steering, coefficients_c=[0.0, 2.0],
                       max_new_tokens=5)
    plain = generate(graphdef, state, TOKENS, mask_bt=MASK, max_new_tokens=5)
    np.testing.assert_array_equal(steered.tokens_cbsn[0], plain.tokens_cbsn[0])
    assert not np.array_equal(steered.tokens_cbsn[1], plain.tokens_cbsn[0])


def test_stop_tokens_mask_and_count(llama):
    graphdef, state = nnx.split(llama)
    steering = _steering(llama.config, [1])
    free = generate(graphdef, state, TOKENS, mask_bt=MASK, steering=steering, coefficients_c=COEFS, max_new_tokens=8)
    stop_id = int(free.tokens_cbsn[1, 0, 0, 2])  # the third token of one row
    out = generate(graphdef, state, TOKENS, mask_bt=MASK, steering=steering, coefficients_c=COEFS, max_new_tokens=8,
                   stop_tokens=[stop_id], fill_token=-7)
    hits = free.tokens_cbsn == stop_id
    expected_len = np.where(hits.any(-1), hits.argmax(-1) + 1, 8)
    np.testing.assert_array_equal(out.lengths_cbs, expected_len)
    np.testing.assert_array_equal(out.finished_cbs, hits.any(-1))
    assert out.lengths_cbs[1, 0, 0] <= 3 and out.finished_cbs[1, 0, 0]
    keep = np.arange(8) < expected_len[..., None]
    np.testing.assert_array_equal(np.where(keep, free.tokens_cbsn, -7), out.tokens_cbsn)


def test_sampling_keys_temperature_and_top_p(gpt2):
    graphdef, state = nnx.split(gpt2)
    steering = _steering(gpt2.config, [1, 2])
    same = [1.5, 1.5]  # two equal coefficients: only their keys differ
    kw = dict(mask_bt=MASK, steering=steering, max_new_tokens=6, temperature=1.0, top_p=0.95, n_samples=4)
    a = generate(graphdef, state, TOKENS, key=jax.random.key(0), coefficients_c=same, **kw)
    np.testing.assert_array_equal(a.tokens_cbsn,
                                  generate(graphdef, state, TOKENS, key=jax.random.key(0), coefficients_c=same, **kw)[0])
    assert not np.array_equal(a.tokens_cbsn,
                              generate(graphdef, state, TOKENS, key=jax.random.key(1), coefficients_c=same, **kw)[0])
    t = a.tokens_cbsn
    assert not np.array_equal(t[0], t[1])  # coefficients have independent keys
    assert len({t[0, 0, s].tobytes() for s in range(4)}) > 1  # samples too
    assert not np.array_equal(t[:, 0], t[:, 2])  # and prompts
    # a coefficient's draws do not depend on the other coefficients in the call
    other = generate(graphdef, state, TOKENS, key=jax.random.key(0), coefficients_c=[1.5, -4.0], **kw)
    np.testing.assert_array_equal(other.tokens_cbsn[0], t[0])
    # a vanishing nucleus is greedy decoding (the same compiled program: top_p is an argument)
    tiny = generate(graphdef, state, TOKENS, key=jax.random.key(2), coefficients_c=same, **{**kw, "top_p": 1e-6})
    greedy = _uncached(graphdef, state, TOKENS, MASK, steering, 1.5, 6)
    np.testing.assert_array_equal(tiny.tokens_cbsn, np.broadcast_to(greedy[None, :, None], tiny.tokens_cbsn.shape))


def test_first_token_distribution(gpt2, temperature=1.3, top_p=0.8):
    """One new token, many samples: frequencies match softmax(z / T) on the nucleus; nothing outside it."""
    graphdef, state = nnx.split(gpt2)
    tokens, n = np.array([[3, 4, 5]]), 3000
    out = generate(graphdef, state, tokens, key=jax.random.key(5), max_new_tokens=1, temperature=temperature,
                   top_p=top_p, n_samples=n)
    z = np.asarray(FWD(graphdef, state, tokens).logits_btv[0, -1], np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p)
    before = np.cumsum(p[order]) - p[order]
    nucleus = order[before < top_p]
    q = np.zeros_like(p)
    q[nucleus] = p[nucleus] / p[nucleus].sum()
    counts = np.bincount(out.tokens_cbsn.reshape(-1), minlength=p.size)
    assert counts[q == 0].sum() == 0
    expected = n * q
    big = expected > 20
    stat = ((counts[big] - expected[big]) ** 2 / expected[big]).sum()
    assert stat < big.sum() + 6 * np.sqrt(2 * big.sum()), (stat, big.sum())  # chi-square, about 6 sigma
    assert (q > 0).sum() < (p > 1e-4).sum()  # the nucleus did cut something


@pytest.mark.parametrize(("style", "layers"), [("gpt2", [1, 3]), ("llama", [0, 3])])
def test_shared_span_sweep_equals_plain_sweep(style, layers):
    model = _model(style)
    graphdef, state = nnx.split(model)
    assert common_span_length(TOKENS, MASK) == 3
    steering = _steering(model.config, layers, seed=2)
    kw = dict(mask_bt=MASK, return_h=True, residual_layers=(0, 1, model.config.n_layers), chunk_size=3)
    shared = steering_sweep(graphdef, state, TOKENS, steering, np.linspace(-4, 4, 7), **kw)
    plain = steering_sweep(graphdef, state, TOKENS, steering, np.linspace(-4, 4, 7), share_span=False, **kw)
    for a, b in zip(shared, plain):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_shared_span_with_wrong_positions_is_caught(llama):
    """Planted bug: own tokens whose positions restart at 0 after the span (instead of continuing) are caught."""
    graphdef, state = nnx.split(llama)
    steering = _steering(llama.config, [1])
    from steerbounds.numerics._cache import PromptArrays
    from steerbounds.numerics._sweep import _SWEEP_SPAN

    right = arrange_prompts(TOKENS, MASK, None, share_span=True, min_width=1)
    wrong = right._replace(own_positions_bt=right.own_positions_bt - 3)
    args = (steering, jnp.linspace(-2.0, 2.0, 3))
    z_right = _SWEEP_SPAN(graphdef, state, PromptArrays.of(right), *args, first_layer=1).logits_cbv
    z_wrong = _SWEEP_SPAN(graphdef, state, PromptArrays.of(wrong), *args, first_layer=1).logits_cbv
    z_plain = steering_sweep(graphdef, state, TOKENS, steering, np.linspace(-2.0, 2.0, 3), mask_bt=MASK,
                             share_span=False).logits_cbv
    np.testing.assert_allclose(np.asarray(z_right), np.asarray(z_plain), rtol=1e-5, atol=1e-5)
    assert np.abs(np.asarray(z_wrong - z_plain)).max() > 1e-3


def test_shape_buckets_compile_once(gpt2):
    graphdef, state = nnx.split(gpt2)
    steering = _steering(gpt2.config, [1], seed=9)
    assert [bucket(n) for n in (11, 12, 13)] == [12, 12, 16]
    rng = np.random.default_rng(0)

    def call(t, k):
        tokens = rng.integers(0, gpt2.config.vocab_size, size=(2, t))
        tokens[:, 0] = [1, 2]  # no common leading span
        return generate(graphdef, state, tokens, steering=steering, coefficients_c=np.linspace(-1, 1, k),
                        max_new_tokens=3)

    call(5, 11)
    before = _GENERATE._cache_size()
    for t, k in ((6, 12), (7, 9), (4, 11)):  # own widths bucket to 8, coefficient counts to 12
        assert call(t, k).tokens_cbsn.shape == (k, 2, 1, 3)
    assert _GENERATE._cache_size() == before
    call(9, 11)  # width 9: the next bucket (12) compiles once more
    assert _GENERATE._cache_size() == before + 1


def test_chunked_coefficients_equal_one_chunk(llama):
    graphdef, state = nnx.split(llama)
    steering = _steering(llama.config, [2])
    kw = dict(mask_bt=MASK, steering=steering, coefficients_c=np.linspace(-3, 3, 3), max_new_tokens=4,
              temperature=0.9, top_p=0.9, key=jax.random.key(3), n_samples=2)
    whole = generate(graphdef, state, TOKENS, **kw)
    small = generate(graphdef, state, TOKENS, memory_budget_bytes=1, **kw)  # one coefficient at a time
    np.testing.assert_array_equal(whole.tokens_cbsn, small.tokens_cbsn)


def test_sample_continuations_runs_on_the_cache(llama):
    graphdef, state = nnx.split(llama)
    steering = _steering(llama.config, [1], coefficient=2.5)
    got = sample_continuations(graphdef, state, TOKENS, key=jax.random.key(0), max_new_tokens=5, temperature=0.0,
                               mask_bt=MASK, steering=steering)
    np.testing.assert_array_equal(got, _uncached(graphdef, state, TOKENS, MASK, steering, 2.5, 5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(max_new_tokens=0), "max_new_tokens must be a positive int"),
        (dict(max_new_tokens=2, temperature=-1.0), "temperature must be a finite number >= 0"),
        (dict(max_new_tokens=2, temperature=1.0, top_p=0.0, key=jax.random.key(0)), r"top_p must lie in \(0, 1\]"),
        (dict(max_new_tokens=2, top_p=0.5), "top_p=0.5 has no effect with temperature=0"),
        (dict(max_new_tokens=2, temperature=1.0), "sampling .* needs a key"),
        (dict(max_new_tokens=2, n_samples=3), "greedy decoding .* same tokens for every sample"),
        (dict(max_new_tokens=2, stop_tokens=[10_000]), "stop_tokens .* must be token ids"),
        (dict(max_new_tokens=2, steer_positions="prompt"), "steer_positions must be one of"),
        (dict(max_new_tokens=2, coefficients_c=[1.0]), "coefficients_c needs a steering"),
        (dict(max_new_tokens=20), "exceeds max_len"),
    ],
)
def test_bad_arguments_are_named(gpt2, kwargs, message):
    graphdef, state = nnx.split(gpt2)
    with pytest.raises((ValueError, TypeError), match=message):
        generate(graphdef, state, TOKENS, mask_bt=MASK, **kwargs)


def test_matches_transformers_generate_with_hooks(tmp_path):
    """Greedy tokens against transformers' generate with forward hooks adding c v (tiny random Llama, GQA)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from steerbounds.numerics import load_hf_checkpoint

    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=6,
        num_key_value_heads=2, max_position_embeddings=64, rope_theta=1e5, bos_token_id=1, eos_token_id=2,
        pad_token_id=0)).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.1 * torch.randn_like(p))
    hf.save_pretrained(tmp_path)
    model = load_hf_checkpoint(tmp_path)
    graphdef, state = nnx.split(model)
    rng = np.random.default_rng(0)
    header = rng.integers(3, 97, 5)
    rows = [np.concatenate([header, rng.integers(3, 97, n)]) for n in (3, 6, 4, 5)]
    t = max(map(len, rows))
    tokens, mask = np.zeros((4, t), np.int64), np.zeros((4, t), np.int64)
    for i, r in enumerate(rows):
        tokens[i, t - len(r):], mask[i, t - len(r):] = r, 1
    vector = rng.normal(size=48)
    vector /= np.linalg.norm(vector)
    coefs, layers, n_new = [-2.0, 0.0, 3.0], [0, 1], 12
    ours = generate(graphdef, state, tokens, mask_bt=mask, steering=make_steering(model.config, vector, layers),
                    coefficients_c=coefs, max_new_tokens=n_new).tokens_cbsn[:, :, 0]
    hf.generation_config.eos_token_id = None
    assert_agrees_with_hooks(ours, hf, hf.model.layers, tokens, mask, vector, coefs, layers)
    assert len({ours[i].tobytes() for i in range(3)}) == 3  # the steering changed the continuations
