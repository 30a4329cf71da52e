"""The catalog itself: ``init``, ``demo``, ``version``, ``gc``, ``fsck`` and ``db upgrade|status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, _catalog, _home, _sub, app, print_version
from qdcat.cli.output import pick_format, render_record, render_rows, say, stderr_console

db_app = _sub("db", "Database schema: upgrade, status.")


@app.command()
def init(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (default: SQLite file in the catalog directory).")
    ] = None,
    store_url: Annotated[
        str | None, typer.Option(help="Store directory or fsspec URL (default: <home>/store).")
    ] = None,
) -> None:
    """Create a catalog (directory, config file, schema, store), or bring it up to date.

    Example: qdcat init --database-url postgresql+psycopg://qdcat@labserver/qdcat --store-url /mnt/lab/store
    """
    from qdcat.catalog.api import init_catalog

    with init_catalog(_home(ctx), database_url=database_url, store_url=store_url) as cat:
        d = cat.config.describe()
        say(f"catalog ready in {d['home']}")
        say(f"  database: {d['database_url']}")
        say(f"  store:    {d['store_url']}")


@app.command()
def demo(
    home: Annotated[Path, typer.Option(help="Where to build the demo catalog (recreated each run).")] = Path(
        "qdcat-demo"
    ),
    quick: Annotated[bool, typer.Option(help="A few dots only (seconds).")] = False,
    no_figures: Annotated[bool, typer.Option("--no-figures", help="Skip drawing the figures.")] = False,
) -> None:
    """Simulate a study like the reference one, ingest it like real data, analyse it, answer its questions.

    Example: qdcat demo --quick --home qdcat-demo
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qdcat.demo import DEMO_PLAN, run_demo
    from qdcat.session import SessionPlan

    plan = SessionPlan.quick() if quick else DEMO_PLAN
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True, console=stderr_console()) as bar:
        task = bar.add_task("simulating", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        res = run_demo(home, plan=plan, progress=progress, figures=not no_figures)
    _render_demo(res)
    if res.problems or res.failed or res.job_errors:
        raise typer.Exit(1)


def _render_demo(res: Any) -> None:
    table = pick_format(False, False)
    render_rows(
        [{"kind": k, "measurements": n} for k, n in res.kinds.items()],
        table,
        title="measurements ingested from the simulated session",
    )
    say(
        f"{res.measurements} measurements on {res.dots} dots, {res.events:,} photon events stored in "
        f"{res.stored_bytes / 1e6:.1f} MB; "
        + ("fsck: catalog and store consistent" if res.problems == 0 else f"fsck: {res.problems} problem(s)!")
    )
    say("analysis jobs: " + ", ".join(f"{n} {k}" for k, n in sorted(res.jobs.items())))
    for e in res.job_errors[:5]:
        say(e)
    mark = {True: "✓", False: "✗", None: ""}
    render_rows(
        [
            {
                "quantity": r.quantity,
                "qdcat (from the catalog)": r.qdcat,
                "simulation truth": r.truth,
                "within 3σ": mark[r.agrees],
                "paper": r.paper,
            }
            for r in res.table
        ],
        table,
        title="InP/ZnSe population: qdcat vs truth vs the paper",
    )
    for r in res.table:
        if r.note:
            say(f"note — {r.quantity}: {r.note}")
    if res.comparison:
        render_rows(res.comparison, table, title="InP/ZnSe vs CdSe/CdS")
    if res.figures:
        say(f"{len(res.figures)} figures in {res.figures[0].parent}")
    say(f"session files, manifest and ground truth: {res.session}")
    say(
        f"catalog: {res.home}  (try: qdcat --home {res.home} query dots "
        '--where "g2_zero < 0.2 and lifetime_ns > 15" --columns dot,g2_zero,lifetime_ns)'
    )
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in res.seconds_by_stage.items())
    say(f"done in {res.seconds:.0f} s ({stages})")


@app.command()
def version() -> None:
    """Print qdcat's version (as `qdcat --version` does).

    Example: qdcat version
    """
    print_version()


@app.command()
def gc(
    ctx: typer.Context,
    all_pending: Annotated[
        bool, typer.Option(help="Also remove writes that may still be running (only when no ingest runs).")
    ] = False,
) -> None:
    """Remove what interrupted ingests and deletions left in the store.

    Example: qdcat gc
    """
    with _catalog(ctx) as cat:
        rep = cat.collect_garbage(all_pending=all_pending)
    say(
        f"removed {len(rep.removed_pending)} interrupted write(s), finished {len(rep.removed_deleting)} "
        f"deletion(s), removed {len(rep.removed_orphans)} orphaned store group(s)"
    )
    if rep.kept_pending:
        say(f"kept {len(rep.kept_pending)} pending write(s) that may still be running")


@app.command()
def fsck(
    ctx: typer.Context,
    checksums: Annotated[bool, typer.Option(help="Re-hash all raw data (slow).")] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Check that every measurement's raw data is in the store (and intact).

    Example: qdcat fsck --checksums
    """
    fmt = pick_format(as_json, as_csv)
    with _catalog(ctx) as cat:
        problems = cat.fsck(checksums=checksums)
    if problems or fmt.value != "table":
        render_rows([p.__dict__ for p in problems], fmt, title="problems")
    else:
        say("catalog and store are consistent")
    if problems:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply schema migrations up to this qdcat's version.

    Example: qdcat db upgrade
    """
    from qdcat.catalog import db
    from qdcat.config import load_config

    cfg = load_config(_home(ctx))
    engine = db.make_engine(cfg.database_url)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine)
        after = db.current_revision(engine)
    finally:
        engine.dispose()
    say(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (already current)"))


@db_app.command("status")
def db_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Where the catalog is, its schema revision and what it holds.

    Example: qdcat db status --json
    """
    from qdcat.catalog import db
    from qdcat.config import load_config

    cfg = load_config(_home(ctx))
    engine = db.make_engine(cfg.database_url)
    try:
        rev = db.current_revision(engine)
        info: dict[str, Any] = dict(cfg.describe())
        info["schema_revision"] = rev
        info["schema_head"] = db.head_revision()
        info["schema_ok"] = rev == info["schema_head"]
    finally:
        engine.dispose()
    if info["schema_ok"]:
        with _catalog(ctx) as cat:
            info.update({k: v for k, v in cat.status().items() if k not in info})
    render_record(info, pick_format(as_json, False), title="qdcat catalog")
    if not info["schema_ok"]:
        say("schema is not current: run `qdcat db upgrade`")
