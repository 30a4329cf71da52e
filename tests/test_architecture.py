"""The one-way data flow is checked, not only drawn: the import contracts in pyproject.toml hold."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(*config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", *map(str, config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contracts_are_kept() -> None:
    out = _lint()
    assert out.returncode == 0, out.stdout + out.stderr
    n = len(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"])
    assert f"Contracts: {n} kept, 0 broken." in out.stdout


def test_a_broken_contract_is_caught(tmp_path: Path) -> None:
    """The check can fail: a contract the code breaks (queries read the catalog) is reported."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "qdcat"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "queries without a catalog"\ntype = "forbidden"\n'
        'source_modules = ["qdcat.query"]\nforbidden_modules = ["qdcat.catalog"]\n'
    )
    out = _lint(config)
    assert out.returncode == 1 and "BROKEN" in out.stdout, out.stdout
    assert "qdcat.query" in out.stdout and "qdcat.catalog" in out.stdout
