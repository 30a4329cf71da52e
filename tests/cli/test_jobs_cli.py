"""`qdcat analyze`, `jobs`, `results` as a user meets them, on both backends."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qdcat.catalog.api import Catalog
from qdcat.cli import app
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionPlan, SessionSummary, register_session, write_session


@pytest.fixture(scope="module")
def small_session(tmp_path_factory: pytest.TempPathFactory) -> SessionSummary:
    return write_session(tmp_path_factory.mktemp("cli-sim") / "s", SessionPlan.quick(n_dots=2, seed=3))


@pytest.fixture
def run(catalog: Catalog, small_session: SessionSummary):  # type: ignore[no-untyped-def]
    register_session(catalog, small_session.session_toml)
    ingest_many(catalog, read_manifest(small_session.manifest))
    cfg = catalog.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


def test_analyze_dry_run_then_run_then_nothing_left(run) -> None:  # type: ignore[no-untyped-def]
    dry = run("analyze", "--dry-run", "--json")
    planned = json.loads(dry.stdout)
    assert planned and all(r["action"] == "would run" for r in planned)
    assert {r["analysis"] for r in planned} >= {"spectrum", "g2_cw", "decay", "power_series", "saturation"}
    listed = run("jobs", "list", "--json")
    assert json.loads(listed.stdout) == []  # a dry run changes nothing

    out = run("analyze", "--json")
    summary = json.loads(out.stdout)
    assert sum(r["done"] for r in summary) == len(planned) and all(r["failed"] == 0 for r in summary)
    assert f"{len(planned)} done, 0 skipped" in out.output

    again = run("analyze")
    assert f"0 done, {len(planned)} skipped (up to date), 0 failed" in again.output


def test_jobs_and_results_commands(run) -> None:  # type: ignore[no-untyped-def]
    # QD001's own g2 acquisition, not the points of its power series (the kind narrows the selection)
    run("analyze", "--analysis", "g2_cw", "--dot", "QD001", "--kind", "g2_cw")
    jobs = json.loads(run("jobs", "list", "--json").stdout)
    assert len(jobs) == 1 and jobs[0]["status"] == "done" and jobs[0]["analysis"] == "g2_cw"
    shown = json.loads(run("jobs", "show", str(jobs[0]["id"]), "--json").stdout)
    assert shown["params"]["window_ns"] == 150.0 and shown["qdcat_version"] and shown["inputs"]
    main = shown["inputs"][0]
    res = json.loads(run("results", "show", str(main), "--json").stdout)
    assert res[0]["analysis"] == "g2_cw" and 0 <= res[0]["g2_zero"] < 1
    table = run("results", "show", str(main))
    assert "g2_zero" in table.output and "antibunching_rate_per_us" in table.output


def test_bad_requests_are_one_line_errors(run) -> None:  # type: ignore[no-untyped-def]
    bad = run("analyze", "--analysis", "lifetimes", code=1)
    assert "unknown analysis 'lifetimes'; choose from: spectrum, decay" in bad.output
    bad = run("analyze", "--param", "g2_cw.window=3", code=1)
    assert "no parameter 'window'" in bad.output and "window_ns" in bad.output
    bad = run("analyze", "--param", "window_ns=3", code=1)
    assert "write ANALYSIS.NAME=VALUE" in bad.output
    bad = run("jobs", "show", "999", code=1)
    assert "no analysis run 999" in bad.output
    bad = run("jobs", "list", "--status", "finished", code=1)
    assert "not one of: pending, running" in bad.output
    bad = run("results", "show", "999", code=1)
    assert "no measurement 999" in bad.output
    assert "Traceback" not in bad.output


def test_failed_jobs_are_reported_and_retried(run, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from qdcat.catalog.models import Sample

    with catalog.session() as s:  # the biexciton yield needs the sample's decay rate in solution
        s.execute(update(Sample).values(decay_rate_solution_per_us=None))
    out = run("analyze", "--analysis", "biexciton", code=1)
    assert "1 failed" in out.output and "decay_rate_solution_per_us" in out.output
    failed = json.loads(run("jobs", "list", "--status", "failed", "--json").stdout)
    assert len(failed) == 1
    assert "1 runs queued again" in run("jobs", "retry", "--all-failed").output
    with catalog.session() as s:
        s.execute(update(Sample).values(decay_rate_solution_per_us=27.7))
    # the sample's rate is an input: the retried run is now stale, a new one is planned and done
    out = run("analyze", "--analysis", "biexciton")
    assert "1 done" in out.output
    # the retried run, planned on the old inputs, was retired rather than left queued
    assert json.loads(run("jobs", "list", "--status", "pending", "--json").stdout) == []
    assert len(json.loads(run("jobs", "list", "--status", "stale", "--json").stdout)) == 1


def test_queue_then_worker_runs_the_jobs(run) -> None:  # type: ignore[no-untyped-def]
    out = run("analyze", "--analysis", "spectrum", "--queue-only")
    assert "jobs queued" in out.output
    pending = json.loads(run("jobs", "list", "--status", "pending", "--json").stdout)
    assert pending
    out = run("worker", "--exit-when-idle")
    assert f"worker ran {len(pending)} jobs" in out.output
    assert json.loads(run("jobs", "list", "--status", "pending", "--json").stdout) == []


def test_selection_typos_are_errors_not_empty_batches(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        "unknown sample 'InP'; known samples: CdSe-CdS-sim, InP-ZnSe-sim"
        in run("analyze", "--sample", "InP", code=1).output
    )
    assert "unknown measurement kind(s) g2" in run("analyze", "--kind", "g2", code=1).output
    assert "no dot labelled 'QD9'" in run("analyze", "--dot", "QD9", code=1).output


def test_analyses_are_listed_with_their_parameters(run) -> None:  # type: ignore[no-untyped-def]
    rows = {r["analysis"]: r for r in json.loads(run("jobs", "analyses", "--json").stdout)}
    assert set(rows) == {
        "spectrum",
        "decay",
        "g2_cw",
        "g2_pulsed",
        "levels",
        "blinking",
        "brightness",
        "power_series",
        "saturation",
        "biexciton",
    }
    assert "window_ns=150.0" in rows["g2_cw"]["parameters"] and "background" in rows["g2_cw"]["applies to"]
    assert "series" in rows["power_series"]["applies to"]
    one = json.loads(run("jobs", "analyses", "g2_pulsed", "--json").stdout)
    assert one["result table"] == "result_g2_pulsed" and "g2_zero (+ _err)" in one["columns"]
    assert "half_window_fraction" in one["parameters"] and "τ0" in one["method"]
    assert "unknown analysis 'nope'" in run("jobs", "analyses", "nope", code=1).output


def test_measurement_show_lists_every_analysis_that_applies(run) -> None:  # type: ignore[no-untyped-def]
    run("analyze")
    ms = json.loads(run("measurement", "list", "--kind", "g2_cw", "--json").stdout)
    rec = json.loads(run("measurement", "show", str(ms[0]["id"]), "--json").stdout)
    rows = {r["analysis"]: r for r in rec["analyses"]}
    assert {a for a, r in rows.items() if r["applies"] == "yes"} == {
        "g2_cw",
        "blinking",
        "brightness",
        "levels",
    }
    assert rows["g2_cw"]["status"] == "current" and rows["g2_cw"]["result"].startswith("g2_zero")
    assert rows["decay"]["applies"] == "no" and rows["decay"]["why / reads"]
    text = run("results", "show", str(ms[0]["id"])).output
    assert "analyses of measurement" in text and "blinking" in text and "on_fraction" in text
