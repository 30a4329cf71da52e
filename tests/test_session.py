"""Simulated sessions travel the real-data path: files → manifest → catalog (both backends)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionPlan, register_session, write_session


def _read_csv(path):  # type: ignore[no-untyped-def]
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 72-dot session like the study's design, with very short acquisitions."""
    plan = replace(
        SessionPlan(seed=11),
        g2_duration_s=0.2,
        trace_duration_s=0.5,
        pulsed_duration_s=0.1,
        power_series_duration_s=0.3,
        n_second_sample_dots=5,
    )
    return write_session(tmp_path_factory.mktemp("sim") / "session", plan)


def test_session_folder_holds_files_manifest_and_truth(session) -> None:  # type: ignore[no-untyped-def]
    rows = _read_csv(session.folder / "manifest.csv")
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["spectrum"] == 72 + 5
    assert kinds["g2_cw"] == 70 + 5
    # One cw acquisition per dot (the 25 + 5 blinking dots' are long: the trace); one pulsed
    # acquisition per lifetime dot (5 of them recorded as pulsed g2); + the film's decay.
    assert kinds["decay"] == 25 - 5 + 5 + 1 and kinds["intensity_trace"] == 0
    assert kinds["transient_absorption"] == 1
    assert kinds["power_series_point"] == 6 and kinds["saturation_point"] == 15
    assert kinds["background_trace"] == 2 and kinds["ensemble_spectrum"] == 1 and kinds["g2_pulsed"] == 5
    assert all((session.folder / r["file"]).is_file() for r in rows)
    truth = _read_csv(session.folder / "truth_dots.csv")
    assert len(truth) == 77 and {"center_nm", "lifetime_ns", "g2_zero", "k_on", "k_off"} <= truth[0].keys()
    glob = json.loads((session.folder / "truth.json").read_text())
    ps = glob["power_series"]
    # derived truth follows its formula: I_S = γ / slope (γ in 1/s, slope in cm²/J)
    assert ps["saturation_intensity_w_cm2"] == pytest.approx(
        ps["decay_rate_per_us"] * 1e6 / ps["slope_cm2_per_j"], rel=1e-9
    )
    with pytest.raises(InvalidValueError, match="not empty"):
        write_session(session.folder, SessionPlan.quick())


def test_session_ingests_through_its_manifest_and_reingest_is_a_no_op(catalog: Catalog, session) -> None:  # type: ignore[no-untyped-def]
    added = register_session(catalog, session.session_toml)
    assert added == {"samples": 2, "specimens": 4, "dots": 77, "setups": 1}  # + the TA solution
    assert register_session(catalog, session.session_toml) == {
        "samples": 0,
        "specimens": 0,
        "dots": 0,
        "setups": 0,
    }
    items = read_manifest(session.manifest)
    out = ingest_many(catalog, items)
    failed = [(o.path.name, o.message) for o in out if o.status != "ingested"]
    assert failed == []
    assert len(catalog.list_measurements()) == len(items)
    # cw g2 files hold both HBT detectors; pulsed files are T3 with nanotimes
    g2 = catalog.list_measurements(kind="g2_cw", specimen="slide-InP", dot="QD001")[0]
    counts = catalog.raw_asset(g2["id"])["channel_counts"]
    assert set(counts) == {"0", "1"} and min(counts.values()) > 0
    decay = catalog.list_measurements(kind="g2_pulsed", specimen="slide-InP", dot="QD001")[0]
    raw = catalog.raw_asset(decay["id"])
    assert raw["has_nanotimes"] and raw["nanotime_resolution_ps"] == 16
    assert catalog.get_measurement(decay["id"])["settings"]["repetition_rate_mhz"] == pytest.approx(10)
    series = [m for m in catalog.list_measurements(kind="power_series_point")]
    intens = sorted(m["intensity_w_cm2"] for m in series)
    assert intens == [76, 150, 300, 500, 700, 950]
    again = ingest_many(catalog, items)
    assert Counter(o.status for o in again) == {"skipped": len(items)}
    assert catalog.fsck() == []


def test_stored_events_equal_the_simulated_files(catalog: Catalog, session) -> None:  # type: ignore[no-untyped-def]
    """Ingest is lossless: the store holds what the PTU file holds, by an independent reader."""
    import ptufile

    register_session(catalog, session.session_toml)
    items = [i for i in read_manifest(session.manifest) if i.path.name == "QD030.ptu" and i.kind == "g2_cw"]
    [out] = ingest_many(catalog, items)
    stored = catalog.open_timetags(out.measurement_id).read_all()
    with ptufile.PtuFile(items[0].path) as f:
        ref = f.decode_records()
    ph = ref["channel"] >= 0
    # short acquisitions: no overflow record carries >= 128 counts, so ptufile is exact here
    assert np.array_equal(ref["time"][ph].astype(np.int64), stored.timestamps_ps)
    assert np.array_equal(ref["channel"][ph].astype(np.uint8), stored.channels)
