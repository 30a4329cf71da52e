"""Population queries: current results joined with samples, specimens, dots, measurements and settings.

Two views, both pandas DataFrames:

* :func:`dots` — one row per dot, with the main quantities of each analysis as
  columns (``center_nm``, ``lifetime_ns``, ``g2_zero``, ``k_off_ml``,
  ``sigma_cm2`` …: the columns each analysis declares with ``dots=``). Where a
  dot has several current results of one analysis (its g2 acquisition and the
  points of a power series, say), the representative one is shown: from a
  measurement whose kind names this analysis (a g2_cw acquisition for g2_cw),
  then the longest acquisition, then the newest.
* :func:`results` — one row per current result of one analysis, with its
  measurement, settings and provenance.

Filters (``where=``) are parsed by :mod:`qdcat.query.filters` into SQLAlchemy
expressions over the whitelisted field names below — never into SQL text.
:func:`fields` lists the names with their descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    TypeDecorator,
    and_,
    exists,
    or_,
    select,
    true,
)
from sqlalchemy import Enum as SaEnum
from sqlalchemy.sql import ColumnElement

from qdcat import analyses as registry
from qdcat.analyses._base import CHOICE_COLUMNS, KEY_COLUMNS, PART_COLUMN, QC_COLUMNS, QC_FAIL
from qdcat.catalog.api import Catalog
from qdcat.catalog.current import excluded_result
from qdcat.catalog.models import (
    AnalysisRun,
    CuratedEntity,
    Dot,
    Exclusion,
    InstrumentSettings,
    Measurement,
    Sample,
    Specimen,
)
from qdcat.errors import InvalidValueError
from qdcat.query.filters import FilterError, parse_filter

if TYPE_CHECKING:  # statistics need scipy: imported by the functions that use them, not for a listing
    from qdcat.analysis.powerlaw import PowerLawMl
    from qdcat.query.stats import Comparison, Correlation


#: The dots view's columns that fit a screen (the CLI's table, the web page): identity and the
#: main quantity of each core analysis. Files and JSON get every column.
SCREEN_COLUMNS = (
    "sample",
    "specimen",
    "dot",
    "center_nm",
    "fwhm_nm",
    "lifetime_ns",
    "g2_zero",
    "on_fraction",
    "k_on_ml",
    "k_off_ml",
)


def dot_columns() -> dict[str, dict[str, str]]:
    """Per analysis: dots-view name → result column, as each analysis declares (``Column.dots``).

    Each analysis shown there also brings its QC verdict: ``<analysis>_qc`` (pass,
    partial, fail), ``<analysis>_qc_failed`` (the quantities that failed) and
    ``<analysis>_qc_reason``.
    """
    out = {}
    for a in registry.registry().values():
        cols = a.dots_columns()
        if cols:
            out[a.name] = cols | {f"{a.name}_{c}": c for c in (*QC_COLUMNS, "run_id")}
    return out


def _owner(source: str, name: str) -> tuple[str, str] | None:
    """(analysis, result column) behind a field of a view, or None for identity/settings fields."""
    if source == "dots":
        for analysis, cols in dot_columns().items():
            if name in cols and cols[name] not in (*QC_COLUMNS, "run_id"):
                return analysis, cols[name]
        return None
    a = registry.source(source)
    return (a.name, name) if name in a.result_names() and name not in (*QC_COLUMNS, "flags") else None


_IDENTITY = {
    "sample": "sample name",
    "material": "material system of the sample",
    "specimen": "specimen name",
    "dot": "dot label",
    "dot_id": "dot id",
    "x_um": "dot position x (µm)",
    "y_um": "dot position y (µm)",
}

_MEASUREMENT = {
    "measurement_id": "measurement id",
    "kind": "measurement kind",
    "started_at": "acquisition start (UTC)",
    "duration_s": "acquisition duration (s)",
    "series_name": "series the measurement belongs to",
    "series_index": "position in its series",
    "excitation_wavelength_nm": "excitation wavelength (nm)",
    "intensity_w_cm2": "excitation intensity (W/cm²)",
    "repetition_rate_mhz": "laser repetition rate (MHz)",
    "temperature_k": "temperature (K)",
    "run_id": "analysis run id",
    "analysis_version": "analysis version",
    "finished_at": "when the result was computed (UTC)",
}


@dataclass(frozen=True)
class Field:
    name: str
    source: str  # "identity", an analysis name, or "measurement"
    description: str


def fields(view: str = "dots") -> list[Field]:
    """The field names a view accepts in ``where=``/``columns=``: ``"dots"``, an analysis name, or an
    analysis's parts (``"levels.level"``, one row per intensity level)."""
    out = [Field(k, "identity", v) for k, v in _IDENTITY.items()]
    if view == "dots":
        for analysis, cols in dot_columns().items():
            for name, col in cols.items():
                out.append(Field(name, analysis, f"{analysis}: {col}"))
        return out
    a = registry.source(view)
    out += [Field(k, "measurement", v) for k, v in _MEASUREMENT.items()]
    for name in a.result_names():
        out.append(Field(name, a.name, f"{a.name}: {name}"))
    return out


