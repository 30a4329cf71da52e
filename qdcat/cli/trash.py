"""The trash: ``trash list|restore|empty``, and the confirmation every destructive command asks for."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, _catalog, _sub
from qdcat.cli.output import pick_format, render_rows, say

trash_app = _sub("trash", "Deleted measurements' raw data, kept until `qdcat gc` empties the trash.")

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying anything; without a terminal, ``--yes`` is required."""
    from qdcat.errors import InvalidValueError

    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidValueError(f"{question} — not asked without a terminal: pass --yes to confirm")
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


@trash_app.command("list")
def trash_list(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """What is in the trash: the id to restore it by, what it was, who deleted it and why.

    Example: qdcat trash list
    """
    with _catalog(ctx) as cat:
        render_rows(cat.trash(), pick_format(as_json, as_csv), title="trash")


@trash_app.command("restore")
def trash_restore(ctx: typer.Context, trash_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Bring a deleted measurement back (a new id; `qdcat analyze` computes its results again).

    Example: qdcat trash restore 12
    """
    with _catalog(ctx) as cat:
        ref = cat.restore_from_trash(trash_id)
    say(f"restored as measurement {ref.id}; run `qdcat analyze` for its results")


@trash_app.command("empty")
def trash_empty(
    ctx: typer.Context,
    older_than_days: Annotated[
        float, typer.Option(help="Only what was deleted this many days ago or more.", min=0)
    ] = 0.0,
    yes: YesOpt = False,
) -> None:
    """Remove the trash's raw data for good (`qdcat gc` does it after 30 days).

    Example: qdcat trash empty --older-than-days 7 --yes
    """
    import datetime as dt

    confirm(f"remove for good the raw data deleted {older_than_days:g}+ days ago?", yes)
    with _catalog(ctx) as cat:
        gone = cat.empty_trash(older_than=dt.timedelta(days=older_than_days))
    say(f"removed {len(gone)} item(s) from the trash")
