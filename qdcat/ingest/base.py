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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

SYNC_CHANNEL = 64
MARKER_BASE = 64  # marker bit j (1..15) -> 64 + j

#: Records decoded per block: bounded memory whatever the file size.
DEFAULT_BLOCK_RECORDS = 1 << 22


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
