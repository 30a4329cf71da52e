"""Power-law dwell-time statistics: the study's log–log regression of P(t) and discrete maximum likelihood.

Pure functions on dwell times (in seconds, or in whole bins for the ML
estimators). The per-dot blinking analysis and the population query
(pooled exponents over a sample's dots) both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from qdcat.analysis import lineshapes
from qdcat.analysis._validate import FloatArray, array_1d
from qdcat.errors import InvalidValueError

__all__ = [
    "K_BOUNDS",
    "DurationDistribution",
    "PowerLawMl",
    "duration_distribution",
    "power_law_loglog",
    "power_law_ml_discrete",
    "power_law_ml_pooled",
]

K_BOUNDS = (0.0, 10.0)


@dataclass(frozen=True, eq=False)
class DurationDistribution:
    """P(t_n) = [N(t_n)/N_total]/Δavg(t_n) over the sorted distinct durations, and the survival S(t_n)."""

    duration_s: FloatArray
    number: FloatArray
    probability_per_s: FloatArray
    survival: FloatArray


def duration_distribution(durations_s: Any) -> DurationDistribution:
    """The study's P(t) with Δavg(t_n) = (t_{n+1} − t_{n−1})/2 (one-sided at the ends); S(t) = P(T > t)."""
    d = array_1d("durations_s", durations_s, min_size=2)
    if np.any(d <= 0):
        raise InvalidValueError("durations_s must all be > 0 s")
    t, n = np.unique(d, return_counts=True)
    if t.size < 2:
        raise InvalidValueError("all durations are equal; P(t) needs at least two distinct durations")
    delta = np.empty_like(t)
    delta[1:-1] = 0.5 * (t[2:] - t[:-2])
    delta[0], delta[-1] = t[1] - t[0], t[-1] - t[-2]
    number = n.astype(np.float64)
    survival = 1.0 - np.cumsum(number) / number.sum()
    return DurationDistribution(t, number, number / number.sum() / delta, survival)


def power_law_loglog(durations_s: Any) -> tuple[float, float]:
    """The study's exponent: k = −slope of log10 P(t) vs log10 t (scipy linregress), with its SE."""
    k, k_err, _ = _loglog(duration_distribution(durations_s))
    return k, k_err


def _loglog(dist: DurationDistribution) -> tuple[float, float, float]:
    """k, its SE and log10 P at t = 1 s of the log–log regression of P(t)."""
    if dist.duration_s.size < 3:
        raise InvalidValueError("the log-log regression needs at least three distinct durations")
    fit = stats.linregress(np.log10(dist.duration_s), np.log10(dist.probability_per_s))
    return -float(fit.slope), float(fit.stderr), float(fit.intercept)


@dataclass(frozen=True)
class PowerLawMl:
    """ML exponent of P(x) = x^−k / Σ_{x_min}^{x_max} y^−k (x in bins), profile-likelihood 68 % interval."""

    k: float
    k_err: float
    k_lo: float
    k_hi: float
    n_periods: int
    x_min_bins: int
    x_max_bins: int
    log_likelihood: float
    method: str
    converged: bool
    flags: tuple[str, ...]


