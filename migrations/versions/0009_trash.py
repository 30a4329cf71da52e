"""The trash: a deleted measurement's raw data stay, marked 'trashed', until gc empties it.

raw_asset gains ``trashed_at`` and ``trash_record`` (the deleted measurement as it was,
for a restore), and its state may be 'trashed'. Written by hand: autogenerate does not
compare CHECK constraints (the state's allowed values).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "state IN ('pending', 'committed', 'deleting')"
_AFTER = "state IN ('pending', 'committed', 'deleting', 'trashed')"


def upgrade() -> None:
    with op.batch_alter_table("raw_asset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trashed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "trash_record",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.drop_constraint(op.f("ck_raw_asset_asset_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_raw_asset_asset_state"), _AFTER)


def downgrade() -> None:
    # Trashed raw data lose their record: they become unfinished deletions that gc removes.
    op.execute(sa.text("UPDATE raw_asset SET state = 'deleting' WHERE state = 'trashed'"))
    with op.batch_alter_table("raw_asset", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_raw_asset_asset_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_raw_asset_asset_state"), _BEFORE)
        batch_op.drop_column("trash_record")
        batch_op.drop_column("trashed_at")
