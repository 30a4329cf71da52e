"""One check for every value that enters the catalog, on both backends alike.

SQLite stores a 300-character text in a ``VARCHAR(100)``, an integer of any
size and ``NaN`` in JSON; PostgreSQL refuses all three with a driver traceback.
The API parses and range-checks what users type (:func:`qdcat.catalog.api.parse_float`
and friends); this module is the net under it: before any ORM row is written, every
column value is checked against its declared type, so a catalog that SQLite
accepted can always move to PostgreSQL, and both refuse the same things with the
same one-line message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapper

from qdcat.errors import InvalidValueError

INT64 = 2**63
INT32 = 2**31
YEARS = (1900, 2999)
"""Dates a lab's records can carry (PostgreSQL and Python disagree far outside it)."""


def _label(table: str, column: str) -> str:
    return f"{table.rstrip('s')} {column}"


def check_value(table: str, column: sa.Column[Any], value: Any) -> None:
    """Raise :class:`InvalidValueError` when ``value`` does not fit ``column`` on every backend."""
    if value is None:
        return
    what = _label(table, column.name)
    t = column.type
    if isinstance(t, sa.types.TypeDecorator):
        t = t.impl_instance
    if isinstance(t, sa.String) and not isinstance(t, sa.Enum) and isinstance(value, str):
        if t.length is not None and len(value) > t.length:
            raise InvalidValueError(
                f"{what} is {len(value)} characters long, at most {t.length} are allowed "
                f"({value[:30]!r}…); shorten it"
            )
        if "\x00" in value:
            raise InvalidValueError(f"{what} contains a NUL character; remove it")
    elif isinstance(t, sa.Integer) and isinstance(value, int) and not isinstance(value, bool):
        limit = INT64 if isinstance(t, sa.BigInteger) else INT32
        if not -limit <= value < limit:
            raise InvalidValueError(
                f"{what} = {value} is out of range (|value| < 2**{limit.bit_length() - 1})"
            )
    elif isinstance(t, sa.Float | sa.Numeric) and isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"{what} must be a finite number, got {value!r}")
    elif isinstance(t, sa.DateTime | sa.Date) and isinstance(value, dt.date):
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise InvalidValueError(f"{what} {value.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}")
    elif isinstance(t, sa.JSON):
        _check_json(what, value)


def _check_json(what: str, value: Any, path: str = "") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValueError(f"{what}{path} must be a finite number (JSON has no {value!r})")
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        raise InvalidValueError(f"{what}{path} = {value} is out of range (|value| < 2**63)")
    if isinstance(value, str) and "\x00" in value:
        raise InvalidValueError(f"{what}{path} contains a NUL character; remove it")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_json(what, v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_json(what, v, f"{path}[{i}]")


def check_row(table: sa.Table, values: Mapping[str, Any]) -> None:
    """Check a row of Core values (``insert().values(**values)``) against ``table``."""
    for name, value in values.items():
        if name in table.c:
            check_value(table.name, table.c[name], value)


def _check_object(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    state = sa.inspect(target)
    table = state.mapper.local_table
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if not isinstance(column, sa.Column) or column.table is not table:
            continue
        value = state.dict.get(attr.key)
        check_value(table.name, column, value)


def install(base: type) -> None:
    """Check every ORM row of ``base``'s models before it is inserted or updated."""
    event.listen(base, "before_insert", _check_object, propagate=True)
    event.listen(base, "before_update", _check_object, propagate=True)
