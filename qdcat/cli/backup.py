"""Snapshots of the whole catalog: ``backup`` and ``restore``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from qdcat.cli._app import JsonOpt, _home, app
from qdcat.cli.output import pick_format, render_record, render_rows, say


@app.command()
def backup(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="An empty or new directory for the backup.")],
    note: Annotated[str, typer.Option(help="A note kept in the backup's manifest.")] = "",
) -> None:
    """Back up the catalog and the raw data it names, consistently, while others keep working.

    Example: qdcat backup /mnt/backups/qdcat-2025-06-01 --note "before db upgrade"
    """
    from qdcat.catalog.api import open_catalog
    from qdcat.catalog.backup import backup as take_backup

    started = time.perf_counter()
    # No schema check: the backup before `qdcat db upgrade` is made by the new qdcat.
    with open_catalog(_home(ctx), check_schema=False) as cat:
        m = take_backup(cat, directory, note=note)
    say(
        f"backup written to {directory}: {m.backend} catalog at schema {m.schema_revision}, "
        f"{m.raw_groups} raw and {m.derived_groups} derived store group(s), {len(m.files)} files, "
        f"{m.total_bytes / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
    )


@app.command()
def restore(
    directory: Annotated[Path, typer.Argument(help="A backup made by `qdcat backup`.")],
    home: Annotated[
        Path, typer.Option("--home", help="The catalog directory to restore into (new or empty).")
    ],
    database_url: Annotated[
        str | None, typer.Option(help="An empty database to restore into (default: SQLite in --home).")
    ] = None,
    store_url: Annotated[
        str | None, typer.Option(help="The store to restore into (default: <home>/store).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a catalog the target already holds.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a backup against its manifest, restore it into an empty target, then fsck --checksums it.

    The target is named here only (QDCAT_DATABASE_URL and QDCAT_STORE_URL are not read).

    Example: qdcat restore /mnt/backups/qdcat-2025-06-01 --home ~/qdcat-restored
    """
    from qdcat.catalog.backup import restore as restore_backup
    from qdcat.config import load_config

    target = load_config(home, database_url=database_url, store_url=store_url, environ={})
    rep = restore_backup(directory, target, force=force)
    info = {**rep.__dict__, "problems": [p.__dict__ for p in rep.problems]}
    if not rep.schema_note:
        del info["schema_note"]
    if as_json:
        render_record(info, pick_format(True, False))
    else:
        render_record({**info, "problems": len(rep.problems)}, pick_format(False, False), title="restored")
    if rep.problems and not as_json:
        render_rows(info["problems"], pick_format(False, False), title="problems")
    if rep.schema_note:
        say(rep.schema_note)
    elif not rep.problems:
        say("fsck --checksums: the restored catalog and store are consistent")
    if rep.problems:
        raise typer.Exit(1)
