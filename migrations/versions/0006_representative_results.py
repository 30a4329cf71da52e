"""The result that stands for its dot, chosen when results change instead of at every query.

Every result table gains ``kind_preferred`` (the analysed measurement's kind
names the analysis) and ``representative`` (this current result is the one the
dots view shows for its dot), with a partial unique index on ``dot_id`` where
``representative``: one per dot, and the index the dots view joins on. The data
migration fills both for existing rows with the same rule qdcat used at query
time until now (preferred kind, then the longest acquisition, then the newest).

The kinds each analysis prefers are written out here as they were at this
revision, so that the migration does not change when an analysis does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFERRED_KINDS: dict[str, tuple[str, ...]] = {
    "biexciton": ("transient_absorption",),
    "blinking": ("intensity_trace",),
    "brightness": (),
    "decay": ("decay",),
    "g2_cw": ("g2_cw",),
    "g2_pulsed": ("g2_pulsed",),
    "power_series": ("power_series_point",),
    "saturation": ("saturation_point",),
    "spectrum": ("spectrum", "ensemble_spectrum"),
}


def upgrade() -> None:
    for analysis in PREFERRED_KINDS:
        name = f"result_{analysis}"
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("kind_preferred", sa.Boolean(), server_default=sa.text("false"), nullable=False)
            )
            batch_op.add_column(
                sa.Column("representative", sa.Boolean(), server_default=sa.text("false"), nullable=False)
            )
        op.create_index(
            f"uq_{name}_representative",
            name,
            ["dot_id"],
            unique=True,
            sqlite_where=sa.text("representative = 1"),
            postgresql_where=sa.text("representative"),
        )
    conn = op.get_bind()
    for analysis, kinds in PREFERRED_KINDS.items():
        _fill(conn, analysis, kinds)


def _fill(conn: sa.Connection, analysis: str, kinds: tuple[str, ...]) -> None:
    t = sa.table(
        f"result_{analysis}",
        sa.column("run_id", sa.Integer),
        sa.column("dot_id", sa.Integer),
        sa.column("measurement_id", sa.Integer),
        sa.column("kind_preferred", sa.Boolean),
        sa.column("representative", sa.Boolean),
    )
    m = sa.table(
        "measurement", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("duration_s")
    )
    r = sa.table("analysis_run", sa.column("id", sa.Integer), sa.column("is_current", sa.Boolean))
    if kinds:
        preferred = sa.select(m.c.id).where(m.c.kind.in_(kinds))
        conn.execute(sa.update(t).where(t.c.measurement_id.in_(preferred)).values(kind_preferred=sa.true()))
    rank = (
        sa.func.row_number()
        .over(
            partition_by=t.c.dot_id,
            order_by=(
                t.c.kind_preferred.desc(),
                m.c.duration_s.desc().nulls_last(),
                t.c.measurement_id.desc().nulls_last(),
                t.c.run_id.desc(),
            ),
        )
        .label("rank_in_dot")
    )
    ranked = (
        sa.select(t.c.run_id, rank)
        .join(r, sa.and_(r.c.id == t.c.run_id, r.c.is_current.is_(sa.true())))
        .outerjoin(m, m.c.id == t.c.measurement_id)
        .where(t.c.dot_id.is_not(None))
        .subquery()
    )
    best = sa.select(ranked.c.run_id).where(ranked.c.rank_in_dot == 1)
    conn.execute(sa.update(t).where(t.c.run_id.in_(best)).values(representative=sa.true()))


def downgrade() -> None:
    for analysis in PREFERRED_KINDS:
        name = f"result_{analysis}"
        op.drop_index(f"uq_{name}_representative", table_name=name)
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("representative")
            batch_op.drop_column("kind_preferred")
