"""The tokenizer and chat template stored in a GGUF file's metadata, rebuilt with the ``tokenizers`` library.

A GGUF file has no ``tokenizer.json``. For a byte-level BPE vocabulary
(``tokenizer.ggml.model = "gpt2"``) it stores the tokens in the byte-to-unicode
alphabet of GPT-2, the merges as ``"left right"`` strings, a type per token
(1 normal, 3 control, 4 user-defined ...) and the name of the pre-tokenizer
(``tokenizer.ggml.pre``), i.e. the rule that splits text into words before the
merges apply. The split rules below follow llama.cpp's for those names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._chat import ChatTokenizer
from ._gguf import GGUFFile, _fail, _open

# Llama 3's word split (GPT-2's is the one tokenizers' ByteLevel(use_regex=True) applies)
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# tokenizer.ggml.pre -> (kind of split, whether a whole word found in the vocabulary skips the merges)
_PRE_TOKENIZERS = {
    "gpt-2": ("gpt2", False),
    "gpt2": ("gpt2", False),
    "smollm": ("digits+gpt2", False),  # every digit its own word, then GPT-2's split
    "llama-bpe": ("llama3", True),
    "llama3": ("llama3", True),
    "llama-v3": ("llama3", True),
    "smaug-bpe": ("llama3", True),
}
SUPPORTED_PRE_TOKENIZERS = tuple(_PRE_TOKENIZERS)
_CONTROL, _USER_DEFINED = 3, 4


@dataclasses.dataclass(frozen=True, eq=False)
class GGUFTokenizer:
    """The tokenizer of a GGUF file and what a chat prompt needs besides it.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (byte-level BPE, the file's
    pre-tokenizer, control tokens as special tokens). When the file says
    ``tokenizer.ggml.add_bos_token`` it prepends the BOS token on
    ``encode(text)`` (``add_special_tokens=False`` turns that off).
    ``chat_template`` is the Jinja template of ``tokenizer.chat_template``, or
    None when the file has none.

    >>> sorted(GGUFTokenizer.__dataclass_fields__)[:3]
    ['add_bos_token', 'bos_token', 'bos_token_id']
    """

    tokenizer: Any  # tokenizers.Tokenizer
    chat_template: str | None
    bos_token: str | None
    bos_token_id: int | None
    eos_token: str | None
    eos_token_id: int | None
    pad_token_id: int | None
    add_bos_token: bool
    special_tokens: tuple[str, ...]  # the control tokens, matched whole in text


def _byte_alphabet() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (bytes that print stay themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(
        range(ord("\xae"), ord("\xff") + 1))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return chars


def load_gguf_tokenizer(source) -> GGUFTokenizer:
    """Build the tokenizer a GGUF file describes (``tokenizer.ggml.model = "gpt2"``, byte-level BPE).

    The vocabulary, merges and token types come from the metadata; the
    pre-tokenizer is the one ``tokenizer.ggml.pre`` names (supported:
    ``gpt-2``, ``smollm``, ``llama-bpe`` and its aliases; another name is
    refused, since splitting text differently from training changes the
    tokens). Control tokens (type 3) become special tokens and user-defined
    ones (type 4) added tokens, both matched whole in text. BOS/EOS/padding ids,
    ``add_bos_token`` and the chat template are read as well.

    Args:
        source: a GGUF path or a :class:`GGUFFile`.

    Returns:
        the :class:`GGUFTokenizer`.

    >>> load_gguf_tokenizer("missing.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: GGUF file 'missing.gguf' does not exist (or is not a file); pass the path of a .gguf file.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    f: GGUFFile = _open(source)
    meta = f.metadata
    kind = meta.get("tokenizer.ggml.model")
    if kind is None:
        raise _fail(f.path, "the metadata has no tokenizer (tokenizer.ggml.model is missing).")
    if kind != "gpt2":
        raise _fail(f.path, f"tokenizer.ggml.model {kind!r} is not supported; only byte-level BPE ('gpt2') is.")
    pre = meta.get("tokenizer.ggml.pre", "gpt-2")
    if pre not in _PRE_TOKENIZERS:
        raise _fail(f.path, f"pre-tokenizer {pre!r} (tokenizer.ggml.pre) is not supported; supported: "
                            f"{', '.join(SUPPORTED_PRE_TOKENIZERS)}.")
    split, ignore_merges = _PRE_TOKENIZERS[pre]
    tokens = meta.get("tokenizer.ggml.tokens")
    merges = meta.get("tokenizer.ggml.merges")
    if not isinstance(tokens, list) or not tokens:
        raise _fail(f.path, "tokenizer.ggml.tokens is missing or empty.")
    if not isinstance(merges, list):
        raise _fail(f.path, "tokenizer.ggml.merges is missing; a byte-level BPE vocabulary needs its merges.")
    types = meta.get("tokenizer.ggml.token_type")
    types = [1] * len(tokens) if types is None else [int(x) for x in types]
    if len(types) != len(tokens):
        raise _fail(f.path, f"tokenizer.ggml.token_type has {len(types)} entries for {len(tokens)} tokens.")

    alphabet_map = _byte_alphabet()
    alphabet = set(alphabet_map.values())
    # a token outside the byte alphabet (a raw space, say) is respelled byte by byte, as the merges spell it
    spelled = [t if set(t) <= alphabet else "".join(alphabet_map[b] for b in t.encode("utf-8")) for t in tokens]
    vocab: dict[str, int] = {}
    for index, token in enumerate(spelled):
        if token in vocab:
            raise _fail(f.path, f"token {tokens[index]!r} appears twice in tokenizer.ggml.tokens (ids "
                                f"{vocab[token]} and {index}); a BPE vocabulary needs distinct tokens.")
        vocab[token] = index
    pairs = []
    for i, merge in enumerate(merges):
        parts = merge.split(" ")
        if len(parts) != 2 or not all(parts):
            raise _fail(f.path, f"merge {i} ({merge!r}) is not of the form 'left right'.")
        pairs.append((parts[0], parts[1]))
    try:
        bpe = models.BPE(vocab=vocab, merges=pairs, dropout=None, continuing_subword_prefix="",
                         end_of_word_suffix="", fuse_unk=False, byte_fallback=False, ignore_merges=ignore_merges)
    except Exception as err:  # tokenizers raises its own exception type for inconsistent merges
        raise _fail(f.path, f"the vocabulary and merges do not form a BPE model ({err}).") from err
    tok = Tokenizer(bpe)
    if split == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif split == "digits+gpt2":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    control = [t for t, kind_ in zip(tokens, types) if kind_ == _CONTROL and set(t) <= alphabet]
    user = [t for t, kind_ in zip(tokens, types) if kind_ == _USER_DEFINED and set(t) <= alphabet]
    if control:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    if user:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in user])

    def token_id(key):
        value = meta.get(f"tokenizer.ggml.{key}")
        if value is None:
            return None
        value = int(value)
        if not 0 <= value < len(tokens):
            raise _fail(f.path, f"tokenizer.ggml.{key} = {value} is outside the vocabulary (0..{len(tokens) - 1}).")
        return value

    bos, eos, pad = token_id("bos_token_id"), token_id("eos_token_id"), token_id("padding_token_id")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
    if add_bos:
        if bos is None:
            raise _fail(f.path, "tokenizer.ggml.add_bos_token is set but there is no tokenizer.ggml.bos_token_id.")
        tok.post_processor = processors.TemplateProcessing(
            single=f"{tokens[bos]}:0 $A:0", pair=f"{tokens[bos]}:0 $A:0 {tokens[bos]}:1 $B:1",
            special_tokens=[(tokens[bos], bos)])
    template = meta.get("tokenizer.chat_template")
    if template is not None and not isinstance(template, str):
        raise _fail(f.path, "tokenizer.chat_template is not a string.")
    return GGUFTokenizer(
        tokenizer=tok,
        chat_template=template,
        bos_token=None if bos is None else tokens[bos],
        bos_token_id=bos,
        eos_token=None if eos is None else tokens[eos],
        eos_token_id=eos,
        pad_token_id=pad,
        add_bos_token=add_bos,
        special_tokens=tuple(control),
    )


def gguf_chat_tokenizer(source, *, use_chat_template: bool = True):
    """A GGUF file's tokenizer as a :class:`ChatTokenizer` (its chat template, BOS/EOS, padding id).

    ``use_chat_template=False`` prompts without the template (plain text, with
    BOS when the file asks for it).

    Args:
        source: a GGUF path or a :class:`GGUFFile`.
        use_chat_template: keep the file's chat template.

    Returns:
        the :class:`ChatTokenizer`.

    >>> gguf_chat_tokenizer("missing.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: GGUF file 'missing.gguf' does not exist (or is not a file); pass the path of a .gguf file.
    """
    f: GGUFFile = _open(source)
    parts = load_gguf_tokenizer(f)
    return ChatTokenizer(parts.tokenizer, chat_template=parts.chat_template if use_chat_template else None,
                         bos_token=parts.bos_token, eos_token=parts.eos_token, bos_token_id=parts.bos_token_id,
                         eos_token_id=parts.eos_token_id, pad_token_id=parts.pad_token_id, source=str(f.path))
