"""The ``qdcat`` command line: thin commands over :mod:`qdcat.catalog.api`.

Each noun is a sub-app; heavy imports (numpy, zarr, SQLAlchemy models) happen
inside command bodies so ``qdcat --help`` stays fast. Every
:class:`~qdcat.errors.QdcatError` becomes one line on stderr and exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from qdcat.cli.output import pick_format, render_record, render_rows, say, stderr_console


class _QdcatGroup(TyperGroup):
    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Usage errors as one ``error:`` line on stderr (exit 2), like every other error."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            typer.echo("aborted; nothing was changed", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # click's usage errors (typer vendors click)
            if not hasattr(exc, "format_message"):
                raise
            ctx = getattr(exc, "ctx", None)
            where = f"`{ctx.command_path} --help`" if ctx is not None else "`qdcat --help`"
            message = " ".join(exc.format_message().split())
            typer.echo(f"error: {message} (see {where})", err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        from qdcat.errors import QdcatError

        try:
            return super().invoke(ctx)
        except QdcatError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            known = _explain(exc)
            if known is None:
                raise
            typer.echo(f"error: {known}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; nothing half-written was kept", err=True)
            raise typer.Exit(130) from None


def _explain(exc: BaseException) -> Exception | None:
    """Failures of the machine rather than of qdcat — database down, disk full — as one line."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({exc.filename})" if exc.filename else ""
        return OSError(
            f"no space left on the disk{where}; free space, run `qdcat gc`, then run the command again — "
            "nothing half-written was kept"
        )
    if "sqlalchemy" in sys.modules or isinstance(exc, OverflowError):
        from qdcat.catalog.db import explain

        return explain(exc)
    return None


def _sub(name: str, help: str) -> typer.Typer:
    sub = typer.Typer(name=name, help=help, no_args_is_help=True, pretty_exceptions_enable=False)
    app.add_typer(sub)
    return sub


app = typer.Typer(
    name="qdcat",
    cls=_QdcatGroup,
    help="A measurement catalog for single-quantum-dot spectroscopy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = _sub("db", "Database schema: upgrade, status.")
sample_app = _sub("sample", "Samples (synthesis batches).")
specimen_app = _sub("specimen", "Specimens (a sample on a substrate).")
dot_app = _sub("dot", "Dots (single emitters on a specimen).")
setup_app = _sub("setup", "Setups (instruments and their channel roles).")
measurement_app = _sub("measurement", "Measurements and their raw data.")
jobs_app = _sub("jobs", "Analysis jobs (runs): list, show, retry.")
results_app = _sub("results", "Analysis results of measurements.")
query_app = _sub("query", "Population queries: dots or results, filtered, as a table, CSV, JSON or Parquet.")
plot_app = _sub("plot", "Figures: a measurement with its fit, population histograms and scatter plots.")

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Catalog directory (default: $QDCAT_HOME or ~/.qdcat).",
        envvar="QDCAT_HOME",
        show_envvar=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ID_MAX = 2**63 - 1  # the catalog's ids are 64-bit on both backends
MeasurementArg = Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Measurement id.")]
RunArg = Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Analysis run id.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV.")]


@app.callback()
def _root(ctx: typer.Context, home: HomeOpt = None) -> None:
    ctx.obj = {"home": home}


def _home(ctx: typer.Context) -> Path | None:
    return ctx.find_root().obj.get("home") if ctx.find_root().obj else None


def _catalog(ctx: typer.Context) -> Any:
    from qdcat.catalog.api import open_catalog

    return open_catalog(_home(ctx))


# -- top level -------------------------------------------------------------
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
    """Create a catalog (directory, config file, schema, store), or bring it up to date."""
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
    """Simulate a study like the reference one, ingest it like real data, analyse it, answer its questions."""
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
    render_rows(
        [{"kind": k, "measurements": n} for k, n in res.kinds.items()],
        pick_format(False, False),
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
        pick_format(False, False),
        title="InP/ZnSe population: qdcat vs truth vs the paper",
    )
    for r in res.table:
        if r.note:
            say(f"note — {r.quantity}: {r.note}")
    if res.comparison:
        render_rows(res.comparison, pick_format(False, False), title="InP/ZnSe vs CdSe/CdS")
    if res.figures:
        say(f"{len(res.figures)} figures in {res.figures[0].parent}")
    say(f"session files, manifest and ground truth: {res.session}")
    say(
        f"catalog: {res.home}  (try: qdcat --home {res.home} query dots "
        '--where "g2_zero < 0.2 and lifetime_ns > 15" --columns dot,g2_zero,lifetime_ns)'
    )
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in res.seconds_by_stage.items())
    say(f"done in {res.seconds:.0f} s ({stages})")
    if res.problems or res.failed or res.job_errors:
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print qdcat's version."""
    from qdcat import __version__

    typer.echo(__version__)


