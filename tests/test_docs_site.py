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
LAYERS = ("steerbounds.theory", "steerbounds.numerics", "steerbounds.validation", "steerbounds.testing")


def _documented() -> set[str]:
    """Names rendered by the API pages: explicit ``::: module.name`` lines, or a whole module."""
    names: set[str] = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        for target in re.findall(r"^::: (\S+)", page.read_text(), flags=re.M):
            if target in LAYERS:
                names |= {f"{target}.{n}" for n in importlib.import_module(target).__all__}
            else:
                names.add(target)
    return names


def test_api_pages_cover_every_public_name():
    documented = _documented()
    public = {f"{layer}.{name}" for layer in LAYERS for name in importlib.import_module(layer).__all__}
    assert not public - documented, f"public names missing from docs/api: {sorted(public - documented)}"
    assert not documented - public, f"docs/api documents names that are not public: {sorted(documented - public)}"


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
