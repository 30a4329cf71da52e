"""Companion measurements several analyses read: the background of a dot, the ensemble decay of a film."""

from __future__ import annotations

import math
from collections.abc import Sequence

from qdcat.analyses._base import Acquisition, Companion


def _is_background(a: Acquisition) -> bool:
    """A time-tag acquisition with no dot on a single-dot specimen, or one recorded as a background."""
    if a.data_kind != "timetags" or a.dot_id is not None:
        return False
    return a.kind == "background_trace" or a.specimen_purpose == "single_dot"


def _intensity_distance(a: Acquisition, b: Acquisition) -> float:
    if a.intensity_w_cm2 and b.intensity_w_cm2:
        return abs(math.log(a.intensity_w_cm2 / b.intensity_w_cm2))
    return 0.0 if a.intensity_w_cm2 == b.intensity_w_cm2 else math.inf


def _matched_background(main: Acquisition, candidates: Sequence[Acquisition]) -> Acquisition | None:
    """The background of the same specimen, setup (so the same detectors) and excitation mode, at the nearest
    excitation intensity (then the newest): background light scales with the laser, and another
    setup's detectors have other dark rates."""
    same = [
        c
        for c in candidates
        if c.specimen_id == main.specimen_id
        and c.setup_id == main.setup_id
        and (c.excitation_mode or "cw") == (main.excitation_mode or "cw")
    ]
    if not same:
        return None
    return min(same, key=lambda c: (_intensity_distance(main, c), -c.measurement_id))


BACKGROUND = Companion(
    role="background",
    description=(
        "a background acquisition (no dot) of the same specimen, setup and excitation mode, at the "
        "nearest excitation intensity; the newest of equals"
    ),
    candidate=_is_background,
    choose=_matched_background,
)


def _is_ensemble_decay(a: Acquisition) -> bool:
    return (
        a.data_kind == "timetags"
        and a.dot_id is None
        and a.kind != "background_trace"
        and a.excitation_mode != "cw"
        and a.record in ("t3", "t2_sync")
    )


def _newest_same_specimen(main: Acquisition, candidates: Sequence[Acquisition]) -> Acquisition | None:
    same = [c for c in candidates if c.specimen_id == main.specimen_id]
    return max(same, key=lambda c: c.measurement_id) if same else None


ENSEMBLE_DECAY = Companion(
    role="decay",
    description="the newest pulsed acquisition without a dot on the same specimen (the film's decay)",
    candidate=_is_ensemble_decay,
    choose=_newest_same_specimen,
)
