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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.sql import ColumnElement

from qdcat import analyses as registry
from qdcat.catalog.api import Catalog
from qdcat.catalog.models import (
    AnalysisRun,
    Dot,
    InstrumentSettings,
    Measurement,
    Sample,
    Specimen,
)
from qdcat.errors import InvalidValueError
from qdcat.query.filters import FilterError, parse_filter
from qdcat.query.stats import Comparison, Correlation, compare, correlate, group_describe


def dot_columns() -> dict[str, dict[str, str]]:
    """Per analysis: dots-view name → result column, as each analysis declares (``Column.dots``)."""
    return {a.name: a.dots_columns() for a in registry.registry().values() if a.dots_columns()}


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
    """The field names a view accepts in ``where=``/``columns=``: ``"dots"`` or an analysis name."""
    out = [Field(k, "identity", v) for k, v in _IDENTITY.items()]
    if view == "dots":
        for analysis, cols in dot_columns().items():
            for name, col in cols.items():
                out.append(Field(name, analysis, f"{analysis}: {col}"))
        return out
    analysis = registry.get(view)
    out += [Field(k, "measurement", v) for k, v in _MEASUREMENT.items()]
    for name in analysis.result_names():
        out.append(Field(name, analysis.name, f"{analysis.name}: {name}"))
    return out


def _current(analysis: str) -> Any:
    """Current result rows of one analysis, the representative one per dot (see :func:`dots`)."""
    a = registry.get(analysis)
    t = a.table
    primary = (
        case((Measurement.kind.in_(list(a.primary_kinds)), 0), else_=1) if a.primary_kinds else literal(1)
    )
    rank = (
        func.row_number()
        .over(
            partition_by=t.c.dot_id,
            order_by=(
                primary,
                Measurement.duration_s.desc().nulls_last(),
                t.c.measurement_id.desc().nulls_last(),
                t.c.run_id.desc(),
            ),
        )
        .label("rank_in_dot")
    )
    inner = (
        select(*t.c, rank)
        .join(AnalysisRun, AnalysisRun.id == t.c.run_id)
        .outerjoin(Measurement, Measurement.id == t.c.measurement_id)
        .where(AnalysisRun.is_current.is_(True), t.c.dot_id.is_not(None))
        .subquery()
    )
    return select(inner).where(inner.c.rank_in_dot == 1).subquery(f"cur_{analysis}")


