"""Hypothesis strategies for the objects of docs/theory.md: instances satisfying A1 and A2.

Every strategy is a keyword-only function that checks its arguments when it
is called (not when it is drawn from) and returns a ``SearchStrategy``:

* :func:`unit_directions` - unit vectors (steering directions dhat);
* :func:`token_sets` - disjoint aligned/misaligned token-id sets;
* :func:`alignment_instances` - logits, an unembedding, a direction and token
  sets whose A1 margin lies in a given range;
* :func:`gap_vectors` - gaps ``z_i - z_*`` of k competitors;
* :func:`covariances` - A2 covariances: diagonal, correlated, low-rank and
  near-singular (positive semi-definite by construction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_FINITE = {"allow_nan": False, "allow_infinity": False}


def _check_int(name: str, value, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_range(lo_name: str, lo, hi_name: str, hi, *, positive: bool = False) -> None:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if positive and value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo!r} must not exceed {hi_name}={hi!r}")


def unit_directions(*, dim: int) -> st.SearchStrategy[np.ndarray]:
    """Unit vectors in ``R^dim`` (float64), e.g. a steering direction dhat.

    >>> from hypothesis import find
    >>> from steerbounds.testing import unit_directions
    >>> v = find(unit_directions(dim=3), lambda _: True)
    >>> bool(abs((v ** 2).sum() - 1) < 1e-12)
    True
    """
    _check_int("dim", dim, minimum=1)
    raw = hnp.arrays(np.float64, dim, elements=st.floats(-1.0, 1.0, **_FINITE))
    return raw.filter(lambda x: np.linalg.norm(x) > 1e-3).map(lambda x: x / np.linalg.norm(x))


def token_sets(
    *, vocab_size: int, min_size: int = 1, max_size: int | None = None
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Disjoint, non-empty ``(aligned_ids, misaligned_ids)`` in ``[0, vocab_size)``.

    >>> from hypothesis import find
    >>> from steerbounds.testing import token_sets
    >>> plus, minus = find(token_sets(vocab_size=10), lambda _: True)
    >>> set(plus.tolist()).isdisjoint(minus.tolist())
    True
    """
    _check_int("min_size", min_size, minimum=1)
    _check_int("vocab_size", vocab_size, minimum=2 * min_size)
    if max_size is None:
        max_size = vocab_size // 2
    _check_int("max_size", max_size, minimum=min_size)
    if 2 * max_size > vocab_size:
        raise ValueError(f"max_size={max_size} leaves no room for two disjoint sets in vocab_size={vocab_size}")

    @st.composite
    def build(draw):
        order = draw(st.permutations(range(vocab_size)))
        n_plus = draw(st.integers(min_size, max_size))
        n_minus = draw(st.integers(min_size, max_size))
        return np.array(sorted(order[:n_plus])), np.array(sorted(order[n_plus : n_plus + n_minus]))

    return build()


@dataclass(frozen=True)
class AlignmentInstance:
    """Logits with an unembedding and token sets; A1 holds with margin ``margin``."""

    logits_v: np.ndarray  # unsteered logits z = U h + b
    unembed_vd: np.ndarray  # U, rows u_t
    direction_d: np.ndarray  # unit steering direction dhat
    aligned_ids: np.ndarray  # A+
    misaligned_ids: np.ndarray  # A-
    margin: float  # Delta = min_{A+} <dhat, u_a> - max_{A-} <dhat, u_b>

    def steered_logits(self, r) -> np.ndarray:
        """``z + r U dhat`` for a scalar or an array of norms (extra leading axes)."""
        r = np.asarray(r, dtype=np.float64)
        return self.logits_v + r[..., None] * (self.unembed_vd @ self.direction_d)


