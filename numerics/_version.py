"""The installed steerbounds version, for provenance records written by numerics (no import of the top package)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The version of the installed ``steerbounds`` distribution (``0.0.0+unknown`` from a bare source tree).

    >>> isinstance(package_version(), str)
    True
    """
    try:
        return version("steerbounds")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"
