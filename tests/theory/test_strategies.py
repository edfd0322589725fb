"""The hypothesis strategies: eager argument checks and the promised properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from steerbounds.testing import alignment_instances, covariances, gap_vectors, token_sets, unit_directions


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: unit_directions(dim=0), "dim must be >= 1"),
        (lambda: unit_directions(dim=2.0), "dim must be an int"),
        (lambda: token_sets(vocab_size=1), "vocab_size must be >= 2"),
        (lambda: token_sets(vocab_size=4, max_size=3), "leaves no room"),
        (lambda: alignment_instances(min_margin=-1.0), "min_margin must be positive"),
        (lambda: alignment_instances(min_margin=2.0, max_margin=1.0), "must not exceed"),
        (lambda: alignment_instances(min_vocab=5, max_vocab=3), "max_vocab must be >= 5"),
        (lambda: gap_vectors(min_k=0), "min_k must be >= 1"),
        (lambda: gap_vectors(min_gap=float("nan")), "min_gap must be a finite number"),
        (lambda: covariances(k=0), "k must be >= 1"),
        (lambda: covariances(k=2, kinds=("banded",)), "kinds must be"),
    ],
)
def test_arguments_are_checked_when_the_strategy_is_built(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


@given(inst=alignment_instances(min_margin=0.1, max_margin=5.0))
def test_alignment_instances_satisfy_a1(inst):
    w = inst.unembed_vd @ inst.direction_d
    margin = w[inst.aligned_ids].min() - w[inst.misaligned_ids].max()
    assert margin == pytest.approx(inst.margin, abs=1e-12)
    assert inst.margin >= 0.1 - 1e-9
    assert set(inst.aligned_ids.tolist()).isdisjoint(inst.misaligned_ids.tolist())
    assert np.linalg.norm(inst.direction_d) == pytest.approx(1.0)


@given(cov=covariances(k=4))
def test_covariances_are_symmetric_psd(cov):
    np.testing.assert_array_equal(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() >= -1e-9 * max(np.abs(cov).max(), 1e-300)


@given(pair=token_sets(vocab_size=12, max_size=4))
def test_token_sets_are_disjoint_and_nonempty(pair):
    plus, minus = pair
    assert 1 <= len(plus) <= 4 and 1 <= len(minus) <= 4
    assert not set(plus.tolist()) & set(minus.tolist())
