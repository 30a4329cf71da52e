"""Rendering for the CLI: rich tables for people, JSON, CSV and Parquet for scripts."""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def pick_format(as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        from qdcat.errors import InvalidValueError

        raise InvalidValueError("choose one of --json and --csv")
    return Format.JSON if as_json else Format.CSV if as_csv else Format.TABLE


def _cell(v: Any) -> Any:
    """Cell text, never parsed as rich markup ("[True, False]" must print as is)."""
    from rich.text import Text

    return Text(_text(v))


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, Mapping | list):
        return json.dumps(v, default=str)
    return str(v)


def _csv_text(v: Any) -> str:
    """A cell for scripts: floats in full (shortest round-trip), whole ones without ".0"."""
    if isinstance(v, float):
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return _text(v)


_KEY_COLUMNS = {"id", "name", "label", "sample", "specimen", "dot", "kind", "setup"}


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        # Piped or captured: no terminal width to respect, so do not squeeze.
        console = Console(stderr=stderr, width=200)
    return console


def render_rows(rows: Sequence[Mapping[str, Any]], fmt: Format, *, title: str | None = None) -> None:
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(list(rows), indent=2, default=str) + "\n")
        return
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    if fmt is Format.CSV:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_text(r.get(c)) for c in columns])
        sys.stdout.write(buf.getvalue())
        return
    from rich.table import Table

    console = _console()
    if not rows:
        console.print(f"[dim]no {title or 'rows'}[/dim]")
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        # Names are what people read and copy: never break them.
        table.add_column(c, overflow="fold", no_wrap=c in _KEY_COLUMNS)
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in columns])
    console.print(table)


def render_record(rec: Mapping[str, Any], fmt: Format, *, title: str | None = None) -> None:
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(rec, indent=2, default=str) + "\n")
        return
    if fmt is Format.CSV:
        render_rows([{k: v for k, v in rec.items() if not isinstance(v, list)}], fmt)
        return
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in rec.items():
        if isinstance(v, Mapping):
            table.add_row(k, "")
            for k2, v2 in v.items():
                table.add_row(f"  {k2}", _cell(v2))
        elif isinstance(v, list) and v and isinstance(v[0], Mapping):
            table.add_row(k, _cell("; ".join(", ".join(_text(x) for x in item.values()) for item in v)))
        else:
            table.add_row(k, _cell(v))
    _console().print(table)


def say(message: str) -> None:
    """A short confirmation for people, on stderr so stdout stays machine-readable."""
    _console(stderr=True).print(message, markup=False, highlight=False)


def stderr_console() -> Any:
    """Where progress bars go: stderr, so --json/--csv output on stdout stays clean."""
    return _console(stderr=True)


def _say_flagged(n: int, reasons: tuple[str, ...] = (), excluded: int = 0) -> None:
    if n:
        why = f" ({'; '.join(reasons)})" if reasons else ""
        say(f"left out {n} result(s) that failed QC{why}; --include-flagged keeps them")
    if excluded:
        say(f"left out {excluded} excluded by curation (`qdcat curate list` says why)")


def _nan_to_none(df: Any) -> list[dict[str, Any]]:
    import math

    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


def _emit_frame(df: Any, *, as_json: bool, as_csv: bool, parquet: Path | None, title: str) -> None:
    """A data frame as a Parquet file, CSV, JSON or a table (NaN printed as empty / null)."""
    fmt = pick_format(as_json, as_csv)
    if parquet is not None:
        parquet.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(parquet, index=False)
        say(f"{len(df)} rows written to {parquet}")
        return
    if fmt is Format.CSV:
        sys.stdout.write(df.to_csv(index=False))
        return
    render_rows(_nan_to_none(df), fmt, title=title)


def _columns(value: str | None) -> list[str] | None:
    """``--columns a, b`` as a list of field names (None: the view's default)."""
    return [c.strip() for c in value.split(",") if c.strip()] if value else None
