"""Writing small GGUF files the way llama.cpp's converter does, for the loader's tests.

The converter stores the query and key rows of every head with the two rotary
halves interleaved: for a head of width ``hd``, stored row ``2 i + j`` is
original row ``j * hd / 2 + i``. ``interleave_rotary_halves`` applies that to a
(heads * hd, ...) matrix, written here from that statement of the layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

gguf = __import__("pytest").importorskip("gguf")
from gguf import GGMLQuantizationType as Q  # noqa: E402

# GPT-2's byte alphabet, spelled out independently of the loader
_PRINTABLE = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
BYTE_CHARS = {b: chr(b) if b in _PRINTABLE else chr(256 + sorted(set(range(256)) - set(_PRINTABLE)).index(b))
              for b in range(256)}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "r e", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld",
          "1 2", "Ġ 1", "Ġ Ġ", "ĠĠ ĠĠ", "Ċ Ċ", "' s", "i s", "Ġ is"]
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                 "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def tiny_vocab() -> tuple[list[str], list[str], list[int]]:
    """Special tokens, the 256 byte characters, then one token per merge: (tokens, merges, token types)."""
    tokens = SPECIAL + [BYTE_CHARS[b] for b in range(256)] + [m.replace(" ", "") for m in MERGES]
    types = [3] * len(SPECIAL) + [1] * (len(tokens) - len(SPECIAL))
    return tokens, list(MERGES), types


def interleave_rotary_halves(w: np.ndarray, n_heads: int) -> np.ndarray:
    hd = w.shape[0] // n_heads
    out = np.empty_like(w)
    for h in range(n_heads):
        for i in range(hd // 2):
            for j in range(2):
                out[h * hd + 2 * i + j] = w[h * hd + j * (hd // 2) + i]
    return out


def random_kquant_blocks(qtype, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random K-quant blocks for a (rows, cols) tensor with small finite fp16 scales (uint8, (rows, bytes))."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows, cols = shape
    raw = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)

    def put_f16(offset, scale):
        raw[..., offset:offset + 2] = (rng.uniform(0.5, 1.0, raw.shape[:2]) * scale).astype("<f2")[..., None].view(np.uint8)

    if qtype == Q.Q6_K:  # ql[128] qh[64] scales[16] (int8) d (f16)
        put_f16(208, 5e-5)
    else:  # Q4_K / Q5_K: d (f16), dmin (f16), scales[12], ...
        put_f16(0, 2e-4)
        put_f16(2, 2e-4)
    return raw.reshape(rows, -1)


def hf_state_to_gguf(state: dict[str, np.ndarray], n_heads: int, n_kv_heads: int) -> dict[str, np.ndarray]:
    """Hugging Face Llama tensors (numpy, torch layout) -> llama.cpp names, q/k rows interleaved."""
    out = {}
    for name, w in state.items():
        n = name.removeprefix("model.")
        if n == "embed_tokens.weight":
            out["token_embd.weight"] = w
        elif n == "norm.weight":
            out["output_norm.weight"] = w
        elif n == "lm_head.weight":
            out["output.weight"] = w
        else:
            _, i, *rest = n.split(".")
            rest = ".".join(rest)
            table = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                     "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
                     "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
                     "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
                     "mlp.down_proj.weight": "ffn_down.weight"}
            if rest not in table:
                continue  # rotary inverse frequencies and other buffers
            target = f"blk.{i}.{table[rest]}"
            if rest.startswith("self_attn.q_proj"):
                w = interleave_rotary_halves(w, n_heads)
            elif rest.startswith("self_attn.k_proj"):
                w = interleave_rotary_halves(w, n_kv_heads)
            out[target] = w
    return out


def write_gguf(path: Path, tensors: dict[str, np.ndarray], *, types: dict[str, object] | None = None,
               arch: str = "llama", d_model: int, n_layers: int, n_heads: int, n_kv_heads: int, d_ff: int,
               rope_theta: float = 10000.0, eps: float = 1e-5, context: int = 64, pre: str = "smollm",
               tokenizer_model: str = "gpt2", add_bos: bool = False, chat_template: str | None = CHAT_TEMPLATE,
               vocab: tuple | None = None, raw: dict[str, np.ndarray] | None = None, seed: int = 0) -> Path:
    """Write a llama GGUF file. ``types`` maps a tensor name (or "*" for all matrices) to a ggml type; K-quant
    types get random blocks (``raw`` may give the bytes instead); the others are quantised from ``tensors``."""
    rng = np.random.default_rng(seed)
    types = dict(types or {})
    writer = gguf.GGUFWriter(str(path), arch)
    p = f"{arch}."
    writer.add_uint32(p + "block_count", n_layers)
    writer.add_uint32(p + "context_length", context)
    writer.add_uint32(p + "embedding_length", d_model)
    writer.add_uint32(p + "feed_forward_length", d_ff)
    writer.add_uint32(p + "attention.head_count", n_heads)
    writer.add_uint32(p + "attention.head_count_kv", n_kv_heads)
    writer.add_float32(p + "rope.freq_base", rope_theta)
    writer.add_float32(p + "attention.layer_norm_rms_epsilon", eps)
    writer.add_uint32(p + "rope.dimension_count", d_model // n_heads)
    tokens, merges, token_types = vocab or tiny_vocab()
    writer.add_uint32(p + "vocab_size", len(tokens))
    writer.add_tokenizer_model(tokenizer_model)
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(add_bos)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for name, w in tensors.items():
        qtype = types.get(name, types.get("*", Q.F32) if w.ndim == 2 else Q.F32)
        if raw is not None and name in raw:
            writer.add_tensor(name, raw[name], raw_dtype=qtype)
        elif qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q2_K, Q.Q3_K):
            writer.add_tensor(name, random_kquant_blocks(qtype, w.shape, rng), raw_dtype=qtype)
        elif qtype == Q.F32:
            writer.add_tensor(name, np.ascontiguousarray(w, np.float32))
        elif qtype == Q.F16:
            writer.add_tensor(name, np.ascontiguousarray(w, np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(np.ascontiguousarray(w, np.float32), qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
