"""Damaged instrument files and manifests: refused at the format boundary, nothing kept — both backends.

A generated table of bad inputs per format, each made from a real instrument file in
``shared/data/timetags`` (no mocks: real bytes, patched): PTU header tags retyped, NaN, zero, negative
or 1e300, the header cut or garbled, garbage records, no photons; Photon-HDF5 groups and datasets
swapped, text where numbers belong, fields missing, no photons; HT3/T3R/SPC header fields, garbage,
no photons, a damaged ``.set``; ``--set-file`` for a file that is not ``.spc``; CSV and TOML manifests
with rows and values that do not fit. Every case must raise the right QdcatError with one line that
names the file (and the field, row or column), and leave the catalog as it was: no measurement,
nothing pending, ``fsck`` clean. A store on a full disk (a 2 MiB tmpfs) fails one file of a batch
with a clear message and lets the next one in.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import struct
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qdcat.catalog.api import Catalog, open_catalog
from qdcat.catalog.models import AssetState, RawAsset
from qdcat.cli import app
from qdcat.config import Config
from qdcat.errors import InvalidValueError, OutOfSpaceError, QdcatError, ReaderError
from qdcat.ingest.photon_hdf5 import write_photon_hdf5
from qdcat.ingest.pipeline import IngestItem, ingest_file, ingest_many, read_manifest
from qdcat.ingest.ptu_write import write_ptu_t2
from tests.conftest import BACKENDS

PTU_T3 = "psd_hydraharp_v20_t3.ptu"
PTU_T2 = "psd_hydraharp_v20_t2.ptu"
HDF5 = "tttrlib_smDNA_m000_converted.photon.hdf5"
HT3 = "psd_hydraharp_v10.ht3"  # a 5000-byte cut of a longer file: made whole below (1050 records)
T3R = "psd_timeharp_v50.t3r"
SPC, SET = "phconvert_test_noise.spc", "phconvert_test_noise.set"

Make = Callable[[Path, Path], Path]  # (shared timetags folder, scratch folder) -> the bad file


@dataclass(frozen=True)
class Bad:
    """One bad file: how to make it, what ingesting it must raise and say."""

    id: str
    make: Make
    says: str  # a regex the message must match
    error: type[QdcatError] = ReaderError
    set_file: bool = False  # ingest it with the real .set file as --set-file
    named: str = "file"  # the message names "file", or "set" (the .set file is the damaged one)


def _copy(data: Path, tmp: Path, name: str, suffix: str | None = None) -> Path:
    out = tmp / f"bad{suffix or Path(name).suffix}"
    shutil.copyfile(data / name, out)
    out.chmod(0o644)
    return out


def _bytes(name: str, change: Callable[[bytes], bytes], suffix: str | None = None) -> Make:
    def make(data: Path, tmp: Path) -> Path:
        out = tmp / f"bad{suffix or Path(name).suffix}"
        out.write_bytes(change((data / name).read_bytes()))
        return out

    return make


# --- PTU: the tagged header, tag by tag -------------------------------------------------------
# Each tag: 32-byte name, int32 index, uint32 type code, 8-byte value (or length of what follows).
FLOAT8, INT8, BOOL8, EMPTY8, ANSISTRING = 0x20000008, 0x10000008, 0x00000008, 0xFFFF0008, 0x4001FFFF
_SIZED = {ANSISTRING, 0x4002FFFF, 0xFFFFFFFF, 0x2001FFFF}


def _ptu_tags(data: bytes) -> tuple[dict[str, int], int]:
    """Offset of each tag (first occurrence) and of the first record."""
    pos, offsets = 16, dict[str, int]()
    while True:
        name = data[pos : pos + 32].split(b"\0", 1)[0].decode()
        typ = struct.unpack_from("<I", data, pos + 36)[0]
        offsets.setdefault(name, pos)
        pos += 48 + (struct.unpack_from("<q", data, pos + 40)[0] if typ in _SIZED else 0)
        if name == "Header_End":
            return offsets, pos


def ptu_tag(tag: str, value: float | int | None = None, typ: int | None = None, name: str = PTU_T3) -> Make:
    def change(data: bytes) -> bytes:
        out, at = bytearray(data), _ptu_tags(data)[0][tag]
        if typ is not None:
            struct.pack_into("<I", out, at + 36, typ)
        if value is not None:
            kind = "<d" if (typ or struct.unpack_from("<I", data, at + 36)[0]) == FLOAT8 else "<q"
            struct.pack_into(kind, out, at + 40, value)
        return bytes(out)

    return _bytes(name, change)


def ptu_records(change: Callable[[bytes], bytes], name: str = PTU_T3) -> Make:
    def whole(data: bytes) -> bytes:
        end = _ptu_tags(data)[1]
        return data[:end] + change(data[end:])

    return _bytes(name, whole)


def _noise(seed: int) -> Callable[[bytes], bytes]:
    return lambda records: np.random.default_rng(seed).bytes(len(records))


def ptu_header_only_no_records(data: Path, tmp: Path) -> Path:
    raw = (data / PTU_T3).read_bytes()
    offsets, end = _ptu_tags(raw)
    out = bytearray(raw[:end])
    struct.pack_into("<q", out, offsets["TTResult_NumberOfRecords"] + 40, 0)
    (tmp / "bad.ptu").write_bytes(bytes(out))
    return tmp / "bad.ptu"


def ptu_sync_only(data: Path, tmp: Path) -> Path:
    t = np.arange(1, 2001, dtype=np.int64) * 12_500
    write_ptu_t2(tmp / "bad.ptu", [(t, np.full(t.size, 64, np.uint8))], sync_rate_hz=80e6)
    return tmp / "bad.ptu"


GRES, RES = "MeasDesc_GlobalResolution", "MeasDesc_Resolution"
CORRUPT = "the PTU header is corrupt or truncated"
PTU_CASES = [
    Bad("global-res-1e300", ptu_tag(GRES, 1e300), rf"tag {GRES} = 1e\+300 s is not a time unit"),
    Bad("global-res-zero", ptu_tag(GRES, 0.0), rf"tag {GRES} = 0\.0 s is not a time unit"),
    Bad("global-res-negative", ptu_tag(GRES, -2e-7), rf"tag {GRES} = -2e-07 s"),
    Bad("global-res-nan", ptu_tag(GRES, math.nan), rf"tag {GRES} is nan, not a finite number"),
    Bad("global-res-inf", ptu_tag(GRES, math.inf), rf"tag {GRES} is inf, not a finite number"),
    Bad("global-res-1e-300", ptu_tag(GRES, 1e-300), rf"tag {GRES} = 1e-300 s"),
    Bad("global-res-as-int8", ptu_tag(GRES, 2, INT8), rf"{GRES} is stored as Int8 \(2\), not as Float8"),
    Bad("global-res-as-bool8", ptu_tag(GRES, 1, BOOL8), rf"{GRES} is stored as Bool8"),
    Bad("global-res-as-empty8", ptu_tag(GRES, typ=EMPTY8), rf"{GRES} is stored as Empty8"),
    Bad("global-res-as-string", ptu_tag(GRES, 8, ANSISTRING), CORRUPT),
    Bad("global-res-unknown-type", ptu_tag(GRES, typ=0x12345678), rf"{CORRUPT} \(invalid tag type"),
    Bad("t2-global-res-1e300", ptu_tag(GRES, 1e300, name=PTU_T2), rf"tag {GRES} = 1e\+300 s"),
    Bad("t2-global-res-nan", ptu_tag(GRES, math.nan, name=PTU_T2), rf"tag {GRES} is nan"),
    Bad("tcspc-res-nan", ptu_tag(RES, math.nan), rf"tag {RES} is nan"),
    Bad("tcspc-res-zero", ptu_tag(RES, 0.0), rf"tag {RES} = 0\.0 s is not a time unit"),
    Bad("tcspc-res-negative", ptu_tag(RES, -1e-11), rf"tag {RES} = -1e-11 s"),
    Bad("tcspc-res-1e300", ptu_tag(RES, 1e300), rf"tag {RES} = 1e\+300 s"),
    Bad("tcspc-res-as-int8", ptu_tag(RES, 64, INT8), rf"{RES} is stored as Int8 \(64\)"),
    Bad("sync-rate-negative", ptu_tag("TTResult_SyncRate", -5), r"TTResult_SyncRate = -5 lies outside"),
    Bad("stop-after-nan", ptu_tag("TTResult_StopAfter", math.nan, FLOAT8), r"TTResult_StopAfter is nan"),
    Bad(
        "record-type-as-float8",
        ptu_tag("TTResultFormat_TTTRRecType", 1.5, FLOAT8),
        r"TTTRRecType is stored as Float8",
    ),
    Bad(
        "record-type-unknown",
        ptu_tag("TTResultFormat_TTTRRecType", 2**40),
        r"record type 0x10000000000 is not a T2/T3",
    ),
    Bad("header-cut", _bytes(PTU_T3, lambda d: d[:3000]), rf"{CORRUPT} \(PqFileError: tag corrupted"),
    Bad("header-cut-after-magic", _bytes(PTU_T3, lambda d: d[:16]), rf"{CORRUPT} \(UnboundLocalError"),
    Bad("header-garbled", _bytes(PTU_T3, lambda d: d[:3000] + bytes(100) + d[3100:]), CORRUPT),
    Bad("empty-file", _bytes(PTU_T3, lambda d: b""), r"not a readable PTU file: it does not start with"),
    Bad(
        "records-cut",
        _bytes(PTU_T3, lambda d: d[: len(d) // 2]),
        r"file is truncated: its header promises 106349",
    ),
    Bad("garbage-records-t3", ptu_records(_noise(2)), r"times go backwards at event \d+.*garbage records"),
    Bad(
        "garbage-records-t2",
        ptu_records(lambda r: r[:40000] + _noise(3)(r[40000:80000]) + r[80000:], PTU_T2),
        r"go backwards at event \d+.*garbage records",
    ),
    Bad(
        "no-records",
        ptu_header_only_no_records,
        r"has no photons \(the file holds no records\); nothing to ingest",
    ),
    Bad(
        "sync-records-only",
        ptu_sync_only,
        r"has no photons \(only 2000 sync/marker events\); nothing to ingest",
    ),
]


# --- Photon-HDF5: the groups and datasets of a converted real file ----------------------------
GROUP = object()  # put a group where the field was


def h5_edit(*edits: tuple[str, Any]) -> Make:
    """Replace (or, with value None, delete) fields of a copy of the converted real file."""

    def make(data: Path, tmp: Path) -> Path:
        out = _copy(data, tmp, HDF5, ".h5")
        with h5py.File(out, "r+") as f:
            for name, value in edits:
                if name in f:
                    del f[name]
                if value is GROUP:
                    f.create_group(name)
                elif value is not None:
                    f[name] = value
        return out

    return make


def h5_no_photons(data: Path, tmp: Path) -> Path:
    out = _copy(data, tmp, HDF5, ".h5")
    with h5py.File(out, "r+") as f:
        for name in ("timestamps", "detectors", "nanotimes"):
            dtype = f["photon_data"][name].dtype
            del f["photon_data"][name]
            f["photon_data"].create_dataset(name, shape=(0,), dtype=dtype)
    return out


def h5_markers_only(data: Path, tmp: Path) -> Path:
    return write_photon_hdf5(
        tmp / "bad.h5", timestamps_ps=np.array([0, 8, 16]), channels=np.array([65, 65, 66]),
        resolution_ps=4.0, description="markers only",
    )  # fmt: skip


def h5_backwards(data: Path, tmp: Path) -> Path:
    out = _copy(data, tmp, HDF5, ".h5")
    with h5py.File(out, "r+") as f:
        f["photon_data/timestamps"][1000] = 0
    return out


N = 174438  # photons in the converted file
TS_UNIT, TCSPC_UNIT = "photon_data/timestamps_specs/timestamps_unit", "photon_data/nanotimes_specs/tcspc_unit"
REP = "photon_data/measurement_specs/laser_repetition_rate"
NOT_PH5 = "the file does not follow Photon-HDF5"
HDF5_CASES = [
    Bad(
        "timestamps-a-group",
        h5_edit(("photon_data/timestamps", GROUP)),
        rf"/photon_data/timestamps is a group where a dataset belongs: {NOT_PH5}",
    ),
    Bad(
        "photon-data-a-dataset",
        h5_edit(("photon_data", np.arange(10))),
        r"/photon_data is a dataset where a group belongs",
    ),
    Bad(
        "timestamps-specs-a-dataset",
        h5_edit(("photon_data/timestamps_specs", 3.0)),
        r"/photon_data/timestamps_specs is a dataset where a group belongs",
    ),
    Bad("unit-a-group", h5_edit((TS_UNIT, GROUP)), rf"/{TS_UNIT} is a group where a dataset belongs"),
    Bad("unit-as-bytes", h5_edit((TS_UNIT, b"1e-9")), rf"/{TS_UNIT} holds text b'1e-9', not a number"),
    Bad("unit-as-string", h5_edit((TS_UNIT, "13.5 ns")), rf"/{TS_UNIT} holds text b'13.5 ns', not a number"),
    Bad("unit-missing", h5_edit((TS_UNIT, None)), rf"/{TS_UNIT} is missing"),
    Bad("unit-nan", h5_edit((TS_UNIT, math.nan)), rf"/{TS_UNIT} is nan \(allowed"),
    Bad("unit-zero", h5_edit((TS_UNIT, 0.0)), rf"/{TS_UNIT} is 0\.0 \(allowed"),
    Bad("unit-negative", h5_edit((TS_UNIT, -1e-9)), rf"/{TS_UNIT} is -1e-09"),
    Bad("unit-1e300", h5_edit((TS_UNIT, 1e300)), rf"/{TS_UNIT} is 1e\+300"),
    Bad(
        "unit-two-values",
        h5_edit((TS_UNIT, np.array([1e-9, 2e-9]))),
        rf"/{TS_UNIT} holds 2 values where one number belongs",
    ),
    Bad(
        "detectors-a-group",
        h5_edit(("photon_data/detectors", GROUP)),
        r"/photon_data/detectors is a group where a dataset belongs",
    ),
    Bad(
        "detectors-as-text",
        h5_edit(("photon_data/detectors", np.full(N, b"a"))),
        rf"/photon_data/detectors has shape \({N},\) \|S1, not \({N},\) integers",
    ),
    Bad(
        "nanotimes-as-floats",
        h5_edit(("photon_data/nanotimes", np.zeros(N))),
        r"/photon_data/nanotimes has shape .* float64, not",
    ),
    Bad("nanotimes-a-group", h5_edit(("photon_data/nanotimes", GROUP)), r"/photon_data/nanotimes is a group"),
    Bad("tcspc-unit-as-bytes", h5_edit((TCSPC_UNIT, b"x")), rf"/{TCSPC_UNIT} holds text b'x'"),
    Bad("tcspc-unit-nan", h5_edit((TCSPC_UNIT, math.nan)), rf"/{TCSPC_UNIT} is nan"),
    Bad("tcspc-unit-1e300", h5_edit((TCSPC_UNIT, 1e300)), rf"/{TCSPC_UNIT} is 1e\+300"),
    Bad(
        "nanotimes-specs-a-dataset",
        h5_edit(("photon_data/nanotimes_specs", 1)),
        r"/photon_data/nanotimes_specs is a dataset where a group belongs",
    ),
    Bad("rep-rate-as-text", h5_edit((REP, b"80MHz")), rf"/{REP} holds text b'80MHz'"),
    Bad("rep-rate-negative", h5_edit((REP, -8e7)), rf"/{REP} is -80000000\.0"),
    Bad("rep-rate-a-group", h5_edit((REP, GROUP)), rf"/{REP} is a group"),
    Bad(
        "measurement-specs-a-dataset",
        h5_edit(("photon_data/measurement_specs", 1)),
        r"/photon_data/measurement_specs is a dataset",
    ),
    Bad(
        "duration-as-text",
        h5_edit(("acquisition_duration", b"long")),
        r"/acquisition_duration holds text b'long'",
    ),
    Bad("duration-nan", h5_edit(("acquisition_duration", math.nan)), r"/acquisition_duration is nan"),
    Bad("duration-negative", h5_edit(("acquisition_duration", -5.0)), r"/acquisition_duration is -5\.0"),
    Bad(
        "user-qdcat-a-dataset",
        h5_edit(("user", GROUP), ("user/qdcat", 5)),
        r"/user/qdcat is a dataset where a group belongs",
    ),
    Bad(
        "user-resolution-as-text",
        h5_edit(("user", GROUP), ("user/qdcat/resolution_ps", b"abc")),
        r"/user/qdcat/resolution_ps holds text b'abc'",
    ),
    Bad(
        "detector-id-as-text",
        h5_edit(("photon_data/detectors", None), ("setup/detectors/id", b"zz")),
        r"/setup/detectors/id holds text b'zz', not integers",
    ),
    Bad("no-photons", h5_no_photons, r"has no photons \(the file holds no records\); nothing to ingest"),
    Bad("markers-only", h5_markers_only, r"has no photons \(only 3 sync/marker events\)"),
    Bad("timestamps-backwards", h5_backwards, r"timestamps go backwards near record 0"),
    Bad(
        "file-cut",
        _bytes(HDF5, lambda d: d[: len(d) // 2], ".h5"),
        r"not a readable HDF5 file \(.*truncated file",
    ),
    Bad(
        "chunk-garbled",
        _bytes(HDF5, lambda d: d[:300000] + b"\xff" * 200 + d[300200:], ".h5"),
        r"records from 0 on are unreadable.*truncated or corrupt",
    ),
]


# --- HT3, T3R, SPC: fixed binary headers (offsets of phconvert's pqreader layouts) ------------
def patch(
    name: str,
    *fields: tuple[int, str, float | int],
    cut: int | None = None,
    tail: Callable[[bytes], bytes] | None = None,
) -> Make:
    def change(data: bytes) -> bytes:
        out = bytearray(data)
        if name == HT3:
            struct.pack_into("<Q", out, 792, 1050)  # nRecords: what the 5000-byte file holds
        for offset, fmt, value in fields:
            struct.pack_into(fmt, out, offset, value)
        out = out[:cut] if cut is not None else out
        if tail is not None:
            head = {HT3: 800, T3R: 592, SPC: 4}[name]
            out[head:] = tail(bytes(out[head:]))
        return bytes(out)

    return _bytes(name, change)


HT3_RESOLUTION, HT3_INPUTS, HT3_SYNC, HT3_RECORDS = (352, "<d"), (664, "<i"), (776, "<i"), (792, "<Q")
T3R_RESOLUTION, T3R_CLOCK, T3R_RECORDS = (536, "<f"), (540, "<i"), (584, "<i")


def spc_with_garbage_set(data: Path, tmp: Path) -> Path:
    out = _copy(data, tmp, SPC)
    out.with_suffix(".set").write_bytes(np.random.default_rng(8).bytes(7720))
    return out


LEGACY_CASES = [
    Bad(
        "ht3-resolution-nan",
        patch(HT3, (*HT3_RESOLUTION, math.nan)),
        r"HT3 header field Resolution gives a TCSPC bin width of nan ps",
    ),
    Bad(
        "ht3-resolution-zero",
        patch(HT3, (*HT3_RESOLUTION, 0.0)),
        r"HT3 header field Resolution gives a TCSPC bin width of 0\.0 ps",
    ),
    Bad("ht3-resolution-1e300", patch(HT3, (*HT3_RESOLUTION, 1e300)), r"bin width of 1e\+300 ps"),
    Bad("ht3-sync-rate-zero", patch(HT3, (*HT3_SYNC, 0)), r"sync rate of 0 Hz"),
    Bad(
        "ht3-inputs-huge",
        patch(HT3, (*HT3_INPUTS, 2**30)),
        r"phconvert could not read this HT3 file.*truncated or corrupt",
    ),
    Bad(
        "ht3-no-records",
        patch(HT3, (*HT3_RECORDS, 0), cut=800),
        r"has no photons \(the file holds no records\); nothing to ingest",
    ),
    Bad(
        "ht3-garbage-records",
        patch(HT3, tail=_noise(5)),
        r"photon timestamps go backwards: corrupt records",
    ),
    Bad("ht3-header-cut", patch(HT3, cut=500), r"phconvert could not read this HT3 file of 500 bytes"),
    Bad(
        "t3r-resolution-nan",
        patch(T3R, (*T3R_RESOLUTION, math.nan)),
        r"T3R header field hardware Resolution gives a TCSPC bin width of nan",
    ),
    Bad(
        "t3r-clock-negative",
        patch(T3R, (*T3R_CLOCK, -100)),
        r"T3R header gives a macrotime unit of -100000\.0 ps",
    ),
    Bad(
        "t3r-no-records",
        patch(T3R, (*T3R_RECORDS, 0), cut=592),
        r"has no photons \(the file holds no records\)",
    ),
    Bad("t3r-garbage-records", patch(T3R, tail=_noise(6)), r"corrupt records"),
    Bad(
        "spc-all-invalid",
        _bytes(SPC, lambda d: d[:4] + np.full(100, 0xC0000000, "<u4").tobytes()),
        r"has no photons: all 100 records are flagged invalid",
    ),
    Bad("spc-garbage-records", patch(SPC, tail=_noise(7)), r"timestamps .*: corrupt records"),
    Bad("spc-not-fifo", _bytes(SPC, lambda d: bytes(4) + d[4:]), r"not a B&H FIFO header"),
    Bad(
        "spc-garbage-set",
        spc_with_garbage_set,
        r"phconvert could not read this B&H \.set file",
        named="set",
    ),
]


# --- --set-file for a file that is not .spc ------------------------------------------------------
SET_FILE = r"--set-file \(set_file\) only applies to \.spc files; bad\.{} is a \.{}"
SET_FILE_CASES = [
    Bad(suffix, make, SET_FILE.format(suffix, suffix), error=InvalidValueError, set_file=True)
    for suffix, make in (
        ("ptu", lambda d, t: _copy(d, t, PTU_T3)),
        ("h5", lambda d, t: _copy(d, t, HDF5, ".h5")),
        ("ht3", patch(HT3)),
    )
]

FILE_CASES = [
    pytest.param(case, id=f"{fmt}-{case.id}")
    for fmt, cases in (
        ("ptu", PTU_CASES),
        ("hdf5", HDF5_CASES),
        ("legacy", LEGACY_CASES),
        ("set-file", SET_FILE_CASES),
    )
    for case in cases
]


@pytest.fixture(scope="module", params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """One catalog per backend (from conftest's templates) for the whole table: every refusal
    must leave it exactly as it was, so the cases share it instead of paying for a new database each."""
    home = tmp_path_factory.mktemp(f"bad-files-{request.param}")
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), home / "catalog.sqlite")
        url = f"sqlite:///{home / 'catalog.sqlite'}"
    else:
        server = request.getfixturevalue("pg")
        name = f"{server.template.removesuffix('_tmpl')}_bad_{uuid.uuid4().hex[:8]}"
        url = server.create(name, template=server.template)
        drop = lambda: server.drop(name)  # noqa: E731
    cat = open_catalog(config=Config(home=home, database_url=url, store_url=str(home / "store")))
    cat.add_sample("InP-A", "InP/ZnSe")
    cat.add_specimen("slide-1", "InP-A")
    yield cat
    cat.close()
    drop()


def assert_untouched(cat: Catalog) -> None:
    """No measurement, nothing pending or half-deleted, no store group without a row."""
    assert cat.list_measurements() == []
    with cat.session() as s:
        assert (
            s.scalars(select(RawAsset.store_path).where(RawAsset.state != AssetState.COMMITTED)).all() == []
        )
    assert cat.fsck() == []
    assert cat.store.list_keys("raw") == [] and cat.store.list_partials("raw") == []


def assert_one_line(message: str, names: Path, says: str) -> None:
    assert "\n" not in message and "Traceback" not in message, message
    assert str(names) in message, f"the message does not name {names}: {message}"
    assert re.search(says, message), f"{says!r} not in: {message}"


def restore(cat: Catalog) -> None:
    """Empty the shared catalog again, so that one leaking case does not fail the ones after it."""
    for m in cat.list_measurements():
        cat.delete_measurement(m["id"])
    cat.collect_garbage(all_pending=True, trash_retention=dt.timedelta(0))  # the trash too


@pytest.mark.parametrize("case", FILE_CASES)
def test_bad_file_is_refused_and_leaves_nothing(
    case: Bad, lab: Catalog, shared_timetags: Path, tmp_path: Path
) -> None:
    path = case.make(shared_timetags, tmp_path)
    set_file = _copy(shared_timetags, tmp_path, SET) if case.set_file else None
    item = IngestItem(path, "intensity_trace", "slide-1", set_file=set_file)
    try:
        with pytest.raises(case.error) as info:
            ingest_file(lab, item)
        named = path.with_suffix(".set") if case.named == "set" else path
        assert_one_line(str(info.value), named, case.says)
        if isinstance(info.value, ReaderError):
            assert info.value.path == named
        assert_untouched(lab)
    finally:
        restore(lab)


def test_a_batch_reports_each_bad_file_and_ingests_the_good_one(
    lab: Catalog, shared_timetags: Path, tmp_path: Path
) -> None:
    """One file's failure never stops a batch; each failure says what is wrong with which file."""
    bad = [PTU_CASES[0], PTU_CASES[-1], HDF5_CASES[0], LEGACY_CASES[0]]
    items = []
    for i, case in enumerate(bad):
        (tmp_path / str(i)).mkdir()
        items.append(IngestItem(case.make(shared_timetags, tmp_path / str(i)), "intensity_trace", "slide-1"))
    good = _copy(shared_timetags, tmp_path, PTU_T3)
    items.append(IngestItem(good, "intensity_trace", "slide-1"))
    try:
        out = ingest_many(lab, items)
        assert [o.status for o in out] == ["failed"] * len(bad) + ["ingested"]
        for case, item, outcome in zip(bad, items, out, strict=False):
            assert_one_line(outcome.message, item.path, case.says)
        assert [m["id"] for m in lab.list_measurements()] == [out[-1].measurement_id]
        assert lab.fsck() == []
    finally:  # the other cases of this module expect an empty catalog
        restore(lab)
    assert_untouched(lab)


def test_cli_prints_one_error_line_per_failed_file_and_no_traceback(
    lab: Catalog, shared_timetags: Path, tmp_path: Path
) -> None:
    files = []
    for i, case in enumerate((PTU_CASES[3], HDF5_CASES[4], LEGACY_CASES[0])):
        (tmp_path / str(i)).mkdir()
        files.append(str(case.make(shared_timetags, tmp_path / str(i))))
    cfg = lab.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    res = CliRunner().invoke(
        app, ["ingest", *files, "--kind", "intensity_trace", "--specimen", "slide-1"], env=env
    )
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all(e.startswith(f"error: {f}: ") for e, f in zip(errors, files, strict=True))
    assert "0 ingested, 0 skipped (already in the catalog), 3 failed" in res.stderr
    assert "Traceback" not in res.output
    res = CliRunner().invoke(
        app, ["ingest", files[0], "--kind", "intensity_trace", "--specimen", "slide-1", "--set-file",
              str(shared_timetags / SET)], env=env,
    )  # fmt: skip
    assert res.exit_code == 1 and "only applies to .spc files" in res.stderr, res.output
    assert_untouched(lab)


# --- manifests: refused row by row, column by column, before anything is ingested ---------------
COLUMNS = [
    "file", "kind", "specimen", "dot", "excitation_wavelength_nm", "excitation_mode", "repetition_rate_mhz",
    "intensity_w_cm2", "temperature_k", "integration_time_s", "started_at", "series_name", "series_index",
    "set_file",
]  # fmt: skip
GOOD_ROW = {"file": "a.ptu", "kind": "g2_cw", "specimen": "slide-1", "dot": "d1"}


def csv_row(**cells: str) -> str:
    """The header and one row: a good one with ``cells`` changed."""
    row = {**GOOD_ROW, **cells}
    return ",".join(COLUMNS) + "\n" + ",".join(row.get(c, "") for c in COLUMNS) + "\n"


# (case, one row's changed cells, the column the message must name, what it must say)
CSV_CELL_CASES = [
    ("empty-kind", {"kind": ""}, None, "kind missing or empty"),
    ("empty-file", {"file": " "}, None, "file missing or empty"),
    (
        "date-five-digit-year",
        {"started_at": "99999-01-01"},
        "started_at",
        "must be an ISO time.*'99999-01-01'",
    ),
    ("date-month-13", {"started_at": "2024-13-45"}, "started_at", "must be an ISO time.*'2024-13-45'"),
    ("date-a-word", {"started_at": "yesterday"}, "started_at", "must be an ISO time.*'yesterday'"),
    ("date-year-1", {"started_at": "0001-01-01"}, "started_at", "outside the years 1900–2999"),
    ("intensity-nan", {"intensity_w_cm2": "nan"}, "intensity_w_cm2", "must be finite, got 'nan'"),
    ("intensity-inf", {"intensity_w_cm2": "inf"}, "intensity_w_cm2", "must be finite, got 'inf'"),
    ("intensity-negative", {"intensity_w_cm2": "-3"}, "intensity_w_cm2", "must be >= 0, got -3"),
    ("intensity-a-word", {"intensity_w_cm2": "lots"}, "intensity_w_cm2", "must be a number, got 'lots'"),
    ("wavelength-zero", {"excitation_wavelength_nm": "0"}, "excitation_wavelength_nm", r"must be > 0"),
    ("wavelength-inf", {"excitation_wavelength_nm": "-inf"}, "excitation_wavelength_nm", "must be finite"),
    ("rep-rate-negative", {"repetition_rate_mhz": "-80"}, "repetition_rate_mhz", "must be > 0"),
    ("rep-rate-nan", {"repetition_rate_mhz": "NaN"}, "repetition_rate_mhz", "must be finite"),
    (
        "rep-rate-with-cw",
        {"excitation_mode": "cw", "repetition_rate_mhz": "80"},
        "repetition_rate_mhz",
        "cw excitation has no repetition rate",
    ),
    ("temperature-zero", {"temperature_k": "0"}, "temperature_k", "must be > 0"),
    ("integration-negative", {"integration_time_s": "-1"}, "integration_time_s", "must be > 0"),
    ("mode-unknown", {"excitation_mode": "laser"}, "excitation_mode", "excitation mode 'laser' is not valid"),
    ("kind-unknown", {"kind": "g3"}, "kind", "measurement kind 'g3' is not valid; choose one of"),
    (
        "series-index-fraction",
        {"series_name": "P", "series_index": "1.5"},
        "series_index",
        r"expected a whole number, got text \('1\.5'\)",
    ),
    ("series-index-negative", {"series_name": "P", "series_index": "-1"}, "series_index", "0..2"),
    ("series-name-alone", {"series_name": "P"}, None, "give both series_name and series_index"),
    (
        "set-file-for-ptu",
        {"set_file": "a.set"},
        "set_file",
        r"only applies to \.spc files; a\.ptu is a \.ptu",
    ),
]
# (case, the whole file, what the message must say after the manifest's path)
CSV_FILE_CASES = [
    ("more-cells", csv_row(set_file="a.set,extra"), r" row 1 \(line 2\): 15 cell\(s\) for 14 columns"),
    (
        "fewer-cells",
        "file,kind,specimen,dot\na.ptu,g2_cw,s\n",
        r" row 1 \(line 2\): 3 cell\(s\) for 4 columns",
    ),
    (
        "second-row",
        "file,kind,specimen\na.ptu,g2_cw,s\n# note\nb.ptu,g4,s\n",
        r" row 2 \(line 4\), column kind",
    ),
    (
        "column-twice",
        "file,kind,specimen,kind\na.ptu,g2_cw,s,decay\n",
        r" header \(line 1\): column 'kind' appears",
    ),
    (
        "column-without-name",
        "file,,kind,specimen\na.ptu,x,g2_cw,s\n",
        r" header \(line 1\): column 2 has no name",
    ),
    (
        "column-unknown",
        "file,kind,specimen,dott\na.ptu,g2_cw,s,d\n",
        r" header .*unknown column\(s\) \['dott'\]",
    ),
    ("column-kind-missing", "file,specimen\na.ptu,s\n", r" header \(line 1\): no kind column"),
    ("header-only", "file,kind,specimen\n", " has no rows"),
    ("not-text", None, r" cannot be read: UnicodeDecodeError"),
]

ENTRY = 'file = "a.ptu"\nkind = "decay"\nspecimen = "slide-1"\n'
M1 = r" \[\[measurement\]\] 1"
# (case, the whole file, what the message must say after the manifest's path)
TOML_CASES = [
    ("measurement-ints", "measurement = [1, 2]\n", rf"{M1}: must be a table .*got an integer \(1\)"),
    (
        "measurement-a-table",
        f"[measurement]\n{ENTRY}",
        r": measurement must be an array of tables .*got a table",
    ),
    ("measurement-text", 'measurement = "a.ptu"\n', r": measurement must be an array of tables .*got text"),
    (
        "defaults-text",
        f'defaults = "x"\n[[measurement]]\n{ENTRY}',
        r": defaults must be a table .*got text \('x'\)",
    ),
    (
        "set-file-int",
        f"[[measurement]]\n{ENTRY}set_file = 7\n",
        rf"{M1}, key set_file: expected a file path.*7",
    ),
    (
        "file-a-table",
        '[[measurement]]\nkind = "decay"\nspecimen = "s"\n[measurement.file]\nx = 1\n',
        rf"{M1}, key file: .*got a table",
    ),
    (
        "specimen-an-array",
        '[[measurement]]\nfile = "a.ptu"\nkind = "decay"\nspecimen = ["s"]\n',
        rf"{M1}, key specimen: expected text, got an array",
    ),
    (
        "kind-an-int",
        '[[measurement]]\nfile = "a.ptu"\nkind = 3\nspecimen = "s"\n',
        rf"{M1}, key kind: .*integer",
    ),
    (
        "dot-an-array",
        f"[[measurement]]\n{ENTRY}dot = ['d1']\n",
        rf"{M1}, key dot: expected text, got an array",
    ),
    ("dot-a-float", f"[[measurement]]\n{ENTRY}dot = 1.5\n", rf"{M1}, key dot: expected text, got a number"),
    (
        "intensity-a-bool",
        f"[[measurement]]\n{ENTRY}intensity_w_cm2 = true\n",
        rf"{M1}, key intensity_w_cm2: .*boolean",
    ),
    (
        "intensity-a-table",
        f"[[measurement]]\n{ENTRY}intensity_w_cm2 = {{ v = 5 }}\n",
        rf"{M1}, key intensity_w_cm2: .*table",
    ),
    (
        "defaults-nan",
        f"[defaults]\nintensity_w_cm2 = nan\n[[measurement]]\n{ENTRY}",
        r" \[defaults\], key intensity_w_cm2: .*finite",
    ),
    (
        "defaults-set-file",
        f'[defaults]\nset_file = "x.set"\n[[measurement]]\n{ENTRY}',
        r" \[defaults\], key set_file: only applies",
    ),
    (
        "started-a-time-of-day",
        f"[[measurement]]\n{ENTRY}started_at = 10:00:00\n",
        rf"{M1}, key started_at: .*time of day",
    ),
    (
        "started-year-1",
        f"[[measurement]]\n{ENTRY}started_at = 0001-01-01T00:00:00Z\n",
        rf"{M1}, key started_at: .*outside the years",
    ),
    (
        "series-index-a-float",
        f'[[measurement]]\n{ENTRY}series_name = "P"\nseries_index = 2.5\n',
        rf"{M1}, key series_index: .*whole number",
    ),
    (
        "second-entry",
        f"[[measurement]]\n{ENTRY}[[measurement]]\n{ENTRY}label = [1]\n",
        r" \[\[measurement\]\] 2, key label",
    ),
    ("unknown-field", f"[[measurement]]\n{ENTRY}dott = 'd'\n", rf"{M1}: unknown field\(s\) \['dott'\]"),
    ("unknown-top-level-key", '[[measurements]]\nfile = "a.ptu"\n', r": unknown key\(s\) \['measurements'\]"),
    ("kind-missing", '[[measurement]]\nfile = "a.ptu"\nspecimen = "s"\n', rf"{M1}: kind missing or empty"),
    ("no-entries", "[defaults]\nspecimen = 's'\n", r" has no \[\[measurement\]\] entries"),
    ("syntax", "[[measurement]\n", r" is not valid TOML"),
]

MANIFEST_CASES = [
    *(
        pytest.param(
            "m.csv", csv_row(**cells), r" row 1 \(line 2\)" + (f", column {col}: .*" if col else ": ") + says,
            id=f"csv-{name}",
        )
        for name, cells, col, says in CSV_CELL_CASES
    ),
    *(pytest.param("m.csv", text, says, id=f"csv-{name}") for name, text, says in CSV_FILE_CASES),
    *(pytest.param("m.toml", text, says, id=f"toml-{name}") for name, text, says in TOML_CASES),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "says"), MANIFEST_CASES)
