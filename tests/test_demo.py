"""`qdcat demo` end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdcat.catalog.api import open_catalog
from qdcat.cli import app
from qdcat.demo import run_demo
from qdcat.errors import QdcatError
from qdcat.session import SessionPlan


def test_demo_builds_a_consistent_catalog_through_the_ingest_path(tmp_path: Path) -> None:
    plan = SessionPlan.quick(n_dots=4)
    res = run_demo(tmp_path / "demo", plan=plan)
    assert res.failed == 0 and res.problems == 0
    assert res.kinds["spectrum"] == 4 + 2 and res.kinds["power_series_point"] == 6
    with open_catalog(res.home) as cat:
        assert cat.config.is_sqlite
        assert len(cat.list_dots()) == res.dots == 4 + 2
        raw = cat.list_measurements(kind="g2_cw")
        assert all(m["source_filename"].endswith(".ptu") for m in raw)
    # a second run replaces the demo catalog rather than piling up
    again = run_demo(tmp_path / "demo", plan=SessionPlan.quick(n_dots=2))
    assert again.dots == 2 + 1


def test_demo_never_touches_a_real_catalog(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "catalog.sqlite").write_bytes(b"precious")
    with pytest.raises(QdcatError, match="not a demo catalog"):
        run_demo(real, plan=SessionPlan.quick(n_dots=2))
    assert (real / "catalog.sqlite").read_bytes() == b"precious"


def test_demo_command(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "d"), "--quick", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "catalog and store consistent" in res.stderr
    assert str(tmp_path / "d") in res.stderr
    assert "qdcat vs truth vs the paper" in res.stdout and "InP/ZnSe vs CdSe/CdS" in res.stdout
    assert "paper's printed σ disagrees with its own formula" in res.stderr


def test_full_demo_answers_the_study_questions_like_the_truth(tmp_path: Path) -> None:
    """The README's main command, at full size: every population answer against the simulation's truth."""
    res = run_demo(tmp_path / "demo")
    assert res.failed == 0 and res.problems == 0 and res.job_errors == []
    assert set(res.jobs) == {"done"}
    # one cw acquisition per dot and one pulsed acquisition per lifetime dot (5 recorded as pulsed g2)
    assert res.dots == 72 + 25 and res.kinds["g2_cw"] == 70 + 25
    assert res.kinds["decay"] == 20 + 25 + 1 and res.kinds["g2_pulsed"] == 5
    rows = {r.quantity: r for r in res.table}
    checked = {q: r.agrees for q, r in rows.items() if r.agrees is not None}
    # Every answer agrees with the truth — the blinking exponents, pooled over the sample's long
    # traces, with an ideal 10 ms binning of the true on/off histories (within 2σ).
    assert all(checked.values()), {q: rows[q] for q in checked if not checked[q]}
    assert len(checked) >= 17
    pooled = [q for q in checked if "pooled ML" in q]
    assert len(pooled) == 2, list(rows)
    assert {c["quantity"] for c in res.comparison} >= {"lifetime_ns", "fwhm_nm", "g2_zero"}
    assert len(res.figures) >= 12 and all(p.stat().st_size > 10_000 for p in res.figures)
    print(f"demo wall time {res.seconds:.0f} s: {res.seconds_by_stage}")
