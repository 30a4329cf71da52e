"""Benchmark the pair-delay (g2), TCSPC and intensity-trace kernels, with peers, in one run.

    python scripts/bench_g2.py                        # 10^8 events, 3 repeats
    python scripts/bench_g2.py --events 10000000      # quicker
    PYTHONPATH=/work/main /tmp/bench-peers/bin/python scripts/bench_g2.py   # with tangy/tttrlib

Synthetic T2 data: two detectors at --rate-cps each (independent Poisson, merged and
time-sorted as a time tagger delivers them), generated chunk-wise. Reported: medians over
repeats of M events/s for qdcat's look-back kernel (1 and 2 threads, through the public
validating wrapper), a plain numba two-pointer correlator written here, and the peers
``tangy`` and ``tttrlib`` when importable (each skipped with the reason otherwise); speed
against count rate and window; TCSPC and trace throughput; the streamed g2 of a TimeTagStore
against merely reading the same chunks, and the peak RSS of the streamed run. The machine is
shared: read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

from qdcat._kernels.simulate import merge_sorted
from qdcat.analysis.histograms import (
    g2_from_reader,
    intensity_trace,
    pair_histogram,
    tcspc_t2,
    tcspc_t3,
)

GEN_CHUNK = 10_000_000


def synth(n: int, rate_cps: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two independent Poisson detectors merged = one Poisson stream at 2x rate, random channel."""
    rng = np.random.default_rng(seed)
    ts = np.empty(n, np.int64)
    ch = np.empty(n, np.uint8)
    t0 = 0.0
    for s in range(0, n, GEN_CHUNK):
        m = min(GEN_CHUNK, n - s)
        t = t0 + np.cumsum(rng.exponential(1e12 / (2 * rate_cps), m))
        ts[s : s + m] = t.astype(np.int64)
        ch[s : s + m] = rng.integers(0, 2, m, dtype=np.uint8)
        t0 = float(t[-1])
    return ts, ch


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- the plain reference: split the channels, then a two-pointer sweep -------------------


@numba.njit(cache=True, nogil=True)
def _split(ts, ch, out_a, out_b):  # type: ignore[no-untyped-def]
    na = 0
    nb = 0
    for i in range(ts.shape[0]):
        if ch[i] == 0:
            out_a[na] = ts[i]
            na += 1
        elif ch[i] == 1:
            out_b[nb] = ts[i]
            nb += 1
    return na, nb


