"""Population questions: ``query``, ``stats``, ``correlate``, ``compare`` and ``blinking``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qdcat.cli._app import (
    CsvOpt,
    ExcludedOpt,
    FlaggedOpt,
    JsonOpt,
    SampleOpt,
    SourceOpt,
    WhereOpt,
    _catalog,
    _sub,
    app,
)
from qdcat.cli.output import (
    _columns,
    _emit_frame,
    _say_flagged,
    pick_format,
    render_record,
    render_rows,
    say,
)

query_app = _sub("query", "Population queries: dots or results, filtered, as a table, CSV, JSON or Parquet.")


@query_app.command("dots")
def query_dots(
    ctx: typer.Context,
    sample: SampleOpt = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    where: WhereOpt = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated field names.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write a Parquet file instead of printing.")] = None,
    include_excluded: ExcludedOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """One row per dot with its current results (spectrum, decay, g2, blinking, power series).

    Example: qdcat query dots --sample InP-A --where "g2_zero < 0.2" --columns dot,g2_zero,lifetime_ns
    """
    from qdcat.query import api as q

    cols = _columns(columns)
    if cols is None and not (as_json or as_csv or parquet):
        cols = list(q.SCREEN_COLUMNS)  # a screenful; files and JSON get every field
    with _catalog(ctx) as cat:
        df = q.dots(
            cat,
            sample=sample,
            specimen=specimen,
            where=where,
            columns=cols,
            include_excluded=include_excluded,
        )
    _emit_frame(df, as_json=as_json, as_csv=as_csv, parquet=parquet, title=f"dots ({len(df)})")
    _say_flagged(0, (), df.attrs.get("excluded", 0))


@query_app.command("results")
def query_results(
    ctx: typer.Context,
    analysis: Annotated[
        str, typer.Argument(help="spectrum, decay, g2_cw, g2_pulsed, blinking, power_series, ...")
    ],
    sample: SampleOpt = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    where: WhereOpt = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated field names.")] = None,
    include_old: Annotated[
        bool, typer.Option("--all", help="Also results that are no longer current.")
    ] = False,
    parquet: Annotated[Path | None, typer.Option(help="Write a Parquet file instead of printing.")] = None,
    include_excluded: ExcludedOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """One row per result of an analysis (or per level: levels.level), with its measurement and settings.

    Example: qdcat query results levels.level --where "lifetime_ns < 5 and intensity_rel < 0.3"
    """
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        df = q.results(
            cat,
            analysis,
            sample=sample,
            specimen=specimen,
            where=where,
            columns=_columns(columns),
            include_old=include_old,
            include_excluded=include_excluded,
        )
    _emit_frame(df, as_json=as_json, as_csv=as_csv, parquet=parquet, title=f"{analysis} results ({len(df)})")
    _say_flagged(0, (), df.attrs.get("excluded", 0))


@query_app.command("fields")
def query_fields(
    view: Annotated[str, typer.Argument(help="'dots' or an analysis name.")] = "dots",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The field names a view accepts in --where and --columns.

    Example: qdcat query fields g2_cw
    """
    from qdcat.query import api as q

    rows = [{"field": f.name, "from": f.source, "description": f.description} for f in q.fields(view)]
    render_rows(rows, pick_format(as_json, as_csv), title=f"fields of {view}")


@app.command()
def stats(
    ctx: typer.Context,
    param: Annotated[str, typer.Argument(help="A numeric field, e.g. fwhm_nm.")],
    by: Annotated[str | None, typer.Option(help="Group by this field, e.g. sample.")] = None,
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """n, mean ± SE, SD, median, range and a normal fit (with uncertainties) of a population.

    Example: qdcat stats fwhm_nm --by sample --sample InP-A --sample CdSe-B --csv
    """
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        df = q.population(
            cat, param, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    _say_flagged(df.attrs.get("flagged", 0), df.attrs.get("flagged_reasons", ()), df.attrs.get("excluded", 0))
    df = df.reset_index()
    _emit_frame(df, as_json=as_json, as_csv=as_csv, parquet=None, title=f"{param}")


@app.command()
def correlate(
    ctx: typer.Context,
    x: Annotated[str, typer.Argument(help="Field on the x axis, e.g. energy_ev.")],
    y: Annotated[str, typer.Argument(help="Field on the y axis, e.g. lifetime_ns.")],
    by: Annotated[str | None, typer.Option(help="Separately per value of this field, e.g. sample.")] = None,
    weighted: Annotated[bool, typer.Option(help="Also a fit weighted by <y>_err.")] = False,
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Pearson and Spearman correlation (with p-values) and a linear fit with uncertainties.

    Example: qdcat correlate energy_ev lifetime_ns --by sample --csv
    """
    from qdcat.query import api as q

    fmt = pick_format(as_json, as_csv)
    with _catalog(ctx) as cat:
        res = q.correlation(
            cat,
            x,
            y,
            by=by,
            source=source,
            weighted=weighted,
            sample=sample,
            where=where,
            include_flagged=include_flagged,
        )
    _say_flagged(next(iter(res.values())).n_flagged if res else 0)
    rows = [{"group": g, **c.as_dict()} for g, c in res.items()]
    if fmt.value != "table":
        render_rows(rows, fmt)
        return
    for r in rows:
        render_record(r, fmt, title=f"{y} vs {x} ({r['group']})")


@app.command()
def compare(
    ctx: typer.Context,
    param: Annotated[str, typer.Argument(help="A numeric field, e.g. k_off_ml.")],
    sample: Annotated[
        list[str] | None,
        typer.Option(
            "--sample", metavar="NAME", help="One of the two samples (or values of --by); give two."
        ),
    ] = None,
    samples_old: Annotated[
        list[str] | None, typer.Option("--samples", hidden=True, help="Deprecated: use --sample.")
    ] = None,
    by: Annotated[str, typer.Option(help="The field the two groups are values of.")] = "sample",
    source: SourceOpt = "dots",
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Two populations compared: medians, means, Kolmogorov–Smirnov, Mann–Whitney, effect sizes.

    Example: qdcat compare k_off_ml --sample InP-A --sample CdSe-B
    """
    from qdcat.query import api as q

    fmt = pick_format(as_json, as_csv)
    if samples_old:
        say("note: --samples is deprecated; write --sample A --sample B")
    groups = [*(sample or []), *(samples_old or [])]
    with _catalog(ctx) as cat:
        c = q.comparison(
            cat, param, groups, by=by, source=source, where=where, include_flagged=include_flagged
        )
    _say_flagged(c.n_flagged)
    render_record(c.as_dict(), fmt, title=f"{param}: {groups[0]} vs {groups[-1]}")


@app.command()
def blinking(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(help="One exponent pair per value of this field.")] = "sample",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    min_trace_s: Annotated[float, typer.Option(help="Only dots with a trace at least this long (s).")] = 0.0,
    method: Annotated[
        str,
        typer.Option(
            help="binned: the blinking analysis's 10 ms threshold periods (discrete ML); levels: the "
            "periods between change points (continuous ML, censored ends)."
        ),
    ] = "binned",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Blinking exponents per sample, pooled over its dots' on and off times (power-law ML).

    A dot's trace holds few off periods, so its own exponent is weak (and fails
    QC under 10 periods); the pooled fit is the population answer.

    Example: qdcat blinking --by sample --min-trace-s 10 --method levels
    """
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        res = q.pooled_blinking(
            cat, by=by, sample=sample, where=where, min_trace_s=min_trace_s, method=method
        )
    render_rows([r.__dict__ for r in res], pick_format(as_json, as_csv), title="pooled blinking exponents")
