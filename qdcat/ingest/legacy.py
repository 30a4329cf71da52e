"""Readers for legacy T3 files: PicoQuant HT3, PT3, T3R and Becker & Hickl SPC (+ .set).

Owns their mapping onto qdcat's event conventions. phconvert parses the headers and B&H records;
PicoQuant records are decoded here (phconvert gets T3R channels, PT3 markers, HT3 overflow counts wrong).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qdcat.errors import InvalidValueError, ReaderError
from qdcat.ingest.base import (
    DEFAULT_BLOCK_RECORDS,
    MARKER_BASE,
    REREAD,
    UNIT_RANGE_PS,
    EventBlock,
    FileHeader,
    TimeTagSource,
    format_boundary,
    one_line,
)

__all__ = ["LEGACY_SUFFIXES", "LegacySource", "open_legacy"]

LEGACY_SUFFIXES = (".ht3", ".pt3", ".t3r", ".spc")

_REREAD = REREAD
_CONVERT = "open it in the PicoQuant software and save it as PTU, or convert it to Photon-HDF5"
# int64 picoseconds hold ~106 days; anything beyond that can only come from garbage records.
_MAX_PS = float(2**63 - 1)


@dataclass(frozen=True)
class _Events:
    """Decoded events in the file's own units: macrotime counts, not yet picoseconds."""

    macrotimes: np.ndarray  # int64 counts of the file's timestamp unit, overflow resolved
    channels: np.ndarray  # uint8, qdcat convention
    nanotimes: np.ndarray  # uint16, raw TCSPC bins
    stats: dict[str, int]


class LegacySource:
    """A legacy file decoded at open time.

    phconvert loads these files whole, and so does this class: they are small legacy files (a few
    MB); the big-file, bounded-memory path is PTU. Blocks are read-only slices of the decoded arrays.
    """

    def __init__(
        self, header: FileHeader, timestamps_ps: np.ndarray, channels: np.ndarray, nanotimes: np.ndarray
    ) -> None:
        for array in (timestamps_ps, channels, nanotimes):
            array.setflags(write=False)
        self.header = header
        self._timestamps_ps = timestamps_ps
        self._channels = channels
        self._nanotimes = nanotimes

    def __len__(self) -> int:
        return int(self._timestamps_ps.shape[0])

    def iter_blocks(self, block_records: int = DEFAULT_BLOCK_RECORDS) -> Iterator[EventBlock]:
        """Yield the events in blocks of at most ``block_records``."""
        if int(block_records) < 1:
            raise InvalidValueError(f"block_records must be at least 1, not {block_records}")
        step = int(block_records)
        for start in range(0, len(self), step):
            stop = start + step
            yield EventBlock(
                self._timestamps_ps[start:stop], self._channels[start:stop], self._nanotimes[start:stop]
            )