@app.command()
def gc(
    ctx: typer.Context,
    all_pending: Annotated[
        bool, typer.Option(help="Also remove writes that may still be running (only when no ingest runs).")
    ] = False,
) -> None:
    """Remove what interrupted ingests and deletions left in the store."""
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
) -> None:
    """Check that every measurement's raw data is in the store (and intact)."""
    with _catalog(ctx) as cat:
        problems = cat.fsck(checksums=checksums)
    if as_json:
        render_rows([p.__dict__ for p in problems], pick_format(True, False))
    elif problems:
        render_rows([p.__dict__ for p in problems], pick_format(False, False), title="problems")
    else:
        say("catalog and store are consistent")
    if problems:
        raise typer.Exit(1)


@app.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(help="Instrument files (.ptu .ht3 .pt3 .t3r .spc .h5 .csv).")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="Session manifest (CSV or TOML) mapping each file to where it belongs."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Measurement kind, e.g. g2_cw, decay, spectrum.")] = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    dot: Annotated[str | None, typer.Option(help="Dot label on the specimen.")] = None,
    setup: Annotated[str | None, typer.Option(help="Setup whose channel map applies.")] = None,
    excitation_wavelength_nm: Annotated[float | None, typer.Option()] = None,
    excitation_mode: Annotated[str | None, typer.Option(help="cw or pulsed.")] = None,
    repetition_rate_mhz: Annotated[float | None, typer.Option()] = None,
    intensity_w_cm2: Annotated[float | None, typer.Option()] = None,
    temperature_k: Annotated[float | None, typer.Option()] = None,
    integration_time_s: Annotated[float | None, typer.Option()] = None,
    operator: Annotated[str | None, typer.Option()] = None,
    series_name: Annotated[str | None, typer.Option()] = None,
    series_index: Annotated[int | None, typer.Option(min=0, max=2**31 - 1)] = None,
    set_file: Annotated[Path | None, typer.Option(help="Becker & Hickl .set file for an .spc.")] = None,
    allow_truncated: Annotated[
        bool, typer.Option(help="Keep the complete records of a truncated .ht3/.pt3/.t3r/.spc file.")
    ] = False,
    register: Annotated[
        Path | None,
        typer.Option(help="session.toml: first add the samples, specimens, dots and setups it lists."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest instrument files (or a session manifest) into the catalog; re-ingest is a no-op."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qdcat import workflow
    from qdcat.errors import InvalidValueError
    from qdcat.ingest.pipeline import IngestItem, read_manifest

    if manifest is not None:
        if files:
            raise InvalidValueError("give files or --manifest, not both")
        items = read_manifest(manifest)
    else:
        if not files:
            raise InvalidValueError("nothing to ingest: give files, or --manifest SESSION.csv")
        if not kind or not specimen:
            raise InvalidValueError("--kind and --specimen are needed for files given on the command line")
        settings = {
            k: v
            for k, v in {
                "excitation_wavelength_nm": excitation_wavelength_nm,
                "excitation_mode": excitation_mode,
                "repetition_rate_mhz": repetition_rate_mhz,
                "intensity_w_cm2": intensity_w_cm2,
                "temperature_k": temperature_k,
                "integration_time_s": integration_time_s,
            }.items()
            if v is not None
        }
        items = [
            IngestItem(
                path=f,
                kind=kind,
                specimen=specimen,
                dot=dot,
                setup=setup,
                settings=settings,
                operator=operator,
                series_name=series_name,
                series_index=series_index,
                set_file=set_file,
                allow_truncated=allow_truncated,
            )
            for f in files
        ]
    with _catalog(ctx) as cat:
        cat.collect_garbage()  # leftovers of an ingest that was killed on this host
        if register is not None:
            from qdcat.session import register_session

            added = register_session(cat, register)
            say("registered " + ", ".join(f"{v} {k}" for k, v in added.items()))
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[ev]}"),
        )
        with Progress(*columns, transient=True, console=stderr_console()) as bar:
            task = bar.add_task("ingesting", total=len(items), ev="")
            state = {"events": 0}

            def on_file(item: IngestItem) -> None:
                bar.update(task, description=f"ingesting {item.path.name}")

            def on_events(n: int) -> None:
                state["events"] += n
                bar.update(task, ev=f"{state['events']:,} events")

            def advance(item: IngestItem) -> None:
                if state.get("started"):
                    bar.advance(task)
                state["started"] = 1
                on_file(item)

            report = workflow.ingest(cat, items, on_file=advance, on_events=on_events)
            outcomes = report.outcomes
        if report.stale:
            say(f"{report.stale} results read inputs that changed and are now stale; run `qdcat analyze`")
    rows = [
        {
            "file": str(o.path.name),
            "status": o.status,
            "measurement": o.measurement_id,
            "events": o.events,
            "message": o.message,
        }
        for o in outcomes
    ]
    render_rows(rows, pick_format(as_json, False), title="ingest")
    n = {s: sum(o.status == s for o in outcomes) for s in ("ingested", "skipped", "failed")}
    say(f"{n['ingested']} ingested, {n['skipped']} skipped (already in the catalog), {n['failed']} failed")
    if n["failed"]:
        first = next(o for o in outcomes if o.status == "failed")
        typer.echo(
            f"error: {n['failed']} of {len(outcomes)} files failed, e.g. {first.message}; "
            "fix them and ingest again (what was ingested stays)",
            err=True,
        )
        raise typer.Exit(1)


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="New folder for the simulated session.")],
    quick: Annotated[bool, typer.Option(help="A few dots, short acquisitions (seconds to run).")] = False,
    dots: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Dots of the main sample (default 72; quick: 6).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1)] = 2026,
) -> None:
    """Simulate a single-dot study as a session folder of real-format files, a manifest and the truth."""
    from dataclasses import replace

    from rich.progress import Progress

    from qdcat.session import SessionPlan, write_session

    plan = SessionPlan.quick(dots or 6, seed) if quick else SessionPlan(seed=seed)
    if dots is not None and not quick:
        k = min(dots, 25)
        plan = replace(
            plan,
            n_dots=dots,
            n_g2_dots=min(dots, 70),
            n_lifetime_dots=k,
            n_blinking_dots=k,
            n_pulsed_g2_dots=min(dots, 5),
            n_second_sample_dots=k,
        )
    with Progress(transient=True, console=stderr_console()) as bar:
        task = bar.add_task("simulating", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        res = write_session(out, plan, progress=progress)
    say(f"wrote {res.files} files ({res.events:,} photon events) to {res.folder}")
    say("truth: truth_dots.csv, truth.json; to put it in the catalog:")
    say(f"  qdcat ingest --manifest {res.manifest} --register {res.session_toml}")


@app.command()
def export(
    ctx: typer.Context,
    measurement_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Measurement to export.")],
    out: Annotated[Path, typer.Argument(help="Photon-HDF5 file to write (.h5).")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Export a measurement's time tags to Photon-HDF5 (validated with phconvert)."""
    from qdcat.ingest.export import export_photon_hdf5

    with _catalog(ctx) as cat:
        path = export_photon_hdf5(cat, measurement_id, out, overwrite=overwrite)
    say(f"wrote {path} (Photon-HDF5, validated)")


# -- db ----------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply schema migrations up to this qdcat's version."""
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
    """Where the catalog is, its schema revision and what it holds."""
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


# -- samples -------------------------------------------------------------------
@sample_app.command("add")
def sample_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique sample name, e.g. InP-ZnSe-2026-03.")],
    material: Annotated[str, typer.Option(help="Material system, e.g. InP/ZnSe.")],
    core_diameter_nm: Annotated[float | None, typer.Option()] = None,
    total_diameter_nm: Annotated[float | None, typer.Option()] = None,
    synthesis_reference: Annotated[str | None, typer.Option()] = None,
    synthesized_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    abs_max_nm: Annotated[float | None, typer.Option()] = None,
    pl_peak_nm: Annotated[float | None, typer.Option()] = None,
    pl_fwhm_nm: Annotated[float | None, typer.Option()] = None,
    plqy_fraction: Annotated[float | None, typer.Option(help="Ensemble PL quantum yield, 0–1.")] = None,
    decay_rate_solution_per_us: Annotated[float | None, typer.Option()] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a sample (one synthesis batch)."""
    with _catalog(ctx) as cat:
        rec = cat.add_sample(
            name,
            material,
            core_diameter_nm=core_diameter_nm,
            total_diameter_nm=total_diameter_nm,
            synthesis_reference=synthesis_reference,
            synthesized_on=synthesized_on,
            abs_max_nm=abs_max_nm,
            pl_peak_nm=pl_peak_nm,
            pl_fwhm_nm=pl_fwhm_nm,
            plqy_fraction=plqy_fraction,
            decay_rate_solution_per_us=decay_rate_solution_per_us,
            notes=notes,
        )
    if as_json:
        render_record(rec, pick_format(True, False))
    else:
        say(f"added sample {rec['name']} ({rec['material']})")


@sample_app.command("list")
def sample_list(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """List samples with their numbers of specimens, dots and measurements."""
    with _catalog(ctx) as cat:
        render_rows(cat.list_samples(), pick_format(as_json, as_csv), title="samples")


@sample_app.command("show")
def sample_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Show one sample."""
    with _catalog(ctx) as cat:
        render_record(cat.get_sample(name), pick_format(as_json, False), title=f"sample {name}")


@sample_app.command("delete")
def sample_delete(
    ctx: typer.Context,
    name: str,
    force: Annotated[
        bool, typer.Option(help="Also delete its specimens, dots, measurements and raw data.")
    ] = False,
) -> None:
    """Delete a sample (refuses if it has data, unless --force)."""
    with _catalog(ctx) as cat:
        impact = cat.delete_sample(name, force=force)
    say(
        f"deleted sample {name} with {impact['specimens']} specimen(s), "
        f"{impact['measurements']} measurement(s)"
    )


# -- specimens -------------------------------------------------------------------
@specimen_app.command("add")
def specimen_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique specimen name, e.g. the slide label.")],
    sample: Annotated[str, typer.Option(help="Sample it was made from.")],
    purpose: Annotated[str, typer.Option(help="single_dot (dilute) or ensemble (film).")] = "single_dot",
    preparation_method: Annotated[str | None, typer.Option(help="e.g. drop-cast, spin-coat.")] = None,
    concentration_nmol_l: Annotated[float | None, typer.Option()] = None,
    solvent: Annotated[str | None, typer.Option()] = None,
    substrate: Annotated[str | None, typer.Option()] = None,
    surface_density_per_um2: Annotated[float | None, typer.Option()] = None,
    prepared_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a specimen (a sample on a substrate)."""
    with _catalog(ctx) as cat:
        rec = cat.add_specimen(
            name,
            sample,
            purpose=purpose,
            preparation_method=preparation_method,
            concentration_nmol_l=concentration_nmol_l,
            solvent=solvent,
            substrate=substrate,
            surface_density_per_um2=surface_density_per_um2,
            prepared_on=prepared_on,
            notes=notes,
        )
    say(f"added specimen {rec['name']} of sample {rec['sample']} ({rec['purpose']})")


@specimen_app.command("list")
def specimen_list(
    ctx: typer.Context,
    sample: Annotated[str | None, typer.Option(help="Only this sample's specimens.")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List specimens."""
    with _catalog(ctx) as cat:
        render_rows(cat.list_specimens(sample), pick_format(as_json, as_csv), title="specimens")


@specimen_app.command("delete")
def specimen_delete(
    ctx: typer.Context,
    name: str,
    force: Annotated[bool, typer.Option(help="Also delete its dots, measurements and raw data.")] = False,
) -> None:
    """Delete a specimen (refuses if it has dots or data, unless --force)."""
    with _catalog(ctx) as cat:
        impact = cat.delete_specimen(name, force=force)
    say(f"deleted specimen {name} with {impact['dots']} dot(s), {impact['measurements']} measurement(s)")


# -- dots --------------------------------------------------------------------------
@dot_app.command("add")
def dot_add(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Dot label, unique on its specimen.")],
    x_um: Annotated[float, typer.Argument(help="Stage x position, µm.")],
    y_um: Annotated[float, typer.Argument(help="Stage y position, µm.")],
    specimen: Annotated[str, typer.Option(help="Specimen the dot is on.")],
    z_um: Annotated[float | None, typer.Option()] = None,
    marker_label: Annotated[str | None, typer.Option(help="Nearest marker.")] = None,
    marker_dx_um: Annotated[float | None, typer.Option()] = None,
    marker_dy_um: Annotated[float | None, typer.Option()] = None,
    notes: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add one dot at a stage position."""
    with _catalog(ctx) as cat:
        rec = cat.add_dot(
            specimen,
            label,
            x_um,
            y_um,
            z_um=z_um,
            marker_label=marker_label,
            marker_dx_um=marker_dx_um,
            marker_dy_um=marker_dy_um,
            notes=notes,
        )
    say(f"added dot {rec['label']} on {rec['specimen']} at ({rec['x_um']:g}, {rec['y_um']:g}) µm")


@dot_app.command("import")
def dot_import(
    ctx: typer.Context,
    csv_file: Annotated[
        Path, typer.Argument(help="CSV with header label,x_um,y_um[,z_um,marker_label,...].")
    ],
    specimen: Annotated[str, typer.Option(help="Specimen the dots are on.")],
    skip_existing: Annotated[bool, typer.Option(help="Skip labels already on the specimen.")] = False,
) -> None:
    """Import dots from a CSV file, all or nothing."""
    with _catalog(ctx) as cat:
        res = cat.import_dots_csv(specimen, csv_file, skip_existing=skip_existing)
    say(
        f"imported {res['added']} dot(s) onto {specimen}"
        + (f", skipped {res['skipped']}" if res["skipped"] else "")
    )


@dot_app.command("list")
def dot_list(
    ctx: typer.Context,
    specimen: Annotated[str | None, typer.Option()] = None,
    sample: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List dots."""
    with _catalog(ctx) as cat:
        render_rows(
            cat.list_dots(specimen=specimen, sample=sample), pick_format(as_json, as_csv), title="dots"
        )


@dot_app.command("delete")
def dot_delete(
    ctx: typer.Context,
    label: str,
    specimen: Annotated[str, typer.Option()],
    force: Annotated[bool, typer.Option(help="Also delete its measurements and raw data.")] = False,
) -> None:
    """Delete a dot (refuses if it has measurements, unless --force)."""
    with _catalog(ctx) as cat:
        res = cat.delete_dot(specimen, label, force=force)
    say(f"deleted dot {label} on {specimen} with {res['measurements']} measurement(s)")


# -- setups ---------------------------------------------------------------------------
@setup_app.command("add")
def setup_add(
    ctx: typer.Context,
    name: str,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            help="CHANNEL=ROLE[:DETECTOR], repeatable; roles: hbt_a, hbt_b, sync, marker, detector.",
        ),
    ] = None,
    time_tagger_model: Annotated[str | None, typer.Option()] = None,
    time_tagger_resolution_ps: Annotated[float | None, typer.Option()] = None,
    spectrometer: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    ccd_offset_counts: Annotated[
        float | None, typer.Option(help="The camera's electronic offset (bias), counts per pixel.")
    ] = None,
    ccd_read_noise_counts: Annotated[
        float | None, typer.Option(help="The camera's read noise (1σ), counts.")
    ] = None,
    dark_cps: Annotated[
        list[str] | None,
        typer.Option("--dark-cps", help="CHANNEL=RATE: a detector's dark count rate (counts/s), repeatable."),
    ] = None,
    jitter_ps: Annotated[
        list[str] | None,
        typer.Option("--jitter-ps", help="CHANNEL=FWHM: a detector's timing jitter (ps), repeatable."),
    ] = None,
) -> None:
    """Register a setup: which time-tagger input is which detector, and facts the analyses use.

    Example: qdcat setup add microPL --channel 0=hbt_a --channel 1=hbt_b --channel 64=sync
    --dark-cps 0=250 --dark-cps 1=300 --ccd-offset-counts 600 --ccd-read-noise-counts 4.5
    """
    from qdcat.errors import InvalidValueError

    def per_channel(values: list[str] | None, option: str) -> dict[int, str]:
        out: dict[int, str] = {}
        for spec in values or []:
            ch, sep, value = spec.partition("=")
            if not sep or not ch.strip().isdigit() or not value.strip():
                raise InvalidValueError(f"{option} {spec!r} must look like 0=250 (CHANNEL=VALUE)")
            out[int(ch)] = value
        return out

    channels: dict[int, tuple[str, str | None]] = {}
    for spec in channel or []:
        ch, sep, rest = spec.partition("=")
        if not sep or not ch.strip().isdigit():
            raise InvalidValueError(f"--channel {spec!r} must look like 0=hbt_a or 2=sync:laser")
        role, _, detector = rest.partition(":")
        if int(ch) in channels:
            raise InvalidValueError(f"channel {ch} given twice")
        channels[int(ch)] = (role, detector or None)
    with _catalog(ctx) as cat:
        rec = cat.add_setup(
            name,
            channels=channels,
            time_tagger_model=time_tagger_model,
            time_tagger_resolution_ps=time_tagger_resolution_ps,
            spectrometer=spectrometer,
            description=description,
            ccd_offset_counts=ccd_offset_counts,
            ccd_read_noise_counts=ccd_read_noise_counts,
            dark_count_rate_cps=per_channel(dark_cps, "--dark-cps"),
            timing_jitter_ps=per_channel(jitter_ps, "--jitter-ps"),
        )
    say(f"added setup {rec['name']} with {len(rec['channels'])} channel(s)")


@setup_app.command("list")
def setup_list(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """List setups."""
    with _catalog(ctx) as cat:
        render_rows(cat.list_setups(), pick_format(as_json, as_csv), title="setups")


@setup_app.command("show")
def setup_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Show one setup with its channel map."""
    with _catalog(ctx) as cat:
        render_record(cat.get_setup(name), pick_format(as_json, False), title=f"setup {name}")


# -- measurements --------------------------------------------------------------------------
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
        rec = cat.get_measurement(measurement_id)
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


def _params(values: list[str] | None) -> dict[str, dict[str, str]]:
    from qdcat.errors import InvalidValueError

    out: dict[str, dict[str, str]] = {}
    for v in values or []:
        key, eq, value = v.partition("=")
        analysis, dot, name = key.partition(".")
        if not eq or not dot or not analysis or not name:
            raise InvalidValueError(f"--param {v!r}: write ANALYSIS.NAME=VALUE, e.g. g2_cw.window_ns=100")
        out.setdefault(analysis, {})[name] = value
    return out


@app.command()
def analyze(
    ctx: typer.Context,
    analysis: Annotated[
        list[str] | None, typer.Option("--analysis", "-a", help="Analyses to run (default: all).")
    ] = None,
    sample: Annotated[str | None, typer.Option()] = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    dot: Annotated[str | None, typer.Option(help="Dot label.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Measurement kinds.")] = None,
    measurement: Annotated[
        list[int] | None, typer.Option("--measurement", "-m", min=1, max=ID_MAX, help="Measurement ids.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="ANALYSIS.NAME=VALUE, e.g. g2_cw.window_ns=100.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would run; change nothing.")] = False,
    queue_only: Annotated[
        bool,
        typer.Option("--queue-only", help="Queue the jobs for `qdcat worker` processes; run nothing here."),
    ] = False,
    retry_failed: Annotated[bool, typer.Option(help="Run failed jobs with the same inputs again.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes (1: run here).")] = 1,
    lease_s: Annotated[
        float,
        typer.Option(
            min=1.0,
            max=86400.0,
            help="Seconds a job stays claimed without a heartbeat; a killed run is reclaimed after it.",
        ),
    ] = 120.0,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address, or 'local' for a local cluster of --workers.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Analyse what needs analysing; results already computed with the same inputs and parameters are kept."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qdcat import jobs

    selection = jobs.Selection(
        sample=sample,
        specimen=specimen,
        dot=dot,
        kinds=tuple(kind or ()),
        measurement_ids=tuple(measurement or ()),
    )
    with _catalog(ctx) as cat:
        plan = jobs.plan(
            cat,
            analyses=analysis,
            selection=selection,
            params=_params(param),
            dry_run=dry_run,
            retry_failed=retry_failed,
        )
        counts = plan.counts()
        if not plan.jobs:
            say("nothing to analyse: no committed measurements match the selection")
            return
        if plan.stale:
            say(f"{plan.stale} current results had changed inputs and are now stale")
        reclaimed = counts.get("reclaimed", 0)
        if reclaimed and not dry_run:
            say(f"{reclaimed} runs left 'running' by a process that died were reclaimed and run again")
        if dry_run:
            rows = [
                {"analysis": j.analysis, "target": j.label, "run": j.run_id, "action": j.action}
                for j in plan.jobs
                if j.action != "up to date"
            ]
            render_rows(rows, pick_format(as_json, False), title="would run")
            say(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing selected")
            return
        todo = plan.to_run
        if queue_only:
            say(f"{len(todo)} jobs queued; start `qdcat worker` processes (any machine sharing this catalog)")
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, transient=True, console=stderr_console()) as bar:
            task = bar.add_task("analysing", total=len(todo))

            def on_outcome(o: Any) -> None:
                bar.update(task, advance=1, description=f"{o.analysis} #{o.run_id}: {o.status}")

            def on_counts(c: dict[str, int]) -> None:
                bar.update(task, completed=sum(v for k, v in c.items() if k not in ("pending", "running")))

            if dask is not None:
                if dask != "local" and cat.config.is_sqlite:
                    say(
                        "note: Dask workers on other machines cannot open this embedded SQLite catalog; "
                        "a lab cluster needs QDCAT_DATABASE_URL (PostgreSQL) and a store every worker "
                        "sees at the same QDCAT_STORE_URL"
                    )
                jobs.run_dask(cat, todo, address=dask, workers=workers, progress=on_outcome, lease_s=lease_s)
            elif workers > 1:
                jobs.run_processes(cat, todo, workers=workers, progress=on_counts, lease_s=lease_s)
            else:
                jobs.run_inline(cat, todo, progress=on_outcome, lease_s=lease_s)
        # Whatever ran the jobs, the database says how they ended.
        runs = {r["id"]: r for r in jobs.list_jobs(cat, run_ids=[j.run_id for j in plan.jobs if j.run_id])}
    summary: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    busy: list[str] = []
    for j in plan.jobs:
        row = summary.setdefault(
            j.analysis, {"analysis": j.analysis, "done": 0, "up to date": 0, "failed": 0}
        )
        if j.action in ("up to date", "made current"):
            row["up to date"] += 1
            continue
        r = runs.get(j.run_id or -1)
        status = r["status"] if r else "failed"
        if status == "done":
            row["done"] += 1
        elif status in ("failed", "stale"):
            row["failed"] += 1
            errors.append(f"run {j.run_id} ({j.analysis}, {j.label}): {status}: {r['error'] if r else '?'}")
        else:
            row.setdefault("not run", 0)
            row["not run"] += 1
            busy.append(f"run {j.run_id} ({j.analysis}, {j.label}): still {status} in another process")
    render_rows(list(summary.values()), pick_format(as_json, False), title="analyze")
    for e in errors[:10]:
        say(e)
    n_done = sum(r["done"] for r in summary.values())
    n_skip = sum(r["up to date"] for r in summary.values())
    n_fail = sum(r["failed"] for r in summary.values())
    say(
        f"{n_done} done, {n_skip} skipped (up to date), {n_fail} failed"
        + ("; see `qdcat jobs list --status failed` and `qdcat jobs show RUN`" if n_fail else "")
    )
    for b in busy[:10]:
        say(b)
    if busy:
        say(
            f"{len(busy)} not finished here: another `qdcat analyze` or worker holds them; "
            "run `qdcat analyze` again when it is done (a dead holder's runs are reclaimed after its lease)"
        )
    if n_fail or busy:
        raise typer.Exit(1)


@app.command()
def worker(
    ctx: typer.Context,
    analysis: Annotated[
        list[str] | None, typer.Option("--analysis", "-a", help="Only these analyses.")
    ] = None,
    lease_s: Annotated[
        float, typer.Option(min=1.0, max=86400.0, help="Lease of a claimed job; renewed every lease/4.")
    ] = 120.0,
    poll_s: Annotated[
        float, typer.Option(min=0.1, max=3600.0, help="Seconds between looks for new jobs when idle.")
    ] = 5.0,
    exit_when_idle: Annotated[bool, typer.Option(help="Stop when no job is left.")] = False,
    max_jobs: Annotated[int | None, typer.Option(min=1, help="Stop after this many jobs.")] = None,
) -> None:
    """Claim and run queued jobs until stopped (Ctrl-C or SIGTERM finish the current job first).

    When the database becomes unreachable (a server restart) the worker waits, retrying
    with backoff up to 30 s, and carries on; the job it was running is claimed again.
    """
    import signal
    import threading

    from qdcat import jobs

    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        say("stopping after the current job")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with _catalog(ctx) as cat:
        say(f"worker {jobs.runner._worker_identity()} claiming jobs from {cat.engine.url.render_as_string()}")

        def on_outcome(o: Any) -> None:
            say(
                f"run {o.run_id} {o.analysis}: {o.status} in {o.seconds:.2f} s"
                + (f" ({o.error})" if o.error else "")
            )

        def on_wait(reason: str, seconds: float) -> None:
            say(f"database unreachable ({reason}); retrying in {seconds:.0f} s")

        outs = jobs.work(
            cat,
            analyses=analysis,
            lease_s=lease_s,
            idle_exit=exit_when_idle,
            poll_s=poll_s,
            max_jobs=max_jobs,
            on_outcome=on_outcome,
            stop=stop,
            wait_for_database=True,
            on_wait=on_wait,
        )
    failed = sum(o.status == "failed" for o in outs)
    say(
        f"worker ran {len(outs)} jobs"
        + (f", {failed} failed; see `qdcat jobs list --status failed`" if failed else "")
    )
    if failed:
        raise typer.Exit(1)


@jobs_app.command("analyses")
def jobs_analyses(
    name: Annotated[
        str | None, typer.Argument(help="One analysis in full: method, parameters, columns, flags.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The analyses qdcat runs: what each applies to, its version and parameters (set with --param)."""
    from qdcat import analyses

    fmt = pick_format(as_json, False)
    if name is None:
        rows = [
            {
                "analysis": a.name,
                "version": a.version,
                "applies to": a.applies_to
                + (" (+ " + ", ".join(c.role for c in a.companions) + ")" if a.companions else ""),
                "parameters": ", ".join(f"{p.name}={p.default!r}" for p in a.params) or "—",
                "what": a.summary,
            }
            for a in analyses.registry().values()
        ]
        render_rows(rows, fmt, title="analyses")
        return
    a = analyses.get(name)
    record = {
        "analysis": a.name,
        "version": a.version,
        "what": a.summary,
        "applies to": a.applies_to,
        "grouping": a.grouping,
        "companions": {c.role: c.description for c in a.companions} or None,
        "method": a.method,
        "parameters": {p.name: p.describe() for p in a.params} or None,
        "result table": a.table.name,
        "columns": {
            c.name + (" (+ _err)" if c.err else ""): f"{c.description}" + (f" [{c.unit}]" if c.unit else "")
            for c in a.columns
        },
        "flags": dict(a.flags),
    }
    render_record(record, fmt, title=f"analysis {a.name}")


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, running, done, failed or stale.")] = None,
    analysis: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=ID_MAX, help="Newest N runs.")] = 200,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Analysis runs, newest first."""
    from qdcat import jobs
    from qdcat.catalog.models import RunStatus
    from qdcat.errors import InvalidValueError

    if status is not None and status not in RunStatus._value2member_map_:
        raise InvalidValueError(f"status {status!r} is not one of: {', '.join(s.value for s in RunStatus)}")
    with _catalog(ctx) as cat:
        rows = jobs.list_jobs(cat, status=status, analysis=analysis, limit=limit)
        counts = jobs.job_counts(cat)
    render_rows(rows, pick_format(as_json, as_csv), title="jobs")
    if not (as_json or as_csv):
        say(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no jobs yet; run `qdcat analyze`")


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """One run with its provenance, inputs and any error with its traceback."""
    from qdcat import jobs

    with _catalog(ctx) as cat:
        rec = jobs.get_job(cat, run_id)
    render_record(rec, pick_format(as_json, False), title=f"run {run_id}")


@jobs_app.command("retry")
def jobs_retry(
    ctx: typer.Context,
    run_ids: Annotated[
        list[int] | None, typer.Argument(min=1, max=ID_MAX, help="Runs to queue again.")
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed run.")] = False,
) -> None:
    """Queue failed runs again; run them with `qdcat analyze` or a `qdcat worker`."""
    from qdcat import jobs

    with _catalog(ctx) as cat:
        ids = jobs.retry(cat, run_ids or [], all_failed=all_failed)
    say(f"{len(ids)} runs queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))


@results_app.command("show")
def results_show(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    all_runs: Annotated[bool, typer.Option("--all", help="Also results that are no longer current.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Results of every analysis that read a measurement."""
    from qdcat import jobs

    with _catalog(ctx) as cat:
        rows = jobs.results_for_measurement(cat, measurement_id, include_old=all_runs)
        overview = jobs.measurement_analyses(cat, measurement_id)
    fmt = pick_format(as_json, False)
    if fmt == "json":
        render_rows(rows, fmt)
        return
    render_rows(overview, fmt, title=f"analyses of measurement {measurement_id}")
    if not rows:
        say(f"no results for measurement {measurement_id} yet; run `qdcat analyze -m {measurement_id}`")
        return
    for r in rows:
        render_record(r, fmt, title=f"{r['analysis']} (run {r['run']}{', current' if r['current'] else ''})")


WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where", "-w", help='Filter, e.g. "g2_zero < 0.2 and lifetime_ns > 15" (`qdcat query fields`).'
    ),
]
SampleOpt = Annotated[list[str] | None, typer.Option("--sample", help="Only these samples.")]
FlaggedOpt = Annotated[
    bool,
    typer.Option("--include-flagged", help="Keep results whose quantity failed QC (left out by default)."),
]


