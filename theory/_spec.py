"""The specification in words: sections, assumptions, statements and proof ideas.

The page docs/theory.md and the LaTeX export (``steerbounds derive --latex``) are
rendered from these entries together with the sympy derivations. Math is
written between ``$...$`` in LaTeX syntax, valid for MathJax and for pdflatex;
the prose of an entry uses no other markup, so it can go into a LaTeX theorem
environment as it is. Every entry has a stable anchor (``#t1``, ``#c1-1``,
``#a2``); code and documentation cite statements as ``docs/theory.md#t1``.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_URL = "https://arxiv.org/abs/2401.16332"
PAPER = (
    "Wolf, Wies, Shteyman, Rothberg, Levine and Shashua, Tradeoffs Between Alignment and Helpfulness "
    "in Language Models with Representation Engineering (later versions: with Steering Methods)"
)


def anchor(name: str) -> str:
    """The stable anchor of a statement name: ``"T1" -> "t1"``, ``"C1.1" -> "c1-1"``."""
    return name.lower().replace(".", "-")


@dataclass(frozen=True)
class Entry:
    """One numbered item of the specification: an assumption, a definition or a statement."""

    name: str  # "T1", "C1.1", "A2", "H", "S4"
    kind: str  # "assumption", "definition", "theorem" or "corollary"
    title: str
    assumption: str  # what must hold, in words ("" for an assumption itself)
    statement: str  # what is claimed (or, for an assumption, what is assumed)
    proof: str  # the idea of the proof ("" for an assumption or a definition)
    derived: bool = True  # whether the sympy layer derives it (its formulas follow the words)

    @property
    def anchor(self) -> str:
        return anchor(self.name)


@dataclass(frozen=True)
class Section:
    """A section of the specification: its prose and its entries, in order."""

    number: int
    slug: str  # the section's anchor
    title: str
    text: str  # Markdown prose before the entries
    entries: tuple[Entry, ...] = ()


_SETTING = """\
A language model reads a prompt $q$ and produces a *final representation*
$h(q) \\in \\mathbb{R}^d$: the vector the unembedding is applied to, taken after
the last normalisation layer. The logits are $z(q) = U h(q)$ (plus a bias, when
the model has one), where the rows $u_t$ of $U \\in \\mathbb{R}^{|V| \\times d}$
belong to the tokens $t$ of the vocabulary $V$, and the next token is drawn from
$P(t \\mid q) = \\mathrm{softmax}(z(q))_t$.

*Steering* adds a unit vector $v$, scaled by a coefficient $c$, to the residual
stream after each layer of a chosen set $S$, at every token position. What
reaches the unembedding is the change $\\delta_c(q) = h_c(q) - h(q)$ of the final
representation; its norm is $r = \\lVert \\delta_c(q) \\rVert$ and its direction
$\\hat\\delta = \\delta / \\lVert \\delta \\rVert$. Every statement below is written in
terms of $\\delta$, so it holds for steering at any layers once $\\delta$ is
measured. Steering the final representation itself is the special case
$\\delta = c\\,v$, $r = |c|$: the steered logits $z_c = z + c\\,U v$ need no new
forward pass, and the statements apply exactly.

The steering vector of the paper comes from contrast pairs (an instruction that
should be refused and one that should be answered): the last-token hidden states
of the two members are subtracted at each layer, the first principal component
of the differences is taken, its sign is chosen so that it points from the
answered class towards the refused one, and it is scaled to unit norm. The paper
injects it at several consecutive layers in the last third of the network and
sweeps $c$ over a symmetric range ($-5$ to $5$ in steps of $0.2$ for behaviour,
$-10$ to $10$ in steps of $0.25$ for helpfulness).
"""

_ALIGNMENT = """\
A behaviour scorer $B$ labels a response $+1$ (aligned), $-1$ (misaligned) or $0$
(neutral). The *behaviour expectation* of a model on a prompt is the mean score
of its responses, $B_P(q) = \\mathbb{E}_{a \\sim P(\\cdot \\mid q)} B(a)$.

