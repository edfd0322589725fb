"""Measurements against numpy references; sampling; T1 on final-layer steering of a real forward pass."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from numerics_reference import FWD

from steerbounds.numerics import (
    a1_margin,
    first_token_behaviour,
    final_steering_logits,
    gap_changes,
    make_steering,
    multiple_choice,
    representation_change,
    sample_continuations,
    sequence_behaviour,
    steering_sweep,
    summarize_scores,
)
from steerbounds.theory import alignment_bound

LOGITS = arrays(np.float64, (3, 7), elements=st.floats(-8, 8, allow_subnormal=False))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@given(logits=LOGITS)
def test_first_token_behaviour_matches_numpy(logits):
    p = _softmax(logits)
    plus, minus = p[:, [0, 2]].sum(-1), p[:, [5]].sum(-1)
    out = first_token_behaviour(logits, [0, 2], [5])
    np.testing.assert_allclose(out.restricted, (plus - minus) / (plus + minus), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out.unrestricted, plus - minus, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out.mass, plus + minus, rtol=1e-9, atol=1e-12)


@given(logits=LOGITS, correct=st.lists(st.sampled_from([1, 3, 4]), min_size=3, max_size=3))
def test_multiple_choice_matches_numpy(logits, correct):
    correct = np.array(correct)
    options = np.array([1, 3, 4])
    p = _softmax(logits)
    rows = np.arange(3)
    out = multiple_choice(logits, correct, options)
    np.testing.assert_allclose(out.p_full, p[rows, correct], rtol=1e-9)
    np.testing.assert_allclose(out.p_restricted, p[rows, correct] / p[:, options].sum(-1), rtol=1e-9)
    np.testing.assert_array_equal(out.correct_full, logits.argmax(-1) == correct)
    np.testing.assert_array_equal(out.correct_restricted, options[logits[:, options].argmax(-1)] == correct)


@given(delta=arrays(np.float64, (2, 3, 4), elements=st.floats(-3, 3, allow_subnormal=False)), seed=st.integers(0, 1000))
def test_margin_and_gap_changes_match_brute_force(delta, seed):
    u = np.random.default_rng(seed).normal(size=(6, 4))
    aligned, misaligned = [0, 4], [1, 2]
    m = a1_margin(delta, u, aligned, misaligned)
    for c in range(2):
        for b in range(3):
            if not np.any(delta[c, b]):
                assert not m.defined_cb[c, b] and m.margin_cb[c, b] == 0
                continue
            dh = delta[c, b] / np.abs(delta[c, b]).max()
            dh = dh / np.linalg.norm(dh)  # scaled first: exact for tiny (subnormal-squared) δ
            ref = min(dh @ u[a] for a in aligned) - max(dh @ u[i] for i in misaligned)
            assert m.defined_cb[c, b] and abs(m.margin_cb[c, b] - ref) < 1e-9
    correct = np.array([1, 3, 5])
    x = np.asarray(gap_changes(delta, u, correct, [1, 3, 5, 0]))  # the correct one is listed: left out
    x_all = np.asarray(gap_changes(delta, u, correct))  # every other token
    assert x.shape == (2, 3, 3) and x_all.shape == (2, 3, 5)
    for b in range(3):
        others = [i for i in [1, 3, 5, 0] if i != correct[b]]
        np.testing.assert_allclose(x[:, b], delta[:, b] @ (u[others] - u[correct[b]]).T, atol=1e-9)
        everything = [i for i in range(6) if i != correct[b]]
        np.testing.assert_allclose(x_all[:, b], delta[:, b] @ (u[everything] - u[correct[b]]).T, atol=1e-9)


def test_bad_measurement_input_is_explained():
    u = np.eye(3)
    with pytest.raises(ValueError, match="overlap"):
        a1_margin(np.ones((1, 3)), u, [0, 1], [1])
    with pytest.raises(ValueError, match="empty"):
        a1_margin(np.ones((1, 3)), u, [], [1])
    with pytest.raises(ValueError, match="must be \\(V, d\\)"):
        a1_margin(np.ones((1, 2)), u, [0], [1])
    with pytest.raises(ValueError, match="some prompts but not others"):
        gap_changes(np.ones((2, 3)), u, [0, 2], [0, 1])
    with pytest.raises(ValueError, match="not among option_ids"):
        multiple_choice(np.zeros((1, 3)), [2], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        first_token_behaviour(np.array([[0.0, np.nan]]), [0], [1])
    with pytest.raises(ValueError, match="at least two samples"):
        summarize_scores([[1], [0]])
    with pytest.raises(ValueError, match="-1 \\(misaligned\\)"):
        summarize_scores([[1, 2]])


def test_t1_holds_for_final_layer_steering_of_the_model(llama):
    model = llama
    """Integration: δ = c v exactly at the final representation, so T1's bound must hold wherever A1 does."""
    graphdef, state = nnx.split(model)
    cfg = model.config
    tokens = np.random.default_rng(0).integers(0, cfg.vocab_size, size=(6, 5))
    h0 = FWD(graphdef, state, tokens).h_btd[:, -1]
    aligned, misaligned = [1, 2], [7]
    u_vd, _ = model.unembedding()
    u = np.asarray(u_vd, np.float64)
    coefs = np.linspace(0.0, 3.0, 7)
    found = 0
    for seed in range(4):
        v = u[1] + u[2] - 2 * u[7] + 0.5 * np.linalg.norm(u[1]) * np.random.default_rng(seed).normal(size=cfg.d_model)
        out = steering_sweep(graphdef, state, tokens, make_steering(cfg, v, [cfg.n_layers]), coefs, return_h=True)
        change = representation_change(out.h_cbd, h0)
        np.testing.assert_allclose(change.norm_cb, np.broadcast_to(coefs[:, None], (7, 6)), atol=1e-4)
        margin = a1_margin(change.delta_cbd, u_vd, aligned, misaligned)
        b = np.asarray(first_token_behaviour(out.logits_cbv, aligned, misaligned).restricted)
        ok = np.asarray(margin.defined_cb & (margin.margin_cb > 0))
        bound = np.asarray(alignment_bound(coefs[:, None], np.asarray(margin.margin_cb), b[0][None]))
        assert np.all(b[ok] >= bound[ok] - 1e-5)
        found += ok.sum()
    assert found > 0  # the check was not vacuous
    # equality case of T1: single tokens, margin <δ̂, u_a - u_b>
    single = a1_margin(change.delta_cbd, u_vd, [1], [7])
    b1 = np.asarray(first_token_behaviour(out.logits_cbv, [1], [7]).restricted)
    exact = np.asarray(alignment_bound(coefs[:, None], np.asarray(single.margin_cb), b1[0][None]))
    np.testing.assert_allclose(b1[1:], exact[1:], atol=1e-4)
    analytic = final_steering_logits(FWD(graphdef, state, tokens).logits_btv[:, -1], u_vd, v, coefs)
    np.testing.assert_allclose(np.asarray(analytic), np.asarray(out.logits_cbv), rtol=1e-4, atol=1e-4)