def _say_flagged(n: int, reasons: tuple[str, ...] = ()) -> None:
    if n:
        why = f" ({'; '.join(reasons)})" if reasons else ""
        say(f"left out {n} result(s) that failed QC{why}; --include-flagged keeps them")


SourceOpt = Annotated[
    str, typer.Option("--from", help="'dots' (one row per dot) or an analysis name (one row per result).")
]


def _nan_to_none(df: Any) -> list[dict[str, Any]]:
    import math

    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


def _emit_frame(df: Any, *, as_json: bool, as_csv: bool, parquet: Path | None, title: str) -> None:
    if parquet is not None:
        parquet.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(parquet, index=False)
        say(f"{len(df)} rows written to {parquet}")
        return
    if as_csv and not as_json:
        sys.stdout.write(df.to_csv(index=False))
        return
    render_rows(_nan_to_none(df), pick_format(as_json, False), title=title)


def _columns(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


_DOT_TABLE = (
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


@query_app.command("dots")
def query_dots(
    ctx: typer.Context,
    sample: SampleOpt = None,
    specimen: Annotated[str | None, typer.Option()] = None,
    where: WhereOpt = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated field names.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write a Parquet file instead of printing.")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """One row per dot with its current results (spectrum, decay, g2, blinking, power series)."""
    from qdcat.query import api as q

    cols = _columns(columns)
    if cols is None and not (as_json or as_csv or parquet):
        cols = list(_DOT_TABLE)  # a screenful; files and JSON get every field
    with _catalog(ctx) as cat:
        df = q.dots(cat, sample=sample, specimen=specimen, where=where, columns=cols)
    _emit_frame(df, as_json=as_json, as_csv=as_csv, parquet=parquet, title=f"dots ({len(df)})")


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
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """One row per result of an analysis, with its measurement, settings and provenance."""
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
        )
    _emit_frame(df, as_json=as_json, as_csv=as_csv, parquet=parquet, title=f"{analysis} results ({len(df)})")


@query_app.command("fields")
def query_fields(
    view: Annotated[str, typer.Argument(help="'dots' or an analysis name.")] = "dots",
    as_json: JsonOpt = False,
) -> None:
    """The field names a view accepts in --where and --columns."""
    from qdcat.query import api as q

    rows = [{"field": f.name, "from": f.source, "description": f.description} for f in q.fields(view)]
    render_rows(rows, pick_format(as_json, False), title=f"fields of {view}")


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
    """n, mean ± SE, SD, median, range and a normal fit (with uncertainties) of a population."""
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        df = q.population(
            cat, param, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    _say_flagged(df.attrs.get("flagged", 0), df.attrs.get("flagged_reasons", ()))
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
) -> None:
    """Pearson and Spearman correlation (with p-values) and a linear fit with uncertainties."""
    from qdcat.query import api as q

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
    if as_json:
        render_rows(rows, pick_format(True, False))
        return
    for r in rows:
        render_record(r, pick_format(False, False), title=f"{y} vs {x} ({r['group']})")


@app.command()
def compare(
    ctx: typer.Context,
    param: Annotated[str, typer.Argument(help="A numeric field, e.g. k_off_ml.")],
    samples: Annotated[list[str], typer.Option("--samples", help="The two samples (or groups of --by).")],
    by: Annotated[str, typer.Option(help="The field the two groups are values of.")] = "sample",
    source: SourceOpt = "dots",
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Two populations compared: medians, means, Kolmogorov–Smirnov, Mann–Whitney, effect sizes."""
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        c = q.comparison(
            cat, param, samples, by=by, source=source, where=where, include_flagged=include_flagged
        )
    _say_flagged(c.n_flagged)
    render_record(c.as_dict(), pick_format(as_json, False), title=f"{param}: {samples[0]} vs {samples[-1]}")


@app.command()
def blinking(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(help="One exponent pair per value of this field.")] = "sample",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    min_trace_s: Annotated[float, typer.Option(help="Only dots with a trace at least this long (s).")] = 0.0,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Blinking exponents per sample, pooled over its dots' on and off times (discrete power-law ML).

    A dot's trace holds few off periods, so its own exponent is weak (and fails
    QC under 10 periods); the pooled fit is the population answer.

    Example: qdcat blinking --by sample --min-trace-s 10
    """
    from qdcat.query import api as q

    with _catalog(ctx) as cat:
        res = q.pooled_blinking(cat, by=by, sample=sample, where=where, min_trace_s=min_trace_s)
    render_rows([r.__dict__ for r in res], pick_format(as_json, as_csv), title="pooled blinking exponents")


FigOpt = Annotated[
    Path, typer.Option("--output", "-o", help="PNG or SVG file (a folder for `plot measurement`).")
]


@plot_app.command("measurement")
def plot_measurement(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the figures.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="png or svg.")] = "png",
) -> None:
    """A measurement's data with the fits of its current results (spectrum, decay, g2, blinking, series)."""
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        figs = figures.measurement_figures(cat, measurement_id)
        paths = figures.save_all(figs, output, f"measurement_{measurement_id}", fmt)
    for p in paths:
        say(str(p))


@plot_app.command("hist")
def plot_hist(
    ctx: typer.Context,
    param: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Overlay one histogram per value, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
) -> None:
    """Histogram of a population, one overlay per group, with normal fits (QC failures left out)."""
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_histogram(
            cat, param, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output)))


@plot_app.command("scatter")
def plot_scatter(
    ctx: typer.Context,
    x: str,
    y: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Colour by this field, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
) -> None:
    """Scatter of two fields with error bars and a regression line (QC failures left out)."""
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_scatter(
            cat, x, y, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output)))


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
