"""Per-level photon statistics of a blinking dot: level decays, FLID, and A/B-type classification.

Photons (arrival times, delays after the laser pulse) and the levels of their trace in;
per level a TCSPC histogram and its lifetime, per short window the intensity and mean
delay (the fluorescence lifetime–intensity distribution, FLID; Galland et al., Nature
479, 203 (2011)), and the blinking type with its evidence out.

* **Which level a photon belongs to**: the segment between change points that holds
  its arrival time (a photon exactly at a change point closes the earlier segment), and
  that segment's level.
* **Level lifetimes**: the same Poisson maximum-likelihood tail fit as the decay analysis
  (:func:`qdcat.analysis.fits.fit_decay`), on each level's histogram, in the fit window
  of the whole acquisition's histogram, so every level is fitted over the same delays.
* **A/B type** (:func:`classify_blinking`): the weighted regression of the level
  lifetimes on their relative intensity x = I/I_max. Charging (A-type, a trion) makes a
  dim level decay faster: for a level dimmed by a faster non-radiative channel alone,
  τ ∝ I, a slope of τ_max. Trap-assisted (B-type) blinking dims without changing τ: a
  slope of 0. A slope above 0 by ``z`` standard errors is A; a slope within ``z`` errors
  of 0 *and* more than ``z`` errors below τ_max (the data exclude the A-type law) is B;
  anything else is "unclear", and one level is "none".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qdcat.errors import InvalidValueError

__all__ = [
    "BlinkingClass",
    "FlidMap",
    "LevelLifetime",
    "LevelPhotonAccumulator",
    "LevelPhotons",
    "classify_blinking",
    "flid_map",
    "level_lifetimes",
    "lifetime_from_mean_delay",
]

I64Array = npt.NDArray[np.int64]
F64Array = npt.NDArray[np.float64]

NO_DELAY = -1  # a photon without a delay (T2 before the first sync)


@dataclass(frozen=True)
class LevelPhotons:
    """Photons per level (and their delay histograms), and per FLID window, of one acquisition.

    ``decays[g]`` counts level g's photons per delay bin ``[k·bin_ps, (k+1)·bin_ps)``;
    ``window_photons[w]`` the photons of window w (``window_ps`` wide from ``start_ps``),
    ``window_tail_photons[w]`` and ``window_tail_delay_ps[w]`` those with a delay in
    ``[tail_start_ps, tail_stop_ps)`` and the sum of their delays after ``tail_start_ps``.
    """

    photons: I64Array
    decays: I64Array  # (n_levels, n_bins)
    bin_ps: float
    window_ps: int
    start_ps: int
    window_photons: I64Array
    window_level: I64Array  # the level of most of each window's time (-1: none)
    window_tail_photons: I64Array
    window_tail_delay_ps: F64Array
    tail_start_ps: float
    tail_stop_ps: float

    @property
    def n_levels(self) -> int:
        return int(self.decays.shape[0])


class LevelPhotonAccumulator:
    """Sort a photon stream, chunk by chunk, into the levels of its trace and into FLID windows.

    ``edges_ps`` are the change-point times (segment j ends at ``edges_ps[j]``),
    ``segment_level`` the level of each segment (len(edges_ps) + 1). Memory: the
    per-level histograms and one number per window, whatever the stream's length.
    """

    def __init__(
        self,
        edges_ps: Any,
        segment_level: Any,
        *,
        n_levels: int,
        start_ps: int,
        stop_ps: int,
        bin_ps: float,
        n_bins: int,
        window_ps: int,
        tail_start_ps: float = 0.0,
        tail_stop_ps: float = math.inf,
    ) -> None:
        self.edges = np.ascontiguousarray(edges_ps, dtype=np.int64)
        self.segment_level = np.ascontiguousarray(segment_level, dtype=np.int64)
        if self.segment_level.shape[0] != self.edges.shape[0] + 1:
            raise InvalidValueError(
                f"segment_level needs one level per segment ({self.edges.shape[0] + 1}), "
                f"got {self.segment_level.shape[0]}"
            )
        if not (bin_ps > 0 and n_bins >= 1 and window_ps >= 1 and stop_ps > start_ps):
            raise InvalidValueError(
                "bin_ps, n_bins and window_ps must be positive and the stream must end after it starts"
            )
        self.n_levels = int(n_levels)
        self.start_ps, self.bin_ps, self.n_bins, self.window_ps = (
            int(start_ps),
            float(bin_ps),
            n_bins,
            window_ps,
        )
        self.tail = (float(tail_start_ps), float(tail_stop_ps))
        n_windows = int((int(stop_ps) - self.start_ps) // window_ps) + 1
        self._photons = np.zeros(self.n_levels, np.int64)
        self._decays = np.zeros(self.n_levels * n_bins, np.int64)
        self._win = np.zeros(n_windows, np.int64)
        self._win_tail = np.zeros(n_windows, np.int64)
        self._win_delay = np.zeros(n_windows, np.float64)
        self._window_level = self._majority_level(n_windows)

    def _majority_level(self, n_windows: int) -> I64Array:
        """The level that holds each window's centre (the window's level in the FLID)."""
        centres = self.start_ps + (
            np.arange(n_windows, dtype=np.int64) * self.window_ps + self.window_ps // 2
        )
        return self.segment_level[np.searchsorted(self.edges, centres, side="left")]

    def levels_of(self, timestamps_ps: np.ndarray) -> I64Array:
        """The level of each photon of a time-sorted chunk."""
        levels: I64Array = self.segment_level[np.searchsorted(self.edges, timestamps_ps, side="left")]
        return levels

    def add(self, timestamps_ps: np.ndarray, delays_ps: np.ndarray | None = None) -> None:
        """Add the detector photons of the next chunk (``delays_ps``: after the pulse; < 0 unknown)."""
        t = np.asarray(timestamps_ps, dtype=np.int64)
        if t.shape[0] == 0:
            return
        level = self.levels_of(t)
        self._photons += np.bincount(level, minlength=self.n_levels)
        w = np.clip((t - self.start_ps) // self.window_ps, 0, self._win.shape[0] - 1)
        self._win += np.bincount(w, minlength=self._win.shape[0])
        if delays_ps is None:
            return
        d = np.asarray(delays_ps, dtype=np.float64)
        k = np.floor(d / self.bin_ps).astype(np.int64)
        ok = (d >= 0) & (k < self.n_bins)
        self._decays += np.bincount(level[ok] * self.n_bins + k[ok], minlength=self._decays.shape[0])
        lo, hi = self.tail
        tail = (d >= lo) & (d < hi)
        self._win_tail += np.bincount(w[tail], minlength=self._win.shape[0])
        self._win_delay += np.bincount(w[tail], weights=d[tail] - lo, minlength=self._win.shape[0])

    def result(self) -> LevelPhotons:
        return LevelPhotons(
            photons=self._photons.copy(),
            decays=self._decays.reshape(self.n_levels, self.n_bins).copy(),
            bin_ps=self.bin_ps,
            window_ps=self.window_ps,
            start_ps=self.start_ps,
            window_photons=self._win.copy(),
            window_level=self._window_level.copy(),
            window_tail_photons=self._win_tail.copy(),
            window_tail_delay_ps=self._win_delay.copy(),
            tail_start_ps=self.tail[0],
            tail_stop_ps=self.tail[1],
        )


# -- level lifetimes -------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelLifetime:
    """The lifetime of one level's photons (NaN where its histogram has no decay to fit)."""

    lifetime_ns: float
    lifetime_ns_err: float
    n_counts: int
    flags: tuple[str, ...]


