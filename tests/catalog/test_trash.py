"""Deleted measurements go to the trash: restorable, checked by fsck, emptied by gc; on both backends."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.cli import app
from qdcat.errors import InvalidValueError, NotFoundError
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.simulate import CwExcitation, DotParams, simulate_cw


def _file(tmp_path: Path, seed: int = 1) -> Path:
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=seed)
    f = tmp_path / f"qd-{seed}.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.0)
    return f


def _ingest(cat: Catalog, f: Path, dot: str = "d1") -> int:
    item = IngestItem(
        f,
        "g2_cw",
        "slide-1",
        dot=dot,
        setup="hbt",
        settings={"intensity_w_cm2": 120.0, "excitation_mode": "cw"},
    )
    out = ingest_file(cat, item)
    assert out.status == "ingested", out.message
    return int(out.measurement_id)


def _digest(cat: Catalog, mid: int) -> str:
    h = hashlib.sha256()
    for chunk in cat.open_timetags(mid).iter_chunks(fields=("timestamps_ps", "channels")):
        h.update(np.ascontiguousarray(chunk.timestamps_ps).tobytes())
    return h.hexdigest()


def test_a_deleted_measurement_waits_in_the_trash_and_comes_back(populated: Catalog, tmp_path: Path) -> None:
    mid = _ingest(populated, _file(tmp_path))
    before = _digest(populated, mid)
    jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw"]).to_run)
    populated.delete_measurement(mid, reason="wrong dot")
    assert populated.list_measurements() == []
    (item,) = populated.trash()
    assert (item["was_measurement"], item["kind"], item["dot"], item["reason"]) == (
        mid,
        "g2_cw",
        "d1",
        "wrong dot",
    )
    assert populated.fsck(checksums=True) == []  # trashed raw data are whole
    ref = populated.restore_from_trash(item["trash_id"])
    assert populated.trash() == []  # (SQLite may hand the old id out again; PostgreSQL never does)
    rec = populated.get_measurement(ref.id)
    assert (rec["dot"], rec["setup"], rec["settings"]["intensity_w_cm2"]) == ("d1", "hbt", 120.0)
    assert _digest(populated, ref.id) == before
    assert [
        o.status for o in jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw"]).to_run)
    ] == ["done"]
    assert [(e.action, e.entity_id) for e in populated.history()][:2] == [
        ("restore", ref.id),
        ("delete", mid),
    ]


def test_gc_empties_the_trash_after_the_retention_and_a_file_can_come_again(
    populated: Catalog, tmp_path: Path
) -> None:
    f = _file(tmp_path)
    mid = _ingest(populated, f)
    populated.delete_measurement(mid)
    populated.collect_garbage()  # within the 30-day retention: kept
    assert len(populated.trash()) == 1
    mid2 = _ingest(populated, f)  # the same file again: the trash does not count as ingested
    assert populated.get_measurement(mid2)["raw_data"] is not None and len(populated.trash()) == 1
    report = populated.collect_garbage(trash_retention=dt.timedelta(0))
    assert len(report.removed_deleting) == 1 and populated.trash() == []
    assert populated.fsck(checksums=True) == []
    assert len(populated.store.list_keys("raw")) == 1  # only the new measurement's data


def test_a_restore_that_cannot_be_placed_says_why_and_keeps_the_item(
    populated: Catalog, tmp_path: Path
) -> None:
    mid = _ingest(populated, _file(tmp_path), dot="d3")
    populated.delete_dot("slide-1", "d3", force=True)
    (item,) = populated.trash()
    assert item["was_measurement"] == mid
    with pytest.raises(InvalidValueError, match="re-create what it named first"):
        populated.restore_from_trash(item["trash_id"])
    assert len(populated.trash()) == 1
    populated.add_dot("slide-1", "d3", 3.0, 6.0)
    populated.restore_from_trash(item["trash_id"])
    with pytest.raises(NotFoundError, match="nothing in the trash"):
        populated.restore_from_trash(item["trash_id"])


def test_destructive_commands_ask_or_need_yes(populated: Catalog, tmp_path: Path) -> None:
    mid = _ingest(populated, _file(tmp_path))
    cfg = populated.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    run = CliRunner()
    res = run.invoke(app, ["measurement", "delete", str(mid)], env=env)
    assert res.exit_code == 1 and "pass --yes" in res.output
    assert len(populated.list_measurements()) == 1  # nothing happened
    res = run.invoke(app, ["measurement", "delete", str(mid), "--yes", "--reason", "bad focus"], env=env)
    assert res.exit_code == 0, res.output
    res = run.invoke(app, ["trash", "list", "--json"], env=env)
    assert '"reason": "bad focus"' in res.stdout
    assert run.invoke(app, ["trash", "empty"], env=env).exit_code == 1
    res = run.invoke(app, ["trash", "empty", "--yes"], env=env)
    assert res.exit_code == 0 and "removed 1" in res.output
    assert "pass --force" in run.invoke(app, ["sample", "delete", "InP-A", "--yes"], env=env).output
    res = run.invoke(app, ["sample", "delete", "InP-A", "--force"], env=env)
    assert res.exit_code == 1 and "pass --yes" in res.output


def test_a_backup_keeps_the_trash_restorable(
    populated: Catalog, backend: str, empty_database_url: str, tmp_path: Path
) -> None:
    from qdcat.catalog.api import open_catalog
    from qdcat.catalog.backup import backup, restore
    from qdcat.config import load_config

    from .test_backup import _need_tools

    _need_tools(populated)
    mid = _ingest(populated, _file(tmp_path))
    before = _digest(populated, mid)
    populated.delete_measurement(mid)
    backup(populated, tmp_path / "bk")
    url = empty_database_url if backend == "postgresql" else None
    target = load_config(tmp_path / "restored", database_url=url, environ={})
    report = restore(tmp_path / "bk", target)
    assert not report.problems, report
    with open_catalog(config=target) as cat:
        (item,) = cat.trash()
        ref = cat.restore_from_trash(item["trash_id"])
        assert _digest(cat, ref.id) == before
