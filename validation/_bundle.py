"""Activation bundles: what the validation needs from any steered model, on disk.

A bundle is one *condition* (one way of steering one model) swept over two
coefficient grids: a behaviour sweep over prompts (docs/theory.md#alignment) and a
helpfulness sweep over multiple-choice questions (section 3). It is a directory
holding two files:

* ``manifest.json``: format name and version, the condition, the model, the token
  sets, the correct answers, free-form metadata, the shape of every array, and
  the SHA-256 of the array file;
* ``arrays.safetensors``: the arrays below (float32 or float64), by name.

================================  ============================================
array                              meaning
================================  ============================================
``behaviour.coefficients_c``       the behaviour grid (strictly increasing, contains 0)
``behaviour.logprobs_qcr``         log P(t | prompt q, coefficient c) over the FULL
                                   vocabulary, at the behaviour tokens r (aligned
                                   ids then misaligned ids, in manifest order)
``behaviour.delta_qcd``            delta_c(q) = h_c(q) - h_0(q), the change of the
                                   final representation (after the final norm)
``behaviour.unembed_rd``           unembedding rows of the behaviour tokens
``helpfulness.coefficients_c``     the helpfulness grid (strictly increasing, contains 0)
``helpfulness.logprobs_qco``       log P(option o | question q, c), full vocabulary
``helpfulness.max_logprob_qc``     max_t log P(t | q, c) over the full vocabulary
                                   (for full-vocabulary accuracy)
``helpfulness.delta_qcd``          delta_c(q) for the questions
``helpfulness.unembed_od``         unembedding rows of the option tokens, shared by
                                   every question
``helpfulness.unembed_qod``        instead of ``unembed_od`` (format version 2): rows
                                   per question, for readouts whose candidates differ
                                   from question to question (q, o, d)
``projection.representations_nd``  optional: representations of two classes
``projection.labels_n``            optional: their class (0 or 1, int)
``sequence.coefficients_c``        optional: coefficients of the sampled responses
                                   (a subset of the behaviour grid, contains 0)
``sequence.scores_qcs``            their scores B(a) in {-1, 0, +1}, per prompt,
                                   coefficient and sample
``sequence.lengths_qcs``           tokens of each response (int)
``sequence.prompt_indices_q``      which behaviour prompts were sampled (int)
================================  ============================================

The optional sequence-level behaviour (docs/theory.md#alignment, the sequence
form) comes with a ``sequence`` entry in the manifest (sampling settings, the
classifier) and, when the texts are kept, ``sequence_responses.jsonl`` beside
the two files: one JSON object per response, its SHA-256 in the manifest. A
bundle without it is read as before; readers that predate it ignore it (with a
warning about arrays they do not read).

Log-probabilities rather than raw logits are stored so that the full-vocabulary
normaliser travels with the few token columns the theory needs.

Version 1 bundles have one shared ``unembed_od``. Version 2 adds the
alternative ``unembed_qod``: a readout over candidate answers (e.g. a sentence
encoder scoring each question's own options) has a different unembedding for
every question, and the analysis then uses each question's own rows. A bundle
with shared rows is still written as version 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "steerbounds-activation-bundle"
FORMAT_VERSION = 2  # the newest version this code writes and reads
SUPPORTED_VERSIONS = (1, 2)  # 2 = 1 plus per-question option rows (helpfulness.unembed_qod)
MANIFEST_NAME = "manifest.json"
ARRAYS_NAME = "arrays.safetensors"


class BundleError(ValueError):
    """A bundle (on disk or in memory) is malformed or incomplete; the message names the piece and the fix.

    >>> load_bundle("/no/such/bundle")
    Traceback (most recent call last):
    ...
    steerbounds.validation._bundle.BundleError: bundle /no/such/bundle: not a directory; ...
    """


@dataclasses.dataclass(frozen=True)
class BehaviourSweep:
    """The behaviour sweep of a bundle (docs/theory.md#alignment, first-token form).

    >>> import numpy as np
    >>> c = np.array([-1.0, 0.0, 1.0])
    >>> lp = np.log(np.full((1, 3, 2), 0.25))
    >>> part = BehaviourSweep(c, lp, np.zeros((1, 3, 2)), np.eye(2), aligned_ids=(7,), misaligned_ids=(9,))
    >>> part.n_prompts, part.n_aligned
    (1, 1)
    """

    coefficients_c: np.ndarray  # steering coefficients, strictly increasing, contains 0
    logprobs_qcr: np.ndarray  # full-vocabulary log-probabilities at the behaviour tokens
    delta_qcd: np.ndarray  # change of the final representation, delta_c(q)
    unembed_rd: np.ndarray  # unembedding rows u_t of the behaviour tokens (same order as r)
    aligned_ids: tuple[int, ...]  # vocabulary ids of A+ (first columns of r)
    misaligned_ids: tuple[int, ...]  # vocabulary ids of A- (remaining columns of r)
    prompts: tuple[str, ...] | None = None  # optional prompt texts, for reports

    @property
    def n_prompts(self) -> int:
        """Number of prompts q."""
        return int(self.logprobs_qcr.shape[0])

    @property
    def n_aligned(self) -> int:
        """Number of aligned tokens |A+|."""
        return len(self.aligned_ids)


@dataclasses.dataclass(frozen=True)
class HelpfulnessSweep:
    """The helpfulness sweep of a bundle (docs/theory.md#helpfulness, multiple choice).

    >>> import numpy as np
    >>> c = np.array([0.0, 1.0])
    >>> lp = np.log(np.full((1, 2, 4), 0.2))
    >>> part = HelpfulnessSweep(c, lp, np.log(np.full((1, 2), 0.2)), np.zeros((1, 2, 3)),
    ...                         np.eye(4, 3), option_ids=(1, 2, 3, 4), correct_q=np.array([2]))
    >>> part.n_questions, part.n_options, part.shared_unembedding
    (1, 4, True)

    When every question has its own candidates (a readout over each question's
    option texts), pass ``unembed_od=None`` and the rows per question as
    ``unembed_qod``; ``option_ids`` then name the option *slots*:

    >>> rows = np.stack([np.eye(4, 3), -np.eye(4, 3)])            # two questions, own rows
    >>> part = HelpfulnessSweep(c, np.log(np.full((2, 2, 4), 0.25)), np.log(np.full((2, 2), 0.25)),
    ...                         np.zeros((2, 2, 3)), None, option_ids=(0, 1, 2, 3), correct_q=np.array([2, 0]),
    ...                         unembed_qod=rows)
    >>> part.shared_unembedding, part.option_rows_qod().shape
    (False, (2, 4, 3))
    """

    coefficients_c: np.ndarray  # steering coefficients, strictly increasing, contains 0
    logprobs_qco: np.ndarray  # full-vocabulary log-probabilities at the option tokens
    max_logprob_qc: np.ndarray  # max over the full vocabulary of the log-probability
    delta_qcd: np.ndarray  # change of the final representation, delta_c(q)
    unembed_od: np.ndarray | None  # unembedding rows of the option tokens (None: per-question rows below)
    option_ids: tuple[int, ...]  # vocabulary ids of the options (columns of o); option slots with unembed_qod
    correct_q: np.ndarray  # index (into option_ids) of the correct option, per question
    option_labels: tuple[str, ...] | None = None  # e.g. ("A", "B", "C", "D")
    questions: tuple[str, ...] | None = None  # optional question texts, for reports
    unembed_qod: np.ndarray | None = None  # per-question option rows (q, o, d), instead of unembed_od

    @property
    def n_questions(self) -> int:
        """Number of questions q."""
        return int(self.logprobs_qco.shape[0])

    @property
    def n_options(self) -> int:
        """Number of options per question."""
        return len(self.option_ids)

    @property
    def shared_unembedding(self) -> bool:
        """Whether every question shares one set of option rows (``unembed_od``)."""
        return self.unembed_qod is None

    def option_rows_qod(self) -> np.ndarray:
        """The option rows of every question, ``(q, o, d)``: ``unembed_qod``, or ``unembed_od`` broadcast.

        >>> import numpy as np
        >>> part = HelpfulnessSweep(np.array([0.0, 1.0]), np.log(np.full((3, 2, 2), 0.5)), np.log(np.full((3, 2), 0.5)),
        ...                         np.zeros((3, 2, 5)), np.ones((2, 5)), option_ids=(1, 2), correct_q=np.zeros(3, int))
        >>> part.option_rows_qod().shape
        (3, 2, 5)
        """
        if self.unembed_qod is not None:
            return np.asarray(self.unembed_qod)
        rows = np.asarray(self.unembed_od)
        return np.broadcast_to(rows[None], (self.n_questions, *rows.shape))


@dataclasses.dataclass(frozen=True)
class Projection:
    """Representations of two classes, for the 2-D projection figure (docs/theory.md#paper).

    >>> import numpy as np
    >>> Projection(np.zeros((2, 3)), np.array([0, 1]), class_names=("aligned", "misaligned")).class_names
    ('aligned', 'misaligned')
    """

    representations_nd: np.ndarray  # one representation per row
    labels_n: np.ndarray  # 0 or 1: the class of each row
    class_names: tuple[str, str] = ("aligned", "misaligned")  # names of classes 0 and 1
    description: str = ""  # where the representations come from (layer, token position)


@dataclasses.dataclass(frozen=True)
class SequenceSweep:
    r"""Sampled responses scored by a classifier: the sequence-level behaviour (docs/theory.md#alignment).

    ``scores_qcs[q, c, s]`` is ``B(a)`` in {-1, 0, +1} of sample ``s`` drawn for
    behaviour prompt ``prompt_indices_q[q]`` at coefficient ``coefficients_c[c]``.
    The estimate of ``B_P(c)`` is the mean over prompts of the per-prompt means
    ``m_q(c) = mean_s B``; its standard error treats the samples as clustered
    within prompts (the prompts a random sample of instructions): the standard
    deviation over prompts of ``m_q`` (ddof 1) over ``sqrt(n_prompts)``. This
    bounds the seed-to-seed spread (which sees only the sampling noise) and adds
    the spread over prompts; ``se_sampling_c`` is the sampling part alone.

    .. math:: \hat B(c) = \frac1Q \sum_q m_q(c), \qquad
              \mathrm{SE}(c) = \sqrt{\frac{1}{Q(Q-1)} \sum_q (m_q(c) - \hat B(c))^2}

    >>> import numpy as np
    >>> scores = np.array([[[1, 1], [1, -1]], [[-1, -1], [1, 1]]], float)   # 2 prompts, 2 coefficients, 2 samples
    >>> seq = SequenceSweep(np.array([0.0, 1.0]), scores, np.full((2, 2, 2), 32), np.array([0, 1]), 32, 1.0)
    >>> seq.mean_c.tolist(), seq.se_c.round(6).tolist(), seq.refusal_fraction_c.tolist()
    ([0.0, 0.5], [1.0, 0.5], [0.5, 0.75])
    """

    coefficients_c: np.ndarray  # coefficients (strictly increasing, contains 0), a subset of the behaviour grid
    scores_qcs: np.ndarray  # B(a) in {-1, 0, +1}: +1 a refusal (aligned), -1 anything else
    lengths_qcs: np.ndarray  # tokens generated per response (the stop token included)
    prompt_indices_q: np.ndarray  # index of each sampled prompt among the behaviour prompts
    max_new_tokens: int  # tokens drawn per response at most
    temperature: float  # sampling temperature (1: the model's own distribution)
    top_p: float = 1.0  # nucleus probability (1: the whole vocabulary)
    classifier: str = "refusal prefixes (steerbounds.numerics.REFUSAL_PREFIXES): +1 refusal, -1 otherwise"
    responses: tuple[str, ...] | None = None  # the texts, (q, c, s) in C order, or None when not kept
    seed: int | None = None  # the seed the sampling keys derive from

    @property
    def n_prompts(self) -> int:
        """Number of sampled prompts Q."""
        return int(np.asarray(self.scores_qcs).shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per prompt and coefficient S."""
        return int(np.asarray(self.scores_qcs).shape[2])

    @property
    def prompt_mean_qc(self) -> np.ndarray:
        """Per-prompt means ``m_q(c)`` over the samples."""
        return np.asarray(self.scores_qcs, dtype=np.float64).mean(axis=2)

    @property
    def mean_c(self) -> np.ndarray:
        """The estimate of ``B_P(c)``: the mean over prompts of the per-prompt means."""
        return self.prompt_mean_qc.mean(axis=0)

    @property
    def se_c(self) -> np.ndarray:
        """Cluster (prompt-level) standard error of :attr:`mean_c`; NaN with a single prompt."""
        m = self.prompt_mean_qc
        if m.shape[0] < 2:
            return np.full(m.shape[1], np.nan)
        return m.std(axis=0, ddof=1) / np.sqrt(m.shape[0])

    @property
    def se_sampling_c(self) -> np.ndarray:
        """Standard error of :attr:`mean_c` from the sampling alone (prompts fixed); NaN with one sample."""
        x = np.asarray(self.scores_qcs, dtype=np.float64)
        if x.shape[2] < 2:
            return np.full(x.shape[1], np.nan)
        var_qc = x.var(axis=2, ddof=1) / x.shape[2]
        return np.sqrt(var_qc.sum(axis=0)) / x.shape[0]

    @property
    def refusal_fraction_c(self) -> np.ndarray:
        """Fraction of responses scored +1 at each coefficient."""
        return (np.asarray(self.scores_qcs) > 0).mean(axis=(0, 2))

    def response(self, q: int, c: int, s: int) -> str | None:
        """The text of sample ``s`` of prompt row ``q`` at coefficient index ``c`` (None when not kept)."""
        if self.responses is None:
            return None
        _, nc, ns = np.asarray(self.scores_qcs).shape
        return self.responses[(q * nc + c) * ns + s]


@dataclasses.dataclass(frozen=True)
class ActivationBundle:
    """One steering condition of one model: everything the validation reads.

    Build it from your own model (docs/bundle.md), with :func:`synthetic_bundle`,
    or from the toy model with ``steerbounds reproduce``; validate and analyse it
    with :func:`analyze_bundle`.

    >>> from steerbounds.validation import synthetic_bundle
    >>> b = synthetic_bundle(seed=0, n_prompts=3, n_questions=4)
    >>> b.condition, b.behaviour.n_prompts, b.helpfulness.n_questions
    ('synthetic', 3, 4)
    """

    condition: str  # short name of the steering condition, e.g. "mid_layers"
    behaviour: BehaviourSweep  # the behaviour sweep
    helpfulness: HelpfulnessSweep  # the helpfulness sweep
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. {"name":..., "hash":...}
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)  # free-form (layers, vector, ...)
    projection: Projection | None = None  # optional 2-D projection data
    sequence: SequenceSweep | None = None  # optional sequence-level behaviour (sampled responses)

    def validated(self) -> "ActivationBundle":
        """Check shapes, values and token sets; return ``self`` or raise :class:`BundleError`.

        >>> from steerbounds.validation import synthetic_bundle
        >>> synthetic_bundle(seed=0, n_prompts=2, n_questions=2).validated().condition
        'synthetic'
        """
        validate_bundle(self)
        return self


def _fail(where: str, problem: str, fix: str) -> BundleError:
    return BundleError(f"bundle {where}: {problem}; {fix}")


def _check_grid(where: str, c: np.ndarray) -> None:
    if c.ndim != 1:
        raise _fail(where, f"coefficient grid must be 1-D, got shape {c.shape}", "pass one coefficient per entry")
    if c.size == 0:
        raise _fail(where, "coefficient grid is empty", "sweep at least c = 0 and one c != 0")
    if not np.all(np.isfinite(c)):
        raise _fail(where, "coefficient grid holds NaN or inf", "use finite coefficients")
    if c.size > 1 and not np.all(np.diff(c) > 0):
        raise _fail(where, "coefficients are not strictly increasing", "sort them and remove duplicates")
    if not np.any(c == 0.0):
        raise _fail(where, f"coefficient grid {np.round(c, 6).tolist()[:8]}... does not contain 0",
                    "include c = 0: the unsteered model is the reference of every statement")
    if c.size < 2:
        raise _fail(where, "coefficient grid holds only c = 0", "add steered coefficients")


def _check_array(where: str, name: str, a: np.ndarray, shape: tuple[int | None, ...]) -> None:
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise _fail(where, f"{name} has shape {a.shape}, expected {want}", "export one entry per prompt/coefficient/token")
    if a.size == 0:
        raise _fail(where, f"{name} is empty", "export at least one prompt")
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise _fail(where, f"{name} holds NaN or inf (first at index {bad})", "recompute it in float32 or float64")


def _check_ids(where: str, name: str, ids: tuple[int, ...]) -> None:
    if len(ids) == 0:
        raise _fail(where, f"token set {name} is empty", "give at least one token id")
    if len(set(ids)) != len(ids):
        raise _fail(where, f"token set {name} repeats ids {ids}", "list each token once")
    if any((not isinstance(i, (int, np.integer))) or i < 0 for i in ids):
        raise _fail(where, f"token set {name} holds a non-integer or negative id: {ids}", "use vocabulary ids")


def _check_delta_zero(where: str, delta_qcd: np.ndarray, c: np.ndarray) -> None:
    i0 = int(np.flatnonzero(c == 0.0)[0])
    scale = max(1.0, float(np.max(np.linalg.norm(delta_qcd, axis=-1))))
    worst = float(np.max(np.linalg.norm(delta_qcd[:, i0], axis=-1)))
    if worst > 1e-4 * scale:
        raise _fail(where, f"delta at c = 0 has norm {worst:.3g}, expected 0",
                    "store delta_c = h_c - h_0 (the change, not the representation itself)")


def validate_bundle(bundle: ActivationBundle) -> None:
    """Raise :class:`BundleError` naming the field and the fix if ``bundle`` is malformed.

    Checks: coefficient grids (non-empty, finite, strictly increasing, containing 0),
    array shapes against each other, NaN/inf, log-probabilities <= 0, the token sets
    (non-empty, disjoint, no repeats), correct answers in range, delta = 0 at c = 0.

    >>> from steerbounds.validation import synthetic_bundle
    >>> b = synthetic_bundle(seed=0, n_prompts=2, n_questions=2)
    >>> validate_bundle(b) is None
    True
    """
    if not isinstance(bundle, ActivationBundle):
        raise BundleError(f"bundle must be an ActivationBundle (e.g. load_bundle(folder)), got {type(bundle).__name__}")
    if not isinstance(bundle.condition, str) or not bundle.condition:
        raise _fail("condition", "missing or empty", "name the steering condition, e.g. 'mid_layers'")
    b = bundle.behaviour
    if not isinstance(b, BehaviourSweep):
        raise _fail("behaviour", "missing", "add the behaviour sweep")
    where = "behaviour"
    _check_grid(where + ".coefficients_c", np.asarray(b.coefficients_c))
    _check_ids(where, "aligned_ids", tuple(b.aligned_ids))
    _check_ids(where, "misaligned_ids", tuple(b.misaligned_ids))
    overlap = set(b.aligned_ids) & set(b.misaligned_ids)
    if overlap:
        raise _fail(where, f"aligned and misaligned token sets share ids {sorted(overlap)}", "make A+ and A- disjoint")
    nc, nr = len(b.coefficients_c), len(b.aligned_ids) + len(b.misaligned_ids)
    _check_array(where, "logprobs_qcr", b.logprobs_qcr, (None, nc, nr))
    nq = b.logprobs_qcr.shape[0]
    _check_array(where, "delta_qcd", b.delta_qcd, (nq, nc, None))
    d = b.delta_qcd.shape[2]
    _check_array(where, "unembed_rd", b.unembed_rd, (nr, d))
    if np.any(b.logprobs_qcr > 1e-6):
        raise _fail(where, "logprobs_qcr holds values > 0", "store log-softmax over the full vocabulary, not logits")
    if b.prompts is not None and len(b.prompts) != nq:
        raise _fail(where, f"{len(b.prompts)} prompt texts for {nq} prompts", "give one text per prompt or none")
    _check_delta_zero(where + ".delta_qcd", b.delta_qcd, b.coefficients_c)

    h = bundle.helpfulness
    if not isinstance(h, HelpfulnessSweep):
        raise _fail("helpfulness", "missing", "add the helpfulness sweep")
    where = "helpfulness"
    _check_grid(where + ".coefficients_c", np.asarray(h.coefficients_c))
    _check_ids(where, "option_ids", tuple(h.option_ids))
    no = len(h.option_ids)
    if no < 2:
        raise _fail(where, f"{no} option(s)", "a multiple-choice question needs at least two options")
    nc = len(h.coefficients_c)
    _check_array(where, "logprobs_qco", h.logprobs_qco, (None, nc, no))
    nq = h.logprobs_qco.shape[0]
    _check_array(where, "max_logprob_qc", h.max_logprob_qc, (nq, nc))
    _check_array(where, "delta_qcd", h.delta_qcd, (nq, nc, None))
    if (h.unembed_od is None) == (h.unembed_qod is None):
        raise _fail(where, "give exactly one of unembed_od (rows shared by every question) and unembed_qod "
                           f"(rows per question); got {'neither' if h.unembed_od is None else 'both'}",
                    "pass unembed_od=None when the rows differ per question")
    if h.unembed_od is not None:
        _check_array(where, "unembed_od", h.unembed_od, (no, h.delta_qcd.shape[2]))
    else:
        _check_array(where, "unembed_qod", h.unembed_qod, (nq, no, h.delta_qcd.shape[2]))
    if h.delta_qcd.shape[2] != b.delta_qcd.shape[2]:
        raise _fail(where, f"delta dimension {h.delta_qcd.shape[2]} differs from the behaviour's {b.delta_qcd.shape[2]}",
                    "export both sweeps from the same final representation")
    if np.any(h.logprobs_qco > 1e-6) or np.any(h.max_logprob_qc > 1e-6):
        raise _fail(where, "log-probabilities > 0", "store log-softmax over the full vocabulary, not logits")
    if np.any(h.max_logprob_qc < h.logprobs_qco.max(axis=-1) - 1e-4):
        raise _fail(where, "max_logprob_qc is below an option's log-probability",
                    "store the maximum over the whole vocabulary")
    correct = np.asarray(h.correct_q)
    if correct.shape != (nq,) or not np.issubdtype(correct.dtype, np.integer):
        raise _fail(where, f"correct_q must be {nq} integer option indices, got shape {correct.shape} dtype {correct.dtype}",
                    "give the index into option_ids of each correct answer")
    if np.any(correct < 0) or np.any(correct >= no):
        raise _fail(where, f"correct_q holds indices outside 0..{no - 1}", "index into option_ids")
    if h.option_labels is not None and len(h.option_labels) != no:
        raise _fail(where, f"{len(h.option_labels)} option labels for {no} options", "give one label per option")
    if h.questions is not None and len(h.questions) != nq:
        raise _fail(where, f"{len(h.questions)} question texts for {nq} questions", "give one text per question or none")
    _check_delta_zero(where + ".delta_qcd", h.delta_qcd, h.coefficients_c)

    p = bundle.projection
    if p is not None:
        _check_array("projection", "representations_nd", p.representations_nd, (None, None))
        labels = np.asarray(p.labels_n)
        if labels.shape != (p.representations_nd.shape[0],) or not set(np.unique(labels).tolist()) <= {0, 1}:
            raise _fail("projection", "labels_n must hold one 0/1 label per representation", "label each row")
        if len(np.unique(labels)) != 2:
            raise _fail("projection", "labels_n holds a single class", "give representations of both classes")
        if len(p.class_names) != 2:
            raise _fail("projection", f"class_names must name two classes, got {p.class_names}", "name both classes")
    if bundle.sequence is not None:
        _check_sequence(bundle.sequence, b)


def _check_sequence(seq: SequenceSweep, behaviour: BehaviourSweep) -> None:
    where = "sequence"
    if not isinstance(seq, SequenceSweep):
        raise _fail(where, f"must be a SequenceSweep, got {type(seq).__name__}", "build it with SequenceSweep(...)")
    c = np.asarray(seq.coefficients_c, dtype=np.float64)
    _check_grid(where + ".coefficients_c", c)
    grid = np.asarray(behaviour.coefficients_c, dtype=np.float64)
    off = [float(x) for x in c if not np.any(np.isclose(grid, x, rtol=0, atol=1e-9 * max(1.0, abs(x))))]
    if off:
        raise _fail(where + ".coefficients_c", f"{off} are not on the behaviour grid",
                    "sample at coefficients of the behaviour sweep (the first-token comparison and T1 need them)")
    scores = np.asarray(seq.scores_qcs)
    if scores.ndim != 3 or scores.shape[1] != c.size or scores.size == 0:
        raise _fail(where, f"scores_qcs has shape {scores.shape}, expected (prompts, {c.size}, samples)",
                    "store one score per prompt, coefficient and sample")
    if not np.isin(scores, (-1.0, 0.0, 1.0)).all():
        raise _fail(where, "scores_qcs holds values other than -1, 0, +1", "store classifier scores B(a)")
    lengths = np.asarray(seq.lengths_qcs)
    if lengths.shape != scores.shape or not np.issubdtype(lengths.dtype, np.integer) or np.any(lengths < 0):
        raise _fail(where, f"lengths_qcs must be non-negative integers of shape {scores.shape}, got shape "
                           f"{lengths.shape} dtype {lengths.dtype}", "store the token count of every response")
    idx = np.asarray(seq.prompt_indices_q)
    if idx.shape != (scores.shape[0],) or not np.issubdtype(idx.dtype, np.integer):
        raise _fail(where, f"prompt_indices_q must be {scores.shape[0]} integers, got shape {idx.shape}",
                    "give the behaviour-prompt index of every sampled prompt")
    if np.any(idx < 0) or np.any(idx >= behaviour.n_prompts) or len(set(idx.tolist())) != idx.size:
        raise _fail(where, f"prompt_indices_q must be distinct indices in 0..{behaviour.n_prompts - 1}",
                    "index the behaviour prompts")
    if isinstance(seq.max_new_tokens, bool) or not isinstance(seq.max_new_tokens, (int, np.integer)) \
            or seq.max_new_tokens < 1:
        raise _fail(where, f"max_new_tokens must be a positive int, got {seq.max_new_tokens!r}", "record it")
    if not (isinstance(seq.temperature, (int, float)) and np.isfinite(seq.temperature) and seq.temperature >= 0):
        raise _fail(where, f"temperature must be a finite number >= 0, got {seq.temperature!r}", "record it")
    if not (isinstance(seq.top_p, (int, float)) and 0 < seq.top_p <= 1):
        raise _fail(where, f"top_p must lie in (0, 1], got {seq.top_p!r}", "record it")
    if seq.responses is not None and (len(seq.responses) != scores.size
                                      or not all(isinstance(t, str) for t in seq.responses)):
        raise _fail(where, f"responses must be {scores.size} strings (one per score, in (q, c, s) order), got "
                           f"{len(seq.responses)}", "keep every text or none")


# ----------------------------------------------------------------------------- disk format

_ARRAYS = {
    "behaviour.coefficients_c": ("behaviour", "coefficients_c"),
    "behaviour.logprobs_qcr": ("behaviour", "logprobs_qcr"),
    "behaviour.delta_qcd": ("behaviour", "delta_qcd"),
    "behaviour.unembed_rd": ("behaviour", "unembed_rd"),
    "helpfulness.coefficients_c": ("helpfulness", "coefficients_c"),
    "helpfulness.logprobs_qco": ("helpfulness", "logprobs_qco"),
    "helpfulness.max_logprob_qc": ("helpfulness", "max_logprob_qc"),
    "helpfulness.delta_qcd": ("helpfulness", "delta_qcd"),
}
_SEQUENCE_ARRAYS = {
    "sequence.coefficients_c": "coefficients_c",
    "sequence.scores_qcs": "scores_qcs",
    "sequence.lengths_qcs": "lengths_qcs",
    "sequence.prompt_indices_q": "prompt_indices_q",
}
SEQUENCE_RESPONSES_NAME = "sequence_responses.jsonl"
_UNEMBED_SHARED = "helpfulness.unembed_od"  # exactly one of these two is stored
_UNEMBED_PER_QUESTION = "helpfulness.unembed_qod"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    A reader never sees a half-written file, and an interrupted write leaves the
    previous version in place.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write_bytes(p, b"done"); p.read_bytes()
    b'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_bundle(bundle: ActivationBundle, directory: str | os.PathLike) -> Path:
    """Validate ``bundle`` and write it to ``directory`` (``manifest.json`` + ``arrays.safetensors``).

    Both files are written atomically; the manifest is written last and records the
    SHA-256 of the array file, so a partially copied bundle is detected on load.

    >>> import tempfile
    >>> from steerbounds.validation import synthetic_bundle
    >>> d = save_bundle(synthetic_bundle(seed=1, n_prompts=2, n_questions=3), tempfile.mkdtemp())
    >>> sorted(p.name for p in d.iterdir())
    ['arrays.safetensors', 'manifest.json']
    """
    from safetensors.numpy import save

    validate_bundle(bundle)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    shared = bundle.helpfulness.shared_unembedding
    fields = {**_ARRAYS, **({_UNEMBED_SHARED: ("helpfulness", "unembed_od")} if shared
                            else {_UNEMBED_PER_QUESTION: ("helpfulness", "unembed_qod")})}
    for name, (part, field) in fields.items():
        value = np.asarray(getattr(getattr(bundle, part), field))
        arrays[name] = np.ascontiguousarray(value.astype(np.float64 if value.dtype == np.float64 else np.float32))
    if bundle.projection is not None:
        arrays["projection.representations_nd"] = np.ascontiguousarray(
            np.asarray(bundle.projection.representations_nd, dtype=np.float32))
        arrays["projection.labels_n"] = np.ascontiguousarray(np.asarray(bundle.projection.labels_n, dtype=np.int64))
    seq = bundle.sequence
    sequence_manifest = None
    if seq is not None:
        arrays["sequence.coefficients_c"] = np.ascontiguousarray(np.asarray(seq.coefficients_c, dtype=np.float64))
        arrays["sequence.scores_qcs"] = np.ascontiguousarray(np.asarray(seq.scores_qcs, dtype=np.float32))
        arrays["sequence.lengths_qcs"] = np.ascontiguousarray(np.asarray(seq.lengths_qcs, dtype=np.int64))
        arrays["sequence.prompt_indices_q"] = np.ascontiguousarray(np.asarray(seq.prompt_indices_q, dtype=np.int64))
        sequence_manifest = {"max_new_tokens": int(seq.max_new_tokens), "temperature": float(seq.temperature),
                             "top_p": float(seq.top_p), "classifier": seq.classifier, "seed": seq.seed,
                             "responses": None, "responses_sha256": None}
        text_path = directory / SEQUENCE_RESPONSES_NAME
        if seq.responses is not None:
            atomic_write_bytes(text_path, sequence_jsonl(seq).encode())
            sequence_manifest["responses"] = SEQUENCE_RESPONSES_NAME
            sequence_manifest["responses_sha256"] = _sha256(text_path)
        elif text_path.exists():
            text_path.unlink()  # an older bundle's texts must not pass for this one's
    atomic_write_bytes(directory / ARRAYS_NAME, save(arrays))
    b, h, p = bundle.behaviour, bundle.helpfulness, bundle.projection
    manifest = {
        "format": FORMAT_NAME,
        "version": 1 if shared else 2,  # version 1 readers can read every bundle with shared rows
        "condition": bundle.condition,
        "model": bundle.model,
        "metadata": bundle.metadata,
        "behaviour": {
            "aligned_ids": [int(i) for i in b.aligned_ids],
            "misaligned_ids": [int(i) for i in b.misaligned_ids],
            "prompts": None if b.prompts is None else list(b.prompts),
        },
        "helpfulness": {
            "option_ids": [int(i) for i in h.option_ids],
            "option_labels": None if h.option_labels is None else list(h.option_labels),
            "correct": [int(i) for i in np.asarray(h.correct_q)],
            "questions": None if h.questions is None else list(h.questions),
            "unembedding": "shared" if shared else "per_question",
        },
        "projection": None if p is None else {"class_names": list(p.class_names), "description": p.description},
        **({} if sequence_manifest is None else {"sequence": sequence_manifest}),
        "arrays": {name: list(a.shape) for name, a in arrays.items()},
        "arrays_sha256": _sha256(directory / ARRAYS_NAME),
    }
    atomic_write_bytes(directory / MANIFEST_NAME, (json.dumps(manifest, indent=1) + "\n").encode())
    return directory


def sequence_jsonl(seq: SequenceSweep) -> str:
    """The responses of ``seq`` as JSON lines: prompt index, coefficient, sample index, length, score, text.

    >>> import numpy as np
    >>> seq = SequenceSweep(np.array([0.0, 1.0]), np.array([[[1.0], [-1.0]]]), np.array([[[3], [5]]]),
    ...                     np.array([4]), 8, 1.0, responses=("Sorry, no.", "Sure"))
    >>> sequence_jsonl(seq).splitlines()[1]
    '{"prompt": 4, "coefficient": 1.0, "sample": 0, "length": 5, "score": -1, "text": "Sure"}'
    """
    if seq.responses is None:
        raise ValueError("sequence_jsonl: the sequence sweep keeps no response texts (responses=None)")
    scores, lengths = np.asarray(seq.scores_qcs), np.asarray(seq.lengths_qcs)
    nq, nc, ns = scores.shape
    lines = []
    for q in range(nq):
        for c in range(nc):
            for s in range(ns):
                lines.append(json.dumps({"prompt": int(seq.prompt_indices_q[q]),
                                         "coefficient": float(seq.coefficients_c[c]), "sample": s,
                                         "length": int(lengths[q, c, s]), "score": int(scores[q, c, s]),
                                         "text": seq.responses[(q * nc + c) * ns + s]}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _read_sequence_texts(directory: Path, ms: dict[str, Any], seq_arrays: dict[str, np.ndarray]) -> tuple[str, ...] | None:
    name = ms.get("responses")
    if name is None:
        return None
    path = directory / str(name)
    if not path.is_file():
        raise BundleError(f"bundle {directory}: the manifest lists the sequence responses {name} but the file is "
                          "missing; copy it with the bundle or re-export")
    digest = ms.get("responses_sha256")
    if digest is not None and digest != _sha256(path):
        raise BundleError(f"bundle {directory}: {name} does not match the SHA-256 recorded in the manifest "
                          "(truncated or modified file); copy or export the bundle again")
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            texts.append(row["text"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BundleError(f"bundle {directory}: {name} line {number} is not a JSON object with a text") from None
    return tuple(texts)


def _need(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _fail(f"manifest {where}".rstrip(), f"missing field {key!r}",
                    "re-export the bundle (docs/bundle.md lists every field)")
    return mapping[key]


def _texts(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _fail(f"manifest {where}", "must be a list of strings or null", "fix the manifest")
    return tuple(value)


def _int_ids(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise _fail(f"manifest {where}", f"must be a list of integer token ids, got {value!r}", "fix the manifest")
    return tuple(value)


def load_bundle(directory: str | os.PathLike) -> ActivationBundle:
    """Read and validate a bundle written by :func:`save_bundle` (or by your own exporter).

    Arrays are returned as float64. Raises :class:`BundleError` naming the missing or
    malformed piece.

    >>> import tempfile
    >>> from steerbounds.validation import synthetic_bundle
    >>> b = synthetic_bundle(seed=2, n_prompts=2, n_questions=3)
    >>> load_bundle(save_bundle(b, tempfile.mkdtemp())).helpfulness.n_questions
    3
    """
    directory = Path(directory)
    try:
        return _load_bundle(directory)
    except BundleError as err:
        # Every message names the bundle, so that one of several bundles can be found.
        text, prefix = str(err), f"bundle {directory}"
        if text.startswith(prefix):
            raise
        raise BundleError(f"{prefix}: {text.removeprefix('bundle ')}") from None


_INTEGER_ARRAYS = ("projection.labels_n", "sequence.lengths_qcs", "sequence.prompt_indices_q")
_KNOWN_ARRAYS = (*_ARRAYS, _UNEMBED_SHARED, _UNEMBED_PER_QUESTION, "projection.representations_nd",
                 "sequence.coefficients_c", "sequence.scores_qcs", *_INTEGER_ARRAYS)


def _check_stored_arrays(directory: Path, manifest: dict, arrays: dict) -> None:
    """Dtypes of the stored arrays, their shapes against the manifest's table, and unknown names."""
    import warnings

    for name, array in arrays.items():
        if name in _INTEGER_ARRAYS:
            if not np.issubdtype(array.dtype, np.integer):
                raise BundleError(f"bundle {directory}: array {name!r} has dtype {array.dtype}; store integer labels")
        elif array.dtype not in (np.float32, np.float64):
            raise BundleError(
                f"bundle {directory}: array {name!r} has dtype {array.dtype}; store float32 or float64 "
                "(float16 and bfloat16 lose the precision the checks need, integers are not measurements)"
            )
    _check_shape_table(directory, manifest, arrays)
    unknown = sorted(set(arrays) - set(_KNOWN_ARRAYS))
    if unknown:
        warnings.warn(f"bundle {directory}: {ARRAYS_NAME} holds arrays this steerbounds does not read, ignored: "
                      f"{unknown} (docs/bundle.md lists the format's arrays)", UserWarning, stacklevel=4)


def _check_shape_table(directory: Path, manifest: dict, arrays: dict) -> None:
    table = manifest.get("arrays")
    if table is None:
        return
    if not isinstance(table, dict):
        raise BundleError(f"bundle {directory}: manifest field 'arrays' must map array names to shapes")
    listed, stored = set(table), set(arrays)
    if listed != stored:
        raise BundleError(
            f"bundle {directory}: the manifest's 'arrays' table and {ARRAYS_NAME} disagree: listed but not stored "
            f"{sorted(listed - stored)}, stored but not listed {sorted(stored - listed)}; re-export the bundle"
        )
    for name in sorted(listed):
        shape = table[name]
        if not isinstance(shape, list) or list(arrays[name].shape) != shape:
            raise BundleError(
                f"bundle {directory}: array {name!r} has shape {list(arrays[name].shape)} but the manifest's "
                f"'arrays' table says {shape!r}; re-export the bundle"
            )


def _load_bundle(directory: Path) -> ActivationBundle:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not directory.is_dir():
        raise BundleError(f"bundle {directory}: not a directory; pass the folder holding {MANIFEST_NAME} and {ARRAYS_NAME}")
    mpath, apath = directory / MANIFEST_NAME, directory / ARRAYS_NAME
    for p in (mpath, apath):
        if not p.is_file():
            raise BundleError(f"bundle {directory}: {p.name} is missing; a bundle holds {MANIFEST_NAME} and {ARRAYS_NAME}")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"bundle {directory}: {MANIFEST_NAME} is not valid JSON ({e}); re-export the bundle") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"bundle {directory}: {MANIFEST_NAME} does not declare format {FORMAT_NAME!r}; "
                          "is this a steerbounds activation bundle?")
    version = manifest.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise BundleError(f"bundle {directory}: format version {version!r} is not supported "
                          f"(this steerbounds reads versions {', '.join(map(str, SUPPORTED_VERSIONS))})")
    digest = manifest.get("arrays_sha256")
    if digest is not None and digest != _sha256(apath):
        raise BundleError(f"bundle {directory}: {ARRAYS_NAME} does not match the SHA-256 recorded in the manifest "
                          "(truncated or modified file); copy or export the bundle again")
    try:
        arrays = load_file(str(apath))
    except (SafetensorError, OSError, ValueError) as e:
        raise BundleError(f"bundle {directory}: {ARRAYS_NAME} is not a readable safetensors file ({e})") from None
    missing = [n for n in _ARRAYS if n not in arrays]
    stored = [n for n in (_UNEMBED_SHARED, _UNEMBED_PER_QUESTION) if n in arrays]
    if not stored:
        missing.append(_UNEMBED_SHARED)
    if missing:
        raise BundleError(f"bundle {directory}: arrays missing from {ARRAYS_NAME}: {missing}; docs/bundle.md lists them")
    if len(stored) == 2:
        raise BundleError(f"bundle {directory}: {ARRAYS_NAME} holds both {_UNEMBED_SHARED} and {_UNEMBED_PER_QUESTION}; "
                          "keep the shared rows or the per-question rows, not both")
    if stored[0] == _UNEMBED_PER_QUESTION and version < 2:
        raise BundleError(f"bundle {directory}: {_UNEMBED_PER_QUESTION} (per-question option rows) needs format "
                          f"version 2, but the manifest declares version {version}; set \"version\": 2")
    _check_stored_arrays(directory, manifest, arrays)

    def f64(name: str) -> np.ndarray:
        return np.asarray(arrays[name], dtype=np.float64)

    mb = _need(manifest, "behaviour", "")
    mh = _need(manifest, "helpfulness", "")
    correct = _need(mh, "correct", "helpfulness")
    if not isinstance(correct, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in correct):
        raise _fail("manifest helpfulness.correct", "must be a list of integer option indices", "fix the manifest")
    behaviour = BehaviourSweep(
        coefficients_c=f64("behaviour.coefficients_c"),
        logprobs_qcr=f64("behaviour.logprobs_qcr"),
        delta_qcd=f64("behaviour.delta_qcd"),
        unembed_rd=f64("behaviour.unembed_rd"),
        aligned_ids=_int_ids(_need(mb, "aligned_ids", "behaviour"), "behaviour.aligned_ids"),
        misaligned_ids=_int_ids(_need(mb, "misaligned_ids", "behaviour"), "behaviour.misaligned_ids"),
        prompts=_texts(mb.get("prompts"), "behaviour.prompts"),
    )
    helpfulness = HelpfulnessSweep(
        coefficients_c=f64("helpfulness.coefficients_c"),
        logprobs_qco=f64("helpfulness.logprobs_qco"),
        max_logprob_qc=f64("helpfulness.max_logprob_qc"),
        delta_qcd=f64("helpfulness.delta_qcd"),
        unembed_od=f64(_UNEMBED_SHARED) if _UNEMBED_SHARED in arrays else None,
        option_ids=_int_ids(_need(mh, "option_ids", "helpfulness"), "helpfulness.option_ids"),
        correct_q=np.asarray(correct, dtype=np.int64),
        option_labels=_texts(mh.get("option_labels"), "helpfulness.option_labels"),
        questions=_texts(mh.get("questions"), "helpfulness.questions"),
        unembed_qod=f64(_UNEMBED_PER_QUESTION) if _UNEMBED_PER_QUESTION in arrays else None,
    )
    projection = None
    mp = manifest.get("projection")
    if mp is not None:
        if "projection.representations_nd" not in arrays or "projection.labels_n" not in arrays:
            raise BundleError(f"bundle {directory}: the manifest declares a projection but its arrays are missing")
        names = _texts(_need(mp, "class_names", "projection"), "projection.class_names")
        projection = Projection(
            representations_nd=f64("projection.representations_nd"),
            labels_n=np.asarray(arrays["projection.labels_n"], dtype=np.int64),
            class_names=names if names is not None else ("aligned", "misaligned"),
            description=str(mp.get("description", "")),
        )
    sequence = None
    ms = manifest.get("sequence")
    if ms is not None:
        missing_seq = [n for n in _SEQUENCE_ARRAYS if n not in arrays]
        if missing_seq or not isinstance(ms, dict):
            raise BundleError(f"bundle {directory}: the manifest declares a sequence sweep but its arrays "
                              f"{missing_seq} are missing (or its entry is not an object); re-export the bundle")
        seq_arrays = {field: np.asarray(arrays[name]) for name, field in _SEQUENCE_ARRAYS.items()}
        sequence = SequenceSweep(
            coefficients_c=seq_arrays["coefficients_c"].astype(np.float64),
            scores_qcs=seq_arrays["scores_qcs"].astype(np.float64),
            lengths_qcs=seq_arrays["lengths_qcs"].astype(np.int64),
            prompt_indices_q=seq_arrays["prompt_indices_q"].astype(np.int64),
            max_new_tokens=_need(ms, "max_new_tokens", "sequence"),
            temperature=_need(ms, "temperature", "sequence"),
            top_p=ms.get("top_p", 1.0),
            classifier=str(ms.get("classifier", "")),
            responses=_read_sequence_texts(directory, ms, seq_arrays),
            seed=ms.get("seed"),
        )
    condition = _need(manifest, "condition", "")
    model = manifest.get("model") or {}
    metadata = manifest.get("metadata") or {}
    if not isinstance(model, dict) or not isinstance(metadata, dict):
        raise _fail("manifest", "model and metadata must be JSON objects", "fix the manifest")
    bundle = ActivationBundle(condition=condition, behaviour=behaviour, helpfulness=helpfulness,
                              model=model, metadata=metadata, projection=projection, sequence=sequence)
    validate_bundle(bundle)
    return bundle

