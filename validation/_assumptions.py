"""The assumptions of docs/theory.md#measured (A1-A4), measured on an activation bundle.

Each function returns a frozen dataclass (numpy arrays for per-prompt and
per-coefficient values) with a boolean ``holds`` and, where the assumption fails
on some prompts, those prompts with where they fail. Nothing is dropped: the
theorems are then checked on every prompt, and the report says which checks are
covered by their assumption.
"""

from __future__ import annotations

from steerbounds.theory import check_array

from typing import Any

import numpy as np
from scipy import stats

from ._bundle import BehaviourSweep, HelpfulnessSweep
from ._config import ValidationConfig
from ._results import (BehaviourMassCheck, FailingPrompt, GapChangeBias, GapChangeCheck, GapChangeHistograms,
                       GapChangeRow, GapCovariance, LinearFit, MarginCheck, NonlinearPrompt, NormalityVerdict,
                       StdLinearity, SweepLinearity, ValueSummary)
from ._x64 import float64


def signed_radius(coefficients_c: np.ndarray, delta_qcd: np.ndarray) -> np.ndarray:
    """``r = sign(c) * ||delta_c(q)||`` per prompt and coefficient (docs/theory.md#setting).

    With this sign convention ``delta = r * delta_hat`` where ``delta_hat`` points
    along the positive steering direction at every ``c``, so T1's ``sign(r)``
    distinguishes the two sides of the sweep.

    >>> import numpy as np
    >>> signed_radius(np.array([-2.0, 0.0, 1.0]), np.array([[[0.0, 2.0], [0, 0], [1.0, 0.0]]]))
    array([[-2.,  0.,  1.]])
    """
    coefficients_c = check_array("signed_radius", "coefficients_c", coefficients_c, ndim=1, host=True)
    delta_qcd = check_array("signed_radius", "delta_qcd", delta_qcd, ndim=3, host=True)
    if delta_qcd.shape[1] != coefficients_c.shape[0]:
        raise ValueError(f"signed_radius: delta_qcd has {delta_qcd.shape[1]} coefficients (axis 1) but coefficients_c "
                         f"has {coefficients_c.shape[0]}")
    return np.sign(coefficients_c)[None, :] * np.linalg.norm(delta_qcd, axis=-1)


def _need(value: Any, kind: type, name: str) -> None:
    if not isinstance(value, kind):
        part = "bundle.behaviour" if kind is BehaviourSweep else "bundle.helpfulness"
        raise TypeError(f"{name} must be a {kind.__name__} (e.g. {part}), got {type(value).__name__}")


def _failing(mask_qc: np.ndarray, coefficients_c: np.ndarray, texts: tuple[str, ...] | None,
             values_qc: np.ndarray | None = None, value_name: str = "value") -> tuple[FailingPrompt, ...]:
    """Prompts where ``mask_qc`` (True = fails) is set, with the failing coefficients."""
    out = []
    for q in np.flatnonzero(mask_qc.any(axis=1)):
        worst = None if values_qc is None else float(values_qc[q][mask_qc[q]].min())
        out.append(FailingPrompt(int(q), coefficients_c[mask_qc[q]].tolist(), None if texts is None else texts[q],
                                 worst, None if values_qc is None else value_name))
    return tuple(out)


