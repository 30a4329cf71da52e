"""The format boundary: what readers and the libraries under them raise becomes one ReaderError."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qdcat.errors import InvalidValueError, ReaderError
from qdcat.ingest.base import EventBlock, FileHeader, format_boundary, guard_blocks


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (KeyError("TTResultFormat_TTTRRecType"), r"corrupt \(KeyError: 'TTResultFormat_TTTRRecType'\); copy"),
        (UnboundLocalError("cannot access local variable 'tagid'"), r"\(UnboundLocalError: cannot access"),
        (ValueError("line one\nline two"), r"\(ValueError: line one line two\)"),
        (OSError(5, "Input/output error"), r"\(OSError: \[Errno 5\] Input/output error\)"),
        (FileNotFoundError(2, "No such file"), r"file not found; check the path"),
        (
            PermissionError(13, "Permission denied"),
            r"cannot be read \(PermissionError: .*check its permissions",
        ),
        (MemoryError(), r"corrupt \(MemoryError\); copy"),
    ],
)
def test_library_errors_become_one_line_naming_the_file(
    exc: BaseException, says: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.ptu"
    with pytest.raises(ReaderError, match=says) as info:
        with format_boundary(path, "corrupt"):
            _raise(exc)
    assert info.value.path == path and str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value) and info.value.__cause__ is exc


@pytest.mark.parametrize("exc", [InvalidValueError("ours"), ImportError("no ptufile"), KeyboardInterrupt()])
def test_own_errors_broken_installs_and_interrupts_pass_through(exc: BaseException, tmp_path: Path) -> None:
    with pytest.raises(type(exc)) as info:
        with format_boundary(tmp_path / "x.ptu", "corrupt"):
            _raise(exc)
    assert info.value is exc


def test_guard_blocks_wraps_the_reader_not_the_consumer(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    block = EventBlock(np.arange(3, dtype=np.int64), np.zeros(3, np.uint8))

    def reader() -> Iterator[EventBlock]:
        yield block
        raise IndexError("index 7 is out of bounds")

    blocks = guard_blocks(path, reader())
    assert next(blocks) is block
    with pytest.raises(ReaderError, match=r"x\.h5: records cannot be decoded \(IndexError: index 7"):
        next(blocks)
    # A failure while storing a block (the consumer's) is not the file's: untouched.
    with pytest.raises(OSError, match="No space left"):
        for _ in guard_blocks(path, [block]):
            raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("resolution_ps", math.nan, r"timestamp resolution is nan ps"),
        ("resolution_ps", 0.0, r"timestamp resolution is 0\.0 ps, outside 0\.01\.\.1e\+13 ps"),
        ("resolution_ps", 1e300, r"timestamp resolution is 1e\+300 ps"),
        ("nanotime_resolution_ps", -4.0, r"nanotime resolution is -4\.0 ps"),
        ("sync_rate_hz", math.inf, r"sync rate is inf Hz"),
        ("acquisition_s", -1.0, r"acquisition time is -1\.0 s"),
        ("n_records", -5, r"gives -5 records"),
    ],
)
def test_a_header_with_impossible_numbers_cannot_exist(
    field: str, value: float, says: str, tmp_path: Path
) -> None:
    fields = {"resolution_ps": 4.0, field: value}
    with pytest.raises(ReaderError, match=says):
        FileHeader(path=tmp_path / "x.ptu", format="ptu", mode="T2", **fields)  # type: ignore[arg-type]
    FileHeader(path=tmp_path / "x.ptu", format="ptu", mode="T2", resolution_ps=4.0, sync_rate_hz=80e6)
