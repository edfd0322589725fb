"""Blocks evaluated at a subset of query positions (what the sweep's last block does) equal the full block there."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from steerbounds.numerics._forward import _context, _embed
from steerbounds.numerics._sweep import last_positions

TOKENS = np.array([[3, 7, 1, 9, 4, 2], [5, 5, 8, 0, 11, 6], [1, 2, 3, 4, 5, 6]])
MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])  # left and right padding


def _inputs(model):
    ctx = _context(model.config, jnp.asarray(MASK, bool))
    x = _embed(model, jnp.asarray(TOKENS), ctx)
    return x, ctx


def _run(model, layer, x, ctx, query_bq=None):
    """The block under jit (one compilation instead of op-by-op dispatch)."""
    graphdef, state = nnx.split(model.blocks[layer])

    @jax.jit
    def call(state, x, query_bq):
        return nnx.merge(graphdef, state)(x, ctx.cos_bth, ctx.sin_bth, ctx.allowed_btt, query_bq)

    return np.asarray(call(state, x, query_bq))


def test_block_at_query_positions_equals_rows_of_the_full_block(model):
    x, ctx = _inputs(model)
    full = _run(model, 1, x, ctx)
    queries = jnp.array([[5, 2], [0, 4], [2, 1]])
    part = _run(model, 1, x, ctx, queries)
    assert part.shape == (3, 2, model.config.d_model)
    expected = np.take_along_axis(full, np.asarray(queries)[:, :, None], axis=1)
    np.testing.assert_allclose(part, expected, rtol=1e-5, atol=1e-5)


def test_last_token_query_matches_and_a_wrong_row_is_caught(model):
    x, ctx = _inputs(model)
    full = _run(model, 0, x, ctx)
    last = last_positions(jnp.asarray(MASK))
    assert last.tolist() == [5, 5, 2]
    got = _run(model, 0, x, ctx, last[:, None])[:, 0]
    np.testing.assert_allclose(got, full[np.arange(3), np.asarray(last)], rtol=1e-5, atol=1e-5)
    # planted bug: the last column instead of the last token differs on the right-padded row
    wrong = _run(model, 0, x, ctx, jnp.full((3, 1), 5))[:, 0]
    assert np.abs(wrong[2] - full[2, 2]).max() > 1e-3
