"""Backups: a consistent snapshot of catalog + store, taken while workers write, restored and checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner

from qdcat import analyses, jobs
from qdcat.catalog import db
from qdcat.catalog.api import Catalog, MeasurementSpec, open_catalog
from qdcat.catalog.backup import MANIFEST, backup, restore, verify_backup
from qdcat.catalog.models import AnalysisRun, RawAsset, RunStatus
from qdcat.cli import app
from qdcat.config import Config, load_config
from qdcat.errors import AlreadyExistsError, IntegrityError, InvalidValueError, StoreError
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.simulate import CwExcitation, DotParams, simulate_cw


@pytest.fixture
def target(backend: str, empty_database_url: str, tmp_path: Path) -> Config:
    """Where to restore: a new home (SQLite) or a new home with an empty PostgreSQL database."""
    url = empty_database_url if backend == "postgresql" else None
    return load_config(tmp_path / "restored", database_url=url, environ={})


def _need_tools(cat: Catalog) -> None:
    """PostgreSQL backups need pg_dump and pg_restore at least as new as the server."""
    if cat.engine.dialect.name != "postgresql":
        return
    with cat.engine.connect() as conn:
        server = int((conn.dialect.server_version_info or (0,))[0])
    for tool in ("pg_dump", "pg_restore"):
        path = shutil.which(tool)
        if path is None:
            _missing(f"{tool} is not installed (Debian/Ubuntu: postgresql-client-{server})")
            return
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"\)\s*(\d+)", out)
        if found is None or int(found.group(1)) < server:
            _missing(f"{tool} ({out.strip()}) is older than the PostgreSQL {server} server")


def _missing(why: str) -> None:
    """A skip on a developer's machine; under CI (which installs the tools) a failure."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}; .ci/run installs postgresql-client")
    pytest.skip(why)


def _ingest_cw(cat: Catalog, folder: Path, dot: str, seed: int) -> int:
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=seed)
    path = folder / f"cw{seed}.ptu"
    write_ptu_t2(path, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.0)
    out = ingest_file(cat, IngestItem(path, "g2_cw", "slide-1", dot=dot, setup="hbt"))
    assert out.status == "ingested" and out.measurement_id is not None
    return out.measurement_id


def _spectrum(cat: Catalog) -> int:
    """A measurement with a small store group, without simulating anything."""
    wl = np.linspace(550, 700, 200)
    return cat.add_array_measurement(
        MeasurementSpec(kind="spectrum", specimen="slide-1", dot="d1"),
        {"wavelength_nm": wl, "counts": 100 + 5000 / (1 + ((wl - 629) / 9.7) ** 2)},
    )


def _rows(cat: Catalog) -> dict[str, list[str]]:
    """Every row of every table, as JSON text (NaN-safe), in primary-key order."""
    out = {}
    with cat.engine.connect() as conn:
        for table in analyses.metadata().sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).mappings()
            out[table.name] = [json.dumps(dict(r), default=str, sort_keys=True) for r in rows]
    return out


def _derived(cat: Catalog) -> dict[int, dict[str, Any]]:
    with cat.session() as s:
        ids = s.scalars(select(AnalysisRun.id).where(AnalysisRun.arrays_path.is_not(None))).all()
    return {rid: jobs.derived_arrays(cat, rid) for rid in ids}


