"""Analyses: ``analyze`` and ``worker`` run them; ``jobs`` and ``results`` show how runs ended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from qdcat.cli._app import (
    ID_MAX,
    CsvOpt,
    JsonOpt,
    MeasurementArg,
    RunArg,
    SampleOpt,
    _catalog,
    _each_sample,
    _sub,
    app,
)
from qdcat.cli.output import Format, pick_format, render_record, render_rows, say, stderr_console

if TYPE_CHECKING:
    from qdcat.catalog.api import Catalog
    from qdcat.jobs import AnalyzeReport, Plan, Selection

jobs_app = _sub("jobs", "Analysis jobs (runs): list, show, retry.")
results_app = _sub("results", "Analysis results of measurements.")


def _params(values: list[str] | None) -> dict[str, dict[str, str]]:
    """``--param g2_cw.window_ns=100`` as {analysis: {name: value}} (the analysis parses the value)."""
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
        list[str] | None,
        typer.Option("--analysis", "-a", metavar="NAME", help="Analyses to run (default: all)."),
    ] = None,
    sample: SampleOpt = None,
    specimen: Annotated[str | None, typer.Option(help="Only this specimen's measurements.")] = None,
    dot: Annotated[str | None, typer.Option(help="Dot label.")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", metavar="KIND", help="Only these measurement kinds.")
    ] = None,
    measurement: Annotated[
        list[int] | None,
        typer.Option("--measurement", "-m", metavar="ID", min=1, max=ID_MAX, help="Only these measurements."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="A.NAME=VALUE", help="A parameter, e.g. g2_cw.window_ns=100."),
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
    as_csv: CsvOpt = False,
) -> None:
    """Analyse what needs analysing; results already computed with the same inputs and parameters are kept.

    Example: qdcat analyze --analysis g2_cw --sample InP-A --param g2_cw.window_ns=100 --dry-run
    """
    from qdcat import jobs

    fmt = pick_format(as_json, as_csv)
    selection = jobs.Selection(
        specimen=specimen, dot=dot, kinds=tuple(kind or ()), measurement_ids=tuple(measurement or ())
    )
    with _catalog(ctx) as cat:
        plan = _plan(
            cat,
            sample,
            selection,
            analyses=analysis,
            params=_params(param),
            dry_run=dry_run,
            retry_failed=retry_failed,
        )
        if not plan.jobs:
            say("nothing to analyse: no committed measurements match the selection")
            return
        _say_plan(plan, dry_run=dry_run)
        if dry_run:
            _render_dry_run(plan, fmt)
            return
        if queue_only:
            n = len(plan.to_run)
            say(f"{n} jobs queued; start `qdcat worker` processes (any machine sharing this catalog)")
            return
        _run(cat, plan.to_run, dask=dask, workers=workers, lease_s=lease_s)
        # Whatever ran the jobs, the database says how they ended.
        runs = jobs.list_jobs(cat, run_ids=[j.run_id for j in plan.jobs if j.run_id])
    report = jobs.summarize(plan, runs)
    _render_report(report, fmt)
    if not report.ok:
        raise typer.Exit(1)


def _plan(cat: Catalog, samples: list[str] | None, selection: Selection, **kw: Any) -> Plan:
    """One plan over every ``--sample`` given (the planner selects one sample at a time)."""
    from dataclasses import replace

    from qdcat import jobs

    names = _each_sample(samples)
    if len(names) > 1:  # refuse a typo before anything is queued
        for sample in samples or ():
            cat.get_sample(sample)
    plans = [jobs.plan(cat, selection=replace(selection, sample=name), **kw) for name in names]
    if len(plans) == 1:
        return plans[0]
    return jobs.Plan(tuple(j for p in plans for j in p.jobs), sum(p.stale for p in plans))


def _say_plan(plan: Plan, *, dry_run: bool) -> None:
    """What planning itself changed: results made stale, runs taken back from dead processes."""
    if plan.stale:
        say(f"{plan.stale} current results had changed inputs and are now stale")
    reclaimed = plan.counts().get("reclaimed", 0)
    if reclaimed and not dry_run:
        say(f"{reclaimed} runs left 'running' by a process that died were reclaimed and run again")


def _render_dry_run(plan: Plan, fmt: Format) -> None:
    """The jobs that would run, in the words of `qdcat jobs list` (id, analysis, target) plus what for."""
    rows = [
        {
            "id": j.run_id,
            "analysis": j.analysis,
            "target": j.target_key,
            "acquisition": j.label,
            "action": j.action,
        }
        for j in plan.jobs
        if j.action != "up to date"
    ]
    render_rows(rows, fmt, title="would run")
    say(", ".join(f"{v} {k}" for k, v in sorted(plan.counts().items())) or "nothing selected")


def _run(cat: Catalog, todo: list[int], *, dask: str | None, workers: int, lease_s: float) -> None:
    """Run the queued jobs here, in local processes or on a Dask cluster, behind a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qdcat import jobs

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


