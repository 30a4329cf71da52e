"""summarize: a plan tallied against its runs as the catalog recorded them, with no catalog at all."""

from __future__ import annotations

from typing import Any

import pytest

from qdcat.jobs import AnalysisTally, AnalyzeReport, Plan, PlannedJob, summarize


def _job(run_id: int | None, action: str, analysis: str = "g2_cw", label: str = "dot-1") -> PlannedJob:
    return PlannedJob(run_id=run_id, analysis=analysis, target_key=f"m:{run_id}", label=label, action=action)


def _run(run_id: int, status: str, error: str | None = None) -> dict[str, Any]:
    return {"id": run_id, "analysis": "g2_cw", "status": status, "error": error}


def _one(job: PlannedJob, runs: list[dict[str, Any]]) -> AnalyzeReport:
    return summarize(Plan(jobs=(job,), stale=0), runs)


@pytest.mark.parametrize("action", ["up to date", "made current"])
def test_a_current_result_is_skipped_whatever_its_run_says(action: str) -> None:
    rep = _one(_job(7, action), [_run(7, "failed", "old error")])
    assert rep.per_analysis == (AnalysisTally("g2_cw", up_to_date=1),)
    assert (rep.n_done, rep.n_skipped, rep.n_failed) == (0, 1, 0)
    assert rep.errors == () and rep.busy == () and rep.ok


def test_a_run_that_finished_is_done() -> None:
    rep = _one(_job(3, "queued"), [_run(3, "done")])
    assert rep.per_analysis == (AnalysisTally("g2_cw", done=1),)
    assert rep.n_done == 1 and rep.ok


@pytest.mark.parametrize("status", ["failed", "stale"])
def test_a_failed_or_stale_run_fails_with_its_error(status: str) -> None:
    rep = _one(_job(4, "pending", label="dot-9"), [_run(4, status, "fit did not converge")])
    assert rep.per_analysis == (AnalysisTally("g2_cw", failed=1),)
    assert rep.errors == (f"run 4 (g2_cw, dot-9): {status}: fit did not converge",)
    assert rep.n_failed == 1 and not rep.ok


@pytest.mark.parametrize("status", ["running", "pending"])
def test_a_run_another_process_holds_is_not_run(status: str) -> None:
    rep = _one(_job(5, "running", label="dot-2"), [_run(5, status)])
    assert rep.per_analysis == (AnalysisTally("g2_cw", not_run=1),)
    assert rep.busy == (f"run 5 (g2_cw, dot-2): still {status} in another process",)
    assert rep.errors == () and rep.n_failed == 0
    assert not rep.ok  # nothing failed, but the results are not there yet


@pytest.mark.parametrize("run_id", [6, None])
def test_a_run_the_catalog_does_not_know_counts_as_failed(run_id: int | None) -> None:
    rep = _one(_job(run_id, "queued"), [_run(99, "done")])
    assert rep.per_analysis == (AnalysisTally("g2_cw", failed=1),)
    assert rep.errors == (f"run {run_id} (g2_cw, dot-1): failed: ?",)
    assert not rep.ok


def test_analyses_are_tallied_separately_in_plan_order() -> None:
    plan = Plan(
        jobs=(
            _job(1, "queued", "spectrum"),
            _job(2, "up to date", "g2_cw"),
            _job(3, "queued", "spectrum"),
            _job(4, "reclaimed", "g2_cw"),
            _job(5, "queued", "decay"),
        ),
        stale=2,
    )
    runs = [_run(1, "done"), _run(3, "failed", "boom"), _run(4, "done"), _run(5, "running")]
    rep = summarize(plan, iter(runs))  # any iterable of records, as list_jobs returns them
    assert rep.per_analysis == (
        AnalysisTally("spectrum", done=1, failed=1),
        AnalysisTally("g2_cw", done=1, up_to_date=1),
        AnalysisTally("decay", not_run=1),
    )
    assert (rep.n_done, rep.n_skipped, rep.n_failed) == (2, 1, 1)
    assert rep.errors == ("run 3 (spectrum, dot-1): failed: boom",)
    assert rep.busy == ("run 5 (decay, dot-1): still running in another process",)


def test_the_table_row_names_not_run_only_where_there_is_one() -> None:
    assert AnalysisTally("decay", done=2, up_to_date=1).as_dict() == {
        "analysis": "decay",
        "done": 2,
        "up to date": 1,
        "failed": 0,
    }
    assert list(AnalysisTally("decay", not_run=3).as_dict()) == [
        "analysis",
        "done",
        "up to date",
        "failed",
        "not run",
    ]


def test_an_empty_plan_is_ok() -> None:
    rep = summarize(Plan(jobs=(), stale=0), [])
    assert rep == AnalyzeReport(per_analysis=(), errors=(), busy=())
    assert rep.ok and (rep.n_done, rep.n_skipped, rep.n_failed) == (0, 0, 0)