def level_lifetimes(
    edges_ns: Any, decays: Any, *, fit_start_ns: float, fit_stop_ns: float
) -> tuple[LevelLifetime, ...]:
    """Poisson ML tail fit (:func:`fit_decay`) of each level's histogram, all in one fit window.

    A level whose histogram holds too few photons in the window, or no decay above a flat
    background (flag ``no_decay_signal``), gets a NaN lifetime and says why in its flags.
    """
    from qdcat.analysis.fits import fit_decay

    edges = np.asarray(edges_ns, dtype=np.float64)
    counts = np.asarray(decays)
    if counts.ndim != 2 or counts.shape[1] + 1 != edges.shape[0]:
        raise InvalidValueError(
            f"decays must be (levels, bins) with bins = len(edges_ns) - 1, got {counts.shape} "
            f"and {edges.shape[0]} edges"
        )
    out = []
    for row in counts:
        try:
            fit = fit_decay(edges, row, fit_start_ns=fit_start_ns, fit_stop_ns=fit_stop_ns)
        except InvalidValueError as exc:
            n = int(row.sum())
            out.append(LevelLifetime(math.nan, math.nan, n, (f"no_lifetime:{_reason(str(exc))}",)))
            continue
        flags = tuple(fit.flags)
        if "no_decay_signal" in flags or not fit.converged or not math.isfinite(fit.lifetime_ns_err):
            out.append(LevelLifetime(math.nan, math.nan, fit.n_counts, ("no_lifetime:no_decay", *flags)))
        else:
            out.append(LevelLifetime(fit.lifetime_ns, fit.lifetime_ns_err, fit.n_counts, flags))
    return tuple(out)


