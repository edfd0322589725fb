"""Steered generation: our cached, coefficient-vmapped ``generate`` against transformers and steering-vectors.

Workload: the SmolLM2-135M shape (Llama, 30 blocks, d = 576, 9 query / 3
key-value heads, vocabulary 49152, tied embeddings, RoPE base 1e5) with random
weights, saved once as a Hugging Face folder and loaded by both sides; 16
chat-formatted prompts of 43-49 tokens (a 20-token template header common to
all, each prompt's own tokens, a 5-token assistant tail); 11 coefficients;
32 new tokens, greedy; steering after blocks 10-19 with one unit vector.

Compared, all interleaved in one run (every round times every section once):

* (a) transformers ``generate`` with forward hooks adding ``c v``, one call per coefficient;
* (b) the ``steering-vectors`` package, ``SteeringVector(...).apply(model, multiplier=c)`` around
  ``generate``, one call per coefficient (installed on demand into the benchmark's own folder,
  ``--sv-site``, without touching the project's environment);
* (c) ours: ``steerbounds.numerics.generate``, all coefficients in one call.

Prefill and decode are reported separately: for (a) and (b) from a logits
processor that stamps the time of every step (the first stamp follows the
prefill); for (c) from a prefill-only call (one new token). Also measured in
the same run: the machine's float32 matmul peak (torch and XLA, the larger is
the limit) and its memory-copy bandwidth; every section's achieved FLOP/s
(counted from the model's shapes) as a fraction of the peak, and decode's
bytes per step (weights plus cache) against the bandwidth. And the sweep on
the same chat prompts (``steering_sweep``) with and without the shared span.

Run ``python benchmarks/generate.py`` (about 10 minutes on 2 cores) or
``--small`` (a smoke run); results are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    Worker,
    block_gemm_rate_jax,
    block_gemm_rate_torch,
    block_matrix_shapes,
    block_flops,
    copy_bandwidth,
    last_block_flops,
    machine,
    matmul_peak_jax,
    matmul_peak_torch,
    measure_memory,
    median,
    timed,
    unembed_flops,
    uptime,
    versions,
    weight_bytes,
)

SV_VERSION = "0.12.2"


@dataclasses.dataclass(frozen=True)
class GenConfig:
    """One benchmark configuration."""

    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    vocab_size: int
    rope_theta: float
    prompts: int  # b
    header: int  # template tokens common to every prompt
    own_min: int  # each prompt's own tokens: own_min .. own_max
    own_max: int
    tail: int  # assistant header after the user's text
    coefficients: int
    c_max: float
    layers: tuple[int, ...]
    new_tokens: int
    repeats: int
    memory_budget_gib: float
    torch_threads: int | None
    seed: int

    @classmethod
    def full(cls, **kw) -> GenConfig:
        """SmolLM2-135M shape; 16 prompts of 43-49 tokens, 11 coefficients, 32 new tokens, layers 10-19."""
        base = dict(n_layers=30, d_model=576, n_heads=9, n_kv_heads=3, d_ff=1536, vocab_size=49152, rope_theta=1e5,
                    prompts=16, header=20, own_min=18, own_max=24, tail=5, coefficients=11, c_max=4.0,
                    layers=tuple(range(10, 20)), new_tokens=32, repeats=3, memory_budget_gib=4.0,
                    torch_threads=None, seed=0)
        return cls(**{**base, **kw})

    @classmethod
    def small(cls, **kw) -> GenConfig:
        """A smoke configuration (4 narrow blocks, same vocabulary)."""
        base = dict(cls.full().__dict__)
        base.update(n_layers=4, d_model=128, n_heads=4, n_kv_heads=2, d_ff=344, prompts=4, coefficients=3,
                    layers=(1, 2), new_tokens=8, repeats=2)
        return cls(**{**base, **kw})

    @property
    def name(self) -> str:
        return (f"llama-L{self.n_layers}-d{self.d_model}-h{self.n_heads}-kv{self.n_kv_heads}-f{self.d_ff}"
                f"-v{self.vocab_size}-seed{self.seed}")


def make_prompts(cfg: GenConfig):
    """Chat-shaped token ids: header (shared) + own tokens + tail (shared), left-padded."""
    rng = np.random.default_rng(cfg.seed)
    header = rng.integers(3, cfg.vocab_size, cfg.header)
    tail = rng.integers(3, cfg.vocab_size, cfg.tail)
    rows = [np.concatenate([header, rng.integers(3, cfg.vocab_size, rng.integers(cfg.own_min, cfg.own_max + 1)), tail])
            for _ in range(cfg.prompts)]
    t = max(len(r) for r in rows)
    tokens = np.zeros((cfg.prompts, t), np.int64)
    mask = np.zeros((cfg.prompts, t), np.int64)
    for i, r in enumerate(rows):
        tokens[i, t - len(r):], mask[i, t - len(r):] = r, 1
    vector = rng.normal(size=cfg.d_model)
    return tokens, mask, vector / np.linalg.norm(vector), np.linspace(-cfg.c_max, cfg.c_max, cfg.coefficients)


def _hf_config(cfg: GenConfig):
    import transformers

    return transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads, max_position_embeddings=2048,
        rope_theta=cfg.rope_theta, rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        pad_token_id=0)


def _make_checkpoint(cfg: GenConfig, folder: Path) -> None:
    import torch
    import transformers

    torch.manual_seed(cfg.seed)
    model = transformers.LlamaForCausalLM(_hf_config(cfg))
    tmp = folder.with_name(folder.name + ".partial")
    model.save_pretrained(tmp)
    (tmp / "bench.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    tmp.rename(folder)


# ----------------------------------------------------------------------------- torch worker


def _torch_worker(conn, cfg: GenConfig, folder: str, tokens, mask, vector, coefs, sv_site: str | None):
    import torch
    import transformers

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    model.generation_config.eos_token_id = None  # never stop early: every section makes the same tokens
    model.generation_config.pad_token_id = 0
    ids, att = torch.from_numpy(tokens), torch.from_numpy(mask)
    vec = torch.from_numpy(np.asarray(vector, np.float32))
    coefficient = [0.0]

    def hook(module, inputs, output):
        if isinstance(output, tuple):
            return (output[0] + coefficient[0] * vec,) + tuple(output[1:])
        return output + coefficient[0] * vec

    sv_error = None
    steering_vector = None
    if sv_site:
        sys.path.insert(0, sv_site)
        try:
            from steering_vectors import SteeringVector

            steering_vector = SteeringVector({layer: vec for layer in cfg.layers}, layer_type="decoder_block")
        except Exception as err:  # noqa: BLE001 - reported, not hidden
            sv_error = f"{type(err).__name__}: {err}"

    class Stamp(transformers.LogitsProcessor):
        def __init__(self):
            self.times = []

        def __call__(self, input_ids, scores):
            self.times.append(time.perf_counter())
            return scores

    def one_generate():
        stamp = Stamp()
        t0 = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=att, max_new_tokens=cfg.new_tokens, do_sample=False,
                             logits_processor=transformers.LogitsProcessorList([stamp]), use_cache=True)
        t1 = time.perf_counter()
        return out[:, ids.shape[1]:].numpy(), stamp.times[0] - t0, t1 - stamp.times[0]

    def run(kind, warm=False):
        toks, prefill, decode = [], 0.0, 0.0
        for c in (coefs[-1:] if warm else coefs):  # warm-up: one call (nothing to compile on this side)
            if kind == "a":
                coefficient[0] = float(c)
                handles = [model.model.layers[layer].register_forward_hook(hook) for layer in cfg.layers]
                try:
                    t, p, d = one_generate()
                finally:
                    for h in handles:
                        h.remove()
            else:
                with steering_vector.apply(model, multiplier=float(c)):
                    t, p, d = one_generate()
            toks.append(t)
            prefill, decode = prefill + p, decode + d
        return np.stack(toks), prefill, decode

    conn.send({"ready": True, "torch_threads": torch.get_num_threads(), "sv_error": sv_error,
               "attn_implementation": model.config._attn_implementation,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)")})
    with torch.inference_mode():
        while True:
            msg = conn.recv()
            cmd = msg["cmd"]
            if cmd == "stop":
                break
            if cmd == "peak":
                gemm = {rows: block_gemm_rate_torch(msg["shapes"], rows) for rows in msg["gemm_rows"]}
                conn.send({"flops_per_s": matmul_peak_torch(), **copy_bandwidth(), "block_gemm": gemm})
                continue
            go = lambda: timed(lambda: run(cmd, warm=msg.get("warm", False)))  # noqa: E731
            if msg.get("memory"):
                ((toks, p, d), wall, cpu), mem = measure_memory(go)
            else:
                (toks, p, d), wall, cpu = go()
                mem = None
            conn.send({"wall_s": wall, "cpu_s": cpu, "prefill_s": p, "decode_s": d, "memory": mem,
                       "tokens": toks if msg.get("record") else None})


# ----------------------------------------------------------------------------- jax worker


def _jax_worker(conn, cfg: GenConfig, folder: str, tokens, mask, vector, coefs, sv_site):
    import jax
    from flax import nnx

    from steerbounds.numerics import (
        common_span_length,
        generate,
        generation_chunk_size,
        load_hf_checkpoint,
        make_steering,
        steering_sweep,
    )
    from steerbounds.numerics._cache import arrange_prompts, bucket

    model = load_hf_checkpoint(folder)
    graphdef, state = nnx.split(model)
    steering = make_steering(model.config, vector, cfg.layers)
    budget = int(cfg.memory_budget_gib * 2**30)
    kw = dict(mask_bt=mask, steering=steering, coefficients_c=coefs, memory_budget_bytes=budget)
    lay = arrange_prompts(tokens, mask, None, share_span=True)
    bucketed = bucket(len(coefs))  # as generate pads and splits the coefficients
    most = generation_chunk_size(model.config, cfg.prompts, 1, lay.span_tokens_p.shape[0],
                                 lay.own_tokens_bt.shape[1], cfg.new_tokens, bucketed, memory_budget_bytes=budget)
    n_chunks = -(-bucketed // most)
    chunk = -(-bucketed // n_chunks)
    sections = {
        "c": lambda: generate(graphdef, state, tokens, max_new_tokens=cfg.new_tokens, **kw).tokens_cbsn,
        "c_prefill": lambda: generate(graphdef, state, tokens, max_new_tokens=1, **kw).tokens_cbsn,
        "sweep_shared": lambda: steering_sweep(graphdef, state, tokens, steering, coefs, mask_bt=mask).logits_cbv,
        "sweep_plain": lambda: steering_sweep(graphdef, state, tokens, steering, coefs, mask_bt=mask,
                                              share_span=False).logits_cbv,
    }
    conn.send({"ready": True, "span": common_span_length(tokens, mask), "chunk": chunk,
               "own_width": lay.own_tokens_bt.shape[1],
               "chunks": n_chunks, "padded_coefficients": n_chunks * chunk,
               "devices": [str(d) for d in jax.devices()], "xla_flags": os.environ.get("XLA_FLAGS", ""),
               # XLA's CPU client runs one intra-op thread per usable core
               "xla_threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()})
    while True:
        msg = conn.recv()
        cmd = msg["cmd"]
        if cmd == "stop":
            break
        if cmd == "peak":
            gemm = {rows: block_gemm_rate_jax(msg["shapes"], rows) for rows in msg["gemm_rows"]}
            conn.send({"flops_per_s": matmul_peak_jax(), "block_gemm": gemm})
            continue
        go = lambda: timed(lambda: np.asarray(jax.block_until_ready(sections[cmd]())))  # noqa: E731
        if msg.get("memory"):
            (out, wall, cpu), mem = measure_memory(go)
        else:
            out, wall, cpu = go()
            mem = None
        conn.send({"wall_s": wall, "cpu_s": cpu, "memory": mem, "out": out if msg.get("record") else None})


# ----------------------------------------------------------------------------- driver


def ensure_steering_vectors(site: Path) -> str | None:
    """Install steering-vectors (without dependencies) into ``site`` if absent; return the folder or None."""
    if (site / "steering_vectors").is_dir():
        return str(site)
    print(f"installing steering-vectors {SV_VERSION} into {site} (the benchmark's own folder) ...", flush=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                           f"steering-vectors=={SV_VERSION}"], capture_output=True, text=True)
    if proc.returncode:
        print(f"could not install steering-vectors: {proc.stderr.strip()[-300:]}", flush=True)
        return None
    return str(site)


def prefill_flops(cfg: GenConfig, model_cfg, lengths, span: int) -> float:
    """Our prefill (and sweep) FLOPs on prompts of ``lengths`` real tokens whose first ``span`` are shared:
    blocks 0..first steered layer once, the rest per coefficient, the last block's output and the
    unembedding at each prompt's last token only."""
    k, n, first, b = cfg.coefficients, cfg.n_layers, min(cfg.layers), len(lengths)
    own = lengths - span
    per_block = (block_flops(model_cfg, span, (span + 1) / 2) if span else 0.0) + sum(
        block_flops(model_cfg, o, span + (o + 1) / 2) for o in own)
    later = max(n - first - 1, 0)
    last_block = last_block_flops(model_cfg, span + own.sum(), b, float(lengths.mean()))
    return (first + 1) * per_block + k * (
        ((later - 1) * per_block + last_block if later else 0.0) + unembed_flops(model_cfg, b))


