"""Legacy readers (HT3, PT3, T3R, SPC): real files against VERIFIED.txt, phconvert and the .asc oracle.

The expected figures come from ``shared/data/timetags/VERIFIED.txt`` (decoded there with phconvert
0.10.2 and tttrlib 0.26.2, independently of qdcat); synthetic PT3/HT3 files cover what no real
file here holds (PicoHarp records, markers, reserved records).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qdcat.errors import InvalidValueError, ReaderError
from qdcat.ingest.base import MARKER_BASE, EventBlock
from qdcat.ingest.legacy import open_legacy

# Per-detector counts exactly as VERIFIED.txt prints them (phconvert's detector ids; 127 is its
# HT3 overflow record). test_figures_are_those_of_verified_txt checks they are copied right.
VERIFIED = {
    "psd_hydraharp_v10.ht3": {0: 6, 1: 9, 2: 3, 3: 14, 127: 1018},
    "tttrlib_rh110_sm_000000.ht3": {
        0: 27752,
        1: 35982,
        2: 18399,
        3: 9128,
        4: 24769,
        5: 35082,
        6: 14341,
        7: 15570,
        127: 154905,
    },
    "psd_timeharp_v50.t3r": {0: 1426, 1: 85571},
    "phconvert_test_noise.spc": {0: 6114},
    "tttrlib_bh_spc132.spc": {0: 56499, 1: 23038, 8: 79468, 9: 24652},
    "tttrlib_bh_spc132_smDNA_m000.spc": {0: 48931, 1: 25863, 8: 71009, 9: 28635},
}

# What qdcat must return. HT3: everything but phconvert's 127 (overflow) records. T3R:
# phconvert's "detector" there is the record's valid bit (see qdcat.ingest.legacy), so its
# detector 1 is every photon (all on route 0) and detector 0 the 1426 special records: 1425
# overflows and one marker record with marker bits 1, 2 and 3 set (three marker events).
EXPECTED = {
    "psd_hydraharp_v10.ht3": {0: 6, 1: 9, 2: 3, 3: 14},
    "tttrlib_rh110_sm_000000.ht3": {
        k: v for k, v in VERIFIED["tttrlib_rh110_sm_000000.ht3"].items() if k != 127
    },
    "psd_timeharp_v50.t3r": {0: 85571, 65: 1, 66: 1, 67: 1},
    "phconvert_test_noise.spc": VERIFIED["phconvert_test_noise.spc"],
    "tttrlib_bh_spc132.spc": VERIFIED["tttrlib_bh_spc132.spc"],
    "tttrlib_bh_spc132_smDNA_m000.spc": VERIFIED["tttrlib_bh_spc132_smDNA_m000.spc"],
}
# psd_hydraharp_v10.ht3 is a 5000-byte excerpt of a 2-hour file: its header announces
# 72463591 records. Reading it is an explicit opt-in.
OPEN_KWARGS = {"psd_hydraharp_v10.ht3": {"allow_truncated": True}}


def read_all(source: object, block_records: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    blocks: list[EventBlock] = list(source.iter_blocks(block_records))  # type: ignore[attr-defined]
    assert all(0 < len(b) <= block_records for b in blocks)
    if not blocks:
        return np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.uint16)
    return (
        np.concatenate([b.timestamps_ps for b in blocks]),
        np.concatenate([b.channels for b in blocks]),
        np.concatenate([b.nanotimes for b in blocks]),  # type: ignore[misc]
    )


def counts_of(channels: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(channels, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


@pytest.fixture(scope="module")
def decoded(shared_timetags: Path) -> dict[str, tuple[object, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    out = {}
    for name in EXPECTED:
        source = open_legacy(shared_timetags / name, **OPEN_KWARGS.get(name, {}))
        out[name] = (source, read_all(source, 10_000))
    return out


# --- the real files ------------------------------------------------------------------------------


def test_figures_are_those_of_verified_txt(shared_timetags: Path) -> None:
    text = (shared_timetags / "VERIFIED.txt").read_text()
    for name, det in VERIFIED.items():
        line = next(line for line in text.splitlines() if line.startswith(name) and "det=" in line)
        assert f"det={det}" in line, name
        assert f"n={sum(det.values())}" in line, name


@pytest.mark.parametrize("name", list(EXPECTED))
def test_counts_match_verified(name: str, decoded: dict) -> None:
    source, (_, channels, _) = decoded[name]
    assert counts_of(channels) == EXPECTED[name]
    assert len(source) == sum(EXPECTED[name].values())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_events_follow_qdcat_conventions(name: str, decoded: dict) -> None:
    source, (timestamps, channels, nanotimes) = decoded[name]
    assert timestamps.dtype == np.int64 and channels.dtype == np.uint8 and nanotimes.dtype == np.uint16
    assert timestamps.shape == channels.shape == nanotimes.shape
    assert timestamps[0] >= 0 and np.all(np.diff(timestamps) >= 0)
    markers = channels >= MARKER_BASE
    assert np.all((channels < MARKER_BASE) | ((channels > MARKER_BASE) & (channels <= MARKER_BASE + 4)))
    assert np.all(nanotimes[markers] == 0)
    header = source.header
    assert header.mode == "T3" and header.format == Path(name).suffix[1:]
    assert header.resolution_ps > 0 and header.n_records >= len(timestamps)
    json.dumps(header.tags, allow_nan=False)  # plain JSON, no numpy scalars or bytes


def test_blocks_are_bounded_and_continuous(decoded: dict) -> None:
    source, (timestamps, _, _) = decoded["tttrlib_rh110_sm_000000.ht3"]
    blocks = list(source.iter_blocks(777))
    assert max(len(b) for b in blocks) == 777 and sum(len(b) for b in blocks) == len(timestamps)
    assert np.array_equal(np.concatenate([b.timestamps_ps for b in blocks]), timestamps)
    with pytest.raises(InvalidValueError):
        next(source.iter_blocks(0))


def test_headers(decoded: dict) -> None:
    ht3 = decoded["tttrlib_rh110_sm_000000.ht3"][0].header
    assert ht3.sync_rate_hz == 32000664 and ht3.resolution_ps == pytest.approx(1e12 / 32000664)
    assert ht3.nanotime_resolution_ps == 1.0 and ht3.n_records == 335928
    assert ht3.hardware.startswith("HydraHarp 400") and ht3.software == "SymPhoTime 5.2.4.0"
    t3r = decoded["psd_timeharp_v50.t3r"][0].header
    # TimeHarp 200 time tags count its 100 ns global clock, not sync pulses.
    assert t3r.resolution_ps == 100_000.0 and t3r.nanotime_resolution_ps == pytest.approx(70.237055)
    assert t3r.sync_rate_hz == 4999168 and t3r.acquisition_s == pytest.approx(9.344)
    spc = decoded["phconvert_test_noise.spc"][0].header
    assert spc.resolution_ps == 9500.0 and spc.hardware == "Becker & Hickl SPC-150"
    # TAC range 50.03 ns / gain 5 over 4096 ADC bins (the .set's SP_TAC_TC says 2.4430455e-12 s).
    assert spc.nanotime_resolution_ps == pytest.approx(2.4430456, abs=1e-6)
    # phconvert reads every boolean of the .set as True (bool(b"0")); the file says 0 here.
    assert spc.tags["setup"]["SP_REPEAT"] is False and spc.tags["setup"]["SP_STOPT"] is True
    bare = decoded["tttrlib_bh_spc132.spc"][0].header
    assert bare.nanotime_resolution_ps is None and "no .set" in bare.record_type


def test_ht3_matches_phconvert(shared_timetags: Path, decoded: dict) -> None:
    from phconvert import pqreader

    for name in ("psd_hydraharp_v10.ht3", "tttrlib_rh110_sm_000000.ht3"):
        source, (timestamps, channels, nanotimes) = decoded[name]
        times, dets, nanos, _, _ = pqreader.load_ht3(str(shared_timetags / name))
        photon = dets != 127  # phconvert keeps its overflow records as detector 127
        assert np.array_equal(channels, dets[photon]) and np.array_equal(nanotimes, nanos[photon])
        macrotimes = np.rint(timestamps / source.header.resolution_ps).astype(np.int64)
        if name == "psd_hydraharp_v10.ht3":  # genuine v1 overflows: one wrap each, as phconvert says
            assert np.array_equal(macrotimes, times[photon])
        else:  # compressed overflows (see below): same sync number within each wrap
            assert np.array_equal(macrotimes % 1024, times[photon] % 1024)


def test_ht3_overflow_records_carry_their_gap(shared_timetags: Path, decoded: dict) -> None:
    """Why rh110's overflow records count nsync + 1 wraps, not one each as phconvert reads them."""
    from phconvert import pqreader

    records = pqreader.ht3_reader(str(shared_timetags / "tttrlib_rh110_sm_000000.ht3"))[0].astype(np.int64)
    overflow = ((records >> 31) == 1) & (((records >> 25) & 0x3F) == 0x3F)
    # One wrap per record would need a record for every 32.8 µs wrap, photon or not; at ~1.2
    # photons per wrap a third of them would follow another overflow. None does.
    assert overflow.sum() == 154905 and not np.any(overflow[1:] & overflow[:-1])
    nsync = records & 0x3FF
    source, (timestamps, _, _) = decoded["tttrlib_rh110_sm_000000.ht3"]
    wraps = int((nsync[overflow] + 1).sum())
    assert source.header.tags["decode"]["n_sync_wraps"] == wraps
    assert timestamps[-1] <= (wraps + 1) * 1024 * source.header.resolution_ps
    assert timestamps[-1] / 1e12 == pytest.approx(90.2, abs=0.1)  # phconvert/tttrlib: 4.96 s


