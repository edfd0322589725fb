"""Input validation shared by every layer.

Each helper checks one kind of argument and raises an exception that names the
argument, says what was wrong and how to fix it. Checks that need values (NaN,
ranges, positive semi-definiteness) run on concrete inputs; under
``jax.jit`` or ``jax.vmap`` the arrays are tracers, the shapes are still checked
and the value checks are staged with ``jax.experimental.checkify`` when the
call runs inside :func:`steerbounds.checked` (without it they are skipped).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._checked import staged


def float_dtype() -> np.dtype:
    """The dtype the theory layer computes in: float64 when jax x64 is on, else float32."""
    return np.dtype(jnp.result_type(float))


def is_concrete(x) -> bool:
    """Whether ``x`` holds values (it is not a tracer inside ``jax.jit``).

    >>> import jax, jax.numpy as jnp
    >>> seen = []
    >>> _ = jax.jit(lambda x: seen.append(is_concrete(x)) or x)(jnp.ones(2))
    >>> is_concrete(jnp.ones(2)), seen
    (True, [False])
    """
    return not isinstance(x, jax.core.Tracer)


def as_float_array(name: str, x, *, min_ndim: int = 0) -> jax.Array:
    """``x`` as a JAX array in the computing dtype, finite, with at least ``min_ndim`` axes.

    Under ``jax.jit`` or ``jax.vmap`` (a traced ``x``) the dtype and shape are still checked and the finiteness check is
    staged: it raises inside :func:`steerbounds.checked` and is skipped otherwise.

    >>> as_float_array("r", [1, 2]).shape
    (2,)
    >>> as_float_array("r", [1.0, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: r contains NaN or inf (first at index (1,), value nan)...
    """
    return jnp.asarray(float_input(name, x, min_ndim=min_ndim))


_FINITE_HINTS = {
    "logits_bv": "pass finite logits (leave unwanted tokens out of token_ids instead of giving them -inf logits)",
    "logits": "pass finite logits (leave unwanted tokens out of the token sets instead of giving them -inf logits)",
}


def finite_hint(name: str) -> str:
    """How to fix a NaN or inf in argument ``name``."""
    return _FINITE_HINTS.get(name, f"pass finite numbers for {name}")


def float_input(name: str, x, *, min_ndim: int = 0) -> np.ndarray | jax.Array:
    """As :func:`as_float_array`, but a concrete input stays a numpy array.

    The theory layer's jitted kernels take numpy arrays directly, which avoids an
    eager device transfer per argument; traced inputs stay tracers (their
    finiteness is checked under :func:`steerbounds.checked`).
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(x).__name__}")
    if is_concrete(x):
        try:
            host = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a number or an array of numbers: {err}") from None
        if host.dtype == object or not (
            np.issubdtype(host.dtype, np.number) or np.issubdtype(host.dtype, np.bool_)
        ):
            raise TypeError(f"{name} must hold numbers, got dtype {host.dtype}")
        if np.iscomplexobj(host):
            raise TypeError(f"{name} must be real, got dtype {host.dtype}")
        bad = ~np.isfinite(host)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} contains NaN or inf (first at index {where}, value {host[where]}); {finite_hint(name)}"
            )
    array = np.asarray(host, dtype=float_dtype()) if is_concrete(x) else jnp.asarray(x, dtype=float_dtype())
    if not is_concrete(x):
        staged_check(jnp.all(jnp.isfinite(array)), f"{name} contains NaN or inf; {finite_hint(name)}")
    if array.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} axes, got shape {array.shape}")
    return array


def check_array(where: str, name: str, x, *, ndim: int | None = None, finite: bool = True, integer: bool = False,
                host: bool = False):
    """``x`` checked as a real (``integer``: integer) array with ``ndim`` axes, finite unless ``finite=False``.

    Under ``jax.jit`` or ``jax.vmap`` (a traced ``x``) the dtype and shape are still checked and the finiteness check is
    staged: it raises inside :func:`steerbounds.checked` and is skipped otherwise.

    Returns a numpy array with ``host=True`` (for host code), else a JAX array of the same dtype.

    >>> check_array("fit", "c", [0.0, 1.0], ndim=1, host=True)
    array([0., 1.])
    >>> check_array("fit", "c", [[0.0]], ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: fit: c must have 1 axes, got shape (1, 1)
    """
    array = check_finite(name, x, where=where, finite=finite, host=host)
    label = f"{where}: {name}" if where else name
    if integer and not np.issubdtype(np.dtype(array.dtype), np.integer) and np.dtype(array.dtype) != np.bool_:
        raise TypeError(f"{label} must hold integers, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{label} must have {ndim} axes, got shape {tuple(array.shape)}")
    return array


