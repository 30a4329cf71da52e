"""Time tags of a dot → change points photon by photon → levels with lifetimes and g2, FLID, A/B type.

Applies to every time-tag acquisition on a dot (T2 or T3, every detector merged).
Per level (the result's parts, source ``levels.level``): intensity, dwell, visits,
and where the data allow the lifetime (T3, or T2 with the sync) and g2 (two
detectors). Per result: the number of levels, the on-fraction and the bin-free
on/off dwell-time exponents, the FLID, and the blinking type (A, B, none, unclear).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qdcat.analyses import _io
from qdcat.analyses._base import (
    Acquisition,
    Analysis,
    Column,
    Computed,
    DrawInput,
    Param,
    Params,
    Parts,
    QcRule,
    Target,
    finite_or_none,
)
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.figure import Figure

    from qdcat.analysis.changepoints import ChangePoints
    from qdcat.analysis.flid import LevelPhotons
    from qdcat.analysis.levels import IntensityLevels
    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.dot_id is None:
        return "not on a dot"
    if not a.detectors or a.photons < 100:
        return "fewer than 100 detector photons"
    return None


# -- reading: photons with their delay after the pulse ----------------------------------------


def _timing(acq: Acquisition) -> tuple[str | None, float]:
    """How photons are timed against the laser ("t3", "t2_sync" or None) and the laser period (ps)."""
    if acq.record == "t3" and acq.nanotime_resolution_ps:
        return "t3", _io.period_ps(acq)
    if acq.record == "t2_sync" and acq.repetition_rate_mhz:
        return "t2_sync", _io.period_ps(acq)
    return None, math.nan


def _photons(
    store: TimeTagStore, acq: Acquisition
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.int64] | None]]:
    """(timestamps_ps, channels, delays_ps) of the detector photons, chunk by chunk in time order.

    Timestamps are a T3 record's sync time (its macrotime), or a T2 event's time; delays
    are after the laser pulse (T3 nanotimes; T2 photons after the latest sync, -1 before
    the first), or None without timing.
    """
    import numpy as np

    timing, _ = _timing(acq)
    detectors = np.array(sorted(acq.detectors), dtype=np.uint8)
    reader = store.open_timetags(acq.store_path)
    res = float(acq.nanotime_resolution_ps or 0.0)
    fields = ("timestamps_ps", "channels", "nanotimes") if timing == "t3" else ("timestamps_ps", "channels")
    last_sync = -1
    # one stored chunk per batch: three passes hold ~3 chunks (reader + read-ahead), not 12
    for chunk in reader.iter_chunks(fields=fields, chunks_per_batch=1):
        ts, ch = chunk.timestamps_ps, chunk.channels
        if ts.size == 0:
            continue
        keep = np.isin(ch, detectors)
        delays = None
        if timing == "t3":
            assert chunk.nanotimes is not None
            delays = np.rint(chunk.nanotimes[keep].astype(np.float64) * res).astype(np.int64)
        elif timing == "t2_sync":
            is_sync = ch == acq.sync
            idx = np.maximum.accumulate(np.where(is_sync, np.arange(ts.size), -1))
            sync_t = np.where(idx >= 0, ts[np.maximum(idx, 0)], last_sync)
            if is_sync.any():
                last_sync = int(ts[np.flatnonzero(is_sync)[-1]])
            delays = np.where(sync_t >= 0, ts - sync_t, -1)[keep]
        yield ts[keep], ch[keep], delays


@dataclass(frozen=True)
class LevelData:
    change_points: ChangePoints
    levels: IntensityLevels
    photons: LevelPhotons
    timing: str | None
    period_ps: float
    decay_bin_ps: float
    g2: tuple[tuple[int, int, float, float], ...] | None  # per level: (n_center, n_side, w_center, w_side)


def fetch(store: TimeTagStore, target: Target, params: Params) -> LevelData:
    from qdcat.analysis.changepoints import ChangePointAccumulator
    from qdcat.analysis.flid import LevelPhotonAccumulator
    from qdcat.analysis.levels import levels_from_change_points

    acq = target.main
    acc = ChangePointAccumulator(
        alpha=params["alpha"], confidence=params["confidence"], min_photons=params["min_photons"]
    )
    timing, period = _timing(acq)
    delay_range = _DelayRange()
    for ts, _, delays in _photons(store, acq):  # one pass: change points and the delays' range
        acc.add(ts)
        if delays is not None:
            delay_range.add(delays)
    cp = acc.result()
    levels = levels_from_change_points(cp, max_levels=params["max_levels"])
    bin_ps = float(params["decay_bin_ps"])
    if timing == "t3":
        res = float(acq.nanotime_resolution_ps or 1.0)
        bin_ps = res * max(1, round(bin_ps / res))
    peak_ps, last_ps = delay_range.result() if timing else (0.0, 0.0)
    # Whole bins only (a last bin the data cover in part biases the fits), up to the period
    # or the last delay recorded, whichever is later.
    n_bins = max(1, math.floor(max(period, last_ps + 1.0) / bin_ps)) if timing else 1
    lacc = LevelPhotonAccumulator(
        cp.times_ps,
        levels.segment_level,
        n_levels=levels.n_levels,
        start_ps=int(cp.segment_starts_ps[0]),
        stop_ps=int(cp.segment_stops_ps[-1]) + 1,
        bin_ps=bin_ps,
        n_bins=n_bins,
        window_ps=round(params["flid_window_ms"] * 1e9),
        tail_start_ps=peak_ps + params["start_after_peak_ns"] * 1e3 if timing else 0.0,
        tail_stop_ps=max(period, last_ps + 1.0) if timing else math.inf,
    )
    g2 = _G2Levels(acq, levels.n_levels, timing, period) if acq.has_hbt_pair else None
    for ts, ch, delays in _photons(store, acq):
        lacc.add(ts, delays)
        if g2 is not None:
            g2.add(ts, ch, lacc.levels_of(ts))
    return LevelData(
        cp, levels, lacc.result(), timing, period, bin_ps, g2.result() if g2 is not None else None
    )


class _DelayRange:
    """Where the whole acquisition's delay histogram peaks (at 100 ps) and its last delay (ps).

    The FLID windows' tail starts after the peak. The histograms reach the last delay, not
    just the period: a TAC range can exceed it (a TimeHarp 200's 288 ns at 5 MHz).
    """

    STEP = 100.0

    def __init__(self) -> None:
        import numpy as np

        self.total = np.zeros(1, np.int64)
        self.last = 0.0

    def add(self, delays: Any) -> None:
        import numpy as np

        d = delays[delays >= 0]
        if d.size == 0:
            return
        self.last = max(self.last, float(d.max()))
        h = np.bincount((d // self.STEP).astype(np.int64))
        if h.size > self.total.size:
            self.total = np.concatenate([self.total, np.zeros(h.size - self.total.size, np.int64)])
        self.total[: h.size] += h

    def result(self) -> tuple[float, float]:
        import numpy as np

        return float(np.argmax(self.total)) * self.STEP, self.last


class _G2Levels:
    """Per level, HBT coincidences near zero delay and far from it (from that level's photons only).

    Pulsed: the central peak (|τ| < period/2) against the four side peaks up to 2.5
    periods. cw: |τ| < 2 ns about the dip against 500–1000 ns, per unit delay.
    """

    def __init__(self, acq: Acquisition, n_levels: int, timing: str | None, period_ps: float) -> None:
        import numpy as np

        from qdcat.analysis.histograms import G2Accumulator

        self.lut = np.full(256, 255, np.uint8)
        self.lut[list(acq.hbt_a)] = 0
        self.lut[list(acq.hbt_b)] = 1
        self.pulsed = timing is not None
        if self.pulsed:
            self.bin_ps = max(1, round(period_ps / 10))
            self.window_ps = 25 * self.bin_ps
        else:
            self.bin_ps, self.window_ps = 1000, 1_000_000
        self.accs = [
            G2Accumulator(0, 1, window_ps=self.window_ps, bin_ps=self.bin_ps) for _ in range(n_levels)
        ]
        self.seen = np.zeros((n_levels, 2), np.int64)

    def add(self, ts: Any, ch: Any, level: Any) -> None:
        import numpy as np

        arm = self.lut[ch]
        for g, acc in enumerate(self.accs):
            sel = level == g
            if sel.any():
                acc.add(ts[sel], arm[sel])
                self.seen[g] += np.bincount(arm[sel], minlength=256)[:2]

    def result(self) -> tuple[tuple[int, int, float, float], ...]:
        import numpy as np

        out = []
        for g, acc in enumerate(self.accs):
            if self.seen[g].min() == 0:
                out.append((0, 0, 0.0, 0.0))
                continue
            h = acc.result()
            centres = h.delays_ps
            counts = np.asarray(h.counts)
            if self.pulsed:
                half = 5 * self.bin_ps
                centre = np.abs(centres) < half
                out.append((int(counts[centre].sum()), int(counts[~centre].sum()), 1.0, 4.0))
            else:
                # The dip sits at the arms' delay offset: the lowest 5-bin mean within ±50 ns.
                smooth = np.convolve(counts, np.ones(5) / 5, mode="same")
                near = np.flatnonzero(np.abs(centres) <= 50_000)
                c0 = centres[near[np.argmin(smooth[near])]]
                centre = np.abs(centres - c0) < 2000
                far = np.abs(centres) >= 500_000
                out.append(
                    (
                        int(counts[centre].sum()),
                        int(counts[far].sum()),
                        float(centre.sum()),
                        float(far.sum()),
                    )
                )
        return tuple(out)


# -- computing -------------------------------------------------------------------------------


def compute(data: LevelData, target: Target, params: Params) -> Computed:
    import numpy as np

    from qdcat.analysis.flid import classify_blinking, flid_map, level_lifetimes

    cp, lv, lp = data.change_points, data.levels, data.photons
    flags: list[str] = []
    intensity = lv.intensity_cps
    x = intensity / intensity.max()
    on_level = _on_levels(intensity, params["on_above"])
    lifetimes, decay_window, background_per_ns = _lifetimes(data, params, level_lifetimes)
    cls = classify_blinking(
        intensity,
        [t.lifetime_ns for t in lifetimes] if lifetimes else np.full(lv.n_levels, np.nan),
        [t.lifetime_ns_err for t in lifetimes] if lifetimes else np.full(lv.n_levels, np.nan),
        dim_below=params["dim_below"],
        z=params["z"],
    )
    dwell = _dwell(cp, lv, on_level, params, flags)
    if lv.n_levels == 1:
        flags.append("one_level")
    if lv.n_levels == params["max_levels"]:
        flags.append("max_levels_reached")
    parts = _parts(data, x, on_level, lifetimes)
    arrays: dict[str, Any] = {
        "change_point_times_ps": cp.times_ps,
        "change_point_ci_low_ps": cp.ci_low_ps,
        "change_point_ci_high_ps": cp.ci_high_ps,
        "segment_starts_ps": cp.segment_starts_ps,
        "segment_stops_ps": cp.segment_stops_ps,
        "segment_photons": cp.segment_photons,
        "segment_level": lv.segment_level,
        "window_photons": lp.window_photons,
        "window_level": lp.window_level,
    }
    if data.timing is not None:
        # the background's share of each window's tail photons: a constant rate (counts/s)
        tail_ns = (lp.tail_stop_ps - lp.tail_start_ps) / 1e3
        fm = flid_map(
            lp, background_tail_cps=background_per_ns * tail_ns / float(cp.segment_durations_s.sum())
        )
        # The store keeps 1-D arrays: 2-D ones flattened, with their shape beside them.
        arrays |= {
            "decays": lp.decays.ravel(),
            "decays_shape": np.array(lp.decays.shape, np.int64),
            "window_tail_photons": lp.window_tail_photons,
            "window_tail_delay_ps": lp.window_tail_delay_ps,
            "flid_counts": fm.counts.ravel(),
            "flid_shape": np.array(fm.counts.shape, np.int64),
            "flid_intensity_edges_cps": fm.intensity_edges_cps,
            "flid_delay_edges_ns": fm.delay_edges_ns,
        }
    arrays |= dwell.arrays
    duration_s = float(cp.segment_durations_s.sum())
    row = {
        "photons": int(cp.n_photons),
        "trace_duration_s": duration_s,
        "n_change_points": int(cp.n_change_points),
        "n_levels": int(lv.n_levels),
        "brightest_cps": float(intensity[-1]),
        "brightest_cps_err": float(lv.intensity_err_cps[-1]),
        "dimmest_cps": float(intensity[0]),
        "on_fraction": float(lv.dwell_s[on_level].sum() / lv.dwell_s.sum()),
        "blinking_type": cls.type if data.timing is not None or lv.n_levels == 1 else None,
        "blinking_evidence": cls.reason[:200],
        "lifetime_slope_ns": finite_or_none(cls.slope_ns),
        "lifetime_slope_ns_err": finite_or_none(cls.slope_ns_err),
        "bright_lifetime_ns": finite_or_none(cls.bright_lifetime_ns),
        "bright_lifetime_ns_err": finite_or_none(cls.bright_lifetime_ns_err),
        "dim_lifetime_ratio": finite_or_none(cls.dim_lifetime_ratio),
        "dim_lifetime_ratio_err": finite_or_none(cls.dim_lifetime_ratio_err),
        "decay_fit_start_ns": decay_window[0],
        "decay_fit_stop_ns": decay_window[1],
        "timing": data.timing,
        "decay_bin_ns": data.decay_bin_ps / 1e3 if data.timing else None,
        **dwell.row,
        "flags": flags,
    }
    return Computed(row, arrays, parts=parts)


def _on_levels(intensity: npt.NDArray[np.float64], on_above: float) -> npt.NDArray[np.bool_]:
    """Levels at or above ``on_above`` of the way from the dimmest to the brightest (all on if one level)."""
    import numpy as np

    lo, hi = float(intensity[0]), float(intensity[-1])
    on: npt.NDArray[np.bool_] = (
        intensity >= lo + on_above * (hi - lo) if hi > lo else np.ones_like(intensity, dtype=bool)
    )
    return on


def _lifetimes(
    data: LevelData, params: Params, fit: Any
) -> tuple[list[Any], tuple[float | None, float | None], float]:
    """Per-level lifetimes in the fit window of the whole acquisition's decay (none without timing),
    that window, and the whole decay's flat background (counts/ns over the acquisition)."""
    import numpy as np

    from qdcat.analysis.fits import fit_decay

    if data.timing is None:
        return [], (None, None), 0.0
    decays = data.photons.decays
    edges_ns = np.arange(decays.shape[1] + 1) * data.decay_bin_ps / 1e3
    try:
        whole = fit_decay(edges_ns, decays.sum(axis=0), start_after_peak_ns=params["start_after_peak_ns"])
    except InvalidValueError:
        return [], (None, None), 0.0
    window = (whole.fit_start_ns, whole.fit_stop_ns)
    taus = list(fit(edges_ns, decays, fit_start_ns=window[0], fit_stop_ns=window[1]))
    return taus, window, whole.background_counts_per_ns


@dataclass(frozen=True)
class _Dwell:
    row: dict[str, Any]
    arrays: dict[str, Any]


def _dwell(cp: ChangePoints, lv: IntensityLevels, on_level: Any, params: Params, flags: list[str]) -> _Dwell:
    """On/off periods from the levels, and their bin-free ML power-law exponents (with censoring)."""
    from qdcat.analysis.dwell import compare_cutoff, dwell_periods

    on_segment = on_level[lv.segment_level]
    periods = dwell_periods(cp.segment_durations_s, on_segment)
    on_s, on_c, off_s, off_c = periods.for_fit()
    t_max = float(cp.segment_durations_s.sum())
    row: dict[str, Any] = {"n_on_periods": int(on_s.size), "n_off_periods": int(off_s.size)}
    for state, dur, cens in (("on", on_s, on_c), ("off", off_s, off_c)):
        row |= {
            f"k_{state}": None,
            f"k_{state}_err": None,
            f"{state}_cutoff_s": None,
            f"{state}_cutoff_p": None,
        }
        # The lower truncation: given, or where the periods start to follow one power law (KS
        # choice): short periods near the change points' resolution are missed, and a law fitted
        # from the shortest one would come out flattened.
        complete = dur[~cens]
        t_min = params["dwell_min_ms"] * 1e-3 if params["dwell_min_ms"] is not None else None
        if t_min is None:
            t_min = _choose_t_min(dur, cens, t_max)
        row[f"{state}_dwell_min_s"] = t_min
        used = int((complete >= t_min).sum())
        if used < params["min_periods"]:
            flags.append(f"few_{state}_periods")
        try:
            cmp = compare_cutoff(dur, censored=cens, t_min_s=t_min, t_max_s=t_max)
        except InvalidValueError:
            flags.append(f"no_{state}_exponent")
            continue
        pl = cmp.power_law
        row[f"k_{state}"] = finite_or_none(pl.k)
        row[f"k_{state}_err"] = finite_or_none(pl.k_err)
        flags.extend(f"{state}_ml:{f}" for f in pl.flags if f != "few_periods")
        if cmp.preferred == "cutoff_power_law":
            row[f"{state}_cutoff_s"] = finite_or_none(cmp.cutoff_power_law.cutoff_s)
        row[f"{state}_cutoff_p"] = finite_or_none(cmp.p_value)
    arrays = {"on_durations_s": on_s, "on_censored": on_c, "off_durations_s": off_s, "off_censored": off_c}
    return _Dwell(row, arrays)


def _choose_t_min(dur: Any, cens: Any, t_max: float) -> float:
    from qdcat.analysis.dwell import choose_t_min

    if int((~cens).sum()) < 2:
        return float(dur[~cens].min()) if (~cens).any() else t_max
    return choose_t_min(dur, censored=cens, t_max_s=t_max).t_min_s


def _parts(data: LevelData, x: Any, on_level: Any, lifetimes: list[Any]) -> list[dict[str, Any]]:
    lv = data.levels
    out = []
    for g in range(lv.n_levels):
        flags: list[str] = []
        row: dict[str, Any] = {
            "level": g,
            "intensity_cps": float(lv.intensity_cps[g]),
            "intensity_cps_err": float(lv.intensity_err_cps[g]),
            "intensity_rel": float(x[g]),
            "photons": int(data.photons.photons[g]),  # every photon, by arrival time
            "dwell_s": float(lv.dwell_s[g]),
            "dwell_fraction": float(lv.dwell_fraction[g]),
            "visits": int(lv.visits[g]),
            "is_on": bool(on_level[g]),
            "lifetime_ns": None,
            "lifetime_ns_err": None,
            "g2_zero": None,
            "g2_zero_err": None,
        }
        if lifetimes:
            t = lifetimes[g]
            row["lifetime_ns"] = finite_or_none(t.lifetime_ns)
            row["lifetime_ns_err"] = finite_or_none(t.lifetime_ns_err)
            flags.extend(t.flags)
        if data.g2 is not None:
            row["g2_zero"], row["g2_zero_err"] = _g2_ratio(*data.g2[g], flags)
        row["flags"] = flags
        out.append(row)
    return out


def _g2_ratio(
    n_c: int, n_s: int, w_c: float, w_s: float, flags: list[str]
) -> tuple[float | None, float | None]:
    """g2 near zero delay: coincidences per unit delay there over those far away (Poisson error)."""
    if n_s < 10 or w_c <= 0:
        flags.append("few_coincidences_for_g2")
        return None, None
    g2 = (n_c / w_c) / (n_s / w_s)
    return g2, g2 * math.sqrt(1.0 / max(n_c, 1) + 1.0 / n_s)


# -- figures ---------------------------------------------------------------------------------


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots

    r, a, parts = d.result, d.arrays, d.parts
    level = np.asarray(a["segment_level"], dtype=np.int64)
    intensity = np.array([p["intensity_cps"] for p in parts], dtype=np.float64)
    tau = np.array([_nan(p["lifetime_ns"]) for p in parts], dtype=np.float64)
    tau_err = np.array([_nan(p["lifetime_ns_err"]) for p in parts], dtype=np.float64)
    window_s = d.params["flid_window_ms"] * 1e-3
    out = {
        "levels_trace": plots.plot_levels_trace(
            window_s,
            a["window_photons"],
            np.asarray(a["segment_starts_ps"]) / 1e12,
            np.asarray(a["segment_stops_ps"]) / 1e12,
            level,
            intensity,
            title=f"Levels ({r['n_levels']}, {r['n_change_points']} change points) · {d.title}",
        )
    }
    if "flid_counts" in a:
        out["flid"] = plots.plot_flid(
            a["flid_intensity_edges_cps"],
            a["flid_delay_edges_ns"],
            np.asarray(a["flid_counts"]).reshape(tuple(a["flid_shape"])),
            level_intensity_cps=intensity,
            level_lifetime_ns=tau,
            level_lifetime_ns_err=tau_err,
            title=f"FLID, {r['blinking_type']}-type · {d.title}",
        )
        decays = np.asarray(a["decays"]).reshape(tuple(a["decays_shape"]))
        bin_ns = r["decay_bin_ns"]
        out["level_decays"] = plots.plot_level_decays(
            np.arange(decays.shape[1] + 1) * bin_ns,
            decays,
            level_lifetime_ns=tau,
            level_lifetime_ns_err=tau_err,
            fit_window_ns=(r.get("decay_fit_start_ns"), r.get("decay_fit_stop_ns")),
            title=f"Level decays · {d.title}",
        )
    states = [
        plots.DwellFit(
            name,
            np.asarray(a[f"{name}_durations_s"], dtype=np.float64),
            np.asarray(a[f"{name}_censored"], dtype=bool),
            r.get(f"k_{name}"),
            r.get(f"k_{name}_err"),
            r[f"{name}_dwell_min_s"],
            r["trace_duration_s"],
        )
        for name in ("on", "off")
    ]
    out["dwell_times"] = plots.plot_dwell_times(states, title=f"Dwell times · {d.title}")
    return out


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


LEVELS_PARAMS = (
    Param("alpha", float, 0.05, "false-positive rate of each change-point test", lo=0.01, hi=0.31),
    Param("confidence", float, 0.69, "confidence of the change points' intervals", lo=0.5, hi=0.99),
    Param("min_photons", int, 4, "fewest inter-photon intervals a segment may span", lo=1, hi=64),
    Param("max_levels", int, 10, "most intensity levels tried", lo=1, hi=50),
    Param(
        "on_above",
        float,
        0.5,
        "a level is on at this fraction of the way from dimmest to brightest",
        lo=0.0,
        hi=1.0,
    ),
    Param(
        "dwell_min_ms",
        float,
        None,
        "shortest dwell time in the power-law fits (default: chosen per state by the KS distance)",
        "ms",
        lo=1e-6,
        hi=1e5,
    ),
    Param("min_periods", int, 10, "fewest periods of a state for a per-dot exponent", lo=2, hi=10_000),
    Param("flid_window_ms", float, 10.0, "FLID window", "ms", lo=0.01, hi=1e4),
    Param(
        "decay_bin_ps",
        float,
        400.0,
        "delay histogram bin (T3: whole nanotime bins); coarse, as a level holds few photons",
        "ps",
        lo=1.0,
        hi=1e6,
    ),
    Param(
        "start_after_peak_ns",
        float,
        1.0,
        "decay fit start after the peak (past the IRF)",
        "ns",
        lo=0.0,
        hi=1e4,
    ),
    Param(
        "dim_below",
        float,
        0.7,
        "a level dimmer than this fraction of the brightest is 'dim'",
        lo=0.01,
        hi=0.99,
    ),
    Param("z", float, 3.0, "standard errors for the A/B decision", lo=1.0, hi=10.0),
)

_K = "bin-free ML power-law exponent of the {} dwell times (truncated, censored ends)"

LEVEL_COLUMNS = (
    Column("level", "int", "", "level index, 0 = dimmest"),
    Column("intensity_cps", "float", "counts/s", "detected photon rate of the level", err=True),
    Column("intensity_rel", "float", "", "intensity over the brightest level's"),
    Column("photons", "bigint", "counts", "photons of the level"),
    Column("dwell_s", "float", "s", "total time at the level"),
    Column("dwell_fraction", "float", "", "fraction of the trace at the level"),
    Column("visits", "int", "", "separate visits to the level"),
    Column("is_on", "bool", "", "the level counts as on (see on_above)"),
    Column(
        "lifetime_ns",
        "float",
        "ns",
        "lifetime of the level's photons (Poisson ML tail fit)",
        err=True,
        nullable=True,
    ),
    Column("g2_zero", "float", "", "g2 near zero delay from the level's photons", err=True, nullable=True),
)

ANALYSIS = Analysis(
    name="levels",
    version="1",
    order=55,
    summary="photon-by-photon change points, intensity levels with lifetimes and g2, FLID, A/B blinking type",
    applies_to="every time-tag acquisition on a dot (all detectors merged)",
    method=(
        "Change points of the photon arrival times by the likelihood-ratio test of Watkins & Yang (2005), "
        "binary segmentation with re-checks, streamed in windows of 2^16 photons; the segments grouped "
        "into levels by agglomerative clustering and EM with the number of levels chosen by BIC. Per "
        "level: intensity (quasi-Poisson error), dwell, visits; the lifetime by the decay analysis's "
        "Poisson ML tail fit on the level's photons in the whole decay's fit window (T3, or T2 with the "
        "sync); g2 near zero delay from the level's photons (two detectors). A level is on at or above "
        "on_above of the way from the dimmest to the brightest; consecutive segments of one state make a "
        "period; the on/off exponents are continuous power-law ML fits truncated at dwell_min_ms "
        "(default: chosen by the KS distance, Clauset et al. 2009) and the "
        "trace length with the first period left out and the last censored, compared with an exponentially "
        "truncated power law by a likelihood ratio. A/B type from the weighted slope of the level "
        "lifetimes against relative intensity (see qdcat.analysis.flid)."
    ),
    params=LEVELS_PARAMS,
    columns=(
        Column("photons", "bigint", "counts", "detector photons of the acquisition"),
        Column("trace_duration_s", "float", "s", "first to last photon", dots="levels_trace_duration_s"),
        Column("n_change_points", "int", "", "change points found", dots=True),
        Column("n_levels", "int", "", "intensity levels (BIC)", dots=True),
        Column("brightest_cps", "float", "counts/s", "intensity of the brightest level", err=True, dots=True),
        Column("dimmest_cps", "float", "counts/s", "intensity of the dimmest level"),
        Column("on_fraction", "float", "", "fraction of time at on levels", dots="levels_on_fraction"),
        Column(
            "n_on_periods", "int", "", "on periods fitted (the trace's first left out, its last censored)"
        ),
        Column(
            "n_off_periods", "int", "", "off periods fitted (the trace's first left out, its last censored)"
        ),
        Column("on_dwell_min_s", "float", "s", "lower truncation of the on-time fit"),
        Column("off_dwell_min_s", "float", "s", "lower truncation of the off-time fit"),
        Column("k_on", "float", "", _K.format("on"), err=True, nullable=True, dots="k_on_cp"),
        Column("k_off", "float", "", _K.format("off"), err=True, nullable=True, dots="k_off_cp"),
        Column(
            "on_cutoff_s",
            "float",
            "s",
            "exponential cutoff of the on times, where the LR test prefers it",
            nullable=True,
        ),
        Column(
            "on_cutoff_p", "float", "", "p-value of the LR test for a cutoff in the on times", nullable=True
        ),
        Column(
            "off_cutoff_s",
            "float",
            "s",
            "exponential cutoff of the off times, where the LR test prefers it",
            nullable=True,
        ),
        Column(
            "off_cutoff_p", "float", "", "p-value of the LR test for a cutoff in the off times", nullable=True
        ),
        Column(
            "blinking_type",
            "str",
            "",
            "A (dim and faster), B (dim, same lifetime), none (one level), unclear; NULL without lifetimes",
            length=8,
            nullable=True,
            dots=True,
        ),
        Column("blinking_evidence", "str", "", "why that type", length=200),
        Column(
            "lifetime_slope_ns",
            "float",
            "ns",
            "slope of level lifetime vs relative intensity",
            err=True,
            nullable=True,
            dots=True,
        ),
        Column(
            "bright_lifetime_ns", "float", "ns", "lifetime of the brightest level", err=True, nullable=True
        ),
        Column(
            "dim_lifetime_ratio",
            "float",
            "",
            "lifetime of the dimmest timed level over the brightest's",
            err=True,
            nullable=True,
            dots=True,
        ),
        Column("decay_fit_start_ns", "float", "ns", "level decays' fit window start", nullable=True),
        Column("decay_fit_stop_ns", "float", "ns", "level decays' fit window end", nullable=True),
        Column("decay_bin_ns", "float", "ns", "bin of the level decay histograms", nullable=True),
        Column("timing", "str", "", "t3, t2_sync, or NULL (no lifetimes)", length=8, nullable=True),
    ),
    flags={
        "one_level": "the trace holds one intensity level: no blinking seen",
        "max_levels_reached": "BIC chose the most levels tried: raise levels.max_levels",
        "few_<state>_periods": "fewer than min_periods complete periods above dwell_min_ms",
        "no_<state>_exponent": "too few periods for an exponent",
        "<state>_ml:<flag>": "a flag of the ML exponent fit (at_bound:k, interval_open)",
    },
    qc_rules=(
        QcRule("few_on_periods", ("k_on",), "too few on periods for a per-dot exponent"),
        QcRule("few_off_periods", ("k_off",), "too few off periods for a per-dot exponent"),
        QcRule("on_ml:at_bound*", ("k_on",), "the on exponent sits at its bound"),
        QcRule("off_ml:at_bound*", ("k_off",), "the off exponent sits at its bound"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("intensity_trace",),
    headline=("n_levels", "blinking_type", "k_off"),
    parts=Parts(
        "level",
        "the intensity levels of each result, dimmest first",
        LEVEL_COLUMNS,
        flags={
            "no_lifetime:<why>": "no lifetime for this level (few_counts, no_decay, no_fit)",
            "few_coincidences_for_g2": "too few coincidences far from zero delay for g2",
        },
        qc_rules=(QcRule("no_lifetime:*", ("lifetime_ns",), "no decay to fit in this level's photons"),),
    ),
)
