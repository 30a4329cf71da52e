"""The h5py Photon-HDF5 writer, checked against phconvert, the independent reference (issue 15).

Every file the writer produces passes phconvert's validator (spec field names and kinds, every TITLE
equal to the spec's description, the root format fields), holds the fields, dtypes, values and
filters phconvert's own ``save_photon_hdf5`` writes for the same tree, and reads back bit for bit
with qdcat's reader and with PyTables. Writing never imports phconvert (a numba compile of seconds).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from qdcat.errors import InvalidValueError
from qdcat.ingest import photon_hdf5
from qdcat.ingest.base import EventBlock
from qdcat.ingest.photon_hdf5 import open_photon_hdf5, write_photon_hdf5

PHOTON_ARRAYS = ("photon_data/timestamps", "photon_data/detectors", "photon_data/nanotimes")
# Fields whose values necessarily differ from a phconvert-written file of the same tree.
PER_FILE = {f"identity/{name}" for name in ("creation_time", "filename_full", "software", "software_version")}


def _t3(n: int, period_ps: float, nanotime_top: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    syncs = np.cumsum(rng.geometric(0.02, n)).astype(np.int64)
    nanotime_dtype = np.uint16 if nanotime_top <= 2**16 else np.uint32
    return {
        "timestamps_ps": np.rint(syncs * period_ps).astype(np.int64),
        "channels": rng.integers(0, 2, n).astype(np.uint8),
        "nanotimes": rng.integers(0, nanotime_top, n).astype(nanotime_dtype),
    }


def _cases() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(11)
    t2 = np.cumsum(rng.integers(1, 10**6, 4_000)).astype(np.int64)
    with_markers = np.cumsum(rng.integers(0, 5_000, 3_000)).astype(np.int64) * 4
    period = 1e12 / 76_012_345  # 13155.8... ps: not a whole number of ps
    return {
        "t2-two-detectors": {
            "timestamps_ps": t2,
            "channels": rng.integers(0, 2, t2.size).astype(np.uint8),
            "resolution_ps": 1.0,
            "description": "T2, two HBT detectors",
            "channel_roles": {0: "hbt_a", 1: "hbt_b"},
        },
        "t3-nanotimes-sync-rate": {
            **_t3(6_000, period, 4096, seed=1),
            "resolution_ps": period,
            "nanotime_resolution_ps": 3.0517578125,
            "sync_rate_hz": 76_012_345.0,
            "acquisition_s": 12.25,
            "description": "T3 with nanotimes: µ-PL at 4 K",  # non-ASCII text too
            "author": "qdcat tests",
            "author_affiliation": "lab",
            "hardware": "HydraHarp 400",
            "software": "SymPhoTime 5.2.4.0",
            "original_filename": "dot7.ht3",
            "channel_roles": {0: "hbt_a", 1: "hbt_b"},
        },
        "t3-uint32-nanotimes": {
            **_t3(3_000, 12_500.0, 100_000, seed=2),
            "resolution_ps": 12_500.0,
            "nanotime_resolution_ps": 0.125,
            "sync_rate_hz": 8e7,
            "tcspc_num_bins": 1 << 17,
            "description": "T3, nanotimes beyond 16 bits",
        },
        "sync-and-marker-pseudo-detectors": {
            "timestamps_ps": with_markers,
            "channels": rng.choice(np.array([0, 1, 64, 65, 66], np.uint8), with_markers.size),
            "resolution_ps": 4.0,
            "description": "detectors, the sync (64) and markers (65, 66)",
            "channel_roles": {0: "hbt_a", 1: "hbt_b", 64: "sync"},
        },
        "empty": {
            "timestamps_ps": np.empty(0, np.int64),
            "channels": np.empty(0, np.uint8),
            "resolution_ps": 4.0,
            "description": "nothing detected",
        },
        "empty-t3": {
            "timestamps_ps": np.empty(0, np.int64),
            "channels": np.empty(0, np.uint8),
            "nanotimes": np.empty(0, np.uint16),
            "resolution_ps": 12_500.0,
            "nanotime_resolution_ps": 4.0,
            "sync_rate_hz": 8e7,
            "description": "",  # empty text as well
        },
        "markers-only": {
            "timestamps_ps": np.array([0, 8, 8]),
            "channels": np.array([65, 65, 66]),
            "resolution_ps": 4.0,
            "description": "markers only",
        },
        "one-event": {
            "timestamps_ps": np.array([2**62], np.int64),
            "channels": np.array([63], np.uint8),
            "resolution_ps": 2.0,
            "description": "one photon, late",
        },
    }


CASES = _cases()


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return CASES[request.param]


def assert_valid(path: Path) -> None:
    """phconvert's validator, strict: names, kinds, spec TITLEs and the root format fields."""
    import tables
    from phconvert.hdf5 import assert_valid_photon_hdf5

    with warnings.catch_warnings(record=True) as caught, tables.open_file(str(path)) as f:
        warnings.simplefilter("always")
        assert_valid_photon_hdf5(f, warnings=False, strict_description=True, require_rootformat=True)
    complaints = [str(w.message) for w in caught if "phconvert" in w.filename]
    assert not complaints


