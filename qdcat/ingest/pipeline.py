"""Ingest files into the catalog: format detection, channel checks, manifests.

This is the only ingest module that touches the catalog. Each file goes in
through :meth:`Catalog.new_timetag_measurement` (or ``add_array_measurement``
for spectra), so a failure at any point leaves neither rows nor bytes, and a
file already in the catalog (same SHA-256) is skipped before it is decoded.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qdcat._json import jsonable
from qdcat.catalog.api import (
    AlreadyIngestedError,
    Catalog,
    MeasurementSpec,
    SettingsSpec,
    SourceFile,
)
from qdcat.catalog.models import ChannelRole, DataKind, MeasurementKind
from qdcat.errors import InvalidValueError, QdcatError, ReaderError
from qdcat.ingest.base import DEFAULT_BLOCK_RECORDS, SYNC_CHANNEL, TimeTagSource

TIMETAG_SUFFIXES = {".ptu": "ptu", ".ht3": "ht3", ".pt3": "pt3", ".t3r": "t3r", ".spc": "spc"}
HDF5_SUFFIXES = {".h5", ".hdf5"}
SPECTRUM_SUFFIXES = {".csv", ".txt", ".dat", ".asc"}

SETTINGS_FIELDS = (
    "excitation_wavelength_nm",
    "excitation_mode",
    "repetition_rate_mhz",
    "intensity_w_cm2",
    "temperature_k",
    "integration_time_s",
)
MANIFEST_FIELDS = (
    "file",
    "kind",
    "specimen",
    "dot",
    "setup",
    *SETTINGS_FIELDS,
    "started_at",
    "operator",
    "series_name",
    "series_index",
    "label",
    "notes",
    "set_file",
)

# Kinds whose analysis needs both HBT detectors / a sync reference.
_NEEDS_HBT = {MeasurementKind.G2_CW, MeasurementKind.G2_PULSED, MeasurementKind.POWER_SERIES_POINT}


@dataclass(frozen=True)
class IngestItem:
    """One file and what the file cannot know about itself."""

    path: Path
    kind: str
    specimen: str
    dot: str | None = None
    setup: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    started_at: str | dt.datetime | None = None
    operator: str | None = None
    series_name: str | None = None
    series_index: int | None = None
    label: str | None = None
    notes: str | None = None
    set_file: Path | None = None
    allow_truncated: bool = False  # keep the complete records of a truncated legacy file


@dataclass(frozen=True)
class IngestOutcome:
    path: Path
    status: str  # "ingested", "skipped", "failed"
    measurement_id: int | None = None
    events: int = 0
    message: str = ""


def sha256_file(path: Path, chunk: int = 1 << 22) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def open_timetag_file(
    path: Path, *, set_file: Path | None = None, allow_truncated: bool = False
) -> TimeTagSource:
    """A reader for any supported time-tag format, chosen by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".ptu":
        from qdcat.ingest.ptu import open_ptu

        return open_ptu(path)
    if suffix in (".ht3", ".pt3", ".t3r", ".spc"):
        from qdcat.ingest.legacy import open_legacy

        return open_legacy(path, set_file=set_file, allow_truncated=allow_truncated)
    if suffix in HDF5_SUFFIXES:
        from qdcat.ingest.photon_hdf5 import open_photon_hdf5

        return open_photon_hdf5(path)
    raise ReaderError(
        path,
        f"unsupported file type {suffix or '(no suffix)'}; qdcat reads .ptu, .ht3, .pt3, .t3r, .spc, "
        ".h5/.hdf5 (Photon-HDF5) time tags and .csv/.txt spectra",
    )


def _spec(
    item: IngestItem, settings: SettingsSpec, started_at: Any, duration_s: float | None
) -> MeasurementSpec:
    return MeasurementSpec(
        kind=item.kind,
        specimen=item.specimen,
        dot=item.dot or None,
        setup=item.setup or None,
        label=item.label,
        started_at=item.started_at or started_at,
        duration_s=duration_s,
        operator=item.operator,
        series_name=item.series_name or None,
        series_index=item.series_index,
        notes=item.notes,
        settings=settings,
    )