def count_flops(cfg: GenConfig, model_cfg, tokens, mask, span: int) -> dict:
    """FLOPs from the shapes. Real tokens only for ours; transformers also computes its padding."""
    lengths = mask.sum(1)
    b, t = tokens.shape
    k, n_new, n = cfg.coefficients, cfg.new_tokens, cfg.n_layers
    ours_prefill = prefill_flops(cfg, model_cfg, lengths, span)
    ctx = lengths.mean() + np.arange(1, n_new).mean() if n_new > 1 else lengths.mean()
    decode = k * (n_new - 1) * (n * block_flops(model_cfg, b, ctx) + unembed_flops(model_cfg, b))
    theirs_prefill = k * (n * block_flops(model_cfg, b * t, (t + 1) / 2) + unembed_flops(model_cfg, b))
    return {"ours_prefill": ours_prefill, "ours_decode": decode, "theirs_prefill": theirs_prefill,
            "theirs_decode": decode, "ours_total": ours_prefill + decode, "theirs_total": theirs_prefill + decode,
            "decode_context_mean": float(ctx)}


def ideal_times(cfg: GenConfig, model_cfg, flops: dict, peak: float, bandwidth: float, *, chunks: int,
                kv_read: float) -> dict:
    """Lower bounds on each side's time from the limits measured in the run.

    Every phase takes at least its FLOPs at the matmul peak and at least its bytes at the copy bandwidth; a
    decode step reads the weights once per forward call (ours: once per chunk of coefficients; transformers:
    once per coefficient, each call runs one) plus the cache. Prefill reads the weights once per call too.
    """
    steps = cfg.new_tokens - 1
    k = cfg.coefficients
    w = weight_bytes(model_cfg)
    ours_step = max(flops["ours_decode"] / steps / peak, (chunks * w + kv_read) / bandwidth)
    theirs_step = k * max(flops["theirs_decode"] / steps / k / peak, (w + kv_read / k) / bandwidth)
    ours_prefill = max(flops["ours_prefill"] / peak, chunks * w / bandwidth)
    theirs_prefill = k * max(flops["theirs_prefill"] / k / peak, w / bandwidth)
    out = {"ours_prefill_s": ours_prefill, "ours_decode_s": steps * ours_step, "theirs_prefill_s": theirs_prefill,
           "theirs_decode_s": steps * theirs_step, "ours_decode_step_bound": (
               "flops" if flops["ours_decode"] / steps / peak >= (chunks * w + kv_read) / bandwidth else "bytes"),
           "theirs_decode_step_bound": (
               "flops" if flops["theirs_decode"] / steps / k / peak >= (w + kv_read / k) / bandwidth else "bytes")}
    out["ours_total_s"] = out["ours_prefill_s"] + out["ours_decode_s"]
    out["theirs_total_s"] = out["theirs_prefill_s"] + out["theirs_decode_s"]
    return out