def test_sampling_is_seeded_greedy_and_padding_invariant(llama):
    graphdef, state = nnx.split(llama)
    tokens = np.array([[0, 0, 4, 5], [1, 2, 3, 6]])
    mask = np.array([[0, 0, 1, 1], [1, 1, 1, 1]])
    kw = dict(max_new_tokens=4, mask_bt=mask)
    a = sample_continuations(graphdef, state, tokens, key=jax.random.key(1), **kw)
    b = sample_continuations(graphdef, state, tokens, key=jax.random.key(1), **kw)
    np.testing.assert_array_equal(a, b)
    many = [sample_continuations(graphdef, state, tokens, key=jax.random.key(k), **kw) for k in range(2, 4)]
    assert any(np.any(m != a) for m in many)
    greedy = sample_continuations(graphdef, state, tokens, key=jax.random.key(1), temperature=0.0, **kw)
    buf, buf_mask = np.zeros((1, 6), int), np.zeros((1, 6), int)  # the unpadded prompt, right-padded buffer
    buf[0, :2], buf_mask[0, :2] = [4, 5], 1
    for i in range(4):  # reference: argmax, one token at a time
        nxt = int(np.argmax(np.asarray(FWD(graphdef, state, buf, mask_bt=buf_mask).logits_btv[0, 1 + i])))
        assert greedy[0, i] == nxt
        buf[0, 2 + i], buf_mask[0, 2 + i] = nxt, 1


def test_sequence_behaviour_estimate_covers_the_exact_value(gpt2):
    """One new token and a scorer of that token: B_P(q) is exact from the logits; the MC estimate must be near it."""
    graphdef, state = nnx.split(gpt2)
    cfg = gpt2.config
    tokens = np.array([[3, 4, 5], [6, 7, 8]])
    score_of = np.where(np.arange(cfg.vocab_size) % 3 == 0, 1, np.where(np.arange(cfg.vocab_size) % 3 == 1, -1, 0))
    steering = make_steering(cfg, np.ones(cfg.d_model), [1], 2.0)
    p = _softmax(np.asarray(FWD(graphdef, state, tokens, steering=steering).logits_btv[:, -1], np.float64))
    exact = p @ score_of
    out = sequence_behaviour(graphdef, state, tokens, lambda ids: int(score_of[ids[0]]), key=jax.random.key(0),
                             n_samples=300, max_new_tokens=1, steering=steering)
    z = (out.mean_b - exact) / out.stderr_b
    assert np.all(np.abs(z) < 4.5), (out.mean_b, exact, out.stderr_b)
    assert abs(out.mean - exact.mean()) < 4.5 * out.stderr
    sd = np.sqrt(p @ score_of**2 - exact**2)
    np.testing.assert_allclose(out.stderr_b, sd / np.sqrt(300), rtol=0.25)  # the standard error has the right size
    with pytest.raises(ValueError, match="the scorer returned 2"):
        sequence_behaviour(graphdef, state, tokens, lambda ids: 2, key=jax.random.key(0), n_samples=300,
                           max_new_tokens=1, steering=steering)  # the shapes compiled above
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        sequence_behaviour(graphdef, state, tokens, lambda ids: 1, key=jax.random.key(0), n_samples=1, max_new_tokens=1)
