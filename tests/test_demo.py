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
    res = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "d"), "--quick"])
    assert res.exit_code == 0, res.output
    assert "catalog and store consistent" in res.stderr
    assert str(tmp_path / "d") in res.stderr