def _check_channels(
    path: Path,
    counts: np.ndarray,
    roles: Mapping[int, ChannelRole] | None,
    setup: str | None,
    kind: MeasurementKind,
) -> None:
    """Every channel with events must be one the setup knows; g2 needs both HBT detectors."""
    present = {int(c): int(counts[c]) for c in np.flatnonzero(counts)}
    if roles is None:
        return
    # Markers (65+) are bookkeeping, not photons: they need no role.
    unknown = {c: n for c, n in present.items() if c not in roles and c <= SYNC_CHANNEL}
    map_text = ", ".join(f"{c}={r.value}" for c, r in sorted(roles.items())) or "nothing"
    if unknown:
        found = ", ".join(f"channel {c}: {n} events" for c, n in sorted(unknown.items()))
        raise ReaderError(
            path,
            f"wrong channel map: the file has events on channels the setup {setup!r} does not map ({found}); "
            f"the setup maps {map_text}. Choose the right --setup or add the channel to the setup "
            f"(detector inputs are 0-based; {SYNC_CHANNEL} is the laser sync of T2 files).",
        )
    if kind in _NEEDS_HBT:
        for role in (ChannelRole.HBT_A, ChannelRole.HBT_B):
            chans = [c for c, r in roles.items() if r is role]
            if not chans:
                raise ReaderError(
                    path,
                    f"a {kind.value} measurement needs a {role.value} channel; "
                    f"setup {setup!r} maps {map_text}",
                )
            if not any(present.get(c, 0) for c in chans):
                raise ReaderError(
                    path,
                    f"wrong channel map: no events on the {role.value} channel {chans[0]} of setup {setup!r} "
                    f"(events per channel: {present}); check the cabling or the setup's channel map",
                )


def _settings_for(item: IngestItem, header: Any | None) -> SettingsSpec:
    given = {k: item.settings.get(k) for k in SETTINGS_FIELDS if item.settings.get(k) not in (None, "")}
    snapshot: dict[str, Any] = {"manifest": jsonable(dict(item.settings))}
    if header is not None:
        snapshot["file"] = jsonable(
            {
                "format": header.format,
                "mode": header.mode,
                "resolution_ps": header.resolution_ps,
                "nanotime_resolution_ps": header.nanotime_resolution_ps,
                "sync_rate_hz": header.sync_rate_hz,
                "acquisition_s": header.acquisition_s,
                "hardware": header.hardware,
                "software": header.software,
                "record_type": header.record_type,
                "n_records": header.n_records,
            }
        )
        snapshot["header_tags"] = jsonable(dict(header.tags))
        # What the file knows fills what the manifest left open.
        if header.mode == "T3" and "excitation_mode" not in given:
            given["excitation_mode"] = "pulsed"
        if (
            given.get("excitation_mode") == "pulsed"
            and "repetition_rate_mhz" not in given
            and header.sync_rate_hz
        ):
            given["repetition_rate_mhz"] = header.sync_rate_hz / 1e6
    return SettingsSpec(**given, snapshot=snapshot)


def acquisition_duration_s(header_s: float | None, last_event_ps: int) -> float | None:
    """The acquisition's length: the header's, unless the time tags end well before it (a run
    stopped early records the time it was set to, not the time it ran) or run past it."""
    span = last_event_ps / 1e12
    if span <= 0:
        return header_s
    if header_s is None or header_s <= 0:
        return span
    if span < 0.5 * header_s or span > 1.01 * header_s:
        return span
    return header_s


def _file_start_time(header: Any) -> Any:
    created = header.tags.get("File_CreatingTime") if header is not None else None
    if isinstance(created, str):
        try:
            return dt.datetime.fromisoformat(created)
        except ValueError:
            return None
    return None


