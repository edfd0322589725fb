"""The sympy symbols of docs/theory.md, shared by every derivation.

Names follow docs/theory.md: ``r`` the steering norm, ``Delta`` the A1 margin,
``B_0`` the unsteered behaviour expectation, ``g[i]`` the gaps
``z_i - z_*`` of the ``k`` competitors, ``Sigma[i, j]`` the A2 covariance of
the gap changes per unit norm, ``p_0``/``p[i]`` the base probabilities of the
correct answer and of competitor ``i``.
"""

from __future__ import annotations

import sympy as sp

r = sp.Symbol("r", real=True)  # steering norm ||delta|| (signed for T1)
t = sp.Symbol("t", real=True)  # position along a segment (Taylor remainders)
Delta = sp.Symbol("Delta", positive=True)  # A1 margin
B0 = sp.Symbol("B_0", real=True)  # unsteered behaviour expectation, in (-1, 1)
rho0 = sp.Symbol("rho_0", positive=True)  # unsteered odds P+/P-
u0 = sp.Symbol("u_0", real=True)  # artanh(B_0) = ln(rho_0)/2, the unsteered half log-odds
rho = sp.Symbol("rho", positive=True)  # odds P+/P- at norm r
eps = sp.Symbol("epsilon", positive=True)  # C1.2 target 1 - epsilon
eta = sp.Symbol("eta", positive=True)  # C1.3: the neutral mass 1 - m is at most eta
m = sp.Symbol("m", positive=True)  # mass P+ + P- on behaviour tokens
logp_plus = sp.Symbol("ell_+", real=True)  # log P+
logp_minus = sp.Symbol("ell_-", real=True)  # log P-

k = sp.Symbol("k", integer=True, positive=True)  # number of competitors
i = sp.Idx("i", (1, k))
j = sp.Idx("j", (1, k))
l = sp.Idx("l", (1, k))  # noqa: E741 - a summation index, as in the text
g = sp.IndexedBase("g", real=True)  # gaps z_i - z_*
X = sp.IndexedBase("X", real=True)  # gap changes <delta, u_i - u_*>
Sigma = sp.IndexedBase("Sigma", real=True)  # A2 covariance per unit norm
sd = sp.IndexedBase("s", nonnegative=True)  # diagonal of Sigma (variances)
mu = sp.IndexedBase("mu", real=True)  # C2.3 mean gap change per unit norm
p = sp.IndexedBase("p", positive=True)  # competitor probabilities
p0 = sp.Symbol("p_0", positive=True)  # probability of the correct answer
sigma = sp.Symbol("sigma", positive=True)  # i.i.d. standard deviation (Sigma = sigma^2 I)
a = sp.Symbol("a", positive=True)  # odds against the correct answer, (1 - p0)/p0
lam = sp.Symbol("lambda", positive=True)  # weight of the helpfulness loss (section 4)
s_A = sp.Symbol("s_A", positive=True)  # alignment slope (C1.1)
s_H = sp.Symbol("s_H", real=True)  # helpfulness curvature (T2b, section 4)
