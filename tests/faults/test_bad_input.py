"""Bad input on the command line: one clear line, a non-zero exit, nothing changed — on both backends.

A table of nonsense a user (or a script) can type — values that do not fit their
column, non-finite and out-of-range numbers, ids past 64 bits, filter literals of
the wrong type, parameters that would only fail later — run against the same small
catalog on SQLite and on PostgreSQL. Every case must give a one-line ``error:``
(or a usage error naming the option), a non-zero exit code, no traceback, and
leave every table of the catalog exactly as it was: the same verdict on both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from qdcat.catalog.api import open_catalog
from qdcat.catalog.models import Base
from qdcat.cli import app

LONG = "x" * 300
BIG = str(2**63)
HUGE = "9" * 25

REGISTER = ["ingest", "--manifest", "{tmp}/m.csv", "--register"]

# (case name, argv, a fragment the message must contain)
CASES: list[tuple[str, list[str], str]] = [
    # -- text longer than its column (PostgreSQL: StringDataRightTruncation before)
    ("long sample name", ["sample", "add", LONG, "--material", "InP"], "longer than"),
    ("long material", ["sample", "add", "S2", "--material", LONG], "characters"),
    ("NUL in notes", ["sample", "add", "S2", "--material", "InP", "--notes", "a\x00b"], "NUL"),
    ("long solvent", ["specimen", "add", "sp2", "--sample", "InP-A", "--solvent", LONG], "characters"),
    ("long substrate", ["specimen", "add", "sp2", "--sample", "InP-A", "--substrate", LONG], "characters"),
    (
        "long tagger model",
        ["setup", "add", "s2", "--channel", "0=hbt_a", "--time-tagger-model", LONG],
        "characters",
    ),
    (
        "long spectrometer",
        ["setup", "add", "s2", "--channel", "0=hbt_a", "--spectrometer", LONG],
        "characters",
    ),
    (
        "long marker label",
        ["dot", "add", "dz", "1", "2", "--specimen", "slide-1", "--marker-label", LONG],
        "characters",
    ),
    ("long dot label", ["dot", "add", LONG, "1", "2", "--specimen", "slide-1"], "longer than"),
    # -- numbers that are not finite, or out of their range
    ("nan diameter", ["sample", "add", "S2", "--material", "InP", "--core-diameter-nm", "nan"], "finite"),
    ("inf diameter", ["sample", "add", "S2", "--material", "InP", "--core-diameter-nm", "inf"], "finite"),
    ("negative diameter", ["sample", "add", "S2", "--material", "InP", "--core-diameter-nm", "-3"], "> 0"),
    ("plqy above one", ["sample", "add", "S2", "--material", "InP", "--plqy-fraction", "1.5"], "[0, 1]"),
    (
        "negative concentration",
        ["specimen", "add", "sp2", "--sample", "InP-A", "--concentration-nmol-l", "-1"],
        ">",
    ),
    ("inf dot position", ["dot", "add", "dz", "1e400", "2", "--specimen", "slide-1"], "finite"),
    (
        "nan resolution",
        ["setup", "add", "s2", "--channel", "0=hbt_a", "--time-tagger-resolution-ps", "nan"],
        "finite",
    ),
    ("nan dark counts", ["setup", "add", "s2", "--channel", "0=hbt_a", "--dark-cps", "0=nan"], "finite"),
    ("negative jitter", ["setup", "add", "s2", "--channel", "0=hbt_a", "--jitter-ps", "0=-5"], ">"),
    ("huge channel", ["setup", "add", "s2", "--channel", f"{HUGE}=hbt_a"], "channel"),
    ("unknown role", ["setup", "add", "s2", "--channel", "0=nosuchrole"], "role"),
    ("channel not a number", ["setup", "add", "s2", "--channel", "x=hbt_a"], "channel"),
    # -- dates
    ("date words", ["specimen", "add", "sp2", "--sample", "InP-A", "--prepared-on", "yesterday"], "date"),
    (
        "date out of range",
        ["specimen", "add", "sp2", "--sample", "InP-A", "--prepared-on", "1066-10-14"],
        "1900",
    ),
    (
        "date five-digit year",
        ["sample", "add", "S2", "--material", "InP", "--synthesized-on", "99999-01-01"],
        "date",
    ),
    # -- names and references
    ("empty sample name", ["sample", "add", " ", "--material", "InP"], "non-empty"),
    ("slash in name", ["sample", "add", "a/b", "--material", "InP"], "/"),
    ("unknown sample", ["specimen", "add", "sp2", "--sample", "nope"], "unknown sample"),
    ("unknown specimen", ["dot", "add", "dz", "1", "2", "--specimen", "nope"], "unknown specimen"),
    ("duplicate sample", ["sample", "add", "InP-A", "--material", "InP"], "already exists"),
    # -- ids: zero, negative, past 64 bits, missing
    ("id past int64", ["measurement", "show", BIG], "invalid value"),
    ("id huge", ["measurement", "show", HUGE], "invalid value"),
    ("id zero", ["measurement", "show", "0"], "invalid value"),
    ("missing measurement", ["measurement", "show", "999999"], "no measurement"),
    ("delete missing", ["measurement", "delete", "999999"], "no measurement"),
    ("results past int64", ["results", "show", BIG], "invalid value"),
    ("run past int64", ["jobs", "show", BIG], "invalid value"),
    ("run negative", ["jobs", "show", "-1"], "-1"),
    ("retry past int64", ["jobs", "retry", BIG], "invalid value"),
    ("export past int64", ["export", BIG, "out.h5"], "invalid value"),
    # -- listing limits
    ("limit negative", ["jobs", "list", "--limit", "-1"], "invalid value"),
    ("limit zero", ["jobs", "list", "--limit", "0"], "invalid value"),
    # -- analyze: selection, parameters, executors
    ("analyze missing measurement", ["analyze", "-m", "999999"], "no measurement"),
    ("analyze id past int64", ["analyze", "-m", BIG], "invalid value"),
    ("analyze unknown sample", ["analyze", "--sample", "nope"], "unknown sample"),
    ("analyze unknown analysis", ["analyze", "-a", "nosuch"], "nosuch"),
    ("param nan", ["analyze", "-p", "g2_cw.window_ns=nan"], "finite"),
    ("param inf", ["analyze", "-p", "g2_cw.window_ns=inf"], "finite"),
    ("param negative", ["analyze", "-p", "g2_cw.window_ns=-5"], "window_ns"),
    ("param zero bin", ["analyze", "-p", "decay.bin_ps=0"], "bin_ps"),
    ("param zero fit stop", ["analyze", "-p", "decay.fit_stop_ns=0"], "fit_stop_ns"),
    ("param text", ["analyze", "-p", "blinking.bin_ms=abc"], "bin_ms"),
    ("param fraction", ["analyze", "-p", "blinking.min_periods=2.5"], "whole number"),
    ("param choice", ["analyze", "-p", "blinking.threshold=magic"], "one of"),
    ("param unknown name", ["analyze", "-p", "g2_cw.nosuch=1"], "no parameter"),
    ("param unknown analysis", ["analyze", "-p", "nosuch.x=1"], "nosuch"),
    ("param malformed", ["analyze", "-p", "g2_cw.window_ns"], "ANALYSIS.NAME=VALUE"),
    ("workers zero", ["analyze", "--workers", "0"], "invalid value"),
    ("workers negative", ["analyze", "--workers", "-3"], "invalid value"),
    ("analyze lease negative", ["analyze", "--lease-s", "-5"], "invalid value"),
    ("worker lease negative", ["worker", "--lease-s", "-5", "--exit-when-idle"], "invalid value"),
    ("worker lease zero", ["worker", "--lease-s", "0", "--exit-when-idle"], "invalid value"),
    ("worker poll negative", ["worker", "--poll-s", "-1", "--exit-when-idle"], "invalid value"),
    ("worker max jobs zero", ["worker", "--max-jobs", "0"], "invalid value"),
    # -- filters whose literal does not fit the field (PostgreSQL: UndefinedFunction before)
    ("where text field number", ["query", "dots", "--where", "sample = 5"], "quote it"),
    ("where number field text", ["query", "dots", "--where", "g2_zero = 'abc'"], "is a number"),
    ("where like on number", ["query", "dots", "--where", "g2_zero like 'a%'"], "matches text"),
    ("where between text", ["query", "dots", "--where", "lifetime_ns between 1 and 'x'"], "is a number"),
    ("where in mixed", ["query", "dots", "--where", "sample in ('InP-A', 3)"], "quote it"),
    ("where bad date", ["query", "results", "g2_cw", "--where", "started_at > 'yesterday'"], "date/time"),
    ("where huge number", ["query", "dots", "--where", f"dot_id = {HUGE}"], "out of range"),
    ("where overflow float", ["query", "dots", "--where", "g2_zero < 1e999"], "out of range"),
    ("where unknown field", ["query", "dots", "--where", "nosuch = 1"], "unknown field"),
    ("where sql", ["query", "dots", "--where", "1=1; drop table sample"], "position"),
    ("stats where type", ["stats", "g2_zero", "--where", "sample = 5"], "quote it"),
    (
        "correlate where type",
        ["correlate", "g2_zero", "lifetime_ns", "--where", "g2_zero = 'a'"],
        "is a number",
    ),
    # -- dot lists
    (
        "dots extra cells",
        ["dot", "import", "{tmp}/extra.csv", "--specimen", "slide-1"],
        "cells for 3 columns",
    ),
    ("dots nan position", ["dot", "import", "{tmp}/nan.csv", "--specimen", "slide-1"], "finite"),
    ("dots not text", ["dot", "import", "{tmp}/binary.csv", "--specimen", "slide-1"], "not a readable CSV"),
    ("dots no header", ["dot", "import", "{tmp}/noheader.csv", "--specimen", "slide-1"], "missing column"),
    ("dots long label", ["dot", "import", "{tmp}/longlabel.csv", "--specimen", "slide-1"], "longer than"),
    # -- session files (ingest --register)
    ("toml not tables", [*REGISTER, "{tmp}/bad1.toml"], "list of tables"),
    ("toml missing material", [*REGISTER, "{tmp}/bad2.toml"], "'material'"),
    ("toml channels wrong type", [*REGISTER, "{tmp}/bad3.toml"], "channels"),
    ("toml unknown key", [*REGISTER, "{tmp}/bad4.toml"], "unknown key 'colour'"),
    ("toml syntax", [*REGISTER, "{tmp}/bad5.toml"], "bad5.toml"),
    ("toml dots wrong type", [*REGISTER, "{tmp}/bad6.toml"], "dots"),
    # -- ingest
    (
        "ingest missing file",
        ["ingest", "nosuch.ptu", "--kind", "decay", "--specimen", "slide-1"],
        "nosuch.ptu",
    ),
    (
        "ingest unknown kind",
        ["ingest", "{ptu}", "--kind", "nosuch", "--specimen", "slide-1", "--dot", "d1"],
        "kind",
    ),
    (
        "ingest unknown specimen",
        ["ingest", "{ptu}", "--kind", "decay", "--specimen", "nope", "--dot", "d1"],
        "nope",
    ),
    (
        "ingest long operator",
        [
            "ingest",
            "{ptu}",
            "--kind",
            "decay",
            "--specimen",
            "slide-1",
            "--dot",
            "d1",
            "--setup",
            "hbt",
            "--operator",
            LONG,
        ],
        "characters",
    ),
    (
        "ingest nan intensity",
        [
            "ingest",
            "{ptu}",
            "--kind",
            "decay",
            "--specimen",
            "slide-1",
            "--dot",
            "d1",
            "--setup",
            "hbt",
            "--intensity-w-cm2",
            "nan",
        ],
        "finite",
    ),
    (
        "ingest negative rate",
        [
            "ingest",
            "{ptu}",
            "--kind",
            "decay",
            "--specimen",
            "slide-1",
            "--dot",
            "d1",
            "--setup",
            "hbt",
            "--repetition-rate-mhz",
            "-1",
        ],
        "> 0",
    ),
    (
        "ingest series index",
        [
            "ingest",
            "{ptu}",
            "--kind",
            "decay",
            "--specimen",
            "slide-1",
            "--dot",
            "d1",
            "--setup",
            "hbt",
            "--series-name",
            "p",
            "--series-index",
            BIG,
        ],
        "invalid value",
    ),
]


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t.name: int(c.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def _store_files(root: Path) -> list[Path]:
    """Files of the store besides the (empty) groups' metadata."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != "zarr.json")


