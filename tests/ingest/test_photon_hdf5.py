"""Photon-HDF5: exact write -> read round trips, phconvert's validator, and the converted real files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qdcat.errors import InvalidValueError, ReaderError
from qdcat.ingest.base import EventBlock
from qdcat.ingest.photon_hdf5 import open_photon_hdf5, write_photon_hdf5

HEADER_FIELDS = ("format", "mode", "resolution_ps", "nanotime_resolution_ps", "sync_rate_hz", "acquisition_s",
                 "hardware", "software")  # fmt: skip


def read_all(path: Path, block_records: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    blocks = list(open_photon_hdf5(path).iter_blocks(block_records))
    assert all(0 < len(b) <= block_records for b in blocks)
    nanotimes = None if blocks[0].nanotimes is None else np.concatenate([b.nanotimes for b in blocks])
    return (
        np.concatenate([b.timestamps_ps for b in blocks]),
        np.concatenate([b.channels for b in blocks]),
        nanotimes,
    )


def assert_valid(path: Path) -> None:
    """phconvert's own validator, on a file handle we close (it leaves a path it opens open)."""
    import tables
    from phconvert.hdf5 import assert_valid_photon_hdf5

    with tables.open_file(str(path)) as f:
        assert_valid_photon_hdf5(f, warnings=False)


def t3_events(n: int = 20_000, period_ps: float = 12_500.0, seed: int = 7) -> dict[str, np.ndarray]:
    """Antibunching-like T3 data: sync numbers with gaps, two detectors, a sync-like marker."""
    rng = np.random.default_rng(seed)
    macrotimes = np.cumsum(rng.geometric(0.01, n)).astype(np.int64)
    return {
        "timestamps_ps": np.rint(macrotimes * period_ps).astype(np.int64),
        "channels": np.where(rng.random(n) < 0.01, 65, rng.integers(0, 2, n)).astype(np.uint8),
        "nanotimes": rng.integers(0, 4096, n).astype(np.uint16),
    }


@pytest.mark.parametrize("period_ps", [12_500.0, 1e12 / 76_012_345])  # whole ps, and 13155.8... ps
def test_t3_round_trip_is_exact_and_valid(period_ps: float, tmp_path: Path) -> None:
    events = t3_events(period_ps=period_ps)
    settings = {
        "resolution_ps": period_ps,
        "nanotime_resolution_ps": 3.0517578125,
        "sync_rate_hz": 1e12 / period_ps,
        "acquisition_s": 12.25,
        "hardware": "HydraHarp 400 (part 930011, serial 1011181)",
        "software": "SymPhoTime 5.2.4.0",
    }
    path = write_photon_hdf5(
        tmp_path / "t3.hdf5", **events, **settings, description="synthetic T3", author="qdcat tests",
        author_affiliation="lab", original_filename="dot7.ht3", channel_roles={0: "hbt_a", 1: "hbt_b"},
    )  # fmt: skip
    assert_valid(path)
    timestamps, channels, nanotimes = read_all(path, block_records=3_000)
    assert timestamps.dtype == np.int64 and channels.dtype == np.uint8 and nanotimes.dtype == np.uint16
    assert np.array_equal(timestamps, events["timestamps_ps"])
    assert np.array_equal(channels, events["channels"])
    assert np.array_equal(nanotimes, events["nanotimes"])
    header = open_photon_hdf5(path).header
    assert {k: getattr(header, k) for k in HEADER_FIELDS} == {
        "format": "photon-hdf5",
        "mode": "T3",
        **settings,
    }
    assert header.n_records == 20_000 and header.record_type == "Photon-HDF5 0.5 (generic)"
    assert header.tags["setup/detectors/label"] == ["hbt_a", "hbt_b", ""]  # ids 0, 1, 65
    assert header.tags["photon_data/nanotimes_specs/tcspc_num_bins"] == 4096
    assert header.tags["provenance/filename"] == "dot7.ht3"
    json.dumps(header.tags, allow_nan=False)


