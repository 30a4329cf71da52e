"""Benchmark ingest of a large PTU file against ptufile's decode alone, in one run.

    python scripts/bench_ingest.py                     # 5·10^7 events, 3 repeats
    python scripts/bench_ingest.py --events 200000000

A HydraHarp-v2 T2 PTU with two detectors at --rate-cps each is written once
(qdcat's PTU writer), then per repeat:

* ptufile:       ``PtuFile(path).decode_records()`` — decode only, the whole
                 file into memory (the peer a lab would otherwise use);
* qdcat decode:  ``open_ptu(path).iter_blocks()`` — our decode only, bounded memory;
* qdcat ingest:  the full path into a fresh embedded catalog: SHA-256 of the
                 file, decode, channel checks, compression into the zarr store,
                 checksum of the stored arrays, catalog rows.

Medians over repeats and ratios against ptufile are printed. The machine is
shared: quote ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qdcat.catalog.api import init_catalog
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu import open_ptu
from qdcat.ingest.ptu_write import write_ptu_t2


def make_file(path: Path, n: int, rate_cps: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    block = 1 << 22
    state = {"t0": 0}

    def blocks():  # type: ignore[no-untyped-def]
        for a in range(0, n, block):
            m = min(block, n - a)
            t = state["t0"] + np.cumsum(rng.exponential(1e12 / (2 * rate_cps), m)).astype(np.int64)
            state["t0"] = int(t[-1])
            yield t, rng.integers(0, 2, m).astype(np.uint8)

    write_ptu_t2(path, blocks(), acquisition_s=n / (2 * rate_cps))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--rate-cps", type=float, default=200e3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    logging.getLogger("ptufile").setLevel(logging.CRITICAL)
    import ptufile

    scratch = Path(tempfile.mkdtemp(prefix="qdcat-bench-ingest-", dir=args.dir))
    try:
        ptu = scratch / "big.ptu"
        make_file(ptu, args.events, args.rate_cps)
        n = args.events
        print(f"# {n:.3g} events in {ptu.stat().st_size / 1e6:.0f} MB, {args.repeats} repeats")
        times: dict[str, list[float]] = {"ptufile decode": [], "qdcat decode": [], "qdcat ingest": []}
        for r in range(args.repeats):
            t0 = time.perf_counter()
            with ptufile.PtuFile(ptu) as f:
                rec = f.decode_records()
            times["ptufile decode"].append(time.perf_counter() - t0)
            assert int((rec["channel"] >= 0).sum()) == n
            del rec

            t0 = time.perf_counter()
            got = sum(len(b) for b in open_ptu(ptu).iter_blocks())
            times["qdcat decode"].append(time.perf_counter() - t0)
            assert got == n

            home = scratch / f"cat{r}"
            cat = init_catalog(home)
            cat.add_sample("S", "InP/ZnSe")
            cat.add_specimen("sp", "S")
            cat.add_dot("sp", "d", 0, 0)
            cat.add_setup("hbt", channels={0: "hbt_a", 1: "hbt_b"})
            t0 = time.perf_counter()
            out = ingest_file(cat, IngestItem(ptu, "g2_cw", "sp", dot="d", setup="hbt"))
            times["qdcat ingest"].append(time.perf_counter() - t0)
            assert out.status == "ingested" and out.events == n
            stored = cat.raw_asset(out.measurement_id)["stored_bytes"]
            cat.close()
            shutil.rmtree(home)
        ref = statistics.median(times["ptufile decode"])
        print(f"{'':16} {'Mevents/s':>10} {'vs ptufile':>11}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:16} {n / med / 1e6:10.1f} {ref / med:10.2f}x")
        print(f"stored: {stored / n:.2f} bytes/event (file: {ptu.stat().st_size / n:.2f} bytes/event)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
