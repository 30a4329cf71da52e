"""Analysis results: one typed table per analysis; runs gain target, current flag, claim token, arrays.

Generated with autogenerate from the models, then reviewed: result rows are
keyed by their run (CASCADE), point at specimen/dot/measurement (RESTRICT), and
at most one run per (analysis, target) is current (partial unique index).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_biexciton",
        sa.Column("biexciton_rate_per_ns", sa.Float(), nullable=False),
        sa.Column("biexciton_rate_per_ns_err", sa.Float(), nullable=False),
        sa.Column("biexciton_lifetime_ps", sa.Float(), nullable=False),
        sa.Column("biexciton_lifetime_ps_err", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us", sa.Float(), nullable=False),
        sa.Column("radiative_rate_xx_per_ns", sa.Float(), nullable=False),
        sa.Column("plqy_xx", sa.Float(), nullable=False),
        sa.Column("plqy_xx_err", sa.Float(), nullable=False),
        sa.Column("reduced_chi2", sa.Float(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_biexciton_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_biexciton_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_biexciton_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_biexciton_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_biexciton")),
    )
    with op.batch_alter_table("result_biexciton", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_biexciton_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_biexciton_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_biexciton_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_blinking",
        sa.Column("bin_ms", sa.Float(), nullable=False),
        sa.Column("threshold_counts", sa.Float(), nullable=False),
        sa.Column("threshold_method", sa.String(length=120), nullable=False),
        sa.Column("background_measurement_id", sa.Integer(), nullable=True),
        sa.Column("mean_count_rate_cps", sa.Float(), nullable=False),
        sa.Column("on_fraction", sa.Float(), nullable=False),
        sa.Column("n_on_periods", sa.Integer(), nullable=False),
        sa.Column("n_off_periods", sa.Integer(), nullable=False),
        sa.Column("k_on_loglog", sa.Float(), nullable=True),
        sa.Column("k_on_loglog_err", sa.Float(), nullable=True),
        sa.Column("k_off_loglog", sa.Float(), nullable=True),
        sa.Column("k_off_loglog_err", sa.Float(), nullable=True),
        sa.Column("k_on_ml", sa.Float(), nullable=True),
        sa.Column("k_on_ml_err", sa.Float(), nullable=True),
        sa.Column("k_off_ml", sa.Float(), nullable=True),
        sa.Column("k_off_ml_err", sa.Float(), nullable=True),
        sa.Column("on_longer_than_1s_fraction", sa.Float(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["background_measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_blinking_background_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_blinking_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_blinking_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_blinking_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_blinking_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_blinking")),
    )
    with op.batch_alter_table("result_blinking", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_result_blinking_background_measurement_id"),
            ["background_measurement_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_result_blinking_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_blinking_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_blinking_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_decay",
        sa.Column("lifetime_ns", sa.Float(), nullable=False),
        sa.Column("lifetime_ns_err", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us_err", sa.Float(), nullable=False),
        sa.Column("amplitude_counts_per_ns", sa.Float(), nullable=False),
        sa.Column("background_counts_per_ns", sa.Float(), nullable=False),
        sa.Column("fit_start_ns", sa.Float(), nullable=False),
        sa.Column("fit_stop_ns", sa.Float(), nullable=False),
        sa.Column("bin_ns", sa.Float(), nullable=False),
        sa.Column("photons", sa.BigInteger(), nullable=False),
        sa.Column("deviance_per_dof", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_decay_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_decay_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_decay_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_decay_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_decay")),
    )
    with op.batch_alter_table("result_decay", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_decay_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_result_decay_measurement_id"), ["measurement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_result_decay_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_g2_cw",
        sa.Column("g2_zero", sa.Float(), nullable=False),
        sa.Column("g2_zero_err", sa.Float(), nullable=False),
        sa.Column("g2_zero_corrected", sa.Float(), nullable=True),
        sa.Column("g2_zero_corrected_err", sa.Float(), nullable=True),
        sa.Column("antibunching_rate_per_us", sa.Float(), nullable=False),
        sa.Column("antibunching_rate_per_us_err", sa.Float(), nullable=False),
        sa.Column("antibunching_time_ns", sa.Float(), nullable=False),
        sa.Column("antibunching_time_ns_err", sa.Float(), nullable=False),
        sa.Column("tau0_ns", sa.Float(), nullable=False),
        sa.Column("tau0_ns_err", sa.Float(), nullable=False),
        sa.Column("signal_fraction_a", sa.Float(), nullable=True),
        sa.Column("signal_fraction_b", sa.Float(), nullable=True),
        sa.Column("fit_window_start_ns", sa.Float(), nullable=False),
        sa.Column("fit_window_stop_ns", sa.Float(), nullable=False),
        sa.Column("bin_ns", sa.Float(), nullable=False),
        sa.Column("coincidences", sa.BigInteger(), nullable=False),
        sa.Column("count_rate_a_cps", sa.Float(), nullable=False),
        sa.Column("count_rate_b_cps", sa.Float(), nullable=False),
        sa.Column("deviance_per_dof", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_g2_cw_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_g2_cw_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_g2_cw_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_g2_cw_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_g2_cw")),
    )
    with op.batch_alter_table("result_g2_cw", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_g2_cw_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_result_g2_cw_measurement_id"), ["measurement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_result_g2_cw_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_g2_pulsed",
        sa.Column("g2_zero", sa.Float(), nullable=False),
        sa.Column("g2_zero_err", sa.Float(), nullable=False),
        sa.Column("center_area_counts", sa.BigInteger(), nullable=False),
        sa.Column("side_area_mean_counts", sa.Float(), nullable=False),
        sa.Column("n_side_peaks", sa.Integer(), nullable=False),
        sa.Column("period_ns", sa.Float(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_g2_pulsed_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_g2_pulsed_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_g2_pulsed_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_g2_pulsed_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_g2_pulsed")),
    )
    with op.batch_alter_table("result_g2_pulsed", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_g2_pulsed_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_g2_pulsed_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_g2_pulsed_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_power_series",
        sa.Column("series_name", sa.String(length=100), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("intensity_min_w_cm2", sa.Float(), nullable=False),
        sa.Column("intensity_max_w_cm2", sa.Float(), nullable=False),
        sa.Column("slope_cm2_per_j", sa.Float(), nullable=False),
        sa.Column("slope_cm2_per_j_err", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us_err", sa.Float(), nullable=False),
        sa.Column("sigma_cm2", sa.Float(), nullable=False),
        sa.Column("sigma_cm2_err", sa.Float(), nullable=False),
        sa.Column("saturation_intensity_w_cm2", sa.Float(), nullable=False),
        sa.Column("saturation_intensity_w_cm2_err", sa.Float(), nullable=False),
        sa.Column("saturation_intensity_w_cm2_lo", sa.Float(), nullable=True),
        sa.Column("saturation_intensity_w_cm2_hi", sa.Float(), nullable=True),
        sa.Column("excitation_wavelength_nm", sa.Float(), nullable=False),
        sa.Column("reduced_chi2", sa.Float(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_power_series_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_power_series_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_power_series_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_power_series_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_power_series")),
    )
    with op.batch_alter_table("result_power_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_power_series_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_power_series_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_power_series_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_saturation",
        sa.Column("series_name", sa.String(length=100), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("saturation_intensity_w_cm2", sa.Float(), nullable=False),
        sa.Column("saturation_intensity_w_cm2_err", sa.Float(), nullable=False),
        sa.Column("amplitude_counts", sa.Float(), nullable=False),
        sa.Column("offset_counts", sa.Float(), nullable=False),
        sa.Column("decay_rate_per_us", sa.Float(), nullable=True),
        sa.Column("decay_rate_per_us_err", sa.Float(), nullable=True),
        sa.Column("sigma_cm2", sa.Float(), nullable=True),
        sa.Column("sigma_cm2_err", sa.Float(), nullable=True),
        sa.Column("excitation_wavelength_nm", sa.Float(), nullable=False),
        sa.Column("reduced_chi2", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_saturation_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_saturation_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_saturation_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_saturation_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_saturation")),
    )
    with op.batch_alter_table("result_saturation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_saturation_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_saturation_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_saturation_specimen_id"), ["specimen_id"], unique=False)

    op.create_table(
        "result_spectrum",
        sa.Column("center_nm", sa.Float(), nullable=False),
        sa.Column("center_nm_err", sa.Float(), nullable=False),
        sa.Column("energy_ev", sa.Float(), nullable=False),
        sa.Column("energy_ev_err", sa.Float(), nullable=False),
        sa.Column("fwhm_nm", sa.Float(), nullable=False),
        sa.Column("fwhm_nm_err", sa.Float(), nullable=False),
        sa.Column("fwhm_mev", sa.Float(), nullable=False),
        sa.Column("fwhm_mev_err", sa.Float(), nullable=False),
        sa.Column("amplitude_counts", sa.Float(), nullable=False),
        sa.Column("amplitude_counts_err", sa.Float(), nullable=False),
        sa.Column("offset_counts", sa.Float(), nullable=False),
        sa.Column("offset_counts_err", sa.Float(), nullable=False),
        sa.Column("reduced_chi2", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("dot_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("flags", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dot_id"], ["dot.id"], name=op.f("fk_result_spectrum_dot_id_dot"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_result_spectrum_measurement_id_measurement"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_run.id"],
            name=op.f("fk_result_spectrum_run_id_analysis_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_result_spectrum_specimen_id_specimen"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_result_spectrum")),
    )
    with op.batch_alter_table("result_spectrum", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_spectrum_dot_id"), ["dot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_result_spectrum_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_spectrum_specimen_id"), ["specimen_id"], unique=False)

    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target_key", sa.String(length=200), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("is_current", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("arrays_path", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "uq_analysis_run_current",
            ["analysis", "target_key"],
            unique=True,
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )


def downgrade() -> None:
    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_analysis_run_current",
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )
        batch_op.drop_column("arrays_path")
        batch_op.drop_column("claim_token")
        batch_op.drop_column("is_current")
        batch_op.drop_column("target_key")

    with op.batch_alter_table("result_spectrum", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_spectrum_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_spectrum_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_spectrum_dot_id"))

    op.drop_table("result_spectrum")
    with op.batch_alter_table("result_saturation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_saturation_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_saturation_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_saturation_dot_id"))

    op.drop_table("result_saturation")
    with op.batch_alter_table("result_power_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_power_series_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_power_series_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_power_series_dot_id"))

    op.drop_table("result_power_series")
    with op.batch_alter_table("result_g2_pulsed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_g2_pulsed_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_g2_pulsed_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_g2_pulsed_dot_id"))

    op.drop_table("result_g2_pulsed")
    with op.batch_alter_table("result_g2_cw", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_g2_cw_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_g2_cw_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_g2_cw_dot_id"))

    op.drop_table("result_g2_cw")
    with op.batch_alter_table("result_decay", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_decay_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_decay_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_decay_dot_id"))

    op.drop_table("result_decay")
    with op.batch_alter_table("result_blinking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_blinking_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_blinking_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_blinking_dot_id"))
        batch_op.drop_index(batch_op.f("ix_result_blinking_background_measurement_id"))

    op.drop_table("result_blinking")
    with op.batch_alter_table("result_biexciton", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_biexciton_specimen_id"))
        batch_op.drop_index(batch_op.f("ix_result_biexciton_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_result_biexciton_dot_id"))

    op.drop_table("result_biexciton")
