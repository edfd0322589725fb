"""Tiny random Hugging Face checkpoints (GPT-2 and Llama) with a tokenizer.json and a chat template, for tests."""

from __future__ import annotations

import json
from pathlib import Path

from steerbounds.validation.studies import load_instruction_pairs, load_mc_questions, load_response_sets

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
TEMPLATE = ("{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>"
            "\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
            "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


def build_tokenizer():
    """A byte-level BPE tokenizer trained on the project's texts (every text encodes; no unknown token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    responses = load_response_sets()
    corpus = [p.harmful for p in load_instruction_pairs()] + list(responses.refusal + responses.compliance)
    corpus += [q.question + " " + " ".join(q.options) for q in load_mc_questions()] + ["Answer: A B C D"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def save_checkpoint(folder: Path, family: str, *, template_file: bool = False, seed: int = 0) -> Path:
    """Save a random ``family`` ("gpt2" or "llama") model with save_pretrained, plus tokenizer files."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    vocab = tok.get_vocab_size()
    torch.manual_seed(seed)
    if family == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=16, n_layer=2, n_head=2, n_positions=160))
    else:
        model = LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                             max_position_embeddings=160))
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    config = {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}}
    if template_file:
        (folder / "chat_template.jinja").write_text(TEMPLATE)
    else:
        config["chat_template"] = TEMPLATE
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def write_user_files(folder: Path, n_behaviour: int = 6, n_questions: int = 5) -> tuple[Path, Path, Path]:
    """x.csv (AdvBench layout), y.jsonl (harmless prompts) and z.csv (MMLU layout), written for these tests."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = load_instruction_pairs()[:n_behaviour]
    x = folder / "x.csv"
    x.write_text("goal,target\n" + "".join(f'"{p.harmful}","Sure, here is"\n' for p in pairs), encoding="utf-8")
    y = folder / "y.jsonl"
    y.write_text("".join(json.dumps({"prompt": p.harmless}) + "\n" for p in pairs), encoding="utf-8")
    z = folder / "z.csv"
    rows = []
    for q in load_mc_questions()[:n_questions]:
        cells = [q.question, *q.options, "ABCD"[q.answer]]
        rows.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    z.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return x, y, z
