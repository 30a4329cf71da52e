"""Kernels of the photon-correlation analyses: pair-delay (g2) histograms, TCSPC, intensity traces.

They trust their input (time-sorted int64 ps, uint8 channels, consistent sizes); the public
wrappers in :mod:`qdcat.analysis.histograms` validate everything before calling them.
Signatures give the types of the compiled body: an ``np.int64`` result reaches Python as an
``int`` (numba boxes it), so callers take ``int()`` of it where they keep it.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

I64Array = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _count_pair(
    hist: I64Array, c: np.uint8, cj: np.uint8, dd: np.int64, a: int, b: int, window: int, bin_w: int
) -> None:
    # dd = t_later - t_earlier in [0, W] (stream order). The delay t_b - t_a is +dd when the
    # later event is b and -dd when it is a; bins are half-open [-W + k*w, -W + (k+1)*w),
    # so +W itself is outside while -W is inside. Branch-free (the index is valid for any
    # dd in [0, W] and 0 is added for other pairs): the channel pattern is random, so
    # branches on it mispredict half the time (~12% faster at 200 kcps, more at high rates).
    later_b = (c == b) & (cj == a) & (dd < window)
    later_a = (c == a) & (cj == b)
    delay = dd if later_b else -dd
    # delay + window lies in [0, 2W] and the wrappers keep W < 2^31: a 32-bit unsigned
    # division is several times cheaper than a 64-bit one (~1.15x overall at 200 kcps).
    hist[np.uint32(delay + window) // np.uint32(bin_w)] += np.int64(later_a | later_b)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _pairs_with_carry(
    carry_t: I64Array,
    carry_c: U8Array,
    ts: I64Array,
    ch: U8Array,
    a: int,
    b: int,
    window: int,
    bin_w: int,
    hist: I64Array,
) -> int:
    # Pairs of (carry event, chunk event): only the first chunk events, within the window of
    # the carry's last one, can have any. Kept out of g2_linear's hot loop, which any extra
    # condition slows down by ~1/4. Returns 1 if the chunk starts before the carry ends.
    nc = carry_t.shape[0]
    if nc == 0:
        return 0
    last = carry_t[nc - 1]
    i = 0
    while i < ts.shape[0] and ts[i] - last <= window:
        t = ts[i]
        if t < last:
            return 1  # unsorted: stop before a negative delay can index out of range
        c = ch[i]
        k = nc - 1
        # 0 <= guards an unsorted carry (a parallel part's carry is checked by its neighbour
        # only concurrently); it costs nothing here, off the hot loop.
        while k >= 0 and 0 <= t - carry_t[k] <= window:
            _count_pair(hist, c, carry_c[k], t - carry_t[k], a, b, window, bin_w)
            k -= 1
        i += 1
    return 0


# error_model="numpy": no ZeroDivisionError check on `//` (the wrappers validate bin_w > 0).
@numba.njit(cache=True, nogil=True, error_model="numpy")
def g2_linear(
    carry_t: I64Array,
    carry_c: U8Array,
    ts: I64Array,
    ch: U8Array,
    a: int,
    b: int,
    window: int,
    bin_w: int,
    hist: I64Array,
) -> int:
    """Add every (a, b) pair whose later event lies in ``ts`` to ``hist``; return 1 if ``ts`` decreases.

    Each event looks back over the merged stream only while the earlier event is within
    ``window`` ps, so the cost is one comparison per event plus one per pair: the stream is
    walked once and no per-channel arrays are built. ``carry_t/carry_c`` are the events just
    before ``ts`` (at least the last ``window`` ps of them, sorted) and are only looked back
    into, never counted as later events — that is what lets chunks and parallel parts each
    count a straddling pair exactly once. Stops at the first decrease of ``ts``.
    """
    if _pairs_with_carry(carry_t, carry_c, ts, ch, a, b, window, bin_w, hist):
        return 1
    # Starting the loop at the constant 1 lets LLVM drop numba's negative-index check on
    # ts[i - 1] (~1.3x faster than a variable start).
    for i in range(1, ts.shape[0]):
        t = ts[i]
        d = t - ts[i - 1]
        # The hot path: no earlier event within the window, one well-predicted branch. A
        # decrease also lands here (d < 0), so the order check costs nothing.
        if d <= window:
            if d < 0:
                return 1  # unsorted: stop before a negative delay can index out of range
            c = ch[i]
            # The previous event is within the window: count it without entering a loop.
            # Peeling this one iteration saves the loop-exit misprediction that almost
            # every close event paid (~1.2x at 200 kcps, bit-identical).
            _count_pair(hist, c, ch[i - 1], d, a, b, window, bin_w)
            j = i - 2
            while j >= 0 and t - ts[j] <= window:  # rarely: two or more within W
                _count_pair(hist, c, ch[j], t - ts[j], a, b, window, bin_w)
                j -= 1
    return 0


@numba.njit(cache=True, nogil=True)
def count_two(ch: U8Array, a: int, b: int) -> tuple[np.int64, np.int64]:
    """Events of channels a and b: a separate pass because it vectorises (~10 G events/s)."""
    n_a = np.int64(0)
    n_b = np.int64(0)
    for i in range(ch.shape[0]):
        c = ch[i]
        n_a += np.int64(c == a)
        n_b += np.int64(c == b)
    return n_a, n_b


@numba.njit(cache=True, nogil=True)
def g2_log(ta: I64Array, tb: I64Array, edges: I64Array, hist: I64Array) -> None:
    """Add to ``hist[k]`` the pairs with ``edges[k] <= t_b - t_a < edges[k+1]``.

    One pointer per edge into ``tb`` (the first b event at or after ``t_a + edge``); all
    pointers only move forward as ``t_a`` grows, so the cost is O((N_a + N_b) x edges)
    whatever the number of pairs — at second-scale delays there are far too many pairs
    to enumerate.
    """
    m = edges.shape[0]
    nb = tb.shape[0]
    ptr = np.zeros(m, dtype=np.int64)
    for i in range(ta.shape[0]):
        t = ta[i]
        for k in range(m):
            p = ptr[k]
            lim = t + edges[k]
            while p < nb and tb[p] < lim:
                p += 1
            ptr[k] = p
        for k in range(m - 1):
            hist[k] += ptr[k + 1] - ptr[k]


@numba.njit(cache=True, nogil=True)
def split_channels(
    ts: I64Array, ch: U8Array, a: int, b: int, out_a: I64Array, out_b: I64Array
) -> tuple[int, int]:
    """Copy the timestamps of channels a and b into ``out_a``/``out_b``; return their counts."""
    na = 0
    nb = 0
    for i in range(ts.shape[0]):
        c = ch[i]
        if c == a:
            out_a[na] = ts[i]
            na += 1
        elif c == b:
            out_b[nb] = ts[i]
            nb += 1
    return na, nb


@numba.njit(cache=True, nogil=True)
def channel_span(ts: I64Array, ch: U8Array, c: int) -> tuple[np.int64, np.int64]:
    """(first, last) timestamp of channel ``c``, or (-1, -1) if absent; scans from both ends."""
    n = ts.shape[0]
    first = np.int64(-1)
    last = np.int64(-1)
    for i in range(n):
        if ch[i] == c:
            first = ts[i]
            break
    for i in range(n - 1, -1, -1):
        if ch[i] == c:
            last = ts[i]
            break
    return first, last


@numba.njit(cache=True, nogil=True)
def tcspc_t2(
    ts: I64Array, ch: U8Array, sync: int, last_sync: int, bin_w: int, n_bins: int, hist: I64Array
) -> tuple[int, int]:
    """Histogram per detector channel (``hist`` shape (64, n_bins)) of t - previous sync.

    ``last_sync`` is the last sync time of the previous chunk (-1: none yet); photons
    before the first sync have no reference and are skipped. Returns the new last sync
    and the number of decreasing steps (must be 0).
    """
    n_bad = 0
    prev = np.int64(-1) if ts.shape[0] == 0 else ts[0]
    limit = bin_w * n_bins
    for i in range(ts.shape[0]):
        t = ts[i]
        c = ch[i]
        n_bad += t < prev
        prev = t
        if c == sync:
            last_sync = t
        elif c < 64 and last_sync >= 0:
            d = t - last_sync
            if 0 <= d < limit:  # d < 0 only on unsorted input, refused by the caller
                hist[c, d // bin_w] += 1
    return last_sync, n_bad


@numba.njit(cache=True, nogil=True)
def tcspc_t3(ch: U8Array, nanotimes: npt.NDArray[np.unsignedinteger], hist: I64Array) -> None:
    """Count T3 nanotimes per detector channel into ``hist`` (64, n_bins); larger ones are skipped."""
    n_bins = hist.shape[1]
    for i in range(ch.shape[0]):
        c = ch[i]
        nt = nanotimes[i]
        if c < 64 and nt < n_bins:
            hist[c, nt] += 1


@numba.njit(cache=True, nogil=True)
def _n_decreases(ts: I64Array) -> np.int64:
    n_bad = np.int64(0)
    for m in range(1, ts.shape[0]):
        n_bad += np.int64(ts[m] < ts[m - 1])
    return n_bad


@numba.njit(cache=True, nogil=True)
def _first_at_or_after(ts: I64Array, lo: int, x: int) -> int:
    # Galloping then bisection: a bin holds thousands of events, a linear scan of the
    # timestamps would cost more than counting the channels.
    n = ts.shape[0]
    step = 1
    hi = lo
    while hi < n and ts[hi] < x:
        lo = hi + 1
        hi = lo + step
        step *= 2
    hi = min(hi, n)
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def _count_equal(ch: U8Array, lo: int, hi: int, c: int) -> np.int32:
    # int32 lanes over uint8 compares vectorise (~20 G events/s); a scatter `counts[ch] += 1`
    # serialises on the store-to-load dependency of one hot counter.
    s = np.int32(0)
    cc = np.uint8(c)
    for m in range(lo, hi):
        s += np.int32(ch[m] == cc)
    return s


@numba.njit(cache=True, nogil=True)
def intensity_trace(
    ts: I64Array, ch: U8Array, chans: I64Array, start: int, bin_w: int, counts: I64Array
) -> np.int64:
    """Add to ``counts[k, q]`` (n_bins, len(chans)) the events of channel ``chans[q]`` in bin k.

    Bin k is ``[start + k*bin_w, start + (k+1)*bin_w)``; events before ``start`` or beyond
    the last bin are skipped. Each bin's end is found by search and its channels counted
    by vectorised compares. Returns the number of decreasing steps (must be 0; the counts
    are then meaningless but no write leaves ``counts``).
    """
    n = ts.shape[0]
    n_bins = counts.shape[0]
    n_bad = _n_decreases(ts)
    i = _first_at_or_after(ts, 0, start)
    while i < n:
        k = (ts[i] - start) // bin_w
        if k < 0:  # only after a decrease
            i += 1
            continue
        if k >= n_bins:
            break
        hi = max(i + 1, _first_at_or_after(ts, i, start + (k + 1) * bin_w))
        for q in range(chans.shape[0]):
            counts[k, q] += _count_equal(ch, i, hi, chans[q])
        i = hi
    return n_bad