def _representative(analysis: str) -> Any:
    """The result of ``analysis`` that stands for each dot (see :mod:`qdcat.catalog.current`)."""
    return registry.get(analysis).table.alias(f"cur_{analysis}")


class _Used(dict[str, ColumnElement[Any]]):
    """Field name → column, remembering which names a filter or a column list looked up."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> ColumnElement[Any]:
        self.used.add(key)
        return super().__getitem__(key)


def _identity_columns() -> dict[str, ColumnElement[Any]]:
    return {
        "sample": Sample.name.expression,
        "material": Sample.material.expression,
        "specimen": Specimen.name.expression,
        "dot": Dot.label.expression,
        "dot_id": Dot.id.expression,
        "x_um": Dot.x_um.expression,
        "y_um": Dot.y_um.expression,
    }


def _apply(
    q: Select[Any],
    available: Mapping[str, ColumnElement[Any]],
    *,
    where: str | None,
    columns: Sequence[str] | None,
    sample: str | Sequence[str] | None,
    specimen: str | None,
) -> Select[Any]:
    if columns:
        unknown = [c for c in columns if c not in available]
        if unknown:
            import difflib

            close = sorted({m for c in unknown for m in difflib.get_close_matches(c, list(available), n=3)})
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise FilterError(
                f"unknown column(s) {', '.join(unknown)}; {hint}"
                "`qdcat query fields` lists the valid names with their units"
            )
        chosen = list(dict.fromkeys(columns))
    else:
        chosen = list(available)
    q = q.with_only_columns(*(available[c].label(c) for c in chosen))
    if sample:
        names = [sample] if isinstance(sample, str) else list(sample)
        q = q.where(Sample.name.in_(names))
    if specimen:
        q = q.where(Specimen.name == specimen)
    if where and where.strip():
        q = q.where(parse_filter(where, available))
    return q


def _frame(cat: Catalog, q: Select[Any]) -> pd.DataFrame:
    """The rows of ``q`` as a frame, built column by column.

    Building it from SQLAlchemy Row objects costs more than the query itself at
    10⁵ rows, so when every column is a plain number, text or boolean (the dots
    view) the driver's tuples are read directly; other types (enums, UTC
    datetimes) go through SQLAlchemy's result processing.
    """
    kinds = [_kind(c.type) for c in q.selected_columns]
    with cat.engine.connect() as conn:
        res = conn.execute(q)
        names = list(res.keys())
        rows: Sequence[Sequence[Any]] = res.cursor.fetchall() if all(kinds) else res.all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data = {}
    for name, kind, values in zip(names, kinds, columns, strict=True):
        data[name] = _series(values, kind)
    return pd.DataFrame(data, columns=names)


def _series(values: Sequence[Any], kind: str | None) -> pd.Series:
    if kind == "number":
        arr = np.array(values, dtype=object)
        missing = np.array([v is None for v in values], dtype=bool)
        if not missing.any():
            return pd.Series(arr.tolist())  # integers stay integers
        arr[missing] = np.nan  # NULL results (a fit that gave no value) become NaN
        return pd.Series(arr.astype(np.float64))
    if kind == "bool":
        return pd.Series([None if v is None else bool(v) for v in values], dtype=object).infer_objects()
    return pd.Series(np.array(values, dtype=object)).infer_objects()


def _kind(t: Any) -> str | None:
    """How a column's values come from the driver: "number", "bool", "text" or None (needs SQLAlchemy)."""
    affinity = t._type_affinity
    if affinity in (Float, Integer, Numeric):
        return "number"
    if affinity is Boolean:
        return "bool"
    if affinity in (String, Text) and not isinstance(t, SaEnum | TypeDecorator):
        return "text"
    return None