def open_legacy(
    path: str | os.PathLike[str],
    *,
    set_file: str | os.PathLike[str] | None = None,
    allow_truncated: bool = False,
) -> TimeTagSource:
    """Open a legacy T3 file (``.ht3``, ``.pt3``, ``.t3r`` or ``.spc``), chosen by its suffix.

    ``set_file`` is the Becker & Hickl ``.set`` file of an ``.spc`` file; by default the ``.set``
    beside it is used when there is one. Raises :class:`~qdcat.errors.ReaderError` for a
    truncated, corrupt or unsupported file; with ``allow_truncated`` a file that ends early
    (fewer records than its header announces, or a partial last record) is read up to its last
    whole record instead, and ``header.tags["truncated"]`` says so.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LEGACY_SUFFIXES:
        raise ReaderError(
            path,
            f"unknown legacy suffix {path.suffix!r}: expected one of {', '.join(LEGACY_SUFFIXES)} "
            "(PTU and Photon-HDF5 files have their own readers)",
        )
    if set_file is not None and suffix != ".spc":
        raise InvalidValueError(f"set_file applies to Becker & Hickl .spc files only, not to {path.name}")
    if not path.is_file():
        raise ReaderError(path, "no such file; check the path")
    # The net under the checks below: nothing phconvert or numpy raises reaches the user raw.
    with format_boundary(path, f"cannot be read as a {suffix[1:].upper()} file: it is truncated or corrupt"):
        if suffix == ".spc":
            return _open_spc(path, None if set_file is None else Path(set_file), allow_truncated)
        return _open_picoquant(path, suffix, allow_truncated)


# --- PicoQuant ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PqFormat:
    name: str  # "HT3"
    ident: bytes  # what the Ident field starts with
    version: bytes  # the one version phconvert reads
    reader: str  # phconvert.pqreader function returning (records, ts_unit, nanot_unit, meta)
    decode: Callable[[np.ndarray], _Events]


def _open_picoquant(path: Path, suffix: str, allow_truncated: bool) -> LegacySource:
    fmt = _PQ_FORMATS[suffix]
    _check_pq_preamble(path, fmt)
    from phconvert import pqreader  # heavy import (numba compiles at import): only when needed

    records, _, _, meta = _call_phconvert(path, fmt.name, getattr(pqreader, fmt.reader), str(path))
    header_info = _pq_header_info(path, fmt, meta)
    announced = header_info.pop("n_records")
    truncated = None
    if len(records) != announced:
        if not allow_truncated:
            raise ReaderError(
                path,
                f"truncated: the {fmt.name} header announces {announced} records but the file holds "
                f"{len(records)} ({path.stat().st_size} bytes); {_REREAD} (or ingest it with "
                "--allow-truncated to read the records that are there)",
            )
        truncated = {"records_announced": announced, "records_present": len(records)}
    events = fmt.decode(np.asarray(records, dtype=np.uint32))
    timestamps_ps, channels, nanotimes, reordered = _finish(path, events, header_info["resolution_ps"])
    stats = dict(events.stats, n_events=len(timestamps_ps), markers_reordered=reordered)
    # One-record header sections become objects, the rest (inputs, modules...) lists.
    tags = {
        k: _jsonable(v[0] if k in _ONE_RECORD and len(v) else v) for k, v in meta.items() if k != "dispcurve"
    }
    tags["decode"] = stats
    tags["truncated"] = truncated
    header = FileHeader(
        path=path, format=suffix[1:], mode="T3", n_records=len(records), tags=tags, **header_info
    )
    return LegacySource(header, timestamps_ps, channels, nanotimes)


def _check_pq_preamble(path: Path, fmt: _PqFormat) -> None:
    """Refuse files phconvert cannot read with a message that says what to do instead."""
    with path.open("rb") as f:
        head = f.read(22)  # Ident[16] then the version string[6], in all three formats
    if len(head) < 22:
        raise ReaderError(
            path, f"only {len(head)} bytes: too short to be a {fmt.name} file (truncated?); {_REREAD}"
        )
    ident = head[:16].split(b"\0", 1)[0].strip()
    version = head[16:22].split(b"\0", 1)[0].strip()
    if not ident.startswith(fmt.ident):
        raise ReaderError(
            path,
            f"not a {fmt.name} file: it starts with {head[:16]!r}, not {fmt.ident!r} "
            "(wrong suffix, or a corrupt file)",
        )
    if version != fmt.version:
        shown = version.decode("latin-1", "replace")
        raise ReaderError(
            path,
            f"{fmt.name} version {shown} is not supported by phconvert (only "
            f"{fmt.version.decode()}); {_CONVERT}",
        )


def _pq_header_info(path: Path, fmt: _PqFormat, meta: Mapping[str, Any]) -> dict[str, Any]:
    """FileHeader fields from phconvert's header structures (plus the announced record count)."""
    try:
        header = meta["header"][0]
        ttmode = meta["ttmode"][0]
        hardware = meta["hardware"][0]
        if fmt.name == "T3R":
            # TimeHarp 200 TTTR: the time tag counts a global clock (100 ns), not sync pulses.
            clock_ns = int(ttmode["TTTRGlobclock"]) or 100
            resolution_ps = clock_ns * 1e3
            nanotime_ps = _f32(hardware["Resolution"]) * 1e3
            sync_rate = int(ttmode["SyncRate"])
            stop_ms, set_ms = int(ttmode["StopAfter"]), int(header["AcquisitionTime"])
            hw = f"{_s(header['Ident'])} (hardware {_s(header['HardwareVersion'])}, board serial "
            hw += f"{int(hardware['BoardSerial'])})"
            sw = f"TimeHarp software {_s(header['SoftwareVersion'])}"
            record_type = f"TimeHarp 200 TTTR (T3R {_s(header['SoftwareVersion'])})"
        else:
            if int(header["MeasurementMode"]) != 3 or int(header["BitsPerRecord"]) != 32:
                raise ReaderError(
                    path,
                    f"not a T3-mode {fmt.name} file (MeasurementMode {int(header['MeasurementMode'])}, "
                    f"BitsPerRecord {int(header['BitsPerRecord'])}); {_CONVERT}",
                )
            if fmt.name == "HT3":
                sync_rate = int(ttmode["SyncRate"])
                nanotime_ps = float(header["Resolution"])  # already ps
                set_ms = int(header["Tacq"])
            else:  # PT3: input 0 of a PicoHarp is the sync
                sync_rate = int(ttmode["InpRate0"])
                nanotime_ps = _f32(hardware["Resolution"]) * 1e3
                set_ms = int(header["AcquisitionTime"])
            if sync_rate <= 0:
                raise ReaderError(path, f"the header gives a sync rate of {sync_rate} Hz; {_REREAD}")
            # The macrotime counts (divided) sync pulses: its unit is the sync period.
            resolution_ps = 1e12 / sync_rate
            stop_ms = int(ttmode["StopAfter"])
            hw = f"{_s(hardware['HardwareIdent'])} (part {_s(hardware['HardwarePartNo'])}, serial "
            hw += f"{int(hardware['HardwareSerial'])})"
            sw = f"{_s(header['CreatorName'])} {_s(header['CreatorVersion'])}".strip()
            record_type = f"{_s(header['Ident'])} T3 ({fmt.name} {_s(header['FormatVersion'])})"
        n_records = int(ttmode["nRecords"])
        field = "hardware Resolution" if fmt.name in ("T3R", "PT3") else "Resolution"
        if not (math.isfinite(nanotime_ps) and UNIT_RANGE_PS[0] <= nanotime_ps <= UNIT_RANGE_PS[1]):
            raise ReaderError(
                path,
                f"the {fmt.name} header field {field} gives a TCSPC bin width of {nanotime_ps!r} ps, "
                f"not a plausible one (0.01 ps to 10 s): the header is corrupt; {_REREAD}",
            )
        if not UNIT_RANGE_PS[0] <= resolution_ps <= UNIT_RANGE_PS[1]:
            raise ReaderError(
                path,
                f"the {fmt.name} header gives a macrotime unit of {resolution_ps!r} ps, not a plausible "
                f"one (0.01 ps to 10 s): the header is corrupt; {_REREAD}",
            )
    except ReaderError:
        raise
    except (IndexError, KeyError, ValueError, TypeError) as exc:
        raise ReaderError(path, f"the {fmt.name} header is incomplete or corrupt ({exc}); {_REREAD}") from exc
    acquisition_ms = stop_ms if stop_ms > 0 else set_ms
    return {
        "resolution_ps": _snap(resolution_ps),
        "nanotime_resolution_ps": round(_snap(nanotime_ps), 6),
        "sync_rate_hz": float(sync_rate) if sync_rate > 0 else None,
        "acquisition_s": acquisition_ms / 1e3 if acquisition_ms > 0 else None,
        "hardware": hw,
        "software": sw or None,
        "record_type": record_type,
        "n_records": n_records,
    }


