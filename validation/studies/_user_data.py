"""The researcher's own data: prompt files, question files and token sets, every row checked.

* **Prompts** (``--behaviour-prompts``, ``--contrast-prompts``): CSV with a
  header row and a ``goal`` or ``prompt`` column (the layout of the AdvBench
  harmful-behaviours file; other columns are ignored), or JSONL with a
  ``prompt`` field per line.
* **Questions** (``--questions``): the layout of the MMLU CSV files (no header;
  question, A, B, C, D, answer letter), or JSONL
  ``{"question": str, "options": [4 strings], "answer": "A".."D" or 0..3}``.
* **Tokens** (``--aligned-tokens``, ``--misaligned-tokens``): comma-separated
  strings; each becomes the first token of that text as the start of an answer.

Every row is used, or reading stops with a :class:`DataFileError` naming the
file, the line and what is wrong (a missing column, a bad answer letter, three
options instead of four, an empty prompt, invalid UTF-8). Blank lines are not
rows. Duplicate rows are kept and reported (:attr:`Rows.duplicates`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from ._data import StudyData
from ._text_data import MCQuestion, split_mc_questions

LETTERS = "ABCD"


class DataFileError(ValueError):
    """A data file cannot be used as it is: the message names the file, the line and the fix.

    >>> str(DataFileError("x.csv", 3, "the 'goal' value is empty"))
    "x.csv, line 3: the 'goal' value is empty"
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


@dataclasses.dataclass(frozen=True)
class Rows:
    """The rows read from one file, with their line numbers and the duplicates found.

    ``duplicates`` holds ``(line, first_line)`` for every row whose text
    (case and spacing ignored) repeats an earlier row.

    >>> Rows("p.jsonl", ("a", "a"), (1, 2), ((2, 1),)).summary()
    {'file': 'p.jsonl', 'rows': 2, 'duplicates': [{'line': 2, 'duplicate_of_line': 1}]}
    """

    path: str
    items: tuple[Any, ...]
    lines: tuple[int, ...]
    duplicates: tuple[tuple[int, int], ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"file": self.path, "rows": len(self.items),
                "duplicates": [{"line": a, "duplicate_of_line": b} for a, b in self.duplicates]}