def test_t2_round_trip_from_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    timestamps = np.cumsum(rng.integers(1, 10**6, 5_000)).astype(np.int64)  # 1 ps tags
    channels = np.where(rng.random(5_000) < 0.3, 64, rng.integers(0, 2, 5_000)).astype(np.uint8)  # 64: sync

    def blocks() -> Iterator[EventBlock]:
        for start in range(0, 5_000, 1_234):
            yield EventBlock(timestamps[start : start + 1_234], channels[start : start + 1_234])

    path = write_photon_hdf5(tmp_path / "t2.h5", timestamps_ps=blocks(), resolution_ps=1.0, description="T2")
    assert_valid(path)
    got_t, got_c, got_n = read_all(path, block_records=999)
    assert np.array_equal(got_t, timestamps) and np.array_equal(got_c, channels) and got_n is None
    header = open_photon_hdf5(path).header
    assert header.mode == "T2" and header.resolution_ps == 1.0 and header.sync_rate_hz is None
    assert header.acquisition_s is None  # not given: the file's acquisition_duration is the span
    assert header.tags["acquisition_duration"] == pytest.approx((timestamps[-1] - timestamps[0]) * 1e-12)
    assert header.tags["setup/num_pixels"] == 2 and header.tags["setup/excitation_cw"] == [1]


def test_empty_and_marker_only_files(tmp_path: Path) -> None:
    empty = write_photon_hdf5(
        tmp_path / "empty.hdf5", timestamps_ps=np.empty(0, np.int64), channels=np.empty(0, np.uint8),
        resolution_ps=4.0, description="nothing detected",
    )  # fmt: skip
    assert_valid(empty)
    assert list(open_photon_hdf5(empty).iter_blocks()) == []
    markers = write_photon_hdf5(
        tmp_path / "markers.hdf5", timestamps_ps=np.array([0, 8, 8]), channels=np.array([65, 65, 66]),
        resolution_ps=4.0, description="markers only",
    )  # fmt: skip
    assert_valid(markers)
    assert read_all(markers)[1].tolist() == [65, 65, 66]


def test_writer_refuses_inconsistent_input(tmp_path: Path) -> None:
    ok = {"timestamps_ps": np.array([0, 10, 20]), "channels": np.array([0, 1, 0]), "description": "x"}
    with pytest.raises(InvalidValueError, match=r"not on the resolution_ps=4\.0 grid"):
        write_photon_hdf5(tmp_path / "a.hdf5", **ok, resolution_ps=4.0)
    with pytest.raises(InvalidValueError, match="not on the resolution_ps"):
        write_photon_hdf5(tmp_path / "a.hdf5", **ok, resolution_ps=1e12 / 76e6)
    with pytest.raises(InvalidValueError, match="non-decreasing"):
        write_photon_hdf5(
            tmp_path / "a.hdf5", **{**ok, "timestamps_ps": np.array([0, 20, 10])}, resolution_ps=10.0
        )
    with pytest.raises(InvalidValueError, match="differ in length"):
        write_photon_hdf5(tmp_path / "a.hdf5", **{**ok, "channels": np.array([0, 1])}, resolution_ps=10.0)
    with pytest.raises(InvalidValueError, match=r"0\.\.255"):
        write_photon_hdf5(
            tmp_path / "a.hdf5", **{**ok, "channels": np.array([0, 1, 256])}, resolution_ps=10.0
        )
    with pytest.raises(InvalidValueError, match="sync_rate_hz"):
        write_photon_hdf5(
            tmp_path / "a.hdf5",
            **ok,
            nanotimes=np.array([1, 2, 3]),
            resolution_ps=10.0,
            nanotime_resolution_ps=1.0,
        )
    with pytest.raises(InvalidValueError, match="nanotime_resolution_ps"):
        write_photon_hdf5(
            tmp_path / "a.hdf5", **ok, nanotimes=np.array([1, 2, 3]), resolution_ps=10.0, sync_rate_hz=1e8
        )
    assert not (tmp_path / "a.hdf5").exists()


