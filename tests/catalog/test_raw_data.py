"""Rows and raw data change together: commits, failures, crashes, deletes, fsck."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from qdcat.catalog.api import (
    AlreadyIngestedError,
    Catalog,
    MeasurementSpec,
    SettingsSpec,
    SourceFile,
)
from qdcat.catalog.models import AnalysisRun, AnalysisRunInput, AssetState, RawAsset, RunStatus
from qdcat.errors import IntegrityError, InvalidValueError, StoreError

SPEC = MeasurementSpec(
    kind="g2_cw",
    specimen="slide-1",
    dot="d1",
    setup="hbt",
    settings=SettingsSpec(excitation_wavelength_nm=445, excitation_mode="cw", intensity_w_cm2=200),
)


def _events(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(5e6, n)).astype(np.int64)
    ch = rng.integers(0, 2, n).astype(np.uint8)
    return t, ch


def _source(name: str, payload: bytes) -> SourceFile:
    return SourceFile(name, hashlib.sha256(payload).hexdigest(), len(payload), "ptu")


def _asset_rows(cat: Catalog) -> list[tuple[str, str]]:
    with cat.session() as s:
        return [(a.state.value, a.store_path) for a in s.scalars(select(RawAsset))]


def _store_groups(cat: Catalog) -> list[str]:
    return cat.store.list_keys("raw")


def test_timetags_commit_with_measurement(populated: Catalog) -> None:
    t, ch = _events(50_000)
    with populated.new_timetag_measurement(
        SPEC, resolution_ps=1.0, source=_source("a.ptu", b"a"), chunk_events=4096
    ) as w:
        for i in range(0, t.size, 7_000):
            w.append(t[i : i + 7_000], ch[i : i + 7_000])
    mid = w.measurement_id
    assert mid is not None
    raw = populated.raw_asset(mid)
    assert raw["event_count"] == 50_000
    assert raw["channel_counts"] == {"0": int((ch == 0).sum()), "1": int((ch == 1).sum())}
    assert raw["source_sha256"] == hashlib.sha256(b"a").hexdigest()
    assert raw["stored_bytes"] > 0
    # the checksum in the catalog is that of the arrays, computed independently here
    digests = {
        "timestamps_ps": hashlib.sha256(t.astype("<i8").tobytes()).hexdigest(),
        "channels": hashlib.sha256(ch.tobytes()).hexdigest(),
    }
    expected = hashlib.sha256("".join(f"{k}:{digests[k]}\n" for k in sorted(digests)).encode()).hexdigest()
    assert raw["data_sha256"] == expected
    reader = populated.open_timetags(mid)
    got = reader.read_all()
    assert np.array_equal(got.timestamps_ps, t) and np.array_equal(got.channels, ch)
    assert _asset_rows(populated) == [("committed", raw["store_path"])]
    assert populated.fsck(checksums=True) == []


def test_same_source_twice_is_recognised_and_leaves_nothing(populated: Catalog) -> None:
    t, ch = _events(1000)
    src = _source("a.ptu", b"same bytes")
    with populated.new_timetag_measurement(SPEC, resolution_ps=1.0, source=src) as w:
        w.append(t, ch)
    assert populated.find_by_source(src.sha256) == w.measurement_id
    with pytest.raises(AlreadyIngestedError, match=f"as measurement {w.measurement_id}"):
        with populated.new_timetag_measurement(SPEC, resolution_ps=1.0, source=src) as w2:
            w2.append(t, ch)
    assert len(populated.list_measurements()) == 1
    assert len(_asset_rows(populated)) == 1 and len(_store_groups(populated)) == 1


def test_failure_mid_write_leaves_no_rows_and_no_bytes(populated: Catalog) -> None:
    t, ch = _events(20_000)
    with pytest.raises(InvalidValueError, match="not sorted"):
        with populated.new_timetag_measurement(SPEC, resolution_ps=1.0, chunk_events=1024) as w:
            w.append(t[:10_000], ch[:10_000])  # several chunks already on disk
            w.append(t[:10], ch[:10])  # goes back in time
    with pytest.raises(RuntimeError):
        with populated.new_timetag_measurement(SPEC, resolution_ps=1.0, chunk_events=1024) as w:
            w.append(t, ch)
            raise RuntimeError("reader crashed")
    assert populated.list_measurements() == []
    assert _asset_rows(populated) == [] and _store_groups(populated) == []


def test_unknown_dot_fails_before_any_byte_is_written(populated: Catalog) -> None:
    spec = MeasurementSpec(kind="g2_cw", specimen="slide-1", dot="nope")
    with pytest.raises(Exception, match="unknown dot"):
        with populated.new_timetag_measurement(spec, resolution_ps=1.0):
            pytest.fail("body must not run")
    assert _asset_rows(populated) == [] and _store_groups(populated) == []


def test_spectrum_arrays(populated: Catalog) -> None:
    wl = np.linspace(550, 700, 1340)
    counts = 100 + 5000 * (9.7**2) / ((wl - 629) ** 2 + 9.7**2)
    mid = populated.add_array_measurement(
        MeasurementSpec(kind="spectrum", specimen="slide-1", dot="d1"),
        {"wavelength_nm": wl, "counts": counts},
        source=_source("d1.csv", b"spec"),
    )
    got = populated.read_arrays(mid)
    assert np.array_equal(got["wavelength_nm"], wl) and np.array_equal(got["counts"], counts)
    assert populated.raw_asset(mid)["event_count"] == 1340
    with pytest.raises(InvalidValueError, match="wavelength_nm and counts"):
        populated.add_array_measurement(
            MeasurementSpec(kind="spectrum", specimen="slide-1"), {"x": wl, "counts": counts}
        )
    with pytest.raises(InvalidValueError, match="not time tags"):
        populated.open_timetags(mid)


def test_delete_sample_removes_rows_runs_and_bytes(populated: Catalog) -> None:
    t, ch = _events(5000)
    ids = []
    for i in range(3):
        with populated.new_timetag_measurement(
            SPEC, resolution_ps=1.0, source=_source(f"{i}", bytes([i]))
        ) as w:
            w.append(t, ch)
        ids.append(w.measurement_id)
    with populated.session() as s:
        run = AnalysisRun(
            analysis="g2_cw_fit",
            analysis_version="1",
            params={},
            params_hash="p",
            inputs_hash="i",
            input_checksums={},
            qdcat_version="0",
            status=RunStatus.DONE,
        )
        run.inputs = [AnalysisRunInput(measurement_id=ids[0])]
        s.add(run)
    assert len(_store_groups(populated)) == 3
    populated.delete_sample("InP-A", force=True)
    # rows and runs go at once; the raw data wait in the trash, whole, until it is emptied
    assert [st for st, _ in _asset_rows(populated)] == ["trashed"] * 3
    with populated.session() as s:
        assert s.scalar(select(func.count(AnalysisRun.id))) == 0
    assert populated.fsck(checksums=True) == []
    populated.empty_trash(older_than=dt.timedelta(0))
    assert _asset_rows(populated) == [] and _store_groups(populated) == []
    assert populated.fsck() == []


def test_interrupted_delete_is_finished_by_gc(populated: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    t, ch = _events(1000)
    with populated.new_timetag_measurement(SPEC, resolution_ps=1.0) as w:
        w.append(t, ch)
    populated.delete_measurement(w.measurement_id)
    # emptying the trash crashes between the row transaction and the byte removal
    monkeypatch.setattr(Catalog, "_purge_deleting", lambda self, ids=None: [])
    populated.empty_trash(older_than=dt.timedelta(0))
    monkeypatch.undo()
    assert [s for s, _ in _asset_rows(populated)] == ["deleting"]
    assert len(_store_groups(populated)) == 1
    assert "deletion not finished" in populated.fsck()[0].problem
    rep = populated.collect_garbage()
    assert len(rep.removed_deleting) == 1
    assert _asset_rows(populated) == [] and _store_groups(populated) == []


def test_fsck_finds_missing_and_damaged_data(populated: Catalog) -> None:
    t, ch = _events(30_000)
    mids = []
    for i in range(2):
        with populated.new_timetag_measurement(
            SPEC, resolution_ps=1.0, source=_source(f"{i}", bytes([i]))
        ) as w:
            w.append(t + i, ch)
        mids.append(w.measurement_id)
    root = Path(populated.config.store_url)
    # damage: flip a byte inside a stored chunk of the first measurement
    key0 = populated.raw_asset(mids[0])["store_path"]
    chunk = next(p for p in (root / key0 / "channels").rglob("*") if p.is_file() and p.name != "zarr.json")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the compressed events, not the padding
    chunk.write_bytes(bytes(data))
    # loss: the second measurement's group disappears
    key1 = populated.raw_asset(mids[1])["store_path"]
    populated.store.delete(key1)
    problems = {p.measurement_id: p.problem for p in populated.fsck(checksums=True)}
    assert "missing" in problems[mids[1]]
    assert mids[0] in problems  # either a decode error or a checksum mismatch
    with pytest.raises((IntegrityError, StoreError, Exception)):
        populated.store.verify(key0, populated.raw_asset(mids[0])["data_sha256"])


_KILLED_INGEST = textwrap.dedent(
    """
    import sys, time, numpy as np
    from qdcat.catalog.api import open_catalog, MeasurementSpec
    from qdcat.config import Config
    cfg = Config(home=sys.argv[1], database_url=sys.argv[2], store_url=sys.argv[3])
    cat = open_catalog(config=cfg)
    t = np.arange(0, 400_000, dtype=np.int64) * 1000
    ch = (t % 2).astype(np.uint8)
    spec = MeasurementSpec(kind="g2_cw", specimen="slide-1", dot="d1")
    with cat.new_timetag_measurement(spec, resolution_ps=1.0, chunk_events=10_000) as w:
        w.append(t[:200_000], ch[:200_000])
        print("WRITING", flush=True)
        time.sleep(60)
        w.append(t[200_000:], ch[200_000:])
    """
)


def test_kill_9_mid_ingest_leaves_catalog_consistent(populated: Catalog, tmp_path: Path) -> None:
    cfg = populated.config
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, str(cfg.home), cfg.database_url, cfg.store_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "WRITING", line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
    # The measurement never appeared; what is left is a pending asset and its bytes.
    assert populated.list_measurements() == []
    [(state, key)] = _asset_rows(populated)
    assert state == AssetState.PENDING.value and _store_groups(populated) == [key]
    assert not populated.store.is_committed(key)
    with pytest.raises(StoreError, match="incomplete write"):
        populated.store.open_timetags(key)
    # gc sees the writer is dead (same host, pid gone) and removes both
    time.sleep(0.1)
    rep = populated.collect_garbage()
    assert rep.removed_pending == [key]
    assert _asset_rows(populated) == [] and _store_groups(populated) == []
    assert populated.fsck() == []


def test_zarr_temporaries_left_by_a_killed_writer(populated: Catalog) -> None:
    """A kill during zarr's atomic metadata write leaves `<name>.<uuid>.partial` behind."""
    t, ch = _events(1000)
    with populated.new_timetag_measurement(SPEC, resolution_ps=1.0) as w:
        w.append(t, ch)
    root = Path(populated.config.store_url)
    leftover = root / "raw" / "zarr.0123abcd.partial"
    leftover.write_text("{")
    assert populated.store.list_keys("raw") == [populated.raw_asset(w.measurement_id)["store_path"]]
    assert populated.fsck() == []  # not data, not a problem
    populated.collect_garbage()
    assert leftover.exists()  # fresh: a writer might be about to rename it
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    rep = populated.collect_garbage()
    assert rep.removed_orphans == ["raw/zarr.0123abcd.partial"] and not leftover.exists()
    assert populated.fsck(checksums=True) == []
