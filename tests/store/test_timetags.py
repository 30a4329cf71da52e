"""The zarr time-tag store on its own: exact round trips, ranges, immutability."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdcat.errors import InvalidValueError, StoreError
from qdcat.store import TimeTagStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TimeTagStore:
    """A local directory and an fsspec URL (in-memory filesystem), same behaviour."""
    if request.param == "local":
        return TimeTagStore(str(tmp_path / "store"))
    return TimeTagStore(f"memory://qdcat-test/{tmp_path.name}")


def _sorted_events(rng: np.random.Generator, n: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    gaps = rng.integers(0, 3, n) if ties else rng.exponential(2e6, n).astype(np.int64)
    t = np.cumsum(gaps).astype(np.int64) + 10**12
    ch = rng.integers(0, 4, n).astype(np.uint8)
    return t, ch


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 5000),
    chunk=st.integers(1, 700),
    cuts=st.lists(st.integers(0, 5000), max_size=6),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
)
def test_round_trip_any_split(
    tmp_path: Path, n: int, chunk: int, cuts: list[int], seed: int, ties: bool
) -> None:
    store = TimeTagStore(str(tmp_path / "s"))
    key = f"raw/{uuid.uuid4().hex}"  # the store (tmp_path) is shared by all examples
    rng = np.random.default_rng(seed)
    t, ch = _sorted_events(rng, n, ties)
    nt = rng.integers(0, 2**12, n).astype(np.uint16)
    bounds = sorted({0, n, *[c % (n + 1) for c in cuts]})
    with store.create_timetags(
        key, resolution_ps=1, chunk_events=chunk, chunks_per_batch=2, nanotime_dtype="uint16"
    ) as w:
        for a, b in itertools.pairwise(bounds):
            w.append(t[a:b], ch[a:b], nt[a:b])
        summary = w.commit()
    assert summary.event_count == n
    assert summary.channel_counts == {int(c): int((ch == c).sum()) for c in np.unique(ch)}
    r = store.open_timetags(key)
    parts = list(r.iter_chunks(chunks_per_batch=3))
    assert [p.start for p in parts] == list(range(0, n, 3 * chunk))
    got_t = np.concatenate([p.timestamps_ps for p in parts]) if parts else np.empty(0, np.int64)
    got_c = np.concatenate([p.channels for p in parts]) if parts else np.empty(0, np.uint8)
    got_n = np.concatenate([p.nanotimes for p in parts]) if parts else np.empty(0, np.uint16)
    assert np.array_equal(got_t, t) and np.array_equal(got_c, ch) and np.array_equal(got_n, nt)
    assert got_t.dtype == np.int64 and got_c.dtype == np.uint8 and got_n.dtype == np.uint16
    # the checksum is chunking-independent: a plain hash of the arrays
    assert summary.array_sha256["timestamps_ps"] == hashlib.sha256(t.tobytes()).hexdigest()
    assert store.verify(key) == summary.data_sha256
    if n:
        lo, hi = sorted(rng.integers(int(t[0]) - 5, int(t[-1]) + 5, 2).tolist())
        part = r.read_range(lo, hi)
        mask = (t >= lo) & (t < hi)
        assert np.array_equal(part.timestamps_ps, t[mask])
        assert np.array_equal(part.nanotimes, nt[mask])
        if mask.any():
            assert part.start == int(np.argmax(mask))


def test_read_range_edges(store: TimeTagStore) -> None:
    t = np.array([5, 5, 5, 10, 10, 20, 30, 30, 40], dtype=np.int64)
    with store.create_timetags("raw/e", resolution_ps=1, chunk_events=2) as w:
        w.append(t, np.zeros_like(t, dtype=np.uint8))
        w.commit()
    r = store.open_timetags("raw/e")
    for lo, hi in [(5, 6), (5, 10), (10, 10), (10, 30), (0, 100), (41, 50), (0, 5), (30, 31), (6, 9)]:
        assert np.array_equal(r.read_range(lo, hi).timestamps_ps, t[(t >= lo) & (t < hi)]), (lo, hi)


def test_unsorted_and_bad_input_rejected(store: TimeTagStore) -> None:
    with pytest.raises(InvalidValueError, match="not sorted"):
        with store.create_timetags("raw/u", resolution_ps=1) as w:
            w.append(np.array([3, 2], dtype=np.int64), np.zeros(2, np.uint8))
    assert not store.exists("raw/u")
    with store.create_timetags("raw/v", resolution_ps=1) as w:
        w.append(np.array([10, 20], dtype=np.int64), np.zeros(2, np.uint8))
        with pytest.raises(InvalidValueError, match="not sorted"):
            w.append(np.array([15], dtype=np.int64), np.zeros(1, np.uint8))
        with pytest.raises(InvalidValueError, match="0–255"):
            w.append(np.array([30], dtype=np.int64), np.array([256]))
        with pytest.raises(InvalidValueError, match="integers"):
            w.append(np.array([30.0]), np.array([1]))
        with pytest.raises(InvalidValueError, match="without nanotimes"):
            w.append(np.array([30]), np.array([1]), np.array([1]))
        w.abort()
    assert not store.exists("raw/v")


def test_committed_data_are_never_overwritten(store: TimeTagStore) -> None:
    with store.create_timetags("raw/c", resolution_ps=1) as w:
        w.append(np.arange(10, dtype=np.int64), np.zeros(10, np.uint8))
        w.commit()
        with pytest.raises(StoreError, match="committed"):
            w.abort()
    with pytest.raises(StoreError, match="never overwritten"):
        store.create_timetags("raw/c", resolution_ps=1)
    with pytest.raises(StoreError, match="never overwritten"):
        store.write_arrays("raw/c", {"x": np.arange(3)})
    assert len(store.open_timetags("raw/c")) == 10


def test_uncommitted_group_is_refused(store: TimeTagStore) -> None:
    w = store.create_timetags("raw/p", resolution_ps=1, chunk_events=4)
    w.append(np.arange(10, dtype=np.int64), np.zeros(10, np.uint8))
    # no commit: as after a crash
    assert store.exists("raw/p") and not store.is_committed("raw/p")
    with pytest.raises(StoreError, match="incomplete write"):
        store.open_timetags("raw/p")
    assert store.list_keys() == ["raw/p"]
    assert store.delete("raw/p") and store.list_keys() == []


def test_empty_acquisition(store: TimeTagStore) -> None:
    with store.create_timetags("raw/z", resolution_ps=4) as w:
        summary = w.commit()
    r = store.open_timetags("raw/z")
    assert summary.event_count == 0 and len(r) == 0 and list(r.iter_chunks()) == []
    assert len(r.read_range(0, 10)) == 0 and r.resolution_ps == 4


def test_bad_keys(store: TimeTagStore) -> None:
    for key in ["", "/abs", "raw/../x", "raw//x"]:
        with pytest.raises(InvalidValueError):
            store.create_timetags(key, resolution_ps=1)


def test_modified_at(store: TimeTagStore) -> None:
    """What garbage collection reads to leave fresh data alone: a UTC time, None when unknown."""
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    store.write_arrays("raw/a", {"x": np.arange(3.0)})
    when = store.modified_at("raw/a/zarr.json")
    assert when is not None and when.tzinfo is not None and before <= when <= dt.datetime.now(dt.UTC)
    assert store.modified_at("raw/missing") is None
    with pytest.raises(InvalidValueError):
        store.modified_at("raw/../a")


def test_compression_is_about_three_bytes_per_event(tmp_path: Path) -> None:
    """Delta + bitshuffle + zstd on ps time tags at 200 kcps/channel (cf. scripts/bench_store.py)."""
    store = TimeTagStore(str(tmp_path / "s"))
    rng = np.random.default_rng(7)
    n = 2_000_000
    t = np.cumsum(rng.exponential(1e12 / 4e5, n)).astype(np.int64)
    ch = rng.integers(0, 2, n).astype(np.uint8)
    with store.create_timetags("raw/b", resolution_ps=1) as w:
        w.append(t, ch)
        s = w.commit()
    per_event = s.stored_bytes / n
    assert 2.0 < per_event < 4.0, per_event


def test_groups_are_plain_zarr_v3(tmp_path: Path) -> None:
    """Chunks are written and read outside zarr's pipeline; zarr itself must read them identically."""
    import warnings

    import zarr

    store = TimeTagStore(str(tmp_path / "s"))
    rng = np.random.default_rng(2)
    t, ch = _sorted_events(rng, 10_000)
    nt = rng.integers(0, 4096, t.size).astype(np.uint16)
    ch[:4000] = 0  # whole chunks of fill value: zarr leaves them unwritten on the tail path
    with store.create_timetags("raw/z", resolution_ps=1, chunk_events=1000, nanotime_dtype="uint16") as w:
        w.append(t, ch, nt)
        w.commit()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
        group = zarr.open_group(str(tmp_path / "s"), path="raw/z", mode="r")
        assert group.metadata.zarr_format == 3
        assert np.array_equal(group["timestamps_ps"][:], t)
        assert np.array_equal(group["channels"][:], ch)
        assert np.array_equal(group["nanotimes"][:], nt)
    ours = store.open_timetags("raw/z").read_all()
    assert np.array_equal(ours.channels, ch) and np.array_equal(ours.timestamps_ps, t)
    fast = list(store.open_timetags("raw/z").iter_chunks(chunks_per_batch=3))
    assert np.array_equal(np.concatenate([c.channels for c in fast]), ch)
