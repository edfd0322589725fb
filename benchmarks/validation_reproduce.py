"""Wall and CPU time of ``steerbounds reproduce`` (toy model or MiniLM-L6), and of the bundle analysis alone.

Usage: ``.venv/bin/python benchmarks/validation_reproduce.py [--model toy|minilm] [--grid paper|small]``
(``paper``: the model's default grids; ``minilm`` needs the extra ``steerbounds[real]``).
The reproduce job must finish within 5 minutes on 2 cores; CPU time is
reported next to wall time because the cores may be shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time

from steerbounds.validation import ValidationConfig, analyze_bundle, synthetic_bundle
from steerbounds.validation.studies._reproduce import default_config, reproduce
from steerbounds.validation.studies._study import StudyConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["toy", "minilm"], default="toy")
    parser.add_argument("--grid", choices=["paper", "small"], default="paper")
    args = parser.parse_args()
    config = default_config(args.model)
    if args.grid == "small":
        small = {"toy": ((-5, 5, 1.0), (-10, 10, 2.0)), "minilm": ((-4, 4, 1.0), (-4, 4, 1.0))}[args.model]
        config = dataclasses.replace(config, behaviour_grid=small[0], helpfulness_grid=small[1])
    results = {}
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        done = reproduce(config, out, model=args.model, progress=False)
        results["reproduce_wall_s"] = time.perf_counter() - wall
        results["reproduce_cpu_s"] = time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        reproduce(config, out, model=args.model, progress=False)  # everything resumed from the finished chunks
        results["resumed_wall_s"] = time.perf_counter() - wall
        results["resumed_cpu_s"] = time.process_time() - cpu
        results["n_figure_files"] = len(done["figures"])
    bundle = synthetic_bundle(seed=0, n_prompts=100, n_questions=100,
                              behaviour_coefficients=StudyConfig.paper().behaviour_coefficients(),
                              helpfulness_coefficients=StudyConfig.paper().helpfulness_coefficients())
    analyze_bundle(bundle, ValidationConfig())  # compile
    wall, cpu = time.perf_counter(), time.process_time()
    analyze_bundle(bundle, ValidationConfig())
    results["analysis_100x51_100x81_wall_s"] = time.perf_counter() - wall
    results["analysis_100x51_100x81_cpu_s"] = time.process_time() - cpu
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
