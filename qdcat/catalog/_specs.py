"""What callers hand to the write protocol: names, settings and source files, not database ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qdcat.catalog.models import ExcitationMode, MeasurementKind


@dataclass(frozen=True)
class SettingsSpec:
    """Instrument settings of one measurement (typed columns + free snapshot)."""

    excitation_wavelength_nm: float | None = None
    excitation_mode: ExcitationMode | str | None = None
    repetition_rate_mhz: float | None = None
    intensity_w_cm2: float | None = None
    temperature_k: float | None = None
    integration_time_s: float | None = None
    snapshot: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasurementSpec:
    """Where a measurement belongs and what it is; names, not database ids."""

    kind: MeasurementKind | str
    specimen: str
    dot: str | None = None
    setup: str | None = None
    label: str | None = None
    started_at: dt.datetime | str | None = None
    duration_s: float | None = None
    operator: str | None = None
    series_name: str | None = None
    series_index: int | None = None
    notes: str | None = None
    settings: SettingsSpec | None = None


@dataclass(frozen=True)
class SourceFile:
    """The instrument file raw data came from (checksummed to spot re-ingest)."""

    filename: str
    sha256: str
    size_bytes: int
    format: str
