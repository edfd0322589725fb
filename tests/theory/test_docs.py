"""docs/theory.md is generated from the derivations and must be current."""

from __future__ import annotations

from pathlib import Path

from steerbounds.theory._render import DOCS_PATH, REGENERATE, render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_committed_theory_page_is_current():
    page = ROOT / DOCS_PATH
    assert page.exists(), f"{DOCS_PATH} is missing; generate it with: {REGENERATE}"
    assert page.read_text() == render_markdown(), (
        f"{DOCS_PATH} is out of date with the derivations; regenerate it with: {REGENERATE}"
    )


def test_page_names_every_statement():
    text = render_markdown()
    for name in ("T1", "C1.1", "C1.2", "C1.3", "T2a", "T2b", "T2c", "C2.1", "C2.2", "C2.3", "S4"):
        assert f"## {name}: " in text


def test_readme_theory_example_runs():
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split("## The theory layer in Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert 0 < float(namespace["value"]) < 1
