"""PicoQuant PTU files (T2 and T3, every record type ptufile knows).

``ptufile`` parses the tagged header (resolution, sync rate, hardware,
software, all tags); the 32-bit records are read from disk in blocks and
decoded by qdcat's own kernels (see :mod:`qdcat._kernels.ptu` for why), so
memory stays bounded whatever the file size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np

from qdcat._json import jsonable
from qdcat._kernels import ptu as kernels
from qdcat.errors import ReaderError
from qdcat.ingest.base import (
    DEFAULT_BLOCK_RECORDS,
    REREAD,
    UNIT_RANGE_PS,
    EventBlock,
    FileHeader,
    format_boundary,
    one_line,
)

# int64 picoseconds hold ~106 days; anything beyond that can only come from garbage records.
_MAX_PS = float(2**63 - 1)

# record type code -> (mode, decoder family, HydraHarp v1 T2 overflow period; T3 needs no flag)
_RECORD_TYPES: dict[int, tuple[str, str, bool]] = {
    0x00010203: ("T2", "picoharp_t2", False),  # PicoHarp 300 T2
    0x00010303: ("T3", "picoharp_t3", False),  # PicoHarp 300 T3
    0x00010204: ("T2", "hydraharp_t2", True),  # HydraHarp 400 v1
    0x00010304: ("T3", "hydraharp_t3", True),
    0x01010204: ("T2", "hydraharp_t2", False),  # HydraHarp 400 v2
    0x01010304: ("T3", "hydraharp_t3", False),
    0x00010205: ("T2", "hydraharp_t2", False),  # TimeHarp 260 N
    0x00010305: ("T3", "hydraharp_t3", False),
    0x00010206: ("T2", "hydraharp_t2", False),  # TimeHarp 260 P
    0x00010306: ("T3", "hydraharp_t3", False),
    0x00010207: ("T2", "hydraharp_t2", False),  # generic: MultiHarp, PicoHarp 330
    0x00010307: ("T3", "hydraharp_t3", False),
}


def _read_header(path: Path) -> tuple[dict[str, Any], int, int]:
    """(tags, byte offset of the first record, number of records) from ptufile."""
    notes: list[logging.LogRecord] = []
    import ptufile

    with format_boundary(path, "the PTU header is corrupt or truncated"):
        try:
            with _collect_log("ptufile", notes), ptufile.PtuFile(path) as f:
                tags = dict(f.tags)
                offset = int(f.record_offset)
                n_records = int(f.number_records)
        except ptufile.PqFileError as exc:
            if "magic" in str(exc):
                raise ReaderError(
                    path,
                    "not a readable PTU file: it does not start with PicoQuant's PQTTTR mark; "
                    "is it a PicoQuant .ptu?",
                ) from exc
            raise
    # ptufile logs a tag type it does not know and stops reading the header there.
    broken = [r.getMessage() for r in notes if r.levelno >= logging.ERROR and "invalid tag" in r.getMessage()]
    if broken:
        raise ReaderError(path, f"the PTU header is corrupt or truncated ({one_line(broken[0])}); {REREAD}")
    if notes:
        tags["qdcat_reader_notes"] = [r.getMessage() for r in notes]
    return tags, offset, n_records


class PtuSource:
    """An opened PTU file: header now, records decoded lazily in blocks."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ReaderError(self.path, "file not found")
        tags, self._offset, n_records = _read_header(self.path)
        record_type = int(_tag(self.path, tags, "TTResultFormat_TTTRRecType", (int,), required=True))
        if record_type not in _RECORD_TYPES:
            raise ReaderError(
                self.path,
                f"PTU record type {record_type:#x} is not a T2/T3 TTTR type qdcat reads "
                "(histogram-mode files hold no photon records)",
            )
        mode, family, v1 = _RECORD_TYPES[record_type]
        self._family, self._v1 = family, v1
        global_res_s = _unit_tag(self.path, tags, "MeasDesc_GlobalResolution", required=True)
        assert global_res_s is not None
        # The TCSPC bin width: the nanotime unit of T3 records; in T2 files it is not used.
        tcspc_res_s = _unit_tag(self.path, tags, "MeasDesc_Resolution", required=False, zero_ok=mode == "T2")
        syncrate = _tag(
            self.path, tags, "TTResult_SyncRate", (int, float), required=False, within=(0.0, 1e11)
        )
        # Not f.acquisition_time: ptufile computes it by decoding every record (a second pass
        # over a 10^9-event file, and subject to its T2 overflow bug). The tags say how long the
        # acquisition ran (in ms).
        stop_ms = _tag(
            self.path, tags, "TTResult_StopAfter", (int, float), required=False, within=(0.0, 1e10)
        )
        if not stop_ms:
            stop_ms = _tag(
                self.path, tags, "MeasDesc_AcquisitionTime", (int, float), required=False, within=(0.0, 1e10)
            )
        acq_s = float(stop_ms) * 1e-3 if stop_ms else None
        size = self.path.stat().st_size
        available = (size - self._offset) // 4
        if available < n_records:
            raise ReaderError(
                self.path,
                f"file is truncated: its header promises {n_records} records but only {available} are "
                "present; copy the complete file from the acquisition computer",
            )
        self._n_records = n_records
        self._res_ps = global_res_s * 1e12
        self.header = FileHeader(
            path=self.path,
            format="ptu",
            mode=mode,
            resolution_ps=self._res_ps,
            nanotime_resolution_ps=tcspc_res_s * 1e12 if (mode == "T3" and tcspc_res_s) else None,
            sync_rate_hz=float(syncrate) if syncrate else None,
            acquisition_s=acq_s,
            hardware=_str(tags.get("HW_Type")),
            software=" ".join(
                x for x in (_str(tags.get("CreatorSW_Name")), _str(tags.get("CreatorSW_Version"))) if x
            )
            or None,
            record_type=_record_name(record_type),
            n_records=n_records,
            tags=jsonable(tags),
        )

    def _to_ps(self, t_units: np.ndarray, record: int) -> np.ndarray:
        res = self._res_ps
        if t_units.size and (int(t_units[-1]) < 0 or float(t_units[-1]) * res >= _MAX_PS):
            raise ReaderError(
                self.path,
                f"records before record {record} decode to times beyond the int64 picosecond range "
                f"(~106 days): the file holds garbage records; {REREAD}",
            )
        if abs(res - round(res)) < 1e-6 * max(res, 1.0):
            return t_units * np.int64(round(res))
        # T3 sync periods need not be whole picoseconds (e.g. 76 MHz): round
        # each macrotime to the nearest ps; exact in float64 below ~2.5 h at 1 ps.
        return np.rint(t_units * res).astype(np.int64)

    def iter_blocks(self, block_records: int = DEFAULT_BLOCK_RECORDS) -> Iterator[EventBlock]:
        decode = getattr(kernels, self._family)
        t3 = self.header.mode == "T3"
        out_t = np.empty(block_records + 4, np.int64)
        out_c = np.empty(block_records + 4, np.uint8)
        out_n = np.empty(block_records + 4, np.uint16)
        ofl = np.int64(0)
        last = None
        events = 0
        with format_boundary(self.path, "the PTU records cannot be read"), self.path.open("rb") as fh:
            fh.seek(self._offset)
            remaining = self._n_records
            while remaining > 0:
                want = min(block_records, remaining)
                first_record = self._n_records - remaining
                raw = np.fromfile(fh, dtype="<u4", count=want)
                if raw.shape[0] != want:
                    raise ReaderError(self.path, "file ended early while reading records (truncated?)")
                remaining -= want
                pos = 0
                while pos < raw.shape[0]:
                    if self._family == "hydraharp_t2":  # v1 T2 overflows have their own period
                        used, n, ofl = decode(raw[pos:], ofl, self._v1, out_t, out_c, out_n)
                    else:
                        used, n, ofl = decode(raw[pos:], ofl, out_t, out_c, out_n)
                    pos += used
                    if n:
                        # Time units only grow in a sound file (overflows are resolved in 64 bits);
                        # garbage records jump back, or run past int64 (checked in _to_ps).
                        t_units = out_t[:n]
                        back = np.flatnonzero(t_units[1:] < t_units[:-1])
                        if last is not None and t_units[0] < last:
                            back = np.zeros(1, np.int64) - 1
                        if back.size:
                            raise ReaderError(
                                self.path,
                                f"the decoded times go backwards at event {events + int(back[0]) + 1} "
                                f"(records {first_record}..{first_record + pos}): the file holds garbage "
                                f"records; {REREAD}",
                            )
                        last = int(t_units[-1])
                        events += n
                        yield EventBlock(
                            timestamps_ps=self._to_ps(t_units, first_record + pos),
                            channels=out_c[:n].copy(),
                            nanotimes=out_n[:n].copy() if t3 else None,
                        )


