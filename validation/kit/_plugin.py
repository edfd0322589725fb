"""The steerbounds pytest plugin (entry point ``pytest11``): fixtures, markers and profiles.

Installing steerbounds makes pytest load this plugin, which

* registers the hypothesis profiles ``fast`` and ``thorough`` and loads the
  one the environment asks for (``HYPOTHESIS_PROFILE``; ``thorough`` under
  CI, else ``fast``); a project's conftest.py may load another afterwards;
* provides the fixture ``steer_instance``: a test that asks for it becomes a
  hypothesis property test, run once per drawn instance (default: logits
  with an unembedding satisfying A1, :func:`alignment_instances`), with
  JAX's x64 mode on; a failing instance is shrunk and reported;
* provides the markers ``@pytest.mark.steer(strategy, *, assumption=None,
  settings=None)`` (what ``steer_instance`` draws: a strategy, or an
  :class:`Assumption` whose measurements are drawn and kept where its
  predicate holds) and ``@pytest.mark.counterexample`` (the test's claim is
  expected to FAIL: the plugin searches for a failing instance, passes when
  it finds one and prints it shrunk in the terminal summary, and fails when
  the claim survives the search).

Disable it with ``-p no:steerbounds``.
"""

from __future__ import annotations

import random
import zlib

import pytest

from ._profiles import PROFILE_VARIABLE, load_profile, profile_name, register_profiles

FIXTURE = "steer_instance"
_STEER_HELP = (
    "steer(strategy=None, *, assumption=None, settings=None): what the steer_instance fixture draws "
    "(a hypothesis strategy, or an steerbounds.testing.Assumption whose measurements are kept where its "
    "predicate holds) and optional hypothesis settings"
)
_COUNTEREXAMPLE_HELP = (
    "counterexample: the test's claim must FAIL on some drawn steer_instance; the shrunk counterexample is "
    "reported, and the test fails if none is found"
)

register_profiles()
try:
    load_profile()
    _PENDING: str | None = None
except ValueError:  # a profile a conftest.py may still register: retried in pytest_configure
    _PENDING = profile_name()

_REPORTS = pytest.StashKey[list]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _STEER_HELP)
    config.addinivalue_line("markers", _COUNTEREXAMPLE_HELP)
    config.stash[_REPORTS] = []
    if _PENDING is not None and not _option(config, "hypothesis_profile"):
        load_profile(_PENDING)


def _option(config: pytest.Config, name: str):
    try:
        return config.getoption(name)
    except ValueError:
        return None


class _NotDrawn:
    """What ``steer_instance`` is outside the plugin's property test (never seen by a test that runs normally)."""

    def __init__(self, nodeid: str) -> None:
        self._nodeid = nodeid

    def __getattr__(self, name):
        raise RuntimeError(
            f"{self._nodeid}: steer_instance is drawn per example by the steerbounds pytest plugin, which did not "
            "run this test (is it disabled with -p no:steerbounds?)"
        )


@pytest.fixture
def steer_instance(request):
    """An instance drawn per hypothesis example (see the ``steer`` marker); the test runs once per instance.

    Default: :func:`steerbounds.testing.alignment_instances`, logits with an
    unembedding, a unit steering direction and token sets satisfying A1.
    """
    return _NotDrawn(request.node.nodeid)


def _resolve(item: pytest.Function):
    from hypothesis import settings as Settings
    from hypothesis.strategies import SearchStrategy

    # the kit loads when a test uses the fixture: pytest loads this plugin in every project that has it installed
    from ._assumption import Assumption
    from ._strategies import alignment_instances

    marker = item.get_closest_marker("steer")
    args, kwargs = (marker.args, dict(marker.kwargs)) if marker else ((), {})
    if len(args) > 1:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.steer takes one strategy, got {len(args)} arguments")
    strategy = args[0] if args else kwargs.pop("strategy", None)
    assumption = kwargs.pop("assumption", None)
    settings = kwargs.pop("settings", None)
    if kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.steer got unknown arguments {sorted(kwargs)}; "
                                "it takes strategy, assumption and settings")
    if assumption is not None and not isinstance(assumption, Assumption):
        raise pytest.UsageError(f"{item.nodeid}: steer(assumption=...) must be an Assumption, "
                                f"got {type(assumption).__name__}")
    if strategy is None:
        strategy = assumption.measurements if assumption is not None else alignment_instances()
    if strategy is None:
        raise pytest.UsageError(f"{item.nodeid}: assumption {assumption.name!r} has no measurements strategy; "
                                "pass one: @pytest.mark.steer(strategy, assumption=...)")
    if not isinstance(strategy, SearchStrategy):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.steer needs a hypothesis strategy, "
                                f"got {type(strategy).__name__}")
    if settings is not None and not isinstance(settings, Settings):
        raise pytest.UsageError(f"{item.nodeid}: steer(settings=...) must be hypothesis.settings(...)")
    return strategy, assumption, settings


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    if FIXTURE not in getattr(pyfuncitem, "fixturenames", ()):
        return None
    test = pyfuncitem.obj
    if getattr(test, "is_hypothesis_test", False):
        raise pytest.UsageError(f"{pyfuncitem.nodeid}: a test using steer_instance must not also use @given; "
                                "choose what it draws with @pytest.mark.steer(strategy)")
    strategy, assumption, settings = _resolve(pyfuncitem)
    names = pyfuncitem._fixtureinfo.argnames
    others = {name: pyfuncitem.funcargs[name] for name in names if name != FIXTURE}
    if pyfuncitem.get_closest_marker("counterexample") is not None:
        _expect_counterexample(pyfuncitem, test, strategy, assumption, settings, others)
    else:
        _property_test(pyfuncitem, test, strategy, assumption, settings, others)
    return True


