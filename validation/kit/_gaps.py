"""Gap-change models of one question: A2 and the variants a researcher tests against it.

docs/theory.md#helpfulness: steering by a norm ``r`` changes the gaps ``g_i = z_i - z_*``
by ``X_i``; A2 says ``X ~ N(0, r^2 Sigma)``. A :class:`GapChangeModel` also
covers the two variants the kit's examples test:

* a mean (C2.3): ``X = r (mu + noise)``;
* heavy tails: multivariate Student-t noise with ``df > 2`` degrees of freedom,
  scaled so that its covariance is still ``Sigma`` (the A2 covariance one
  measures from second moments). It is a scale mixture of Gaussians:
  given ``W ~ chi^2_df``, the noise is ``N(0, ((df - 2) / W) Sigma)``.

The expected helpfulness ``E[H_r]`` comes from
:func:`steerbounds.expected_helpfulness` (Gaussian, with its mean argument);
for Student-t noise it is that Gaussian expectation averaged over ``W`` by
the trapezoid rule in ``log W``, whose error estimate (the difference from
the rule with half the nodes, plus the inner errors) is reported as the
standard error. Everything is computed in float64 (JAX's x64 mode is switched
on for the call), whatever the caller's JAX configuration.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
from hypothesis import strategies as st
from scipy import special, stats

from steerbounds.theory import (
    Expectation,
    check_covariance as _check_covariance,
    expected_helpfulness,
    helpfulness_lower_bound,
)

from ._strategies import _check_range, covariances, gap_vectors


_MIXTURE_NODES = 96  # trapezoid nodes in log W (an even number: the error estimate halves it)
_MIXTURE_TAIL = 1e-16  # probability of W left outside the nodes' range on each side
_MC_SAMPLES = 8192  # Monte Carlo draws per node for more than two competitors


@dataclasses.dataclass(frozen=True)
class GapChangeModel:
    """The gap changes ``X = r (mu + noise)`` of one question with gaps ``g`` (docs/theory.md#helpfulness).

    ``noise`` has covariance ``Sigma``: Gaussian when ``df`` is infinite (with
    ``mu = 0`` this is A2), multivariate Student-t with ``df > 2`` otherwise.

    >>> import numpy as np
    >>> m = GapChangeModel(gaps_k=np.log([0.25, 0.25]), cov_kk=np.eye(2), radius=0.5)
    >>> round(m.p0, 6), round(float(m.expected_helpfulness().value), 4)
    (0.666667, 0.6491)
    """

    gaps_k: np.ndarray  # gaps g_i = z_i - z_* of the k competitors at r = 0
    cov_kk: np.ndarray  # Sigma: covariance of the noise per unit norm
    radius: float  # steering norm r >= 0
    mean_k: np.ndarray | None = None  # mu: mean gap change per unit norm (None: zero, as A2 says)
    df: float = math.inf  # degrees of freedom of Student-t noise (inf: Gaussian)

    def __post_init__(self) -> None:
        gaps = np.asarray(self.gaps_k, dtype=np.float64)
        if gaps.ndim != 1 or gaps.size == 0:
            raise ValueError(f"gaps_k must be a non-empty 1-D array (one gap per competitor), got shape {gaps.shape}")
        if not np.all(np.isfinite(gaps)):
            raise ValueError("gaps_k holds NaN or inf; pass finite gaps z_i - z_*")
        k = gaps.size
        cov = np.asarray(self.cov_kk, dtype=np.float64)
        if cov.shape != (k, k):
            raise ValueError(f"cov_kk has shape {cov.shape}; it must be ({k}, {k}) for k={k} competitors")
        with jax.enable_x64(True):  # the positive semi-definiteness check needs float64 near singularity
            _check_covariance(cov, k)
        mean = np.zeros(k) if self.mean_k is None else np.asarray(self.mean_k, dtype=np.float64)
        if mean.shape != (k,) or not np.all(np.isfinite(mean)):
            raise ValueError(f"mean_k must be {k} finite numbers (one per competitor), got {self.mean_k!r}")
        radius = float(self.radius)
        if not (math.isfinite(radius) and radius >= 0):
            raise ValueError(f"radius must be a finite norm r >= 0, got {self.radius!r}")
        df = float(self.df)
        if not (df > 2):
            raise ValueError(f"df must exceed 2 (the noise needs a finite covariance), or be inf; got {self.df!r}")
        object.__setattr__(self, "gaps_k", gaps)
        object.__setattr__(self, "cov_kk", cov)
        object.__setattr__(self, "mean_k", mean)
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "df", df)

    @property
    def k(self) -> int:
        """Number of competitors."""
        return int(self.gaps_k.size)

    @property
    def gaussian(self) -> bool:
        """Whether the noise is Gaussian (``df`` infinite)."""
        return math.isinf(self.df)

    @property
    def p0(self) -> float:
        """The unsteered helpfulness ``p_0 = 1/(1 + sum_i e^{g_i})``."""
        with jax.enable_x64(True):
            return float(helpfulness_lower_bound(0.0, self.gaps_k, 0.0))

    def expected_helpfulness(self) -> Expectation:
        """``E[H_r] = E[1/(1 + sum_i e^{g_i + X_i})]`` with its error estimate.

        >>> import numpy as np
        >>> t = GapChangeModel(gaps_k=np.array([-6.0]), cov_kk=np.eye(1), radius=1.0, df=3.0)
        >>> value, err = t.expected_helpfulness()
        >>> round(float(value), 5), bool(err < 1e-4)
        (0.99509, True)
        """
        method = "quadrature" if self.k <= 2 else "monte_carlo"
        n = None if method == "quadrature" else _MC_SAMPLES
        shifted = self.gaps_k + self.radius * self.mean_k
        with jax.enable_x64(True):
            if self.gaussian:
                value, err = expected_helpfulness(self.radius, shifted, self.cov_kk, method=method, n=n)
                return Expectation(np.float64(value), np.float64(err))
            scale, weights = _mixture_nodes(self.df)
            value, err = expected_helpfulness(self.radius * scale, shifted, self.cov_kk, method=method, n=n)
        return _mixture_average(np.asarray(value), np.asarray(err), weights)

    def lower_bound(self):
        """T2a's bound ``L(r) = 1/(1 + sum_i e^{g_i + r^2 Sigma_ii / 2})``, which ignores mu and df.

        >>> import numpy as np
        >>> m = GapChangeModel(gaps_k=np.log([1.0, 1.0]), cov_kk=np.eye(2), radius=1.0)
        >>> round(float(m.lower_bound()), 6)
        0.232697
        """
        with jax.enable_x64(True):
            return np.float64(helpfulness_lower_bound(self.radius, self.gaps_k, self.cov_kk))

    def tail_probability(self, tau) -> np.ndarray:
        """``P(X_i > tau)`` per competitor (shape ``(k,)``), exactly.

        >>> import numpy as np
        >>> m = GapChangeModel(gaps_k=np.zeros(1), cov_kk=np.eye(1), radius=2.0)
        >>> np.round(m.tail_probability(2.0), 6)  # P(N(0, 4) > 2)
        array([0.158655])
        """
        tau = float(tau)
        shift = self.radius * self.mean_k
        sd = self.radius * np.sqrt(np.diag(self.cov_kk))
        out = np.where(shift > tau, 1.0, 0.0)
        live = sd > 0
        with np.errstate(over="ignore", divide="ignore"):  # a tiny sd sends z to +-inf, which is exact
            z = (tau - shift[live]) / sd[live]
            if self.gaussian:
                out[live] = special.ndtr(-z)
            else:
                out[live] = stats.t.sf(z * math.sqrt(self.df / (self.df - 2.0)), self.df)
        return out

    def truncated_mgf(self, tau) -> np.ndarray:
        """``E[e^{X_i}; X_i <= tau]`` per competitor (finite for every law, unlike ``E[e^{X_i}]``).

        Gaussian: ``e^{m + v/2} Phi((tau - m - v)/sqrt(v))`` with ``m = r mu_i``,
        ``v = r^2 Sigma_ii``; Student-t: the same averaged over ``W``, and
        infinite at ``tau = inf`` (no exponential moment) when ``r Sigma_ii > 0``.

        >>> import numpy as np
        >>> m = GapChangeModel(gaps_k=np.zeros(1), cov_kk=np.eye(1), radius=1.0)
        >>> np.round(m.truncated_mgf(np.inf), 6)  # E e^X = e^{1/2}
        array([1.648721])
        """
        tau = float(tau)
        shift = self.radius * self.mean_k
        var = self.radius**2 * np.diag(self.cov_kk)
        if self.gaussian:
            return _gaussian_truncated_mgf(tau, shift, var)
        if tau == math.inf:  # Student-t noise has no exponential moment: E[e^{X_i}] is infinite
            return np.where(var > 0, np.inf, np.exp(shift))
        scale, weights = _mixture_nodes(self.df)
        per_node = _gaussian_truncated_mgf(tau, shift[None, :], var[None, :] * scale[:, None] ** 2)
        return weights @ per_node

    def sample(self, n: int, *, seed: int) -> np.ndarray:
        """``n`` draws of ``X`` (shape ``(n, k)``), reproducible from ``seed``.

        >>> import numpy as np
        >>> x = GapChangeModel(gaps_k=np.zeros(2), cov_kk=np.eye(2), radius=1.0, df=5.0).sample(4, seed=0)
        >>> x.shape
        (4, 2)
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        rng = np.random.default_rng(seed)
        eig, vec = np.linalg.eigh(self.cov_kk)
        factor = vec * np.sqrt(np.maximum(eig, 0.0))[None, :]
        noise = rng.standard_normal((n, self.k)) @ factor.T
        if not self.gaussian:
            noise *= np.sqrt((self.df - 2.0) / rng.chisquare(self.df, size=n))[:, None]
        return self.radius * (self.mean_k[None, :] + noise)


def _gaussian_truncated_mgf(tau: float, shift, var) -> np.ndarray:
    shift, var = np.broadcast_arrays(np.asarray(shift, np.float64), np.asarray(var, np.float64))
    out = np.where(shift <= tau, np.exp(np.minimum(shift, 700.0)), 0.0)
    live = var > 0
    if tau == math.inf:
        out[live] = np.exp(shift[live] + var[live] / 2)
        return out
    sd = np.sqrt(var[live])
    with np.errstate(over="ignore", divide="ignore"):  # a tiny sd sends the argument to +-inf, which is exact
        log_value = shift[live] + var[live] / 2 + special.log_ndtr((tau - shift[live] - var[live]) / sd)
        out[live] = np.exp(log_value)
    return out


def _mixture_nodes(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise scales ``sqrt((df - 2)/W)`` and trapezoid weights in ``log W``, for ``W ~ chi^2_df``."""
    lo = math.log(stats.chi2.ppf(_MIXTURE_TAIL, df))
    hi = math.log(stats.chi2.isf(_MIXTURE_TAIL, df))
    u = np.linspace(lo, hi, _MIXTURE_NODES + 1)
    h = u[1] - u[0]
    density = np.exp(stats.chi2.logpdf(np.exp(u), df) + u)
    weights = h * density
    weights[[0, -1]] /= 2
    return np.sqrt((df - 2.0) / np.exp(u)), weights


def _mixture_average(values: np.ndarray, errors: np.ndarray, weights: np.ndarray) -> Expectation:
    fine = weights @ values
    coarse_weights = 2 * weights[::2]  # the rule with step 2h (end weights stay halved)
    coarse = coarse_weights @ values[::2]
    # the two rules' difference, the inner errors, the W-tails left out, and a floor for rounding
    err = abs(fine - coarse) + weights @ errors + 2 * _MIXTURE_TAIL + 1e-12
    return Expectation(np.float64(fine), np.float64(err))


def gap_change_models(
    *,
    min_k: int = 1,
    max_k: int = 2,
    min_gap: float = -12.0,
    max_gap: float = 6.0,
    max_radius: float = 4.0,
    max_variance: float = 2.0,
    cov_kinds=("diagonal", "correlated", "low_rank", "near_singular"),
    mean: tuple[float, float] | None = None,
    df: tuple[float, float] | None = None,
) -> st.SearchStrategy[GapChangeModel]:
    """:class:`GapChangeModel` instances: gaps, a covariance, a norm, and optionally a mean and tails.

    ``mean=(lo, hi)`` draws every ``mu_i`` in that range (default: ``mu = 0``);
    ``df=(lo, hi)`` draws Student-t degrees of freedom in that range, ``lo > 2``
    (default: Gaussian). Covariances come from :func:`covariances` (including
    correlated and near-singular ones), gaps from :func:`gap_vectors`.

    >>> from hypothesis import find
    >>> m = find(gap_change_models(df=(3.0, 30.0), mean=(-1.0, 1.0)), lambda m: m.k == 2)
    >>> m.cov_kk.shape, 3.0 <= m.df <= 30.0
    ((2, 2), True)
    """
    _check_range("min_gap", min_gap, "max_gap", max_gap)
    _check_range("max_radius", max_radius, "max_radius", max_radius)
    _check_range("max_variance", max_variance, "max_variance", max_variance, positive=True)
    if max_radius < 0:
        raise ValueError(f"max_radius must be >= 0, got {max_radius!r}")
    if mean is not None:
        _check_range("mean[0]", mean[0], "mean[1]", mean[1])
    if df is not None:
        _check_range("df[0]", df[0], "df[1]", df[1])
        if not df[0] > 2:
            raise ValueError(f"df[0] must exceed 2 (Student-t noise needs a finite covariance), got {df[0]!r}")
    gaps_strategy = gap_vectors(min_k=min_k, max_k=max_k, min_gap=min_gap, max_gap=max_gap)

    @st.composite
    def build(draw):
        gaps = draw(gaps_strategy)
        k = gaps.size
        cov = draw(covariances(k=k, min_scale=1e-2, max_scale=max_variance, kinds=cov_kinds))
        radius = draw(st.floats(0.0, max_radius, allow_nan=False))
        mu = None if mean is None else np.array([draw(st.floats(*mean, allow_nan=False)) for _ in range(k)])
        dof = math.inf if df is None else draw(st.floats(*df, allow_nan=False))
        return GapChangeModel(gaps_k=gaps, cov_kk=cov, radius=radius, mean_k=mu, df=dof)

    return build()
