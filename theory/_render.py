"""Printing the derived statements: plain text, JSON, the docs/theory.md page and a LaTeX file.

The words come from :mod:`._spec` (the specification), the formulas from the sympy
derivations; every formula on the page and in the LaTeX file is printed here, by one
LaTeX printer, and never written by hand.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter

from . import _derive_alignment as alignment, _derive_helpfulness as helpfulness
from ._derive_remainder import t2c
from ._derive_tradeoff import tradeoff
from ._spec import PAPER, PAPER_URL, SECTIONS, Entry, anchor, entries
from ._statement import Statement

DERIVATIONS: tuple[Callable[[], Statement], ...] = (
    alignment.t1,
    alignment.c1_1,
    alignment.c1_2,
    alignment.c1_3,
    helpfulness.definition,
    helpfulness.t2a,
    helpfulness.t2b,
    t2c,
    helpfulness.c2_1,
    helpfulness.c2_2,
    helpfulness.c2_3,
    tradeoff,
)
DOCS_PATH = "docs/theory.md"
REGENERATE = f"steerbounds derive --markdown --out {DOCS_PATH}"
LATEX_PACKAGE = "bounds"  # the sibling bounds.sty written next to every LaTeX export

# Names of placeholder symbols the derivations use for whole quantities, and how they print.
_PLACEHOLDERS = {
    "E[H_r]": r"\mathbb{E}[H_r]",
    "E[e^{X_i}]": r"\mathbb{E}[e^{X_i}]",
    "E[D^4]": r"\mathbb{E}[D^4]",
    "Hess_ij": r"\mathrm{Hess}_{ij}",
    "p_0 - s_H r^2": r"\left(p_0 - s_H r^2\right)",
    "f''''/f": r"f^{(4)}/f",
    "f''''": r"f^{(4)}",
    "G(r)": r"G(r)",
    "Lambda(r)": r"\Lambda(r)",
    "r_eff": r"r_{\mathrm{eff}}",
    "r*_lambda": r"r^*_{\lambda}",
}

# Symbols printed through a macro in the LaTeX export: (sympy name, macro, default definition, meaning).
SYMBOL_MACROS: tuple[tuple[str, str, str, str], ...] = (
    ("r", "sbnorm", "r", "steering norm"),
    ("Delta", "sbmargin", r"\Delta", "A1 margin"),
    ("B_0", "sbBzero", "B_0", "unsteered behaviour expectation"),
    ("B_r", "sbBr", "B_r", "behaviour expectation at norm r"),
    ("rho_0", "sbrhozero", r"\rho_0", "unsteered odds"),
    ("p_0", "sbpzero", "p_0", "probability of the correct answer"),
    ("sigma", "sbsigma", r"\sigma", "i.i.d. standard deviation of the gap changes"),
    ("kappa", "sbkappa", r"\kappa", "A3 response per unit coefficient"),
    ("lambda", "sbweight", r"\lambda", "weight of the helpfulness loss"),
    ("s_A", "sbslope", "s_A", "alignment slope"),
    ("s_H", "sbcurv", "s_H", "helpfulness curvature"),
    ("c", "sbcoef", "c", "steering coefficient"),
)
_MACRO_OF = {name: macro for name, macro, _, _ in SYMBOL_MACROS}


class _Printer(LatexPrinter):
    """sympy's LaTeX printer with the notation of the specification.

    Summation indices print as their letter, ``atanh`` as artanh, placeholder
    symbols as what they stand for, and (with ``macros``) the main symbols as
    the macros of bounds.sty so that a paper can rename them.
    """

    def __init__(self, macros: bool = False):
        super().__init__()
        self._macros = macros

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr.name in _PLACEHOLDERS:
            return _PLACEHOLDERS[expr.name]
        if self._macros and expr.name in _MACRO_OF:
            return "\\" + _MACRO_OF[expr.name] + "{}"
        return super()._print_Symbol(expr, style)

    def _print_Idx(self, expr: sp.Idx) -> str:
        return self._print(expr.label)

    def _print_atanh(self, expr: sp.Function, exp: str | None = None) -> str:
        inner = self._print(expr.args[0])
        head = r"\operatorname{artanh}" if exp is None else rf"\operatorname{{artanh}}^{{{exp}}}"
        return rf"{head}{{\left({inner} \right)}}"


def latex(expr: sp.Basic, *, macros: bool = False) -> str:
    """``expr`` in the LaTeX notation of docs/theory.md (``macros``: the symbols as bounds.sty macros)."""
    return _Printer(macros).doprint(expr)


def statements(only: Iterable[str] | None = None) -> list[Statement]:
    """Every derived statement in the order of the specification, or those named in ``only``."""
    derived = [derive() for derive in DERIVATIONS]
    if only is None:
        return derived
    wanted = list(dict.fromkeys(only))
    known = {s.name: s for s in derived}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"only: unknown statement {', '.join(unknown)}; the derived statements are {', '.join(known)}"
        )
    return [known[name] for name in known if name in wanted]


def _formula(expr: sp.Basic, as_latex: bool) -> str:
    return latex(expr) if as_latex else sp.sstr(expr)


def render_text(statement: Statement, *, latex: bool = False) -> str:
    """One statement as indented plain text (formulas in sympy or LaTeX syntax)."""
    lines = [f"{statement.name}: {statement.title}  (docs/theory.md#{anchor(statement.name)})", "  assumptions:"]
    lines += [f"    - {a}" for a in statement.assumptions]
    lines.append("  results:")
    lines += [f"    {key}: {_formula(value, latex)}" for key, value in statement.results.items()]
    if statement.steps:
        lines.append("  derivation:")
        for number, (text, formula) in enumerate(statement.steps, 1):
            lines += [f"    {number}. {text}", f"       {_formula(formula, latex)}"]
    lines.append(f"  verified symbolically ({len(statement.verified)}):")
    lines += [f"    - {v}" for v in statement.verified]
    if statement.notes:
        lines.append("  notes:")
        lines += [f"    - {n}" for n in statement.notes]
    return "\n".join(lines)


def render_all(*, latex: bool = False, only: Iterable[str] | None = None) -> str:
    """Every statement (or those in ``only``) as text, separated by blank lines."""
    return "\n\n".join(render_text(s, latex=latex) for s in statements(only)) + "\n"


def to_json(only: Iterable[str] | None = None) -> dict:
    """The statements as a JSON-ready dict: words, anchors, and every formula in sympy and LaTeX syntax."""
    spec = entries()

    def formula(expr: sp.Basic) -> dict[str, str]:
        return {"sympy": sp.sstr(expr), "latex": latex(expr)}

    rows = []
    for s in statements(only):
        entry = spec[s.name]
        rows.append({
            "name": s.name,
            "title": s.title,
            "anchor": f"{DOCS_PATH}#{entry.anchor}",
            "assumption": entry.assumption,
            "statement": entry.statement,
            "proof_idea": entry.proof,
            "assumptions": list(s.assumptions),
            "results": {key: formula(value) for key, value in s.results.items()},
            "derivation": [{"step": text, **formula(f)} for text, f in s.steps],
            "verified": list(s.verified),
            "notes": list(s.notes),
        })
    return {"paper": PAPER_URL, "statements": rows}


# ---------------------------------------------------------------- docs/theory.md

_INTRO = f"""\
# The theory steerbounds checks

