"""What an analysis declares, in one place: applicability, parameters, inputs, computation, columns, figures.

An :class:`Analysis` is a frozen declaration that lives in its own module
(``qdcat/analyses/<name>.py``, one module-level ``ANALYSIS``). From it follow:

* which acquisitions it applies to (:class:`Acquisition` facts → ``None`` or
  the reason it does not apply), and which companion measurements it reads;
* its parameters (:class:`Param`: typed, validated, with defaults and help);
* ``fetch`` (reduce the raw data in the store to histograms/traces, streamed)
  and ``compute`` (pure: arrays in, a result row and derived arrays out);
* its result table ``result_<name>`` (:class:`Column`: units in the names,
  ``_err`` companions, which columns the dots view shows);
* its QC flags, and ``draw``: figures from a stored result, never a re-fit.

The job runner, the query views, the figures and ``qdcat jobs analyses`` read
these declarations; nothing about an analysis is written anywhere else.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Table, text
from sqlalchemy import Column as SqlColumn

from qdcat.catalog.models import Base
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore

ColumnType = Literal["float", "int", "bigint", "bool", "str"]
_SQL_TYPES: dict[str, Any] = {"float": Float, "int": Integer, "bigint": BigInteger, "bool": Boolean}
#: Columns every result table has (keys, and the QC flags).
KEY_COLUMNS = ("run_id", "specimen_id", "dot_id", "measurement_id")
# Chosen by qdcat.catalog.current, not computed by the analysis.
CHOICE_COLUMNS = ("kind_preferred", "representative")
#: The index of a part (a level) within its result, in a :class:`Parts` table.
PART_COLUMN = "part"
#: The QC verdict every result carries, computed from its flags by the analysis's rules.
QC_COLUMNS = ("qc", "qc_failed", "qc_reason")
QC_PASS, QC_PARTIAL, QC_FAIL = "pass", "partial", "fail"


@dataclass(frozen=True)
class QcRule:
    """A flag that makes quantities of a result unreliable, and why.

    ``flag`` is a flag name, or a prefix ending in ``*`` (``at_bound:rate*``).
    ``fails`` names the result columns it invalidates (their ``_err`` too);
    ``("*",)`` invalidates the whole result. Flags without a rule are warnings.
    """

    flag: str
    fails: tuple[str, ...]
    reason: str

    def matches(self, flag: str) -> bool:
        return flag.startswith(self.flag[:-1]) if self.flag.endswith("*") else flag == self.flag


@dataclass(frozen=True)
class Qc:
    """A result's verdict: pass, partial (some quantities failed) or fail (the whole result)."""

    verdict: str
    failed: tuple[str, ...]
    reason: str

    def fails(self, column: str) -> bool:
        name = column[:-4] if column.endswith("_err") else column
        return self.verdict == QC_FAIL or name in self.failed


def qc_verdict(rules: Sequence[QcRule], flags: Sequence[str]) -> Qc:
    failed: list[str] = []
    reasons: list[str] = []
    for flag in flags:
        for rule in rules:
            if rule.matches(flag):
                failed.extend(rule.fails)
                reasons.append(f"{flag}: {rule.reason}")
    failed = list(dict.fromkeys(failed))
    verdict = QC_FAIL if "*" in failed else (QC_PARTIAL if failed else QC_PASS)
    return Qc(verdict, tuple(c for c in failed if c != "*"), "; ".join(dict.fromkeys(reasons))[:255])