The package mostly works with the *first-token form*. Two disjoint token sets
stand for the two behaviours: $A^+$ (openers of a refusal) and $A^-$ (openers of
compliance), with probabilities $P_\\pm = \\sum_{t \\in A^\\pm} P(t \\mid q)$. The
*restricted* expectation is $B = (P_+ - P_-)/(P_+ + P_-)$, the *unrestricted* one
is $\\tilde B = P_+ - P_- = m B$, where $m = P_+ + P_-$ is the mass on behaviour
tokens. Subscripts give the steering norm: $B_0$ unsteered, $B_r$ at norm $r$.

The *sequence form*, which the paper measured, samples whole responses, scores
each with a classifier and averages the scores. It is a Monte Carlo estimate of
$B_P(q)$ and is always reported with its standard error.
"""

_HELPFULNESS = """\
Helpfulness is measured on multiple-choice questions: each question $q$ has
option tokens and a correct option $o^*$. Its *competitors* $C(q)$ are either the
other options (restricted helpfulness, the probability of the correct letter
among A to D) or every other token of the vocabulary (full helpfulness). The
*accuracy* of a question is $1$ when the correct option has the largest logit.
"""

_TRADEOFF = """\
Near $r = 0$ the alignment gain $G(r) = B_r - B_0$ grows like $s_A r$
([C1.1](#c1-1)) while the helpfulness loss $\\Lambda(r) = p_0 - \\mathbb{E}[H_r]$
grows like $s_H r^2$ ([T2b](#t2b)). A linear gain against a quadratic loss is the
paper's message: small steering norms pay, large ones do not.
"""

_MEASURED = """\
The statements are conditional; on a real model their assumptions are
quantities to measure, never to presume. The validation layer reports, per prompt,
layer and coefficient:

* [A1](#a1): the margin $\\Delta$ from the measured direction $\\hat\\delta$ and the
  token sets, and its distribution over prompts and layers;
* [A2](#a2): the distribution of the gap changes $X_i$ over (question, competitor)
  pairs at each coefficient: a normality statistic, the mean, and whether the
  standard deviation grows linearly in $|c|$ (slope and $R^2$);
* [A3](#a3): whether $\\lVert \\delta_c \\rVert$ is proportional to $|c|$ and whether
  $\\hat\\delta$ keeps its direction as $c$ changes (cosines between directions);
* [A4](#a4): the behaviour mass $m_r$ over the sweep.

Where an assumption holds and its theorem fails, the package has a bug. Where an
assumption fails on a model, that is a finding: it is reported with its numbers,
and no prompt that fails it is dropped.
"""

_PAPER = """\
The paper steered Llama-2-13B (base and chat) and Llama-3.1-8B (base and
instruct). Its behaviours were harmfulness (AdvBench instructions, chat models
prompted in their chat template, 32 sampled tokens classified as agreeing or
refusing) and racial bias (agreeing or disagreeing with statements). Its
helpfulness measures were three MMLU subjects (high-school computer science,
international law, medical genetics; 100 questions each; the first-token
probability of the correct letter over the whole vocabulary and among A to D,
and accuracy) and the HumanEval pass rate. Its figures show behaviour against the
coefficient with a $\\tanh$ fit, the probability of the correct answer against the
coefficient with the bell fit, the distribution of the gap changes across
coefficients with their standard deviation against the coefficient, $\\lVert
\\delta \\rVert$ against the coefficient, and a two-dimensional projection in which
aligned and misaligned representations separate linearly. `steerbounds
reproduce` measures the same kinds of quantity on the models it can load.
"""

_A1 = Entry(
    "A1", "assumption", "margin", "",
    "The steering direction separates the two token sets: the margin "
    "$\\Delta(q) = \\min_{a \\in A^+} \\langle \\hat\\delta, u_a \\rangle - \\max_{b \\in A^-} \\langle \\hat\\delta, u_b \\rangle$ "
    "is positive. Every aligned token then gains at least $\\Delta$ more logit per unit of steering norm than "
    "any misaligned token.",
    "", derived=False,
)

_T1 = Entry(
    "T1", "theorem", "alignment lower bound (S-curve)",
    "Steering moves the logits to $z_r = z + r U \\hat\\delta$, both token sets carry probability "
    "($-1 < B_0 < 1$), and $\\Delta$ is the margin of A1. The inequality holds for a margin of either sign; "
    "A1 ($\\Delta > 0$) is what makes the bound rise with $r$.",
    "For every real $r$, "
    "$\\operatorname{sign}(r)\\,\\bigl(B_r - \\tanh(r\\Delta/2 + \\operatorname{artanh} B_0)\\bigr) \\ge 0$. "
    "For $r \\ge 0$ this is the lower bound $B_r \\ge \\tanh(r\\Delta/2 + \\operatorname{artanh} B_0)$, an "
    "S-curve in $r$. It is attained when each set holds one token, $A^+ = \\{a\\}$ and $A^- = \\{b\\}$, and "
    "$\\Delta = \\langle \\hat\\delta, u_a - u_b \\rangle$.",
    "Write the restricted expectation through the odds $\\rho = P_+/P_-$: $B = \\tanh(\\tfrac12 \\ln \\rho)$, "
    "and the softmax normaliser cancels from $\\rho$. Steering adds $r \\langle \\hat\\delta, u_t \\rangle$ "
    "to the logit of token $t$, so for $r \\ge 0$ each term of $P_+$ is multiplied by at least "
    "$e^{r \\min_a \\langle \\hat\\delta, u_a \\rangle}$ and each term of $P_-$ by at most "
    "$e^{r \\max_b \\langle \\hat\\delta, u_b \\rangle}$; hence $\\rho_r \\ge e^{r\\Delta} \\rho_0$ "
    "(the inequality turns round for $r < 0$). Since $\\tanh$ increases and "
    "$\\tfrac12 \\ln \\rho_0 = \\operatorname{artanh} B_0$, the bound follows.",
)

_C1_1 = Entry(
    "C1.1", "corollary", "linear regime of the alignment bound",
    "As T1.",
    "Near $r = 0$ the bound of T1 is linear: "
    "$\\tanh(r\\Delta/2 + \\operatorname{artanh} B_0) = B_0 + s_A r - \\tfrac14 \\Delta^2 B_0 (1 - B_0^2)\\, r^2 + O(r^3)$ "
    "with slope $s_A = \\tfrac12 \\Delta (1 - B_0^2)$. After the quadratic term the remainder is at most "
    "$|\\Delta r|^3/24$ for every $r$. The paper fits behaviour against the coefficient with "
    "$\\tanh(a c + b_0)$; under A3 ($\\lVert \\delta_c \\rVert = \\kappa |c|$) the theory predicts "
    "$a = \\kappa\\Delta/2$ and $b_0 = \\operatorname{artanh} B_0$.",
    "Expand $\\tanh$ at $\\operatorname{artanh} B_0$: its first derivative there is $1 - B_0^2$, its second "
    "$-2 B_0 (1 - B_0^2)$, and the inner function has slope $\\Delta/2$. The third derivative of $\\tanh$ is "
    "$-2 + 8\\tanh^2 - 6\\tanh^4$, whose largest absolute value is $2$ (at $0$), so Lagrange's form of the "
    "remainder gives at most $\\tfrac{2}{3!} (|\\Delta r|/2)^3 = |\\Delta r|^3/24$.",
)

_C1_2 = Entry(
    "C1.2", "corollary", "guaranteed alignment and the misaligned share",
    "As T1, with a target $1 - \\varepsilon$ above the unsteered value: $\\varepsilon > 0$ and "
    "$1 - \\varepsilon > B_0$.",
    "Every norm $r \\ge r_\\varepsilon = \\tfrac{2}{\\Delta} (\\operatorname{artanh}(1 - \\varepsilon) - "
    "\\operatorname{artanh} B_0)$ guarantees $B_r \\ge 1 - \\varepsilon$. For $r \\ge 0$ the misaligned "
    "share obeys $P_-/(P_+ + P_-) \\le 1/(1 + \\rho_0 e^{r\\Delta})$: it decays exponentially in $r$.",
    "T1's bound increases in $r$, so solving it for the value $1 - \\varepsilon$ gives the smallest norm "
    "that guarantees the target. The misaligned share equals $1/(1 + \\rho_r)$, which decreases in "
    "$\\rho_r$, and T1's proof gives $\\rho_r \\ge \\rho_0 e^{r\\Delta}$.",
)

_C1_3 = Entry(
    "C1.3", "corollary", "neutral mass",
    "At most $\\eta$ of the probability is neutral, $m_r = P_+ + P_- \\ge 1 - \\eta$ (see A4), and "
    "$B_r \\ge 0$.",
    "The unrestricted expectation keeps most of the restricted one: $\\tilde B_r \\ge (1 - \\eta) B_r$.",
    "$\\tilde B_r = m_r B_r$, and $(m_r - (1 - \\eta)) B_r$ is a product of two non-negative factors.",
)

_H = Entry(
    "H", "definition", "helpfulness of a multiple-choice answer",
    "",
    "With the gaps $g_i = z_i - z_*$ between each competitor's logit and the correct one, the base "
    "probabilities are $p_0 = P(o^* \\mid q)$ and $p_i = P(i \\mid q) = e^{g_i} p_0$, and the helpfulness is "
    "$H(q) = p_0 = 1/(1 + \\sum_{i \\in C} e^{g_i})$. Steering changes the gaps by "
    "$X_i = \\langle \\delta, u_i - u_* \\rangle$, so $H_\\delta = 1/(1 + \\sum_i e^{g_i + X_i})$. For one fixed "
    "$\\delta$ the change is $-p_0 \\sum_i p_i X_i$ to first order: linear in $\\delta$ and of either sign. "
    "A quadratic loss needs gap changes that are random with mean zero, which is A2.",
    "",
)

_A2 = Entry(
    "A2", "assumption", "Gaussian gap changes", "",
    "Across questions (or across steering directions) the gap changes are Gaussian with mean zero and a "
    "covariance that scales with the squared norm: $X \\sim N(0, r^2 \\Sigma)$ for a fixed matrix $\\Sigma$, "
    "the covariance per unit norm. The simplest case is independent and identically distributed changes, "
    "$\\Sigma = \\sigma^2 I$. A direction drawn isotropically at random in $\\mathbb{R}^d$ gives "
    "$\\Sigma_{ij} = \\langle u_i - u_*, u_j - u_* \\rangle / d$.",
    "", derived=False,
)

_T2A = Entry(
    "T2a", "theorem", "global lower bound on the expected helpfulness",
    "A2.",
    "For every $r$, $\\mathbb{E}[H_r] \\ge L(r) = 1/(1 + \\sum_i e^{g_i + r^2 \\Sigma_{ii}/2})$. With "
    "$\\Sigma = \\sigma^2 I$ this is $L(r) = 1/(1 + a e^{\\sigma^2 r^2/2})$ with $a = (1 - p_0)/p_0$. "
    "$L$ is even in $r$ and falls as $|r|$ grows: a bell curve.",
    "$H_r = \\varphi(\\sum_i e^{g_i + X_i})$ with $\\varphi(x) = 1/(1 + x)$, which is convex for $x > -1$. "
    "Jensen's inequality gives $\\mathbb{E}[H_r] \\ge \\varphi(\\sum_i e^{g_i} \\mathbb{E}[e^{X_i}])$, and the "
    "mean of a log-normal variable is $\\mathbb{E}[e^{X_i}] = e^{r^2 \\Sigma_{ii}/2}$.",
)

_T2B = Entry(
    "T2b", "theorem", "second-order law of the expected helpfulness",
    "A2.",
    "$\\mathbb{E}[H_r] = p_0 - \\tfrac{r^2}{2} p_0 \\bigl(\\sum_i p_i \\Sigma_{ii} - 2 p^\\top \\Sigma p\\bigr) "
    "+ O(r^4)$, so the loss has no linear term. With $\\Sigma = \\sigma^2 I$: "
    "$\\mathbb{E}[H_r] = p_0 - \\tfrac{\\sigma^2 r^2}{2} p_0 \\sum_i p_i (1 - 2 p_i) + O(r^4)$. "
    "The curvature $s_H = \\tfrac12 p_0 (\\sum_i p_i \\Sigma_{ii} - 2 p^\\top \\Sigma p)$ is the coefficient of "
    "$-r^2$.",
    "Expand $H$ in the gap changes around $X = 0$. The gradient is $\\partial H / \\partial g_i = -p_0 p_i$ and "
    "the Hessian is $p_0 (2 p_i p_j - \\delta_{ij} p_i)$. Under A2 the odd moments of $X$ vanish, so the "
    "first- and third-order terms have mean zero, and $\\mathbb{E}[X X^\\top] = r^2 \\Sigma$ turns the "
    "second-order term into the $r^2$ coefficient. The next surviving term is of fourth order.",
)

_T2C = Entry(
    "T2c", "theorem", "rigorous fourth-order remainder",
    "A2 with a positive semi-definite $\\Sigma$; any real $r$.",
    "The second-order law holds with an explicit remainder: "
    "$|\\mathbb{E}[H_r] - (p_0 - s_H r^2)| \\le K r^4$ with $K = \\tfrac{21}{16} \\sum_i \\Sigma_{ii}^2$. When the "
    "gap changes have mean $r\\mu$ (C2.3), the same argument one order lower bounds the error of C2.3's "
    "expansion by a constant times $|r|^3$.",
    "Follow the correct answer's probability along the segment $t \\mapsto g + tX$: "
    "$f(t) = p_0(g + tX) = e^{\\ell(t)}$. The derivatives of $\\ell$ are cumulants of the logit changes "
    "$(0, X)$ under the softmax distribution at $t$, and each is bounded by powers of the range $D$ of the "
    "changes times the probability $1 - \\pi_0$ not on the correct answer. $f^{(4)}/f$ is a polynomial in "
    "these derivatives, which gives $|f^{(4)}| \\le \\tfrac{c_4}{4} D^4$. Taylor's theorem with integral "
    "remainder, the vanishing odd Gaussian moments, $D^4 \\le 8 \\sum_i X_i^4$ and "
    "$\\mathbb{E} X_i^4 = 3 r^4 \\Sigma_{ii}^2$ then give $K$. The constant bounds every direction at once and "
    "is conservative; the numerical checks report how tight it is.",
)

_C2_1 = Entry(
    "C2.1", "corollary", "helpfulness is harmed when the model is right",
    "A2 with $\\Sigma = \\sigma^2 I$, and the model puts at least half its probability on the correct "
    "answer, $p_0 \\ge 1/2$ (then every $p_i < 1/2$).",
    "The $r^2$ coefficient of $\\mathbb{E}[H_r]$ lies in "
    "$[-\\tfrac{\\sigma^2}{2} p_0 (1 - p_0),\\ -\\tfrac{\\sigma^2}{2} p_0 (1 - p_0)(2 p_0 - 1)]$: steering "
    "costs helpfulness quadratically and has no linear effect. When $p_0 < 1/2$ the coefficient can be "
    "positive, and random steering can help a model that was wrong; the package reports that case and "
    "never hides it.",
    "In the coefficient $-\\tfrac{\\sigma^2}{2} p_0 \\sum_i p_i (1 - 2p_i)$ of T2b, "
    "$\\sum_i p_i = 1 - p_0$ and $0 \\le \\sum_i p_i^2 \\le (1 - p_0)^2$, so $\\sum_i p_i (1 - 2p_i)$ lies "
    "between $(1 - p_0)(2p_0 - 1)$ and $1 - p_0$.",
)

_C2_2 = Entry(
    "C2.2", "corollary", "the paper's fit form",
    "A2 with $\\Sigma = \\sigma^2 I$.",
    "To fourth order the bound of T2a is $L(r) = 1/(1 + a + a\\sigma^2 r^2/2) + O(r^4)$: the curve "
    "$1/(1 + a + a (b^2/2) c^2)$ that the paper fits to the probability of the correct answer against the "
    "coefficient, with $b \\approx \\sigma\\kappa$ under A3. Restricted to four options, the fitted curve "
    "carries a floor at chance, $0.5/(1 + a + a(b^2/2) c^2) + 0.25$.",
    "Replace $e^x$ by $1 + x$ with $x = \\sigma^2 r^2/2$; the error of that step is of order $x^2$, i.e. "
    "$r^4$, and the derivation bounds it explicitly.",
)

_C2_3 = Entry(
    "C2.3", "corollary", "bias in the gap changes",
    "A2 except that the gap changes have a mean: $X \\sim N(r\\mu, r^2\\Sigma)$.",
    "The expected helpfulness gains a linear term, "
    "$\\mathbb{E}[H_r] = p_0 - r\\, p_0 \\sum_i p_i \\mu_i + O(r^2)$. The package estimates $\\mu$ from the "
    "measured gap changes and says whether it is significantly different from zero.",
    "The first-order term of T2b's expansion, $-p_0 \\sum_i p_i X_i$, no longer has mean zero: its mean is "
    "$-r p_0 \\sum_i p_i \\mu_i$; the second moment becomes $r^2 (\\Sigma + \\mu\\mu^\\top)$.",
)

_S4 = Entry(
    "S4", "theorem", "the tradeoff: efficient and best steering norms",
    "$s_A$ from C1.1 (A1) and $s_H > 0$ from T2b (A2), for instance when $p_0 \\ge 1/2$ (C2.1); "
    "$\\lambda > 0$ weighs the helpfulness loss against the alignment gain. When $s_H \\le 0$ helpfulness "
    "does not fall at second order and both radii below are infinite.",
    "To leading order the gain $G(r) = s_A r$ exceeds the loss $\\Lambda(r) = s_H r^2$ on the efficient "
    "range $0 < r < r_{\\mathrm{eff}} = s_A / s_H$. The utility $G - \\lambda\\Lambda$ is largest at the best "
    "norm $r^*_\\lambda = s_A / (2\\lambda s_H)$, where it equals $s_A^2/(4\\lambda s_H)$. Without "
    "expansions, the guaranteed region is the set of $r$ where T1's gain exceeds $\\lambda$ times T2a's "
    "loss bound, $\\tanh(r\\Delta/2 + \\operatorname{artanh} B_0) - B_0 \\ge \\lambda (p_0 - L(r))$; it is found "
    "numerically on a grid.",
    "$G - \\Lambda = r\\, s_H (r_{\\mathrm{eff}} - r)$ is positive between its roots $0$ and "
    "$r_{\\mathrm{eff}}$. The derivative of $s_A r - \\lambda s_H r^2$ vanishes at $r^*_\\lambda$, and its "
    "second derivative $-2\\lambda s_H$ is negative.",
)

_A3 = Entry(
    "A3", "assumption", "linear response", "",
    "Steering at middle layers moves the final representation in proportion to the coefficient, "
    "$\\lVert \\delta_c(q) \\rVert \\approx \\kappa(q) |c|$, along a direction $\\hat\\delta$ that does not "
    "change with $c$. It connects statements in the norm $r$ to curves in the coefficient $c$, as in the "
    "fit forms of C1.1 and C2.2. For final-layer steering it holds exactly, with $\\kappa = 1$.",
    "", derived=False,
)

_A4 = Entry(
    "A4", "assumption", "mass on behaviour tokens", "",
    "The behaviour tokens keep most of the probability over the sweep: $m_r = P_+ + P_-$ stays close to "
    "$1$. It is what lets the restricted expectation speak for the unrestricted one (C1.3).",
    "", derived=False,
)

SECTIONS: tuple[Section, ...] = (
    Section(1, "setting", "Setting", _SETTING),
    Section(2, "alignment", "Alignment: an S-curve, linear at small norm", _ALIGNMENT, (_A1, _T1, _C1_1, _C1_2, _C1_3)),
    Section(
        3, "helpfulness", "Helpfulness: a bell curve, quadratic at small norm", _HELPFULNESS,
        (_H, _A2, _T2A, _T2B, _T2C, _C2_1, _C2_2, _C2_3),
    ),
    Section(4, "tradeoff", "The tradeoff", _TRADEOFF, (_S4,)),
    Section(5, "measured", "Assumptions measured on a model", _MEASURED, (_A3, _A4)),
    Section(6, "paper", "What the paper measured", _PAPER),
)


def entries() -> dict[str, Entry]:
    """Every entry by name, in the order of the page."""
    return {entry.name: entry for section in SECTIONS for entry in section.entries}