def test_writer_does_not_overwrite_unless_asked(tmp_path: Path) -> None:
    ok = {"timestamps_ps": np.array([0, 10]), "channels": np.array([0, 1]), "resolution_ps": 10.0}
    path = write_photon_hdf5(tmp_path / "a.hdf5", **ok, description="first")
    with pytest.raises(
        InvalidValueError, match="exists; choose another file name, or replace it with --overwrite"
    ):
        write_photon_hdf5(path, **ok, description="second")
    write_photon_hdf5(path, **ok, description="second", overwrite=True)
    assert open_photon_hdf5(path).header.tags["description"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]  # no backup left behind


# --- the converted real files (figures from VERIFIED.txt) --------------------------------------

CONVERTED = {
    # name: (n, per-detector counts, timestamps unit in ps, nanotimes?)
    "psd_picoharp_v30_t2_converted.photon.hdf5": (920177, {0: 531477, 1: 388700}, 4.0, False),
    "tttrlib_smDNA_m000_converted.photon.hdf5": (
        174438, {0: 48931, 1: 25863, 8: 71009, 9: 28635}, 13_500.0, True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CONVERTED))
def test_converted_files_match_verified(name: str, shared_timetags: Path) -> None:
    n, detectors, unit_ps, has_nanotimes = CONVERTED[name]
    line = next(
        line for line in (shared_timetags / "VERIFIED.txt").read_text().splitlines() if line.startswith(name)
    )
    assert f"n={n}" in line and f"det={detectors}" in line and f"nanotimes={has_nanotimes}" in line
    path = shared_timetags / name
    timestamps, channels, nanotimes = read_all(path, block_records=100_000)
    values, counts = np.unique(channels, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == detectors
    assert len(timestamps) == n and (nanotimes is not None) == has_nanotimes
    assert np.all(np.diff(timestamps) >= 0)
    header = open_photon_hdf5(path).header
    assert header.resolution_ps == unit_ps and header.mode == ("T3" if has_nanotimes else "T2")
    # Independent of h5py: the raw counts as PyTables reads them, times the unit.
    import tables

    with tables.open_file(str(path)) as f:
        raw = f.root.photon_data.timestamps.read()
    assert np.array_equal(timestamps, raw * int(unit_ps))


def test_converted_t3_header(shared_timetags: Path) -> None:
    header = open_photon_hdf5(shared_timetags / "tttrlib_smDNA_m000_converted.photon.hdf5").header
    assert header.nanotime_resolution_ps == 3.2958984375 and header.sync_rate_hz == pytest.approx(74074074.07)
    assert header.software == "Becker & Hickl SPCM" and header.acquisition_s == 69.2


# --- damaged files -----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.6, 0.01, 0.0])
def test_truncated_hdf5_raises_reader_error(keep: float, shared_timetags: Path, tmp_path: Path) -> None:
    data = (shared_timetags / "psd_picoharp_v30_t2_converted.photon.hdf5").read_bytes()
    path = tmp_path / "cut.hdf5"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ReaderError, match="truncated or corrupt") as info:
        source = open_photon_hdf5(path)
        list(source.iter_blocks())
    assert info.value.path == path


def test_corrupt_data_chunk_raises_reader_error(tmp_path: Path) -> None:
    events = t3_events(n=50_000)
    path = write_photon_hdf5(
        tmp_path / "t3.hdf5", **events, resolution_ps=12_500.0, nanotime_resolution_ps=4.0, sync_rate_hz=8e7,
        description="to be damaged",
    )  # fmt: skip
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # zero a stretch of compressed chunks
    path.write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="truncated or corrupt"):
        for _ in open_photon_hdf5(path).iter_blocks(10_000):
            pass


def test_not_photon_hdf5(tmp_path: Path) -> None:
    import h5py

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ReaderError, match="no /photon_data group"):
        open_photon_hdf5(plain)
    noise = tmp_path / "noise.hdf5"
    noise.write_bytes(np.random.default_rng(5).bytes(10_000))
    with pytest.raises(ReaderError, match="not a readable HDF5 file"):
        open_photon_hdf5(noise)
    with pytest.raises(ReaderError, match="no such file"):
        open_photon_hdf5(tmp_path / "missing.hdf5")