def test_bad_manifest_names_row_and_column(name: str, text: str | None, says: str, tmp_path: Path) -> None:
    manifest = tmp_path / name
    if text is None:
        manifest.write_bytes(b"\xff\xfe\x00 not a text file")
    else:
        manifest.write_text(text)
    with pytest.raises(InvalidValueError) as info:
        read_manifest(manifest)
    # the manifest's path, then where in it: "m.csv row 2 (line 4), column kind: ..."
    assert_one_line(str(info.value), manifest, re.escape(str(manifest)) + says)


def test_bad_manifest_through_the_cli(tmp_path: Path) -> None:
    """The manifest is refused before any catalog is opened: one `error:` line, exit 1."""
    manifest = tmp_path / "session.csv"
    manifest.write_text(csv_row(set_file="a.set,extra"))
    env = {
        "QDCAT_HOME": str(tmp_path / "home"),
        "QDCAT_DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite'}",
    }
    res = CliRunner().invoke(app, ["ingest", "--manifest", str(manifest)], env=env)
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert f"{manifest} row 1 (line 2): 15 cell(s) for 14 columns" in res.stderr


# --- a full disk under the store ----------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a real ENOSPC, not a mock. Needs mount rights (root); skipped without them."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a 2 MiB tmpfs for the disk-full test: {done.stderr.strip() or done.stdout}"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


