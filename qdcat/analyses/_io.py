"""Reading an acquisition's raw data for the analyses: streamed chunk by chunk, reduced to histograms.

Every function here reads the store through :meth:`TimeTagStore.open_timetags`
(bounded memory whatever the acquisition's length) and returns the reduced
data (pair histograms, TCSPC histograms, intensity traces) that the pure
analysis functions take. Channel groups come from the :class:`Acquisition`:
*all* channels of a role feed the analysis.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from qdcat.analyses._base import Acquisition
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from qdcat.analysis.histograms import PairHistogram
    from qdcat.store.timetags import TimeTagStore

_GROUP_A, _GROUP_B, _OTHER = 0, 1, 255


def read_arrays(store: TimeTagStore, acq: Acquisition) -> dict[str, np.ndarray]:
    return store.read_arrays(acq.store_path)


def photon_chunks(
    store: TimeTagStore, acq: Acquisition, *, fine: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(timestamps_ps, channels) chunks in time order.

    For T3 data with ``fine`` the timestamp of a photon is its macrotime plus its
    nanotime (the arrival time, not the pulse's). Within one sync period the
    records need not be in arrival order, so each chunk is re-sorted where needed
    and photons that a later chunk could still precede are carried over.
    """
    reader = store.open_timetags(acq.store_path)
    if not (fine and acq.has_nanotimes):
        for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
            yield chunk.timestamps_ps, chunk.channels
        return
    res = float(acq.nanotime_resolution_ps or 0.0)
    if not res > 0:
        raise InvalidValueError(
            f"measurement {acq.measurement_id} has nanotimes but no nanotime resolution; re-ingest the file"
        )
    carry_t = np.empty(0, np.int64)
    carry_c = np.empty(0, np.uint8)
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels", "nanotimes")):
        macro, nanotimes = chunk.timestamps_ps, chunk.nanotimes
        assert nanotimes is not None  # a field asked for: the reader refuses a group without it
        if macro.size == 0:
            continue
        t = macro + np.rint(nanotimes.astype(np.float64) * res).astype(np.int64)
        t = np.concatenate([carry_t, t])
        c = np.concatenate([carry_c, chunk.channels])
        # A later photon is never earlier than its own macrotime, which is >= this chunk's last one.
        hold = t >= int(macro[-1])
        out_t, out_c = t[~hold], c[~hold]
        carry_t, carry_c = t[hold], c[hold]
        if out_t.size:
            yield _sorted(out_t, out_c)
    if carry_t.size:
        yield _sorted(carry_t, carry_c)