def _draw_condition(assumption):
    if assumption is None:
        return lambda instance: True
    return lambda instance: bool(assumption.holds(instance).any())


def _property_test(item, test, strategy, assumption, settings, others) -> None:
    import jax
    from hypothesis import assume, given, strategies as st

    keep = _draw_condition(assumption)

    def run(data):
        instance = data.draw(strategy, label=FIXTURE)
        assume(keep(instance))
        with jax.enable_x64(True):
            test(**others, **{FIXTURE: instance})

    run.__name__ = run.__qualname__ = test.__name__
    wrapped = given(data=st.data())(run)
    if settings is not None:
        wrapped = settings(wrapped)
    # one example database entry per test (the wrapper's source is shared by every test)
    wrapped._hypothesis_internal_database_key = b"steerbounds:" + item.nodeid.encode()
    wrapped()


def _expect_counterexample(item, test, strategy, assumption, settings, others) -> None:
    import jax
    from hypothesis import Phase, errors, find, reject, settings as Settings

    from ._describe import describe  # loaded when a counterexample test runs (see _resolve)

    keep = _draw_condition(assumption)
    failures: dict[int, str] = {}

    def fails(instance) -> bool:
        if not keep(instance):
            reject()
        try:
            with jax.enable_x64(True):
                test(**others, **{FIXTURE: instance})
        except AssertionError as err:
            failures[id(instance)] = f"{type(err).__name__}: {err}".strip()
            return True
        return False

    base = settings if settings is not None else Settings.default
    phases = tuple(p for p in base.phases if p != Phase.explain)
    search = Settings(base, database=None, deadline=None, phases=phases)
    seed = zlib.crc32(item.nodeid.encode())
    outcome = None
    try:
        found = find(strategy, fails, settings=search, random=random.Random(seed))
    except errors.NoSuchExample:
        outcome = (f"marked @pytest.mark.counterexample, but the claim held on every instance drawn "
                   f"({search.max_examples} examples, profile {Settings.get_current_profile_name()}): either it "
                   "is true or the strategy does not reach the instances where it fails")
    except errors.Unsatisfiable:
        outcome = "no drawn instance satisfied the assumption of @pytest.mark.steer(assumption=...)"
    if outcome is not None:
        pytest.fail(outcome, pytrace=False)
    message = failures.get(id(found))
    if message is None:  # re-run the minimal instance to get its message
        try:
            with jax.enable_x64(True):
                test(**others, **{FIXTURE: found})
            message = "(the failure did not reproduce on the shrunk instance)"
        except AssertionError as err:
            message = f"{type(err).__name__}: {err}".strip()
    text = f"{item.nodeid}\n  minimal counterexample: " + describe(found).replace("\n", "\n  ")
    text += "\n  " + message.replace("\n", "\n  ")
    item.config.stash[_REPORTS].append(text)
    item.user_properties.append(("counterexample", text))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    reports = config.stash.get(_REPORTS, [])
    if not reports:
        return
    terminalreporter.section("steerbounds counterexamples")
    for text in reports:
        terminalreporter.write_line(text)


def pytest_report_header(config: pytest.Config) -> str:
    from hypothesis import settings as Settings

    return (f"steerbounds: hypothesis profile {Settings.get_current_profile_name()!r} "
            f"(set {PROFILE_VARIABLE}=fast|thorough)")