def dots_select(
    cat: Catalog,
    *,
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    with_results_only: bool = True,
    require: Sequence[str] = (),
    ordered: bool = True,
    include_excluded: bool = False,
) -> Select[Any]:
    """The SQL statement behind :func:`dots` (for EXPLAIN and for callers that stream rows).

    Only the analyses whose columns are asked for or filtered on are joined, each
    on its representative row per dot (an index lookup, chosen when results
    change), so the cost follows the rows and columns returned, not the catalog.
    ``require`` keeps only dots that have a value of these fields (an inner join
    the database can drive from the result table); ``ordered=False`` skips the
    sort by sample, specimen and dot.
    """
    available = _Used(_identity_columns())
    owner: dict[str, str] = {}
    subs = {}
    for analysis, cols in dot_columns().items():
        sq = subs[analysis] = _representative(analysis)
        for name, col in cols.items():
            available[name] = sq.c[col]
            owner[name] = analysis
    q = (
        select(Dot.id)
        .join(Specimen, Specimen.id == Dot.specimen_id)
        .join(Sample, Sample.id == Specimen.sample_id)
    )
    q = _apply(q, available, where=where, columns=columns, sample=sample, specimen=specimen)
    if not include_excluded:
        q = q.where(~_dot_excluded(Dot.id))
    for name in require:
        q = q.where(available[name].is_not(None))
    used = {owner[n] for n in available.used if n in owner}
    inner = {owner[n] for n in require if n in owner}
    for analysis in (a for a in subs if a in used):
        sq = subs[analysis]
        on = and_(sq.c.dot_id == Dot.id, sq.c.representative == true())
        q = q.join(sq, on) if analysis in inner else q.outerjoin(sq, on)
    if with_results_only and not inner:
        # A dot with any result: an index probe per analysis, stopping at the first found.
        q = q.where(
            or_(
                *(
                    exists().where(t.c.dot_id == Dot.id, t.c.representative == true())
                    for t in (registry.get(a).table for a in subs)
                )
            )
        )
    return q.order_by(Sample.name, Specimen.name, Dot.label) if ordered else q


def dots(
    cat: Catalog,
    *,
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    with_results_only: bool = True,
    include_excluded: bool = False,
) -> pd.DataFrame:
    """One row per dot with its current results; see :func:`dot_columns` and :func:`fields`.

    ``with_results_only`` drops dots without any analysed result. Dots a lab excluded
    (``qdcat curate exclude``) are left out unless ``include_excluded``; so are excluded
    measurements' and results' values (another result of the dot stands for it).
    ``attrs["excluded"]`` counts the excluded dots of the selection.
    """
    q = dots_select(
        cat,
        sample=sample,
        specimen=specimen,
        where=where,
        columns=columns,
        with_results_only=with_results_only,
        include_excluded=include_excluded,
    )
    df = _frame(cat, q)
    df.attrs["excluded"] = (
        0 if include_excluded else excluded_count(cat, "dots", sample=sample, specimen=specimen)
    )
    return df


def _dot_excluded(dot_id: Any) -> ColumnElement[bool]:
    return exists().where(Exclusion.entity == CuratedEntity.DOT, Exclusion.entity_id == dot_id)


