"""edit, history, curate and dot show, as a user types them, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdcat.cli import app
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.simulate import CwExcitation, DotParams, simulate_cw


@pytest.fixture
def run(tmp_path: Path, empty_database_url: str):  # type: ignore[no-untyped-def]
    env = {
        "QDCAT_HOME": str(tmp_path / "home"),
        "QDCAT_DATABASE_URL": empty_database_url,
        "QDCAT_USER": "bob",
    }
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    invoke("init")
    invoke("sample", "add", "InP-A", "--material", "InP/ZnSe", "--pl-peak-nm", "629")
    invoke("specimen", "add", "slide-1", "--sample", "InP-A")
    invoke("dot", "add", "QD001", "0", "0", "--specimen", "slide-1")
    invoke("dot", "add", "QD002", "5", "0", "--specimen", "slide-1")
    invoke("setup", "add", "hbt", "--channel", "0=hbt_a", "--channel", "1=hbt_b")
    sim = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=5)
    f = tmp_path / "qd1.ptu"
    write_ptu_t2(f, [(sim.stream.timestamps_ps, sim.stream.channels)], acquisition_s=1.0)
    invoke(
        "ingest", str(f), "--kind", "g2_cw", "--specimen", "slide-1", "--dot", "QD001", "--setup", "hbt",
        "--excitation-mode", "cw", "--intensity-w-cm2", "100",
    )  # fmt: skip
    invoke("analyze", "--analysis", "g2_cw")
    return invoke


def test_edit_then_history_with_who_and_why(run) -> None:  # type: ignore[no-untyped-def]
    out = run("edit", "measurement", "1", "--set", "intensity_w_cm2=120", "--reason", "power meter misread")
    assert "intensity_w_cm2 100.0 → 120.0" in out.output
    assert "1 result(s) computed from the old values are stale" in out.output
    run("analyze", "--analysis", "g2_cw")
    rows = json.loads(run("history", "--json").stdout)
    assert rows[0]["who"] == "bob" and rows[0]["reason"] == "power meter misread"
    assert (rows[0]["old"], rows[0]["new"], rows[0]["field"]) == (100.0, 120.0, "intensity_w_cm2")
    # one clear line, nothing changed
    bad = run("edit", "dot", "slide-1/QD001", "--set", "label=QD002", code=1)
    assert bad.output.startswith("error:") and "already exists" in bad.output
    bad = run("edit", "dot", "slide-1/QD001", "--set", "x_um", code=1)
    assert "FIELD=VALUE" in bad.output
    assert len(json.loads(run("history", "--json").stdout)) == 1


def test_curate_and_the_dot_card(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("curate", "tag", "dot", "slide-1/QD001", "Fig. 3")
    run("curate", "exclude", "measurement", "1", "--reason", "bad focus")
    out = run("query", "dots", "--columns", "dot,g2_zero")
    assert "left out" not in out.stdout and "excluded by curation" in out.output
    card = json.loads(run("dot", "show", "slide-1/QD001", "--json").stdout)
    assert card["tags"] == ["Fig. 3"] and card["measurements"][0]["excluded"] == "bad focus"
    assert {r["analysis"] for r in card["results"]} >= {"g2_cw"}
    assert [e["action"] for e in card["history"]] == ["exclude", "tag"]
    figs = tmp_path / "figs"
    run("dot", "show", "slide-1/QD001", "--figures", str(figs))
    assert any(p.name.endswith("_g2.png") for p in figs.iterdir())
    listing = json.loads(run("curate", "list", "--json").stdout)
    assert {(r["kind"], r["label"]) for r in listing} == {
        ("tag", "slide-1/QD001"),
        ("exclusion", "measurement 1"),
    }
    run("curate", "include", "measurement", "1")
    assert "excluded by curation" not in run("query", "dots", "--columns", "dot,g2_zero").output
    assert run("dot", "show", "nowhere/QD9", code=1).output.startswith("error:")
    assert "choose one of" in run("curate", "tag", "sample", "InP-A", "x", code=1).output
