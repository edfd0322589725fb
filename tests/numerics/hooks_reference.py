"""transformers' ``generate`` with forward hooks adding ``c v``: the reference our steered generation is checked
against (tests only), and the agreement rule of the KV-cache issue: at least 99% of tokens identical, and a
divergence may start only where the reference's top two logits are within ``tie``."""

from __future__ import annotations

import numpy as np


def hooked_greedy(hf_model, blocks, tokens_bt, mask_bt, vector_d, coefficient, layers, max_new_tokens, **generate):
    """Greedy tokens (b, n) and logits (b, n, V) of ``hf_model.generate`` with ``c v`` added after ``blocks[l]``."""
    import torch

    vec = torch.tensor(np.asarray(vector_d), dtype=torch.float32)

    def hook(module, inputs, output):
        return (output[0] + coefficient * vec,) + tuple(output[1:]) if isinstance(output, tuple) else \
            output + coefficient * vec

    handles = [blocks[layer].register_forward_hook(hook) for layer in layers]
    try:
        with torch.no_grad():
            res = hf_model.generate(input_ids=torch.as_tensor(np.asarray(tokens_bt), dtype=torch.long),
                                    attention_mask=torch.as_tensor(np.asarray(mask_bt)), max_new_tokens=max_new_tokens,
                                    do_sample=False, output_logits=True, return_dict_in_generate=True, **generate)
    finally:
        for h in handles:
            h.remove()
    return res.sequences[:, tokens_bt.shape[1]:].numpy(), torch.stack(res.logits, 1).numpy()


def assert_agrees_with_hooks(ours_cbn, hf_model, blocks, tokens_bt, mask_bt, vector_d, coefficients, layers, *,
                             tie: float = 1e-3, **generate) -> tuple[int, int]:
    """Check ``ours_cbn`` (coefficient, prompt, token) against :func:`hooked_greedy`; returns (same, total)."""
    total = same = 0
    for ci, c in enumerate(coefficients):
        theirs, logits = hooked_greedy(hf_model, blocks, tokens_bt, mask_bt, vector_d, float(c), layers,
                                       ours_cbn.shape[-1], **generate)
        total += theirs.size
        same += int((theirs == ours_cbn[ci]).sum())
        for row in range(theirs.shape[0]):
            diff = np.flatnonzero(theirs[row] != ours_cbn[ci, row])
            if diff.size:  # a divergence may start only at a near tie of the top two logits
                top2 = np.sort(logits[row, diff[0]])[-2:]
                assert top2[1] - top2[0] < tie, (c, row, int(diff[0]), top2)
    assert same / total >= 0.99, (same, total)
    return same, total
