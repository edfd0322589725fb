"""Every subcommand given bad arguments: one line on stderr, exit status 2, no traceback; --strict exits 3."""

from __future__ import annotations

import json

import pytest

from steerbounds.cli import _build_parser, main


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    a_file = root / "a_file.txt"
    a_file.write_text("not a folder\n")
    truncated = root / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8,
                                                      "n_layer": 1, "n_head": 2, "n_positions": 16}))
    (truncated / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    no_config = root / "no_config"
    no_config.mkdir()
    (no_config / "model.safetensors").write_bytes(b"")
    bad_bundle = root / "bad_bundle"
    bad_bundle.mkdir()
    (bad_bundle / "manifest.json").write_text("{not json")
    (bad_bundle / "arrays.safetensors").write_bytes(b"")
    return {"file": str(a_file), "truncated": str(truncated), "no_config": str(no_config),
            "bad_bundle": str(bad_bundle), "missing": str(root / "missing"), "root": root}


CASES = {
    "derive": [["derive", "--bogus"], ["derive", "--output", "{file}/x.md"]],
    "check-theory": [["check-theory", "--instances", "0"], ["check-theory", "--only", "T9"],
                     ["check-theory", "--instances", "many"]],
    "inspect-checkpoint": [["inspect-checkpoint", "{missing}"], ["inspect-checkpoint", "{truncated}"],
                           ["inspect-checkpoint", "{no_config}"], ["inspect-checkpoint", "{file}"]],
    "train-toy": [["train-toy", "--out", "{file}", "--quiet"], ["train-toy", "--steps", "-3", "--quiet",
                                                                 "--out", "{missing}/toy"]],
    "reproduce": [["reproduce", "--out", "{file}"], ["reproduce", "--out", "{file}/sub", "--no-progress"],
                  ["reproduce", "--layers", "a,b", "--out", "{missing}/r"], ["reproduce", "--model", "gpt5"]],
    "minilm-readout": [["minilm-readout", "--model-dir", "{missing}"], ["minilm-readout", "--band"]],
    "analyze": [["analyze", "{missing}"], ["analyze", "{bad_bundle}"], ["analyze", "{bad_bundle}", "--out", "{file}"]],
    "plot": [["plot", "{missing}/report.json"], ["plot", "{file}"]],
    "vectors": [["vectors", "export", "{missing}", "--out", "{missing}/v.gguf", "--n-layers", "4"],
                ["vectors", "export", "{file}", "--out", "{missing}/v.gguf", "--n-layers", "four"],
                ["vectors", "import", "{file}"], ["vectors", "import", "{missing}"], ["vectors"]],
}


def test_every_subcommand_has_bad_argument_cases():
    subcommands = set(_build_parser()._subparsers._group_actions[0].choices)
    assert subcommands == set(CASES), f"add bad-argument cases for {sorted(subcommands - set(CASES))}"


@pytest.mark.parametrize("argv", [a for cases in CASES.values() for a in cases], ids=lambda a: " ".join(a))
def test_bad_arguments_give_one_line_and_status_2(argv, files, capsys):
    argv = [part.format(**files) for part in argv]
    status, err = _run(argv, capsys)
    assert status == 2, (status, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("steerbounds")


def test_strict_exits_3_on_a_theorem_violation_only(tmp_path, capsys, monkeypatch):
    from steerbounds.validation import save_bundle, synthetic_bundle
    import steerbounds.validation._report as report_module

    bundle = save_bundle(synthetic_bundle(seed=0, n_prompts=2, n_questions=20, a1_failing=(1,)), tmp_path / "b")
    out = str(tmp_path / "out")
    # A failing assumption (A1 off at one prompt) is a finding: exit 0 even with --strict.
    assert _run(["analyze", str(bundle), "--out", out, "--no-figures", "--strict"], capsys)[0] == 0
    # A theorem violated where its assumption holds: exit 3 with --strict, 0 without.
    original = report_module.theorem_violations
    monkeypatch.setattr(report_module, "theorem_violations",
                        lambda report: original({"conditions": {"c": {"T1": {"n_violations": 1, "n_checked": 9}}}}))
    status, err = _run(["analyze", str(bundle), "--out", out, "--no-figures", "--strict"], capsys)
    assert status == 3 and "T1 violated at 1 of 9" in err
    assert _run(["analyze", str(bundle), "--out", out, "--no-figures"], capsys)[0] == 0
