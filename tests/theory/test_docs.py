"""docs/theory.md is the specification: generated from theory/_spec.py and the derivations, and current."""

from __future__ import annotations

import re
from pathlib import Path

from steerbounds.theory._render import DOCS_PATH, REGENERATE, render_markdown, statements
from steerbounds.theory._spec import PAPER_URL, SECTIONS, anchor, entries

ROOT = Path(__file__).resolve().parents[2]


def test_committed_theory_page_is_current():
    page = ROOT / DOCS_PATH
    assert page.exists(), f"{DOCS_PATH} is missing; generate it with: {REGENERATE}"
    assert page.read_text() == render_markdown(), (
        f"{DOCS_PATH} is out of date with theory/_spec.py or the derivations; regenerate it with: {REGENERATE}"
    )


def test_every_statement_has_words_and_a_stable_anchor():
    text = render_markdown()
    spec = entries()
    derived = [s.name for s in statements()]
    assert [name for name, e in spec.items() if e.derived] == derived  # same statements, same order
    for name in (*derived, "A1", "A2", "A3", "A4"):
        entry = spec[name]
        assert f'<a id="{anchor(name)}"></a>\n\n### {name}: ' in text
        assert entry.statement
        if entry.kind in ("theorem", "corollary"):
            assert entry.assumption and entry.proof, f"{name} needs its assumption and the idea of its proof"
    assert anchor("C1.1") == "c1-1" and anchor("T2a") == "t2a"
    for section in SECTIONS:
        assert f'<a id="{section.slug}"></a>' in text
    assert PAPER_URL in text


def test_internal_links_resolve():
    text = render_markdown()
    targets = set(re.findall(r'<a id="([^"]+)"></a>', text))
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= targets, f"links without a target: {sorted(links - targets)}"


def test_repository_cites_anchors_that_exist():
    """Every anchor of docs/theory.md cited in code, docs and help (docs/theory.md#...) exists."""
    targets = set(re.findall(r'<a id="([^"]+)"></a>', render_markdown()))
    files = [p for folder in ("theory", "numerics", "validation", "steerbounds", "docs", "tests")
             for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    files += [ROOT / "README.md", ROOT / "Makefile"]
    cited: dict[str, str] = {}
    for path in files:
        body = path.read_text()
        for name in re.findall(r"theory\.md#([a-z0-9-]+)", body):
            cited.setdefault(name, str(path.relative_to(ROOT)))
    missing = {name: where for name, where in cited.items() if name not in targets}
    assert cited and not missing, f"cited anchors that docs/theory.md lacks: {missing}"


def test_prose_is_plain_latex():
    """The words of every entry go into LaTeX as they are: math between $...$, no Markdown markup."""
    for entry in entries().values():
        for text in (entry.assumption, entry.statement, entry.proof):
            assert text.count("$") % 2 == 0, entry.name
            outside = re.sub(r"\$[^$]*\$", "", text)
            assert not re.search(r"[`*_^\\#%&]|\]\(", outside), f"{entry.name}: markup outside math: {outside}"


def test_readme_cites_the_paper():
    assert PAPER_URL in (ROOT / "README.md").read_text()


def test_readme_theory_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("## The theory layer in Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert 0 < float(namespace["value"]) < 1


def test_nothing_cites_the_external_specification():
    """The specification is docs/theory.md; a clone has no other file to cite."""
    external = "THEORY" + ".md"
    files = [p for folder in ("theory", "numerics", "validation", "steerbounds", "docs", "tests", "benchmarks")
             for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    citing = sorted(str(p.relative_to(ROOT)) for p in [*files, ROOT / "README.md", ROOT / "Makefile"]
                    if external in p.read_text())
    assert not citing, f"files citing {external} instead of an anchor of docs/theory.md: {citing}"