def _reason(message: str) -> str:
    return "few_counts" if "counts" in message else "no_fit"


# -- A/B classification ----------------------------------------------------------------------


@dataclass(frozen=True)
class BlinkingClass:
    """The blinking type of a dot ("A", "B", "none", "unclear") and the evidence for it.

    ``slope_ns`` (± ``slope_ns_err``) is dτ/dx over the levels with a lifetime, x = I/I_max;
    ``bright_lifetime_ns`` the brightest such level's; ``dim_lifetime_ratio`` τ of the
    dimmest level with a lifetime and x < ``dim_below``, over the brightest's.
    """

    type: str
    slope_ns: float
    slope_ns_err: float
    bright_lifetime_ns: float
    bright_lifetime_ns_err: float
    dim_lifetime_ratio: float
    dim_lifetime_ratio_err: float
    n_levels_used: int
    reason: str


def classify_blinking(
    intensity_cps: Any,
    lifetime_ns: Any,
    lifetime_ns_err: Any,
    *,
    dim_below: float = 0.7,
    z: float = 3.0,
) -> BlinkingClass:
    """A-, B-type or no blinking from the levels' intensities and lifetimes (see the module docstring)."""
    intensity = np.asarray(intensity_cps, dtype=np.float64)
    tau = np.asarray(lifetime_ns, dtype=np.float64)
    err = np.asarray(lifetime_ns_err, dtype=np.float64)
    if not (intensity.shape == tau.shape == err.shape) or intensity.ndim != 1 or intensity.size == 0:
        raise InvalidValueError("intensity_cps, lifetime_ns and lifetime_ns_err must be 1-D, equally long")
    if not (0 < dim_below < 1 and z > 0):
        raise InvalidValueError(f"dim_below must lie in (0, 1) and z be > 0, got {dim_below}, {z}")
    nan = math.nan
    if intensity.size == 1:
        return BlinkingClass("none", nan, nan, *_pair(tau[0], err[0]), nan, nan, 0, "one intensity level")
    x = intensity / intensity.max()
    ok = np.isfinite(tau) & np.isfinite(err) & (err > 0)
    if not ok.any():
        return BlinkingClass("unclear", nan, nan, nan, nan, nan, nan, 0, "no level has a lifetime")
    bright = int(np.flatnonzero(ok)[np.argmax(x[ok])])
    tb, tbe = float(tau[bright]), float(err[bright])
    dim = np.flatnonzero(ok & (x < dim_below * x[bright]))
    if dim.size == 0:
        reason = "no dim level with a lifetime (the dim levels are too dark or too short to time)"
        return BlinkingClass("unclear", nan, nan, tb, tbe, nan, nan, int(ok.sum()), reason)
    d = int(dim[np.argmin(x[dim])])
    ratio = float(tau[d] / tb)
    ratio_err = ratio * math.hypot(err[d] / tau[d], tbe / tb)
    slope, slope_err = _weighted_slope(x[ok], tau[ok], err[ok])
    if slope > z * slope_err:
        kind, why = "A", f"lifetime rises with intensity: slope {slope:.3g} ± {slope_err:.2g} ns"
    elif abs(slope) <= z * slope_err and tb - slope > z * slope_err:
        kind, why = "B", f"lifetime independent of intensity: slope {slope:.3g} ± {slope_err:.2g} ns"
    else:
        kind, why = "unclear", f"slope {slope:.3g} ± {slope_err:.2g} ns fits neither type at {z:g} SE"
    return BlinkingClass(kind, slope, slope_err, tb, tbe, ratio, ratio_err, int(ok.sum()), why)


