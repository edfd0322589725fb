"""Small models shared by the numerics tests."""

from __future__ import annotations

import pytest
from numerics_reference import get_model

from steerbounds.numerics import Transformer


@pytest.fixture(params=["gpt2", "llama"], scope="module")
def style(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(style) -> Transformer:
    return get_model(style)


@pytest.fixture
def llama() -> Transformer:
    return get_model("llama")


@pytest.fixture
def gpt2() -> Transformer:
    return get_model("gpt2")
