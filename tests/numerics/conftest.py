"""Small models shared by the numerics tests."""

from __future__ import annotations

import pytest
from flax import nnx
from numerics_reference import randomised, small_config

from steerbounds.numerics import Transformer


@pytest.fixture(params=["gpt2", "llama"], scope="module")
def style(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(style) -> Transformer:
    return randomised(Transformer(small_config(style), rngs=nnx.Rngs(0)))