@float64
def a1_margins(behaviour: BehaviourSweep, config: ValidationConfig | None = None) -> MarginCheck:
    """Assumption A1 per prompt and coefficient: ``Delta = min_a <dhat, u_a> - max_b <dhat, u_b>``.

    ``dhat = delta / r`` with the signed radius ``r`` (:func:`signed_radius`); at
    ``c = 0`` the margin is undefined (NaN). Also measures the bundle's
    consistency: the change of every behaviour token's log-probability must equal
    ``<delta, u_t>`` up to one shift per prompt and coefficient (the change of the
    normaliser), because logits are linear in the final representation. The
    spread ``consistency_qc`` of that difference over tokens bounds the error of
    the margin times ``|r|``.

    >>> from steerbounds.validation import synthetic_bundle
    >>> out = a1_margins(synthetic_bundle(seed=0, n_prompts=3, n_questions=2, margin=1.0).behaviour)
    >>> out.holds, round(float(out.margin_summary.min), 6)
    (True, 1.0)
    """
    from steerbounds.numerics import a1_margin  # JAX loads when margins are computed, not with the bundle format

    _need(behaviour, BehaviourSweep, "a1_margins: behaviour")
    config = config or ValidationConfig()
    c = behaviour.coefficients_c
    na = behaviour.n_aligned
    nr = behaviour.unembed_rd.shape[0]
    r_qc = signed_radius(c, behaviour.delta_qcd)
    # numerics.a1_margin uses dhat = delta / ||delta||; passing sign(c) delta gives dhat = delta / r.
    signed_delta = np.sign(c)[None, :, None] * behaviour.delta_qcd
    measured = a1_margin(signed_delta, behaviour.unembed_rd, list(range(na)), list(range(na, nr)))
    defined_qc = np.asarray(measured.defined_cb) & (r_qc != 0)
    margin_qc = np.where(defined_qc, np.asarray(measured.margin_cb, dtype=np.float64), np.nan)
    proj_qcr = np.einsum("qcd,rd->qcr", behaviour.delta_qcd, behaviour.unembed_rd)
    i0 = int(np.flatnonzero(c == 0.0)[0])
    dev_qcr = (behaviour.logprobs_qcr - behaviour.logprobs_qcr[:, i0 : i0 + 1]) - proj_qcr
    consistency_qc = dev_qcr.max(-1) - dev_qcr.min(-1)
    holds_qc = np.where(defined_qc, margin_qc > 0, True)
    vals = margin_qc[defined_qc]
    return MarginCheck(
        radius_qc=r_qc,
        margin_qc=margin_qc,
        holds_qc=holds_qc,
        consistency_qc=consistency_qc,
        projection_scale=float(np.abs(proj_qcr).max()),
        holds=bool(holds_qc.all()),
        fraction_holding=float(holds_qc[defined_qc].mean()) if defined_qc.any() else 1.0,
        margin_summary=_summary(vals),
        margin_per_prompt_median=np.array([np.median(m[np.isfinite(m)]) if np.isfinite(m).any() else np.nan
                                           for m in margin_qc]),
        failing_prompts=_failing(~holds_qc, c, behaviour.prompts, np.where(defined_qc, margin_qc, np.inf), "margin"),
    )


