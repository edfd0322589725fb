"""``steerbounds reproduce``: the study on a registered model or a checkpoint, analysed like any bundle."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .._analysis import analyze_bundle
from .._bundle import ActivationBundle
from .._pipeline import write_outputs
from ._data import StudyData
from ._registry import resolve_model
from ._study import StudyConfig, n_steps, run_study
from ._user_data import UserFiles, apply_user_files


def study_and_report(model: Any, data: StudyData, config: StudyConfig, out_dir: str | os.PathLike, *,
                     style: str = "paper", fresh: bool = False, progress: bool = True,
                     figures: bool = True) -> dict[str, Any]:
    """Run :func:`run_study`, analyse both bundles exactly as ``steerbounds analyze`` would, write the report.

    Writes ``out_dir/work`` (finished chunks, resumable), ``out_dir/bundles``,
    ``report.json``, ``report.md`` and ``figures/``. Returns the paths, the
    report and the wall and CPU seconds spent.

    The progress bar counts the study's steps plus the analysis and the report:

    >>> n_steps(StudyConfig.paper()) + 2
    20
    """
    return report_study(lambda tick: run_study(model, data, config, out_dir, fresh=fresh, progress=tick),
                        n_steps(config), config, out_dir, style=style, progress=progress, figures=figures)


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


def default_config(model: str) -> StudyConfig:
    """The study configuration ``reproduce`` uses for ``model`` (a registered name or a path) unless told otherwise.

    Registered models and checkpoints get one joint grid per condition chosen from
    their measured scales (grids ``None``); MiniLM keeps its fixed grid.

    >>> default_config("toy").helpfulness_grid, default_config("minilm").helpfulness_grid
    (None, (-4.0, 4.0, 0.2))
    """
    return resolve_model(model).config()


def reproduce(config: StudyConfig, out_dir: str | os.PathLike, *, model: str = "toy",
              user_files: UserFiles | None = None, use_chat_template: bool = True, style: str = "paper",
              fresh: bool = False, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """``steerbounds reproduce``: the study of docs/theory.md #measured, #paper on ``model``, analysed and reported.

    ``model`` is a registered name (``toy``; ``minilm``, extra
    ``steerbounds[real]``) or a path a registered format recognises (a Hugging
    Face folder of the GPT-2 or Llama family). ``user_files`` replace parts of
    the model's default texts with the researcher's own (:class:`UserFiles`).
    The data are read and checked before the model is loaded.

    >>> import tempfile
    >>> reproduce(StudyConfig(), tempfile.mkdtemp(), model="no-such-model")
    Traceback (most recent call last):
    ...
    ValueError: --model 'no-such-model' is neither a registered model (minilm, smollm2, toy) nor an existing path
    """
    entry = resolve_model(model)
    files = user_files if user_files is not None else UserFiles()
    files.read()  # every row checked before a model is loaded
    study_model = entry.load_model(use_chat_template=use_chat_template)
    data = apply_user_files(entry.data(study_model), files)
    return study_and_report(study_model, data, config, out_dir, style=style, fresh=fresh, progress=progress,
                            figures=figures)
