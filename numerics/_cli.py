"""Subcommands of ``steerbounds`` that belong to the numerics layer."""

from __future__ import annotations

import argparse
import json


def _inspect_checkpoint(args: argparse.Namespace) -> int:
    import jax
    import numpy as np
    from flax import nnx

    from ._hf import load_hf_checkpoint
    from ._params import model_hash

    model = load_hf_checkpoint(args.path)
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))
    print(json.dumps({"config": model.config.to_dict(), "n_params": n_params, "model_hash": model_hash(model)}, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this layer's subcommands; each sets ``func(args) -> exit status``."""
    p = subparsers.add_parser(
        "inspect-checkpoint",
        help="load a local Hugging Face GPT-2/Llama checkpoint and print its config, size and parameter hash",
    )
    p.add_argument("path", help="folder with config.json and *.safetensors")
    p.set_defaults(func=_inspect_checkpoint)
