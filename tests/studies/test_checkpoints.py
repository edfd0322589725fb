"""``reproduce --model PATH`` on tiny random GPT-2 and Llama folders saved with transformers, with the user's files."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from checkpoints import TEMPLATE, save_checkpoint, write_user_files  # noqa: E402

from steerbounds.cli import main  # noqa: E402
from steerbounds.numerics import ChatTokenizer, DecoderStudyModel, StudyModel, load_checkpoint_study_model  # noqa: E402
from steerbounds.validation import ValidationConfig, analyze_bundle, condition_to_json, load_bundle  # noqa: E402

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
GRIDS = ["--behaviour-grid", "-1", "1", "1", "--helpfulness-grid", "-1", "1", "1", "--chunk-size", "3",
         "--no-progress", "--no-figures"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    return {"llama": save_checkpoint(root / "llama", "llama"),
            "gpt2": save_checkpoint(root / "gpt2", "gpt2", template_file=True),
            "data": write_user_files(root / "data")}


def _rows(path: Path) -> int:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return len(lines) - (1 if path.suffix == ".csv" and lines[0].startswith("goal,") else 0)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_reproduce_runs_end_to_end_with_the_users_files(folders, family, tmp_path):
    x, y, z = folders["data"]
    out = tmp_path / "out"
    status = main(["reproduce", "--model", str(folders[family]), "--behaviour-prompts", str(x),
                   "--contrast-prompts", str(y), "--questions", str(z), "--out", str(out), *GRIDS])
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["model_type"] == family and report["model"]["chat_template_sha256"]
    assert sorted(report["conditions"]) == ["final_representation", "mid_layers"]
    for name, cond in report["conditions"].items():
        # the report's prompt and question counts are the files' row counts
        assert cond["sizes"]["n_prompts"] == _rows(x) == 6 and cond["sizes"]["n_questions"] == _rows(z) == 5
        data = cond["metadata"]["data"]
        assert [data[k]["rows"] for k in ("behaviour_prompts", "contrast_prompts", "questions")] == [6, 6, 5]
        assert cond["metadata"]["n_contrast_pairs"] == _rows(y)
        # the default token sets: every refusal/compliance opener is listed with the token id it became
        tokens = cond["metadata"]["aligned_tokens"]
        assert len(tokens) == 16 and all(isinstance(t["token_id"], int) for t in tokens)
        assert len(cond["metadata"]["option_tokens"]) == 4
        # the bundles written on disk give the same analysis
        again = condition_to_json(analyze_bundle(load_bundle(out / "bundles" / name), ValidationConfig()))
        assert again == cond
    assert "**A1 (margin)" in (out / "report.md").read_text()


def test_chat_template_renders_as_transformers_does(folders):
    from transformers import PreTrainedTokenizerFast

    ours = ChatTokenizer.from_hf_folder(folders["llama"])
    theirs = PreTrainedTokenizerFast(tokenizer_file=str(folders["llama"] / "tokenizer.json"),
                                     bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    theirs.chat_template = TEMPLATE
    for prompt in ["Explain how vaccines work.", "  Two spaces around  ", 'Quotes "and" \\ backslashes\n']:
        text = theirs.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                          tokenize=False)
        assert ours.render(prompt) == text
        tokens, mask = ours.encode_prompts([prompt])
        assert tokens[0].tolist() == theirs(text, add_special_tokens=False)["input_ids"]
        assert mask.all()
    # the gpt2 folder's template comes from chat_template.jinja; --no-chat-template ignores it
    assert ChatTokenizer.from_hf_folder(folders["gpt2"]).chat_template == TEMPLATE
    plain = ChatTokenizer.from_hf_folder(folders["gpt2"], use_chat_template=False)
    assert plain.chat_template is None and plain.render("Hi there") == "Hi there"


def test_template_features_transformers_provides():
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordLevel({"<s>": 0, "x": 1}, unk_token="x"))
    strict = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message comes first') }}{% endif %}"
    with pytest.raises(ValueError, match="a system message comes first"):
        ChatTokenizer(tok, chat_template=strict).render("hello")
    as_json = "{% for m in messages %}{{ m | tojson }}{% break %}{% endfor %}"
    assert ChatTokenizer(tok, chat_template=as_json).render("é") == '{"role": "user", "content": "é"}'
    with pytest.raises(ValueError, match="not valid jinja2"):
        ChatTokenizer(tok, chat_template="{% for m in messages %}")


def test_checkpoint_adapter_is_a_study_model(folders):
    model = load_checkpoint_study_model(folders["gpt2"])
    assert isinstance(model, DecoderStudyModel) and isinstance(model, StudyModel)
    prompts = model.encode(["Explain how vaccines work.", "Hi"])
    norms = model.residual_norms(prompts)
    assert norms.shape == (3,) and np.all(np.isfinite(norms)) and np.all(norms > 0)
    states = model.last_token_states(prompts, [0, 2])
    assert states.shape == (2, 2, 16)


def test_unknown_model_type_and_missing_tokenizer_are_named(folders, tmp_path, capsys):
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 16}))
    assert main(["reproduce", "--model", str(bert), "--out", str(tmp_path / "o1"), *GRIDS]) == 2
    err = capsys.readouterr().err
    assert "model_type 'bert' is not supported" in err and "gpt2" in err and "llama" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    no_tok = tmp_path / "no-tokenizer"
    shutil.copytree(folders["llama"], no_tok)
    (no_tok / "tokenizer.json").unlink()
    assert main(["reproduce", "--model", str(no_tok), "--out", str(tmp_path / "o2"), *GRIDS]) == 2
    err = capsys.readouterr().err
    assert "tokenizer.json is missing" in err and str(no_tok) in err
    assert main(["reproduce", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o3"), *GRIDS]) == 2
    assert "neither a registered model (minilm, smollm2, toy) nor an existing path" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["reproduce", "--model", str(empty), "--out", str(tmp_path / "o4"), *GRIDS]) == 2
    assert "no registered format recognises it" in capsys.readouterr().err
