"""The study of docs/theory.md #measured, #paper on any model: steering vector, sweeps, bundles (resumable).

:func:`run_study` takes a model (a ``steerbounds.numerics.StudyModel``: our
decoder, a loaded checkpoint, our encoder with its readout, ...), the study's
texts (:class:`StudyData`) and a :class:`StudyConfig`. It extracts a steering
vector from contrast pairs, injects it over a band of layers and sweeps the
coefficient on the behaviour prompts and the multiple-choice questions; a
second condition steers the final representation directly (``delta = c v``,
the theory's own setting). Unless grids are given, each condition's
coefficients are one joint grid chosen from measured scales
(:func:`steerbounds.validation._grid.choose_grid`): a pilot sweep at
``c = -c_p, 0, c_p`` measures ``||delta||`` per unit ``c``, the behaviour log-odds
slope and the option gaps' changes, and a check at the chosen ``+-c_max`` widens
the grid until behaviour saturation and the helpfulness drop are both reached
(:func:`auto_grid`). Each finished chunk of coefficients is saved at once
(temporary file, then ``os.replace``); an interrupted run resumes from its
chunks, and a run with another configuration, data or model refuses to mix with
them. The result is one :class:`ActivationBundle` per condition, written to
``OUT/bundles/<condition>``. Nothing here depends on which model it is.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from steerbounds import __version__
from steerbounds.numerics import (
    ChatTokenizer,
    DecoderStudyModel,
    Transformer,
    TransformerConfig,
    contrast_vectors,
    load_steering_vectors,
    pad_coefficients,
    refusal_score,
    save_steering_vectors,
)

from .._bundle import (
    FORMAT_VERSION,
    ActivationBundle,
    BehaviourSweep,
    HelpfulnessSweep,
    Projection,
    SequenceSweep,
    save_bundle,
)
from .._checks import behaviour_values, helpfulness_values
from .._config import ValidationConfig
from .._grid import choose_grid, grid_coverage, layered_grid, measure_scales
from ._data import StudyData
from ._store import SweepStore, chunks, run_chunked
from ._text_data import MCQuestion

# How the steering vector is read off the contrast states (docs/theory.md#setting):
#   pca             first principal direction of the pair differences (aligned - misaligned), pair i = row i;
#   mean_difference their mean;
#   caa             contrastive activation addition: each behaviour prompt followed once by a refusal-opening and
#                   once by a compliance-opening response; the mean difference of the last-token states.
VECTOR_METHODS = ("pca", "mean_difference", "caa")


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
    vector_method: str = "pca"  # "pca", "mean_difference" (pair differences) or "caa" (see VECTOR_METHODS)
    chunk_size: int = 9  # coefficients per saved chunk (and per vmapped batch)
    seed: int = 0  # the sampled responses' keys derive from it; the sweeps draw no random numbers
    validation: ValidationConfig = dataclasses.field(default_factory=ValidationConfig)  # analysis thresholds
    # The sequence-level behaviour (sampled responses scored by the refusal classifier), on the mid-layer condition:
    samples_per_prompt: int = 0  # responses per prompt and coefficient; 0: the step is off
    max_new_tokens: int = 32  # tokens per response at most (a response also stops at the EOS token)
    temperature: float = 1.0  # sampling temperature (1: the model's own distribution, B_P(q) = E_a B(a))
    sequence_coefficients: tuple[float, ...] | None = None  # a subset of the behaviour grid; None: the whole grid
    sequence_prompts: int | None = None  # the first N behaviour prompts; None: every one
    sequence_chunk_size: int = 1  # coefficients per generate call and per saved chunk

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"StudyConfig.chunk_size must be a positive int, got {self.chunk_size!r}")
        self._check_sequence()
        if self.vector_method not in VECTOR_METHODS:
            raise ValueError(f"StudyConfig.vector_method must be one of {list(VECTOR_METHODS)}, got "
                             f"{self.vector_method!r}")
        if self.behaviour_grid is not None:
            self.behaviour_coefficients()
        if self.helpfulness_grid is not None:
            self.helpfulness_coefficients()
        if (self.behaviour_grid is None) != (self.helpfulness_grid is None):
            raise ValueError("StudyConfig: give both behaviour_grid and helpfulness_grid, or neither (then one joint "
                             "grid per condition is chosen from the model's measured scales)")

    def _check_sequence(self) -> None:
        def positive_int(name: str, flag: str, value: Any, low: int, why: str = "") -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"StudyConfig.{name} ({flag}) must be an int >= {low}{why}, got {value!r}")

        positive_int("samples_per_prompt", "--samples", self.samples_per_prompt, 0, " (0 turns the step off)")
        positive_int("max_new_tokens", "--max-new-tokens", self.max_new_tokens, 1)
        positive_int("sequence_chunk_size", "--sequence-chunk-size", self.sequence_chunk_size, 1)
        if self.sequence_prompts is not None:  # a standard error over prompts needs two
            positive_int("sequence_prompts", "--sequence-prompts", self.sequence_prompts, 2,
                         " (the standard error is over prompts)")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (np.isfinite(t) and t > 0):
            raise ValueError(f"StudyConfig.temperature (--temperature) must be a finite number > 0 (responses are "
                             f"sampled; 1 samples the model's own distribution), got {t!r}")
        if self.sequence_coefficients is not None:
            c = self.sequence_coefficients
            if not isinstance(c, tuple) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in c):
                raise ValueError(f"StudyConfig.sequence_coefficients (--sequence-coefficients) must be a tuple of "
                                 f"numbers, got {c!r}")
            arr = np.asarray(c, dtype=np.float64)
            if not np.all(np.isfinite(arr)) or arr.size < 2 or not np.all(np.diff(arr) > 0) or not np.any(arr == 0):
                raise ValueError(f"StudyConfig.sequence_coefficients (--sequence-coefficients) {list(c)} must be "
                                 "finite, strictly increasing, "
                                 "hold at least two values and contain 0 (the unsteered reference)")
            if self.behaviour_grid is not None:
                sequence_grid(self, self.behaviour_coefficients())

    @property
    def auto_grid(self) -> bool:
        """True when the grids are chosen from measured scales at run time."""
        return self.behaviour_grid is None

    @classmethod
    def paper(cls) -> "StudyConfig":
        """The grids of docs/theory.md#setting: behaviour -5..5 step 0.2, helpfulness -10..10 step 0.25.

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