def _decode_hydraharp_t3(records: np.ndarray) -> _Events:
    """HydraHarp T3 records (HT3 1.0): special:1 | channel:6 | dtime:15 | nsync:10."""
    rec = records.astype(np.int64)
    special = ((rec >> 31) & 1) == 1
    chan = (rec >> 25) & 0x3F
    nsync = rec & 0x3FF
    overflow = special & (chan == 0x3F)
    # An overflow record stands for nsync + 1 sync wraps, not always one as in PicoQuant's (and
    # phconvert's, tttrlib's) HT3 1.0 reading. Genuine HydraHarp v1 files carry nsync = 0 there
    # (psd_hydraharp_v10.ht3: all 1018), so both readings agree on them. SymPhoTime-written HT3 1.0
    # files store compressed overflows: tttrlib_rh110_sm_000000.ht3 has 154905 overflow records,
    # never two in a row, with nsync 0..316, and P(next photon's nsync < previous one's) falls
    # 0.66, 0.57, 0.53, 0.51 for nsync = 0, 1, 2, 5 - so nsync grows with the real gap and 0 is
    # already one wrap. Counting one wrap per record would give gaps never longer than two
    # wraps (65 µs) in a single-molecule measurement, which is impossible.
    wraps = np.cumsum(np.where(overflow, nsync + 1, 0))
    marker = special & (chan >= 1) & (chan <= 15)
    photon = ~special
    events = _assemble(wraps * 1024 + nsync, photon, chan, (rec >> 10) & 0x7FFF, marker, chan)
    events.stats.update(
        n_overflow_records=int(overflow.sum()),
        n_overflow_records_nsync_nonzero=int((overflow & (nsync > 0)).sum()),
        n_sync_wraps=int(wraps[-1]) if wraps.size else 0,
        n_dropped_records=int((special & ~overflow & ~marker).sum()),  # reserved special codes
    )
    return events