def _identity_columns() -> dict[str, ColumnElement[Any]]:
    return {
        "sample": Sample.name,
        "material": Sample.material,
        "specimen": Specimen.name,
        "dot": Dot.label,
        "dot_id": Dot.id,
        "x_um": Dot.x_um,
        "y_um": Dot.y_um,
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
            raise FilterError(
                f"unknown column(s) {', '.join(unknown)}; valid names: {', '.join(sorted(available))}"
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
    with cat.engine.connect() as conn:
        res = conn.execute(q)
        df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    # NULL results (a fit that gave no value) become NaN in numeric columns.
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: v is None or isinstance(v, int | float)).all():
            df[c] = pd.to_numeric(df[c])
    return df


def dots(
    cat: Catalog,
    *,
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    with_results_only: bool = True,
) -> pd.DataFrame:
    """One row per dot with its current results; see :func:`dot_columns` and :func:`fields`.

    ``with_results_only`` drops dots without any analysed result.
    """
    available = _identity_columns()
    q = (
        select(Dot.id)
        .join(Specimen, Specimen.id == Dot.specimen_id)
        .join(Sample, Sample.id == Specimen.sample_id)
    )
    subs = {}
    for analysis, cols in dot_columns().items():
        sq = subs[analysis] = _current(analysis)
        q = q.outerjoin(sq, sq.c.dot_id == Dot.id)
        for name, col in cols.items():
            available[name] = sq.c[col]
    if with_results_only:
        q = q.where(func.coalesce(*(sq.c.run_id for sq in subs.values())).is_not(None))
    q = _apply(q, available, where=where, columns=columns, sample=sample, specimen=specimen)
    return _frame(cat, q.order_by(Sample.name, Specimen.name, Dot.label))


def results(
    cat: Catalog,
    analysis: str,
    *,
    sample: str | Sequence[str] | None = None,
    specimen: str | None = None,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    include_old: bool = False,
) -> pd.DataFrame:
    """One row per result of ``analysis`` (current ones unless ``include_old``)."""
    a = registry.get(analysis)
    t = a.table
    available = _identity_columns()
    available |= {
        "measurement_id": t.c.measurement_id,
        "kind": Measurement.kind,
        "started_at": Measurement.started_at,
        "duration_s": Measurement.duration_s,
        "series_name": Measurement.series_name,
        "series_index": Measurement.series_index,
        "excitation_wavelength_nm": InstrumentSettings.excitation_wavelength_nm,
        "intensity_w_cm2": InstrumentSettings.intensity_w_cm2,
        "repetition_rate_mhz": InstrumentSettings.repetition_rate_mhz,
        "temperature_k": InstrumentSettings.temperature_k,
        "run_id": t.c.run_id,
        "analysis_version": AnalysisRun.analysis_version,
        "finished_at": AnalysisRun.finished_at,
    }
    for c in t.columns:
        if c.name not in ("run_id", "specimen_id", "dot_id", "measurement_id"):
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
    q = _apply(q, available, where=where, columns=columns, sample=sample, specimen=specimen)
    return _frame(cat, q.order_by(t.c.run_id))


# ----------------------------------------------------------------------------- statistics over views


def _view(
    cat: Catalog, source: str, needed: Iterable[str], *, by: str | None, **select_kw: Any
) -> pd.DataFrame:
    cols = list(dict.fromkeys([*needed, *([by] if by else [])]))
    if source == "dots":
        return dots(cat, columns=cols, **select_kw)
    return results(cat, source, columns=cols, **select_kw)


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
    **select_kw: Any,
) -> pd.DataFrame:
    """n, mean, SD, median, range and a normal fit of ``param``, per group of ``by`` (e.g. "sample")."""
    df = _view(cat, source, [param], by=by, **select_kw)
    if df.empty:
        raise InvalidValueError("no rows match the selection; check the filter and that results exist")
    df[param] = _numeric(df, param)
    return group_describe(df, param, by)


def correlation(
    cat: Catalog,
    x: str,
    y: str,
    *,
    by: str | None = None,
    source: str = "dots",
    weighted: bool = False,
    **select_kw: Any,
) -> dict[str, Correlation]:
    """Pearson, Spearman and a linear fit of ``y`` against ``x``, per group (key "all" without ``by``).

    ``weighted`` uses ``<y>_err`` (when the view has it) for a 1/σ² weighted fit as well.
    """
    needed = [x, y] + ([f"{y}_err"] if weighted else [])
    df = _view(cat, source, needed, by=by, **select_kw)
    if df.empty:
        raise InvalidValueError("no rows match the selection; check the filter and that results exist")
    groups = df.groupby(by, dropna=False) if by else [("all", df)]
    out = {}
    for key, g in groups:
        key = key[0] if isinstance(key, tuple) else key
        out[str(key)] = correlate(
            _numeric(g, x),
            _numeric(g, y),
            x_name=x,
            y_name=y,
            y_err=_numeric(g, f"{y}_err") if weighted else None,
        )
    return out


def comparison(
    cat: Catalog,
    param: str,
    groups: Sequence[str],
    *,
    by: str = "sample",
    source: str = "dots",
    **select_kw: Any,
) -> Comparison:
    """Two groups of ``by`` (e.g. two samples) compared on ``param``: means, medians, KS, Mann–Whitney."""
    if len(groups) != 2:
        raise InvalidValueError(f"compare exactly two groups, got {len(groups)}: {', '.join(groups)}")
    df = _view(cat, source, [param], by=by, **select_kw)
    values = []
    for g in groups:
        sel = df[df[by].astype(str) == g]
        if sel.empty:
            known = ", ".join(sorted(df[by].dropna().astype(str).unique())) or "none"
            raise InvalidValueError(f"no {by} {g!r} with {param} in the selection; known: {known}")
        values.append(_numeric(sel, param))
    return compare(values[0], values[1], a_name=groups[0], b_name=groups[1])
