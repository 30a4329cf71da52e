"""Keeping rows and raw data in step: garbage collection (``qdcat gc``), checks (``fsck``), status."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlalchemy import func, select

from qdcat.catalog import db
from qdcat.catalog._base import CatalogBase
from qdcat.catalog.models import (
    AnalysisRun,
    AssetState,
    Dot,
    Measurement,
    RawAsset,
    RunStatus,
    Sample,
    Specimen,
)
from qdcat.catalog.records import CatalogStatus
from qdcat.catalog.types import utcnow
from qdcat.errors import QdcatError

#: How long a pending asset from a writer we cannot check (another host) is
#: presumed alive before garbage collection removes it.
DEFAULT_PENDING_GRACE = dt.timedelta(hours=6)

#: zarr writes metadata to ``<name>.<uuid>.partial`` and renames it; a file still there
#: after this long was left by a killed writer.
PARTIAL_GRACE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class GarbageReport:
    removed_pending: list[str]
    removed_deleting: list[str]
    removed_orphans: list[str]
    kept_pending: list[str]


@dataclass(frozen=True)
class FsckProblem:
    measurement_id: int | None
    store_path: str
    problem: str


class MaintenanceMixin(CatalogBase):
    """Garbage collection, consistency checks and the catalog's status."""

    def collect_garbage(
        self,
        *,
        pending_grace: dt.timedelta = DEFAULT_PENDING_GRACE,
        all_pending: bool = False,
        trash_retention: dt.timedelta | None = None,
    ) -> GarbageReport:
        """Remove what interrupted writes and deletes left behind, and empty the trash of old items.

        * ``deleting`` assets: finish removing their bytes and rows;
        * ``trashed`` assets (deleted measurements' raw data) older than ``trash_retention``
          (default 30 days) are removed for good;
        * ``pending`` assets whose writer is gone (same host, pid not running)
          or older than ``pending_grace`` (``all_pending``: every one — only when
          no ingest is running anywhere);
        * store groups under ``raw/`` that no asset row names (only possible if
          the store was written outside qdcat), once older than the grace period.
        """
        removed_deleting = self._purge_deleting()
        removed_deleting += self._empty_trash_older_than(trash_retention)
        host = socket.gethostname()
        now = utcnow()
        removed_pending, kept = [], []
        with self.session() as s:
            pend = [
                (a.id, a.store_path, a.writer_host, a.writer_pid, a.created_at)
                for a in s.scalars(select(RawAsset).where(RawAsset.state == AssetState.PENDING))
            ]
        for asset_id, key, w_host, w_pid, created in pend:
            dead = w_host == host and w_pid is not None and not _pid_alive(w_pid)
            if all_pending or dead or now - created > pending_grace:
                self._discard_asset(asset_id)
                removed_pending.append(key)
            else:
                kept.append(key)
        with self.session() as s:
            known = set(s.scalars(select(RawAsset.store_path)))
        orphans = []
        # zarr's temporaries from a write killed before its rename: never read, safe to
        # remove once no writer could still be about to rename them.
        for key in self.store.list_partials("raw"):
            if all_pending or self._store_age(key) > PARTIAL_GRACE:
                self.store.delete(key)
                orphans.append(key)
        for key in self.store.list_keys("raw"):
            if key in known:
                continue
            if all_pending or self._store_age(key) > pending_grace:
                self.store.delete(key)
                orphans.append(key)
        orphans.extend(self._collect_derived())
        return GarbageReport(removed_pending, removed_deleting, orphans, kept)

    def _collect_derived(self) -> list[str]:
        """Derived arrays (``derived/<run>-<token>``) no run references and no running job will.

        Running claims are read before the referenced paths: a job committing in
        between is then seen by the second query, so its arrays are never taken.
        """
        keys = self.store.list_keys("derived")
        if not keys:
            return []
        with self.session() as s:
            running = {
                f"derived/{rid}-{token}"
                for rid, token in s.execute(
                    select(AnalysisRun.id, AnalysisRun.claim_token).where(
                        AnalysisRun.status == RunStatus.RUNNING
                    )
                )
            }
        with self.session() as s:
            referenced = set(
                s.scalars(select(AnalysisRun.arrays_path).where(AnalysisRun.arrays_path.is_not(None)))
            )
        removed = []
        for key in keys:
            if key not in running and key not in referenced:
                self.store.delete(key)
                removed.append(key)
        return removed

    def _store_age(self, key: str) -> dt.timedelta:
        # A store that cannot say counts as brand new: nothing is removed on a guess.
        modified = self.store.modified_at(key)
        return dt.timedelta(0) if modified is None else utcnow() - modified

    def fsck(self, *, checksums: bool = False) -> list[FsckProblem]:
        """Check every committed asset against the store (``checksums``: re-hash the data)."""
        problems: list[FsckProblem] = []
        with self.session() as s:
            assets = [
                (a.measurement_id, a.store_path, a.data_sha256, a.state)
                for a in s.scalars(select(RawAsset).order_by(RawAsset.id))
            ]
        for mid, key, sha, state in assets:
            if state is AssetState.PENDING:
                problems.append(
                    FsckProblem(mid, key, "pending write (in progress, or interrupted: `qdcat gc`)")
                )
                continue
            if state is AssetState.DELETING:
                problems.append(FsckProblem(mid, key, "deletion not finished (`qdcat gc` finishes it)"))
                continue
            # trashed raw data are checked like committed ones: a restore must find them whole
            if not self.store.is_committed(key):
                problems.append(FsckProblem(mid, key, "raw data missing or incomplete in the store"))
                continue
            if checksums:
                try:
                    self.store.verify(key, sha)
                except QdcatError as exc:
                    problems.append(FsckProblem(mid, key, str(exc)))
        known = {a[1] for a in assets}
        for key in self.store.list_keys("raw"):
            if key not in known:
                problems.append(
                    FsckProblem(None, key, "store data with no catalog row (`qdcat gc` removes it)")
                )
        return problems

    def status(self) -> CatalogStatus:
        where = self.config.describe()
        revision, head = db.current_revision(self.engine), db.head_revision()
        with self.session() as s:
            raw_bytes, raw_events = s.execute(
                select(
                    func.coalesce(func.sum(RawAsset.stored_bytes), 0),
                    func.coalesce(func.sum(RawAsset.event_count), 0),
                ).where(RawAsset.state == AssetState.COMMITTED)
            ).one()
            return CatalogStatus(
                home=where["home"],
                database_url=where["database_url"],
                database_url_from=where["database_url_from"],
                store_url=where["store_url"],
                store_url_from=where["store_url_from"],
                schema_revision=revision,
                schema_head=head,
                samples=s.scalar(select(func.count(Sample.id))) or 0,
                specimens=s.scalar(select(func.count(Specimen.id))) or 0,
                dots=s.scalar(select(func.count(Dot.id))) or 0,
                measurements=s.scalar(select(func.count(Measurement.id))) or 0,
                raw_bytes=int(raw_bytes or 0),
                raw_events=int(raw_events or 0),
            )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
