"""docs/testing.md shows the worked examples exactly as the files the suite runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
INCLUDE = re.compile(r"<!-- example: (?P<path>[^ ]+) -->\n```python\n(?P<code>.*?)\n```", re.DOTALL)


def included() -> dict[str, str]:
    return {m["path"]: m["code"] for m in INCLUDE.finditer(DOC.read_text())}


def test_every_example_file_is_in_the_doc():
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "examples").glob("test_*.py")}
    assert files and files == set(included())


@pytest.mark.parametrize("path", sorted(included()))
def test_doc_block_is_the_tested_file(path):
    assert included()[path] == (ROOT / path).read_text().rstrip("\n"), (
        f"the code block for {path} in docs/testing.md differs from the file; copy the file into the block"
    )


def test_the_suite_runs_the_examples():
    with open(ROOT / "pyproject.toml", "rb") as f:
        testpaths = tomllib.load(f)["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "docs/examples" in testpaths