def _decode_picoharp_t3(records: np.ndarray) -> _Events:
    """PicoHarp 300 T3 records (PT3 2.0): channel:4 | dtime:12 | nsync:16."""
    rec = records.astype(np.int64)
    nsync = rec & 0xFFFF
    dtime = (rec >> 16) & 0xFFF
    chan = (rec >> 28) & 0xF
    special = chan == 0xF
    marker_bits = dtime & 0xF
    # phconvert's load_pt3 counts every channel-15 record as an overflow; those with marker
    # bits set are markers and must not shift the clock.
    overflow = special & (marker_bits == 0)
    marker = special & (marker_bits != 0)
    # Routing channels 1..4 are the detector inputs, 0-based 0..3 (as ptufile and qdcat's PTU
    # reader number them).
    photon = (chan >= 1) & (chan <= 4)
    events = _assemble(np.cumsum(overflow) * 65536 + nsync, photon, chan - 1, dtime, marker, marker_bits)
    events.stats.update(
        n_overflow_records=int(overflow.sum()),
        n_overflow_records_nsync_nonzero=int((overflow & (nsync > 0)).sum()),
        n_dropped_records=int((~special & ~photon).sum()),  # channel 0 or 5..14: invalid
    )
    return events


def _decode_timeharp_t3r(records: np.ndarray) -> _Events:
    """TimeHarp 200 TTTR records (T3R 5.0): reserved:1 | valid:1 | route:2 | data:12 | timetag:16."""
    rec = records.astype(np.int64)
    timetag = rec & 0xFFFF
    data = (rec >> 16) & 0xFFF
    route = (rec >> 28) & 0x3
    valid = ((rec >> 30) & 1) == 1
    # phconvert's load_t3r returns bits 30-31 as the "detector": that is the valid bit, so its
    # detector 0 is the special records and detector 1 all photons. Its overflow correction also
    # adds a wrap for marker records. Layout as in PicoQuant's T3R demo and tsbischof/libpicoquant.
    overflow = ~valid & ((data & 0x800) != 0)
    marker = ~valid & ~overflow & ((data & 0x7) != 0)
    # The TimeHarp 200 runs in reverse start–stop: the photon starts the TAC and the next sync
    # stops it, so the 12-bit reading falls as the delay after the pulse grows. Stored flipped
    # (4095 − reading), nanotimes rise with the delay like every other format's.
    nanotime = np.where(valid, 4095 - data, data)
    events = _assemble(np.cumsum(overflow) * 65536 + timetag, valid, route, nanotime, marker, data & 0x7)
    events.stats.update(
        n_overflow_records=int(overflow.sum()),
        n_dropped_records=int((~valid & ~overflow & ~marker).sum()),
    )
    return events


