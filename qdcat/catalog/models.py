"""SQLAlchemy models of the catalog: what a single-dot lab records.

Ownership runs sample → specimen → dot → measurement → raw asset. Foreign keys
along that chain are ``ON DELETE RESTRICT``: the database refuses to drop a
sample that still has measurements, because raw data in the store would be
orphaned silently. Deleting with children is the job of
:meth:`qdcat.catalog.api.Catalog.delete_sample` (and friends), which removes rows
and raw data together. Only pure metadata that lives and dies with its owner
(instrument settings, setup channels, analysis-run inputs) cascades.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from qdcat.catalog import validate as _validate
from qdcat.catalog.types import JSONType, UTCDateTime, utcnow

# Deterministic constraint names: Alembic can then compare, alter and drop them
# identically on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK rather than a native PostgreSQL ENUM: adding a
    # member later is then a plain constraint change on both backends.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class SpecimenPurpose(enum.StrEnum):
    ENSEMBLE = "ensemble"  # spin-coated film, ensemble spectroscopy
    SINGLE_DOT = "single_dot"  # dilute deposition, individual emitters


class ChannelRole(enum.StrEnum):
    HBT_A = "hbt_a"
    HBT_B = "hbt_b"
    SYNC = "sync"
    MARKER = "marker"
    DETECTOR = "detector"  # any other photon detector


class MeasurementKind(enum.StrEnum):
    SPECTRUM = "spectrum"
    DECAY = "decay"
    G2_CW = "g2_cw"
    G2_PULSED = "g2_pulsed"
    INTENSITY_TRACE = "intensity_trace"
    BACKGROUND_TRACE = "background_trace"
    POWER_SERIES_POINT = "power_series_point"
    SATURATION_POINT = "saturation_point"
    ENSEMBLE_SPECTRUM = "ensemble_spectrum"
    TRANSIENT_ABSORPTION = "transient_absorption"


class ExcitationMode(enum.StrEnum):
    CW = "cw"
    PULSED = "pulsed"


class AssetState(enum.StrEnum):
    PENDING = "pending"  # being written; invisible to queries; collected if abandoned
    COMMITTED = "committed"  # immutable, checksummed, owned by a measurement
    DELETING = "deleting"  # rows gone, store data being removed
    TRASHED = "trashed"  # its measurement deleted; kept (with a record of it) until the trash is emptied


class DataKind(enum.StrEnum):
    TIMETAGS = "timetags"  # timestamps_ps, channels (+ nanotimes)
    SPECTRUM = "spectrum"  # wavelength_nm, counts
    CURVE = "curve"  # generic x/y (ensemble curves, TA decays)


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STALE = "stale"


class Sample(Base):
    """One synthesis batch of quantum dots."""

    __tablename__ = "sample"
    __table_args__ = (
        CheckConstraint("core_diameter_nm IS NULL OR core_diameter_nm > 0", name="core_diameter_positive"),
        CheckConstraint("total_diameter_nm IS NULL OR total_diameter_nm > 0", name="total_diameter_positive"),
        CheckConstraint(
            "core_diameter_nm IS NULL OR total_diameter_nm IS NULL OR total_diameter_nm >= core_diameter_nm",
            name="shell_not_negative",
        ),
        CheckConstraint(
            "plqy_fraction IS NULL OR (plqy_fraction >= 0 AND plqy_fraction <= 1)", name="plqy_fraction_range"
        ),
        CheckConstraint("abs_max_nm IS NULL OR abs_max_nm > 0", name="abs_max_positive"),
        CheckConstraint("pl_peak_nm IS NULL OR pl_peak_nm > 0", name="pl_peak_positive"),
        CheckConstraint("pl_fwhm_nm IS NULL OR pl_fwhm_nm > 0", name="pl_fwhm_positive"),
        CheckConstraint(
            "decay_rate_solution_per_us IS NULL OR decay_rate_solution_per_us > 0",
            name="decay_rate_positive",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    material: Mapped[str] = mapped_column(String(64), index=True)
    core_diameter_nm: Mapped[float | None] = mapped_column(Float)
    total_diameter_nm: Mapped[float | None] = mapped_column(Float)
    synthesis_reference: Mapped[str | None] = mapped_column(Text)
    synthesized_on: Mapped[dt.date | None] = mapped_column(Date)
    abs_max_nm: Mapped[float | None] = mapped_column(Float)
    pl_peak_nm: Mapped[float | None] = mapped_column(Float)
    pl_fwhm_nm: Mapped[float | None] = mapped_column(Float)
    plqy_fraction: Mapped[float | None] = mapped_column(Float)
    decay_rate_solution_per_us: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    specimens: Mapped[list[Specimen]] = relationship(back_populates="sample", passive_deletes="all")


class Specimen(Base):
    """A sample put on a substrate: an ensemble film or a dilute single-dot deposition."""

    __tablename__ = "specimen"
    __table_args__ = (
        CheckConstraint(
            "concentration_nmol_l IS NULL OR concentration_nmol_l > 0", name="concentration_positive"
        ),
        CheckConstraint(
            "surface_density_per_um2 IS NULL OR surface_density_per_um2 >= 0",
            name="surface_density_nonnegative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id", ondelete="RESTRICT"), index=True)
    purpose: Mapped[SpecimenPurpose] = mapped_column(_enum(SpecimenPurpose, "specimen_purpose"))
    preparation_method: Mapped[str | None] = mapped_column(String(100))
    concentration_nmol_l: Mapped[float | None] = mapped_column(Float)
    solvent: Mapped[str | None] = mapped_column(String(64))
    substrate: Mapped[str | None] = mapped_column(String(100))
    surface_density_per_um2: Mapped[float | None] = mapped_column(Float)
    prepared_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="specimens")
    dots: Mapped[list[Dot]] = relationship(back_populates="specimen", passive_deletes="all")


class Dot(Base):
    """One emitter on a specimen, at a stage position; revisited across sessions."""

    __tablename__ = "dot"
    __table_args__ = (
        UniqueConstraint("specimen_id", "label"),
        # Target of measurement's composite key: a measurement's dot must sit on
        # the measurement's specimen.
        UniqueConstraint("id", "specimen_id"),
        CheckConstraint("(marker_dx_um IS NULL) = (marker_dy_um IS NULL)", name="marker_offset_complete"),
        CheckConstraint(
            "marker_label IS NOT NULL OR marker_dx_um IS NULL", name="marker_offset_needs_marker"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("specimen.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    x_um: Mapped[float] = mapped_column(Float)
    y_um: Mapped[float] = mapped_column(Float)
    z_um: Mapped[float | None] = mapped_column(Float)
    marker_label: Mapped[str | None] = mapped_column(String(64))
    marker_dx_um: Mapped[float | None] = mapped_column(Float)
    marker_dy_um: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    specimen: Mapped[Specimen] = relationship(back_populates="dots")


class Setup(Base):
    """An instrument: time tagger, detectors with their channel roles, spectrometer."""

    __tablename__ = "setup"
    __table_args__ = (
        CheckConstraint(
            "time_tagger_resolution_ps IS NULL OR time_tagger_resolution_ps > 0", name="resolution_positive"
        ),
        CheckConstraint(
            "ccd_read_noise_counts IS NULL OR ccd_read_noise_counts >= 0", name="read_noise_nonneg"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    time_tagger_model: Mapped[str | None] = mapped_column(String(100))
    time_tagger_resolution_ps: Mapped[float | None] = mapped_column(Float)
    spectrometer: Mapped[str | None] = mapped_column(String(200))
    # Facts of the camera that the spectrum fit's noise model needs (NULL: estimated from the data).
    ccd_offset_counts: Mapped[float | None] = mapped_column(Float)
    ccd_read_noise_counts: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    channels: Mapped[list[SetupChannel]] = relationship(
        back_populates="setup", cascade="all, delete-orphan", order_by="SetupChannel.channel"
    )


class SetupChannel(Base):
    """What is plugged into one time-tagger input of a setup."""

    __tablename__ = "setup_channel"
    __table_args__ = (
        CheckConstraint("channel >= 0 AND channel <= 255", name="channel_range"),
        CheckConstraint("dark_count_rate_cps IS NULL OR dark_count_rate_cps >= 0", name="dark_rate_nonneg"),
        CheckConstraint("timing_jitter_ps IS NULL OR timing_jitter_ps >= 0", name="jitter_nonneg"),
    )

    setup_id: Mapped[int] = mapped_column(ForeignKey("setup.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[ChannelRole] = mapped_column(_enum(ChannelRole, "channel_role"))
    detector: Mapped[str | None] = mapped_column(String(100))
    # The detector's dark count rate (laser off) and timing jitter (FWHM), when known.
    dark_count_rate_cps: Mapped[float | None] = mapped_column(Float)
    timing_jitter_ps: Mapped[float | None] = mapped_column(Float)

    setup: Mapped[Setup] = relationship(back_populates="channels")


class Measurement(Base):
    """One acquisition on a dot, or on a specimen for ensemble work."""

    __tablename__ = "measurement"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dot_id", "specimen_id"],
            ["dot.id", "dot.specimen_id"],
            ondelete="RESTRICT",
            name="fk_measurement_dot_on_specimen",
        ),
        CheckConstraint("duration_s IS NULL OR duration_s >= 0", name="duration_nonnegative"),
        CheckConstraint("(series_name IS NULL) = (series_index IS NULL)", name="series_complete"),
        Index("ix_measurement_series", "series_name", "series_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MeasurementKind] = mapped_column(_enum(MeasurementKind, "measurement_kind"), index=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("specimen.id", ondelete="RESTRICT"), index=True)
    dot_id: Mapped[int | None] = mapped_column(Integer, index=True)
    setup_id: Mapped[int | None] = mapped_column(ForeignKey("setup.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    operator: Mapped[str | None] = mapped_column(String(100))
    series_name: Mapped[str | None] = mapped_column(String(100))
    series_index: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    specimen: Mapped[Specimen] = relationship()
    dot: Mapped[Dot | None] = relationship(viewonly=True, primaryjoin="Measurement.dot_id == Dot.id")
    setup: Mapped[Setup | None] = relationship()
    settings: Mapped[InstrumentSettings | None] = relationship(
        back_populates="measurement", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    asset: Mapped[RawAsset | None] = relationship(back_populates="measurement", uselist=False)


class InstrumentSettings(Base):
    """How the setup was set for one measurement.

    The settings a population query filters on are typed, indexed columns;
    ``snapshot`` keeps everything else (file header tags included) so two
    measurements' settings can be diffed.
    """

    __tablename__ = "instrument_settings"
    __table_args__ = (
        CheckConstraint(
            "excitation_wavelength_nm IS NULL OR excitation_wavelength_nm > 0", name="wavelength_positive"
        ),
        CheckConstraint("repetition_rate_mhz IS NULL OR repetition_rate_mhz > 0", name="rep_rate_positive"),
        CheckConstraint(
            "excitation_mode IS NULL OR excitation_mode = 'pulsed' OR repetition_rate_mhz IS NULL",
            name="cw_has_no_rep_rate",
        ),
        CheckConstraint("intensity_w_cm2 IS NULL OR intensity_w_cm2 >= 0", name="intensity_nonnegative"),
        CheckConstraint("temperature_k IS NULL OR temperature_k > 0", name="temperature_positive"),
        CheckConstraint("integration_time_s IS NULL OR integration_time_s > 0", name="integration_positive"),
    )

    measurement_id: Mapped[int] = mapped_column(
        ForeignKey("measurement.id", ondelete="CASCADE"), primary_key=True
    )
    excitation_wavelength_nm: Mapped[float | None] = mapped_column(Float, index=True)
    excitation_mode: Mapped[ExcitationMode | None] = mapped_column(
        _enum(ExcitationMode, "excitation_mode"), index=True
    )
    repetition_rate_mhz: Mapped[float | None] = mapped_column(Float, index=True)
    intensity_w_cm2: Mapped[float | None] = mapped_column(Float, index=True)
    temperature_k: Mapped[float | None] = mapped_column(Float, index=True)
    integration_time_s: Mapped[float | None] = mapped_column(Float, index=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    measurement: Mapped[Measurement] = relationship(back_populates="settings")


class RawAsset(Base):
    """The raw data a measurement owns, in the store, with its checksums.

    The row is written *before* the store data (state ``pending``) so that an
    interrupted write can always be found and cleaned up; it becomes
    ``committed`` together with its measurement in one transaction.
    """

    __tablename__ = "raw_asset"
    __table_args__ = (
        CheckConstraint(
            "state <> 'committed' OR (measurement_id IS NOT NULL AND data_sha256 IS NOT NULL "
            "AND committed_at IS NOT NULL)",
            name="committed_complete",
        ),
        CheckConstraint("event_count IS NULL OR event_count >= 0", name="event_count_nonnegative"),
        CheckConstraint("resolution_ps IS NULL OR resolution_ps > 0", name="resolution_positive"),
        # The same source file can be in the catalog only once.
        Index(
            "uq_raw_asset_source_sha256_committed",
            "source_sha256",
            unique=True,
            sqlite_where=text("state = 'committed'"),
            postgresql_where=text("state = 'committed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measurement_id: Mapped[int | None] = mapped_column(
        ForeignKey("measurement.id", ondelete="RESTRICT"), unique=True
    )
    state: Mapped[AssetState] = mapped_column(_enum(AssetState, "asset_state"), index=True)
    data_kind: Mapped[DataKind] = mapped_column(_enum(DataKind, "data_kind"))
    store_path: Mapped[str] = mapped_column(String(200), unique=True)
    source_filename: Mapped[str | None] = mapped_column(String(500))
    source_format: Mapped[str | None] = mapped_column(String(32))
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    source_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    event_count: Mapped[int | None] = mapped_column(BigInteger)
    channel_counts: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    resolution_ps: Mapped[float | None] = mapped_column(Float)
    nanotime_resolution_ps: Mapped[float | None] = mapped_column(Float)
    has_nanotimes: Mapped[bool] = mapped_column(default=False)
    data_sha256: Mapped[str | None] = mapped_column(String(64))
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # Who is writing a pending asset: lets `qdcat gc` on that host tell a
    # crashed writer (pid gone) from a slow one.
    writer_host: Mapped[str | None] = mapped_column(String(255))
    writer_pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    committed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # In the trash: when, and the deleted measurement as it was (names, settings), so that
    # `qdcat trash restore` can bring it back; `qdcat gc` empties it after the retention.
    trashed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    trash_record: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    measurement: Mapped[Measurement | None] = relationship(back_populates="asset")


class AnalysisRun(Base):
    """Provenance of one analysis over one or more measurements.

    ``(analysis, analysis_version, params_hash, inputs_hash)`` is unique, so the
    same analysis on the same inputs with the same parameters exists once.
    """

    __tablename__ = "analysis_run"
    __table_args__ = (
        UniqueConstraint(
            "analysis", "analysis_version", "params_hash", "inputs_hash", name="uq_analysis_run_identity"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_analysis_run_status_lease", "status", "lease_expires_at"),
        # At most one current run per analysis and target: queries read these.
        Index(
            "uq_analysis_run_current",
            "analysis",
            "target_key",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis: Mapped[str] = mapped_column(String(64), index=True)
    analysis_version: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    params_hash: Mapped[str] = mapped_column(String(64))
    inputs_hash: Mapped[str] = mapped_column(String(64))
    input_checksums: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    qdcat_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    # What the run is about: "measurement:17", "series:3:PS-QD001"; runs of one
    # analysis on one target are versions of the same answer.
    target_key: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    # The run queries see for its (analysis, target): the newest done run whose
    # inputs are unchanged. Set in the transaction that writes its results.
    is_current: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Random token of the claim being worked on: a worker that lost its lease
    # cannot write results over the one that took the job over.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Derived arrays (histograms, traces, P(t)) in the store, written before the
    # results transaction; gc removes any that no run references.
    arrays_path: Mapped[str | None] = mapped_column(String(255))

    inputs: Mapped[list[AnalysisRunInput]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class AnalysisRunInput(Base):
    """Which measurements an analysis run read (a power series reads several)."""

    __tablename__ = "analysis_run_input"

    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id", ondelete="CASCADE"), primary_key=True)
    measurement_id: Mapped[int] = mapped_column(
        ForeignKey("measurement.id", ondelete="RESTRICT"), primary_key=True, index=True
    )

    run: Mapped[AnalysisRun] = relationship(back_populates="inputs")


class MeasurementParams(Base):
    """Analysis parameters kept for one measurement (a fit window for an odd decay, say).

    The planner uses them for that measurement's runs of that analysis, over the defaults
    and over parameters given for a whole batch (``qdcat analyze --param``).
    """

    __tablename__ = "measurement_params"

    measurement_id: Mapped[int] = mapped_column(
        ForeignKey("measurement.id", ondelete="CASCADE"), primary_key=True
    )
    analysis: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    who: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CuratedEntity(enum.StrEnum):
    """What a tag or an exclusion can mark."""

    DOT = "dot"
    MEASUREMENT = "measurement"
    RESULT = "result"  # an analysis run's result


class AuditEvent(Base):
    """One change to the catalog: who, when, what (entity, field, old → new) and why.

    Written in the transaction of the change itself, so a change and its record
    land together or not at all. Values are JSON text (a number, a text, null).
    ``entity_id`` stays after the entity is deleted: the history outlives it.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(
        String(16), index=True
    )  # update, delete, tag, untag, exclude, include
    entity: Mapped[str] = mapped_column(String(16))  # sample, specimen, dot, setup, measurement, result
    entity_id: Mapped[int] = mapped_column(Integer)
    entity_label: Mapped[str] = mapped_column(String(255))  # "slide-1/QD001", "measurement 17"
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class Tag(Base):
    """A label a lab puts on a dot, a measurement or a result ("Fig. 3 dot", "batch 2")."""

    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("entity", "entity_id", "tag", name="uq_tag_entity_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[CuratedEntity] = mapped_column(_enum(CuratedEntity, "curated_entity"))
    entity_id: Mapped[int] = mapped_column(Integer)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    who: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Exclusion(Base):
    """A dot, measurement or result left out of population answers, with why, who and when."""

    __tablename__ = "exclusion"
    __table_args__ = (UniqueConstraint("entity", "entity_id", name="uq_exclusion_entity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[CuratedEntity] = mapped_column(_enum(CuratedEntity, "curated_entity"))
    entity_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Result tables (``result_<analysis>``) are declared with their analyses, in
# ``qdcat/analyses/<name>.py``, on this same metadata: ``qdcat.analyses.metadata()``
# is the whole schema.


# Every ORM row is checked against its columns before it is written (see validate.py).
_validate.install(Base)
