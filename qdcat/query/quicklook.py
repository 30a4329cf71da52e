"""Quick looks at raw data, before (or without) any analysis: trace, TCSPC, g2, spectrum.

``qdcat plot raw M`` reads the measurement straight from the store, chunk by chunk (the
same streaming histograms the analyses use), with the bins a user chooses, and draws it
with the figure functions of :mod:`qdcat.plots`. Nothing is fitted and nothing is
stored: it answers "what did I record?" — also for a measurement whose analysis failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError

KINDS = ("auto", "trace", "tcspc", "g2", "spectrum")


def raw_figure(
    cat: Catalog,
    measurement_id: int,
    what: str = "auto",
    *,
    bin_ms: float = 10.0,
    bin_ps: float | None = None,
    window_ns: float = 200.0,
) -> Any:
    """A figure of ``measurement_id``'s raw data (``what``: auto, trace, tcspc, g2, spectrum).

    ``bin_ms`` is the trace's bin, ``bin_ps`` the TCSPC or g2 bin (default: the file's
    nanotime unit for TCSPC, a hundredth of the window for g2), ``window_ns`` the g2's ±delay range.
    """
    from qdcat import plots

    if what not in KINDS:
        raise InvalidValueError(f"--what {what!r} is not one of {', '.join(KINDS)}")
    rec = cat.get_measurement(measurement_id)
    raw = rec["raw_data"]
    if raw is None:
        raise InvalidValueError(f"measurement {measurement_id} has no committed raw data to plot")
    title = " · ".join(
        str(p) for p in (rec["sample"], rec["specimen"], rec["dot"], f"measurement {rec['id']}") if p
    )
    if raw["data_kind"] != "timetags":
        if what not in ("auto", "spectrum"):
            raise InvalidValueError(f"measurement {measurement_id} holds a {raw['data_kind']}, not time tags")
        arrays = cat.read_arrays(measurement_id)
        x = arrays.get("wavelength_nm", arrays.get("time_ns", np.arange(len(arrays["counts"]))))
        return plots.plot_spectrum(x, arrays["counts"], title=f"Raw data · {title}")
    roles = {int(c): r.value for c, r in cat.channel_roles(rec["setup"]).items()} if rec["setup"] else {}
    if what == "auto":
        mode = (rec["settings"] or {}).get("excitation_mode")
        what = (
            "tcspc" if raw["has_nanotimes"] or mode == "pulsed" else ("g2" if _arms(roles, raw) else "trace")
        )
    if what == "spectrum":
        raise InvalidValueError(f"measurement {measurement_id} holds time tags, not a spectrum")
    if what == "trace":
        t, counts = _trace(cat, measurement_id, roles, raw, bin_ms)
        return plots.plot_trace(t, counts, title=f"Raw trace · {title}")
    if what == "tcspc":
        edges, counts = _tcspc(cat, measurement_id, roles, raw, bin_ps)
        return plots.plot_decay(edges, counts, title=f"Raw TCSPC · {title}")
    tau, g2 = _g2(cat, measurement_id, roles, raw, window_ns, bin_ps or window_ns * 10.0)  # ~200 bins
    return plots.plot_g2(tau, g2, title=f"Raw g2 · {title}")


def _detectors(roles: dict[int, str], raw: Any) -> list[int]:
    present = [int(c) for c, n in (raw["channel_counts"] or {}).items() if int(n) > 0]
    if roles:
        return [c for c in present if roles.get(c) in ("detector", "hbt_a", "hbt_b")]
    return [c for c in present if c < 64]  # no setup roles: the file convention (64+ are syncs/markers)


def _arms(roles: dict[int, str], raw: Any) -> tuple[int, int] | None:
    a = [c for c, r in roles.items() if r == "hbt_a"]
    b = [c for c, r in roles.items() if r == "hbt_b"]
    if a and b:
        return a[0], b[0]
    dets = sorted(_detectors(roles, raw))
    return (dets[0], dets[1]) if not roles and len(dets) >= 2 else None


def _trace(cat: Catalog, mid: int, roles: dict[int, str], raw: Any, bin_ms: float) -> tuple[Any, Any]:
    from qdcat.analysis.histograms import IntensityTraceAccumulator

    if not bin_ms > 0:
        raise InvalidValueError(f"--bin-ms must be > 0, got {bin_ms}")
    dets = _detectors(roles, raw)
    if not dets:
        raise InvalidValueError(f"measurement {mid} recorded no detector photons")
    bin_ps = round(bin_ms * 1e9)
    acc = IntensityTraceAccumulator(bin_ps=bin_ps, channels=dets)
    for chunk in cat.open_timetags(mid).iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    counts = acc.result().total
    return np.arange(counts.size) * bin_ms / 1e3, counts


def _tcspc(cat: Catalog, mid: int, roles: dict[int, str], raw: Any, bin_ps: float | None) -> tuple[Any, Any]:
    from qdcat.analysis.histograms import TcspcAccumulator

    dets = set(_detectors(roles, raw))
    reader = cat.open_timetags(mid)
    if raw["has_nanotimes"]:
        res = float(raw["nanotime_resolution_ps"] or 0.0)
        if not res > 0:
            raise InvalidValueError(
                f"measurement {mid} has nanotimes without their unit; `qdcat edit measurement`"
            )
        rebin = max(1, round((bin_ps or res) / res))
        total = np.zeros(0, np.int64)
        for chunk in reader.iter_chunks(fields=("channels", "nanotimes")):
            assert chunk.nanotimes is not None
            k = chunk.nanotimes[np.isin(chunk.channels, list(dets))].astype(np.int64) // rebin
            h = np.bincount(k, minlength=total.size)
            total = np.concatenate([total, np.zeros(h.size - total.size, np.int64)]) + h
        return np.arange(total.size + 1) * res * rebin / 1e3, total
    sync = next((c for c, r in roles.items() if r == "sync"), None)
    rate = (cat.get_measurement(mid)["settings"] or {}).get("repetition_rate_mhz")
    if sync is None or not rate:
        raise InvalidValueError(
            f"measurement {mid} is T2: a TCSPC needs the laser sync as a setup channel role and the "
            "repetition rate (`qdcat edit measurement M --set repetition_rate_mhz=…`)"
        )
    width = bin_ps or 100.0
    acc = TcspcAccumulator(bin_ps=round(width), n_bins=max(1, int(1e6 / rate // width)), sync_channel=sync)
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    hist = acc.result()
    rows = [i for i, c in enumerate(hist.channels) if c in dets]
    counts = hist.counts[rows].sum(axis=0)
    return np.arange(counts.size + 1) * round(width) / 1e3, counts


def _g2(
    cat: Catalog, mid: int, roles: dict[int, str], raw: Any, window_ns: float, bin_ps: float
) -> tuple[Any, Any]:
    from qdcat.analysis.histograms import G2Accumulator

    arms = _arms(roles, raw)
    if arms is None:
        raise InvalidValueError(
            f"measurement {mid} has no two-detector (HBT) pair: name them in the setup "
            "(`qdcat setup add NAME --channel 0=hbt_a --channel 1=hbt_b`)"
        )
    if not (window_ns > 0 and bin_ps > 0):
        raise InvalidValueError("--window-ns and --bin-ps must be > 0")
    width = max(1, round(bin_ps))
    window = max(width, round(window_ns * 1e3) // width * width)
    acc = G2Accumulator(arms[0], arms[1], window_ps=window, bin_ps=width)
    for ts, ch in _arrivals(cat, mid, raw):
        acc.add(ts, ch)
    h = acc.result()
    return h.delays_ps / 1e3, h.g2


def _arrivals(cat: Catalog, mid: int, raw: Any) -> Iterator[tuple[Any, Any]]:
    """(arrival times, channels) in time order: T3 macrotime + nanotime, T2 as recorded.

    Within one sync period T3 records need not be in arrival order: each chunk is sorted,
    and photons a later chunk could still precede are carried over (as the analyses do).
    """
    reader = cat.open_timetags(mid)
    if not raw["has_nanotimes"]:
        for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
            yield chunk.timestamps_ps, chunk.channels
        return
    res = float(raw["nanotime_resolution_ps"] or 0.0)
    carry_t, carry_c = np.empty(0, np.int64), np.empty(0, np.uint8)
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels", "nanotimes")):
        assert chunk.nanotimes is not None
        if chunk.timestamps_ps.size == 0:
            continue
        t = chunk.timestamps_ps + np.rint(chunk.nanotimes * res).astype(np.int64)
        t, c = np.concatenate([carry_t, t]), np.concatenate([carry_c, chunk.channels])
        hold = t >= int(chunk.timestamps_ps[-1])
        order = np.argsort(t[~hold], kind="stable")
        yield t[~hold][order], c[~hold][order]
        carry_t, carry_c = t[hold], c[hold]
    order = np.argsort(carry_t, kind="stable")
    yield carry_t[order], carry_c[order]
