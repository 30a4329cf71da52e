"""What an analyze pass came to: per analysis, runs done, up to date, failed or still held elsewhere.

:func:`summarize` tallies a :class:`~qdcat.jobs.runner.Plan` against its runs as
the catalog records them once the executors have finished (``list_jobs``); it
reads nothing itself, so ``qdcat analyze`` and a script get the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdcat.jobs.runner import Plan

# Plan actions whose result is already current: nothing was run for them.
_UP_TO_DATE = ("up to date", "made current")


@dataclass(frozen=True)
class AnalysisTally:
    analysis: str
    done: int = 0
    up_to_date: int = 0
    failed: int = 0  # failed, or made stale while it ran
    not_run: int = 0  # another process still holds the run (pending or running)

    def as_dict(self) -> dict[str, Any]:
        """A table row; "not run" only where there is one, as the other counts are always there."""
        row: dict[str, Any] = {
            "analysis": self.analysis,
            "done": self.done,
            "up to date": self.up_to_date,
            "failed": self.failed,
        }
        if self.not_run:
            row["not run"] = self.not_run
        return row


@dataclass(frozen=True)
class AnalyzeReport:
    per_analysis: tuple[AnalysisTally, ...]  # in the order the plan first names each analysis
    errors: tuple[str, ...]  # one line per failed or stale run, with its error
    busy: tuple[str, ...]  # one line per run another `qdcat analyze` or worker still holds

    @property
    def n_done(self) -> int:
        return sum(t.done for t in self.per_analysis)

    @property
    def n_skipped(self) -> int:
        """Results that were already current (up to date, or made current without running)."""
        return sum(t.up_to_date for t in self.per_analysis)

    @property
    def n_failed(self) -> int:
        return sum(t.failed for t in self.per_analysis)

    @property
    def ok(self) -> bool:
        """Every planned result is current: none failed and none is left to another process."""
        return not (self.n_failed or self.busy)


def summarize(plan: Plan, runs: Iterable[Mapping[str, Any]]) -> AnalyzeReport:
    """Tally ``plan`` against ``runs`` (records with ``id``, ``status`` and ``error``).

    A planned run missing from ``runs`` counts as failed: the catalog no longer
    knows how it ended.
    """
    by_id = {r["id"]: r for r in runs}
    counts: dict[str, dict[str, int]] = {}
    errors: list[str] = []
    busy: list[str] = []
    for j in plan.jobs:
        c = counts.setdefault(j.analysis, {"done": 0, "up_to_date": 0, "failed": 0, "not_run": 0})
        if j.action in _UP_TO_DATE:
            c["up_to_date"] += 1
            continue
        r = by_id.get(j.run_id) if j.run_id is not None else None
        status = r["status"] if r else "failed"
        where = f"run {j.run_id} ({j.analysis}, {j.label})"
        if status == "done":
            c["done"] += 1
        elif status in ("failed", "stale"):
            c["failed"] += 1
            errors.append(f"{where}: {status}: {r['error'] if r else '?'}")
        else:
            c["not_run"] += 1
            busy.append(f"{where}: still {status} in another process")
    return AnalyzeReport(
        per_analysis=tuple(AnalysisTally(name, **c) for name, c in counts.items()),
        errors=tuple(errors),
        busy=tuple(busy),
    )
