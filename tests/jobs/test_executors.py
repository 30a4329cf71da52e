"""Executors and concurrency on both backends: many worker processes, a SIGKILL mid-job, a Dask cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from qdcat import analyses, jobs
from qdcat.catalog.api import Catalog, MeasurementSpec
from qdcat.catalog.models import AnalysisRun, RunStatus
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.session import SessionSummary
from qdcat.simulate import CwExcitation, DotParams, simulate_cw, simulate_spectrum

from .conftest import cli_env, ingest_session, result_rows

WORKER = [sys.executable, "-c", "from qdcat.cli import main; main()", "worker"]


def _spectra(cat: Catalog, n: int) -> None:
    """``n`` small spectrum measurements: hundreds of quick jobs."""
    cat.add_specimen("slide-2", "InP-A")
    cat.import_dots("slide-2", [{"label": f"s{i}", "x_um": i, "y_um": 0} for i in range(n)])
    for i in range(n):
        sp = simulate_spectrum(620.0 + 0.05 * i, 18.0, 2000.0, background_counts=20.0, seed=i)
        cat.add_array_measurement(
            MeasurementSpec(kind="spectrum", specimen="slide-2", dot=f"s{i}"),
            {"wavelength_nm": sp.wavelength_nm, "counts": sp.counts},
        )


def test_many_worker_processes_do_every_job_exactly_once(populated: Catalog) -> None:
    n = 160
    _spectra(populated, n)
    p = jobs.plan(populated, analyses=["spectrum"])
    assert len(p.to_run) == n
    procs = [
        subprocess.Popen(
            [*WORKER, "--exit-when-idle"],
            env=cli_env(populated),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [proc.communicate(timeout=600) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outs
    with populated.session() as s:
        runs = s.scalars(select(AnalysisRun)).all()
        assert len(runs) == n
        assert {RunStatus(r.status) for r in runs} == {RunStatus.DONE}
        assert {r.attempts for r in runs} == {1}  # nobody ran a job twice
        assert s.scalar(select(func.count()).select_from(analyses.get("spectrum").table)) == n
        assert sum(r.is_current for r in runs) == n
    ran = [
        int(line.split()[2]) for _, err in outs for line in err.splitlines() if line.startswith("worker ran")
    ]
    assert sum(ran) == n and sum(1 for k in ran if k > 0) >= 2  # the work was actually shared


def test_sigkill_mid_job_leaves_no_result_and_the_job_completes_after_the_lease(
    populated: Catalog, tmp_path: Path
) -> None:
    run = simulate_cw(DotParams(), excitation=CwExcitation(300.0), duration_s=20.0, seed=1)
    f = tmp_path / "long.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=20.0)
    ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d1", setup="hbt"))
    # a ±2 ms correlation over 3·10⁶ events takes seconds: long enough to be killed mid-way
    p = jobs.plan(populated, analyses=["g2_cw"], params={"g2_cw": {"window_ns": 2_000_000, "bin_ns": 500}})
    (rid,) = p.to_run
    lease_s = 4.0
    proc = subprocess.Popen(
        [*WORKER, "--exit-when-idle", "--lease-s", str(lease_s)],
        env=cli_env(populated),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while jobs.get_job(populated, rid)["status"] != "running":
        assert time.monotonic() < deadline and proc.poll() is None, "the worker never claimed the job"
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rec = jobs.get_job(populated, rid)
    assert rec["status"] == "running" and rec["attempts"] == 1  # claimed, never finished
    assert result_rows(populated, "result_g2_cw", current_only=False) == []
    # its lease still runs: nobody may take it yet
    assert jobs.claim(populated, run_ids=[rid], lease_s=lease_s) is None
    while jobs.get_job(populated, rid)["lease_expires_at"] > __import__("datetime").datetime.now(
        __import__("datetime").UTC
    ):
        time.sleep(0.2)
    outs = jobs.work(populated, lease_s=lease_s)
    assert [(o.run_id, o.status) for o in outs] == [(rid, "done")]
    assert jobs.get_job(populated, rid)["attempts"] == 2
    assert len(result_rows(populated, "result_g2_cw")) == 1
    populated.collect_garbage()
    assert populated.store.list_keys("derived") == [jobs.get_job(populated, rid)["arrays_path"]]


def _values(cat: Catalog) -> dict[str, list[tuple]]:
    out = {}
    for a in analyses.registry().values():
        rows = result_rows(cat, a.table.name)
        cols = [c.name for c in a.table.columns if c.name not in ("run_id",)]
        out[a.table.name] = sorted((tuple(r[c] for c in cols) for r in rows), key=repr)
    return out


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_parallel_executors_give_the_in_process_results(
    executor: str, catalog: Catalog, session: SessionSummary, tmp_path: Path
) -> None:
    from qdcat.catalog.api import init_catalog

    reference = init_catalog(tmp_path / "inline")
    try:
        ingest_session(reference, session)
        p = jobs.plan(reference)
        jobs.run_inline(reference, p.to_run)
        ingest_session(catalog, session)
        p = jobs.plan(catalog)
        if executor == "processes":
            counts = jobs.run_processes(catalog, p.to_run, workers=2)
            assert counts == {"done": len(p.to_run)}
        else:
            outs = jobs.run_dask(catalog, p.to_run, address="local", workers=2)
            assert sorted(o.run_id for o in outs if o.status == "done") == sorted(p.to_run)
        with catalog.session() as s:
            hosts = {(r.host, r.pid) for r in s.scalars(select(AnalysisRun))}
        assert len(hosts) >= 2 and os.getpid() not in {pid for _, pid in hosts}  # ran elsewhere, on 2 workers
        a, b = _values(reference), _values(catalog)
        for table in a:
            assert len(a[table]) == len(b[table]) > 0, table
            for ra, rb in zip(a[table], b[table], strict=True):
                np.testing.assert_equal(ra, rb)
    finally:
        reference.close()
