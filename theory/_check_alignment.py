"""check-theory, section 2: T1 (both forms, equality case), C1.1, C1.2, C1.3, planted T1."""

from __future__ import annotations

import functools

import jax
import numpy as np

from . import _bridge, _derive_alignment as derive, _planted
from ._alignment import alignment_bound, alignment_slope, behaviour_expectation, guarantee_radius
from ._check_rows import Rows, Task
from ._symbols import B0, Delta, r as r_sym, u0

EPS = np.finfo(np.float64).eps


def loguniform(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def masked_lse(x, mask):
    """log sum_{mask} e^x along the last axis (numpy reference, -inf for an empty mask)."""
    x = np.where(mask, x, -np.inf)
    top = np.max(x, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (top + np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True)))[..., 0]


@functools.cache
def _kernel(statement: str, result: str, args: tuple):
    return jax.jit(_bridge.lambdify(getattr(derive, statement)()[result], args))


# (vocabulary size, |A+|, |A-|): a few fixed shapes, so that few compilations are needed.
_CONFIGS = ((2, 1, 1), (3, 1, 1), (5, 1, 1), (5, 2, 2), (8, 3, 2), (16, 1, 1), (16, 5, 8), (32, 8, 8), (32, 1, 20), (32, 20, 1))


def alignment_chunk(rng: np.random.Generator, n: int) -> dict:
    """Instances sharing token sets (drawn per chunk): logits, projections <dhat, u>, A1 margin, norms.

    Adversarial mixtures: tiny to huge margins (and a few negative ones: T1's
    inequality holds for either sign), B_0 pushed to within e^-700 of +-1, one
    token per set (the equality case), norms from 1e-12 to 1e3 of both signs.
    """
    vocab, n_plus, n_minus = _CONFIGS[int(rng.integers(len(_CONFIGS)))]
    single = n_plus == n_minus == 1
    order = rng.permutation(vocab)
    plus, minus = np.sort(order[:n_plus]), np.sort(order[n_plus : n_plus + n_minus])
    is_plus, is_minus = np.isin(np.arange(vocab), plus), np.isin(np.arange(vocab), minus)
    z = rng.normal(size=(n, vocab)) * loguniform(rng, 1e-2, 30.0, n)[:, None]
    w = rng.normal(size=(n, vocab)) * loguniform(rng, 1e-2, 1e2, n)[:, None]
    target = loguniform(rng, 1e-9, 1e3, n) * np.where(rng.random(n) < 0.1, -1.0, 1.0)
    w_max_minus = np.max(np.where(is_minus, w, -np.inf), axis=1)
    shift = np.where(is_plus, w_max_minus[:, None] + target[:, None] - w, -np.inf)
    w = w + np.where(is_plus, np.maximum(shift, 0.0), 0.0)
    lowest = np.argmax(shift, axis=1)
    w[np.arange(n), lowest] = w_max_minus + target  # the margin is attained there
    margin = np.min(np.where(is_plus, w, np.inf), axis=1) - np.max(np.where(is_minus, w, -np.inf), axis=1)
    push = rng.uniform(20.0, 700.0, n)[:, None]
    extreme = rng.random(n)
    z = np.where((extreme < 0.15)[:, None] & is_minus, z - push, z)
    z = np.where(((extreme >= 0.15) & (extreme < 0.3))[:, None] & is_plus, z - push, z)
    pick = rng.random(n)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    r = np.where(pick < 0.4, rng.uniform(-5.0, 5.0, n), sign * loguniform(rng, 1e-12, 1e3, n))
    return {"z": z, "w": w, "plus": plus, "minus": minus, "is_plus": is_plus, "is_minus": is_minus,
            "margin": margin, "r": r, "single": single}


def half_log_odds(logits, inst):
    return (masked_lse(logits, inst["is_plus"]) - masked_lse(logits, inst["is_minus"])) / 2


