"""Benchmark the levels analysis end to end (store → change points → levels → per-level photons → fits).

    python scripts/bench_levels.py                     # ~10^7 photons, 3 repeats
    python scripts/bench_levels.py --duration-s 10 --repeats 1   # quicker

A simulated A-type grey-state dot (pulsed T3, two detectors) is written as Photon-HDF5,
ingested into a fresh SQLite catalog, and analysed as jobs. Each repeat plans new runs (a
parameter nudged) so nothing is reused. Reported, medians over repeats: seconds and photons/s
of ``levels`` (three streamed passes over the photons: change points, delay range,
per-level photons and g2), beside its peers on the same acquisition in the same run:
``decay`` (one pass, TCSPC) and ``blinking`` (one pass, binned trace), with the ratio
per photon. The traced peak memory (tracemalloc) of one levels run says whether it
follows the chunk size rather than the acquisition. The machine is shared: read ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from qdcat import jobs
from qdcat.catalog.api import init_catalog
from qdcat.ingest.photon_hdf5 import write_photon_hdf5
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.simulate import MultiLevelParams, simulate_multilevel_t3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--detection", type=float, default=0.008, help="detections per pulse, bright state")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-levels-"))
    sim = simulate_multilevel_t3(
        MultiLevelParams.a_type(),
        duration_s=args.duration_s,
        seed=1,
        bright_detection_per_pulse=args.detection,
        background_cps=2000.0,
    )
    r = sim.records
    f = home / "dot.h5"
    write_photon_hdf5(
        f,
        timestamps_ps=r.sync_index * r.sync_period_ps,
        channels=r.channels,
        nanotimes=r.nanotime.astype(np.uint16),
        resolution_ps=float(r.sync_period_ps),
        nanotime_resolution_ps=float(r.resolution_ps),
        sync_rate_hz=1e12 / r.sync_period_ps,
        acquisition_s=r.duration_s,
        description="benchmark",
    )
    n = len(r)
    del sim, r
    cat = init_catalog(home / "catalog")
    cat.add_sample("S", "InP/ZnSe")
    cat.add_specimen("sp", "S")
    cat.add_dot("sp", "d", 0.0, 0.0)
    cat.add_setup("hbt", channels={0: "hbt_a", 1: "hbt_b"})
    out = ingest_file(cat, IngestItem(f, "intensity_trace", "sp", dot="d", setup="hbt"))
    assert out.status == "ingested", out.message
    print(f"{n:,} photons, {args.duration_s:g} s, T3 with two detectors; medians of {args.repeats}")

    nudge = {"levels": "flid_window_ms", "decay": "bin_ps", "blinking": "bin_ms"}
    base = {"levels": 10.0, "decay": 64.0, "blinking": 10.0}
    times: dict[str, list[float]] = {a: [] for a in nudge}
    for rep in range(args.repeats + 1):  # the first round warms numba and the caches
        for a in nudge:
            plan = jobs.plan(cat, analyses=[a], params={a: {nudge[a]: base[a] * (1 + 1e-3 * (rep + 1))}})
            t0 = time.perf_counter()
            outs = jobs.run_inline(cat, plan.to_run)
            dt = time.perf_counter() - t0
            assert [o.status for o in outs] == ["done"], outs
            if rep:
                times[a].append(dt)
    med = {a: statistics.median(v) for a, v in times.items()}
    for a, t in med.items():
        print(f"  {a:9s} {t:7.2f} s   {n / t / 1e6:6.2f} M photons/s   {t / med['decay']:5.2f}× decay's time")

    print(f"  traced peak memory of one run ({n * 17 / 2**20:.0f} MiB of records in the store):")
    for a in nudge:
        tracemalloc.start()
        plan = jobs.plan(cat, analyses=[a], params={a: {nudge[a]: base[a] * 1.5}})
        jobs.run_inline(cat, plan.to_run)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"    {a:9s} {peak / 2**20:6.0f} MiB")


if __name__ == "__main__":
    main()
