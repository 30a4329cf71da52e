"""PTU decoding against the verified counts, ptufile, and the exact edge-case oracles."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from qdcat.errors import ReaderError
from qdcat.ingest.ptu import open_ptu
from qdcat.ingest.ptu_write import write_ptu_t2

# Photon counts per detector from shared/data/timetags/VERIFIED.txt
# (decoded there with ptufile 2026.2.6, independently of qdcat).
VERIFIED = {
    "psd_picoharp_v30_t2.ptu": ("T2", {0: 531477, 1: 388700}, 0),
    "psd_hydraharp_v20_t2.ptu": ("T2", {0: 305565}, 0),
    "psd_hydraharp_v20_t3.ptu": ("T3", {0: 45012, 1: 32871}, 0),
    "psd_hydraharp_v10_t3.ptu": ("T3", {0: 48001, 1: 46559}, 0),
    "tttrlib_mt200_hh400_beads.ptu": ("T3", {0: 52833, 1: 20954}, 100),
}


def _decode(path: Path, block_records: int = 1 << 22):  # type: ignore[no-untyped-def]
    src = open_ptu(path)
    blocks = list(src.iter_blocks(block_records))
    t = np.concatenate([b.timestamps_ps for b in blocks]) if blocks else np.empty(0, np.int64)
    c = np.concatenate([b.channels for b in blocks]) if blocks else np.empty(0, np.uint8)
    n = np.concatenate([b.nanotimes for b in blocks]) if blocks and blocks[0].nanotimes is not None else None
    return src.header, t, c, n


@pytest.mark.parametrize("name", sorted(VERIFIED))
def test_real_files_match_verified_counts_and_ptufile(shared_timetags: Path, name: str) -> None:
    import ptufile

    mode, photons, markers = VERIFIED[name]
    header, t, c, nt = _decode(shared_timetags / name)
    assert header.mode == mode
    got = {int(k): int(v) for k, v in zip(*np.unique(c[c < 64], return_counts=True), strict=True)}
    assert got == photons
    assert int((c > 64).sum()) == markers
    assert t.dtype == np.int64 and c.dtype == np.uint8 and np.all(np.diff(t) >= 0)
    # the reference reader on the same file: same photons, same times, same nanotimes
    logging.getLogger("ptufile").setLevel(logging.CRITICAL)
    with ptufile.PtuFile(shared_timetags / name) as f:
        ref = f.decode_records()
    ph = ref["channel"] >= 0
    # ptufile reports T2 sync records as channel 0 (see edge-cases/README); these files have none
    ref_t = np.rint(ref["time"][ph].astype(np.float64) * header.resolution_ps).astype(np.int64)
    assert np.array_equal(t[c < 64], ref_t)
    assert np.array_equal(c[c < 64], ref["channel"][ph].astype(np.uint8))
    if mode == "T3":
        assert nt is not None and np.array_equal(nt[c < 64], ref["dtime"][ph])
        assert header.nanotime_resolution_ps and header.sync_rate_hz
    assert header.hardware and header.software and header.n_records == len(ref)


def test_block_size_does_not_change_the_result(shared_timetags: Path) -> None:
    whole = _decode(shared_timetags / "tttrlib_mt200_hh400_beads.ptu")
    small = _decode(shared_timetags / "tttrlib_mt200_hh400_beads.ptu", block_records=997)
    for a, b in zip(whole[1:], small[1:], strict=True):
        assert np.array_equal(a, b)


def test_t2_overflow_counts_and_sync_records_exact(shared_timetags: Path) -> None:
    """Overflow records with counts 1, 127, 128, 5000, 2^25+3 and sync records (edge-cases/README)."""
    exp = np.load(shared_timetags / "edge-cases" / "t2_gaps_sync_expected.npz")
    _, t, c, _ = _decode(shared_timetags / "edge-cases" / "t2_gaps_sync.ptu")
    assert np.array_equal(t, exp["times_ps"])
    expected_channels = np.where(exp["channels"] < 0, 64, exp["channels"]).astype(np.uint8)
    assert np.array_equal(c, expected_channels)


def test_t3_sync_overflow_counts_exact(shared_timetags: Path) -> None:
    exp = np.load(shared_timetags / "edge-cases" / "t3_gaps_expected.npz")
    header, t, c, nt = _decode(shared_timetags / "edge-cases" / "t3_gaps.ptu")
    period_ps = 1e12 / header.sync_rate_hz
    assert np.array_equal(t, np.rint(exp["nsync"] * period_ps).astype(np.int64))
    assert np.array_equal(nt, exp["dtime"])
    assert np.array_equal(c, exp["channels"])


def test_writer_round_trip_with_long_gaps(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    t = np.cumsum(rng.exponential(3e6, n)).astype(np.int64)
    t[50_000:] += 7 * 10**12  # 7 s dark: one overflow record with count ~2e5 (>= 128)
    t[150_000:] += 3 * 10**15  # > (2^25 - 1) overflows: several overflow records
    ch = rng.integers(0, 2, n).astype(np.uint8)
    ch[::97] = 64  # sync
    ch[13] = 65  # marker 1
    blocks = [(t[a : a + 30_000], ch[a : a + 30_000]) for a in range(0, n, 30_000)]
    records = write_ptu_t2(tmp_path / "w.ptu", blocks, sync_rate_hz=1e7)
    header, got_t, got_c, _ = _decode(tmp_path / "w.ptu", block_records=10_007)
    assert header.n_records == records > n
    assert np.array_equal(got_t, t) and np.array_equal(got_c, ch)


def test_writer_output_reads_in_ptufile(tmp_path: Path) -> None:
    """An independent reader agrees on our files (short gaps only: ptufile's T2 overflow bug)."""
    import ptufile

    rng = np.random.default_rng(4)
    t = np.cumsum(rng.exponential(1e5, 50_000)).astype(np.int64)
    ch = rng.integers(0, 3, t.size).astype(np.uint8)
    write_ptu_t2(tmp_path / "s.ptu", [(t, ch)])
    with ptufile.PtuFile(tmp_path / "s.ptu") as f:
        ref = f.decode_records()
    ph = ref["channel"] >= 0
    assert np.array_equal(ref["time"][ph].astype(np.int64), t)
    assert np.array_equal(ref["channel"][ph].astype(np.uint8), ch)


def test_truncated_and_foreign_files(shared_timetags: Path, tmp_path: Path) -> None:
    data = (shared_timetags / "psd_picoharp_v30_t2.ptu").read_bytes()
    cut = tmp_path / "cut.ptu"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReaderError, match="truncated: its header promises 929254 records"):
        open_ptu(cut)
    half_header = tmp_path / "half.ptu"
    half_header.write_bytes(data[:1500])
    with pytest.raises(ReaderError, match=r"half\.ptu"):
        open_ptu(half_header)
    junk = tmp_path / "junk.ptu"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ReaderError, match="not a readable PTU file"):
        open_ptu(junk)
    with pytest.raises(ReaderError, match="file not found"):
        open_ptu(tmp_path / "absent.ptu")
