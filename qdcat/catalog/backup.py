"""Backups of a whole catalog: a consistent database snapshot, the store groups it names, a manifest.

The database is snapshot first (SQLite's online backup API; PostgreSQL: ``pg_dump`` of an exported
snapshot), then only the store groups that snapshot references are copied — complete by the write
protocol — so a backup taken while workers write is consistent. ``manifest.json``, written last,
lists every file with its size and sha256; :func:`restore` checks it before it touches anything.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from sqlalchemy import Connection, create_engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from qdcat.catalog import db
from qdcat.catalog._maintenance import FsckProblem
from qdcat.catalog.models import AnalysisRun, AssetState, RawAsset, RunStatus
from qdcat.config import Config, load_config, redact_url, write_config_file
from qdcat.errors import (
    AlreadyExistsError,
    CatalogNotFoundError,
    ConfigError,
    IntegrityError,
    InvalidValueError,
    QdcatError,
    SchemaOutdatedError,
    StoreError,
)

if TYPE_CHECKING:
    from qdcat.catalog.api import Catalog
    from qdcat.store.timetags import TimeTagStore

BACKUP_FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "catalog.sqlite"
PGDUMP_FILE = "catalog.pgdump"
STORE_DIR = "store"
_BLOCK = 1 << 20
_BY_HAND = "or back up by hand as docs/operations.md ('Backups') describes"


@dataclass(frozen=True)
class BackupFile:
    size: int
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    """What ``manifest.json`` says: where the backup came from and every file in it."""

    qdcat_version: str
    schema_revision: str
    backend: str  # "sqlite" or "postgresql"
    created_at: str  # ISO 8601, UTC
    user: str
    host: str
    note: str
    raw_groups: int
    derived_groups: int
    files: Mapping[str, BackupFile]
    tools: Mapping[str, str] = field(default_factory=dict)  # sqlite / server and pg_dump versions
    source: Mapping[str, str] = field(default_factory=dict)  # database URL (no password), store URL
    format: int = BACKUP_FORMAT

    @property
    def database_file(self) -> str:
        return SQLITE_FILE if self.backend == "sqlite" else PGDUMP_FILE

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files.values())

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "files"}
        out["tools"], out["source"] = dict(self.tools), dict(self.source)
        out["files"] = {name: {"size": f.size, "sha256": f.sha256} for name, f in sorted(self.files.items())}
        return out


def parse_manifest(data: object) -> BackupManifest:
    """A manifest from its JSON, every field checked; :class:`IntegrityError` naming the first bad one."""

    def bad(what: str) -> IntegrityError:
        return IntegrityError(f"{MANIFEST} is not a qdcat backup manifest ({what}); use a complete backup")

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("format") != BACKUP_FORMAT:
        raise bad(f"format {data.get('format')!r}; this qdcat reads format {BACKUP_FORMAT}")
    text: dict[str, str] = {}
    for k in ("qdcat_version", "schema_revision", "backend", "created_at", "user", "host", "note"):
        v = data.get(k)
        if not isinstance(v, str):
            raise bad(f"{k} is missing")
        text[k] = v
    if text["backend"] not in ("sqlite", "postgresql"):
        raise bad(f"unknown backend {text['backend']!r}")
    files = data.get("files")
    if not isinstance(files, dict):
        raise bad("files is missing")
    parsed: dict[str, BackupFile] = {}
    for name, entry in files.items():
        if name.startswith("/") or ".." in name.split("/") or name == MANIFEST:
            raise bad(f"it names {name!r}, which is not a file inside the backup")
        size, sha = (entry.get("size"), entry.get("sha256")) if isinstance(entry, dict) else (None, None)
        if not isinstance(size, int) or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise bad(f"the entry of {name} has no size and sha256")
        parsed[name] = BackupFile(size, sha)
    raw_groups, derived_groups = data.get("raw_groups"), data.get("derived_groups")
    if not isinstance(raw_groups, int) or not isinstance(derived_groups, int):
        raise bad("raw_groups / derived_groups missing")
    tools, source = data.get("tools", {}), data.get("source", {})
    if not isinstance(tools, dict) or not isinstance(source, dict):
        raise bad("tools / source are not objects")
    manifest = BackupManifest(
        qdcat_version=text["qdcat_version"],
        schema_revision=text["schema_revision"],
        backend=text["backend"],
        created_at=text["created_at"],
        user=text["user"],
        host=text["host"],
        note=text["note"],
        raw_groups=raw_groups,
        derived_groups=derived_groups,
        files=parsed,
        tools={str(k): str(v) for k, v in tools.items()},
        source={str(k): str(v) for k, v in source.items()},
    )
    if manifest.database_file not in parsed:
        raise bad(f"it lists no {manifest.database_file}")
    return manifest


@dataclass(frozen=True)
class BackupProblem:
    path: str  # relative to the backup directory
    problem: str


@dataclass(frozen=True)
class RestoreReport:
    home: str
    database_url: str  # without the password
    store_url: str
    backend: str
    backup_created_at: str
    note: str
    files: int
    total_bytes: int
    cleaned_up: list[str]  # writes and deletions the snapshot caught half-way, finished here
    running_runs: int  # runs that were running when the backup was taken: `qdcat analyze` runs them again
    problems: list[FsckProblem]  # of `fsck --checksums` and the derived arrays, on the restored catalog
    schema_note: str = ""  # set when the backup's schema is older than this qdcat's: what to run


@dataclass(frozen=True)
class _Snapshot:
    schema_revision: str
    raw_keys: list[str]
    derived_keys: list[str]
    tools: dict[str, str]


# ----------------------------------------------------------------------------- backup


def backup(cat: Catalog, dest: Path, *, note: str = "") -> BackupManifest:
    """Back up ``cat`` into ``dest`` (an empty or new directory) while others keep working.

    The database snapshot comes first; then the store groups that snapshot references (raw data
    and derived arrays) are copied, each complete since it was committed before its row. Groups
    written later are not in the snapshot and not copied. ``manifest.json`` is written last: a
    directory without one is an interrupted backup.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidValueError(f"{dest} is not an empty directory; choose an empty or new directory")
    _check_source(cat)
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if cat.engine.dialect.name == "sqlite":
            snap = _snapshot_sqlite(cat, dest / SQLITE_FILE)
            files = {SQLITE_FILE: _hash_file(dest / SQLITE_FILE)}
        else:
            snap = _snapshot_postgresql(cat, dest / PGDUMP_FILE)
            files = {PGDUMP_FILE: _hash_file(dest / PGDUMP_FILE)}
        files |= _copy_groups(cat.store, [*snap.raw_keys, *snap.derived_keys], dest / STORE_DIR)
        manifest = BackupManifest(
            qdcat_version=_qdcat_version(),
            schema_revision=snap.schema_revision,
            backend=cat.engine.dialect.name,
            created_at=created_at,
            user=_os_user(),
            host=socket.gethostname(),
            note=note,
            raw_groups=len(snap.raw_keys),
            derived_groups=len(snap.derived_keys),
            files=files,
            tools=snap.tools,
            source={"database_url": redact_url(cat.config.database_url), "store_url": cat.config.store_url},
        )
        _write_manifest(dest, manifest)
    except BaseException:
        # Nothing half-made is left: dest was empty (or new) when we started.
        for child in dest.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise
    return manifest


