"""Write PicoQuant PTU files (HydraHarp v2 T2 records), streamed.

Used by ``qdcat simulate`` so simulated data travel exactly the path real data
travel, and by the ingest benchmark to make large files. ptufile's own writer
produces T3 image files only, so the T2 record stream is encoded here, by the
PicoQuant unified-format rules: a 25-bit time field, overflow records carrying
their count (several when a gap exceeds 2^25 - 1 overflows), sync and marker
records with the special bit.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from qdcat.errors import InvalidValueError

RECORD_TYPE_HH2_T2 = 0x01010204
_WRAP = 33554432  # 2^25 time units per overflow
_MAX_COUNT = (1 << 25) - 1

_TY_EMPTY8 = 0xFFFF0008
_TY_BOOL8 = 0x00000008
_TY_INT8 = 0x10000008
_TY_FLOAT8 = 0x20000008
_TY_TDATETIME = 0x21000008
_TY_ANSISTRING = 0x4001FFFF


@numba.njit(cache=True, nogil=True)
def _encode_t2(
    times: npt.NDArray[np.int64], chans: npt.NDArray[np.uint8], ofl: np.int64, out: npt.NDArray[np.uint32]
) -> tuple[int, np.int64]:
    n = 0
    for i in range(times.shape[0]):
        t = times[i]
        gap = (t - ofl) // _WRAP
        while gap > 0:
            k = min(gap, _MAX_COUNT)
            out[n] = np.uint32((1 << 31) | (0x3F << 25) | k)
            n += 1
            ofl += k * _WRAP
            gap -= k
        rel = np.uint32(t - ofl)
        c = chans[i]
        if c < 64:
            out[n] = (np.uint32(c) << 25) | rel
        elif c == 64:
            out[n] = np.uint32(1 << 31) | rel
        else:  # marker bit j = c - 64
            out[n] = np.uint32(1 << 31) | (np.uint32(1 << (c - 65)) << 25) | rel
        n += 1
    return n, ofl


def _tag(ident: str, typ: int, value: bytes | int | float, idx: int = -1) -> bytes:
    head = ident.encode("ascii").ljust(32, b"\0") + struct.pack("<iI", idx, typ)
    if typ == _TY_ANSISTRING:
        assert isinstance(value, bytes)
        data = value + b"\0"
        data = data.ljust((len(data) + 7) // 8 * 8, b"\0")
        return head + struct.pack("<q", len(data)) + data
    if typ in (_TY_FLOAT8, _TY_TDATETIME):
        return head + struct.pack("<d", float(value))
    return head + struct.pack("<q", int(value))


def _header_tags(
    res: int, sync_rate_hz: float, acquisition_s: float, comment: str, extra_tags: dict[str, Any] | None
) -> list[bytes]:
    """The tags of a HydraHarp v2 T2 header (all but the record count and the end mark)."""
    now = dt.datetime.now()
    tdatetime = (now - dt.datetime(1899, 12, 30)).total_seconds() / 86400
    tags = [
        _tag("File_GUID", _TY_ANSISTRING, f"{{{uuid.uuid4()}}}".upper().encode()),
        _tag("File_CreatingTime", _TY_TDATETIME, tdatetime),
        _tag("File_Comment", _TY_ANSISTRING, comment.encode()),
        _tag("CreatorSW_Name", _TY_ANSISTRING, b"qdcat"),
        _tag("CreatorSW_Version", _TY_ANSISTRING, b"0.1"),
        _tag("Measurement_Mode", _TY_INT8, 2),
        _tag("Measurement_SubMode", _TY_INT8, 0),
        _tag("TTResultFormat_TTTRRecType", _TY_INT8, RECORD_TYPE_HH2_T2),
        _tag("TTResultFormat_BitsPerRecord", _TY_INT8, 32),
        _tag("HW_Type", _TY_ANSISTRING, b"HydraHarp"),
        _tag("MeasDesc_GlobalResolution", _TY_FLOAT8, res * 1e-12),
        _tag("MeasDesc_Resolution", _TY_FLOAT8, res * 1e-12),
        _tag("MeasDesc_AcquisitionTime", _TY_INT8, round(acquisition_s * 1000)),
        _tag("TTResult_StopAfter", _TY_INT8, round(acquisition_s * 1000)),
        _tag("TTResult_SyncRate", _TY_INT8, round(sync_rate_hz)),
    ]
    for key, value in (extra_tags or {}).items():
        if isinstance(value, bool):
            tags.append(_tag(key, _TY_BOOL8, int(value)))
        elif isinstance(value, int):
            tags.append(_tag(key, _TY_INT8, value))
        elif isinstance(value, float):
            tags.append(_tag(key, _TY_FLOAT8, value))
        else:
            tags.append(_tag(key, _TY_ANSISTRING, str(value).encode()))
    return tags


def write_ptu_t2(
    path: str | Path,
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    resolution_ps: float = 1.0,
    sync_rate_hz: float = 0.0,
    acquisition_s: float = 0.0,
    comment: str = "",
    extra_tags: dict[str, Any] | None = None,
) -> int:
    """Write blocks of (timestamps_ps, channels) as a HydraHarp v2 T2 PTU; returns records written.

    Channels follow qdcat's convention (detector k < 64, sync 64, marker 64 + j).
    The file appears atomically (written under a temporary name, then renamed).
    """
    path = Path(path)
    if resolution_ps <= 0 or abs(resolution_ps - round(resolution_ps)) > 1e-9:
        raise InvalidValueError(f"resolution_ps must be a positive whole number of ps, got {resolution_ps}")
    res = round(resolution_ps)
    tags = _header_tags(res, sync_rate_hz, acquisition_s, comment, extra_tags)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    n_total = 0
    try:
        with tmp.open("wb") as fh:
            fh.write(b"PQTTTR\0\0" + b"1.0.00\0\0")
            for t in tags:
                fh.write(t)
            count_pos = fh.tell() + 40  # value field of the next tag
            fh.write(_tag("TTResult_NumberOfRecords", _TY_INT8, 0))
            fh.write(_tag("Header_End", _TY_EMPTY8, 0))
            ofl = np.int64(0)
            last = -1
            for ts, ch in blocks:
                ts = np.asarray(ts, dtype=np.int64)
                if ts.size == 0:
                    continue
                if ts[0] < last or np.any(np.diff(ts) < 0):
                    raise InvalidValueError("timestamps must be non-decreasing")
                last = int(ts[-1])
                if np.any(ts % res):
                    raise InvalidValueError(f"timestamps are not multiples of the {res} ps resolution")
                units = ts // res
                # one record per event, plus one overflow record per event at most,
                # plus one more per 2^25 - 1 overflows inside a gap
                long_gaps = int((np.diff(units, prepend=ofl) // (_MAX_COUNT * _WRAP)).sum())
                out = np.empty(2 * ts.size + long_gaps + 64, np.uint32)
                n, ofl = _encode_t2(units, np.asarray(ch, dtype=np.uint8), ofl, out)
                out[:n].astype("<u4").tofile(fh)
                n_total += n
            fh.seek(count_pos)
            fh.write(struct.pack("<q", n_total))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n_total
