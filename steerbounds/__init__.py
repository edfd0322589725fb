"""steerbounds: alignment-helpfulness tradeoff bounds for steered language models.

The mathematics is specified in docs/theory.md (after Wolf et al., https://arxiv.org/abs/2401.16332); the
three layers are ``steerbounds.theory`` (sympy derivations and their JAX
lambdifications), ``steerbounds.numerics`` (our JAX/Flax transformer, steering
sweeps and metrics) and ``steerbounds.validation`` (the theory checked against
measured activations). This module only re-exports the public API.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError, version as _version
from pathlib import Path as _Path

# In the repository the layers live beside this folder (theory/, numerics/, validation/) and the install maps
# them into the package. Python imports this folder rather than the installed package when the repository root
# is the working directory; the layers are then found beside it, so the source tree imports like the install.
_ROOT = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "theory").is_dir() and (_ROOT / "theory" / "_spec.py").is_file():
    __path__.append(str(_ROOT))  # noqa: F821 - the package's own search path

try:
    __version__ = _version("steerbounds")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from steerbounds.theory import (  # noqa: E402 - after __version__
    alignment_bound as alignment_bound,
    alignment_slope as alignment_slope,
    behaviour_expectation as behaviour_expectation,
    best_radius as best_radius,
    checked as checked,
    efficient_radius as efficient_radius,
    expected_helpfulness as expected_helpfulness,
    guarantee_radius as guarantee_radius,
    helpfulness as helpfulness,
    helpfulness_curvature as helpfulness_curvature,
    helpfulness_lower_bound as helpfulness_lower_bound,
    helpfulness_second_order as helpfulness_second_order,
)
from steerbounds.numerics import (  # noqa: E402
    ToyWorld as ToyWorld,
    evaluate_toy_model as evaluate_toy_model,
    load_toy_model as load_toy_model,
    train_toy_model as train_toy_model,
)

__all__ = [
    "__version__",
    # theory
    "alignment_bound",
    "alignment_slope",
    "behaviour_expectation",
    "best_radius",
    "checked",
    "efficient_radius",
    "expected_helpfulness",
    "guarantee_radius",
    "helpfulness",
    "helpfulness_curvature",
    "helpfulness_lower_bound",
    "helpfulness_second_order",
    # numerics: the toy world and model
    "ToyWorld",
    "evaluate_toy_model",
    "load_toy_model",
    "train_toy_model",
]
