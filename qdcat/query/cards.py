"""One dot whole: where it is, what a lab noted and decided about it, every measurement, every result.

A card is read from the catalog (stored results, the history, the curation): nothing
is fitted. ``qdcat dot show SPECIMEN/LABEL`` prints it; ``--figures DIR`` adds every
figure of its measurements (the figures the analyses draw from stored results).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError


@dataclass(frozen=True)
class DotCard:
    """A dot's card; :meth:`to_dict` is its JSON view."""

    dot: dict[str, Any]  # sample, material, specimen, label, position, marker, notes
    tags: list[str]
    excluded: str | None  # the exclusion's reason
    measurements: list[dict[str, Any]]
    results: list[dict[str, Any]]
    history: list[dict[str, Any]]
    figures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dot": self.dot,
            "tags": self.tags,
            "excluded": self.excluded,
            "measurements": self.measurements,
            "results": self.results,
            "history": self.history,
            "figures": self.figures,
        }


def dot_card(cat: Catalog, ref: str, *, figures_dir: Path | None = None, history: int = 20) -> DotCard:
    """The card of the dot ``ref`` ("SPECIMEN/LABEL")."""
    from qdcat import jobs

    specimen, sep, label = str(ref).partition("/")
    if not sep:
        raise InvalidValueError(f"name a dot as SPECIMEN/LABEL (slide-1/QD001), got {ref!r}")
    dots = [d for d in cat.list_dots(specimen=specimen) if d.label == label]
    if not dots:
        raise InvalidValueError(
            f"no dot {label!r} on specimen {specimen!r}; `qdcat dot list --specimen {specimen}` lists them"
        )
    d = dots[0]
    sample = cat.get_sample(d.sample)
    curation = [c for c in cat.curation(entity="dot") if c.entity_id == d.id]
    info = {
        "sample": d.sample,
        "material": sample.material,
        "specimen": d.specimen,
        "dot": d.label,
        "dot_id": d.id,
        "x_um": d.x_um,
        "y_um": d.y_um,
        "z_um": d.z_um,
        "marker": f"{d.marker_label} ({d.marker_dx_um:+g}, {d.marker_dy_um:+g}) µm"
        if d.marker_label
        else None,
        "notes": _notes(cat, specimen, label),
    }
    measurements, results = [], []
    excluded_m = {c.entity_id: c.value for c in cat.curation(entity="measurement") if c.kind == "exclusion"}
    excluded_r = {c.entity_id: c.value for c in cat.curation(entity="result") if c.kind == "exclusion"}
    for m in cat.list_measurements(specimen=specimen, dot=label):
        rec = cat.get_measurement(m["id"])
        st = rec["settings"] or {}
        measurements.append(
            {
                "id": rec["id"],
                "kind": rec["kind"],
                "started_at": rec["started_at"],
                "duration_s": rec["duration_s"],
                "setup": rec["setup"],
                "excitation_mode": st.get("excitation_mode"),
                "intensity_w_cm2": st.get("intensity_w_cm2"),
                "file": (rec["raw_data"] or {}).get("source_filename"),
                "excluded": excluded_m.get(rec["id"]),
            }
        )
        for r in jobs.results_for_measurement(cat, rec["id"]):
            if r["measurement_id"] not in (None, rec["id"]):
                continue  # read only as a companion of another measurement
            results.append(
                {
                    "measurement": rec["id"],
                    "analysis": r["analysis"],
                    "run": r["run"],
                    "result": jobs.headline(r["analysis"], r),
                    "qc": r.get("qc"),
                    "qc_reason": r.get("qc_reason") or None,
                    "excluded": excluded_r.get(r["run"]),
                }
            )
    events = cat.history(entity="dot", entity_id=d.id, limit=history)
    for row in measurements:
        events += cat.history(entity="measurement", entity_id=row["id"], limit=history)
    events.sort(key=lambda e: e.id, reverse=True)
    card = DotCard(
        dot=info,
        tags=sorted(c.value for c in curation if c.kind == "tag"),
        excluded=next((c.value for c in curation if c.kind == "exclusion"), None),
        measurements=measurements,
        results=results,
        history=[e.to_dict() for e in events[:history]],
    )
    if figures_dir is None:
        return card
    return DotCard(**{**card.__dict__, "figures": _figures(cat, card, Path(figures_dir))})


def _notes(cat: Catalog, specimen: str, label: str) -> str | None:
    from sqlalchemy import select

    from qdcat.catalog.models import Dot, Specimen

    with cat.session() as s:
        return s.scalar(
            select(Dot.notes)
            .join(Specimen, Specimen.id == Dot.specimen_id)
            .where(Specimen.name == specimen, Dot.label == label)
        )


def _figures(cat: Catalog, card: DotCard, folder: Path) -> list[str]:
    from qdcat.query.figures import measurement_figures, save_all

    out: list[str] = []
    ids = sorted({r["measurement"] for r in card.results})
    stem = f"{card.dot['specimen']}_{card.dot['dot']}"
    for mid in ids:
        figs = measurement_figures(cat, mid)
        out += [str(p) for p in save_all(figs, folder, f"{stem}_m{mid}")]
    return out