def test_t3r_matches_phconvert(shared_timetags: Path, decoded: dict) -> None:
    from phconvert import pqreader

    source, (timestamps, channels, nanotimes) = decoded["psd_timeharp_v50.t3r"]
    times, dets, nanos, _ = pqreader.load_t3r(str(shared_timetags / "psd_timeharp_v50.t3r"))
    valid = dets == 1  # phconvert's "detector" is the valid bit
    photon = channels < MARKER_BASE
    # reverse start–stop: qdcat stores the TAC reading flipped, 4095 − reading
    assert np.array_equal(nanotimes[photon], 4095 - nanos[valid])
    # phconvert also counts the marker record (the first record) as an overflow: one extra wrap.
    assert np.array_equal(timestamps[photon] // 100_000, times[valid] - 65536)
    stats = source.header.tags["decode"]
    assert stats["n_overflow_records"] + stats["n_marker_records"] == VERIFIED["psd_timeharp_v50.t3r"][0]
    assert timestamps[~photon].tolist() == [400_000] * 3  # the marker record: time tag 4


def test_spc_matches_asc_oracle(shared_timetags: Path, decoded: dict) -> None:
    source, (timestamps, _, nanotimes) = decoded["phconvert_test_noise.spc"]
    reference = np.loadtxt(shared_timetags / "phconvert_test_noise.asc", dtype=np.int64)  # macrotime nanotime
    unit = int(source.header.resolution_ps)
    assert reference.shape == (6114, 2) and np.all(timestamps % unit == 0)
    assert np.array_equal(timestamps // unit, reference[:, 0])
    assert np.array_equal(nanotimes, reference[:, 1])


@pytest.mark.parametrize("name", ["phconvert_test_noise.spc", "tttrlib_bh_spc132.spc"])
def test_spc_matches_phconvert(name: str, shared_timetags: Path, decoded: dict) -> None:
    from phconvert import bhreader

    source, (timestamps, channels, nanotimes) = decoded[name]
    path = shared_timetags / name
    if path.with_suffix(".set").is_file():
        data = bhreader.load_spc(str(path))["photon_data"]
    else:
        with path.open("rb") as f:
            data = bhreader._read_spc1xx_8xx(f)
    unit = int(source.header.resolution_ps)
    assert np.array_equal(timestamps // unit, data["timestamps"].astype(np.int64))
    assert np.array_equal(channels, data["detectors"]) and np.array_equal(nanotimes, data["nanotimes"])


def test_spc_set_file_is_optional(shared_timetags: Path, decoded: dict, tmp_path: Path) -> None:
    spc = tmp_path / "noise.spc"
    shutil.copyfile(shared_timetags / "phconvert_test_noise.spc", spc)
    bare = open_legacy(spc)  # no .set beside it: SPC-130/150 layout assumed
    assert bare.header.nanotime_resolution_ps is None and bare.header.hardware is None
    with_set = open_legacy(spc, set_file=shared_timetags / "phconvert_test_noise.set")
    assert with_set.header.hardware == "Becker & Hickl SPC-150"
    reference = decoded["phconvert_test_noise.spc"][1]
    for source in (bare, with_set):
        assert all(np.array_equal(a, b) for a, b in zip(read_all(source), reference, strict=True))


# --- synthetic files ---------------------------------------------------------------------------


def _fields(dtype: str, names: str) -> list[tuple[str, str]]:
    return [(name, dtype) for name in names.split()]


# The PicoQuant header layouts, as PicoQuant's demos (and phconvert's readers) define them.
_TEXT = [*_fields("S16", "Ident"), *_fields("S6", "FormatVersion"), *_fields("S18", "CreatorName"),
         *_fields("S12", "CreatorVersion"), *_fields("S18", "FileTime"), *_fields("S2", "CRLF"),
         *_fields("S256", "Comment")]  # fmt: skip
_TEXT_VALUES = {"FileTime": b"24/11/26 12:00:00", "CRLF": b"\r\n"}
_STOP = _fields("<u4", "StopAt") + _fields(
    "<i4", "StopOnOvfl Restart DispLinLog DispTimeAxisFrom DispTimeAxisTo DispCountAxisFrom DispCountAxisTo"
)
# Display curves, parameters and repeat settings: read by nobody, zero-filled.
_PADDING = bytes(8 * 8 + 3 * 12 + 4 * 4 + 20)
_HARDWARE_ID = (
    _fields("S16", "HardwareIdent") + _fields("S8", "HardwarePartNo") + _fields("<i4", "HardwareSerial")
)


def _record(fields: list[tuple[str, str]], **values: object) -> bytes:
    rec = np.zeros(1, np.dtype(fields))
    for key, value in values.items():
        rec[key] = value
    return rec.tobytes()


def pt3_file(records: list[int], *, version: bytes = b"2.0", n_records: int | None = None) -> bytes:
    """A PicoHarp 300 T3 file (PT3 2.0 layout) holding ``records``."""
    ints = "NumberOfCurves BitsPerRecord RoutingChannels NumberOfBoards ActiveCurve MeasurementMode SubMode"
    head = _record(
        _TEXT + _fields("<i4", ints + " RangeNo Offset AcquisitionTime") + _STOP,
        **_TEXT_VALUES, Ident=b"PicoHarp 300", FormatVersion=version, CreatorName=b"PicoHarp Software",
        CreatorVersion=b"2.3", BitsPerRecord=32, MeasurementMode=3, AcquisitionTime=1000,
    )  # fmt: skip
    hardware = _record(
        _HARDWARE_ID + _fields("<i4", "SyncDivider CFDZeroCross0 CFDLevel0 CFDZeroCross1 CFDLevel1")
        + _fields("<f4", "Resolution") + _fields("<i4", "RouterModelCode RouterEnabled"),
        HardwareIdent=b"PicoHarp 300", HardwarePartNo=b"930004", HardwareSerial=1017, SyncDivider=1,
        Resolution=0.004,
    )  # fmt: skip
    router = bytes(4 * 6 * 4)
    ttmode = _record(
        _fields("<i4", "ExtDevices Reserved1 Reserved2 InpRate0 InpRate1 StopAfter StopReason nRecords")
        + _fields("<i4", "ImgHdrSize"),
        InpRate0=40_000_000, StopAfter=1000, nRecords=len(records) if n_records is None else n_records,
    )  # fmt: skip
    return head + _PADDING + hardware + router + ttmode + np.asarray(records, "<u4").tobytes()


def ht3_file(records: list[int]) -> bytes:
    """A HydraHarp T3 file (HT3 1.0 layout, two inputs) holding ``records``."""
    head = _record(
        _TEXT + _fields("<i4", "NumberOfCurves BitsPerRecord ActiveCurve MeasurementMode SubMode Binning")
        + _fields("<f8", "Resolution") + _fields("<i4", "Offset Tacq") + _STOP,
        **_TEXT_VALUES, Ident=b"HydraHarp", FormatVersion=b"1.0", CreatorName=b"HydraHarp AcqUI",
        CreatorVersion=b"1.2", BitsPerRecord=32, MeasurementMode=3, Resolution=8.0, Tacq=1000,
    )  # fmt: skip
    hardware = _record(_HARDWARE_ID + _fields("<i4", "nModulesPresent"), HardwareIdent=b"HydraHarp 400")
    modules = bytes(10 * 8)
    hardware3 = _record(
        _fields("<f8", "BaseResolution") + _fields("<u8", "InputsEnabled")
        + _fields("<i4", "InpChansPresent RefClockSource ExtDevices MarkerSettings SyncDivider SyncCFDLevel "
                  "SyncCFDZeroCross SyncOffset"),
        BaseResolution=1.0, InputsEnabled=3, InpChansPresent=2, SyncDivider=1,
    )  # fmt: skip
    inputs = bytes(2 * 5 * 4)
    ttmode = _record(
        _fields("<i4", "SyncRate StopAfter StopReason ImgHdrSize") + _fields("<u8", "nRecords"),
        SyncRate=20_000_000, StopAfter=1000, nRecords=len(records),
    )  # fmt: skip
    body = np.asarray(records, "<u4").tobytes()
    return head + _PADDING + hardware + modules + hardware3 + inputs + ttmode + body


def pt3(chan: int, dtime: int, nsync: int) -> int:
    return (chan << 28) | (dtime << 16) | nsync


def ht3(special: int, chan: int, dtime: int, nsync: int) -> int:
    return (special << 31) | (chan << 25) | (dtime << 10) | nsync


def test_pt3_routing_markers_and_overflows(tmp_path: Path) -> None:
    from phconvert import pqreader

    records = [
        pt3(1, 100, 10),  # routing channel 1 -> detector 0
        pt3(2, 200, 20),  # -> 1
        pt3(15, 0b0101, 30),  # marker record, bits 1 and 3
        pt3(15, 0, 0),  # overflow: +65536 syncs
        pt3(4, 4095, 5),  # -> 3
        pt3(0, 7, 6),  # channel 0 does not exist on a PicoHarp: dropped
        pt3(15, 0, 0),
        pt3(1, 1, 65535),
    ]
    path = tmp_path / "synthetic.pt3"
    path.write_bytes(pt3_file(records))
    assert len(pqreader.pt3_reader(str(path))[0]) == len(records)  # phconvert reads our layout
    source = open_legacy(path)
    timestamps, channels, nanotimes = read_all(source)
    period = 25_000  # ps at 40 MHz
    assert channels.tolist() == [0, 1, 65, 67, 3, 0]
    assert (timestamps // period).tolist() == [10, 20, 30, 30, 65536 + 5, 2 * 65536 + 65535]
    assert nanotimes.tolist() == [100, 200, 0, 0, 4095, 1]
    header = source.header
    assert header.resolution_ps == period and header.nanotime_resolution_ps == 4.0
    assert header.sync_rate_hz == 40e6 and header.record_type == "PicoHarp 300 T3 (PT3 2.0)"
    assert header.tags["decode"]["n_dropped_records"] == 1
    # phconvert's load_pt3 takes the marker record for an overflow: later times gain 65536 syncs.
    times = pqreader.load_pt3(str(path))[0]
    assert times[4] == 2 * 65536 + 5


def test_pt3_errors(tmp_path: Path) -> None:
    path = tmp_path / "old.pt3"
    path.write_bytes(pt3_file([pt3(1, 0, 0)], version=b"1.0"))
    with pytest.raises(ReaderError, match=r"PT3 version 1\.0 is not supported by phconvert.*PTU"):
        open_legacy(path)
    path.write_bytes(pt3_file([pt3(1, 0, 0)] * 3, n_records=4))
    with pytest.raises(ReaderError, match="announces 4 records but the file holds 3"):
        open_legacy(path)


def test_ht3_markers_reserved_records_and_overflow_counts(tmp_path: Path) -> None:
    records = [
        ht3(0, 0, 11, 5),  # detector 0
        ht3(1, 63, 0, 0),  # overflow, nsync 0: one wrap
        ht3(0, 1, 12, 2),  # 1024 + 2
        ht3(1, 63, 0, 3),  # overflow, nsync 3: four wraps
        ht3(1, 0b1001, 0, 7),  # marker bits 1 and 4, at 5120 + 7
        ht3(0, 1, 13, 6),  # a photon one sync earlier than the marker: reordered
        ht3(1, 0, 0, 9),  # special record with channel 0: reserved in T3 mode, dropped
        ht3(0, 63, 14, 1023),  # detector 63 (the highest input)
    ]
    path = tmp_path / "synthetic.ht3"
    path.write_bytes(ht3_file(records))
    source = open_legacy(path)
    timestamps, channels, nanotimes = read_all(source, block_records=3)
    assert channels.tolist() == [0, 1, 1, 65, 68, 63]
    assert (timestamps // 50_000).tolist() == [5, 1026, 5126, 5127, 5127, 5120 + 1023]
    assert nanotimes.tolist() == [11, 12, 13, 0, 0, 14]
    stats = source.header.tags["decode"]
    assert stats["n_dropped_records"] == 1 and stats["markers_reordered"] > 0
    assert source.header.nanotime_resolution_ps == 8.0


@pytest.mark.parametrize(
    ("name", "keep"), [("tttrlib_rh110_sm_000000.ht3", 0), ("phconvert_test_noise.spc", 1)]
)
def test_truncated_files_can_be_read_on_request(
    name: str, keep: int, shared_timetags: Path, decoded: dict, tmp_path: Path
) -> None:
    data = (shared_timetags / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * 0.6) + keep])  # the SPC copy ends inside a record
    with pytest.raises(ReaderError, match="truncated"):
        open_legacy(path)
    source = open_legacy(path, allow_truncated=True)
    assert source.header.tags["truncated"]
    full = decoded[name][1]
    part = read_all(source)
    assert 0.5 * len(full[0]) < len(part[0]) < len(full[0])
    assert all(np.array_equal(p, f[: len(p)]) for p, f in zip(part, full, strict=True))


# --- damaged and unsupported files -------------------------------------------------------------


def _cut(fraction: float, extra: int = 0) -> object:
    return lambda data: data[: int(len(data) * fraction) + extra]


DAMAGED = [
    ("tttrlib_rh110_sm_000000.ht3", _cut(0.6), "truncated: the HT3 header announces 335928 records"),
    ("tttrlib_rh110_sm_000000.ht3", lambda data: data[:438], "truncated or corrupt"),  # header cut in half
    ("tttrlib_rh110_sm_000000.ht3", lambda data: data[:10], "too short to be a HT3 file"),
    ("psd_timeharp_v50.t3r", _cut(0.6), "truncated: the T3R header announces 86997 records"),
    ("psd_timeharp_v50.t3r", lambda data: data[:296], "truncated or corrupt"),
    # An SPC file has no record count: only a cut inside a record shows.
    ("phconvert_test_noise.spc", _cut(0.6, extra=1), "truncated mid-record"),
    ("phconvert_test_noise.spc", lambda data: data[:0], "holds no photon records"),
    ("phconvert_test_noise.spc", lambda data: bytes(4) + data[4:], "not a B&H FIFO header"),
]


@pytest.mark.parametrize(("name", "damage", "message"), DAMAGED)
def test_damaged_copies_raise_reader_error(
    name: str, damage: object, message: str, shared_timetags: Path, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(damage((shared_timetags / name).read_bytes()))  # type: ignore[operator]
    with pytest.raises(ReaderError, match=message) as info:
        open_legacy(path)
    assert info.value.path == path
    assert "\n" not in str(info.value)


def test_ht3_v2_is_refused_with_advice(shared_timetags: Path) -> None:
    with pytest.raises(ReaderError, match=r"HT3 version 2\.0 is not supported by phconvert.*save it as PTU"):
        open_legacy(shared_timetags / "psd_hydraharp_v20.ht3")


@pytest.mark.parametrize("suffix", [".ht3", ".pt3", ".t3r", ".spc"])
def test_random_bytes_raise_reader_error(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(1234).bytes(65536))
    with pytest.raises(ReaderError):
        open_legacy(path)


def test_spc_garbage_behind_a_plausible_header(tmp_path: Path) -> None:
    # An SPC file has no magic number: past a header word that looks right (13.5 ns macrotime
    # clock), garbage shows as multiple-overflow records adding up to impossible times.
    path = tmp_path / "noise.spc"
    path.write_bytes(np.uint32(0x80000087).tobytes() + np.random.default_rng(1).bytes(65536))
    with pytest.raises(ReaderError, match="beyond the int64 picosecond range"):
        open_legacy(path)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="no such file"):
        open_legacy(tmp_path / "missing.ht3")
    with pytest.raises(ReaderError, match="unknown legacy suffix"):
        open_legacy(tmp_path / "data.ptu")
    (tmp_path / "a.ht3").write_bytes(b"")
    with pytest.raises(InvalidValueError, match="set_file"):
        open_legacy(tmp_path / "a.ht3", set_file=tmp_path / "a.set")
    (tmp_path / "a.spc").write_bytes(bytes(8))
    with pytest.raises(ReaderError, match=r"no such \.set file"):
        open_legacy(tmp_path / "a.spc", set_file=tmp_path / "a.set")