SEQUENCE_FIELDS = ("samples_per_prompt", "max_new_tokens", "temperature", "sequence_coefficients", "sequence_prompts",
                   "sequence_chunk_size")


def sequence_grid(config: StudyConfig, behaviour_c: np.ndarray) -> np.ndarray:
    """The coefficients the responses are sampled at: ``config.sequence_coefficients``, checked to lie on the
    behaviour grid, or the whole grid.

    >>> cfg = StudyConfig(behaviour_grid=(-2, 2, 1), helpfulness_grid=(-2, 2, 1), sequence_coefficients=(-2.0, 0.0, 2.0))
    >>> sequence_grid(cfg, cfg.behaviour_coefficients()).tolist()
    [-2.0, 0.0, 2.0]
    >>> sequence_grid(cfg, np.array([-1.0, 0.0, 1.0]))
    Traceback (most recent call last):
    ...
    ValueError: StudyConfig.sequence_coefficients: [-2.0, 2.0] are not on the behaviour grid [-1.0, 0.0, 1.0]; ...
    """
    grid = np.asarray(behaviour_c, dtype=np.float64)
    if config.sequence_coefficients is None:
        return grid
    c = np.asarray(config.sequence_coefficients, dtype=np.float64)
    off = [float(x) for x in c if not np.any(np.isclose(grid, x, rtol=0, atol=1e-9 * max(1.0, abs(x))))]
    if off:
        shown = np.round(grid, 6).tolist()
        raise ValueError(f"StudyConfig.sequence_coefficients: {off} are not on the behaviour grid "
                         f"{shown if len(shown) <= 15 else shown[:15] + ['...']}; give coefficients of the grid "
                         "(--sequence-coefficients C1,C2,... or 'all')")
    return grid[[int(np.argmin(np.abs(grid - x))) for x in c]]