def _summary(x: np.ndarray) -> ValueSummary:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return ValueSummary(n=0)
    q = np.quantile(x, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    return ValueSummary(n=int(x.size), mean=float(x.mean()), std=float(x.std(ddof=1)) if x.size > 1 else 0.0,
                        min=float(q[0]), q05=float(q[1]), q25=float(q[2]), median=float(q[3]),
                        q75=float(q[4]), q95=float(q[5]), max=float(q[6]))


@float64
def gap_changes(helpfulness: HelpfulnessSweep) -> tuple[np.ndarray, np.ndarray]:
    """Restricted gaps ``g_qci = z_i - z_*`` and gap changes ``X_qci = <delta, u_i - u_*>`` (docs/theory.md#helpfulness).

    Competitors ``i`` are the other options of each question, in option order.
    The gaps come from the stored log-probabilities; the gap changes from
    ``steerbounds.numerics.gap_changes`` on the stored delta and unembedding rows
    (they equal the change of the gaps when the bundle is consistent). With
    per-question option rows (``unembed_qod``) each question's gap changes use
    its own rows.

    >>> from steerbounds.validation import synthetic_bundle
    >>> g, x = gap_changes(synthetic_bundle(seed=0, n_prompts=2, n_questions=5).helpfulness)
    >>> g.shape, x.shape
    ((5, 41, 3), (5, 41, 3))
    """
    from steerbounds.numerics import gap_changes as numerics_gap_changes  # JAX loads only when this runs

    _need(helpfulness, HelpfulnessSweep, "gap_changes: helpfulness")
    lp = helpfulness.logprobs_qco
    nq, _, no = lp.shape
    correct = np.asarray(helpfulness.correct_q)
    others = np.array([[o for o in range(no) if o != correct[q]] for q in range(nq)])  # (q, k)
    lp_star = np.take_along_axis(lp, correct[:, None, None], axis=2)  # (q, c, 1)
    lp_comp = np.take_along_axis(lp, others[:, None, :], axis=2)  # (q, c, k)
    if helpfulness.shared_unembedding:
        x_qci = numerics_gap_changes(helpfulness.delta_qcd, helpfulness.unembed_od, correct[:, None], list(range(no)))
    else:
        rows_qod = helpfulness.option_rows_qod()
        x_qci = np.stack([np.asarray(numerics_gap_changes(helpfulness.delta_qcd[q], rows_qod[q], correct[q],
                                                          list(range(no))))
                          for q in range(nq)])
    return lp_comp - lp_star, np.asarray(x_qci, dtype=np.float64)


def _normality(x: np.ndarray) -> dict[str, Any]:
    n = x.size
    if n < 3 or float(np.std(x)) <= 1e-12 * max(1.0, float(np.abs(x).max())):
        return {"test": None, "statistic": None, "p_value": None}
    if n <= 5000:
        res = stats.shapiro(x)
        return {"test": "shapiro-wilk", "statistic": float(res.statistic), "p_value": float(res.pvalue)}
    res = stats.normaltest(x)
    return {"test": "dagostino-pearson", "statistic": float(res.statistic), "p_value": float(res.pvalue)}


def _linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least squares ``y = slope * x + intercept`` with R^2."""
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else (1.0 if np.allclose(resid, 0) else 0.0)
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2}


def a2_gap_changes(helpfulness: HelpfulnessSweep, config: ValidationConfig | None = None) -> GapChangeCheck:
    """Assumption A2 (Gaussian gap changes ``X ~ N(0, r^2 Sigma)``) measured on a sweep.

    Per coefficient ``c != 0`` and over all (question, competitor) pairs: mean,
    standard deviation, skewness, excess kurtosis and a normality test
    (Shapiro-Wilk, or D'Agostino-Pearson above 5000 values). Across coefficients:
    the standard deviation against ``|c|`` (slope, intercept, R^2). Pooled: the
    mean per unit signed norm ``mu`` (C2.3) with its question-clustered standard
    error, and the covariance ``Sigma`` fitted from ``Y = X / r``.

    Verdict: A2 holds when (i) no coefficient rejects normality at the
    Bonferroni-corrected level ``alpha / n_coefficients``, (ii) the standard
    deviation is linear in ``|c|`` with ``R^2 >= r2_min``, and (iii) ``mu`` is not
    significant at level ``alpha``. The competitors of a question share the
    correct token, so their gap changes are correlated; the tests treat the pairs
    as one sample, which is exact for the marginal law and approximate for the
    test's level.

    Covariance: second moments about zero of ``Y``, pooled over questions and the
    coefficients ``0 < |c| <= cov_fit_max_abs_c``, symmetrised over the
    competitors (which are "the other options" and have no fixed identity):
    ``Sigma = (s_d - s_o) I + s_o 1 1^T`` with ``s_d`` the mean of ``Y_i^2`` and
    ``s_o`` the mean of ``Y_i Y_j`` (``i != j``).

    >>> from steerbounds.validation import synthetic_bundle
    >>> out = a2_gap_changes(synthetic_bundle(seed=0, n_prompts=2, n_questions=60).helpfulness)
    >>> out.holds, out.covariance.sigma_kk.shape
    (True, (3, 3))
    """
    _need(helpfulness, HelpfulnessSweep, "a2_gap_changes: helpfulness")
    config = config or ValidationConfig()
    c = helpfulness.coefficients_c
    g_qci, x_qci = gap_changes(helpfulness)
    nq, nc, k = x_qci.shape
    r_qc = signed_radius(c, helpfulness.delta_qcd)
    rows = []
    p_values = []
    for j in range(nc):
        x = x_qci[:, j, :].ravel()
        row: dict[str, Any] = {"c": float(c[j]), "n": int(x.size), "mean": float(x.mean()),
                               "std": float(x.std(ddof=1)) if x.size > 1 else 0.0}
        per_q = x_qci[:, j, :].mean(axis=1)
        row["sem"] = float(per_q.std(ddof=1) / np.sqrt(nq)) if nq > 1 else None
        if c[j] != 0.0 and row["std"] > 0:
            row["skewness"] = float(stats.skew(x))
            row["excess_kurtosis"] = float(stats.kurtosis(x))
            row.update(_normality(x))
        else:
            row.update({"skewness": None, "excess_kurtosis": None, "test": None, "statistic": None, "p_value": None})
        if row["p_value"] is not None:
            p_values.append(row["p_value"])
        rows.append(row)
    std_c = np.array([row["std"] for row in rows])
    std_fit = LinearFit(**_linear_fit(np.abs(c), std_c))
    n_tests = len(p_values)
    min_p = min(p_values) if p_values else None
    normal = bool(min_p is None or min_p * n_tests > config.alpha)
    n_rejected = int(sum(p * n_tests <= config.alpha for p in p_values))

    nonzero = c != 0.0
    fit_mask = nonzero if config.cov_fit_max_abs_c is None else (nonzero & (np.abs(c) <= config.cov_fit_max_abs_c))
    if not fit_mask.any():
        raise ValueError(f"cov_fit_max_abs_c={config.cov_fit_max_abs_c} leaves no coefficient c != 0 of the grid "
                         f"{c.min()}..{c.max()} to fit the A2 covariance; raise it or leave it None")
    r_sel = r_qc[:, fit_mask]
    ok = r_sel != 0
    y = x_qci[:, fit_mask, :] / np.where(ok, r_sel, 1.0)[..., None]  # (q, c', k)
    y_pairs = y[ok]  # (n, k)
    s_d = float((y_pairs**2).mean())
    outer = np.einsum("ni,nj->ij", y_pairs, y_pairs) / y_pairs.shape[0]
    s_o = float((outer.sum() - np.trace(outer)) / (k * (k - 1))) if k > 1 else 0.0
    sigma_kk = (s_d - s_o) * np.eye(k) + s_o * np.ones((k, k))
    # Bias (C2.3): per question, the mean of Y over coefficients and competitors.
    per_q = np.array([y[q][ok[q]].mean() if ok[q].any() else np.nan for q in range(nq)])
    per_q = per_q[np.isfinite(per_q)]
    mu = float(per_q.mean())
    mu_se = float(per_q.std(ddof=1) / np.sqrt(per_q.size)) if per_q.size > 1 else float("inf")
    z = mu / mu_se if mu_se > 0 else (0.0 if mu == 0 else float("inf"))
    z_crit = float(stats.norm.ppf(1 - config.alpha / 2))
    bias_significant = bool(abs(z) > z_crit)
    linear = bool(std_fit.r2 >= config.r2_min)
    # Histograms on one set of bins (for the figure), per coefficient.
    lim = float(np.quantile(np.abs(x_qci), 0.995)) or 1.0
    edges = np.linspace(-lim, lim, config.histogram_bins + 1)
    counts = np.stack([np.histogram(np.clip(x_qci[:, j, :].ravel(), -lim, lim), bins=edges)[0] for j in range(nc)])
    return GapChangeCheck(
        per_coefficient=tuple(GapChangeRow(**row) for row in rows),
        std_c=std_c,
        std_fit=std_fit,
        normality=NormalityVerdict(n_tests=n_tests, min_p_value=min_p,
                                   bonferroni_level=config.alpha / max(n_tests, 1), n_rejected=n_rejected,
                                   holds=normal),
        std_linear=StdLinearity(holds=linear, r2_min=config.r2_min),
        bias=GapChangeBias(mu=mu, se=mu_se, z=z, z_critical=z_crit, significant=bias_significant,
                           clustered_by="question"),
        covariance=GapCovariance(
            sigma_kk=sigma_kk, diagonal=s_d, off_diagonal=s_o, sigma_iid=float(np.sqrt(s_d)),
            second_moment_kk=outer, n_samples=int(y_pairs.shape[0]),
            coefficients_used=c[fit_mask].tolist(),
            method=("second moments about zero of Y = X / r (signed norm of delta), pooled over questions and "
                       "coefficients c != 0" + ("" if config.cov_fit_max_abs_c is None else
                                               f" with |c| <= {config.cov_fit_max_abs_c}")
                       + ", symmetrised over competitors: Sigma = (s_d - s_o) I + s_o 11^T"
                       + ("" if helpfulness.shared_unembedding else
                          "; every question has its own option rows, so Sigma averages over different "
                          "unembeddings")),
        ),
        histograms=GapChangeHistograms(edges=edges, counts_cb=counts, clipped_at=lim),
        gaps_qci=g_qci,
        x_qci=x_qci,
        radius_qc=r_qc,
        holds=bool(normal and linear and not bias_significant),
    )


def a3_linear_response(coefficients_c: np.ndarray, delta_qcd: np.ndarray, texts: tuple[str, ...] | None = None,
                       config: ValidationConfig | None = None) -> SweepLinearity:
    """Assumption A3: ``||delta_c(q)|| ~ kappa(q) |c|`` and a direction ``dhat`` stable in ``c``.

    Per prompt: ``kappa`` by least squares through the origin, its ``R^2``
    (``1 - SS_res / SS_tot`` around the mean norm), and the cosines between the
    sign-adjusted directions ``delta_c / r_c`` at every pair of nonzero
    coefficients (the smallest is reported; ``cos_ref_qc`` is each direction's
    cosine with the one at the smallest positive ``c``). A3 holds on a prompt when
    ``R^2 >= r2_min`` and the smallest cosine is at least ``cosine_min``.

    >>> import numpy as np
    >>> c = np.array([-1.0, 0.0, 1.0, 2.0])
    >>> delta = (c[:, None] * np.array([3.0, 4.0]))[None]          # kappa = 5
    >>> out = a3_linear_response(c, delta)
    >>> round(float(out.kappa_q[0]), 6), out.holds
    (5.0, True)
    """
    coefficients_c = check_array("a3_linear_response", "coefficients_c", coefficients_c, ndim=1, host=True)
    delta_qcd = check_array("a3_linear_response", "delta_qcd", delta_qcd, ndim=3, host=True)
    if delta_qcd.shape[1] != coefficients_c.shape[0]:
        raise ValueError(f"a3_linear_response: delta_qcd has {delta_qcd.shape[1]} coefficients (axis 1) but "
                         f"coefficients_c has {coefficients_c.shape[0]}")
    config = config or ValidationConfig()
    c = np.asarray(coefficients_c, dtype=np.float64)
    norm_qc = np.linalg.norm(delta_qcd, axis=-1)
    ac = np.abs(c)
    kappa_q = (norm_qc * ac).sum(axis=1) / (ac**2).sum()
    resid = norm_qc - kappa_q[:, None] * ac
    ss_tot = ((norm_qc - norm_qc.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_q = np.where(ss_tot > 0, 1.0 - (resid**2).sum(axis=1) / ss_tot, 1.0)
    nz = np.flatnonzero(c != 0.0)
    r_qc = signed_radius(c, delta_qcd)[:, nz]
    with np.errstate(divide="ignore", invalid="ignore"):
        dhat = delta_qcd[:, nz] / np.where(r_qc != 0, r_qc, np.inf)[..., None]
    cos_qcc = np.einsum("qid,qjd->qij", dhat, dhat)
    min_cos_q = cos_qcc.min(axis=(1, 2))
    pos = nz[c[nz] > 0]
    ref = int(np.flatnonzero(c[nz] == c[pos].min())[0]) if pos.size else 0
    cos_ref_qc = np.full(delta_qcd.shape[:2], np.nan)
    cos_ref_qc[:, nz] = cos_qcc[:, ref, :]
    fails_q = (r2_q < config.r2_min) | (min_cos_q < config.cosine_min)
    failing = []
    for q in np.flatnonzero(fails_q):
        failing.append(NonlinearPrompt(index=int(q), r2=float(r2_q[q]), min_cosine=float(min_cos_q[q]),
                                       kappa=float(kappa_q[q]), text=None if texts is None else texts[q]))
    return SweepLinearity(
        kappa_q=kappa_q,
        r2_q=r2_q,
        min_cosine_q=min_cos_q,
        cos_ref_qc=cos_ref_qc,
        norm_qc=norm_qc,
        kappa_summary=_summary(kappa_q),
        r2_summary=_summary(r2_q),
        min_cosine_summary=_summary(min_cos_q),
        reference_coefficient=float(c[nz][ref]),
        failing_prompts=tuple(failing),
        holds=bool(not fails_q.any()),
    )


def a4_behaviour_mass(behaviour: BehaviourSweep, config: ValidationConfig | None = None) -> BehaviourMassCheck:
    """Assumption A4: the mass ``m = P+ + P-`` on the behaviour tokens over the sweep.

    Holds when ``m >= mass_min`` on every prompt and coefficient; prompts below it
    are listed with the coefficients where they fall below and their smallest mass.

    >>> from steerbounds.validation import synthetic_bundle
    >>> out = a4_behaviour_mass(synthetic_bundle(seed=0, n_prompts=2, n_questions=2).behaviour)
    >>> out.mass_qc.shape
    (2, 21)
    """
    _need(behaviour, BehaviourSweep, "a4_behaviour_mass: behaviour")
    config = config or ValidationConfig()
    mass_qc = np.exp(behaviour.logprobs_qcr).sum(axis=-1)
    below = mass_qc < config.mass_min
    return BehaviourMassCheck(
        mass_qc=mass_qc,
        mass_mean_c=mass_qc.mean(axis=0),
        mass_min_c=mass_qc.min(axis=0),
        mass_summary=_summary(mass_qc),
        fraction_holding=float((~below).mean()),
        failing_prompts=_failing(below, behaviour.coefficients_c, behaviour.prompts, mass_qc, "mass"),
        mass_min=config.mass_min,
        holds=bool(not below.any()),
    )