def parse_qc(verdict: str | None, failed: str | None, reason: str | None = None) -> Qc:
    """A stored verdict back as a :class:`Qc` (NULL columns: a result from before QC verdicts)."""
    return Qc(verdict or QC_PASS, tuple((failed or "").split()), reason or "")


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One parameter of an analysis: type, default, allowed range, help text (with its unit)."""

    name: str
    type: type
    default: Any
    help: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, value: Any, analysis: str) -> Any:
        """``value`` (a string from the command line, or a Python value) checked and converted."""
        where = f"parameter {analysis}.{self.name}"
        if value is None:
            if self.default is None:
                return None
            raise InvalidValueError(f"{where} needs a value; {self.help}")
        if self.type is bool:
            return _parse_bool(value, where)
        if self.type is str:
            s = str(value).strip()
            if self.choices and s not in self.choices:
                raise InvalidValueError(f"{where} must be one of {', '.join(self.choices)}, got {value!r}")
            return s
        try:
            x = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            raise InvalidValueError(f"{where} must be a finite number{self._range()}, got {value!r}")
        if self.type is int:
            if x != round(x):
                raise InvalidValueError(f"{where} must be a whole number{self._range()}, got {value!r}")
            out: Any = round(x)
        else:
            out = x
        if (self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo))) or (
            self.hi is not None and x > self.hi
        ):
            raise InvalidValueError(f"{where} must be{self._range()}, got {value!r}")
        return out

    def _range(self) -> str:
        if self.lo is None and self.hi is None:
            return ""
        if self.hi is None:
            return f" {'>' if self.lo_open else '>='} {self.lo:g}"
        if self.lo is None:
            return f" <= {self.hi:g}"
        return f" in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"

    def describe(self) -> str:
        rng = self._range().strip()
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.help} (default {self.default!r}{unit}{'; ' + rng if rng else ''})"


def _parse_bool(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise InvalidValueError(f"{where} must be true or false, got {v!r}")


# ----------------------------------------------------------------------------- result columns


@dataclass(frozen=True)
class Column:
    """One result column. ``err`` adds ``<name>_err`` (1σ, nullable); ``dots`` shows it in the dots view.

    ``dots`` is True for the same name there, or the dots-view name where two
    analyses share a column name (``g2_pulsed_zero`` for g2_pulsed's ``g2_zero``).
    """

    name: str
    type: ColumnType
    unit: str
    description: str
    err: bool = False
    nullable: bool = False
    dots: bool | str = False
    length: int = 0  # for "str"
    references: str | None = None  # "table.column" (ON DELETE RESTRICT, indexed)

    @property
    def dots_name(self) -> str | None:
        if self.dots is False:
            return None
        return self.name if self.dots is True else str(self.dots)

    def sql_columns(self) -> list[SqlColumn[Any]]:
        kind = String(self.length) if self.type == "str" else _SQL_TYPES[self.type]()
        args: list[Any] = []
        if self.references:
            args.append(ForeignKey(self.references, ondelete="RESTRICT"))
        out = [SqlColumn(self.name, kind, *args, nullable=self.nullable, index=bool(self.references))]
        if self.err:
            out.append(SqlColumn(f"{self.name}_err", Float, nullable=True))
        return out


# ----------------------------------------------------------------------------- what a measurement holds


@dataclass(frozen=True)
class Acquisition:
    """The facts about one measurement that decide which analyses it feeds, and what they read.

    Built by the job planner from the catalog (measurement, raw asset, settings,
    the setup's channel roles). ``role`` is "main", "point" (of a series) or a
    companion role ("background", "decay").
    """

    measurement_id: int
    kind: str
    specimen_id: int
    specimen_purpose: str
    dot_id: int | None
    setup_id: int | None
    data_kind: str  # "timetags", "spectrum", "curve"
    has_nanotimes: bool
    resolution_ps: float | None
    nanotime_resolution_ps: float | None
    duration_s: float | None
    channel_counts: Mapping[str, int]
    detectors: tuple[int, ...]  # every photon-detector channel with events
    hbt_a: tuple[int, ...]  # the two arms of a Hanbury Brown–Twiss pair (may be empty)
    hbt_b: tuple[int, ...]
    sync: int | None  # the laser sync recorded as events (T2), if any
    channel_source: str  # "setup roles" or "file convention (no setup roles)"
    excitation_mode: str | None
    excitation_wavelength_nm: float | None
    intensity_w_cm2: float | None
    repetition_rate_mhz: float | None
    series_name: str | None
    series_index: int | None
    data_sha256: str
    store_path: str = field(compare=False)
    role: str = "main"
    # Facts of the setup (None when not recorded): the detectors' summed dark count rate,
    # the timing jitter of each HBT arm (FWHM), the camera's offset and read noise.
    dark_cps: float | None = None
    jitter_a_ps: float | None = None
    jitter_b_ps: float | None = None
    ccd_offset_counts: float | None = None
    ccd_read_noise_counts: float | None = None

    @property
    def record(self) -> str | None:
        """ "t3", "t2_sync" (T2 with the laser sync as events), "t2", or None for array data."""
        if self.data_kind != "timetags":
            return None
        if self.has_nanotimes:
            return "t3"
        return "t2_sync" if self.sync is not None else "t2"

    @property
    def has_hbt_pair(self) -> bool:
        return bool(self.hbt_a) and bool(self.hbt_b)

    @property
    def photons(self) -> int:
        return sum(int(self.channel_counts.get(str(c), 0)) for c in self.detectors)

    def fingerprint(self) -> dict[str, Any]:
        """What a result depends on: raw data checksum, channel roles, settings, placement."""
        d = asdict(self)
        for k in ("store_path", "kind", "series_index"):
            d.pop(k)
        return d


@dataclass(frozen=True)
class Target:
    """What one analysis run is about: a measurement (or a series), with every input it reads."""

    analysis: str
    key: str  # "measurement:17", "series:3:12:PS-QD001"
    specimen_id: int
    dot_id: int | None
    measurement_id: int | None
    series_name: str | None
    label: str
    inputs: tuple[Acquisition, ...]
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def measurement_ids(self) -> tuple[int, ...]:
        return tuple(i.measurement_id for i in self.inputs)

    @property
    def main(self) -> Acquisition:
        """The analysed acquisition (the first point of a series)."""
        return self.points()[0]

    def points(self) -> list[Acquisition]:
        return [i for i in self.inputs if i.role in ("main", "point")]

    def companion(self, role: str) -> Acquisition | None:
        return next((i for i in self.inputs if i.role == role), None)

    def inputs_hash(self) -> str:
        payload = {
            "key": self.key,
            "inputs": [i.fingerprint() for i in self.inputs],
            "context": dict(self.context),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Companion:
    """Another measurement an analysis reads beside its own (a background trace, the film's decay).

    ``candidate`` says which acquisitions of the same specimen can serve;
    ``choose`` picks one for a target's main acquisition (None: go without).
    A newer or better-matching companion changes the target's inputs, so the
    old result becomes stale.
    """

    role: str
    description: str
    candidate: Callable[[Acquisition], bool]
    choose: Callable[[Acquisition, Sequence[Acquisition]], Acquisition | None]


@dataclass(frozen=True)
class Computed:
    """A computation's output: one result row (column → value) and derived arrays for the store."""

    row: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    parts: Sequence[Mapping[str, Any]] = ()  # rows of the analysis's Parts table (the levels of a trace)


@dataclass(frozen=True)
class DrawInput:
    """What a figure is drawn from: a stored result, its run's parameters and derived arrays."""

    result: Mapping[str, Any]
    params: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]
    raw: Callable[[], Mapping[str, np.ndarray]]  # the measurement's own raw arrays (spectra, curves)
    title: str  # "InP-A · slide-1 · QD001 · measurement 17"
    parts: Sequence[Mapping[str, Any]] = ()  # the result's parts (its levels), in order


Params = Mapping[str, Any]


@dataclass(frozen=True)
class Parts:
    """Rows a result holds besides its own: the intensity levels of a trace, say.

    They live in ``result_<analysis>_<name>``, one row per part, keyed by the run
    and the part's index, with the result's specimen, dot and measurement, their own
    flags and QC verdict (from ``qc_rules``), and ``columns``. Queries read them as
    the source ``<analysis>.<name>`` (``qdcat stats lifetime_ns --source levels.level``).
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    flags: Mapping[str, str] = field(default_factory=dict)
    qc_rules: tuple[QcRule, ...] = ()


@dataclass(frozen=True)
class PartsView:
    """The parts of one analysis as a query source: its table, names and QC rules."""

    name: str  # "levels.level"
    analysis: str
    parts: Parts
    table: Table = field(repr=False, compare=False)

    def result_names(self) -> list[str]:
        return [c.name for c in self.table.columns if c.name not in (*KEY_COLUMNS, PART_COLUMN)]

    def qc(self, flags: Sequence[str]) -> Qc:
        return qc_verdict(self.parts.qc_rules, flags)

    def column(self, name: str) -> Column:
        for c in self.parts.columns:
            if c.name == name or f"{c.name}_err" == name:
                return c
        raise KeyError(name)


# ----------------------------------------------------------------------------- the declaration


@dataclass(frozen=True)
class Analysis:
    """One analysis, declared whole. See the module docstring of :mod:`qdcat.analyses._base`."""

    name: str
    version: str
    summary: str
    applies_to: str
    method: str
    params: tuple[Param, ...]
    columns: tuple[Column, ...]
    flags: Mapping[str, str]
    applies: Callable[[Acquisition], str | None]
    fetch: Callable[[TimeTagStore, Target, Params], Any]
    compute: Callable[[Any, Target, Params], Computed]
    draw: Callable[[DrawInput], dict[str, Figure]]
    primary_kinds: tuple[str, ...] = ()
    grouping: Literal["measurement", "series"] = "measurement"
    series_applies: Callable[[Sequence[Acquisition]], str | None] | None = None
    companions: tuple[Companion, ...] = ()
    qc_rules: tuple[QcRule, ...] = ()  # flags that fail quantities (the others are warnings)
    sample_context: tuple[str, ...] = ()  # sample fields the computation reads
    headline: tuple[str, ...] = ()  # the columns a one-line summary shows (default: the first quantity)
    order: int = 100
    parts: Parts | None = None  # rows per result besides its own (the levels of a trace)
    table: Table = field(init=False, repr=False, compare=False)
    parts_view: PartsView | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        errs = [f"{c.name}_err" for c in self.columns if c.err]
        reserved = {*KEY_COLUMNS, *CHOICE_COLUMNS, *QC_COLUMNS, "flags"}
        clash = {n for n in names + errs if (names + errs).count(n) > 1} | (set(names) & reserved)
        if clash:
            raise ValueError(f"analysis {self.name}: duplicate or reserved result columns {sorted(clash)}")
        unknown = {c for r in self.qc_rules for c in r.fails if c != "*"} - set(names)
        if unknown:
            raise ValueError(f"analysis {self.name}: QC rules name unknown columns {sorted(unknown)}")
        object.__setattr__(self, "table", _result_table(self))
        view = None
        if self.parts is not None:
            view = PartsView(f"{self.name}.{self.parts.name}", self.name, self.parts, _parts_table(self))
        object.__setattr__(self, "parts_view", view)

    # -- parameters ---------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``, each checked; unknown names are refused."""
        by_name = {p.name: p for p in self.params}
        out = self.defaults()
        for k, v in (overrides or {}).items():
            if k not in by_name:
                valid = ", ".join(sorted(by_name)) or "(none)"
                raise InvalidValueError(f"analysis {self.name!r} has no parameter {k!r}; valid: {valid}")
            out[k] = by_name[k].parse(v, self.name)
        return out

    # -- columns ------------------------------------------------------------------
    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name or f"{c.name}_err" == name:
                return c
        raise KeyError(name)

    def result_names(self) -> list[str]:
        """Every result column of the table besides the keys: flags, QC, values, their errors."""
        return [c.name for c in self.table.columns if c.name not in (*KEY_COLUMNS, *CHOICE_COLUMNS)]

    def qc(self, flags: Sequence[str]) -> Qc:
        return qc_verdict(self.qc_rules, flags)

    def dots_columns(self) -> dict[str, str]:
        """Dots-view name → result column, for the columns this analysis shows there."""
        out: dict[str, str] = {}
        for c in self.columns:
            name = c.dots_name
            if name is None:
                continue
            out[name] = c.name
            if c.err:
                out[f"{name}_err"] = f"{c.name}_err"
        return out


def _result_table(a: Analysis) -> Table:
    """``result_<name>``: one row per done run, keyed by the run, with the declared columns."""
    name = f"result_{a.name}"
    wanted = [
        *KEY_COLUMNS,
        "flags",
        *QC_COLUMNS,
        *CHOICE_COLUMNS,
        *(n for c in a.columns for n in (c.name, f"{c.name}_err")[: 1 + c.err]),
    ]
    old = Base.metadata.tables.get(name)
    if old is not None:
        if [c.name for c in old.columns] == wanted:
            return old  # the same declaration again (dataclasses.replace, a module reloaded)
        Base.metadata.remove(old)
    cols: list[SqlColumn[Any]] = [
        SqlColumn("run_id", Integer, ForeignKey("analysis_run.id", ondelete="CASCADE"), primary_key=True),
        SqlColumn(
            "specimen_id", Integer, ForeignKey("specimen.id", ondelete="RESTRICT"), nullable=False, index=True
        ),
        SqlColumn("dot_id", Integer, ForeignKey("dot.id", ondelete="RESTRICT"), nullable=True, index=True),
        # The analysed measurement; NULL for results of a series (power series, saturation).
        SqlColumn(
            "measurement_id",
            Integer,
            ForeignKey("measurement.id", ondelete="RESTRICT"),
            nullable=True,
            index=True,
        ),
        # QC flags of the analysis, space-separated ("" when clean): "at_bound:fwhm poor_fit".
        SqlColumn("flags", String(255), nullable=False, default=""),
        # The verdict from the flags (the analysis's QC rules): pass / partial / fail, the
        # quantities that failed (space-separated) and why. Population answers leave them out.
        SqlColumn("qc", String(8), nullable=False),
        SqlColumn("qc_failed", String(255), nullable=False),
        SqlColumn("qc_reason", String(255), nullable=False),
        # Whether the analysed measurement's kind names this analysis (a g2_cw acquisition for
        # g2_cw), and whether this row stands for its dot in population queries: chosen by
        # qdcat.catalog.current when results change, one per dot (the partial unique index).
        SqlColumn("kind_preferred", Boolean, nullable=False, default=False, server_default=text("false")),
        SqlColumn("representative", Boolean, nullable=False, default=False, server_default=text("false")),
    ]
    for c in a.columns:
        cols.extend(c.sql_columns())
    return Table(
        name,
        Base.metadata,
        *cols,
        Index(
            f"uq_{name}_representative",
            "dot_id",
            unique=True,
            # As the queries write it (SQLite has no boolean type), so that they use this index.
            sqlite_where=text("representative = 1"),
            postgresql_where=text("representative"),
        ),
        comment=None,
    )


def _parts_table(a: Analysis) -> Table:
    """``result_<analysis>_<parts>``: the parts of each result, keyed by (run, part index)."""
    assert a.parts is not None
    p = a.parts
    name = f"result_{a.name}_{p.name}"
    names = [c.name for c in p.columns]
    reserved = {*KEY_COLUMNS, PART_COLUMN, *QC_COLUMNS, "flags"}
    if len(set(names)) != len(names) or set(names) & reserved:
        raise ValueError(f"analysis {a.name}: duplicate or reserved part columns in {names}")
    wanted = [
        "run_id",
        PART_COLUMN,
        *KEY_COLUMNS[1:],
        "flags",
        *QC_COLUMNS,
        *(n for c in p.columns for n in (c.name, f"{c.name}_err")[: 1 + c.err]),
    ]
    old = Base.metadata.tables.get(name)
    if old is not None:
        if [c.name for c in old.columns] == wanted:
            return old
        Base.metadata.remove(old)
    cols: list[SqlColumn[Any]] = [
        SqlColumn("run_id", Integer, ForeignKey("analysis_run.id", ondelete="CASCADE"), primary_key=True),
        SqlColumn(PART_COLUMN, Integer, primary_key=True, autoincrement=False),
        SqlColumn(
            "specimen_id", Integer, ForeignKey("specimen.id", ondelete="RESTRICT"), nullable=False, index=True
        ),
        SqlColumn("dot_id", Integer, ForeignKey("dot.id", ondelete="RESTRICT"), nullable=True, index=True),
        SqlColumn(
            "measurement_id",
            Integer,
            ForeignKey("measurement.id", ondelete="RESTRICT"),
            nullable=True,
            index=True,
        ),
        SqlColumn("flags", String(255), nullable=False, default=""),
        SqlColumn("qc", String(8), nullable=False),
        SqlColumn("qc_failed", String(255), nullable=False),
        SqlColumn("qc_reason", String(255), nullable=False),
    ]
    for c in p.columns:
        cols.extend(c.sql_columns())
    return Table(name, Base.metadata, *cols)


def flags_text(flags: Sequence[str]) -> str:
    """Flags as stored: distinct, in order, space-separated, at most 255 characters."""
    return " ".join(dict.fromkeys(f for f in flags if f))[:255]


def finite_or_none(x: Any) -> float | None:
    """A float for the catalog; NaN and ±inf become NULL (SQL has no NaN on every backend)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
