"""steerbounds.numerics.measurements: What the statements are about, measured on a model: behaviour, helpfulness, ``delta``, A1 margins, A2 gap changes, the encoder readout.

The same objects are importable from ``steerbounds.numerics`` directly.
"""

from __future__ import annotations

from steerbounds.numerics import (  # noqa: F401 - re-exports
    first_token_behaviour as first_token_behaviour,
    FirstTokenBehaviour as FirstTokenBehaviour,
    sample_continuations as sample_continuations,
    sequence_behaviour as sequence_behaviour,
    SequenceBehaviour as SequenceBehaviour,
    summarize_scores as summarize_scores,
    is_refusal as is_refusal,
    refusal_score as refusal_score,
    REFUSAL_PREFIXES as REFUSAL_PREFIXES,
    multiple_choice as multiple_choice,
    MultipleChoice as MultipleChoice,
    representation_change as representation_change,
    RepresentationChange as RepresentationChange,
    a1_margin as a1_margin,
    A1Margin as A1Margin,
    gap_changes as gap_changes,
    BehaviourReadout as BehaviourReadout,
    behaviour_logits as behaviour_logits,
    option_logits as option_logits,
    readout_logits as readout_logits,
    choose_tau as choose_tau,
    TauChoice as TauChoice,
)

__all__ = [
    "first_token_behaviour",
    "FirstTokenBehaviour",
    "sample_continuations",
    "sequence_behaviour",
    "SequenceBehaviour",
    "summarize_scores",
    "is_refusal",
    "refusal_score",
    "REFUSAL_PREFIXES",
    "multiple_choice",
    "MultipleChoice",
    "representation_change",
    "RepresentationChange",
    "a1_margin",
    "A1Margin",
    "gap_changes",
    "BehaviourReadout",
    "behaviour_logits",
    "option_logits",
    "readout_logits",
    "choose_tau",
    "TauChoice",
]
