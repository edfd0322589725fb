"""The standard error stated with ``E[H] under fitted A2`` matches the seed-to-seed spread."""

from __future__ import annotations

import numpy as np

from steerbounds.validation import compare_t2


def _run(seed, *, k):
    rng = np.random.default_rng(123)  # the same questions for every seed: only the Monte Carlo draws change
    nq = 10
    gaps = rng.normal(-1.0, 0.5, size=(nq, k))
    radius = np.tile([0.5, 1.5, 3.0], (nq, 1))
    cov = 0.5 * np.eye(k) + 0.1
    measured = np.full((nq, 3), 0.4)
    out = compare_t2(measured, radius, gaps, cov, n_mc=256, seed=seed)
    return out.expected_c, out.expected_se_c


def test_monte_carlo_se_matches_spread_over_seeds():
    seeds = range(30)
    est, se = map(np.array, zip(*(_run(s, k=3) for s in seeds)))
    z = (est - est.mean(axis=0)) / se
    mean_square = (z**2).mean(axis=0) * len(seeds) / (len(seeds) - 1)
    # Chi-square with 29 degrees of freedom over 29: within [0.45, 1.75] with probability > 0.99.
    assert np.all((mean_square > 0.45) & (mean_square < 1.75)), mean_square


def test_quadrature_error_is_a_bound_on_the_mean():
    est0, err0 = _run(0, k=2)
    est1, err1 = _run(1, k=2)
    assert np.array_equal(est0, est1)  # deterministic
    assert np.all(err0 < 1e-8)
