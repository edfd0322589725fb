"""derive --latex: a file a paper can include, with bounds.sty; compiled with pdflatex when installed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from steerbounds.cli import main
from steerbounds.theory._render import SYMBOL_MACROS, latex, render_latex, statements
from steerbounds.theory._symbols import B0, Delta, r

PDFLATEX = shutil.which("pdflatex")
_ENV = re.compile(r"\\(begin|end)\{([^}]+)\}")


def _structure_errors(tex: str) -> list[str]:
    """Unbalanced environments or braces (a parser check for machines without pdflatex)."""
    errors, stack = [], []
    for kind, name in _ENV.findall(tex):
        if name == "document":  # opened and closed by the standalone wrapper's macros
            continue
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            errors.append(f"\\end{{{name}}} does not close the open environment")
    errors += [f"\\begin{{{name}}} never closed" for name in stack]
    depth = 0
    for char in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            errors.append("a } closes nothing")
            depth = 0
    if depth:
        errors.append(f"{depth} unclosed {{")
    return errors


def _export(tmp_path, *extra):
    target = tmp_path / "bounds.tex"
    assert main(["derive", "--latex", "--out", str(target), *extra]) == 0
    return target


def test_every_statement_in_a_labelled_environment(tmp_path):
    tex = _export(tmp_path).read_text()
    assert (tmp_path / "bounds.sty").exists()
    for s in statements():
        assert re.search(rf"\\begin{{sb(theorem|corollary|definition)}}{{{re.escape(s.name)}}}{{[^}}]*}}\\label{{sb:{re.escape(s.name)}}}", tex)
        for key in s.results:
            assert f"\\label{{sb:{s.name}:{key.replace('_', '-')}}}" in tex
    assert tex.count("\\begin{equation}") == sum(len(s.results) for s in statements())
    assert "\\begin{proof}[Idea of the proof]" in tex
    assert not _structure_errors(tex)
    sty = (tmp_path / "bounds.sty").read_text()
    assert not _structure_errors(sty)
    used = set(re.findall(r"\\(sb[A-Za-z]+)\{\}", tex))
    assert used and used <= {macro for _, macro, _, _ in SYMBOL_MACROS}
    for macro in used:
        assert f"\\providecommand{{\\{macro}}}" in sty


def test_parser_check_catches_broken_files():
    """The fallback check must be able to fail."""
    assert _structure_errors("\\begin{equation} x \\end{align}")
    assert _structure_errors("\\begin{sbtheorem}{T1}{x} {")
    assert not _structure_errors(render_latex(["T1"]))


def test_only_keeps_the_named_statements_and_their_assumptions(tmp_path):
    tex = _export(tmp_path, "--only", "T1,T2a").read_text()
    labels = set(re.findall(r"\\label\{sb:([A-Za-z0-9.]+)\}", tex))
    assert labels == {"A1", "T1", "A2", "T2a"}
    assert main(["derive", "--latex", "--only", "T1,T9"]) == 2


def test_c1_1_remainder_reads_the_same_in_words_and_latex():
    remainder = statements(["C1.1"])[0]["remainder_bound"]
    assert latex(remainder) == r"\frac{\left|{\Delta r}\right|^{3}}{24}"
    value = float(remainder.subs({r: -2.0, Delta: 1.5}))
    assert value == pytest.approx(3.0**3 / 24)
    assert "|Delta r|^3 / 24" in " ".join(statements(["C1.1"])[0].assumptions)


def test_macros_rename_symbols():
    bound = statements(["T1"])[0]["bound"]
    assert latex(bound, macros=True) == (
        r"\tanh{\left(\frac{\sbmargin{} \sbnorm{}}{2} + \operatorname{artanh}{\left(\sbBzero{} \right)} \right)}"
    )
    assert "B_{0}" in latex(bound.subs(B0, B0))


def _pdflatex(folder, name):
    done = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", name],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (Debian: apt-get install texlive-latex-base)")
def test_compiles_alone_and_inside_a_paper(tmp_path):
    _export(tmp_path)
    _pdflatex(tmp_path, "bounds.tex")
    assert (tmp_path / "bounds.pdf").stat().st_size > 10_000
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{bounds}\n\\renewcommand{\\sbmargin}{\\gamma}\n"
        "\\begin{document}\nBy Theorem~\\ref{sb:T1} and \\eqref{sb:T1:bound}.\n\\input{bounds}\nEnd.\n\\end{document}\n"
    )
    _pdflatex(tmp_path, "paper.tex")
    log = _pdflatex(tmp_path, "paper.tex")  # second run resolves the references
    assert "undefined" not in (tmp_path / "paper.log").read_text().lower() or "Reference" not in log
    aux = (tmp_path / "paper.aux").read_text()
    assert "\\newlabel{sb:T1}{{T1}" in aux


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (Debian: apt-get install texlive-latex-base)")
def test_input_without_the_package_fails_with_a_message(tmp_path):
    _export(tmp_path, "--only", "T1")
    (tmp_path / "paper.tex").write_text("\\documentclass{article}\n\\begin{document}\n\\input{bounds}\n\\end{document}\n")
    done = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "usepackage{bounds}" in done.stdout