def test_every_bad_input_is_one_clear_line_and_changes_nothing(
    tmp_path: Path, empty_database_url: str, shared_timetags: Path, backend: str
) -> None:
    env = {"QDCAT_HOME": str(tmp_path / "home"), "QDCAT_DATABASE_URL": empty_database_url, "COLUMNS": "200"}
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    ptu = tmp_path / "dot.ptu"
    shutil.copyfile(shared_timetags / "psd_hydraharp_v20_t3.ptu", ptu)
    dots = tmp_path / "dots.csv"
    dots.write_text("label,x_um,y_um\nd1,1,2\nd2,3,4\n")
    (tmp_path / "m.csv").write_text("file,kind,specimen,dot\ndot.ptu,decay,slide-1,d1\n")
    (tmp_path / "bad1.toml").write_text('sample = "x"\n')
    (tmp_path / "bad2.toml").write_text('[[sample]]\nname = "S9"\n')
    (tmp_path / "bad3.toml").write_text('[[setup]]\nname = "s9"\nchannels = 7\n')
    (tmp_path / "bad4.toml").write_text('[[sample]]\nname = "S9"\nmaterial = "InP"\ncolour = "red"\n')
    (tmp_path / "bad5.toml").write_text("[[sample\n")
    (tmp_path / "bad6.toml").write_text('[[specimen]]\nname = "sp9"\nsample = "InP-A"\ndots = 7\n')
    (tmp_path / "extra.csv").write_text("label,x_um,y_um\nd7,1,2,3\n")
    (tmp_path / "nan.csv").write_text("label,x_um,y_um\nd7,nan,2\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    (tmp_path / "noheader.csv").write_text("d7,1,2\n")
    (tmp_path / "longlabel.csv").write_text(f"label,x_um,y_um\n{LONG},1,2\n")
    for args in (
        ["init"],
        ["sample", "add", "InP-A", "--material", "InP/ZnSe"],
        ["specimen", "add", "slide-1", "--sample", "InP-A"],
        ["dot", "import", str(dots), "--specimen", "slide-1"],
        ["setup", "add", "hbt", "--channel", "0=hbt_a", "--channel", "1=hbt_b"],
    ):
        res = run(*args)
        assert res.exit_code == 0, (args, res.output)

    cat = open_catalog(tmp_path / "home", database_url=empty_database_url)
    before = _counts(cat.engine)
    store_before = _store_files(tmp_path / "home" / "store")
    problems: list[str] = []
    for name, argv, fragment in CASES:
        argv = [a.replace("{ptu}", str(ptu)).replace("{tmp}", str(tmp_path)) for a in argv]
        res = run(*argv)
        out = res.output
        lines = [line for line in out.splitlines() if line.strip()]
        if not isinstance(res.exception, SystemExit) or res.exit_code == 0:
            problems.append(f"{name}: exit {res.exit_code}, exception {res.exception!r}: {out[-300:]}")
        elif "Traceback" in out:
            problems.append(f"{name}: traceback: {out[-300:]}")
        elif fragment.lower() not in out.lower():
            problems.append(f"{name}: message lacks {fragment!r}: {out[-300:]}")
        elif not any(line.startswith("error: ") for line in lines):
            problems.append(f"{name}: no 'error:' line: {out[-300:]}")
        after = _counts(cat.engine)
        if after != before:
            changed = {k: (before[k], after[k]) for k in after if after[k] != before[k]}
            problems.append(f"{name}: the catalog changed: {changed}")
            before = after
    store_after = _store_files(tmp_path / "home" / "store")
    cat.close()
    assert store_after == store_before, "a refused input left files in the store"
    assert not problems, f"{len(problems)} of {len(CASES)} bad inputs mishandled on {backend}:\n" + "\n".join(
        problems
    )