def check_finite(name: str, x, *, where: str = "", finite: bool = True, host: bool = False) -> jax.Array:
    """``x`` as a real JAX array, unchanged in dtype; raise on NaN/inf (staged under tracing).

    Under ``jax.jit`` or ``jax.vmap`` (a traced ``x``) the dtype and shape are still checked and the finiteness check is
    staged: it raises inside :func:`steerbounds.checked` and is skipped otherwise.

    ``where`` prefixes messages with the function's name; ``finite=False`` checks the dtype only.

    >>> check_finite("logits_bv", [0.0, 1.0]).shape
    (2,)
    >>> check_finite("logits_bv", [0.0, float("inf")], where="steering_sweep")
    Traceback (most recent call last):
    ...
    ValueError: steering_sweep: logits_bv contains NaN or inf (first at index (1,), value inf)...
    """
    label = f"{where}: {name}" if where else name
    keep_host = host
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{label} must be an array of numbers, got {type(x).__name__}")
    if is_concrete(x):
        try:
            host = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{label} must be an array of numbers: {err}") from None
        if host.dtype == object or not (np.issubdtype(host.dtype, np.number) or host.dtype == np.bool_) \
                or np.iscomplexobj(host):
            if host.dtype.name != "bfloat16":
                raise TypeError(f"{label} must hold real numbers, got dtype {host.dtype}")
        bad = ~np.isfinite(host.astype(np.float32) if host.dtype.name == "bfloat16" else host)
        if finite and bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{label} contains NaN or inf (first at index {at}, value {host[at]}); {finite_hint(name)}")
        return host if keep_host else jnp.asarray(x)
    array = jnp.asarray(x)
    if not (jnp.issubdtype(array.dtype, jnp.floating) or jnp.issubdtype(array.dtype, jnp.integer)
            or array.dtype == jnp.bool_):
        raise TypeError(f"{label} must hold real numbers, got dtype {array.dtype}")
    if finite and jnp.issubdtype(array.dtype, jnp.floating):  # integers and booleans are always finite
        staged_check(jnp.all(jnp.isfinite(array)), f"{label} contains NaN or inf; {finite_hint(name)}")
    return array


def check_open_interval(name: str, x: jax.Array, lo: float, hi: float, fix: str, *, original=None) -> None:
    """Raise unless every value of ``x`` lies strictly inside ``(lo, hi)`` (staged under tracing).

    ``original`` is the argument as passed, before conversion to the computing
    dtype: a value inside the interval that float32 rounds onto a bound gets a
    message saying so and how to compute in float64.
    """
    if not is_concrete(x):
        staged_check(jnp.all((x > lo) & (x < hi)), f"{name} must lie strictly inside ({lo}, {hi}). {fix}")
        return
    host = np.asarray(x)
    bad = ~((host > lo) & (host < hi))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        found = f"found {float(host[where])!r} at index {where}"
        if original is not None and is_concrete(original):
            before = np.broadcast_to(np.asarray(original, dtype=np.float64), host.shape)[where]
            if lo < before < hi:
                found = (
                    f"found {float(before)!r} at index {where}, which rounds to {float(host[where])!r} in {host.dtype} "
                    "(jax x64 is off); enable float64 with jax.config.update('jax_enable_x64', True)"
                )
        raise ValueError(f"{name} must lie strictly inside ({lo}, {hi}); {found}. {fix}")


def check_positive(name: str, x: jax.Array, fix: str, *, allow_zero: bool = False) -> None:
    """Raise unless every value of ``x`` is > 0 (or >= 0 with ``allow_zero``); staged under tracing."""
    if not is_concrete(x):
        word = "non-negative" if allow_zero else "positive"
        staged_check(jnp.all(x >= 0 if allow_zero else x > 0), f"{name} must be {word}. {fix}")
        return
    host = np.asarray(x)
    bad = host < 0 if allow_zero else host <= 0
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        word = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {word}; found {host[where]!r} at index {where}. {fix}")