def _check_source(cat: Catalog) -> None:
    """A catalog is there to back up (and nothing is created where there is none)."""
    where = redact_url(cat.config.database_url)
    if cat.engine.dialect.name == "sqlite":
        path = cat.engine.url.database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise CatalogNotFoundError(f"no catalog database at {where}; nothing to back up (check --home)")
    if db.current_revision(cat.engine) is None:
        raise CatalogNotFoundError(f"the database {where} holds no qdcat catalog; nothing to back up")


def _snapshot_sqlite(cat: Catalog, target: Path) -> _Snapshot:
    # mode=rw: never create a database where there is none
    src = sqlite3.connect(f"file:{quote(str(cat.engine.url.database))}?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            # One step: the whole database in one read transaction, consistent while others
            # write (WAL lets the worker commit meanwhile).
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()
    # What to copy is read from the snapshot, never from the live database.
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            return _references(conn, {"sqlite": sqlite3.sqlite_version})
    finally:
        engine.dispose()


def _snapshot_postgresql(cat: Catalog, target: Path) -> _Snapshot:
    pg_dump, dump_version = _pg_tool("pg_dump")
    dsn, env = _libpq(cat.engine.url.render_as_string(hide_password=False))
    with cat.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        server = conn.dialect.server_version_info or (0,)
        major = int(server[0])
        if _major(dump_version) < major:
            raise ConfigError(
                f"pg_dump {dump_version} cannot dump this PostgreSQL {major} server; install the "
                f"PostgreSQL {major} client tools (Debian/Ubuntu: postgresql-client-{major}), {_BY_HAND}"
            )
        # pg_dump reads the very snapshot this transaction holds, and so do the queries below
        # that say which store groups to copy: the dump and the copied groups agree.
        snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        _run_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}", f"--dbname={dsn}"],
            env,
        )
        tools = {"server": ".".join(map(str, server)), "pg_dump": dump_version}
        return _references(conn, tools)