def excluded_count(
    cat: Catalog, source: str, *, sample: str | Sequence[str] | None = None, specimen: str | None = None
) -> int:
    """How many rows of ``source`` curation leaves out of the selection: for the dots view, the
    dots excluded or with an excluded measurement or result; else the current results of
    excluded dots, measurements or runs."""
    from sqlalchemy import func

    with cat.engine.connect() as conn:
        if not conn.execute(select(func.count()).select_from(Exclusion)).scalar():
            return 0
        if source == "dots":
            # dots excluded, and dots with an excluded measurement or result (their values left out)
            from qdcat.catalog.models import AnalysisRunInput

            touched = (
                select(Measurement.dot_id)
                .join(
                    Exclusion,
                    and_(
                        Exclusion.entity == CuratedEntity.MEASUREMENT, Exclusion.entity_id == Measurement.id
                    ),
                )
                .union(
                    select(Measurement.dot_id)
                    .join(AnalysisRunInput, AnalysisRunInput.measurement_id == Measurement.id)
                    .join(
                        Exclusion,
                        and_(
                            Exclusion.entity == CuratedEntity.RESULT,
                            Exclusion.entity_id == AnalysisRunInput.run_id,
                        ),
                    ),
                    select(Exclusion.entity_id).where(Exclusion.entity == CuratedEntity.DOT),
                )
                .subquery()
            )
            q = select(func.count(Dot.id)).join(Specimen, Specimen.id == Dot.specimen_id)
            q = q.join(Sample, Sample.id == Specimen.sample_id).where(Dot.id.in_(select(touched.c[0])))
        else:
            t = registry.source(source).table
            q = (
                select(func.count())
                .select_from(t)
                .join(AnalysisRun, AnalysisRun.id == t.c.run_id)
                .join(Specimen, Specimen.id == t.c.specimen_id)
                .join(Sample, Sample.id == Specimen.sample_id)
                .where(AnalysisRun.is_current.is_(True), _result_excluded(t))
            )
        if sample:
            q = q.where(Sample.name.in_([sample] if isinstance(sample, str) else list(sample)))
        if specimen:
            q = q.where(Specimen.name == specimen)
        return int(conn.execute(q).scalar() or 0)


def _result_excluded(t: Any) -> ColumnElement[bool]:
    """A result (or part) row whose run, measurement or dot is excluded."""
    return or_(excluded_result(t), _dot_excluded(t.c.dot_id))


def results(
    cat: Catalog,
    analysis: str,
    *,
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    include_old: bool = False,
    include_excluded: bool = False,
) -> pd.DataFrame:
    """One row per result of ``analysis`` (current ones unless ``include_old``).

    Results of dots, measurements or runs a lab excluded are left out unless
    ``include_excluded`` (``attrs["excluded"]`` counts them).

    ``analysis`` may name an analysis's parts (``"levels.level"``): one row per part
    (intensity level) of each result, with the result's dot and measurement.
    """
    a = registry.source(analysis)
    t = a.table
    available = _identity_columns()
    available |= {
        "measurement_id": t.c.measurement_id,
        "kind": Measurement.kind.expression,
        "started_at": Measurement.started_at.expression,
        "duration_s": Measurement.duration_s.expression,
        "series_name": Measurement.series_name.expression,
        "series_index": Measurement.series_index.expression,
        "excitation_wavelength_nm": InstrumentSettings.excitation_wavelength_nm.expression,
        "intensity_w_cm2": InstrumentSettings.intensity_w_cm2.expression,
        "repetition_rate_mhz": InstrumentSettings.repetition_rate_mhz.expression,
        "temperature_k": InstrumentSettings.temperature_k.expression,
        "run_id": t.c.run_id,
        "analysis_version": AnalysisRun.analysis_version.expression,
        "finished_at": AnalysisRun.finished_at.expression,
    }
    for c in t.columns:
        if c.name not in (*KEY_COLUMNS, *CHOICE_COLUMNS, PART_COLUMN):
            available[c.name] = c
    q = (
        select(t.c.run_id)
        .join(AnalysisRun, AnalysisRun.id == t.c.run_id)
        .join(Specimen, Specimen.id == t.c.specimen_id)
        .join(Sample, Sample.id == Specimen.sample_id)
        .outerjoin(Dot, Dot.id == t.c.dot_id)
        .outerjoin(Measurement, Measurement.id == t.c.measurement_id)
        .outerjoin(InstrumentSettings, InstrumentSettings.measurement_id == t.c.measurement_id)
    )
    if not include_old:
        q = q.where(AnalysisRun.is_current.is_(True))
    if not include_excluded:
        q = q.where(~_result_excluded(t))
    q = _apply(q, available, where=where, columns=columns, sample=sample, specimen=specimen)
    order = [t.c.run_id, *([t.c[PART_COLUMN]] if PART_COLUMN in t.c else [])]
    df = _frame(cat, q.order_by(*order))
    df.attrs["excluded"] = (
        0 if include_excluded else excluded_count(cat, analysis, sample=sample, specimen=specimen)
    )
    return df