def _sorted(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if t.size > 1 and not bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(t, kind="stable")
        return t[order], c[order]
    return t, c


def _pair_lut(acq: Acquisition) -> npt.NDArray[np.uint8] | None:
    """Channel code → 0 (arm A), 1 (arm B), 255 (other), when an arm has several channels."""
    if len(acq.hbt_a) == 1 and len(acq.hbt_b) == 1:
        return None
    lut = np.full(256, _OTHER, np.uint8)
    lut[list(acq.hbt_a)] = _GROUP_A
    lut[list(acq.hbt_b)] = _GROUP_B
    return lut


def require_pair(acq: Acquisition) -> None:
    if not acq.has_hbt_pair:
        raise InvalidValueError(
            f"measurement {acq.measurement_id} has no two-detector (HBT) pair: name them in the setup "
            "(`qdcat setup add NAME --channel 0=hbt_a --channel 1=hbt_b`)"
        )


def pair_histogram(store: TimeTagStore, acq: Acquisition, *, window_ps: int, bin_ps: int) -> PairHistogram:
    """Delays t_B − t_A within ±window between the two HBT arms (every channel of each arm)."""
    from qdcat.analysis.histograms import G2Accumulator

    require_pair(acq)
    lut = _pair_lut(acq)
    a, b = (acq.hbt_a[0], acq.hbt_b[0]) if lut is None else (_GROUP_A, _GROUP_B)
    acc = G2Accumulator(a, b, window_ps=window_ps, bin_ps=bin_ps)
    for ts, ch in photon_chunks(store, acq):
        acc.add(ts, ch if lut is None else lut[ch])
    return acc.result()


@dataclass(frozen=True)
class Tcspc:
    """Photon delays after the laser pulse, summed over the detectors: counts per bin of ``bin_ps``."""

    counts: npt.NDArray[np.int64]  # bins [k·bin_ps, (k+1)·bin_ps)
    bin_ps: float
    period_ps: float
    source: str  # "T3 nanotimes" or "T2 sync channel N"


def period_ps(acq: Acquisition) -> float:
    """The laser period: the repetition rate (a T3 file's sync rate), else a T3 file's macrotime unit.

    The rate comes first: a TimeHarp 200 (T3R) counts a 100 ns global clock, not sync pulses.
    """
    if acq.repetition_rate_mhz:
        return 1e6 / float(acq.repetition_rate_mhz)
    if acq.has_nanotimes and acq.resolution_ps:
        return float(acq.resolution_ps)
    raise InvalidValueError(
        f"measurement {acq.measurement_id}: the laser period is unknown; record its repetition_rate_mhz "
        "(`qdcat ingest ... --repetition-rate-mhz 10`)"
    )


def tcspc(store: TimeTagStore, acq: Acquisition, *, t2_bin_ps: float) -> Tcspc:
    """The TCSPC histogram of every detector of ``acq`` (T3 nanotimes, or T2 photons after the sync)."""
    from qdcat.analysis.histograms import TcspcAccumulator, tcspc_t3

    period = period_ps(acq)
    detectors = list(acq.detectors)
    reader = store.open_timetags(acq.store_path)
    if acq.has_nanotimes:
        res = float(acq.nanotime_resolution_ps or 0.0)
        if not res > 0:
            raise InvalidValueError(f"measurement {acq.measurement_id} has nanotimes but no resolution")
        # Sized by the data, not the period: a TAC range can exceed the period (a TimeHarp 200's
        # 288 ns at 5 MHz), and nanotimes are never dropped.
        total = np.zeros(0, np.int64)
        for chunk in reader.iter_chunks(fields=("channels", "nanotimes")):
            nanotimes = chunk.nanotimes
            assert nanotimes is not None  # a field asked for: the reader refuses a group without it
            if nanotimes.size == 0:
                continue
            n_bins = int(nanotimes.max()) + 1
            h = tcspc_t3(chunk.channels, nanotimes, nanotime_resolution_ps=res, n_bins=n_bins)
            rows = [i for i, c in enumerate(h.channels) if c in detectors]
            if rows:
                part = h.counts[rows].sum(axis=0)
                if part.size > total.size:
                    total = np.concatenate([total, np.zeros(part.size - total.size, np.int64)])
                total[: part.size] += part
        return Tcspc(total, res, period, "T3 nanotimes")
    if acq.sync is None:
        raise InvalidValueError(
            f"measurement {acq.measurement_id} is T2 without a sync channel: a decay needs the laser "
            "sync recorded as events (setup role 'sync') or a T3 file"
        )
    bin_ps = float(t2_bin_ps)
    n_bins = max(1, int(period // bin_ps))
    acc = TcspcAccumulator(bin_ps=int(bin_ps), n_bins=n_bins, sync_channel=acq.sync)
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    h = acc.result()
    rows = [i for i, c in enumerate(h.channels) if c in detectors]
    total = h.counts[rows].sum(axis=0) if rows else np.zeros(n_bins, np.int64)
    return Tcspc(total.astype(np.int64), bin_ps, period, f"T2 sync channel {acq.sync}")


def trace(
    store: TimeTagStore, acq: Acquisition, *, bin_ps: int, channels: Sequence[int] | None = None
) -> npt.NDArray[np.int64]:
    """Photon counts per bin of ``bin_ps`` summed over ``channels`` (default: every detector)."""
    from qdcat.analysis.histograms import IntensityTraceAccumulator

    chans = list(channels if channels is not None else acq.detectors)
    if not chans:
        raise InvalidValueError(f"measurement {acq.measurement_id} recorded no detector photons")
    acc = IntensityTraceAccumulator(bin_ps=bin_ps, channels=chans)
    for ts, ch in photon_chunks(store, acq, fine=False):
        acc.add(ts, ch)
    return acc.result().total