def read_all(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    source = open_photon_hdf5(path)
    blocks = list(source.iter_blocks(1_000))
    if not blocks:
        return np.empty(0, np.int64), np.empty(0, np.uint8), None
    nanotimes = None if blocks[0].nanotimes is None else np.concatenate([b.nanotimes for b in blocks])
    return (
        np.concatenate([b.timestamps_ps for b in blocks]),
        np.concatenate([b.channels for b in blocks]),
        nanotimes,
    )


def test_written_files_are_valid_and_read_back_bit_for_bit(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_photon_hdf5(tmp_path / "out.hdf5", **case)
    assert_valid(path)
    timestamps, channels, nanotimes = read_all(path)
    assert timestamps.dtype == np.int64 and channels.dtype == np.uint8
    assert np.array_equal(timestamps, case["timestamps_ps"]) and np.array_equal(channels, case["channels"])
    if case["timestamps_ps"].size and "nanotimes" in case:
        assert nanotimes is not None and nanotimes.dtype == case["nanotimes"].dtype
        assert np.array_equal(nanotimes, case["nanotimes"])
    header = open_photon_hdf5(path).header
    assert header.mode == ("T3" if "nanotimes" in case else "T2")
    assert header.resolution_ps == case["resolution_ps"]
    assert header.nanotime_resolution_ps == case.get("nanotime_resolution_ps")
    assert header.sync_rate_hz == case.get("sync_rate_hz")
    assert header.tags["description"] == case["description"]
    assert header.tags["identity/filename"] == "out.hdf5"  # the final name, not the temporary one
    assert header.tags["identity/software"] == "qdcat"

    # Independent of h5py and of qdcat's reader: the arrays as PyTables reads them.
    import tables

    with tables.open_file(str(path)) as f:
        counts = f.root.photon_data.timestamps.read()
        detectors = f.root.photon_data.detectors.read()
        assert counts.dtype == np.int64 and detectors.dtype == np.uint8
        assert np.array_equal(detectors, case["channels"])
        if float(case["resolution_ps"]).is_integer():
            assert np.array_equal(counts * int(case["resolution_ps"]), case["timestamps_ps"])
        if "nanotimes" in case:
            assert np.array_equal(f.root.photon_data.nanotimes.read(), case["nanotimes"])
        assert f.root.description.read() == case["description"].encode()  # bytes, as phconvert's files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.hdf5"]  # no temporary file left


def _nodes(path: Path) -> dict[str, Any]:
    with h5py.File(path) as f:
        out: dict[str, Any] = {"/": ("group", {k: path_attr(v) for k, v in f.attrs.items()})}

        def visit(name: str, obj: Any) -> None:
            title = path_attr(obj.attrs.get("TITLE"))
            if isinstance(obj, h5py.Dataset):
                filters = (obj.compression, obj.compression_opts, obj.shuffle, obj.fletcher32)
                out[name] = ("dataset", title, obj.dtype, obj.shape, obj.chunks, filters, obj[()])
            else:
                out[name] = ("group", title)

        f.visititems(visit)
    return out


def path_attr(value: Any) -> Any:
    return None if isinstance(value, h5py.Empty) else value


def test_same_layout_as_phconvert_writes(
    case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same tree through phconvert's save_photon_hdf5: the same fields, dtypes, values, TITLEs
    and filters (PyTables' own bookkeeping attributes aside)."""
    from phconvert.hdf5 import save_photon_hdf5

    trees: list[dict[str, Any]] = []
    real_save = photon_hdf5._save

    def capture(data: dict[str, Any], path: Path, overwrite: bool) -> None:
        trees.append(copy.deepcopy(data))
        real_save(data, path, overwrite)

    monkeypatch.setattr(photon_hdf5, "_save", capture)
    ours = write_photon_hdf5(tmp_path / "m.hdf5", **case)
    (tmp_path / "phconvert").mkdir()
    reference = tmp_path / "phconvert" / "m.hdf5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # provenance/filename is not on disk
        save_photon_hdf5(trees[0], h5_fname=str(reference), validate=True, warnings=False)

    got, want = _nodes(ours), _nodes(reference)
    assert sorted(got) == sorted(want)
    for key in ("format_name", "format_version", "format_url", "TITLE"):
        assert got["/"][1][key] == want["/"][1][key]
    for name in sorted(want):
        if name == "/" or name in PER_FILE:
            continue
        if want[name][0] == "group":
            assert got[name] == want[name], name
            continue
        _, title, dtype, shape, chunks, filters, value = got[name]
        _, ref_title, ref_dtype, ref_shape, ref_chunks, ref_filters, ref_value = want[name]
        assert (title, shape, filters) == (ref_title, ref_shape, ref_filters), name
        if not (ref_value.size == 0 and ref_dtype == np.uint8):  # PyTables stores empty arrays as uint8
            assert dtype == ref_dtype, name
        assert np.array_equal(value, ref_value, equal_nan=dtype.kind == "f"), name
        if name in PHOTON_ARRAYS:  # PyTables' chunk size in bytes, no larger than the array
            assert filters == ("gzip", 6, True, False)
            n = shape[0]
            assert chunks[0] == min(ref_chunks[0] * ref_dtype.itemsize // dtype.itemsize, n or 2**62), name
    assert got["identity/software"][-1] == b"qdcat" and want["identity/software"][-1] == b"phconvert"


def test_spec_titles_are_phconvert_s() -> None:
    """The copied descriptions are phconvert's (the validator also checks each one written)."""
    from phconvert.hdf5 import _spec_dict

    for field, title in photon_hdf5._SPEC_TITLES.items():
        assert _spec_dict.get_descr("/" + field) == title, field


def test_writing_does_not_import_phconvert(tmp_path: Path) -> None:
    script = (
        "import sys, numpy as np\n"
        "from qdcat.ingest.photon_hdf5 import write_photon_hdf5\n"
        f"write_photon_hdf5({str(tmp_path / 'x.hdf5')!r}, timestamps_ps=np.array([0, 4, 8]),\n"
        "    channels=np.array([0, 1, 64]), nanotimes=np.array([1, 2, 3]), resolution_ps=4.0,\n"
        "    nanotime_resolution_ps=1.0, sync_rate_hz=8e7, description='x')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'phconvert', 'tables', 'numba'}))\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    assert (tmp_path / "x.hdf5").is_file()


OK = {"timestamps_ps": np.array([0, 10]), "channels": np.array([0, 1]), "resolution_ps": 10.0}


def _fail_midway(monkeypatch: pytest.MonkeyPatch, before_failing: Any = None) -> None:
    """Make the writer fail after it has written part of the file."""
    real = photon_hdf5._write_group

    def partial(group: Any, prefix: str, tree: Any, photon_arrays: list[Any]) -> None:
        real(group, prefix, dict(list(tree.items())[:2]), photon_arrays)
        if before_failing is not None:
            before_failing()
        raise OSError("disk full")

    monkeypatch.setattr(photon_hdf5, "_write_group", partial)


def test_failed_overwrite_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_photon_hdf5(tmp_path / "a.hdf5", **OK, description="first")
    before = path.read_bytes()
    _fail_midway(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_photon_hdf5(path, **OK, description="second", overwrite=True)
    assert path.read_bytes() == before
    with pytest.raises(OSError, match="disk full"):
        write_photon_hdf5(tmp_path / "new.hdf5", **OK, description="never")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]  # no partial or temporary file


def test_overwrite_replaces_in_one_step(tmp_path: Path) -> None:
    path = write_photon_hdf5(tmp_path / "a.hdf5", **OK, description="first")
    with h5py.File(path) as old:  # a reader holding the old file keeps reading the old file
        write_photon_hdf5(path, **OK, description="second", overwrite=True)
        assert old["description"][()] == b"first"
    assert open_photon_hdf5(path).header.tags["description"] == "second"
    assert_valid(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]


def test_a_file_that_appears_while_writing_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.hdf5"
    real = photon_hdf5._write_group

    def racing(group: Any, prefix: str, tree: Any, photon_arrays: list[Any]) -> None:
        real(group, prefix, tree, photon_arrays)
        if prefix == "":
            path.write_bytes(b"someone else's file")

    monkeypatch.setattr(photon_hdf5, "_write_group", racing)
    with pytest.raises(InvalidValueError, match="exists; choose another file name"):
        write_photon_hdf5(path, **OK, description="mine")
    assert path.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]


def test_text_that_cannot_be_stored_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match=r"/description: text with a NUL character"):
        write_photon_hdf5(tmp_path / "a.hdf5", **OK, description="a\x00b")
    with pytest.raises(InvalidValueError, match=r"/setup/detectors/label: text with a NUL"):
        write_photon_hdf5(tmp_path / "a.hdf5", **OK, description="x", channel_roles={0: "hbt\x00a"})
    with pytest.raises(InvalidValueError, match=r"/identity/author: text that is not valid Unicode"):
        write_photon_hdf5(tmp_path / "a.hdf5", **OK, description="x", author="\udcff")
    with pytest.raises(InvalidValueError, match=r"/description must be text"):
        write_photon_hdf5(tmp_path / "a.hdf5", **OK, description=b"bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_blocks_and_arrays_write_the_same_file(tmp_path: Path) -> None:
    case = CASES["t3-nanotimes-sync-rate"]
    arrays = write_photon_hdf5(tmp_path / "arrays.hdf5", **case)

    def blocks() -> Iterator[EventBlock]:
        for start in range(0, case["timestamps_ps"].size, 1_000):
            cut = slice(start, start + 1_000)
            yield EventBlock(case["timestamps_ps"][cut], case["channels"][cut], case["nanotimes"][cut])

    rest = {k: v for k, v in case.items() if k not in ("timestamps_ps", "channels", "nanotimes")}
    from_blocks = write_photon_hdf5(tmp_path / "blocks.hdf5", timestamps_ps=blocks(), **rest)
    got, want = _nodes(from_blocks), _nodes(arrays)
    assert sorted(got) == sorted(want)
    for name in sorted(set(want) - {"/", "identity/filename"} - PER_FILE):
        assert got[name][:-1] == want[name][:-1], name
        if want[name][0] == "dataset":
            assert np.array_equal(got[name][-1], want[name][-1], equal_nan=want[name][2].kind == "f"), name


@pytest.mark.parametrize(
    ("field", "title"),
    [("photon_data/timestamps", b"Timestamps."), ("setup/lifetime", None), ("", b"A file.")],
)
def test_the_validator_catches_a_wrong_title(field: str, title: bytes | None, tmp_path: Path) -> None:
    """The negative control: phconvert's validator does check the TITLEs of an h5py-written file."""
    from phconvert.hdf5 import Invalid_PhotonHDF5

    path = write_photon_hdf5(tmp_path / "a.hdf5", **CASES["t3-uint32-nanotimes"])
    with h5py.File(path, "r+") as f:
        node = f[field] if field else f
        if title is None:
            del node.attrs["TITLE"]
        else:
            node.attrs["TITLE"] = np.bytes_(title)
    with pytest.raises(Invalid_PhotonHDF5, match="not compliant"):
        assert_valid(path)
