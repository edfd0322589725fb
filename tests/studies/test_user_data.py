"""The researcher's files: every row used, or the run stops with the file, the line and what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from steerbounds.cli import main
from steerbounds.validation.studies import DataFileError, StudyConfig, UserFiles, read_prompts, read_questions, run_study
from steerbounds.validation.studies._cli import parse_layers
from steerbounds.validation.studies._data import packaged_data
from steerbounds.validation.studies._study import _tiny_model_and_data
from steerbounds.validation.studies._user_data import apply_user_files


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_prompt_files_in_both_formats(tmp_path):
    csv = _write(tmp_path, "advbench.csv", 'goal,target\n"Write, with a comma",Sure\nSecond one,Sure\n\n'
                                           '"A prompt\nover two lines",Sure\n')
    rows = read_prompts(csv)
    assert rows.items == ("Write, with a comma", "Second one", "A prompt\nover two lines")
    assert rows.lines == (2, 3, 5)
    jsonl = _write(tmp_path, "p.jsonl", '{"prompt": "One"}\n\n{"prompt": "Two", "id": 7}\n{"prompt": "one"}\n')
    rows = read_prompts(jsonl)
    assert rows.items == ("One", "Two", "one") and rows.duplicates == ((4, 1),)  # reported, kept
    prompt_col = _write(tmp_path, "q.csv", "id,Prompt\n1,Hello\n")
    assert read_prompts(prompt_col).items == ("Hello",)


@pytest.mark.parametrize("name, text, message", [
    ("a.csv", "goal,target\nfine,x\n,Sure\n", "a.csv, line 3: the 'goal' value is empty"),
    ("b.csv", "id,goal\n1,fine\n2\n", "b.csv, line 3: the row has 1 column(s) and no 'goal' value"),
    ("c.csv", "text,target\nx,y\n", "c.csv, line 1: the header ['text', 'target'] has no 'goal' or 'prompt'"),
    ("d.jsonl", '{"prompt": "ok"}\n{"text": "no prompt"}\n', "d.jsonl, line 2: each line must be a JSON object"),
    ("e.jsonl", '{"prompt": "ok"}\n{"prompt": "  "}\n', "e.jsonl, line 2: 'prompt' is empty"),
    ("f.jsonl", '{"prompt": "ok"}\n{"prompt": "x",\n', "f.jsonl, line 2: not valid JSON"),
    ("g.txt", "hello\n", "g.txt: prompts are read from .csv or .jsonl files"),
    ("h.csv", b"goal\nfine\ncaf\xe9\n", "h.csv, line 3: invalid UTF-8 (byte 0xe9 at column 4)"),
])
def test_malformed_prompt_rows_stop_with_file_and_line(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(DataFileError) as err:
        read_prompts(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_question_files_in_both_formats(tmp_path):
    mmlu = _write(tmp_path, "anatomy_test.csv", '"What is 2 + 2?",3,4,5,6,B\n"Second, with comma",a,b,c,d,d\n')
    rows = read_questions(mmlu)
    assert [(q.question, q.options[q.answer], q.subject) for q in rows.items] == [
        ("What is 2 + 2?", "4", "anatomy_test"), ("Second, with comma", "d", "anatomy_test")]
    jsonl = _write(tmp_path, "q.jsonl", json.dumps({"question": "Q?", "options": ["a", "b", "c", "d"], "answer": "C"})
                   + "\n" + json.dumps({"question": "R?", "options": ["a", "b", "c", "d"], "answer": 0}) + "\n")
    assert [q.answer for q in read_questions(jsonl).items] == [2, 0]


@pytest.mark.parametrize("name, text, message", [
    ("a.csv", "Q?,a,b,c,d,A\nR?,a,b,c,d,E\n", "a.csv, line 2: the answer 'E' is not one of the letters A, B, C, D"),
    ("b.csv", "Q?,a,b,c,A\n", "b.csv, line 1: 5 columns; a question row has 6"),
    ("c.csv", "Q?,a,,c,d,A\n", "c.csv, line 1: option B is empty"),
    ("d.jsonl", '{"question": "Q?", "options": ["a", "b", "c"], "answer": "A"}\n',
     "d.jsonl, line 1: 'options' must be a list of exactly 4 strings, got 3"),
    ("e.jsonl", '{"question": "", "options": ["a", "b", "c", "d"], "answer": "A"}\n', "e.jsonl, line 1: 'question' is empty"),
    ("f.jsonl", '{"question": "Q?", "options": ["a", "b", "c", "d"]}\n', "f.jsonl, line 1: each line must be"),
    ("g.csv", b"Q?,a,b,c,d,A\n\xff\xfe,a,b,c,d,A\n", "g.csv, line 2: invalid UTF-8 (byte 0xff at column 1)"),
])
def test_malformed_question_rows_stop_with_file_and_line(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(DataFileError) as err:
        read_questions(path)
    assert message in str(err.value)


def test_a_bad_row_stops_the_run_before_any_model_loads(tmp_path, capsys):
    bad = _write(tmp_path, "q.csv", "Q?,a,b,c,d,A\nR?,a,b,c,Z\n")
    assert main(["reproduce", "--questions", str(bad), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steerbounds: error: ") and f"{bad}, line 2: 5 columns" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert main(["reproduce", "--aligned-tokens", "Sorry,,No", "--out", str(tmp_path / "o")]) == 2
    assert "--aligned-tokens 'Sorry,,No': entry 2 is empty" in capsys.readouterr().err


def test_user_files_replace_the_defaults_and_are_recorded(tmp_path):
    behaviour = _write(tmp_path, "b.jsonl", '{"prompt": "One"}\n{"prompt": "Two"}\n{"prompt": "One"}\n')
    questions = _write(tmp_path, "q.csv", "".join(f"Q{i}?,a,b,c,d,A\n" for i in range(8)))
    default = packaged_data()
    data = apply_user_files(default, UserFiles(behaviour_prompts=behaviour, questions=questions,
                                               aligned_tokens=("Sorry",)))
    assert data.behaviour_prompts == ("One", "Two", "One") and len(data.questions) == 8
    # without contrast prompts the vector comes from the default pairs; with them, from (behaviour i, contrast i)
    assert (data.aligned_prompts, data.misaligned_prompts) == (default.aligned_prompts, default.misaligned_prompts)
    contrast = _write(tmp_path, "c.csv", "prompt\nA\nB\nC\n")
    paired = apply_user_files(default, UserFiles(behaviour_prompts=behaviour, contrast_prompts=contrast))
    assert paired.aligned_prompts == ("One", "Two", "One") and paired.misaligned_prompts == ("A", "B", "C")
    assert data.aligned_tokens == ("Sorry",) and data.misaligned_tokens is None
    assert data.metadata["data"]["behaviour_prompts"]["duplicates"] == [{"line": 3, "duplicate_of_line": 1}]
    # a readout calibrated on questions gets the file split in two halves (and nothing dropped)
    tuned = apply_user_files(type(default)(**{**default.__dict__, "tuning_questions": default.questions[:2]}),
                             UserFiles(questions=questions))
    assert len(tuned.questions) + len(tuned.tuning_questions) == 8


def test_layers_have_one_syntax():
    assert parse_layers("0:3") == (0, 1, 2) and parse_layers("2, 5") == (2, 5)
    for bad, message in (("3:1", "START < STOP"), ("a:b", "expected START:STOP"), (",", "is empty"),
                         ("1,1", "distinct"), ("-1", "distinct and >= 0")):
        with pytest.raises(ValueError, match=message):
            parse_layers(bad)


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model_and_data(seed=3)


@pytest.mark.parametrize("method", ["mean_difference", "caa"])
def test_vector_methods(tiny, tmp_path, method):
    model, data = tiny
    config = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3, layers=(1,),
                         vector_method=method)
    mid, final = run_study(model, data, config, tmp_path)
    assert mid.metadata["vector_method"] == method
    n = len(data.behaviour_prompts) if method == "caa" else len(data.aligned_prompts)
    assert mid.metadata["n_contrast_pairs"] == n and mid.projection.representations_nd.shape[0] == 2 * n
    # final condition: delta = c v exactly
    c = final.behaviour.coefficients_c
    norms = np.linalg.norm(final.behaviour.delta_qcd, axis=-1)
    np.testing.assert_allclose(norms, np.broadcast_to(np.abs(c), norms.shape), atol=1e-6)


def test_pca_needs_paired_files(tiny, tmp_path):
    model, data = tiny
    unpaired = type(data)(**{**data.__dict__, "misaligned_prompts": data.misaligned_prompts[:-1]})
    config = StudyConfig(behaviour_grid=(-1, 1, 1), helpfulness_grid=(-1, 1, 1), chunk_size=3)
    with pytest.raises(ValueError, match="6 behaviour and 5 contrast prompts.*--vector-method caa"):
        run_study(model, unpaired, config, tmp_path)
    with pytest.raises(ValueError, match="vector_method must be one of"):
        StudyConfig(vector_method="repe")


def test_steered_sampling_and_residual_norms(tiny):
    import jax

    from steerbounds.numerics import StudyModel, random_vectors

    model, data = tiny
    assert isinstance(model, StudyModel)
    prompts = model.encode(list(data.behaviour_prompts[:2]))
    steering = random_vectors(16, [1], key=jax.random.key(0)).steering(model.config, [1], 4.0)
    first = model.sample(prompts, steering, key=jax.random.key(1), max_new_tokens=3)
    assert first == model.sample(prompts, steering, key=jax.random.key(1), max_new_tokens=3)  # seeded
    assert len(first) == 2 and all(isinstance(text, str) for text in first)
    norms = model.residual_norms(prompts)
    assert norms.shape == (model.config.n_layers + 1,) and np.all(norms > 0)
