"""The trash: deleted measurements' raw data kept for a while, and brought back on request.

Deleting a measurement removes its row and its results at once (queries no longer see
it), but its committed raw data stay in the store, marked ``trashed`` with a record of
the measurement as it was (names, settings, who deleted it and why). ``restore`` makes
a new measurement from that record around the same raw data (its results are computed
again by ``qdcat analyze``); ``empty_trash`` (run by ``qdcat gc`` after the retention
period) removes the bytes for good.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from qdcat.catalog._curation import CurationMixin
from qdcat.catalog._parse import parse_id
from qdcat.catalog._specs import MeasurementSpec, SettingsSpec
from qdcat.catalog.models import AssetState, RawAsset
from qdcat.catalog.records import MeasurementRef
from qdcat.catalog.types import utcnow
from qdcat.errors import InvalidValueError, NotFoundError, QdcatError

#: How long deleted raw data stay in the trash before `qdcat gc` removes them.
DEFAULT_TRASH_RETENTION = dt.timedelta(days=30)


class TrashMixin(CurationMixin):
    """Listing, restoring and emptying the trash."""

    def trash(self) -> list[dict[str, Any]]:
        """Everything in the trash, newest first: the raw asset id to restore it by, and what it was."""
        with self.session() as s:
            q = (
                select(RawAsset)
                .where(RawAsset.state == AssetState.TRASHED)
                .order_by(RawAsset.trashed_at.desc())
            )
            out = []
            for a in s.scalars(q):
                r = a.trash_record or {}
                out.append(
                    {
                        "trash_id": a.id,
                        "was_measurement": r.get("measurement_id"),
                        "kind": r.get("kind"),
                        "specimen": r.get("specimen"),
                        "dot": r.get("dot"),
                        "file": a.source_filename,
                        "stored_bytes": a.stored_bytes,
                        "deleted_at": a.trashed_at,
                        "deleted_by": r.get("deleted_by"),
                        "reason": r.get("reason"),
                    }
                )
            return out

    def restore_from_trash(self, trash_id: int) -> MeasurementRef:
        """Bring a deleted measurement back around its raw data (a new measurement id)."""
        tid = parse_id(trash_id, "trash")
        with self.session() as s:
            a = s.get(RawAsset, tid)
            if a is None or a.state is not AssetState.TRASHED:
                raise NotFoundError(f"nothing in the trash with id {tid}; `qdcat trash list` shows what is")
            r = dict(a.trash_record or {})
            settings = dict(r.get("settings") or {})
            snapshot = settings.pop("snapshot", {}) or {}
            spec = MeasurementSpec(
                kind=r["kind"],
                specimen=r["specimen"],
                dot=r.get("dot"),
                setup=r.get("setup"),
                label=r.get("label"),
                started_at=r.get("started_at"),
                duration_s=r.get("duration_s"),
                operator=r.get("operator"),
                series_name=r.get("series_name"),
                series_index=r.get("series_index"),
                notes=r.get("notes"),
                settings=SettingsSpec(**settings, snapshot=snapshot) if settings or snapshot else None,
            )
            try:
                m = self._resolve_measurement(s, spec)
            except QdcatError as exc:
                raise InvalidValueError(
                    f"cannot restore trash {tid} ({r.get('specimen')}/{r.get('dot')}): {exc}; "
                    "re-create what it named first"
                ) from None
            s.add(m)
            s.flush()
            a.state, a.measurement_id, a.trashed_at, a.trash_record = AssetState.COMMITTED, m.id, None, None
            label = f"measurement {m.id} ({m.kind.value})"
            self._audit(s, "restore", "measurement", m.id, label, old=r.get("measurement_id"), new=m.id)
            s.flush()
            return MeasurementRef(id=m.id, kind=m.kind)

    def empty_trash(self, *, older_than: dt.timedelta = DEFAULT_TRASH_RETENTION) -> list[str]:
        """Remove for good the raw data trashed longer ago than ``older_than`` (0: everything)."""
        if older_than < dt.timedelta(0):
            raise InvalidValueError("the retention period cannot be negative")
        cutoff = utcnow() - older_than
        with self.session() as s:
            q = select(RawAsset).where(RawAsset.state == AssetState.TRASHED, RawAsset.trashed_at <= cutoff)
            ids = []
            for a in s.scalars(q):
                a.state = AssetState.DELETING
                ids.append(a.id)
        return self._purge_deleting(ids) if ids else []

    def _empty_trash_older_than(self, retention: dt.timedelta | None) -> list[str]:
        return self.empty_trash(older_than=DEFAULT_TRASH_RETENTION if retention is None else retention)
