"""From analysed conditions to the files of a run: report.json, figures, report.md."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._analysis import analyze_bundle
from ._bundle import load_bundle
from ._config import ValidationConfig
from ._plots import plot_report
from ._report import build_report, write_report


def write_outputs(results: list[dict[str, Any]], out_dir: str | os.PathLike, *, config: ValidationConfig,
                  command: str, run_config: dict[str, Any] | None = None, seed: int | None = None,
                  model: dict[str, Any] | None = None, sources: list[str] | None = None, style: str = "paper",
                  figures: bool = True) -> dict[str, Any]:
    """Write report.json, the figures (``out_dir/figures``) and report.md; return their paths and the report.

    >>> import tempfile
    >>> from steerbounds.validation import analyze_bundle, synthetic_bundle, ValidationConfig
    >>> res = [analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20))]
    >>> out = write_outputs(res, tempfile.mkdtemp(), config=ValidationConfig(), command="analyze", figures=False)
    >>> out["json"].name, out["figures"]
    ('report.json', [])
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(results, config=config, command=command, run_config=run_config, seed=seed, model=model,
                          sources=sources)
    jpath, mpath = write_report(report, out_dir)
    fig_paths: list[Path] = []
    if figures:
        fig_paths = plot_report(report, out_dir / "figures", style=style)
        listed = [str(p.relative_to(out_dir)) for p in fig_paths]
        jpath, mpath = write_report(report, out_dir, figures=listed)
    return {"json": jpath, "markdown": mpath, "figures": fig_paths, "report": report}


def analyze_bundles(paths: list[str | os.PathLike], out_dir: str | os.PathLike, *,
                    config: ValidationConfig | None = None, style: str = "paper",
                    figures: bool = True, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``steerbounds analyze``: load, validate and analyse bundles; write the report into ``out_dir``.

    ``progress(label)`` is called after every step: each bundle loaded, each
    analysed, and the report written (``2 * len(paths) + 1`` calls).

    >>> import tempfile
    >>> from steerbounds.validation import save_bundle, synthetic_bundle
    >>> b = save_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20), tempfile.mkdtemp())
    >>> analyze_bundles([b], tempfile.mkdtemp(), figures=False)["report"]["command"]
    'analyze'
    """
    config = config or ValidationConfig()
    tick = progress or (lambda label: None)
    bundles = []
    for p in paths:
        bundles.append(load_bundle(p))
        tick(f"loaded {Path(p).name}")
    results = []
    for p, b in zip(paths, bundles):
        results.append(analyze_bundle(b, config))
        tick(f"analysed {Path(p).name}")
    hashes = {str(b.model.get("hash")) for b in bundles}
    model = bundles[0].model if len(hashes) == 1 else {"name": "several", "hash": sorted(hashes)}
    out = write_outputs(results, out_dir, config=config, command="analyze", seed=config.seed, model=model,
                        sources=[str(Path(p)) for p in paths], style=style, figures=figures)
    tick("report and figures")
    return out
