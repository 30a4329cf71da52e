"""``qdcat serve``: refuses the network without a token, hands uvicorn the app otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from qdcat.cli import app


def test_a_network_host_needs_a_token(tmp_path: Path) -> None:
    env = {"QDCAT_HOME": str(tmp_path / "home"), "QDCAT_WEB_TOKEN": ""}
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 1
    assert "--token" in result.output


def test_serve_runs_uvicorn_on_the_catalog(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    env = {"QDCAT_HOME": str(tmp_path / "home"), "QDCAT_DATABASE_URL": empty_database_url}
    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123", "--token", "t"], env=env)
    assert result.exit_code == 0, result.output
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 8123
    calls[0]["app"].state.catalog.close()
