"""Number formatting shared by the report sections (report.md)."""

from __future__ import annotations

from typing import Any


def _f(x: Any, digits: int = 3) -> str:
    """A number in ``digits`` significant figures (scientific outside [1e-3, 1e4)); None as "n/a", bools as yes/no.

    >>> _f(None), _f(True), _f(0.000123), _f(2.5)
    ('n/a', 'yes', '1.23e-04', '2.5')
    """
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _pm(v: Any, se: Any) -> str:
    return f"{_f(v)} ± {_f(se, 2)}" if se is not None else _f(v)
