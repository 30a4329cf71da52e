"""PicoQuant PTU files (T2 and T3, every record type ptufile knows).

``ptufile`` parses the tagged header (resolution, sync rate, hardware,
software, all tags); the 32-bit records are read from disk in blocks and
decoded by qdcat's own kernels (see :mod:`qdcat._kernels.ptu` for why), so
memory stays bounded whatever the file size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from qdcat._json import jsonable
from qdcat._kernels import ptu as kernels
from qdcat.errors import ReaderError
from qdcat.ingest.base import DEFAULT_BLOCK_RECORDS, EventBlock, FileHeader

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


class PtuSource:
    """An opened PTU file: header now, records decoded lazily in blocks."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        notes: list[str] = []
        try:
            import ptufile

            with _collect_log("ptufile", notes), ptufile.PtuFile(self.path) as f:
                tags = dict(f.tags)
                record_type = int(f.record_type)
                self._offset = int(f.record_offset)
                n_records = int(f.number_records)
                global_res_s = float(f.global_resolution)
                tcspc_res_s = float(f.tcspc_resolution) if f.tcspc_resolution else None
                syncrate = float(f.syncrate) if f.syncrate else None
                # Not f.acquisition_time: ptufile computes it by decoding every
                # record (a second pass over a 10^9-event file, and subject to its
                # T2 overflow bug). The tags say how long the acquisition ran.
                stop_ms = tags.get("TTResult_StopAfter") or tags.get("MeasDesc_AcquisitionTime")
                acq_s = float(stop_ms) * 1e-3 if stop_ms else None
        except FileNotFoundError as exc:
            raise ReaderError(self.path, "file not found") from exc
        except Exception as exc:
            raise ReaderError(
                self.path, f"not a readable PTU file ({type(exc).__name__}: {exc}); is it a PicoQuant .ptu?"
            ) from exc
        if notes:
            tags["qdcat_reader_notes"] = notes
        if record_type not in _RECORD_TYPES:
            raise ReaderError(
                self.path,
                f"PTU record type {record_type:#x} is not a T2/T3 TTTR type qdcat reads "
                "(histogram-mode files hold no photon records)",
            )
        mode, family, v1 = _RECORD_TYPES[record_type]
        self._family, self._v1 = family, v1
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
            sync_rate_hz=syncrate,
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

    def _to_ps(self, t_units: np.ndarray) -> np.ndarray:
        res = self._res_ps
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
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            remaining = self._n_records
            while remaining > 0:
                want = min(block_records, remaining)
                raw = np.fromfile(fh, dtype="<u4", count=want)
                if raw.shape[0] != want:
                    raise ReaderError(self.path, "file ended early while reading records (truncated?)")
                remaining -= want
                pos = 0
                while pos < raw.shape[0]:
                    args = (raw[pos:], ofl)
                    if self._family == "hydraharp_t2":  # v1 T2 overflows have their own period
                        args = (raw[pos:], ofl, self._v1)
                    used, n, ofl = decode(*args, out_t, out_c, out_n)
                    pos += used
                    if n:
                        yield EventBlock(
                            timestamps_ps=self._to_ps(out_t[:n]),
                            channels=out_c[:n].copy(),
                            nanotimes=out_n[:n].copy() if t3 else None,
                        )


@contextmanager
def _collect_log(name: str, into: list[str]) -> Iterator[None]:
    """Keep a library's log messages (ptufile reports recoverable header
    oddities, e.g. tags out of order) in the header snapshot instead of
    printing them at the user."""

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record.getMessage())

    log = logging.getLogger(name)
    handler = _Collect()
    old_propagate = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = old_propagate


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
