"""Peak memory and speed of a streamed g2 over a large stored acquisition (default 10^9 events).

    python scripts/bench_stream_1e9.py                  # 10^9 events: ~3 GB of store, a few minutes
    python scripts/bench_stream_1e9.py --events 100000000

Writes synthetic T2 events (two detectors at 200 kcps) into a TimeTagStore block by block
(never holding the acquisition in memory), then streams a ±200 ns / 1000-bin g2 over it in a
fresh process and reports that process's peak RSS (VmHWM) against the size of the raw arrays.
The issue's bound: under 1 GB for 10^9 events.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qdcat.store import TimeTagStore

_CHILD = """
import sys, time
from qdcat.store import TimeTagStore
from qdcat.analysis.histograms import g2_from_reader
r = TimeTagStore(sys.argv[1], read_only=True).open_timetags("raw/big")
t0 = time.perf_counter()
h = g2_from_reader(r, 0, 1, 200_000, 400)
dt = time.perf_counter() - t0
with open("/proc/self/status") as fh:
    hwm_kib = [int(x.split()[1]) for x in fh if x.startswith("VmHWM")][0]
print(dt, int(h.counts.sum()), h.n_a + h.n_b, hwm_kib)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qdcat-1e9-", dir=args.dir))
    try:
        store = TimeTagStore(str(root))
        rng = np.random.default_rng(0)
        block = 1 << 23
        t_last = 0
        t0 = time.perf_counter()
        with store.create_timetags("raw/big", resolution_ps=1) as w:
            for a in range(0, args.events, block):
                m = min(block, args.events - a)
                t = t_last + np.cumsum(rng.exponential(2.5e6, m)).astype(np.int64)
                t_last = int(t[-1])
                w.append(t, rng.integers(0, 2, m).astype(np.uint8))
            s = w.commit()
        print(
            f"wrote {s.event_count:.3g} events ({s.stored_bytes / 1e9:.2f} GB, "
            f"{s.stored_bytes / s.event_count:.2f} B/event) in {time.perf_counter() - t0:.0f} s"
        )
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root)], capture_output=True, text=True, check=True
        )
        dt, pairs, events, hwm_kib = out.stdout.split()
        raw_gib = int(events) * 9 / 2**30
        print(
            f"streamed g2: {int(events) / float(dt) / 1e6:.0f} M events/s, {int(pairs)} pairs, "
            f"peak RSS {int(hwm_kib) / 2**20:.2f} GiB (raw arrays: {raw_gib:.1f} GiB)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
