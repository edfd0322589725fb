"""Hypothesis profiles of the property-testing kit: ``fast`` and ``thorough``.

``fast`` (40 examples) is for every local run; ``thorough`` (300 examples,
with the reproduction blob printed on failure) is for CI. Neither has a
deadline: a bound evaluated in float64 through JAX compiles once per shape,
and a first call may be slow. The profile in force is chosen by the
``HYPOTHESIS_PROFILE`` environment variable; when it is unset, ``thorough``
is used under CI (the ``CI`` variable is set) and ``fast`` otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

_PROFILES: Mapping[str, Mapping] = {
    "fast": {"max_examples": 40, "deadline": None, "suppress_health_check": [HealthCheck.too_slow]},
    "thorough": {
        "max_examples": 300,
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow],
        "print_blob": True,
    },
}


def register_profiles() -> tuple[str, ...]:
    """Register the kit's hypothesis profiles ``fast`` and ``thorough``; return their names.

    Registering again is harmless (the same settings are stored under the same
    names). The pytest plugin calls this when pytest starts.

    >>> from hypothesis import settings
    >>> register_profiles()
    ('fast', 'thorough')
    >>> settings.get_profile("fast").max_examples, settings.get_profile("thorough").max_examples
    (40, 300)
    """
    for name, values in _PROFILES.items():
        settings.register_profile(name, **values)
    return tuple(_PROFILES)


def profile_name(environ: Mapping[str, str] | None = None) -> str:
    """The profile the environment asks for: ``HYPOTHESIS_PROFILE``, else ``thorough`` under CI, else ``fast``.

    An empty ``HYPOTHESIS_PROFILE`` counts as unset.

    >>> profile_name({})
    'fast'
    >>> profile_name({"CI": "true"})
    'thorough'
    >>> profile_name({"CI": "true", "HYPOTHESIS_PROFILE": "fast"})
    'fast'
    """
    env = os.environ if environ is None else environ
    if not hasattr(env, "get"):
        raise TypeError(f"environ must be a mapping of environment variables (like os.environ), got {type(env).__name__}")
    chosen = env.get(PROFILE_VARIABLE, "").strip()
    if chosen:
        return chosen
    return "thorough" if env.get("CI") else "fast"


def load_profile(name: str | None = None) -> str:
    """Register the kit's profiles and load ``name`` (default: :func:`profile_name`); return it.

    ``name`` may also be a profile registered elsewhere (e.g. in a project's
    conftest.py). An unknown name raises an error that names the variable.

    >>> from hypothesis import settings
    >>> previous = settings.get_current_profile_name()
    >>> load_profile("fast"), settings.default.max_examples
    ('fast', 40)
    >>> load_profile(previous) == previous  # put back what was in force
    True
    """
    register_profiles()
    if name is None:
        name = profile_name()
    try:
        settings.get_profile(name)
    except Exception:  # hypothesis raises InvalidArgument for an unregistered name
        raise ValueError(
            f"hypothesis profile {name!r} is not registered; the kit registers {sorted(_PROFILES)}. "
            f"Set {PROFILE_VARIABLE} to one of them, or register {name!r} with "
            "hypothesis.settings.register_profile before it is loaded"
        ) from None
    settings.load_profile(name)
    return name
