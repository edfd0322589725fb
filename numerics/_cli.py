"""Subcommands of ``steerbounds`` that belong to the numerics layer."""

from __future__ import annotations

import argparse
import json
import sys


def _inspect_checkpoint(args: argparse.Namespace) -> int:
    import jax
    import numpy as np
    from flax import nnx

    from pathlib import Path

    # the checkpoint readers (JAX, Flax) load when the command runs, not when the parser is built
    from ._gguf import load_gguf_checkpoint
    from ._hf import load_hf_checkpoint
    from ._params import model_hash

    is_gguf = Path(args.path).suffix.lower() == ".gguf"
    try:
        model = (load_gguf_checkpoint if is_gguf else load_hf_checkpoint)(args.path)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"steerbounds inspect-checkpoint: {err}", file=sys.stderr)
        return 2
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))
    info = {"config": model.config.to_dict(), "n_params": n_params, "model_hash": model_hash(model)}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"parameters: {n_params:,}\nmodel hash: {info['model_hash']}\nconfig:")
        print("\n".join(f"  {key}: {value}" for key, value in info["config"].items()))
    return 0


def _train_toy(args: argparse.Namespace) -> int:
    # training (JAX, Flax, optax) loads when the command runs, not when the parser is built
    from ._toy_checkpoint import TOY_MODEL_DIR, save_toy_model
    from ._toy_eval import evaluate_toy_model
    from ._toy_train import ToyTrainConfig, train_toy_model

    default = ToyTrainConfig.default()
    changes = {"seed": args.seed}
    if args.steps is not None:
        if args.steps < 1:
            raise SystemExit(f"train-toy: --steps must be a positive integer, got {args.steps}")
        changes["steps"] = args.steps
        changes["warmup_steps"] = min(args.steps - 1, round(args.steps * default.warmup_steps / default.steps))
    config = ToyTrainConfig.default(**changes)
    result = train_toy_model(config, progress=not args.quiet)
    evaluation = evaluate_toy_model(result.model, result.world)
    digest = save_toy_model(
        args.out, result.model, result.world, config, final_loss=float(result.losses[-1]),
        evaluation=evaluation.to_dict(),
    )
    shipped = None
    if (TOY_MODEL_DIR / "config.json").is_file():
        shipped = json.loads((TOY_MODEL_DIR / "config.json").read_text()).get("model_hash")
    report = {
        "out": str(args.out),
        "model_hash": digest,
        "matches_shipped_checkpoint": digest == shipped,
        "final_loss": float(result.losses[-1]),
        "wall_seconds": round(result.wall_seconds, 1),
        "cpu_seconds": round(result.cpu_seconds, 1),
        "evaluation": evaluation.to_dict(),
    }
    print(json.dumps(report, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this layer's subcommands; each sets ``func(args) -> exit status``."""
    p = subparsers.add_parser(
        "inspect-checkpoint",
        help="load a local Hugging Face GPT-2/Llama checkpoint folder or a GGUF file and print its config, size "
             "and parameter hash",
        description=(
            "Load a local Hugging Face checkpoint folder (config.json and *.safetensors, GPT-2 or Llama family) or "
            "a llama GGUF file into this package's transformer, checking every tensor, and print the translated "
            "config, the parameter count and the model hash (the hash that reports and vector files record). "
            "Nothing is downloaded."
        ),
    )
    p.add_argument("path", help="folder with config.json and *.safetensors, or a llama .gguf file")
    p.add_argument("--json", action="store_true", help="print config, parameter count and hash as JSON")
    p.set_defaults(func=_inspect_checkpoint)

    p = subparsers.add_parser(
        "train-toy",
        help="train the toy model on the toy world (the default recipe reproduces the shipped checkpoint)",
        description=(
            "Train the toy transformer on the toy world (docs/toy_model.md) and write the checkpoint to --out; "
            "print its hash, whether it matches the shipped checkpoint, the final loss and the evaluation as JSON. "
            "The default recipe and seed reproduce the shipped checkpoint bit for bit on the same machine."
        ),
    )
    p.add_argument("--out", default="results/toy_model", help="folder to write the checkpoint to (default: %(default)s)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the recipe's); warmup scales along")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and batches (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train_toy)

    from . import _cli_vectors  # vectors export/import: its own module

    _cli_vectors.register(subparsers)
