"""Spectra as text: two columns, wavelength (nm) and counts, from a CCD export.

Delimiter (comma, semicolon, tab or spaces) and an optional header line are
detected; lines starting with '#' are comments. Anything else is refused with
the line number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qdcat.errors import ReaderError

_SPLIT = re.compile(r"[,;\t ]+")


@dataclass(frozen=True)
class SpectrumFile:
    path: Path
    wavelength_nm: np.ndarray
    counts: np.ndarray
    header: dict[str, Any] = field(default_factory=dict)


def read_spectrum(path: str | Path) -> SpectrumFile:
    """Read a two-column spectrum; wavelengths come back increasing."""
    path = Path(path)
    w, c, header = _read_two_columns(path, "spectrum", ("wavelength", "counts"))
    if w[0] <= 0:
        raise ReaderError(path, f"wavelengths must be positive nm, got {w[0]:g}")
    return SpectrumFile(path=path, wavelength_nm=w, counts=c, header=header)


@dataclass(frozen=True)
class CurveFile:
    path: Path
    time_ps: np.ndarray
    delta_a: np.ndarray
    header: dict[str, Any] = field(default_factory=dict)


def read_ta_curve(path: str | Path) -> CurveFile:
    """Read transient-absorption kinetics: two columns, pump–probe delay (ps) and ΔA."""
    path = Path(path)
    t, a, header = _read_two_columns(path, "transient-absorption curve", ("delay (ps)", "delta A"))
    return CurveFile(path=path, time_ps=t, delta_a=a, header=header)


def _read_two_columns(
    path: Path, what: str, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ReaderError(path, "file not found") from exc
    except UnicodeDecodeError as exc:
        raise ReaderError(path, f"not a text file; a {what} is read as two-column text") from exc
    wl: list[float] = []
    counts: list[float] = []
    header: dict[str, Any] = {}
    comments: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line.lstrip("# "))
            continue
        parts = [p for p in _SPLIT.split(line) if p]
        if len(parts) < 2:
            raise ReaderError(
                path, f"line {lineno}: expected two columns ({names[0]}, {names[1]}), got {line!r}"
            )
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            if not wl and not header:  # one header line is allowed
                header["columns"] = parts[:2]
                continue
            raise ReaderError(path, f"line {lineno}: not numbers: {line!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ReaderError(path, f"line {lineno}: non-finite value in {line!r}")
        wl.append(x)
        counts.append(y)
    if len(wl) < 3:
        raise ReaderError(
            path, f"only {len(wl)} data rows; a {what} needs at least 3 (file empty or truncated?)"
        )
    w = np.asarray(wl, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    if np.all(np.diff(w) < 0):
        w, c = w[::-1].copy(), c[::-1].copy()
    if not np.all(np.diff(w) > 0):
        raise ReaderError(path, f"the first column is not strictly monotonic; is it the {names[0]}?")
    if comments:
        header["comments"] = comments
    header["points"] = int(w.size)
    return w, c, header