def power_law_ml_discrete(durations_bins: Any, *, x_max_bins: int, x_min_bins: int = 1) -> PowerLawMl:
    """Maximum likelihood of a discrete, doubly truncated power law for durations in whole bins.

    ``x_max_bins`` is the longest possible duration (the observation window);
    durations outside [x_min_bins, x_max_bins] are an error, not dropped.
    The 68 % interval is where the log-likelihood is 0.5 below its maximum.
    """
    x = array_1d("durations_bins", durations_bins, min_size=2)
    if not np.all(x == np.round(x)):
        raise InvalidValueError(
            "durations_bins must be whole numbers of bins; divide by the bin width and round"
        )
    for name, val in (("x_min_bins", x_min_bins), ("x_max_bins", x_max_bins)):
        if not isinstance(val, int | np.integer) or val < 1:
            raise InvalidValueError(f"{name} must be a whole number >= 1, got {val!r}")
    x_min, x_max = int(x_min_bins), int(x_max_bins)
    if x_max <= x_min:
        raise InvalidValueError(f"x_max_bins ({x_max}) must exceed x_min_bins ({x_min})")
    if x.min() < x_min or x.max() > x_max:
        raise InvalidValueError(
            f"durations span {x.min():g}-{x.max():g} bins, outside [x_min_bins, x_max_bins] = "
            f"[{x_min}, {x_max}]; pass the matching window"
        )
    n = x.size
    sum_log = float(np.sum(np.log(x)))

    def nll(k: float) -> float:
        return k * sum_log + n * lineshapes.power_law_log_norm(k, x_min, x_max)

    return _ml_from_nll(
        nll, n, x_min, x_max, "ML, discrete doubly truncated power law, profile-likelihood 68% interval"
    )


def _ml_from_nll(nll: Any, n: int, x_min: int, x_max: int, method: str) -> PowerLawMl:
    """Minimise a power-law negative log-likelihood over k in K_BOUNDS; 68 % profile interval and flags."""
    res = optimize.minimize_scalar(nll, bounds=K_BOUNDS, method="bounded", options={"xatol": 1e-8})
    k_hat, nll_min = float(res.x), float(res.fun)
    flags: list[str] = []
    if min(abs(k_hat - K_BOUNDS[0]), abs(k_hat - K_BOUNDS[1])) < 1e-4:
        flags.append("at_bound:k")

    def excess(k: float) -> float:
        return float(nll(k)) - nll_min - 0.5

    ends = []
    for bound in K_BOUNDS:
        if excess(bound) > 0 and abs(bound - k_hat) > 1e-9:
            ends.append(float(optimize.brentq(excess, min(bound, k_hat), max(bound, k_hat), xtol=1e-8)))
        else:
            ends.append(bound)
            flags.append("interval_open")
    if n < 10:
        flags.append("few_periods")
    return PowerLawMl(
        k=k_hat,
        k_err=0.5 * (ends[1] - ends[0]),
        k_lo=ends[0],
        k_hi=ends[1],
        n_periods=n,
        x_min_bins=x_min,
        x_max_bins=x_max,
        log_likelihood=-nll_min,
        method=method,
        converged=bool(res.success) and "at_bound:k" not in flags,
        flags=tuple(dict.fromkeys(flags)),
    )


def power_law_ml_pooled(groups: Any, *, x_min_bins: int = 1) -> PowerLawMl:
    """One exponent for many traces: the ML of a discrete power law over every trace's dwell times.

    ``groups`` holds ``(durations_bins, x_max_bins)`` per trace (each truncated at
    its own length): the likelihood is the product over traces, each normalised
    on [x_min, its x_max]. This is the per-sample exponent a population question
    needs; a single dot's few periods pin it down poorly.
    """
    parts = []
    for durations, x_max in groups:
        x = array_1d("durations_bins", durations, min_size=0) if np.size(durations) else np.empty(0)
        if x.size:
            if not np.all(x == np.round(x)) or x.min() < x_min_bins or x.max() > x_max:
                raise InvalidValueError(
                    f"durations must be whole numbers of bins in [{x_min_bins}, {x_max}]; "
                    f"got {x.min():g}–{x.max():g}"
                )
            parts.append((float(np.sum(np.log(x))), x.size, int(x_max)))
    n = sum(p[1] for p in parts)
    if n < 2:
        raise InvalidValueError(f"{n} periods in all traces together; pooling needs at least 2")

    def nll(k: float) -> float:
        return sum(k * slog + m * lineshapes.power_law_log_norm(k, x_min_bins, xm) for slog, m, xm in parts)

    return _ml_from_nll(
        nll, n, x_min_bins, max(p[2] for p in parts), "ML, discrete power law pooled over traces"
    )
