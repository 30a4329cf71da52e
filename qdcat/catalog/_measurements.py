"""Measurements: resolving names into rows, listing and showing them, and deleting them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from qdcat._json import jsonable
from qdcat.catalog import current
from qdcat.catalog._base import CatalogBase, columns_of
from qdcat.catalog._base import plain_value as _plain
from qdcat.catalog._parse import parse_datetime, parse_enum, parse_float
from qdcat.catalog._specs import MeasurementSpec, SettingsSpec
from qdcat.catalog.models import (
    AnalysisRun,
    AnalysisRunInput,
    AssetState,
    CuratedEntity,
    Dot,
    ExcitationMode,
    Exclusion,
    InstrumentSettings,
    Measurement,
    MeasurementKind,
    RawAsset,
    Sample,
    Setup,
    Specimen,
    Tag,
)
from qdcat.catalog.records import (
    DeletionImpact,
    MeasurementRecord,
    MeasurementRef,
    MeasurementSummary,
    RawAssetRecord,
    SettingsRecord,
)
from qdcat.catalog.types import utcnow
from qdcat.errors import InvalidValueError


class MeasurementsMixin(CatalogBase):
    """Measurements and their deletion."""

    def _resolve_measurement(self, s: Session, spec: MeasurementSpec) -> Measurement:
        kind = parse_enum(MeasurementKind, spec.kind, "measurement kind")
        sp = self._get_specimen(s, spec.specimen)
        dot = self._get_dot(s, sp, spec.dot) if spec.dot else None
        setup = self._get_setup(s, spec.setup) if spec.setup else None
        if (spec.series_name is None) != (spec.series_index is None):
            raise InvalidValueError("give both series_name and series_index, or neither")
        m = Measurement(
            kind=kind,
            specimen_id=sp.id,
            dot_id=dot.id if dot else None,
            setup_id=setup.id if setup else None,
            label=spec.label,
            started_at=parse_datetime(spec.started_at, "started_at"),
            duration_s=parse_float(spec.duration_s, "duration_s", nonnegative=True),
            operator=spec.operator,
            series_name=spec.series_name,
            series_index=spec.series_index,
            notes=spec.notes,
        )
        if spec.settings is not None:
            m.settings = _resolve_settings(spec.settings)
        return m

    def add_measurement(self, spec: MeasurementSpec) -> MeasurementRef:
        """A measurement without raw data (results entered by hand, or data to come)."""
        with self.session() as s:
            m = self._resolve_measurement(s, spec)
            s.add(m)
            s.flush()
            return MeasurementRef(id=m.id, kind=m.kind)

    def find_by_source(self, sha256: str) -> int | None:
        """The measurement that already holds the file with this checksum, if any."""
        with self.session() as s:
            return s.scalar(
                select(RawAsset.measurement_id).where(
                    RawAsset.source_sha256 == sha256, RawAsset.state == AssetState.COMMITTED
                )
            )

    def list_measurements(
        self,
        *,
        sample: str | None = None,
        specimen: str | None = None,
        dot: str | None = None,
        kind: MeasurementKind | str | None = None,
        limit: int | None = None,
    ) -> list[MeasurementSummary]:
        with self.session() as s:
            q = _measurement_rows()
            if sample is not None:
                q = q.where(Specimen.sample_id == self._get_sample(s, sample).id)
            if specimen is not None:
                q = q.where(Measurement.specimen_id == self._get_specimen(s, specimen).id)
            if dot is not None:
                if specimen is None:
                    raise InvalidValueError("--dot needs --specimen (dot labels are unique per specimen)")
                q = q.where(Measurement.dot_id == self._get_dot(s, self._get_specimen(s, specimen), dot).id)
            if kind is not None:
                q = q.where(Measurement.kind == parse_enum(MeasurementKind, kind, "measurement kind"))
            if limit is not None:
                q = q.limit(limit)
            return [
                MeasurementSummary(
                    id=m.id,
                    kind=m.kind,
                    sample=smp_name,
                    specimen=sp_name,
                    dot=dot_label,
                    setup=setup_name,
                    started_at=m.started_at,
                    duration_s=m.duration_s,
                    excitation_mode=st.excitation_mode if st else None,
                    intensity_w_cm2=st.intensity_w_cm2 if st else None,
                    event_count=asset.event_count if asset else None,
                    source_filename=asset.source_filename if asset else None,
                )
                for m, sp_name, smp_name, dot_label, asset, st, setup_name in s.execute(q).all()
            ]

    def get_measurement(self, measurement_id: int) -> MeasurementRecord:
        with self.session() as s:
            m = self._get_measurement(s, measurement_id)
            sp = s.get(Specimen, m.specimen_id)
            assert sp is not None
            st = s.get(InstrumentSettings, m.id)
            asset = s.scalar(
                select(RawAsset).where(
                    RawAsset.measurement_id == m.id, RawAsset.state == AssetState.COMMITTED
                )
            )
            return MeasurementRecord(
                **columns_of(m, MeasurementRecord),
                specimen=sp.name,
                sample=s.get(Sample, sp.sample_id).name,  # type: ignore[union-attr]
                dot=s.get(Dot, m.dot_id).label if m.dot_id else None,  # type: ignore[union-attr]
                setup=s.get(Setup, m.setup_id).name if m.setup_id else None,  # type: ignore[union-attr]
                settings=SettingsRecord(**columns_of(st, SettingsRecord)) if st else None,
                raw_data=RawAssetRecord(**columns_of(asset, RawAssetRecord)) if asset else None,
            )

    # -- deletion ----------------------------------------------------------------
    def _delete_measurements(self, s: Session, ids: Sequence[int], *, reason: str | None = None) -> list[int]:
        """Delete measurements and their analysis runs; mark their assets for removal."""
        if not ids:
            return []
        run_ids = s.scalars(
            select(AnalysisRunInput.run_id).where(AnalysisRunInput.measurement_id.in_(ids)).distinct()
        ).all()
        dot_ids = s.scalars(select(Measurement.dot_id).where(Measurement.id.in_(ids)).distinct()).all()
        for run in s.scalars(select(AnalysisRun).where(AnalysisRun.id.in_(run_ids))):
            s.delete(run)
        s.flush()
        # Their tags and exclusions go with them (the history keeps them): an id SQLite hands
        # out again must not inherit them.
        self._drop_curation(s, CuratedEntity.RESULT, run_ids)
        self._drop_curation(s, CuratedEntity.MEASUREMENT, ids)
        # Another current result of these dots may now stand for them in the dots view.
        for table in current.result_tables():
            current.refresh(s, table, dot_ids)
        assets = s.scalars(select(RawAsset).where(RawAsset.measurement_id.in_(ids))).all()
        records = {
            m.id: self._trash_record(s, m, reason)
            for m in s.scalars(select(Measurement).where(Measurement.id.in_(ids)))
        }
        for a in assets:
            # To the trash (kept until `qdcat gc` empties it after the retention period);
            # pending or unfinished assets are removed outright.
            if a.state is AssetState.COMMITTED and a.measurement_id in records:
                a.state, a.trashed_at = AssetState.TRASHED, utcnow()
                a.trash_record = records[a.measurement_id]
            else:
                a.state = AssetState.DELETING
            a.measurement_id = None
        s.flush()
        for m in s.scalars(select(Measurement).where(Measurement.id.in_(ids))):
            self._audit(
                s, "delete", "measurement", m.id, f"measurement {m.id} ({m.kind.value})", reason=reason
            )
            s.delete(m)
        s.flush()
        return [a.id for a in assets]

    @staticmethod
    def _drop_curation(s: Session, entity: CuratedEntity, ids: Sequence[int]) -> None:
        if ids:
            for model in (Tag, Exclusion):
                s.execute(delete(model).where(model.entity == entity, model.entity_id.in_(list(ids))))

    def _trash_record(self, s: Session, m: Measurement, reason: str | None) -> dict[str, Any]:
        """What `qdcat trash restore` needs to bring a deleted measurement back (names, not ids)."""
        sp = s.get(Specimen, m.specimen_id)
        st = s.get(InstrumentSettings, m.id)
        settings = {c: _plain(getattr(st, c)) for c in _SETTINGS_FIELDS} if st is not None else {}
        if st is not None:
            settings["snapshot"] = st.snapshot
        return {
            "measurement_id": m.id,
            "kind": m.kind.value,
            "specimen": sp.name if sp else None,
            "dot": s.get(Dot, m.dot_id).label if m.dot_id else None,  # type: ignore[union-attr]
            "setup": s.get(Setup, m.setup_id).name if m.setup_id else None,  # type: ignore[union-attr]
            **{c: _plain(getattr(m, c)) for c in _MEASUREMENT_FIELDS},
            "settings": settings,
            "deleted_by": self.user,
            "reason": reason,
        }

    def deletion_impact(self, *, sample: str | None = None, specimen: str | None = None) -> DeletionImpact:
        with self.session() as s:
            if sample is not None:
                spec_ids = s.scalars(
                    select(Specimen.id).where(Specimen.sample_id == self._get_sample(s, sample).id)
                ).all()
            elif specimen is not None:
                spec_ids = [self._get_specimen(s, specimen).id]
            else:
                raise InvalidValueError("give sample or specimen")
            m_ids = s.scalars(select(Measurement.id).where(Measurement.specimen_id.in_(spec_ids))).all()
            stored = s.scalar(
                select(func.coalesce(func.sum(RawAsset.stored_bytes), 0)).where(
                    RawAsset.measurement_id.in_(m_ids)
                )
            )
            return DeletionImpact(
                specimens=len(spec_ids),
                dots=s.scalar(select(func.count(Dot.id)).where(Dot.specimen_id.in_(spec_ids))) or 0,
                measurements=len(m_ids),
                raw_bytes=int(stored or 0),
            )

    def delete_measurement(self, measurement_id: int, *, reason: str | None = None) -> None:
        with self.session() as s:
            self._get_measurement(s, measurement_id)
            asset_ids = self._delete_measurements(s, [int(measurement_id)], reason=reason)
        self._purge_deleting(asset_ids)


def _resolve_settings(st: SettingsSpec) -> InstrumentSettings:
    mode = parse_enum(ExcitationMode, st.excitation_mode, "excitation mode") if st.excitation_mode else None
    rep = parse_float(st.repetition_rate_mhz, "repetition_rate_mhz", positive=True)
    if mode is ExcitationMode.CW and rep is not None:
        raise InvalidValueError(
            "cw excitation has no repetition rate; drop repetition_rate_mhz or use pulsed"
        )
    return InstrumentSettings(
        excitation_wavelength_nm=parse_float(
            st.excitation_wavelength_nm, "excitation_wavelength_nm", positive=True
        ),
        excitation_mode=mode,
        repetition_rate_mhz=rep,
        intensity_w_cm2=parse_float(st.intensity_w_cm2, "intensity_w_cm2", nonnegative=True),
        temperature_k=parse_float(st.temperature_k, "temperature_k", positive=True),
        integration_time_s=parse_float(st.integration_time_s, "integration_time_s", positive=True),
        snapshot=jsonable(dict(st.snapshot)),
    )


def _measurement_rows() -> Select[Measurement, str, str, str, RawAsset, InstrumentSettings, str]:
    """Every measurement with its names, settings and committed raw data, by id."""
    return (
        select(Measurement, Specimen.name, Sample.name, Dot.label, RawAsset, InstrumentSettings, Setup.name)
        .join(Specimen, Measurement.specimen_id == Specimen.id)
        .join(Sample, Specimen.sample_id == Sample.id)
        .outerjoin(Dot, Measurement.dot_id == Dot.id)
        .outerjoin(
            RawAsset,
            (RawAsset.measurement_id == Measurement.id) & (RawAsset.state == AssetState.COMMITTED),
        )
        .outerjoin(InstrumentSettings, InstrumentSettings.measurement_id == Measurement.id)
        .outerjoin(Setup, Measurement.setup_id == Setup.id)
        .order_by(Measurement.id)
    )


_MEASUREMENT_FIELDS = (
    "label", "started_at", "duration_s", "operator", "series_name", "series_index", "notes",
)  # fmt: skip
_SETTINGS_FIELDS = (
    "excitation_wavelength_nm", "excitation_mode", "repetition_rate_mhz", "intensity_w_cm2",
    "temperature_k", "integration_time_s",
)  # fmt: skip
