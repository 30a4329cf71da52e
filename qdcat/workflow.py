"""The lab's steps strung together where one step's output is the next one's input.

The data flow runs one way (ingest → catalog + store → analyses → results →
queries); the steps themselves do not call each other. What a user does in one
go — ingest a batch, then retire the results whose inputs it changed — is
composed here, for the CLI and the Python API alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import IngestItem, IngestOutcome, ingest_many


@dataclass(frozen=True)
class IngestReport:
    outcomes: list[IngestOutcome]
    stale: int  # current results whose inputs the new measurements changed (now stale)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def ingest(
    cat: Catalog,
    items: Iterable[IngestItem],
    *,
    on_file: Callable[[IngestItem], None] | None = None,
    on_events: Callable[[int], None] | None = None,
    collect_garbage: bool = True,
) -> IngestReport:
    """Ingest a batch (one file's failure does not stop the rest), then mark the results it made stale.

    ``collect_garbage`` first removes what an ingest killed on this host left
    behind (a pending row and partial bytes) and finishes interrupted deletions.
    A new measurement can change what an existing result was computed from (a
    better-matching background, one more point of a series); those results stop
    being current until `qdcat analyze` computes them again.
    """
    from qdcat.jobs import refresh_staleness

    if collect_garbage:
        cat.collect_garbage()
    outcomes = ingest_many(cat, items, on_file=on_file, on_events=on_events)
    stale = refresh_staleness(cat) if any(o.status == "ingested" for o in outcomes) else 0
    return IngestReport(outcomes, stale)
