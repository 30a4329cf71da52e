"""Change points of a photon stream by the likelihood-ratio test of Watkins & Yang (2005).

Arrival times in (int64 ps, all detectors of a dot merged), change points with confidence
intervals and the segment rates out; fed whole or chunk by chunk with the same result.

Method, for the record:

* **Test.** A segment of ``n`` inter-photon intervals over ``T`` is split after the k-th
  interval where ``2 ln L_k`` (see :mod:`qdcat._kernels.changepoint`) is largest, with
  ``min_photons <= k <= n - min_photons``, if that maximum exceeds the critical value for
  ``n``, ``min_photons`` and the false-positive rate ``alpha`` (J. Phys. Chem. B 109, 617).
* **Critical values** are quantiles of that maximum under a constant rate, which do not
  depend on the rate: computed here by Monte Carlo (:func:`simulate_null_maxima`, 20 000
  constant-rate streams per ``n`` on a log grid up to 2^16, seed ``n``) and tabulated at the
  end of this module, as Watkins & Yang did. The asymptotic law of the maximum (Csörgő &
  Horváth, *Limit Theorems in Change-Point Analysis*, 1997) is not used: it converges like
  ``ln ln n`` and is off by units of ``2 ln L`` at these sizes. Tabulated for ``alpha`` in
  :data:`ALPHAS` and ``min_photons`` 1, 2, 4 … 64 (Monte Carlo error ±0.06 in ``2 ln L``,
  ±5 % of ``alpha`` at 0.05); in between, interpolated linearly in ``ln alpha``, ``ln n``
  and ``ln min_photons``.
* **Many change points**: binary segmentation (split, then test each half again), then
  each point is tested again between its two neighbours and dropped or moved to the
  maximum there (Watkins & Yang's check), until nothing changes.
* **Confidence interval**: the contiguous splits whose ``2 ln L`` lies within a drop ``d``
  of the change point's, as Watkins & Yang. The location likelihood is far from χ²: ``d``
  is the quantile of that drop for a true switch of the same contrast (the rate ratio of
  the two adjacent segments), by Monte Carlo (:func:`simulate_location_drops`), so the
  interval covers the true switch at the stated ``confidence``. At contrasts above ~5 the
  estimate is often exactly right and the coverage can only be higher than stated.
* **Streaming**: photons are analysed in windows of at most ``window_photons`` (≤ 2^16).
  In each window the change points found further than ``window/8`` from its end are kept;
  the next window starts at the last kept change point, or ``window/4`` before the end if
  that is later. So memory is O(window) whatever the acquisition, every change point is
  decided with context on both sides, each photon is scanned by ~1.3 windows, and
  the windows fall on the same photons however the stream is chunked. A segment longer
  than ``3/4`` of a window is tested a window at a time; ``alpha`` is the false-positive
  rate per test, so a constant stream of many windows can yield more than ``alpha``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qdcat._kernels import changepoint as _k
from qdcat.errors import InvalidValueError

__all__ = [
    "ALPHAS",
    "CONFIDENCES",
    "MAX_WINDOW_PHOTONS",
    "ChangePointAccumulator",
    "ChangePoints",
    "change_points_from_chunks",
    "critical_value",
    "find_change_points",
    "location_drop",
    "simulate_location_drops",
    "simulate_null_maxima",
]

I64Array = npt.NDArray[np.int64]
F64Array = npt.NDArray[np.float64]

PS_PER_S = 1e12
MAX_WINDOW_PHOTONS = 65536  # the critical-value table ends here
MIN_WINDOW_PHOTONS = 64


@dataclass(frozen=True)
class ChangePoints:
    """Change points of one photon stream and the constant-rate segments between them.

    Change point i is photon ``indices[i]`` (0-based in the whole stream) at
    ``times_ps[i]``: the segment before it ends with that photon, the next one starts
    there. ``[ci_low_ps[i], ci_high_ps[i]]`` holds the true switch with probability
    ``confidence``. Segment j runs from ``segment_starts_ps[j]`` to ``segment_stops_ps[j]``
    and holds ``segment_photons[j]`` photons: the photons after its start up to its stop,
    except that a change-point photon goes to the brighter of its two segments (see
    :func:`_photons_per_segment`); the stream's first photon only starts the clock. A
    segment can hold no photon: a gap between two brighter segments.
    """

    indices: I64Array
    times_ps: I64Array
    ci_low_ps: I64Array
    ci_high_ps: I64Array
    segment_starts_ps: I64Array  # n_change_points + 1
    segment_stops_ps: I64Array
    segment_photons: I64Array
    n_photons: int
    alpha: float
    confidence: float
    min_photons: int
    window_photons: int
    recheck: bool

    @property
    def n_change_points(self) -> int:
        return int(self.indices.shape[0])

    @property
    def segment_durations_s(self) -> F64Array:
        return (self.segment_stops_ps - self.segment_starts_ps).astype(np.float64) / PS_PER_S

    @property
    def segment_rates_cps(self) -> F64Array:
        """Maximum-likelihood rate of each segment: photons / duration (counts/s)."""
        rates: F64Array = self.segment_photons / self.segment_durations_s
        return rates

    @property
    def segment_rate_errors_cps(self) -> F64Array:
        """1σ of each rate from the Fisher information, sqrt(photons) / duration (1 / duration if empty)."""
        errors: F64Array = np.sqrt(np.maximum(self.segment_photons, 1)) / self.segment_durations_s
        return errors


# -- critical values -----------------------------------------------------------------------

#: False-positive rates with tabulated (exact) critical values.
ALPHAS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.31)
#: ``min_photons`` values with tabulated (exact) critical values.
_TABLE_MIN_PHOTONS = (1, 2, 4, 8, 16, 32, 64)
#: Confidence levels with tabulated location drops.
CONFIDENCES = (0.5, 0.69, 0.8, 0.9, 0.95, 0.99)


def simulate_null_maxima(n_intervals: int, *, n_rep: int = 20_000, seed: int | None = None) -> F64Array:
    """Max of ``2 ln L_k`` on ``n_rep`` constant-rate streams of ``n_intervals`` intervals.

    Column j trims to ``min_photons`` = ``(1, 2, 4, 8, 16, 32, 64)[j]`` (-inf where it does not
    fit). The tabulated critical values are the ``1 - alpha`` quantiles of these, with the
    defaults and ``seed = n_intervals``.
    """
    n = _count("n_intervals", n_intervals, lo=2)
    reps = _count("n_rep", n_rep, lo=1)
    out = np.empty((reps, len(_TABLE_MIN_PHOTONS)), np.float64)
    _k.null_max_llr(n, np.asarray(_TABLE_MIN_PHOTONS, np.int64), reps, n if seed is None else seed, out)
    return out


def simulate_location_drops(
    contrast: float, *, n_side: int | None = None, n_rep: int = 20_000, seed: int = 1
) -> F64Array:
    """For a true switch of rate ratio ``contrast``, the drop of ``2 ln L`` below its maximum
    that the confidence region needs to reach the truth, on ``n_rep`` simulated streams."""
    rho = _finite("contrast", contrast, lo=1.0)
    if n_side is None:
        # ~40 / (KL divergence per interval) photons each side: the likelihood profile
        # near the switch never reaches that far (checked: doubling it changes nothing).
        n_side = max(200, math.ceil(40.0 / max(rho - 1.0 - math.log(rho), 1e-9)))
    out = np.empty(_count("n_rep", n_rep, lo=1), np.float64)
    _k.location_drops(rho, _count("n_side", n_side, lo=2), out.shape[0], seed, out)
    return out


def critical_value(n_photons: int, *, alpha: float = 0.05, min_photons: int = 4) -> float:
    """The ``2 ln L`` a segment of ``n_photons`` intervals must exceed to be split (-inf: none fits)."""
    n = _count("n_photons", n_photons, lo=1)
    log_n, values = _critical_curve(_alpha(alpha), _min_photons(min_photons))
    if n < 2 * min_photons:
        return -math.inf
    return float(np.interp(math.log(n), log_n, values))


def location_drop(contrast: float, *, confidence: float = 0.69) -> float:
    """The drop of ``2 ln L`` that bounds a change point's confidence interval at this contrast."""
    rho = _finite("contrast", contrast, lo=1.0)
    log_rho, values = _drop_curve(_confidence(confidence))
    return float(np.interp(math.log(rho), log_rho, values))


