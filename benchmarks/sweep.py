"""Coefficient sweeps: our jit+vmap prefix-cached sweep against transformers forward hooks.

What is compared, on the same weights and the same prompts:

* (a)  transformers (PyTorch, CPU) with forward hooks that add ``c v`` after
       the steered blocks, one forward pass per coefficient, logits at every
       position (how representation-engineering pipelines call the model);
* (a') the same, asking transformers for the last position's logits only
       (``logits_to_keep=1``): the strongest simple baseline;
* (b)  ``steerbounds.numerics.steering_sweep``: jit-compiled, vmapped over the
       coefficients, the unsteered prefix computed once.

Also measured, in the same run: the machine's float32 matmul peak (torch and
XLA, the larger is the limit) against which every section's achieved FLOP/s
(counted from the model's shapes) is reported; one unsteered full forward
pass of our model; and the analytic final-representation sweep
(``final_steering_logits`` at the behaviour tokens, reduced to the restricted
behaviour expectation) over many coefficients and prompts.

The weights are random (seeded), GPT-2 shaped, saved once as a Hugging Face
folder and loaded by transformers and by ``load_hf_checkpoint``. The two
frameworks run in two worker processes (so that each one's memory is its
own), driven in interleaved rounds: every round times every section once, so
that changes of machine load hit all of them alike. Times are medians over
the rounds; warm-up (compilation, first passes) is timed separately.

Run ``python benchmarks/sweep.py`` (GPT-2 small shape) or ``--small`` (a
one-minute smoke configuration); ``--help`` lists the knobs. Results are
printed as a table and written as JSON (default ``results/bench/``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT, Worker, block_flops, last_block_flops, machine, matmul_peak_jax, matmul_peak_torch, measure_memory, median, timed, unembed_flops,
    uptime, versions,
)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """One benchmark configuration (model shape, workload, repetitions)."""

    n_layers: int  # transformer blocks
    d_model: int  # residual width
    n_heads: int  # attention heads
    vocab_size: int  # vocabulary (GPT-2: 50257)
    max_len: int  # learned position table
    prompts: int  # prompts per sweep (b)
    tokens: int  # tokens per prompt (t), no padding
    coefficients: int  # coefficients per sweep (K), evenly spaced in [-c_max, c_max]
    c_max: float  # largest |c|
    layers: tuple[int, ...]  # steered layers S (residual stream after these blocks)
    repeats: int  # interleaved rounds; every time reported is a median over them
    analytic_coefficients: int  # coefficients of the analytic final-representation sweep
    analytic_prompts: int  # prompts of the analytic sweep
    analytic_tokens: int  # behaviour tokens (half A+, half A-) the analytic sweep evaluates
    chunk_size: int | None  # coefficients vmapped at once in (b); None: default_chunk_size
    torch_threads: int | None  # torch intra-op threads; None: torch's default (one per core)
    seed: int  # weights, prompts, steering vector

    @classmethod
    def full(cls, **overrides) -> BenchConfig:
        """GPT-2 small shape: 12 layers, d = 768, vocabulary 50257; 32 prompts x 64 tokens, 41 coefficients."""
        fields = dict(
            n_layers=12, d_model=768, n_heads=12, vocab_size=50257, max_len=1024, prompts=32, tokens=64,
            coefficients=41, c_max=5.0, layers=(3, 4, 5, 6, 7), repeats=3, analytic_coefficients=10_000,
            analytic_prompts=1_000, analytic_tokens=16, chunk_size=None, torch_threads=None, seed=0,
        )
        return cls(**{**fields, **overrides})

    @classmethod
    def small(cls, **overrides) -> BenchConfig:
        """A smoke configuration that runs in well under a minute (GPT-2 vocabulary, a narrow 4-layer model)."""
        fields = dict(
            n_layers=4, d_model=128, n_heads=4, vocab_size=50257, max_len=128, prompts=8, tokens=32,
            coefficients=11, c_max=5.0, layers=(1, 2), repeats=3, analytic_coefficients=2_000,
            analytic_prompts=200, analytic_tokens=16, chunk_size=None, torch_threads=None, seed=0,
        )
        return cls(**{**fields, **overrides})

    @property
    def name(self) -> str:
        return f"gpt2-L{self.n_layers}-d{self.d_model}-v{self.vocab_size}-seed{self.seed}"


# ----------------------------------------------------------------------------- memory


# ----------------------------------------------------------------------------- torch worker


def _make_checkpoint(cfg: BenchConfig, folder: Path) -> None:
    """Random GPT-2 weights (torch.manual_seed(seed)), saved as a Hugging Face folder."""
    import torch
    import transformers

    torch.manual_seed(cfg.seed)
    hf_cfg = transformers.GPT2Config(
        vocab_size=cfg.vocab_size, n_embd=cfg.d_model, n_layer=cfg.n_layers, n_head=cfg.n_heads,
        n_positions=cfg.max_len,
    )
    model = transformers.GPT2LMHeadModel(hf_cfg)
    tmp = folder.with_name(folder.name + ".partial")
    model.save_pretrained(tmp)
    (tmp / "bench.json").write_text(json.dumps(dataclasses.asdict(cfg) | {"kind": "checkpoint"}))
    tmp.rename(folder)


def _torch_worker(conn, cfg: BenchConfig, folder: str, tokens_bt, coefficients_c, vector_d, logits_dir: str):
    # PyTorch's default threading unless the driver was asked for OMP_WAIT_POLICY=PASSIVE (--omp-passive).
    import torch
    import transformers

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    threads = torch.get_num_threads()
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.from_numpy(np.asarray(tokens_bt, np.int64))
    mask = torch.ones_like(ids)
    vec = torch.from_numpy(np.asarray(vector_d, np.float32))
    coefficient = [0.0]

    def hook(module, inputs, output):
        if isinstance(output, tuple):
            return (output[0] + coefficient[0] * vec,) + tuple(output[1:])
        return output + coefficient[0] * vec

    for layer in cfg.layers:
        model.transformer.h[layer].register_forward_hook(hook)

    def one_pass(c: float, keep_last: bool):
        coefficient[0] = float(c)
        kw = {"logits_to_keep": 1} if keep_last else {}
        out = model(input_ids=ids, attention_mask=mask, use_cache=False, **kw)
        return out.logits[:, -1, :]

    def sweep(keep_last: bool, record: bool):
        passes, last = [], []
        for c in coefficients_c:
            w0 = time.perf_counter()
            z = one_pass(c, keep_last)
            passes.append(time.perf_counter() - w0)
            if record:
                last.append(z.numpy().copy())
        return passes, last

    conn.send({"ready": True, "torch_threads": threads, "attn_implementation": model.config._attn_implementation,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)")})
    with torch.inference_mode():
        while True:
            msg = conn.recv()
            if msg["cmd"] == "stop":
                break
            if msg["cmd"] == "peak":
                conn.send({"flops_per_s": matmul_peak_torch()})
                continue
            keep_last = msg["cmd"] == "a_last"
            if msg.get("warmup"):
                _, wall, cpu = timed(lambda: one_pass(coefficients_c[0], keep_last))
                conn.send({"warmup_s": wall})
                continue
            run = lambda: timed(lambda: sweep(keep_last, msg["record"]))  # noqa: E731
            if msg["memory"]:
                ((passes, last), wall, cpu), mem = measure_memory(run)
            else:
                (passes, last), wall, cpu = run()
                mem = None
            if last:
                np.save(Path(logits_dir) / f"{msg['cmd']}.npy", np.stack(last))
            conn.send({"wall_s": wall, "cpu_s": cpu, "passes_s": passes, "memory": mem})


# ----------------------------------------------------------------------------- jax worker


def _jax_worker(conn, cfg: BenchConfig, folder: str, tokens_bt, coefficients_c, vector_d, logits_dir: str):
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from steerbounds.numerics import (
        default_chunk_size,
        estimate_sweep_bytes,
        final_steering_behaviour,
        forward,
        load_hf_checkpoint,
        make_steering,
        steering_sweep,
    )
    from steerbounds.numerics._sweep import _SWEEP

    model = load_hf_checkpoint(folder)
    config = model.config
    graphdef, state = nnx.split(model)
    tokens = jnp.asarray(tokens_bt, jnp.int32)
    mask = jnp.ones(tokens.shape, bool)
    steering = make_steering(config, vector_d, cfg.layers)
    coefs = np.asarray(coefficients_c, np.float32)
    b, t = tokens.shape
    chunk = cfg.chunk_size or default_chunk_size(config, b, t, len(coefs))
    first = min(cfg.layers)

    def sweep():
        return steering_sweep(graphdef, state, tokens, steering, coefs, chunk_size=chunk).logits_cbv

    full_forward = jax.jit(lambda state, tokens: forward(graphdef, state, tokens).logits_btv[:, -1])

    # The analytic sweep: final-layer steering at the behaviour tokens, reduced to B = (P+ - P-)/(P+ + P-)
    # for every coefficient and prompt (the full-vocabulary logits would be c * b * |V| floats).
    rng = np.random.default_rng(cfg.seed + 1)
    k = cfg.analytic_tokens
    behaviour_ids = rng.choice(config.vocab_size, size=k, replace=False)
    h_bd = jnp.asarray(rng.normal(size=(cfg.analytic_prompts, config.d_model)), jnp.float32)
    unembed_vd = model.unembedding()[0]
    analytic_logits = jax.jit(lambda h: h @ unembed_vd.T)(h_bd)  # unsteered z = U h, outside the timing
    analytic_coefs = jnp.linspace(-cfg.c_max, cfg.c_max, cfg.analytic_coefficients, dtype=jnp.float32)
    vec = jnp.asarray(vector_d, jnp.float32)

    def analytic(logits_bv, unembed_vd, vector_d, coefficients_c):
        return final_steering_behaviour(logits_bv, unembed_vd, vector_d, coefficients_c, behaviour_ids[: k // 2],
                                        behaviour_ids[k // 2:])

    sections = {
        "b": sweep,
        "peak": lambda: None,
        "forward": lambda: full_forward(state, tokens),
        "analytic": lambda: analytic(analytic_logits, unembed_vd, vec, analytic_coefs),
    }
    memory_model = {
        "chunk_size": int(chunk),
        "estimate_bytes_per_coefficient": int(estimate_sweep_bytes(config, b, t)),
    }
    conn.send({"ready": True, "chunk_size": int(chunk), "devices": [str(d) for d in jax.devices()]})
    while True:
        msg = conn.recv()
        if msg["cmd"] == "stop":
            break
        name = msg["cmd"]
        fn = sections[name]
        if name == "peak":
            conn.send({"flops_per_s": matmul_peak_jax()})
            continue
        if msg.get("warmup"):
            out, wall, _ = timed(lambda: jax.block_until_ready(fn()))
            reply = {"warmup_s": wall}
            if name == "b":
                compiled = _SWEEP.lower(
                    graphdef, state, tokens, mask, steering, jnp.asarray(coefs), first_layer=first,
                    return_logits=True, return_h=False, residual_layers=(), chunk_size=min(chunk, len(coefs)),
                    cache_prefix=True,
                ).compile()
                analysis = compiled.memory_analysis()
                if analysis is not None:
                    memory_model["xla_temp_bytes"] = int(analysis.temp_size_in_bytes)
                    memory_model["xla_argument_bytes"] = int(analysis.argument_size_in_bytes)
                    memory_model["xla_output_bytes"] = int(analysis.output_size_in_bytes)
                reply["memory_model"] = memory_model
            conn.send(reply)
            continue
        run = lambda: timed(lambda: jax.block_until_ready(fn()))  # noqa: E731
        if msg["memory"]:
            (out, wall, cpu), mem = measure_memory(run)
        else:
            out, wall, cpu = run()
            mem = None
        if msg["record"] and name == "b":
            np.save(Path(logits_dir) / "b.npy", np.asarray(out))
        if msg["record"] and name == "analytic":
            reply_extra = {"analytic_range": [float(jnp.min(out)), float(jnp.max(out))]}
        else:
            reply_extra = {}
        conn.send({"wall_s": wall, "cpu_s": cpu, "memory": mem, **reply_extra})


# ----------------------------------------------------------------------------- driver


_SHORT = ("forward", "analytic")  # timed INNER times per round (single passes are short)
INNER = 3


def _measure(cfg: BenchConfig, torch_w: Worker, jax_w: Worker):
    warmup = {}
    for name in ("a", "a_last"):
        warmup[name] = torch_w.ask(cmd=name, warmup=True)["warmup_s"]
    memory_model = None
    for name in ("b", *_SHORT):
        reply = jax_w.ask(cmd=name, warmup=True)
        warmup[name] = reply["warmup_s"]
        memory_model = reply.get("memory_model", memory_model)
    print("warm-up done: " + ", ".join(f"{k} {v:.2f}s" for k, v in warmup.items()), flush=True)

    sections = [(torch_w, "a"), (torch_w, "a_last"), (jax_w, "b")] + [(jax_w, name) for name in _SHORT]
    rounds = {name: [] for _, name in sections}
    memory = {}
    analytic_range = None
    peaks = {"torch": [], "jax": []}
    for r in range(cfg.repeats):
        peaks["torch"].append(torch_w.ask(cmd="peak")["flops_per_s"])
        peaks["jax"].append(jax_w.ask(cmd="peak")["flops_per_s"])
        for worker, name in sections:
            for i in range(INNER if name in _SHORT else 1):
                first = r == 0 and i == 0
                reply = worker.ask(cmd=name, memory=first, record=first)
                rounds[name].append(reply)
                if reply.get("memory"):
                    memory[name] = reply["memory"]
                analytic_range = reply.get("analytic_range", analytic_range)
        print(f"round {r + 1}/{cfg.repeats} (wall/cpu s): "
              + ", ".join(f"{n} {rounds[n][-1]['wall_s']:.2f}/{rounds[n][-1]['cpu_s']:.2f}" for _, n in sections),
              flush=True)
    return warmup, memory_model, rounds, memory, analytic_range, peaks


def sweep_flops(cfg: BenchConfig) -> dict:
    """FLOPs of (a), (a') and (b), counted from the model's shapes (GPT-2 blocks)."""
    from steerbounds.numerics import TransformerConfig

    mc = TransformerConfig.gpt2_style(vocab_size=cfg.vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers,
                                      n_heads=cfg.n_heads, max_len=cfg.max_len)
    b, t, k, n, f = cfg.prompts, cfg.tokens, cfg.coefficients, cfg.n_layers, min(cfg.layers)
    full_block = block_flops(mc, b * t, (t + 1) / 2)
    last_block = last_block_flops(mc, b * t, b, t)
    a = k * (n * full_block + unembed_flops(mc, b * t))
    a_last = k * (n * full_block + unembed_flops(mc, b))
    stop = min(f + 1, n)
    ours = stop * full_block + k * (max(n - stop - 1, 0) * full_block + (last_block if stop < n else 0)
                                    + unembed_flops(mc, b))
    return {"a": a, "a_last": a_last, "b": ours, "forward": n * full_block + unembed_flops(mc, b)}


def run(cfg: BenchConfig, *, out_path: Path, cache: Path, xla_flags: str | None) -> dict:
    if xla_flags is not None:
        os.environ["XLA_FLAGS"] = xla_flags
    rng = np.random.default_rng(cfg.seed)
    tokens_bt = rng.integers(0, cfg.vocab_size, size=(cfg.prompts, cfg.tokens))
    vector_d = rng.normal(size=cfg.d_model)
    vector_d = vector_d / np.linalg.norm(vector_d)
    coefficients_c = np.linspace(-cfg.c_max, cfg.c_max, cfg.coefficients)
    folder = cache / cfg.name
    if folder.exists():
        saved = json.loads((folder / "bench.json").read_text())
        shape = ("n_layers", "d_model", "n_heads", "vocab_size", "max_len", "seed")
        if any(saved.get(key) != getattr(cfg, key) for key in shape):
            raise RuntimeError(f"{folder} holds another model; delete it or pass another --cache.")
    logits_dir = out_path.parent / (out_path.stem + "-logits")
    logits_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    uptime_start = uptime()
    t_start = time.time()

    if not folder.exists():
        print(f"creating the checkpoint {folder} ...", flush=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        maker = mp.get_context("spawn").Process(target=_make_checkpoint, args=(cfg, folder))
        maker.start()
        maker.join()
        if maker.exitcode:
            raise RuntimeError("creating the checkpoint failed")
    args = (cfg, str(folder), tokens_bt, coefficients_c, vector_d, str(logits_dir))
    torch_w = Worker(_torch_worker, *args)
    try:
        jax_w = Worker(_jax_worker, *args)
    except BaseException:
        torch_w.process.terminate()
        raise
    try:
        warmup, memory_model, rounds, memory, analytic_range, peaks = _measure(cfg, torch_w, jax_w)
        torch_info, jax_info = torch_w.info, jax_w.info
        torch_w.stop()
        jax_w.stop()
    finally:
        for worker in (torch_w, jax_w):
            if worker.process.is_alive():
                worker.process.terminate()

    # Agreement of the three sweeps at the last position (float32).
    a = np.load(logits_dir / "a.npy", mmap_mode="r")
    a_last = np.load(logits_dir / "a_last.npy", mmap_mode="r")
    b = np.load(logits_dir / "b.npy", mmap_mode="r")
    agreement = {
        "max_abs_b_minus_a_last": float(np.abs(b - a_last).max()),
        "max_abs_a_minus_a_last": float(np.abs(a - a_last).max()),
        "max_abs_logit": float(np.abs(a_last).max()),
        "same_argmax_fraction": float(np.mean(np.argmax(b, -1) == np.argmax(a_last, -1))),
    }
    for f in ("a.npy", "a_last.npy", "b.npy"):
        (logits_dir / f).unlink()
    logits_dir.rmdir()

    work = cfg.coefficients * cfg.prompts
    med = {name: median([x["wall_s"] for x in rs]) for name, rs in rounds.items()}
    cpu = {name: median([x["cpu_s"] for x in rs]) for name, rs in rounds.items()}
    peak = max(median(peaks["torch"]), median(peaks["jax"]))
    flops = sweep_flops(cfg)
    per_round_b_over_a = [ra["wall_s"] / rb["wall_s"] for ra, rb in zip(rounds["a"], rounds["b"])]
    per_round_b_over_a_last = [ra["wall_s"] / rb["wall_s"] for ra, rb in zip(rounds["a_last"], rounds["b"])]
    analytic_pairs = cfg.analytic_coefficients * cfg.analytic_prompts
    results = {
        "throughput_coefficient_prompts_per_s": {
            "a_hooks_all_positions": work / med["a"],
            "a_last_hooks_last_position": work / med["a_last"],
            "b_ours": work / med["b"],
            "analytic": analytic_pairs / med["analytic"],
        },
        "median_wall_s": med,
        "median_cpu_s": cpu,
        "median_torch_pass_s": {n: median([p for x in rounds[n] for p in x["passes_s"]]) for n in ("a", "a_last")},
        "speedup": {
            "b_over_a": med["a"] / med["b"],
            "b_over_a_last": med["a_last"] / med["b"],
            "b_over_a_per_round": per_round_b_over_a,
            "b_over_a_last_per_round": per_round_b_over_a_last,
            "b_over_a_cpu_time": cpu["a"] / cpu["b"],
            "b_over_a_last_cpu_time": cpu["a_last"] / cpu["b"],
        },
        "physical_limit": {
            "matmul_peak_flops_per_s": peak,
            "matmul_peak_torch_per_round": peaks["torch"],
            "matmul_peak_jax_per_round": peaks["jax"],
            "flops": flops,
            "achieved_flops_per_s": {name: flops[name] / med[name] for name in ("a", "a_last", "b", "forward")},
            "fraction_of_peak": {name: flops[name] / med[name] / peak for name in ("a", "a_last", "b", "forward")},
            "b_limit_s": flops["b"] / peak,
            "our_full_forward_s": med["forward"],
            "no_cache_estimate_s": cfg.coefficients * med["forward"],
        },
        "analytic": {
            "coefficients": cfg.analytic_coefficients,
            "prompts": cfg.analytic_prompts,
            "behaviour_tokens": cfg.analytic_tokens,
            "seconds": med["analytic"],
            "behaviour_range": analytic_range,
        },
        "warmup_s": warmup,
        "memory": memory,
        "memory_model": memory_model,
        "agreement": agreement,
        "rounds": rounds,
    }
    report = {
        "benchmark": "sweep",
        "config": dataclasses.asdict(cfg),
        "versions": versions(),
        "machine": machine(),
        "environment": {
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "torch_threads": torch_info["torch_threads"],
            "omp_wait_policy": torch_info["omp_wait_policy"],
            "torch_attn_implementation": torch_info["attn_implementation"],
            "jax_devices": jax_info["devices"],
            "chunk_size": jax_info["chunk_size"],
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
            "uptime_start": uptime_start,
            "uptime_end": uptime(),
            "elapsed_s": time.time() - t_start,
        },
        "results": results,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"wrote {out_path}")
    return report


def format_table(report: dict) -> str:
    cfg, res, env = report["config"], report["results"], report["environment"]
    med, cpu, thr, mem = res["median_wall_s"], res["median_cpu_s"], res["throughput_coefficient_prompts_per_s"], res["memory"]

    def peak(name):
        m = mem.get(name)
        return "" if not m else f"{m['peak_rss_mib']:.0f} (+{m['peak_rss_mib'] - m['rss_before_mib']:.0f})"

    rows = [
        ("(a)  hooks, logits at every position", "a", thr["a_hooks_all_positions"]),
        ("(a') hooks, last-position logits", "a_last", thr["a_last_hooks_last_position"]),
        ("(b)  ours: jit + vmap + prefix cache", "b", thr["b_ours"]),
    ]
    lines = [
        f"sweep benchmark: {cfg['n_layers']} layers, d={cfg['d_model']}, vocab {cfg['vocab_size']}; "
        f"{cfg['prompts']} prompts x {cfg['tokens']} tokens; {cfg['coefficients']} coefficients; "
        f"steering at layers {cfg['layers']}; medians of {cfg['repeats']} interleaved rounds (single passes {INNER} times a round)",
        f"load average at start {tuple(round(x, 2) for x in env['load_average_start'])}, "
        f"at end {tuple(round(x, 2) for x in env['load_average_end'])}; {report['machine']['cpu']} "
        f"({report['machine']['cpu_count']} CPUs; vector extensions {' '.join(report['machine']['vector_extensions'])}); "
        f"chunk size {env['chunk_size']}; XLA_FLAGS={env['xla_flags']!r}; XLA threads "
        f"{report['machine']['affinity_cpus']} (one per usable core); torch threads {env['torch_threads']} "
        f"(OMP_WAIT_POLICY={env['omp_wait_policy']})",
        "",
        f"{'section':<40} {'wall s':>9} {'cpu s':>9} {'coef-prompts/s':>15} {'peak RSS MiB (+section)':>24}",
    ]
    for label, key, throughput in rows:
        lines.append(f"{label:<40} {med[key]:>9.3f} {cpu[key]:>9.3f} {throughput:>15.1f} {peak(key):>24}")
    sp, lim, an = res["speedup"], res["physical_limit"], res["analytic"]
    lines += [
        "",
        f"speed-up b/a  = {sp['b_over_a']:.2f}x (per round {', '.join(f'{x:.2f}' for x in sp['b_over_a_per_round'])}; "
        f"cpu time {sp['b_over_a_cpu_time']:.2f}x)   target (full configuration) >= 2",
        f"speed-up b/a' = {sp['b_over_a_last']:.2f}x (per round "
        f"{', '.join(f'{x:.2f}' for x in sp['b_over_a_last_per_round'])}; cpu time {sp['b_over_a_last_cpu_time']:.2f}x)"
        "   target (full configuration) >= 1.3",
        f"physical limit: matmul peak {lim['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s measured in this run; "
        "achieved (counted FLOPs / time): " + ", ".join(
            f"{k} {lim['achieved_flops_per_s'][k] / 1e9:.1f} GFLOP/s = {100 * lim['fraction_of_peak'][k]:.0f}%"
            for k in ("a", "a_last", "b", "forward")) + "   target for b >= 70%",
        f"(b) at the peak would take {lim['b_limit_s']:.2f}s; it took {med['b']:.2f}s",
        f"our unsteered full forward: {lim['our_full_forward_s']:.3f}s/pass (no prefix cache: about "
        f"{lim['no_cache_estimate_s']:.1f}s for the sweep)",
        f"analytic final-representation sweep: {an['coefficients']} coefficients x {an['prompts']} prompts "
        f"({an['behaviour_tokens']} behaviour tokens) in {an['seconds']:.3f}s = {thr['analytic']:.3g} "
        f"coefficient-prompts/s; peak RSS {peak('analytic')} MiB   target (full configuration) < 1 s",
        "warm-up (excluded): " + ", ".join(f"{k} {v:.2f}s" for k, v in res["warmup_s"].items()),
        f"agreement at the last position: max |b - a'| = {res['agreement']['max_abs_b_minus_a_last']:.2e}, "
        f"max |a - a'| = {res['agreement']['max_abs_a_minus_a_last']:.2e} (logits up to "
        f"{res['agreement']['max_abs_logit']:.1f}); same argmax {res['agreement']['same_argmax_fraction']:.3f}",
    ]
    mm = res["memory_model"] or {}
    if "xla_temp_bytes" in mm:
        lines.append(
            f"memory model of (b): chunk {mm['chunk_size']}, estimate {mm['estimate_bytes_per_coefficient'] / 2**20:.0f} "
            f"MiB/coefficient; XLA temporaries {mm['xla_temp_bytes'] / 2**20:.0f} MiB, arguments "
            f"{mm['xla_argument_bytes'] / 2**20:.0f} MiB, outputs {mm['xla_output_bytes'] / 2**20:.0f} MiB"
        )
    lines.append("peak RSS: VmHWM of the worker process during the section (reset before it); "
                 "(+n): rise over the RSS at the section's start")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="the one-minute smoke configuration")
    parser.add_argument("--repeats", type=int, help="interleaved rounds (medians over them)")
    parser.add_argument("--prompts", type=int)
    parser.add_argument("--tokens", type=int)
    parser.add_argument("--coefficients", type=int)
    parser.add_argument("--chunk-size", type=int, help="coefficients vmapped at once in (b) (default: from memory)")
    parser.add_argument("--analytic-coefficients", type=int)
    parser.add_argument("--analytic-prompts", type=int)
    parser.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: one per core)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", type=Path, help="JSON output (default results/bench/sweep[-small].json)")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "bench" / "checkpoints",
                        help="where the random checkpoint folders are kept")
    parser.add_argument("--xla-flags", help="XLA_FLAGS for the JAX worker (default: the environment's)")
    parser.add_argument("--omp-passive", action="store_true", help="run torch with OMP_WAIT_POLICY=PASSIVE")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in dict(
            repeats=args.repeats, prompts=args.prompts, tokens=args.tokens, coefficients=args.coefficients,
            chunk_size=args.chunk_size, analytic_coefficients=args.analytic_coefficients,
            analytic_prompts=args.analytic_prompts, torch_threads=args.torch_threads, seed=args.seed,
        ).items()
        if value is not None
    }
    cfg = (BenchConfig.small if args.small else BenchConfig.full)(**overrides)
    for key in ("repeats", "prompts", "tokens", "coefficients", "analytic_coefficients", "analytic_prompts"):
        if getattr(cfg, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")
    out = args.out or ROOT / "results" / "bench" / ("sweep-small.json" if args.small else "sweep.json")
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # inherited by the spawned torch worker
    return run(cfg, out_path=out, cache=args.cache, xla_flags=args.xla_flags)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