def _assemble(
    macrotimes: np.ndarray,
    photon: np.ndarray,
    channel: np.ndarray,
    nanotime: np.ndarray,
    marker: np.ndarray,
    marker_bits: np.ndarray,
) -> _Events:
    """Photon records, and one event per set bit of each marker record, in record order.

    Marker bit b (0-based) of a record becomes channel 64 + b + 1, the way qdcat's PTU reader
    splits PicoQuant marker masks, so a setup's channel roles mean the same for every format.
    """
    index, order_in_record = [np.flatnonzero(photon)], [np.zeros(int(photon.sum()), np.int64)]
    channels, nanotimes = [channel[photon]], [nanotime[photon]]
    for bit in range(4):
        hit = np.flatnonzero(marker & (((marker_bits >> bit) & 1) == 1))
        index.append(hit)
        order_in_record.append(np.full(hit.size, bit + 1, np.int64))
        channels.append(np.full(hit.size, MARKER_BASE + bit + 1, np.int64))
        nanotimes.append(np.zeros(hit.size, np.int64))
    idx, sub = np.concatenate(index), np.concatenate(order_in_record)
    order = np.lexsort((sub, idx))
    n_marker_events = int(idx.size - photon.sum())
    stats = {
        "n_photons": int(photon.sum()),
        "n_marker_records": int(marker.sum()),
        "n_markers": n_marker_events,
    }
    return _Events(
        macrotimes[idx[order]],
        np.concatenate(channels)[order].astype(np.uint8),
        np.concatenate(nanotimes)[order].astype(np.uint16),
        stats,
    )


_ONE_RECORD = ("header", "repeatgroup", "hardware", "hardware3", "ttmode")
_PQ_FORMATS = {
    ".ht3": _PqFormat("HT3", b"HydraHarp", b"1.0", "ht3_reader", _decode_hydraharp_t3),
    ".pt3": _PqFormat("PT3", b"PicoHarp", b"2.0", "pt3_reader", _decode_picoharp_t3),
    ".t3r": _PqFormat("T3R", b"TimeHarp", b"5.0", "t3r_reader", _decode_timeharp_t3r),
}


# --- Becker & Hickl SPC ------------------------------------------------------------------------

_SPC_BITS = {"INV": 31, "MTOV": 30, "GAP": 29, "MARK": 28}


def _find_set_file(path: Path, set_file: Path | None) -> Path | None:
    """The given .set file (which must exist), else the one beside ``path``, else None."""
    if set_file is None:
        for candidate in (path.with_suffix(".set"), path.with_suffix(".SET")):
            if candidate.is_file():
                return candidate
    elif not set_file.is_file():
        raise ReaderError(set_file, "no such .set file; check the path, or leave set_file out")
    return set_file