# ----------------------------------------------------------------------------- statistics over views


@dataclass(frozen=True)
class View:
    """Rows for a population answer, and how many results QC left out of it."""

    frame: pd.DataFrame
    flagged: int  # rows dropped because a quantity asked for failed QC
    reasons: tuple[str, ...]  # the QC reasons of the rows dropped, most frequent first
    excluded: int = 0  # rows a lab's curation left out (excluded dots, measurements, results)


def population_rows(
    cat: Catalog,
    source: str,
    needed: Iterable[str],
    *,
    by: str | None,
    include_flagged: bool = False,
    require: Sequence[str] = (),
    **select_kw: Any,
) -> View:
    """The columns ``needed`` (and ``by``) of a view, without rows whose needed quantities failed QC.

    Rows without a value of a field in ``require`` are left out in SQL (population
    answers never use them), so the database drives the query from that result table.
    """
    needed = list(needed)
    owners = {p: o for p in needed if (o := _owner(source, p)) is not None}
    qc_cols: dict[str, tuple[str, str, str]] = {}
    for analysis, _ in owners.values():
        qc_cols[analysis] = (
            tuple(f"{analysis}_{c}" for c in QC_COLUMNS) if source == "dots" else QC_COLUMNS  # type: ignore[assignment]
        )
    extra = [c for trio in qc_cols.values() for c in trio]
    cols = list(dict.fromkeys([*needed, *([by] if by else []), *extra]))
    df = (
        _frame(cat, dots_select(cat, columns=cols, require=require, ordered=False, **select_kw))
        if source == "dots"
        else results(cat, source, columns=cols, **select_kw)
    )
    if source == "dots" and not select_kw.get("include_excluded"):
        df.attrs["excluded"] = excluded_count(
            cat, "dots", sample=select_kw.get("sample"), specimen=select_kw.get("specimen")
        )
    if include_flagged or not owners:
        kept = df.drop(columns=[c for c in extra if c not in needed and c != by])
        return View(kept, 0, (), int(df.attrs.get("excluded", 0)))
    bad = pd.Series(False, index=df.index)
    reasons: list[str] = []
    for p, (analysis, column) in owners.items():
        verdict, failed, reason = (df[c] for c in qc_cols[analysis])
        base = column[:-4] if column.endswith("_err") else column
        fails = (verdict == QC_FAIL) | (" " + failed.fillna("") + " ").str.contains(f" {base} ", regex=False)
        drop = df[p].notna() & fails
        reasons += [r for r in reason[drop & ~bad].fillna("") if r]
        bad |= drop
    counts = pd.Series(reasons, dtype=object).value_counts()
    keep = df[~bad].drop(columns=[c for c in extra if c not in needed and c != by])
    return View(
        keep, int(bad.sum()), tuple(str(r) for r in counts.index[:3]), int(df.attrs.get("excluded", 0))
    )


def _numeric(df: pd.DataFrame, name: str) -> np.ndarray:
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)
    if values.size and np.all(np.isnan(values)):
        raise InvalidValueError(f"{name} has no numeric values in the selection; is it analysed yet?")
    return values


def population(
    cat: Catalog,
    param: str,
    *,
    by: str | None = None,
    source: str = "dots",
    include_flagged: bool = False,
    **select_kw: Any,
) -> pd.DataFrame:
    """n, mean, SD, median, range and a normal fit of ``param``, per group of ``by`` (e.g. "sample").

    Results whose ``param`` failed QC are left out unless ``include_flagged``; the
    frame's ``attrs["flagged"]`` says how many, ``attrs["flagged_reasons"]`` why.
    """
    view = population_rows(
        cat, source, [param], by=by, include_flagged=include_flagged, require=[param], **select_kw
    )
    df = view.frame
    if df.empty:
        raise InvalidValueError(_empty(view))
    df[param] = _numeric(df, param)
    from qdcat.query.stats import group_describe

    out = group_describe(df, param, by)
    out.attrs["flagged"] = view.flagged
    out.attrs["flagged_reasons"] = view.reasons
    out.attrs["excluded"] = view.excluded
    return out


