"""docs/bundle.md's PyTorch exporter runs on a tiny random GPT-2 and yields a bundle the analysis accepts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from steerbounds.validation import ValidationConfig, analyze_bundle, load_bundle

DOC = Path(__file__).resolve().parents[2] / "docs" / "bundle.md"


def _exporter_namespace() -> dict:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/bundle.md has no python code block"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def test_documented_exporter_writes_a_valid_consistent_bundle(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ns = _exporter_namespace()
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=48, n_positions=16, n_embd=32, n_layer=4, n_head=4)
    model = transformers.GPT2LMHeadModel(config).eval()
    rng = np.random.default_rng(0)

    def batch(n, lengths):
        ids = np.zeros((n, max(lengths)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, length in enumerate(lengths):  # left padding
            ids[i, -length:] = rng.integers(10, 48, size=length)
            mask[i, -length:] = 1
        return torch.as_tensor(ids), torch.as_tensor(mask)

    prompts, prompts_mask = batch(5, [6, 4, 6, 5, 3])
    questions, questions_mask = batch(6, [5, 6, 4, 6, 6, 3])
    directory = ns["export_bundle"](
        model, tmp_path / "bundle", vector=rng.normal(size=32), layers=[1, 2],
        prompts_ids=prompts, prompts_mask=prompts_mask, aligned_ids=[1, 2], misaligned_ids=[3, 4],
        questions_ids=questions, questions_mask=questions_mask, option_ids=[5, 6, 7, 8],
        correct=[0, 1, 2, 3, 0, 1], behaviour_coefficients=np.linspace(-2, 2, 9),
        helpfulness_coefficients=np.linspace(-3, 3, 13), model_name="tiny-gpt2")
    bundle = load_bundle(directory)
    assert bundle.behaviour.logprobs_qcr.shape == (5, 9, 4)
    assert bundle.helpfulness.delta_qcd.shape == (6, 13, 32)
    # Left padding with explicit positions: a prompt's unsteered output does not depend on its padding.
    alone = model(input_ids=prompts[4:5, -3:]).logits[0, -1].double().log_softmax(-1)[[1, 2, 3, 4]].detach().numpy()
    np.testing.assert_allclose(bundle.behaviour.logprobs_qcr[4, 4], alone, atol=1e-4)
    result = analyze_bundle(bundle, ValidationConfig())
    assert result.consistency.behaviour_max < 1e-3  # delta is the change of lm_head's input
    assert result.t1.n_violations == 0 and result.t1.n_checked + result.t1.n_outside_a1 == 5 * 8
