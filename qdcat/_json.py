"""Plain JSON values from what file headers and numpy hand us (one rule for the whole package)."""

from __future__ import annotations

import datetime as dt
import enum
import math
import sys
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any, *, max_array: int = 1024) -> Any:
    """Numpy scalars/arrays, bytes, enums and datetimes as JSON-able Python.

    Arrays longer than ``max_array`` become a short description (a settings
    snapshot is no place for bulk data); non-finite floats become None.
    """
    # A value can only be a numpy object when numpy is loaded: listing commands never load it.
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.void) and value.dtype.names:
            return {name: jsonable(value[name], max_array=max_array) for name in value.dtype.names}
        if isinstance(value, np.ndarray):
            if value.size > max_array:
                return f"<array {value.shape} {value.dtype}>"
            return [jsonable(v, max_array=max_array) for v in value]
        if isinstance(value, np.generic) and not isinstance(value, bytes):
            value = value.item()
    return _plain(value, max_array)


def _plain(value: Any, max_array: int) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, max_array=max_array) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, max_array=max_array) for v in value]
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