@contextmanager
def _collect_log(name: str, into: list[logging.LogRecord]) -> Iterator[None]:
    """Keep a library's log messages (ptufile reports recoverable header
    oddities, e.g. tags out of order) in the header snapshot instead of
    printing them at the user."""

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record)

    log = logging.getLogger(name)
    handler = _Collect()
    old_propagate, old_level = log.propagate, log.level
    log.addHandler(handler)
    log.propagate = False
    # Whatever level someone set on the library's logger, its warnings and errors are ours to
    # see: an "invalid tag type" error means the header was read only in part.
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = old_propagate
        log.setLevel(old_level)


# What ptufile makes of each PTU tag type, to name a retyped tag in the file's own terms.
_PTU_TYPES = {bool: "Bool8", int: "Int8", float: "Float8", str: "AnsiString", type(None): "Empty8"}


def _tag(
    path: Path,
    tags: dict[str, Any],
    name: str,
    types: tuple[type, ...],
    *,
    required: bool,
    within: tuple[float, float] | None = None,
) -> Any:
    """A header tag that must be a number of one of ``types`` (bool is never a number here),
    ``within`` the given bounds."""
    if name not in tags:
        if required:
            raise ReaderError(
                path, f"the PTU header has no {name} tag: the header is corrupt or truncated; {REREAD}"
            )
        return None
    value = tags[name]
    if isinstance(value, bool) or not isinstance(value, types):
        stored = _PTU_TYPES.get(type(value), type(value).__name__)
        wanted = " or ".join(_PTU_TYPES[t] for t in types)
        raise ReaderError(
            path,
            f"tag {name} is stored as {stored} ({one_line(repr(value), 60)}), not as {wanted}: "
            f"the PTU header is corrupt; {REREAD}",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ReaderError(
            path, f"tag {name} is {value!r}, not a finite number: the PTU header is corrupt; {REREAD}"
        )
    if within is not None and not within[0] <= cast(float, value) <= within[1]:
        raise ReaderError(
            path,
            f"tag {name} = {value!r} lies outside {within[0]:g}..{within[1]:g}: the PTU header is corrupt; "
            f"{REREAD}",
        )
    return value


def _unit_tag(
    path: Path, tags: dict[str, Any], name: str, *, required: bool, zero_ok: bool = False
) -> float | None:
    """A time unit in seconds (Float8), between 0.01 ps and 10 s; ``zero_ok``: 0 means unknown."""
    value = _tag(path, tags, name, (float,), required=required)
    if value is None or (zero_ok and value == 0.0):
        return None
    value = float(value)
    lo, hi = UNIT_RANGE_PS
    if not lo * 1e-12 <= value <= hi * 1e-12:
        raise ReaderError(
            path,
            f"tag {name} = {value!r} s is not a time unit a time tagger uses (0.01 ps to 10 s): "
            f"the PTU header is corrupt; {REREAD}",
        )
    return value


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _record_name(code: int) -> str:
    try:
        import ptufile

        return ptufile.PtuRecordType(code).name
    except Exception:
        return f"{code:#x}"


def open_ptu(path: str | Path) -> PtuSource:
    return PtuSource(path)
