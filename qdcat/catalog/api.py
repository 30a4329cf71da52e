"""The catalog's Python API: everything the CLI can do, as functions.

:class:`Catalog` joins the SQL catalog and the raw-data store. It is the one
place where rows and raw data change together, so it owns the protocols that
keep them consistent:

* **writing raw data** — a ``pending`` asset row is committed *before* any
  bytes reach the store, the store group is committed, and only then do the
  measurement and the ``committed`` asset appear, in one transaction. A crash
  anywhere leaves at most a pending row plus partial bytes, which
  :meth:`Catalog.collect_garbage` removes;
* **deleting** — rows go in one transaction that marks their assets
  ``deleting``; the bytes go afterwards, and a crash in between is again
  finished by :meth:`Catalog.collect_garbage`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, selectinload, sessionmaker

from qdcat._json import jsonable
from qdcat.catalog import db
from qdcat.catalog.models import (
    AnalysisRun,
    AnalysisRunInput,
    AssetState,
    ChannelRole,
    DataKind,
    Dot,
    ExcitationMode,
    InstrumentSettings,
    Measurement,
    MeasurementKind,
    RawAsset,
    RunStatus,
    Sample,
    Setup,
    SetupChannel,
    Specimen,
    SpecimenPurpose,
)
from qdcat.catalog.types import utcnow
from qdcat.catalog.validate import YEARS
from qdcat.config import Config, load_config, write_config_file
from qdcat.errors import (
    AlreadyExistsError,
    InUseError,
    InvalidValueError,
    NotFoundError,
    QdcatError,
    StoreError,
)

if TYPE_CHECKING:  # the store pulls in zarr and numba: imported when first used, not for a listing
    from qdcat.store.timetags import StoredSummary, TimeTagStore, TimeTagWriter

E = TypeVar("E")

#: How long a pending asset from a writer we cannot check (another host) is
#: presumed alive before garbage collection removes it.
DEFAULT_PENDING_GRACE = dt.timedelta(hours=6)

#: zarr writes metadata to ``<name>.<uuid>.partial`` and renames it; a file still there
#: after this long was left by a killed writer.
PARTIAL_GRACE = dt.timedelta(minutes=10)


# ---------------------------------------------------------------------------
# value parsing: one clear message per bad value
# ---------------------------------------------------------------------------
def parse_enum(cls: type[E], value: Any, what: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).strip().lower())  # type: ignore[call-arg]
    except ValueError:
        valid = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise InvalidValueError(f"{what} {value!r} is not valid; choose one of: {valid}") from None


def parse_id(value: Any, what: str) -> int:
    """A catalog id: a positive 64-bit integer."""
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} id must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or (isinstance(value, float) and i != value) or not 1 <= i < 2**63:
        raise InvalidValueError(f"{what} id must be a whole number from 1 to 2**63-1, got {value!r}")
    return i


def parse_name(value: Any, what: str, max_len: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{what} must be a non-empty text, got {value!r}")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidValueError(f"{what} {value[:20]!r}… is longer than {max_len} characters")
    if "/" in value and what != "material":
        raise InvalidValueError(f"{what} {value!r} must not contain '/'")
    return value


def parse_float(
    value: Any,
    what: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise InvalidValueError(f"{what} must be finite, got {value!r}")
    if positive and x <= 0:
        raise InvalidValueError(f"{what} must be > 0, got {x:g}")
    if nonnegative and x < 0:
        raise InvalidValueError(f"{what} must be >= 0, got {x:g}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise InvalidValueError(f"{what} must lie in [{lo:g}, {hi:g}], got {x:g}")
    return x


def parse_date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidValueError(f"{what} must be a date like 2026-03-01, got {value!r}") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise InvalidValueError(
            f"{what} {day.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}; check the date"
        )
    return day


def parse_datetime(value: Any, what: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        ts = value
    else:
        try:
            ts = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidValueError(
                f"{what} must be an ISO time like 2026-03-01T14:05:00+01:00, got {value!r}"
            ) from None
    if not YEARS[0] <= ts.year <= YEARS[1]:
        raise InvalidValueError(
            f"{what} {ts.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}; check the date"
        )
    if ts.tzinfo is None:
        # Lab clocks are local: a naive time is read as the machine's local zone.
        ts = ts.astimezone()
    return ts.astimezone(dt.UTC)


# ---------------------------------------------------------------------------
# specifications handed to the write protocol
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingsSpec:
    """Instrument settings of one measurement (typed columns + free snapshot)."""

    excitation_wavelength_nm: float | None = None
    excitation_mode: ExcitationMode | str | None = None
    repetition_rate_mhz: float | None = None
    intensity_w_cm2: float | None = None
    temperature_k: float | None = None
    integration_time_s: float | None = None
    snapshot: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasurementSpec:
    """Where a measurement belongs and what it is; names, not database ids."""

    kind: MeasurementKind | str
    specimen: str
    dot: str | None = None
    setup: str | None = None
    label: str | None = None
    started_at: dt.datetime | str | None = None
    duration_s: float | None = None
    operator: str | None = None
    series_name: str | None = None
    series_index: int | None = None
    notes: str | None = None
    settings: SettingsSpec | None = None


@dataclass(frozen=True)
class SourceFile:
    """The instrument file raw data came from (checksummed to spot re-ingest)."""

    filename: str
    sha256: str
    size_bytes: int
    format: str


@dataclass(frozen=True)
class GarbageReport:
    removed_pending: list[str]
    removed_deleting: list[str]
    removed_orphans: list[str]
    kept_pending: list[str]


@dataclass(frozen=True)
class FsckProblem:
    measurement_id: int | None
    store_path: str
    problem: str


# ---------------------------------------------------------------------------
# record → plain dict, for tables, JSON and CSV
# ---------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value") and isinstance(value, str):  # StrEnum
        return value.value
    return value


def record(obj: Any, columns: Sequence[str] | None = None) -> dict[str, Any]:
    cols = columns or [c.key for c in obj.__table__.columns]
    return {c: _plain(getattr(obj, c)) for c in cols}


class Catalog:
    """A catalog database plus its raw-data store. Use :func:`open_catalog`."""

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self._sessions: sessionmaker[Session] = db.session_factory(engine)
        self._store: TimeTagStore | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Catalog(database={self.engine.url!r}, store={self.config.store_url!r})"

    @property
    def store(self) -> TimeTagStore:
        if self._store is None:
            from qdcat.store.timetags import TimeTagStore

            self._store = TimeTagStore(self.config.store_url)
        return self._store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with db.transaction(self._sessions) as s:
            yield s

    # -- lookups -------------------------------------------------------------
    @staticmethod
    def _get_sample(s: Session, name: str) -> Sample:
        obj = s.scalar(select(Sample).where(Sample.name == name))
        if obj is None:
            known = s.scalars(select(Sample.name).order_by(Sample.name).limit(10)).all()
            hint = f"; known samples: {', '.join(known)}" if known else "; add one with `qdcat sample add`"
            raise NotFoundError(f"unknown sample {name!r}{hint}")
        return obj

    @staticmethod
    def _get_specimen(s: Session, name: str) -> Specimen:
        obj = s.scalar(select(Specimen).where(Specimen.name == name))
        if obj is None:
            known = s.scalars(select(Specimen.name).order_by(Specimen.name).limit(10)).all()
            hint = (
                f"; known specimens: {', '.join(known)}" if known else "; add one with `qdcat specimen add`"
            )
            raise NotFoundError(f"unknown specimen {name!r}{hint}")
        return obj

    @staticmethod
    def _get_dot(s: Session, specimen: Specimen, label: str) -> Dot:
        obj = s.scalar(select(Dot).where(Dot.specimen_id == specimen.id, Dot.label == label))
        if obj is None:
            raise NotFoundError(
                f"unknown dot {label!r} on specimen {specimen.name!r}; list them with "
                f"`qdcat dot list --specimen {specimen.name}`"
            )
        return obj

    @staticmethod
    def _get_setup(s: Session, name: str) -> Setup:
        obj = s.scalar(select(Setup).where(Setup.name == name))
        if obj is None:
            raise NotFoundError(f"unknown setup {name!r}; add one with `qdcat setup add`")
        return obj

    @staticmethod
    def _get_measurement(s: Session, measurement_id: int) -> Measurement:
        measurement_id = parse_id(measurement_id, "measurement")
        obj = s.get(Measurement, measurement_id)
        if obj is None:
            raise NotFoundError(f"no measurement with id {measurement_id}; see `qdcat measurement list`")
        return obj

    @staticmethod
    def _flush_unique(s: Session, what: str) -> None:
        # The explicit existence checks give the friendly message; this catches
        # a concurrent writer that inserted the same name in between.
        try:
            s.flush()
        except sa_exc.IntegrityError as exc:
            raise AlreadyExistsError(f"{what} already exists (or violates a constraint: {exc.orig})") from exc

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
    ) -> dict[str, Any]:
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
            return record(obj)

    def list_samples(self) -> list[dict[str, Any]]:
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
            out = []
            for sample, ns, nd, nm in rows:
                r = record(
                    sample,
                    [
                        "id",
                        "name",
                        "material",
                        "core_diameter_nm",
                        "total_diameter_nm",
                        "pl_peak_nm",
                        "pl_fwhm_nm",
                        "plqy_fraction",
                    ],
                )
                r.update(specimens=int(ns), dots=int(nd), measurements=int(nm))
                out.append(r)
            return out

    def get_sample(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            sample = self._get_sample(s, name)
            r = record(sample)
            r["specimens"] = [
                record(sp, ["name", "purpose", "preparation_method", "substrate"])
                for sp in s.scalars(
                    select(Specimen).where(Specimen.sample_id == sample.id).order_by(Specimen.name)
                )
            ]
            r["dots"] = s.scalar(
                select(func.count(Dot.id)).join(Specimen).where(Specimen.sample_id == sample.id)
            )
            r["measurements"] = s.scalar(
                select(func.count(Measurement.id)).join(Specimen).where(Specimen.sample_id == sample.id)
            )
            return r

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
    ) -> dict[str, Any]:
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
            r = record(obj)
            r["sample"] = smp.name
            return r

    def list_specimens(self, sample: str | None = None) -> list[dict[str, Any]]:
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
            out = []
            for sp, sample_name, nd in s.execute(q).all():
                r = {"id": sp.id, "name": sp.name, "sample": sample_name}
                r.update(
                    record(
                        sp,
                        [
                            "purpose",
                            "preparation_method",
                            "concentration_nmol_l",
                            "solvent",
                            "substrate",
                            "surface_density_per_um2",
                            "prepared_on",
                        ],
                    )
                )
                r["dots"] = int(nd)
                out.append(r)
            return out

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
    ) -> dict[str, Any]:
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
            r = record(obj)
            r["specimen"] = sp.name
            return r

    def import_dots(
        self, specimen: str, rows: Iterable[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> dict[str, int]:
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
            return {"added": len(new), "skipped": len(dots) - len(new)}

    def import_dots_csv(
        self, specimen: str, path: str | os.PathLike[str], *, skip_existing: bool = False
    ) -> dict[str, int]:
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                header = [h.strip() for h in (reader.fieldnames or [])]
                missing = {"label", "x_um", "y_um"} - set(header)
                if missing:
                    raise InvalidValueError(
                        f"{path}: missing column(s) {sorted(missing)}; the CSV needs a header "
                        "'label,x_um,y_um' (optional: z_um,marker_label,marker_dx_um,marker_dy_um,notes)"
                    )
                allowed = {
                    "label",
                    "x_um",
                    "y_um",
                    "z_um",
                    "marker_label",
                    "marker_dx_um",
                    "marker_dy_um",
                    "notes",
                }
                extra = set(header) - allowed
                if extra:
                    raise InvalidValueError(
                        f"{path}: unknown column(s) {sorted(extra)}; allowed: {sorted(allowed)}"
                    )
                rows = []
                for row in reader:
                    if None in row:  # csv.DictReader keeps surplus cells under the key None
                        raise InvalidValueError(
                            f"{path} line {reader.line_num}: {len(header) + len(row[None])} cells for "
                            f"{len(header)} columns ({', '.join(header)}); remove the extra cells "
                            "or quote a value that holds a comma"
                        )
                    rows.append({k.strip(): (v or "").strip() for k, v in row.items()})
        except OSError as exc:
            raise InvalidValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InvalidValueError(f"{path} is not a readable CSV file: {exc}") from exc
        if not rows:
            raise InvalidValueError(f"{path} has a header but no dots")
        return self.import_dots(specimen, rows, skip_existing=skip_existing)

    def list_dots(self, *, specimen: str | None = None, sample: str | None = None) -> list[dict[str, Any]]:
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
            out = []
            for dot, sp_name, smp_name, nm in s.execute(q).all():
                r = {"id": dot.id, "label": dot.label, "specimen": sp_name, "sample": smp_name}
                r.update(
                    record(dot, ["x_um", "y_um", "z_um", "marker_label", "marker_dx_um", "marker_dy_um"])
                )
                r["measurements"] = int(nm)
                out.append(r)
            return out

    # -- setups ------------------------------------------------------------------
    def add_setup(
        self,
        name: str,
        *,
        channels: Mapping[int, ChannelRole | str | tuple[ChannelRole | str, str | None]] | None = None,
        time_tagger_model: str | None = None,
        time_tagger_resolution_ps: float | None = None,
        spectrometer: str | None = None,
        description: str | None = None,
        ccd_offset_counts: float | None = None,
        ccd_read_noise_counts: float | None = None,
        dark_count_rate_cps: Mapping[int, float] | None = None,
        timing_jitter_ps: Mapping[int, float] | None = None,
    ) -> dict[str, Any]:
        """Register an instrument; ``channels`` maps time-tagger input → role (and detector).

        Facts the analyses use when they are known: the CCD's electronic offset and
        read noise (the spectrum fit's noise model), and per channel the detector's
        dark count rate (the blinking off level without a background measurement)
        and timing jitter (FWHM).
        """
        name = parse_name(name, "setup name")
        chans: list[SetupChannel] = []
        roles: dict[ChannelRole, int] = {}
        for ch, spec in sorted((channels or {}).items()):
            try:
                ch_i = int(ch)
            except (TypeError, ValueError):
                raise InvalidValueError(f"channel {ch!r} must be an integer 0–255") from None
            if not 0 <= ch_i <= 255:
                raise InvalidValueError(f"channel {ch_i} must lie in 0–255")
            role_raw, detector = spec if isinstance(spec, tuple) else (spec, None)
            role = parse_enum(ChannelRole, role_raw, f"role of channel {ch_i}")
            # Several detectors may share an HBT arm (every channel of a role feeds the
            # analyses); one laser sync is all a time tagger records.
            if role is ChannelRole.SYNC and role in roles:
                raise InvalidValueError(
                    f"channels {roles[role]} and {ch_i} are both sync; a setup has one sync channel"
                )
            roles[role] = ch_i
            chans.append(
                SetupChannel(
                    channel=ch_i,
                    role=role,
                    detector=detector,
                    dark_count_rate_cps=parse_float(
                        (dark_count_rate_cps or {}).get(ch_i),
                        f"dark count rate of channel {ch_i}",
                        nonnegative=True,
                    ),
                    timing_jitter_ps=parse_float(
                        (timing_jitter_ps or {}).get(ch_i),
                        f"timing jitter of channel {ch_i}",
                        nonnegative=True,
                    ),
                )
            )
        for what, per in (("dark count rate", dark_count_rate_cps), ("timing jitter", timing_jitter_ps)):
            unknown = sorted(set(map(int, per or {})) - {c.channel for c in chans})
            if unknown:
                raise InvalidValueError(f"{what} given for channel(s) {unknown} that the setup does not map")
        with self.session() as s:
            if s.scalar(select(Setup.id).where(Setup.name == name)) is not None:
                raise AlreadyExistsError(f"setup {name!r} already exists")
            obj = Setup(
                name=name,
                description=description,
                time_tagger_model=time_tagger_model,
                time_tagger_resolution_ps=parse_float(
                    time_tagger_resolution_ps, "time_tagger_resolution_ps", positive=True
                ),
                spectrometer=spectrometer,
                ccd_offset_counts=parse_float(ccd_offset_counts, "ccd_offset_counts"),
                ccd_read_noise_counts=parse_float(
                    ccd_read_noise_counts, "ccd_read_noise_counts", nonnegative=True
                ),
                channels=chans,
            )
            s.add(obj)
            self._flush_unique(s, f"setup {name!r}")
            return self._setup_record(obj)

    @staticmethod
    def _setup_record(obj: Setup) -> dict[str, Any]:
        r = record(obj)
        r["channels"] = {
            str(c.channel): {
                "role": c.role.value,
                "detector": c.detector,
                "dark_count_rate_cps": c.dark_count_rate_cps,
                "timing_jitter_ps": c.timing_jitter_ps,
            }
            for c in obj.channels
        }
        return r

    def list_setups(self) -> list[dict[str, Any]]:
        with self.session() as s:
            setups = s.scalars(select(Setup).options(selectinload(Setup.channels)).order_by(Setup.name)).all()
            out = []
            for st in setups:
                r = record(
                    st, ["id", "name", "time_tagger_model", "time_tagger_resolution_ps", "spectrometer"]
                )
                r["channels"] = ", ".join(f"{c.channel}={c.role.value}" for c in st.channels)
                out.append(r)
            return out

    def get_setup(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            return self._setup_record(self._get_setup(s, name))

    def channel_roles(self, setup: str) -> dict[int, ChannelRole]:
        """Time-tagger input → role for a setup (ingest maps channels with it)."""
        with self.session() as s:
            return {c.channel: c.role for c in self._get_setup(s, setup).channels}

    # -- measurements ------------------------------------------------------------
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
        st = spec.settings
        if st is not None:
            mode = (
                parse_enum(ExcitationMode, st.excitation_mode, "excitation mode")
                if st.excitation_mode
                else None
            )
            rep = parse_float(st.repetition_rate_mhz, "repetition_rate_mhz", positive=True)
            if mode is ExcitationMode.CW and rep is not None:
                raise InvalidValueError(
                    "cw excitation has no repetition rate; drop repetition_rate_mhz or use pulsed"
                )
            m.settings = InstrumentSettings(
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
        return m

    def add_measurement(self, spec: MeasurementSpec) -> dict[str, Any]:
        """A measurement without raw data (results entered by hand, or data to come)."""
        with self.session() as s:
            m = self._resolve_measurement(s, spec)
            s.add(m)
            s.flush()
            return {"id": m.id, "kind": m.kind.value}

    def find_by_source(self, sha256: str) -> int | None:
        """The measurement that already holds the file with this checksum, if any."""
        with self.session() as s:
            return s.scalar(
                select(RawAsset.measurement_id).where(
                    RawAsset.source_sha256 == sha256, RawAsset.state == AssetState.COMMITTED
                )
            )

    def _begin_asset(self, data_kind: DataKind, source: SourceFile | None) -> RawAsset:
        key = f"raw/{uuid.uuid4().hex}"
        with self.session() as s:
            if source is not None:
                existing = s.scalar(
                    select(RawAsset.measurement_id).where(
                        RawAsset.source_sha256 == source.sha256, RawAsset.state == AssetState.COMMITTED
                    )
                )
                if existing is not None:
                    raise AlreadyIngestedError(source.filename, existing)
            asset = RawAsset(
                state=AssetState.PENDING,
                data_kind=data_kind,
                store_path=key,
                source_filename=source.filename if source else None,
                source_format=source.format if source else None,
                source_sha256=source.sha256 if source else None,
                source_size_bytes=source.size_bytes if source else None,
                writer_host=socket.gethostname(),
                writer_pid=os.getpid(),
            )
            s.add(asset)
            s.flush()
            return asset

    def _commit_asset(
        self,
        asset_id: int,
        spec: MeasurementSpec,
        summary: StoredSummary,
        *,
        resolution_ps: float | None,
        nanotime_resolution_ps: float | None,
        has_nanotimes: bool,
    ) -> int:
        try:
            with self.session() as s:
                m = self._resolve_measurement(s, spec)
                s.add(m)
                s.flush()
                asset = s.get(RawAsset, asset_id)
                if asset is None or asset.state is not AssetState.PENDING:
                    raise StoreError(
                        f"raw asset {asset_id} vanished while being written (was `qdcat gc` run "
                        "with --all-pending during the ingest?); ingest the file again"
                    )
                # Read before the flush: after a failed flush the session is unusable.
                source_name, has_source = asset.source_filename, asset.source_sha256 is not None
                asset.measurement_id = m.id
                asset.state = AssetState.COMMITTED
                asset.event_count = summary.event_count
                asset.channel_counts = {str(c): int(k) for c, k in summary.channel_counts.items()}
                asset.resolution_ps = resolution_ps
                asset.nanotime_resolution_ps = nanotime_resolution_ps
                asset.has_nanotimes = has_nanotimes
                asset.data_sha256 = summary.data_sha256
                asset.stored_bytes = summary.stored_bytes
                asset.committed_at = utcnow()
                asset.writer_host = None
                asset.writer_pid = None
                try:
                    s.flush()
                except sa_exc.IntegrityError as exc:
                    if has_source:  # a concurrent ingest of the same file committed first
                        raise AlreadyIngestedError(source_name or "?", None) from exc
                    raise
                return m.id
        except BaseException:
            self._discard_asset(asset_id)
            raise

    def _discard_asset(self, asset_id: int) -> None:
        """Remove a pending asset's bytes, then its row (order matters for gc)."""
        with self.session() as s:
            asset = s.get(RawAsset, asset_id)
            if asset is None or asset.state is AssetState.COMMITTED:
                return
            key = asset.store_path
        self.store.delete(key)
        with self.session() as s:
            asset = s.get(RawAsset, asset_id)
            if asset is not None and asset.state is not AssetState.COMMITTED:
                s.delete(asset)

    @contextmanager
    def new_timetag_measurement(
        self,
        spec: MeasurementSpec,
        *,
        resolution_ps: float,
        source: SourceFile | None = None,
        nanotime_dtype: str | None = None,
        nanotime_resolution_ps: float | None = None,
        chunk_events: int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Iterator[TimeTagIngest]:
        """Stream time tags into a new measurement; all or nothing.

        ``with cat.new_timetag_measurement(spec, resolution_ps=1) as w: w.append(t, ch)``
        — on a clean exit the measurement exists with its committed raw data
        (``w.measurement_id``); on any exception neither does.
        """
        # Resolve names first so a typo fails before any byte is written.
        with self.session() as s:
            self._resolve_measurement(s, spec)
        asset = self._begin_asset(DataKind.TIMETAGS, source)
        ingest = TimeTagIngest()
        try:
            kwargs: dict[str, Any] = {}
            if chunk_events is not None:
                kwargs["chunk_events"] = chunk_events
            writer = self.store.create_timetags(
                asset.store_path,
                resolution_ps=resolution_ps,
                nanotime_dtype=nanotime_dtype,
                nanotime_resolution_ps=nanotime_resolution_ps,
                attrs=attrs,
                **kwargs,
            )
            ingest._writer = writer
            with writer:
                yield ingest
                summary = writer.commit()
        except BaseException:
            self._discard_asset(asset.id)
            raise
        if ingest.duration_s is not None:  # what the data showed, set by the writer's caller
            spec = replace(spec, duration_s=ingest.duration_s)
        ingest.measurement_id = self._commit_asset(
            asset.id,
            spec,
            summary,
            resolution_ps=resolution_ps,
            nanotime_resolution_ps=nanotime_resolution_ps,
            has_nanotimes=nanotime_dtype is not None,
        )
        ingest.summary = summary

    def add_array_measurement(
        self,
        spec: MeasurementSpec,
        arrays: Mapping[str, np.ndarray],
        *,
        data_kind: DataKind | str = DataKind.SPECTRUM,
        source: SourceFile | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> int:
        """A measurement whose raw data are a few 1-D arrays (a spectrum, a curve)."""
        kind = parse_enum(DataKind, data_kind, "data kind")
        if kind is DataKind.TIMETAGS:
            raise InvalidValueError("time tags are written with new_timetag_measurement()")
        if kind is DataKind.SPECTRUM and set(arrays) != {"wavelength_nm", "counts"}:
            raise InvalidValueError(f"a spectrum needs arrays wavelength_nm and counts, got {sorted(arrays)}")
        with self.session() as s:
            self._resolve_measurement(s, spec)
        asset = self._begin_asset(kind, source)
        try:
            summary = self.store.write_arrays(asset.store_path, arrays, attrs=attrs)
        except BaseException:
            self._discard_asset(asset.id)
            raise
        return self._commit_asset(
            asset.id, spec, summary, resolution_ps=None, nanotime_resolution_ps=None, has_nanotimes=False
        )

    def list_measurements(
        self,
        *,
        sample: str | None = None,
        specimen: str | None = None,
        dot: str | None = None,
        kind: MeasurementKind | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        with self.session() as s:
            q = (
                select(
                    Measurement,
                    Specimen.name,
                    Sample.name,
                    Dot.label,
                    RawAsset,
                    InstrumentSettings,
                    Setup.name,
                )
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
            out = []
            for m, sp_name, smp_name, dot_label, asset, st, setup_name in s.execute(q).all():
                out.append(
                    {
                        "id": m.id,
                        "kind": m.kind.value,
                        "sample": smp_name,
                        "specimen": sp_name,
                        "dot": dot_label,
                        "setup": setup_name,
                        "started_at": _plain(m.started_at),
                        "duration_s": m.duration_s,
                        "excitation_mode": st.excitation_mode.value if st and st.excitation_mode else None,
                        "intensity_w_cm2": st.intensity_w_cm2 if st else None,
                        "event_count": asset.event_count if asset else None,
                        "source_filename": asset.source_filename if asset else None,
                    }
                )
            return out

    def get_measurement(self, measurement_id: int) -> dict[str, Any]:
        with self.session() as s:
            m = self._get_measurement(s, measurement_id)
            r = record(m)
            sp = s.get(Specimen, m.specimen_id)
            assert sp is not None
            r["specimen"] = sp.name
            r["sample"] = s.get(Sample, sp.sample_id).name  # type: ignore[union-attr]
            r["dot"] = s.get(Dot, m.dot_id).label if m.dot_id else None  # type: ignore[union-attr]
            r["setup"] = s.get(Setup, m.setup_id).name if m.setup_id else None  # type: ignore[union-attr]
            st = s.get(InstrumentSettings, m.id)
            r["settings"] = record(st) if st else None
            if r["settings"]:
                r["settings"].pop("measurement_id")
            asset = s.scalar(
                select(RawAsset).where(
                    RawAsset.measurement_id == m.id, RawAsset.state == AssetState.COMMITTED
                )
            )
            r["raw_data"] = (
                record(
                    asset,
                    [
                        "store_path",
                        "data_kind",
                        "source_filename",
                        "source_format",
                        "source_sha256",
                        "source_size_bytes",
                        "event_count",
                        "channel_counts",
                        "resolution_ps",
                        "nanotime_resolution_ps",
                        "has_nanotimes",
                        "data_sha256",
                        "stored_bytes",
                        "committed_at",
                    ],
                )
                if asset
                else None
            )
            return r

    def raw_asset(self, measurement_id: int) -> dict[str, Any]:
        """The committed raw data of a measurement (store path, checksums, counts)."""
        r = self.get_measurement(measurement_id)
        if r["raw_data"] is None:
            raise NotFoundError(f"measurement {measurement_id} has no raw data")
        return r["raw_data"]

    def open_timetags(self, measurement_id: int) -> Any:
        """A :class:`~qdcat.store.TimeTagReader` over a measurement's time tags."""
        raw = self.raw_asset(measurement_id)
        if raw["data_kind"] != DataKind.TIMETAGS.value:
            raise InvalidValueError(
                f"measurement {measurement_id} holds {raw['data_kind']} data, not time tags"
            )
        return self.store.open_timetags(raw["store_path"])

    def read_arrays(self, measurement_id: int) -> dict[str, np.ndarray]:
        raw = self.raw_asset(measurement_id)
        return self.store.read_arrays(raw["store_path"])

    # -- deletion ----------------------------------------------------------------
    def _delete_measurements(self, s: Session, ids: Sequence[int]) -> list[int]:
        """Delete measurements and their analysis runs; mark their assets for removal."""
        if not ids:
            return []
        run_ids = s.scalars(
            select(AnalysisRunInput.run_id).where(AnalysisRunInput.measurement_id.in_(ids)).distinct()
        ).all()
        for run in s.scalars(select(AnalysisRun).where(AnalysisRun.id.in_(run_ids))):
            s.delete(run)
        s.flush()
        assets = s.scalars(select(RawAsset).where(RawAsset.measurement_id.in_(ids))).all()
        for a in assets:
            a.state = AssetState.DELETING
            a.measurement_id = None
        s.flush()
        for m in s.scalars(select(Measurement).where(Measurement.id.in_(ids))):
            s.delete(m)
        s.flush()
        return [a.id for a in assets]

    def _purge_deleting(self, asset_ids: Iterable[int] | None = None) -> list[str]:
        with self.session() as s:
            q = select(RawAsset).where(RawAsset.state == AssetState.DELETING)
            if asset_ids is not None:
                q = q.where(RawAsset.id.in_(list(asset_ids)))
            todo = [(a.id, a.store_path) for a in s.scalars(q)]
        done = []
        for asset_id, key in todo:
            self.store.delete(key)
            with self.session() as s:
                a = s.get(RawAsset, asset_id)
                if a is not None:
                    s.delete(a)
            done.append(key)
        return done

    def deletion_impact(self, *, sample: str | None = None, specimen: str | None = None) -> dict[str, int]:
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
            return {
                "specimens": len(spec_ids),
                "dots": s.scalar(select(func.count(Dot.id)).where(Dot.specimen_id.in_(spec_ids))) or 0,
                "measurements": len(m_ids),
                "raw_bytes": int(stored or 0),
            }

    def delete_measurement(self, measurement_id: int) -> None:
        with self.session() as s:
            self._get_measurement(s, measurement_id)
            asset_ids = self._delete_measurements(s, [int(measurement_id)])
        self._purge_deleting(asset_ids)

    def delete_dot(self, specimen: str, label: str, *, force: bool = False) -> dict[str, int]:
        with self.session() as s:
            dot = self._get_dot(s, self._get_specimen(s, specimen), label)
            m_ids = s.scalars(select(Measurement.id).where(Measurement.dot_id == dot.id)).all()
            if m_ids and not force:
                raise InUseError(
                    f"dot {label!r} has {len(m_ids)} measurement(s) with raw data; "
                    "pass --force to delete them too"
                )
            asset_ids = self._delete_measurements(s, m_ids)
            s.delete(dot)
        self._purge_deleting(asset_ids)
        return {"measurements": len(m_ids)}

    def delete_specimen(self, name: str, *, force: bool = False) -> dict[str, int]:
        impact = self.deletion_impact(specimen=name)
        if (impact["dots"] or impact["measurements"]) and not force:
            raise InUseError(
                f"specimen {name!r} has {impact['dots']} dot(s) and {impact['measurements']} measurement(s) "
                f"({_human_bytes(impact['raw_bytes'])} of raw data); pass --force to delete them too"
            )
        with self.session() as s:
            sp = self._get_specimen(s, name)
            asset_ids = self._delete_specimens(s, [sp.id])
        self._purge_deleting(asset_ids)
        return impact

    def _delete_specimens(self, s: Session, spec_ids: Sequence[int]) -> list[int]:
        m_ids = s.scalars(select(Measurement.id).where(Measurement.specimen_id.in_(spec_ids))).all()
        asset_ids = self._delete_measurements(s, m_ids)
        for d in s.scalars(select(Dot).where(Dot.specimen_id.in_(spec_ids))):
            s.delete(d)
        s.flush()
        for sp in s.scalars(select(Specimen).where(Specimen.id.in_(spec_ids))):
            s.delete(sp)
        s.flush()
        return asset_ids

    def delete_sample(self, name: str, *, force: bool = False) -> dict[str, int]:
        """Delete a sample; with ``force`` also its specimens, dots, measurements and raw data."""
        impact = self.deletion_impact(sample=name)
        if (impact["specimens"] or impact["measurements"]) and not force:
            raise InUseError(
                f"sample {name!r} has {impact['specimens']} specimen(s), {impact['dots']} dot(s) and "
                f"{impact['measurements']} measurement(s) ({_human_bytes(impact['raw_bytes'])} of raw data); "
                "pass --force to delete them too"
            )
        with self.session() as s:
            smp = self._get_sample(s, name)
            spec_ids = s.scalars(select(Specimen.id).where(Specimen.sample_id == smp.id)).all()
            asset_ids = self._delete_specimens(s, spec_ids)
            s.delete(smp)
        self._purge_deleting(asset_ids)
        return impact

    # -- garbage collection and checks -------------------------------------------
    def collect_garbage(
        self, *, pending_grace: dt.timedelta = DEFAULT_PENDING_GRACE, all_pending: bool = False
    ) -> GarbageReport:
        """Remove what interrupted writes and deletes left behind.

        * ``deleting`` assets: finish removing their bytes and rows;
        * ``pending`` assets whose writer is gone (same host, pid not running)
          or older than ``pending_grace`` (``all_pending``: every one — only when
          no ingest is running anywhere);
        * store groups under ``raw/`` that no asset row names (only possible if
          the store was written outside qdcat), once older than the grace period.
        """
        removed_deleting = self._purge_deleting()
        host = socket.gethostname()
        now = utcnow()
        removed_pending, kept = [], []
        with self.session() as s:
            pend = [
                (a.id, a.store_path, a.writer_host, a.writer_pid, a.created_at)
                for a in s.scalars(select(RawAsset).where(RawAsset.state == AssetState.PENDING))
            ]
        for asset_id, key, w_host, w_pid, created in pend:
            dead = w_host == host and w_pid is not None and not _pid_alive(w_pid)
            if all_pending or dead or now - created > pending_grace:
                self._discard_asset(asset_id)
                removed_pending.append(key)
            else:
                kept.append(key)
        with self.session() as s:
            known = set(s.scalars(select(RawAsset.store_path)))
        orphans = []
        # zarr's temporaries from a write killed before its rename: never read, safe to
        # remove once no writer could still be about to rename them.
        for key in self.store.list_partials("raw"):
            if all_pending or self._store_age(key) > PARTIAL_GRACE:
                self.store.delete(key)
                orphans.append(key)
        for key in self.store.list_keys("raw"):
            if key in known:
                continue
            if all_pending or self._store_age(key) > pending_grace:
                self.store.delete(key)
                orphans.append(key)
        orphans.extend(self._collect_derived())
        return GarbageReport(removed_pending, removed_deleting, orphans, kept)

    def _collect_derived(self) -> list[str]:
        """Derived arrays (``derived/<run>-<token>``) no run references and no running job will.

        Running claims are read before the referenced paths: a job committing in
        between is then seen by the second query, so its arrays are never taken.
        """
        keys = self.store.list_keys("derived")
        if not keys:
            return []
        with self.session() as s:
            running = {
                f"derived/{rid}-{token}"
                for rid, token in s.execute(
                    select(AnalysisRun.id, AnalysisRun.claim_token).where(
                        AnalysisRun.status == RunStatus.RUNNING
                    )
                )
            }
        with self.session() as s:
            referenced = set(
                s.scalars(select(AnalysisRun.arrays_path).where(AnalysisRun.arrays_path.is_not(None)))
            )
        removed = []
        for key in keys:
            if key not in running and key not in referenced:
                self.store.delete(key)
                removed.append(key)
        return removed

    def _store_age(self, key: str) -> dt.timedelta:
        try:
            info = self.store._fs.info(self.store._full(key))
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
            if isinstance(mtime, int | float):
                return utcnow() - dt.datetime.fromtimestamp(mtime, dt.UTC)
            if isinstance(mtime, dt.datetime):
                return utcnow() - (mtime if mtime.tzinfo else mtime.replace(tzinfo=dt.UTC))
        except (OSError, KeyError):
            pass
        return dt.timedelta(0)

    def fsck(self, *, checksums: bool = False) -> list[FsckProblem]:
        """Check every committed asset against the store (``checksums``: re-hash the data)."""
        problems: list[FsckProblem] = []
        with self.session() as s:
            assets = [
                (a.measurement_id, a.store_path, a.data_sha256, a.state)
                for a in s.scalars(select(RawAsset).order_by(RawAsset.id))
            ]
        for mid, key, sha, state in assets:
            if state is AssetState.PENDING:
                problems.append(
                    FsckProblem(mid, key, "pending write (in progress, or interrupted: `qdcat gc`)")
                )
                continue
            if state is AssetState.DELETING:
                problems.append(FsckProblem(mid, key, "deletion not finished (`qdcat gc` finishes it)"))
                continue
            if not self.store.is_committed(key):
                problems.append(FsckProblem(mid, key, "raw data missing or incomplete in the store"))
                continue
            if checksums:
                try:
                    self.store.verify(key, sha)
                except QdcatError as exc:
                    problems.append(FsckProblem(mid, key, str(exc)))
        known = {a[1] for a in assets}
        for key in self.store.list_keys("raw"):
            if key not in known:
                problems.append(
                    FsckProblem(None, key, "store data with no catalog row (`qdcat gc` removes it)")
                )
        return problems

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.config.describe())
        out["schema_revision"] = db.current_revision(self.engine)
        out["schema_head"] = db.head_revision()
        with self.session() as s:
            out["samples"] = s.scalar(select(func.count(Sample.id)))
            out["specimens"] = s.scalar(select(func.count(Specimen.id)))
            out["dots"] = s.scalar(select(func.count(Dot.id)))
            out["measurements"] = s.scalar(select(func.count(Measurement.id)))
            out["raw_bytes"] = int(
                s.scalar(
                    select(func.coalesce(func.sum(RawAsset.stored_bytes), 0)).where(
                        RawAsset.state == AssetState.COMMITTED
                    )
                )
                or 0
            )
            out["raw_events"] = int(
                s.scalar(
                    select(func.coalesce(func.sum(RawAsset.event_count), 0)).where(
                        RawAsset.state == AssetState.COMMITTED
                    )
                )
                or 0
            )
        return out


class AlreadyIngestedError(AlreadyExistsError):
    """The same source file (by content checksum) is already in the catalog."""

    def __init__(self, filename: str, measurement_id: int | None) -> None:
        self.filename = filename
        self.measurement_id = measurement_id
        where = f" as measurement {measurement_id}" if measurement_id is not None else ""
        super().__init__(f"{filename} is already in the catalog{where} (same content checksum); skipped")


class TimeTagIngest:
    """Handle yielded by :meth:`Catalog.new_timetag_measurement`."""

    def __init__(self) -> None:
        self._writer: TimeTagWriter | None = None
        self.measurement_id: int | None = None
        self.summary: StoredSummary | None = None
        self.duration_s: float | None = None  # set before the end of the block to override the spec's

    def append(
        self, timestamps_ps: np.ndarray, channels: np.ndarray, nanotimes: np.ndarray | None = None
    ) -> None:
        assert self._writer is not None
        self._writer.append(timestamps_ps, channels, nanotimes)

    @property
    def event_count(self) -> int:
        return self._writer.event_count if self._writer else 0

    def channel_counts(self) -> np.ndarray:
        assert self._writer is not None
        return self._writer.channel_counts()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _human_bytes(n: int) -> str:
    x = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if x < 1000 or unit == "TB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000
    return f"{n} B"


# ---------------------------------------------------------------------------
# opening
# ---------------------------------------------------------------------------
def open_catalog(
    home: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    store_url: str | None = None,
    config: Config | None = None,
    check_schema: bool = True,
) -> Catalog:
    """Open an existing catalog (``qdcat init`` creates one).

    Raises :class:`~qdcat.errors.SchemaOutdatedError` naming ``qdcat db upgrade``
    when the database is behind this version of qdcat.
    """
    cfg = config or load_config(home, database_url=database_url, store_url=store_url)
    engine = db.make_engine(cfg.database_url)
    if check_schema:
        try:
            db.check_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return Catalog(cfg, engine)


def init_catalog(
    home: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    store_url: str | None = None,
    config: Config | None = None,
) -> Catalog:
    """Create (or bring up to date) a catalog: directory, config file, schema, store."""
    cfg = config or load_config(home, database_url=database_url, store_url=store_url)
    cfg.home.mkdir(parents=True, exist_ok=True)
    if not cfg.config_file.exists():
        write_config_file(cfg)
    engine = db.make_engine(cfg.database_url)
    try:
        db.upgrade(engine)
    except sa_exc.OperationalError as exc:
        engine.dispose()
        raise QdcatError(
            f"cannot reach the database {cfg.describe()['database_url']}: {exc.orig}; "
            "check the server and QDCAT_DATABASE_URL"
        ) from exc
    cat = Catalog(cfg, engine)
    cat.store  # noqa: B018  (creates the local store directory now, not at first ingest)
    return cat
