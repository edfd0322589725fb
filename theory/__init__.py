"""steerbounds.theory: the statements of docs/theory.md derived in sympy and evaluated in JAX.

The derivations (``steerbounds derive``) return sympy expressions; one bridge
compiles them into the jit-able numeric functions below, and
``steerbounds check-theory`` tests every statement on random and adversarial
instances. Functions compute in float64 when ``jax_enable_x64`` is enabled
(recommended: bounds near B_0 = +-1 and tiny probabilities need it), in
float32 otherwise.

Arguments are checked when a function is called and bad ones raise an error
naming the argument. Under ``jax.jit`` or ``jax.vmap`` the value checks are
staged instead; wrap the transformed function in :func:`checked` to have them
raised (a plain jitted call skips them and may return NaN).
"""

from ._alignment import (
    alignment_bound as alignment_bound,
    alignment_slope as alignment_slope,
    behaviour_expectation as behaviour_expectation,
    guarantee_radius as guarantee_radius,
)
from ._checked import checked as checked
from ._expectation import (
    expected_helpfulness as expected_helpfulness,
)
from ._helpfulness import (
    helpfulness as helpfulness,
    helpfulness_curvature as helpfulness_curvature,
    helpfulness_lower_bound as helpfulness_lower_bound,
    helpfulness_second_order as helpfulness_second_order,
)
from ._tradeoff import (
    best_radius as best_radius,
    efficient_radius as efficient_radius,
)

__all__ = [
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
]