def correlation(
    cat: Catalog,
    x: str,
    y: str,
    *,
    by: str | None = None,
    source: str = "dots",
    weighted: bool = False,
    include_flagged: bool = False,
    **select_kw: Any,
) -> dict[str, Correlation]:
    """Pearson, Spearman and a linear fit of ``y`` against ``x``, per group (key "all" without ``by``).

    ``weighted`` uses ``<y>_err`` (when the view has it) for a 1/σ² weighted fit as well.
    """
    from qdcat.query.stats import correlate

    needed = [x, y] + ([f"{y}_err"] if weighted else [])
    view = population_rows(cat, source, needed, by=by, include_flagged=include_flagged, **select_kw)
    df = view.frame
    if df.empty:
        raise InvalidValueError(_empty(view))
    groups = df.groupby(by, dropna=False) if by else [("all", df)]
    out = {}
    for key, g in groups:
        key = key[0] if isinstance(key, tuple) else key
        out[str(key)] = replace(
            correlate(
                _numeric(g, x),
                _numeric(g, y),
                x_name=x,
                y_name=y,
                y_err=_numeric(g, f"{y}_err") if weighted else None,
            ),
            n_flagged=view.flagged,
        )
    return out


def comparison(
    cat: Catalog,
    param: str,
    groups: Sequence[str],
    *,
    by: str = "sample",
    source: str = "dots",
    include_flagged: bool = False,
    **select_kw: Any,
) -> Comparison:
    """Two groups of ``by`` (e.g. two samples) compared on ``param``: means, medians, KS, Mann–Whitney."""
    from qdcat.query.stats import compare

    if len(groups) != 2:
        raise InvalidValueError(f"compare exactly two groups, got {len(groups)}: {', '.join(groups)}")
    view = population_rows(
        cat, source, [param], by=by, include_flagged=include_flagged, require=[param], **select_kw
    )
    df = view.frame
    values = []
    for g in groups:
        sel = df[df[by].astype(str) == g]
        if sel.empty:
            known = ", ".join(sorted(df[by].dropna().astype(str).unique())) or "none"
            raise InvalidValueError(f"no {by} {g!r} with {param} in the selection; known: {known}")
        values.append(_numeric(sel, param))
    return replace(compare(values[0], values[1], a_name=groups[0], b_name=groups[1]), n_flagged=view.flagged)


def _empty(view: View) -> str:
    if view.flagged:
        why = "; ".join(view.reasons)
        return (
            f"no rows left: all {view.flagged} matching results failed QC ({why}); "
            "pass include_flagged (--include-flagged) to see them"
        )
    return "no rows match the selection; check the filter and that results exist"


# ----------------------------------------------------------------------------- pooled blinking exponents


@dataclass(frozen=True)
class PooledExponents:
    """Per group: the ML power-law exponent of every dot's on and off times together."""

    group: str
    n_dots: int
    n_on_periods: int
    k_on: float
    k_on_err: float
    n_off_periods: int
    k_off: float
    k_off_err: float
    flags: str