@functools.cache
def _critical_curve(alpha: float, min_photons: int) -> tuple[F64Array, F64Array]:
    """(ln n, critical value) over the table's n for this alpha and min_photons."""
    la = np.log(ALPHAS)
    ms = np.asarray(_TABLE_MIN_PHOTONS)
    j = int(np.searchsorted(ms, min_photons, side="right")) - 1
    lower = _table_at_alpha(int(ms[j]), alpha, la)
    if ms[j] == min_photons:
        return lower
    # Between two tabulated trimmings: interpolate in ln m where both exist; below the
    # upper one's smallest n, the lower one's value (larger, so α is not exceeded).
    upper_log_n, upper_values = _table_at_alpha(int(ms[j + 1]), alpha, la)
    f = math.log(min_photons / ms[j]) / math.log(ms[j + 1] / ms[j])
    log_n, values = lower
    blended = values.copy()
    have = log_n >= upper_log_n[0] - 1e-12
    blended[have] = (1 - f) * values[have] + f * np.interp(log_n[have], upper_log_n, upper_values)
    keep = log_n >= math.log(2 * min_photons) - 1e-12
    return log_n[keep], blended[keep]


def _table_at_alpha(m: int, alpha: float, log_alphas: F64Array) -> tuple[F64Array, F64Array]:
    rows = _NULL_TABLE[m]
    log_n = np.log([r[0] for r in rows]).astype(np.float64)
    values = np.array([np.interp(math.log(alpha), log_alphas, r[1]) for r in rows], np.float64)
    return log_n, values


@functools.cache
def _drop_curve(confidence: float) -> tuple[F64Array, F64Array]:
    """(ln ρ, drop) over the table's contrasts for this confidence level."""
    # Interpolated between tabulated levels linearly in -ln(1 - confidence).
    x = -np.log1p(-np.asarray(CONFIDENCES))
    xq = -math.log1p(-confidence)
    log_rho = np.log([r[0] for r in _DROP_TABLE]).astype(np.float64)
    values = np.array([np.interp(xq, x, r[1]) for r in _DROP_TABLE], np.float64)
    return log_rho, values


@functools.cache
def _klogk(n_max: int) -> F64Array:
    k = np.arange(n_max + 1, dtype=np.float64)
    out: F64Array = k * np.log(np.where(k > 0, k, 1.0))
    return out


# -- validation ------------------------------------------------------------------------------


