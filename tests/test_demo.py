"""`qdcat demo` end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdcat.catalog.api import open_catalog
from qdcat.cli import app
from qdcat.demo import run_demo
from qdcat.errors import QdcatError


def test_demo_builds_a_consistent_catalog(tmp_path: Path) -> None:
    res = run_demo(tmp_path / "demo", n_dots=5, acquisition_s=0.5)
    assert (res.dots, res.measurements, res.problems) == (5, 10, 0)
    with open_catalog(res.home) as cat:
        assert cat.config.is_sqlite
        g2 = cat.list_measurements(kind="g2_cw")
        assert len(g2) == 5 and sum(m["event_count"] for m in g2) == res.events
        assert cat.fsck(checksums=True) == []
    # a second run replaces the demo catalog rather than piling up
    again = run_demo(tmp_path / "demo", n_dots=3, acquisition_s=0.2)
    assert again.measurements == 6


def test_demo_never_touches_a_real_catalog(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "catalog.sqlite").write_bytes(b"precious")
    with pytest.raises(QdcatError, match="not a demo catalog"):
        run_demo(real, n_dots=2)
    assert (real / "catalog.sqlite").read_bytes() == b"precious"


def test_demo_command(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "d"), "--dots", "3"])
    assert res.exit_code == 0, res.output
    assert "catalog and store consistent" in res.stderr
    assert str(tmp_path / "d") in res.stderr