def _references(conn: Connection, tools: dict[str, str]) -> _Snapshot:
    """The schema revision and the store groups a snapshot names: committed and trashed raw data
    (a trashed measurement can still be restored), derived arrays."""
    revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    raw = conn.scalars(
        select(RawAsset.store_path)
        .where(RawAsset.state.in_([AssetState.COMMITTED, AssetState.TRASHED]))
        .order_by(RawAsset.store_path)
    ).all()
    derived = conn.scalars(
        select(AnalysisRun.arrays_path)
        .where(AnalysisRun.arrays_path.is_not(None))
        .order_by(AnalysisRun.arrays_path)
    ).all()
    return _Snapshot(str(revision), list(raw), [str(k) for k in derived], tools)


def _copy_groups(store: TimeTagStore, keys: list[str], dest: Path) -> dict[str, BackupFile]:
    files: dict[str, BackupFile] = {}
    for key in keys:
        try:
            paths = store.files(key) if store.is_committed(key) else []
            for path in paths:
                with store.open_file(path) as fh:
                    files[f"{STORE_DIR}/{path}"] = _copy_stream(fh, dest / path)
        except FileNotFoundError:  # removed while being copied
            paths = []
        if not paths or not store.exists(key):
            raise StoreError(
                f"store group {key}, named by the catalog, is missing from the store {store.url}: a deletion "
                "or `qdcat gc` ran during the backup (run it again), or the data are lost (`qdcat fsck`)"
            )
    return files


def _copy_stream(src: BinaryIO, target: Path) -> BackupFile:
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as out:
        while block := src.read(_BLOCK):
            digest.update(block)
            out.write(block)
            size += len(block)
        out.flush()
        os.fsync(out.fileno())
    return BackupFile(size, digest.hexdigest())


def _hash_file(path: Path) -> BackupFile:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return BackupFile(path.stat().st_size, digest.hexdigest())


def _write_manifest(dest: Path, manifest: BackupManifest) -> None:
    tmp = dest / f"{MANIFEST}.partial"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(manifest.to_json(), fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest / MANIFEST)
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself is durable
    finally:
        os.close(fd)


def _qdcat_version() -> str:
    from qdcat import __version__

    return __version__


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# ----------------------------------------------------------------------------- checking a backup


def read_manifest(src: Path) -> BackupManifest:
    path = Path(src) / MANIFEST
    if not Path(src).is_dir():
        raise IntegrityError(f"{src} is not a directory; give the directory `qdcat backup` wrote")
    if not path.is_file():
        raise IntegrityError(
            f"{src} has no {MANIFEST}: the backup was interrupted or this is not a qdcat backup; "
            "nothing was restored — use a complete backup"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path} is damaged ({exc}); nothing was restored — use another backup") from exc
    return parse_manifest(data)


def verify_backup(src: Path) -> list[BackupProblem]:
    """Every file of the backup present, of the size and sha256 the manifest gives, and no other."""
    src = Path(src)
    try:
        manifest = read_manifest(src)
    except IntegrityError as exc:
        return [BackupProblem(MANIFEST, str(exc))]
    present = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()} - {MANIFEST}
    problems = []
    for name, expected in sorted(manifest.files.items()):
        path = src / name
        if name not in present:
            problems.append(BackupProblem(name, "missing"))
        elif path.stat().st_size != expected.size:
            problems.append(
                BackupProblem(name, f"{path.stat().st_size} bytes where the manifest says {expected.size}")
            )
        elif _hash_file(path).sha256 != expected.sha256:
            problems.append(BackupProblem(name, "damaged (its sha256 differs from the manifest's)"))
    problems.extend(
        BackupProblem(name, "not part of the backup (not in the manifest)")
        for name in sorted(present - set(manifest.files))
    )
    return problems


def _verified(src: Path) -> BackupManifest:
    problems = verify_backup(src)
    if problems:
        first = problems[0]
        if first.path == MANIFEST:
            raise IntegrityError(first.problem)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise IntegrityError(
            f"backup {src} is damaged: {first.path} is {first.problem}{more}; nothing was restored — "
            "use another backup"
        )
    return read_manifest(src)


# ----------------------------------------------------------------------------- restore


