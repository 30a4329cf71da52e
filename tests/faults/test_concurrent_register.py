"""Four processes register and ingest the same session at once, on an empty catalog.

Registration is idempotent under concurrency (what another process added
meanwhile counts as already there) and so is ingest (a file another process
ingested meanwhile is skipped): every process exits 0, every file is in the
catalog exactly once.
"""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from qdcat.catalog.api import Catalog
from qdcat.catalog.models import Dot, Measurement, Sample, Setup, Specimen
from qdcat.session import SessionSummary

from ..jobs.conftest import cli_env

QDCAT = [sys.executable, "-c", "from qdcat.cli import main; main()"]


def test_concurrent_register_and_ingest_of_one_session(catalog: Catalog, session: SessionSummary) -> None:
    env = cli_env(catalog)
    cmd = [*QDCAT, "ingest", "--manifest", str(session.manifest), "--register", str(session.session_toml)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out
        assert "Traceback" not in out, out
    n_files = len(session.manifest.read_text().strip().splitlines()) - 1
    with catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(Measurement)) == n_files
        for model in (Sample, Specimen, Setup, Dot):
            names = s.scalars(select(func.count()).select_from(model)).one()
            assert names > 0
    assert catalog.fsck() == []
