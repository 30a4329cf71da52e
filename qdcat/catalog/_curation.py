"""Curation: tags and exclusions on dots, measurements and results, each in the history.

A tag labels ("Fig. 3 dot", "batch 2"); an exclusion (with its reason) leaves a dot, a
measurement or one result out of population answers: the dots view skips excluded
dots, and an excluded measurement's or result's values stand for no dot and appear in
no result listing, unless asked for (``include_excluded``). Answers say how many
they left out. Both are undone (``untag``, ``include``) and every step is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qdcat.catalog import current
from qdcat.catalog._edits import EditsMixin
from qdcat.catalog._parse import parse_id, parse_name
from qdcat.catalog.models import AnalysisRun, CuratedEntity, Dot, Exclusion, Measurement, Specimen, Tag
from qdcat.catalog.records import CurationRecord
from qdcat.errors import AlreadyExistsError, InvalidValueError, NotFoundError


class CurationMixin(EditsMixin):
    """Tags and exclusions."""

    def _curated(self, s: Session, entity: str, ref: Any) -> tuple[CuratedEntity, int, str, list[int]]:
        """(entity, id, label, dot ids it touches) of ``ref``: "specimen/label", a measurement or run id."""
        try:
            kind = CuratedEntity(str(entity).strip().lower())
        except ValueError:
            valid = ", ".join(e.value for e in CuratedEntity)
            raise InvalidValueError(f"cannot curate a {entity!r}; choose one of: {valid}") from None
        if kind is CuratedEntity.DOT:
            specimen, sep, label = str(ref).partition("/")
            if not sep:
                raise InvalidValueError(f"name a dot as SPECIMEN/LABEL (slide-1/QD001), got {ref!r}")
            sp = self._get_specimen(s, specimen)
            dot = self._get_dot(s, sp, label)
            return kind, dot.id, f"{sp.name}/{dot.label}", [dot.id]
        if kind is CuratedEntity.MEASUREMENT:
            m = self._get_measurement(s, parse_id(ref, "measurement"))
            return kind, m.id, f"measurement {m.id}", [m.dot_id] if m.dot_id is not None else []
        run = s.get(AnalysisRun, parse_id(ref, "result (analysis run)"))
        if run is None:
            raise NotFoundError(f"no analysis run {ref}; `qdcat results show M` lists a measurement's runs")
        dots = [
            d
            for t in current.result_tables()
            for d in s.scalars(select(t.c.dot_id).where(t.c.run_id == run.id))
            if d is not None
        ]
        return kind, run.id, f"{run.analysis} run {run.id}", dots

    def tag(self, entity: str, ref: Any, tag: str) -> CurationRecord:
        name = parse_name(tag, "tag", 64)
        with self.session() as s:
            kind, eid, label, _ = self._curated(s, entity, ref)
            if s.scalar(select(Tag.id).where(Tag.entity == kind, Tag.entity_id == eid, Tag.tag == name)):
                raise AlreadyExistsError(f"{label} is already tagged {name!r}")
            t = Tag(entity=kind, entity_id=eid, tag=name, who=self.user)
            s.add(t)
            self._audit(s, "tag", kind.value, eid, label, field="tag", new=name)
            s.flush()
            return CurationRecord("tag", kind.value, eid, label, name, t.who, t.at)

    def untag(self, entity: str, ref: Any, tag: str) -> None:
        with self.session() as s:
            kind, eid, label, _ = self._curated(s, entity, ref)
            gone = s.execute(delete(Tag).where(Tag.entity == kind, Tag.entity_id == eid, Tag.tag == tag))
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFoundError(f"{label} has no tag {tag!r}")
            self._audit(s, "untag", kind.value, eid, label, field="tag", old=tag)

    def exclude(self, entity: str, ref: Any, *, reason: str) -> CurationRecord:
        """Leave ``ref`` out of population answers (``reason`` is required: it is why)."""
        if not reason or not str(reason).strip():
            raise InvalidValueError("an exclusion needs a reason (--reason 'two dots in the spot')")
        with self.session() as s:
            kind, eid, label, dots = self._curated(s, entity, ref)
            if s.scalar(select(Exclusion.id).where(Exclusion.entity == kind, Exclusion.entity_id == eid)):
                raise AlreadyExistsError(f"{label} is already excluded; `qdcat curate list` says why")
            x = Exclusion(entity=kind, entity_id=eid, reason=str(reason).strip(), who=self.user)
            s.add(x)
            self._audit(s, "exclude", kind.value, eid, label, reason=x.reason)
            s.flush()
            self._refresh_dots(s, dots)
            return CurationRecord("exclusion", kind.value, eid, label, x.reason, x.who, x.at)

    def include(self, entity: str, ref: Any, *, reason: str | None = None) -> None:
        """Undo an exclusion."""
        with self.session() as s:
            kind, eid, label, dots = self._curated(s, entity, ref)
            gone = s.execute(delete(Exclusion).where(Exclusion.entity == kind, Exclusion.entity_id == eid))
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFoundError(f"{label} is not excluded")
            self._audit(s, "include", kind.value, eid, label, reason=reason)
            s.flush()
            self._refresh_dots(s, dots)

    @staticmethod
    def _refresh_dots(s: Session, dots: Sequence[int]) -> None:
        # the result that stands for a dot skips excluded measurements and results
        for table in current.result_tables():
            current.refresh(s, table, dots)

    def curation(self, *, entity: str | None = None, tag: str | None = None) -> list[CurationRecord]:
        """Every tag and exclusion, newest first (optionally of one entity kind, or one tag)."""
        with self.session() as s:
            out = []
            tq = select(Tag).order_by(Tag.id.desc())
            xq = select(Exclusion).order_by(Exclusion.id.desc())
            if entity is not None:
                kind = CuratedEntity(entity)
                tq, xq = tq.where(Tag.entity == kind), xq.where(Exclusion.entity == kind)
            if tag is not None:
                tq = tq.where(Tag.tag == tag)
            for t in s.scalars(tq):
                out.append(
                    CurationRecord("tag", t.entity.value, t.entity_id, self._label(s, t), t.tag, t.who, t.at)
                )
            if tag is None:
                for x in s.scalars(xq):
                    lab = self._label(s, x)
                    out.append(
                        CurationRecord("exclusion", x.entity.value, x.entity_id, lab, x.reason, x.who, x.at)
                    )
            return out

    @staticmethod
    def _label(s: Session, row: Tag | Exclusion) -> str:
        if row.entity is CuratedEntity.DOT:
            got = s.execute(
                select(Specimen.name, Dot.label)
                .join(Specimen, Specimen.id == Dot.specimen_id)
                .where(Dot.id == row.entity_id)
            ).first()
            return f"{got[0]}/{got[1]}" if got else f"dot {row.entity_id} (deleted)"
        if row.entity is CuratedEntity.MEASUREMENT:
            exists = s.get(Measurement, row.entity_id) is not None
            return f"measurement {row.entity_id}" + ("" if exists else " (deleted)")
        run = s.get(AnalysisRun, row.entity_id)
        return f"{run.analysis} run {run.id}" if run else f"run {row.entity_id} (deleted)"
