"""Curve fits of the paper's forms, with parameter standard errors.

* Behaviour against the coefficient: ``tanh(a c + b0)`` (docs/theory.md#alignment; the
  theory predicts ``a ~ kappa Delta / 2`` and ``b0 = artanh B_0``).
* P(correct) against the coefficient: the bell ``1 / (1 + a + a (b^2/2) c^2)``
  (C2.2, the second-order expansion of T2a's bound, with ``a = (1 - p_0)/p_0``
  and ``b ~ sigma kappa``), and for four-option restricted helpfulness its
  version with a chance floor ``0.5 / (1 + a + a (b^2/2) c^2) + 0.25``.

Fits use ``scipy.optimize.curve_fit``; standard errors are the square roots of
the diagonal of its covariance (scaled by the residual variance, since the
measured means carry no absolute error model).

A fit says when it fails: :func:`identifiability` marks it "not identifiable",
with the reasons, when it did not converge, when a parameter's relative standard
error exceeds ``max_relative_se`` (50 %) or when ``R^2 < min_r2`` (0.5). The
restricted bell is fitted only when its range ``(0.25, 0.75]`` can contain the
data (:func:`restricted_bell_range_note`).
"""

from __future__ import annotations

from steerbounds.theory import check_array

import warnings
from typing import Any, Callable

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from ._results import BellFit, Identifiability, TanhFit


MAX_RELATIVE_SE = 0.5  # a parameter whose SE exceeds half its value is not determined by the data
MIN_R2 = 0.5  # a fit explaining less than half the variance does not describe the curve


def identifiability(fit: TanhFit | BellFit | dict[str, Any], params: tuple[str, ...], *,
                    max_relative_se: float = MAX_RELATIVE_SE, min_r2: float = MIN_R2) -> Identifiability:
    """Whether a fit (from :func:`fit_tanh` / :func:`fit_bell`) identifies its parameters, and why not.

    Not identifiable when the fit did not converge, when ``R^2 < min_r2``, or when a
    parameter in ``params`` has ``SE / |value| > max_relative_se`` (a value of 0
    with a positive SE counts as infinitely uncertain). ``fit`` is a fit result
    or a dict with its fields.

    >>> identifiability({"converged": True, "r2": 0.99, "b": 47.9, "b_se": 1.8e4}, ("b",)).reasons
    ['b has relative standard error 376 (> 0.5): the data do not determine it']
    >>> identifiability(BellFit(converged=True, r2=0.97, b=0.3, b_se=0.01), ("b",)).identifiable
    True
    """
    if not isinstance(fit, dict):
        fit = {name: getattr(fit, name) for name in ("converged", "note", "r2", *params, *(p + "_se" for p in params))}
    if not (max_relative_se > 0 and np.isfinite(max_relative_se)):
        raise ValueError(f"max_relative_se must be positive and finite, got {max_relative_se!r}")
    reasons: list[str] = []
    relative: dict[str, float | None] = {}
    if not fit.get("converged"):
        reasons.append(fit.get("note") or "the fit did not converge")
        return Identifiability(identifiable=False, reasons=reasons, relative_se={p: None for p in params})
    r2 = fit.get("r2")
    if r2 is None or not np.isfinite(r2) or r2 < min_r2:
        reasons.append(f"R^2 = {r2:.3g} (< {min_r2:g}): the form does not describe the data" if r2 is not None
                       else "no R^2")
    for p in params:
        value, se = fit.get(p), fit.get(p + "_se")
        if value is None or se is None or not np.isfinite(se):
            relative[p] = None
            reasons.append(f"{p} has no finite standard error (singular covariance)")
            continue
        rel = float(se / abs(value)) if value != 0 else (0.0 if se == 0 else float("inf"))
        relative[p] = rel
        if rel > max_relative_se:
            reasons.append(f"{p} has relative standard error {rel:.3g} (> {max_relative_se:g}): "
                           "the data do not determine it")
    return Identifiability(identifiable=not reasons, reasons=reasons, relative_se=relative)


def restricted_bell_range_note(p_correct: np.ndarray, se: np.ndarray | None = None, *,
                               n_options: int = 4) -> str | None:
    """Why C2.2's restricted form cannot describe these data, or ``None`` when its range can contain them.

    The form ``0.5/(1 + a + a (b^2/2) c^2) + 0.25`` (``a, b >= 0``) lies in ``(0.25, 0.75]``;
    data above 0.75 or below 0.25 by more than two standard errors (or 0.01 without
    them) are outside it, and fitting them gives a flat line with a meaningless ``b``.

    >>> restricted_bell_range_note(np.array([0.5, 0.7, 0.5])) is None
    True
    >>> restricted_bell_range_note(np.array([0.6, 0.99, 0.6]))[:40]
    'the measured values reach 0.99, above th'
    """
    y = np.asarray(p_correct, dtype=np.float64)
    if n_options != 4:
        return f"C2.2's restricted form is for four options; these data have {n_options}"
    tol = 0.01 if se is None else max(0.01, 2.0 * float(np.nanmax(np.asarray(se, dtype=np.float64))))
    if y.max() > 0.75 + tol:
        return (f"the measured values reach {y.max():.3g}, above the form's maximum 0.75 (a >= 0): "
                "its range cannot contain the data, so it is not fitted")
    if y.min() < 0.25 - tol:
        return (f"the measured values fall to {y.min():.3g}, below the form's floor 0.25 (steering makes a wrong "
                "option the favourite): its range cannot contain the data, so it is not fitted")
    return None


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


def fit_tanh(c: np.ndarray, behaviour: np.ndarray) -> TanhFit:
    """Fit ``tanh(a c + b0)`` to behaviour values (in ``(-1, 1)``) against the coefficient.

    Returns ``a``, ``b0``, their standard errors (``a_se``, ``b0_se``), ``r2``, ``rmse``.

    >>> import numpy as np
    >>> c = np.linspace(-5, 5, 51)
    >>> fit = fit_tanh(c, np.tanh(0.4 * c - 0.3))
    >>> round(fit.a, 6), round(fit.b0, 6)
    (0.4, -0.3)
    """
    c, y = _checked(c, behaviour, where="fit_tanh", y_name="behaviour")
    yc = np.clip(y, -0.999, 0.999)  # only for the starting guess
    i0 = int(np.argmin(np.abs(c)))
    b0_guess = float(np.arctanh(yc[i0]))
    slope = np.polyfit(np.asarray(c, float), np.arctanh(yc), 1)[0] if len(c) > 1 else 0.1
    return TanhFit(**_fit(tanh_curve, c, y, [float(slope) or 0.1, b0_guess], ["a", "b0"],
                          ([-np.inf, -np.inf], [np.inf, np.inf])))


def fit_bell(c: np.ndarray, p_correct: np.ndarray, *, restricted: bool = False) -> BellFit:
    """Fit the bell ``1/(1 + a + a (b^2/2) c^2)`` (or its restricted form) to P(correct).

    ``a >= 0`` and ``b >= 0`` (only ``b^2`` enters). Returns ``a``, ``b``, their
    standard errors, ``r2``, ``rmse``.

    >>> import numpy as np
    >>> c = np.linspace(-10, 10, 81)
    >>> fit = fit_bell(c, bell_curve(c, 0.5, 0.3))
    >>> round(fit.a, 6), round(fit.b, 6)
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
    return BellFit(**_fit(model, c, y, [a0, b0], ["a", "b"], ([0.0, 0.0], [np.inf, np.inf])))
