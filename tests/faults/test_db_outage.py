"""The database goes away: workers wait and carry on; commands say so in one line.

A private PostgreSQL instance (initdb in a temporary folder, its own port) is
stopped and started again while a ``qdcat worker`` runs its queue: the worker
must say that the database is unreachable, wait with backoff, reconnect, and
finish every job — none lost, none duplicated, none failed because of the
outage. A command run while the server is down gets one ``error:`` line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from qdcat import jobs
from qdcat.catalog import db
from qdcat.catalog.api import open_catalog
from qdcat.catalog.models import AnalysisRun, RunStatus
from qdcat.session import SessionSummary

from ..conftest import IN_CI
from ..jobs.conftest import cli_env, ingest_session

QDCAT = [sys.executable, "-c", "from qdcat.cli import main; main()"]


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


class PrivatePostgres:
    """A throw-away PostgreSQL server run as the ``postgres`` OS user (initdb refuses root)."""

    def __init__(self, root: Path, bindir: Path) -> None:
        self.root, self.bindir = root, bindir
        self.data = root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/qdcat"

    def _as_postgres(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        admin = create_engine(self.url.replace("/qdcat", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE qdcat"))
        admin.dispose()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    usable = bindir is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None)
    if not usable:
        msg = "no PostgreSQL server binaries (initdb, pg_ctl) to run a private instance"
        if IN_CI:
            pytest.fail(msg + " (CI=true: install postgresql)")
        pytest.skip(msg)
    root = Path("/tmp") / f"qdcat-pg-{os.getpid()}-{time.monotonic_ns()}"  # short: socket path limit
    server = PrivatePostgres(root, bindir)  # type: ignore[arg-type]
    try:
        server.init()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        msg = f"cannot start a private PostgreSQL: {exc.stderr.decode(errors='replace')[-300:]}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _counts(cat) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with cat.session() as s:
        rows = s.execute(select(AnalysisRun.status, func.count()).group_by(AnalysisRun.status)).all()
    return {RunStatus(k).value: int(v) for k, v in rows}


def test_worker_survives_a_postgresql_restart(
    private_pg: PrivatePostgres, session: SessionSummary, tmp_path: Path
) -> None:
    engine = db.make_engine(private_pg.url)
    db.upgrade(engine)
    engine.dispose()
    cat = open_catalog(tmp_path / "home", database_url=private_pg.url, store_url=str(tmp_path / "store"))
    ingest_session(cat, session)
    n_jobs = len(jobs.plan(cat).to_run)
    env = cli_env(cat)
    worker = subprocess.Popen(
        [*QDCAT, "worker", "--exit-when-idle", "--lease-s", "3", "--poll-s", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _counts(cat).get("done", 0) < 2:
            assert worker.poll() is None, worker.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker did not start working"
            time.sleep(0.2)
        private_pg.stop()
        down = subprocess.run([*QDCAT, "jobs", "list"], env=env, capture_output=True, text=True, timeout=120)
        time.sleep(4)  # long enough for the worker to notice and back off
        private_pg.start()
        out, _ = worker.communicate(timeout=600)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, out
    assert "Traceback" not in out, out
    assert "database unreachable" in out, out
    counts = _counts(cat)
    assert counts == {"done": n_jobs}, counts
    with cat.session() as s:
        dup = s.execute(
            select(AnalysisRun.analysis, AnalysisRun.target_key)
            .where(AnalysisRun.is_current.is_(True))
            .group_by(AnalysisRun.analysis, AnalysisRun.target_key)
            .having(func.count() > 1)
        ).all()
    assert dup == []
    # a command run while the server was down: one line saying so, no traceback
    assert down.returncode == 1
    assert "Traceback" not in down.stderr
    lines = [line for line in down.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "unreachable" in lines[0], down.stderr
    cat.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (we are root in CI); skipped where mounting is not permitted."""
    where = tmp_path / "disk"
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(path: Path) -> None:
    """Write until the disk is full, to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


def test_a_full_disk_under_the_sqlite_catalog_is_one_clear_line(small_disk: Path) -> None:
    env = {**os.environ, "QDCAT_HOME": str(small_disk / "home")}
    env.pop("QDCAT_DATABASE_URL", None)
    env.pop("QDCAT_STORE_URL", None)
    ok = subprocess.run([*QDCAT, "init"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    subprocess.run([*QDCAT, "sample", "add", "InP-A", "--material", "InP"], env=env, check=True)
    _fill(small_disk / "filler")
    notes = "n" * 100_000  # a write that needs new pages
    res = subprocess.run(
        [*QDCAT, "sample", "add", "InP-B", "--material", "InP", "--notes", notes],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-2000:]
    assert "full" in lines[0] and "qdcat init" not in lines[0], lines[0]
    # space again: the catalog is intact and the refused sample is not in it
    (small_disk / "filler").unlink()
    listed = subprocess.run([*QDCAT, "sample", "list", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "InP-A" in listed.stdout and "InP-B" not in listed.stdout
