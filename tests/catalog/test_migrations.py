"""Alembic revisions against the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from qdcat.analyses import metadata
from qdcat.catalog import db
from qdcat.catalog.api import open_catalog
from qdcat.config import Config
from qdcat.errors import SchemaOutdatedError


def _diff(engine):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(ctx, metadata())


def test_upgrade_head_matches_models_then_downgrade_to_base(empty_database_url: str) -> None:
    engine = db.make_engine(empty_database_url)
    try:
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        assert _diff(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert set(metadata().tables) <= tables
        db.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert db.current_revision(engine) is None
        # and back up again: the downgrade left nothing behind that blocks it
        db.upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_models_with_a_column_missing_from_migrations_show_a_diff(empty_database_url: str) -> None:
    """The no-diff check above can fail: a model change without a revision is caught."""
    from sqlalchemy import Column, Float, MetaData

    engine = db.make_engine(empty_database_url)
    try:
        db.upgrade(engine)
        md = MetaData(naming_convention=metadata().naming_convention)
        for t in metadata().tables.values():
            t.to_metadata(md)
        md.tables["sample"].append_column(Column("extra_nm", Float))
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), md)
        assert any(d[0] == "add_column" and d[3].name == "extra_nm" for d in diff)
    finally:
        engine.dispose()


def test_app_refuses_empty_database(empty_database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = Config(home=tmp_path, database_url=empty_database_url, store_url=str(tmp_path / "store"))
    with pytest.raises(SchemaOutdatedError, match="qdcat db upgrade"):
        open_catalog(config=cfg)


def test_app_refuses_outdated_schema(empty_database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(empty_database_url)
    db.upgrade(engine)
    # Simulate a catalog written by an older qdcat: an earlier (here: no) revision recorded.
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old0'"))
    engine.dispose()
    cfg = Config(home=tmp_path, database_url=empty_database_url, store_url=str(tmp_path / "store"))
    with pytest.raises(SchemaOutdatedError, match="does not know"):
        open_catalog(config=cfg)


def test_app_refuses_schema_behind_head(empty_database_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(empty_database_url)
    db.upgrade(engine)
    engine.dispose()
    # A newer qdcat (head moved on) opening this catalog must ask for an upgrade.
    monkeypatch.setattr(db, "head_revision", lambda: "9999")
    monkeypatch.setattr(db, "SCHEMA_REVISION", "9999")
    real_script = db.migrations_dir()
    assert real_script.is_dir()
    cfg = Config(home=tmp_path, database_url=empty_database_url, store_url=str(tmp_path / "store"))
    with pytest.raises(SchemaOutdatedError, match=r"needs 9999; run `qdcat db upgrade`"):
        open_catalog(config=cfg)


def test_the_fast_schema_check_names_alembics_head() -> None:
    """check_schema compares with db.SCHEMA_REVISION without importing alembic: it must be the head."""
    assert db.head_revision() == db.SCHEMA_REVISION
