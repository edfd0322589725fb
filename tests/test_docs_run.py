"""Every ```python block in README.md and docs/ runs, top to bottom per page, in one namespace per page.

Blocks that are fragments on purpose use another fence (```text, or ```py for a fragment) and say so in the text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_blocks_are_found():
    """The extraction must see the blocks (a broken pattern would pass every page vacuously)."""
    assert python_blocks(ROOT / "docs" / "index.md")
    assert sum(len(python_blocks(page)) for page in PAGES) >= 15


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the examples write land here
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, code in enumerate(python_blocks(page), 1):
        try:
            exec(compile(code, f"{page.relative_to(ROOT)} block {number}", "exec"), namespace)  # noqa: S102
        except Exception as err:
            raise AssertionError(f"{page.relative_to(ROOT)}: python block {number} failed: {err!r}") from err
