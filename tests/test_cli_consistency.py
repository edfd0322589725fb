"""The command line is consistent: every subcommand described; --json where results are printed; progress."""

from __future__ import annotations

import argparse
import json

from steerbounds.cli import _build_parser, main


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_a_description():
    missing = [name for name, sub in _subcommands().items() if not (sub.description or "").strip()]
    assert not missing, f"subcommands without a description: {missing}"


def test_json_on_the_commands_that_print_results():
    for name in ("derive", "check-theory", "analyze", "inspect-checkpoint"):
        options = {o for a in _subcommands()[name]._actions for o in a.option_strings}
        assert "--json" in options, name


def test_analyze_json_and_progress(tmp_path, capsys):
    from steerbounds.validation import save_bundle, synthetic_bundle

    bundle = save_bundle(synthetic_bundle(seed=0, n_prompts=3, n_questions=20), tmp_path / "b")
    assert main(["analyze", str(bundle), "--out", str(tmp_path / "r"), "--no-figures", "--json"]) == 0
    out = capsys.readouterr()
    printed = json.loads(out.out)
    assert printed["report"].endswith("report.json") and printed["figures"] == []
    assert set(printed["summary"]) == {"synthetic"} and "A1" in printed["summary"]["synthetic"]
    assert "analyze" not in out.err  # no bar with --json
    assert main(["analyze", str(bundle), "--out", str(tmp_path / "r2"), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "analyze: 100%" in err and "3/3" in err
