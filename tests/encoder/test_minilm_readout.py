"""The readout measurement: a small real run and the command line."""

from __future__ import annotations

import numpy as np
import pytest
from encoder_reference import needs_wheel

from steerbounds.cli import _build_parser
from steerbounds.validation.studies import load_instruction_pairs, load_mc_questions, measure_minilm_readout


@needs_wheel
def test_small_measurement_is_consistent(minilm):
    questions, pairs = load_mc_questions()[::6], load_instruction_pairs()[:6]
    report = measure_minilm_readout(minilm, coefficients=(0.0, 2.0), questions=questions, pairs=pairs)
    assert 0.5 < report.tau < 500.0
    assert len(report.direction_separation) == len(report.band) and all(0.5 < x <= 1 for x in report.direction_separation)
    assert report.n_tune + report.n_held_out == len(questions)
    assert sum(s["n"] for s in report.per_subject.values()) == report.n_held_out
    assert 0.0 <= report.held_out_accuracy <= 1.0 and 0.0 < report.held_out_p_correct[0] < 1.0
    # c = 0 reproduces the unsteered numbers; c = 2 moves the representation.
    assert report.steered_delta_norm[0] < 1e-5 and report.steered_delta_norm[1] > 0.1
    assert report.steered_p_correct[0] == pytest.approx(report.held_out_p_correct[0], abs=1e-5)
    assert all(-1.0 <= b <= 1.0 for b in report.steered_behaviour_harmful + report.steered_behaviour_harmless)
    with pytest.raises(ValueError, match="at least 2 instruction pairs"):
        measure_minilm_readout(minilm, coefficients=(0.0,), questions=questions, pairs=pairs[:1])


def test_command_line_registers_minilm_readout():
    args = _build_parser().parse_args(["minilm-readout", "--layers", "1:3", "--coefficients", "-1", "0", "1"])
    assert args.layers == "1:3" and args.coefficients == [-1.0, 0.0, 1.0] and args.model_dir is None
    assert _build_parser().parse_args(["minilm-readout", "--band", "1,2"]).layers == "1,2"  # the older name
    assert callable(args.func)
