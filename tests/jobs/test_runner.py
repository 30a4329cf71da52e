"""Jobs on both backends: results against the simulator's truth, idempotency, staleness, failures."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select, update

from qdcat import analyses, jobs, workflow
from qdcat.catalog.api import Catalog
from qdcat.catalog.models import AnalysisRun, RunStatus
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.session import SessionSummary

from .conftest import result_rows, truth, truth_dots


def _run_all(cat: Catalog, **kw) -> jobs.Plan:  # type: ignore[no-untyped-def]
    p = jobs.plan(cat, **kw)
    outs = jobs.run_inline(cat, p.to_run)
    assert [o for o in outs if o.status != "done"] == []
    return p


def _pulls(est: np.ndarray, err: np.ndarray, true: np.ndarray) -> np.ndarray:
    return (np.asarray(est, float) - np.asarray(true, float)) / np.asarray(err, float)


def test_session_fills_every_result_table_and_agrees_with_truth(
    ingested: Catalog, session: SessionSummary
) -> None:
    p = _run_all(ingested)
    assert p.counts() == {"queued": len(p.jobs)}
    for a in analyses.registry().values():
        assert result_rows(ingested, a.table.name), f"{a.table.name} is empty"
    dots = truth_dots(session)

    spectra = [r for r in result_rows(ingested, "result_spectrum") if r["dot_label"]]
    assert len(spectra) == len(dots)
    for name, true in (("center_nm", "center_nm"), ("fwhm_nm", "fwhm_nm")):
        pulls = _pulls(
            [r[name] for r in spectra],
            [r[name + "_err"] for r in spectra],
            [dots[r["dot_label"]][true] for r in spectra],
        )
        assert np.all(np.abs(pulls) < 5), (name, pulls)
    # the energy and the width in meV are derived by formula from the fitted nm values
    for r in spectra:
        assert r["energy_ev"] == pytest.approx(1239.841984 / r["center_nm"], rel=1e-6)
        assert r["fwhm_mev"] == pytest.approx(1239.841984e3 * r["fwhm_nm"] / r["center_nm"] ** 2, rel=1e-9)

    # Every cw HBT acquisition on a dot gives a g2: the dots' own and each power-series point.
    series = {m["id"] for m in ingested.list_measurements(kind="power_series_point")}
    all_g2 = result_rows(ingested, "result_g2_cw")
    assert {r["measurement_id"] for r in all_g2} >= series
    g2 = [r for r in all_g2 if r["measurement_id"] not in series]
    assert len(g2) == sum(1 for d in dots.values() if isinstance(d.get("antibunching_rate_per_us"), float))
    pulls = _pulls(
        [r["antibunching_rate_per_us"] for r in g2],
        [r["antibunching_rate_per_us_err"] for r in g2],
        [dots[r["dot_label"]]["antibunching_rate_per_us"] for r in g2],
    )
    assert np.all(np.abs(pulls) < 5), pulls
    pulls = _pulls(
        [r["g2_zero"] for r in g2],
        [r["g2_zero_err"] for r in g2],
        [dots[r["dot_label"]]["g2_zero_expected"] for r in g2],
    )
    assert np.all(np.abs(pulls) < 5), pulls
    # The specimen's background trace gives the signal fractions ρ = 1 − B/R (the simulated
    # trace has the population's median background, so ρ is checked against the formula on
    # the stored events, not against each dot's own truth), and g2(0) is corrected with them.
    for r in g2:
        m = ingested.get_measurement(r["measurement_id"])
        backgrounds = ingested.list_measurements(kind="background_trace")
        (bg_m,) = [x for x in backgrounds if x["specimen"] == m["specimen"]]
        assert r["background_measurement_id"] == bg_m["id"]
        rates = []
        for mid in (r["measurement_id"], bg_m["id"]):
            ev = ingested.open_timetags(mid).read_all()
            rates.append(np.count_nonzero(ev.channels == 0) / ingested.get_measurement(mid)["duration_s"])
        assert r["signal_fraction_a"] == pytest.approx(1.0 - rates[1] / rates[0], rel=1e-9)
        rho2 = r["signal_fraction_a"] * r["signal_fraction_b"]
        assert r["g2_zero_corrected"] == pytest.approx((r["g2_zero"] - (1 - rho2)) / rho2, rel=1e-9)

    decays = [r for r in result_rows(ingested, "result_decay") if r["dot_label"]]
    pulls = _pulls(
        [r["lifetime_ns"] for r in decays],
        [r["lifetime_ns_err"] for r in decays],
        [dots[r["dot_label"]]["lifetime_ns"] for r in decays],
    )
    assert np.all(np.abs(pulls) < 5), pulls
    for r in decays:
        assert r["decay_rate_per_us"] == pytest.approx(1e3 / r["lifetime_ns"], rel=1e-9)

    t = truth(session)
    (ps,) = result_rows(ingested, "result_power_series")
    assert abs(ps["sigma_cm2"] - t["power_series"]["sigma_cm2"]) < 4 * ps["sigma_cm2_err"]
    assert (
        abs(ps["decay_rate_per_us"] - t["power_series"]["decay_rate_per_us"])
        < 4 * ps["decay_rate_per_us_err"]
    )
    assert ps["n_points"] == len(t["power_series"]["intensities_w_cm2"])
    (sat,) = result_rows(ingested, "result_saturation")
    sat_truth = t["saturation"]
    assert (
        abs(sat["saturation_intensity_w_cm2"] - sat_truth["saturation_intensity_w_cm2"])
        < 4 * sat["saturation_intensity_w_cm2_err"]
    )
    assert abs(sat["decay_rate_per_us"] - sat_truth["decay_rate_per_us"]) < 4 * sat["decay_rate_per_us_err"]
    assert (
        "decay_rate_from_film_decay" in sat["flags"] and sat["decay_source"] == "decay_rate_from_film_decay"
    )
    # σ = ħω_p·γ/I_S, by formula from the stored inputs
    energy_j = 6.62607015e-34 * 299792458.0 / (445e-9)
    assert sat["sigma_cm2"] == pytest.approx(
        energy_j * sat["decay_rate_per_us"] * 1e6 / sat["saturation_intensity_w_cm2"], rel=1e-9
    )
    (bx,) = result_rows(ingested, "result_biexciton")
    ta = t["transient_absorption"]
    assert (
        abs(bx["biexciton_rate_per_ns"] - ta["biexciton_rate_per_ns"]) < 4 * bx["biexciton_rate_per_ns_err"]
    )
    assert bx["plqy_xx"] == pytest.approx(4 * 27.7e-3 / bx["biexciton_rate_per_ns"], rel=1e-9)

    # Every time-tag acquisition on a dot gives its blinking; the cw ones read the cw background.
    blink = result_rows(ingested, "result_blinking")
    # unclipped, so an always-on dot may come out just above 1 — by no more than its error allows
    assert blink and all(
        -4 * r["on_fraction_err"] <= r["on_fraction"] <= 1 + 4 * r["on_fraction_err"] for r in blink
    )
    cw = {m["id"] for m in ingested.list_measurements() if m["excitation_mode"] == "cw"}
    assert {r["measurement_id"] for r in blink} >= {r["measurement_id"] for r in all_g2}
    for r in blink:
        has_bg = r["background_measurement_id"] is not None and "background" in r["threshold_method"]
        assert has_bg == (r["measurement_id"] in cw), r
    # Every pulsed acquisition with two detectors gives a pulsed g2 (and a decay): the window ratio
    # holds the background (1 − ρ_Aρ_B(1 − g2_dot)), the peak model removes the floor.
    pg2 = result_rows(ingested, "result_g2_pulsed")
    assert {r["measurement_id"] for r in pg2} == {r["measurement_id"] for r in decays}
    for r in pg2:
        d = dots[r["dot_label"]]
        assert abs(r["g2_zero"] - d["g2_pulsed_zero_expected"]) < 5 * r["g2_zero_err"], r
        if r["g2_zero_corrected"] is not None:
            assert (
                abs(r["g2_zero_corrected"] - d["g2_pulsed_zero_signal"]) < 5 * r["g2_zero_corrected_err"]
            ), r

    # derived arrays are in the store, referenced by the run
    run = g2[0]["run_id"]
    arrays = jobs.derived_arrays(ingested, run)
    assert set(arrays) == {"delay_ns", "counts", "g2"} and arrays["counts"].sum() > 0


def test_rerun_does_nothing_and_a_new_version_adds_rows_beside_the_old(
    ingested: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _run_all(ingested, analyses=["spectrum"])
    n = len(first.jobs)
    again = jobs.plan(ingested, analyses=["spectrum"])
    assert again.counts() == {"up to date": n} and again.to_run == []

    reg = analyses.registry()
    v = reg["spectrum"].version
    monkeypatch.setitem(reg, "spectrum", dataclasses.replace(reg["spectrum"], version="next"))
    bumped = _run_all(ingested, analyses=["spectrum"])
    assert bumped.counts() == {"queued": n}
    rows = result_rows(ingested, "result_spectrum", current_only=False)
    assert len(rows) == 2 * n
    assert {r["analysis_version"] for r in rows if r["is_current"]} == {"next"}
    assert sum(r["is_current"] for r in rows) == n

    # back on version 1: its results exist, so they become current again without recomputing
    monkeypatch.setitem(reg, "spectrum", dataclasses.replace(reg["spectrum"], version=v))
    back = jobs.plan(ingested, analyses=["spectrum"])
    assert back.counts() == {"made current": n}
    assert {r["analysis_version"] for r in result_rows(ingested, "result_spectrum")} == {v}


def test_new_parameters_add_results_and_are_recorded(ingested: Catalog) -> None:
    _run_all(ingested, analyses=["g2_cw"])
    p = _run_all(ingested, analyses=["g2_cw"], params={"g2_cw": {"window_ns": "100"}})
    assert set(p.counts()) == {"queued"}
    current = result_rows(ingested, "result_g2_cw")
    with ingested.session() as s:
        runs = {r.id: r for r in s.scalars(select(AnalysisRun).where(AnalysisRun.analysis == "g2_cw"))}
    assert all(runs[r["run_id"]].params["window_ns"] == 100.0 for r in current)
    assert all(r["fit_window_stop_ns"] <= 100.0 for r in current)
    with pytest.raises(Exception, match="no parameter 'windw_ns'; valid: bin_ns, free_baseline, window_ns"):
        jobs.plan(ingested, analyses=["g2_cw"], params={"g2_cw": {"windw_ns": 1}})


def test_a_new_background_trace_makes_results_stale(ingested: Catalog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _run_all(ingested, analyses=["g2_cw", "blinking", "spectrum"])
    before = {r["run_id"] for r in result_rows(ingested, "result_g2_cw")}
    rng = np.random.default_rng(3)
    t = np.sort(rng.integers(0, 3 * 10**12, 30_000)).astype(np.int64)
    f = tmp_path / "bg2.ptu"
    write_ptu_t2(f, [(t, rng.integers(0, 2, t.size).astype(np.uint8))], acquisition_s=3.0)
    n_current = len(result_rows(ingested, "result_g2_cw")) + len(result_rows(ingested, "result_blinking"))
    # the ingest itself marks what changed
    (out,) = workflow.ingest(
        ingested,
        [
            IngestItem(
                f, "background_trace", "slide-InP", setup="sim-microPL", settings={"intensity_w_cm2": 100.0}
            )
        ],
    ).outcomes
    assert out.status == "ingested"
    n_stale = (
        n_current - len(result_rows(ingested, "result_g2_cw")) - len(result_rows(ingested, "result_blinking"))
    )
    assert jobs.refresh_staleness(ingested) == 0  # nothing left to mark
    inp_g2 = [r for r in result_rows(ingested, "result_g2_cw", current_only=False) if r["run_id"] in before]
    on_inp = [r for r in inp_g2 if r["specimen_id"] == inp_g2[0]["specimen_id"]]
    assert n_stale >= len(on_inp) > 0
    with ingested.session() as s:
        stale = s.scalars(select(AnalysisRun).where(AnalysisRun.status == RunStatus.STALE)).all()
        assert all(not r.is_current and r.analysis in ("g2_cw", "blinking") for r in stale)
    # spectra do not read background traces: untouched
    again = jobs.plan(ingested, analyses=["spectrum", "g2_cw"])
    assert again.counts()["up to date"] >= 1
    assert all(j.action == "up to date" for j in again.jobs if j.analysis == "spectrum")
    assert any(j.action == "queued" for j in again.jobs if j.analysis == "g2_cw")


def test_failures_are_recorded_and_do_not_stop_the_batch(populated: Catalog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qdcat.simulate import simulate_cw

    # a power series whose points carry no excitation intensity cannot be fitted
    for k in range(3):
        run = simulate_cw(A_DOT, duration_s=0.5, seed=k)
        f = tmp_path / f"p{k}.ptu"
        write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=0.5)
        ingest_file(
            populated,
            IngestItem(
                f, "power_series_point", "slide-1", dot="d1", setup="hbt", series_name="PS", series_index=k
            ),
        )
        f = tmp_path / f"g{k}.ptu"
        write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=0.5)
        ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d2", setup="hbt"))
    p = jobs.plan(populated)
    outs = jobs.run_inline(populated, p.to_run)
    by = {o.analysis: o for o in outs}
    assert by["power_series"].status == "failed" and "intensity_w_cm2" in (by["power_series"].error or "")
    # every acquisition's own g2 and blinking still ran: three series points and three g2 files
    done = [o.analysis for o in outs if o.status == "done"]
    assert sorted(done) == ["blinking"] * 6 + ["brightness"] * 6 + ["g2_cw"] * 6 + ["levels"] * 6
    rec = jobs.get_job(populated, by["power_series"].run_id)
    assert rec["status"] == "failed" and "Traceback" in rec["traceback"] and rec["error"]
    assert result_rows(populated, "result_power_series") == []
    # not retried silently; explicitly on request
    assert jobs.plan(populated, analyses=["power_series"]).counts() == {"failed": 1}
    assert jobs.retry(populated, all_failed=True) == [by["power_series"].run_id]
    assert jobs.get_job(populated, by["power_series"].run_id)["status"] == "pending"


A_DOT = __import__("qdcat.simulate", fromlist=["DotParams"]).DotParams()


def test_a_worker_that_lost_its_lease_cannot_write(ingested: Catalog) -> None:
    p = jobs.plan(ingested, analyses=["spectrum"])
    rid = p.to_run[0]
    first = jobs.claim(ingested, run_ids=[rid])
    assert first is not None and jobs.claim(ingested, run_ids=[rid]) is None  # leased: nobody else
    with ingested.session() as s:  # the first worker hangs; its lease runs out
        s.execute(
            update(AnalysisRun)
            .where(AnalysisRun.id == rid)
            .values(lease_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    second = jobs.claim(ingested, run_ids=[rid])
    assert second is not None and second.token != first.token and second.attempts == 2
    assert jobs.execute(ingested, first).status == "lost"
    assert result_rows(ingested, "result_spectrum") == []
    assert jobs.execute(ingested, second).status == "done"
    assert len(result_rows(ingested, "result_spectrum")) == 1
    # gc keeps referenced arrays and removes none here (spectra write no arrays)
    assert ingested.collect_garbage().removed_orphans == []


def test_a_job_lost_too_often_fails_with_a_message(ingested: Catalog) -> None:
    rid = jobs.plan(ingested, analyses=["spectrum"]).to_run[0]
    for _ in range(jobs.runner.MAX_ATTEMPTS):
        assert jobs.claim(ingested, run_ids=[rid]) is not None
        with ingested.session() as s:
            s.execute(
                update(AnalysisRun)
                .where(AnalysisRun.id == rid)
                .values(lease_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
    assert jobs.claim(ingested, run_ids=[rid]) is None
    rec = jobs.get_job(ingested, rid)
    assert rec["status"] == "failed" and "lost the lease 3 times" in rec["error"]


def test_deleting_a_measurement_removes_its_results_and_gc_its_arrays(ingested: Catalog) -> None:
    _run_all(ingested, analyses=["g2_cw"])
    row = result_rows(ingested, "result_g2_cw")[0]
    with ingested.session() as s:
        key = s.get(AnalysisRun, row["run_id"]).arrays_path
    assert key and ingested.store.exists(key)
    ingested.delete_measurement(row["measurement_id"])
    assert all(
        r["run_id"] != row["run_id"] for r in result_rows(ingested, "result_g2_cw", current_only=False)
    )
    report = ingested.collect_garbage()
    assert key in report.removed_orphans and not ingested.store.exists(key)
    assert ingested.fsck() == []