def _count(name: str, value: Any, *, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise InvalidValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def _finite(name: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(x) and lo <= x <= hi):
        raise InvalidValueError(f"{name} must be finite and in [{lo:g}, {hi:g}], got {value!r}")
    return x


def _alpha(alpha: Any) -> float:
    a = _finite("alpha", alpha)
    if not ALPHAS[0] <= a <= ALPHAS[-1]:
        raise InvalidValueError(
            f"alpha (the false-positive rate per test) must be in [{ALPHAS[0]}, {ALPHAS[-1]}], got "
            f"{alpha!r}; critical values are tabulated at {ALPHAS}"
        )
    return a


def _confidence(confidence: Any) -> float:
    c = _finite("confidence", confidence)
    if not CONFIDENCES[0] <= c <= CONFIDENCES[-1]:
        raise InvalidValueError(
            f"confidence must be in [{CONFIDENCES[0]}, {CONFIDENCES[-1]}], got {confidence!r} "
            "(e.g. 0.69 or 0.95 as Watkins & Yang)"
        )
    return c


def _min_photons(value: Any) -> int:
    return _count("min_photons", value, lo=1, hi=_TABLE_MIN_PHOTONS[-1])


def _timestamps(timestamps_ps: Any) -> I64Array:
    ts = np.asarray(timestamps_ps)
    if ts.ndim != 1:
        raise InvalidValueError(f"timestamps_ps must be a 1-D array, got shape {ts.shape}")
    if ts.dtype != np.int64:
        raise InvalidValueError(
            f"timestamps_ps must be int64 picoseconds, got {ts.dtype}; convert with .astype(np.int64) "
            "after scaling instrument units to ps"
        )
    ts = np.ascontiguousarray(ts)
    if ts.shape[0] and ts[0] < 0:
        raise InvalidValueError(f"timestamps_ps must be >= 0, got {int(ts[0])} ps first")
    bad = int(_k.first_decrease(ts))
    if bad >= 0:
        raise InvalidValueError(
            f"timestamps_ps decrease at index {bad} ({int(ts[bad])} ps after {int(ts[bad - 1])} ps); "
            "merge the detectors of the dot with a sort by time first, and feed chunks in order"
        )
    return ts


# -- the analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """Change points decided in one window: global photon indices and times."""

    indices: I64Array
    times_ps: I64Array
    ci_low_ps: I64Array
    ci_high_ps: I64Array


class ChangePointAccumulator:
    """Change points of a stream fed chunk by chunk; :meth:`result` equals :func:`find_change_points`.

    Holds at most ``window_photons`` photons between calls (plus the chunk being added).
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        confidence: float = 0.69,
        min_photons: int = 4,
        window_photons: int = MAX_WINDOW_PHOTONS,
        recheck: bool = True,
    ) -> None:
        self.alpha = _alpha(alpha)
        self.confidence = _confidence(confidence)
        self.min_photons = _min_photons(min_photons)
        self.window_photons = _count(
            "window_photons",
            window_photons,
            lo=max(MIN_WINDOW_PHOTONS, 16 * self.min_photons),
            hi=MAX_WINDOW_PHOTONS,
        )
        if not isinstance(recheck, bool):
            raise InvalidValueError(f"recheck must be True or False, got {recheck!r}")
        self.recheck = recheck
        self._crit = _critical_curve(self.alpha, self.min_photons)
        self._drop = _drop_curve(self.confidence)
        self._klogk = _klogk(self.window_photons)
        self._carry: I64Array = np.empty(0, np.int64)
        self._base = 0  # global index of self._carry[0]
        self._found: list[_Found] = []
        self._first: int | None = None
        self._n = 0

    def add(self, timestamps_ps: np.ndarray) -> None:
        """Add the next chunk of the stream (refused, leaving the state unchanged, if out of order)."""
        ts = _timestamps(timestamps_ps)
        if ts.shape[0] == 0:
            return
        if self._carry.shape[0] and ts[0] < self._carry[-1]:
            raise InvalidValueError(
                f"this chunk starts at {int(ts[0])} ps, before the previous one ended "
                f"({int(self._carry[-1])} ps); feed chunks in acquisition order"
            )
        if self._first is None:
            self._first = int(ts[0])
        self._n += ts.shape[0]
        w = self.window_photons
        pos = 0
        carry = self._carry
        while carry.shape[0] + ts.shape[0] - pos >= w:
            take = w - carry.shape[0]
            window = np.concatenate([carry, ts[pos : pos + take]])
            pos += take
            found, start = self._window(window, final=False)
            self._found.append(found)
            carry = window[start:].copy()
            self._base += start
        self._carry = np.concatenate([carry, ts[pos:]])

    def result(self) -> ChangePoints:
        """The change points so far, the rest of the stream taken as its end (no state changes)."""
        if self._n < 2 or self._first is None:
            raise InvalidValueError(
                f"change points need at least 2 photons, got {self._n}; check the detector channels "
                "selected for the dot"
            )
        if self._carry[-1] == self._first:
            raise InvalidValueError(
                f"all {self._n} photons carry the same timestamp ({self._first} ps); "
                "a rate needs photons spread in time"
            )
        last, _ = self._window(self._carry, final=True)
        parts = [*self._found, last]
        idx = np.concatenate([p.indices for p in parts])
        times = np.concatenate([p.times_ps for p in parts])
        bounds = np.concatenate([[0], idx, [self._n - 1]]).astype(np.int64)
        edges = np.concatenate([[self._first], times, [int(self._carry[-1])]]).astype(np.int64)
        return ChangePoints(
            indices=idx,
            times_ps=times,
            ci_low_ps=np.concatenate([p.ci_low_ps for p in parts]),
            ci_high_ps=np.concatenate([p.ci_high_ps for p in parts]),
            segment_starts_ps=edges[:-1],
            segment_stops_ps=edges[1:],
            segment_photons=_photons_per_segment(bounds, edges),
            n_photons=self._n,
            alpha=self.alpha,
            confidence=self.confidence,
            min_photons=self.min_photons,
            window_photons=self.window_photons,
            recheck=self.recheck,
        )

    def _window(self, t: I64Array, *, final: bool) -> tuple[_Found, int]:
        """Change points decided in the window ``t`` (global index ``self._base``) and where the
        next window starts (relative); a final window decides all of them."""
        n = t.shape[0] - 1
        m = self.min_photons
        log_n, crit = self._crit
        cps = np.empty(max(n, 0) // m + 2, np.int64)
        n_cp = int(_k.binary_segmentation(t, 0, n, m, self._klogk, log_n, crit, cps)) if n >= 2 * m else 0
        if self.recheck and n_cp:
            n_cp = int(_k.recheck(t, 0, n, cps, n_cp, m, self._klogk, log_n, crit))
        cps = cps[:n_cp]
        lo = np.empty(n_cp, np.int64)
        hi = np.empty(n_cp, np.int64)
        _k.confidence_bounds(t, 0, n, cps, n_cp, self._klogk, self._drop[0], self._drop[1], lo, hi)
        start = 0
        if not final:
            w = self.window_photons
            keep = cps < n - w // 8
            cps, lo, hi = cps[keep], lo[keep], hi[keep]
            start = max(int(cps[-1]) if cps.shape[0] else 0, w - w // 4)
        found = _Found(cps + self._base, t[cps], t[lo], t[hi])
        return found, start


def _photons_per_segment(bounds: I64Array, edges_ps: I64Array) -> I64Array:
    """Photons detected in each segment; the photon at a change point goes to the brighter side.

    That is where the likelihood in continuous time puts it: with the switch anywhere in
    the interval that straddles it, the likelihood is largest with the switch at the
    photon, the photon being the dim segment's end if the rate falls and the bright
    segment's start if it rises. Counting it always to the left segment (as the test's
    intervals do) would add one photon to every dim segment before a rise.
    """
    photons = np.diff(bounds)
    rates = photons / np.maximum(np.diff(edges_ps), 1).astype(np.float64)
    rise = np.flatnonzero(rates[1:] > rates[:-1])
    photons[rise] -= 1
    photons[rise + 1] += 1
    return photons


def find_change_points(
    timestamps_ps: np.ndarray,
    *,
    alpha: float = 0.05,
    confidence: float = 0.69,
    min_photons: int = 4,
    window_photons: int = MAX_WINDOW_PHOTONS,
    recheck: bool = True,
) -> ChangePoints:
    """Change points of a time-sorted photon stream (int64 ps, all detectors of one dot merged).

    ``alpha`` is the false-positive rate of each test, ``confidence`` that of the intervals,
    ``min_photons`` the fewest inter-photon intervals a segment may span (its photons, but
    for the one at a change point); see the module docstring.
    ``min_photons=1`` is Watkins & Yang's untrimmed test. The default 4 trims the edges: a
    few close photons at a segment's end give the untrimmed ratio its largest values, and
    split off as a fragment of absurd intensity they would each become a level of their own
    (seen in ~1 simulated trace in 10); the price is ~3 intervals of time resolution.
    """
    acc = ChangePointAccumulator(
        alpha=alpha,
        confidence=confidence,
        min_photons=min_photons,
        window_photons=window_photons,
        recheck=recheck,
    )
    acc.add(timestamps_ps)
    return acc.result()


def change_points_from_chunks(
    chunks: Iterable[np.ndarray],
    *,
    alpha: float = 0.05,
    confidence: float = 0.69,
    min_photons: int = 4,
    window_photons: int = MAX_WINDOW_PHOTONS,
    recheck: bool = True,
) -> ChangePoints:
    """:func:`find_change_points` over a stream given as consecutive timestamp chunks (e.g. read
    from the store), in memory bounded by the largest chunk plus ``window_photons``."""
    acc = ChangePointAccumulator(
        alpha=alpha,
        confidence=confidence,
        min_photons=min_photons,
        window_photons=window_photons,
        recheck=recheck,
    )
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


# -- tables (generated; see simulate_null_maxima and simulate_location_drops) -----------------

#: Critical values of max 2 ln L: for each min_photons, rows (n intervals, values at ALPHAS).
#: simulate_null_maxima(n) (20 000 streams, seed n), 1 - alpha quantiles, 2 decimals.
# fmt: off
_NULL_TABLE: dict[int, tuple[tuple[int, tuple[float, ...]], ...]] = {
    1: (
        (2, (7.61, 6.32, 4.64, 3.30, 2.02, 1.31)), (3, (8.84, 7.53, 5.71, 4.32, 2.97, 2.10)),
        (4, (9.74, 8.27, 6.33, 4.94, 3.50, 2.57)), (5, (10.05, 8.59, 6.63, 5.21, 3.74, 2.83)),
        (6, (10.28, 8.84, 6.96, 5.53, 4.06, 3.09)), (7, (10.52, 9.06, 7.19, 5.74, 4.23, 3.26)),
        (8, (10.56, 9.14, 7.21, 5.84, 4.41, 3.46)), (9, (10.73, 9.24, 7.50, 6.04, 4.54, 3.56)),
        (10, (11.32, 9.86, 7.82, 6.30, 4.76, 3.75)), (11, (11.26, 9.92, 7.87, 6.34, 4.86, 3.87)),
        (12, (11.18, 9.80, 7.89, 6.36, 4.90, 3.89)), (13, (11.16, 9.86, 7.98, 6.48, 5.01, 3.99)),
        (14, (11.39, 9.98, 8.05, 6.60, 5.02, 4.01)), (15, (11.60, 9.99, 8.15, 6.65, 5.11, 4.13)),
        (16, (11.36, 9.99, 8.07, 6.58, 5.14, 4.15)), (19, (11.47, 10.14, 8.30, 6.86, 5.33, 4.33)),
        (23, (11.99, 10.54, 8.56, 7.09, 5.50, 4.49)), (27, (11.67, 10.35, 8.59, 7.18, 5.63, 4.63)),
        (32, (12.22, 10.85, 8.89, 7.34, 5.80, 4.77)), (38, (12.41, 10.93, 9.04, 7.50, 5.96, 4.91)),
        (45, (12.37, 11.00, 9.01, 7.58, 6.03, 4.99)), (54, (12.54, 11.14, 9.28, 7.76, 6.20, 5.15)),
        (64, (12.70, 11.38, 9.35, 7.82, 6.30, 5.25)), (76, (13.19, 11.73, 9.64, 8.06, 6.48, 5.39)),
        (91, (13.05, 11.59, 9.67, 8.18, 6.58, 5.52)), (108, (13.44, 11.86, 9.94, 8.30, 6.71, 5.61)),
        (128, (13.19, 11.92, 9.93, 8.36, 6.76, 5.70)), (152, (13.47, 12.00, 10.00, 8.43, 6.83, 5.74)),
        (181, (13.39, 11.97, 9.98, 8.51, 6.92, 5.88)), (215, (13.67, 12.17, 10.28, 8.75, 7.11, 6.01)),
        (256, (13.95, 12.45, 10.32, 8.71, 7.16, 6.07)), (304, (13.77, 12.43, 10.41, 8.88, 7.27, 6.18)),
        (362, (13.99, 12.58, 10.62, 8.93, 7.33, 6.24)), (431, (13.87, 12.35, 10.43, 8.89, 7.35, 6.28)),
        (512, (13.94, 12.64, 10.70, 9.11, 7.46, 6.38)), (609, (14.27, 12.80, 10.82, 9.21, 7.59, 6.50)),
        (724, (14.29, 12.82, 10.84, 9.27, 7.63, 6.53)), (861, (14.37, 12.94, 10.82, 9.26, 7.67, 6.60)),
        (1024, (14.33, 12.75, 10.89, 9.39, 7.79, 6.68)), (1448, (14.30, 13.01, 11.04, 9.49, 7.89, 6.79)),
        (2048, (14.90, 13.36, 11.30, 9.63, 7.99, 6.89)), (2896, (15.07, 13.45, 11.50, 9.77, 8.11, 7.02)),
        (4096, (14.94, 13.47, 11.46, 9.91, 8.29, 7.16)), (5793, (15.10, 13.67, 11.72, 10.12, 8.44, 7.31)),
        (8192, (15.34, 13.62, 11.67, 10.16, 8.50, 7.37)), (11585, (15.46, 13.94, 11.84, 10.22, 8.57, 7.47)),
        (16384, (15.67, 14.05, 12.00, 10.39, 8.74, 7.59)), (23170, (15.64, 14.01, 12.01, 10.50, 8.77, 7.65)),
        (32768, (15.59, 14.28, 12.20, 10.62, 8.88, 7.75)), (46341, (15.46, 14.15, 12.10, 10.61, 9.00, 7.86)),
        (65536, (15.92, 14.40, 12.31, 10.68, 9.02, 7.90)),
    ),
    2: (
        (4, (7.57, 6.17, 4.34, 3.09, 1.88, 1.19)), (5, (8.25, 6.96, 5.22, 3.91, 2.59, 1.80)),
        (6, (9.06, 7.69, 5.90, 4.50, 3.07, 2.20)), (7, (9.31, 8.03, 6.15, 4.78, 3.38, 2.49)),
        (8, (9.67, 8.26, 6.40, 5.01, 3.65, 2.74)), (9, (9.97, 8.69, 6.70, 5.27, 3.80, 2.91)),
        (10, (10.54, 9.02, 7.04, 5.57, 4.06, 3.09)), (11, (10.59, 9.19, 7.10, 5.63, 4.22, 3.26)),
        (12, (10.42, 9.09, 7.22, 5.73, 4.31, 3.37)), (13, (10.63, 9.24, 7.32, 5.90, 4.41, 3.43)),
        (14, (10.67, 9.33, 7.42, 6.02, 4.44, 3.48)), (15, (10.92, 9.41, 7.57, 6.11, 4.61, 3.64)),
        (16, (10.81, 9.38, 7.50, 6.06, 4.65, 3.67)), (19, (10.98, 9.59, 7.81, 6.40, 4.83, 3.85)),
        (23, (11.46, 10.14, 8.13, 6.61, 5.09, 4.10)), (27, (11.23, 9.98, 8.22, 6.76, 5.24, 4.25)),
        (32, (11.90, 10.52, 8.48, 6.94, 5.40, 4.40)), (38, (12.09, 10.52, 8.65, 7.17, 5.61, 4.56)),
        (45, (12.08, 10.67, 8.66, 7.25, 5.73, 4.69)), (54, (12.30, 10.80, 8.96, 7.45, 5.89, 4.88)),
        (64, (12.47, 11.06, 9.01, 7.53, 6.01, 4.99)), (76, (12.95, 11.47, 9.35, 7.79, 6.19, 5.12)),
        (91, (12.74, 11.33, 9.37, 7.92, 6.32, 5.25)), (108, (13.22, 11.73, 9.68, 8.06, 6.47, 5.37)),
        (128, (13.03, 11.78, 9.73, 8.15, 6.53, 5.46)), (152, (13.33, 11.76, 9.85, 8.25, 6.62, 5.54)),
        (181, (13.22, 11.78, 9.80, 8.34, 6.72, 5.66)), (215, (13.20, 11.92, 10.06, 8.54, 6.89, 5.81)),
        (256, (13.82, 12.17, 10.10, 8.53, 6.95, 5.85)), (304, (13.69, 12.31, 10.24, 8.72, 7.11, 6.00)),
        (362, (13.82, 12.35, 10.41, 8.78, 7.16, 6.08)), (431, (13.68, 12.16, 10.28, 8.71, 7.18, 6.11)),
        (512, (13.87, 12.46, 10.55, 8.92, 7.31, 6.23)), (609, (14.18, 12.68, 10.70, 9.07, 7.44, 6.34)),
        (724, (14.10, 12.70, 10.67, 9.11, 7.48, 6.39)), (861, (14.24, 12.78, 10.65, 9.11, 7.52, 6.45)),
        (1024, (14.27, 12.60, 10.75, 9.25, 7.63, 6.54)), (1448, (14.19, 12.91, 10.88, 9.34, 7.75, 6.65)),
        (2048, (14.83, 13.23, 11.19, 9.50, 7.84, 6.75)), (2896, (14.85, 13.26, 11.36, 9.64, 7.99, 6.90)),
        (4096, (14.87, 13.35, 11.33, 9.80, 8.18, 7.05)), (5793, (15.00, 13.56, 11.62, 10.01, 8.34, 7.20)),
        (8192, (15.14, 13.49, 11.56, 10.03, 8.40, 7.27)), (11585, (15.36, 13.87, 11.76, 10.13, 8.48, 7.38)),
        (16384, (15.62, 13.99, 11.88, 10.26, 8.64, 7.50)), (23170, (15.56, 13.94, 11.92, 10.40, 8.69, 7.56)),
        (32768, (15.52, 14.22, 12.15, 10.55, 8.80, 7.66)), (46341, (15.38, 14.05, 12.02, 10.52, 8.92, 7.78)),
        (65536, (15.83, 14.30, 12.24, 10.61, 8.93, 7.81)),
    ),
    4: (
        (8, (6.87, 5.71, 4.03, 2.81, 1.72, 1.07)), (9, (7.85, 6.44, 4.77, 3.52, 2.35, 1.60)),
        (10, (8.91, 7.39, 5.46, 4.10, 2.76, 1.94)), (11, (9.13, 7.69, 5.72, 4.40, 3.06, 2.20)),
        (12, (9.20, 7.94, 5.99, 4.68, 3.31, 2.41)), (13, (9.52, 8.14, 6.26, 4.88, 3.45, 2.56)),
        (14, (9.56, 8.23, 6.45, 4.95, 3.58, 2.69)), (15, (10.10, 8.62, 6.67, 5.16, 3.77, 2.86)),
        (16, (10.02, 8.48, 6.56, 5.25, 3.86, 2.93)), (19, (10.14, 8.84, 7.04, 5.61, 4.16, 3.21)),
        (23, (10.84, 9.35, 7.47, 6.00, 4.52, 3.54)), (27, (10.51, 9.27, 7.57, 6.18, 4.69, 3.73)),
        (32, (11.37, 9.97, 7.98, 6.42, 4.92, 3.92)), (38, (11.65, 10.07, 8.17, 6.68, 5.13, 4.12)),
        (45, (11.65, 10.26, 8.23, 6.80, 5.29, 4.30)), (54, (11.78, 10.41, 8.53, 7.03, 5.51, 4.50)),
        (64, (12.02, 10.68, 8.61, 7.16, 5.66, 4.65)), (76, (12.58, 11.07, 8.97, 7.42, 5.83, 4.79)),
        (91, (12.49, 10.95, 9.02, 7.59, 6.00, 4.94)), (108, (12.89, 11.40, 9.34, 7.74, 6.15, 5.07)),
        (128, (12.89, 11.51, 9.44, 7.88, 6.25, 5.19)), (152, (13.07, 11.44, 9.57, 8.00, 6.36, 5.28)),
        (181, (12.99, 11.48, 9.52, 8.06, 6.44, 5.39)), (215, (13.00, 11.69, 9.84, 8.29, 6.63, 5.55)),
        (256, (13.64, 11.99, 9.83, 8.28, 6.69, 5.62)), (304, (13.45, 12.05, 9.99, 8.46, 6.84, 5.76)),
        (362, (13.51, 12.20, 10.23, 8.56, 6.95, 5.86)), (431, (13.43, 11.98, 10.05, 8.51, 6.96, 5.90)),
        (512, (13.70, 12.26, 10.34, 8.71, 7.10, 6.04)), (609, (14.01, 12.48, 10.42, 8.85, 7.24, 6.14)),
        (724, (13.92, 12.48, 10.48, 8.87, 7.30, 6.20)), (861, (14.04, 12.53, 10.42, 8.94, 7.33, 6.27)),
        (1024, (14.17, 12.51, 10.58, 9.06, 7.46, 6.34)), (1448, (14.08, 12.70, 10.71, 9.17, 7.58, 6.48)),
        (2048, (14.71, 13.13, 11.07, 9.37, 7.71, 6.60)), (2896, (14.74, 13.12, 11.20, 9.46, 7.82, 6.76)),
        (4096, (14.71, 13.21, 11.16, 9.66, 8.03, 6.92)), (5793, (14.91, 13.46, 11.52, 9.86, 8.20, 7.08)),
        (8192, (15.00, 13.41, 11.44, 9.92, 8.23, 7.12)), (11585, (15.25, 13.75, 11.69, 10.02, 8.35, 7.26)),
        (16384, (15.57, 13.89, 11.76, 10.13, 8.53, 7.38)), (23170, (15.42, 13.82, 11.80, 10.29, 8.57, 7.45)),
        (32768, (15.46, 14.17, 12.06, 10.45, 8.70, 7.57)), (46341, (15.34, 14.00, 11.93, 10.42, 8.82, 7.68)),
        (65536, (15.64, 14.14, 12.15, 10.51, 8.84, 7.71)),
    ),
    8: (
        (16, (6.60, 5.52, 3.89, 2.77, 1.66, 1.05)), (19, (8.42, 7.12, 5.27, 3.95, 2.65, 1.85)),
        (23, (9.21, 7.92, 6.09, 4.73, 3.36, 2.49)), (27, (9.51, 8.24, 6.57, 5.15, 3.72, 2.85)),
        (32, (10.41, 8.91, 6.96, 5.57, 4.10, 3.14)), (38, (10.78, 9.34, 7.41, 5.92, 4.41, 3.46)),
        (45, (11.03, 9.61, 7.66, 6.18, 4.66, 3.69)), (54, (11.21, 9.80, 7.87, 6.42, 4.94, 3.95)),
        (64, (11.54, 10.11, 8.14, 6.71, 5.17, 4.17)), (76, (12.06, 10.50, 8.49, 6.95, 5.36, 4.35)),
        (91, (12.10, 10.53, 8.58, 7.13, 5.55, 4.52)), (108, (12.39, 10.97, 8.84, 7.30, 5.70, 4.66)),
        (128, (12.50, 11.10, 9.10, 7.51, 5.86, 4.83)), (152, (12.58, 11.14, 9.14, 7.56, 5.96, 4.94)),
        (181, (12.63, 11.12, 9.23, 7.71, 6.11, 5.07)), (215, (12.69, 11.41, 9.51, 7.90, 6.31, 5.25)),
        (256, (13.17, 11.63, 9.53, 7.99, 6.40, 5.32)), (304, (13.19, 11.70, 9.70, 8.16, 6.56, 5.49)),
        (362, (13.25, 11.87, 9.91, 8.29, 6.69, 5.59)), (431, (13.12, 11.66, 9.76, 8.25, 6.67, 5.63)),
        (512, (13.48, 12.03, 10.08, 8.46, 6.87, 5.79)), (609, (13.76, 12.21, 10.22, 8.64, 7.02, 5.91)),
        (724, (13.66, 12.28, 10.27, 8.66, 7.08, 6.00)), (861, (13.89, 12.32, 10.22, 8.70, 7.12, 6.06)),
        (1024, (13.83, 12.30, 10.40, 8.86, 7.26, 6.14)), (1448, (13.92, 12.55, 10.52, 9.00, 7.39, 6.30)),
        (2048, (14.63, 12.87, 10.84, 9.19, 7.53, 6.41)), (2896, (14.62, 12.89, 11.03, 9.29, 7.66, 6.60)),
        (4096, (14.53, 13.04, 11.01, 9.50, 7.86, 6.77)), (5793, (14.71, 13.30, 11.38, 9.66, 8.02, 6.91)),
        (8192, (14.88, 13.21, 11.34, 9.77, 8.09, 6.97)), (11585, (15.13, 13.58, 11.54, 9.89, 8.20, 7.12)),
        (16384, (15.39, 13.76, 11.65, 10.01, 8.40, 7.24)), (23170, (15.26, 13.68, 11.68, 10.14, 8.45, 7.32)),
        (32768, (15.38, 14.08, 11.95, 10.32, 8.59, 7.45)), (46341, (15.30, 13.91, 11.84, 10.34, 8.71, 7.57)),
        (65536, (15.55, 14.08, 12.06, 10.39, 8.74, 7.60)),
    ),
    16: (
        (32, (6.77, 5.50, 3.92, 2.75, 1.66, 1.04)), (38, (8.77, 7.36, 5.53, 4.16, 2.86, 2.05)),
        (45, (9.44, 8.00, 6.22, 4.87, 3.47, 2.58)), (54, (10.09, 8.66, 6.72, 5.35, 3.94, 3.03)),
        (64, (10.51, 8.98, 7.23, 5.85, 4.35, 3.39)), (76, (11.14, 9.60, 7.61, 6.10, 4.60, 3.65)),
        (91, (11.39, 9.85, 7.94, 6.48, 4.91, 3.92)), (108, (11.73, 10.26, 8.19, 6.69, 5.12, 4.13)),
        (128, (12.03, 10.53, 8.47, 6.92, 5.33, 4.32)), (152, (12.10, 10.65, 8.58, 7.03, 5.48, 4.49)),
        (181, (12.12, 10.66, 8.81, 7.25, 5.66, 4.67)), (215, (12.37, 10.98, 9.06, 7.48, 5.88, 4.82)),
        (256, (12.72, 11.18, 9.10, 7.57, 6.00, 4.94)), (304, (12.71, 11.29, 9.25, 7.74, 6.18, 5.13)),
        (362, (13.02, 11.64, 9.48, 7.96, 6.34, 5.26)), (431, (12.84, 11.32, 9.38, 7.93, 6.34, 5.29)),
        (512, (13.14, 11.74, 9.73, 8.13, 6.56, 5.50)), (609, (13.49, 11.85, 9.95, 8.35, 6.71, 5.63)),
        (724, (13.42, 11.95, 10.00, 8.43, 6.81, 5.74)), (861, (13.64, 12.01, 9.95, 8.44, 6.84, 5.79)),
        (1024, (13.52, 12.05, 10.17, 8.64, 7.00, 5.89)), (1448, (13.71, 12.35, 10.30, 8.79, 7.17, 6.08)),
        (2048, (14.49, 12.72, 10.62, 8.96, 7.32, 6.19)), (2896, (14.41, 12.73, 10.73, 9.09, 7.45, 6.41)),
        (4096, (14.29, 12.80, 10.79, 9.28, 7.66, 6.56)), (5793, (14.55, 13.10, 11.16, 9.51, 7.86, 6.73)),
        (8192, (14.67, 13.11, 11.20, 9.59, 7.91, 6.82)), (11585, (14.89, 13.46, 11.40, 9.74, 8.05, 6.97)),
        (16384, (15.22, 13.60, 11.49, 9.86, 8.23, 7.07)), (23170, (15.18, 13.55, 11.58, 10.02, 8.30, 7.18)),
        (32768, (15.31, 13.90, 11.81, 10.17, 8.46, 7.32)), (46341, (15.21, 13.74, 11.71, 10.23, 8.57, 7.44)),
        (65536, (15.40, 13.99, 11.92, 10.27, 8.59, 7.46)),
    ),
    32: (
        (64, (6.68, 5.49, 3.90, 2.77, 1.70, 1.07)), (76, (8.91, 7.48, 5.63, 4.32, 2.97, 2.14)),
        (91, (9.61, 8.32, 6.45, 5.04, 3.61, 2.75)), (108, (10.58, 8.83, 7.05, 5.59, 4.12, 3.17)),
        (128, (10.96, 9.55, 7.52, 6.00, 4.46, 3.47)), (152, (11.29, 9.95, 7.78, 6.28, 4.73, 3.76)),
        (181, (11.43, 9.98, 8.12, 6.60, 5.07, 4.08)), (215, (11.72, 10.35, 8.43, 6.83, 5.25, 4.25)),
        (256, (12.21, 10.64, 8.52, 6.99, 5.44, 4.44)), (304, (12.27, 10.71, 8.73, 7.22, 5.68, 4.62)),
        (362, (12.73, 11.23, 8.96, 7.45, 5.85, 4.82)), (431, (12.32, 11.02, 8.95, 7.50, 5.92, 4.90)),
        (512, (12.80, 11.32, 9.34, 7.79, 6.18, 5.12)), (609, (12.96, 11.55, 9.49, 7.93, 6.30, 5.24)),
        (724, (12.98, 11.58, 9.65, 8.07, 6.46, 5.39)), (861, (13.25, 11.68, 9.66, 8.07, 6.50, 5.44)),
        (1024, (13.20, 11.76, 9.90, 8.34, 6.68, 5.58)), (1448, (13.42, 12.04, 9.97, 8.49, 6.85, 5.80)),
        (2048, (14.09, 12.46, 10.31, 8.68, 7.05, 5.97)), (2896, (14.17, 12.56, 10.43, 8.82, 7.23, 6.16)),
        (4096, (14.12, 12.44, 10.53, 8.98, 7.42, 6.32)), (5793, (14.31, 12.94, 10.96, 9.31, 7.64, 6.50)),
        (8192, (14.41, 12.89, 10.92, 9.37, 7.72, 6.62)), (11585, (14.76, 13.33, 11.22, 9.54, 7.89, 6.80)),
        (16384, (14.94, 13.36, 11.27, 9.67, 8.06, 6.89)), (23170, (14.96, 13.43, 11.42, 9.84, 8.13, 6.99)),
        (32768, (15.13, 13.76, 11.60, 10.00, 8.27, 7.15)), (46341, (15.15, 13.65, 11.51, 10.08, 8.42, 7.31)),
        (65536, (15.27, 13.82, 11.78, 10.11, 8.43, 7.32)),
    ),
    64: (
        (128, (6.75, 5.49, 3.87, 2.74, 1.63, 1.01)), (152, (9.12, 7.67, 5.84, 4.40, 3.06, 2.24)),
        (181, (9.84, 8.52, 6.62, 5.19, 3.78, 2.85)), (215, (10.31, 9.06, 7.19, 5.66, 4.24, 3.26)),
        (256, (11.30, 9.62, 7.55, 6.09, 4.58, 3.61)), (304, (11.29, 9.78, 7.93, 6.40, 4.88, 3.88)),
        (362, (11.94, 10.47, 8.27, 6.77, 5.15, 4.12)), (431, (11.86, 10.39, 8.35, 6.89, 5.30, 4.32)),
        (512, (12.13, 10.78, 8.76, 7.20, 5.64, 4.57)), (609, (12.59, 11.04, 9.02, 7.46, 5.81, 4.75)),
        (724, (12.56, 11.06, 9.12, 7.60, 6.01, 4.92)), (861, (12.89, 11.21, 9.17, 7.65, 6.05, 5.01)),
        (1024, (12.86, 11.34, 9.42, 7.88, 6.23, 5.18)), (1448, (13.17, 11.68, 9.60, 8.09, 6.46, 5.43)),
        (2048, (13.86, 12.10, 9.95, 8.39, 6.74, 5.68)), (2896, (13.80, 12.33, 10.13, 8.53, 6.91, 5.83)),
        (4096, (13.73, 12.14, 10.23, 8.72, 7.13, 6.05)), (5793, (14.04, 12.68, 10.64, 9.03, 7.39, 6.25)),
        (8192, (14.13, 12.56, 10.67, 9.09, 7.47, 6.38)), (11585, (14.52, 13.11, 10.95, 9.26, 7.67, 6.58)),
        (16384, (14.49, 13.17, 11.03, 9.47, 7.83, 6.68)), (23170, (14.74, 13.18, 11.19, 9.63, 7.94, 6.81)),
        (32768, (14.97, 13.51, 11.45, 9.77, 8.09, 6.95)), (46341, (14.91, 13.41, 11.29, 9.91, 8.23, 7.13)),
        (65536, (15.07, 13.65, 11.63, 9.92, 8.26, 7.13)),
    ),
}
# fmt: on
#: Drops of 2 ln L bounding the confidence region: rows (contrast ρ, values at CONFIDENCES).
#: simulate_location_drops(ρ) (20 000 streams, seed 1), quantiles, 2 decimals; ρ below
#: 1.1 takes the 1.1 row (the limit of small contrasts), above 100 the 100 row (wider).
_DROP_TABLE: tuple[tuple[float, tuple[float, ...]], ...] = (
    (1.1, (3.78, 5.43, 6.77, 8.71, 10.69, 14.59)),
    (1.2, (3.59, 5.25, 6.64, 8.54, 10.48, 14.48)),
    (1.35, (3.22, 4.84, 6.19, 8.14, 10.05, 14.11)),
    (1.5, (2.84, 4.49, 5.86, 7.80, 9.57, 13.60)),
    (1.75, (2.44, 4.12, 5.47, 7.48, 9.32, 13.57)),
    (2, (1.92, 3.66, 5.02, 6.89, 8.71, 12.88)),
    (2.5, (1.11, 2.91, 4.26, 6.22, 8.02, 12.17)),
    (3, (0.14, 2.23, 3.70, 5.66, 7.46, 11.41)),
    (4, (0.00, 1.28, 2.74, 4.84, 6.61, 10.52)),
    (5, (0.00, 0.17, 2.15, 4.13, 5.96, 9.98)),
    (7, (0.00, 0.00, 0.63, 3.23, 5.02, 8.97)),
    (10, (0.00, 0.00, 0.00, 2.04, 4.15, 7.94)),
    (15, (0.00, 0.00, 0.00, 0.12, 2.91, 6.52)),
    (20, (0.00, 0.00, 0.00, 0.00, 1.53, 5.71)),
    (30, (0.00, 0.00, 0.00, 0.00, 0.00, 5.15)),
    (50, (0.00, 0.00, 0.00, 0.00, 0.00, 3.28)),
    (100, (0.00, 0.00, 0.00, 0.00, 0.00, 0.81)),
)
