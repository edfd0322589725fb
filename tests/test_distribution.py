"""The distribution: wheel and sdist contents, metadata, licence, and importing from the repository root."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "Makefile", "constraints.txt", "mkdocs.yml")
_TREES = ("steerbounds", "theory", "numerics", "validation", "tests", "docs", "benchmarks")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A wheel and an sdist built from a copy of the repository's files (no build isolation: no network)."""
    src = tmp_path_factory.mktemp("src")
    for name in _SOURCES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "site")
    for name in _TREES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
    code = ("import setuptools.build_meta as b; import sys; "
            "w = b.build_wheel('dist'); s = b.build_sdist('dist'); print('BUILT', w, s)")
    done = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, wheel, sdist = next(line for line in done.stdout.splitlines() if line.startswith("BUILT ")).split()
    return src / "dist" / wheel, src / "dist" / sdist, done.stdout + done.stderr


def test_wheel_holds_the_package_data_and_licence(built):
    wheel, _, log = built
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("steerbounds/__init__.py", "steerbounds/theory/_spec.py", "steerbounds/numerics/_control_vector.py",
                     "steerbounds/validation/__init__.py", "steerbounds/numerics/toy_model/model.safetensors",
                     "steerbounds/numerics/toy_model/config.json", "steerbounds/validation/studies/data/mc_questions.json"):
        assert required in names, required
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "docs/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata and "Author: steerbounds developers" in metadata
    assert "Classifier: Intended Audience :: Science/Research" in metadata
    assert "Project-URL: Paper, https://arxiv.org/abs/2401.16332" in metadata
    assert "absent from the `packages` configuration" not in log


def test_sdist_holds_tests_and_docs(built):
    _, sdist, _ = built
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    repo_tests = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")}
    repo_docs = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")}
    assert repo_tests <= names, sorted(repo_tests - names)[:5]
    assert repo_docs <= names, sorted(repo_docs - names)[:5]
    assert {"LICENSE", "Makefile", "constraints.txt"} <= names


def test_licence_is_the_apache_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_source_tree_imports_from_the_repository_root():
    """``import steerbounds`` in the repository root finds the layers beside the folder, without the editable hook."""
    code = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__]; "
        "sys.path_hooks[:] = [h for h in sys.path_hooks if 'editable' not in getattr(h, '__module__', '')]; "
        "import steerbounds, steerbounds.theory as t, steerbounds.numerics as n; "
        "print(steerbounds.__file__); print(t.__file__); print(n.__file__)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    package, theory, numerics = done.stdout.split()
    assert Path(package) == ROOT / "steerbounds" / "__init__.py"
    assert Path(theory) == ROOT / "theory" / "__init__.py" and Path(numerics) == ROOT / "numerics" / "__init__.py"
