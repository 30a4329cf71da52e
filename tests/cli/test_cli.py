"""The CLI as a user meets it: one-line errors, tables, JSON/CSV, both backends."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdcat.cli import app


@pytest.fixture
def run(tmp_path: Path, empty_database_url: str):  # type: ignore[no-untyped-def]
    """Invoke ``qdcat`` against a fresh catalog home on each backend."""
    env = {"QDCAT_HOME": str(tmp_path / "home"), "QDCAT_DATABASE_URL": empty_database_url}
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    invoke.env = env  # type: ignore[attr-defined]
    return invoke


def test_new_user_flow(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    run(
        "sample", "add", "InP-A", "--material", "InP/ZnSe", "--core-diameter-nm", "3.2", "--pl-peak-nm", "629"
    )
    run("sample", "add", "CdSe-B", "--material", "CdSe/CdS")
    run("specimen", "add", "slide-1", "--sample", "InP-A", "--preparation-method", "drop-cast")
    run("specimen", "add", "film-1", "--sample", "InP-A", "--purpose", "ensemble")
    dots = tmp_path / "dots.csv"
    dots.write_text("label,x_um,y_um\n" + "".join(f"d{i},{i * 1.5},{i * 2.0}\n" for i in range(1, 26)))
    res = run("dot", "import", str(dots), "--specimen", "slide-1")
    assert "imported 25 dot(s)" in res.output
    run(
        "dot",
        "add",
        "extra",
        "1",
        "2",
        "--specimen",
        "slide-1",
        "--marker-label",
        "M1",
        "--marker-dx-um",
        "3",
        "--marker-dy-um",
        "-4",
    )
    run("setup", "add", "hbt", "--channel", "0=hbt_a:SPAD-1", "--channel", "1=hbt_b", "--channel", "2=sync")

    samples = json.loads(run("sample", "list", "--json").stdout)
    assert {s["name"]: (s["specimens"], s["dots"]) for s in samples} == {"InP-A": (2, 26), "CdSe-B": (0, 0)}
    rows = list(csv.DictReader(io.StringIO(run("dot", "list", "--specimen", "slide-1", "--csv").stdout)))
    assert len(rows) == 26 and rows[0].keys() >= {"label", "x_um", "y_um", "specimen", "sample"}
    extra = next(r for r in rows if r["label"] == "extra")
    assert (extra["marker_label"], extra["marker_dy_um"]) == ("M1", "-4")
    table = run("sample", "list").stdout
    assert "InP-A" in table and "CdSe-B" in table
    shown = json.loads(run("sample", "show", "InP-A", "--json").stdout)
    assert shown["core_diameter_nm"] == 3.2 and shown["dots"] == 26
    setup = json.loads(run("setup", "show", "hbt", "--json").stdout)
    assert setup["channels"]["0"] == {
        "role": "hbt_a",
        "detector": "SPAD-1",
        "dark_count_rate_cps": None,
        "timing_jitter_ps": None,
    }
    assert json.loads(run("measurement", "list", "--json").stdout) == []
    status = json.loads(run("db", "status", "--json").stdout)
    assert status["schema_ok"] is True and status["dots"] == 26
    assert run("fsck").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sample", "add", "InP-A", "--material", "InP/ZnSe"), "sample 'InP-A' already exists"),
        (("specimen", "add", "s", "--sample", "nope"), "unknown sample 'nope'"),
        (
            ("sample", "add", "X", "--material", "Y", "--plqy-fraction", "7"),
            "plqy_fraction must lie in [0, 1]",
        ),
        (("sample", "show", "ghost"), "unknown sample 'ghost'"),
        (("dot", "list", "--specimen", "ghost"), "unknown specimen 'ghost'"),
        (("measurement", "show", "42"), "no measurement with id 42"),
        (("setup", "add", "s", "--channel", "zero=hbt_a"), "must look like 0=hbt_a"),
        (("setup", "add", "s", "--channel", "0=hbta"), "choose one of: hbt_a, hbt_b, sync, marker, detector"),
        (("sample", "delete", "InP-A"), "pass --force"),
        (("sample", "list", "--json", "--csv"), "choose one of --json and --csv"),
    ],
)
def test_errors_are_one_clear_line(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    run("init")
    run("sample", "add", "InP-A", "--material", "InP/ZnSe")
    run("specimen", "add", "slide-1", "--sample", "InP-A")
    res = run(*args, ok=False)
    assert res.exit_code == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert "Traceback" not in res.output
    # nothing changed
    samples = json.loads(run("sample", "list", "--json").stdout)
    assert [s["name"] for s in samples] == ["InP-A"]


def test_uninitialised_catalog_says_what_to_do(run) -> None:  # type: ignore[no-untyped-def]
    res = run("sample", "list", ok=False)
    assert res.exit_code == 1
    assert "qdcat db upgrade" in res.stderr or "qdcat init" in res.stderr
    run("db", "upgrade")
    assert run("sample", "list", "--json").stdout.strip() == "[]"
    assert "already current" in run("db", "upgrade").stderr


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it (SQLite, no server)."""
    env = {**os.environ, "QDCAT_HOME": str(tmp_path / "nohome")}
    env.pop("QDCAT_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", "from qdcat.cli import main; main()", "sample", "list"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: catalog directory {tmp_path / 'nohome'} does not exist; run `qdcat init` first"
    ]