def alignment_instances(
    *,
    min_vocab: int = 2,
    max_vocab: int = 16,
    dim: int = 4,
    min_margin: float = 1e-3,
    max_margin: float = 10.0,
    max_logit: float = 20.0,
) -> st.SearchStrategy[AlignmentInstance]:
    """Instances satisfying A1 with a margin drawn in ``[min_margin, max_margin]``.

    The aligned rows of the unembedding are shifted along dhat so that the
    margin is attained exactly; logits lie in ``[-max_logit, max_logit]``, so
    B_0 ranges up to very close to +-1.

    >>> from hypothesis import find
    >>> from steerbounds.testing import alignment_instances
    >>> inst = find(alignment_instances(min_margin=0.5, max_margin=0.5), lambda _: True)
    >>> w = inst.unembed_vd @ inst.direction_d
    >>> round(float(w[inst.aligned_ids].min() - w[inst.misaligned_ids].max()), 9)
    0.5
    """
    _check_int("min_vocab", min_vocab, minimum=2)
    _check_int("max_vocab", max_vocab, minimum=min_vocab)
    _check_int("dim", dim, minimum=1)
    _check_range("min_margin", min_margin, "max_margin", max_margin, positive=True)
    _check_range("max_logit", max_logit, "max_logit", max_logit, positive=True)

    @st.composite
    def build(draw):
        vocab = draw(st.integers(min_vocab, max_vocab))
        plus, minus = draw(token_sets(vocab_size=vocab))
        direction = draw(unit_directions(dim=dim))
        unembed = draw(hnp.arrays(np.float64, (vocab, dim), elements=st.floats(-3.0, 3.0, **_FINITE)))
        logits = draw(hnp.arrays(np.float64, vocab, elements=st.floats(-max_logit, max_logit, **_FINITE)))
        margin = draw(st.floats(min_margin, max_margin, **_FINITE))
        w = unembed @ direction
        shift = w[minus].max() + margin - w[plus]
        lift = np.zeros(vocab)
        lift[plus] = np.maximum(shift, 0.0)
        lift[plus[np.argmax(shift)]] = shift.max()  # attain the margin at one aligned token
        unembed = unembed + lift[:, None] * direction[None, :]
        w = unembed @ direction
        exact = float(w[plus].min() - w[minus].max())
        return AlignmentInstance(logits, unembed, direction, plus, minus, exact)

    return build()


def gap_vectors(
    *, min_k: int = 1, max_k: int = 8, min_gap: float = -20.0, max_gap: float = 20.0
) -> st.SearchStrategy[np.ndarray]:
    """Gaps ``g_i = z_i - z_*`` of between ``min_k`` and ``max_k`` competitors.

    >>> from hypothesis import find
    >>> from steerbounds.testing import gap_vectors
    >>> gaps = find(gap_vectors(min_k=3, max_k=3), lambda _: True)
    >>> gaps.shape
    (3,)
    """
    _check_int("min_k", min_k, minimum=1)
    _check_int("max_k", max_k, minimum=min_k)
    _check_range("min_gap", min_gap, "max_gap", max_gap)
    return st.integers(min_k, max_k).flatmap(
        lambda k: hnp.arrays(np.float64, k, elements=st.floats(min_gap, max_gap, **_FINITE))
    )


def covariances(
    *, k: int, min_scale: float = 1e-2, max_scale: float = 4.0, kinds=("diagonal", "correlated", "low_rank", "near_singular")
) -> st.SearchStrategy[np.ndarray]:
    """Positive semi-definite ``(k, k)`` covariances whose diagonal lies in ``[0, max_scale]``.

    ``kinds`` picks among ``"diagonal"``, ``"correlated"`` (a random factor
    ``A A^T``), ``"low_rank"`` (rank 1, exactly singular) and ``"near_singular"``
    (correlations within 1e-6 of 1).

    >>> import numpy as np
    >>> from hypothesis import find
    >>> from steerbounds.testing import covariances
    >>> cov = find(covariances(k=3), lambda _: True)
    >>> bool(np.linalg.eigvalsh(cov).min() > -1e-9 * np.abs(cov).max())
    True
    """
    _check_int("k", k, minimum=1)
    _check_range("min_scale", min_scale, "max_scale", max_scale, positive=True)
    allowed = ("diagonal", "correlated", "low_rank", "near_singular")
    kinds = tuple(kinds)
    if not kinds or any(kind not in allowed for kind in kinds):
        raise ValueError(f"kinds must be a non-empty selection of {allowed}, got {kinds!r}")

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(kinds))
        scales = draw(hnp.arrays(np.float64, k, elements=st.floats(min_scale, max_scale, **_FINITE)))
        sd = np.sqrt(scales)
        if kind == "diagonal":
            return np.diag(scales)
        if kind == "correlated":
            factor = draw(hnp.arrays(np.float64, (k, k), elements=st.floats(-1.0, 1.0, **_FINITE)))
            corr = factor @ factor.T + 1e-3 * np.eye(k)
            d = np.sqrt(np.diag(corr))
            corr = corr / d[:, None] / d[None, :]
        elif kind == "low_rank":
            signs = draw(hnp.arrays(np.float64, k, elements=st.sampled_from([-1.0, 1.0])))
            corr = np.outer(signs, signs)
        else:
            signs = draw(hnp.arrays(np.float64, k, elements=st.sampled_from([-1.0, 1.0])))
            corr = (1 - 1e-6) * np.outer(signs, signs) + 1e-6 * np.eye(k)
        cov = corr * sd[:, None] * sd[None, :]
        return (cov + cov.T) / 2

    return build()
