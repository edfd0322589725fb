"""The theorems checked on measured sweeps: T1 (alignment), T2a/T2b (helpfulness), section 4.

Every bound is evaluated by ``steerbounds.theory`` (never retyped here); this
module only lines measured numbers up against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steerbounds.theory import check_array, instance_of

from ._bundle import BehaviourSweep, HelpfulnessSweep
from ._results import AlignmentBoundCheck, HelpfulnessBoundCheck, T1Violation
from ._x64 import float64


def _theory():
    from steerbounds import theory  # sympy and JAX load when a check runs, not with the bundle format

    return theory


def _np(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@float64
def behaviour_values(behaviour: BehaviourSweep) -> np.ndarray:
    """Restricted behaviour ``B = (P+ - P-)/(P+ + P-)`` per prompt and coefficient (section 2).

    Evaluated by ``steerbounds.theory.behaviour_expectation`` on the stored
    log-probabilities (their common normaliser cancels in the restricted form).

    >>> from steerbounds.validation import synthetic_bundle
    >>> behaviour_values(synthetic_bundle(seed=0, n_prompts=2, n_questions=2).behaviour).shape
    (2, 21)
    """
    instance_of("behaviour_values", "behaviour", behaviour, BehaviourSweep, "bundle.behaviour")
    th = _theory()
    na = behaviour.n_aligned
    nr = behaviour.logprobs_qcr.shape[-1]
    aligned = list(range(na))
    misaligned = list(range(na, nr))
    return _np(th.behaviour_expectation(behaviour.logprobs_qcr, aligned, misaligned, restricted=True))


@float64
def helpfulness_values(helpfulness: HelpfulnessSweep) -> dict[str, np.ndarray]:
    """P(correct) per question and coefficient: full vocabulary, restricted to the options, and accuracy.

    Restricted: ``steerbounds.theory.helpfulness`` over the option log-probabilities
    with the other options as competitors. Full: the stored full-vocabulary
    probability of the correct option. Accuracy: the correct option is the argmax
    over the options (restricted) or over the vocabulary (full).

    >>> from steerbounds.validation import synthetic_bundle
    >>> out = helpfulness_values(synthetic_bundle(seed=0, n_prompts=2, n_questions=3).helpfulness)
    >>> sorted(out)
    ['accuracy_full_qc', 'accuracy_restricted_qc', 'full_qc', 'restricted_qc']
    """
    instance_of("helpfulness_values", "helpfulness", helpfulness, HelpfulnessSweep, "bundle.helpfulness")
    th = _theory()
    lp = helpfulness.logprobs_qco
    correct = np.asarray(helpfulness.correct_q)
    no = lp.shape[-1]
    restricted = _np(th.helpfulness(lp, correct[:, None], list(range(no))))
    lp_star = np.take_along_axis(lp, correct[:, None, None], axis=2)[..., 0]
    others_max = np.where(np.arange(no)[None, None, :] == correct[:, None, None], -np.inf, lp).max(-1)
    return {
        "restricted_qc": restricted,
        "full_qc": np.exp(lp_star),
        "accuracy_restricted_qc": (lp_star > others_max).astype(np.float64),
        "accuracy_full_qc": (lp_star >= helpfulness.max_logprob_qc).astype(np.float64),
    }


@float64
def check_t1(behaviour_qc: np.ndarray, radius_qc: np.ndarray, margin_qc: np.ndarray, b0_q: np.ndarray,
             *, atol: float = 1e-4, coefficients_c: np.ndarray | None = None,
             texts: tuple[str, ...] | None = None) -> AlignmentBoundCheck:
    """Check T1 at every prompt and coefficient where A1 holds: ``sign(r)(B_r - tanh(r Delta/2 + artanh B_0)) >= -atol``.

    ``margin_qc`` is NaN where undefined (``r = 0``). A point is *checked* when
    ``r != 0``, ``Delta > 0`` (A1) and ``|B_0| < 1``; a violation there is a bug.
    Points outside A1 are evaluated too and counted separately (no guarantee).

    >>> import numpy as np
    >>> r = np.array([[-1.0, 0.0, 1.0]]); margin = np.array([[1.0, np.nan, 1.0]])
    >>> exact = np.tanh(r / 2)                     # equality case, B_0 = 0
    >>> check_t1(exact, r, margin, np.zeros(1)).n_violations
    0
    >>> check_t1(exact - np.array([[0, 0, 0.1]]), r, margin, np.zeros(1)).n_violations
    1
    """
    for name, value, ndim in (("behaviour_qc", behaviour_qc, 2), ("radius_qc", radius_qc, 2), ("b0_q", b0_q, 1)):
        check_array("check_t1", name, value, ndim=ndim)
    check_array("check_t1", "margin_qc", margin_qc, ndim=2, finite=False)  # NaN: the margin is undefined there
    if np.any(np.abs(_np(behaviour_qc)) > 1) or np.any(np.abs(_np(b0_q)) > 1):
        raise ValueError("check_t1: behaviour_qc and b0_q are behaviour expectations and must lie in [-1, 1]")
    if not (isinstance(atol, (int, float)) and atol >= 0):
        raise ValueError(f"check_t1: atol must be a number >= 0, got {atol!r}")
    th = _theory()
    b = _np(behaviour_qc)
    r = _np(radius_qc)
    m = _np(margin_qc)
    b0 = _np(b0_q)
    if not (b.shape == r.shape == m.shape and b0.shape == b.shape[:1]):
        raise ValueError(f"check_t1: shapes differ: behaviour {b.shape}, radius {r.shape}, margin {m.shape}, "
                         f"b0 {b0.shape}; expected (q, c), (q, c), (q, c), (q,)")
    defined = (r != 0) & np.isfinite(m) & (np.abs(b0)[:, None] < 1.0)
    m_eval = np.where(defined, m, 0.0)
    b0_eval = np.broadcast_to(np.clip(b0, -1 + 1e-15, 1 - 1e-15)[:, None], b.shape)
    bound = np.where(defined, _np(th.alignment_bound(np.where(defined, r, 0.0), m_eval, b0_eval)), np.nan)
    slack = np.sign(r) * (b - bound)
    checked = defined & (m > 0)
    violated = checked & (slack < -atol)
    outside = defined & ~(m > 0)
    c = coefficients_c
    violations = []
    for q, j in np.argwhere(violated):
        violations.append(T1Violation(prompt=int(q), coefficient_index=int(j), r=float(r[q, j]),
                                      margin=float(m[q, j]), behaviour=float(b[q, j]), bound=float(bound[q, j]),
                                      slack=float(slack[q, j]), c=None if c is None else float(c[j]),
                                      text=None if texts is None else texts[q]))
    return AlignmentBoundCheck(
        bound_qc=bound,
        slack_qc=np.where(defined, slack, np.nan),
        checked_qc=checked,
        n_checked=int(checked.sum()),
        n_violations=int(violated.sum()),
        violations=tuple(violations),
        min_slack=float(slack[checked].min()) if checked.any() else None,
        atol=atol,
        n_outside_a1=int(outside.sum()),
        n_outside_a1_below_bound=int((outside & (slack < -atol)).sum()),
        n_saturated_prompts=int((np.abs(b0) >= 1.0).sum()),
    )


@float64
def compare_t2(measured_qc: np.ndarray, radius_qc: np.ndarray, gaps_qk: np.ndarray, sigma_kk: np.ndarray,
               *, n_mc: int = 4000, seed: int = 0) -> HelpfulnessBoundCheck:
    """T2a's lower bound and T2b's parabola, per question, averaged, against the measured mean helpfulness.

    For question ``q`` at coefficient ``c``: ``r = ||delta_c(q)||``, gaps ``g_q``
    at ``c = 0`` and the fitted ``Sigma``; T2a ``L(r)`` and T2b
    ``p_0 - s_H r^2`` come from ``steerbounds.theory``. Under A2 the mean over
    questions of the measured ``H`` estimates the mean of ``E[H_r]``, so it should
    lie above the mean T2a bound; ``z_t2a`` is (measured - bound)/SE, a
    significantly negative value is evidence against A2 (or the fitted
    ``Sigma``), not a bug. ``s_h_q`` is each question's T2b curvature; a negative
    one (possible when ``p_0 < 1/2``, C2.1) predicts a gain and is reported.

    >>> import numpy as np
    >>> r = np.array([[0.0, 1.0, 2.0]]); g = np.array([[-1.0, -1.0, -1.0]])
    >>> out = compare_t2(np.array([[0.4754, 0.47, 0.45]]), r, g, 0.1 * np.eye(3), n_mc=200)
    >>> bool(np.all(out.t2a_c <= out.measured_c + 1e-12)), out.n_questions_gain_predicted
    (True, 0)
    """
    check_array("compare_t2", "measured_qc", measured_qc, ndim=2)
    check_array("compare_t2", "radius_qc", radius_qc, ndim=2)
    check_array("compare_t2", "gaps_qk", gaps_qk, ndim=2)
    if np.any((_np(measured_qc) < 0) | (_np(measured_qc) > 1)):
        raise ValueError("compare_t2: measured_qc holds helpfulness values, which must lie in [0, 1]")
    if isinstance(n_mc, bool) or not isinstance(n_mc, (int, np.integer)) or n_mc < 4:
        raise ValueError(f"compare_t2: n_mc must be an integer >= 4 (Monte Carlo draws), got {n_mc!r}")
    th = _theory()
    h = _np(measured_qc)
    r = np.abs(_np(radius_qc))
    g = _np(gaps_qk)
    cov = _np(sigma_kk)
    nq, nc = h.shape
    if r.shape != h.shape or g.ndim != 2 or g.shape[0] != nq:
        raise ValueError(f"compare_t2: measured {h.shape}, radius {r.shape}, gaps {g.shape} disagree; "
                         "expected (q, c), (q, c), (q, k)")
    t2a = _np(th.helpfulness_lower_bound(r, g[:, None, :], cov))
    t2b = _np(th.helpfulness_second_order(r, g[:, None, :], cov))
    s_h = _np(th.helpfulness_curvature(g, cov))
    p0 = _np(th.helpfulness_lower_bound(np.zeros(nq), g, cov))  # L(0) = p_0
    measured = h.mean(axis=0)
    se = h.std(axis=0, ddof=1) / np.sqrt(nq) if nq > 1 else np.zeros(nc)
    t2a_c = t2a.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (measured - t2a_c) / se, np.where(measured >= t2a_c, np.inf, -np.inf))
    out = {
        "measured_c": measured,
        "measured_se_c": se,
        "t2a_qc": t2a,
        "t2b_qc": t2b,
        "t2a_c": t2a_c,
        "t2b_c": t2b.mean(axis=0),
        "z_t2a_c": z,
        "n_below_t2a_2se": int((z < -2).sum()),
        "p0_q": p0,
        "s_h_q": s_h,
        "n_questions_gain_predicted": int((s_h < 0).sum()),
        "n_questions_p0_below_half": int((p0 < 0.5).sum()),
    }
    out.update(_a2_model_expectation(th, r, g, cov, n_mc=n_mc, seed=seed))
    return HelpfulnessBoundCheck(**out)


def _a2_model_expectation(th: Any, r: np.ndarray, g: np.ndarray, cov: np.ndarray, *, n_mc: int,
                          seed: int) -> dict[str, Any]:
    """``E[H_r]`` under the fitted A2 model (``theory.expected_helpfulness``), mean over questions, with its SE."""
    expected = getattr(th, "expected_helpfulness", None)
    if expected is None:
        return {"expected_c": None, "expected_se_c": None,
                "expected_note": "steerbounds.theory.expected_helpfulness is not available in this installation"}
    import jax

    nq, k = g.shape
    if k <= 2:
        # Quadrature: each question's error is a deterministic bound, so the bounds add.
        est, err = expected(r, g[:, None, :], cov, method="quadrature")
        est, err = _np(est), _np(err)
        return {"expected_c": est.mean(axis=0), "expected_se_c": err.mean(axis=0), "expected_note": None}
    # Monte Carlo with independent draws per question (a key folded with the question's index),
    # so that the per-question standard errors combine as those of independent estimates.
    n_draws = n_mc + (n_mc % 2)
    base = jax.random.key(seed)
    est = np.empty(r.shape)
    err = np.empty(r.shape)
    for q in range(nq):
        value, stderr = expected(r[q], g[q], cov, method="monte_carlo", n=n_draws, key=jax.random.fold_in(base, q))
        est[q], err[q] = _np(value), _np(stderr)
    return {"expected_c": est.mean(axis=0), "expected_se_c": np.sqrt((err**2).sum(axis=0)) / nq,
            "expected_note": None}
