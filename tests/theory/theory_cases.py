"""Composite strategies shared by the theory tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from steerbounds.testing import covariances, gap_vectors


@st.composite
def helpfulness_cases(draw, *, min_k=1, max_k=2, max_scale=2.0, min_r=0.05, max_r=2.0):
    """(gaps, cov, r) with a full covariance (correlated and near-singular ones included)."""
    gaps = draw(gap_vectors(min_k=min_k, max_k=max_k, min_gap=-4.0, max_gap=4.0))
    cov = draw(covariances(k=gaps.shape[0], max_scale=max_scale))
    return gaps, cov, draw(st.floats(min_r, max_r))


@st.composite
def right_answer_cases(draw, *, max_k=4):
    """(gaps, cov) with p_0 >= 1/2: every gap at most -log(k)."""
    gaps = draw(gap_vectors(max_k=max_k, min_gap=-12.0, max_gap=0.0))
    gaps = gaps - np.log(gaps.shape[0])
    return gaps, draw(covariances(k=gaps.shape[0]))
