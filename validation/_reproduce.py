"""``steerbounds reproduce``: the study on a model of ours, analysed like any bundle, with a progress bar."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from ._analysis import analyze_bundle
from ._pipeline import write_outputs
from ._study import StudyConfig, StudyInputs, n_steps, run_study


def study_and_report(inputs: StudyInputs, config: StudyConfig, out_dir: str | os.PathLike, *, style: str = "paper",
                     fresh: bool = False, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """Run :func:`run_study`, analyse both bundles exactly as ``steerbounds analyze`` would, write the report.

    Writes ``out_dir/work`` (finished chunks, resumable), ``out_dir/bundles``,
    ``report.json``, ``report.md`` and ``figures/``. Returns the paths, the
    report and the wall and CPU seconds spent.

    >>> import tempfile
    >>> from steerbounds.validation._study import _tiny_inputs
    >>> cfg = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3)
    >>> out = study_and_report(_tiny_inputs(), cfg, tempfile.mkdtemp(), progress=False, figures=False)
    >>> sorted(out["report"]["conditions"])
    ['final_representation', 'mid_layers']
    """
    from tqdm.auto import tqdm

    wall, cpu = time.perf_counter(), time.process_time()
    out_dir = Path(out_dir)
    bar = tqdm(total=n_steps(config) + 2, desc="reproduce", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        def tick(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        bundles = run_study(inputs, config, out_dir, fresh=fresh, progress=tick)
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