def test_full_disk_fails_one_file_and_the_batch_goes_on(
    small_disk: Path, database_url: str, shared_timetags: Path, tmp_path: Path
) -> None:
    store = small_disk / "store"
    cat = open_catalog(config=Config(home=tmp_path, database_url=database_url, store_url=str(store)))
    try:
        cat.add_sample("InP-A", "InP/ZnSe")
        cat.add_specimen("slide-1", "InP-A")
        big = shared_timetags / "psd_picoharp_v30_t2.ptu"  # 2.8 MB once stored: does not fit
        small = shared_timetags / PTU_T3  # 0.46 MB: fits once the big one's chunks are gone
        with pytest.raises(OutOfSpaceError) as info:
            ingest_file(cat, IngestItem(big, "intensity_trace", "slide-1"))
        message = str(info.value)
        assert isinstance(info.value, QdcatError) and isinstance(info.value, OSError)
        assert message == (
            f"no space left on device while writing {big} to the store at {store}; free space, then run "
            f"`qdcat gc` and ingest again (nothing of {big.name} was kept)"
        )
        assert_untouched(cat)
        out = ingest_many(
            cat, [IngestItem(big, "intensity_trace", "slide-1"), IngestItem(small, "decay", "slide-1")]
        )
        assert [o.status for o in out] == ["failed", "ingested"]
        assert out[0].message == message and out[1].events == 77883
        assert [m["id"] for m in cat.list_measurements()] == [out[1].measurement_id]
        assert cat.fsck(checksums=True) == []
        assert out[1].measurement_id is not None
        assert cat.store.list_keys("raw") == [cat.raw_asset(out[1].measurement_id)["store_path"]]
    finally:
        cat.close()
