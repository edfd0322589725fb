"""The one bridge from sympy expressions to JAX functions.

Every numeric function of the theory layer is obtained here from a derived
sympy expression (sympy2jax style: one lookup table from sympy node types to
``jax.numpy`` functions, and a tree walk that applies it). Nothing in the
numeric layer retypes a formula.

Besides elementwise expressions the walk understands indexed sums over the
competitors, the form in which docs/theory.md#helpfulness is stated: ``g[i]``,
``Sigma[i, j]``, ``Sigma[i, i]`` (a diagonal), ``KroneckerDelta(i, j)`` and
``Sum(..., (i, 1, k))``. Every index runs over ``1..k`` and becomes a trailing
array axis of length ``k``. Three patterns are evaluated in log space:
``log(Sum(exp(e), (i, 1, k)))`` and ``log(1 + Sum(exp(e), (i, 1, k)))`` become
a ``logsumexp`` over that axis and ``log(1 + exp(e))`` a softplus, so
probabilities that underflow in linear space keep full precision.

The compiled function broadcasts over leading batch axes explicitly (it never
relies on implicit rank promotion) and computes in the dtype of its inputs,
which the callers convert with :func:`~steerbounds.theory._validate.float_input`
(float64 when jax x64 is enabled, float32 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np
import sympy as sp

@jax.custom_jvp
def _atanh(x):
    """artanh, accurate to a few ulp on (-1, 1), with the derivative ``1/(1 - x^2)``.

    ``jnp.arctanh`` (and ``jnp.log1p`` for arguments near -0.4) lose about a
    hundred ulp on CPU; ``log1p`` of the positive argument ``2|x|/(1 - |x|)`` does not.
    The sign/abs form would differentiate to 0 at x = 0, so the derivative is given explicitly.
    """
    ax = jnp.abs(x)
    return jnp.sign(x) * 0.5 * jnp.log1p(2 * ax / (1 - ax))


@_atanh.defjvp
def _atanh_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _atanh(x), dx / ((1 - x) * (1 + x))


_UNARY: dict[type, Callable] = {
    sp.exp: jnp.exp,
    sp.log: jnp.log,
    sp.tanh: jnp.tanh,
    sp.atanh: _atanh,
    sp.sinh: jnp.sinh,
    sp.cosh: jnp.cosh,
    sp.Abs: jnp.abs,
    sp.sign: jnp.sign,
    sp.erf: jss.erf,
}
_NARY: dict[type, Callable] = {
    sp.Add: jnp.add,
    sp.Mul: jnp.multiply,
    sp.Max: jnp.maximum,
    sp.Min: jnp.minimum,
    sp.And: jnp.logical_and,
    sp.Or: jnp.logical_or,
}
_RELATIONAL: dict[type, Callable] = {
    sp.StrictGreaterThan: jnp.greater,
    sp.GreaterThan: jnp.greater_equal,
    sp.StrictLessThan: jnp.less,
    sp.LessThan: jnp.less_equal,
    sp.Eq: jnp.equal,
    sp.Ne: jnp.not_equal,
}


class _Tensor(NamedTuple):
    """A value during the walk: batch axes first, then one axis per free index."""

    value: jax.Array | float
    axes: tuple[sp.Symbol, ...]


def _rank(args: Sequence[sp.Basic], expr: sp.Basic) -> dict[sp.Basic, int]:
    ranks = {a: 0 for a in args}
    for node in expr.atoms(sp.Indexed):
        if node.base not in ranks:
            raise ValueError(f"{node.base} appears in the expression but is not an argument")
        ranks[node.base] = len(node.indices)
    return ranks


def lambdify(
    expr: sp.Basic, args: Sequence[sp.Basic], *, out_indices: Sequence[sp.Basic] = ()
) -> Callable[..., jax.Array]:
    """Compile ``expr`` into a JAX function of ``args`` (symbols and indexed bases).

    A plain symbol takes an array of batch shape; an indexed base used with
    ``n`` indices takes an array of shape ``batch + (k,) * n``. The result has
    shape ``batch + (k,) * len(out_indices)``, the free indices of ``expr`` in
    the order of ``out_indices``. The returned function is traceable by
    ``jax.jit`` and ``jax.vmap``.
    """
    expr = sp.sympify(expr)
    args = tuple(args)
    ranks = _rank(args, expr)
    size_symbols = {ix.upper for ix in expr.atoms(sp.Idx)} | {
        lim[2] for s in expr.atoms(sp.Sum) for lim in s.limits
    }
    out_indices = tuple(out_indices)

    def function(*arrays):
        if len(arrays) != len(args):
            raise TypeError(f"expected {len(args)} arrays for {args}, got {len(arrays)}")
        arrays = [jnp.asarray(a) for a in arrays]
        for a, s in zip(arrays, args):
            if a.ndim < ranks[s]:
                raise ValueError(f"{s} is used with {ranks[s]} indices but got an array of shape {a.shape}")
        ks = {a.shape[-1] for a, s in zip(arrays, args) if ranks[s] > 0}
        if len(ks) > 1:
            raise ValueError(f"indexed arguments disagree on the number of competitors: {sorted(ks)}")
        k = ks.pop() if ks else None
        batch = np.broadcast_shapes(*(a.shape[: a.ndim - ranks[s]] for a, s in zip(arrays, args)))
        env = {}
        for a, s in zip(arrays, args):
            core = a.shape[a.ndim - ranks[s] :]
            env[s] = jnp.broadcast_to(a, batch + core)
        walker = _Walker(env, len(batch), k, size_symbols)
        result = walker.eval(expr)
        missing = set(result.axes) - set(out_indices)
        if missing:
            raise ValueError(f"free indices {missing} not listed in out_indices {out_indices}")
        value = walker.align(result, out_indices)
        shape = batch + (k,) * len(out_indices)
        dtype = jnp.result_type(*arrays) if arrays else jnp.result_type(float)
        return jnp.broadcast_to(jnp.asarray(value, dtype=dtype), shape)

    function.__doc__ = f"JAX function of {args} compiled from the sympy expression {expr}."
    return function


class _Walker:
    def __init__(self, env, nb, k, size_symbols):
        self.env, self.nb, self.k, self.size_symbols = env, nb, k, size_symbols

    # -- axes bookkeeping -------------------------------------------------
    def align(self, t: _Tensor, axes: Sequence[sp.Basic]):
        """``t.value`` with trailing axes reordered/expanded to ``axes``."""
        value = t.value
        if not isinstance(value, jax.Array) or value.ndim == 0:
            return value
        cur = list(t.axes)
        extra = [a for a in axes if a not in cur]
        value = jnp.reshape(value, value.shape + (1,) * len(extra))
        cur += extra
        perm = tuple(range(self.nb)) + tuple(self.nb + cur.index(a) for a in axes)
        return jnp.transpose(value, perm)

    def combine(self, op, tensors: Sequence[_Tensor], *, fold: bool = True) -> _Tensor:
        """Apply ``op`` to aligned tensors: folded pairwise, or once on all of them."""
        axes: list = []
        for t in tensors:
            axes += [a for a in t.axes if a not in axes]
        values = [self.align(t, axes) for t in tensors]
        if not fold:
            return _Tensor(op(*values), tuple(axes))
        out = values[0]
        for v in values[1:]:
            out = op(out, v)
        return _Tensor(out, tuple(axes))

    def size(self, upper) -> int:
        if upper not in self.size_symbols or self.k is None:
            raise ValueError(f"cannot size the index range {upper}: no indexed argument fixes k")
        return self.k

    # -- the walk ---------------------------------------------------------
    def eval(self, e: sp.Basic) -> _Tensor:
        if e in self.env:
            return _Tensor(self.env[e], ())
        if e is sp.oo:
            return _Tensor(float("inf"), ())
        if e is sp.S.NegativeInfinity:
            return _Tensor(float("-inf"), ())
        if e is sp.true or e is sp.false:
            return _Tensor(bool(e), ())
        if e.is_Number or isinstance(e, sp.NumberSymbol):
            return _Tensor(float(e), ())
        if isinstance(e, sp.Indexed):
            return self.indexed(e)
        if isinstance(e, sp.Sum):
            return self.sum(e)
        if isinstance(e, sp.KroneckerDelta):
            a, b = e.args
            eye = jnp.eye(self.size(a.upper) if isinstance(a, sp.Idx) else self.k)
            return _Tensor(jnp.reshape(eye, (1,) * self.nb + eye.shape), (a, b))
        if isinstance(e, sp.log):
            lse = self.log_sum_exp(e.args[0])
            if lse is not None:
                return lse
        if isinstance(e, sp.Pow):
            return self.power(e)
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e)
        for table in (_NARY, _RELATIONAL):
            op = table.get(type(e))
            if op is not None:
                return self.combine(op, [self.eval(a) for a in e.args])
        op = _UNARY.get(type(e))
        if op is not None:
            (arg,) = e.args
            t = self.eval(arg)
            return _Tensor(op(t.value), t.axes)
        raise NotImplementedError(f"the sympy-to-JAX table has no entry for {type(e).__name__}: {e}")

    def indexed(self, e: sp.Indexed) -> _Tensor:
        value = self.env.get(e.base)
        if value is None:
            raise ValueError(f"{e.base} appears in the expression but is not an argument")
        indices = list(e.indices)
        if not all(isinstance(ix, (sp.Idx, sp.Symbol)) for ix in indices):
            raise NotImplementedError(f"only symbolic indices are supported, got {e}")
        if len(indices) == 2 and indices[0] == indices[1]:
            return _Tensor(jnp.diagonal(value, axis1=-2, axis2=-1), (indices[0],))
        if len(set(indices)) != len(indices):
            raise NotImplementedError(f"repeated indices beyond a matrix diagonal: {e}")
        return _Tensor(value, tuple(indices))

    def sum(self, e: sp.Sum) -> _Tensor:
        t = self.eval(e.function)
        for index, lower, upper in e.limits:
            if lower != 1:
                raise NotImplementedError(f"sums must run from 1 to k, got {e}")
            k = self.size(upper)
            if index in t.axes:
                axis = self.nb + t.axes.index(index)
                t = _Tensor(jnp.sum(t.value, axis=axis), tuple(a for a in t.axes if a != index))
            else:
                t = _Tensor(t.value * k, t.axes)
        return t

    def log_sum_exp(self, arg: sp.Basic) -> _Tensor | None:
        """log(Sum(exp(e))), log(1 + Sum(exp(e))) and log(1 + exp(e)) in log space, else None."""
        with_one = False
        if isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args:
            arg = arg.args[1] if arg.args[0] == sp.S.One else arg.args[0]
            with_one = True
        if with_one and isinstance(arg, sp.exp):
            t = self.eval(arg.args[0])
            return _Tensor(jnp.logaddexp(0.0, t.value), t.axes)
        if not (isinstance(arg, sp.Sum) and len(arg.limits) == 1 and isinstance(arg.function, sp.exp)):
            return None
        index, lower, upper = arg.limits[0]
        if lower != 1:
            return None
        t = self.eval(arg.function.args[0])
        if index not in t.axes:
            return None
        axis = self.nb + t.axes.index(index)
        lse = jss.logsumexp(t.value, axis=axis)
        if with_one:
            lse = jnp.logaddexp(0.0, lse)
        return _Tensor(lse, tuple(a for a in t.axes if a != index))

    def power(self, e: sp.Pow) -> _Tensor:
        base, exponent = e.args
        t = self.eval(base)
        if exponent.is_Integer:
            return _Tensor(jnp.power(t.value, int(exponent)), t.axes)
        if exponent == sp.Rational(1, 2):
            return _Tensor(jnp.sqrt(t.value), t.axes)
        if exponent == sp.Rational(-1, 2):
            return _Tensor(1.0 / jnp.sqrt(t.value), t.axes)
        if exponent.is_Number:
            return _Tensor(jnp.power(t.value, float(exponent)), t.axes)
        return self.combine(jnp.power, [t, self.eval(exponent)])

    def piecewise(self, e: sp.Piecewise) -> _Tensor:
        pieces = [(self.eval(expr), self.eval(cond)) for expr, cond in e.args]
        out = pieces[-1][0]
        for value, cond in reversed(pieces[:-1]):
            out = self.combine(jnp.where, [cond, value, out], fold=False)
        return out
