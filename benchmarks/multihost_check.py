"""A sharded sweep across several processes, checked against the single-process sweep.

This is what a multi-host run looks like, played on one machine: ``--processes``
local processes (default 2), each with ``--devices`` CPU devices (default 2),
join one JAX runtime through ``jax.distributed.initialize``; ``sweep_mesh()``
then spans every device of every process, and ``steering_sweep(..., mesh=...)``
and ``final_steering_behaviour(..., mesh=...)`` run across all of them. Every
process builds the same inputs; each contributes the shards on its own
devices; the results are global arrays, gathered with
``jax.experimental.multihost_utils.process_allgather`` and compared with the
unsharded sweep on each process's own first device.

Run ``python benchmarks/multihost_check.py``; it prints one line per process
and exits non-zero if any comparison fails. On real hosts, start the same
program once per host with the coordinator's address, the number of
processes and each host's index (or let ``jax.distributed.initialize()`` read
them from the cluster environment: SLURM, Open MPI, Cloud TPU, Kubernetes).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

TOL = 1e-6  # relative to the largest output: float32 rounding differs with the per-device shapes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _relative(got, expected) -> float:
    import numpy as np

    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float(np.abs(got - expected).max() / max(1.0, np.abs(expected).max()))


def _process(process_id: int, processes: int, port: int) -> None:
    import jax

    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=processes,
                               process_id=process_id)
    import numpy as np
    from flax import nnx
    from jax.experimental import multihost_utils

    from steerbounds.numerics import (
        Transformer,
        TransformerConfig,
        final_steering_behaviour,
        make_steering,
        steering_sweep,
        sweep_mesh,
    )

    rng = np.random.default_rng(0)  # the same inputs in every process
    config = TransformerConfig.llama_style(vocab_size=50, d_model=16, n_layers=3, n_heads=4)
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Transformer(config, rngs=nnx.Rngs(0))))
    leaves, treedef = jax.tree_util.tree_flatten(abstract)
    local = jax.local_devices()[0]
    state = jax.tree_util.tree_unflatten(
        treedef, [jax.device_put(0.3 * rng.normal(size=x.shape).astype(np.float32) + (x.ndim == 1), local)
                  for x in leaves])
    tokens = rng.integers(0, config.vocab_size, size=(6, 9))
    mask = np.ones_like(tokens)
    mask[0, :4] = 0
    steering = make_steering(config, rng.normal(size=config.d_model), [1, 2])
    mesh = sweep_mesh(prompt_shards=2)
    worst = 0.0
    for n_coef in (8, 7):  # 8 divides the mesh; 7 is padded and cut back
        coefficients = np.linspace(-3, 3, n_coef)
        kw = dict(mask_bt=mask, return_h=True, chunk_size=1)
        with jax.default_device(local):
            plain = steering_sweep(graphdef, state, tokens, steering, coefficients, **kw)
        sharded = steering_sweep(graphdef, state, tokens, steering, coefficients, mesh=mesh, **kw)
        for a, b in zip(sharded, plain):
            if a is not None:
                got = np.asarray(multihost_utils.process_allgather(a, tiled=True))
                worst = max(worst, _relative(got, np.asarray(b)))
    logits, unembed, vector = rng.normal(size=(6, 50)), rng.normal(size=(50, 16)), rng.normal(size=16)
    coefficients = np.linspace(-2, 2, 8)
    with jax.default_device(local):
        plain_b = final_steering_behaviour(logits, unembed, vector, coefficients, [0, 1], [2, 3])
    sharded_b = final_steering_behaviour(logits, unembed, vector, coefficients, [0, 1], [2, 3], mesh=mesh)
    got = np.asarray(multihost_utils.process_allgather(sharded_b, tiled=True))
    worst = max(worst, _relative(got, np.asarray(plain_b)))
    print(f"process {process_id}/{processes}: {jax.device_count()} devices in the mesh "
          f"({jax.local_device_count()} local); max |sharded - unsharded| / max(1, max |unsharded|) = {worst:.2e}",
          flush=True)
    if not worst <= TOL:
        sys.exit(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--devices", type=int, default=2, help="CPU devices per process")
    parser.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.process_id is not None:
        _process(args.process_id, args.processes, args.port)
        return 0
    port = _free_port()
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={args.devices}")
    children = [
        subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--processes", str(args.processes),
                          "--process-id", str(i), "--port", str(port)], env=env)
        for i in range(args.processes)
    ]
    codes = [child.wait(timeout=900) for child in children]
    ok = all(code == 0 for code in codes)
    print("multi-process sweep matches the single-process sweep" if ok else f"FAILED: exit codes {codes}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
