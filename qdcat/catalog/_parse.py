"""Parsing what users type into catalog values: one clear message per bad value.

The ORM checks every row again before it is written (:mod:`qdcat.catalog.validate`);
these turn text and numbers from the CLI, CSV files and file headers into typed
values first, with messages that say what was expected.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, TypeVar

from qdcat.catalog.validate import YEARS
from qdcat.errors import InvalidValueError

E = TypeVar("E")


def parse_enum(cls: type[E], value: Any, what: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).strip().lower())  # type: ignore[call-arg]
    except ValueError:
        valid = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise InvalidValueError(f"{what} {value!r} is not valid; choose one of: {valid}") from None


def parse_id(value: Any, what: str) -> int:
    """A catalog id: a positive 64-bit integer."""
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} id must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or (isinstance(value, float) and i != value) or not 1 <= i < 2**63:
        raise InvalidValueError(f"{what} id must be a whole number from 1 to 2**63-1, got {value!r}")
    return i


def parse_name(value: Any, what: str, max_len: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{what} must be a non-empty text, got {value!r}")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidValueError(f"{what} {value[:20]!r}… is longer than {max_len} characters")
    if "/" in value and what != "material":
        raise InvalidValueError(f"{what} {value!r} must not contain '/'")
    return value


def parse_float(
    value: Any,
    what: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise InvalidValueError(f"{what} must be finite, got {value!r}")
    if positive and x <= 0:
        raise InvalidValueError(f"{what} must be > 0, got {x:g}")
    if nonnegative and x < 0:
        raise InvalidValueError(f"{what} must be >= 0, got {x:g}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise InvalidValueError(f"{what} must lie in [{lo:g}, {hi:g}], got {x:g}")
    return x


def parse_date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidValueError(f"{what} must be a date like 2026-03-01, got {value!r}") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise InvalidValueError(
            f"{what} {day.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}; check the date"
        )
    return day


def parse_datetime(value: Any, what: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        ts = value
    else:
        try:
            ts = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidValueError(
                f"{what} must be an ISO time like 2026-03-01T14:05:00+01:00, got {value!r}"
            ) from None
    if not YEARS[0] <= ts.year <= YEARS[1]:
        raise InvalidValueError(
            f"{what} {ts.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}; check the date"
        )
    if ts.tzinfo is None:
        # Lab clocks are local: a naive time is read as the machine's local zone.
        ts = ts.astimezone()
    return ts.astimezone(dt.UTC)
