"""A tokenizer with its chat template: prompts as a chat model reads them.

:class:`ChatTokenizer` joins a ``tokenizers.Tokenizer`` with the model's chat
template (a jinja2 template over ``messages``, as Hugging Face checkpoints ship
it in ``tokenizer_config.json`` or ``chat_template.jinja``) and its BOS/EOS
tokens. It is built from parts (any source that yields a ``tokenizers``
tokenizer, a template string and the special tokens, e.g. GGUF metadata) or
from a Hugging Face folder (:meth:`ChatTokenizer.from_hf_folder`).

The template is rendered as ``transformers`` renders it: a sandboxed jinja2
environment with ``trim_blocks`` and ``lstrip_blocks``, a ``raise_exception``
helper, ``tojson`` without ASCII escaping, the ``{% generation %}`` tag, and the
variables ``messages``, ``add_generation_prompt``, ``bos_token`` and
``eos_token``. The rendered text already holds the special tokens the template
writes, so it is tokenized without adding more; without a template the prompt is
tokenized as plain text with the tokenizer's own special tokens (e.g. BOS).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_HINT = "install the extra steerbounds[real] (tokenizers and jinja2)"
OPTION_LABELS = ("A", "B", "C", "D")


def _require(package: str) -> Any:
    try:
        return __import__(package)
    except ImportError:
        raise ImportError(f"reading a checkpoint's tokenizer and chat template needs the package {package}: "
                          f"{_HINT}") from None


def compile_chat_template(template: str) -> Any:
    """Compile a chat template the way ``transformers`` does (sandboxed, trim_blocks, lstrip_blocks).

    Args:
        template: the Jinja source of the chat template.

    Returns:
        the compiled ``jinja2`` template.

    >>> t = compile_chat_template("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    ...                           "{% if add_generation_prompt %}<assistant>{% endif %}")
    >>> t.render(messages=[{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    '<user>Hi<assistant>'
    """
    jinja2 = _require("jinja2")
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(Extension):  # {% generation %}...{% endgeneration %}: marks assistant text; rendered as is
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

        def _render(self, caller):
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None,
               sort_keys: bool = False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        from datetime import datetime

        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as err:
        raise ValueError(f"the chat template is not valid jinja2 (line {err.lineno}: {err.message}); fix it or "
                         "run without it (--no-chat-template)") from None


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or an object with ``content``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise ValueError(f"a special token must be a string or an object with 'content', got {value!r}")


class ChatTokenizer:
    """A ``tokenizers.Tokenizer``, the model's chat template and its special tokens (a ``PromptEncoder``).

    Built from parts: ``tokenizer`` (a ``tokenizers.Tokenizer``),
    ``chat_template`` (jinja2 source, or ``None`` for plain prompts),
    ``bos_token``/``eos_token`` (their text, as the template writes them) and
    ``bos_token_id``/``eos_token_id`` (looked up from the text when omitted).
    ``pad_token_id`` fills left padding (masked out; default: EOS, else 0).

    A prompt becomes the messages ``[{"role": "user", "content": prompt}]``
    rendered with ``add_generation_prompt=True``, so the next token is the
    first of the model's answer; ``responses`` append the start of an answer.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> vocab = {"<s>": 0, "</s>": 1, "[user]": 2, "[bot]": 3, "Hi": 4, "Sure": 5, "A": 6, "Ġ": 7}
    >>> tok = Tokenizer(models.WordLevel(vocab, unk_token="</s>"))
    >>> tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    >>> chat = ChatTokenizer(tok, chat_template="{{ bos_token }} {% for m in messages %}[user] {{ m['content'] }}"
    ...                      "{% endfor %}{% if add_generation_prompt %} [bot]{% endif %}", bos_token="<s>",
    ...                      eos_token="</s>")
    >>> chat.render("Hi")
    '<s> [user] Hi [bot]'
    >>> chat.encode_prompts(["Hi", "Hi Hi"])[0].tolist()
    [[1, 0, 2, 4, 3], [0, 2, 4, 4, 3]]
    >>> chat.continuation_ids(["Sure thing", "A"])
    (5, 6)
    """

    def __init__(self, tokenizer: Any, *, chat_template: str | None = None, bos_token: str | None = None,
                 eos_token: str | None = None, bos_token_id: int | None = None, eos_token_id: int | None = None,
                 pad_token_id: int | None = None, source: str = "") -> None:
        tokenizers = _require("tokenizers")
        if not isinstance(tokenizer, tokenizers.Tokenizer):
            raise TypeError(f"ChatTokenizer: tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
        if chat_template is not None and (not isinstance(chat_template, str) or not chat_template.strip()):
            raise ValueError("ChatTokenizer: chat_template must be a non-empty string or None")
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.chat_template = chat_template
        self._template = None if chat_template is None else compile_chat_template(chat_template)
        self.bos_token, self.eos_token = bos_token, eos_token
        self.bos_token_id = self._id(bos_token, bos_token_id, "bos")
        self.eos_token_id = self._id(eos_token, eos_token_id, "eos")
        default_pad = self.eos_token_id if self.eos_token_id is not None else 0
        self.pad_token_id = default_pad if pad_token_id is None else int(pad_token_id)
        self.source = source

    def _id(self, text: str | None, given: int | None, what: str) -> int | None:
        if given is not None:
            if isinstance(given, bool) or not isinstance(given, (int, np.integer)) or not 0 <= int(given) < self.vocab_size:
                raise ValueError(f"ChatTokenizer: {what}_token_id={given!r} is not a token id in 0..{self.vocab_size - 1}")
            return int(given)
        if text is None:
            return None
        found = self.tokenizer.token_to_id(text)
        if found is None:
            raise ValueError(f"ChatTokenizer: the {what} token {text!r} is not in the tokenizer's vocabulary; pass "
                             f"{what}_token_id= or the right {what}_token")
        return int(found)

    @property
    def vocab_size(self) -> int:
        """The number of token ids (added tokens included)."""
        return int(self.tokenizer.get_vocab_size(with_added_tokens=True))

    @classmethod
    def from_hf_folder(cls, folder: str | Path, *, use_chat_template: bool = True) -> "ChatTokenizer":
        """Read ``tokenizer.json`` and, when present, ``tokenizer_config.json`` and ``chat_template.jinja``.

        The template is ``chat_template.jinja`` if the folder has one, else the
        ``chat_template`` of ``tokenizer_config.json`` (a string, or a list of
        named templates: the one named ``default``); ``use_chat_template=False``
        ignores it. BOS/EOS come from ``tokenizer_config.json`` (``bos_token``,
        ``eos_token``), their ids from the vocabulary or ``config.json``.

        >>> import tempfile
        >>> try:
        ...     ChatTokenizer.from_hf_folder(tempfile.mkdtemp())
        ... except FileNotFoundError as err:
        ...     print("tokenizer.json" in str(err))
        True
        """
        tokenizers = _require("tokenizers")
        folder = Path(folder)
        file = folder / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"{folder}: tokenizer.json is missing; the checkpoint folder needs the tokenizer "
                                    "in the tokenizers format (tokenizer.save(...) or save_pretrained of a fast "
                                    "tokenizer writes it)")
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(file))
        except Exception as err:  # the Rust side raises a bare Exception for malformed files
            raise ValueError(f"{file} is not a readable tokenizer.json ({err})") from None
        config = _read_json(folder / "tokenizer_config.json")
        model_config = _read_json(folder / "config.json")
        template = None
        if use_chat_template:
            jinja_file = folder / "chat_template.jinja"
            if jinja_file.is_file():
                template = _read_text(jinja_file)
            else:
                template = config.get("chat_template")
                if isinstance(template, list):
                    named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
                    if "default" not in named:
                        raise ValueError(f"{folder / 'tokenizer_config.json'}: chat_template lists templates "
                                         f"{sorted(map(str, named))} but none is named 'default'")
                    template = named["default"]
                if template is not None and not isinstance(template, str):
                    raise ValueError(f"{folder / 'tokenizer_config.json'}: chat_template must be a string or a list "
                                     f"of named templates, got {type(template).__name__}")
        where = folder / "tokenizer_config.json"
        try:
            bos, eos = _token_text(config.get("bos_token")), _token_text(config.get("eos_token"))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        ids = {}
        for what, text in (("bos", bos), ("eos", eos)):
            given = model_config.get(f"{what}_token_id")
            if isinstance(given, list):
                given = given[0] if given else None
            if text is not None and tokenizer.token_to_id(text) is not None:
                given = None  # the vocabulary is authoritative for the token the template writes
            ids[what] = given
        pad = config.get("pad_token")
        pad_id = tokenizer.token_to_id(_token_text(pad)) if isinstance(pad, (str, dict)) else None
        return cls(tokenizer, chat_template=template, bos_token=bos, eos_token=eos, bos_token_id=ids["bos"],
                   eos_token_id=ids["eos"], pad_token_id=pad_id, source=str(folder))

    # ------------------------------------------------------------------------------------------- prompts

    def render(self, prompt: str, response: str | None = None) -> str:
        """The text the model reads: the chat template over one user message, then ``response`` if given.

        >>> from tokenizers import Tokenizer, models
        >>> ChatTokenizer(Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))).render("Q:", "yes")
        'Q: yes'
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        if self._template is None:
            text = prompt
            return text if response is None else f"{text} {response}"
        jinja2 = _require("jinja2")
        try:
            text = self._template.render(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True,
                                         bos_token=self.bos_token or "", eos_token=self.eos_token or "")
        except jinja2.exceptions.TemplateError as err:
            raise ValueError(f"rendering the chat template failed: {err}; fix the template or run without it "
                             "(--no-chat-template)") from None
        return text if response is None else text + response

    def _ids(self, text: str) -> list[int]:
        # a rendered template already holds its special tokens; a plain prompt gets the tokenizer's own
        return list(self.tokenizer.encode(text, add_special_tokens=self._template is None).ids)

    def encode_prompts(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None,
                       length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Left-padded ``(tokens_bt int32, mask_bt bool)`` of the rendered prompts (``length``: fixed width)."""
        if responses is not None and len(responses) != len(prompts):
            raise ValueError(f"encode_prompts: {len(prompts)} prompts but {len(responses)} responses")
        seqs = [self._ids(self.render(p, None if responses is None else responses[i])) for i, p in enumerate(prompts)]
        if not seqs:
            raise ValueError("encode_prompts: no prompts")
        for i, s in enumerate(seqs):
            if not s:
                raise ValueError(f"encode_prompts: prompt {i} ({prompts[i]!r}) encodes to no tokens")
        width = max(map(len, seqs)) if length is None else int(length)
        if max(map(len, seqs)) > width:
            raise ValueError(f"encode_prompts: a prompt has {max(map(len, seqs))} tokens but length={width}")
        tokens = np.full((len(seqs), width), self.pad_token_id, np.int32)
        mask = np.zeros((len(seqs), width), bool)
        for b, s in enumerate(seqs):
            tokens[b, width - len(s):] = s
            mask[b, width - len(s):] = True
        return tokens, mask

    def continuation_ids(self, texts: Sequence[str]) -> tuple[int, ...]:
        """The first token of each text when it starts the model's answer (after a rendered prompt)."""
        reference = self.render("Hello")
        ref_ids = self._ids(reference)
        out = []
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"continuation_ids: {text!r} is not a non-blank string")
            joined = self._ids(self.render("Hello", text.strip()))
            if joined[: len(ref_ids)] == ref_ids and len(joined) > len(ref_ids):
                out.append(joined[len(ref_ids)])
            else:  # the text merged with the end of the prompt: take it on its own
                alone = self.tokenizer.encode(text.strip(), add_special_tokens=False).ids
                if not alone:
                    raise ValueError(f"continuation_ids: {text!r} encodes to no tokens")
                out.append(alone[0])
        return tuple(int(i) for i in out)

    def format_question(self, question: str, options: Sequence[str]) -> str:
        """A four-option question as the prompt: the question, lettered options, then ``Answer:``.

        >>> from tokenizers import Tokenizer, models
        >>> print(ChatTokenizer(Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))).format_question(
        ...     "2 + 2 =", ["3", "4", "5", "6"]))
        2 + 2 =
        A. 3
        B. 4
        C. 5
        D. 6
        Answer:
        """
        lines = [question.strip()] + [f"{letter}. {option}" for letter, option in zip(OPTION_LABELS, options, strict=True)]
        return "\n".join(lines + ["Answer:"])

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids (special tokens dropped)."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def describe(self) -> dict[str, Any]:
        """JSON-ready provenance: the source, the template's SHA-256 (or None) and the special tokens."""
        digest = None if self.chat_template is None else hashlib.sha256(self.chat_template.encode()).hexdigest()
        return {"tokenizer": self.source or "tokenizers.Tokenizer", "vocab_size": self.vocab_size,
                "chat_template_sha256": digest, "bos_token": self.bos_token, "eos_token": self.eos_token}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not valid UTF-8 (byte {err.start}); re-save it as UTF-8") from None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data
