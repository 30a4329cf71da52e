"""Which current result of an analysis stands for its dot in population queries.

A dot can have several current results of one analysis (the blinking of its cw
HBT acquisition and of its pulsed one; the g2 of two acquisitions). The dots
view shows one: from a measurement whose kind names the analysis
(``kind_preferred``), then the longest acquisition, then the newest. That choice
is made here, when results change, and stored as ``representative`` on the
result row, so that a population query over 10⁵ dots is an indexed join instead
of a window over every result of the catalog (``scripts/bench_queries.py``).

Everything that changes which results are current — a job writing a result, a
result made stale, a measurement deleted — calls :func:`refresh` for the dots it
touched, in its own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Table, and_, exists, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from qdcat.catalog.models import AnalysisRun, Base, CuratedEntity, Dot, Exclusion, Measurement

__all__ = ["excluded_result", "refresh", "refresh_all", "result_tables"]

_CHUNK = 500  # dot ids per statement: well inside every backend's bound-parameter limit


def result_tables() -> list[Table]:
    """The ``result_<analysis>`` tables on the catalog's metadata (declared by the analyses).

    Parts tables (``result_levels_level``) are not among them: they follow their result.
    """
    return [
        t
        for name, t in sorted(Base.metadata.tables.items())
        if name.startswith("result_") and "representative" in t.c
    ]


def refresh(s: Session, table: Table, dot_ids: Iterable[int | None]) -> None:
    """Re-choose the representative current result of ``table`` for each of ``dot_ids``."""
    ids = sorted({int(d) for d in dot_ids if d is not None})
    if not ids:
        return
    if s.get_bind().dialect.name == "postgresql":
        # Two workers finishing results of one dot at once would each choose among what they
        # can see and both mark theirs: the dot rows serialise them (locked in id order), and
        # each statement after the lock sees the other's committed rows. FOR NO KEY UPDATE, not
        # FOR UPDATE: the result rows' foreign keys already hold KEY SHARE locks on the dot, and
        # FOR UPDATE would wait on the other worker's while it waits on ours (a deadlock).
        for part in _chunks(ids):
            s.execute(select(Dot.id).where(Dot.id.in_(part)).order_by(Dot.id).with_for_update(key_share=True))
    for part in _chunks(ids):
        s.execute(
            update(table)
            .where(table.c.dot_id.in_(part), table.c.representative == true())
            .values(representative=false())
        )
        rank = (
            func.row_number()
            .over(
                partition_by=table.c.dot_id,
                order_by=(
                    table.c.kind_preferred.desc(),
                    Measurement.duration_s.desc().nulls_last(),
                    table.c.measurement_id.desc().nulls_last(),
                    table.c.run_id.desc(),
                ),
            )
            .label("rank_in_dot")
        )
        ranked = (
            select(table.c.run_id, rank)
            .join(AnalysisRun, and_(AnalysisRun.id == table.c.run_id, AnalysisRun.is_current.is_(True)))
            .outerjoin(Measurement, Measurement.id == table.c.measurement_id)
            .where(table.c.dot_id.in_(part), ~excluded_result(table))
            .subquery()
        )
        best = select(ranked.c.run_id).where(ranked.c.rank_in_dot == 1)
        s.execute(update(table).where(table.c.run_id.in_(best)).values(representative=true()))
    s.flush()


def excluded_result(table: Table) -> ColumnElement[bool]:
    """A result row whose run or measurement a lab excluded (curation): it stands for no dot."""
    return exists().where(
        or_(
            and_(Exclusion.entity == CuratedEntity.RESULT, Exclusion.entity_id == table.c.run_id),
            and_(
                Exclusion.entity == CuratedEntity.MEASUREMENT, Exclusion.entity_id == table.c.measurement_id
            ),
        )
    )


def refresh_all(s: Session, table: Table) -> None:
    """Re-choose for every dot of ``table`` (migrations, repairs)."""
    dot_ids = s.scalars(select(table.c.dot_id).where(table.c.dot_id.is_not(None)).distinct()).all()
    refresh(s, table, dot_ids)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]
