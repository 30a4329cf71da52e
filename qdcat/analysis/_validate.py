"""Input checks and the Poisson-likelihood fitter shared by the analysis modules.

Public functions validate here, then hand trusted float64 arrays to the fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize

from qdcat.constants import HC_EV_NM, photon_energy_j
from qdcat.errors import InvalidValueError

__all__ = ["HC_EV_NM", "photon_energy_j"]  # re-exported for the analysis modules

FloatArray = npt.NDArray[np.float64]


def finite_scalar(
    name: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False
) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        bracket = "(" if lo_open else "["
        raise InvalidValueError(f"{name} must be finite and in {bracket}{lo:g}, {hi:g}], got {value!r}")
    return x


def array_1d(name: str, values: Any, *, min_size: int = 1, nonnegative: bool = False) -> FloatArray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a 1-D array of numbers") from None
    if x.ndim != 1:
        raise InvalidValueError(f"{name} must be 1-D, got shape {x.shape}; pass one curve at a time")
    if x.size < min_size:
        raise InvalidValueError(
            f"{name} has {x.size} points, at least {min_size} are needed; acquire or pass more data"
        )
    if not np.all(np.isfinite(x)):
        raise InvalidValueError(f"{name} contains NaN or infinite values; drop or repair those points first")
    if nonnegative and np.any(x < 0):
        raise InvalidValueError(f"{name} must be >= 0 everywhere (raw counts, not background-subtracted)")
    return x


def same_length(**arrays: FloatArray) -> None:
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise InvalidValueError(f"arrays must have equal lengths, got {sizes}; pass one value per point")


def increasing(name: str, x: FloatArray) -> None:
    if np.any(np.diff(x) <= 0):
        raise InvalidValueError(f"{name} must be strictly increasing; sort the data (and its values) first")


def at_bounds(values: FloatArray, lo: FloatArray, hi: FloatArray, rel: float = 1e-6) -> tuple[bool, ...]:
    scale = np.maximum(np.abs(values), 1.0)
    near_lo = np.isfinite(lo) & (np.abs(values - lo) <= rel * scale)
    near_hi = np.isfinite(hi) & (np.abs(values - hi) <= rel * scale)
    return tuple(bool(b) for b in near_lo | near_hi)


@dataclass(frozen=True)
class PoissonFit:
    params: FloatArray
    covariance: FloatArray
    deviance: float
    dof: int
    converged: bool
    at_bound: tuple[bool, ...]


def poisson_fit(
    model: Callable[[FloatArray], FloatArray],
    counts: FloatArray,
    p0: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    x_scale: FloatArray,
    *,
    max_nfev: int | None = None,
) -> PoissonFit:
    """Poisson maximum likelihood: minimise the deviance, errors from the expected Fisher information.

    The deviance is a sum of squared deviance residuals, so scipy's bounded
    least_squares minimises it; its minimum is the likelihood maximum.
    """
    n = counts
    n_log_n = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0)), 0.0)

    def residuals(p: FloatArray) -> FloatArray:
        mu = np.maximum(model(p), 1e-300)
        d = 2.0 * (mu - n - n * np.log(mu)) + 2.0 * n_log_n
        return np.sign(n - mu) * np.sqrt(np.maximum(d, 0.0))

    res = optimize.least_squares(
        residuals,
        np.clip(p0, lower, upper),  # a start from noisy data may sit just outside the bounds
        bounds=(lower, upper),
        x_scale=x_scale,
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        max_nfev=max_nfev,
    )
    p = res.x
    mu = np.maximum(model(p), 1e-300)
    # Expected Fisher information I = J_μᵀ diag(1/μ) J_μ with a central-difference Jacobian of μ.
    jac = np.empty((mu.size, p.size))
    for j in range(p.size):
        h = 1e-6 * max(abs(p[j]), x_scale[j])
        dp = np.zeros_like(p)
        dp[j] = h
        jac[:, j] = (model(p + dp) - model(p - dp)) / (2.0 * h)
    fisher = jac.T @ (jac / mu[:, None])
    cov: FloatArray
    try:
        cov = np.linalg.inv(fisher).astype(np.float64)
        ok = bool(np.all(np.isfinite(cov)) and np.all(np.diag(cov) > 0))
    except np.linalg.LinAlgError:
        cov, ok = np.full((p.size, p.size), np.nan), False
    deviance = float(np.sum(residuals(p) ** 2))
    return PoissonFit(
        params=p,
        covariance=cov,
        deviance=deviance,
        dof=int(counts.size - p.size),
        converged=bool(res.success) and ok,
        at_bound=at_bounds(p, lower, upper),
    )