def gemm_bound_times(flops: dict, gemm: dict) -> dict:
    """Each side's time if it ran only its FLOPs, at its own backend's rate for one block's matrix products at its
    row counts (XLA for ours, torch for theirs; ``block_gemm`` of the run): a limit set by the GEMM code, not the
    machine, and one no section can beat without faster matrix products."""
    ours = (flops["ours_prefill"] / gemm["ours_prefill"]["xla_flops_per_s"]
            + flops["ours_decode"] / gemm["ours_decode"]["xla_flops_per_s"])
    theirs = (flops["theirs_prefill"] / gemm["theirs_prefill"]["torch_flops_per_s"]
              + flops["theirs_decode"] / gemm["theirs_decode"]["torch_flops_per_s"])
    return {"ours_s": ours, "theirs_s": theirs}


def five_x_statement(speed: dict, ideal: dict, med: dict) -> str:
    """The answer to "can (c) be 5x faster than (a) and (b) here", from the run's own numbers."""
    ratio = speed["limit_ratio_theirs_over_ours"]
    parts = [f"Both sides at the machine's limits (FLOPs at the measured matmul peak or bytes at the copy bandwidth, "
             f"step by step) give (c) {ratio:.2f}x over (a) and (b) (FLOP ratio {speed['flop_ratio_theirs_over_ours']:.2f}); "
             f"(c) at its limit would take {ideal['ours_total_s']:.3g} s"]
    best = 0.0
    for other in ("a", "b"):
        if other in med:
            frac = ideal["theirs_total_s"] / med[other]
            best = max(best, speed[f"c_at_its_limit_over_{other}"])
            parts.append(f"({other}) runs at {100 * frac:.0f}% of its limit, so (c) at 100% of its own would be "
                         f"{speed[f'c_at_its_limit_over_{other}']:.2f}x faster")
    text = "; ".join(parts) + ". "
    if best >= 5.0:
        return text + "5x is reachable in principle here: the baselines run far below the machine's limits."
    return text + (f"5x is not reachable on this workload: it would need the baselines below {100 * ratio / 5:.0f}% of "
                   "their limit. Decode is the same work on both sides (every new token runs every block for every "
                   "prompt and coefficient); our savings (blocks before the first steered layer once, the shared "
                   "header once per coefficient, weights read once per step for all coefficients) are bounded by "
                   "the limit ratio above.")


