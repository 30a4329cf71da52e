"""The lab's steps strung together where one step's output is the next one's input.

The data flow runs one way (ingest → catalog + store → analyses → results →
queries); the steps themselves do not call each other. What a user does in one
go — ingest a batch, then retire the results whose inputs it changed — is
composed here, for the CLI and the Python API alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qdcat.catalog.api import Catalog
from qdcat.catalog.records import EditRecord
from qdcat.errors import InvalidValueError
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


@dataclass(frozen=True)
class EditReport:
    edit: EditRecord
    stale: int  # current results whose inputs the edit changed (now stale: `qdcat analyze` redoes them)


def edit(
    cat: Catalog, entity: str, ref: Any, changes: Mapping[str, Any], *, reason: str | None = None
) -> EditReport:
    """Correct a sample, specimen, dot (``ref`` = "specimen/label"), setup or measurement (its id),
    record it in the history, and mark stale the results whose inputs it changed."""
    from qdcat.jobs import refresh_kind_preference, refresh_staleness

    if entity == "sample":
        rec = cat.update_sample(str(ref), changes, reason=reason)
    elif entity == "specimen":
        rec = cat.update_specimen(str(ref), changes, reason=reason)
    elif entity == "dot":
        specimen, sep, label = str(ref).partition("/")
        if not sep:
            raise InvalidValueError(f"name a dot as SPECIMEN/LABEL (slide-1/QD001), got {ref!r}")
        rec = cat.update_dot(specimen, label, changes, reason=reason)
    elif entity == "setup":
        rec = cat.update_setup(str(ref), changes, reason=reason)
    elif entity == "measurement":
        rec = cat.update_measurement(ref, changes, reason=reason)
    else:
        raise InvalidValueError(
            f"cannot edit a {entity!r}; choose sample, specimen, dot, setup or measurement"
        )
    changed = {f for f, _ in rec.changes}
    if entity == "measurement" and "kind" in changed:
        refresh_kind_preference(cat, [rec.id])
    stale = refresh_staleness(cat) if changed else 0
    return EditReport(rec, stale)


def set_params(
    cat: Catalog, measurement_id: int, params: Mapping[str, Any], *, reason: str | None = None
) -> dict[str, dict[str, Any]]:
    """Keep analysis parameters for one measurement (``{"decay.fit_stop_ns": 80}``), each checked
    by its analysis first; ``qdcat analyze`` then uses them for that measurement's runs."""
    from qdcat import analyses

    by: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        name, dot, field = key.partition(".")
        if not dot:
            raise InvalidValueError(f"name a parameter as ANALYSIS.NAME (decay.fit_stop_ns), got {key!r}")
        by.setdefault(name, {})[field] = value
    checked = {}
    for name, values in by.items():
        analysis = analyses.get(name)
        resolved = analysis.resolve_params(values)  # refuses unknown names and bad values
        checked[name] = {k: resolved[k] for k in values}
    return {
        name: cat.store_params(measurement_id, name, values, reason=reason)
        for name, values in checked.items()
    }
