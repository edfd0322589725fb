"""MkDocs hook: ship MathJax inside the site, from the django-static-mathjax wheel (no network at build or view)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from mkdocs.plugins import event_priority

_BUNDLE = "tex-svg-full.js"  # every TeX extension, SVG output: one file, no web fonts to fetch


def _mathjax_source() -> Path:
    try:
        import mathjax  # the django-static-mathjax package
    except ImportError as err:  # the docs extra is missing
        raise SystemExit("docs: MathJax is missing; install the docs extra: pip install -e '.[docs]'") from err
    source = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5" / _BUNDLE
    if not source.is_file():
        raise SystemExit(f"docs: {source} not found; reinstall django-static-mathjax (pip install -e '.[docs]')")
    return source


def on_post_build(config, **kwargs) -> None:
    target = Path(config["site_dir"]) / "assets" / "mathjax" / _BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_mathjax_source(), target)


@event_priority(100)  # before the plugins: mkdocstrings must find the tree when it reads its paths
def on_config(config, **kwargs):
    """Lay out the package as it is installed, for mkdocstrings to read the sources.

    In the repository the layers sit beside ``steerbounds/`` (``theory/``, ``numerics/``, ``validation/``) and
    the install maps them into the package; build/docs-src/steerbounds copies them into one tree.
    """
    root = Path(config["config_file_path"]).resolve().parent
    # The repository root on sys.path (``python -m mkdocs`` puts the working directory there) would let griffe
    # find the bare steerbounds/ folder before the assembled tree.
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != root]
    tree = root / "build" / "docs-src" / "steerbounds"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for path in (root / "steerbounds").glob("*.py"):
        shutil.copy2(path, tree / path.name)
    for layer in ("theory", "numerics", "validation"):  # copies of the sources (griffe skips linked folders)
        shutil.copytree(root / layer, tree / layer, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.safetensors"))
    return config