def _pair(a: float, b: float) -> tuple[float, float]:
    return (float(a), float(b)) if math.isfinite(a) else (math.nan, math.nan)


def _weighted_slope(x: F64Array, y: F64Array, sd: F64Array) -> tuple[float, float]:
    """Slope of the weighted least-squares line and its SE, scaled up by sqrt(χ²/dof) when > 1."""
    w = 1.0 / sd**2
    sw, sx, sy = w.sum(), (w * x).sum(), (w * y).sum()
    delta = sw * (w * x * x).sum() - sx**2
    if x.size < 2 or not delta > 0:
        return math.nan, math.nan
    slope = (sw * (w * x * y).sum() - sx * sy) / delta
    se = math.sqrt(sw / delta)
    if x.size > 2:
        icpt = (sy - slope * sx) / sw
        chi2 = float((w * (y - icpt - slope * x) ** 2).sum()) / (x.size - 2)
        se *= math.sqrt(max(chi2, 1.0))
    return float(slope), se


# -- FLID ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlidMap:
    """Counts of windows per (intensity, mean delay) bin: the FLID of one acquisition."""

    intensity_edges_cps: F64Array
    delay_edges_ns: F64Array
    counts: I64Array  # (intensity bins, delay bins)


def flid_map(
    lp: LevelPhotons,
    *,
    background_tail_cps: float = 0.0,
    n_intensity: int = 60,
    n_delay: int = 60,
    min_tail: int = 5,
) -> FlidMap:
    """The FLID: each window's intensity against the lifetime from its tail photons' mean delay.

    For a mono-exponential truncated to the tail window [0, W) the mean delay is
    ``m = τ − W/(e^{W/τ} − 1)``; it is inverted for τ (:func:`lifetime_from_mean_delay`).
    A flat background (``background_tail_cps`` of the tail's photons per second, from the
    whole decay's fit) pulls m toward W/2: its expected photons, at mean W/2, are taken
    out of each window first. Windows with fewer than ``min_tail`` signal photons in the
    tail, or a mean at or past W/2 (no decay), are left out.
    """
    rate = lp.window_photons / (lp.window_ps / 1e12)
    width_ps = lp.tail_stop_ps - lp.tail_start_ps
    n_bg = max(float(background_tail_cps), 0.0) * lp.window_ps / 1e12
    signal = lp.window_tail_photons - n_bg
    half = width_ps / 2 if math.isfinite(width_ps) else 0.0
    mean_ps = (lp.window_tail_delay_ps - n_bg * half) / np.maximum(signal, 1e-9)
    tau_ns = lifetime_from_mean_delay(mean_ps, width_ps) / 1e3 if math.isfinite(width_ps) else mean_ps / 1e3
    ok = (signal >= min_tail) & np.isfinite(tau_ns)
    i_edges = np.linspace(0.0, max(float(rate.max()), 1.0) * 1.02, n_intensity + 1)
    d_max = float(np.quantile(tau_ns[ok], 0.99)) * 1.3 if ok.any() else 1.0
    if math.isfinite(width_ps):
        # A lifetime beyond a third of the tail is barely determined by the mean delay: the map
        # stops there.
        d_max = min(d_max, width_ps / 3e3)
    d_edges = np.linspace(0.0, max(d_max, 1e-3), n_delay + 1)
    counts, _, _ = np.histogram2d(rate[ok], tau_ns[ok], bins=(i_edges, d_edges))
    return FlidMap(i_edges, d_edges, counts.astype(np.int64))


def lifetime_from_mean_delay(mean_ps: Any, width_ps: float) -> F64Array:
    """τ of an exponential truncated to [0, W) with mean delay ``mean_ps`` (NaN where m >= W/2)."""
    m = np.asarray(mean_ps, dtype=np.float64) / width_ps
    # m(τ/W) rises monotonically from 0 to 1/2: tabulate it on a log grid and interpolate.
    x = np.geomspace(2e-3, 1e4, 4001)  # 1/x stays below exp overflow
    table = x - 1.0 / np.expm1(1.0 / x)
    out: F64Array = np.where((m > 0) & (m < table[-1]), np.interp(m, table, x) * width_ps, np.nan)
    return out