def ingest_file(
    cat: Catalog,
    item: IngestItem,
    *,
    block_records: int = DEFAULT_BLOCK_RECORDS,
    on_events: Callable[[int], None] | None = None,
) -> IngestOutcome:
    """Ingest one file; raises QdcatError (nothing is left behind) on failure."""
    path = item.path
    if not path.is_file():
        raise ReaderError(path, "file not found")
    kind = MeasurementKind(item.kind) if item.kind in MeasurementKind._value2member_map_ else None
    if kind is None:
        valid = ", ".join(k.value for k in MeasurementKind)
        raise InvalidValueError(
            f"{path}: measurement kind {item.kind!r} is not valid; choose one of: {valid}"
        )
    sha, size = sha256_file(path)
    existing = cat.find_by_source(sha)
    if existing is not None:
        return IngestOutcome(
            path, "skipped", existing, 0, f"already in the catalog as measurement {existing}"
        )
    suffix = path.suffix.lower()
    if suffix in SPECTRUM_SUFFIXES:
        # Two-column text: a transient-absorption curve, or (any other kind) a spectrum.
        from qdcat.ingest.spectrum import read_spectrum, read_ta_curve

        if kind is MeasurementKind.TRANSIENT_ABSORPTION:
            curve = read_ta_curve(path)
            header, data_kind, fmt, what = curve.header, DataKind.CURVE, "ta-text", "TA curve"
            arrays = {"time_ps": curve.time_ps, "delta_a": curve.delta_a}
        else:
            sp = read_spectrum(path)
            header, data_kind, fmt, what = sp.header, DataKind.SPECTRUM, "spectrum-text", "spectrum"
            arrays = {"wavelength_nm": sp.wavelength_nm, "counts": sp.counts}
        spec = _spec(item, _settings_for(item, None), None, None)
        spec = replace(
            spec, settings=replace(spec.settings, snapshot={**spec.settings.snapshot, "file": header})
        )
        mid = cat.add_array_measurement(
            spec, arrays, data_kind=data_kind, source=SourceFile(path.name, sha, size, fmt)
        )
        return IngestOutcome(path, "ingested", mid, int(next(iter(arrays.values())).size), what)

    src = open_timetag_file(path, set_file=item.set_file, allow_truncated=item.allow_truncated)
    header = src.header
    roles = cat.channel_roles(item.setup) if item.setup else None
    settings = _settings_for(item, header)
    spec = _spec(item, settings, _file_start_time(header), header.acquisition_s)
    t3 = header.mode == "T3"
    with cat.new_timetag_measurement(
        spec,
        resolution_ps=header.resolution_ps,
        source=SourceFile(path.name, sha, size, header.format),
        nanotime_dtype="uint16" if t3 else None,
        nanotime_resolution_ps=header.nanotime_resolution_ps if t3 else None,
        attrs={"source": path.name, "format": header.format, "mode": header.mode},
    ) as w:
        last_ps = 0
        for block in src.iter_blocks(block_records):
            w.append(block.timestamps_ps, block.channels, block.nanotimes if t3 else None)
            if len(block):
                last_ps = int(block.timestamps_ps[-1])
            if on_events:
                on_events(len(block))
        counts = w.channel_counts()
        _check_channels(path, counts, roles, item.setup, kind)
        w.duration_s = acquisition_duration_s(header.acquisition_s, last_ps)
    note = f"{header.format} {header.mode}"
    if t3 and not header.nanotime_resolution_ps:
        note += (
            "; nanotime unit unknown (no .set file): for a decay, delete it and ingest again with --set-file"
        )
    return IngestOutcome(path, "ingested", w.measurement_id, int(counts.sum()), note)


