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

The argument checks themselves (:func:`check_array`, :func:`check_finite`,
:func:`check_token_ids`, ...) are public too, so that the numerics and
validation layers raise the same errors.
"""

from ._alignment import (
    alignment_bound as alignment_bound,
    alignment_slope as alignment_slope,
    behaviour_expectation as behaviour_expectation,
    guarantee_radius as guarantee_radius,
)
from ._checked import checked as checked
from ._expectation import (
    Expectation as Expectation,
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
from ._validate import (  # the argument checks, for layers built on this one
    as_float_array as as_float_array,
    check_array as check_array,
    check_disjoint as check_disjoint,
    check_finite as check_finite,
    covariance as check_covariance,
    instance_of as instance_of,
    is_concrete as is_concrete,
    positive_int as positive_int,
    prng_key as prng_key,
    token_ids as check_token_ids,
)

__all__ = [
    "Expectation",
    "alignment_bound",
    "alignment_slope",
    "as_float_array",
    "behaviour_expectation",
    "best_radius",
    "check_array",
    "check_covariance",
    "check_disjoint",
    "check_finite",
    "check_token_ids",
    "checked",
    "efficient_radius",
    "expected_helpfulness",
    "guarantee_radius",
    "helpfulness",
    "helpfulness_curvature",
    "helpfulness_lower_bound",
    "helpfulness_second_order",
    "instance_of",
    "is_concrete",
    "positive_int",
    "prng_key",
]
