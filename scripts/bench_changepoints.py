"""Benchmark photon-by-photon change points: the numba path against the numpy reference, and memory.

    python scripts/bench_changepoints.py                         # 10^7 photons, ~10^3 switches, 3 repeats
    python scripts/bench_changepoints.py --photons 1000000 --repeats 1   # quicker

Synthetic stream: a dot jumping between 2, 10 and 40 kcps after exponential dwells (mean
chosen for ~``--switches`` switches), photons of each dwell an exact Poisson draw, int64 ps.
Reported, medians over repeats: photons/s of ``find_change_points`` on the whole stream (one
core), of the same through ``change_points_from_chunks`` in chunks of ``--chunk`` (checked
identical), and, on the first ``--ref-photons`` photons, of the plain numpy implementation
of the same algorithm in tests/analysis/test_changepoints.py against the numba path on the
same photons (checked identical), with their ratio per photon. Memory: fresh processes
stream 2 chunks, ``--photons`` and 3x ``--photons`` photons generated chunk by chunk (never
held whole), and ``--photons`` in chunks 4x smaller, and report the traced peak
(tracemalloc) and the peak RSS; bounded memory means they stay flat as the stream grows
and follow the chunk size. The machine is shared: read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the numpy reference lives with the tests

from qdcat.analysis.changepoints import (  # noqa: E402
    ChangePoints,
    change_points_from_chunks,
    find_change_points,
)

LEVELS_CPS = (2e3, 1e4, 4e4)


def stream_chunks(n_photons: int, switches: int, chunk: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The synthetic stream, ``chunk`` photons at a time (memory: one chunk plus one dwell)."""
    rng = np.random.default_rng(seed)
    mean_rate = float(np.mean(LEVELS_CPS))
    dwell_s = n_photons / mean_rate / max(switches, 1)
    state = 0
    t = 0.0
    left = n_photons
    pending: list[np.ndarray] = []
    held = 0
    while left > 0:
        d = rng.exponential(dwell_s)
        n = min(int(rng.poisson(LEVELS_CPS[state] * d)), left)
        pending.append(np.round((t + np.sort(rng.uniform(0.0, d, n))) * 1e12).astype(np.int64))
        held += n
        left -= n
        t += d
        state = (state + 1 + int(rng.integers(len(LEVELS_CPS) - 1))) % len(LEVELS_CPS)
        while held >= chunk or (left == 0 and held):
            joined = np.concatenate(pending)
            yield joined[:chunk]
            rest = joined[chunk:]
            pending, held = ([rest] if rest.shape[0] else []), rest.shape[0]


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out = fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def same(a: ChangePoints, b: ChangePoints) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("indices", "ci_low_ps", "ci_high_ps", "segment_photons", "segment_starts_ps")
    )


def memory_child(n_photons: int, switches: int, chunk: int) -> None:
    """Run in a fresh process: stream the photons and print the peaks as JSON."""
    find_change_points(np.cumsum(np.ones(1000, np.int64)))  # compile before tracing
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    tracemalloc.start()
    t0 = time.perf_counter()
    cp = change_points_from_chunks(stream_chunks(n_photons, switches, chunk))
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"photons": n_photons, "traced_peak": peak, "rss_peak": rss, "rss_before": baseline,
                      "seconds": seconds, "change_points": cp.n_change_points}))  # fmt: skip


def memory_in_child(n_photons: int, switches: int, chunk: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--memory-child", str(n_photons), "--switches", str(switches)]
    out = subprocess.run([*cmd, "--chunk", str(chunk)], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photons", type=int, default=10_000_000)
    p.add_argument("--switches", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=1 << 20, help="photons per chunk when streaming")
    p.add_argument("--ref-photons", type=int, default=200_000, help="stream prefix for the numpy reference")
    p.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.switches, args.chunk)
        return

    from tests.analysis.test_changepoints import numpy_change_points

    ts = np.concatenate(list(stream_chunks(args.photons, args.switches, args.chunk)))
    span_s = (ts[-1] - ts[0]) / 1e12
    print(
        f"stream: {ts.shape[0]:,} photons over {span_s:.0f} s, ~{args.switches} switches, levels {LEVELS_CPS}"
    )

    t_whole, whole = median_time(lambda: find_change_points(ts), args.repeats)
    t_chunk, chunked = median_time(
        lambda: change_points_from_chunks(np.split(ts, np.arange(args.chunk, ts.shape[0], args.chunk))),
        args.repeats,
    )
    assert same(whole, chunked), "chunked and whole-array change points differ"
    print(f"numba, whole array:       {ts.shape[0] / t_whole / 1e6:7.2f} M photons/s  ({t_whole:.2f} s, "
          f"{whole.n_change_points} change points)")  # fmt: skip
    rate = ts.shape[0] / t_chunk / 1e6
    print(f"numba, chunks of {args.chunk:>8,}: {rate:7.2f} M photons/s  (identical result)")

    prefix = ts[: args.ref_photons]
    t_kernel, small = median_time(lambda: find_change_points(prefix), max(args.repeats, 3))
    t_ref, ref = median_time(lambda: numpy_change_points(prefix), max(1, min(args.repeats, 3)))
    assert np.array_equal(ref[0], small.indices), "numpy reference and numba path differ"
    k_rate, r_rate = prefix.shape[0] / t_kernel, prefix.shape[0] / t_ref
    print(f"on the first {prefix.shape[0]:,} photons ({small.n_change_points} change points, identical):")
    print(f"  numba path       {k_rate / 1e6:9.3f} M photons/s")
    print(f"  numpy reference  {r_rate / 1e6:9.3f} M photons/s")
    print(f"  ratio per photon {k_rate / r_rate:9.1f}x")

    print("memory, streamed chunk by chunk from a generator (fresh processes; traced = numpy arrays,")
    print("including the generator's own chunk; RSS includes ~250 MiB of numba/LLVM before any photon):")
    runs = [(n, args.chunk) for n in sorted({2 * args.chunk, args.photons, 3 * args.photons})]
    runs.append((args.photons, args.chunk // 4))
    for n, chunk in runs:
        m = memory_in_child(n, max(1, args.switches * n // args.photons), chunk)
        mib = {k: m[k] / 2**20 for k in ("traced_peak", "rss_before", "rss_peak")}
        print(f"  {n:>12,} photons in chunks of {chunk:>9,}: traced peak {mib['traced_peak']:6.1f} MiB, "
              f"RSS {mib['rss_before']:4.0f} -> {mib['rss_peak']:4.0f} MiB, "
              f"{n / m['seconds'] / 1e6:5.1f} M photons/s (whole: {n * 8 / 2**20:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
