"""Corrections after ingest, with history: edits of samples, specimens, dots, setups and measurements.

Every change is validated like creation (the same parsers and ranges, then the ORM's
type check), written with one :class:`AuditEvent` per changed field — who (the
configured user, else the OS user), when, old → new, why — in the same transaction,
so a change and its record land together or not at all. Deletions are recorded
the same way (by the deleting methods). An edit of an analysis input (a
measurement's intensity, wavelength, repetition rate, setup, dot; a setup's CCD facts;
a raw asset's nanotime resolution) changes the inputs of the results computed from
it: :func:`qdcat.workflow.edit` then marks them stale, and ``qdcat analyze``
computes them again.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from qdcat.catalog._base import CatalogBase
from qdcat.catalog._base import audit_json as _json
from qdcat.catalog._base import plain_value as _plain
from qdcat.catalog._parse import parse_date, parse_datetime, parse_enum, parse_float, parse_id, parse_name
from qdcat.catalog.models import (
    AuditEvent,
    Dot,
    ExcitationMode,
    InstrumentSettings,
    Measurement,
    MeasurementKind,
    RawAsset,
    Sample,
    Setup,
    Specimen,
)
from qdcat.catalog.records import AuditRecord, EditRecord
from qdcat.errors import AlreadyExistsError, InvalidValueError

Parser = Callable[[Any, str], Any]


def _text(max_len: int) -> Parser:
    def parse(v: Any, what: str) -> str | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        s = str(v).strip()
        if len(s) > max_len:
            raise InvalidValueError(f"{what} is longer than {max_len} characters; shorten it")
        return s

    return parse


def _name(max_len: int) -> Parser:
    return lambda v, what: parse_name(v, what, max_len)


def _float(**kw: Any) -> Parser:
    return lambda v, what: parse_float(v, what, **kw)


def _required_float(v: Any, what: str) -> float:
    x = parse_float(v, what)
    if x is None:
        raise InvalidValueError(f"{what} cannot be empty")
    return x


def _int(v: Any, what: str) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(str(v))
    except ValueError:
        raise InvalidValueError(f"{what} must be a whole number, got {v!r}") from None


def _enum_of(cls: type[enum.Enum]) -> Parser:
    return lambda v, what: parse_enum(cls, v, what)


_TEXT = _text(10_000)

#: What can be edited, per entity, and how each value is read (as at creation).
EDITABLE: dict[str, dict[str, Parser]] = {
    "sample": {
        "name": _name(100),
        "material": _name(64),
        "core_diameter_nm": _float(positive=True),
        "total_diameter_nm": _float(positive=True),
        "synthesis_reference": _TEXT,
        "synthesized_on": parse_date,
        "abs_max_nm": _float(positive=True),
        "pl_peak_nm": _float(positive=True),
        "pl_fwhm_nm": _float(positive=True),
        "plqy_fraction": _float(lo=0.0, hi=1.0),
        "decay_rate_solution_per_us": _float(positive=True),
        "notes": _TEXT,
    },
    "specimen": {
        "name": _name(100),
        "preparation_method": _text(100),
        "concentration_nmol_l": _float(nonnegative=True),
        "solvent": _text(64),
        "substrate": _text(100),
        "surface_density_per_um2": _float(nonnegative=True),
        "prepared_on": parse_date,
        "notes": _TEXT,
    },
    "dot": {
        "label": _name(64),
        "x_um": _required_float,
        "y_um": _required_float,
        "z_um": _float(),
        "marker_label": _text(64),
        "marker_dx_um": _float(),
        "marker_dy_um": _float(),
        "notes": _TEXT,
    },
    "setup": {
        "description": _TEXT,
        "time_tagger_model": _text(100),
        "time_tagger_resolution_ps": _float(positive=True),
        "spectrometer": _text(200),
        "ccd_offset_counts": _float(),
        "ccd_read_noise_counts": _float(nonnegative=True),
    },
    "measurement": {
        "kind": _enum_of(MeasurementKind),
        "dot": _name(64),  # a dot label on the measurement's specimen
        "setup": _name(100),  # a setup name
        "label": _text(200),
        "started_at": parse_datetime,
        "duration_s": _float(positive=True),
        "operator": _text(100),
        "series_name": _text(100),
        "series_index": _int,
        "notes": _TEXT,
        # instrument settings
        "excitation_wavelength_nm": _float(positive=True),
        "excitation_mode": _enum_of(ExcitationMode),
        "repetition_rate_mhz": _float(positive=True),
        "intensity_w_cm2": _float(nonnegative=True),
        "temperature_k": _float(positive=True),
        "integration_time_s": _float(positive=True),
        # raw asset metadata (never the raw data)
        "nanotime_resolution_ps": _float(positive=True),
    },
}
_SETTINGS: tuple[str, ...] = (
    "excitation_wavelength_nm",
    "excitation_mode",
    "repetition_rate_mhz",
    "intensity_w_cm2",
    "temperature_k",
    "integration_time_s",
)


class EditsMixin(CatalogBase):
    """Edits with history, and the history itself."""

    # -- edits -------------------------------------------------------------------
    def update_sample(
        self, name: str, changes: Mapping[str, Any], *, reason: str | None = None
    ) -> EditRecord:
        """Change fields of a sample (``EDITABLE["sample"]``); each change goes into the history."""
        with self.session() as s:
            obj = self._get_sample(s, name)
            done = self._apply(s, "sample", obj, obj.name, changes, reason)
            _check_sample(obj)
            if "name" in done:
                self._unique(s, Sample, Sample.name == obj.name, obj.id, f"sample {obj.name!r}")
            _flush(s, f"sample {name!r}")
            return EditRecord("sample", obj.id, obj.name, tuple(done.items()))

    def update_specimen(
        self, name: str, changes: Mapping[str, Any], *, reason: str | None = None
    ) -> EditRecord:
        with self.session() as s:
            obj = self._get_specimen(s, name)
            done = self._apply(s, "specimen", obj, obj.name, changes, reason)
            if "name" in done:
                self._unique(s, Specimen, Specimen.name == obj.name, obj.id, f"specimen {obj.name!r}")
            _flush(s, f"specimen {name!r}")
            return EditRecord("specimen", obj.id, obj.name, tuple(done.items()))

    def update_dot(
        self, specimen: str, label: str, changes: Mapping[str, Any], *, reason: str | None = None
    ) -> EditRecord:
        with self.session() as s:
            sp = self._get_specimen(s, specimen)
            obj = self._get_dot(s, sp, label)
            done = self._apply(s, "dot", obj, f"{sp.name}/{obj.label}", changes, reason)
            _check_dot(obj)
            if "label" in done:
                where = (Dot.specimen_id == sp.id) & (Dot.label == obj.label)
                self._unique(s, Dot, where, obj.id, f"dot {obj.label!r} on {sp.name!r}")
            _flush(s, f"dot {specimen}/{label}")
            return EditRecord("dot", obj.id, f"{sp.name}/{obj.label}", tuple(done.items()))

    def update_setup(self, name: str, changes: Mapping[str, Any], *, reason: str | None = None) -> EditRecord:
        with self.session() as s:
            obj = self._get_setup(s, name)
            done = self._apply(s, "setup", obj, obj.name, changes, reason)
            _flush(s, f"setup {name!r}")
            return EditRecord("setup", obj.id, obj.name, tuple(done.items()))

    def update_measurement(
        self, measurement_id: int, changes: Mapping[str, Any], *, reason: str | None = None
    ) -> EditRecord:
        """Change a measurement's placement, kind, settings or its raw asset's nanotime unit.

        ``dot`` names a dot of the measurement's specimen, ``setup`` a setup; the raw data
        themselves never change.
        """
        mid = parse_id(measurement_id, "measurement")
        with self.session() as s:
            m = self._get_measurement(s, mid)
            targets: dict[str, Any] = {}
            for f in changes:
                if f in _SETTINGS:
                    targets[f] = self._settings_of(s, m)
                elif f == "nanotime_resolution_ps":
                    targets[f] = self._asset_of(s, m)
            done = self._apply(s, "measurement", m, f"measurement {mid}", changes, reason, targets=targets)
            _flush(s, f"measurement {mid}")
            return EditRecord("measurement", mid, f"measurement {mid}", tuple(done.items()))

    def _apply(
        self,
        s: Session,
        entity: str,
        obj: Any,
        label: str,
        changes: Mapping[str, Any],
        reason: str | None,
        *,
        targets: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[Any, Any]]:
        """Parse and set each change on ``obj`` (or its settings/asset), recording old → new."""
        allowed = EDITABLE[entity]
        if not changes:
            raise InvalidValueError(
                f"nothing to change; give field=value pairs (editable: {', '.join(allowed)})"
            )
        unknown = [f for f in changes if f not in allowed]
        if unknown:
            raise InvalidValueError(
                f"{entity} has no editable field {', '.join(map(repr, unknown))}; "
                f"editable: {', '.join(allowed)}"
            )
        done: dict[str, tuple[Any, Any]] = {}
        with s.no_autoflush:  # every value is checked before anything is written
            for f, raw in changes.items():
                self._apply_one(s, entity, obj, label, f, raw, reason, (targets or {}).get(f, obj), done)
        return done

    def _apply_one(
        self,
        s: Session,
        entity: str,
        obj: Any,
        label: str,
        f: str,
        raw: Any,
        reason: str | None,
        target: Any,
        done: dict[str, tuple[Any, Any]],
    ) -> None:
        """One field: parsed as at creation, set, and recorded if it changed."""
        new = EDITABLE[entity][f](raw, f"{entity} {f}")
        if f in ("dot", "setup"):
            old, new = self._resolve_special(s, obj, f, new)
        else:
            old = getattr(target, f)
            setattr(target, f, new)
        if _json(old) != _json(new):
            done[f] = (_plain(old), _plain(new))
            self._audit(s, "update", entity, obj.id, label, field=f, old=old, new=new, reason=reason)

    def _resolve_special(self, s: Session, m: Measurement, f: str, new: Any) -> tuple[Any, Any]:
        """A measurement's dot or setup, by label/name: (old label, new label), the id set."""
        if f == "dot":
            sp = s.get(Specimen, m.specimen_id)
            assert sp is not None
            old = s.get(Dot, m.dot_id).label if m.dot_id is not None else None  # type: ignore[union-attr]
            m.dot_id = self._get_dot(s, sp, new).id
            return old, new
        old_setup = s.get(Setup, m.setup_id).name if m.setup_id is not None else None  # type: ignore[union-attr]
        m.setup_id = self._get_setup(s, new).id
        return old_setup, new

    @staticmethod
    def _settings_of(s: Session, m: Measurement) -> InstrumentSettings:
        st = s.get(InstrumentSettings, m.id)
        if st is None:
            st = InstrumentSettings(measurement_id=m.id, snapshot={})
            s.add(st)
        return st

    @staticmethod
    def _asset_of(s: Session, m: Measurement) -> RawAsset:
        a = s.scalar(select(RawAsset).where(RawAsset.measurement_id == m.id))
        if a is None:
            raise InvalidValueError(f"measurement {m.id} has no raw data whose nanotime unit could change")
        if not a.has_nanotimes:
            raise InvalidValueError(f"measurement {m.id} holds no nanotimes; it has no nanotime resolution")
        return a

    @staticmethod
    def _unique(s: Session, model: Any, where: Any, own_id: int, what: str) -> None:
        with s.no_autoflush:  # ask before the change is written, not by writing it
            taken = s.scalar(select(model.id).where(where, model.id != own_id)) is not None
        if taken:
            raise AlreadyExistsError(f"{what} already exists; pick another")

    # -- history -----------------------------------------------------------------
    def history(
        self,
        *,
        entity: str | None = None,
        entity_id: int | None = None,
        action: str | None = None,
        limit: int = 200,
    ) -> list[AuditRecord]:
        """The newest changes first (``entity``: sample, specimen, dot, setup, measurement, result)."""
        q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, int(limit)))
        if entity is not None:
            known = ("sample", "specimen", "dot", "setup", "measurement", "result")
            if entity not in known:
                raise InvalidValueError(f"entity {entity!r} is not one of {', '.join(known)}")
            q = q.where(AuditEvent.entity == entity)
        if entity_id is not None:
            q = q.where(AuditEvent.entity_id == parse_id(entity_id, entity or "entity"))
        if action is not None:
            q = q.where(AuditEvent.action == action)
        with self.session() as s:
            return [_audit_record(e) for e in s.scalars(q)]


