"""Decoders of PicoQuant 32-bit TTTR records (PTU payloads), with 64-bit overflow arithmetic.

Written here rather than taken from ``ptufile`` because ptufile (checked up to
2026.8.8) accumulates HydraHarp-v2/MultiHarp T2 overflow counts in 32 bits,
so an overflow record carrying >= 128 overflows (no event for >= 4.3 ms, ordinary
for a dark, blinking-off dot) corrupts every later timestamp, and it reports T2
sync records as detector channel 0. The tests check these kernels against
ptufile on ordinary files and against exact oracles on the edge cases.

Each kernel decodes records until they or the output space run out, carrying
the overflow offset from the previous call, writes (time in instrument units,
channel code, nanotime) per event and returns (records consumed, events
written, overflow offset); overflow records produce no event. Channel codes
follow qdcat.ingest.base: detector k -> k, sync -> 64, marker bits -> 64 + bit.
The overflow offset is an int64 in the compiled body and reaches Python as an ``int``.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

SYNC = 64
MARKER_BASE = 64

Records = npt.NDArray[np.uint32]
Times = npt.NDArray[np.int64]
Channels = npt.NDArray[np.uint8]
Nanotimes = npt.NDArray[np.uint16]


@numba.njit(cache=True, nogil=True)
def _emit_markers(
    bits: np.int64, t: np.int64, out_t: Times, out_c: Channels, out_n: Nanotimes, n: int, nt: int
) -> int:
    for b in range(4):
        if bits & (1 << b):
            out_t[n] = t
            out_c[n] = MARKER_BASE + b + 1
            out_n[n] = nt
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def picoharp_t2(
    records: Records, ofl: np.int64, out_t: Times, out_c: Channels, out_n: Nanotimes
) -> tuple[int, int, np.int64]:
    wrap = np.int64(210698240)
    n = 0
    cap = out_t.shape[0] - 4  # a marker record may expand to 4 events
    i = 0
    while i < records.shape[0] and n <= cap:
        rec = np.int64(records[i])
        i += 1
        time = rec & 0x0FFFFFFF
        chan = (rec >> 28) & 0xF
        if chan == 0xF:
            bits = rec & 0xF
            if bits == 0:
                ofl += wrap
            else:
                n = _emit_markers(bits, ofl + time, out_t, out_c, out_n, n, 0)
        else:
            out_t[n] = ofl + time
            out_c[n] = chan
            out_n[n] = 0
            n += 1
    return i, n, ofl


@numba.njit(cache=True, nogil=True)
def picoharp_t3(
    records: Records, ofl: np.int64, out_t: Times, out_c: Channels, out_n: Nanotimes
) -> tuple[int, int, np.int64]:
    wrap = np.int64(65536)
    n = 0
    cap = out_t.shape[0] - 4  # a marker record may expand to 4 events
    i = 0
    while i < records.shape[0] and n <= cap:
        rec = np.int64(records[i])
        i += 1
        nsync = rec & 0xFFFF
        dtime = (rec >> 16) & 0xFFF
        chan = (rec >> 28) & 0xF
        if chan == 0xF:
            if dtime == 0:
                ofl += wrap
            else:
                n = _emit_markers(dtime, ofl + nsync, out_t, out_c, out_n, n, 0)
        else:
            # PicoHarp T3 numbers its detector inputs 1..4
            out_t[n] = ofl + nsync
            out_c[n] = chan - 1
            out_n[n] = dtime
            n += 1
    return i, n, ofl


@numba.njit(cache=True, nogil=True)
def hydraharp_t2(
    records: Records, ofl: np.int64, version1: bool, out_t: Times, out_c: Channels, out_n: Nanotimes
) -> tuple[int, int, np.int64]:
    n = 0
    cap = out_t.shape[0] - 4  # a marker record may expand to 4 events
    i = 0
    while i < records.shape[0] and n <= cap:
        rec = np.int64(records[i])
        i += 1
        special = (rec >> 31) & 1
        chan = (rec >> 25) & 0x3F
        time = rec & 0x1FFFFFF
        if special:
            if chan == 0x3F:
                if version1:
                    ofl += np.int64(33552000)
                elif time == 0:
                    ofl += np.int64(33554432)
                else:
                    ofl += np.int64(33554432) * time  # 64-bit: counts >= 128 are fine
            elif chan == 0:
                out_t[n] = ofl + time
                out_c[n] = SYNC
                out_n[n] = 0
                n += 1
            else:
                n = _emit_markers(chan, ofl + time, out_t, out_c, out_n, n, 0)
        else:
            out_t[n] = ofl + time
            out_c[n] = chan
            out_n[n] = 0
            n += 1
    return i, n, ofl


@numba.njit(cache=True, nogil=True)
def hydraharp_t3(
    records: Records, ofl: np.int64, out_t: Times, out_c: Channels, out_n: Nanotimes
) -> tuple[int, int, np.int64]:
    n = 0
    cap = out_t.shape[0] - 4  # a marker record may expand to 4 events
    i = 0
    while i < records.shape[0] and n <= cap:
        rec = np.int64(records[i])
        i += 1
        special = (rec >> 31) & 1
        chan = (rec >> 25) & 0x3F
        dtime = (rec >> 10) & 0x7FFF
        nsync = rec & 0x3FF
        if special:
            if chan == 0x3F:
                # v2 files carry the overflow count in nsync (0 meaning 1). True v1
                # files always write 0 there, so the same rule reads them; and
                # SymPhoTime writes counts into files labelled v1 (seen in HT3:
                # ingest/legacy.py), which the v1 "always one" rule would compress.
                if nsync == 0:
                    ofl += np.int64(1024)
                else:
                    ofl += np.int64(1024) * nsync
            else:
                n = _emit_markers(chan, ofl + nsync, out_t, out_c, out_n, n, 0)
        else:
            out_t[n] = ofl + nsync
            out_c[n] = chan
            out_n[n] = dtime
            n += 1
    return i, n, ofl
