"""Shared by the benchmarks: the machine's measured limits, FLOP and byte counts, memory, machine description."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile", "neon", "asimd", "sve")


# ----------------------------------------------------------------------------- the machine


def machine() -> dict:
    """CPU model, the vector extensions its flags advertise, cores, memory, platform."""
    cpu, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and cpu in ("", platform.processor()):
                cpu = value.strip()
            if key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = None
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "vector_extensions": [f for f in VECTOR_FLAGS if f in flags],
            "memory_gib": None if mem_gib is None else round(mem_gib, 1)}


def versions(names=("jax", "jaxlib", "flax", "numpy", "torch", "transformers", "steering-vectors", "steerbounds")):
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    try:
        out["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out["git_commit"] = None
    return out


def uptime() -> str | None:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------------- timing and memory


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def measure_memory(fn):
    """Run ``fn``; return (result, {peak RSS MiB during it, RSS MiB before, whether the peak is the call's own}).

    Freed heap goes back to the system first (``malloc_trim``) and the
    kernel's peak mark (VmHWM) is reset through ``/proc/self/clear_refs``;
    where that cannot be written, the peak is the process's lifetime peak.
    """
    import ctypes
    import resource

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    before = _status_kib("VmRSS") / 1024
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    result = fn()
    peak = _status_kib("VmHWM") / 1024 if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, {"peak_rss_mib": round(peak, 1), "rss_before_mib": round(before, 1), "section_peak": reset}


# ----------------------------------------------------------------------------- physical limits


# Square float32 matmuls timed for the peak: the best of these sizes is the machine's achieved peak. With the
# 2048^3 product alone, XLA ran the model's own 192 x 576 x 1536 products at more than twice that "peak".
PEAK_SIZES = (512, 1024, 2048)


def matmul_peak_torch(sizes=PEAK_SIZES, repeats: int = 5) -> float:
    """Best achieved float32 FLOP/s of n x n x n torch matmuls (2 n^3 operations), over ``sizes``."""
    import torch

    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        best = max(best, 2 * n**3 / min(timed(lambda: torch.mm(a, b))[1] for _ in range(repeats)))
    return best


def matmul_peak_jax(sizes=PEAK_SIZES, repeats: int = 5) -> float:
    """Best achieved float32 FLOP/s of n x n x n XLA matmuls, over ``sizes``."""
    import jax
    import jax.numpy as jnp

    mm = jax.jit(jnp.matmul)
    best = 0.0
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
        mm(a, b).block_until_ready()
        best = max(best, 2 * n**3 / min(timed(lambda: mm(a, b).block_until_ready())[1] for _ in range(repeats)))
    return best


def block_matrix_shapes(cfg) -> tuple[tuple[int, int], ...]:
    """(in, out) of every matrix of one block: q, k, v, o, then the MLP's (from the model config's shapes)."""
    hd = cfg.head_size
    attn = ((cfg.d_model, cfg.n_heads * hd), (cfg.d_model, cfg.n_kv_heads * hd), (cfg.d_model, cfg.n_kv_heads * hd),
            (cfg.n_heads * hd, cfg.d_model))
    mlp = ((cfg.d_model, cfg.d_ff),) * (2 if cfg.mlp == "swiglu" else 1) + ((cfg.d_ff, cfg.d_model),)
    return attn + mlp


def block_gemm_rate_jax(shapes, rows: int, repeats: int = 5) -> float:
    """FLOP/s of XLA running one block's matrix products (``shapes``, each x @ W on ``rows`` rows), best of repeats.

    The products are the model's own shapes, one compiled call for the whole block, without attention or
    element-wise work: what a block's matrices cost on this backend at this batch size.
    """
    import jax
    import jax.numpy as jnp

    key = jax.random.key(0)
    xs = [jax.random.normal(jax.random.fold_in(key, 2 * i), (rows, k), jnp.float32) for i, (k, _) in enumerate(shapes)]
    ws = [0.03 * jax.random.normal(jax.random.fold_in(key, 2 * i + 1), s, jnp.float32) for i, s in enumerate(shapes)]
    products = jax.jit(lambda xs, ws: [x @ w for x, w in zip(xs, ws)])
    jax.block_until_ready(products(xs, ws))
    flops = sum(2 * rows * k * n for k, n in shapes)
    inner = max(1, int(2e9 // flops))

    def run():
        for _ in range(inner):
            out = products(xs, ws)
        jax.block_until_ready(out)

    return inner * flops / min(timed(run)[1] for _ in range(repeats))


def block_gemm_rate_torch(shapes, rows: int, repeats: int = 5) -> float:
    """:func:`block_gemm_rate_jax` with torch: ``x @ W`` per matrix, ``W`` stored (in, out) as ours are.

    transformers' ``nn.Linear`` stores (out, in) and runs ``x @ W.T``; at 16 rows that layout measured slower
    on this machine (about 80 against 140 GFLOP/s), so this rate is the faster of the two: a bound for
    transformers' own products, not a measurement of them.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(rows, k, generator=gen) for k, _ in shapes]
    ws = [0.03 * torch.randn(k, n, generator=gen) for k, n in shapes]
    flops = sum(2 * rows * k * n for k, n in shapes)
    inner = max(1, int(2e9 // flops))

    def run():
        with torch.inference_mode():
            for _ in range(inner):
                for x, w in zip(xs, ws):
                    x @ w

    run()
    return inner * flops / min(timed(run)[1] for _ in range(repeats))


def copy_bandwidth(n_bytes: int = 1 << 29, repeats: int = 5) -> dict:
    """Best memory-copy bandwidth, bytes/s counted as read + write (2 x the array), with numpy and torch."""
    src = np.ones(n_bytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    numpy_bw = 2 * n_bytes / min(timed(lambda: np.copyto(dst, src))[1] for _ in range(repeats))
    out = {"numpy_bytes_per_s": numpy_bw}
    try:
        import torch

        a, b = torch.from_numpy(src), torch.from_numpy(dst)
        b.copy_(a)
        out["torch_bytes_per_s"] = 2 * n_bytes / min(timed(lambda: b.copy_(a))[1] for _ in range(repeats))
    except ImportError:
        pass
    del src, dst
    return out


# ----------------------------------------------------------------------------- worker processes


class Worker:
    """A benchmark section's own process (spawned, so each side holds only its own libraries and programs).

    ``target(conn, *args)`` first sends a ready message (kept as ``info``), then answers each message sent by
    :meth:`ask` until ``{"cmd": "stop"}``. ``env`` is set for the child only.
    """

    def __init__(self, target, *args, env=None):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        old = dict(os.environ)
        os.environ.update(env or {})
        try:
            self.process = ctx.Process(target=target, args=(child, *args), daemon=True)
            self.process.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        self.info = self._recv()

    def _recv(self):
        while not self.conn.poll(5.0):
            if not self.process.is_alive():
                raise RuntimeError(f"benchmark worker died (exit code {self.process.exitcode}); see its output above")
        return self.conn.recv()

    def ask(self, **msg):
        self.conn.send({"memory": False, "record": False, **msg})
        return self._recv()

    def stop(self):
        self.conn.send({"cmd": "stop"})
        self.process.join(60)


# ----------------------------------------------------------------------------- counting


def matmul_params_per_token(cfg) -> dict:
    """Multiply-adds per token of one block's matrices and of the unembedding (from the shapes)."""
    hd = cfg.head_size
    attn = cfg.d_model * (cfg.n_heads + 2 * cfg.n_kv_heads) * hd + cfg.n_heads * hd * cfg.d_model
    mlp = (3 if cfg.mlp == "swiglu" else 2) * cfg.d_model * cfg.d_ff
    return {"block": attn + mlp, "unembed": cfg.d_model * cfg.vocab_size}


def block_flops(cfg, tokens: float, context: float) -> float:
    """FLOPs of one block on ``tokens`` query tokens, each attending over ``context`` keys on average."""
    return 2 * tokens * matmul_params_per_token(cfg)["block"] + 4 * tokens * context * cfg.n_heads * cfg.head_size


def last_block_flops(cfg, kv_tokens: float, rows: float, context: float) -> float:
    """FLOPs of a last block that computes keys and values at ``kv_tokens`` positions and the rest (queries,
    attention over ``context`` keys, output, MLP) at ``rows`` last positions only."""
    kv = 2 * cfg.d_model * 2 * cfg.n_kv_heads * cfg.head_size  # per position
    return kv * kv_tokens + block_flops(cfg, rows, context) - kv * rows


def unembed_flops(cfg, rows: float) -> float:
    return 2 * rows * matmul_params_per_token(cfg)["unembed"]


def weight_bytes(cfg) -> int:
    """Bytes of every matrix a decode step reads once: the blocks' and the unembedding (float32 storage)."""
    per = matmul_params_per_token(cfg)
    return 4 * (cfg.n_layers * per["block"] + per["unembed"])
