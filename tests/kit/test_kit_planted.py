"""Every planted wrong bound of the theory layer is falsified by the kit within the ``fast`` profile.

Each planted bound replaces the licensed bound of the assumption it pretends to
follow (A1 on measured sweeps, A2 on a gap-change model); the kit must find a
counterexample with the ``fast`` profile's budget, whatever profile is in force.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import settings
from scipy.special import logsumexp

from steerbounds.testing import A1, A2_MODEL, Inequality
from steerbounds.theory import _planted
from steerbounds.validation import a1_margins, behaviour_values


def _sweep_parts(sweep):
    out = a1_margins(sweep)
    defined = out.radius_qc != 0
    return out.radius_qc, np.where(defined, out.margin_qc, 0.0), defined


def _t1_double_slope(sweep):
    r_qc, margin_qc, defined = _sweep_parts(sweep)
    b_qc = behaviour_values(sweep)
    b0_q = b_qc[:, sweep.coefficients_c == 0][:, 0]
    defined = defined & (np.abs(b0_q) < 1)[:, None]
    bound = np.asarray(_planted.t1_double_slope(r_qc, margin_qc, np.where(defined, b0_q[:, None], 0.0)))
    return Inequality(observed=np.sign(r_qc) * b_qc, bound=np.sign(r_qc) * bound, where=defined)


def _t1_double_slope_half_log_odds(sweep):
    r_qc, margin_qc, defined = _sweep_parts(sweep)
    na = sweep.n_aligned
    u_qc = (logsumexp(sweep.logprobs_qcr[..., :na], axis=-1) - logsumexp(sweep.logprobs_qcr[..., na:], axis=-1)) / 2
    u0_q = u_qc[:, sweep.coefficients_c == 0][:, 0]
    bound = np.asarray(_planted.t1_double_slope_half_log_odds(r_qc, margin_qc, u0_q[:, None]))
    return Inequality(observed=np.sign(r_qc) * u_qc, bound=np.sign(r_qc) * bound, where=defined)


def _t2a_flipped_exponent(model):
    value, err = model.expected_helpfulness()
    return Inequality(observed=value, bound=_planted.t2a_flipped_exponent(model.radius, model.gaps_k, model.cov_kk),
                      stderr=err)


def _linear_helpfulness_bound(model):
    value, err = model.expected_helpfulness()
    bound = _planted.linear_helpfulness_bound(model.radius, model.gaps_k, model.cov_kk)
    return Inequality(observed=value, bound=bound, stderr=err, sense="<=")


PLANTED = {
    "t1_double_slope": A1.replace(bound=_t1_double_slope, licenses="planted T1 with twice the slope"),
    "t1_double_slope_half_log_odds": A1.replace(bound=_t1_double_slope_half_log_odds,
                                                licenses="planted half-log-odds T1 with twice the slope"),
    "t2a_flipped_exponent": A2_MODEL.replace(bound=_t2a_flipped_exponent, licenses="planted T2a, exponent flipped"),
    "linear_helpfulness_bound": A2_MODEL.replace(bound=_linear_helpfulness_bound,
                                                 licenses="planted linear upper bound p_0 - s_H |r|"),
}


def test_every_planted_bound_has_a_kit_check():
    planted = {name for name, f in inspect.getmembers(_planted, inspect.isfunction)
               if f.__module__ == _planted.__name__ and "DELIBERATELY WRONG" in (f.__doc__ or "")}
    assert planted == set(PLANTED), f"planted bounds without a kit check: {sorted(planted - set(PLANTED))}"


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bound_is_falsified_within_the_fast_profile(name):
    fast = settings.get_profile("fast")
    counterexample = PLANTED[name].find_counterexample(settings=fast)
    assert counterexample is not None, f"the kit did not falsify the planted bound {name} in {fast.max_examples} examples"
    evaluation = counterexample.evaluation
    assert evaluation.n_violated >= 1 and evaluation.worst_slack < -evaluation.tolerance[evaluation.worst_index]
    assert bool(PLANTED[name].holds(counterexample.measurements).any())  # the assumption holds there
