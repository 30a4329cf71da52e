"""Benchmark the zarr time-tag store against plain .npy files, in one run.

    python scripts/bench_store.py                      # 2·10^7 events, 3 repeats
    python scripts/bench_store.py --events 100000000   # the 10^8 figures in the notes

Synthetic T2 data: two detectors at --rate-cps each (Poisson), 1 ps resolution,
merged and time-sorted as a time tagger delivers them. For each repeat the
same arrays are written and read back through

* qdcat: ``TimeTagStore`` (delta + bitshuffle + lz4, streamed chunk by chunk,
  checksummed, exact round trip checked);
* npy:   ``np.save`` / ``np.load`` of the same two arrays (no compression).

Reported: medians over repeats of events/s, ratios qdcat/npy, bytes per event,
and a table of alternative codec settings measured on a subset (how the
default was chosen). Reads are from the page cache for both (no cache drop).
The machine is shared: read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qdcat.store import TimeTagStore
from qdcat.store.timetags import CodecProfile


def synth(n: int, rate_cps: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gaps_ps = rng.exponential(1e12 / (2 * rate_cps), n)
    t = np.cumsum(gaps_ps).astype(np.int64)
    ch = rng.integers(0, 2, n).astype(np.uint8)
    return t, ch


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_qdcat(root: Path, t: np.ndarray, ch: np.ndarray, i: int, codecs: CodecProfile | None = None):
    store = TimeTagStore(str(root))
    key = f"raw/bench{i}"
    block = 1 << 22  # the writer is fed in blocks, as an ingest would be
    t0 = time.perf_counter()
    kwargs = {"codecs": codecs} if codecs else {}
    with store.create_timetags(key, resolution_ps=1, **kwargs) as w:
        for a in range(0, t.size, block):
            w.append(t[a : a + block], ch[a : a + block])
        summary = w.commit()
    t_write = time.perf_counter() - t0
    r = store.open_timetags(key)
    t0 = time.perf_counter()
    n = 0
    ok = True
    for c in r.iter_chunks():
        k = len(c)
        ok &= bool(np.array_equal(c.timestamps_ps, t[c.start : c.start + k]))
        n += k
    t_read_check = time.perf_counter() - t0
    t0 = time.perf_counter()
    n2 = sum(len(c) for c in r.iter_chunks())
    t_read = time.perf_counter() - t0
    assert ok and n == t.size == n2, "round trip not exact"
    return t_write, t_read, summary.stored_bytes, t_read_check


def bench_npy(root: Path, t: np.ndarray, ch: np.ndarray, i: int):
    d = root / f"npy{i}"
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    np.save(d / "t.npy", t)
    np.save(d / "c.npy", ch)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    a = np.load(d / "t.npy")
    b = np.load(d / "c.npy")
    t_read = time.perf_counter() - t0
    assert a.size == t.size and b.size == ch.size
    return t_write, t_read, du(d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--rate-cps", type=float, default=200e3, help="counts/s per detector")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--no-codec-table", action="store_true")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="qdcat-bench-", dir=args.dir))
    try:
        print(
            f"# {args.events:.3g} events, {args.rate_cps:.3g} cps per detector, {args.repeats} repeats, "
            f"{os.cpu_count()} cores, scratch {scratch}"
        )
        t, ch = synth(args.events, args.rate_cps)
        n = t.size
        rows = {"qdcat": [], "npy": []}
        for i in range(args.repeats):
            qw, qr, qbytes, _ = bench_qdcat(scratch / "zarr", t, ch, i)
            nw, nr, nbytes = bench_npy(scratch, t, ch, i)
            rows["qdcat"].append((qw, qr))
            rows["npy"].append((nw, nr))
            shutil.rmtree(scratch / "zarr" / "raw" / f"bench{i}")
            shutil.rmtree(scratch / f"npy{i}")
        med = {
            k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v))
            for k, v in rows.items()
        }
        print(f"{'':8} {'write Mev/s':>12} {'read Mev/s':>12} {'bytes/event':>12}")
        for name, size in (("qdcat", qbytes), ("npy", nbytes)):
            w, r = med[name]
            print(f"{name:8} {n / w / 1e6:12.1f} {n / r / 1e6:12.1f} {size / n:12.3f}")
        print(
            f"ratio qdcat/npy: write speed {med['npy'][0] / med['qdcat'][0]:.2f}x, "
            f"read speed {med['npy'][1] / med['qdcat'][1]:.2f}x, size {qbytes / nbytes:.3f}x"
        )

        if not args.no_codec_table:
            m = min(n, 4_000_000)
            print(
                f"\n# codec choices on the first {m:.2g} events (median of {args.repeats}; default marked *)"
            )
            print(f"{'codec':34} {'bytes/event':>12} {'write Mev/s':>12} {'read Mev/s':>12}")
            default = CodecProfile()
            profiles = [
                CodecProfile(cname="zstd", clevel=1),
                CodecProfile(cname="zstd", clevel=3),
                CodecProfile(cname="zstd", clevel=5),
                CodecProfile(cname="lz4", clevel=5),
                default,
                CodecProfile(cname="lz4hc", clevel=5),
                CodecProfile(delta_timestamps=False),
            ]
            for j, prof in enumerate(profiles):
                res = [
                    bench_qdcat(scratch / f"codec{j}", t[:m], ch[:m], r, prof) for r in range(args.repeats)
                ]
                w = statistics.median(x[0] for x in res)
                rd = statistics.median(x[1] for x in res)
                name = f"{'delta+' if prof.delta_timestamps else ''}bitshuffle+{prof.cname}-{prof.clevel}"
                mark = "*" if prof == default else " "
                print(f"{mark}{name:33} {res[0][2] / m:12.3f} {m / w / 1e6:12.1f} {m / rd / 1e6:12.1f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
