"""``steerbounds reproduce``: the study on a model of ours, analysed like any bundle, with a progress bar."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._analysis import analyze_bundle
from ._bundle import ActivationBundle
from ._pipeline import write_outputs
from ._study import StudyConfig, StudyInputs, n_steps, run_study


def study_and_report(inputs: StudyInputs, config: StudyConfig, out_dir: str | os.PathLike, *, style: str = "paper",
                     fresh: bool = False, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """Run :func:`run_study`, analyse both bundles exactly as ``steerbounds analyze`` would, write the report.

    Writes ``out_dir/work`` (finished chunks, resumable), ``out_dir/bundles``,
    ``report.json``, ``report.md`` and ``figures/``. Returns the paths, the
    report and the wall and CPU seconds spent.

    The progress bar counts the study's steps plus the analysis and the report:

    >>> n_steps(StudyConfig.paper()) + 2
    19
    """
    return report_study(lambda tick: run_study(inputs, config, out_dir, fresh=fresh, progress=tick), n_steps(config),
                        config, out_dir, style=style, progress=progress, figures=figures)


def report_study(run: Callable[[Callable[[str], None]], list[ActivationBundle]], n_study_steps: int,
                 config: StudyConfig, out_dir: str | os.PathLike, *, style: str = "paper", progress: bool = True,
                 figures: bool = True) -> dict[str, Any]:
    """Run a study, analyse its bundles as ``steerbounds analyze`` would, and write the report, under one progress bar.

    ``run(tick)`` produces the bundles, calling ``tick(label)`` after each of its
    ``n_study_steps`` steps; the bar adds two steps (analysis, report and figures).
    Returns the paths of :func:`write_outputs`, the report, and the wall and CPU
    seconds spent.

    >>> import tempfile
    >>> from steerbounds.validation import synthetic_bundle
    >>> out = report_study(lambda tick: [synthetic_bundle(seed=0, n_prompts=2, n_questions=20)], 0, StudyConfig(),
    ...                    tempfile.mkdtemp(), progress=False, figures=False)
    >>> out["report"]["command"], out["cpu_seconds"] >= 0
    ('reproduce', True)
    """
    from tqdm import tqdm

    wall, cpu = time.perf_counter(), time.process_time()
    out_dir = Path(out_dir)
    bar = tqdm(total=n_study_steps + 2, desc="reproduce", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        def tick(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        bundles = run(tick)
        bar.total = bar.n + 2  # a grid chosen at run time makes the study's step count an estimate
        bar.refresh()
        results = []
        for b in bundles:
            results.append(analyze_bundle(b, config.validation))
        tick("analysis")
        model = dict(bundles[0].model)
        outputs = write_outputs(results, out_dir, config=config.validation, command="reproduce",
                                run_config=config.to_dict(), seed=config.seed, model=model,
                                sources=[str(out_dir / "bundles" / b.condition) for b in bundles], style=style,
                                figures=figures)
        tick("report and figures")
    finally:
        bar.close()
    outputs["wall_seconds"] = time.perf_counter() - wall
    outputs["cpu_seconds"] = time.process_time() - cpu
    return outputs


def toy_inputs() -> StudyInputs:
    """The embedded toy model and its world as study inputs (THEORY.md section 6, in kind).

    Contrast pairs: the world's (harmful, harmless) instruction pairs on training
    slots, the harmful member being the aligned side (a refusal is the aligned
    answer), so ``c > 0`` steers towards refusal. Behaviour: the held-out harmful
    instructions with the refusal openers as ``A+`` and the compliance openers as
    ``A-``. Helpfulness: the held-out multiple-choice questions, options A-D.
    """
    from flax import nnx

    from steerbounds.numerics import load_toy_model

    toy = load_toy_model()
    world = toy.world
    graphdef, state = nnx.split(toy.model)
    harmful, harmless = (list(x) for x in zip(*world.contrast_pairs))
    length = max(len(world.encode_prompts([p])[0][0]) for p in harmful + harmless)
    pairs_a, pairs_a_mask = world.encode_prompts(harmful, length=length)
    pairs_m, pairs_m_mask = world.encode_prompts(harmless, length=length)
    prompts = list(world.heldout_harmful_prompts)
    prompts_bt, prompts_mask = world.encode_prompts(prompts)
    questions = list(world.heldout_mc_questions)
    questions_bt, questions_mask = world.encode_prompts([q.prompt for q in questions])
    option_ids = tuple(int(i) for i in world.option_letter_ids)
    answers = [int(i) for i in world.answer_ids(questions)]
    correct = np.asarray([option_ids.index(a) for a in answers], dtype=np.int64)
    return StudyInputs(
        model_name="toy",
        graphdef=graphdef,
        state=state,
        pairs_aligned_bt=np.asarray(pairs_a),
        pairs_aligned_mask_bt=np.asarray(pairs_a_mask),
        pairs_misaligned_bt=np.asarray(pairs_m),
        pairs_misaligned_mask_bt=np.asarray(pairs_m_mask),
        prompts_bt=np.asarray(prompts_bt),
        prompts_mask_bt=np.asarray(prompts_mask),
        aligned_ids=tuple(int(i) for i in world.aligned_token_ids),
        misaligned_ids=tuple(int(i) for i in world.misaligned_token_ids),
        questions_bt=np.asarray(questions_bt),
        questions_mask_bt=np.asarray(questions_mask),
        option_ids=option_ids,
        correct_q=correct,
        prompt_texts=tuple(prompts),
        question_texts=tuple(q.prompt for q in questions),
        option_labels=("A", "B", "C", "D"),
        class_names=("harmful (refusal is aligned)", "harmless twin"),
    )


MODELS = {"toy": toy_inputs}  # models whose study is run_study on StudyInputs
EMBEDDED_MODELS = ("minilm", "toy")  # every model reproduce knows ("minilm": validation._minilm_study)


def default_config(model: str) -> StudyConfig:
    """The study configuration ``reproduce`` uses for ``model`` unless told otherwise.

    The toy model's grids are chosen from its measured scales (``None``: one joint
    grid per condition); MiniLM keeps its fixed grid.

    >>> default_config("toy").helpfulness_grid, default_config("minilm").helpfulness_grid
    (None, (-4.0, 4.0, 0.2))
    """
    if model == "minilm":
        from ._minilm_study import minilm_study_config

        return minilm_study_config()
    if model in MODELS:
        return StudyConfig()
    raise ValueError(f"model {model!r} is not embedded; choose one of {list(EMBEDDED_MODELS)}")


def reproduce(config: StudyConfig, out_dir: str | os.PathLike, *, model: str = "toy", style: str = "paper",
              fresh: bool = False, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """``steerbounds reproduce``: the study of THEORY.md sections 5-6 on an embedded model, analysed and reported.

    ``"toy"``: the embedded toy transformer (:func:`toy_inputs`, :func:`run_study`);
    ``"minilm"``: all-MiniLM-L6-v2 with its softmax readout
    (:func:`steerbounds.validation._minilm_study.run_minilm_study`; needs the extra
    ``steerbounds[real]``). Both end in the same analysis and report.

    >>> EMBEDDED_MODELS
    ('minilm', 'toy')
    """
    if model == "minilm":
        from ._minilm_study import minilm_study_and_report

        return minilm_study_and_report(config, out_dir, style=style, fresh=fresh, progress=progress,
                                       figures=figures)
    if model not in MODELS:
        raise ValueError(f"model {model!r} is not embedded; choose one of {list(EMBEDDED_MODELS)}")
    return study_and_report(MODELS[model](), config, out_dir, style=style, fresh=fresh, progress=progress,
                            figures=figures)
