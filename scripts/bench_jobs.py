"""Benchmark batch analysis throughput of the job executors, in one run.

    python scripts/bench_jobs.py                       # 24 dots, default durations, 3 repeats
    python scripts/bench_jobs.py --dots 6 --quick --repeats 1    # a smoke test (seconds)
    python scripts/bench_jobs.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

One session is simulated once (``write_session``; the default plan keeps the
proportions of ``SessionPlan()`` scaled to --dots, --quick uses
``SessionPlan.quick(n_dots=--dots)``). Then for every repeat and every executor,
interleaved so that machine noise hits all of them alike:

* a fresh catalog (``init_catalog`` in a new folder; with --database-url a new
  PostgreSQL database ``qdcat_bench_<random>`` per catalog, dropped afterwards),
  the session registered and ingested, ``jobs.plan`` — none of this is timed;
* timed: running every planned job with
  - in-process:  ``jobs.run_inline`` (the reference),
  - processes:   ``jobs.run_processes(workers=--workers)`` (spawned processes),
  - Dask:        ``jobs.run_dask(address="local", workers=--workers)`` (a new
                 LocalCluster, one thread per worker process);
* every job must have ended ``done`` (the run aborts otherwise);
* "start-up": the same executor called again on the now-done jobs — worker
  processes/cluster started, qdcat imported, the catalog opened, nothing left to
  claim. It is a lower bound: the analysis kernels (numba, scipy) are imported
  lazily by the first job in each worker, and that is only in the timed figure.
  ``run_processes`` polls its workers every 0.5 s, so its times (and its
  start-up) are rounded up by up to 0.5 s; Dask's include closing the cluster.

The timed figures include worker start-up, which dominates small batches: with
2 workers the parallel executors only pay off once a batch takes well over the
start-up time in-process (use the default --dots 24, or more, for the quoted
figures; --dots 6 --quick only proves the script works). Before anything is
timed one in-process batch runs untimed, so numba's JIT compilation (cached on
disk and then loaded by the workers too) is not measured.

Reported: medians over repeats of seconds, measurements analysed per second
(distinct input measurements of the planned runs), jobs per second, start-up,
and ratios against in-process measured in the same run. The machine is shared:
read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcat import jobs
from qdcat.catalog.api import Catalog, init_catalog
from qdcat.config import DEFAULT_DB_FILENAME, DEFAULT_STORE_DIRNAME
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionPlan, SessionSummary, register_session, write_session

REFERENCE = "in-process"


def scaled_plan(n_dots: int, seed: int) -> SessionPlan:
    """``SessionPlan()``'s proportions (72 dots: 70 g2, 25 lifetime, 5 pulsed g2, ...) at ``n_dots``."""
    d = SessionPlan()

    def part(n: int) -> int:
        return max(1, min(n_dots, round(n * n_dots / d.n_dots)))

    return SessionPlan(
        n_dots=n_dots,
        n_g2_dots=part(d.n_g2_dots),
        n_lifetime_dots=part(d.n_lifetime_dots),
        n_pulsed_g2_dots=part(d.n_pulsed_g2_dots),
        n_blinking_dots=part(d.n_blinking_dots),
        n_second_sample_dots=part(d.n_second_sample_dots),
        seed=seed,
    )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- catalogs


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """None (SQLite in the catalog folder), or a new PostgreSQL database on ``url``'s server."""
    if url is None:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    if base.get_backend_name() != "postgresql":
        raise SystemExit(f"--database-url must be a PostgreSQL URL, got {base.get_backend_name()}")
    name = f"qdcat_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Batch:
    cat: Catalog
    ids: list[int]
    measurements: int


@contextmanager
def ingested_catalog(scratch: Path, session: SessionSummary, database_url: str | None) -> Iterator[Batch]:
    """A new catalog holding the session, its jobs planned (pending)."""
    home = Path(tempfile.mkdtemp(prefix="cat-", dir=scratch))
    try:
        with fresh_database(database_url) as db_url:
            cat = init_catalog(
                home,
                database_url=db_url or f"sqlite:///{home / DEFAULT_DB_FILENAME}",
                store_url=str(home / DEFAULT_STORE_DIRNAME),
            )
            try:
                register_session(cat, session.session_toml)
                outcomes = ingest_many(cat, read_manifest(session.manifest))
                bad = [o for o in outcomes if o.status != "ingested"]
                if bad:
                    raise SystemExit(
                        f"ingest failed for {len(bad)} file(s), e.g. {bad[0].path}: {bad[0].message}"
                    )
                ids = jobs.plan(cat).to_run
                if not ids:
                    raise SystemExit("the plan has no jobs to run")
                inputs: set[int] = set()
                for rid in ids:
                    inputs.update(jobs.get_job(cat, rid)["inputs"])
                yield Batch(cat, ids, len(inputs))
            finally:
                cat.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def check_done(name: str, b: Batch) -> None:
    counts = jobs.job_counts(b.cat, b.ids)
    if counts != {"done": len(b.ids)}:
        failed = jobs.list_jobs(b.cat, run_ids=b.ids, status="failed")
        hint = (
            f"; first failure: run {failed[0]['id']} ({failed[0]['analysis']}): {failed[0]['error']}"
            if failed
            else ""
        )
        raise SystemExit(f"{name}: expected {len(b.ids)} jobs done, got {counts}{hint}")


