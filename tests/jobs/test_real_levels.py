"""The levels analysis on every shared real time-tag file: it runs, and its books balance.

Each file goes the user's way (a setup naming every channel a detector, ingest, analyze).
Every detector photon counted by an independent reader is in the result, the levels'
photons add up to it, their dwell fractions to one; where the file times photons against
the laser and the decay analysis finds a decay, the brightest level has a lifetime
within the errors of the whole acquisition's unless the levels differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.query import api as q

from .test_real_decays import FILES as T3_FILES
from .test_real_decays import _independent

T2_FILES = {"psd_hydraharp_v20_t2.ptu": "ptu", "psd_picoharp_v30_t2.ptu": "ptu"}


def _t2_detectors(path: Path) -> np.ndarray:
    import ptufile

    with ptufile.PtuFile(path) as f:
        rec = f.decode_records()
    return np.asarray(rec["channel"][rec["channel"] >= 0], dtype=int)


@pytest.mark.parametrize("name", sorted({**T3_FILES, **T2_FILES}))
def test_levels_on_a_real_file(name: str, catalog: Catalog, shared_timetags: Path) -> None:
    path = shared_timetags / name
    if name in T2_FILES:
        dets, unit = _t2_detectors(path), None
    else:
        dets, _, unit = _independent(path, T3_FILES[name])
    catalog.add_sample("S", "dye")
    catalog.add_specimen("sp", "S")
    catalog.add_dot("sp", "d", 0.0, 0.0)
    catalog.add_setup("all-detectors", channels={c: "detector" for c in sorted(set(dets.tolist()))})
    if name == "psd_hydraharp_v10.ht3":  # a truncated excerpt: refused at ingest (test_real_decays)
        return
    out = ingest_file(catalog, IngestItem(path, "intensity_trace", "sp", dot="d", setup="all-detectors"))
    assert out.status == "ingested", out.message
    outs = jobs.run_inline(catalog, jobs.plan(catalog, analyses=["levels", "decay"]).to_run)
    assert [o for o in outs if o.status != "done"] == [], outs
    (r,) = q.results(catalog, "levels").to_dict("records")
    assert r["photons"] == dets.size  # every detector photon
    parts = q.results(catalog, "levels.level")
    assert len(parts) == r["n_levels"] >= 1
    assert int(parts["photons"].sum()) == r["photons"]
    assert parts["dwell_fraction"].sum() == pytest.approx(1.0)
    assert list(parts["level"]) == list(range(r["n_levels"]))
    assert (np.diff(parts["intensity_cps"].to_numpy()) > 0).all()  # dimmest first
    if unit is None or name in T2_FILES:
        assert r["timing"] is None or r["timing"] == "t2_sync"
        return
    assert r["timing"] == "t3"
    (d,) = q.results(catalog, "decay").to_dict("records")
    if d["qc"] != "pass":
        return  # no decay to time (the noise-only .spc): the levels have none either
    bright = parts.iloc[-1]
    assert np.isfinite(bright["lifetime_ns"]), parts[["level", "photons", "lifetime_ns"]]
    if r["n_levels"] == 1:  # one level: the same photons as the decay, in the decay's window
        assert bright["lifetime_ns"] == pytest.approx(d["lifetime_ns"], abs=3 * d["lifetime_ns_err"] + 0.02)
