"""Shared fixtures for the encoder tests: a tiny random encoder and the real MiniLM-L6."""

from __future__ import annotations

import pytest
from encoder_reference import WHEEL_MISSING, randomised_encoder, real_extra_installed
from flax import nnx
from safetensors.numpy import load_file

from steerbounds.numerics import EncoderConfig, save_encoder_model


@pytest.fixture(scope="session")
def tiny_model():
    return randomised_encoder(EncoderConfig.tiny(), seed=0)


@pytest.fixture(scope="session")
def tiny_split(tiny_model):
    return nnx.split(tiny_model)


@pytest.fixture(scope="session")
def tiny_folder(tiny_model, tmp_path_factory):
    return save_encoder_model(tiny_model, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_tensors(tiny_folder):
    return load_file(str(tiny_folder / "model.safetensors"))


@pytest.fixture(scope="session")
def minilm():
    if not real_extra_installed():
        pytest.skip(WHEEL_MISSING)
    from steerbounds.numerics import load_encoder

    return load_encoder()
