"""Blinking of one dot from its binned intensity trace: threshold, on/off periods, power-law exponents.

Exponents two ways: the study's log–log regression of P(t) and the maximum
likelihood of a discrete, doubly truncated power law (less biased).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from qdcat.analysis import lineshapes
from qdcat.analysis._validate import FloatArray, array_1d, finite_scalar
from qdcat.errors import InvalidValueError

__all__ = [
    "BlinkingAnalysis",
    "DurationDistribution",
    "PowerLawMl",
    "analyze_blinking",
    "duration_distribution",
    "power_law_loglog",
    "power_law_ml_discrete",
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

    res = optimize.minimize_scalar(nll, bounds=K_BOUNDS, method="bounded", options={"xatol": 1e-8})
    k_hat, nll_min = float(res.x), float(res.fun)
    flags: list[str] = []
    if min(abs(k_hat - K_BOUNDS[0]), abs(k_hat - K_BOUNDS[1])) < 1e-4:
        flags.append("at_bound:k")

    def excess(k: float) -> float:
        return nll(k) - nll_min - 0.5

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
        method="ML, discrete doubly truncated power law, profile-likelihood 68% interval",
        converged=bool(res.success) and "at_bound:k" not in flags,
        flags=tuple(flags),
    )


@dataclass(frozen=True, eq=False)
class BlinkingAnalysis:
    """On/off analysis of one intensity trace; k_* are NaN (and flagged) when a state has too few periods."""

    threshold_counts: float
    threshold_method: str
    background_mean_counts: float
    background_sd_counts: float
    k_sigma: float
    bin_width_s: float
    on_fraction: float
    on_durations_s: FloatArray
    off_durations_s: FloatArray
    k_on_loglog: float
    k_on_loglog_err: float
    k_off_loglog: float
    k_off_loglog_err: float
    on_loglog_log10_p_1s: float  # intercept of the log–log regression: log10 P(t = 1 s)
    off_loglog_log10_p_1s: float
    k_on_ml: float
    k_on_ml_err: float
    k_off_ml: float
    k_off_ml_err: float
    on_ml: PowerLawMl | None
    off_ml: PowerLawMl | None
    on_distribution: DurationDistribution | None
    off_distribution: DurationDistribution | None
    flags: tuple[str, ...]


def _poisson_mixture(counts: FloatArray) -> tuple[float, float]:
    """Off and on levels of a trace: EM for a two-component Poisson mixture."""
    lam = np.array([max(float(np.percentile(counts, 0.5)), 0.5), max(float(np.median(counts)), 1.0)])
    if lam[0] >= lam[1]:
        lam[0] = 0.25 * lam[1]
    weight = np.array([0.05, 0.95])
    values, number = np.unique(counts, return_counts=True)
    for _ in range(500):
        log_p = stats.poisson.logpmf(values[:, None], lam[None, :]) + np.log(weight)[None, :]
        resp = np.exp(log_p - np.logaddexp(log_p[:, 0], log_p[:, 1])[:, None]) * number[:, None]
        total = resp.sum(axis=0)
        if total[0] < 1e-9:  # no off component at all
            break
        new = (resp * values[:, None]).sum(axis=0) / total
        weight = total / total.sum()
        if np.allclose(new, lam, rtol=1e-10):
            lam = new
            break
        lam = np.maximum(new, 1e-6)
    return float(lam[0]), float(lam[1])


def analyze_blinking(
    counts: Any,
    bin_width_s: float,
    *,
    background_counts: Any = None,
    k_sigma: float = 3.0,
) -> BlinkingAnalysis:
    """Threshold θ = μ_bg + k·s_bg, on/off runs (truncated first and last dropped), P(t) and exponents.

    With ``background_counts`` (a trace of the same setup without a dot, same
    bins) μ_bg and s_bg are its mean and SD; without one, the off level is the
    low component of a two-Poisson mixture fitted to the trace (s_bg = √μ_bg).
    The ML fit uses x_min = 1 bin and x_max = the trace length in bins.
    """
    c = array_1d("counts", counts, min_size=10, nonnegative=True)
    width = finite_scalar("bin_width_s", bin_width_s, lo=0.0, lo_open=True)
    k = finite_scalar("k_sigma", k_sigma, lo=0.0)
    flags: list[str] = []
    if c.sum() == 0:
        raise InvalidValueError("the intensity trace holds no counts; check the channels and the bin width")
    if background_counts is not None:
        bg = array_1d("background_counts", background_counts, min_size=2, nonnegative=True)
        mu, sd = float(bg.mean()), float(bg.std(ddof=1))
        method = "background trace: mean + k·SD"
    else:
        mu, on_level = _poisson_mixture(c)
        sd = math.sqrt(mu)
        method = "two-Poisson mixture of the trace: off level + k·sqrt(off level)"
        if on_level - mu < k * (math.sqrt(on_level) + sd):
            flags.append("no_clear_off_level")
    theta = mu + k * sd
    on = c > theta
    starts = np.concatenate(([0], np.flatnonzero(np.diff(on.astype(np.int8))) + 1))
    lengths = np.diff(np.append(starts, c.size))
    state = on[starts]
    lengths, state = lengths[1:-1], state[1:-1]
    on_bins, off_bins = lengths[state], lengths[~state]

    def exponents(
        bins: Any, name: str
    ) -> tuple[float, float, float, PowerLawMl | None, DurationDistribution | None]:
        ll = ll_err = ll_icpt = math.nan
        ml = dist = None
        if np.unique(bins).size >= 3:
            dist = duration_distribution(bins * width)
            ll, ll_err, ll_icpt = _loglog(dist)
        else:
            flags.append(f"too_few_{name}_periods_for_loglog")
        if bins.size >= 2:
            ml = power_law_ml_discrete(bins, x_max_bins=int(c.size))
        else:
            flags.append(f"too_few_{name}_periods_for_ml")
        return ll, ll_err, ll_icpt, ml, dist

    k_on_ll, k_on_ll_err, on_icpt, on_ml, on_dist = exponents(on_bins, "on")
    k_off_ll, k_off_ll_err, off_icpt, off_ml, off_dist = exponents(off_bins, "off")
    return BlinkingAnalysis(
        threshold_counts=theta,
        threshold_method=method,
        background_mean_counts=mu,
        background_sd_counts=sd,
        k_sigma=k,
        bin_width_s=width,
        on_fraction=float(on.mean()),
        on_durations_s=on_bins * width,
        off_durations_s=off_bins * width,
        k_on_loglog=k_on_ll,
        k_on_loglog_err=k_on_ll_err,
        k_off_loglog=k_off_ll,
        k_off_loglog_err=k_off_ll_err,
        on_loglog_log10_p_1s=on_icpt,
        off_loglog_log10_p_1s=off_icpt,
        k_on_ml=on_ml.k if on_ml else math.nan,
        k_on_ml_err=on_ml.k_err if on_ml else math.nan,
        k_off_ml=off_ml.k if off_ml else math.nan,
        k_off_ml_err=off_ml.k_err if off_ml else math.nan,
        on_ml=on_ml,
        off_ml=off_ml,
        on_distribution=on_dist,
        off_distribution=off_dist,
        flags=tuple(flags),
    )
