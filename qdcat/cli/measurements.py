"""Acquisitions: ``measurement list|show|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import ID_MAX, CsvOpt, JsonOpt, MeasurementArg, SampleOpt, _catalog, _each_sample, _sub
from qdcat.cli.output import pick_format, render_record, render_rows, say

measurement_app = _sub("measurement", "Measurements and their raw data.")


@measurement_app.command("list")
def measurement_list(
    ctx: typer.Context,
    sample: SampleOpt = None,
    specimen: Annotated[str | None, typer.Option(help="Only this specimen's measurements.")] = None,
    dot: Annotated[str | None, typer.Option(help="Dot label (needs --specimen).")] = None,
    kind: Annotated[str | None, typer.Option(help="e.g. g2_cw, decay, spectrum, intensity_trace.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=ID_MAX, help="The first N, by id.")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List measurements, by id.

    Example: qdcat measurement list --sample InP-A --kind g2_cw --json
    """
    with _catalog(ctx) as cat:
        rows = [
            r
            for s in _each_sample(sample)
            for r in cat.list_measurements(sample=s, specimen=specimen, dot=dot, kind=kind, limit=limit)
        ]
    rows = sorted(rows, key=lambda r: r["id"])[:limit]
    render_rows(rows, pick_format(as_json, as_csv), title="measurements")


@measurement_app.command("show")
def measurement_show(ctx: typer.Context, measurement_id: MeasurementArg, as_json: JsonOpt = False) -> None:
    """Show one measurement: where, settings, raw data, checksums, and every analysis it feeds.

    Example: qdcat measurement show 12
    """
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
def measurement_delete(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the history).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a measurement and its results; its raw data go to the trash (`qdcat trash restore`).

    Example: qdcat measurement delete 17 --reason "wrong dot" --yes
    """
    from qdcat.cli.trash import confirm

    with _catalog(ctx) as cat:
        m = cat.get_measurement(measurement_id)  # an unknown id is an error before any question
        confirm(
            f"delete measurement {measurement_id} ({m.kind.value}, {m.specimen}/{m.dot}) and its results?",
            yes,
        )
        cat.delete_measurement(measurement_id, reason=reason)
    say(f"deleted measurement {measurement_id}; its raw data are in the trash (`qdcat trash list`)")