def run(cfg: GenConfig, *, out_path: Path, cache: Path, sv_site: Path | None, passive: bool) -> dict:
    tokens, mask, vector, coefs = make_prompts(cfg)
    folder = cache / cfg.name
    load_start, uptime_start, t_start = os.getloadavg(), uptime(), time.time()
    if not folder.exists():
        print(f"creating the checkpoint {folder} ...", flush=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        maker = mp.get_context("spawn").Process(target=_make_checkpoint, args=(cfg, folder))
        maker.start()
        maker.join()
        if maker.exitcode:
            raise RuntimeError("creating the checkpoint failed")
    site = ensure_steering_vectors(sv_site) if sv_site else None
    from steerbounds.numerics import TransformerConfig, cache_bytes_per_token_per_layer

    model_cfg = TransformerConfig.llama_style(vocab_size=cfg.vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers,
                                              n_heads=cfg.n_heads, n_kv_heads=cfg.n_kv_heads, d_ff=cfg.d_ff)
    env = {"OMP_WAIT_POLICY": "PASSIVE"} if passive else {}
    args = (cfg, str(folder), tokens, mask, vector, coefs, site)
    # (c) runs in a JAX worker of its own: a compiled program stays resident (about 160 MiB of code for the
    # 30-block generation program), and a user who generates holds that one, not the prefill-only program that
    # splits our timing or the sweeps' programs. Those run in two more workers, each with its own weights.
    workers = [Worker(_torch_worker, *args, env=env)]
    try:
        for _ in range(3):
            workers.append(Worker(_jax_worker, *args))
    except BaseException:
        for w in workers:
            w.process.terminate()
        raise
    torch_w, jax_w, prefill_w, sweep_w = workers
    sections = [(torch_w, "a")]
    if site and torch_w.info["sv_error"] is None:
        sections.append((torch_w, "b"))
    sections += [(jax_w, "c"), (prefill_w, "c_prefill"), (sweep_w, "sweep_shared"), (sweep_w, "sweep_plain")]
    try:
        warm = {}
        for worker, name in sections:  # compilation and first passes, excluded from the timings
            warm[name] = worker.ask(cmd=name, warm=True)["wall_s"]
        print("warm-up (excluded): " + ", ".join(f"{k} {v:.1f}s" for k, v in warm.items()), flush=True)
        rounds = {name: [] for _, name in sections}
        peaks = {"torch": [], "jax": []}
        # One block's matrix products at the row counts each side's prefill and decode put through them
        gemm_rows = {"theirs_decode": cfg.prompts, "ours_decode": jax_w.info["chunk"] * cfg.prompts,
                     "theirs_prefill": cfg.prompts * tokens.shape[1],
                     "ours_prefill": jax_w.info["chunk"] * cfg.prompts * jax_w.info["own_width"]}
        peak_msg = dict(cmd="peak", shapes=block_matrix_shapes(model_cfg), gemm_rows=sorted(set(gemm_rows.values())))
        memory, outputs = {}, {}
        for r in range(cfg.repeats):
            peaks["torch"].append(torch_w.ask(**peak_msg))
            peaks["jax"].append(jax_w.ask(**peak_msg))
            for worker, name in sections:
                reply = worker.ask(cmd=name, memory=r == 0, record=r == 0)
                if r == 0:
                    memory[name] = reply.pop("memory")
                    outputs[name] = reply.pop("tokens", None) if "tokens" in reply else reply.pop("out", None)
                rounds[name].append({k: v for k, v in reply.items() if k not in ("tokens", "out", "memory")})
            print(f"round {r + 1}/{cfg.repeats} (wall s): "
                  + ", ".join(f"{n} {rounds[n][-1]['wall_s']:.2f}" for _, n in sections), flush=True)
        torch_info, jax_info = torch_w.info, jax_w.info
        for w in workers:
            w.stop()
    finally:
        for w in workers:
            if w.process.is_alive():
                w.process.terminate()

    span = jax_info["span"]
    flops = count_flops(cfg, model_cfg, tokens, mask, span)
    med = {n: median([x["wall_s"] for x in rs]) for n, rs in rounds.items()}
    cpu = {n: median([x["cpu_s"] for x in rs]) for n, rs in rounds.items()}
    peak_flops = max(median([p["flops_per_s"] for p in peaks["torch"]]), median([p["flops_per_s"] for p in peaks["jax"]]))
    bandwidth = max(median([p.get("torch_bytes_per_s") for p in peaks["torch"]]) or 0,
                    median([p["numpy_bytes_per_s"] for p in peaks["torch"]]))
    generated = cfg.coefficients * cfg.prompts * cfg.new_tokens
    res = {"sections": {}}
    for name in rounds:
        row = {"median_wall_s": med[name], "median_cpu_s": cpu[name]}
        if name in ("a", "b"):
            p = median([x["prefill_s"] for x in rounds[name]])
            d = median([x["decode_s"] for x in rounds[name]])
            row.update(prefill_s=p, decode_s=d, tokens_per_s=generated / med[name],
                       flops=flops["theirs_total"], prefill_fraction_of_peak=flops["theirs_prefill"] / p / peak_flops,
                       decode_fraction_of_peak=flops["theirs_decode"] / d / peak_flops)
        elif name == "c":
            p = med["c_prefill"]
            d = med["c"] - p
            row.update(prefill_s=p, decode_s=d, tokens_per_s=generated / med[name], flops=flops["ours_total"],
                       prefill_fraction_of_peak=flops["ours_prefill"] / p / peak_flops,
                       decode_fraction_of_peak=flops["ours_decode"] / d / peak_flops)
        row["achieved_flops_per_s"] = row.get("flops", np.nan) / med[name] if "flops" in row else None
        row["fraction_of_peak"] = None if row["achieved_flops_per_s"] is None else row["achieved_flops_per_s"] / peak_flops
        row["memory"] = memory.get(name)
        res["sections"][name] = row
    # decode bytes per step: weights once per step per chunk of coefficients, plus every row's cache
    chunks = jax_info["chunks"]
    cache_tok = cache_bytes_per_token_per_layer(model_cfg) * cfg.n_layers
    steps = cfg.new_tokens - 1
    rows_c = cfg.coefficients * cfg.prompts
    kv_read = cache_tok * rows_c * flops["decode_context_mean"]
    ours_step_bytes = chunks * weight_bytes(model_cfg) + kv_read
    theirs_step_bytes = cfg.coefficients * weight_bytes(model_cfg) + kv_read  # per step of all coefficients
    ideal = ideal_times(cfg, model_cfg, flops, peak_flops, bandwidth, chunks=chunks, kv_read=kv_read)
    for name, step_bytes in (("c", ours_step_bytes), ("a", theirs_step_bytes), ("b", theirs_step_bytes)):
        if name in res["sections"]:
            sec = res["sections"][name]
            per_step = sec["decode_s"] / steps
            side = "ours" if name == "c" else "theirs"
            sec.update(decode_bytes_per_step=step_bytes, decode_s_per_step=per_step,
                       decode_bandwidth_fraction=step_bytes / per_step / bandwidth,
                       limit_s=ideal[f"{side}_total_s"], fraction_of_limit=ideal[f"{side}_total_s"] / med[name],
                       decode_fraction_of_limit=ideal[f"{side}_decode_s"] / sec["decode_s"],
                       prefill_fraction_of_limit=ideal[f"{side}_prefill_s"] / sec["prefill_s"])
    speed = {}
    for other in ("a", "b"):
        if other in med:
            speed[f"c_over_{other}"] = med[other] / med["c"]
            speed[f"c_over_{other}_per_round"] = [x["wall_s"] / y["wall_s"] for x, y in zip(rounds[other], rounds["c"])]
            speed[f"c_over_{other}_prefill"] = res["sections"][other]["prefill_s"] / res["sections"]["c"]["prefill_s"]
            speed[f"c_over_{other}_decode"] = res["sections"][other]["decode_s"] / res["sections"]["c"]["decode_s"]
    speed["flop_ratio_theirs_over_ours"] = flops["theirs_total"] / flops["ours_total"]
    # What the machine allows: (c) at its limit (FLOPs at the matmul peak, or bytes at the copy bandwidth, step by
    # step) against the measured (a) and (b), and both sides at their limits.
    speed["limit_ratio_theirs_over_ours"] = ideal["theirs_total_s"] / ideal["ours_total_s"]
    for other in ("a", "b"):
        if other in med:
            speed[f"c_at_its_limit_over_{other}"] = med[other] / ideal["ours_total_s"]
    speed["five_x_reachable"] = bool(max(speed.get("c_at_its_limit_over_a", 0.0),
                                         speed.get("c_at_its_limit_over_b", 0.0)) >= 5.0)
    # agreement of the greedy tokens
    agree = {}
    ours = outputs["c"][:, :, 0]
    for other in ("a", "b"):
        if outputs.get(other) is not None:
            agree[f"c_vs_{other}_token_fraction"] = float(np.mean(outputs[other] == ours))
    sweep_diff = float(np.abs(outputs["sweep_shared"] - outputs["sweep_plain"]).max())
    # the sweep is the prefill's work (its last block also at the last position only), with or without the span
    span_flops = {shared: prefill_flops(cfg, model_cfg, mask.sum(1), span if shared else 0) for shared in (True, False)}
    for name, shared in (("sweep_shared", True), ("sweep_plain", False)):
        sec = res["sections"][name]
        sec.update(flops=span_flops[shared], achieved_flops_per_s=span_flops[shared] / med[name],
                   fraction_of_peak=span_flops[shared] / med[name] / peak_flops)
    # The backends' matrix products at the model's shapes: what one block's matrices cost on each side
    gemm = {}
    for use, rows in gemm_rows.items():
        jx = median([p["block_gemm"][rows] for p in peaks["jax"]])
        tr = median([p["block_gemm"][rows] for p in peaks["torch"]])
        gemm[use] = {"rows": rows, "xla_flops_per_s": jx, "torch_flops_per_s": tr, "xla_over_torch": jx / tr,
                     "xla_fraction_of_peak": jx / peak_flops, "torch_fraction_of_peak": tr / peak_flops}
    bound = gemm_bound_times(flops, gemm)
    for other in ("a", "b"):
        if other in med:
            speed[f"c_at_xla_gemm_rate_over_{other}"] = med[other] / bound["ours_s"]
    res.update(
        speedup=speed, agreement=agree, flops=flops, warmup_s=warm, block_gemm=gemm, gemm_bound=bound,
        limits={"matmul_peak_flops_per_s": peak_flops, "copy_bandwidth_bytes_per_s": bandwidth, "peaks": peaks,
                "ideal": ideal, "five_x": five_x_statement(speed, ideal, med)},
        sweep={"shared_over_plain": med["sweep_plain"] / med["sweep_shared"], "max_abs_logit_difference": sweep_diff,
               "flop_ratio": span_flops[False] / span_flops[True], "span_tokens": span},
        cache={"bytes_per_token_per_layer": cache_bytes_per_token_per_layer(model_cfg),
               "bytes_per_token": cache_tok, "chunk_coefficients": jax_info["chunk"], "chunks": jax_info["chunks"],
               "padded_coefficients": jax_info["padded_coefficients"]},
        rounds=rounds,
    )
    report = {
        "benchmark": "generate", "config": dataclasses.asdict(cfg), "versions": versions(), "machine": machine(),
        "environment": {"torch_threads": torch_info["torch_threads"], "omp_wait_policy": torch_info["omp_wait_policy"],
                        "torch_attn_implementation": torch_info["attn_implementation"],
                        "steering_vectors": ("not requested" if not sv_site else "install failed" if not site else
                                             torch_info["sv_error"] or f"{SV_VERSION}, installed without its "
                                             "dependencies (it declares transformers<5)"),
                        "jax_devices": jax_info["devices"], "xla_flags": jax_info["xla_flags"],
                        "xla_threads": jax_info.get("xla_threads"),
                        "load_average_start": load_start, "load_average_end": os.getloadavg(),
                        "uptime_start": uptime_start, "uptime_end": uptime(), "elapsed_s": time.time() - t_start},
        "results": res,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".partial")
    tmp.write_text(json.dumps(report, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    tmp.rename(out_path)
    print(format_table(report))
    print(f"wrote {out_path}")
    return report


def format_table(report: dict) -> str:
    cfg, res, env, mach = report["config"], report["results"], report["environment"], report["machine"]
    lim = res["limits"]
    labels = {"a": "(a) transformers generate + hooks", "b": "(b) steering-vectors + generate",
              "c": "(c) ours: generate (cache, vmap)", "c_prefill": "    ours, prefill + 1 token",
              "sweep_shared": "sweep, shared span", "sweep_plain": "sweep, every prompt whole"}
    lines = [
        f"generate benchmark: {cfg['n_layers']} blocks, d={cfg['d_model']}, heads {cfg['n_heads']}/{cfg['n_kv_heads']}, "
        f"vocab {cfg['vocab_size']}; {cfg['prompts']} prompts, {cfg['coefficients']} coefficients, "
        f"{cfg['new_tokens']} new tokens, greedy; medians of {cfg['repeats']} interleaved rounds",
        f"{mach['cpu']} ({mach['cpu_count']} CPUs, {mach['affinity_cpus']} usable; vector extensions "
        f"{' '.join(mach['vector_extensions'])}); torch threads {env['torch_threads']} (OMP_WAIT_POLICY "
        f"{env['omp_wait_policy']}); XLA threads {env.get('xla_threads')}; load average "
        f"{tuple(round(x, 2) for x in env['load_average_start'])} -> {tuple(round(x, 2) for x in env['load_average_end'])}",
        f"limits measured in this run: matmul peak {lim['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s, "
        f"copy bandwidth {lim['copy_bandwidth_bytes_per_s'] / 1e9:.2f} GB/s; steering-vectors: {env['steering_vectors']}",
        "",
        f"{'section':<36} {'wall s':>8} {'prefill':>8} {'decode':>8} {'tok/s':>8} {'GFLOP/s':>8} {'%peak':>6} "
        f"{'dec %BW':>7} {'peak RSS MiB':>13}",
    ]
    for name, sec in res["sections"].items():
        f = sec.get("achieved_flops_per_s")
        mem = sec.get("memory") or {}
        lines.append(
            f"{labels[name]:<36} {sec['median_wall_s']:>8.2f} {sec.get('prefill_s', float('nan')):>8.2f} "
            f"{sec.get('decode_s', float('nan')):>8.2f} {sec.get('tokens_per_s', float('nan')):>8.1f} "
            f"{(f or float('nan')) / 1e9:>8.1f} {100 * (sec.get('fraction_of_peak') or float('nan')):>6.1f} "
            f"{100 * sec.get('decode_bandwidth_fraction', float('nan')):>7.1f} {mem.get('peak_rss_mib', float('nan')):>13.0f}")
    sp = res["speedup"]
    lines.append("")
    for other in ("a", "b"):
        if f"c_over_{other}" in sp:
            lines.append(f"speed-up (c)/({other}) = {sp[f'c_over_{other}']:.2f}x (per round "
                         f"{', '.join(f'{x:.2f}' for x in sp[f'c_over_{other}_per_round'])}; prefill "
                         f"{sp[f'c_over_{other}_prefill']:.2f}x, decode {sp[f'c_over_{other}_decode']:.2f}x)   target >= 5")
    lines.append(f"FLOP ratio transformers / ours (from the shapes): {sp['flop_ratio_theirs_over_ours']:.2f}; "
                 f"time ratio with both at the measured limits: {sp['limit_ratio_theirs_over_ours']:.2f}")
    for name in ("a", "b", "c"):
        sec = res["sections"].get(name)
        if sec and "limit_s" in sec:
            lines.append(f"({name}) at {100 * sec['fraction_of_limit']:.0f}% of its limit ({sec['limit_s']:.3g} s: FLOPs at "
                         f"the peak or bytes at the bandwidth, whichever is larger, step by step); prefill "
                         f"{100 * sec['prefill_fraction_of_limit']:.0f}%, decode {100 * sec['decode_fraction_of_limit']:.0f}%")
    lines.append("5x: " + lim["five_x"])
    for sec_name in ("c", "a"):
        sec = res["sections"].get(sec_name)
        if sec and "decode_bytes_per_step" in sec:
            lines.append(f"decode {sec_name}: {sec['decode_bytes_per_step'] / 2**20:.0f} MiB/step (weights + cache) in "
                         f"{1e3 * sec['decode_s_per_step']:.0f} ms = {100 * sec['decode_bandwidth_fraction']:.1f}% of the "
                         "copy bandwidth; " f"{100 * sec['decode_fraction_of_peak']:.1f}% of the matmul peak")
    sw = res["sweep"]
    lines.append(f"sweep on the chat prompts: shared span of {sw['span_tokens']} tokens {sw['shared_over_plain']:.2f}x "
                 f"faster than every prompt whole (FLOP ratio {sw['flop_ratio']:.2f}); max |logit difference| "
                 f"{sw['max_abs_logit_difference']:.1e}")
    lines.append("agreement of the greedy tokens: " + ", ".join(f"{k} {v:.3f}" for k, v in res["agreement"].items()))
    lines.append("one block's matrix products at the model's shapes (GFLOP/s, XLA / torch): " + "; ".join(
        f"{use.replace('_', ' ')} ({g['rows']} rows) {g['xla_flops_per_s'] / 1e9:.0f} / {g['torch_flops_per_s'] / 1e9:.0f} "
        f"= {g['xla_over_torch']:.2f}" for use, g in res["block_gemm"].items()))
    gb = res["gemm_bound"]
    lines.append(f"with only its FLOPs, at its backend's rate for these products: (c) {gb['ours_s']:.3g} s, (a)/(b) "
                 f"{gb['theirs_s']:.3g} s; (c) at that rate would be " + ", ".join(
                     f"{sp[f'c_at_xla_gemm_rate_over_{o}']:.2f}x faster than ({o})" for o in ("a", "b")
                     if f"c_at_xla_gemm_rate_over_{o}" in sp))
    ca = res["cache"]
    lines.append(f"cache: {ca['bytes_per_token_per_layer']} bytes per token per layer ({ca['bytes_per_token'] / 1024:.0f} "
                 f"KiB per token, all layers); coefficients per chunk {ca['chunk_coefficients']} "
                 f"(--memory-budget {cfg['memory_budget_gib']} GiB)")
    lines.append("warm-up (excluded): " + ", ".join(f"{k} {v:.1f}s" for k, v in res["warmup_s"].items()))
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a smoke configuration")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--prompts", type=int)
    parser.add_argument("--coefficients", type=int)
    parser.add_argument("--new-tokens", type=int)
    parser.add_argument("--torch-threads", type=int)
    parser.add_argument("--memory-budget", type=float, help="GiB for the coefficient chunks of (c) (default 4)")
    parser.add_argument("--omp-passive", action="store_true", help="run torch with OMP_WAIT_POLICY=PASSIVE")
    parser.add_argument("--no-steering-vectors", action="store_true", help="skip (b)")
    parser.add_argument("--sv-site", type=Path, default=ROOT / "results" / "bench" / "steering-vectors-site",
                        help="where steering-vectors is installed for the benchmark")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "bench" / "checkpoints")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in dict(repeats=args.repeats, prompts=args.prompts, coefficients=args.coefficients,
                                       new_tokens=args.new_tokens, torch_threads=args.torch_threads,
                                       memory_budget_gib=args.memory_budget).items() if v is not None}
    cfg = (GenConfig.small if args.small else GenConfig.full)(**overrides)
    for key in ("repeats", "prompts", "coefficients", "new_tokens"):
        if getattr(cfg, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")
    if cfg.new_tokens < 2:
        parser.error("--new-tokens must be at least 2: the benchmark times decode steps after the first token")
    out = args.out or ROOT / "results" / "bench" / ("generate-small.json" if args.small else "generate.json")
    return run(cfg, out_path=out, cache=args.cache, sv_site=None if args.no_steering_vectors else args.sv_site,
               passive=args.omp_passive)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
