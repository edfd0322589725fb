"""Example 3: the margin assumption A1 holding on only 90% of the prompts.

Which bound on the average behaviour over prompts survives? T1 holds prompt
by prompt where A1 holds; on the other prompts steering may lower B_r, all
the way to -1.
"""

import numpy as np
import pytest
from hypothesis import find

from steerbounds import alignment_bound
from steerbounds.testing import A1, Assumption, Inequality, behaviour_sweeps
from steerbounds.validation import a1_margins, behaviour_values

# Sweeps of 10 prompts: up to 2 are steered against their margin, and more may fail through jitter.
SWEEPS = behaviour_sweeps(min_prompts=10, max_prompts=10, max_failing=2, max_jitter=0.5)


def a1_per_prompt(sweep):
    """A1 (the kit's predicate) at every steered coefficient of each prompt."""
    steered = sweep.coefficients_c != 0
    return A1.holds(sweep)[:, steered].all(axis=1)


def t1_with_smallest_margin(sweep):
    """Per prompt and c > 0: tanh(r Delta/2 + artanh B_0), Delta the smallest margin of the A1 prompts."""
    good = a1_per_prompt(sweep)
    margin = np.nanmin(a1_margins(sweep).margin_qc[good])
    radius_qc = a1_margins(sweep).radius_qc
    b_qc = behaviour_values(sweep)
    b0_q = b_qc[:, sweep.coefficients_c == 0][:, 0]
    positive = sweep.coefficients_c > 0
    bound_qc = np.asarray(alignment_bound(np.where(positive, radius_qc, 0.0), margin, b0_q[:, None]))
    return good, b_qc, bound_qc, positive


def naive_average_t1(sweep):
    """The average of B_r obeys T1 as if every prompt had the margin."""
    good, b_qc, bound_qc, positive = t1_with_smallest_margin(sweep)
    return Inequality(observed=b_qc.mean(axis=0), bound=bound_qc.mean(axis=0), where=positive)


def surviving_average_t1(sweep):
    """T1 on the A1 prompts, the worst case B_r = -1 on the others, averaged."""
    good, b_qc, bound_qc, positive = t1_with_smallest_margin(sweep)
    bound_c = np.where(good[:, None], bound_qc, -1.0).mean(axis=0)
    return Inequality(observed=b_qc.mean(axis=0), bound=bound_c, where=positive)


A1_ON_90_PERCENT = Assumption(
    name="A1 on 90% of prompts",
    predicate=lambda sweep: a1_per_prompt(sweep).mean() >= 0.9,
    bound=naive_average_t1,
    measurements=SWEEPS,
    licenses="T1 for the average",
)


def test_naive_average_bound_fails():
    counterexample = A1_ON_90_PERCENT.find_counterexample(max_examples=100)
    assert counterexample is not None
    print(counterexample)  # shown with pytest -s
    assert not a1_per_prompt(counterexample.measurements).all()  # a prompt without A1 drags the average down


def test_bound_with_failing_prompts_at_minus_one_holds():
    surviving = A1_ON_90_PERCENT.replace(bound=surviving_average_t1, licenses="T1 for the average, -1 off A1")
    print(surviving.verify().assert_holds())


def test_the_guarantee_saturates_at_one_minus_twice_the_failing_fraction():
    # As r grows the surviving bound tends to (1 - f) - f = 1 - 2f: with f = 10%, B_r >= 0.8 at best.
    far_sweeps = behaviour_sweeps(min_prompts=10, max_prompts=10, max_failing=1, coefficients=[0.0, 1e3])
    sweep = find(far_sweeps, lambda sweep: a1_per_prompt(sweep).mean() == 0.9)
    assert surviving_average_t1(sweep).bound[-1] == pytest.approx(0.8, abs=1e-9)


@pytest.mark.steer(assumption=A1_ON_90_PERCENT)
@pytest.mark.counterexample
def test_naive_average_t1(steer_instance):
    claim = naive_average_t1(steer_instance)
    assert np.all((claim.observed >= claim.bound - 1e-9)[claim.where])


@pytest.mark.steer(assumption=A1_ON_90_PERCENT)
def test_surviving_average_t1(steer_instance):
    claim = surviving_average_t1(steer_instance)
    assert np.all((claim.observed >= claim.bound - 1e-9)[claim.where])
