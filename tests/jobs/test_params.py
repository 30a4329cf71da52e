"""Analysis parameters kept per measurement: validated, used by every plan, in the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdcat import jobs, workflow
from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError, NotFoundError
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.simulate import CwExcitation, DotParams, simulate_cw


def _cw(cat: Catalog, tmp_path: Path, dot: str, seed: int) -> int:
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=seed)
    f = tmp_path / f"{dot}.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.0)
    return int(ingest_file(cat, IngestItem(f, "g2_cw", "slide-1", dot=dot, setup="hbt")).measurement_id)


def _bins(cat: Catalog) -> dict[int, float]:
    return {
        r["measurement_id"]: jobs.get_job(cat, r["run"])["params"]["bin_s"]
        for m in cat.list_measurements()
        for r in jobs.results_for_measurement(cat, m["id"])
        if r["analysis"] == "brightness"
    }


def test_kept_parameters_are_used_for_their_measurement_only(populated: Catalog, tmp_path: Path) -> None:
    a, b = _cw(populated, tmp_path, "d1", 1), _cw(populated, tmp_path, "d2", 2)
    kept = workflow.set_params(populated, a, {"brightness.bin_s": "0.05"}, reason="fast bleaching")
    assert kept == {"brightness": {"bin_s": 0.05}}
    jobs.run_inline(populated, jobs.plan(populated, analyses=["brightness"]).to_run)
    assert _bins(populated) == {a: 0.05, b: 0.1}
    # a batch parameter applies to the others; the kept one still wins for its measurement
    jobs.run_inline(
        populated, jobs.plan(populated, analyses=["brightness"], params={"brightness": {"bin_s": 0.2}}).to_run
    )
    assert _bins(populated) == {a: 0.05, b: 0.2}
    assert jobs.plan(populated, analyses=["brightness"], params={"brightness": {"bin_s": 0.2}}).to_run == []
    (event,) = [e for e in populated.history() if e.field == "brightness.bin_s"]
    assert (event.old, event.new, event.reason) == (None, 0.05, "fast bleaching")
    populated.clear_params(a)
    jobs.run_inline(populated, jobs.plan(populated, analyses=["brightness"]).to_run)
    assert _bins(populated) == {a: 0.1, b: 0.1}


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"brightness.colour": 1}, InvalidValueError, "has no parameter 'colour'"),
        ({"brightness.bin_s": -1}, InvalidValueError, "brightness.bin_s"),
        ({"bin_s": 1}, InvalidValueError, "ANALYSIS.NAME"),
        ({"nosuch.x": 1}, InvalidValueError, "unknown analysis"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_kept(
    populated: Catalog, tmp_path: Path, values: dict, error: type, message: str
) -> None:
    mid = _cw(populated, tmp_path, "d1", 1)
    with pytest.raises(error, match=message):
        workflow.set_params(populated, mid, values)
    assert populated.kept_params() == {} and populated.history() == []
    with pytest.raises(NotFoundError):
        workflow.set_params(populated, 9999, {"brightness.bin_s": 1})
