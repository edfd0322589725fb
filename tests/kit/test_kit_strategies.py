"""The kit's strategies: arguments checked when called, draws valid, usable in property tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from steerbounds import alignment_bound, behaviour_expectation
from steerbounds.numerics import TransformerConfig, forward, make_steering
from steerbounds.testing import (
    alignment_instances,
    behaviour_sweeps,
    covariances,
    gap_vectors,
    helpfulness_sweeps,
    random_transformers,
    token_sets,
    transformer_configs,
    unit_directions,
)
from steerbounds.validation import BehaviourSweep, HelpfulnessSweep, a1_margins


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: unit_directions(dim=0), "dim must be >= 1"),
        (lambda: token_sets(vocab_size=1), "vocab_size must be >= 2"),
        (lambda: alignment_instances(min_margin=-1.0), "must be positive"),
        (lambda: gap_vectors(min_k=3, max_k=2), "max_k must be >= 3"),
        (lambda: covariances(k=2, kinds=("spherical",)), "kinds must be a non-empty selection"),
        (lambda: behaviour_sweeps(max_failing=-1), "max_failing must be >= 0"),
        (lambda: behaviour_sweeps(coefficients=[1.0, 2.0]), "containing 0"),
        (lambda: behaviour_sweeps(responses=("cubic",)), "responses must be"),
        (lambda: helpfulness_sweeps(min_questions=2), "min_questions must be >= 3"),
        (lambda: helpfulness_sweeps(noises=()), "noises must be"),
        (lambda: transformer_configs(styles=("bert",)), "styles must be"),
        (lambda: transformer_configs(max_layers=0), "max_layers must be an int >= 1"),
        (lambda: transformer_configs(min_init_std=0.0), "min_init_std"),
        (lambda: random_transformers(configs=[1]), "SearchStrategy"),
    ],
)
def test_arguments_are_checked_when_the_strategy_is_built(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@settings(max_examples=10)
@given(sweep=behaviour_sweeps(min_prompts=3, max_prompts=5, max_failing=2))
def test_behaviour_sweeps_plant_failing_prompts_at_the_end(sweep):
    assert isinstance(sweep, BehaviourSweep) and 3 <= sweep.n_prompts <= 5
    margins = a1_margins(sweep).margin_qc
    steered = sweep.coefficients_c != 0
    failing = ~(margins[:, steered] > 0).all(axis=1)
    n = int(failing.sum())
    assert n <= 2 and not failing[: sweep.n_prompts - n].any()


@settings(max_examples=3)
@given(sweep=helpfulness_sweeps(min_questions=5, max_questions=5, noises=("student_t",)))
def test_helpfulness_sweeps_have_the_requested_shape(sweep):
    assert isinstance(sweep, HelpfulnessSweep)
    assert sweep.logprobs_qco.shape == (5, 9, 4)


@given(config=transformer_configs())
def test_transformer_configs_are_valid_presets(config):
    assert isinstance(config, TransformerConfig)
    assert config.d_model == config.n_heads * config.head_size and config.head_size % 2 == 0
    assert config.n_heads % config.n_kv_heads == 0 and config.n_layers <= 3


# A real model in a kit property test: steer a middle layer of a random transformer, measure the change
# delta of the final representation, and check T1 with the margin of delta's direction (the logits are
# linear in the final representation, so T1 holds at every coefficient where A1 holds).
FORWARD = jax.jit(forward, static_argnums=0)  # one compilation per architecture
STEERED = st.tuples(
    # both families at one size: one compilation each (weights, scale, seed and c still vary)
    random_transformers(configs=transformer_configs(min_vocab=8, max_vocab=8, max_layers=1, max_heads=1,
                                                    max_head_size=2)),
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 8.0),
)


@pytest.mark.steer(STEERED, settings=settings(max_examples=6))
def test_t1_holds_on_a_random_transformer_steered_mid_layer(steer_instance):
    net, seed, c = steer_instance
    config = net.config
    rng = np.random.default_rng(seed)
    tokens = jnp.asarray(rng.integers(0, config.vocab_size, size=(1, 5)))
    vector = rng.normal(size=config.d_model)
    base = FORWARD(net.graphdef, net.state, tokens, steering=make_steering(config, vector, [0], 0.0))
    steered = FORWARD(net.graphdef, net.state, tokens, steering=make_steering(config, vector, [0], c))
    delta = np.asarray(steered.h_btd[0, -1], np.float64) - np.asarray(base.h_btd[0, -1], np.float64)
    unembed = np.asarray(net.model.unembedding()[0], np.float64)
    r = np.linalg.norm(delta)
    # With d_model = 2 a step along x itself leaves h = RMSNorm(x) unchanged: then nothing is steered and T1 says
    # nothing (r = 0); such draws are set aside rather than divided by zero.
    assume(r > 1e-5)
    w = unembed @ (delta / r)
    order = np.argsort(w)
    plus, minus = order[-2:], order[:2]  # token sets chosen so that A1 holds: margin > 0
    margin = w[plus].min() - w[minus].max()
    b0 = float(behaviour_expectation(np.asarray(base.logits_btv[0, -1], np.float64), plus, minus))
    b_r = float(behaviour_expectation(np.asarray(steered.logits_btv[0, -1], np.float64), plus, minus))
    assert margin > 0 and abs(b0) < 1
    assert b_r >= float(alignment_bound(r, margin, b0)) - 1e-4  # float32 model: rounding slack
