"""The planted wrong bounds are caught: hypothesis finds a counterexample to each.

Each test searches with ``hypothesis.find`` for an instance violating the
planted claim, and runs the same search against the true statement to show
that it finds nothing there.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings, strategies as st
from hypothesis.errors import NoSuchExample

from steerbounds import alignment_bound, expected_helpfulness, helpfulness_lower_bound
from steerbounds.theory import _planted
from steerbounds.testing import alignment_instances

from theory_cases import helpfulness_cases

# Generation only: the first counterexample is enough, shrinking it is not needed.
SEARCH = settings(max_examples=300, deadline=None, database=None, phases=(Phase.generate,),
                  suppress_health_check=list(HealthCheck))
norms = st.floats(0.05, 3.0)


def _t1_violation(bound):
    def violates(case):
        inst, r = case
        plus, minus = inst.aligned_ids[:1], inst.misaligned_ids[:1]
        w = inst.unembed_vd @ inst.direction_d
        margin = float(w[plus[0]] - w[minus[0]])
        b0 = float(np.tanh((inst.logits_v[plus[0]] - inst.logits_v[minus[0]]) / 2))
        if not abs(b0) < 1 - 1e-9:
            return False
        z_r = inst.steered_logits(r)
        b_r = float(np.tanh((z_r[plus[0]] - z_r[minus[0]]) / 2))  # numpy reference for B_r
        return b_r < float(bound(r, margin, b0)) - 1e-9

    return violates


T1_CASES = st.tuples(alignment_instances(max_vocab=6, max_logit=3.0), norms)


def test_t1_double_slope_is_caught():
    inst, r = find(T1_CASES, _t1_violation(_planted.t1_double_slope), settings=SEARCH)
    assert r > 0


def test_true_t1_survives_the_same_search():
    with pytest.raises(NoSuchExample):
        find(T1_CASES, _t1_violation(alignment_bound), settings=SEARCH)


def _below_expectation(bound):
    def violates(case):
        gaps, cov, r = case
        value, err = expected_helpfulness(r, gaps, cov, method="quadrature", n=24)
        return float(value) + 10 * float(err) + 1e-12 < float(bound(r, gaps, cov))

    return violates


def test_t2a_flipped_exponent_is_caught():
    find(helpfulness_cases(max_k=2), _below_expectation(_planted.t2a_flipped_exponent), settings=SEARCH)


def test_true_t2a_survives_the_same_search():
    with pytest.raises(NoSuchExample):
        find(helpfulness_cases(max_k=2), _below_expectation(helpfulness_lower_bound), settings=SEARCH)


def test_linear_helpfulness_law_is_caught():
    def violates(case):
        gaps, cov, r = case
        value, err = expected_helpfulness(r, gaps, cov, method="quadrature", n=24)
        return float(value) - 10 * float(err) > float(_planted.linear_helpfulness_bound(r, gaps, cov)) + 1e-12

    gaps, cov, r = find(helpfulness_cases(max_k=2), violates, settings=SEARCH)
    assert r > 0


@given(case=helpfulness_cases(max_k=2))
def test_planted_expressions_are_mutations_of_derived_ones(case):
    """The planted functions differ from the true ones (they are not accidentally equal)."""
    gaps, cov, r = case
    assert float(_planted.t2a_flipped_exponent(r, gaps, cov)) >= float(helpfulness_lower_bound(r, gaps, cov))
    assert np.isfinite(float(_planted.linear_helpfulness_bound(r, gaps, cov)))
