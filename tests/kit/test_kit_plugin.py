"""The pytest plugin: steer_instance, the steer and counterexample markers, profiles (run in a nested pytest)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from steerbounds.testing import load_profile, profile_name, register_profiles

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_steer_instance_makes_a_property_test_over_a1_instances(pytester):
    result = run(pytester, """
import numpy as np

SEEN = []

def test_margin_is_positive(steer_instance):
    SEEN.append(steer_instance)
    w = steer_instance.unembed_vd @ steer_instance.direction_d
    assert w[steer_instance.aligned_ids].min() - w[steer_instance.misaligned_ids].max() > 0

def test_many_instances_were_drawn():
    assert len(SEEN) >= 10
""")
    result.assert_outcomes(passed=2)


def test_a_failing_property_reports_the_shrunk_instance(pytester):
    result = run(pytester, """
import pytest
from hypothesis import strategies as st

@pytest.mark.steer(st.integers(0, 1000))
def test_small(steer_instance):
    assert steer_instance < 17
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Draw 1 (steer_instance): 17*"])


def test_counterexample_marker_passes_when_the_claim_fails_and_reports_it(pytester):
    result = run(pytester, """
import pytest
from hypothesis import strategies as st

@pytest.mark.steer(st.floats(0, 10))
@pytest.mark.counterexample
def test_square_exceeds(steer_instance):
    assert steer_instance ** 2 >= steer_instance, "x^2 < x"

@pytest.mark.steer(st.floats(0, 10))
@pytest.mark.counterexample
def test_a_true_claim(steer_instance):
    assert steer_instance ** 2 >= 0
""")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_a_true_claim*", "*claim held on every instance drawn*"])
    result.stdout.fnmatch_lines([
        "*steerbounds counterexamples*",
        "*test_square_exceeds*",
        "*minimal counterexample: 0.5*",
        "*x^2 < x*",
    ])


def test_steer_with_an_assumption_draws_where_its_predicate_holds(pytester):
    result = run(pytester, """
import pytest
from hypothesis import strategies as st
from steerbounds.testing import Assumption, Inequality

POSITIVE = Assumption("x > 0", lambda x: x > 0, lambda x: Inequality(x, 0.0), st.floats(-5, 5))

@pytest.mark.steer(assumption=POSITIVE)
def test_only_positive(steer_instance):
    assert steer_instance > 0
""")
    result.assert_outcomes(passed=1)


def test_settings_on_the_marker_and_other_fixtures_are_passed(pytester):
    result = run(pytester, """
import pytest
from hypothesis import settings, strategies as st

CALLS = []

@pytest.fixture
def offset():
    return 100

@pytest.mark.steer(st.integers(0, 5), settings=settings(max_examples=3))
def test_uses_offset(steer_instance, offset):
    CALLS.append(steer_instance + offset)
    assert steer_instance + offset >= 100

def test_three_examples():
    assert 1 <= len(CALLS) <= 3
""")
    result.assert_outcomes(passed=2)


def test_the_body_runs_in_float64(pytester):
    result = run(pytester, """
import jax.numpy as jnp
import pytest
from hypothesis import strategies as st

@pytest.mark.steer(st.just(1.0))
def test_x64(steer_instance):
    assert jnp.asarray(steer_instance).dtype == jnp.float64
""")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "decorators, message",
    [
        ("@pytest.mark.steer(3)", "needs a hypothesis strategy"),
        ("@pytest.mark.steer(st.just(1), st.just(2))", "takes one strategy"),
        ("@pytest.mark.steer(st.just(1), speed=2)", "unknown arguments"),
        ("@pytest.mark.steer(assumption=3)", "must be an Assumption"),
    ],
)
def test_misuse_is_reported(pytester, decorators, message):
    result = run(pytester, f"""
import pytest
from hypothesis import given, strategies as st

{decorators}
def test_bad(steer_instance):
    pass
""")
    assert message in result.stdout.str()


def test_given_and_steer_instance_do_not_mix(pytester):
    result = run(pytester, """
from hypothesis import given, strategies as st

@given(x=st.just(1))
def test_bad(steer_instance, x):
    pass
""")
    result.assert_outcomes(failed=1)  # refused (by hypothesis's fixture health check, or by the plugin)
    assert "steer_instance" in result.stdout.str()


def test_markers_are_registered_and_header_names_the_profile(pytester):
    result = run(pytester, "def test_nothing():\n    pass\n", "--strict-markers", "--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.steer(strategy=None*", "*@pytest.mark.counterexample*"])
    header = run(pytester, "def test_nothing():\n    pass\n")
    header.stdout.fnmatch_lines(["steerbounds: hypothesis profile *"])


def test_profiles_follow_the_environment():
    assert register_profiles() == ("fast", "thorough")
    assert settings.get_profile("fast").max_examples == 40
    assert settings.get_profile("thorough").max_examples == 300
    assert profile_name({}) == "fast"
    assert profile_name({"CI": "1"}) == "thorough"
    assert profile_name({"CI": "1", "HYPOTHESIS_PROFILE": "fast"}) == "fast"
    assert profile_name({"HYPOTHESIS_PROFILE": " "}) == "fast"


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="HYPOTHESIS_PROFILE"):
        load_profile("no-such-profile")