def token_ids(name: str, ids, vocab_size: int) -> np.ndarray:
    """A non-empty, duplicate-free 1-D array of token ids in ``[0, vocab_size)`` (public as ``check_token_ids``).

    Token ids choose array rows, so they must be concrete: a traced array inside ``jax.jit`` is refused
    with a ``TypeError`` (pass them as a static list).

    >>> token_ids("aligned_ids", [3, 1], vocab_size=5)
    array([3, 1], dtype=int32)
    >>> token_ids("aligned_ids", [3, 3], vocab_size=5)
    Traceback (most recent call last):
    ...
    ValueError: aligned_ids repeats token id 3; list every token once
    """
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of integer token ids, got a string")
    if not is_concrete(ids):
        raise TypeError(f"{name} must be concrete token ids (a list or numpy array), not a traced array")
    host = np.asarray(ids)
    if host.ndim == 0:
        host = host.reshape(1)
    if host.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {host.shape}")
    if host.size == 0:
        raise ValueError(f"{name} is empty; pass at least one token id")
    if not np.issubdtype(host.dtype, np.integer):
        raise TypeError(f"{name} must hold integer token ids, got dtype {host.dtype}")
    out_of_range = (host < 0) | (host >= vocab_size)
    if out_of_range.any():
        raise ValueError(
            f"{name} holds token id {int(host[out_of_range][0])}, outside the vocabulary "
            f"[0, {vocab_size}); pass ids of tokens the logits cover"
        )
    unique, counts = np.unique(host, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} repeats token id {int(unique[counts > 1][0])}; list every token once")
    return host.astype(np.int32)


