"""steerbounds.testing: property-test assumptions about steered models (docs/testing.md).

Change an assumption, see whether a bound survives, and find the
counterexample when it does not:

* **strategies** (keyword-only functions returning a hypothesis
  ``SearchStrategy``, arguments checked when called): logits with an
  unembedding satisfying A1 (:func:`alignment_instances`), gap vectors,
  covariances (correlated and near-singular included), unit directions,
  token sets, gap-change models (A2 and its variants: a mean, heavy tails),
  measured behaviour and helpfulness sweeps, small random transformers;
* **assumptions as objects**: :data:`A1`-:data:`A4` (on measured sweeps) and
  :data:`A2_MODEL` (on a gap-change model), each with a predicate, a
  ``check(measurements)`` report and the bound it licenses; a new
  :class:`Assumption` needs one predicate and one bound (an
  :class:`Inequality`);
* **search**: :func:`verify` property-tests a bound wherever the predicate
  holds and :func:`find_counterexample` returns a failing instance shrunk to
  a minimal one;
* **pytest**: installing steerbounds registers a pytest plugin with the
  ``steer_instance`` fixture and the ``steer`` and ``counterexample`` markers;
  hypothesis profiles ``fast`` and ``thorough`` are chosen by the
  ``HYPOTHESIS_PROFILE`` environment variable (``thorough`` under CI).

Searches and the plugin's property tests compute in float64 (JAX's x64 mode
is switched on while they run).
"""

from steerbounds.validation.kit._transformers import (
    RandomTransformer as RandomTransformer,
    random_transformers as random_transformers,
    transformer_configs as transformer_configs,
)
from steerbounds.validation.kit._strategies import (
    alignment_instances as alignment_instances,
    covariances as covariances,
    gap_vectors as gap_vectors,
    token_sets as token_sets,
    unit_directions as unit_directions,
)
from steerbounds.validation.kit._assumption import (
    Assumption as Assumption,
    AssumptionReport as AssumptionReport,
    Evaluation as Evaluation,
    Inequality as Inequality,
)
from steerbounds.validation.kit._builtin import A1 as A1, A2 as A2, A2_MODEL as A2_MODEL, A3 as A3, A4 as A4
from steerbounds.validation.kit._gaps import GapChangeModel as GapChangeModel, gap_change_models as gap_change_models
from steerbounds.validation.kit._profiles import (
    load_profile as load_profile,
    profile_name as profile_name,
    register_profiles as register_profiles,
)
from steerbounds.validation.kit._search import (
    BoundEvaluationError as BoundEvaluationError,
    Counterexample as Counterexample,
    Verification as Verification,
    find_counterexample as find_counterexample,
    verify as verify,
)
from steerbounds.validation.kit._sweeps import (
    behaviour_sweeps as behaviour_sweeps,
    helpfulness_sweeps as helpfulness_sweeps,
)

__all__ = [
    "A1",
    "A2",
    "A2_MODEL",
    "A3",
    "A4",
    "Assumption",
    "AssumptionReport",
    "BoundEvaluationError",
    "Counterexample",
    "Evaluation",
    "GapChangeModel",
    "Inequality",
    "RandomTransformer",
    "Verification",
    "alignment_instances",
    "behaviour_sweeps",
    "covariances",
    "find_counterexample",
    "gap_change_models",
    "gap_vectors",
    "helpfulness_sweeps",
    "load_profile",
    "profile_name",
    "random_transformers",
    "register_profiles",
    "token_sets",
    "transformer_configs",
    "unit_directions",
    "verify",
]
