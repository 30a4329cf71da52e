"""Fixtures shared by the whole suite.

Every catalog test runs twice: on an embedded SQLite file and on the
PostgreSQL server named by ``QDCAT_TEST_PG_URL`` (default: the local server,
user postgres, database test). Each test gets a fresh database cloned from a
template migrated once per session. Without a server the PostgreSQL half is
skipped with the reason — except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from qdcat.catalog import db
from qdcat.catalog.api import Catalog, open_catalog
from qdcat.config import Config

PG_URL = os.environ.get("QDCAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = [
    b.strip() for b in os.environ.get("QDCAT_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]
SHARED = Path(os.environ.get("QDCAT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
_RUN = uuid.uuid4().hex[:8]


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_url_for(dbname: str) -> str:
    return make_url(PG_URL).set(database=dbname).render_as_string(hide_password=False)


class _PG:
    """Creates and drops the per-session PostgreSQL databases."""

    def __init__(self) -> None:
        self.admin = _admin_engine()
        self.template = f"qdcat_t_{_RUN}_tmpl"
        self.created: list[str] = []
        self._empty_n = 0

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as c:
            c.execute(text(sql))

    def create(self, name: str, template: str | None = None) -> str:
        tmpl = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        self._exec(f'CREATE DATABASE "{name}"{tmpl}')
        self.created.append(name)
        return _pg_url_for(name)

    def drop(self, name: str) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def fresh_empty(self) -> tuple[str, str]:
        self._empty_n += 1
        name = f"qdcat_t_{_RUN}_e{self._empty_n}_{uuid.uuid4().hex[:6]}"
        return name, self.create(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg() -> Iterator[_PG]:
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL backend not selected (QDCAT_TEST_BACKENDS)")
    try:
        server = _PG()
        with server.admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        msg = f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)} unreachable: {exc}"
        if IN_CI:
            pytest.fail(f"{msg} (CI=true: the PostgreSQL half of the suite is required)")
        pytest.skip(msg)
    url = server.create(server.template)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield server
    server.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "catalog.sqlite"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as c:  # fold the WAL into the file before copying it
        c.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the current schema head, on each backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "catalog.sqlite"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server: _PG = request.getfixturevalue("pg")
    name = f"qdcat_t_{_RUN}_{uuid.uuid4().hex[:10]}"
    url = server.create(name, template=server.template)
    yield url
    server.drop(name)


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no schema at all, on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    server: _PG = request.getfixturevalue("pg")
    name, url = server.fresh_empty()
    yield url
    server.drop(name)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return Config(home=tmp_path, database_url=database_url, store_url=str(tmp_path / "store"))


@pytest.fixture
def catalog(config: Config) -> Iterator[Catalog]:
    cat = open_catalog(config=config)
    yield cat
    cat.close()


@pytest.fixture
def populated(catalog: Catalog) -> Catalog:
    """A sample with one single-dot specimen, three dots and an HBT setup."""
    catalog.add_sample("InP-A", "InP/ZnSe", core_diameter_nm=3.2, total_diameter_nm=10, pl_peak_nm=629)
    catalog.add_specimen("slide-1", "InP-A", preparation_method="drop-cast", concentration_nmol_l=1)
    catalog.import_dots("slide-1", [{"label": f"d{i}", "x_um": i, "y_um": 2 * i} for i in range(1, 4)])
    catalog.add_setup("hbt", channels={0: "hbt_a", 1: "hbt_b", 2: "sync"}, time_tagger_resolution_ps=1)
    return catalog


@pytest.fixture(scope="session")
def shared_timetags() -> Path:
    """``../shared/data/timetags`` — skipped where absent, required in CI."""
    path = SHARED / "data" / "timetags"
    if not path.is_dir():
        if IN_CI:
            pytest.fail(f"{path} is missing (CI=true: the real instrument files are required)")
        pytest.skip(f"real instrument files not found at {path} (set QDCAT_SHARED to the shared/ folder)")
    return path


@pytest.fixture(scope="session")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A simulated lab session (files, manifest, truth) shared by the job and query tests."""
    from qdcat.session import SessionPlan, write_session

    return write_session(tmp_path_factory.mktemp("sim") / "session", SessionPlan.quick(n_dots=6, seed=11))