def check_disjoint(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise if the token sets ``a`` and ``b`` share an id.

    A host-side check of concrete ids: call it outside ``jax.jit`` (the sets fix which rows are read).

    >>> import numpy as np
    >>> check_disjoint("aligned_ids", np.array([1]), "misaligned_ids", np.array([2]))  # no error
    >>> check_disjoint("aligned_ids", np.array([1]), "misaligned_ids", np.array([1]))
    Traceback (most recent call last):
    ...
    ValueError: aligned_ids and misaligned_ids overlap (token 1 is in both)...
    """
    shared = np.intersect1d(a, b)
    if shared.size:
        raise ValueError(
            f"{name_a} and {name_b} overlap (token {int(shared[0])} is in both); "
            "a token is either aligned or misaligned, remove it from one set"
        )


def broadcast_batch(parts: Sequence[tuple[str, jax.Array, int]]) -> tuple[int, ...]:
    """The common batch shape of ``(name, array, core_ndim)`` parts.

    Each array's batch shape is its shape without the last ``core_ndim`` axes.
    Raises a ValueError naming the arguments whose batch shapes do not broadcast.
    """
    shapes = []
    for name, array, core in parts:
        if array.ndim < core:
            raise ValueError(f"{name} must have at least {core} axes, got shape {array.shape}")
        shapes.append(array.shape[: array.ndim - core])
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        described = ", ".join(f"{n} {s}" for (n, _, _), s in zip(parts, shapes))
        raise ValueError(
            f"batch shapes do not broadcast: {described}; give the arguments matching "
            "leading (batch) axes or axes of size 1"
        ) from None


def covariance(cov, k: int) -> tuple[jax.Array, str]:
    """Classify and check a covariance for ``k`` competitors (assumption A2's Sigma).

    Under ``jax.jit`` or ``jax.vmap`` (a traced ``cov``) its kind and shape are still checked and the value checks are
    staged: it raises inside :func:`steerbounds.checked` and is skipped otherwise.

    Returns ``(array, kind)`` with kind ``"scalar"`` (``()``, sigma squared),
    ``"diagonal"`` (``(k,)``) or ``"full"`` (``(..., k, k)``, batched). Public as ``check_covariance``.

    >>> import numpy as np
    >>> covariance(np.eye(3), 3)[1], covariance(0.5, 3)[1]
    ('full', 'scalar')
    """
    array = float_input("cov", cov)
    if array.ndim == 0:
        kind = "scalar"
    elif array.ndim == 1:
        kind = "diagonal"
        if array.shape[0] != k:
            raise ValueError(
                f"cov has shape {array.shape} but gaps has k={k} competitors; a diagonal "
                f"covariance needs shape ({k},)"
            )
    else:
        kind = "full"
        if array.shape[-2:] != (k, k):
            raise ValueError(
                f"cov has shape {array.shape} but gaps has k={k} competitors; a full covariance "
                f"needs shape (..., {k}, {k}) (use shape ({k},) for a diagonal, () for sigma squared)"
            )
    if kind != "full":
        check_positive("cov", array, "a variance cannot be negative", allow_zero=True)
    elif not is_concrete(array):
        sym = jnp.max(jnp.abs(array - jnp.swapaxes(array, -1, -2)), initial=0.0)
        scale = jnp.max(jnp.abs(array), initial=0.0)
        staged_check(sym <= 1e-9 * scale, "cov is not symmetric; pass a symmetric covariance, e.g. (cov + cov.T) / 2")
        eig = jnp.linalg.eigvalsh((array + jnp.swapaxes(array, -1, -2)) / 2)
        top = jnp.max(jnp.abs(eig), axis=-1)
        staged_check(jnp.all(eig.min(axis=-1) >= -1e-9 * top),
                     "cov is not positive semi-definite; pass a covariance matrix, e.g. A @ A.T")
    else:
        host = np.asarray(array)
        scale = max(float(np.abs(host).max(initial=0.0)), np.finfo(np.float64).tiny)
        asym = np.abs(host - np.swapaxes(host, -1, -2)).max(initial=0.0)
        if asym > 1e-9 * scale:
            raise ValueError(
                f"cov is not symmetric (largest |cov - cov.T| = {asym:.3g}); pass a symmetric "
                "covariance, e.g. (cov + cov.T) / 2"
            )
        eig = np.linalg.eigvalsh(host)
        low = eig.min(axis=-1)
        bad = low < -1e-9 * np.maximum(np.abs(eig).max(axis=-1), scale * 1e-300)
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0]) if bad.ndim else ()
            raise ValueError(
                f"cov is not positive semi-definite (smallest eigenvalue {np.min(low):.3g}"
                f"{' at batch index ' + str(where) if where else ''}); pass a covariance "
                "matrix, e.g. A @ A.T"
            )
    return array, kind


def elementwise_arrays(**named) -> tuple[jax.Array, ...]:
    """Finite float arrays for elementwise arguments whose shapes must broadcast together."""
    arrays = {name: float_input(name, value) for name, value in named.items()}
    broadcast_batch([(name, array, 0) for name, array in arrays.items()])
    return tuple(arrays.values())


def staged_check(ok, message: str) -> None:
    """Under tracing: a ``checkify`` check, raised by :func:`steerbounds.checked` (a no-op without it).

    Values are unknown while tracing, so the message names the argument and the
    rule but no value.
    """
    staged(ok, message)


def prng_key(name: str, key, *, allow_none: bool = False) -> jax.Array:
    """A typed PRNG key from ``key``: an int seed, a ``jax.random.key`` or a raw uint32 key (None: seed 0 if allowed).

    Under ``jax.jit`` a traced typed key passes through unchanged (an int seed is a Python value, read at
    trace time).

    >>> prng_key("key", 0).shape
    ()
    >>> prng_key("key", True)
    Traceback (most recent call last):
    ...
    TypeError: key must be an int seed or a jax.random.key(...), got True
    """
    if key is None and allow_none:
        return jax.random.key(0)
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int seed or a jax.random.key(...), got {key!r}")
    if isinstance(key, (int, np.integer)):
        if not 0 <= int(key) < 2**63:
            raise ValueError(f"{name} as an int seed must lie in [0, 2**63), got {key}")
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.ndim != 0:
            raise ValueError(f"{name} must be a single key, got an array of keys with shape {key.shape}; pass one of them")
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))
    raise TypeError(
        f"{name} must be an int seed or a jax.random.key(seed), got {type(key).__name__}"
        f"{' of shape ' + str(getattr(key, 'shape', '')) if hasattr(key, 'shape') else ''}; e.g. {name}=0 or "
        f"{name}=jax.random.key(0)"
    )


def positive_int(where: str, name: str, value, *, allow_none: bool = False) -> None:
    """Raise unless ``value`` is an int > 0 (or None when allowed).

    A check of a Python value: under ``jax.jit`` it runs once, at trace time (pass the value as static).

    >>> positive_int("steering_sweep", "chunk_size", 4)  # no error
    >>> positive_int("steering_sweep", "chunk_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: steering_sweep: chunk_size must be a positive integer, got 0
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")


def instance_of(where: str, name: str, value, kind: type, example: str) -> None:
    """Raise a TypeError naming ``name`` unless ``value`` is a ``kind``.

    A check of a Python object: under ``jax.jit`` it runs once, at trace time.

    >>> instance_of("forward", "config", 3, dict, "{}")
    Traceback (most recent call last):
    ...
    TypeError: forward: config must be a dict (e.g. {}), got int
    """
    if not isinstance(value, kind):
        raise TypeError(f"{where}: {name} must be a {kind.__name__} (e.g. {example}), got {type(value).__name__}")
