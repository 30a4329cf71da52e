"""What the catalog API returns: small frozen, typed records.

Attributes are typed (``rec.started_at`` is a :class:`~datetime.datetime`,
``rec.kind`` a :class:`~qdcat.catalog.models.MeasurementKind`). Each record also
reads as a read-only mapping holding its JSON view — the plain dict the API
returned before records existed: ``rec["started_at"]`` is the ISO text,
``rec["kind"]`` the enum's value, nested records are plain dicts and lists.
So ``json.dumps(rec)``, ``dict(rec)``, ``rec == {...}`` and every table or CSV
renderer see exactly what they always saw; :meth:`Record.to_dict` gives a copy
to change.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast

from qdcat.catalog.models import ChannelRole, DataKind, ExcitationMode, MeasurementKind, SpecimenPurpose

__all__ = [
    "AuditRecord",
    "CatalogStatus",
    "ChannelRecord",
    "CurationRecord",
    "DeletionImpact",
    "DotDeletion",
    "DotImport",
    "DotRecord",
    "DotSummary",
    "EditRecord",
    "MeasurementRecord",
    "MeasurementRef",
    "MeasurementSummary",
    "RawAssetRecord",
    "Record",
    "SampleDetail",
    "SampleRecord",
    "SampleSummary",
    "SettingsRecord",
    "SetupRecord",
    "SetupSummary",
    "SpecimenBrief",
    "SpecimenRecord",
    "SpecimenSummary",
]


def _plain(value: Any) -> Any:
    """A value as the JSON view shows it (dates as ISO text to the second, enums by value)."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# json.dumps (the CLI's --json) serialises only real dicts, so at run time a record is
# a dict that holds its JSON view and refuses changes; type checkers see a Mapping, so
# code that tries to change one is flagged where it is written.
if TYPE_CHECKING:
    _View = Mapping[str, Any]
else:
    _View = dict


class Record(_View):
    """Base of the API's records: frozen dataclass fields plus a read-only mapping view."""

    __slots__ = ()

    #: Fields whose JSON view is not :func:`_plain` of the value (a summary string, say).
    _VIEWS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    if TYPE_CHECKING:

        def __getitem__(self, key: str, /) -> Any: ...
        def __iter__(self) -> Iterator[str]: ...
        def __len__(self) -> int: ...

    else:

        def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
            raise TypeError(f"a {type(self).__name__} is read-only; .to_dict() gives a copy to change")

        __setitem__ = __delitem__ = __ior__ = _read_only
        clear = pop = popitem = setdefault = update = _read_only

    def __post_init__(self) -> None:
        dict.update(cast(dict[str, Any], self), self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The JSON view as a new plain dict (nested records as dicts, lists as lists)."""
        views = self._VIEWS
        out: dict[str, Any] = {}
        for f in fields(cast(Any, self)):
            value = getattr(self, f.name)
            out[f.name] = views[f.name](value) if f.name in views else _plain(value)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # The default protocol for dict subclasses would refill the mapping item by item.
        return (type(self), tuple(getattr(self, f.name) for f in fields(cast(Any, self))))


# ---------------------------------------------------------------------------
# samples, specimens, dots
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class SampleRecord(Record):
    """A sample's row, as :meth:`~qdcat.catalog.api.Catalog.add_sample` stored it."""

    id: int
    name: str
    material: str
    core_diameter_nm: float | None
    total_diameter_nm: float | None
    synthesis_reference: str | None
    synthesized_on: dt.date | None
    abs_max_nm: float | None
    pl_peak_nm: float | None
    pl_fwhm_nm: float | None
    plqy_fraction: float | None
    decay_rate_solution_per_us: float | None
    notes: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True, eq=False)
class SpecimenBrief(Record):
    """A specimen as listed under its sample."""

    name: str
    purpose: SpecimenPurpose
    preparation_method: str | None
    substrate: str | None


@dataclass(frozen=True, slots=True, eq=False)
class SampleDetail(SampleRecord):
    """A sample with its specimens and how many dots and measurements it has."""

    specimens: tuple[SpecimenBrief, ...]
    dots: int
    measurements: int


@dataclass(frozen=True, slots=True, eq=False)
class SampleSummary(Record):
    """One row of the sample list."""

    id: int
    name: str
    material: str
    core_diameter_nm: float | None
    total_diameter_nm: float | None
    pl_peak_nm: float | None
    pl_fwhm_nm: float | None
    plqy_fraction: float | None
    specimens: int
    dots: int
    measurements: int


@dataclass(frozen=True, slots=True, eq=False)
class SpecimenRecord(Record):
    """A specimen's row plus its sample's name."""

    id: int
    name: str
    sample_id: int
    purpose: SpecimenPurpose
    preparation_method: str | None
    concentration_nmol_l: float | None
    solvent: str | None
    substrate: str | None
    surface_density_per_um2: float | None
    prepared_on: dt.date | None
    notes: str | None
    created_at: dt.datetime
    sample: str


@dataclass(frozen=True, slots=True, eq=False)
class SpecimenSummary(Record):
    """One row of the specimen list."""

    id: int
    name: str
    sample: str
    purpose: SpecimenPurpose
    preparation_method: str | None
    concentration_nmol_l: float | None
    solvent: str | None
    substrate: str | None
    surface_density_per_um2: float | None
    prepared_on: dt.date | None
    dots: int


@dataclass(frozen=True, slots=True, eq=False)
class DotRecord(Record):
    """A dot's row plus its specimen's name."""

    id: int
    specimen_id: int
    label: str
    x_um: float
    y_um: float
    z_um: float | None
    marker_label: str | None
    marker_dx_um: float | None
    marker_dy_um: float | None
    notes: str | None
    created_at: dt.datetime
    specimen: str