def t1_rows(rng, n, rows: Rows) -> None:
    inst = alignment_chunk(rng, n)
    z, w, r, margin = inst["z"], inst["w"], inst["r"], inst["margin"]
    z_r = z + r[:, None] * w
    u_0, u_r = half_log_odds(z, inst), half_log_odds(z_r, inst)
    scale = 1 + np.abs(z).max(1) + np.abs(r * w.max(1)) + np.abs(r * w.min(1)) + np.abs(u_0) + np.abs(r * margin)
    tol = 16 * EPS * scale
    bound_u = np.asarray(_kernel("t1", "half_log_odds_bound", (r_sym, Delta, u0))(r, margin, u_0))
    rows("T1", "log-odds form, both signs of r", "rigorous").add(np.sign(r) * (u_r - bound_u), tol)
    if inst["single"]:
        rows("T1", "equality, one token per set (|slack|)", "rigorous").add(-np.abs(u_r - bound_u), tol)
    planted = np.asarray(_planted.kernel("t1_double_slope_half_log_odds", (r_sym, Delta, u0))(r, margin, u_0))
    rows("planted", "T1 with twice the slope", "planted").add(np.sign(r) * (u_r - planted), tol)

    # B form through the public functions, where B_0 is representable away from +-1.
    # Arrays keep their full shape (invalid entries get harmless stand-ins and are dropped after),
    # so each shape compiles once.
    b0 = np.asarray(behaviour_expectation(z, inst["plus"], inst["minus"]))
    b_r = np.asarray(behaviour_expectation(z_r, inst["plus"], inst["minus"]))
    ok = np.abs(b0) <= 1 - 1e-6
    bound = np.asarray(alignment_bound(r, margin, np.where(ok, b0, 0.0)))
    rows("T1", "B form via alignment_bound", "rigorous").add((np.sign(r) * (b_r - bound))[ok], (1e-10 + tol)[ok])

    # C1.2: the guarantee radius reaches 1 - eps; the misaligned share decays.
    eps = loguniform(rng, 1e-12, 0.5, n)
    good = ok & (margin > 0) & (1 - eps > b0 + 1e-9)
    radius = np.asarray(guarantee_radius(np.where(good, margin, 1.0), np.where(good, b0, 0.0), eps=np.where(good, eps, 0.5)))
    reached = half_log_odds(z + radius[:, None] * w, inst)
    target = (np.log(2 - eps) - np.log(eps)) / 2
    tol_radius = 1e-9 * (1 + np.abs(target)) + 16 * EPS * (scale + np.abs(radius[:, None] * w).max(1))
    rows("C1.2", "B at r_eps >= 1 - eps (half log-odds)", "rigorous").add((reached - target)[good], tol_radius[good])
    pos = r >= 0
    log_share = -np.logaddexp(0.0, 2 * u_r)
    log_bound = np.asarray(_kernel("c1_2", "log_misaligned_share_bound", (r_sym, Delta, u0))(r, margin, u_0))
    rows("C1.2", "misaligned share <= 1/(1 + rho_0 e^(r Delta)) (log)", "rigorous").add((log_bound - log_share)[pos], 2 * tol[pos])

    # C1.3: the unrestricted expectation when at most eta of the mass is neutral.
    b_tilde = np.asarray(behaviour_expectation(z_r, inst["plus"], inst["minus"], restricted=False))
    total = masked_lse(z_r, np.ones(z.shape[1], bool))
    mass = np.exp(masked_lse(z_r, inst["is_plus"] | inst["is_minus"]) - total)
    eta = 1 - mass + rng.uniform(0, 0.05, n) * mass
    keep = b_r >= 0
    rows("C1.3", "B~ >= (1 - eta) B when m >= 1 - eta, B >= 0", "rigorous").add(
        (b_tilde - (1 - eta) * b_r)[keep], 1e-13)


def c1_1_rows(rng, n, rows: Rows) -> None:
    b0 = np.tanh(rng.uniform(-15, 15, n))
    margin = loguniform(rng, 1e-6, 1e2, n)
    r = np.where(rng.random(n) < 0.5, -1.0, 1.0) * loguniform(rng, 1e-8, 10.0, n)
    bound = np.asarray(alignment_bound(r, margin, b0))
    slope = np.asarray(alignment_slope(margin, b0))
    second = np.asarray(_kernel("c1_1", "r2_coefficient", (Delta, B0))(margin, b0))
    remainder = np.asarray(_kernel("c1_1", "remainder_bound", (r_sym, Delta))(r, margin))
    error = np.abs(bound - (b0 + slope * r + second * r**2))
    tol = 16 * EPS * (1 + np.abs(slope * r) + np.abs(second * r**2))
    rows("C1.1", "|bound - quadratic| <= |Delta r|^3 / 24", "rigorous").add(remainder - error, tol)


TASKS = [
    Task("T1, C1.2, C1.3", t1_rows, chunk=4000, share=2.0, statements=("T1", "C1.2", "C1.3", "planted")),
    Task("C1.1", c1_1_rows, chunk=50_000, share=1.0, statements=("C1.1",)),
]
