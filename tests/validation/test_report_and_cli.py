"""report.json / report.md, the analyze and plot commands, and figures redrawn from a report alone."""

from __future__ import annotations

import json

import pytest

from steerbounds.cli import main
from steerbounds.validation import (
    ValidationConfig,
    analyze_bundle,
    build_report,
    load_report,
    render_markdown,
    save_bundle,
    synthetic_bundle,
)


def test_analyze_then_plot(tmp_path, monkeypatch):
    """``analyze`` on a bundle whose assumptions fail in planted ways, then ``plot`` from its report alone."""
    bundle = synthetic_bundle(seed=11, n_prompts=6, n_questions=60, gap_noise="student_t", a1_failing=(4,),
                              condition="planted")
    path = save_bundle(bundle, tmp_path / "bundle")
    out = tmp_path / "report"
    assert main(["analyze", str(path), "--out", str(out), "--no-figures"]) == 0

    report = load_report(out / "report.json")
    assert report["command"] == "analyze" and list(report["conditions"]) == ["planted"]
    assert set(report["versions"]) >= {"python", "jax", "numpy", "steerbounds"}
    assert report["config"]["validation"]["alpha"] == 0.01
    assert report["sources"] == [str(path)]
    json.loads((out / "report.json").read_text(), parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert not (out / "figures").exists()  # --no-figures

    md = (out / "report.md").read_text()
    assert "**A1 (margin) fails** on 1 of 6 prompts (#4)" in md
    assert "**A2 (Gaussian gap changes) fails**" in md
    assert "**A3 (linear response) holds**" in md
    assert "no violations" in md

    import steerbounds.validation._analysis as analysis

    def refuse(*args, **kwargs):
        raise AssertionError("plot must not recompute the analysis")

    monkeypatch.setattr(analysis, "_analyze", refuse)
    assert main(["plot", str(out / "report.json"), "--style", "slides", "--out", str(tmp_path / "figs")]) == 0
    names = {p.name for p in (tmp_path / "figs").iterdir()}
    for fig in ("behaviour", "helpfulness", "gap_changes", "delta_norm", "projection", "tradeoff"):
        assert {f"planted_{fig}.png", f"planted_{fig}.pdf"} <= names
    assert (tmp_path / "figs" / "planted_behaviour.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figs" / "planted_behaviour.png").read_bytes().startswith(b"\x89PNG")


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nothing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "r.json").write_text('{"format": "other"}')
    assert main(["plot", str(tmp_path / "r.json")]) == 2
    assert "is not a steerbounds report" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plot", str(tmp_path / "r.json"), "--style", "poster"])
    # Coefficient grids are checked before any model is loaded.
    assert main(["reproduce", "--out", str(tmp_path), "--behaviour-grid", "0.5", "5", "0.5"]) == 2
    assert "does not contain 0" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path), "--helpfulness-grid", "1", "-1", "0.5"]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path), "--layers", ","]) == 2
    assert "--layers is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "--behaviour-grid", "-5", "5"])


def test_report_needs_distinct_conditions():
    result = analyze_bundle(synthetic_bundle(seed=0, n_prompts=6, n_questions=60))
    with pytest.raises(ValueError, match="share the condition name"):
        build_report([result, result])
    with pytest.raises(ValueError, match="no analysed conditions"):
        build_report([])


def test_markdown_reports_a_t1_violation_loudly():
    report = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=6, n_questions=60),
                                          ValidationConfig())])
    t1 = report["conditions"]["synthetic"]["T1"]
    t1["n_violations"] = 1
    t1["violations"] = [{"prompt": 0, "c": 1.0, "behaviour": 0.1, "bound": 0.2, "coefficient_index": 3,
                         "r": 1.0, "margin": 1.0, "slack": -0.1}]
    md = render_markdown(report)
    assert "1 VIOLATIONS (a bug)" in md and "violation: prompt 0" in md


def test_plot_refuses_a_report_whose_condition_is_not_an_analysis(tmp_path, capsys):
    """report.json is the typed results' serialised form: a condition with an unknown key stops plot with one line."""
    report = build_report([analyze_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20))])
    report["conditions"]["synthetic"]["T1"]["extra"] = 1
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert main(["plot", str(path), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert "AlignmentBoundCheck.from_dict: unknown keys ['extra']" in err and "Traceback" not in err
