"""The documentation site builds with warnings as errors, offline, and covers every public name."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("steerbounds.theory", "steerbounds.numerics", "steerbounds.validation", "steerbounds.validation.studies",
          "steerbounds.testing")
NUMERICS_GROUPS = ("model", "loaders", "steering", "vectors", "measurements", "toy", "studies")
WHOLE_MODULES = (*LAYERS, *(f"steerbounds.numerics.{group}" for group in NUMERICS_GROUPS))


def _documented() -> set[str]:
    """Names rendered by the API pages: explicit ``::: module.name`` lines, or a whole module."""
    names: set[str] = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        for target in re.findall(r"^::: (\S+)", page.read_text(), flags=re.M):
            if target in WHOLE_MODULES:  # a whole module: its public names, under the layer they belong to
                layer = target if target in LAYERS else "steerbounds.numerics"
                names |= {f"{layer}.{n}" for n in importlib.import_module(target).__all__}
            else:
                names.add(target)
    return names


def test_api_pages_cover_every_public_name():
    documented = _documented()
    public = {f"{layer}.{name}" for layer in LAYERS for name in importlib.import_module(layer).__all__}
    assert not public - documented, f"public names missing from docs/api: {sorted(public - documented)}"
    assert not documented - public, f"docs/api documents names that are not public: {sorted(documented - public)}"


def test_numerics_groups_partition_the_flat_names():
    """Every name of steerbounds.numerics is in exactly one concept namespace, and is the same object there."""
    numerics = importlib.import_module("steerbounds.numerics")
    seen: dict[str, str] = {}
    for group in NUMERICS_GROUPS:
        module = importlib.import_module(f"steerbounds.numerics.{group}")
        for name in module.__all__:
            assert name not in seen, f"{name} is in both {seen[name]} and {group}"
            assert getattr(module, name) is getattr(numerics, name)
            seen[name] = group
    assert set(seen) == set(numerics.__all__), sorted(set(numerics.__all__) ^ set(seen))


def test_strict_build(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mathjax") is None:
        if os.environ.get("CI"):
            pytest.fail("the docs extra is not installed; make test installs it (pip install -e '.[docs]')")
        pytest.skip("the docs extra is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "WARNING" not in done.stderr, done.stderr[-4000:]
    assert (site / "assets" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000  # MathJax ships with the site
    theory = (site / "theory" / "index.html").read_text()
    assert 'id="t1"' in theory and 'id="c1-1"' in theory and "arithmatex" in theory
    reference = (site / "api" / "numerics-vectors" / "index.html").read_text()
    assert "export_control_vector" in reference and "llama.cpp" in reference
    for page in site.rglob("*.html"):  # nothing is fetched from elsewhere when the pages are viewed
        html = page.read_text()
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html), page
    shutil.rmtree(ROOT / "build" / "docs-src", ignore_errors=True)
