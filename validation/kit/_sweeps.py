"""Hypothesis strategies for measured sweeps: synthetic bundles with drawn knobs.

Each draw calls :func:`synthetic_bundle` (a random linear readout whose final
representation is steered, every quantity known in closed form) with a drawn
seed and drawn knobs, so the sweeps are the same objects the validation
layer reads from a real model. Hypothesis shrinks the knobs (fewer prompts,
no failing prompts, a smaller seed) towards a minimal example.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ._strategies import _check_int, _check_range

from .._assumptions import a1_margins, gap_changes
from .._bundle import BehaviourSweep, HelpfulnessSweep
from .._checks import behaviour_values, helpfulness_values
from ._describe import register_summary
from .._synthetic import synthetic_bundle

_RESPONSES = ("linear", "saturating")
_NOISES = ("gaussian", "student_t")
_SEEDS = st.integers(0, 2**32 - 1)


def _grid(name: str, coefficients) -> np.ndarray:
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size < 2 or not np.all(np.isfinite(c)) or not np.all(np.diff(c) > 0) or not (c == 0).any():
        raise ValueError(f"{name} must be a strictly increasing 1-D grid of finite coefficients containing 0, "
                         f"got {coefficients!r}")
    return c


def _choice(name: str, value, allowed) -> tuple[str, ...]:
    value = (value,) if isinstance(value, str) else tuple(value)
    if not value or any(v not in allowed for v in value):
        raise ValueError(f"{name} must be a non-empty selection of {allowed}, got {value!r}")
    return value


def behaviour_sweeps(
    *,
    min_prompts: int = 1,
    max_prompts: int = 4,
    max_failing: int = 0,
    min_margin: float = 0.2,
    max_margin: float = 3.0,
    max_jitter: float = 0.0,
    max_kappa_spread: float = 0.0,
    responses=("linear",),
    min_behaviour_bias: float = 6.0,
    max_behaviour_bias: float = 6.0,
    coefficients=np.linspace(-4.0, 4.0, 9),
) -> st.SearchStrategy[BehaviourSweep]:
    """Behaviour sweeps (docs/theory.md#alignment) of a steered linear readout, as the validation layer stores them.

    The aligned and misaligned unembedding rows are separated along a unit ``v``
    by the margin (drawn in ``[min_margin, max_margin]``); prompt ``q`` is
    steered along ``v`` jittered by up to ``max_jitter``, except up to
    ``max_failing`` prompts steered along ``-v``, where A1 fails. The norm of
    delta is ``kappa_q |c|`` (``"linear"`` response, A3 holds) or saturates
    (``"saturating"``, A3 fails); ``behaviour_bias`` sets how much mass the
    behaviour tokens carry (A4). Every new number of prompts or tokens is a new
    array shape, which costs a JAX compilation the first time it is evaluated.

    >>> from hypothesis import find
    >>> sweep = find(behaviour_sweeps(min_prompts=3, max_failing=1), lambda s: True)
    >>> sweep.logprobs_qcr.shape[:2]
    (3, 9)
    """
    _check_int("min_prompts", min_prompts, minimum=1)
    _check_int("max_prompts", max_prompts, minimum=min_prompts)
    _check_int("max_failing", max_failing, minimum=0)
    _check_range("min_margin", min_margin, "max_margin", max_margin, positive=True)
    _check_range("max_jitter", max_jitter, "max_jitter", max_jitter)
    _check_range("max_kappa_spread", max_kappa_spread, "max_kappa_spread", max_kappa_spread)
    if max_jitter < 0 or not 0 <= max_kappa_spread < 1:
        raise ValueError(f"max_jitter must be >= 0 and max_kappa_spread in [0, 1), got {max_jitter!r}, "
                         f"{max_kappa_spread!r}")
    _check_range("min_behaviour_bias", min_behaviour_bias, "max_behaviour_bias", max_behaviour_bias)
    responses = _choice("responses", responses, _RESPONSES)
    grid = _grid("coefficients", coefficients)

    @st.composite
    def build(draw):
        n_prompts = draw(st.integers(min_prompts, max_prompts))
        n_failing = draw(st.integers(0, min(max_failing, n_prompts)))
        bundle = synthetic_bundle(
            seed=draw(_SEEDS),
            n_prompts=n_prompts,
            n_questions=1,
            d=12,
            vocab_size=16,
            n_aligned=draw(st.integers(1, 2)),
            n_misaligned=draw(st.integers(1, 2)),
            n_options=2,
            behaviour_coefficients=grid,
            helpfulness_coefficients=np.array([-1.0, 0.0, 1.0]),
            margin=draw(st.floats(min_margin, max_margin)),
            kappa=draw(st.floats(0.25, 2.0)),
            kappa_spread=draw(st.floats(0.0, max_kappa_spread)),
            direction_jitter=draw(st.floats(0.0, max_jitter)),
            a1_failing=tuple(range(n_prompts - n_failing, n_prompts)),
            response=draw(st.sampled_from(responses)),
            behaviour_bias=draw(st.floats(min_behaviour_bias, max_behaviour_bias)),
            with_projection=False,
        )
        return bundle.behaviour

    return build()


def helpfulness_sweeps(
    *,
    min_questions: int = 60,
    max_questions: int = 60,
    noises=("gaussian",),
    min_df: float = 2.5,
    max_df: float = 5.0,
    min_scale: float = 0.1,
    max_scale: float = 0.5,
    coefficients=np.linspace(-4.0, 4.0, 9),
) -> st.SearchStrategy[HelpfulnessSweep]:
    """Helpfulness sweeps (docs/theory.md#helpfulness) over 4-option questions, as the validation layer stores them.

    The number of questions is drawn in ``[min_questions, max_questions]`` (one
    number by default: every new array shape costs a JAX compilation). Gap
    changes are planted per question: i.i.d. Gaussian option shifts with
    standard deviation drawn in ``[min_scale, max_scale]`` (``"gaussian"``: A2
    holds exactly) or Student-t ones with ``df`` in ``[min_df, max_df]``
    (``"student_t"``: A2 fails).

    >>> from hypothesis import find
    >>> sweep = find(helpfulness_sweeps(min_questions=40, max_questions=40), lambda s: True)
    >>> sweep.logprobs_qco.shape
    (40, 9, 4)
    """
    _check_int("min_questions", min_questions, minimum=3)
    _check_int("max_questions", max_questions, minimum=min_questions)
    _check_range("min_df", min_df, "max_df", max_df, positive=True)
    _check_range("min_scale", min_scale, "max_scale", max_scale, positive=True)
    noises = _choice("noises", noises, _NOISES)
    grid = _grid("coefficients", coefficients)

    @st.composite
    def build(draw):
        bundle = synthetic_bundle(
            seed=draw(_SEEDS),
            n_prompts=1,
            n_questions=draw(st.integers(min_questions, max_questions)),
            behaviour_coefficients=np.array([-1.0, 0.0, 1.0]),
            helpfulness_coefficients=grid,
            gap_noise=draw(st.sampled_from(noises)),
            gap_scale=draw(st.floats(min_scale, max_scale)),
            df=draw(st.floats(min_df, max_df)),
            with_projection=False,
        )
        return bundle.helpfulness

    return build()


def _grid_text(c: np.ndarray) -> str:
    return f"{c.size} coefficients {c.min():.6g} .. {c.max():.6g}"


def summarize_behaviour(sweep: BehaviourSweep) -> str:
    """A behaviour sweep in a few lines: per prompt its A1 margin, kappa and B at the ends of the grid.

    The margin is the smallest over the coefficients ``c != 0``; kappa the
    largest ``||delta_c|| / |c|``.

    >>> from steerbounds.validation import synthetic_bundle
    >>> print(summarize_behaviour(synthetic_bundle(seed=0, n_prompts=2, n_questions=2).behaviour))
    BehaviourSweep: 2 prompts x 21 coefficients -5 .. 5; A+ = (0, 1), A- = (2, 3)
      prompt    min margin   kappa   B(c_min)       B(0)   B(c_max)
           0             1       1  -0.987762   0.830982   0.999859
           1             1       1   -0.99875  -0.660926    0.96956
    """
    c = sweep.coefficients_c
    a1 = a1_margins(sweep)
    steered = c != 0
    margin_q = np.nanmin(np.where(steered, a1.margin_qc, np.nan), axis=1)
    norm_qc = np.linalg.norm(sweep.delta_qcd, axis=-1)
    kappa_q = (norm_qc[:, steered] / np.abs(c[steered])).max(axis=1)
    b_qc = behaviour_values(sweep)
    i0 = int(np.flatnonzero(c == 0)[0])
    lines = [f"BehaviourSweep: {sweep.n_prompts} prompts x {_grid_text(c)}; A+ = {sweep.aligned_ids}, "
             f"A- = {sweep.misaligned_ids}",
             f"  {'prompt':>6}  {'min margin':>12}  {'kappa':>6}  {'B(c_min)':>9}  {'B(0)':>9}  {'B(c_max)':>9}"]
    for q in range(sweep.n_prompts):
        lines.append(f"  {q:>6}  {margin_q[q]:>12.6g}  {kappa_q[q]:>6.4g}  {b_qc[q, 0]:>9.6g}  {b_qc[q, i0]:>9.6g}"
                     f"  {b_qc[q, -1]:>9.6g}")
    return "\n".join(lines)


def summarize_helpfulness(sweep: HelpfulnessSweep) -> str:
    """A helpfulness sweep in a few lines: questions, grid, and the mean helpfulness and gap change per coefficient.

    >>> from steerbounds.validation import synthetic_bundle
    >>> print(summarize_helpfulness(synthetic_bundle(seed=0, n_prompts=2, n_questions=3).helpfulness))
    HelpfulnessSweep: 3 questions x 41 coefficients -10 .. 10, 4 options
      c:  ...
    """
    c = sweep.coefficients_c
    h = helpfulness_values(sweep)["restricted_qc"].mean(axis=0)
    _, x_qci = gap_changes(sweep)
    pick = np.unique(np.linspace(0, c.size - 1, min(c.size, 9)).round().astype(int))
    row = lambda values: "  ".join(f"{v:>8.4g}" for v in values[pick])  # noqa: E731
    return "\n".join([
        f"HelpfulnessSweep: {sweep.n_questions} questions x {_grid_text(c)}, {sweep.n_options} options",
        f"  c:                 {row(c)}",
        f"  mean H:            {row(h)}",
        f"  std of X:          {row(x_qci.reshape(x_qci.shape[0], c.size, -1).transpose(1, 0, 2).reshape(c.size, -1).std(axis=1))}",
    ])


register_summary(BehaviourSweep, summarize_behaviour)
register_summary(HelpfulnessSweep, summarize_helpfulness)
