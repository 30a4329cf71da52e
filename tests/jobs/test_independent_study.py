"""qdcat against a study from an independent simulator (tests/independent), with and without backgrounds.

The simulator shares no code with qdcat.simulate; its files travel the real-data path. Checked:
the on-fraction of every blinking result QC keeps, against the realised truth; every dot on less
than 30 % of its cw acquisition flagged in its g2 result; and the z-scores of the per-dot
quantities that QC keeps and carry no flag.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qdcat import jobs, workflow
from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import read_manifest
from qdcat.query import api as q
from qdcat.session import register_session
from tests.independent.simulator import read_truth, simulate_study

QUANTITIES = {  # analysis: (result column, truth column)
    "spectrum": [("center_nm", "center_nm"), ("fwhm_nm", "fwhm_nm")],
    "decay": [("lifetime_ns", "lifetime_ns")],
    "g2_cw": [
        ("g2_zero", "g2_zero_expected"),
        ("antibunching_rate_per_us", "antibunching_rate_per_us"),
        ("tau0_ns", "tau0_ns"),
    ],
    "blinking": [("on_fraction", "on_fraction")],
}


def _study(catalog: Catalog, folder: Path, seed: int, with_background: bool) -> dict[str, dict[str, object]]:
    study = simulate_study(
        folder,
        seed=seed,
        n_dots=10,
        cw_duration_s=6.0,
        pulsed_duration_s=1.0,
        with_background=with_background,
    )
    register_session(catalog, folder / "session.toml")
    report = workflow.ingest(catalog, read_manifest(folder / "manifest.csv"))
    assert report.count("ingested") == len(report.outcomes)
    outs = jobs.run_inline(catalog, jobs.plan(catalog).to_run)
    assert all(o.status == "done" for o in outs), [o for o in outs if o.status != "done"]
    return {Path(str(r["file"])).name: r for r in read_truth(folder / "truth.csv")} | {
        "_": {"n": len(study.rows)}
    }


def _rows(catalog: Catalog, analysis: str) -> list[dict[str, object]]:
    df = q.results(catalog, analysis)
    out = []
    for r in df.to_dict("records"):
        r["file"] = catalog.get_measurement(int(r["measurement_id"]))["raw_data"]["source_filename"]
        out.append(r)
    return out


@pytest.mark.parametrize(("seed", "with_background"), [(11, True), (12, False)])
def test_an_independent_study_scores_within_its_errors(
    catalog: Catalog, tmp_path: Path, seed: int, with_background: bool
) -> None:
    truth = _study(catalog, tmp_path / "study", seed, with_background)
    z: dict[str, list[float]] = {}
    for analysis, pairs in QUANTITIES.items():
        for r in _rows(catalog, analysis):
            t = truth.get(str(r["file"]))
            if t is None:
                continue
            for col, tcol in pairs:
                kept = r["qc"] != "fail" and col not in str(r["qc_failed"]).split()
                est, err, true = r.get(col), r.get(f"{col}_err"), t.get(tcol)
                if not kept or est is None or true in (None, "") or not err or not math.isfinite(float(err)):
                    continue
                if analysis == "blinking":  # the realised on-fraction, within the error from the cut bins
                    assert abs(float(est) - float(true)) <= 0.02 + 3 * float(err), (r["file"], r["flags"])
                    continue
                if not str(r["flags"]).strip():
                    z.setdefault(f"{analysis}.{col}", []).append((float(est) - float(true)) / float(err))
    # every dot on less than 30 % of its cw acquisition is flagged in its g2
    for r in _rows(catalog, "g2_cw"):
        t = truth[str(r["file"])]
        if float(t["on_fraction"]) < 0.25:
            assert "mostly_off" in str(r["flags"]), (r["file"], t["on_fraction"], r["flags"])
    assert {"spectrum.center_nm", "spectrum.fwhm_nm", "g2_cw.g2_zero"} <= set(z)
    for name, values in z.items():
        v = np.asarray(values)
        assert np.all(np.abs(v) < 5), (name, v)
        if v.size >= 5:
            assert abs(v.mean()) < 1.0 and 0.4 < v.std(ddof=1) < 1.8, (name, v)