def _audit_record(e: AuditEvent) -> AuditRecord:
    return AuditRecord(
        id=e.id,
        at=e.at,
        who=e.who,
        action=e.action,
        entity=e.entity,
        entity_id=e.entity_id,
        entity_label=e.entity_label,
        field=e.field,
        old=json.loads(e.old_value) if e.old_value is not None else None,
        new=json.loads(e.new_value) if e.new_value is not None else None,
        reason=e.reason,
    )


def _flush(s: Session, what: str) -> None:
    """Write the edit; a rule of the catalog it breaks is one clear line (nothing is changed)."""
    try:
        s.flush()
    except sa_exc.IntegrityError as exc:
        rule = str(exc.orig).split(":")[-1].strip() or "a constraint"
        raise InvalidValueError(
            f"{what}: the change breaks a rule of the catalog ({rule}); nothing changed"
        ) from None


def _check_sample(obj: Sample) -> None:
    core, total = obj.core_diameter_nm, obj.total_diameter_nm
    if core is not None and total is not None and total < core:
        raise InvalidValueError(f"total_diameter_nm {total:g} is smaller than core_diameter_nm {core:g}")


def _check_dot(obj: Dot) -> None:
    if (obj.marker_dx_um is None) != (obj.marker_dy_um is None):
        raise InvalidValueError(f"dot {obj.label!r}: give both marker_dx_um and marker_dy_um, or neither")
    if obj.marker_dx_um is not None and not obj.marker_label:
        raise InvalidValueError(f"dot {obj.label!r}: a marker offset needs marker_label")