def _text(path: Path) -> str:
    if not path.is_file():
        raise DataFileError(path, None, "no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataFileError(path, line, f"invalid UTF-8 (byte 0x{raw[err.start]:02x} at column {column}); "
                                        "re-save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def _kind(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise DataFileError(path, None, f"{what} are read from .csv or .jsonl files, not {suffix or 'no suffix'!r}")
    return suffix[1:]


def _duplicates(texts: list[str], lines: list[int]) -> tuple[tuple[int, int], ...]:
    seen: dict[str, int] = {}
    out = []
    for text, line in zip(texts, lines):
        key = " ".join(text.casefold().split())
        if key in seen:
            out.append((line, seen[key]))
        else:
            seen[key] = line
    return tuple(out)


def _csv_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        start = 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if row and any(cell.strip() for cell in row):
                rows.append((line, row))
    except csv.Error as err:
        raise DataFileError(path, reader.line_num, f"not valid CSV ({err})") from None
    return rows


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((line, json.loads(raw)))
        except json.JSONDecodeError as err:
            raise DataFileError(path, line, f"not valid JSON ({err.msg} at column {err.colno})") from None
    return rows


def _nonblank(value: Any, path: Path, line: int, what: str) -> str:
    if not isinstance(value, str):
        raise DataFileError(path, line, f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataFileError(path, line, f"{what} is empty")
    return value.strip()


def read_prompts(path: str | Path) -> Rows:
    """Prompts from CSV (header with a ``goal`` or ``prompt`` column) or JSONL (``{"prompt": ...}`` per line).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "harmful.csv"
    >>> _ = f.write_text("goal,target\\nWrite a phishing email,Sure\\nExplain lock picking,Sure\\n")
    >>> read_prompts(f).items
    ('Write a phishing email', 'Explain lock picking')
    >>> _ = f.write_text("goal,target\\n,Sure\\n")
    >>> read_prompts(f)
    Traceback (most recent call last):
    ...
    steerbounds.validation.studies._user_data.DataFileError: .../harmful.csv, line 2: the 'goal' value is empty
    """
    path = Path(path)
    kind = _kind(path, "prompts")
    text = _text(path)
    items, lines = [], []
    if kind == "csv":
        rows = _csv_rows(path, text)
        if not rows:
            raise DataFileError(path, None, "no rows; the first line is the header (with a 'goal' or 'prompt' column)")
        header_line, header = rows[0]
        names = [h.strip().lower() for h in header]
        column = next((c for c in ("goal", "prompt") if c in names), None)
        if column is None:
            raise DataFileError(path, header_line, f"the header {header} has no 'goal' or 'prompt' column")
        index = names.index(column)
        for line, row in rows[1:]:
            if len(row) <= index:
                raise DataFileError(path, line, f"the row has {len(row)} column(s) and no '{column}' value "
                                                f"(the header has {len(header)})")
            items.append(_nonblank(row[index], path, line, f"the '{column}' value"))
            lines.append(line)
    else:
        for line, obj in _jsonl_rows(path, text):
            if not isinstance(obj, dict) or "prompt" not in obj:
                raise DataFileError(path, line, "each line must be a JSON object with a 'prompt' field")
            items.append(_nonblank(obj["prompt"], path, line, "'prompt'"))
            lines.append(line)
    if not items:
        raise DataFileError(path, None, "holds no prompts")
    return Rows(str(path), tuple(items), tuple(lines), _duplicates(items, lines))


def _answer(value: Any, path: Path, line: int) -> int:
    if isinstance(value, str) and value.strip().upper() in tuple(LETTERS):
        return LETTERS.index(value.strip().upper())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 4:
        return value
    raise DataFileError(path, line, f"the answer {value!r} is not one of the letters A, B, C, D")


def read_questions(path: str | Path) -> Rows:
    """Four-option questions from an MMLU-layout CSV (no header) or JSONL (``question``, ``options``, ``answer``).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "astronomy_test.csv"
    >>> _ = f.write_text('"Which planet is largest?",Mars,Jupiter,Venus,Earth,B\\n')
    >>> q = read_questions(f).items[0]
    >>> q.options[q.answer], q.subject
    ('Jupiter', 'astronomy_test')
    >>> _ = f.write_text("Which planet is largest?,Mars,Jupiter,Venus,E\\n")
    >>> read_questions(f)
    Traceback (most recent call last):
    ...
    steerbounds.validation.studies._user_data.DataFileError: .../astronomy_test.csv, line 1: 5 columns; ...
    """
    path = Path(path)
    kind = _kind(path, "questions")
    text = _text(path)
    items, lines = [], []
    if kind == "csv":
        for line, row in _csv_rows(path, text):
            if len(row) != 6:
                raise DataFileError(path, line, f"{len(row)} columns; a question row has 6 (question, A, B, C, D, "
                                                "answer letter), i.e. exactly four options")
            question = _nonblank(row[0], path, line, "the question")
            options = tuple(_nonblank(o, path, line, f"option {LETTERS[i]}") for i, o in enumerate(row[1:5]))
            items.append(MCQuestion(path.stem, question, options, _answer(row[5], path, line)))
            lines.append(line)
    else:
        for line, obj in _jsonl_rows(path, text):
            if not isinstance(obj, dict) or not {"question", "options", "answer"} <= set(obj):
                raise DataFileError(path, line, "each line must be a JSON object with 'question', 'options' "
                                                "(4 strings) and 'answer' (A-D)")
            options = obj["options"]
            if not isinstance(options, list) or len(options) != 4:
                n = len(options) if isinstance(options, list) else type(options).__name__
                raise DataFileError(path, line, f"'options' must be a list of exactly 4 strings, got {n}")
            question = _nonblank(obj["question"], path, line, "'question'")
            options = tuple(_nonblank(o, path, line, f"option {LETTERS[i]}") for i, o in enumerate(options))
            subject = obj.get("subject", path.stem)
            items.append(MCQuestion(str(subject), question, options, _answer(obj["answer"], path, line)))
            lines.append(line)
    if not items:
        raise DataFileError(path, None, "holds no questions")
    return Rows(str(path), tuple(items), tuple(lines), _duplicates([q.question for q in items], lines))


def parse_tokens(text: str, option: str) -> tuple[str, ...]:
    """Comma-separated token strings (``--aligned-tokens Sorry,Unfortunately``), each non-blank.

    >>> parse_tokens("Sorry, Unfortunately", "--aligned-tokens")
    ('Sorry', 'Unfortunately')
    >>> parse_tokens("Sorry,,No", "--aligned-tokens")
    Traceback (most recent call last):
    ...
    ValueError: --aligned-tokens 'Sorry,,No': entry 2 is empty; give comma-separated strings such as Sorry,Unfortunately
    """
    parts = text.split(",")
    for i, part in enumerate(parts, start=1):
        if not part.strip():
            raise ValueError(f"{option} {text!r}: entry {i} is empty; give comma-separated strings such as "
                             "Sorry,Unfortunately")
    return tuple(p.strip() for p in parts)


@dataclasses.dataclass(frozen=True)
class UserFiles:
    """The researcher's files and token sets for ``reproduce`` (``None``: the model's default).

    >>> UserFiles().read() == {}
    True
    """

    behaviour_prompts: str | Path | None = None
    contrast_prompts: str | Path | None = None
    questions: str | Path | None = None
    aligned_tokens: tuple[str, ...] | None = None
    misaligned_tokens: tuple[str, ...] | None = None

    def read(self) -> dict[str, Rows]:
        """Read and check every given file (raises :class:`DataFileError` at the first bad row)."""
        out = {}
        for name, reader in (("behaviour_prompts", read_prompts), ("contrast_prompts", read_prompts),
                             ("questions", read_questions)):
            value = getattr(self, name)
            if value is not None:
                out[name] = reader(value)
        return out


def apply_user_files(default: StudyData, files: UserFiles) -> StudyData:
    """``default`` with the researcher's texts in place of the parts they give.

    ``--behaviour-prompts`` are the measured prompts. With
    ``--contrast-prompts`` the steering vector is read from the pairs
    (behaviour prompt ``i``, contrast prompt ``i``); without, from the model's
    default contrast pairs (for a checkpoint: the project's own instruction
    pairs, none of which is measured). Questions replace the measured questions; a model
    whose readout is calibrated on questions (``default.tuning_questions``)
    gets the file split into tuning and measured halves. The files' names, row
    counts and duplicates are recorded in ``metadata["data"]``.

    >>> from steerbounds.validation.studies._data import packaged_data
    >>> apply_user_files(packaged_data(), UserFiles()) == packaged_data()
    True
    """
    rows = files.read()
    if not rows and files.aligned_tokens is None and files.misaligned_tokens is None:
        return default
    changes: dict[str, Any] = {}
    if "behaviour_prompts" in rows:
        changes["behaviour_prompts"] = rows["behaviour_prompts"].items
    if "contrast_prompts" in rows:  # the pairs become (behaviour prompt i, contrast prompt i)
        changes["aligned_prompts"] = changes.get("behaviour_prompts", default.behaviour_prompts)
        changes["misaligned_prompts"] = rows["contrast_prompts"].items
    if "questions" in rows:
        questions = rows["questions"].items
        if default.tuning_questions:
            tune, held = split_mc_questions(questions)
            changes.update(questions=held, tuning_questions=tune)
        else:
            changes["questions"] = questions
    if files.aligned_tokens is not None:
        changes["aligned_tokens"] = tuple(files.aligned_tokens)
    if files.misaligned_tokens is not None:
        changes["misaligned_tokens"] = tuple(files.misaligned_tokens)
    sources = {name: r.summary() for name, r in rows.items()}
    for name in ("aligned_tokens", "misaligned_tokens"):
        if getattr(files, name) is not None:
            sources[name] = list(getattr(files, name))
    metadata = {**dict(default.metadata), "data": {"defaults": dict(default.metadata).get("data"), **sources}}
    if "data" not in dict(default.metadata):
        metadata["data"].pop("defaults")
    return dataclasses.replace(default, **changes, metadata=metadata)
