"""Blinking of one dot from its binned intensity trace: threshold, on/off periods, power-law exponents.

Exponents two ways: the study's log–log regression of P(t) and the maximum
likelihood of a discrete, doubly truncated power law (less biased).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from qdcat.analysis._validate import FloatArray, array_1d, finite_scalar
from qdcat.analysis.powerlaw import (  # re-exported: callers knew them here first
    DurationDistribution,
    PowerLawMl,
    _loglog,
    duration_distribution,
    power_law_loglog,
    power_law_ml_discrete,
    power_law_ml_pooled,
)
from qdcat.errors import InvalidValueError

__all__ = [
    "THRESHOLD_METHODS",
    "BlinkingAnalysis",
    "DurationDistribution",
    "Levels",
    "PowerLawMl",
    "analyze_blinking",
    "duration_distribution",
    "estimate_levels",
    "power_law_loglog",
    "power_law_ml_discrete",
    "power_law_ml_pooled",
    "threshold_counts",
]


@dataclass(frozen=True)
class Levels:
    """The off and on intensity levels of a trace (counts per bin) and where they came from.

    ``on_counts`` is None when the trace never leaves one level that is the off
    level (the dot stayed off); ``off_known`` says whether the off level was
    measured (a background acquisition, the detectors' dark rates) or read off
    the trace.
    """

    off_counts: float
    off_sd_counts: float
    on_counts: float | None
    on_sd_counts: float | None
    source: str
    off_known: bool
    resolved: bool  # the two levels are further apart than their noise
    one_level: bool  # the trace showed a single level
    off_err_counts: float = 0.0  # standard error of the off level (a setup's dark rate is taken as exact)


SEPARATION_SIGMAS = 3.0  # on − off must exceed this many (σ_on + σ_off) for two resolved levels
BIC_MARGIN = 10.0  # a second level must improve the BIC by this much
OFF_ON_RATIO = 0.5  # a trace's low level counts as the off level only below this fraction of the high one

IntArray = npt.NDArray[np.intp]


def _mixture(
    values: FloatArray, number: FloatArray, lam: FloatArray, weight: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    """EM for a two-component Poisson mixture on a histogram of counts; returns λ, weights, log-likelihood."""
    for _ in range(500):
        log_p = (
            stats.poisson.logpmf(values[:, None], lam[None, :]) + np.log(np.maximum(weight, 1e-300))[None, :]
        )
        norm = np.logaddexp(log_p[:, 0], log_p[:, 1])
        resp = np.exp(log_p - norm[:, None]) * number[:, None]
        total = resp.sum(axis=0)
        if total.min() < 1e-9:  # one component emptied
            break
        new = np.maximum((resp * values[:, None]).sum(axis=0) / total, 1e-6)
        weight = total / total.sum()
        done = np.allclose(new, lam, rtol=1e-9)
        lam = new
        if done:
            break
    log_p = stats.poisson.logpmf(values[:, None], lam[None, :]) + np.log(np.maximum(weight, 1e-300))[None, :]
    return lam, weight, float(np.sum(number * np.logaddexp(log_p[:, 0], log_p[:, 1])))


def estimate_levels(
    counts: Any, *, background_counts: Any = None, dark_counts_per_bin: float | None = None
) -> Levels:
    """Off and on levels of a trace of counts per bin.

    The off level is measured where it can be: the mean and SD of a background
    trace (same bins), else the detectors' dark counts per bin (Poisson). The
    trace itself is then fitted as one Poisson level or a two-level Poisson
    mixture (EM); a second level is accepted when it improves the BIC by more
    than 10 and lies further than 3·(σ_on + σ_off) from the first. A single level
    is the on level unless it matches a known off level; with nothing known about
    the off level, a single level is taken as on and the off level as 0.
    """
    c = array_1d("counts", counts, min_size=10, nonnegative=True)
    values, occurrences = np.unique(c, return_counts=True)
    number = occurrences.astype(np.float64)
    n = float(c.size)
    mean = float(c.mean())
    ll1 = float(np.sum(number * stats.poisson.logpmf(values, max(mean, 1e-9))))
    lo0 = max(float(np.percentile(c, 1)), 0.1)
    hi0 = max(float(np.percentile(c, 90)), lo0 + 1.0)
    lam, weight, ll2 = _mixture(values, number, np.array([lo0, hi0]), np.array([0.2, 0.8]))
    if lam[0] > lam[1]:
        lam, weight = lam[::-1], weight[::-1]
    two = (
        (2.0 * (ll2 - ll1) - 2.0 * math.log(n)) > BIC_MARGIN
        and lam[1] - lam[0] > SEPARATION_SIGMAS * (math.sqrt(lam[1]) + math.sqrt(lam[0]))
        # An off level is the background alone: a low level above half the high one is the on
        # level spread by sub-bin blinking or intensity fluctuations, not a second state.
        and lam[0] < OFF_ON_RATIO * lam[1]
        and min(weight) * n >= 2.0
    )
    off_known = background_counts is not None or dark_counts_per_bin is not None
    off_err = 0.0
    if background_counts is not None:
        bg = array_1d("background_counts", background_counts, min_size=2, nonnegative=True)
        off, off_sd, source = float(bg.mean()), float(bg.std(ddof=1)), "background measurement"
        off_err = off_sd / math.sqrt(bg.size)
    elif dark_counts_per_bin is not None:
        off = finite_scalar("dark_counts_per_bin", dark_counts_per_bin, lo=0.0)
        off_sd, source = math.sqrt(off), "detector dark counts of the setup"
    elif two:
        off, off_sd, source = (
            float(lam[0]),
            math.sqrt(lam[0]),
            "the trace's low level (two-level Poisson mixture)",
        )
        off_err = math.sqrt(lam[0] / max(weight[0] * n, 1.0))
    else:
        off, off_sd, source = 0.0, 0.0, "none seen: the trace shows one level, taken as on (off level 0)"
    if two:
        on, on_sd = float(lam[1]), math.sqrt(lam[1])
        if off_known and lam[0] > off + SEPARATION_SIGMAS * (off_sd + math.sqrt(lam[0])):
            source += "; the trace's low level lies above it (grey state or wrong background)"
    elif off_known and mean <= off + SEPARATION_SIGMAS * (off_sd + math.sqrt(max(mean, 1e-9))):
        on, on_sd = None, None  # one level, at the off level: the dot stayed off
    else:
        on, on_sd = mean, math.sqrt(mean)
    resolved = on is not None and on_sd is not None and on - off > SEPARATION_SIGMAS * (on_sd + off_sd)
    return Levels(off, off_sd, on, on_sd, source, off_known, bool(resolved), not two, off_err)


THRESHOLD_METHODS = ("midpoint", "background_sigma")


def threshold_counts(levels: Levels, *, method: str = "midpoint", k_sigma: float = 3.0) -> float:
    """The on/off threshold θ (counts per bin) from the levels.

    ``midpoint`` (default): θ = (off + on)/2, the level that splits a bin half
    on, half off evenly — the off periods shorter than a bin are not all counted
    as on, which biases the off exponent low. ``background_sigma``: the study's
    θ = off + k_sigma·σ_off. Without an on level, θ = off + k_sigma·σ_off.
    """
    if method not in THRESHOLD_METHODS:
        raise InvalidValueError(
            f"threshold method must be one of {', '.join(THRESHOLD_METHODS)}, got {method!r}"
        )
    k = finite_scalar("k_sigma", k_sigma, lo=0.0)
    floor = levels.off_counts + max(k * levels.off_sd_counts, 0.5)
    if levels.on_counts is None:
        return floor
    if method == "background_sigma" and levels.off_sd_counts > 0:
        return floor
    return 0.5 * (levels.off_counts + levels.on_counts)


@dataclass(frozen=True, eq=False)
class BlinkingAnalysis:
    """On/off analysis of one intensity trace; k_* are NaN (and flagged) when a state has too few periods."""

    threshold_counts: float
    threshold_method: str
    levels: Levels
    k_sigma: float
    bin_width_s: float
    on_fraction: float  # the time on, counting the off periods hidden inside on bins (see below)
    on_fraction_err: float
    on_fraction_binned: float  # the study's: the fraction of bins above θ
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


def _truncated_poisson_ml(x: FloatArray, cut: int, *, upper: bool) -> tuple[float, float]:
    """ML λ (and its Fisher error) of Poisson counts ``x`` seen only at ≥ ``cut`` (upper) or ≤ ``cut``.

    Written here because scipy fits no truncated discrete law: the likelihood
    is Σ log p(x|λ) − n·log P(X ≥ cut | λ) (or P(X ≤ cut | λ)), one bounded
    scalar minimisation.
    """
    n, total, mean = float(x.size), float(x.sum()), float(x.mean())

    def nll(lam: float) -> float:
        q = stats.poisson.logsf(cut - 1, lam) if upper else stats.poisson.logcdf(cut, lam)
        return float(-(total * math.log(lam) - n * lam - n * q))

    width = 10.0 * math.sqrt(max(mean, 1.0)) + 10.0
    res = optimize.minimize_scalar(
        nll,
        bounds=(max(mean - width, 1e-9), mean + width),
        method="bounded",
        options={"xatol": 1e-9 * max(mean, 1.0)},
    )
    lam = float(res.x)
    h = 1e-3 * math.sqrt(max(lam, 1e-6)) + 1e-9
    curvature = (nll(lam + h) - 2.0 * nll(lam) + nll(max(lam - h, 1e-12))) / h**2
    return lam, (1.0 / math.sqrt(curvature) if curvature > 0 else math.inf)


def _clean_level(counts: FloatArray, *, upper: bool) -> tuple[float, float]:
    """A Poisson level (and its error) from the bins on its far side from the other level.

    Bins that a short period of the other state cuts sit between the levels, and
    they are common: power-law dwell times put most periods below a bin. The on
    level is the truncated-Poisson ML of the bins at or above it, iterated from
    the median until the cut is the level found, so the cut bins below do not
    pull it down (the median's half would: they shift the median). The off level
    likewise from below. Unbiased on clean Poisson bins at any level; its error
    (Fisher's, ≈ 2.3 σ/√n) is calibrated there.
    """
    level, err, seen = float(np.median(counts)), math.inf, set()
    for _ in range(30):
        cut = math.floor(level) if upper else math.ceil(level)
        if cut in seen:
            break
        seen.add(cut)
        side = counts[counts >= cut] if upper else counts[counts <= cut]
        if side.size < 5:
            break
        level, err = _truncated_poisson_ml(side, cut, upper=upper)
    return level, err


SYSTEMATIC_FRACTION = 0.1  # of the on-fraction's correction for sub-bin periods, taken as its uncertainty


def _on_fraction(c: FloatArray, on: npt.NDArray[np.bool_], levels: Levels) -> tuple[float, float]:
    """The fraction of time on, with the periods shorter than a bin put back, and its 1σ.

    Every bin's counts are off + (on − off)·(its time on), whatever periods it
    holds, so the fraction of time on is (mean count − off)/(on − off): the
    threshold only serves to find the two levels. The on level comes from the
    on bins above it (:func:`_clean_level`), the off level from the background
    measurement, the setup's dark rate or the off bins below it. The error adds
    the Poisson noise of the mean count and the errors of both levels (less the
    covariance of the mean and the on level, read from the same bins), and a tenth
    of the correction to the binned fraction (the cut bins' share of the upper
    tail pulls the on level down a little). The estimate is not clipped: an
    always-on dot is 1 within its error, on either side.
    """
    n = c.size
    binned = float(on.mean())
    switches = np.count_nonzero(np.diff(on.astype(np.int8)))
    cut_bins = math.sqrt(switches / 12.0) / n  # ±½ bin per switch, SD 1/√12: the binned fraction's error
    n_on, n_off = int(on.sum()), int(n - on.sum())
    if levels.on_counts is None:
        return binned, cut_bins
    if n_on >= 10:
        on_level, on_err = _clean_level(c[on], upper=True)
    else:
        on_level, on_err = float(levels.on_counts), math.sqrt(float(levels.on_counts) / max(n_on, 1))
    off_level, off_err = float(levels.off_counts), float(levels.off_err_counts)
    if not levels.off_known and n_off >= 10:
        off_level, off_err = _clean_level(c[~on], upper=False)
    span = on_level - off_level
    if not (span > 0 and math.isfinite(on_err) and math.isfinite(off_err)):
        return binned, cut_bins
    mean = float(c.mean())
    fraction = (mean - off_level) / span
    # The on level comes from the same bins as the mean: their covariance is ≈ on/n (measured on
    # Poisson bins: 1.1·on/n), which cancels much of both noises for a dot that is mostly on.
    covariance = on_level / n if n_on >= 10 else 0.0
    var = (
        mean / n + (fraction * on_err) ** 2 - 2.0 * fraction * covariance + ((1.0 - fraction) * off_err) ** 2
    )
    var = max(var, mean / n) / span**2 + (SYSTEMATIC_FRACTION * (fraction - binned)) ** 2
    # Not clipped to [0, 1]: an always-on dot comes out 1 ± its error, on either side, so a population
    # mean (and the z-scores) stay unbiased; the study's binned fraction stays in on_fraction_binned.
    return fraction, math.sqrt(var)


def analyze_blinking(
    counts: Any,
    bin_width_s: float,
    *,
    background_counts: Any = None,
    dark_counts_per_bin: float | None = None,
    threshold: str = "midpoint",
    k_sigma: float = 3.0,
    min_periods: int = 10,
) -> BlinkingAnalysis:
    """Levels and threshold (:func:`estimate_levels`, :func:`threshold_counts`), on/off runs, P(t), exponents.

    Runs above θ are on, below off; the truncated first and last runs are
    dropped. Exponents by the study's log–log regression of P(t) and by the ML
    of a discrete power law truncated at 1 bin and the trace length. Flags:
    ``levels_not_resolved`` (on and off closer than their noise: the on/off
    split means little), ``one_level`` (no switching seen), ``state_unknown`` (one
    level and no measured off level: on and off cannot be told apart), ``<state>_ml:<flag>``
    (the ML fit's own flags, e.g. ``off_ml:at_bound:k``), and ``few_<state>_periods``
    below ``min_periods`` complete periods (a per-dot exponent from fewer is weak;
    pool the dots of a sample instead).
    """
    c = array_1d("counts", counts, min_size=10, nonnegative=True)
    width = finite_scalar("bin_width_s", bin_width_s, lo=0.0, lo_open=True)
    k = finite_scalar("k_sigma", k_sigma, lo=0.0)
    if c.sum() == 0:
        raise InvalidValueError("the intensity trace holds no counts; check the channels and the bin width")
    levels = estimate_levels(c, background_counts=background_counts, dark_counts_per_bin=dark_counts_per_bin)
    theta = threshold_counts(levels, method=threshold, k_sigma=k)
    method = f"{threshold}: " + (
        f"(off + on)/2, off from {levels.source}"
        if threshold == "midpoint" and levels.on_counts is not None
        else f"off + {k:g}·SD, off from {levels.source}"
    )
    on = c > theta
    on_bins, off_bins = _complete_runs(on)
    on_fraction, on_fraction_err = _on_fraction(c, on, levels)
    on_x = _exponents(on_bins, "on", width, int(c.size), min_periods)
    off_x = _exponents(off_bins, "off", width, int(c.size), min_periods)
    flags = [*_level_flags(levels), *on_x.flags, *off_x.flags]
    return BlinkingAnalysis(
        threshold_counts=theta,
        threshold_method=method,
        levels=levels,
        k_sigma=k,
        bin_width_s=width,
        on_fraction=on_fraction,
        on_fraction_err=on_fraction_err,
        on_fraction_binned=float(on.mean()),
        on_durations_s=np.asarray(on_bins * width, dtype=np.float64),
        off_durations_s=np.asarray(off_bins * width, dtype=np.float64),
        k_on_loglog=on_x.loglog,
        k_on_loglog_err=on_x.loglog_err,
        k_off_loglog=off_x.loglog,
        k_off_loglog_err=off_x.loglog_err,
        on_loglog_log10_p_1s=on_x.loglog_intercept,
        off_loglog_log10_p_1s=off_x.loglog_intercept,
        k_on_ml=on_x.ml.k if on_x.ml else math.nan,
        k_on_ml_err=on_x.ml.k_err if on_x.ml else math.nan,
        k_off_ml=off_x.ml.k if off_x.ml else math.nan,
        k_off_ml_err=off_x.ml.k_err if off_x.ml else math.nan,
        on_ml=on_x.ml,
        off_ml=off_x.ml,
        on_distribution=on_x.distribution,
        off_distribution=off_x.distribution,
        flags=tuple(flags),
    )


def _level_flags(levels: Levels) -> list[str]:
    flags = []
    if not levels.resolved and levels.on_counts is not None and not levels.one_level:
        flags.append("levels_not_resolved")
    if levels.one_level:
        flags.append("one_level")
        if not levels.off_known:
            # One level and nothing measured off: always on and always off look alike.
            flags.append("state_unknown")
    return flags


def _complete_runs(on: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Lengths in bins of the on and the off runs, without the truncated first and last runs."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(on.astype(np.int8))) + 1))
    lengths = np.diff(np.append(starts, on.size))
    state = on[starts]
    lengths, state = lengths[1:-1], state[1:-1]
    return lengths[state], lengths[~state]


@dataclass(frozen=True)
class _Exponents:
    """The power-law exponent of one state's durations, both ways, and the flags that came with it."""

    loglog: float
    loglog_err: float
    loglog_intercept: float
    ml: PowerLawMl | None
    distribution: DurationDistribution | None
    flags: tuple[str, ...]


def _exponents(bins: IntArray, name: str, width: float, trace_bins: int, min_periods: int) -> _Exponents:
    flags = []
    ll = ll_err = ll_icpt = math.nan
    ml = dist = None
    if np.unique(bins).size >= 3:
        dist = duration_distribution(bins * width)
        ll, ll_err, ll_icpt = _loglog(dist)
    else:
        flags.append(f"too_few_{name}_periods_for_loglog")
    if bins.size >= 2:
        ml = power_law_ml_discrete(bins, x_max_bins=trace_bins)
        flags.extend(f"{name}_ml:{f}" for f in ml.flags if f != "few_periods")
    else:
        flags.append(f"too_few_{name}_periods_for_ml")
    if 0 < bins.size < min_periods:
        flags.append(f"few_{name}_periods")
    return _Exponents(ll, ll_err, ll_icpt, ml, dist, tuple(flags))