<!-- Generated from theory/_spec.py (the words) and the sympy derivations in theory/
     (the formulas); do not edit by hand. Regenerate with: {REGENERATE} -->

This page is the specification of the mathematics that steerbounds derives,
evaluates and tests. It restates, in the project's own notation and words, the
framework of {PAPER} ([arXiv 2401.16332]({PAPER_URL})), and makes explicit a few
conditions the paper leaves implicit (the sign of the margin in [T1](#t1), the
case $p_0 < 1/2$ in [C2.1](#c2-1), the explicit remainder [T2c](#t2c)).

Every statement has a stable anchor, cited across the code and the command line
as `docs/theory.md#t1`, `#c1-1`, `#t2a`, `#a2` and so on: assumptions are A1 to
A4, theorems T1 and T2a to T2c, corollaries C1.1 to C2.3, and S4 is the tradeoff
of section 4. For each statement the page gives its assumption, the statement and
the idea of its proof in words, followed by what the symbolic layer derives: the
results as sympy prints them, the derivation step by step, and the identities
sympy verified on the way. Those formulas are generated, never typed: the page is
written by `{REGENERATE}`, and a test fails when it is out of date.

`steerbounds check-theory` then tests every statement numerically on random and
adversarial instances, every expansion against high-precision (mpmath)
evaluation, and every JAX function against a plain numpy reference, and shows that
the planted wrong bounds (`theory/_planted.py`) are caught. Numeric functions
compute in float64 when `jax_enable_x64` is on (the checks and the tests turn it
on) and in float32 otherwise; probabilities are formed in log space
(log-sum-exp), so tiny probabilities and $B$ near $\\pm 1$ keep their precision.
`steerbounds derive --latex --out bounds.tex` writes the same statements as LaTeX
for a paper.
"""

_LABELS = {"assumption": "Assumption", "definition": "Definition", "theorem": "Statement", "corollary": "Statement"}


def _contents() -> list[str]:
    lines = ["Contents:", ""]
    for section in SECTIONS:
        names = ", ".join(f"[{e.name}](#{e.anchor})" for e in section.entries)
        lines.append(f"{section.number}. [{section.title}](#{section.slug})" + (f": {names}" if names else ""))
    return lines + [""]


def _derived_block(statement: Statement) -> list[str]:
    parts = ["**Derived by the symbolic layer.** Assumptions as coded:\n"]
    parts += [f"- {a}" for a in statement.assumptions]
    parts.append("\nResults:\n")
    for key, value in statement.results.items():
        parts.append(f"- `{key}`:\n\n  $$ {latex(value)} $$\n")
    if statement.steps:
        parts.append("Derivation:\n")
        for number, (text, formula) in enumerate(statement.steps, 1):
            parts.append(f"{number}. {text}\n\n   $$ {latex(formula)} $$\n")
    parts.append(f"Verified symbolically ({len(statement.verified)}):\n")
    parts += [f"- {v}" for v in statement.verified]
    if statement.notes:
        parts.append("\nNotes:\n")
        parts += [f"- {n}" for n in statement.notes]
    return parts


def _entry_block(entry: Entry, derived: dict[str, Statement]) -> list[str]:
    parts = [f'<a id="{entry.anchor}"></a>\n', f"### {entry.name}: {entry.title}\n"]
    if entry.assumption:
        parts.append(f"**Assumption.** {entry.assumption}\n")
    parts.append(f"**{_LABELS[entry.kind]}.** {entry.statement}\n")
    if entry.proof:
        parts.append(f"**Idea of the proof.** {entry.proof}\n")
    if entry.derived:
        parts += _derived_block(derived[entry.name])
        parts.append("")
    return parts


def render_markdown() -> str:
    """The docs/theory.md page: the specification in words with the generated formulas."""
    derived = {s.name: s for s in statements()}
    parts = [_INTRO, *_contents()]
    for section in SECTIONS:
        parts += [f'<a id="{section.slug}"></a>\n', f"## {section.number}. {section.title}\n", section.text]
        for entry in section.entries:
            parts += _entry_block(entry, derived)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(parts)).rstrip() + "\n"


# ---------------------------------------------------------------- LaTeX

_ENVIRONMENTS = {"assumption": "sbassumption", "definition": "sbdefinition", "theorem": "sbtheorem", "corollary": "sbcorollary"}


def latex_package() -> str:
    """The text of bounds.sty: packages, theorem environments and symbol macros for the export."""
    macros = "\n".join(
        f"\\providecommand{{\\{macro}}}{{{default}}}% {meaning} ({name} in the derivations)"
        for name, macro, default, meaning in SYMBOL_MACROS
    )
    return f"""\
% bounds.sty: preamble for the statements that `steerbounds derive --latex` writes.
% Generated by steerbounds; the statements follow docs/theory.md ({PAPER_URL}).
% In a paper: \\usepackage{{{LATEX_PACKAGE}}} in the preamble and \\input{{FILE}} where the statements go.
% Cite a statement with \\ref{{sb:T1}} (prints T1) and an equation with \\eqref{{sb:T1:bound}}.
\\NeedsTeXFormat{{LaTeX2e}}
\\ProvidesPackage{{{LATEX_PACKAGE}}}[{datetime.date.today():%Y/%m/%d} steerbounds statements]
\\RequirePackage{{amsmath}}
\\RequirePackage{{amssymb}}
\\RequirePackage{{amsthm}}

% Symbols of the generated equations. Define any of these before \\usepackage{{{LATEX_PACKAGE}}}
% (or \\renewcommand them after) to use the paper's own notation.
{macros}

% One environment per kind of statement; the statement's own name (T1, C1.1, A2) is its number.
\\newcommand\\sb@kind{{}}
\\newcommand\\sb@setlabel[1]{{\\protected@edef\\@currentlabel{{#1}}}}
\\theoremstyle{{plain}}
\\newtheorem*{{sb@plain}}{{\\sb@kind}}
\\theoremstyle{{definition}}
\\newtheorem*{{sb@definition}}{{\\sb@kind}}
\\newenvironment{{sbtheorem}}[2]{{\\def\\sb@kind{{Theorem #1}}\\sb@setlabel{{#1}}\\begin{{sb@plain}}[#2]}}{{\\end{{sb@plain}}}}
\\newenvironment{{sbcorollary}}[2]{{\\def\\sb@kind{{Corollary #1}}\\sb@setlabel{{#1}}\\begin{{sb@plain}}[#2]}}{{\\end{{sb@plain}}}}
\\newenvironment{{sbassumption}}[2]{{\\def\\sb@kind{{Assumption #1}}\\sb@setlabel{{#1}}\\begin{{sb@definition}}[#2]}}{{\\end{{sb@definition}}}}
\\newenvironment{{sbdefinition}}[2]{{\\def\\sb@kind{{Definition #1}}\\sb@setlabel{{#1}}\\begin{{sb@definition}}[#2]}}{{\\end{{sb@definition}}}}
\\newenvironment{{sbresult}}[1]{{\\par\\smallskip\\noindent\\textit{{#1}}:}}{{\\par}}
\\endinput
"""


def _escape_text(text: str) -> str:
    """Plain text (not math) made safe for LaTeX."""
    return re.sub(r"([_%&#$])", r"\\\1", text).replace("~", r"\textasciitilde{}")


def _equation_label(name: str, key: str) -> str:
    return f"sb:{name}:{key.replace('_', '-')}"


def _latex_entry(entry: Entry, statement: Statement | None) -> list[str]:
    env = _ENVIRONMENTS[entry.kind]
    lines = [f"\\begin{{{env}}}{{{entry.name}}}{{{_escape_text(entry.title)}}}\\label{{sb:{entry.name}}}"]
    if entry.assumption:
        lines.append(f"\\emph{{Assumption.}} {entry.assumption}\n")
    lines.append(entry.statement)
    if statement is not None:
        for key, value in statement.results.items():
            lines += [
                f"\\begin{{sbresult}}{{{_escape_text(key)}}}",
                "\\begin{equation}",
                f"\\label{{{_equation_label(entry.name, key)}}}",
                latex(value, macros=True),
                "\\end{equation}",
                "\\end{sbresult}",
            ]
    lines.append(f"\\end{{{env}}}")
    if entry.proof:
        lines += ["\\begin{proof}[Idea of the proof]", entry.proof, "\\end{proof}"]
    return lines + [""]


def render_latex(only: Sequence[str] | None = None) -> str:
    """A LaTeX file with the statements (all, or those in ``only`` and the assumptions they use).

    It compiles alone (``pdflatex FILE``, with bounds.sty beside it) and can be
    ``\\input`` into a paper that loads bounds.sty: it detects which by whether a
    document class is already loaded.
    """
    chosen = statements(only)
    derived = {s.name: s for s in chosen}
    names = set(derived)
    if only is not None:  # the assumptions the chosen statements rest on come along
        for s in chosen:
            names |= set(re.findall(r"\bA[1-4]\b", " ".join((*s.assumptions, entries()[s.name].assumption))))
    body: list[str] = []
    for section in SECTIONS:
        for entry in section.entries:
            if only is None or entry.name in names:
                body += _latex_entry(entry, derived.get(entry.name) if entry.derived else None)
    header = [
        "% Statements of the steering tradeoff, generated by steerbounds from its sympy derivations.",
        f"% Specification: docs/theory.md; paper: {PAPER_URL}",
        f"% In a paper: \\usepackage{{{LATEX_PACKAGE}}} in the preamble, then \\input{{this file}} in the body.",
        f"% Alone: pdflatex this file (with {LATEX_PACKAGE}.sty in the same folder) gives a complete document.",
        "\\makeatletter",
        "\\ifx\\documentclass\\@twoclasseserror",
        "  \\@ifundefined{sb@plain}{\\errmessage{steerbounds: load the statements' preamble with "
        f"\\string\\usepackage{{{LATEX_PACKAGE}}} before \\string\\begin{{document}}}}}}{{}}%",
        "  \\let\\sb@begin\\relax\\let\\sb@end\\relax",
        "\\else",
        f"  \\def\\sb@begin{{\\documentclass{{article}}\\usepackage{{{LATEX_PACKAGE}}}\\begin{{document}}}}%",
        "  \\def\\sb@end{\\end{document}}%",
        "\\fi",
        "\\sb@begin",
        "\\makeatother",
        "",
    ]
    footer = ["\\makeatletter\\sb@end\\makeatother"]
    return "\n".join(header + body + footer) + "\n"
