"""Data in and out: ``ingest`` instrument files, ``simulate`` a session, ``export`` to Photon-HDF5."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qdcat.cli._app import ID_MAX, CsvOpt, JsonOpt, _catalog, app
from qdcat.cli.output import Format, pick_format, render_rows, say, stderr_console

if TYPE_CHECKING:
    from qdcat.ingest.pipeline import IngestItem, IngestOutcome
    from qdcat.session import SessionPlan


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
    as_csv: CsvOpt = False,
) -> None:
    """Ingest instrument files (or a session manifest) into the catalog; re-ingest is a no-op.

    Prints one row per file; each file that failed is also an `error:` line on stderr, and
    the exit code is 1 (the files that went in stay in).

    Example: qdcat ingest QD001.ptu --kind decay --specimen slide-1 --dot QD001 --setup tcspc
    """
    from qdcat import workflow

    fmt = pick_format(as_json, as_csv)
    items = _items(
        files,
        manifest,
        kind=kind,
        specimen=specimen,
        dot=dot,
        setup=setup,
        settings={
            "excitation_wavelength_nm": excitation_wavelength_nm,
            "excitation_mode": excitation_mode,
            "repetition_rate_mhz": repetition_rate_mhz,
            "intensity_w_cm2": intensity_w_cm2,
            "temperature_k": temperature_k,
            "integration_time_s": integration_time_s,
        },
        operator=operator,
        series_name=series_name,
        series_index=series_index,
        set_file=set_file,
        allow_truncated=allow_truncated,
    )
    with _catalog(ctx) as cat:
        if register is not None:
            from qdcat.session import register_session

            added = register_session(cat, register)
            say("registered " + ", ".join(f"{v} {k}" for k, v in added.items()))
        with _progress(len(items)) as (on_file, on_events):
            # (first removes what an ingest killed on this host left in the store)
            report = workflow.ingest(cat, items, on_file=on_file, on_events=on_events)
        if report.stale:
            say(f"{report.stale} results read inputs that changed and are now stale; run `qdcat analyze`")
    if _render_outcomes(report.outcomes, fmt):
        raise typer.Exit(1)


def _items(
    files: list[Path] | None,
    manifest: Path | None,
    *,
    kind: str | None,
    specimen: str | None,
    settings: dict[str, Any],
    **fields: Any,
) -> list[IngestItem]:
    """The files to ingest: a manifest's rows, or files given with --kind, --specimen and settings."""
    from qdcat.errors import InvalidValueError
    from qdcat.ingest.pipeline import IngestItem, read_manifest

    if manifest is not None:
        if files:
            raise InvalidValueError("give files or --manifest, not both")
        return read_manifest(manifest)
    if not files:
        raise InvalidValueError("nothing to ingest: give files, or --manifest SESSION.csv")
    if not kind or not specimen:
        raise InvalidValueError("--kind and --specimen are needed for files given on the command line")
    given = {k: v for k, v in settings.items() if v is not None}
    return [IngestItem(path=f, kind=kind, specimen=specimen, settings=given, **fields) for f in files]


@contextmanager
def _progress(total: int) -> Iterator[tuple[Callable[[IngestItem], None], Callable[[int], None]]]:
    """A bar on stderr: the file being ingested, files done, photon events so far."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[ev]}"),
    )
    with Progress(*columns, transient=True, console=stderr_console()) as bar:
        task = bar.add_task("ingesting", total=total, ev="")
        state = {"events": 0}

        def on_file(item: IngestItem) -> None:
            if state.get("started"):
                bar.advance(task)
            state["started"] = 1
            bar.update(task, description=f"ingesting {item.path.name}")

        def on_events(n: int) -> None:
            state["events"] += n
            bar.update(task, ev=f"{state['events']:,} events")

        yield on_file, on_events


def _render_outcomes(outcomes: list[IngestOutcome], fmt: Format) -> int:
    """One row per file, a tally, and an ``error:`` line per failed file; returns how many failed."""
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
    render_rows(rows, fmt, title="ingest")
    n = {s: sum(o.status == s for o in outcomes) for s in ("ingested", "skipped", "failed")}
    say(
        f"{n['ingested']} ingested, {n['skipped']} skipped (already in the catalog), {n['failed']} failed"
        + ("; fix them and ingest again (what was ingested stays)" if n["failed"] else "")
    )
    for o in outcomes:
        if o.status == "failed":
            # The pipeline's messages mostly start with the file already: name it once.
            named = o.message.startswith(str(o.path))
            typer.echo(f"error: {o.message if named else f'{o.path}: {o.message}'}", err=True)
    return n["failed"]


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="New folder for the simulated session.")],
    quick: Annotated[bool, typer.Option(help="A few dots, short acquisitions (seconds to run).")] = False,
    dots: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Dots of the main sample (default 72; quick: 6).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1)] = 2026,
) -> None:
    """Simulate a single-dot study as a session folder of real-format files, a manifest and the truth.

    Example: qdcat simulate my-session --quick --dots 4
    """
    from rich.progress import Progress

    from qdcat.session import write_session

    plan = _session_plan(quick, dots, seed)
    with Progress(transient=True, console=stderr_console()) as bar:
        task = bar.add_task("simulating", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        res = write_session(out, plan, progress=progress)
    say(f"wrote {res.files} files ({res.events:,} photon events) to {res.folder}")
    say("truth: truth_dots.csv, truth.json; to put it in the catalog:")
    say(f"  qdcat ingest --manifest {res.manifest} --register {res.session_toml}")


def _session_plan(quick: bool, dots: int | None, seed: int) -> SessionPlan:
    """The study to simulate: the reference one, a quick one, or the reference one with --dots dots."""
    from dataclasses import replace

    from qdcat.session import SessionPlan

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
    return plan


@app.command()
def export(
    ctx: typer.Context,
    measurement_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Measurement to export.")],
    out: Annotated[Path, typer.Argument(help="Photon-HDF5 file to write (.h5).")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Export a measurement's time tags to Photon-HDF5 (0.5, with every field the spec requires).

    Example: qdcat export 12 dot12.h5 --overwrite
    """
    from qdcat.ingest.export import export_photon_hdf5

    with _catalog(ctx) as cat:
        path = export_photon_hdf5(cat, measurement_id, out, overwrite=overwrite)
    say(f"wrote {path} (Photon-HDF5, validated)")
