"""What every part of :class:`~qdcat.catalog.api.Catalog` stands on.

The engine, transactions, the lazily opened raw-data store, lookups by name
with messages that say what exists, and the few methods one noun's mixin calls
in another's (declared here so each mixin type-checks on its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from qdcat.catalog import db
from qdcat.catalog._parse import parse_id
from qdcat.catalog.models import AuditEvent, Dot, Measurement, Sample, Setup, Specimen
from qdcat.config import Config
from qdcat.errors import AlreadyExistsError, NotFoundError

if TYPE_CHECKING:  # the store pulls in zarr and numba: imported when first used, not for a listing
    from qdcat.catalog._specs import MeasurementSpec
    from qdcat.catalog.records import DeletionImpact, MeasurementRecord
    from qdcat.store.timetags import TimeTagStore


def plain_value(value: Any) -> Any:
    """A column value as plain data: enums by value, dates as ISO text, the rest as is."""
    import datetime as dt
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def audit_json(value: Any) -> str | None:
    """A value as the history stores it: JSON text of :func:`plain_value`."""
    import json

    return None if value is None else json.dumps(plain_value(value), ensure_ascii=False)


def columns_of(obj: Any, record: type[Any]) -> dict[str, Any]:
    """The values of ``obj``'s table columns that are also fields of ``record``."""
    names = obj.__table__.columns.keys()
    return {f.name: getattr(obj, f.name) for f in fields(record) if f.name in names}


class CatalogBase:
    """A catalog database plus its raw-data store (the part every noun shares)."""

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self._sessions: sessionmaker[Session] = db.session_factory(engine)
        self._store: TimeTagStore | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Catalog(database={self.engine.url!r}, store={self.config.store_url!r})"

    @property
    def user(self) -> str:
        """Who the history names for changes made through this catalog object."""
        from qdcat.config import _os_user

        return self.config.user or _os_user()

    def _audit(
        self,
        s: Session,
        action: str,
        entity: str,
        entity_id: int,
        label: str,
        *,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        reason: str | None = None,
    ) -> None:
        """Record one change in the history, in the transaction of the change itself."""
        s.add(
            AuditEvent(
                who=self.user,
                action=action,
                entity=entity,
                entity_id=int(entity_id),
                entity_label=label[:255],
                field=field,
                old_value=audit_json(old),
                new_value=audit_json(new),
                reason=(reason or None),
            )
        )

    @property
    def store(self) -> TimeTagStore:
        if self._store is None:
            from qdcat.store.timetags import TimeTagStore

            self._store = TimeTagStore(self.config.store_url)
        return self._store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with db.transaction(self._sessions) as s:
            yield s

    # -- lookups -------------------------------------------------------------
    @staticmethod
    def _get_sample(s: Session, name: str) -> Sample:
        obj = s.scalar(select(Sample).where(Sample.name == name))
        if obj is None:
            known = s.scalars(select(Sample.name).order_by(Sample.name).limit(10)).all()
            hint = f"; known samples: {', '.join(known)}" if known else "; add one with `qdcat sample add`"
            raise NotFoundError(f"unknown sample {name!r}{hint}")
        return obj

    @staticmethod
    def _get_specimen(s: Session, name: str) -> Specimen:
        obj = s.scalar(select(Specimen).where(Specimen.name == name))
        if obj is None:
            known = s.scalars(select(Specimen.name).order_by(Specimen.name).limit(10)).all()
            hint = (
                f"; known specimens: {', '.join(known)}" if known else "; add one with `qdcat specimen add`"
            )
            raise NotFoundError(f"unknown specimen {name!r}{hint}")
        return obj

    @staticmethod
    def _get_dot(s: Session, specimen: Specimen, label: str) -> Dot:
        obj = s.scalar(select(Dot).where(Dot.specimen_id == specimen.id, Dot.label == label))
        if obj is None:
            raise NotFoundError(
                f"unknown dot {label!r} on specimen {specimen.name!r}; list them with "
                f"`qdcat dot list --specimen {specimen.name}`"
            )
        return obj

    @staticmethod
    def _get_setup(s: Session, name: str) -> Setup:
        obj = s.scalar(select(Setup).where(Setup.name == name))
        if obj is None:
            raise NotFoundError(f"unknown setup {name!r}; add one with `qdcat setup add`")
        return obj

    @staticmethod
    def _get_measurement(s: Session, measurement_id: int) -> Measurement:
        measurement_id = parse_id(measurement_id, "measurement")
        obj = s.get(Measurement, measurement_id)
        if obj is None:
            raise NotFoundError(f"no measurement with id {measurement_id}; see `qdcat measurement list`")
        return obj

    @staticmethod
    def _flush_unique(s: Session, what: str) -> None:
        # The explicit existence checks give the friendly message; this catches
        # a concurrent writer that inserted the same name in between.
        try:
            s.flush()
        except sa_exc.IntegrityError as exc:
            raise AlreadyExistsError(f"{what} already exists (or violates a constraint: {exc.orig})") from exc

    # -- provided by the noun mixins, called across them --------------------------
    def _resolve_measurement(self, s: Session, spec: MeasurementSpec) -> Measurement:
        """A new, unsaved measurement from names (``_measurements``)."""
        raise NotImplementedError

    def get_measurement(self, measurement_id: int) -> MeasurementRecord:
        """One measurement with its settings and raw data (``_measurements``)."""
        raise NotImplementedError

    def deletion_impact(self, *, sample: str | None = None, specimen: str | None = None) -> DeletionImpact:
        """What deleting a sample or specimen would take with it (``_measurements``)."""
        raise NotImplementedError

    @staticmethod
    def _drop_curation(s: Session, entity: Any, ids: Sequence[int]) -> None:
        """Remove the tags and exclusions of deleted entities (``_measurements``)."""
        raise NotImplementedError

    def _empty_trash_older_than(self, retention: Any) -> list[str]:
        """Remove raw data trashed longer ago than ``retention`` (``_trash``)."""
        raise NotImplementedError

    def _delete_measurements(self, s: Session, ids: Sequence[int], *, reason: str | None = None) -> list[int]:
        """Delete measurements' rows, marking their assets for removal (``_measurements``)."""
        raise NotImplementedError

    def _purge_deleting(self, asset_ids: Iterable[int] | None = None) -> list[str]:
        """Remove the bytes, then the rows, of assets marked for deletion (``_rawdata``)."""
        raise NotImplementedError

    def _discard_asset(self, asset_id: int) -> None:
        """Remove a pending asset's bytes, then its row (``_rawdata``)."""
        raise NotImplementedError
