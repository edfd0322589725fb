"""The theory layer's command line: derive and check-theory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from steerbounds.cli import main
from steerbounds.theory import _check


def test_derive_prints_every_statement(capsys):
    assert main(["derive"]) == 0
    out = capsys.readouterr().out
    for name in ("T1:", "C1.1:", "C1.2:", "C1.3:", "T2a:", "T2b:", "T2c:", "C2.1:", "C2.2:", "C2.3:", "S4:"):
        assert name in out
    assert "tanh(Delta*r/2 + atanh(B_0))" in out


def test_derive_latex_and_markdown(capsys, tmp_path):
    assert main(["derive", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\operatorname{artanh}" in out and r"\begin{sbtheorem}{T1}" in out
    target = tmp_path / "theory.md"
    assert main(["derive", "--markdown", "--output", str(target)]) == 0
    assert target.read_text().startswith("# The theory steerbounds checks")
    assert main(["derive", "--markdown", "--only", "T1"]) == 2
    assert "--only" in capsys.readouterr().err


def test_derive_json_and_only(capsys):
    assert main(["derive", "--json", "--only", "T1,C2.1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["statements"]] == ["T1", "C2.1"]
    t1 = report["statements"][0]
    assert t1["anchor"] == "docs/theory.md#t1" and t1["proof_idea"]
    assert t1["results"]["bound"]["sympy"] == "tanh(Delta*r/2 + atanh(B_0))"
    assert main(["derive", "--only", "C1.2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("C1.2:") and "T1:" not in out
    assert main(["derive", "--only", "T9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown statement T9" in err and "T2a" in err


def test_check_theory_json_parses_and_passes(capsys):
    status = main(["check-theory", "--instances", "200", "--only", "T1,C2.1", "--json", "--seed", "3"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["passed"] is True and report["seed"] == 3
    names = {row["statement"] for row in report["rows"]}
    assert {"T1", "C2.1", "planted"} <= names
    t1 = next(r for r in report["rows"] if r["statement"] == "T1")
    assert t1["instances"] >= 200 and t1["violations"] == 0
    planted = [r for r in report["rows"] if r["kind"] == "planted"]
    assert planted and all(r["violations"] > 0 and r["ok"] for r in planted)


def test_check_theory_text_table(capsys):
    assert main(["check-theory", "--instances", "100", "--only", "C1.1"]) == 0
    out = capsys.readouterr().out
    assert "C1.1" in out and "all passed" in out


def test_check_theory_rejects_unknown_statement(capsys):
    assert main(["check-theory", "--only", "T9", "--json"]) == 2
    assert "unknown statement" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check-theory", "--instances", "0"])


def _fake(kind, slack):
    def run(rng, n, rows):
        rows("X", "fake", kind).add(np.full(n, slack))

    return _check.Task("fake", run, chunk=10, share=1.0, statements=("X",))


@pytest.mark.parametrize(
    ("kind", "slack", "status"),
    [("rigorous", 1.0, 0), ("rigorous", -1.0, 1), ("planted", -1.0, 0), ("planted", 1.0, 1)],
)
def test_exit_status_reflects_violations_and_uncaught_plants(monkeypatch, capsys, kind, slack, status):
    """A violation fails the run; so does a planted bound that is not caught."""
    monkeypatch.setattr(_check, "tasks", lambda: [_fake(kind, slack)])
    assert main(["check-theory", "--instances", "10", "--json"]) == status
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is (status == 0)
