"""Synthetic activation bundles with a known answer (final representation steered directly).

A random linear readout ``z = U h + b`` over a small vocabulary, with the final
representation itself steered: ``delta_c(q) = c * kappa_q * w_q``. Every quantity
of docs/theory.md is then known in closed form, which is what the tests of the
validation layer need: single-token behaviour sets give an exact ``tanh``
(T1 with equality), Gaussian planted gap changes satisfy A2 exactly, Student-t
ones violate it, chosen prompts can be made to violate A1, and a saturating
response violates A3.
"""

from __future__ import annotations

import numpy as np

from steerbounds.theory import positive_int
from scipy.special import log_softmax

from ._bundle import ActivationBundle, BehaviourSweep, HelpfulnessSweep, Projection


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_bundle(
    *,
    seed: int,
    n_prompts: int = 16,
    n_questions: int = 32,
    d: int = 32,
    vocab_size: int = 40,
    n_aligned: int = 2,
    n_misaligned: int = 2,
    n_options: int = 4,
    behaviour_coefficients: np.ndarray | None = None,
    helpfulness_coefficients: np.ndarray | None = None,
    margin: float = 1.0,
    kappa: float = 1.0,
    kappa_spread: float = 0.0,
    behaviour_b0: float | None = None,
    direction_jitter: float = 0.0,
    a1_failing: tuple[int, ...] = (),
    response: str = "linear",
    gap_noise: str = "gaussian",
    gap_scale: float = 0.3,
    df: float = 2.0,
    answer_advantage: float = 1.5,
    behaviour_bias: float = 6.0,
    with_projection: bool = True,
    condition: str = "synthetic",
) -> ActivationBundle:
    """A bundle from a random linear readout whose final representation is steered directly.

    Behaviour: the tokens of A+ have ``<v, u_a> >= margin/2`` and those of A-
    ``<v, u_b> <= -margin/2`` for a unit ``v``; prompt ``q`` is steered along
    ``v_q = unit(v + direction_jitter * noise)`` (or ``-v`` for the prompts in
    ``a1_failing``, which then violate A1). With one token per set, no jitter, one
    ``kappa`` and a fixed ``behaviour_b0``, the mean behaviour is exactly
    ``tanh(kappa * margin * c / 2 + artanh b0)`` (T1 with equality).

    Helpfulness: option rows are orthogonal with equal norm, so the gap changes
    ``X_i = <delta, u_i - u_*>`` equal ``c * kappa * (y_i - y_*)`` with planted
    per-question option shifts ``y`` that are i.i.d. ``N(0, gap_scale^2)``
    (``gap_noise="gaussian"``: A2 holds exactly, with exchangeable covariance
    ``gap_scale^2 (I + 11^T)`` per unit ``c * kappa``) or Student-t with ``df``
    degrees of freedom (``"student_t"``: A2 fails).

    ``response="saturating"`` replaces ``c`` by ``2 tanh(c / 2)`` in delta, so the
    norm of delta is not linear in ``|c|`` (A3 fails).

    >>> b = synthetic_bundle(seed=0, n_prompts=3, n_questions=5, d=16, vocab_size=20)
    >>> b.behaviour.logprobs_qcr.shape, b.helpfulness.logprobs_qco.shape
    ((3, 21, 4), (5, 41, 4))
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"synthetic_bundle: seed must be a non-negative int, got {seed!r}")
    for name in ("n_prompts", "n_questions", "d", "vocab_size", "n_aligned", "n_misaligned", "n_options"):
        positive_int("synthetic_bundle", name, locals()[name])
    for name in ("margin", "kappa", "gap_scale", "df"):
        value = locals()[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) \
                or value <= 0:
            raise ValueError(f"synthetic_bundle: {name} must be a finite number > 0, got {value!r}")
    for name in ("kappa_spread", "direction_jitter", "answer_advantage", "behaviour_bias"):
        value = locals()[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
            raise ValueError(f"synthetic_bundle: {name} must be a finite number, got {value!r}")
    if response not in ("linear", "saturating"):
        raise ValueError(f"response={response!r}: expected 'linear' or 'saturating'")
    if gap_noise not in ("gaussian", "student_t"):
        raise ValueError(f"gap_noise={gap_noise!r}: expected 'gaussian' or 'student_t'")
    n_special = n_aligned + n_misaligned + n_options
    if vocab_size < n_special + 1 or d < n_options + 2:
        raise ValueError(f"vocab_size={vocab_size}, d={d} too small for {n_special} special tokens")
    rng = np.random.default_rng(seed)
    cb = np.linspace(-5.0, 5.0, 21) if behaviour_coefficients is None else np.asarray(behaviour_coefficients, float)
    ch = np.linspace(-10.0, 10.0, 41) if helpfulness_coefficients is None else np.asarray(helpfulness_coefficients, float)

    # An orthonormal frame: columns 0..n_options-1 carry the options, column n_options is v.
    frame, _ = np.linalg.qr(rng.normal(size=(d, d)))
    v = frame[:, n_options]
    unembed_vd = rng.normal(size=(vocab_size, d)) / np.sqrt(d)
    bias_v = rng.normal(size=vocab_size) * 0.5
    aligned = np.arange(n_aligned)
    misaligned = np.arange(n_aligned, n_aligned + n_misaligned)
    options = np.arange(n_aligned + n_misaligned, n_special)
    for i, t in enumerate(aligned):
        u = unembed_vd[t] - (unembed_vd[t] @ v) * v
        unembed_vd[t] = u + (margin / 2 + (0.3 * i if n_aligned > 1 else 0.0)) * v
    for i, t in enumerate(misaligned):
        u = unembed_vd[t] - (unembed_vd[t] @ v) * v
        unembed_vd[t] = u - (margin / 2 + (0.3 * i if n_misaligned > 1 else 0.0)) * v
    bias_v[np.concatenate([aligned, misaligned])] += behaviour_bias  # most mass on the behaviour tokens (A4)
    opt_norm = 1.0
    unembed_vd[options] = opt_norm * frame[:, :n_options].T
    bias_v[options] = 3.0  # options carry most of the mass, as for a multiple-choice prompt

    def steer(c_c: np.ndarray) -> np.ndarray:
        return c_c if response == "linear" else 2.0 * np.tanh(c_c / 2.0)

    # Behaviour prompts.
    kappa_q = kappa * (1.0 + kappa_spread * rng.uniform(-1.0, 1.0, size=n_prompts))
    dirs_qd = _unit(v + direction_jitter * rng.normal(size=(n_prompts, d)) / np.sqrt(d))
    for q in a1_failing:
        dirs_qd[q] = -v
    h0_qd = rng.normal(size=(n_prompts, d))
    if behaviour_b0 is not None:
        if not -1.0 < behaviour_b0 < 1.0:
            raise ValueError(f"behaviour_b0={behaviour_b0}: must lie in (-1, 1)")
        if n_aligned != 1 or n_misaligned != 1:
            raise ValueError("behaviour_b0 needs one aligned and one misaligned token")
        a, b = aligned[0], misaligned[0]
        w = unembed_vd[a] - unembed_vd[b]
        target = 2.0 * np.arctanh(behaviour_b0) - (bias_v[a] - bias_v[b])
        h0_qd += ((target - h0_qd @ w) / (w @ w))[:, None] * w
    delta_qcd = steer(cb)[None, :, None] * (kappa_q[:, None] * dirs_qd)[:, None, :]
    logits = np.einsum("qcd,vd->qcv", h0_qd[:, None, :] + delta_qcd, unembed_vd) + bias_v
    lp_qcv = log_softmax(logits, axis=-1)
    ids_r = np.concatenate([aligned, misaligned])
    behaviour = BehaviourSweep(
        coefficients_c=cb,
        logprobs_qcr=lp_qcv[..., ids_r],
        delta_qcd=delta_qcd,
        unembed_rd=unembed_vd[ids_r],
        aligned_ids=tuple(int(i) for i in aligned),
        misaligned_ids=tuple(int(i) for i in misaligned),
        prompts=tuple(f"synthetic prompt {q}" for q in range(n_prompts)),
    )

    # Helpfulness questions.
    correct_q = rng.integers(0, n_options, size=n_questions)
    if gap_noise == "gaussian":
        y_qo = gap_scale * rng.normal(size=(n_questions, n_options))
    else:
        y_qo = gap_scale * rng.standard_t(df, size=(n_questions, n_options))
    rest = frame[:, n_options:]
    w_qd = (y_qo @ frame[:, :n_options].T) / opt_norm + 0.5 * (rng.normal(size=(n_questions, rest.shape[1])) @ rest.T) / np.sqrt(d)
    g0_qd = rng.normal(size=(n_questions, d))
    g0_qd -= (g0_qd @ frame[:, :n_options]) @ frame[:, :n_options].T
    g0_qd += 0.5 * rng.normal(size=(n_questions, n_options)) @ frame[:, :n_options].T
    g0_qd += answer_advantage * frame[:, correct_q].T / opt_norm
    delta_h = steer(ch)[None, :, None] * (kappa * w_qd)[:, None, :]
    logits = np.einsum("qcd,vd->qcv", g0_qd[:, None, :] + delta_h, unembed_vd) + bias_v
    lp_qcv = log_softmax(logits, axis=-1)
    helpfulness = HelpfulnessSweep(
        coefficients_c=ch,
        logprobs_qco=lp_qcv[..., options],
        max_logprob_qc=lp_qcv.max(axis=-1),
        delta_qcd=delta_h,
        unembed_od=unembed_vd[options],
        option_ids=tuple(int(i) for i in options),
        correct_q=correct_q.astype(np.int64),
        option_labels=tuple("ABCDEFGH"[:n_options]) if n_options <= 8 else None,
        questions=tuple(f"synthetic question {q}" for q in range(n_questions)),
    )

    projection = None
    if with_projection:
        n = 2 * n_prompts
        labels = np.repeat(np.array([0, 1]), n_prompts)
        reps = rng.normal(size=(n, d)) * 0.5 + np.where(labels == 0, 1.0, -1.0)[:, None] * v
        projection = Projection(reps, labels, ("aligned", "misaligned"), "synthetic clusters along v")
    return ActivationBundle(
        condition=condition,
        behaviour=behaviour,
        helpfulness=helpfulness,
        model={"name": "synthetic-linear-readout", "hash": f"synthetic-seed-{seed}"},
        metadata={"steering": "final representation, delta = c * kappa * w_q", "seed": seed,
                  "gap_noise": gap_noise, "response": response},
        projection=projection,
    ).validated()
