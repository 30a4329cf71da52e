"""Histograms of photon time tags: pair delays (g2), TCSPC decays and intensity traces.

Each function validates its arrays, then runs a private numba kernel that trusts them; the
accumulators take a stream chunk by chunk and give exactly the in-memory result.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qdcat._kernels import correlate as _k
from qdcat._kernels.counting import channel_histogram
from qdcat.errors import InvalidValueError

SYNC_CHANNEL = 64  # qdcat.ingest.base convention; repeated so analysis does not import ingest
N_DETECTOR_CHANNELS = 64
#: 10^8 bins x 8 bytes per channel: a 10 ms trace of 11 days; more is surely a unit mistake.
MAX_TRACE_BINS = 100_000_000

I64Array = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]
F64Array = npt.NDArray[np.float64]


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PairHistogram:
    """Counts of pair delays ``t_b - t_a`` in half-open bins ``[edges[k], edges[k+1])`` (ps).

    ``duration_ps`` is the overlapping acquisition time T of the two channels (from the
    first to the last event of the channel that started later / stopped earlier, unless
    given) and enters the normalisation of :attr:`g2`.
    """

    edges_ps: I64Array  # n_bins + 1
    counts: I64Array  # n_bins
    channel_a: int
    channel_b: int
    n_a: int
    n_b: int
    duration_ps: int
    window_ps: int  # linear: W (bins span [-W, +W)); log: max |edge|
    bin_ps: int | None  # None for log-spaced bins

    @property
    def delays_ps(self) -> F64Array:
        """Bin centres in ps (float64)."""
        return 0.5 * (self.edges_ps[:-1] + self.edges_ps[1:]).astype(np.float64)

    @property
    def g2(self) -> F64Array:
        """``C_k * T / (N_A * N_B * Δτ_k)`` (science.md §3.3): 1 for uncorrelated light."""
        widths = np.diff(self.edges_ps).astype(np.float64)
        return self.counts * (float(self.duration_ps) / (float(self.n_a) * float(self.n_b))) / widths


@dataclass(frozen=True)
class TcspcHistogram:
    """Photon delays after the sync per detector channel: ``counts[i]`` belongs to ``channels[i]``."""

    edges_ps: F64Array | I64Array  # float64 for T3 (nanotime units may be fractional ps), int64 for T2
    counts: I64Array  # (n_channels, n_bins)
    channels: tuple[int, ...]

    @property
    def total(self) -> I64Array:
        total: I64Array = self.counts.sum(axis=0)
        return total


@dataclass(frozen=True)
class IntensityTrace:
    """Counts per time bin ``[start + k*bin, start + (k+1)*bin)``; ``counts[:, i]`` is ``channels[i]``."""

    start_ps: int
    bin_ps: int
    counts: I64Array  # (n_bins, n_channels)
    channels: tuple[int, ...]

    @property
    def total(self) -> I64Array:
        """Counts per bin summed over the channels (the blinking trace of science.md §3.7)."""
        total: I64Array = self.counts.sum(axis=1)
        return total

    @property
    def times_ps(self) -> I64Array:
        """Start time of each bin."""
        return self.start_ps + self.bin_ps * np.arange(self.counts.shape[0], dtype=np.int64)


class ChunkSource(Protocol):
    """Anything whose ``iter_chunks`` yields ``timestamps_ps``/``channels`` chunks (a TimeTagReader)."""

    def iter_chunks(self, **kwargs: Any) -> Iterable[Any]: ...


# -- validation --------------------------------------------------------------------------


def _events(timestamps_ps: Any, channels: Any) -> tuple[I64Array, U8Array]:
    ts = np.asarray(timestamps_ps)
    ch = np.asarray(channels)
    if ts.ndim != 1 or ch.ndim != 1:
        raise InvalidValueError(
            f"timestamps_ps and channels must be 1-D arrays, got shapes {ts.shape} and {ch.shape}"
        )
    if ts.shape != ch.shape:
        raise InvalidValueError(
            f"timestamps_ps and channels must have equal lengths, got {ts.shape[0]} and {ch.shape[0]}"
        )
    if ts.dtype != np.int64:
        raise InvalidValueError(
            f"timestamps_ps must be int64 picoseconds, got {ts.dtype}; convert with .astype(np.int64) "
            "after scaling instrument units to ps"
        )
    if ch.dtype != np.uint8:
        raise InvalidValueError(f"channels must be uint8 (qdcat channel codes), got {ch.dtype}")
    return np.ascontiguousarray(ts), np.ascontiguousarray(ch)


def _next_chunk(timestamps_ps: Any, channels: Any, last: int) -> tuple[I64Array, U8Array] | None:
    """The validated arrays of an accumulator's next chunk (None if empty); a chunk that
    starts before the end of the previous one is refused."""
    ts, ch = _events(timestamps_ps, channels)
    if ts.shape[0] == 0:
        return None
    if ts[0] < last:
        _raise_unsorted(f"between chunks ({int(ts[0])} ps after {int(last)} ps)")
    return ts, ch


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise InvalidValueError(f"{name} must be a positive integer number of ps, got {value!r}")
    return int(value)


def _channel(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < 256:
        raise InvalidValueError(f"{name} must be a channel code 0..255 (detectors 0..63), got {value!r}")
    return int(value)


#: Linear g2 windows stay below 2^31 ps so the kernel's bin index (0 … 2W) fits a 32-bit
#: division, several times cheaper than a 64-bit one (see qdcat._kernels.correlate).
MAX_LINEAR_WINDOW_PS = 2**31 - 1


def _window_and_bin(window_ps: Any, bin_ps: Any) -> tuple[int, int]:
    window = _positive_int("window_ps", window_ps)
    width = _positive_int("bin_ps", bin_ps)
    if window > MAX_LINEAR_WINDOW_PS:
        raise InvalidValueError(
            f"window_ps={window} exceeds {MAX_LINEAR_WINDOW_PS} ps (~2 ms) for linear bins; "
            "for µs–s delays use pair_histogram_log with log_delay_edges()"
        )
    if window % width:
        raise InvalidValueError(
            f"window_ps ({window}) must be a multiple of bin_ps ({width}) so that bins are exact; "
            f"use e.g. window_ps={(window // width + 1) * width}"
        )
    return window, width


def _raise_unsorted(where: str) -> None:
    raise InvalidValueError(
        f"timestamps_ps decrease {where}; time tags must be non-decreasing (merge detector "
        "streams with a sort by time first, and feed chunks in acquisition order)"
    )


def _check_pair_channels(a: int, b: int) -> None:
    if a == b:
        raise InvalidValueError(
            f"channel_a and channel_b are both {a}; a pair histogram needs two detectors "
            "(one detector's dead time hides its own short delays)"
        )


# -- linear pair histogram (g2) ----------------------------------------------------------


def _linear_edges(window: int, width: int) -> I64Array:
    return np.arange(-window, window + 1, width, dtype=np.int64)


def _overlap_ps(span_a: tuple[int, int], span_b: tuple[int, int]) -> int:
    return max(0, min(span_a[1], span_b[1]) - max(span_a[0], span_b[0]))


def _merge_span(old: tuple[int, int], new: tuple[int, int]) -> tuple[int, int]:
    if new[0] < 0:
        return old
    if old[0] < 0:
        return new
    return (old[0], new[1])


def _span(ts: I64Array, ch: U8Array, c: int) -> tuple[int, int]:
    """(first, last) timestamp of channel ``c``, or (-1, -1) if absent."""
    first, last = _k.channel_span(ts, ch, c)
    return int(first), int(last)


_EMPTY_T = np.empty(0, np.int64)
_EMPTY_C = np.empty(0, np.uint8)


def _run_parts(
    ts: I64Array, ch: U8Array, a: int, b: int, window: int, width: int, n_bins: int, n_parts: int
) -> tuple[I64Array, int, int, int]:
    """Split the stream into contiguous parts, each counting the pairs whose later event it holds."""
    n = ts.shape[0]
    bounds = [n * p // n_parts for p in range(n_parts + 1)]

    def part(p: int) -> tuple[I64Array, int, int, int]:
        start, stop = bounds[p], bounds[p + 1]
        hist = np.zeros(n_bins, np.int64)
        if start == stop:
            return hist, 0, 0, 0
        # The part before `start` that later events may reach back to; looked into, never counted.
        lo = int(np.searchsorted(ts[:start], ts[start] - window, side="left")) if start else 0
        bad = _k.g2_linear(
            ts[lo:start], ch[lo:start], ts[start:stop], ch[start:stop], a, b, window, width, hist
        )
        na, nb = _k.count_two(ch[start:stop], a, b)
        return hist, int(na), int(nb), bad

    if n_parts == 1:
        return part(0)
    with ThreadPoolExecutor(max_workers=n_parts) as pool:
        results = list(pool.map(part, range(n_parts)))
    hist = np.zeros(n_bins, np.int64)
    for r in results:
        hist += r[0]
    # A decrease exactly at a split is not seen by either part's kernel.
    bad = sum(r[3] for r in results) + sum(int(ts[s] < ts[s - 1]) for s in bounds[1:-1] if 0 < s < n)
    return hist, sum(r[1] for r in results), sum(r[2] for r in results), bad


def pair_histogram(
    timestamps_ps: np.ndarray,
    channels: np.ndarray,
    channel_a: int,
    channel_b: int,
    *,
    window_ps: int,
    bin_ps: int,
    n_threads: int = 1,
    duration_ps: int | None = None,
) -> PairHistogram:
    """Histogram of all delays ``t_b - t_a`` in ``[-window_ps, +window_ps)`` from a merged, sorted stream.

    Every (a, b) pair is counted exactly once; bin k is ``[-W + k*bin, -W + (k+1)*bin)``, so a
    delay of exactly -W is counted and +W is not. ``n_threads`` > 1 splits the stream into
    that many contiguous parts run concurrently (identical result). Events of other channels
    are stepped over inside the window: with a dense one in the stream (a T2 sync at MHz),
    select the two detectors first (``mask = (channels == a) | (channels == b)``).
    """
    ts, ch = _events(timestamps_ps, channels)
    a, b = _channel("channel_a", channel_a), _channel("channel_b", channel_b)
    _check_pair_channels(a, b)
    window, width = _window_and_bin(window_ps, bin_ps)
    n_parts = _positive_int("n_threads", n_threads)
    n_bins = 2 * window // width
    hist, na, nb, bad = _run_parts(ts, ch, a, b, window, width, n_bins, min(n_parts, max(1, ts.shape[0])))
    if bad:
        _raise_unsorted("within the arrays")
    _require_events(ch, a, b, na, nb)
    if duration_ps is None:
        duration_ps = _overlap_ps(_span(ts, ch, a), _span(ts, ch, b))
    return PairHistogram(_linear_edges(window, width), hist, a, b, na, nb, int(duration_ps), window, width)


def _require_events(ch: U8Array | None, a: int, b: int, na: int, nb: int) -> None:
    for name, c, k in (("channel_a", a, na), ("channel_b", b, nb)):
        if k == 0:
            present = (
                ""
                if ch is None
                else f" (channels present: {np.flatnonzero(np.bincount(ch, minlength=256)).tolist()})"
            )
            raise InvalidValueError(
                f"{name}={c} has no events{present}; choose a detector channel that recorded photons"
            )


class G2Accumulator:
    """Pair-delay histogram fed chunk by chunk; :meth:`result` equals :func:`pair_histogram` on the whole.

    Only the events of the last ``window_ps`` are carried from one chunk to the next, so
    memory stays bounded whatever the acquisition length.
    """

    def __init__(self, channel_a: int, channel_b: int, *, window_ps: int, bin_ps: int) -> None:
        self.channel_a = _channel("channel_a", channel_a)
        self.channel_b = _channel("channel_b", channel_b)
        _check_pair_channels(self.channel_a, self.channel_b)
        self.window_ps, self.bin_ps = _window_and_bin(window_ps, bin_ps)
        self._n_bins = 2 * self.window_ps // self.bin_ps
        self._hist = np.zeros(self._n_bins, np.int64)
        self._carry_t = _EMPTY_T
        self._carry_c = _EMPTY_C
        self._last = np.iinfo(np.int64).min
        self._na = 0
        self._nb = 0
        self._span_a = (-1, -1)
        self._span_b = (-1, -1)

    def add(self, timestamps_ps: np.ndarray, channels: np.ndarray) -> None:
        """Add the next chunk of the stream (refused, leaving the state unchanged, if out of order)."""
        chunk = _next_chunk(timestamps_ps, channels, self._last)
        if chunk is None:
            return
        ts, ch = chunk
        hist = np.zeros(self._n_bins, np.int64)
        a, b, window = self.channel_a, self.channel_b, self.window_ps
        bad = _k.g2_linear(self._carry_t, self._carry_c, ts, ch, a, b, window, self.bin_ps, hist)
        na, nb = _k.count_two(ch, a, b)
        if bad:
            _raise_unsorted("within a chunk")
        self._hist += hist
        self._na += int(na)
        self._nb += int(nb)
        self._span_a = _merge_span(self._span_a, _span(ts, ch, a))
        self._span_b = _merge_span(self._span_b, _span(ts, ch, b))
        last = int(ts[-1])
        cut = int(np.searchsorted(ts, last - window, side="left"))
        if cut > 0:
            self._carry_t, self._carry_c = ts[cut:].copy(), ch[cut:].copy()
        else:  # a chunk shorter than the window: keep the still-reachable part of the old carry too
            keep = int(np.searchsorted(self._carry_t, last - window, side="left"))
            self._carry_t = np.concatenate([self._carry_t[keep:], ts])
            self._carry_c = np.concatenate([self._carry_c[keep:], ch])
        self._last = last

    def result(self, *, duration_ps: int | None = None) -> PairHistogram:
        _require_events(None, self.channel_a, self.channel_b, self._na, self._nb)
        if duration_ps is None:
            duration_ps = _overlap_ps(self._span_a, self._span_b)
        return PairHistogram(
            _linear_edges(self.window_ps, self.bin_ps),
            self._hist.copy(),
            self.channel_a,
            self.channel_b,
            self._na,
            self._nb,
            int(duration_ps),
            self.window_ps,
            self.bin_ps,
        )


def g2_from_reader(
    reader: ChunkSource, channel_a: int, channel_b: int, window_ps: int, bin_ps: int
) -> PairHistogram:
    """Stream a stored acquisition (e.g. a ``TimeTagReader``) through a :class:`G2Accumulator`."""
    acc = G2Accumulator(channel_a, channel_b, window_ps=window_ps, bin_ps=bin_ps)
    # No read-ahead thread: zarr already decodes a batch's chunks on both cores, and
    # overlapping the kernel with that measured slower (0.60 vs 0.73 of read-only speed).
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    return acc.result()


# -- log-binned pair histogram (blinking-scale delays) -----------------------------------


def log_delay_edges(
    min_ps: int, max_ps: int, bins_per_decade: int = 10, *, symmetric: bool = True
) -> I64Array:
    """Log-spaced int64 edges from ``min_ps`` to ``max_ps`` (and mirrored to negative delays).

    Edges are rounded to whole ps and deduplicated, so short delays may get fewer bins.
    With ``symmetric`` the delays in ``(-min_ps, min_ps)`` form one central bin.
    """
    lo, hi = _positive_int("min_ps", min_ps), _positive_int("max_ps", max_ps)
    per = _positive_int("bins_per_decade", bins_per_decade)
    if hi <= lo:
        raise InvalidValueError(f"max_ps ({hi}) must exceed min_ps ({lo})")
    n = max(2, int(np.ceil(np.log10(hi / lo) * per)) + 1)
    pos = np.unique(np.rint(np.geomspace(lo, hi, n)).astype(np.int64))
    return np.concatenate([-pos[::-1], pos]) if symmetric else pos


def _log_edges(edges_ps: Any) -> I64Array:
    edges = np.asarray(edges_ps)
    if edges.ndim != 1 or edges.shape[0] < 2 or edges.dtype != np.int64:
        raise InvalidValueError(
            f"edges_ps must be a 1-D int64 array of at least 2 edges, got {edges.dtype} {edges.shape}; "
            "build one with log_delay_edges()"
        )
    if np.any(np.diff(edges) <= 0):
        raise InvalidValueError("edges_ps must be strictly increasing")
    return np.ascontiguousarray(edges)


def pair_histogram_log(
    timestamps_ps: np.ndarray,
    channels: np.ndarray,
    channel_a: int,
    channel_b: int,
    *,
    edges_ps: np.ndarray,
    duration_ps: int | None = None,
) -> PairHistogram:
    """Pair delays ``t_b - t_a`` in arbitrary increasing int64 bins ``[edges[k], edges[k+1])`` (µs–s scale).

    The cost does not grow with the number of pairs (see :func:`log_delay_edges` for edges).
    """
    ts, ch = _events(timestamps_ps, channels)
    a, b = _channel("channel_a", channel_a), _channel("channel_b", channel_b)
    _check_pair_channels(a, b)
    edges = _log_edges(edges_ps)
    if ts.shape[0] > 1 and np.any(ts[1:] < ts[:-1]):
        _raise_unsorted("within the arrays")
    ta = np.empty(ts.shape[0], np.int64)
    tb = np.empty(ts.shape[0], np.int64)
    na, nb = _k.split_channels(ts, ch, a, b, ta, tb)
    _require_events(ch, a, b, na, nb)
    hist = np.zeros(edges.shape[0] - 1, np.int64)
    _k.g2_log(ta[:na], tb[:nb], np.ascontiguousarray(edges), hist)
    if duration_ps is None:
        duration_ps = _overlap_ps((int(ta[0]), int(ta[na - 1])), (int(tb[0]), int(tb[nb - 1])))
    window = int(max(abs(int(edges[0])), abs(int(edges[-1]))))
    return PairHistogram(edges.copy(), hist, a, b, int(na), int(nb), int(duration_ps), window, None)


class G2LogAccumulator:
    """Log-binned pair delays fed chunk by chunk; :meth:`result` equals :func:`pair_histogram_log`.

    An a event is counted once every b event up to ``t_a + edges[-1]`` has arrived (the
    stream is time-sorted, so that is once the stream has passed that time); only the a
    events still waiting and the b events they can reach are kept, so memory is bounded
    by the rate times the span of the edges, not by the acquisition.
    """

    def __init__(self, channel_a: int, channel_b: int, *, edges_ps: np.ndarray) -> None:
        self.channel_a = _channel("channel_a", channel_a)
        self.channel_b = _channel("channel_b", channel_b)
        _check_pair_channels(self.channel_a, self.channel_b)
        self.edges_ps = _log_edges(edges_ps)
        self._hist = np.zeros(self.edges_ps.shape[0] - 1, np.int64)
        self._pending_a = _EMPTY_T
        self._buffer_b = _EMPTY_T
        self._last = np.iinfo(np.int64).min
        self._na = 0
        self._nb = 0
        self._span_a = (-1, -1)
        self._span_b = (-1, -1)

    def add(self, timestamps_ps: np.ndarray, channels: np.ndarray) -> None:
        """Add the next chunk (refused, leaving the state unchanged, if out of order)."""
        chunk = _next_chunk(timestamps_ps, channels, self._last)
        if chunk is None:
            return
        ts, ch = chunk
        if ts.shape[0] > 1 and np.any(ts[1:] < ts[:-1]):
            _raise_unsorted("within a chunk")
        a, b = self.channel_a, self.channel_b
        ta = np.empty(ts.shape[0], np.int64)
        tb = np.empty(ts.shape[0], np.int64)
        na, nb = _k.split_channels(ts, ch, a, b, ta, tb)
        self._na += int(na)
        self._nb += int(nb)
        if na:
            self._span_a = _merge_span(self._span_a, (int(ta[0]), int(ta[na - 1])))
        if nb:
            self._span_b = _merge_span(self._span_b, (int(tb[0]), int(tb[nb - 1])))
        pending = np.concatenate([self._pending_a, ta[:na]])
        buffer_b = np.concatenate([self._buffer_b, tb[:nb]])
        seen = int(ts[-1])
        first, last_edge = int(self.edges_ps[0]), int(self.edges_ps[-1])
        # a events whose whole delay range lies before `seen` have all their b events.
        ready = int(np.searchsorted(pending, seen - last_edge, side="right"))
        if ready:
            _k.g2_log(pending[:ready], buffer_b, self.edges_ps, self._hist)
        pending = pending[ready:]
        # b events earlier than any waiting (or future) a event can reach are no longer needed.
        reach = (int(pending[0]) if pending.shape[0] else seen) + first
        buffer_b = buffer_b[int(np.searchsorted(buffer_b, reach, side="left")) :]
        self._pending_a, self._buffer_b = pending.copy(), buffer_b.copy()
        self._last = seen

    def result(self, *, duration_ps: int | None = None) -> PairHistogram:
        """The histogram so far, counting the a events still waiting against the b events seen."""
        _require_events(None, self.channel_a, self.channel_b, self._na, self._nb)
        hist = self._hist.copy()
        if self._pending_a.shape[0]:
            _k.g2_log(self._pending_a, self._buffer_b, self.edges_ps, hist)
        if duration_ps is None:
            duration_ps = _overlap_ps(self._span_a, self._span_b)
        window = int(max(abs(int(self.edges_ps[0])), abs(int(self.edges_ps[-1]))))
        return PairHistogram(
            self.edges_ps.copy(),
            hist,
            self.channel_a,
            self.channel_b,
            self._na,
            self._nb,
            int(duration_ps),
            window,
            None,
        )


# -- TCSPC -------------------------------------------------------------------------------


def _present(hist: I64Array) -> tuple[int, ...]:
    return tuple(int(c) for c in np.flatnonzero(hist.sum(axis=1)))


class TcspcAccumulator:
    """Delay of each detector photon after the previous sync (T2 stream), fed chunk by chunk.

    Bins are ``[k*bin_ps, (k+1)*bin_ps)`` for k < n_bins; later photons (beyond the
    range) and photons before the first sync are not counted.
    """

    def __init__(self, *, bin_ps: int, n_bins: int, sync_channel: int = SYNC_CHANNEL) -> None:
        self.bin_ps = _positive_int("bin_ps", bin_ps)
        self.n_bins = _positive_int("n_bins", n_bins)
        self.sync_channel = _channel("sync_channel", sync_channel)
        if self.sync_channel < N_DETECTOR_CHANNELS:
            raise InvalidValueError(
                f"sync_channel must be >= 64 (qdcat codes the T2 sync as 64), got {sync_channel}"
            )
        self._hist = np.zeros((N_DETECTOR_CHANNELS, self.n_bins), np.int64)
        self._last_sync = -1
        self._last = np.iinfo(np.int64).min
        self._n_sync = 0

    def add(self, timestamps_ps: np.ndarray, channels: np.ndarray) -> None:
        chunk = _next_chunk(timestamps_ps, channels, self._last)
        if chunk is None:
            return
        ts, ch = chunk
        hist = np.zeros_like(self._hist)
        last_sync, bad = _k.tcspc_t2(
            ts, ch, self.sync_channel, self._last_sync, self.bin_ps, self.n_bins, hist
        )
        if bad:
            _raise_unsorted("within a chunk")
        self._hist += hist
        self._last_sync = int(last_sync)
        self._last = int(ts[-1])

    def result(self) -> TcspcHistogram:
        if self._last_sync < 0:
            raise InvalidValueError(
                f"no sync events (channel {self.sync_channel}) in the stream; TCSPC from a T2 stream "
                "needs the sync recorded as events — for T3 data use tcspc_t3()"
            )
        chans = _present(self._hist)
        edges = np.arange(self.n_bins + 1, dtype=np.int64) * self.bin_ps
        return TcspcHistogram(edges, self._hist[list(chans)].copy(), chans)


def tcspc_t2(
    timestamps_ps: np.ndarray,
    channels: np.ndarray,
    *,
    bin_ps: int,
    n_bins: int,
    sync_channel: int = SYNC_CHANNEL,
) -> TcspcHistogram:
    """TCSPC histogram of ``t_photon - t_last_sync`` per detector channel from a T2 stream."""
    acc = TcspcAccumulator(bin_ps=bin_ps, n_bins=n_bins, sync_channel=sync_channel)
    acc.add(timestamps_ps, channels)
    return acc.result()


def tcspc_t3(
    channels: np.ndarray, nanotimes: np.ndarray, *, nanotime_resolution_ps: float, n_bins: int | None = None
) -> TcspcHistogram:
    """TCSPC histogram from T3 nanotimes: a count of each nanotime value per detector channel.

    ``n_bins`` defaults to the largest nanotime + 1; larger nanotimes are not counted.
    """
    ch = np.ascontiguousarray(channels)
    nt = np.ascontiguousarray(nanotimes)
    if ch.ndim != 1 or nt.shape != ch.shape:
        raise InvalidValueError(
            f"channels and nanotimes must be 1-D of equal length, got {ch.shape}, {nt.shape}"
        )
    if ch.dtype != np.uint8 or nt.dtype.kind != "u":
        raise InvalidValueError(
            "channels must be uint8 and nanotimes unsigned integers (raw T3 units), "
            f"got {ch.dtype}, {nt.dtype}"
        )
    if not nanotime_resolution_ps > 0:
        raise InvalidValueError(f"nanotime_resolution_ps must be > 0, got {nanotime_resolution_ps!r}")
    if n_bins is None:
        n_bins = int(nt.max()) + 1 if nt.shape[0] else 1
    n_bins = _positive_int("n_bins", n_bins)
    hist = np.zeros((N_DETECTOR_CHANNELS, n_bins), np.int64)
    _k.tcspc_t3(ch, nt, hist)
    chans = _present(hist)
    edges = np.arange(n_bins + 1, dtype=np.float64) * float(nanotime_resolution_ps)
    return TcspcHistogram(edges, hist[list(chans)].copy(), chans)


# -- intensity trace ---------------------------------------------------------------------


#: Chunks at least this long are counted on two cores.
TRACE_PARALLEL_MIN_EVENTS = 1 << 20


class IntensityTraceAccumulator:
    """Counts per time bin and channel from ``start_ps``, fed chunk by chunk (10 ms bins for blinking).

    ``channels`` are named explicitly: each costs one vectorised pass per bin, so listing
    all 64 detector inputs "just in case" would make the trace ~30x slower.
    """

    def __init__(self, *, bin_ps: int, channels: Iterable[int], start_ps: int = 0) -> None:
        self.bin_ps = _positive_int("bin_ps", bin_ps)
        chans = tuple(_channel("channel", c) for c in channels)
        if not chans or len(set(chans)) != len(chans):
            raise InvalidValueError(f"channels must be distinct channel codes, at least one, got {chans}")
        if isinstance(start_ps, bool) or not isinstance(start_ps, int | np.integer):
            raise InvalidValueError(f"start_ps must be an integer number of ps, got {start_ps!r}")
        self.start_ps = int(start_ps)
        self.channels = chans
        self._chans = np.asarray(chans, np.int64)
        self._counts = np.zeros((0, len(chans)), np.int64)
        self._n_bins = 0
        self._last = np.iinfo(np.int64).min

    def add(self, timestamps_ps: np.ndarray, channels: np.ndarray) -> None:
        chunk = _next_chunk(timestamps_ps, channels, self._last)
        if chunk is None:
            return
        ts, ch = chunk
        need = (int(ts[-1]) - self.start_ps) // self.bin_ps + 1
        if need <= 0:  # the whole chunk lies before start_ps
            self._last = int(ts[-1])
            return
        if need > MAX_TRACE_BINS:
            raise InvalidValueError(
                f"an intensity trace to {int(ts[-1])} ps in bins of {self.bin_ps} ps from start_ps="
                f"{self.start_ps} needs {need} bins (limit {MAX_TRACE_BINS}); use a larger bin_ps "
                "or a start_ps nearer the data"
            )
        if need > self._counts.shape[0]:
            # Grow geometrically so a long acquisition costs amortised O(1) copies per bin.
            grown = np.zeros((max(need, 2 * self._counts.shape[0]), len(self.channels)), np.int64)
            grown[: self._counts.shape[0]] = self._counts
            self._counts = grown
        # Only bins from the current one on can change: count into a small array, then add,
        # so a refused (unsorted) chunk leaves the trace as it was.
        first = max(0, self._n_bins - 1)
        shape = (need - first, len(self.channels))
        origin = self.start_ps + first * self.bin_ps
        n = ts.shape[0]
        if n < TRACE_PARALLEL_MIN_EVENTS:
            part = np.zeros(shape, np.int64)
            bad = int(_k.intensity_trace(ts, ch, self._chans, origin, self.bin_ps, part))
        else:
            # Two halves counted on two cores (the kernel releases the GIL); bins are
            # absolute, so the halves' counts simply add. A decrease exactly at the
            # split is seen by neither half: checked here.
            mid = n // 2
            parts = [np.zeros(shape, np.int64), np.zeros(shape, np.int64)]
            halves = [(ts[:mid], ch[:mid], parts[0]), (ts[mid:], ch[mid:], parts[1])]
            with ThreadPoolExecutor(max_workers=2) as pool:
                bads = list(
                    pool.map(
                        lambda h: _k.intensity_trace(h[0], h[1], self._chans, origin, self.bin_ps, h[2]),
                        halves,
                    )
                )
            bad = int(sum(bads)) + int(ts[mid] < ts[mid - 1])
            part = parts[0] + parts[1]
        if bad:
            _raise_unsorted("within a chunk")
        self._counts[first:need] += part
        self._n_bins = max(self._n_bins, need)
        self._last = int(ts[-1])

    def result(self) -> IntensityTrace:
        return IntensityTrace(self.start_ps, self.bin_ps, self._counts[: self._n_bins].copy(), self.channels)


def intensity_trace(
    timestamps_ps: np.ndarray,
    channels: np.ndarray,
    *,
    bin_ps: int,
    channels_of_interest: Iterable[int] | None = None,
    start_ps: int = 0,
) -> IntensityTrace:
    """Counts per bin ``[start + k*bin, start + (k+1)*bin)`` for each channel of interest.

    By default the channels are the detectors (0..63) that recorded events; events before
    ``start_ps`` are not counted, and the last bin is the one holding the last event.
    """
    ts, ch = _events(timestamps_ps, channels)
    if channels_of_interest is None:
        per_channel = np.zeros(256, np.int64)
        channel_histogram(ch, per_channel)
        present = np.flatnonzero(per_channel[:N_DETECTOR_CHANNELS])
        channels_of_interest = tuple(int(c) for c in present) or (0,)
    acc = IntensityTraceAccumulator(bin_ps=bin_ps, channels=channels_of_interest, start_ps=start_ps)
    acc.add(ts, ch)
    return acc.result()