# ----------------------------------------------------------------------------- executors


def executors(workers: int) -> dict[str, Callable[[Catalog, list[int]], Any]]:
    return {
        REFERENCE: lambda cat, ids: jobs.run_inline(cat, ids),
        f"{workers} processes": lambda cat, ids: jobs.run_processes(cat, ids, workers=workers),
        f"Dask {workers} workers": lambda cat, ids: jobs.run_dask(cat, ids, address="local", workers=workers),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dots", type=int, default=24, help="dots of the main sample (default 24)")
    ap.add_argument(
        "--quick", action="store_true", help="SessionPlan.quick(n_dots=--dots): short acquisitions"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="workers of the process pool and of Dask")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to run on (a database is created and dropped per catalog); default SQLite",
    )
    ap.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()
    if args.repeats < 1 or args.dots < 1 or args.workers < 1:
        ap.error("--repeats, --dots and --workers must be >= 1")

    plan = (
        SessionPlan.quick(n_dots=args.dots, seed=args.seed)
        if args.quick
        else scaled_plan(args.dots, args.seed)
    )
    scratch = Path(tempfile.mkdtemp(prefix="qdcat-bench-jobs-", dir=args.dir))
    try:
        log(f"simulating the session ({args.dots} dots{', quick' if args.quick else ''}) ...")
        t0 = time.perf_counter()
        session = write_session(scratch / "session", plan)
        log(f"  {session.files} files, {session.events:,} events in {time.perf_counter() - t0:.1f} s")
        db = "SQLite" if args.database_url is None else "PostgreSQL"
        print(
            f"# {args.dots} dots{' (quick)' if args.quick else ''}, {session.files} files, "
            f"{session.events:.3g} events; {db}; {args.repeats} repeats; {os.cpu_count()} cores; "
            f"scratch {scratch}"
        )
        print("# numba warm-up: one untimed in-process batch first (JIT compiled once, cached on disk)")
        with ingested_catalog(scratch, session, args.database_url) as b:
            t0 = time.perf_counter()
            jobs.run_inline(b.cat, b.ids)
            check_done("warm-up", b)
            log(f"  warm-up: {len(b.ids)} jobs in {time.perf_counter() - t0:.1f} s")
            n_jobs, n_meas = len(b.ids), b.measurements

        runners = executors(args.workers)
        times: dict[str, list[float]] = {k: [] for k in runners}
        startup: dict[str, list[float]] = {k: [] for k in runners}
        for r in range(args.repeats):
            for name, run in runners.items():
                with ingested_catalog(scratch, session, args.database_url) as b:
                    if (len(b.ids), b.measurements) != (n_jobs, n_meas):
                        raise SystemExit(
                            f"{name}: planned {len(b.ids)} jobs on {b.measurements} measurements, "
                            f"the warm-up planned {n_jobs} on {n_meas}"
                        )
                    t0 = time.perf_counter()
                    run(b.cat, b.ids)
                    dt = time.perf_counter() - t0
                    check_done(name, b)
                    times[name].append(dt)
                    t0 = time.perf_counter()
                    run(b.cat, b.ids)  # everything is done: start-up and one empty claim per worker
                    startup[name].append(time.perf_counter() - t0)
                    check_done(f"{name} (empty run)", b)
                log(f"  repeat {r + 1}/{args.repeats} {name}: {dt:.2f} s")

        med = {k: statistics.median(v) for k, v in times.items()}
        med_up = {k: statistics.median(v) for k, v in startup.items()}
        ref = med[REFERENCE]
        print(f"# {n_jobs} jobs on {n_meas} measurements per batch; medians of {args.repeats}")
        print(
            f"{'executor':18} {'seconds':>8} {'meas/s':>8} {'jobs/s':>8} {'vs ' + REFERENCE:>14} "
            f"{'start-up s':>11} {'meas/s excl. start-up':>22}"
        )
        for name in runners:
            s, up = med[name], med_up[name]
            net = f"{n_meas / (s - up):22.1f}" if s > up else f"{'n/a':>22}"
            print(f"{name:18} {s:8.2f} {n_meas / s:8.1f} {n_jobs / s:8.1f} {ref / s:13.2f}x {up:11.2f} {net}")
        parts = [f"{REFERENCE} {n_meas / ref:.1f} meas/s"] + [
            f"{name} {ref / med[name]:.2f}x" for name in runners if name != REFERENCE
        ]
        print("; ".join(parts))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
