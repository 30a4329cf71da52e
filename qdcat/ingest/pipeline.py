"""Ingest files into the catalog: format detection, channel checks, manifests.

This is the only ingest module that touches the catalog. Each file goes in
through :meth:`Catalog.new_timetag_measurement` (or ``add_array_measurement``
for spectra), so a failure at any point leaves neither rows nor bytes, and a
file already in the catalog (same SHA-256) is skipped before it is decoded.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
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
    parse_datetime,
    parse_enum,
    parse_float,
)
from qdcat.catalog.models import ChannelRole, DataKind, ExcitationMode, MeasurementKind
from qdcat.errors import InvalidValueError, OutOfSpaceError, QdcatError, ReaderError, StoreError
from qdcat.ingest.base import (
    DEFAULT_BLOCK_RECORDS,
    REREAD,
    SYNC_CHANNEL,
    EventBlock,
    FileHeader,
    TimeTagSource,
    describe,
    format_boundary,
    guard_blocks,
)

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
    """A reader for any supported time-tag format, chosen by suffix.

    Whatever goes wrong inside a reader (or the library under it) comes out as a
    :class:`ReaderError` naming ``path``.
    """
    check_set_file(path, set_file)
    suffix = path.suffix.lower()
    with format_boundary(path, "cannot be read: the file is corrupt or truncated"):
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


def check_set_file(path: Path, set_file: Path | None) -> None:
    """A Becker & Hickl ``.set`` file describes an ``.spc`` file and nothing else."""
    if set_file is not None and path.suffix.lower() != ".spc":
        kind = f"a {path.suffix.lower()}" if path.suffix else "a file without a suffix"
        raise InvalidValueError(
            f"{path}: --set-file (set_file) only applies to .spc files; {path.name} is {kind}. "
            "Leave it out for this file"
        )


def _spec(
    item: IngestItem, settings: SettingsSpec, started_at: dt.datetime | None, duration_s: float | None
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


def _settings_for(item: IngestItem, header: FileHeader | None) -> SettingsSpec:
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


def _file_start_time(header: FileHeader | None) -> dt.datetime | None:
    created = header.tags.get("File_CreatingTime") if header is not None else None
    if isinstance(created, str):
        try:
            when = dt.datetime.fromisoformat(created)
        except ValueError:
            return None
        # A damaged or unset file clock (0 is 1899-12-30) says nothing; the snapshot keeps it.
        return when if 1900 <= when.year <= 2999 else None
    return None


def ingest_file(
    cat: Catalog,
    item: IngestItem,
    *,
    block_records: int = DEFAULT_BLOCK_RECORDS,
    on_events: Callable[[int], None] | None = None,
) -> IngestOutcome:
    """Ingest one file; raises QdcatError (nothing is left behind) on failure.

    A problem with the file is a :class:`ReaderError` naming it; a full disk under the store an
    :class:`OutOfSpaceError`, any other failure to write the store a :class:`StoreError`.
    """
    try:
        return _ingest_file(cat, item, block_records, on_events)
    except QdcatError as exc:
        if type(exc) is InvalidValueError and str(item.path) not in str(exc):
            # e.g. the catalog refusing a value the file's header gave: say which file
            raise InvalidValueError(f"{item.path}: {exc}") from exc
        raise
    except OSError as exc:
        # The readers turn their own OSErrors into ReaderError: this one came from the store.
        # new_timetag_measurement has already removed the asset's bytes and row.
        raise _store_failure(cat, item.path, exc) from exc


def _store_failure(cat: Catalog, path: Path, exc: OSError) -> QdcatError:
    url = cat.config.store_url
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on device" if exc.errno == errno.ENOSPC else "disk quota exceeded"
        return OutOfSpaceError(
            f"{what} while writing {path} to the store at {url}; free space, then run `qdcat gc` and "
            f"ingest again (nothing of {path.name} was kept)"
        )
    return StoreError(
        f"cannot write {path} to the store at {url} ({describe(exc)}); check that the store is "
        f"reachable and writable, then ingest again (nothing of {path.name} was kept)"
    )


def _ingest_file(
    cat: Catalog,
    item: IngestItem,
    block_records: int,
    on_events: Callable[[int], None] | None,
) -> IngestOutcome:
    path = item.path
    check_set_file(path, item.set_file)
    if not path.is_file():
        raise ReaderError(path, "file not found")
    kind = MeasurementKind(item.kind) if item.kind in MeasurementKind._value2member_map_ else None
    if kind is None:
        valid = ", ".join(k.value for k in MeasurementKind)
        raise InvalidValueError(
            f"{path}: measurement kind {item.kind!r} is not valid; choose one of: {valid}"
        )
    with format_boundary(path, "cannot be read"):
        sha, size = sha256_file(path)
    existing = cat.find_by_source(sha)
    if existing is not None:
        return IngestOutcome(
            path, "skipped", existing, 0, f"already in the catalog as measurement {existing}"
        )
    if path.suffix.lower() in SPECTRUM_SUFFIXES:
        return _ingest_text(cat, item, kind, sha, size)
    src = open_timetag_file(path, set_file=item.set_file, allow_truncated=item.allow_truncated)
    header = src.header
    if header.n_records == 0:
        raise ReaderError(path, "has no photons (the file holds no records); nothing to ingest")
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
        last_ps = None
        for block in guard_blocks(path, src.iter_blocks(block_records)):
            try:
                w.append(block.timestamps_ps, block.channels, block.nanotimes if t3 else None)
            except InvalidValueError as exc:  # the store refuses what no sound file decodes to
                raise ReaderError(path, _malformed(block, last_ps, w.event_count)) from exc
            if len(block):
                last_ps = int(block.timestamps_ps[-1])
            if on_events:
                on_events(len(block))
        counts = w.channel_counts()
        photons = int(counts[:SYNC_CHANNEL].sum())
        if photons == 0:
            others = int(counts.sum())
            what = f"only {others} sync/marker events" if others else "no events"
            raise ReaderError(path, f"has no photons ({what}); nothing to ingest")
        _check_channels(path, counts, roles, item.setup, kind)
        w.duration_s = acquisition_duration_s(header.acquisition_s, last_ps or 0)
    note = f"{header.format} {header.mode}"
    if t3 and not header.nanotime_resolution_ps:
        note += (
            "; nanotime unit unknown (no .set file): for a decay, delete it and ingest again with --set-file"
        )
    return IngestOutcome(path, "ingested", w.measurement_id, int(counts.sum()), note)


def _ingest_text(cat: Catalog, item: IngestItem, kind: MeasurementKind, sha: str, size: int) -> IngestOutcome:
    """Two-column text: a transient-absorption curve, or (any other kind) a spectrum."""
    from qdcat.ingest.spectrum import read_spectrum, read_ta_curve

    path = item.path
    with format_boundary(path, "cannot be read as a two-column text file"):
        if kind is MeasurementKind.TRANSIENT_ABSORPTION:
            curve = read_ta_curve(path)
            header, data_kind, fmt, what = curve.header, DataKind.CURVE, "ta-text", "TA curve"
            arrays = {"time_ps": curve.time_ps, "delta_a": curve.delta_a}
        else:
            sp = read_spectrum(path)
            header, data_kind, fmt, what = sp.header, DataKind.SPECTRUM, "spectrum-text", "spectrum"
            arrays = {"wavelength_nm": sp.wavelength_nm, "counts": sp.counts}
    settings = _settings_for(item, None)
    settings = replace(settings, snapshot={**settings.snapshot, "file": header})
    mid = cat.add_array_measurement(
        _spec(item, settings, None, None),
        arrays,
        data_kind=data_kind,
        source=SourceFile(path.name, sha, size, fmt),
    )
    return IngestOutcome(path, "ingested", mid, int(next(iter(arrays.values())).size), what)


def _malformed(block: EventBlock, last_ps: int | None, stored: int) -> str:
    """What is wrong with a block the store refused, in the file's terms (not the store's)."""
    ts = np.asarray(block.timestamps_ps)
    if ts.size and last_ps is not None and int(ts[0]) < last_ps:
        where = f"event {stored}"
    else:
        back = np.flatnonzero(ts[1:] < ts[:-1]) if ts.size > 1 else np.empty(0, np.int64)
        where = f"event {stored + int(back[0]) + 1}" if back.size else ""
    if where:
        return f"the decoded times go backwards at {where}: the file holds garbage records; {REREAD}"
    return (
        f"the records decode to events no time tagger records (near event {stored}): the file holds "
        f"garbage records; {REREAD}"
    )


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
_REQUIRED = ("file", "kind", "specimen")
_PATH_FIELDS = ("file", "set_file")
_TEXT_FIELDS = ("specimen", "dot", "setup", "operator", "series_name", "label", "notes")
#: Settings columns and the check each value must pass (the catalog's rules, checked per row here
#: so that the message names the manifest row and column).
_NUMBER_FIELDS: dict[str, dict[str, bool]] = {
    "excitation_wavelength_nm": {"positive": True},
    "repetition_rate_mhz": {"positive": True},
    "intensity_w_cm2": {"nonnegative": True},
    "temperature_k": {"positive": True},
    "integration_time_s": {"positive": True},
}
_EXPECTED = {
    **dict.fromkeys(_PATH_FIELDS, "a file path (text)"),
    **dict.fromkeys(_TEXT_FIELDS, "text"),
    **dict.fromkeys(_NUMBER_FIELDS, "a number"),
    "kind": "a measurement kind (text)",
    "excitation_mode": "cw or pulsed",
    "series_index": "a whole number",
    "started_at": "a date and time like 2026-03-01T14:05:00+01:00",
}


def _kind_of(value: Any) -> str:
    """What a TOML/CSV value is, in a user's words."""
    for types, name in (
        (bool, "a boolean"),
        (Mapping, "a table"),
        (list | tuple, "an array"),
        (int, "an integer"),
        (float, "a number"),
        (str, "text"),
        (dt.datetime, "a date-time"),
        (dt.date, "a date"),
        (dt.time, "a time of day"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrong(where: str, key: str, value: Any) -> InvalidValueError:
    return InvalidValueError(f"{where}: expected {_EXPECTED[key]}, got {_kind_of(value)} ({_short(value)})")


def _manifest_value(key: str, value: Any, where: str) -> Any:
    """One manifest field, checked and normalized (None when empty).

    ``where`` names the field for the message: ``session.csv row 3 (line 5), column intensity_w_cm2``
    or ``session.toml [[measurement]] 2, key set_file``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | Mapping | list | tuple):
        raise _wrong(where, key, value)
    if isinstance(value, str):
        value = value.strip()
    if key in _PATH_FIELDS:
        if not isinstance(value, str):
            raise _wrong(where, key, value)
        return Path(value).expanduser()
    if key in _TEXT_FIELDS:
        if isinstance(value, int):  # label = 3 in TOML means the label "3"
            return str(value)
        if not isinstance(value, str):
            raise _wrong(where, key, value)
        if "\x00" in value:
            raise InvalidValueError(f"{where}: contains a NUL character; remove it")
        return value
    try:
        if key == "kind":
            if not isinstance(value, str):
                raise _wrong(where, key, value)
            return parse_enum(MeasurementKind, value, "measurement kind").value
        if key == "excitation_mode":
            if not isinstance(value, str):
                raise _wrong(where, key, value)
            return parse_enum(ExcitationMode, value, "excitation mode").value
        if key in _NUMBER_FIELDS:
            if not isinstance(value, int | float | str):
                raise _wrong(where, key, value)
            return parse_float(value, key, **_NUMBER_FIELDS[key])
        if key == "series_index":
            if isinstance(value, str) and value.lstrip("+-").isdigit():
                value = int(value)
            if not isinstance(value, int):
                raise _wrong(where, key, value)
            if not 0 <= value < 2**31:
                raise InvalidValueError(f"series_index must lie in 0..2**31-1, got {value}")
            return value
        if key == "started_at":
            if isinstance(value, str):
                try:
                    value = dt.datetime.fromisoformat(value)
                except ValueError:
                    raise InvalidValueError(
                        f"started_at must be an ISO time like 2026-03-01T14:05:00+01:00, got {value!r}"
                    ) from None
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):  # a TOML date
                value = dt.datetime.combine(value, dt.time())
            if not isinstance(value, dt.datetime):
                raise _wrong(where, key, value)
            # Checked before any time-zone arithmetic, which fails near the years 1 and 9999.
            if not 1900 <= value.year <= 2999:
                raise InvalidValueError(
                    f"started_at {value.isoformat()} is outside the years 1900–2999; check the date"
                )
            return parse_datetime(value, "started_at")
    except InvalidValueError as exc:
        if str(exc).startswith(where):
            raise
        raise InvalidValueError(f"{where}: {exc}") from None
    raise AssertionError(f"manifest field {key} has no check")  # MANIFEST_FIELDS and the checks agree


def _manifest_fields(raw: Mapping[str, Any], where: Callable[[str], str], what: str) -> dict[str, Any]:
    """The known, non-empty fields of one row or table, checked; ``what`` names the row for
    unknown fields."""
    unknown = [k for k in raw if k not in MANIFEST_FIELDS]
    if unknown:
        raise InvalidValueError(
            f"{what}: unknown field(s) {sorted(unknown)}; manifest fields are: {', '.join(MANIFEST_FIELDS)}"
        )
    fields = {k: _manifest_value(k, v, where(k)) for k, v in raw.items()}
    return {k: v for k, v in fields.items() if v is not None}


def _item_from_fields(
    fields: Mapping[str, Any], base: Path, where: Callable[[str], str], what: str
) -> IngestItem:
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise InvalidValueError(
            f"{what}: {', '.join(missing)} missing or empty; every entry needs file, kind and specimen"
        )
    path = fields["file"] if fields["file"].is_absolute() else base / fields["file"]
    set_file = fields.get("set_file")
    if set_file is not None:
        set_file = set_file if set_file.is_absolute() else base / set_file
        if path.suffix.lower() != ".spc":
            raise InvalidValueError(
                f"{where('set_file')}: only applies to .spc files; {path.name} is a "
                f"{path.suffix.lower() or 'file without a suffix'}. Leave it empty for this file"
            )
    if ("series_name" in fields) != ("series_index" in fields):
        raise InvalidValueError(f"{what}: give both series_name and series_index, or neither")
    settings = {k: fields[k] for k in SETTINGS_FIELDS if k in fields}
    if settings.get("excitation_mode") == "cw" and "repetition_rate_mhz" in settings:
        raise InvalidValueError(
            f"{where('repetition_rate_mhz')}: cw excitation has no repetition rate; "
            "leave it empty or use pulsed"
        )
    return IngestItem(
        path=path,
        kind=fields["kind"],
        specimen=fields["specimen"],
        dot=fields.get("dot"),
        setup=fields.get("setup"),
        settings=settings,
        started_at=fields.get("started_at"),
        operator=fields.get("operator"),
        series_name=fields.get("series_name"),
        series_index=fields.get("series_index"),
        label=fields.get("label"),
        notes=fields.get("notes"),
        set_file=set_file,
    )


def read_manifest(path: str | Path) -> list[IngestItem]:
    """A session manifest: CSV (one row per file) or TOML (``[defaults]`` + ``[[measurement]]``).

    Relative file paths are relative to the manifest's folder. Every value is checked here,
    before anything is ingested; a bad one raises :class:`InvalidValueError` naming the row
    (or table) and the column (or key).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidValueError(f"manifest {path} not found")
    base = path.parent.resolve()
    if path.suffix.lower() == ".toml":
        return _read_toml_manifest(path, base)
    return _read_csv_manifest(path, base)


def _read_toml_manifest(path: Path, base: Path) -> list[IngestItem]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"manifest {path} is not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValueError(f"manifest {path} cannot be read: {describe(exc)}") from exc
    extra = sorted(set(data) - {"defaults", "measurement"})
    if extra:
        raise InvalidValueError(
            f"manifest {path}: unknown key(s) {extra}; a TOML manifest holds a [defaults] table and "
            "[[measurement]] tables"
        )
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InvalidValueError(
            f"manifest {path}: defaults must be a table ([defaults] followed by key = value lines), "
            f"got {_kind_of(defaults)} ({_short(defaults)})"
        )
    rows = data.get("measurement", [])
    if not isinstance(rows, list):
        raise InvalidValueError(
            f"manifest {path}: measurement must be an array of tables ([[measurement]] sections), "
            f"got {_kind_of(rows)} ({_short(rows)})"
        )
    if not rows:
        raise InvalidValueError(f"manifest {path} has no [[measurement]] entries")
    shared = _manifest_fields(defaults, lambda k: f"{path} [defaults], key {k}", f"{path} [defaults]")
    items = []
    for i, row in enumerate(rows, 1):
        what = f"{path} [[measurement]] {i}"
        if not isinstance(row, dict):
            raise InvalidValueError(
                f"{what}: must be a table ([[measurement]] with key = value lines), "
                f"got {_kind_of(row)} ({_short(row)})"
            )

        def where(k: str, what: str = what, row: dict[str, Any] = row) -> str:
            return f"{what}, key {k}" if k in row else f"{path} [defaults], key {k}"

        fields = {**shared, **_manifest_fields(row, where, what)}
        items.append(_item_from_fields(fields, base, where, what))
    return items


def _read_csv_manifest(path: Path, base: Path) -> list[IngestItem]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            lines = fh.readlines()  # a manifest is small
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValueError(f"manifest {path} cannot be read: {describe(exc)}") from exc
    kept = [(n, line) for n, line in enumerate(lines, 1) if not line.lstrip().startswith("#")]
    reader = csv.reader(line for _, line in kept)
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):  # blank lines and rows of empty cells are no rows
                records.append((kept[reader.line_num - 1][0], cells))
    except csv.Error as exc:
        raise InvalidValueError(f"manifest {path} line {kept[reader.line_num - 1][0]}: {exc}") from exc
    if not records:
        raise InvalidValueError(f"manifest {path} has no rows")
    header_line, header = records[0]
    header = [h.strip() for h in header]
    for i, name in enumerate(header, 1):
        if not name:
            raise InvalidValueError(f"{path} header (line {header_line}): column {i} has no name")
        if header.count(name) > 1:
            raise InvalidValueError(f"{path} header (line {header_line}): column {name!r} appears twice")
    unknown = [h for h in header if h not in MANIFEST_FIELDS]
    if unknown:
        raise InvalidValueError(
            f"{path} header (line {header_line}): unknown column(s) {unknown}; manifest columns are: "
            f"{', '.join(MANIFEST_FIELDS)}"
        )
    missing = [k for k in _REQUIRED if k not in header]
    if missing:
        raise InvalidValueError(
            f"{path} header (line {header_line}): no {', '.join(missing)} column; a manifest needs file, "
            "kind and specimen"
        )
    if len(records) == 1:
        raise InvalidValueError(f"manifest {path} has no rows")
    items = []
    for n, (line, cells) in enumerate(records[1:], 1):
        what = f"{path} row {n} (line {line})"
        if len(cells) != len(header):
            fix = (
                "remove the extra cells, or quote a value that holds a comma"
                if len(cells) > len(header)
                else "add the missing cells (empty ones are fine: a,,c)"
            )
            raise InvalidValueError(
                f"{what}: {len(cells)} cell(s) for {len(header)} columns ({', '.join(header)}); {fix}"
            )

        def where(k: str, what: str = what) -> str:
            return f"{what}, column {k}"

        fields = _manifest_fields(dict(zip(header, cells, strict=True)), where, what)
        items.append(_item_from_fields(fields, base, where, what))
    return items


def write_manifest_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    rows = list(rows)
    fields = [f for f in MANIFEST_FIELDS if any(r.get(f) not in (None, "") for r in rows)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
    return path
