"""What every time-tag reader produces, in qdcat's conventions.

Conventions for the stored ``channels`` (uint8), the same for every format,
so a setup's channel-role map means the same thing whatever file came in:

* a detector input is its 0-based input number as the instrument counts it
  (PicoQuant ``channel`` field; B&H routing channel; Photon-HDF5 detector id),
  ``0 <= k < 64``;
* the laser sync, where the file records it as an event (T2 sync records), is
  ``SYNC_CHANNEL`` (64);
* marker bit ``j`` (1-based, as PicoQuant numbers them) is ``MARKER_BASE + j``.

Timestamps are int64 picoseconds from the start of the acquisition with every
overflow/rollover resolved, non-decreasing. In T3 mode the timestamp is the
macrotime (sync index × sync period, in ps) and the T3 nanotime is kept raw
in ``nanotimes`` (units of ``FileHeader.nanotime_resolution_ps``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import numpy as np

from qdcat.errors import QdcatError, ReaderError

SYNC_CHANNEL = 64
MARKER_BASE = 64  # marker bit j (1..15) -> 64 + j

#: Records decoded per block: bounded memory whatever the file size.
DEFAULT_BLOCK_RECORDS = 1 << 22

#: What to do about a damaged instrument file.
REREAD = "copy the file again from the acquisition computer"

#: Plausible time units (ps) of any time tagger: 0.01 ps to 10 s. Anything outside is a damaged
#: header, and would turn timestamps into zeros or overflow the int64 picoseconds.
UNIT_RANGE_PS = (1e-2, 1e13)


@dataclass(frozen=True)
class FileHeader:
    """What the file itself says about the acquisition (the settings snapshot)."""

    path: Path
    format: str  # "ptu", "ht3", "pt3", "t3r", "spc", "photon-hdf5"
    mode: str  # "T2" or "T3"
    resolution_ps: float  # the unit the instrument counted timestamps in
    nanotime_resolution_ps: float | None = None  # T3 only
    sync_rate_hz: float | None = None
    acquisition_s: float | None = None
    hardware: str | None = None
    software: str | None = None
    record_type: str | None = None
    n_records: int | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)  # JSON-able header tags

    def __post_init__(self) -> None:
        # The net under every reader: a header with impossible numbers never reaches the catalog
        # (readers check their own tags first, naming them).
        lo, hi = UNIT_RANGE_PS
        checks = (
            ("timestamp resolution", self.resolution_ps, "ps", lo, hi, False),
            ("nanotime resolution", self.nanotime_resolution_ps, "ps", lo, hi, True),
            ("sync rate", self.sync_rate_hz, "Hz", 1e-3, 1e11, True),
            ("acquisition time", self.acquisition_s, "s", 0.0, 1e7, True),
        )
        for what, value, unit, low, high, optional in checks:
            if value is None and optional:
                continue
            if not _is_number(value) or not low <= float(value) <= high:
                raise ReaderError(
                    self.path,
                    f"the header's {what} is {value!r} {unit}, outside {low:g}..{high:g} {unit}: "
                    f"the header is corrupt; {REREAD}",
                )
        if self.n_records is not None and (not isinstance(self.n_records, int) or self.n_records < 0):
            raise ReaderError(
                self.path, f"the header gives {self.n_records!r} records: the header is corrupt; {REREAD}"
            )

    @property
    def sync_period_ps(self) -> float | None:
        return 1e12 / self.sync_rate_hz if self.sync_rate_hz else None


@dataclass(frozen=True)
class EventBlock:
    """Consecutive events of a file, in qdcat's conventions (see module docstring)."""

    timestamps_ps: np.ndarray  # int64, non-decreasing (also across blocks)
    channels: np.ndarray  # uint8
    nanotimes: np.ndarray | None = None  # uint16/uint32, T3 only

    def __len__(self) -> int:
        return int(self.timestamps_ps.shape[0])


class TimeTagSource(Protocol):
    """An opened time-tag file."""

    header: FileHeader

    def iter_blocks(self, block_records: int = DEFAULT_BLOCK_RECORDS) -> Iterator[EventBlock]:
        """Decode the file block by block; raises ReaderError on a damaged file."""
        ...


def _is_number(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


def one_line(text: object, limit: int = 240) -> str:
    """A library's message as one short line (they may span lines or dump whole values)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """``TypeName: message`` on one line, for the parenthesis of a ReaderError."""
    text = one_line(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def format_boundary(path: Path, problem: str, advice: str = REREAD) -> Iterator[None]:
    """Whatever a third-party reader (ptufile, phconvert, h5py, numpy) raises on a damaged file
    becomes one :class:`ReaderError` naming the file: ``"PATH: PROBLEM (Type: detail); ADVICE"``.

    qdcat's own errors pass through unchanged; ``KeyboardInterrupt`` and friends are not touched.
    """
    try:
        yield
    except (QdcatError, ImportError):  # ImportError: a broken installation, not a broken file
        raise
    except FileNotFoundError as exc:
        raise ReaderError(path, "file not found; check the path") from exc
    except PermissionError as exc:
        raise ReaderError(path, f"cannot be read ({describe(exc)}); check its permissions") from exc
    except IsADirectoryError as exc:
        raise ReaderError(path, "is a directory, not an instrument file") from exc
    except Exception as exc:  # the libraries raise anything on garbage: KeyError, UnboundLocalError...
        raise ReaderError(path, f"{problem} ({describe(exc)}); {advice}") from exc


def guard_blocks(
    path: Path, blocks: Iterable[EventBlock], problem: str = "records cannot be decoded"
) -> Iterator[EventBlock]:
    """``blocks`` with anything raised while *producing* a block turned into a ReaderError.

    Exceptions raised by the consumer between blocks (a full disk while storing them) are not
    the file's fault and are not touched: only ``next()`` runs inside the boundary.
    """
    it = iter(blocks)
    while True:
        with format_boundary(path, problem):
            try:
                block = next(it)
            except StopIteration:
                return
        yield block
