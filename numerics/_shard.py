"""Sweeps sharded over devices: the coefficient and prompt axes on a ``jax.sharding.Mesh``.

A sweep is embarrassingly parallel: every (coefficient, prompt) pair is
independent of every other. :func:`sweep_mesh` lays the available devices out
as a 2-D mesh with axes ``"coefficients"`` and ``"prompts"``; a sharded sweep
runs the single-device sweep (prefix caching and chunking included) under
``jax.shard_map`` on each device's block of coefficients and prompts, with no
communication between devices. Each device therefore computes the prefix of
its own prompts once (devices that share a prompt block repeat that prefix,
which is cheaper than exchanging it). Outputs are global ``jax.Array`` values
with a ``NamedSharding`` over the mesh.

Sizes that do not divide the mesh are padded (the last coefficient or prompt
repeated) and the padding is sliced off the outputs. In a multi-process run
(``jax.distributed.initialize``) every process passes the same full inputs;
each supplies the shards that live on its own devices.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ._forward import Steering

COEFFICIENT_AXIS = "coefficients"
PROMPT_AXIS = "prompts"


def sweep_mesh(devices=None, *, prompt_shards: int = 1) -> Mesh:
    """A 2-D device mesh ``(coefficients, prompts)`` for sharded sweeps.

    ``devices`` defaults to ``jax.devices()`` (every device of every process
    after ``jax.distributed.initialize``). ``prompt_shards`` devices split the
    prompts; the rest of the factorisation splits the coefficients. Pass the
    mesh as ``mesh=`` to :func:`steering_sweep` or :func:`final_steering_logits`.

    Args:
        devices: devices to lay out (default ``jax.devices()``).
        prompt_shards: how many devices split the prompts.

    Returns:
        a ``jax.sharding.Mesh`` with axes ``("coefficients", "prompts")``.

    >>> mesh = sweep_mesh()
    >>> mesh.axis_names, mesh.devices.shape == (len(jax.devices()), 1)
    (('coefficients', 'prompts'), True)
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("sweep_mesh: devices is empty; pass at least one device (e.g. jax.devices()).")
    if isinstance(prompt_shards, bool) or not isinstance(prompt_shards, int) or prompt_shards < 1:
        raise ValueError(f"sweep_mesh: prompt_shards must be a positive int, got {prompt_shards!r}.")
    if len(devices) % prompt_shards:
        raise ValueError(
            f"sweep_mesh: prompt_shards={prompt_shards} does not divide the {len(devices)} devices; "
            "choose a divisor of the device count."
        )
    grid = np.empty(len(devices), dtype=object)
    grid[:] = devices
    return Mesh(grid.reshape(len(devices) // prompt_shards, prompt_shards), (COEFFICIENT_AXIS, PROMPT_AXIS))


def mesh_shards(mesh, *, where: str) -> tuple[int, int]:
    """How many blocks the mesh splits the coefficients and the prompts into (an absent axis: 1)."""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh (see sweep_mesh), got {type(mesh).__name__}.")
    unknown = [name for name in mesh.axis_names if name not in (COEFFICIENT_AXIS, PROMPT_AXIS)]
    if unknown:
        raise ValueError(
            f"{where}: mesh axis {unknown[0]!r} is not one of {COEFFICIENT_AXIS!r}, {PROMPT_AXIS!r}; "
            "build the mesh with sweep_mesh() or name its axes so."
        )
    sizes = dict(mesh.shape)
    return sizes.get(COEFFICIENT_AXIS, 1), sizes.get(PROMPT_AXIS, 1)


def axis(mesh: Mesh, name: str) -> str | None:
    """``name`` if the mesh has that axis, else None (replicated along it)."""
    return name if name in mesh.axis_names else None


def place(x, sharding: NamedSharding) -> jax.Array:
    """``x`` as a global array with ``sharding`` (each process supplies its own devices' shards)."""
    if isinstance(x, jax.Array) and x.sharding == sharding:
        return x
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def pad_to(x, size: int, axis_index: int = 0):
    """Pad axis ``axis_index`` of a host array up to ``size`` by repeating its last entry."""
    x = np.asarray(x)
    extra = size - x.shape[axis_index]
    if extra == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis_index] = (0, extra)
    return np.pad(x, widths, mode="edge")


def round_up(n: int, k: int) -> int:
    return -(-n // k) * k


@functools.lru_cache(maxsize=64)
def sharded_sweep_function(sweep_fn, output_type, graphdef, mesh: Mesh, has_position_mask: bool, **static):
    """The jitted ``shard_map`` of ``sweep_fn`` over ``mesh`` (cached per static configuration).

    ``sweep_fn`` is ``numerics._sweep.sweep_coefficients`` and ``output_type``
    its result type ``SweepOutput``; the sweep passes them in, so that this
    module does not import the sweep that imports it.
    """
    c, b = axis(mesh, COEFFICIENT_AXIS), axis(mesh, PROMPT_AXIS)
    steering_spec = Steering(P(), P(), P(), P(b, None) if has_position_mask else None)
    out_specs = output_type(
        P(c, b, None) if static["return_logits"] else None,
        P(c, b, None) if static["return_h"] else None,
        P(c, None, b, None) if static["residual_layers"] else None,
    )

    def local(state, tokens_bt, mask_bt, steering, coefficients_c):
        return sweep_fn(graphdef, state, tokens_bt, mask_bt, steering, coefficients_c, **static)

    mapped = jax.shard_map(
        local, mesh=mesh, in_specs=(P(), P(b, None), P(b, None), steering_spec, P(c)), out_specs=out_specs
    )
    return jax.jit(mapped)


def run_sharded_sweep(graphdef, state, tokens_bt, mask_bt, steering, coefficients_c, *, sweep_fn, output_type, mesh,
                      chunk_size, **static):
    """Pad to the mesh, place the inputs, run :func:`sharded_sweep_function` and slice the padding off.

    ``sweep_fn`` and ``output_type``: as in :func:`sharded_sweep_function`. ``chunk_size`` is a callable ``(local_prompts, local_coefficients) -> int``
    (chunks are per device) or an int.
    """
    n_c, n_b = mesh_shards(mesh, where="steering_sweep")
    c_axis, b_axis = axis(mesh, COEFFICIENT_AXIS), axis(mesh, PROMPT_AXIS)
    n_coef, n_prompt = len(coefficients_c), tokens_bt.shape[0]
    c_pad, b_pad = round_up(n_coef, n_c), round_up(n_prompt, n_b)
    if callable(chunk_size):
        chunk_size = chunk_size(b_pad // n_b, c_pad // n_c)
    chunk_size = min(chunk_size, c_pad // n_c)
    rows = NamedSharding(mesh, P(b_axis, None))
    replicated = NamedSharding(mesh, P())
    has_position_mask = steering.position_mask_bt is not None
    steering = steering._replace(
        vectors_ld=place(steering.vectors_ld, replicated),
        layer_mask_l=place(steering.layer_mask_l, replicated),
        coefficient=place(steering.coefficient, replicated),
        position_mask_bt=place(pad_to(steering.position_mask_bt, b_pad), rows) if has_position_mask else None,
    )
    fn = sharded_sweep_function(sweep_fn, output_type, graphdef, mesh, has_position_mask, chunk_size=chunk_size,
                                **static)
    out = fn(
        jax.tree.map(lambda x: place(x, replicated), state),
        place(pad_to(tokens_bt, b_pad), rows),
        place(pad_to(mask_bt, b_pad), rows),
        steering,
        place(pad_to(np.asarray(coefficients_c, np.float32), c_pad), NamedSharding(mesh, P(c_axis))),
    )
    if (c_pad, b_pad) == (n_coef, n_prompt):
        return out
    return type(out)(
        None if out.logits_cbv is None else unpad(out.logits_cbv, (n_coef, n_prompt, None)),
        None if out.h_cbd is None else unpad(out.h_cbd, (n_coef, n_prompt, None)),
        None if out.residuals_clbd is None else unpad(out.residuals_clbd, (n_coef, None, n_prompt, None)),
    )


def unpad(x: jax.Array, sizes: tuple[int | None, ...]) -> jax.Array:
    """``x`` cut to ``sizes`` (None: whole axis).

    Shardings must divide the array evenly, so the cut array is gathered
    (replicated on every device of the mesh); sizes divisible by the mesh
    avoid the cut and keep the outputs sharded.
    """
    return x[tuple(slice(None) if n is None else slice(0, n) for n in sizes)]


@functools.lru_cache(maxsize=16)
def _jit_with_output_sharding(fn, sharding: NamedSharding):
    return jax.jit(fn, out_shardings=sharding)


def sharded_final(fn, x, w, coefficients_c, *, mesh: Mesh, prompt_axis_of_first: int = 0) -> jax.Array:
    """``fn(x, w, coefficients_c)``, whose output is (c, b, ...), sharded over the mesh's coefficient and prompt axes.

    ``x`` carries the prompts on axis ``prompt_axis_of_first`` (sharded along
    them), ``w`` is replicated, ``coefficients_c`` is sharded.
    """
    n_c, n_b = mesh_shards(mesh, where="final-layer sweep")
    c_axis, b_axis = axis(mesh, COEFFICIENT_AXIS), axis(mesh, PROMPT_AXIS)
    out_ndim = jax.eval_shape(fn, x, w, coefficients_c).ndim
    out_sharding = NamedSharding(mesh, P(c_axis, b_axis, *([None] * (out_ndim - 2))))
    if any(isinstance(a, jax.core.Tracer) for a in (x, w, coefficients_c)):
        return jax.lax.with_sharding_constraint(fn(x, w, coefficients_c), out_sharding)
    n_coef, n_prompt = coefficients_c.shape[0], x.shape[prompt_axis_of_first]
    c_pad, b_pad = round_up(n_coef, n_c), round_up(n_prompt, n_b)
    x_spec = [None] * x.ndim
    x_spec[prompt_axis_of_first] = b_axis
    out = _jit_with_output_sharding(fn, out_sharding)(
        place(pad_to(x, b_pad, prompt_axis_of_first), NamedSharding(mesh, P(*x_spec))),
        place(np.asarray(w), NamedSharding(mesh, P())),
        place(pad_to(coefficients_c, c_pad), NamedSharding(mesh, P(c_axis))),
    )
    if (c_pad, b_pad) == (n_coef, n_prompt):
        return out
    return unpad(out, (n_coef, n_prompt) + (None,) * (out_ndim - 2))