def _render_report(report: AnalyzeReport, fmt: Format) -> None:
    render_rows([t.as_dict() for t in report.per_analysis], fmt, title="analyze")
    for e in report.errors[:10]:
        say(e)
    say(
        f"{report.n_done} done, {report.n_skipped} skipped (up to date), {report.n_failed} failed"
        + ("; see `qdcat jobs list --status failed` and `qdcat jobs show RUN`" if report.n_failed else "")
    )
    for b in report.busy[:10]:
        say(b)
    if report.busy:
        say(
            f"{len(report.busy)} not finished here: another `qdcat analyze` or worker holds them; "
            "run `qdcat analyze` again when it is done (a dead holder's runs are reclaimed after its lease)"
        )


@app.command()
def worker(
    ctx: typer.Context,
    analysis: Annotated[
        list[str] | None, typer.Option("--analysis", "-a", metavar="NAME", help="Only these analyses.")
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

    Example: qdcat worker --analysis decay --exit-when-idle
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
        say(f"worker {jobs.worker_identity()} claiming jobs from {cat.engine.url.render_as_string()}")

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
    as_csv: CsvOpt = False,
) -> None:
    """The analyses qdcat runs: what each applies to, its version and parameters (set with --param).

    Example: qdcat jobs analyses g2_pulsed
    """
    from qdcat import analyses

    fmt = pick_format(as_json, as_csv)
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
    if a.parts_view is not None:
        pv = a.parts_view
        record["parts"] = f"{pv.parts.description}: table {pv.table.name}, query source {pv.name!r}"
        record["part columns"] = {
            c.name + (" (+ _err)" if c.err else ""): f"{c.description}" + (f" [{c.unit}]" if c.unit else "")
            for c in pv.parts.columns
        }
    render_record(record, fmt, title=f"analysis {a.name}")


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, running, done, failed or stale.")] = None,
    analysis: Annotated[str | None, typer.Option("--analysis", "-a", help="Only this analysis.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=ID_MAX, help="Newest N runs.")] = 200,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Analysis runs, newest first: id, analysis, target (as `qdcat analyze --dry-run` names them), status.

    Example: qdcat jobs list --status failed --analysis decay
    """
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
    """One run with its provenance, inputs and any error with its traceback.

    Example: qdcat jobs show 42
    """
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
    """Queue failed runs again; run them with `qdcat analyze` or a `qdcat worker`.

    Example: qdcat jobs retry --all-failed
    """
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
    as_csv: CsvOpt = False,
) -> None:
    """Results of every analysis that read a measurement (--json / --csv: one row per result).

    Example: qdcat results show 17 --all --csv
    """
    from qdcat import jobs

    fmt = pick_format(as_json, as_csv)
    with _catalog(ctx) as cat:
        rows = jobs.results_for_measurement(cat, measurement_id, include_old=all_runs)
        overview = jobs.measurement_analyses(cat, measurement_id)
    if fmt.value != "table":
        render_rows(rows, fmt)
        return
    render_rows(overview, fmt, title=f"analyses of measurement {measurement_id}")
    if not rows:
        say(f"no results for measurement {measurement_id} yet; run `qdcat analyze -m {measurement_id}`")
        return
    for r in rows:
        render_record(r, fmt, title=f"{r['analysis']} (run {r['run']}{', current' if r['current'] else ''})")