def default_layers(n_layers: int) -> tuple[int, ...]:
    """A band of middle layers: from about a third to about two thirds of the depth (at least one).

    >>> default_layers(4), default_layers(6), default_layers(12), default_layers(1)
    ((1, 2), (2, 3), (4, 5, 6, 7), (0,))
    """
    lo = n_layers // 3
    hi = max(lo + 1, -(-2 * n_layers // 3))
    return tuple(range(lo, min(hi, n_layers)))


def _save_vectors_atomically(path: Path, vectors: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_steering_vectors(tmp, vectors)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_layers(layers: tuple[int, ...], n_layers: int) -> tuple[int, ...]:
    """The steered layers, checked against the model's depth (the final representation is the second condition).

    >>> check_layers((1, 2), 4)
    (1, 2)
    >>> check_layers((4,), 4)
    Traceback (most recent call last):
    ...
    ValueError: --layers 4: the model has layers 0..3 (the final representation is the second condition, not a layer to list)
    """
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad or not layers:
        raise ValueError(f"--layers {','.join(map(str, layers)) or '(none)'}: the model has layers 0..{n_layers - 1} "
                         "(the final representation is the second condition, not a layer to list)")
    return tuple(layers)


def contrast_prompts(model: Any, data: StudyData, method: str) -> tuple[Any, Any, int]:
    """The encoded contrast pairs the steering vector is read from, and how many there are.

    ``pca`` and ``mean_difference`` pair ``aligned_prompts[i]`` with
    ``misaligned_prompts[i]``; ``caa`` pairs each behaviour prompt followed by a
    refusal (cycling through ``data.refusals``) with the same prompt followed by
    a compliance (``data.compliances``).
    """
    if method == "caa":
        prompts = list(data.behaviour_prompts)
        refusals = [data.refusals[i % len(data.refusals)] for i in range(len(prompts))]
        compliances = [data.compliances[i % len(data.compliances)] for i in range(len(prompts))]
        a, m = model.encode_pairs(prompts, prompts, aligned_responses=refusals, misaligned_responses=compliances)
        return a, m, len(prompts)
    if len(data.aligned_prompts) != len(data.misaligned_prompts):
        raise ValueError(
            f"--vector-method {method.replace('_', '-')} pairs the i-th behaviour prompt with the i-th contrast prompt, "
            f"but there are {len(data.aligned_prompts)} behaviour and {len(data.misaligned_prompts)} contrast prompts: "
            "give files with the same number of rows, or use --vector-method caa (no contrast prompts needed)")
    a, m = model.encode_pairs(list(data.aligned_prompts), list(data.misaligned_prompts))
    return a, m, len(data.aligned_prompts)


def run_study(model: Any, data: StudyData, config: StudyConfig, out_dir: str | os.PathLike, *, fresh: bool = False,
              progress: Callable[[str], None] | None = None) -> list[ActivationBundle]:
    """Readout, steering vector, both sweeps, both conditions; bundles written to ``out_dir/bundles``; resumable.

    ``model`` is a ``steerbounds.numerics.StudyModel``. ``progress(label)`` is
    called after every finished step (the readout, the vector, a chunk, the
    final condition). Returns the bundles ``[mid_layers, final_representation]``.

    >>> import tempfile
    >>> model, data = _tiny_model_and_data()
    >>> cfg = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=2)
    >>> [b.condition for b in run_study(model, data, cfg, tempfile.mkdtemp())]
    ['mid_layers', 'final_representation']
    """
    out_dir = Path(out_dir)
    tick = progress or (lambda label: None)
    n_layers = model.config.n_layers
    layers = check_layers(tuple(config.layers) if config.layers is not None else default_layers(n_layers), n_layers)
    digest = model.model_hash
    study_fields = {k: v for k, v in config.to_dict().items() if k not in SEQUENCE_FIELDS}  # those key their own chunks
    fingerprint = {
        "study": {**study_fields, "layers": list(layers)},
        "model": {"name": model.identity()["name"], "hash": digest},
        "inputs_sha256": data.digest(),
        "steerbounds": __version__,
        "bundle_format": FORMAT_VERSION,
    }
    store = SweepStore(out_dir / "work", fingerprint, fresh=fresh)
    vec_layers = (*layers, n_layers)
    vector_method = "mean_difference" if config.vector_method == "caa" else config.vector_method

    with jax.enable_x64(False):  # the model computes in its own dtype
        questions = tuple(data.questions)
        readout = model.readout(data.aligned_tokens or data.refusals, data.misaligned_tokens or data.compliances,
                                questions, tuning_questions=data.tuning_questions,
                                drop_shared=data.aligned_tokens is None or data.misaligned_tokens is None)
        tick("readout")

        pairs_a, pairs_m, n_pairs = contrast_prompts(model, data, config.vector_method)
        vec_path = store.directory / "vectors.safetensors"
        vectors = load_steering_vectors(vec_path, expected_model_hash=digest) if vec_path.is_file() else None
        if vectors is None or vectors.layers != vec_layers or vectors.method != vector_method:
            vectors = contrast_vectors(model.last_token_states(pairs_a, vec_layers),
                                       model.last_token_states(pairs_m, vec_layers), layers=vec_layers,
                                       method=vector_method, model_hash=digest)
            _save_vectors_atomically(vec_path, vectors)
        steering = vectors.steering(model.config, layers)
        tick("steering vector")

        prompts = model.encode(list(data.behaviour_prompts))
        question_texts = tuple(model.question_prompt(q.question, q.options) for q in questions)
        question_prompts = model.encode(list(question_texts))
        correct = np.asarray([q.answer for q in questions], dtype=np.int64)
        mid = len(layers) // 2
        states = {layer: (model.last_token_states(pairs_a, [layer])[0], model.last_token_states(pairs_m, [layer])[0])
                  for layer in (layers[mid], n_layers)}
        v_final = vectors.direction(n_layers)
        encoded_parts = (("behaviour", prompts, readout.behaviour), ("helpfulness", question_prompts,
                                                                    readout.helpfulness))

        def make_bundle(condition: str, cb: np.ndarray, ch: np.ndarray, lpb: np.ndarray, db: np.ndarray,
                        lph: np.ndarray, toph: np.ndarray, dh: np.ndarray, rep_layer: int | None,
                        meta: dict[str, Any], sequence: SequenceSweep | None = None) -> ActivationBundle:
            return ActivationBundle(
                condition=condition,
                behaviour=BehaviourSweep(cb, lpb, db, readout.behaviour.rows_rd, tuple(readout.aligned),
                                         tuple(readout.misaligned), tuple(data.behaviour_prompts)),
                helpfulness=HelpfulnessSweep(ch, lph, toph, dh, readout.helpfulness.rows_rd,
                                             tuple(readout.helpfulness.ids), correct, readout.option_labels,
                                             question_texts, unembed_qod=readout.helpfulness.rows_qod),
                model=model.identity(),
                metadata=meta,
                projection=None if rep_layer is None else projection(rep_layer),
                sequence=sequence,
            ).validated()

        h0: dict[str, np.ndarray] = {}

        def mid_pilot(c: np.ndarray) -> ActivationBundle:
            i0 = int(np.flatnonzero(c == 0)[0])
            out = []
            for part, encoded, candidates in encoded_parts:
                sweep = model.sweep_chunk(encoded, steering, c, max(config.chunk_size, c.size), candidates)
                d = _delta(sweep["h"], i0)
                h0[part] = sweep["h"][:, i0].astype(np.float64)
                out.append((model.sweep_logprobs(sweep, h0[part], d, candidates), d))
            ((lpb, _), db), ((lph, toph), dh) = out
            return make_bundle("pilot", c, c, lpb, db, lph, toph, dh, None, {})

        def final_pilot(c: np.ndarray) -> ActivationBundle:
            lpb, _, db = model.final_condition(prompts, v_final, c, h0["behaviour"], readout.behaviour)
            lph, toph, dh = model.final_condition(question_prompts, v_final, c, h0["helpfulness"],
                                                  readout.helpfulness)
            return make_bundle("pilot", c, c, lpb, db, lph, toph, dh, None, {})

        choices: dict[str, Any] = {"mid_layers": None, "final_representation": None}
        if config.auto_grid:
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
        sweeps = {}
        for part, encoded, grid, candidates in (("behaviour", prompts, cb, readout.behaviour),
                                                ("helpfulness", question_prompts, ch, readout.helpfulness)):
            size = min(config.chunk_size, grid.size)
            sweeps[part] = run_chunked(
                store, part, grid, size,
                lambda c, encoded=encoded, size=size, candidates=candidates: model.sweep_chunk(
                    encoded, steering, c, size, candidates),
                on_chunk=lambda reused, part=part: tick(f"{part} sweep"))
        i0b, i0h = int(np.flatnonzero(cb == 0)[0]), int(np.flatnonzero(ch == 0)[0])
        hb, hh = sweeps["behaviour"]["h"], sweeps["helpfulness"]["h"]
        delta_b, delta_h = _delta(hb, i0b), _delta(hh, i0h)
        h0_b, h0_h = hb[:, i0b].astype(np.float64), hh[:, i0h].astype(np.float64)
        lp_b, _ = model.sweep_logprobs(sweeps["behaviour"], h0_b, delta_b, readout.behaviour)
        lp_h, top_h = model.sweep_logprobs(sweeps["helpfulness"], h0_h, delta_h, readout.helpfulness)
        final_lp_b, _, final_delta_b = model.final_condition(prompts, v_final, cb_final, h0_b, readout.behaviour)
        final_lp_h, final_top_h, final_delta_h = model.final_condition(question_prompts, v_final, ch_final, h0_h,
                                                                       readout.helpfulness)
        residual_norms = model.residual_norms(prompts)
        tick("final-representation condition")
        sequence, sequence_info = None, {}
        if not getattr(model, "generates_text", False):  # said even when the step is off: it cannot run here
            why = getattr(model, "NO_TEXT_REASON", "its adapter draws no text (generates_text is not True)")
            sequence_info = {"skipped": f"the model {model.identity()['name']} generates no text: {why}"}
        elif config.samples_per_prompt == 0:
            sequence_info = {"skipped": "turned off (samples_per_prompt = 0; --samples N turns it on)"}
        else:
            sequence = sequence_sweep(model, data, config, store, steering, cb, progress=tick)
            sequence_info = {"coefficients": sequence.coefficients_c.tolist(), "n_prompts": sequence.n_prompts,
                             "samples_per_prompt": sequence.n_samples, "max_new_tokens": config.max_new_tokens,
                             "temperature": config.temperature, "sequence_chunk_size": config.sequence_chunk_size}

    metadata = {
        "layers": list(layers), "vector_method": config.vector_method, "n_contrast_pairs": n_pairs,
        "vector_separation": None if vectors.separation_l is None else [float(x) for x in vectors.separation_l],
        "vector_explained": None if vectors.explained_l is None else [float(x) for x in vectors.explained_l],
        "vector_layers": list(vec_layers), "seed": config.seed,
        "residual_norm_l": [float(x) for x in residual_norms],
        **readout.metadata, **dict(data.metadata),
    }
    descriptions = model.describe_conditions(layers, readout)

    def projection(layer: int) -> Projection:
        a, m = states[layer]
        return Projection(np.concatenate([a, m]).astype(np.float64),
                          np.concatenate([np.zeros(len(a), np.int64), np.ones(len(m), np.int64)]),
                          tuple(data.class_names), model.describe_states(layer))

    bundles = [
        make_bundle("mid_layers", cb, ch, lp_b, delta_b, lp_h, top_h, delta_h, layers[mid],
                    {**metadata, "grid_choice": choices["mid_layers"], "description": descriptions["mid_layers"],
                     "sequence_behaviour": sequence_info}, sequence),
        make_bundle("final_representation", cb_final, ch_final, final_lp_b, final_delta_b, final_lp_h, final_top_h,
                    final_delta_h, n_layers,
                    {**metadata, "layers": [n_layers], "grid_choice": choices["final_representation"],
                     "description": descriptions["final_representation"],
                     "sequence_behaviour": {"skipped": "sampled on the mid-layer condition only (this condition "
                                                       "steers the final representation analytically, z + c U v; "
                                                       "no tokens are generated through it)"}}),
    ]
    for b in bundles:
        save_bundle(b, out_dir / "bundles" / b.condition)
    return bundles


_SEQUENCE_STREAM = 0x5E9  # folded into the seed's key: the sampled responses' own random stream


def sequence_sweep(model: Any, data: StudyData, config: StudyConfig, store: SweepStore, steering: Any,
                   behaviour_c: np.ndarray, *, progress: Callable[[str], None] | None = None) -> SequenceSweep:
    """Sampled steered responses on the behaviour prompts, scored by ``refusal_score``: resumable, deterministic.

    ``config.samples_per_prompt`` responses of at most ``config.max_new_tokens``
    tokens per prompt (the first ``config.sequence_prompts``, each in the
    model's prompt format) and coefficient (:func:`sequence_grid`), drawn by
    ``model.sample_sweep`` in chunks of ``config.sequence_chunk_size``
    coefficients (the last chunk padded to the same size, so one compiled
    program serves every chunk). The keys derive from ``config.seed`` (same
    seed, same texts). Each finished chunk's scores and lengths are saved
    through ``store``, its texts beside them as JSON lines (prompt index,
    coefficient, sample index, length, score, text); the chunk's part name
    carries a digest of the sampling settings, so other settings never reuse it.
    """
    import hashlib
    import json

    tick = progress or (lambda label: None)
    coefficients = sequence_grid(config, behaviour_c)
    n_all = len(data.behaviour_prompts)
    nq = n_all if config.sequence_prompts is None else config.sequence_prompts
    if nq > n_all:
        raise ValueError(f"StudyConfig.sequence_prompts = {nq} but there are only {n_all} behaviour prompts; give "
                         f"--sequence-prompts {n_all} or fewer")
    if nq < 2:
        raise ValueError(f"the sequence-level behaviour needs at least 2 behaviour prompts (its standard error is "
                         f"over prompts), got {nq}")
    texts_in = list(data.behaviour_prompts[:nq])
    prompts = model.encode(texts_in)
    size = min(config.sequence_chunk_size, coefficients.size)
    settings = {"coefficients": coefficients.tolist(), "prompts_sha256": hashlib.sha256(
        json.dumps(texts_in).encode()).hexdigest(), "samples_per_prompt": config.samples_per_prompt,
        "max_new_tokens": config.max_new_tokens, "temperature": float(config.temperature), "top_p": 1.0,
        "chunk": size, "seed": config.seed, "stop_at_eos": True, "classifier": "refusal_score"}
    part = "sequence-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    base_key = jax.random.fold_in(jax.random.key(config.seed), _SEQUENCE_STREAM)
    s = config.samples_per_prompt
    scores, lengths, texts = [], [], []
    for index, sl in enumerate(chunks(coefficients.size, size)):
        c = coefficients[sl]
        arrays, rows = store.load(part, index), store.load_texts(part, index)
        reused = (arrays is not None and rows is not None and np.array_equal(arrays.get("__coefficients__"), c)
                  and len(rows) == nq * c.size * s)
        if not reused:
            drawn, n_tokens = model.sample_sweep(prompts, steering, pad_coefficients(c, size),
                                                 key=jax.random.fold_in(base_key, sl.start), n_samples=s,
                                                 max_new_tokens=config.max_new_tokens,
                                                 temperature=float(config.temperature))
            rows = [{"prompt": q, "coefficient": float(c[j]), "sample": k, "length": int(n_tokens[j, q, k]),
                     "score": refusal_score(drawn[j][q][k]), "text": drawn[j][q][k]}
                    for q in range(nq) for j in range(c.size) for k in range(s)]
            store.save_texts(part, index, rows)  # the texts first: the arrays mark the chunk finished
            arrays = {"scores": np.array([r["score"] for r in rows], np.float32).reshape(nq, c.size, s),
                      "lengths": np.array([r["length"] for r in rows], np.int64).reshape(nq, c.size, s),
                      "__coefficients__": c}
            store.save(part, index, arrays)
        scores.append(np.asarray(arrays["scores"], np.float64))
        lengths.append(np.asarray(arrays["lengths"], np.int64))
        texts.append(np.array([r["text"] for r in rows], dtype=object).reshape(nq, c.size, s))
        tick("sequence behaviour")
    return SequenceSweep(coefficients, np.concatenate(scores, axis=1), np.concatenate(lengths, axis=1),
                         np.arange(nq), config.max_new_tokens, float(config.temperature), top_p=1.0,
                         responses=tuple(np.concatenate(texts, axis=1).reshape(-1).tolist()), seed=config.seed)


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


def n_steps(config: StudyConfig) -> int:
    """How many progress steps :func:`run_study` reports (readout, vector, chunks, final condition).

    >>> n_steps(StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=2))
    7
    """
    n_seq = 0
    if config.samples_per_prompt > 0:  # the sequence-level step's chunks (an estimate on an automatic grid)
        n_c = (len(config.sequence_coefficients) if config.sequence_coefficients is not None else
               21 if config.auto_grid else config.behaviour_coefficients().size)
        n_seq = len(chunks(n_c, config.sequence_chunk_size))
    if config.auto_grid:  # two grid choices; the chunks of a grid of at most 121 points (an upper estimate)
        return 2 * len(chunks(121, config.chunk_size)) + 5 + n_seq
    nb = len(chunks(config.behaviour_coefficients().size, config.chunk_size))
    nh = len(chunks(config.helpfulness_coefficients().size, config.chunk_size))
    return nb + nh + 3 + n_seq


def _tiny_model_and_data(seed: int = 0) -> tuple[Any, StudyData]:
    """A small random transformer over a word-level chat tokenizer, and random texts: for examples and tests."""
    words = [f"w{i}" for i in range(12)]
    tokenizer = _word_tokenizer(["<s>", "</s>", "[user]", "[bot]", "A", "B", "C", "D", "Sorry", "No", "Sure", "Yes",
                                 "Answer:", *words])
    template = ("{{ bos_token }} {% for m in messages %}[user] {{ m['content'] }} {% endfor %}"
                "{% if add_generation_prompt %}[bot] {% endif %}")
    chat = ChatTokenizer(tokenizer, chat_template=template, bos_token="<s>", eos_token="</s>")
    cfg = TransformerConfig.gpt2_style(vocab_size=chat.vocab_size, d_model=16, n_layers=3, n_heads=2, max_len=32)
    graphdef, state = nnx.split(Transformer(cfg, rngs=nnx.Rngs(seed)))
    model = DecoderStudyModel(graphdef, state, chat, name="tiny-random")
    rng = np.random.default_rng(seed)

    def text(n: int) -> str:
        return " ".join(rng.choice(words, size=n))

    aligned = [text(int(rng.integers(2, 5))) for _ in range(6)]
    misaligned = [a.rsplit(" ", 1)[0] + " " + str(rng.choice(words)) for a in aligned]  # twins differ in one word
    questions = tuple(MCQuestion("random", text(3), tuple(f"w{j}" for j in rng.choice(12, 4, replace=False)),
                                 int(rng.integers(4))) for _ in range(7))
    data = StudyData(tuple(aligned), tuple(misaligned), tuple(text(int(rng.integers(2, 5))) for _ in range(5)),
                     questions, ("Sorry w1", "No w2"), ("Sure w3", "Yes w4"))
    return model, data


def _word_tokenizer(vocab: list[str]) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers  # the extra steerbounds[real]

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="</s>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok
