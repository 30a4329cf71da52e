"""A simulated session (files, manifest, truth) shared by the job tests, and its ingest."""

from __future__ import annotations

import csv
import json
import os
from typing import Any

import pytest

from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionSummary, register_session


def ingest_session(cat: Catalog, session: SessionSummary) -> Catalog:
    register_session(cat, session.session_toml)
    outcomes = ingest_many(cat, read_manifest(session.manifest))
    assert all(o.status == "ingested" for o in outcomes), [o for o in outcomes if o.status != "ingested"]
    return cat


@pytest.fixture
def ingested(catalog: Catalog, session: SessionSummary) -> Catalog:
    return ingest_session(catalog, session)


def truth_dots(session: SessionSummary) -> dict[str, dict[str, Any]]:
    with (session.folder / "truth_dots.csv").open() as fh:
        return {r["dot"]: {k: _num(v) for k, v in r.items()} for r in csv.DictReader(fh)}


def truth(session: SessionSummary) -> dict[str, Any]:
    return json.loads((session.folder / "truth.json").read_text())


def _num(v: str) -> Any:
    try:
        return float(v)
    except ValueError:
        return v


def cli_env(cat: Catalog) -> dict[str, str]:
    cfg = cat.config
    return {
        **os.environ,
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }


def result_rows(cat: Catalog, table: str, *, current_only: bool = True) -> list[dict[str, Any]]:
    from sqlalchemy import text

    where = " WHERE r.is_current" if current_only else ""
    with cat.engine.connect() as c:
        rows = c.execute(
            text(
                f"SELECT t.*, d.label AS dot_label, r.is_current, r.analysis_version FROM {table} t "
                "JOIN analysis_run r ON r.id = t.run_id LEFT JOIN dot d ON d.id = t.dot_id"
                f"{where} ORDER BY t.run_id"
            )
        ).mappings()
        return [dict(r) for r in rows]
