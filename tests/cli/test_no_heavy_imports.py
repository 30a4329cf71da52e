"""Listing commands answer at once: they import no numba, zarr, scipy, matplotlib, phconvert or dask.

Each command runs in a fresh interpreter (as a user types it) on an embedded
catalog; the modules it loaded are read back from ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numba", "zarr", "scipy", "matplotlib", "phconvert", "dask", "h5py", "ptufile")
PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["qdcat", *args]
from qdcat.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & watched)
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("light") / "home"
    subprocess.run(
        [sys.executable, "-c", "from qdcat.cli import main; main()", "--home", str(home), "init"],
        check=True,
        capture_output=True,
    )
    return home


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["sample", "list"],
        ["specimen", "list"],
        ["dot", "list"],
        ["setup", "list"],
        ["measurement", "list"],
        ["jobs", "list"],
        ["query", "dots"],
        ["query", "results", "decay"],
    ],
    ids=lambda a: " ".join(a),
)
def test_listing_commands_import_nothing_heavy(home: Path, argv: list[str]) -> None:
    res = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["--home", str(home), *argv]), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
    )
    line = [x for x in res.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, res.stderr
    assert json.loads(line[0][6:]) == [], f"qdcat {' '.join(argv)} imported {line[0][6:]}"
