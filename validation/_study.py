"""The study of THEORY.md sections 5-6 on a model of ours: steering vector, sweeps, bundles (resumable).

Given a model (``steerbounds.numerics``) and its prompts (:class:`StudyInputs`),
:func:`run_study` extracts a steering vector from contrast pairs (first principal
component of the pair differences), injects it over a band of layers and sweeps
the coefficient on harmful prompts (behaviour) and multiple-choice questions
(helpfulness); a second condition steers the final representation directly
through the analytic path ``z_c = z + c (U v)``. Unless grids are given, each
condition's coefficients are one joint grid chosen from measured scales
(:func:`steerbounds.validation._grid.choose_grid`): a pilot sweep at
``c = -c_p, 0, c_p`` measures ``||delta||`` per unit ``c``, the behaviour log-odds
slope and the option gaps' changes, and a check at the chosen ``+-c_max`` widens
the grid until behaviour saturation and the helpfulness drop are both reached. Each finished chunk of
coefficients is saved at once (temporary file, then ``os.replace``); an
interrupted run resumes from its chunks, and a run with another configuration or
model refuses to mix with them. The result is one :class:`ActivationBundle` per
condition, written to ``OUT/bundles/<condition>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._bundle import FORMAT_VERSION, ActivationBundle, BehaviourSweep, HelpfulnessSweep, Projection, save_bundle
from ._config import ValidationConfig
from ._store import SweepStore, chunks, run_chunked


def coefficient_grid(start: float, stop: float, step: float, *, name: str = "grid") -> np.ndarray:
    """The grid ``start, start + step, ..., stop`` (inclusive), checked to be non-empty and to contain 0.

    Points are ``start + k * step`` rounded to 12 decimals, so ``0`` is exactly 0.

    >>> coefficient_grid(-1, 1, 0.5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> coefficient_grid(0.5, 2, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: grid 0.5:2:0.5 does not contain 0; ...
    """
    if not all(np.isfinite([start, stop, step])):
        raise ValueError(f"{name} {start}:{stop}:{step}: start, stop and step must be finite")
    if step <= 0:
        raise ValueError(f"{name} {start}:{stop}:{step}: step must be positive")
    if stop < start:
        raise ValueError(f"{name} {start}:{stop}:{step} is empty (stop < start); give START <= STOP")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    grid = np.round(start + step * np.arange(n), 12) + 0.0  # + 0.0 turns -0.0 into 0.0
    if not np.any(grid == 0.0):
        raise ValueError(f"{name} {start}:{stop}:{step} does not contain 0; the unsteered model (c = 0) is the "
                         "reference of every statement: choose START and STEP so that 0 is on the grid")
    if grid.size < 2:
        raise ValueError(f"{name} {start}:{stop}:{step} holds only c = 0; sweep at least one c != 0")
    return grid


@dataclasses.dataclass(frozen=True)
class StudyInputs:
    """A model and the prompts of the study (token arrays left-padded, masks 1 on tokens).

    >>> [f.name for f in dataclasses.fields(StudyInputs)][:3]
    ['model_name', 'graphdef', 'state']
    """

    model_name: str  # e.g. "toy"
    graphdef: Any  # nnx.GraphDef of a steerbounds.numerics.Transformer
    state: Any  # its nnx.State
    pairs_aligned_bt: np.ndarray  # contrast pairs, aligned member (e.g. harmful instruction: refusal expected)
    pairs_aligned_mask_bt: np.ndarray
    pairs_misaligned_bt: np.ndarray  # contrast pairs, misaligned member (e.g. harmless twin: compliance)
    pairs_misaligned_mask_bt: np.ndarray
    prompts_bt: np.ndarray  # held-out harmful prompts (behaviour sweep)
    prompts_mask_bt: np.ndarray
    aligned_ids: tuple[int, ...]  # A+ (e.g. refusal openers)
    misaligned_ids: tuple[int, ...]  # A- (e.g. compliance openers)
    questions_bt: np.ndarray  # held-out multiple-choice questions (helpfulness sweep)
    questions_mask_bt: np.ndarray
    option_ids: tuple[int, ...]  # option letter tokens
    correct_q: np.ndarray  # index into option_ids of each correct answer
    prompt_texts: tuple[str, ...] | None = None
    question_texts: tuple[str, ...] | None = None
    option_labels: tuple[str, ...] | None = None
    class_names: tuple[str, str] = ("aligned member", "misaligned member")  # names of the contrast classes

    def digest(self) -> str:
        """SHA-256 of every token array and id set (part of the resume fingerprint).

        >>> len(_tiny_inputs().digest())
        64
        """
        h = hashlib.sha256()
        for f in dataclasses.fields(self):
            if f.name in ("graphdef", "state"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                a = np.ascontiguousarray(value)
                h.update(f"{f.name}|{a.dtype.str}|{a.shape}".encode())
                h.update(a.tobytes())
            else:
                h.update(f"{f.name}|{value!r}".encode())
        return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """What the study sweeps and how it saves its progress.

    By default (both grids ``None``) each condition gets one joint grid chosen
    from the model's measured scales; :meth:`paper` gives the paper's fixed grids.

    >>> StudyConfig.paper().behaviour_coefficients().size, StudyConfig.paper().helpfulness_coefficients().size
    (51, 81)
    >>> StudyConfig().auto_grid
    True
    """

    behaviour_grid: tuple[float, float, float] | None = None  # start, stop, step; None: chosen from measured scales
    helpfulness_grid: tuple[float, float, float] | None = None  # start, stop, step; None: chosen from measured scales
    layers: tuple[int, ...] | None = None  # steered layers; None: default_layers(n_layers)
    vector_method: str = "pca"  # "pca" or "mean_difference" over the contrast-pair differences
    chunk_size: int = 9  # coefficients per saved chunk (and per vmapped batch)
    seed: int = 0  # recorded; the study itself draws no random numbers
    validation: ValidationConfig = dataclasses.field(default_factory=ValidationConfig)  # analysis thresholds

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"StudyConfig.chunk_size must be a positive int, got {self.chunk_size!r}")
        if self.vector_method not in ("pca", "mean_difference"):
            raise ValueError(f"StudyConfig.vector_method must be 'pca' or 'mean_difference', got {self.vector_method!r}")
        if (self.behaviour_grid is None) != (self.helpfulness_grid is None):
            raise ValueError("StudyConfig: give both behaviour_grid and helpfulness_grid, or neither (then one joint "
                             "grid per condition is chosen from the model's measured scales)")
        if not self.auto_grid:
            self.behaviour_coefficients()
            self.helpfulness_coefficients()

    @property
    def auto_grid(self) -> bool:
        """True when the grids are chosen from measured scales at run time."""
        return self.behaviour_grid is None

    @classmethod
    def paper(cls) -> "StudyConfig":
        """The grids of THEORY.md section 1: behaviour -5..5 step 0.2, helpfulness -10..10 step 0.25.

        >>> StudyConfig.paper().behaviour_grid
        (-5.0, 5.0, 0.2)
        """
        return cls(behaviour_grid=(-5.0, 5.0, 0.2), helpfulness_grid=(-10.0, 10.0, 0.25))

    def behaviour_coefficients(self) -> np.ndarray:
        """The behaviour grid as an array.

        >>> StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1)).behaviour_coefficients().tolist()
        [-1.0, 0.0, 1.0]
        """
        if self.behaviour_grid is None:
            raise ValueError("the behaviour grid is chosen from measured scales when the study runs")
        return coefficient_grid(*self.behaviour_grid, name="behaviour grid")

    def helpfulness_coefficients(self) -> np.ndarray:
        """The helpfulness grid as an array.

        >>> StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-2, 2, 2)).helpfulness_coefficients().tolist()
        [-2.0, 0.0, 2.0]
        """
        if self.helpfulness_grid is None:
            raise ValueError("the helpfulness grid is chosen from measured scales when the study runs")
        return coefficient_grid(*self.helpfulness_grid, name="helpfulness grid")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the validation thresholds nested).

        >>> StudyConfig().to_dict()["chunk_size"]
        9
        """
        d = dataclasses.asdict(self)
        d["validation"] = self.validation.to_dict()
        d["layers"] = None if self.layers is None else list(self.layers)
        return d


