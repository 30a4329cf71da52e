"""Samples, specimens and dots: adding, listing, importing dots, and deleting with what hangs on them."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qdcat.catalog._base import CatalogBase, columns_of
from qdcat.catalog._parse import parse_date, parse_enum, parse_float, parse_name
from qdcat.catalog.models import CuratedEntity, Dot, Measurement, Sample, Specimen, SpecimenPurpose
from qdcat.catalog.records import (
    DeletionImpact,
    DotDeletion,
    DotImport,
    DotRecord,
    DotSummary,
    SampleDetail,
    SampleRecord,
    SampleSummary,
    SpecimenBrief,
    SpecimenRecord,
    SpecimenSummary,
)
from qdcat.errors import AlreadyExistsError, InUseError, InvalidValueError

#: The columns a dot CSV may have (label, x_um and y_um are required).
DOT_CSV_COLUMNS = ("label", "x_um", "y_um", "z_um", "marker_label", "marker_dx_um", "marker_dy_um", "notes")


class SamplesMixin(CatalogBase):
    """Samples, specimens and dots."""

    # -- samples -------------------------------------------------------------
    def add_sample(
        self,
        name: str,
        material: str,
        *,
        core_diameter_nm: float | None = None,
        total_diameter_nm: float | None = None,
        synthesis_reference: str | None = None,
        synthesized_on: dt.date | str | None = None,
        abs_max_nm: float | None = None,
        pl_peak_nm: float | None = None,
        pl_fwhm_nm: float | None = None,
        plqy_fraction: float | None = None,
        decay_rate_solution_per_us: float | None = None,
        notes: str | None = None,
    ) -> SampleRecord:
        name = parse_name(name, "sample name")
        obj = Sample(
            name=name,
            material=parse_name(material, "material", 64),
            core_diameter_nm=parse_float(core_diameter_nm, "core_diameter_nm", positive=True),
            total_diameter_nm=parse_float(total_diameter_nm, "total_diameter_nm", positive=True),
            synthesis_reference=synthesis_reference,
            synthesized_on=parse_date(synthesized_on, "synthesized_on"),
            abs_max_nm=parse_float(abs_max_nm, "abs_max_nm", positive=True),
            pl_peak_nm=parse_float(pl_peak_nm, "pl_peak_nm", positive=True),
            pl_fwhm_nm=parse_float(pl_fwhm_nm, "pl_fwhm_nm", positive=True),
            plqy_fraction=parse_float(plqy_fraction, "plqy_fraction", lo=0.0, hi=1.0),
            decay_rate_solution_per_us=parse_float(
                decay_rate_solution_per_us, "decay_rate_solution_per_us", positive=True
            ),
            notes=notes,
        )
        if (
            obj.core_diameter_nm is not None
            and obj.total_diameter_nm is not None
            and obj.total_diameter_nm < obj.core_diameter_nm
        ):
            raise InvalidValueError(
                f"total_diameter_nm {obj.total_diameter_nm:g} is smaller than core_diameter_nm "
                f"{obj.core_diameter_nm:g}"
            )
        with self.session() as s:
            if s.scalar(select(Sample.id).where(Sample.name == name)) is not None:
                raise AlreadyExistsError(f"sample {name!r} already exists; pick another name")
            s.add(obj)
            self._flush_unique(s, f"sample {name!r}")
            return SampleRecord(**columns_of(obj, SampleRecord))

    def list_samples(self) -> list[SampleSummary]:
        with self.session() as s:
            n_spec = (
                select(Specimen.sample_id, func.count().label("n")).group_by(Specimen.sample_id).subquery()
            )
            n_dot = (
                select(Specimen.sample_id, func.count(Dot.id).label("n"))
                .join(Dot, Dot.specimen_id == Specimen.id)
                .group_by(Specimen.sample_id)
                .subquery()
            )
            n_meas = (
                select(Specimen.sample_id, func.count(Measurement.id).label("n"))
                .join(Measurement, Measurement.specimen_id == Specimen.id)
                .group_by(Specimen.sample_id)
                .subquery()
            )
            rows = s.execute(
                select(
                    Sample,
                    func.coalesce(n_spec.c.n, 0),
                    func.coalesce(n_dot.c.n, 0),
                    func.coalesce(n_meas.c.n, 0),
                )
                .outerjoin(n_spec, n_spec.c.sample_id == Sample.id)
                .outerjoin(n_dot, n_dot.c.sample_id == Sample.id)
                .outerjoin(n_meas, n_meas.c.sample_id == Sample.id)
                .order_by(Sample.name)
            ).all()
            return [
                SampleSummary(
                    **columns_of(sample, SampleSummary), specimens=int(ns), dots=int(nd), measurements=int(nm)
                )
                for sample, ns, nd, nm in rows
            ]

    def get_sample(self, name: str) -> SampleDetail:
        with self.session() as s:
            sample = self._get_sample(s, name)
            specimens = s.scalars(
                select(Specimen).where(Specimen.sample_id == sample.id).order_by(Specimen.name)
            )
            n_dots = s.scalar(
                select(func.count(Dot.id)).join(Specimen).where(Specimen.sample_id == sample.id)
            )
            n_meas = s.scalar(
                select(func.count(Measurement.id)).join(Specimen).where(Specimen.sample_id == sample.id)
            )
            return SampleDetail(
                **columns_of(sample, SampleDetail),
                specimens=tuple(SpecimenBrief(**columns_of(sp, SpecimenBrief)) for sp in specimens),
                dots=int(n_dots or 0),
                measurements=int(n_meas or 0),
            )

    # -- specimens -------------------------------------------------------------
    def add_specimen(
        self,
        name: str,
        sample: str,
        *,
        purpose: SpecimenPurpose | str = SpecimenPurpose.SINGLE_DOT,
        preparation_method: str | None = None,
        concentration_nmol_l: float | None = None,
        solvent: str | None = None,
        substrate: str | None = None,
        surface_density_per_um2: float | None = None,
        prepared_on: dt.date | str | None = None,
        notes: str | None = None,
    ) -> SpecimenRecord:
        name = parse_name(name, "specimen name")
        purpose_v = parse_enum(SpecimenPurpose, purpose, "specimen purpose")
        conc = parse_float(concentration_nmol_l, "concentration_nmol_l", positive=True)
        density = parse_float(surface_density_per_um2, "surface_density_per_um2", nonnegative=True)
        prepared = parse_date(prepared_on, "prepared_on")
        with self.session() as s:
            smp = self._get_sample(s, sample)
            if s.scalar(select(Specimen.id).where(Specimen.name == name)) is not None:
                raise AlreadyExistsError(f"specimen {name!r} already exists; specimen names are unique")
            obj = Specimen(
                name=name,
                sample_id=smp.id,
                purpose=purpose_v,
                preparation_method=preparation_method,
                concentration_nmol_l=conc,
                solvent=solvent,
                substrate=substrate,
                surface_density_per_um2=density,
                prepared_on=prepared,
                notes=notes,
            )
            s.add(obj)
            self._flush_unique(s, f"specimen {name!r}")
            return SpecimenRecord(**columns_of(obj, SpecimenRecord), sample=smp.name)

    def list_specimens(self, sample: str | None = None) -> list[SpecimenSummary]:
        with self.session() as s:
            n_dot = select(Dot.specimen_id, func.count().label("n")).group_by(Dot.specimen_id).subquery()
            q = (
                select(Specimen, Sample.name, func.coalesce(n_dot.c.n, 0))
                .join(Sample)
                .outerjoin(n_dot, n_dot.c.specimen_id == Specimen.id)
                .order_by(Sample.name, Specimen.name)
            )
            if sample is not None:
                q = q.where(Specimen.sample_id == self._get_sample(s, sample).id)
            return [
                SpecimenSummary(**columns_of(sp, SpecimenSummary), sample=sample_name, dots=int(nd))
                for sp, sample_name, nd in s.execute(q).all()
            ]

    # -- dots ------------------------------------------------------------------
    def _new_dot(self, row: Mapping[str, Any], where: str = "") -> Dot:
        label = parse_name(row.get("label"), f"{where}dot label", 64)
        x = parse_float(row.get("x_um"), f"{where}x_um")
        y = parse_float(row.get("y_um"), f"{where}y_um")
        if x is None or y is None:
            raise InvalidValueError(f"{where}dot {label!r} needs both x_um and y_um")
        marker = row.get("marker_label") or None
        mdx = parse_float(row.get("marker_dx_um"), f"{where}marker_dx_um")
        mdy = parse_float(row.get("marker_dy_um"), f"{where}marker_dy_um")
        if (mdx is None) != (mdy is None):
            raise InvalidValueError(
                f"{where}dot {label!r}: give both marker_dx_um and marker_dy_um, or neither"
            )
        if mdx is not None and not marker:
            raise InvalidValueError(f"{where}dot {label!r}: a marker offset needs marker_label")
        return Dot(
            label=label,
            x_um=x,
            y_um=y,
            z_um=parse_float(row.get("z_um"), f"{where}z_um"),
            marker_label=marker,
            marker_dx_um=mdx,
            marker_dy_um=mdy,
            notes=row.get("notes") or None,
        )

    def add_dot(
        self,
        specimen: str,
        label: str,
        x_um: float,
        y_um: float,
        *,
        z_um: float | None = None,
        marker_label: str | None = None,
        marker_dx_um: float | None = None,
        marker_dy_um: float | None = None,
        notes: str | None = None,
    ) -> DotRecord:
        obj = self._new_dot(
            {
                "label": label,
                "x_um": x_um,
                "y_um": y_um,
                "z_um": z_um,
                "marker_label": marker_label,
                "marker_dx_um": marker_dx_um,
                "marker_dy_um": marker_dy_um,
                "notes": notes,
            }
        )
        with self.session() as s:
            sp = self._get_specimen(s, specimen)
            if s.scalar(select(Dot.id).where(Dot.specimen_id == sp.id, Dot.label == obj.label)) is not None:
                raise AlreadyExistsError(f"dot {obj.label!r} already exists on specimen {sp.name!r}")
            obj.specimen_id = sp.id
            s.add(obj)
            self._flush_unique(s, f"dot {obj.label!r} on {sp.name!r}")
            return DotRecord(**columns_of(obj, DotRecord), specimen=sp.name)

    def import_dots(
        self, specimen: str, rows: Iterable[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> DotImport:
        """Add many dots at once, all or nothing. Rows need label, x_um, y_um."""
        dots: list[Dot] = []
        seen: dict[str, int] = {}
        for i, row in enumerate(rows, start=1):
            dot = self._new_dot(row, where=f"row {i}: ")
            if dot.label in seen:
                raise InvalidValueError(
                    f"row {i}: dot label {dot.label!r} repeats row {seen[dot.label]}; labels must be unique"
                )
            seen[dot.label] = i
            dots.append(dot)
        with self.session() as s:
            sp = self._get_specimen(s, specimen)
            existing = set(s.scalars(select(Dot.label).where(Dot.specimen_id == sp.id)))
            clash = [d.label for d in dots if d.label in existing]
            if clash and not skip_existing:
                raise AlreadyExistsError(
                    f"{len(clash)} dot label(s) already on specimen {sp.name!r} "
                    f"({', '.join(clash[:5])}{'…' if len(clash) > 5 else ''}); "
                    "nothing was imported; use --skip-existing to add only the new ones"
                )
            new = [d for d in dots if d.label not in existing]
            for d in new:
                d.specimen_id = sp.id
            s.add_all(new)
            self._flush_unique(s, f"dots on {sp.name!r}")
            return DotImport(added=len(new), skipped=len(dots) - len(new))

    def import_dots_csv(
        self, specimen: str, path: str | os.PathLike[str], *, skip_existing: bool = False
    ) -> DotImport:
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                rows = _read_dot_csv(path, csv.DictReader(fh))
        except OSError as exc:
            raise InvalidValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InvalidValueError(f"{path} is not a readable CSV file: {exc}") from exc
        if not rows:
            raise InvalidValueError(f"{path} has a header but no dots")
        return self.import_dots(specimen, rows, skip_existing=skip_existing)

    def list_dots(self, *, specimen: str | None = None, sample: str | None = None) -> list[DotSummary]:
        with self.session() as s:
            n_meas = (
                select(Measurement.dot_id, func.count().label("n")).group_by(Measurement.dot_id).subquery()
            )
            q = (
                select(Dot, Specimen.name, Sample.name, func.coalesce(n_meas.c.n, 0))
                .join(Specimen, Dot.specimen_id == Specimen.id)
                .join(Sample, Specimen.sample_id == Sample.id)
                .outerjoin(n_meas, n_meas.c.dot_id == Dot.id)
                .order_by(Sample.name, Specimen.name, Dot.label)
            )
            if specimen is not None:
                q = q.where(Dot.specimen_id == self._get_specimen(s, specimen).id)
            if sample is not None:
                q = q.where(Specimen.sample_id == self._get_sample(s, sample).id)
            return [
                DotSummary(
                    **columns_of(dot, DotSummary), specimen=sp_name, sample=smp_name, measurements=int(nm)
                )
                for dot, sp_name, smp_name, nm in s.execute(q).all()
            ]

    # -- deletion ----------------------------------------------------------------
    def delete_dot(
        self, specimen: str, label: str, *, force: bool = False, reason: str | None = None
    ) -> DotDeletion:
        with self.session() as s:
            sp = self._get_specimen(s, specimen)
            dot = self._get_dot(s, sp, label)
            m_ids = s.scalars(select(Measurement.id).where(Measurement.dot_id == dot.id)).all()
            if m_ids and not force:
                raise InUseError(
                    f"dot {label!r} has {len(m_ids)} measurement(s) with raw data; "
                    "pass --force to delete them too"
                )
            asset_ids = self._delete_measurements(s, m_ids, reason=reason)
            self._audit(s, "delete", "dot", dot.id, f"{sp.name}/{dot.label}", reason=reason)
            self._drop_curation(s, CuratedEntity.DOT, [dot.id])
            s.delete(dot)
        self._purge_deleting(asset_ids)
        return DotDeletion(measurements=len(m_ids))

    def delete_specimen(self, name: str, *, force: bool = False, reason: str | None = None) -> DeletionImpact:
        impact = self.deletion_impact(specimen=name)
        if (impact.dots or impact.measurements) and not force:
            raise InUseError(
                f"specimen {name!r} has {impact.dots} dot(s) and {impact.measurements} measurement(s) "
                f"({_human_bytes(impact.raw_bytes)} of raw data); pass --force to delete them too"
            )
        with self.session() as s:
            sp = self._get_specimen(s, name)
            asset_ids = self._delete_specimens(s, [sp.id], reason=reason)
        self._purge_deleting(asset_ids)
        return impact

    def _delete_specimens(
        self, s: Session, spec_ids: Sequence[int], *, reason: str | None = None
    ) -> list[int]:
        m_ids = s.scalars(select(Measurement.id).where(Measurement.specimen_id.in_(spec_ids))).all()
        asset_ids = self._delete_measurements(s, m_ids, reason=reason)
        names = {
            i: n for i, n in s.execute(select(Specimen.id, Specimen.name).where(Specimen.id.in_(spec_ids)))
        }
        for d in s.scalars(select(Dot).where(Dot.specimen_id.in_(spec_ids))):
            self._audit(s, "delete", "dot", d.id, f"{names.get(d.specimen_id)}/{d.label}", reason=reason)
            self._drop_curation(s, CuratedEntity.DOT, [d.id])
            s.delete(d)
        s.flush()
        for sp in s.scalars(select(Specimen).where(Specimen.id.in_(spec_ids))):
            self._audit(s, "delete", "specimen", sp.id, sp.name, reason=reason)
            s.delete(sp)
        s.flush()
        return asset_ids

    def delete_sample(self, name: str, *, force: bool = False, reason: str | None = None) -> DeletionImpact:
        """Delete a sample; with ``force`` also its specimens, dots, measurements and raw data."""
        impact = self.deletion_impact(sample=name)
        if (impact.specimens or impact.measurements) and not force:
            raise InUseError(
                f"sample {name!r} has {impact.specimens} specimen(s), {impact.dots} dot(s) and "
                f"{impact.measurements} measurement(s) ({_human_bytes(impact.raw_bytes)} of raw data); "
                "pass --force to delete them too"
            )
        with self.session() as s:
            smp = self._get_sample(s, name)
            spec_ids = s.scalars(select(Specimen.id).where(Specimen.sample_id == smp.id)).all()
            asset_ids = self._delete_specimens(s, spec_ids, reason=reason)
            self._audit(s, "delete", "sample", smp.id, smp.name, reason=reason)
            s.delete(smp)
        self._purge_deleting(asset_ids)
        return impact


def _read_dot_csv(path: Path, reader: csv.DictReader[str]) -> list[dict[str, str]]:
    """The rows of a dot CSV, its header checked against :data:`DOT_CSV_COLUMNS`."""
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = {"label", "x_um", "y_um"} - set(header)
    if missing:
        raise InvalidValueError(
            f"{path}: missing column(s) {sorted(missing)}; the CSV needs a header "
            "'label,x_um,y_um' (optional: z_um,marker_label,marker_dx_um,marker_dy_um,notes)"
        )
    allowed = set(DOT_CSV_COLUMNS)
    extra = set(header) - allowed
    if extra:
        raise InvalidValueError(f"{path}: unknown column(s) {sorted(extra)}; allowed: {sorted(allowed)}")
    rows = []
    for row in reader:
        if None in row:  # csv.DictReader keeps surplus cells under the key None
            raise InvalidValueError(
                f"{path} line {reader.line_num}: {len(header) + len(row[None])} cells for "
                f"{len(header)} columns ({', '.join(header)}); remove the extra cells "
                "or quote a value that holds a comma"
            )
        rows.append({k.strip(): (v or "").strip() for k, v in row.items()})
    return rows


def _human_bytes(n: int) -> str:
    x = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if x < 1000 or unit == "TB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000
    return f"{n} B"