def _open_spc(path: Path, set_file: Path | None, allow_truncated: bool) -> LegacySource:
    set_file = _find_set_file(path, set_file)
    size = path.stat().st_size
    if size < 8:
        raise ReaderError(path, f"holds no photon records ({size} bytes); {_REREAD}")
    from phconvert import bhreader  # heavy import (numba compiles at import): only when needed

    meta, card, spc_type = None, None, "SPC-1XX"
    if set_file is not None:
        meta = _call_phconvert(set_file, "B&H .set", bhreader.load_set, str(set_file))
        try:
            code = (int(meta["header"][0]["revision"]) & 0x0FF0) >> 4
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise ReaderError(set_file, f"the .set header is incomplete ({exc}); {_REREAD}") from exc
        card = getattr(bhreader, "_spc_codes", {}).get(code, f"card code {code:#x}")
        spc_type = getattr(bhreader, "_spc_types", {}).get(card, "unknown")
    tags: dict[str, Any] = {
        "card": card,
        "record_layout": spc_type,
        "set_file": str(set_file) if set_file else None,
    }
    stats, n_records = (
        _check_spc_words(path, size, spc_type, tags, allow_truncated)
        if spc_type in _SPC_32BIT
        else ({}, None)
    )

    if set_file is not None:
        data = _call_phconvert(path, "SPC", bhreader.load_spc, str(path), str(set_file))
        photon_data = data["photon_data"]
    else:
        # Without a .set nothing says which card wrote the file; the SPC-130/140/150/160/180/830
        # record layout is by far the most common (tttrlib assumes it too). phconvert's load_spc
        # insists on a .set, so its reader for that layout is called directly (private API).
        with path.open("rb") as f:
            photon_data = _call_phconvert(path, "SPC", bhreader._read_spc1xx_8xx, f)
    unit_s, events = _spc_events(path, photon_data, stats)
    resolution_ps = _snap(unit_s * 1e12)
    timestamps_ps, channels, nanos, _ = _finish(path, events, resolution_ps)

    nanotime_ps, software, hardware = None, None, None
    if meta is not None:
        setup = dict(meta.get("setup", {}))
        setup.update(_set_file_bools(set_file))
        ident = dict(meta.get("identification", {}))
        nanotime_ps = _spc_nanotime_ps(setup, int(photon_data.get("tcspc_num_bins", 4096)))
        software = " ".join(f"Becker & Hickl SPCM {ident.get('Version', '')}".split())
        hardware = f"Becker & Hickl {card}"
        tags.update(identification=ident, setup=setup)
    else:
        tags["note"] = "no .set file: the card, the TAC range and so the nanotime bin width are unknown"
    tags["decode"] = dict(stats, n_events=len(timestamps_ps))
    header = FileHeader(
        path=path,
        format="spc",
        mode="T3",
        resolution_ps=resolution_ps,
        nanotime_resolution_ps=nanotime_ps,
        # The macrotime clock may be the card's own clock or the laser sync and the files don't
        # say which reliably: the sync rate is left unknown rather than guessed.
        sync_rate_hz=None,
        acquisition_s=None,
        hardware=hardware,
        software=software,
        record_type=f"Becker & Hickl FIFO {spc_type}"
        + ("" if meta is not None else " (assumed: no .set file)"),
        n_records=n_records,
        tags=_jsonable(tags),
    )
    return LegacySource(header, timestamps_ps, channels, nanos)


