"""`steerbounds reproduce` on the shipped toy model (small grids), and the round trip of its bundles."""

from __future__ import annotations

import json

import numpy as np

from steerbounds.cli import main
from steerbounds.validation import ValidationConfig, analyze_bundle, condition_to_json, load_bundle


def test_reproduce_on_the_toy_model_and_bundle_round_trip(tmp_path):
    from steerbounds.numerics import load_toy_model

    out = tmp_path / "toy"
    grids = ["--behaviour-grid", "-3", "3", "1.5", "--helpfulness-grid", "-6", "6", "3", "--chunk-size", "3"]
    status = main(["reproduce", "--model", "toy", "--out", str(out), *grids, "--no-progress", "--no-figures"])
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["hash"] == load_toy_model().model_hash
    assert report["config"]["run"]["behaviour_grid"] == [-3.0, 3.0, 1.5]
    assert sorted(report["conditions"]) == ["final_representation", "mid_layers"]
    for name, cond in report["conditions"].items():
        # A bundle exported from the toy model, read back from disk, gives the same report.
        bundle = load_bundle(out / "bundles" / name)
        assert condition_to_json(analyze_bundle(bundle, ValidationConfig())) == cond
        assert cond["T1"]["n_violations"] == 0 and cond["T1"]["n_checked"] > 0
        assert cond["consistency"]["behaviour_max"] < 1e-3
    final = report["conditions"]["final_representation"]
    assert final["assumptions"]["A3"]["holds"]  # delta = c v exactly
    np.testing.assert_allclose(final["assumptions"]["A3"]["helpfulness"]["kappa_q"], 1.0, rtol=1e-6)
    assert "**A1 (margin)" in (out / "report.md").read_text()
    # The finished chunks belong to this configuration: another layer set in the same folder is refused.
    assert main(["reproduce", "--out", str(out), *grids, "--no-progress", "--layers", "0"]) == 2
