"""Processes killed mid-work: nothing stuck, nothing duplicated, a plain re-run completes.

``qdcat analyze`` is SIGKILLed at random moments, again and again, on both
backends; then, once the dead processes' leases have expired, a plain
``qdcat analyze`` must reclaim what they left 'running', finish every result
and exit 0 — with exactly one current result per target and a clean fsck.
The same for ``qdcat ingest``: kills mid-ingest, then ``gc`` and a re-ingest
that gets every file in exactly once.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from qdcat import analyses
from qdcat.catalog.api import Catalog
from qdcat.catalog.models import AnalysisRun, Measurement, RunStatus
from qdcat.session import SessionSummary, register_session

from ..jobs.conftest import cli_env, ingest_session

QDCAT = [sys.executable, "-c", "from qdcat.cli import main; main()"]
LEASE_S = 2.0
KILLS = {"sqlite": 20, "postgresql": 8}


def _kill_after(cmd: list[str], env: dict[str, str], delay_s: float) -> int | None:
    """Start ``cmd``; SIGKILL it after ``delay_s`` unless it ended; its return code if it ended."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None


def _one_current_result_per_target(cat: Catalog) -> None:
    with cat.session() as s:
        dup = s.execute(
            select(AnalysisRun.analysis, AnalysisRun.target_key, func.count())
            .where(AnalysisRun.is_current.is_(True))
            .group_by(AnalysisRun.analysis, AnalysisRun.target_key)
            .having(func.count() > 1)
        ).all()
        assert dup == [], f"targets with more than one current result: {dup}"
        stuck = s.scalar(select(func.count()).where(AnalysisRun.status == RunStatus.RUNNING))
        assert stuck == 0
        for a in analyses.registry().values():
            rows = s.execute(
                select(a.table.c.run_id)
                .join(AnalysisRun, AnalysisRun.id == a.table.c.run_id)
                .where(AnalysisRun.is_current.is_(True))
            ).all()
            n_current = s.scalar(
                select(func.count()).where(AnalysisRun.analysis == a.name, AnalysisRun.is_current.is_(True))
            )
            assert len(rows) == n_current, f"{a.name}: {len(rows)} result rows for {n_current} current runs"


def test_killed_analyze_is_reclaimed_by_a_plain_analyze(
    catalog: Catalog, session: SessionSummary, backend: str
) -> None:
    ingest_session(catalog, session)
    env = cli_env(catalog)
    rng = random.Random(7)
    ended, left_running, started = 0, 0, 0
    # Each process is killed a random moment after it has claimed a job, so every kill lands
    # mid-job whatever the machine's speed; processes that find nothing to do end by themselves.
    while left_running < KILLS[backend] and started < 3 * KILLS[backend]:
        started += 1
        proc = subprocess.Popen(
            [*QDCAT, "analyze", "--lease-s", str(LEASE_S)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while proc.poll() is None:
            with catalog.session() as s:
                mine = s.scalar(
                    select(func.count()).where(
                        AnalysisRun.status == RunStatus.RUNNING, AnalysisRun.pid == proc.pid
                    )
                )
            if mine:
                time.sleep(rng.uniform(0.0, 0.3))
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        if proc.wait() >= 0:
            ended += 1
            if proc.returncode == 0:
                break  # all work done: nothing left to interrupt
        with catalog.session() as s:
            left_running += bool(
                s.scalar(select(func.count()).where(AnalysisRun.status == RunStatus.RUNNING))
            )
    print(f"{started} started, {left_running} killed mid-job, {ended} ended by themselves")
    # the kills really interrupted work (else this test would prove nothing)
    assert left_running >= KILLS[backend] // 2
    time.sleep(LEASE_S + 0.5)  # every dead process's lease has expired
    res = subprocess.run([*QDCAT, "analyze"], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert " 0 failed" in res.stdout + res.stderr
    again = subprocess.run(
        [*QDCAT, "analyze", "--dry-run", "--json"], env=env, capture_output=True, text=True
    )
    assert json.loads(again.stdout) == [], again.stdout  # nothing left to run
    _one_current_result_per_target(catalog)
    catalog.collect_garbage()
    assert catalog.fsck() == []


def test_killed_ingest_leaves_nothing_half_written(
    catalog: Catalog, session: SessionSummary, backend: str
) -> None:
    register_session(catalog, session.session_toml)
    env = cli_env(catalog)
    rng = random.Random(11)
    for _ in range(5):
        _kill_after([*QDCAT, "ingest", "--manifest", str(session.manifest)], env, rng.uniform(2.0, 5.0))
    catalog.collect_garbage()
    assert catalog.fsck() == []
    res = subprocess.run(
        [*QDCAT, "ingest", "--manifest", str(session.manifest)], env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    with catalog.session() as s:
        n = s.scalar(select(func.count()).select_from(Measurement))
    manifest_rows = len(Path(session.manifest).read_text().strip().splitlines()) - 1
    assert n == manifest_rows
    assert catalog.fsck() == []


def test_killed_delete_leaves_each_measurement_whole_or_gone(
    catalog: Catalog, session: SessionSummary, backend: str
) -> None:
    ingest_session(catalog, session)
    env = cli_env(catalog)
    rng = random.Random(5)
    with catalog.session() as s:
        ids = list(s.scalars(select(Measurement.id).order_by(Measurement.id)))
    victims = ids[:6]
    for m in victims:
        _kill_after([*QDCAT, "measurement", "delete", str(m), "--yes"], env, rng.uniform(0.3, 1.5))
    catalog.collect_garbage()
    assert catalog.fsck(checksums=True) == []  # what is left is whole: every checksum matches
    with catalog.session() as s:
        left = set(s.scalars(select(Measurement.id)))
    assert set(ids) - set(victims) <= left  # nothing else was touched
    print(f"{len(set(victims) - left)} of {len(victims)} killed deletes had committed")