def pooled_blinking(
    cat: Catalog,
    *,
    by: str | None = "sample",
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    min_trace_s: float = 0.0,
    method: str = "binned",
) -> list[PooledExponents]:
    """Blinking exponents per group from the pooled dwell times of its dots (ML, each trace its own x_max).

    The population answer to "what k_off do this sample's dots have": a dot's
    few periods pin its own exponent down poorly, the pooled likelihood does
    not. Each dot contributes its representative result (as in the dots view)
    with a trace of at least ``min_trace_s``.

    ``method="binned"``: the blinking analysis's threshold periods, a discrete power
    law in bins (results whose on/off split failed QC are left out). ``"levels"``: the
    periods between change points (the levels analysis), a continuous power law
    truncated at each dot's shortest resolved period and its trace length, the first
    and last periods censored.
    """
    if method not in ("binned", "levels"):
        raise InvalidValueError(f"method must be 'binned' or 'levels', got {method!r}")
    name = "blinking" if method == "binned" else "levels"
    extra = ["blinking_bin_ms"] if method == "binned" else ["levels_trace_duration_s"]
    cols = ["dot", f"{name}_run_id", f"{name}_qc", *extra, "trace_duration_s", *([by] if by else [])]
    if method == "levels":
        cols.remove("trace_duration_s")
    df = dots(cat, sample=sample, specimen=specimen, where=where, columns=list(dict.fromkeys(cols)))
    duration = df["trace_duration_s" if method == "binned" else "levels_trace_duration_s"]
    df = df[
        df[f"{name}_run_id"].notna() & (df[f"{name}_qc"] != QC_FAIL) & (duration.fillna(0.0) >= min_trace_s)
    ]
    if df.empty:
        raise InvalidValueError(f"no dot with a {name} result that passed QC matches the selection")
    pool = _pool_binned if method == "binned" else _pool_levels
    out = []
    for key, g in df.groupby(by, dropna=False) if by else [("all", df)]:
        fits = pool(cat, g)
        flags = [f"{s}:{f}" for s, fit in fits.items() if fit is not None for f in fit.flags]
        flags += [f"no_{s}_periods" for s, fit in fits.items() if fit is None]
        on, off = fits["on"], fits["off"]
        out.append(
            PooledExponents(
                group=str(key[0] if isinstance(key, tuple) else key),
                n_dots=len(g),
                n_on_periods=_periods(on),
                k_on=on.k if on else math.nan,
                k_on_err=on.k_err if on else math.nan,
                n_off_periods=_periods(off),
                k_off=off.k if off else math.nan,
                k_off_err=off.k_err if off else math.nan,
                flags=" ".join(flags),
            )
        )
    return out


def _periods(fit: Any) -> int:
    if fit is None:
        return 0
    return int(fit.n_periods if hasattr(fit, "n_periods") else fit.n)


def _pool_binned(cat: Catalog, g: pd.DataFrame) -> dict[str, PowerLawMl | None]:
    from qdcat.analysis.powerlaw import power_law_ml_pooled
    from qdcat.jobs import derived_arrays

    pools: dict[str, list[tuple[Any, int]]] = {"on": [], "off": []}
    for _, r in g.iterrows():
        arrays = derived_arrays(cat, int(r["blinking_run_id"]))
        bin_s = float(r["blinking_bin_ms"]) * 1e-3
        n_bins = round(float(r["trace_duration_s"]) / bin_s)
        for state in pools:
            d = np.round(np.asarray(arrays.get(f"{state}_durations_s", []), dtype=np.float64) / bin_s)
            pools[state].append((d, n_bins))
    fits: dict[str, PowerLawMl | None] = {}
    for state, groups in pools.items():
        try:
            fits[state] = power_law_ml_pooled(groups)
        except InvalidValueError:
            fits[state] = None
    return fits


def _pool_levels(cat: Catalog, g: pd.DataFrame) -> dict[str, Any]:
    from qdcat.analysis.dwell import power_law_ml_pooled as pooled_continuous
    from qdcat.jobs import derived_arrays

    run_ids = [int(r) for r in g["levels_run_id"]]
    t = registry.get("levels").table
    with cat.engine.connect() as conn:
        rows = {
            r.run_id: r
            for r in conn.execute(
                select(t.c.run_id, t.c.on_dwell_min_s, t.c.off_dwell_min_s, t.c.trace_duration_s).where(
                    t.c.run_id.in_(run_ids)
                )
            )
        }
    pools: dict[str, list[tuple[Any, Any, float, float]]] = {"on": [], "off": []}
    for run_id in run_ids:
        arrays, r = derived_arrays(cat, run_id), rows[run_id]
        for state in pools:
            d = np.asarray(arrays.get(f"{state}_durations_s", []), dtype=np.float64)
            c = np.asarray(arrays.get(f"{state}_censored", np.zeros(d.size, bool)), dtype=bool)
            t_min = float(getattr(r, f"{state}_dwell_min_s"))
            keep = d >= t_min
            if int((keep & ~c).sum()) and t_min < float(r.trace_duration_s):
                pools[state].append((d[keep], c[keep], t_min, float(r.trace_duration_s)))
    fits: dict[str, Any] = {}
    for state, groups in pools.items():
        try:
            fits[state] = pooled_continuous(groups) if groups else None
        except InvalidValueError:
            fits[state] = None
    return fits
