"""Curve fits of the paper's forms, with parameter standard errors.

* Behaviour against the coefficient: ``tanh(a c + b0)`` (THEORY.md section 2; the
  theory predicts ``a ~ kappa Delta / 2`` and ``b0 = artanh B_0``).
* P(correct) against the coefficient: the bell ``1 / (1 + a + a (b^2/2) c^2)``
  (C2.2, the second-order expansion of T2a's bound, with ``a = (1 - p_0)/p_0``
  and ``b ~ sigma kappa``), and for four-option restricted helpfulness its
  version with a chance floor ``0.5 / (1 + a + a (b^2/2) c^2) + 0.25``.

Fits use ``scipy.optimize.curve_fit``; standard errors are the square roots of
the diagonal of its covariance (scaled by the residual variance, since the
measured means carry no absolute error model).
"""

from __future__ import annotations

from steerbounds.theory._validate import check_array

import warnings
from typing import Any, Callable

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit


def tanh_curve(c: np.ndarray, a: float, b0: float) -> np.ndarray:
    """The S-curve ``tanh(a c + b0)`` fitted to behaviour against the coefficient.

    >>> float(tanh_curve(0.0, 1.0, 0.5).round(6))
    0.462117
    """
    c = check_array("tanh_curve", "c", c, host=True)
    check_array("tanh_curve", "a", a, ndim=0)
    check_array("tanh_curve", "b0", b0, ndim=0)
    return np.tanh(a * np.asarray(c, dtype=np.float64) + b0)


def bell_curve(c: np.ndarray, a: float, b: float, *, restricted: bool = False) -> np.ndarray:
    """The bell ``1/(1 + a + a (b^2/2) c^2)`` (C2.2); ``restricted`` gives ``0.5/(...) + 0.25``.

    >>> float(bell_curve(0.0, 1.0, 1.0)), float(bell_curve(0.0, 1.0, 1.0, restricted=True))
    (0.5, 0.5)
    """
    c = check_array("bell_curve", "c", c, host=True)
    for name, value in (("a", a), ("b", b)):
        check_array("bell_curve", name, value, ndim=0)
    if not a >= 0:
        raise ValueError(f"bell_curve: a must be >= 0 (it is (1 - p_0)/p_0), got {a!r}")
    c = np.asarray(c, dtype=np.float64)
    core = 1.0 / (1.0 + a + a * (b * b / 2.0) * c * c)
    return 0.5 * core + 0.25 if restricted else core


def _r2(y: np.ndarray, f: np.ndarray) -> float:
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - f) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


def _checked(c: np.ndarray, y: np.ndarray, n_params: int = 2, *, where: str = "fit", y_name: str = "values") -> tuple[np.ndarray, np.ndarray]:
    c = check_array(where, "c", c, host=True).astype(np.float64)
    y = check_array(where, y_name, y, host=True).astype(np.float64)
    if c.shape != y.shape or c.ndim != 1:
        raise ValueError(f"{where}: c {c.shape} and {y_name} {y.shape} must be 1-D of equal length")
    if c.size < n_params + 1:
        raise ValueError(f"{where}: {c.size} points for {n_params} parameters; sweep more coefficients")
    return c, y


def _fit(model: Callable[..., np.ndarray], c: np.ndarray, y: np.ndarray, p0: list[float], names: list[str],
         bounds: tuple[list[float], list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n_points": int(c.size), "converged": False, "note": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            popt, pcov = curve_fit(model, c, y, p0=p0, bounds=bounds, maxfev=20000)
        except (RuntimeError, ValueError) as e:
            out["note"] = f"fit did not converge: {e}"
            for n in names:
                out[n] = None
                out[n + "_se"] = None
            return out
    notes = [str(w.message) for w in caught if issubclass(w.category, (OptimizeWarning, RuntimeWarning))]
    fitted = model(c, *popt)
    se = np.sqrt(np.clip(np.diag(pcov), 0.0, None)) if np.all(np.isfinite(pcov)) else [None] * len(names)
    out.update({"converged": True, "r2": _r2(y, fitted), "rmse": float(np.sqrt(np.mean((y - fitted) ** 2)))})
    for n, v, s in zip(names, popt, se):
        out[n] = float(v)
        out[n + "_se"] = None if s is None else float(s)
    out["covariance"] = pcov.tolist() if np.all(np.isfinite(pcov)) else None
    if notes:
        out["note"] = "; ".join(notes)
    return out


def fit_tanh(c: np.ndarray, behaviour: np.ndarray) -> dict[str, Any]:
    """Fit ``tanh(a c + b0)`` to behaviour values (in ``(-1, 1)``) against the coefficient.

    Returns ``a``, ``b0``, their standard errors (``a_se``, ``b0_se``), ``r2``, ``rmse``.

    >>> import numpy as np
    >>> c = np.linspace(-5, 5, 51)
    >>> fit = fit_tanh(c, np.tanh(0.4 * c - 0.3))
    >>> round(fit["a"], 6), round(fit["b0"], 6)
    (0.4, -0.3)
    """
    c, y = _checked(c, behaviour, where="fit_tanh", y_name="behaviour")
    yc = np.clip(y, -0.999, 0.999)  # only for the starting guess
    i0 = int(np.argmin(np.abs(c)))
    b0_guess = float(np.arctanh(yc[i0]))
    slope = np.polyfit(np.asarray(c, float), np.arctanh(yc), 1)[0] if len(c) > 1 else 0.1
    return _fit(tanh_curve, c, y, [float(slope) or 0.1, b0_guess], ["a", "b0"], ([-np.inf, -np.inf], [np.inf, np.inf]))


def fit_bell(c: np.ndarray, p_correct: np.ndarray, *, restricted: bool = False) -> dict[str, Any]:
    """Fit the bell ``1/(1 + a + a (b^2/2) c^2)`` (or its restricted form) to P(correct).

    ``a >= 0`` and ``b >= 0`` (only ``b^2`` enters). Returns ``a``, ``b``, their
    standard errors, ``r2``, ``rmse``.

    >>> import numpy as np
    >>> c = np.linspace(-10, 10, 81)
    >>> fit = fit_bell(c, bell_curve(c, 0.5, 0.3))
    >>> round(fit["a"], 6), round(fit["b"], 6)
    (0.5, 0.3)
    """
    c, y = _checked(c, p_correct, where="fit_bell", y_name="p_correct")
    i0 = int(np.argmin(np.abs(c)))
    y0 = float(y[i0])
    if restricted:
        a0 = 0.5 / max(y0 - 0.25, 1e-3) - 1.0
        core = np.clip((y - 0.25) / 0.5, 1e-6, None)
    else:
        a0 = 1.0 / max(y0, 1e-6) - 1.0
        core = np.clip(y, 1e-6, None)
    a0 = max(a0, 1e-3)
    # b from the curvature: 1/core - 1 - a = a (b^2/2) c^2.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (1.0 / core - 1.0 - a0) / (a0 * c * c / 2.0)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    b0 = float(np.sqrt(np.median(ratio))) if ratio.size else 0.1
    model = (lambda x, a, b: bell_curve(x, a, b, restricted=True)) if restricted else bell_curve
    return _fit(model, c, y, [a0, b0], ["a", "b"], ([0.0, 0.0], [np.inf, np.inf]))
