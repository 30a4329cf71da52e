"""``qdcat demo``: a simulated single-dot study, end to end on the embedded default.

Simulates a session like the reference study (``qdcat.session``: PTU and
Photon-HDF5 time tags, CSV spectra, a manifest, the ground truth), registers
its samples, specimens, dots and setup, ingests every file through the same
path as real data (``qdcat ingest --manifest``), then checks catalog and store
against each other. Analyses and the population table join as they land.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qdcat.catalog.api import init_catalog
from qdcat.errors import QdcatError
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionPlan, register_session, write_session

DEMO_MARKER = ".qdcat-demo"

#: The study's design (72 dots, 70 cw g2, 25 lifetimes, 25 blinking traces, a
#: power series, a saturation series, a second sample) at acquisition times
#: that keep the demo under a minute on two cores.
DEMO_PLAN = SessionPlan(
    g2_duration_s=2.0,
    trace_duration_s=10.0,
    pulsed_duration_s=0.5,
    power_series_duration_s=2.0,
)


@dataclass(frozen=True)
class DemoResult:
    home: Path
    session: Path
    dots: int
    measurements: int
    kinds: dict[str, int]
    events: int
    stored_bytes: int
    seconds: float
    failed: int
    problems: int


def _prepare_home(home: Path) -> None:
    if home.exists():
        if not (home / DEMO_MARKER).exists():
            raise QdcatError(
                f"{home} exists and is not a demo catalog; choose another --home (the demo never "
                "touches a real catalog)"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("created by `qdcat demo`; safe to delete\n")


def run_demo(
    home: str | Path = "qdcat-demo",
    *,
    plan: SessionPlan = DEMO_PLAN,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    t0 = time.perf_counter()
    home = Path(home).resolve()
    _prepare_home(home)
    session = write_session(home / "session", plan, progress=progress)
    with init_catalog(home) as cat:
        register_session(cat, session.session_toml)
        items = read_manifest(session.manifest)
        state = {"done": 0}

        def on_file(_: object) -> None:
            state["done"] += 1
            if progress:
                progress("ingesting files", state["done"], len(items))

        outcomes = ingest_many(cat, items, on_file=on_file)
        status = cat.status()
        kinds = Counter(m["kind"] for m in cat.list_measurements())
        problems = len(cat.fsck(checksums=True))
    return DemoResult(
        home=home,
        session=session.folder,
        dots=int(status["dots"]),
        measurements=int(status["measurements"]),
        kinds=dict(sorted(kinds.items())),
        events=int(status["raw_events"]),
        stored_bytes=int(status["raw_bytes"]),
        seconds=time.perf_counter() - t0,
        failed=sum(o.status == "failed" for o in outcomes),
        problems=problems,
    )