def _untouched(target: Config) -> None:
    assert not target.home.exists()
    if not target.is_sqlite:
        engine = db.make_engine(target.database_url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_a_round_trip_restores_every_row_and_the_store(
    populated: Catalog, target: Config, tmp_path: Path
) -> None:
    _need_tools(populated)
    _ingest_cw(populated, tmp_path, "d1", seed=1)
    _spectrum(populated)
    assert {o.status for o in jobs.run_inline(populated, jobs.plan(populated).to_run)} == {"done"}
    before = _derived(populated)
    manifest = backup(populated, tmp_path / "bk", note="before the upgrade")
    assert verify_backup(tmp_path / "bk") == []
    assert (manifest.raw_groups, manifest.derived_groups) == (2, len(before)) and before
    assert json.loads((tmp_path / "bk" / MANIFEST).read_text())["note"] == "before the upgrade"

    report = restore(tmp_path / "bk", target)
    assert report.problems == [] and report.cleaned_up == [] and report.schema_note == ""
    with open_catalog(config=target) as restored:
        assert _rows(restored) == _rows(populated)
        assert restored.fsck(checksums=True) == []
        after = _derived(restored)
        assert after.keys() == before.keys()
        for rid, arrays in before.items():
            assert after[rid].keys() == arrays.keys()
            assert all(np.array_equal(after[rid][k], v, equal_nan=True) for k, v in arrays.items())
        assert jobs.plan(restored).to_run == []  # every result is current: nothing to redo
        _spectrum(restored)  # and the restored store takes new writes


def test_a_backup_taken_while_a_worker_writes_results_restores_consistently(
    populated: Catalog, target: Config, tmp_path: Path
) -> None:
    _need_tools(populated)
    for i in (1, 2, 3):
        _ingest_cw(populated, tmp_path, f"d{i}", seed=i)
    run_ids = jobs.plan(populated).to_run
    done: list[jobs.JobOutcome] = []
    started, errors = threading.Event(), []

    def worker() -> None:
        cat = open_catalog(config=populated.config)
        try:
            jobs.work(cat, run_ids=run_ids, on_outcome=lambda o: (done.append(o), started.set()))
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            cat.close()
            started.set()

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(120)
    taken = []
    while thread.is_alive() and len(taken) < 5:
        dest, first = tmp_path / f"bk{len(taken)}", len(done)
        backup(populated, dest)
        taken.append((dest, first, len(done)))
    thread.join(300)
    assert errors == [] and [o.status for o in done] == ["done"] * len(run_ids)
    # A backup that began after a result was written and ended before the last one was.
    midway = [dest for dest, first, last in taken if first >= 1 and last < len(run_ids)]
    assert midway, f"no backup fell while the worker was writing: {taken}"

    report = restore(midway[0], target)
    assert report.problems == []  # fsck --checksums and every derived array of the snapshot
    with open_catalog(config=target) as restored:
        with restored.session() as s:
            n_done = s.scalar(select(func.count()).where(AnalysisRun.status == RunStatus.DONE))
        assert 0 < (n_done or 0) < len(run_ids)
        assert all(arrays for arrays in _derived(restored).values())


def test_a_write_in_flight_is_left_out_and_cleaned_up_on_restore(
    populated: Catalog, target: Config, tmp_path: Path
) -> None:
    _need_tools(populated)
    rng = np.random.default_rng(0)
    spec = MeasurementSpec(kind="g2_cw", specimen="slide-1", dot="d1", setup="hbt")
    with populated.new_timetag_measurement(spec, resolution_ps=1.0, chunk_events=4096) as w:
        w.append(np.cumsum(rng.integers(1, 10**6, 50_000)), rng.integers(0, 2, 50_000).astype(np.uint8))
        manifest = backup(populated, tmp_path / "bk")  # the pending row is in the snapshot, bytes are not
    assert manifest.raw_groups == 0 and not [n for n in manifest.files if n.startswith("store/raw/")]
    report = restore(tmp_path / "bk", target)
    assert len(report.cleaned_up) == 1 and report.problems == []
    with open_catalog(config=target) as restored:
        with restored.session() as s:
            assert s.scalars(select(RawAsset)).all() == []


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_damaged_backup_is_refused_in_one_line_and_the_target_left_untouched(
    populated: Catalog, target: Config, tmp_path: Path
) -> None:
    _need_tools(populated)
    _spectrum(populated)
    manifest = backup(populated, tmp_path / "good")
    store_file = next(n for n in manifest.files if n.startswith("store/raw/"))
    damages: dict[str, tuple[Callable[[Path], None], str]] = {
        "flipped": (
            lambda d: _flip_a_byte(d / manifest.database_file),
            f"{manifest.database_file} is damaged",
        ),
        "removed": (lambda d: (d / store_file).unlink(), f"{store_file} is missing"),
        "no-manifest": (lambda d: (d / MANIFEST).unlink(), "no manifest.json: the backup was interrupted"),
        "extra": (lambda d: (d / "store" / "stray").write_text("x"), "store/stray is not part of the backup"),
    }
    for name, (damage, says) in damages.items():
        copy = tmp_path / name
        shutil.copytree(tmp_path / "good", copy)
        damage(copy)
        assert verify_backup(copy) != []
        with pytest.raises(IntegrityError) as err:
            restore(copy, target)
        assert says in str(err.value) and "\n" not in str(err.value), name
        _untouched(target)
    assert restore(tmp_path / "good", target).problems == []


def test_a_backup_refuses_a_directory_that_is_not_empty(catalog: Catalog, tmp_path: Path) -> None:
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(InvalidValueError, match="choose an empty or new directory"):
        backup(catalog, dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_a_store_group_missing_at_backup_time_fails_the_backup_and_leaves_nothing(
    populated: Catalog, tmp_path: Path
) -> None:
    _need_tools(populated)
    key = populated.raw_asset(_spectrum(populated))["store_path"]
    populated.store.delete(key)
    with pytest.raises(StoreError, match=f"{key}, named by the catalog, is missing"):
        backup(populated, tmp_path / "bk")
    assert list((tmp_path / "bk").iterdir()) == []


def test_restore_refuses_a_catalog_in_the_target_unless_forced(
    populated: Catalog, target: Config, tmp_path: Path
) -> None:
    _need_tools(populated)
    _spectrum(populated)
    backup(populated, tmp_path / "bk")
    restore(tmp_path / "bk", target)
    with pytest.raises(AlreadyExistsError, match="already holds a catalog"):
        restore(tmp_path / "bk", target)
    assert restore(tmp_path / "bk", target, force=True).problems == []
    with open_catalog(config=target) as restored:
        assert _rows(restored) == _rows(populated)


def test_restore_refuses_the_other_backend(populated: Catalog, backend: str, tmp_path: Path) -> None:
    _need_tools(populated)
    backup(populated, tmp_path / "bk")
    url = "postgresql://nobody@127.0.0.1:1/none" if backend == "sqlite" else None
    other = load_config(tmp_path / "other", database_url=url, environ={})
    with pytest.raises(InvalidValueError, match="between SQLite and PostgreSQL is not supported"):
        restore(tmp_path / "bk", other)
    assert not other.home.exists()


def test_a_backup_from_before_an_upgrade_restores_and_says_to_upgrade(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory(str(db.migrations_dir())).get_revision(db.head_revision()).down_revision
    assert isinstance(previous, str)
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = db.make_engine(url)
    db.upgrade(engine, previous)
    engine.dispose()
    old = Config(home=tmp_path, database_url=url, store_url=str(tmp_path / "store"))
    with open_catalog(config=old, check_schema=False) as cat:
        assert backup(cat, tmp_path / "bk").schema_revision == previous
    report = restore(tmp_path / "bk", tmp_path / "new")
    assert "db upgrade" in report.schema_note and report.problems == []
    cfg = load_config(tmp_path / "new", environ={})
    engine = db.make_engine(cfg.database_url)
    db.upgrade(engine)
    engine.dispose()
    with open_catalog(config=cfg) as restored:
        assert restored.fsck(checksums=True) == []


def test_the_cli_backs_up_and_restores(
    populated: Catalog, backend: str, empty_database_url: str, tmp_path: Path
) -> None:
    _need_tools(populated)
    _spectrum(populated)
    cfg = populated.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    runner = CliRunner()
    res = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--note", "nightly"], env=env)
    assert res.exit_code == 0, res.output
    assert "backup written to" in res.output and "1 raw and 0 derived" in res.output
    args = ["restore", str(tmp_path / "bk"), "--home", str(tmp_path / "new")]
    if backend == "postgresql":
        args += ["--database-url", empty_database_url]
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert "the restored catalog and store are consistent" in res.output
    with open_catalog(config=load_config(tmp_path / "new", environ={})) as restored:
        assert _rows(restored) == _rows(populated)  # qdcat.toml in the new home says where it is
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 1
    assert res.output.startswith("error: the target already holds a catalog") and res.output.count("\n") == 1
