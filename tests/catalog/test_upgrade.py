"""An existing catalog upgrades: one written by qdcat at revision 0002 keeps every row, result and raw group.

``tests/data/catalog-0002`` holds a small catalog made by qdcat 0.x at schema
revision 0002 (a simulated session ingested and analysed, one g2 also with a
fixed baseline): every table's rows as JSON and its zarr store. The test loads
it into a fresh database at 0002 on each backend, upgrades to head, and reads it
back through today's API.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, DateTime, MetaData, func, select, text

from qdcat import jobs
from qdcat.catalog import db
from qdcat.catalog.api import open_catalog
from qdcat.config import Config
from qdcat.query import api as q
from qdcat.query.figures import measurement_figures

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "catalog-0002"


def _decode(value: Any, column: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict) and "$dt" in value:
        value = value["$dt"]
    if isinstance(column.type, DateTime) and isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if isinstance(column.type, JSON) and isinstance(value, str):
        return json.loads(value)
    if isinstance(column.type, Boolean):
        return bool(value)
    return value


def _load_0002(url: str) -> dict[str, int]:
    data = json.loads((FIXTURE / "catalog.json").read_text())
    assert data["revision"] == "0002"
    engine = db.make_engine(url)
    try:
        db.upgrade(engine, "0002")
        md = MetaData()
        md.reflect(engine)
        with engine.begin() as c:
            for table in md.sorted_tables:
                rows = data["tables"].get(table.name, [])
                if rows:
                    c.execute(
                        table.insert(), [{k: _decode(v, table.c[k]) for k, v in r.items()} for r in rows]
                    )
                if engine.dialect.name == "postgresql" and "id" in table.c and rows:
                    c.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
    return {t: len(rows) for t, rows in data["tables"].items()}


@pytest.fixture
def upgraded(empty_database_url: str, tmp_path: Path) -> Any:
    counts = _load_0002(empty_database_url)
    shutil.copytree(FIXTURE / "store", tmp_path / "store")
    cat = open_catalog(
        config=Config(home=tmp_path, database_url=empty_database_url, store_url=str(tmp_path / "store"))
    )
    yield cat, counts
    cat.close()


def test_every_row_result_and_raw_group_survives_the_upgrade(upgraded: Any, tmp_path: Path) -> None:
    cat, counts = upgraded
    md = MetaData()
    md.reflect(cat.engine)
    with cat.engine.connect() as c:
        for table, n in counts.items():
            assert c.execute(select(func.count()).select_from(md.tables[table])).scalar() == n, table
    assert cat.fsck(checksums=True) == []  # every raw group present and intact
    # version-1 results read through today's API: the dots view, per measurement, and their figures
    dots = q.dots(cat)
    assert dots["center_nm"].notna().sum() == 2 and dots["lifetime_ns"].notna().any()
    assert dots["g2_zero"].notna().all()
    decay_m = next(m["id"] for m in cat.list_measurements(kind="decay") if m["dot"])
    (row,) = [r for r in jobs.results_for_measurement(cat, decay_m) if r["analysis"] == "decay"]
    assert row["version"] == "1" and row["lifetime_ns"] > 0
    assert set(measurement_figures(cat, decay_m)) >= {"decay"}
    # the data migration filled what version 1 implied
    with cat.engine.connect() as c:
        g2 = c.execute(
            text("SELECT g.baseline, r.params FROM result_g2_cw g JOIN analysis_run r ON r.id = g.run_id")
        ).all()
        free = [(p if isinstance(p, dict) else json.loads(p))["free_baseline"] for _, p in g2]
        assert [b for b, _ in g2] == [None if f else 1.0 for f in free]
        assert sorted(set(free)) == [False, True]  # the fixture holds both kinds
        (tau0, hw, period) = c.execute(
            text("SELECT tau0_ns, half_window_ns, period_ns FROM result_g2_pulsed")
        ).one()
        assert tau0 == 0.0 and hw == pytest.approx(0.25 * period)
        (dur, m_dur) = c.execute(
            text(
                "SELECT b.trace_duration_s, m.duration_s FROM result_blinking b "
                "JOIN measurement m ON m.id = b.measurement_id"
            )
        ).one()
        assert dur == pytest.approx(m_dur)


def test_after_the_upgrade_analyze_replaces_version_1_results(upgraded: Any) -> None:
    cat, _ = upgraded
    old_runs = {r["id"] for r in json.loads((FIXTURE / "catalog.json").read_text())["tables"]["analysis_run"]}
    before = q.dots(cat)
    p = jobs.plan(cat)
    # version-1 results stay current until their replacements are done: the dots view is whole meanwhile
    assert p.stale == 0
    assert q.dots(cat)["center_nm"].notna().sum() == before["center_nm"].notna().sum()
    outs = jobs.run_inline(cat, p.to_run)
    assert outs and all(o.status == "done" for o in outs), [o for o in outs if o.status != "done"]
    after = q.dots(cat)
    assert set(after["dot"]) == set(before["dot"])
    with cat.session() as s:
        from qdcat.catalog.models import AnalysisRun

        current = s.scalars(select(AnalysisRun).where(AnalysisRun.is_current.is_(True))).all()
        assert current and not {r.id for r in current} & old_runs
    assert jobs.plan(cat).to_run == []
    assert cat.fsck(checksums=True) == []
