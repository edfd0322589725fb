"""A sweep of bad inputs over every public function of theory, numerics, validation and testing.

For each public name of the four ``__all__`` lists there is either a
:class:`Spec` (a valid call and the bad inputs to try) or an entry in
``EXEMPT`` with the reason. A public name with neither fails
:func:`test_every_public_name_is_swept`: a new function needs its cases.

Each bad input (NaN, inf, a wrong shape, a wrong dtype, an out-of-range value)
must raise ``ValueError`` or ``TypeError`` (``BundleError`` is a ``ValueError``)
whose message names the argument. Arguments listed in ``Spec.jit`` are also
tried under ``jax.jit`` through ``steerbounds.checked``, which must raise the
same kind of error; functions without ``jit`` arguments are host (numpy)
code, checked on every call.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steerbounds import checked
from steerbounds.validation import ReportRecord

LAYERS = ("steerbounds.theory", "steerbounds.numerics", "steerbounds.validation", "steerbounds.testing")
NAN, INF = "nan", "inf"


@dataclasses.dataclass(frozen=True)
class Spec:
    """A valid call ``function(**valid())`` and the bad values to put in its arguments.

    ``bad``: ``(argument, value)`` pairs; ``"nan"``/``"inf"`` put a NaN/inf into
    the valid value; any other value replaces it. ``names`` maps an argument to
    the word its messages use, where that differs. ``jit``: arguments tried
    under ``checked(jax.jit(...))`` with their NaN/inf/range values.
    """

    valid: Callable[[], dict[str, Any]]
    bad: tuple[tuple[str, Any], ...]
    jit: tuple[str, ...] = ()
    names: dict[str, str] = dataclasses.field(default_factory=dict)


def _poison(value, what):
    array = np.array(value, dtype=np.float64, copy=True)
    array.flat[0] = np.nan if what == NAN else np.inf
    return array


def _bad_value(valid, arg, value):
    if isinstance(value, str) and value in (NAN, INF):
        return _poison(valid.get(arg, 1.0), value) if arg in valid else (np.nan if value == NAN else np.inf)
    return value


# ----------------------------------------------------------------------------- fixtures built once


@dataclasses.dataclass
class _Model:
    graphdef: Any
    state: Any
    config: Any
    tokens: Any


_MODEL: list[_Model] = []


def model() -> _Model:
    if not _MODEL:
        from flax import nnx

        from steerbounds.numerics import Transformer, TransformerConfig

        config = TransformerConfig.gpt2_style(vocab_size=11, d_model=8, n_layers=2, n_heads=2, max_len=16)
        graphdef, state = nnx.split(Transformer(config, rngs=nnx.Rngs(0)))
        _MODEL.append(_Model(graphdef, state, config, np.array([[1, 2, 3], [4, 5, 6]], np.int32)))
    return _MODEL[0]


def steering():
    from steerbounds.numerics import make_steering

    m = model()
    return make_steering(m.config, np.ones(8, np.float32), [1])


_BUNDLE: list[Any] = []


def bundle():
    if not _BUNDLE:
        from steerbounds.validation import synthetic_bundle

        _BUNDLE.append(synthetic_bundle(seed=0, n_prompts=2, n_questions=6, d=8, vocab_size=12))
    return _BUNDLE[0]


def _sweep_with(part, **changes):
    b = bundle()
    return dataclasses.replace(getattr(b, part), **changes)


def _nan_in(array):
    return _poison(array, NAN)


# ----------------------------------------------------------------------------- the cases

GAPS = np.array([0.2, -0.5])
COV = np.array([[1.0, 0.2], [0.2, 0.5]])
NOT_PSD = np.array([[1.0, 2.0], [2.0, 1.0]])
STRINGS = np.array(["a", "b"])
LOGITS = np.log([0.4, 0.3, 0.2, 0.1])

THEORY = {
    "check_array": Spec(lambda: {"where": "f", "name": "x", "x": np.ones(2)},
                        (("x", NAN), ("x", INF), ("x", STRINGS), ("ndim", 2)), names={"ndim": "x must have 2 axes"}),
    "check_finite": Spec(lambda: {"name": "x", "x": np.ones(2)}, (("x", NAN), ("x", INF), ("x", STRINGS))),
    "as_float_array": Spec(lambda: {"name": "x", "x": np.ones(2)}, (("x", NAN), ("x", INF))),
    "check_token_ids": Spec(lambda: {"name": "ids", "ids": [1, 2], "vocab_size": 5},
                            (("ids", [1, 1]), ("ids", [7]), ("ids", "ab"), ("ids", []), ("ids", [0.5]))),
    "check_disjoint": Spec(lambda: {"name_a": "a_ids", "a": np.array([1]), "name_b": "b_ids", "b": np.array([2])},
                           (("b", np.array([1])),), names={"b": "b_ids"}),
    "check_covariance": Spec(lambda: {"cov": np.eye(3), "k": 3}, (("cov", NAN), ("cov", np.eye(2)))),
    "prng_key": Spec(lambda: {"name": "key", "key": 0}, (("key", True), ("key", -1), ("key", "x"))),
    "positive_int": Spec(lambda: {"where": "f", "name": "n", "value": 3},
                         (("value", 0), ("value", True), ("value", 1.5)), names={"value": "n"}),
    "instance_of": Spec(lambda: {"where": "f", "name": "config", "value": {}, "kind": dict, "example": "{}"},
                        (("value", 3),), names={"value": "config"}),
    "alignment_bound": Spec(
        lambda: {"r": 1.0, "margin": np.ones(2), "b0": 0.2},
        (("r", NAN), ("r", INF), ("margin", NAN), ("b0", INF), ("b0", 1.0), ("b0", -1.5), ("r", STRINGS),
         ("r", np.zeros((3,))), ("b0", np.zeros((3,)))),
        jit=("r", "margin", "b0")),
    "alignment_slope": Spec(
        lambda: {"margin": 1.0, "b0": 0.2},
        (("margin", NAN), ("b0", NAN), ("b0", 2.0), ("b0", STRINGS)), jit=("margin", "b0")),
    "guarantee_radius": Spec(
        lambda: {"margin": 1.0, "b0": 0.2, "eps": 0.1},
        (("margin", NAN), ("margin", -1.0), ("b0", 1.0), ("eps", 0.0), ("eps", 2.5), ("eps", STRINGS),
         ("eps", INF)), jit=("margin", "b0", "eps")),
    "behaviour_expectation": Spec(
        lambda: {"logits": LOGITS, "aligned_ids": [0], "misaligned_ids": [1]},
        (("logits", NAN), ("logits", INF), ("logits", STRINGS), ("logits", 1.0), ("aligned_ids", [9]),
         ("aligned_ids", [0.5]), ("misaligned_ids", []), ("misaligned_ids", [0]), ("aligned_ids", "0")),
        jit=("logits",), names={"misaligned_ids": "ids"}),
    "helpfulness": Spec(
        lambda: {"logits": LOGITS, "correct_id": 0, "competitor_ids": [0, 1]},
        (("logits", NAN), ("logits", STRINGS), ("correct_id", 7), ("correct_id", 0.5), ("competitor_ids", [5]),
         ("competitor_ids", [0]), ("correct_id", np.zeros(3, int))),
        jit=("logits",)),
    "helpfulness_lower_bound": Spec(
        lambda: {"r": 1.0, "gaps": GAPS, "cov": COV},
        (("r", NAN), ("gaps", INF), ("cov", NAN), ("cov", NOT_PSD), ("cov", -1.0), ("cov", np.eye(3)),
         ("gaps", np.zeros((0,))), ("gaps", STRINGS), ("cov", COV.T + np.array([[0, 1], [0, 0]]))),
        jit=("r", "gaps", "cov")),
    "helpfulness_curvature": Spec(
        lambda: {"gaps": GAPS, "cov": COV},
        (("gaps", NAN), ("cov", INF), ("cov", NOT_PSD), ("cov", np.ones(3)), ("gaps", STRINGS)),
        jit=("gaps", "cov")),
    "helpfulness_second_order": Spec(
        lambda: {"r": 1.0, "gaps": GAPS, "cov": COV},
        (("r", INF), ("gaps", NAN), ("cov", NOT_PSD), ("cov", -np.ones(2)), ("r", STRINGS)),
        jit=("r", "gaps", "cov")),
    "expected_helpfulness": Spec(
        lambda: {"r": 1.0, "gaps": GAPS, "cov": COV},
        (("r", NAN), ("gaps", INF), ("cov", NOT_PSD), ("cov", -1.0), ("method", "simpson"), ("n", 1),
         ("n", 2.5), ("key", "seed"), ("mean", np.zeros(3)), ("mean", np.array([np.nan, 0.0]))),
        jit=("r", "gaps", "cov")),
    "efficient_radius": Spec(
        lambda: {"margin": 1.0, "b0": 0.2, "gaps": GAPS, "cov": COV},
        (("margin", -1.0), ("margin", NAN), ("b0", 1.0), ("gaps", NAN), ("cov", NOT_PSD)),
        jit=("margin", "b0", "gaps", "cov")),
    "best_radius": Spec(
        lambda: {"margin": 1.0, "b0": 0.2, "gaps": GAPS, "cov": COV, "lam": 1.0},
        (("lam", 0.0), ("lam", NAN), ("margin", 0.0), ("b0", -1.0), ("cov", -COV)),
        jit=("margin", "b0", "lam")),
    "checked": Spec(lambda: {"function": abs}, (("function", 3), ("function", "f"))),
}

H_CBD = np.random.default_rng(0).normal(size=(3, 2, 8))
U_VD = np.random.default_rng(1).normal(size=(11, 8))
Q_BD = np.random.default_rng(2).normal(size=(2, 8))
O_BKD = np.random.default_rng(3).normal(size=(2, 3, 8))

NUMERICS = {
    "final_steering_logits": Spec(
        lambda: {"logits_bv": np.zeros((2, 11)), "unembed_vd": U_VD, "vector_d": np.ones(8),
                 "coefficients_c": np.array([0.0, 1.0])},
        (("logits_bv", NAN), ("unembed_vd", INF), ("vector_d", NAN), ("coefficients_c", INF),
         ("vector_d", np.zeros(8)), ("vector_d", np.ones(3)), ("coefficients_c", STRINGS),
         ("token_ids", [99])),
        jit=("logits_bv", "unembed_vd", "coefficients_c"),
        names={"vector_d": "vector_d", "token_ids": "token_ids"}),
    "final_steering_behaviour": Spec(
        lambda: {"logits_bv": np.zeros((2, 11)), "unembed_vd": U_VD, "vector_d": np.ones(8),
                 "coefficients_c": np.array([0.0, 1.0]), "aligned_ids": [0], "misaligned_ids": [1]},
        (("vector_d", NAN), ("coefficients_c", INF), ("logits_bv", np.zeros((2, 5))), ("aligned_ids", [99]),
         ("aligned_ids", [1]), ("coefficients_c", STRINGS))),
    "first_token_behaviour": Spec(
        lambda: {"logits": LOGITS, "aligned_ids": [0], "misaligned_ids": [1]},
        (("logits", NAN), ("logits", STRINGS), ("aligned_ids", [9]), ("misaligned_ids", [0]))),
    "multiple_choice": Spec(
        lambda: {"logits": np.stack([LOGITS, LOGITS]), "correct_ids": [0, 1], "option_ids": [0, 1, 2]},
        (("logits", NAN), ("correct_ids", [0, 9]), ("option_ids", [0, 9]), ("correct_ids", [0.5, 1.0]),
         ("logits", STRINGS))),
    "representation_change": Spec(
        lambda: {"h_cbd": H_CBD, "h0_bd": H_CBD[0]},
        (("h_cbd", NAN), ("h0_bd", INF), ("h0_bd", np.zeros((2, 3))), ("h_cbd", STRINGS))),
    "a1_margin": Spec(
        lambda: {"delta_cbd": H_CBD, "unembed_vd": U_VD, "aligned_ids": [0], "misaligned_ids": [1]},
        (("delta_cbd", NAN), ("unembed_vd", INF), ("unembed_vd", np.zeros((11, 3))), ("aligned_ids", [99]),
         ("misaligned_ids", [0]))),
    "gap_changes": Spec(
        lambda: {"delta_cbd": H_CBD, "unembed_vd": U_VD, "correct_ids": [0, 1]},
        (("delta_cbd", NAN), ("unembed_vd", INF), ("correct_ids", [0, 99]), ("unembed_vd", np.zeros((11, 3))))),
    "summarize_scores": Spec(
        lambda: {"scores_bs": [[1, -1, 0], [1, 1, 1]]},
        (("scores_bs", [[2, 0, 0]]), ("scores_bs", [[np.nan, 0, 0]]), ("scores_bs", [1, 0]),
         ("scores_bs", [["a", "b"]]))),
    "l2_normalize": Spec(lambda: {"x_bd": Q_BD}, (("x_bd", NAN), ("x_bd", INF), ("x_bd", STRINGS))),
    "mean_pool": Spec(
        lambda: {"states_btd": O_BKD, "mask_bt": np.ones((2, 3), bool)},
        (("states_btd", NAN), ("mask_bt", np.ones((2, 4), bool)), ("mask_bt", np.zeros((2, 3), bool)))),
    "last_positions": Spec(
        lambda: {"mask_bt": np.array([[0, 1, 1], [1, 1, 0]])},
        (("mask_bt", np.zeros((2, 3), int)), ("mask_bt", np.ones(3)), ("mask_bt", np.array([[0.5, 1.0]])))),
    "hf_position_ids": Spec(
        lambda: {"mask_bt": np.array([[0, 1, 1], [1, 1, 0]])},
        (("mask_bt", np.ones(3)), ("mask_bt", np.array([[2, 1]])))),
    "readout_logits": Spec(
        lambda: {"query_bd": Q_BD, "unembed_kd": O_BKD[0], "tau": 1.0},
        (("query_bd", NAN), ("unembed_kd", np.zeros((3, 4))), ("tau", 0.0), ("tau", NAN))),
    "option_logits": Spec(
        lambda: {"query_bd": Q_BD, "options_bkd": O_BKD, "tau": 1.0},
        (("query_bd", INF), ("options_bkd", np.zeros((2, 3, 4))), ("tau", -1.0))),
    "behaviour_logits": Spec(
        lambda: {"query_bd": Q_BD, "refusal_pd": O_BKD[0], "compliance_md": O_BKD[1], "tau": 1.0},
        (("query_bd", NAN), ("refusal_pd", np.zeros((3, 4))), ("tau", 0.0))),
    "choose_tau": Spec(
        lambda: {"query_bd": Q_BD, "options_bkd": O_BKD, "correct_b": np.array([0, 1])},
        (("query_bd", NAN), ("correct_b", np.array([0, 5])), ("grid_g", np.array([-1.0, 1.0])))),
    "contrast_vectors": Spec(
        lambda: {"aligned_lbd": H_CBD[:, :, :], "misaligned_lbd": -H_CBD, "layers": [0, 1, 2]},
        (("aligned_lbd", NAN), ("misaligned_lbd", np.zeros((3, 2, 4))), ("layers", [0]), ("method", "svd"))),
    "random_vectors": Spec(
        lambda: {"d_model": 8, "layers": [0], "key": 0},
        (("d_model", 0), ("d_model", 2.5), ("layers", []), ("key", "x"), ("key", 1.5))),
    "next_token_loss": Spec(
        lambda: {"logits_btv": np.zeros((2, 3, 11)), "tokens_bt": np.ones((2, 3), np.int32),
                 "mask_bt": np.ones((2, 3))},
        (("logits_btv", NAN), ("tokens_bt", np.full((2, 3), 99)), ("mask_bt", np.ones((2, 4))))),
    "residual_norm_penalty": Spec(
        lambda: {"residuals_lbtd": np.ones((2, 2, 3, 8)), "mask_bt": np.ones((2, 3)), "target": 1.0},
        (("residuals_lbtd", NAN), ("mask_bt", np.ones((2, 4))), ("target", -1.0))),
    "make_steering": Spec(
        lambda: {"config": model().config, "vector": np.ones(8), "layers": [1]},
        (("vector", NAN), ("vector", np.ones(3)), ("vector", np.zeros(8)), ("layers", [5]), ("coefficient", NAN),
         ("config", "gpt2"))),
    "forward": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state, "tokens_bt": model().tokens},
        (("tokens_bt", np.full((2, 3), 99)), ("tokens_bt", np.ones((2, 3)) * 0.5), ("tokens_bt", np.ones(3, int)),
         ("mask_bt", np.ones((2, 4))), ("residual_layers", [7])), names={"tokens_bt": "token"}),
    "steering_sweep": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state, "tokens_bt": model().tokens,
                 "steering": steering(), "coefficients_c": np.array([0.0, 1.0])},
        (("coefficients_c", np.array([np.nan, 1.0])), ("coefficients_c", STRINGS), ("tokens_bt", np.full((2, 3), 99)),
         ("steering", "v"), ("chunk_size", 0)), names={"tokens_bt": "token"}),
    "last_token_states": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state, "tokens_bt": model().tokens},
        (("tokens_bt", np.full((2, 3), 99)), ("layers", [9]), ("batch_size", 0)), names={"tokens_bt": "token"}),
    "sample_continuations": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state, "tokens_bt": model().tokens, "key": 0,
                 "max_new_tokens": 2},
        (("key", "k"), ("max_new_tokens", 0), ("temperature", -1.0), ("temperature", NAN),
         ("tokens_bt", np.full((2, 3), 99))), names={"tokens_bt": "token"}),
    "sequence_behaviour": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state, "tokens_bt": model().tokens,
                 "scorer": lambda ids: 1, "key": 0, "n_samples": 2, "max_new_tokens": 1},
        (("key", 2.5), ("n_samples", 1), ("scorer", 3), ("max_new_tokens", -1))),
    "estimate_sweep_bytes": Spec(
        lambda: {"config": model().config, "batch": 2, "seq_len": 3},
        (("batch", 0), ("seq_len", -1), ("batch", 1.5), ("config", None))),
    "default_chunk_size": Spec(
        lambda: {"config": model().config, "batch": 2, "seq_len": 3, "n_coefficients": 4},
        (("batch", 0), ("n_coefficients", 0), ("memory_budget_bytes", -5))),
    "check_finite_parameters": Spec(
        lambda: {"model_or_state": model().state}, (("model_or_state", "state"),)),
    "model_hash": Spec(lambda: {"model_or_state": model().state}, (("model_or_state", 3),)),
    "graphdef_config": Spec(
        lambda: {"graphdef": model().graphdef, "state": model().state}, (("graphdef", "g"),)),
    "rotary_inverse_frequencies": Spec(lambda: {"config": model().config}, (("config", 3),)),
    "steered_layers": Spec(lambda: {"steering": steering()}, (("steering", "s"),)),
    "hf_config_to_config": Spec(
        lambda: {"hf": {"model_type": "gpt2", "vocab_size": 11, "n_embd": 8, "n_layer": 1, "n_head": 2,
                        "n_positions": 16}},
        (("hf", {"model_type": "bert"}), ("hf", "gpt2"), ("dtype", "float8")), names={"hf": "config.json"}),
    "load_hf_checkpoint": Spec(lambda: {"path": "/no/such/checkpoint"}, (("path", "/no/such/checkpoint"),),
                               names={"path": "checkpoint"}),
    "load_steering_vectors": Spec(lambda: {"path": "/no/such/v.safetensors"}, (("path", "/no/such/v.safetensors"),),
                                  names={"path": "v.safetensors"}),
    "save_steering_vectors": Spec(
        lambda: {"path": "/no/such/folder/v.safetensors",
                 "vectors": __import__("steerbounds.numerics", fromlist=["x"]).SteeringVectors(
                     np.eye(2, dtype=np.float32), (0, 1), "random")},
        (("path", "/no/such/folder/v.safetensors"), ("vectors", "v"))),
    "load_toy_model": Spec(lambda: {"directory": "/no/such/toy"}, (("directory", "/no/such/toy"),),
                           names={"directory": "toy"}),
    "load_encoder_model": Spec(lambda: {"folder": "/no/such/enc"}, (("folder", "/no/such/enc"),),
                               names={"folder": "enc"}),
    "load_encoder": Spec(lambda: {"folder": "/no/such/enc"}, (("folder", "/no/such/enc"),),
                         names={"folder": "enc"}),
    "import_control_vector": Spec(lambda: {"path": "/no/such/cv.gguf"}, (("path", "/no/such/cv.gguf"),),
                                  names={"path": "cv.gguf"}),
    "export_control_vector": Spec(
        lambda: {"path": "/no/such/folder/cv.safetensors", "n_layers": 3, "format": "safetensors",
                 "vectors": __import__("steerbounds.numerics", fromlist=["x"]).SteeringVectors(
                     np.eye(2, dtype=np.float32), (1, 2), "random")},
        (("vectors", "v"), ("n_layers", 0))),
    "recommended_coefficient": Spec(lambda: {"report": "/no/such/report.json"},
                                    (("report", "/no/such/report.json"), ("report", 3)), names={"report": "report"}),
    "load_tokenizer": Spec(lambda: {"path": "/no/such/tok"}, (("path", "/no/such/tok"),), names={"path": "tok"}),
}

VALIDATION = {
    "bell_curve": Spec(lambda: {"c": np.linspace(-1, 1, 5), "a": 0.5, "b": 1.0},
                       (("c", NAN), ("b", np.ones(2)), ("a", NAN), ("c", STRINGS))),
    "tanh_curve": Spec(lambda: {"c": np.linspace(-1, 1, 5), "a": 0.5, "b0": 0.1},
                       (("c", INF), ("b0", np.ones(2)), ("a", NAN))),
    "fit_bell": Spec(lambda: {"c": np.linspace(-2, 2, 9), "p_correct": np.full(9, 0.5)},
                     (("c", NAN), ("p_correct", INF), ("p_correct", np.full(4, 0.5)))),
    "fit_tanh": Spec(lambda: {"c": np.linspace(-2, 2, 9), "behaviour": np.tanh(np.linspace(-2, 2, 9))},
                     (("c", INF), ("behaviour", NAN), ("behaviour", np.zeros(3)))),
    "signed_radius": Spec(lambda: {"coefficients_c": np.array([-1.0, 1.0]), "delta_qcd": H_CBD[:2].swapaxes(0, 1)},
                          (("coefficients_c", NAN), ("delta_qcd", INF), ("delta_qcd", np.zeros((2, 3, 8))))),
    "check_t1": Spec(
        lambda: {"behaviour_qc": np.zeros((2, 3)), "radius_qc": np.ones((2, 3)), "margin_qc": np.ones((2, 3)),
                 "b0_q": np.zeros(2)},
        (("behaviour_qc", NAN), ("radius_qc", np.ones((2, 4))), ("b0_q", np.full(2, 1.5)), ("atol", -1.0)),
        names={"radius_qc": "radius"}),
    "compare_t2": Spec(
        lambda: {"measured_qc": np.full((2, 3), 0.5), "radius_qc": np.ones((2, 3)), "gaps_qk": np.zeros((2, 2)),
                 "sigma_kk": np.eye(2), "n_mc": 64},
        (("measured_qc", NAN), ("radius_qc", np.ones((2, 4))), ("sigma_kk", NOT_PSD), ("gaps_qk", NAN),
         ("n_mc", 0)), names={"sigma_kk": "cov", "gaps_qk": "gaps", "radius_qc": "radius"}),
    "a3_linear_response": Spec(
        lambda: {"coefficients_c": np.array([-1.0, 0.0, 1.0]), "delta_qcd": H_CBD.swapaxes(0, 1)},
        (("coefficients_c", NAN), ("delta_qcd", np.zeros((2, 4, 8))))),
    "projection_2d": Spec(
        lambda: {"representations_nd": np.random.default_rng(0).normal(size=(6, 4)),
                 "labels_n": np.array([0, 1, 0, 1, 0, 1])},
        (("representations_nd", NAN), ("labels_n", np.zeros(6, int)), ("labels_n", np.array([0, 1, 2])))),
    "tradeoff": Spec(
        lambda: {"behaviour_c": np.linspace(-1, 1, 5), "behaviour_mean_c": np.linspace(-0.5, 0.5, 5),
                 "helpfulness_c": np.linspace(-1, 1, 5), "helpfulness_mean_c": np.full(5, 0.5),
                 "s_a_q": np.ones(2), "kappa_b_q": np.ones(2), "s_h_q": np.ones(2), "kappa_h_q": np.ones(2),
                 "lam": 1.0},
        (("behaviour_mean_c", NAN), ("lam", -1.0), ("s_a_q", np.ones(3)), ("helpfulness_mean_c", np.ones(4)))),
    "a1_margins": Spec(lambda: {"behaviour": bundle().behaviour},
                       (("behaviour", "b"),)),
    "a4_behaviour_mass": Spec(lambda: {"behaviour": bundle().behaviour},
                              (("behaviour", 3),)),
    "a2_gap_changes": Spec(lambda: {"helpfulness": bundle().helpfulness},
                           (("helpfulness", "h"),)),
    "behaviour_values": Spec(lambda: {"behaviour": bundle().behaviour}, (("behaviour", None),)),
    "helpfulness_values": Spec(lambda: {"helpfulness": bundle().helpfulness}, (("helpfulness", None),)),
    "gap_changes": Spec(lambda: {"helpfulness": bundle().helpfulness}, (("helpfulness", 1.0),)),
    "validate_bundle": Spec(
        lambda: {"bundle": bundle()},
        (("bundle", "b"),
         ("bundle", dataclasses.replace(bundle(), behaviour=_sweep_with(
             "behaviour", logprobs_qcr=_nan_in(bundle().behaviour.logprobs_qcr)))),
         ("bundle", dataclasses.replace(bundle(), helpfulness=_sweep_with(
             "helpfulness", delta_qcd=np.zeros((1, 2, 3)))))),
        names={"bundle": "bundle"}),
    "analyze_bundle": Spec(
        lambda: {"bundle": bundle()},
        (("bundle", dataclasses.replace(bundle(), helpfulness=_sweep_with(
            "helpfulness", logprobs_qco=_nan_in(bundle().helpfulness.logprobs_qco)))), ("config", "c")),
        names={"bundle": "bundle"}),
    "save_bundle": Spec(lambda: {"bundle": bundle(), "directory": "/tmp"}, (("bundle", "b"),)),
    "load_bundle": Spec(lambda: {"directory": "/no/such/bundle"}, (("directory", "/no/such/bundle"),),
                        names={"directory": "bundle"}),
    "load_report": Spec(lambda: {"path": "/no/such/report.json"}, (("path", "/no/such/report.json"),),
                        names={"path": "report"}),
    "synthetic_bundle": Spec(lambda: {"seed": 0},
                             (("n_prompts", 0), ("margin", NAN), ("gap_noise", "cauchy"), ("seed", "s"),
                              ("n_questions", -2), ("gap_scale", -1.0))),
    "condition_to_json": Spec(lambda: {"result": {}}, (("result", 3),)),
    "build_report": Spec(lambda: {"results": []}, (("results", 3), ("results", [3]))),
    "render_markdown": Spec(lambda: {"report": {}}, (("report", 3),)),
}

TESTING = {
    "alignment_instances": Spec(lambda: {}, (("min_vocab", 1), ("max_margin", -1.0), ("dim", 0),
                                             ("min_margin", NAN))),
    "behaviour_sweeps": Spec(lambda: {}, (("min_prompts", 0), ("max_margin", NAN), ("responses", ("cubic",)))),
    "covariances": Spec(lambda: {"k": 2}, (("k", 0), ("min_scale", -1.0), ("kinds", ("round",)), ("max_scale", INF))),
    "gap_change_models": Spec(lambda: {}, (("min_k", 0), ("max_variance", -1.0), ("min_gap", NAN))),
    "gap_vectors": Spec(lambda: {}, (("min_k", 0), ("max_gap", NAN), ("min_k", 1.5))),
    "helpfulness_sweeps": Spec(lambda: {}, (("min_questions", 0), ("max_scale", -1.0), ("noises", ("blue",)))),
    "token_sets": Spec(lambda: {"vocab_size": 10}, (("vocab_size", 1), ("min_size", 0), ("max_size", 99))),
    "transformer_configs": Spec(lambda: {}, (("max_layers", 0), ("styles", ("bert",)), ("max_init_std", -1.0))),
    "unit_directions": Spec(lambda: {"dim": 3}, (("dim", 0), ("dim", 1.5))),
    "random_transformers": Spec(lambda: {}, (("configs", 3),)),
    "load_profile": Spec(lambda: {}, (("name", "nope"),), names={"name": "profile 'nope'"}),
    "profile_name": Spec(lambda: {}, (("environ", "CI=true"),)),
    "verify": Spec(lambda: {"assumption": None}, (("assumption", "A1"), ("max_examples", 0))),
    "find_counterexample": Spec(lambda: {"assumption": None}, (("assumption", 3),)),
}

SPECS = {"steerbounds.theory": THEORY, "steerbounds.numerics": NUMERICS, "steerbounds.validation": VALIDATION,
         "steerbounds.testing": TESTING}

# The typed analysis results of steerbounds.validation (ReportRecord and its subclasses).
_REPORT_RECORDS = tuple(name for name, value in vars(importlib.import_module("steerbounds.validation")).items()
                        if isinstance(value, type) and issubclass(value, ReportRecord))

# Public names without input cases, with the reason.
_RESULT = "a result type (NamedTuple or frozen dataclass) the library builds; no user input to check"
_CONFIG = "a frozen config dataclass: its __post_init__ checks are covered by the config tests"
EXEMPT = {
    "steerbounds.theory": {"is_concrete": "a predicate (tracer or not): it raises nothing", "Expectation": _RESULT},
    "steerbounds.numerics": {
        **{name: _RESULT for name in ("A1Margin", "BehaviourReadout", "EncoderOutput", "FirstTokenBehaviour",
                                      "ForwardOutput", "MultipleChoice", "RepresentationChange", "SequenceBehaviour",
                                      "SweepOutput", "TauChoice", "TokenBatch", "ToyEvaluation", "ToyTrainResult",
                                      "Steering", "SteeringVectors", "MCQuestion")},
        **{name: _CONFIG for name in ("TransformerConfig", "EncoderConfig", "ToyTrainConfig")},
        "ControlVector": _RESULT,
        "Recommendation": _RESULT,
        "Transformer": "an nnx.Module built from a checked TransformerConfig (tests/numerics/test_model.py)",
        "Encoder": "an nnx.Module built from a checked EncoderConfig (tests/encoder/test_encoder_model.py)",
        "TextEncoder": "a container of a loaded encoder and tokenizer, built by load_encoder (swept)",
        "ToyModel": "a container returned by load_toy_model (swept)",
        "ToyWorld": "the toy world's fixed facts; no numeric input",
        "WordTokenizer": "the toy tokenizer: unknown words are tested in tests/toy/test_toy_tokenizer.py",
        "TOY_MODEL_DIR": "a constant path",
        "forward_module": "forward() on a module: same checks as forward (swept)",
        "sweep_coefficients": "the kernel behind steering_sweep (swept), called with its checked arguments",
        "steering_vectors_from_pairs": "last_token_states (swept) then contrast_vectors (swept)",
        "encoder_forward": "needs the MiniLM weights; its token checks are in tests/encoder",
        "sentence_embeddings": "needs the MiniLM weights; covered in tests/encoder",
        "steered_embeddings": "needs the MiniLM weights; covered in tests/encoder",
        "embed_texts": "needs the MiniLM weights; covered in tests/encoder",
        "pooled_layer_states": "needs the MiniLM weights; covered in tests/encoder",
        "steered_embed_texts": "needs the MiniLM weights; covered in tests/encoder",
        "tokenize": "needs a tokenizer file; covered in tests/encoder",
        "minilm_path": "no arguments",
        "save_encoder_model": "writes a loaded Encoder; covered in tests/encoder/test_encoder_io.py",
        "save_toy_model": "writes a trained model; covered in tests/toy/test_toy_checkpoint.py",
        "train_toy_model": "minutes of training; its config checks are ToyTrainConfig's",
        "evaluate_toy_model": "evaluates a loaded toy model on the fixed toy world; no numeric input",
        "last_token_log_probs": "the toy model on prompt strings; covered in tests/toy",
        "sweep_mesh": "device layout; covered in tests/numerics/test_sharding.py",
        **{name: _RESULT for name in ("Candidates", "EncodedPrompts", "EncodedTexts", "GGUFFile", "GGUFTensorInfo",
                                      "GGUFTokenizer", "GenerationResult")},
        **{name: "the study model interface and its adapters, built from loaded models; their inputs are checked in "
                 "tests/studies/test_checkpoints.py" for name in ("StudyModel", "DecoderStudyModel",
                                                                 "ReadoutStudyModel", "PromptEncoder",
                                                                 "ToyPromptEncoder", "Readout")},
        "REFUSAL_PREFIXES": "a constant tuple of strings",
        **{name: "the refusal classifier on strings; covered in tests/numerics/test_refusal.py"
           for name in ("is_refusal", "refusal_score")},
        **{name: "reads a GGUF file: truncated files, wrong architectures and tensor types are tested in "
                 "tests/numerics/test_gguf.py" for name in ("read_gguf", "gguf_config", "gguf_parameters",
                                                           "load_gguf_checkpoint", "load_gguf_tokenizer",
                                                           "gguf_chat_tokenizer", "load_gguf_study_model")},
        "smollm2_path": "no arguments; a missing extra is tested in tests/numerics/test_smollm2.py",
        "ChatTokenizer": "needs a tokenizer; bad templates and folders are tested in tests/studies/test_checkpoints.py",
        "compile_chat_template": "template strings; covered in tests/studies/test_checkpoints.py",
        "load_checkpoint_study_model": "reads a checkpoint folder: missing files and unknown model types are tested in "
                                       "tests/studies/test_checkpoints.py",
        **{name: "the generation kernel's inputs (tokens, steering, budgets) are checked in "
                 "tests/numerics/test_generate.py" for name in ("generate", "generation_chunk_size",
                                                               "estimate_generation_bytes",
                                                               "cache_bytes_per_token_per_layer",
                                                               "common_span_length")},
        **{name: "array helpers called by the sweeps and studies with checked arguments; covered in "
                 "tests/studies/test_checkpoints.py" for name in ("log_softmax", "candidate_log_probs",
                                                                 "pad_coefficients")},
    },
    "steerbounds.validation": {
        **{name: _RESULT for name in ("ActivationBundle", "BehaviourSweep", "HelpfulnessSweep", "Projection",
                                      "SequenceSweep")},
        "ValidationConfig": _CONFIG,
        "BundleError": "an exception class",
        "plot_report": "draws a report built by build_report; covered in tests/validation/test_report_and_cli.py",
        "write_report": "writes a report built by build_report; covered in tests/validation/test_report_and_cli.py",
        **{name: "a typed analysis result (a frozen ReportRecord dataclass) the library builds; from_dict's bad "
                 "input is tested in tests/validation/test_typed_results.py" for name in _REPORT_RECORDS},
    },
    "steerbounds.testing": {
        **{name: _RESULT for name in ("AssumptionReport", "Counterexample", "Evaluation", "Verification",
                                      "GapChangeModel", "RandomTransformer")},
        "Assumption": "its field checks are tested in tests/kit/test_kit_assumption.py",
        "Inequality": "checked when evaluated (tests/kit/test_kit_assumption.py)",
        "BoundEvaluationError": "an exception class",
        "register_profiles": "no arguments",
        **{name: "a built-in Assumption object, not a function" for name in ("A1", "A2", "A2_MODEL", "A3", "A4")},
    },
}


def _public(layer):
    return [n for n in importlib.import_module(layer).__all__ if not n.startswith("_")]


def test_every_public_name_is_swept():
    missing, stale = [], []
    for layer in LAYERS:
        names = set(_public(layer))
        covered = set(SPECS[layer]) | set(EXEMPT.get(layer, {}))
        missing += [f"{layer}.{n}" for n in sorted(names - covered)]
        stale += [f"{layer}.{n}" for n in sorted(covered - names)]
    assert not missing, f"public functions without bad-input cases (add a Spec or an EXEMPT reason): {missing}"
    assert not stale, f"cases for names that are no longer public: {stale}"


def _cases():
    for layer, specs in SPECS.items():
        for name, spec in specs.items():
            for index, (arg, value) in enumerate(spec.bad):
                label = value if isinstance(value, str) and value in (NAN, INF) else type(value).__name__
                yield pytest.param(layer, name, arg, index, "plain", id=f"{name}-{arg}-{label}-{index}")
                if arg in spec.jit and (isinstance(value, str) and value in (NAN, INF) or np.ndim(value) == 0
                                        and isinstance(value, float)):
                    yield pytest.param(layer, name, arg, index, "jit", id=f"{name}-{arg}-{label}-{index}-jit")


CASES = list(_cases())


def _valid(layer, name):
    spec = SPECS[layer][name]
    valid = spec.valid()
    if layer == "steerbounds.testing" and "assumption" in valid:
        from steerbounds.testing import A1

        valid["assumption"] = A1
    return valid


@pytest.mark.parametrize("layer,name,arg,index,mode", CASES)
def test_bad_input_raises_an_error_naming_the_argument(layer, name, arg, index, mode):
    function = getattr(importlib.import_module(layer), name)
    spec = SPECS[layer][name]
    valid = _valid(layer, name)
    value = _bad_value(valid, arg, spec.bad[index][1])
    word = spec.names.get(arg, arg)
    if mode == "plain":
        with pytest.raises((ValueError, TypeError, OSError, LookupError)) as info:
            result = function(**{**valid, arg: value})
            if layer == "steerbounds.testing":  # strategies check their arguments when drawn from, at the latest
                result.example() if hasattr(result, "example") else None
    else:
        traced = jax.jit(lambda x: function(**{**valid, arg: x}))
        with pytest.raises(ValueError) as info:
            checked(traced)(jnp.asarray(value))
    assert word in str(info.value), f"{name}({arg}=...): the message does not name {word!r}: {info.value}"
    assert "Traceback" not in str(info.value)