def restore(src: Path, target: Config | Path, *, force: bool = False) -> RestoreReport:
    """Restore the backup in ``src`` into an empty target, then check it (``fsck --checksums``).

    ``target`` is a :class:`Config`, or a path: a new home with the default SQLite file and store
    inside it (the environment is not read). The backup is verified against its manifest before
    the target is touched; a target that holds a catalog is refused unless ``force``, which
    replaces it (nothing else may be using it then).
    """
    src = Path(src)
    manifest = _verified(src)
    cfg = target if isinstance(target, Config) else load_config(target, environ={})
    _check_compatible(manifest, cfg)
    held = _target_holds(cfg, manifest)
    if held and not force:
        raise AlreadyExistsError(
            f"the target already holds a catalog ({'; '.join(held)}); restore into a new home or an "
            "empty database, or replace it with force=True (`--force`)"
        )
    try:
        if held:
            _clear_target(cfg)
        _restore_store(src, manifest, cfg)
        if manifest.backend == "sqlite":
            _restore_sqlite(src / SQLITE_FILE, cfg)
        else:
            _restore_postgresql(src / PGDUMP_FILE, cfg, clean=bool(held))
        cfg.home.mkdir(parents=True, exist_ok=True)
        if not cfg.config_file.exists():
            write_config_file(cfg)
    except Exception as exc:
        raise QdcatError(
            f"restoring into {cfg.home} failed: {exc}; the target now holds a partial restore — fix the "
            "cause, then restore again with --force"
        ) from exc
    cleaned, running, problems, note = _check_restored(cfg, manifest)
    return RestoreReport(
        home=str(cfg.home),
        database_url=redact_url(cfg.database_url),
        store_url=cfg.store_url,
        backend=manifest.backend,
        backup_created_at=manifest.created_at,
        note=manifest.note,
        files=len(manifest.files),
        total_bytes=manifest.total_bytes,
        cleaned_up=cleaned,
        running_runs=running,
        problems=problems,
        schema_note=note,
    )


def _check_compatible(manifest: BackupManifest, cfg: Config) -> None:
    backend = "sqlite" if cfg.is_sqlite else "postgresql"
    if manifest.backend != backend:
        where = (
            "a SQLite target (a new home)" if manifest.backend == "sqlite" else "an empty PostgreSQL database"
        )
        raise InvalidValueError(
            f"this is a backup of a {manifest.backend} catalog and the target database is {backend}; "
            f"restore it into {where} — moving a catalog between SQLite and PostgreSQL is not supported"
        )
    if manifest.schema_revision != db.SCHEMA_REVISION and not _known_revision(manifest.schema_revision):
        raise SchemaOutdatedError(
            f"the backup's schema revision {manifest.schema_revision} is newer than this qdcat knows "
            f"({db.SCHEMA_REVISION}); restore it with qdcat {manifest.qdcat_version} or newer"
        )


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    try:
        return ScriptDirectory(str(db.migrations_dir())).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown revision
        return False


def _target_holds(cfg: Config, manifest: BackupManifest) -> list[str]:
    """What the target already holds (a database with tables, a store with groups): empty if nothing."""
    from qdcat.store.timetags import TimeTagStore

    held = []
    if cfg.is_sqlite:
        path = _sqlite_path(cfg)
        if path.exists() and path.stat().st_size > 0:
            held.append(f"database file {path}")
    else:
        tables, server = _pg_target(cfg.database_url)
        _check_pg_restore(manifest, server)
        if tables:
            held.append(f"database {redact_url(cfg.database_url)} has {len(tables)} tables")
    store = TimeTagStore(cfg.store_url, read_only=True)
    groups = len(store.list_keys("raw")) + len(store.list_keys("derived"))
    if groups:
        held.append(f"store {cfg.store_url} has {groups} groups")
    return held


def _clear_target(cfg: Config) -> None:
    from qdcat.store.timetags import TimeTagStore

    if cfg.is_sqlite:
        path = _sqlite_path(cfg)
        for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
            p.unlink(missing_ok=True)
    store = TimeTagStore(cfg.store_url)
    for prefix in ("raw", "derived"):
        store.delete(prefix)


def _restore_store(src: Path, manifest: BackupManifest, cfg: Config) -> None:
    from qdcat.store.timetags import TimeTagStore

    store = TimeTagStore(cfg.store_url)
    for name in sorted(manifest.files):
        if name.startswith(f"{STORE_DIR}/"):
            with (src / name).open("rb") as fh:
                store.put_file(name[len(STORE_DIR) + 1 :], fh)


