"""Acquisitions: ``measurement list|show|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import ID_MAX, CsvOpt, JsonOpt, MeasurementArg, _catalog, _sub
from qdcat.cli.output import pick_format, render_record, render_rows, say

measurement_app = _sub("measurement", "Measurements and their raw data.")


@measurement_app.command("list")
def measurement_list(
    ctx: typer.Context,
    sample: Annotated[str | None, typer.Option()] = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    dot: Annotated[str | None, typer.Option(help="Dot label (needs --specimen).")] = None,
    kind: Annotated[str | None, typer.Option(help="e.g. g2_cw, decay, spectrum, intensity_trace.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=ID_MAX)] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List measurements."""
    with _catalog(ctx) as cat:
        rows = cat.list_measurements(sample=sample, specimen=specimen, dot=dot, kind=kind, limit=limit)
        render_rows(rows, pick_format(as_json, as_csv), title="measurements")


@measurement_app.command("show")
def measurement_show(ctx: typer.Context, measurement_id: MeasurementArg, as_json: JsonOpt = False) -> None:
    """Show one measurement: where, settings, raw data, checksums, and every analysis it feeds."""
    from qdcat import jobs

    with _catalog(ctx) as cat:
        rec = cat.get_measurement(measurement_id).to_dict()
        rec["analyses"] = jobs.measurement_analyses(cat, measurement_id)
    fmt = pick_format(as_json, False)
    if fmt == "json":
        render_record(rec, fmt)
        return
    table = rec.pop("analyses")
    render_record(rec, fmt, title=f"measurement {measurement_id}")
    render_rows(table, fmt, title="analyses of this acquisition")


@measurement_app.command("delete")
def measurement_delete(ctx: typer.Context, measurement_id: MeasurementArg) -> None:
    """Delete a measurement, its analysis results and its raw data."""
    with _catalog(ctx) as cat:
        cat.delete_measurement(measurement_id)
    say(f"deleted measurement {measurement_id}")
