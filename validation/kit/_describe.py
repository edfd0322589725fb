"""Readable text for measurements and instances in counterexample reports."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

_PRECISION = 6
_MAX_ITEMS = 40
_SUMMARIES: dict[type, object] = {}


def register_summary(kind: type, summary) -> None:
    """Describe instances of ``kind`` with ``summary(value) -> str`` instead of field by field.

    >>> class Box:
    ...     pass
    >>> register_summary(Box, lambda box: "a box")
    >>> describe(Box())
    'a box'
    """
    _SUMMARIES[kind] = summary


def format_index(index) -> str:
    """An element index as ``[i, j]`` (``[]`` for a scalar).

    >>> format_index((1, 2)), format_index(())
    ('[1, 2]', '[]')
    """
    if index is None:
        return "-"
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _array(value: np.ndarray) -> str:
    if value.dtype == np.bool_ or np.issubdtype(value.dtype, np.integer):
        return np.array2string(value, separator=", ", threshold=_MAX_ITEMS)
    return np.array2string(value, separator=", ", threshold=_MAX_ITEMS, max_line_width=100,
                           formatter={"float_kind": lambda x: f"{x:.{_PRECISION}g}"})


def describe(value, *, indent: int = 0) -> str:
    """``value`` as text: dataclass fields one per line, arrays rounded to 6 digits, long arrays elided.

    Dataclass fields declared with ``repr=False`` (e.g. model weights) are left out.

    >>> import numpy as np
    >>> print(describe(np.array([1 / 3, 2.0])))
    [0.333333, 2]
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: float
    ...     ys: np.ndarray
    >>> print(describe(Point(0.1 + 0.2, np.arange(3))))
    Point(
      x=0.3,
      ys=[0, 1, 2],
    )
    """
    pad = " " * indent
    summary = _SUMMARIES.get(type(value))
    if summary is not None:
        return summary(value).replace("\n", "\n" + pad)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        lines = [f"{type(value).__name__}("]
        for field in dataclasses.fields(value):
            if not field.repr:
                continue
            text = describe(getattr(value, field.name), indent=indent + 2)
            lines.append(f"{pad}  {field.name}={text},")
        lines.append(f"{pad})")
        return "\n".join(lines)
    if isinstance(value, np.ndarray):
        return _array(value).replace("\n", "\n" + pad + "  ")
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return repr(v) if not math.isfinite(v) else f"{v:.{_PRECISION}g}"
    if isinstance(value, tuple) and value and all(isinstance(v, np.ndarray) for v in value):
        return "(" + ", ".join(describe(v, indent=indent) for v in value) + ")"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {describe(v, indent=indent)}" for k, v in value.items())
        return "{" + inner + "}"
    return repr(value)
