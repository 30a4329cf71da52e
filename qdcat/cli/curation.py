"""Corrections and curation: ``edit``, ``history``, ``curate tag|untag|exclude|include|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, _catalog, _sub, app
from qdcat.cli.output import pick_format, render_record, render_rows, say

curate_app = _sub("curate", "Tags and exclusions on dots, measurements and results (all in the history).")

EntityArg = Annotated[str, typer.Argument(help="sample, specimen, dot, setup or measurement.")]
CuratedArg = Annotated[str, typer.Argument(help="dot, measurement or result.")]
RefArg = Annotated[
    str,
    typer.Argument(
        help="Which one: a name, SPECIMEN/LABEL for a dot, an id for a measurement or result (run)."
    ),
]
ReasonOpt = Annotated[str | None, typer.Option(help="Why (kept in the history).")]


def _pairs(values: list[str] | None) -> dict[str, str]:
    from qdcat.errors import InvalidValueError

    out = {}
    for v in values or []:
        field, sep, value = v.partition("=")
        if not sep or not field.strip():
            raise InvalidValueError(f"--set takes FIELD=VALUE (an empty VALUE clears it), got {v!r}")
        out[field.strip()] = value
    return out


@app.command()
def edit(
    ctx: typer.Context,
    entity: EntityArg,
    ref: RefArg,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=VALUE, repeatable; an empty VALUE clears it.")
    ] = None,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct what was recorded, validated as at creation; every change goes into the history.

    An edit of an analysis input (a measurement's intensity, wavelength, repetition rate,
    dot or setup; a setup's CCD facts) makes the results computed from it stale:
    `qdcat analyze` computes them again.

    Example: qdcat edit measurement 17 --set intensity_w_cm2=380 --reason "power meter misread"
    """
    from qdcat import workflow

    with _catalog(ctx) as cat:
        report = workflow.edit(cat, entity, ref, _pairs(set_), reason=reason)
    rec = report.edit.to_dict() | {"stale_results": report.stale}
    fmt = pick_format(as_json, False)
    if fmt.value == "json":
        render_record(rec, fmt)
        return
    if not report.edit.changes:
        say(f"{report.edit.label}: nothing changed (the values were already these)")
        return
    for field, (old, new) in report.edit.changes:
        say(f"{report.edit.label}: {field} {old!r} → {new!r}")
    if report.stale:
        say(f"{report.stale} result(s) computed from the old values are stale; run `qdcat analyze`")


@app.command()
def history(
    ctx: typer.Context,
    entity: Annotated[
        str | None, typer.Option(help="Only this kind of entity (sample, dot, measurement…).")
    ] = None,
    entity_id: Annotated[int | None, typer.Option("--id", help="Only this entity id.")] = None,
    action: Annotated[
        str | None, typer.Option(help="update, delete, tag, untag, exclude or include.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Who changed what, when and why: edits, deletions, tags and exclusions, newest first.

    Example: qdcat history --entity measurement --id 17
    """
    with _catalog(ctx) as cat:
        rows = cat.history(entity=entity, entity_id=entity_id, action=action, limit=limit)
    render_rows(rows, pick_format(as_json, as_csv), title="history")


@curate_app.command("tag")
def curate_tag(ctx: typer.Context, entity: CuratedArg, ref: RefArg, tag: str) -> None:
    """Tag a dot, measurement or result.

    Example: qdcat curate tag dot slide-1/QD007 "Fig. 3"
    """
    with _catalog(ctx) as cat:
        rec = cat.tag(entity, ref, tag)
    say(f"tagged {rec.label} {rec.value!r}")


@curate_app.command("untag")
def curate_untag(ctx: typer.Context, entity: CuratedArg, ref: RefArg, tag: str) -> None:
    """Remove a tag.

    Example: qdcat curate untag dot slide-1/QD007 "Fig. 3"
    """
    with _catalog(ctx) as cat:
        cat.untag(entity, ref, tag)
    say(f"removed tag {tag!r}")


@curate_app.command("exclude")
def curate_exclude(
    ctx: typer.Context,
    entity: CuratedArg,
    ref: RefArg,
    reason: Annotated[str, typer.Option(help="Why it is left out (required).")],
) -> None:
    """Leave a dot, measurement or result out of queries, statistics and plots (undo: include).

    Example: qdcat curate exclude dot slide-1/QD012 --reason "two dots in the spot"
    """
    with _catalog(ctx) as cat:
        rec = cat.exclude(entity, ref, reason=reason)
    say(f"excluded {rec.label}: {rec.value}")


@curate_app.command("include")
def curate_include(ctx: typer.Context, entity: CuratedArg, ref: RefArg, reason: ReasonOpt = None) -> None:
    """Undo an exclusion.

    Example: qdcat curate include measurement 17 --reason "refocused: fine"
    """
    with _catalog(ctx) as cat:
        cat.include(entity, ref, reason=reason)
    say(f"included {entity} {ref} again")


@curate_app.command("list")
def curate_list(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(help="dot, measurement or result.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only this tag.")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Every tag and exclusion, with who and when.

    Example: qdcat curate list --tag "Fig. 3"
    """
    with _catalog(ctx) as cat:
        rows = cat.curation(entity=entity, tag=tag)
    render_rows(rows, pick_format(as_json, as_csv), title="curation")