def ingest_many(
    cat: Catalog,
    items: Iterable[IngestItem],
    *,
    on_file: Callable[[IngestItem], None] | None = None,
    on_events: Callable[[int], None] | None = None,
) -> list[IngestOutcome]:
    """Ingest a batch; one file's failure is reported and does not stop the rest.

    New measurements can change what an existing result was computed from (a
    background trace, one more point of a series): :func:`qdcat.workflow.ingest`
    ingests and then marks such results stale.
    """
    out = []
    for item in items:
        if on_file:
            on_file(item)
        try:
            out.append(ingest_file(cat, item, on_events=on_events))
        except AlreadyIngestedError as exc:  # a concurrent ingest of the same file won
            out.append(IngestOutcome(item.path, "skipped", exc.measurement_id, 0, str(exc)))
        except QdcatError as exc:
            out.append(IngestOutcome(item.path, "failed", None, 0, str(exc)))
    return out


# ---------------------------------------------------------------------------
# manifests
# ---------------------------------------------------------------------------
def _item_from_row(row: Mapping[str, Any], base: Path, where: str) -> IngestItem:
    unknown = set(row) - set(MANIFEST_FIELDS)
    if unknown:
        raise InvalidValueError(
            f"{where}: unknown field(s) {sorted(unknown)}; manifest fields are: {', '.join(MANIFEST_FIELDS)}"
        )
    missing = [k for k in ("file", "kind", "specimen") if not row.get(k)]
    if missing:
        raise InvalidValueError(f"{where}: missing {', '.join(missing)}")
    path = Path(str(row["file"])).expanduser()
    if not path.is_absolute():
        path = base / path
    set_file = row.get("set_file") or None
    series_index = row.get("series_index")
    if series_index in ("", None):
        series_index = None
    else:
        try:
            series_index = int(series_index)
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"{where}: series_index must be an integer, got {series_index!r}"
            ) from None
    return IngestItem(
        path=path,
        kind=str(row["kind"]).strip(),
        specimen=str(row["specimen"]).strip(),
        dot=(str(row["dot"]).strip() or None) if row.get("dot") not in (None, "") else None,
        setup=(str(row["setup"]).strip() or None) if row.get("setup") not in (None, "") else None,
        settings={k: row[k] for k in SETTINGS_FIELDS if row.get(k) not in (None, "")},
        started_at=row.get("started_at") or None,
        operator=row.get("operator") or None,
        series_name=row.get("series_name") or None,
        series_index=series_index,
        label=row.get("label") or None,
        notes=row.get("notes") or None,
        set_file=(base / set_file)
        if set_file and not Path(set_file).is_absolute()
        else (Path(set_file) if set_file else None),
    )


def read_manifest(path: str | Path) -> list[IngestItem]:
    """A session manifest: CSV (one row per file) or TOML (``[defaults]`` + ``[[measurement]]``).

    Relative file paths are relative to the manifest's folder.
    """
    path = Path(path)
    base = path.parent.resolve()
    if not path.is_file():
        raise InvalidValueError(f"manifest {path} not found")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidValueError(f"manifest {path} is not valid TOML: {exc}") from exc
        defaults = data.get("defaults", {})
        rows = data.get("measurement", [])
        if not isinstance(rows, list) or not rows:
            raise InvalidValueError(f"manifest {path} has no [[measurement]] entries")
        return [
            _item_from_row({**defaults, **r}, base, f"{path} measurement {i}") for i, r in enumerate(rows, 1)
        ]
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(row for row in fh if not row.lstrip().startswith("#"))
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidValueError(f"manifest {path} cannot be read: {exc}") from exc
    if not rows:
        raise InvalidValueError(f"manifest {path} has no rows")
    return [_item_from_row(r, base, f"{path} line {i + 1}") for i, r in enumerate(rows, 1)]


def write_manifest_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    rows = list(rows)
    fields = [f for f in MANIFEST_FIELDS if any(r.get(f) not in (None, "") for r in rows)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
    return path