def _restore_sqlite(dump: Path, cfg: Config) -> None:
    path = _sqlite_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".restoring")
    shutil.copyfile(dump, tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # the database appears whole, after the store groups it names


def _restore_postgresql(dump: Path, cfg: Config, *, clean: bool) -> None:
    pg_restore, _ = _pg_tool("pg_restore")
    dsn, env = _libpq(cfg.database_url)
    args = [pg_restore, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run_tool([*args, f"--dbname={dsn}", str(dump)], env)


def _check_restored(cfg: Config, manifest: BackupManifest) -> tuple[list[str], int, list[FsckProblem], str]:
    """Finish what the snapshot caught half-way, then ``fsck --checksums`` and the derived arrays."""
    if manifest.schema_revision != db.SCHEMA_REVISION:
        upgrade = f"run `qdcat --home {cfg.home} db upgrade`, then `qdcat fsck --checksums`"
        note = f"the backup's schema is at revision {manifest.schema_revision}, not {db.SCHEMA_REVISION}"
        return [], 0, [], f"{note}: {upgrade}"
    from qdcat.catalog.api import open_catalog

    with open_catalog(config=cfg) as cat:
        # Pending writes in the snapshot had no bytes copied and nothing else uses this new
        # catalog: every one is an interrupted write, as is every unfinished deletion.
        gc = cat.collect_garbage(all_pending=True)
        problems = cat.fsck(checksums=True)
        with cat.session() as s:
            keys = s.scalars(select(AnalysisRun.arrays_path).where(AnalysisRun.arrays_path.is_not(None)))
            derived = [str(k) for k in keys]
            running = s.scalar(select(func.count()).where(AnalysisRun.status == RunStatus.RUNNING)) or 0
        for key in derived:
            try:
                cat.store.verify(key)
            except QdcatError as exc:
                problems.append(FsckProblem(None, key, str(exc)))
    return [*gc.removed_pending, *gc.removed_deleting], int(running), problems, ""


def _sqlite_path(cfg: Config) -> Path:
    database = make_url(cfg.database_url).database
    if not database or database == ":memory:":
        raise InvalidValueError("restore needs a SQLite file to restore into, not an in-memory database")
    return Path(database)


# ----------------------------------------------------------------------------- PostgreSQL tools


def _pg_tool(name: str) -> tuple[str, str]:
    """The path and version of a PostgreSQL client tool; a clear error when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise ConfigError(
            f"{name} is not installed (or not on PATH); install the PostgreSQL client tools of the "
            f"server's version (Debian/Ubuntu: postgresql-client), {_BY_HAND}"
        )
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"\)\s*(\d+(?:\.\d+)?)", out)
    if found is None:
        raise ConfigError(f"cannot tell the version of {path} (it printed {out.strip()!r}); {_BY_HAND}")
    return path, found.group(1)


def _major(version: str) -> int:
    return int(version.split(".")[0])


def _check_pg_restore(manifest: BackupManifest, target_major: int) -> None:
    dumped_by = manifest.tools.get("pg_dump", "0")
    _, restore_version = _pg_tool("pg_restore")
    if _major(restore_version) < _major(dumped_by):
        raise ConfigError(
            f"pg_restore {restore_version} cannot read a dump made by pg_dump {dumped_by}; install the "
            f"PostgreSQL {_major(dumped_by)} client tools (or newer)"
        )
    source_major = _major(manifest.tools.get("server", "0"))
    if target_major < source_major:
        raise ConfigError(
            f"the backup is of a PostgreSQL {source_major} server and the target runs PostgreSQL "
            f"{target_major}; restore it into PostgreSQL {source_major} or newer"
        )


def _pg_target(url: str) -> tuple[list[str], int]:
    """The tables of the target database and its server's major version."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            server = conn.dialect.server_version_info or (0,)
            return inspect(conn).get_table_names(), int(server[0])
    except OperationalError as exc:
        known = db.explain(exc)
        if known is not None:
            raise known from exc
        first = (str(exc.orig).strip().splitlines() or ["?"])[0]
        raise ConfigError(
            f"cannot open the target database {redact_url(url)} ({first}); create an empty database "
            "first (`createdb NAME`) and give its URL"
        ) from exc
    finally:
        engine.dispose()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (that goes in PGPASSWORD, out of the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql")._replace(password=None)
    return plain.render_as_string(hide_password=False), env


def _run_tool(args: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(args, env=dict(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        name = Path(args[0]).name
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()] or [
            f"exit code {done.returncode}"
        ]
        raise QdcatError(f"{name} failed: {lines[0][:300]}; fix that and run the command again")
