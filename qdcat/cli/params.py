"""Analysis parameters kept per measurement: ``params set|show|clear``."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, MeasurementArg, _catalog, _sub
from qdcat.cli.output import pick_format, render_rows, say

params_app = _sub("params", "Analysis parameters kept for one measurement, used by every `qdcat analyze`.")


@params_app.command("set")
def params_set(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    values: Annotated[list[str], typer.Argument(help="ANALYSIS.NAME=VALUE, e.g. decay.fit_stop_ns=80.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the history).")] = None,
) -> None:
    """Keep parameters for this measurement's analyses (they win over `analyze --param`).

    Example: qdcat params set 17 decay.start_after_peak_ns=2 decay.fit_stop_ns=80 --reason "IRF tail"
    """
    from qdcat import workflow
    from qdcat.errors import InvalidValueError

    pairs = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            raise InvalidValueError(f"give ANALYSIS.NAME=VALUE, got {v!r}")
        pairs[key.strip()] = value.strip()
    with _catalog(ctx) as cat:
        kept = workflow.set_params(cat, measurement_id, pairs, reason=reason)
    for name, p in kept.items():
        say(f"measurement {measurement_id} keeps {name}: {p}; run `qdcat analyze` to use them")


@params_app.command("show")
def params_show(
    ctx: typer.Context,
    measurement_id: Annotated[int | None, typer.Argument(help="One measurement (default: all).")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The parameters kept per measurement.

    Example: qdcat params show 17
    """
    with _catalog(ctx) as cat:
        kept = cat.kept_params(measurement_id=measurement_id)
    rows = [{"measurement": m, "analysis": a, "params": p} for (m, a), p in sorted(kept.items())]
    render_rows(rows, pick_format(as_json, as_csv), title="kept parameters")


@params_app.command("clear")
def params_clear(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    analysis: Annotated[str | None, typer.Option(help="Only this analysis's parameters.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the history).")] = None,
) -> None:
    """Forget the parameters kept for a measurement (its analyses use the defaults again).

    Example: qdcat params clear 17 --analysis decay
    """
    with _catalog(ctx) as cat:
        n = cat.clear_params(measurement_id, analysis, reason=reason)
    say(f"measurement {measurement_id}: forgot {n} parameter set(s)")