@numba.njit(cache=True, nogil=True)
def _two_pointer(ta, tb, window, bin_w, hist):  # type: ignore[no-untyped-def]
    lo = 0
    nb = tb.shape[0]
    for i in range(ta.shape[0]):
        t = ta[i]
        while lo < nb and tb[lo] < t - window:
            lo += 1
        j = lo
        while j < nb and tb[j] < t + window:
            hist[(tb[j] - t + window) // bin_w] += 1
            j += 1


def two_pointer_reference(ts: np.ndarray, ch: np.ndarray, window: int, bin_w: int) -> np.ndarray:
    ta = np.empty(ts.shape[0], np.int64)
    tb = np.empty(ts.shape[0], np.int64)
    na, nb = _split(ts, ch, ta, tb)
    hist = np.zeros(2 * window // bin_w, np.int64)
    _two_pointer(ta[:na], tb[:nb], window, bin_w, hist)
    return hist


# -- peers -------------------------------------------------------------------------------


_PEER_PRELUDE = """
import statistics, sys, time
import numpy as np
ts = np.load(sys.argv[1] + "/ts.npy")
ch = np.load(sys.argv[1] + "/ch.npy")
window, bin_w, repeats = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def median_time(fn):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
"""

_TANGY = """
import tangy
buf = tangy.TangyBuffer(f"qdcat_bench_{time.time_ns()}", 1e-12, 1.0, 2, ts.shape[0] + 16)
t0 = time.perf_counter()
buf.push(ch, ts.astype(np.uint64))
push = time.perf_counter() - t0
span = buf.time_in_buffer()
run = lambda: buf.relative_delay(0, 1, span, resolution=bin_w * 1e-12, window=window * 1e-12)
dt = median_time(run)
pairs = int(np.asarray(run().intensities).sum())
note = f"relative_delay; push {ts.shape[0] / push / 1e6:.0f} M/s; {pairs} pairs"
print("RESULT", ts.shape[0] / dt, note, flush=True)
# tangy 0.9.2 segfaults in TangyBuffer.close() and at exit: the result is already printed.
"""

_TTTRLIB = """
import tttrlib
ta, tb = ts[ch == 0].astype(np.uint64), ts[ch == 1].astype(np.uint64)
wa, wb = np.ones(ta.shape[0]), np.ones(tb.shape[0])
def run():
    # Multi-tau (10 bins per cascade, lags up to ~window): not the same histogram, the closest
    # operation tttrlib has. (set_macrotimes + set_weights crashes it; set_events works.)
    c = tttrlib.Correlator(method="wahl", n_bins=10, n_casc=int(np.ceil(np.log2(window / 10))) + 1)
    c.set_events(ta, wa, tb, wb)
    return c.correlation
dt = median_time(run)
print("RESULT", ts.shape[0] / dt, "multi-tau 'wahl' up to ~W, not bit-comparable", flush=True)
"""


def bench_peer(
    name: str, code: str, ts: np.ndarray, ch: np.ndarray, window: int, bin_w: int, repeats: int
) -> str:
    """Run a peer in a child process: an import failure or a crash in it cannot take the benchmark down."""
    try:
        __import__(name)
    except ImportError as exc:
        return f"skipped: {name} not importable here ({exc}); install it in a separate venv (see docstring)"
    with tempfile.TemporaryDirectory(prefix="qdcat-bench-peer-") as tmp:
        np.save(f"{tmp}/ts.npy", ts)
        np.save(f"{tmp}/ch.npy", ch)
        args = [tmp, str(window), str(bin_w), str(repeats)]
        out = subprocess.run(
            [sys.executable, "-c", _PEER_PRELUDE + code, *args], capture_output=True, text=True, check=False
        )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            _, rate, note = line.split(" ", 2)
            return f"{float(rate) / 1e6:8.1f} M events/s ({note})"
    return f"skipped: {name} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}"


# -- store round trip --------------------------------------------------------------------

_STREAM_CHILD = """
import sys, time
import numpy as np
from qdcat.store import TimeTagStore
from qdcat.analysis.histograms import G2Accumulator, g2_from_reader
acc = G2Accumulator(0, 1, window_ps=2, bin_ps=1)  # load the compiled kernels before timing
acc.add(np.arange(4, dtype=np.int64), np.array([0, 1, 0, 1], np.uint8))
r = TimeTagStore(sys.argv[1], read_only=True).open_timetags("raw/bench")
t0 = time.perf_counter()
h = g2_from_reader(r, 0, 1, int(sys.argv[2]), int(sys.argv[3]))
dt = time.perf_counter() - t0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(dt, int(h.counts.sum()), hwm)
"""


def bench_store(ts: np.ndarray, ch: np.ndarray, window: int, bin_w: int, repeats: int) -> None:
    from qdcat.store import TimeTagStore

    root = Path(tempfile.mkdtemp(prefix="qdcat-bench-g2-"))
    try:
        store = TimeTagStore(str(root))
        t0 = time.perf_counter()
        with store.create_timetags("raw/bench", resolution_ps=1) as w:
            for s in range(0, ts.shape[0], GEN_CHUNK):
                w.append(ts[s : s + GEN_CHUNK], ch[s : s + GEN_CHUNK])
            w.commit()
        print(f"  wrote {ts.shape[0]:.2e} events to a TimeTagStore in {time.perf_counter() - t0:.1f} s")
        reader = store.open_timetags("raw/bench")

        def read_only() -> None:
            for _ in reader.iter_chunks(fields=("timestamps_ps", "channels")):
                pass

        t_read = median_time(read_only, repeats)
        t_g2 = median_time(lambda: g2_from_reader(reader, 0, 1, window, bin_w), repeats)
        n = ts.shape[0]
        print(f"  read chunks only      {n / t_read / 1e6:8.1f} M events/s")
        print(
            f"  streamed g2 from store {n / t_g2 / 1e6:7.1f} M events/s   "
            f"ratio read time / g2 time = {t_read / t_g2:.2f}"
        )
        out = subprocess.run(
            [sys.executable, "-c", _STREAM_CHILD, str(root), str(window), str(bin_w)],
            capture_output=True,
            text=True,
            check=True,
        )
        dt, pairs, rss_kib = out.stdout.split()
        print(
            f"  streamed g2 in a fresh process: {n / float(dt) / 1e6:.1f} M events/s, {pairs} pairs, "
            f"peak RSS {int(rss_kib) / 1024:.0f} MiB (the arrays themselves are {n * 9 / 2**20:.0f} MiB)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=100_000_000)
    p.add_argument("--rate-cps", type=float, default=200e3, help="per detector")
    p.add_argument("--window-ps", type=int, default=200_000)
    p.add_argument("--bins", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peer-events", type=int, default=20_000_000, help="events given to the peers")
    p.add_argument("--no-store", action="store_true")
    args = p.parse_args()
    n, w = args.events, args.window_ps
    bw = 2 * w // args.bins
    if 2 * w % args.bins:
        sys.exit("--window-ps must make 2*W divisible by --bins")
    print(
        f"numba {numba.__version__}, numpy {np.__version__}; {n:.2e} events, {args.rate_cps:.0f} cps/detector"
    )
    ts, ch = synth(n, args.rate_cps)
    print(f"g2: ±{w / 1000:.0f} ns, {args.bins} bins of {bw} ps; medians of {args.repeats}")

    want = two_pointer_reference(ts, ch, w, bw)
    results: dict[str, float] = {}
    for label, fn in [
        ("qdcat look-back, 1 thread", lambda: pair_histogram(ts, ch, 0, 1, window_ps=w, bin_ps=bw)),
        (
            "qdcat look-back, 2 threads",
            lambda: pair_histogram(ts, ch, 0, 1, window_ps=w, bin_ps=bw, n_threads=2),
        ),
        ("numba two-pointer reference", lambda: two_pointer_reference(ts, ch, w, bw)),
    ]:
        results[label] = n / median_time(fn, args.repeats) / 1e6
        print(f"  {label:30s} {results[label]:8.1f} M events/s")
    assert np.array_equal(pair_histogram(ts, ch, 0, 1, window_ps=w, bin_ps=bw).counts, want)
    one, two = results["qdcat look-back, 1 thread"], results["qdcat look-back, 2 threads"]
    print(
        f"  2-thread speed-up {two / one:.2f}x; "
        f"1 thread vs two-pointer {one / results['numba two-pointer reference']:.2f}x"
    )

    m = min(n, args.peer_events)
    qd_m = m / median_time(lambda: pair_histogram(ts[:m], ch[:m], 0, 1, window_ps=w, bin_ps=bw), args.repeats)
    print(f"peers on the first {m:.1e} events (qdcat 1 thread on the same: {qd_m / 1e6:.1f} M events/s):")
    for name, res in [
        ("tangy", bench_peer("tangy", _TANGY, ts[:m], ch[:m], w, bw, args.repeats)),
        ("tttrlib", bench_peer("tttrlib", _TTTRLIB, ts[:m], ch[:m], w, bw, args.repeats)),
    ]:
        if res.startswith("skipped"):
            print(f"  {name:8s} {res}")
        else:
            rate = float(res.split()[0]) * 1e6
            print(f"  {name:8s} {res}; qdcat/{name} = {qd_m / rate:.1f}x")

    k = min(n, 10_000_000)
    print(f"speed against count rate and window ({k:.0e} events, 1 thread):")
    for rate, win in [(50e3, w), (200e3, w), (1e6, w), (5e6, w), (200e3, 1_000_000), (200e3, 10_000_000)]:
        t, c = synth(k, rate, seed=1)
        b = 2 * win // args.bins
        dt = median_time(
            lambda t=t, c=c, win=win, b=b: pair_histogram(t, c, 0, 1, window_ps=win, bin_ps=b), 3
        )
        pairs = pair_histogram(t, c, 0, 1, window_ps=win, bin_ps=b).counts.sum() / k
        print(
            f"  {rate / 1e3:7.0f} kcps  ±{win / 1000:6.0f} ns  {pairs:8.3f} pairs/event  "
            f"{k / dt / 1e6:8.1f} M events/s"
        )

    # TCSPC: 10 MHz sync recorded as events (T2), the photons of the two detectors in between;
    # 10^6 photons already come with 2.5·10^7 syncs at 200 kcps per detector.
    sync_ps = 100_000
    kp = min(k, 1_000_000)
    n_sync = max(1, int(ts[kp - 1] // sync_ps))
    sync = np.arange(n_sync, dtype=np.int64) * sync_ps
    tt = np.empty(kp + n_sync, np.int64)
    cc = np.empty(kp + n_sync, np.uint8)
    merge_sorted(sync, np.full(n_sync, 64, np.uint8), ts[:kp], ch[:kp], tt, cc)
    dt = median_time(lambda: tcspc_t2(tt, cc, bin_ps=16, n_bins=sync_ps // 16), args.repeats)
    print(
        f"TCSPC T2 (10 MHz sync as events): {tt.shape[0] / dt / 1e6:.0f} M events/s "
        f"= {kp / dt / 1e6:.0f} M photons/s"
    )
    nano = np.random.default_rng(2).integers(0, 4096, k).astype(np.uint16)
    dt = median_time(lambda: tcspc_t3(ch[:k], nano, nanotime_resolution_ps=16.0, n_bins=4096), args.repeats)
    print(f"TCSPC T3 nanotimes: {k / dt / 1e6:.0f} M photons/s")
    dt = median_time(
        lambda: intensity_trace(ts, ch, bin_ps=10_000_000_000, channels_of_interest=(0, 1)), args.repeats
    )
    print(f"intensity trace (10 ms bins, 2 channels): {n / dt / 1e6:.0f} M events/s")

    if not args.no_store:
        print("streamed from a TimeTagStore:")
        bench_store(ts, ch, w, bw, args.repeats)


if __name__ == "__main__":
    main()