@dataclass(frozen=True, slots=True, eq=False)
class DotSummary(Record):
    """One row of the dot list."""

    id: int
    label: str
    specimen: str
    sample: str
    x_um: float
    y_um: float
    z_um: float | None
    marker_label: str | None
    marker_dx_um: float | None
    marker_dy_um: float | None
    measurements: int


@dataclass(frozen=True, slots=True, eq=False)
class DotImport(Record):
    """What :meth:`~qdcat.catalog.api.Catalog.import_dots` did."""

    added: int
    skipped: int


@dataclass(frozen=True, slots=True, eq=False)
class DotDeletion(Record):
    """What deleting a dot took with it."""

    measurements: int


@dataclass(frozen=True, slots=True, eq=False)
class DeletionImpact(Record):
    """What deleting a sample or specimen takes with it."""

    specimens: int
    dots: int
    measurements: int
    raw_bytes: int


# ---------------------------------------------------------------------------
# edits, history, curation
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class EditRecord(Record):
    """What an edit changed: per field, (old, new) as plain values."""

    entity: str
    id: int
    label: str
    changes: tuple[tuple[str, tuple[Any, Any]], ...]

    _VIEWS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "changes": lambda c: {f: {"old": o, "new": n} for f, (o, n) in c}
    }


@dataclass(frozen=True, slots=True, eq=False)
class AuditRecord(Record):
    """One change in the catalog's history."""

    id: int
    at: dt.datetime
    who: str
    action: str
    entity: str
    entity_id: int
    entity_label: str
    field: str | None
    old: Any
    new: Any
    reason: str | None


@dataclass(frozen=True, slots=True, eq=False)
class CurationRecord(Record):
    """A tag or an exclusion on a dot, measurement or result."""

    kind: str  # "tag" or "exclusion"
    entity: str
    entity_id: int
    label: str
    value: str  # the tag, or the exclusion's reason
    who: str
    at: dt.datetime


# ---------------------------------------------------------------------------
# setups
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class ChannelRecord(Record):
    """What is plugged into one time-tagger input."""

    role: ChannelRole
    detector: str | None
    dark_count_rate_cps: float | None
    timing_jitter_ps: float | None


@dataclass(frozen=True, slots=True, eq=False)
class SetupRecord(Record):
    """A setup's row with its channels by time-tagger input (keys are text in the JSON view)."""

    id: int
    name: str
    description: str | None
    time_tagger_model: str | None
    time_tagger_resolution_ps: float | None
    spectrometer: str | None
    ccd_offset_counts: float | None
    ccd_read_noise_counts: float | None
    created_at: dt.datetime
    channels: Mapping[int, ChannelRecord]


def _channel_summary(channels: Mapping[int, ChannelRole]) -> str:
    return ", ".join(f"{ch}={role.value}" for ch, role in channels.items())


@dataclass(frozen=True, slots=True, eq=False)
class SetupSummary(Record):
    """One row of the setup list; the JSON view writes channels as ``0=hbt_a, 1=hbt_b``."""

    _VIEWS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"channels": _channel_summary}

    id: int
    name: str
    time_tagger_model: str | None
    time_tagger_resolution_ps: float | None
    spectrometer: str | None
    channels: Mapping[int, ChannelRole]


# ---------------------------------------------------------------------------
# measurements and their raw data
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class MeasurementRef(Record):
    """A measurement just added: its id and kind."""

    id: int
    kind: MeasurementKind


@dataclass(frozen=True, slots=True, eq=False)
class MeasurementSummary(Record):
    """One row of the measurement list."""

    id: int
    kind: MeasurementKind
    sample: str
    specimen: str
    dot: str | None
    setup: str | None
    started_at: dt.datetime | None
    duration_s: float | None
    excitation_mode: ExcitationMode | None
    intensity_w_cm2: float | None
    event_count: int | None
    source_filename: str | None


@dataclass(frozen=True, slots=True, eq=False)
class SettingsRecord(Record):
    """How the setup was set for one measurement."""

    excitation_wavelength_nm: float | None
    excitation_mode: ExcitationMode | None
    repetition_rate_mhz: float | None
    intensity_w_cm2: float | None
    temperature_k: float | None
    integration_time_s: float | None
    snapshot: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class RawAssetRecord(Record):
    """A measurement's committed raw data: where it is, what it came from, its checksums."""

    store_path: str
    data_kind: DataKind
    source_filename: str | None
    source_format: str | None
    source_sha256: str | None
    source_size_bytes: int | None
    event_count: int | None
    channel_counts: Mapping[str, int] | None
    resolution_ps: float | None
    nanotime_resolution_ps: float | None
    has_nanotimes: bool
    data_sha256: str | None
    stored_bytes: int | None
    committed_at: dt.datetime | None


@dataclass(frozen=True, slots=True, eq=False)
class MeasurementRecord(Record):
    """A measurement's row, where it was taken, its settings and its raw data."""

    id: int
    kind: MeasurementKind
    specimen_id: int
    dot_id: int | None
    setup_id: int | None
    label: str | None
    started_at: dt.datetime | None
    duration_s: float | None
    operator: str | None
    series_name: str | None
    series_index: int | None
    notes: str | None
    created_at: dt.datetime
    specimen: str
    sample: str
    dot: str | None
    setup: str | None
    settings: SettingsRecord | None
    raw_data: RawAssetRecord | None


# ---------------------------------------------------------------------------
# the catalog as a whole
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class CatalogStatus(Record):
    """Where the catalog lives, its schema revision and what it holds."""

    home: str
    database_url: str
    database_url_from: str
    store_url: str
    store_url_from: str
    schema_revision: str | None
    schema_head: str
    samples: int
    specimens: int
    dots: int
    measurements: int
    raw_bytes: int
    raw_events: int