def default_layers(n_layers: int) -> tuple[int, ...]:
    """A band of middle layers: from about a third to about two thirds of the depth (at least one).

    >>> default_layers(4), default_layers(6), default_layers(12), default_layers(1)
    ((1, 2), (2, 3), (4, 5, 6, 7), (0,))
    """
    lo = n_layers // 3
    hi = max(lo + 1, -(-2 * n_layers // 3))
    return tuple(range(lo, min(hi, n_layers)))


def _log_softmax_columns(logits_cbv: np.ndarray, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Full-vocabulary log-probabilities at ``ids`` and their maximum, as (b, c, r) and (b, c)."""
    from scipy.special import logsumexp

    z = np.asarray(logits_cbv, dtype=np.float64)
    lse = logsumexp(z, axis=-1, keepdims=True)
    lp = z - lse
    return np.moveaxis(lp[..., ids], 0, 1), np.moveaxis(lp.max(-1), 0, 1)


def _save_vectors_atomically(path: Path, vectors: Any) -> None:
    from steerbounds.numerics import save_steering_vectors

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_steering_vectors(tmp, vectors)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _sweep_chunk(inputs: StudyInputs, steering: Any, tokens_bt: np.ndarray, mask_bt: np.ndarray, ids: list[int],
                 coefficients: np.ndarray, chunk_size: int) -> dict[str, np.ndarray]:
    """One chunk of a mid-layer sweep (padded to ``chunk_size`` so every chunk reuses one compilation)."""
    from steerbounds.numerics import steering_sweep

    n = coefficients.size
    padded = np.concatenate([coefficients, np.repeat(coefficients[-1:], chunk_size - n)])
    out = steering_sweep(inputs.graphdef, inputs.state, tokens_bt, steering, padded, mask_bt=mask_bt,
                         return_logits=True, return_h=True, chunk_size=chunk_size)
    lp, top = _log_softmax_columns(np.asarray(out.logits_cbv)[:n], ids)
    h = np.moveaxis(np.asarray(out.h_cbd, dtype=np.float32)[:n], 0, 1)  # the model's own precision
    return {"logprobs": lp, "max_logprob": top, "h": h}


def run_study(inputs: StudyInputs, config: StudyConfig, out_dir: str | os.PathLike, *, fresh: bool = False,
              progress: Callable[[str], None] | None = None) -> list[ActivationBundle]:
    """Steering vector, both sweeps, both conditions; bundles written to ``out_dir/bundles``; resumable.

    ``progress(label)`` is called after every finished step (a chunk, the
    vectors, a condition). Returns the bundles ``[mid_layers, final_representation]``.

    >>> import tempfile
    >>> cfg = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=2)
    >>> [b.condition for b in run_study(_tiny_inputs(), cfg, tempfile.mkdtemp())]
    ['mid_layers', 'final_representation']
    """
    import jax

    from steerbounds import __version__
    from steerbounds.numerics import (
        graphdef_config,
        last_token_states,
        load_steering_vectors,
        model_hash,
        steering_vectors_from_pairs,
    )

    out_dir = Path(out_dir)
    tick = progress or (lambda label: None)
    model_config = graphdef_config(inputs.graphdef, inputs.state)
    n_layers = model_config.n_layers
    layers = tuple(config.layers) if config.layers is not None else default_layers(n_layers)
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad or not layers:
        raise ValueError(f"layers {list(layers)}: steered layers must be block indices in 0..{n_layers - 1} "
                         "(the final representation is the second condition)")
    digest = model_hash(inputs.state)
    fingerprint = {
        "study": {**config.to_dict(), "layers": list(layers)},
        "model": {"name": inputs.model_name, "hash": digest},
        "inputs_sha256": inputs.digest(),
        "steerbounds": __version__,
        "bundle_format": FORMAT_VERSION,
    }
    store = SweepStore(out_dir / "work", fingerprint, fresh=fresh)
    vec_path = store.directory / "vectors.safetensors"
    with jax.enable_x64(False):  # the model computes in its own dtype
        vectors = load_steering_vectors(vec_path, expected_model_hash=digest) if vec_path.is_file() else None
        if vectors is None or vectors.layers != (*layers, n_layers) or vectors.method != config.vector_method:
            vectors = steering_vectors_from_pairs(
                inputs.graphdef, inputs.state, inputs.pairs_aligned_bt, inputs.pairs_misaligned_bt,
                aligned_mask_bt=inputs.pairs_aligned_mask_bt, misaligned_mask_bt=inputs.pairs_misaligned_mask_bt,
                layers=(*layers, n_layers), method=config.vector_method)
            _save_vectors_atomically(vec_path, vectors)
        tick("steering vector")
        steering = vectors.steering(model_config, layers)
        behaviour_ids = list(inputs.aligned_ids) + list(inputs.misaligned_ids)
        option_ids = list(inputs.option_ids)
        mid = len(layers) // 2
        states = {}
        for layer in (layers[mid], n_layers):
            a = last_token_states(inputs.graphdef, inputs.state, inputs.pairs_aligned_bt,
                                  mask_bt=inputs.pairs_aligned_mask_bt, layers=[layer])[0]
            m = last_token_states(inputs.graphdef, inputs.state, inputs.pairs_misaligned_bt,
                                  mask_bt=inputs.pairs_misaligned_mask_bt, layers=[layer])[0]
            states[layer] = (a, m)
        direction = vectors.direction(n_layers)
        choices: dict[str, Any] = {"mid_layers": None, "final_representation": None}
        if config.auto_grid:
            def mid_pilot(c: np.ndarray) -> ActivationBundle:
                size = config.chunk_size
                chunk_b = _sweep_chunk(inputs, steering, inputs.prompts_bt, inputs.prompts_mask_bt, behaviour_ids,
                                       c, max(size, c.size))
                chunk_h = _sweep_chunk(inputs, steering, inputs.questions_bt, inputs.questions_mask_bt, option_ids,
                                       c, max(size, c.size))
                i0 = int(np.flatnonzero(c == 0)[0])
                return _bundle("pilot", inputs, c, c, chunk_b["logprobs"], _delta(chunk_b["h"], i0),
                               chunk_h["logprobs"], chunk_h["max_logprob"], _delta(chunk_h["h"], i0), {}, {}, None)

            def final_pilot(c: np.ndarray) -> ActivationBundle:
                lp_b, delta_b, lp_h, top_h, delta_h = _final_condition(inputs, direction, c, c, behaviour_ids,
                                                                       option_ids)
                return _bundle("pilot", inputs, c, c, lp_b, delta_b, lp_h, top_h, delta_h, {}, {}, None)

            scale_mid = float(np.median(np.linalg.norm(np.concatenate(states[layers[mid]]), axis=-1)))
            scale_final = float(np.median(np.linalg.norm(np.concatenate(states[n_layers]), axis=-1)))
            choices["mid_layers"] = auto_grid(mid_pilot, PILOT_FRACTION * scale_mid)
            tick("grid (mid layers)")
            choices["final_representation"] = auto_grid(final_pilot, PILOT_FRACTION * scale_final)
            tick("grid (final representation)")
            cb = ch = np.asarray(choices["mid_layers"]["coefficients"], dtype=np.float64)
            cb_final = ch_final = np.asarray(choices["final_representation"]["coefficients"], dtype=np.float64)
        else:
            cb, ch = config.behaviour_coefficients(), config.helpfulness_coefficients()
            cb_final, ch_final = cb, ch
        size_b, size_h = min(config.chunk_size, cb.size), min(config.chunk_size, ch.size)
        sweep_b = run_chunked(store, "behaviour", cb, size_b,
                              lambda c: _sweep_chunk(inputs, steering, inputs.prompts_bt, inputs.prompts_mask_bt,
                                                     behaviour_ids, c, size_b),
                              on_chunk=lambda reused: tick("behaviour sweep"))
        sweep_h = run_chunked(store, "helpfulness", ch, size_h,
                              lambda c: _sweep_chunk(inputs, steering, inputs.questions_bt, inputs.questions_mask_bt,
                                                     option_ids, c, size_h),
                              on_chunk=lambda reused: tick("helpfulness sweep"))
        final = _final_condition(inputs, direction, cb_final, ch_final, behaviour_ids, option_ids)
    tick("final-representation condition")

    meta = {"layers": list(layers), "vector_method": config.vector_method, "n_contrast_pairs": vectors.n_pairs,
            "vector_separation": None if vectors.separation_l is None else [float(x) for x in vectors.separation_l],
            "seed": config.seed}
    model = {"name": inputs.model_name, "hash": digest}

    def projection(layer: int, where: str) -> Projection:
        a, m = states[layer]
        return Projection(np.concatenate([a, m]).astype(np.float64),
                          np.concatenate([np.zeros(len(a), np.int64), np.ones(len(m), np.int64)]),
                          inputs.class_names, f"contrast pairs, last token, {where}")

    i0b, i0h = int(np.flatnonzero(cb == 0)[0]), int(np.flatnonzero(ch == 0)[0])

    bundles = [
        _bundle("mid_layers", inputs, cb, ch, sweep_b["logprobs"], _delta(sweep_b["h"], i0b),
                sweep_h["logprobs"], sweep_h["max_logprob"], _delta(sweep_h["h"], i0h),
                model, {**meta, "grid_choice": choices["mid_layers"],
                        "description": f"steering vector added after layers {list(layers)} at every "
                                       f"position; delta read from the final representation"},
                projection(layers[mid], f"after layer {layers[mid]}")),
        _bundle("final_representation", inputs, cb_final, ch_final, *final, model,
                {**meta, "layers": [n_layers], "grid_choice": choices["final_representation"],
                 "description": "the final representation steered directly "
                 "(analytic path z_c = z + c U v, delta = c v): the theory's own setting"},
                projection(n_layers, "final representation")),
    ]
    for b in bundles:
        save_bundle(b, out_dir / "bundles" / b.condition)
    return bundles


PILOT_FRACTION = 0.05  # pilot coefficient as a fraction of the median last-token norm at the steered layer
MAX_WIDENINGS = 6  # times the chosen c_max may grow by half before the grid is taken as it is


def _delta(h: np.ndarray, i0: int) -> np.ndarray:
    """Change of the final representation from c = 0, stored in float32 (the precision of h)."""
    return (h.astype(np.float64) - h[:, i0 : i0 + 1]).astype(np.float32)


def auto_grid(measure: Callable[[np.ndarray], ActivationBundle], c_pilot: float, *,
              max_widenings: int = MAX_WIDENINGS) -> dict[str, Any]:
    """A joint grid from measured scales: pilot at ``-c_pilot, 0, c_pilot``, then checks at ``+-c_max``.

    ``measure(coefficients)`` sweeps the model and returns a bundle. The grid is
    :func:`~steerbounds.validation._grid.choose_grid` of the pilot's scales; while
    a check at ``-c_max, 0, c_max`` does not reach both targets
    (:func:`~steerbounds.validation._grid.grid_coverage`), ``c_max`` grows by half.
    Returns the choice (JSON-ready) with its ``coefficients``.

    >>> from steerbounds.validation import synthetic_bundle
    >>> measure = lambda c: synthetic_bundle(seed=0, n_prompts=4, n_questions=30, behaviour_coefficients=c,
    ...                                      helpfulness_coefficients=c)
    >>> out = auto_grid(measure, 0.5)
    >>> out["coefficients"][0] == -out["c_max"], out["check"]["covered"]
    (True, True)
    """
    import math

    from ._checks import behaviour_values, helpfulness_values
    from ._grid import choose_grid, grid_coverage, layered_grid, measure_scales

    if not (c_pilot > 0 and math.isfinite(c_pilot)):
        raise ValueError(f"c_pilot must be positive and finite, got {c_pilot}")
    pilot = measure(np.array([-c_pilot, 0.0, c_pilot]))
    choice = choose_grid(measure_scales(pilot))
    out = choice.as_dict()
    grid = choice.coefficients
    c_max = choice.c_max
    reaches = [choice.safety * x for x in (*choice.c_saturation, *choice.c_drop) if math.isfinite(x) and x > 0]
    widened = []
    cov: dict[str, Any] = {}
    for _ in range(max_widenings + 1):
        c3 = np.array([-c_max, 0.0, c_max])
        check = measure(c3)
        b = behaviour_values(check.behaviour).mean(0)
        h = helpfulness_values(check.helpfulness)["restricted_qc"].mean(0)
        cov = grid_coverage(c3, b, h, n_options=check.helpfulness.n_options)
        if cov["covered"] or len(widened) == max_widenings:
            break
        widened.append(c_max)
        reaches.append(1.5 * c_max)  # one more, coarser layer out to 1.5 c_max
        grid, steps = layered_grid(reaches, 10)
        c_max = float(grid[-1])
        out["steps"] = list(steps)
    out.update({"c_pilot": float(c_pilot), "c_max": c_max, "widened_from": widened, "check": cov,
                "coefficients": grid.tolist(), "n_coefficients": int(grid.size)})
    if not cov["covered"]:
        out["notes"] = [*out["notes"], f"the check at c = +-{c_max:.4g} still misses a target after "
                        f"{len(widened)} widenings; the grid is used as it is"]
    return out


def _final_condition(inputs: StudyInputs, v_d: np.ndarray, cb: np.ndarray, ch: np.ndarray, behaviour_ids: list[int],
                     option_ids: list[int]) -> tuple[np.ndarray, ...]:
    """Final-representation steering through the analytic path ``z_c = z + c (U v)``; ``delta = c v``."""
    import jax
    from flax import nnx

    from steerbounds.numerics import final_steering_logits, forward, last_positions

    u_vd, _ = nnx.merge(inputs.graphdef, inputs.state).unembedding()
    v = np.asarray(v_d, dtype=np.float32) / np.linalg.norm(v_d)
    out = []
    for tokens, mask, coefficients, ids in ((inputs.prompts_bt, inputs.prompts_mask_bt, cb, behaviour_ids),
                                            (inputs.questions_bt, inputs.questions_mask_bt, ch, option_ids)):
        logits_btv = forward(inputs.graphdef, inputs.state, tokens, mask_bt=mask).logits_btv
        last = np.asarray(last_positions(jax.numpy.asarray(mask)))
        z_bv = np.asarray(logits_btv)[np.arange(tokens.shape[0]), last]
        z_cbv = final_steering_logits(z_bv, u_vd, v, coefficients.astype(np.float32), normalize=False)
        lp, top = _log_softmax_columns(np.asarray(z_cbv), ids)
        delta = (coefficients[None, :, None] * v.astype(np.float64)[None, None, :]).astype(np.float32)
        out += [lp, top, np.broadcast_to(delta, (tokens.shape[0], *delta.shape[1:])).copy()]
    lp_b, _, delta_b, lp_h, top_h, delta_h = out
    return lp_b, delta_b, lp_h, top_h, delta_h


def _bundle(condition: str, inputs: StudyInputs, cb: np.ndarray, ch: np.ndarray, lp_b: np.ndarray,
            delta_b: np.ndarray, lp_h: np.ndarray, top_h: np.ndarray, delta_h: np.ndarray, model: dict[str, Any],
            metadata: dict[str, Any], projection: Projection | None) -> ActivationBundle:
    from flax import nnx

    u_vd, _ = nnx.merge(inputs.graphdef, inputs.state).unembedding()
    u = np.asarray(u_vd, dtype=np.float64)
    behaviour_ids = list(inputs.aligned_ids) + list(inputs.misaligned_ids)
    return ActivationBundle(
        condition=condition,
        behaviour=BehaviourSweep(cb, lp_b, delta_b, u[behaviour_ids], tuple(inputs.aligned_ids),
                                 tuple(inputs.misaligned_ids), inputs.prompt_texts),
        helpfulness=HelpfulnessSweep(ch, lp_h, top_h, delta_h, u[list(inputs.option_ids)], tuple(inputs.option_ids),
                                     np.asarray(inputs.correct_q, dtype=np.int64), inputs.option_labels,
                                     inputs.question_texts),
        model=model,
        metadata=metadata,
        projection=projection,
    ).validated()


def n_steps(config: StudyConfig) -> int:
    """How many progress steps :func:`run_study` reports (chunks, vector, final condition).

    >>> n_steps(StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=2))
    6
    """
    if config.auto_grid:  # two grid choices; the chunks of a grid of at most 121 points (an upper estimate)
        return 2 * len(chunks(121, config.chunk_size)) + 4
    nb = len(chunks(config.behaviour_coefficients().size, config.chunk_size))
    nh = len(chunks(config.helpfulness_coefficients().size, config.chunk_size))
    return nb + nh + 2


def _tiny_inputs(seed: int = 0) -> StudyInputs:
    """A small random transformer with random prompts: for examples and tests of the study machinery."""
    from flax import nnx

    from steerbounds.numerics import Transformer, TransformerConfig

    cfg = TransformerConfig.gpt2_style(vocab_size=24, d_model=16, n_layers=3, n_heads=2, max_len=8)
    graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(seed)))
    rng = np.random.default_rng(seed)

    def batch(n: int) -> tuple[np.ndarray, np.ndarray]:
        lengths = rng.integers(3, 7, size=n)
        tokens = np.zeros((n, 6), np.int32)
        mask = np.zeros((n, 6), np.int32)
        for i, length in enumerate(lengths):
            tokens[i, 6 - length :] = rng.integers(8, 24, size=length)
            mask[i, 6 - length :] = 1
        return tokens, mask

    pa, pam = batch(6)
    pm, pmm = pa.copy(), pam.copy()
    pm[:, -2] = rng.integers(8, 24, size=6)  # the twins differ in one word
    prompts, prompts_mask = batch(5)
    questions, questions_mask = batch(7)
    return StudyInputs("tiny-random", graphdef, state, pa, pam, pm, pmm, prompts, prompts_mask, (0, 1), (2, 3),
                       questions, questions_mask, (4, 5, 6, 7), rng.integers(0, 4, size=7),
                       option_labels=("A", "B", "C", "D"))