def _spc_events(path: Path, photon_data: Mapping[str, Any], stats: dict[str, int]) -> tuple[float, _Events]:
    """(macrotime unit in s, the photons) from phconvert's photon data; marker records are dropped."""
    try:
        unit_s = float(photon_data["timestamps_unit"])
        macrotimes = np.asarray(photon_data["timestamps"])
        detectors = np.asarray(photon_data["detectors"])
        nanotimes = np.asarray(photon_data["nanotimes"])
        marker_ids = np.asarray(photon_data.get("marker_ids", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReaderError(path, f"phconvert returned no usable photon data ({exc}); {_REREAD}") from exc
    if not unit_s > 0:
        raise ReaderError(path, f"the SPC header gives a macrotime unit of {unit_s} s; {_REREAD}")
    # Marker records that phconvert keeps (QC cards) come as shifted "detectors": dropped too.
    is_marker = np.isin(detectors, marker_ids) if marker_ids.size else np.zeros(detectors.shape, bool)
    stats["n_marker_records_dropped"] = stats.get("n_marker_records_dropped", 0) + int(is_marker.sum())
    keep = ~is_marker
    if keep.any() and int(detectors[keep].max()) >= MARKER_BASE:
        raise ReaderError(
            path, f"routing channel {int(detectors[keep].max())} does not fit qdcat's detector range 0..63"
        )
    stats.update(n_photons=int(keep.sum()), n_markers=0)  # SPC markers: see n_marker_records_dropped
    events = _Events(
        macrotimes[keep].astype(np.int64),
        detectors[keep].astype(np.uint8),
        nanotimes[keep].astype(np.uint16),
        stats,
    )
    return unit_s, events


_SPC_32BIT = ("SPC-1XX", "QC-X04", "QC-X06")


def _check_spc_words(
    path: Path, size: int, spc_type: str, tags: dict[str, Any], allow_truncated: bool
) -> tuple[dict[str, int], int]:
    """Checks phconvert does not make on 32-bit FIFO files, and counts of what it drops silently."""
    # The format has no record count: a file cut at a record boundary cannot be told from a
    # shorter acquisition, only one cut mid-record.
    tags["truncated"] = None
    if size % 4:
        if not allow_truncated:
            raise ReaderError(
                path,
                f"truncated mid-record: {size} bytes is not a whole number of 4-byte records; {_REREAD} "
                "(or ingest it with --allow-truncated to read the whole records)",
            )
        tags["truncated"] = {"partial_record_bytes": size % 4}
    raw = np.fromfile(path, dtype="<u4")
    head = int(raw[0])
    if not head >> 31:
        raise ReaderError(
            path,
            f"the first word {head:#010x} is not a B&H FIFO header (its top bit is clear): not an SPC "
            "FIFO file, or a corrupt one",
        )
    tags["header_word"] = f"{head:#010x}"
    stats: dict[str, int] = {}
    if spc_type == "SPC-1XX":
        words = raw[1:]
        flag = {name: ((words >> bit) & 1).astype(bool) for name, bit in _SPC_BITS.items()}
        tags["routing_bits"] = (head >> 27) & 0xF
        tags["markers_enabled"] = bool((head >> 25) & 1)
        # B&H flags marker entries invalid, so phconvert drops them with the invalid photons.
        stats["n_marker_records_dropped"] = int((flag["INV"] & flag["MARK"]).sum())
        stats["n_gap_records"] = int((flag["GAP"] & ~flag["INV"]).sum())  # FIFO overflowed: photons lost
        stats["n_invalid_records"] = int((flag["INV"] & ~flag["MTOV"] & ~flag["MARK"]).sum())
        stats["n_overflow_records"] = int((flag["INV"] & flag["MTOV"]).sum())
        if words.size and flag["INV"].all():
            raise ReaderError(
                path,
                f"has no photons: all {words.size} records are flagged invalid (overflows, markers, "
                "lost photons); nothing to ingest",
            )
    return stats, int(raw.size - 1)


def _spc_nanotime_ps(setup: Mapping[str, Any], num_bins: int) -> float | None:
    """TCSPC bin width: TAC range / TAC gain over the ADC bins of the FIFO records."""
    try:
        tac_range_s, tac_gain = float(setup["SP_TAC_R"]), float(setup["SP_TAC_G"])
        if tac_range_s > 0 and tac_gain > 0 and num_bins > 0:
            return round(tac_range_s / tac_gain / num_bins * 1e12, 6)
    except (KeyError, TypeError, ValueError):
        pass
    try:
        return round(float(setup["SP_TAC_TC"]) * 1e12, 6) or None
    except (KeyError, TypeError, ValueError):
        return None


_SET_BOOL = re.compile(rb"#\w\w \[(\w+),B,([^\]]*)\]")


def _set_file_bools(set_file: Path | None) -> dict[str, bool]:
    """The .set file's boolean parameters: phconvert reads every one of them as True (bool(b'0'))."""
    if set_file is None:
        return {}
    return {m[1].decode(): m[2].strip() not in (b"0", b"") for m in _SET_BOOL.finditer(set_file.read_bytes())}


# --- shared ------------------------------------------------------------------------------------


def _call_phconvert(path: Path, what: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call phconvert; whatever it raises on a damaged file becomes one ReaderError."""
    size = path.stat().st_size
    with warnings.catch_warnings():
        # phconvert warns (and numpy may) on odd files; the checks after the call decide.
        warnings.simplefilter("ignore")
        try:
            with format_boundary(
                path, f"phconvert could not read this {what} file of {size} bytes: it is truncated or corrupt"
            ):
                return func(*args)
        except ReaderError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and "not supported" in str(cause):
                raise ReaderError(path, f"{what}: {one_line(cause)}; {_CONVERT}") from cause
            if isinstance(cause, NotImplementedError):
                raise ReaderError(
                    path,
                    f"{what}: card not supported by phconvert ({one_line(cause)}); "
                    "export the data to Photon-HDF5",
                ) from cause
            raise


def _finish(
    path: Path, events: _Events, resolution_ps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Macrotimes to int64 ps, in time order (markers may lag photons); returns the reorder count."""
    macro = events.macrotimes
    if macro.size and float(macro.max()) * resolution_ps >= _MAX_PS:
        raise ReaderError(
            path, f"timestamps beyond the int64 picosecond range (~106 days): corrupt records; {_REREAD}"
        )
    timestamps_ps = _counts_to_ps(macro, resolution_ps)
    channels, nanotimes = events.channels, events.nanotimes
    steps = np.diff(timestamps_ps)
    if steps.size and steps.min() < 0:
        photon = channels < MARKER_BASE
        if np.diff(timestamps_ps[photon]).min(initial=0) < 0:
            raise ReaderError(path, f"photon timestamps go backwards: corrupt records; {_REREAD}")
        # PicoQuant: markers have a coarser time base and may come slightly out of order.
        order = np.argsort(timestamps_ps, kind="stable")
        moved = int((order != np.arange(order.size)).sum())
        return timestamps_ps[order], channels[order], nanotimes[order], moved
    return timestamps_ps, channels, nanotimes, 0


def _counts_to_ps(counts: np.ndarray, unit_ps: float) -> np.ndarray:
    """Counts of ``unit_ps`` to int64 ps: exact for integral units, else rounded (still monotonic)."""
    counts = counts.astype(np.int64, copy=False)
    if float(unit_ps).is_integer():
        return counts * np.int64(int(unit_ps))
    return np.rint(counts * float(unit_ps)).astype(np.int64)


def _snap(value: float) -> float:
    """Drop float noise from a unit that is an integral number of ps (e.g. 95 × 0.1e-9 s)."""
    nearest = round(value)
    return float(nearest) if abs(value - nearest) <= 1e-9 * max(1.0, abs(value)) else float(value)


def _f32(value: Any) -> float:
    """A float32 header field as the decimal its writer meant (0.004, not 0.004000000189989805)."""
    return float(str(np.float32(value)))


def _s(value: Any) -> str:
    return bytes(value).split(b"\0", 1)[0].decode("latin-1").strip()


def _jsonable(value: Any) -> Any:
    """numpy scalars/records/bytes to plain JSON-able Python (non-finite floats become None)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.void) and value.dtype.names:
        return {name: _jsonable(value[name]) for name in value.dtype.names if name != "CRLF"}
    if isinstance(value, bytes | np.bytes_):
        return _s(value)
    if isinstance(value, np.floating):
        value = _f32(value) if value.dtype == np.float32 else float(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
