"""Histogram kernels against naive numpy references, streaming against in-memory, and input checks."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdcat._kernels import correlate as _k
from qdcat.analysis.histograms import (
    G2Accumulator,
    IntensityTraceAccumulator,
    TcspcAccumulator,
    g2_from_reader,
    intensity_trace,
    log_delay_edges,
    pair_histogram,
    pair_histogram_log,
    tcspc_t2,
    tcspc_t3,
)
from qdcat.errors import InvalidValueError

A, B, OTHER, SYNC = 0, 1, 5, 64
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- naive references (int64 arithmetic throughout) --------------------------------------


def naive_g2(ts: np.ndarray, ch: np.ndarray, a: int, b: int, window: int, width: int) -> np.ndarray:
    ta, tb = ts[ch == a], ts[ch == b]
    n_bins = 2 * window // width
    hist = np.zeros(n_bins, np.int64)
    for t in ta:
        lo = np.searchsorted(tb, t - window, side="left")
        hi = np.searchsorted(tb, t + window, side="left")
        d = tb[lo:hi] - t
        hist += np.bincount((d + window) // width, minlength=n_bins)[:n_bins]
    return hist


def naive_g2_edges(ts: np.ndarray, ch: np.ndarray, a: int, b: int, edges: np.ndarray) -> np.ndarray:
    ta, tb = ts[ch == a], ts[ch == b]
    if ta.size == 0 or tb.size == 0:
        return np.zeros(edges.size - 1, np.int64)
    d = (tb[None, :] - ta[:, None]).ravel()
    k = np.searchsorted(edges, d, side="right") - 1
    k = k[(k >= 0) & (k < edges.size - 1)]
    return np.bincount(k, minlength=edges.size - 1).astype(np.int64)


def naive_tcspc(ts: np.ndarray, ch: np.ndarray, width: int, n_bins: int) -> np.ndarray:
    hist = np.zeros((64, n_bins), np.int64)
    last = -1
    for t, c in zip(ts.tolist(), ch.tolist(), strict=True):
        if c == SYNC:
            last = t
        elif c < 64 and last >= 0 and t - last < width * n_bins:
            hist[c, (t - last) // width] += 1
    return hist


def kernel_g2(ts: np.ndarray, ch: np.ndarray, window: int, width: int) -> np.ndarray:
    # One guard bin past the end: the kernel does no bounds checks, so a delay of +W binned
    # by mistake would write there instead of failing.
    n_bins = 2 * window // width
    hist = np.zeros(n_bins + 1, np.int64)
    bad = _k.g2_linear(np.empty(0, np.int64), np.empty(0, np.uint8), ts, ch, A, B, window, width, hist)
    assert bad == 0
    assert hist[n_bins] == 0, "a pair was binned beyond +W"
    return hist[:n_bins]


# -- strategies --------------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn, max_events: int = 60, channels: tuple[int, ...] = (A, B, OTHER)) -> tuple:
    """Sorted streams with gaps of the order of the window: many ties, edges hit exactly."""
    width = draw(st.sampled_from([1, 2, 3, 7]))
    window = width * draw(st.integers(1, 6))
    n = draw(st.integers(0, max_events))
    gaps = draw(
        st.lists(
            st.one_of(st.just(0), st.just(window), st.just(width), st.integers(0, 3 * window)),
            min_size=n,
            max_size=n,
        )
    )
    start = draw(st.integers(0, 10**12))
    ts = (start + np.cumsum(np.asarray(gaps, np.int64))).astype(np.int64)
    ch = np.asarray(draw(st.lists(st.sampled_from(channels), min_size=n, max_size=n)), np.uint8)
    return ts, ch, window, width


# -- linear pair histogram ---------------------------------------------------------------


@SETTINGS
@given(streams())
def test_g2_kernel_matches_naive(stream: tuple) -> None:
    ts, ch, window, width = stream
    np.testing.assert_array_equal(kernel_g2(ts, ch, window, width), naive_g2(ts, ch, A, B, window, width))


@SETTINGS
@given(streams(), st.integers(1, 4))
def test_g2_public_and_parallel_match_naive(stream: tuple, n_threads: int) -> None:
    ts, ch, window, width = stream
    if not ((ch == A).any() and (ch == B).any()):
        with pytest.raises(InvalidValueError, match="has no events"):
            pair_histogram(ts, ch, A, B, window_ps=window, bin_ps=width)
        return
    h = pair_histogram(ts, ch, A, B, window_ps=window, bin_ps=width, n_threads=n_threads)
    np.testing.assert_array_equal(h.counts, naive_g2(ts, ch, A, B, window, width))
    assert h.n_a == int((ch == A).sum()) and h.n_b == int((ch == B).sum())
    np.testing.assert_array_equal(h.edges_ps, np.arange(-window, window + 1, width))


@SETTINGS
@given(streams(max_events=40))
def test_g2_streaming_equals_in_memory_at_every_split(stream: tuple) -> None:
    ts, ch, window, width = stream
    whole = kernel_g2(ts, ch, window, width)
    for cut in range(ts.size + 1):
        acc = G2Accumulator(A, B, window_ps=window, bin_ps=width)
        acc.add(ts[:cut], ch[:cut])
        acc.add(ts[cut:], ch[cut:])
        np.testing.assert_array_equal(acc._hist, whole)
    # Many small chunks (shorter than the window): the carry spans several chunks.
    acc = G2Accumulator(A, B, window_ps=window, bin_ps=width)
    for k in range(0, ts.size, 3):
        acc.add(ts[k : k + 3], ch[k : k + 3])
    np.testing.assert_array_equal(acc._hist, whole)


def test_g2_bin_edges_ties_and_window_limits() -> None:
    w, bw = 10, 5
    # b exactly W after a (excluded), b exactly W before a (bin 0), a tie (delay 0, counted once).
    cases = [
        (np.array([0, 10]), np.array([A, B]), {}),
        (np.array([0, 10]), np.array([B, A]), {0: 1}),
        (np.array([7, 7]), np.array([A, B]), {2: 1}),
        (np.array([7, 7]), np.array([B, A]), {2: 1}),
        (np.array([0, 5, 9]), np.array([A, B, B]), {3: 2}),
        (np.array([3]), np.array([A]), {}),
    ]
    for ts, ch, expected in cases:
        hist = kernel_g2(ts.astype(np.int64), ch.astype(np.uint8), w, bw)
        want = np.zeros(4, np.int64)
        for k, v in expected.items():
            want[k] = v
        np.testing.assert_array_equal(hist, want, err_msg=f"{ts} {ch}")


def test_g2_normalisation_is_one_for_uncorrelated_light() -> None:
    rng = np.random.default_rng(1)
    n = 400_000
    ts = np.cumsum(rng.exponential(1e12 / 4e5, n)).astype(np.int64)
    ch = rng.integers(0, 2, n).astype(np.uint8)
    h = pair_histogram(ts, ch, A, B, window_ps=200_000, bin_ps=20_000)
    assert abs(h.g2.mean() - 1) < 0.03
    assert h.duration_ps > 0.99 * (ts[-1] - ts[0])


# -- log-binned --------------------------------------------------------------------------


@SETTINGS
@given(streams(), st.lists(st.integers(-50, 50), min_size=2, max_size=8, unique=True))
def test_g2_log_matches_naive(stream: tuple, edge_list: list[int]) -> None:
    ts, ch, _, _ = stream
    edges = np.sort(np.asarray(edge_list, np.int64))
    ta, tb = ts[ch == A], ts[ch == B]
    hist = np.zeros(edges.size - 1, np.int64)
    _k.g2_log(ta, tb, edges, hist)
    np.testing.assert_array_equal(hist, naive_g2_edges(ts, ch, A, B, edges))
    if ta.size and tb.size:
        h = pair_histogram_log(ts, ch, A, B, edges_ps=edges)
        np.testing.assert_array_equal(h.counts, hist)


def test_log_delay_edges_are_symmetric_and_increasing() -> None:
    edges = log_delay_edges(1_000_000, 10**12, 5)
    assert edges.dtype == np.int64 and np.all(np.diff(edges) > 0)
    np.testing.assert_array_equal(edges, -edges[::-1])
    assert edges[-1] == 10**12


# -- TCSPC -------------------------------------------------------------------------------


@SETTINGS
@given(streams(channels=(A, B, SYNC, 66)), st.integers(1, 12))
def test_tcspc_t2_matches_naive_and_streams(stream: tuple, n_bins: int) -> None:
    ts, ch, _, width = stream
    want = naive_tcspc(ts, ch, width, n_bins)
    for cut in range(0, ts.size + 1, 3):
        acc = TcspcAccumulator(bin_ps=width, n_bins=n_bins)
        acc.add(ts[:cut], ch[:cut])
        acc.add(ts[cut:], ch[cut:])
        np.testing.assert_array_equal(acc._hist, want)
    if (ch == SYNC).any():
        h = tcspc_t2(ts, ch, bin_ps=width, n_bins=n_bins)
        np.testing.assert_array_equal(h.counts, want[list(h.channels)])
        assert want[[c for c in range(64) if c not in h.channels]].sum() == 0


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([0, 1, 3, 70]), st.integers(0, 40)), max_size=200))
def test_tcspc_t3_matches_add_at(events: list[tuple[int, int]]) -> None:
    ch = np.asarray([e[0] for e in events], np.uint8)
    nt = np.asarray([e[1] for e in events], np.uint16)
    want = np.zeros((64, 32), np.int64)
    keep = (ch < 64) & (nt < 32)
    np.add.at(want, (ch[keep], nt[keep]), 1)
    h = tcspc_t3(ch, nt, nanotime_resolution_ps=2.5, n_bins=32)
    np.testing.assert_array_equal(h.counts, want[list(h.channels)])
    assert h.edges_ps[1] == 2.5


# -- intensity trace ---------------------------------------------------------------------


@SETTINGS
@given(streams(), st.integers(1, 20), st.integers(-30, 30))
def test_intensity_trace_matches_bincount_and_streams(stream: tuple, width: int, offset: int) -> None:
    ts, ch, _, _ = stream
    start = int(ts[0]) + offset if ts.size else 0
    chans = (A, B, OTHER)
    keep = ts >= start
    n_bins = int((ts[-1] - start) // width + 1) if keep.any() else 0
    want = np.zeros((n_bins, 3), np.int64)
    for col, c in enumerate(chans):
        sel = keep & (ch == c)
        want[:, col] = np.bincount((ts[sel] - start) // width, minlength=n_bins)[:n_bins]
    for cut in range(0, ts.size + 1, 4):
        acc = IntensityTraceAccumulator(bin_ps=width, channels=chans, start_ps=start)
        acc.add(ts[:cut], ch[:cut])
        acc.add(ts[cut:], ch[cut:])
        tr = acc.result()
        np.testing.assert_array_equal(tr.counts, want)
    np.testing.assert_array_equal(tr.total, want.sum(axis=1))


# -- validation --------------------------------------------------------------------------


def test_invalid_inputs_say_what_to_do() -> None:
    ts = np.array([0, 5, 3], np.int64)
    ch = np.array([A, B, A], np.uint8)
    with pytest.raises(InvalidValueError, match="non-decreasing"):
        pair_histogram(ts, ch, A, B, window_ps=10, bin_ps=5)
    with pytest.raises(InvalidValueError, match="non-decreasing"):
        pair_histogram(ts, ch, A, B, window_ps=10, bin_ps=5, n_threads=2)
    with pytest.raises(InvalidValueError, match="non-decreasing"):
        intensity_trace(ts, ch, bin_ps=2)
    with pytest.raises(InvalidValueError, match="int64"):
        pair_histogram(ts.astype(np.float64), ch, A, B, window_ps=10, bin_ps=5)
    with pytest.raises(InvalidValueError, match="multiple of bin_ps"):
        pair_histogram(np.sort(ts), ch, A, B, window_ps=10, bin_ps=3)
    with pytest.raises(InvalidValueError, match="two detectors"):
        G2Accumulator(A, A, window_ps=10, bin_ps=5)
    with pytest.raises(InvalidValueError, match="channel_b=7 has no events"):
        pair_histogram(np.sort(ts), ch, A, 7, window_ps=10, bin_ps=5)
    acc = G2Accumulator(A, B, window_ps=10, bin_ps=5)
    acc.add(np.array([10, 20], np.int64), np.array([A, B], np.uint8))
    with pytest.raises(InvalidValueError, match="between chunks"):
        acc.add(np.array([15], np.int64), np.array([A], np.uint8))
    with pytest.raises(InvalidValueError, match="no sync events"):
        tcspc_t2(np.sort(ts), ch, bin_ps=4, n_bins=10)
    with pytest.raises(InvalidValueError, match="use a larger bin_ps"):
        intensity_trace(np.array([10**12], np.int64), np.array([A], np.uint8), bin_ps=1)


@SETTINGS
@given(streams(max_events=80, channels=(A, B, SYNC)), st.randoms(use_true_random=False))
def test_unsorted_input_is_refused_by_every_wrapper(stream: tuple, rnd: object) -> None:
    ts, ch, window, width = stream
    perm = np.arange(ts.size)
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    ts = ts[perm]
    if ts.size < 2 or np.all(ts[1:] >= ts[:-1]):
        return
    ch = ch.copy()
    ch[:3] = [A, B, SYNC][: min(3, ch.size)]  # every channel present: the order error comes first
    calls = [
        lambda: pair_histogram(ts, ch, A, B, window_ps=window, bin_ps=width),
        lambda: pair_histogram(ts, ch, A, B, window_ps=window, bin_ps=width, n_threads=3),
        lambda: pair_histogram_log(ts, ch, A, B, edges_ps=np.array([-window, 0, window], np.int64)),
        lambda: tcspc_t2(ts, ch, bin_ps=width, n_bins=4),
        lambda: intensity_trace(ts, ch, bin_ps=width, start_ps=int(ts.min())),
    ]
    for call in calls:
        with pytest.raises(InvalidValueError, match="non-decreasing"):
            call()
    for cut in range(1, ts.size):
        acc = G2Accumulator(A, B, window_ps=window, bin_ps=width)
        with pytest.raises(InvalidValueError, match="non-decreasing"):
            acc.add(ts[:cut], ch[:cut])
            acc.add(ts[cut:], ch[cut:])


# -- through the store and on a real file ------------------------------------------------


def test_g2_from_store_streamed_equals_in_memory(tmp_path: Path) -> None:
    from qdcat.store import TimeTagStore

    rng = np.random.default_rng(3)
    n = 50_000
    ts = np.cumsum(rng.integers(0, 3_000, n)).astype(np.int64)
    ch = rng.choice(np.array([A, B, SYNC], np.uint8), n)
    store = TimeTagStore(str(tmp_path / "store"))
    with store.create_timetags("raw/g2", resolution_ps=1, chunk_events=997) as w:
        w.append(ts, ch)
        w.commit()
    reader = store.open_timetags("raw/g2")
    streamed = g2_from_reader(reader, A, B, 20_000, 100)
    whole = pair_histogram(ts, ch, A, B, window_ps=20_000, bin_ps=100)
    np.testing.assert_array_equal(streamed.counts, whole.counts)
    assert (streamed.n_a, streamed.n_b, streamed.duration_ps) == (whole.n_a, whole.n_b, whole.duration_ps)
    np.testing.assert_array_equal(streamed.g2, whole.g2)


def test_g2_from_reader_passes_on_read_errors_and_stops_reading() -> None:
    class Chunk:
        def __init__(self, t: int) -> None:
            self.timestamps_ps = np.array([t, t + 1], np.int64)
            self.channels = np.array([A, B], np.uint8)

    class Failing:
        def iter_chunks(self, **kwargs: object):  # type: ignore[no-untyped-def]
            yield Chunk(0)
            raise OSError("disk gone")

    class Unsorted:
        read = 0

        def iter_chunks(self, **kwargs: object):  # type: ignore[no-untyped-def]
            for t in (100, 0, *range(200, 10_000, 10)):
                self.read += 1
                yield Chunk(t)

    with pytest.raises(OSError, match="disk gone"):
        g2_from_reader(Failing(), A, B, 10, 5)
    src = Unsorted()
    with pytest.raises(InvalidValueError, match="between chunks"):
        g2_from_reader(src, A, B, 10, 5)
    assert src.read == 2  # stopped at the first chunk out of order


def test_real_picoharp_t2_file_matches_naive(shared_timetags: Path) -> None:
    from qdcat.ingest.ptu import open_ptu

    blocks = list(open_ptu(shared_timetags / "psd_picoharp_v30_t2.ptu").iter_blocks(block_records=100_000))
    ts = np.concatenate([b.timestamps_ps for b in blocks])
    ch = np.concatenate([b.channels for b in blocks])
    window, width = 100_000_000, 1_000_000  # ±100 µs: this file's rates are low
    acc = G2Accumulator(0, 1, window_ps=window, bin_ps=width)
    for blk in blocks:
        acc.add(blk.timestamps_ps, blk.channels)
    want = naive_g2(ts, ch, 0, 1, window, width)
    assert want.sum() > 1000
    np.testing.assert_array_equal(acc.result().counts, want)
    np.testing.assert_array_equal(
        pair_histogram(ts, ch, 0, 1, window_ps=window, bin_ps=width, n_threads=2).counts, want
    )
    tr = intensity_trace(ts, ch, bin_ps=10**10)
    for col, c in enumerate(tr.channels):
        np.testing.assert_array_equal(tr.counts[:, col], np.bincount(ts[ch == c] // 10**10))


def test_intensity_trace_two_core_path_equals_naive() -> None:
    """Chunks of >= 2^20 events are counted in two halves on two threads."""
    from qdcat.analysis.histograms import TRACE_PARALLEL_MIN_EVENTS, IntensityTraceAccumulator

    rng = np.random.default_rng(12)
    n = 3 * TRACE_PARALLEL_MIN_EVENTS + 17
    ts = np.cumsum(rng.exponential(2e6, n)).astype(np.int64)
    ts[n // 2] = ts[n // 2 - 1]  # a tie exactly at the split
    ch = rng.integers(0, 3, n).astype(np.uint8)
    bin_ps = 10_000_000_000
    tr = intensity_trace(ts, ch, bin_ps=bin_ps, channels_of_interest=(0, 2))
    for q, c in enumerate((0, 2)):
        ref = np.bincount(ts[ch == c] // bin_ps, minlength=tr.counts.shape[0])
        assert np.array_equal(tr.counts[:, q], ref)
    # a decrease exactly at the split is refused, and the accumulator keeps its state
    bad = ts.copy()
    bad[n // 2] = bad[n // 2 - 1] - 1
    acc = IntensityTraceAccumulator(bin_ps=bin_ps, channels=(0,))
    with pytest.raises(InvalidValueError, match=r"sorted|order|decreas"):
        acc.add(bad, ch)
    assert acc.result().counts.sum() == 0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 3000),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    symmetric=st.booleans(),
)
def test_log_binned_streaming_equals_in_memory(n: int, seed: int, cuts: list[int], symmetric: bool) -> None:
    from qdcat.analysis.histograms import G2LogAccumulator, log_delay_edges, pair_histogram_log

    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, 5_000_000, n)).astype(np.int64)  # ties and µs gaps
    ch = rng.integers(0, 3, n).astype(np.uint8)
    ch[0], ch[-1] = 0, 1
    edges = log_delay_edges(1_000, 200_000_000, 8, symmetric=symmetric)
    ref = pair_histogram_log(ts, ch, 0, 1, edges_ps=edges)
    acc = G2LogAccumulator(0, 1, edges_ps=edges)
    bounds = sorted({0, n, *[c % (n + 1) for c in cuts]})
    for lo, hi in itertools.pairwise(bounds):
        acc.add(ts[lo:hi], ch[lo:hi])
    got = acc.result()
    assert np.array_equal(got.counts, ref.counts)
    assert (got.n_a, got.n_b, got.duration_ps) == (ref.n_a, ref.n_b, ref.duration_ps)


def test_log_binned_streaming_from_a_store(tmp_path: Path) -> None:
    from qdcat.analysis.histograms import G2LogAccumulator, log_delay_edges, pair_histogram_log
    from qdcat.store import TimeTagStore

    rng = np.random.default_rng(3)
    n = 200_000
    ts = np.cumsum(rng.exponential(5e6, n)).astype(np.int64)
    ch = rng.integers(0, 2, n).astype(np.uint8)
    store = TimeTagStore(str(tmp_path / "s"))
    with store.create_timetags("raw/log", resolution_ps=1, chunk_events=7_001) as w:
        w.append(ts, ch)
        w.commit()
    edges = log_delay_edges(10_000, 10**11, 10)
    acc = G2LogAccumulator(0, 1, edges_ps=edges)
    for chunk in store.open_timetags("raw/log").iter_chunks(chunks_per_batch=2):
        acc.add(chunk.timestamps_ps, chunk.channels)
    assert np.array_equal(acc.result().counts, pair_histogram_log(ts, ch, 0, 1, edges_ps=edges).counts)
    # only the events within the edges' span (±0.1 s of a 1 s stream) are kept, not the stream
    span_ps = int(edges[-1] - edges[0])
    assert acc._buffer_b.shape[0] <= int(np.sum((ch == 1) & (ts >= ts[-1] - span_ps))) + 1
    assert acc._pending_a.shape[0] <= int(np.sum((ch == 0) & (ts >= ts[-1] - span_ps))) + 1
