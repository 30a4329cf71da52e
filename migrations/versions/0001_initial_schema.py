"""Initial schema: samples, specimens, dots, setups, measurements, settings, raw assets, analysis runs.

Generated from the models with autogenerate, then reviewed by hand (tz-aware
timestamps as plain DateTime(timezone=True), JSONB on PostgreSQL).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis", sa.String(length=64), nullable=False),
        sa.Column("analysis_version", sa.String(length=32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("params_hash", sa.String(length=64), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "input_checksums",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("qdcat_version", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                "stale",
                name="run_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_analysis_run_attempts_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_run")),
        sa.UniqueConstraint(
            "analysis",
            "analysis_version",
            "params_hash",
            "inputs_hash",
            name="uq_analysis_run_identity",
        ),
    )
    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_run_analysis"), ["analysis"], unique=False)
        batch_op.create_index("ix_analysis_run_status_lease", ["status", "lease_expires_at"], unique=False)

    op.create_table(
        "sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("core_diameter_nm", sa.Float(), nullable=True),
        sa.Column("total_diameter_nm", sa.Float(), nullable=True),
        sa.Column("synthesis_reference", sa.Text(), nullable=True),
        sa.Column("synthesized_on", sa.Date(), nullable=True),
        sa.Column("abs_max_nm", sa.Float(), nullable=True),
        sa.Column("pl_peak_nm", sa.Float(), nullable=True),
        sa.Column("pl_fwhm_nm", sa.Float(), nullable=True),
        sa.Column("plqy_fraction", sa.Float(), nullable=True),
        sa.Column("decay_rate_solution_per_us", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("abs_max_nm IS NULL OR abs_max_nm > 0", name=op.f("ck_sample_abs_max_positive")),
        sa.CheckConstraint(
            "core_diameter_nm IS NULL OR core_diameter_nm > 0",
            name=op.f("ck_sample_core_diameter_positive"),
        ),
        sa.CheckConstraint(
            "core_diameter_nm IS NULL OR total_diameter_nm IS NULL OR total_diameter_nm >= core_diameter_nm",
            name=op.f("ck_sample_shell_not_negative"),
        ),
        sa.CheckConstraint(
            "decay_rate_solution_per_us IS NULL OR decay_rate_solution_per_us > 0",
            name=op.f("ck_sample_decay_rate_positive"),
        ),
        sa.CheckConstraint("pl_fwhm_nm IS NULL OR pl_fwhm_nm > 0", name=op.f("ck_sample_pl_fwhm_positive")),
        sa.CheckConstraint("pl_peak_nm IS NULL OR pl_peak_nm > 0", name=op.f("ck_sample_pl_peak_positive")),
        sa.CheckConstraint(
            "plqy_fraction IS NULL OR (plqy_fraction >= 0 AND plqy_fraction <= 1)",
            name=op.f("ck_sample_plqy_fraction_range"),
        ),
        sa.CheckConstraint(
            "total_diameter_nm IS NULL OR total_diameter_nm > 0",
            name=op.f("ck_sample_total_diameter_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample")),
        sa.UniqueConstraint("name", name=op.f("uq_sample_name")),
    )
    with op.batch_alter_table("sample", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_material"), ["material"], unique=False)

    op.create_table(
        "setup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("time_tagger_model", sa.String(length=100), nullable=True),
        sa.Column("time_tagger_resolution_ps", sa.Float(), nullable=True),
        sa.Column("spectrometer", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "time_tagger_resolution_ps IS NULL OR time_tagger_resolution_ps > 0",
            name=op.f("ck_setup_resolution_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup")),
        sa.UniqueConstraint("name", name=op.f("uq_setup_name")),
    )
    op.create_table(
        "setup_channel",
        sa.Column("setup_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "hbt_a",
                "hbt_b",
                "sync",
                "marker",
                "detector",
                name="channel_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("detector", sa.String(length=100), nullable=True),
        sa.CheckConstraint("channel >= 0 AND channel <= 255", name=op.f("ck_setup_channel_channel_range")),
        sa.ForeignKeyConstraint(
            ["setup_id"],
            ["setup.id"],
            name=op.f("fk_setup_channel_setup_id_setup"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("setup_id", "channel", name=op.f("pk_setup_channel")),
    )
    op.create_table(
        "specimen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "ensemble",
                "single_dot",
                name="specimen_purpose",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("preparation_method", sa.String(length=100), nullable=True),
        sa.Column("concentration_nmol_l", sa.Float(), nullable=True),
        sa.Column("solvent", sa.String(length=64), nullable=True),
        sa.Column("substrate", sa.String(length=100), nullable=True),
        sa.Column("surface_density_per_um2", sa.Float(), nullable=True),
        sa.Column("prepared_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "concentration_nmol_l IS NULL OR concentration_nmol_l > 0",
            name=op.f("ck_specimen_concentration_positive"),
        ),
        sa.CheckConstraint(
            "surface_density_per_um2 IS NULL OR surface_density_per_um2 >= 0",
            name=op.f("ck_specimen_surface_density_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["sample.id"],
            name=op.f("fk_specimen_sample_id_sample"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specimen")),
        sa.UniqueConstraint("name", name=op.f("uq_specimen_name")),
    )
    with op.batch_alter_table("specimen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_specimen_sample_id"), ["sample_id"], unique=False)

    op.create_table(
        "dot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("x_um", sa.Float(), nullable=False),
        sa.Column("y_um", sa.Float(), nullable=False),
        sa.Column("z_um", sa.Float(), nullable=True),
        sa.Column("marker_label", sa.String(length=64), nullable=True),
        sa.Column("marker_dx_um", sa.Float(), nullable=True),
        sa.Column("marker_dy_um", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(marker_dx_um IS NULL) = (marker_dy_um IS NULL)",
            name=op.f("ck_dot_marker_offset_complete"),
        ),
        sa.CheckConstraint(
            "marker_label IS NOT NULL OR marker_dx_um IS NULL",
            name=op.f("ck_dot_marker_offset_needs_marker"),
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_dot_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dot")),
        sa.UniqueConstraint("id", "specimen_id", name=op.f("uq_dot_id_specimen_id")),
        sa.UniqueConstraint("specimen_id", "label", name=op.f("uq_dot_specimen_id_label")),
    )
    with op.batch_alter_table("dot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dot_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "spectrum",
                "decay",
                "g2_cw",
                "g2_pulsed",
                "intensity_trace",
                "background_trace",
                "power_series_point",
                "saturation_point",
                "ensemble_spectrum",
                "transient_absorption",
                name="measurement_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("setup_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("series_name", sa.String(length=100), nullable=True),
        sa.Column("series_index", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(series_name IS NULL) = (series_index IS NULL)",
            name=op.f("ck_measurement_series_complete"),
        ),
        sa.CheckConstraint(
            "duration_s IS NULL OR duration_s >= 0",
            name=op.f("ck_measurement_duration_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["dot_id", "specimen_id"],
            ["dot.id", "dot.specimen_id"],
            name="fk_measurement_dot_on_specimen",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["setup_id"],
            ["setup.id"],
            name=op.f("fk_measurement_setup_id_setup"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_measurement_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement")),
    )
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_measurement_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_measurement_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_measurement_series", ["series_name", "series_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_measurement_setup_id"), ["setup_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_measurement_specimen_id"), ["specimen_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_measurement_started_at"), ["started_at"], unique=False)

    op.create_table(
        "analysis_run_input",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_analysis_run_input_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_analysis_run_input_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "measurement_id", name=op.f("pk_analysis_run_input")),
    )
    with op.batch_alter_table("analysis_run_input", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analysis_run_input_measurement_id"), ["measurement_id"], unique=False
        )

    op.create_table(
        "instrument_settings",
        sa.Column("measurement_id", sa.Integer(), nullable=False),
        sa.Column("excitation_wavelength_nm", sa.Float(), nullable=True),
        sa.Column(
            "excitation_mode",
            sa.Enum(
                "cw",
                "pulsed",
                name="excitation_mode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("repetition_rate_mhz", sa.Float(), nullable=True),
        sa.Column("intensity_w_cm2", sa.Float(), nullable=True),
        sa.Column("temperature_k", sa.Float(), nullable=True),
        sa.Column("integration_time_s", sa.Float(), nullable=True),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "excitation_mode IS NULL OR excitation_mode = 'pulsed' OR repetition_rate_mhz IS NULL",
            name=op.f("ck_instrument_settings_cw_has_no_rep_rate"),
        ),
        sa.CheckConstraint(
            "excitation_wavelength_nm IS NULL OR excitation_wavelength_nm > 0",
            name=op.f("ck_instrument_settings_wavelength_positive"),
        ),
        sa.CheckConstraint(
            "integration_time_s IS NULL OR integration_time_s > 0",
            name=op.f("ck_instrument_settings_integration_positive"),
        ),
        sa.CheckConstraint(
            "intensity_w_cm2 IS NULL OR intensity_w_cm2 >= 0",
            name=op.f("ck_instrument_settings_intensity_nonnegative"),
        ),
        sa.CheckConstraint(
            "repetition_rate_mhz IS NULL OR repetition_rate_mhz > 0",
            name=op.f("ck_instrument_settings_rep_rate_positive"),
        ),
        sa.CheckConstraint(
            "temperature_k IS NULL OR temperature_k > 0",
            name=op.f("ck_instrument_settings_temperature_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_instrument_settings_measurement_id_measurement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measurement_id", name=op.f("pk_instrument_settings")),
    )
    with op.batch_alter_table("instrument_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_excitation_mode"), ["excitation_mode"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_excitation_wavelength_nm"),
            ["excitation_wavelength_nm"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_integration_time_s"),
            ["integration_time_s"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_intensity_w_cm2"), ["intensity_w_cm2"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_repetition_rate_mhz"),
            ["repetition_rate_mhz"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_settings_temperature_k"), ["temperature_k"], unique=False
        )

    op.create_table(
        "raw_asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "committed",
                "deleting",
                name="asset_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "data_kind",
            sa.Enum(
                "timetags",
                "spectrum",
                "curve",
                name="data_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("store_path", sa.String(length=200), nullable=False),
        sa.Column("source_filename", sa.String(length=500), nullable=True),
        sa.Column("source_format", sa.String(length=32), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("source_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("event_count", sa.BigInteger(), nullable=True),
        sa.Column(
            "channel_counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("resolution_ps", sa.Float(), nullable=True),
        sa.Column("nanotime_resolution_ps", sa.Float(), nullable=True),
        sa.Column("has_nanotimes", sa.Boolean(), nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=True),
        sa.Column("writer_host", sa.String(length=255), nullable=True),
        sa.Column("writer_pid", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state <> 'committed' OR (measurement_id IS NOT NULL AND data_sha256 IS NOT NULL AND committed_at IS NOT NULL)",
            name=op.f("ck_raw_asset_committed_complete"),
        ),
        sa.CheckConstraint(
            "event_count IS NULL OR event_count >= 0",
            name=op.f("ck_raw_asset_event_count_nonnegative"),
        ),
        sa.CheckConstraint(
            "resolution_ps IS NULL OR resolution_ps > 0",
            name=op.f("ck_raw_asset_resolution_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_raw_asset_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_asset")),
        sa.UniqueConstraint("measurement_id", name=op.f("uq_raw_asset_measurement_id")),
        sa.UniqueConstraint("store_path", name=op.f("uq_raw_asset_store_path")),
    )
    with op.batch_alter_table("raw_asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_raw_asset_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_raw_asset_state"), ["state"], unique=False)
        batch_op.create_index(
            "uq_raw_asset_source_sha256_committed",
            ["source_sha256"],
            unique=True,
            sqlite_where=sa.text("state = 'committed'"),
            postgresql_where=sa.text("state = 'committed'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("raw_asset", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_raw_asset_source_sha256_committed",
            sqlite_where=sa.text("state = 'committed'"),
            postgresql_where=sa.text("state = 'committed'"),
        )
        batch_op.drop_index(batch_op.f("ix_raw_asset_state"))
        batch_op.drop_index(batch_op.f("ix_raw_asset_created_at"))

    op.drop_table("raw_asset")
    with op.batch_alter_table("instrument_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_settings_temperature_k"))
        batch_op.drop_index(batch_op.f("ix_instrument_settings_repetition_rate_mhz"))
        batch_op.drop_index(batch_op.f("ix_instrument_settings_intensity_w_cm2"))
        batch_op.drop_index(batch_op.f("ix_instrument_settings_integration_time_s"))
        batch_op.drop_index(batch_op.f("ix_instrument_settings_excitation_wavelength_nm"))
        batch_op.drop_index(batch_op.f("ix_instrument_settings_excitation_mode"))

    op.drop_table("instrument_settings")
    with op.batch_alter_table("analysis_run_input", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_run_input_measurement_id"))

    op.drop_table("analysis_run_input")
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurement_started_at"))
        batch_op.drop_index(batch_op.f("ix_measurement_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_measurement_setup_id"))
        batch_op.drop_index("ix_measurement_series")
        batch_op.drop_index(batch_op.f("ix_measurement_kind"))
        batch_op.drop_index(batch_op.f("ix_measurement_dot_id"))

    op.drop_table("measurement")
    with op.batch_alter_table("dot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dot_specimen_id"))

    op.drop_table("dot")
    with op.batch_alter_table("specimen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_specimen_sample_id"))

    op.drop_table("specimen")
    op.drop_table("setup_channel")
    op.drop_table("setup")
    with op.batch_alter_table("sample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_material"))

    op.drop_table("sample")
    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.drop_index("ix_analysis_run_status_lease")
        batch_op.drop_index(batch_op.f("ix_analysis_run_analysis"))

    op.drop_table("analysis_run")
