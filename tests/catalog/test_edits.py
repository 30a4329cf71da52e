"""Edits with history, deletions in the history, and curation (tags, exclusions), on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdcat import jobs, workflow
from qdcat.catalog.api import Catalog, open_catalog
from qdcat.config import load_config
from qdcat.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.query import api as q
from qdcat.simulate import CwExcitation, DotParams, simulate_cw


def _cw(cat: Catalog, tmp_path: Path, dot: str, seed: int) -> int:
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=seed)
    f = tmp_path / f"{dot}-{seed}.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.0)
    out = ingest_file(
        cat,
        IngestItem(
            f,
            "g2_cw",
            "slide-1",
            dot=dot,
            setup="hbt",
            settings={"intensity_w_cm2": 100.0, "excitation_mode": "cw"},
        ),
    )
    assert out.status == "ingested", out.message
    return int(out.measurement_id)


def test_edits_change_the_values_and_the_history_says_who_when_what_why(populated: Catalog) -> None:
    rec = populated.update_sample("InP-A", {"pl_peak_nm": "631", "notes": "batch 2"}, reason="remeasured")
    assert dict(rec.changes) == {"pl_peak_nm": (629.0, 631.0), "notes": (None, "batch 2")}
    assert populated.get_sample("InP-A")["pl_peak_nm"] == 631.0
    populated.update_dot(
        "slide-1", "d2", {"x_um": 2.5, "marker_label": "M", "marker_dx_um": 1, "marker_dy_um": 2}
    )
    populated.update_specimen("slide-1", {"substrate": "glass"})
    populated.update_setup("hbt", {"ccd_read_noise_counts": "3.1"})
    h = populated.history()
    assert [(e.entity, e.field) for e in h][:3] == [
        ("setup", "ccd_read_noise_counts"),
        ("specimen", "substrate"),
        ("dot", "marker_dy_um"),
    ]
    first = h[-1]
    assert (first.entity, first.entity_label, first.field, first.old, first.new, first.reason) == (
        "sample",
        "InP-A",
        "pl_peak_nm",
        629.0,
        631.0,
        "remeasured",
    )
    assert first.who == populated.user and first.at is not None
    # an unchanged value leaves no trace
    again = populated.update_sample("InP-A", {"pl_peak_nm": 631})
    assert again.changes == () and len(populated.history()) == len(h)


def test_the_configured_user_is_who(populated: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDCAT_USER", "alice")
    cfg = load_config(
        populated.config.home,
        database_url=populated.config.database_url,
        store_url=populated.config.store_url,
    )
    with open_catalog(config=cfg) as cat:
        cat.update_dot("slide-1", "d1", {"notes": "bright"})
        assert cat.history(limit=1)[0].who == "alice"


@pytest.mark.parametrize(
    ("entity", "ref", "changes", "error", "message"),
    [
        ("sample", "InP-A", {"colour": "red"}, InvalidValueError, "no editable field 'colour'"),
        ("sample", "InP-A", {"plqy_fraction": 1.5}, InvalidValueError, "plqy_fraction must lie in"),
        ("sample", "InP-A", {"total_diameter_nm": 1.0}, InvalidValueError, "smaller than core_diameter_nm"),
        ("sample", "nope", {"notes": "x"}, NotFoundError, "nope"),
        ("dot", "slide-1/d1", {"label": "d2"}, AlreadyExistsError, "already exists"),
        ("dot", "slide-1/d1", {"marker_dx_um": 3}, InvalidValueError, "marker_dx_um and marker_dy_um"),
        ("dot", "slide-1/d1", {"x_um": "nan"}, InvalidValueError, "finite"),
        ("dot", "slide-1/d1", {"x_um": ""}, InvalidValueError, "cannot be empty"),
        ("dot", "d1", {"notes": "x"}, InvalidValueError, "SPECIMEN/LABEL"),
        ("setup", "hbt", {"ccd_read_noise_counts": -1}, InvalidValueError, ">= 0"),
        ("specimen", "slide-1", {}, InvalidValueError, "nothing to change"),
        ("measurement", 99999, {"notes": "x"}, NotFoundError, "99999"),
        ("instrument", "x", {"a": 1}, InvalidValueError, "cannot edit"),
    ],
)
def test_a_bad_edit_is_one_clear_error_and_changes_nothing(
    populated: Catalog, entity: str, ref: object, changes: dict, error: type, message: str
) -> None:
    before = (populated.get_sample("InP-A").to_dict(), [d.to_dict() for d in populated.list_dots()])
    with pytest.raises(error, match=message):
        workflow.edit(populated, entity, ref, changes)
    assert (populated.get_sample("InP-A").to_dict(), [d.to_dict() for d in populated.list_dots()]) == before
    assert populated.history() == []


def test_a_measurement_edit_makes_its_results_stale_and_analyze_redoes_them(
    populated: Catalog, tmp_path: Path
) -> None:
    mid = _cw(populated, tmp_path, "d1", 1)
    jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw", "brightness"]).to_run)
    before = q.results(populated, "g2_cw")
    report = workflow.edit(populated, "measurement", mid, {"intensity_w_cm2": 150, "dot": "d2"}, reason="log")
    assert dict(report.edit.changes) == {"intensity_w_cm2": (100.0, 150.0), "dot": ("d1", "d2")}
    assert report.stale == 2  # g2_cw and brightness read this acquisition
    assert q.results(populated, "g2_cw").empty  # no current result until analysed again
    outs = jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw", "brightness"]).to_run)
    assert [o.status for o in outs] == ["done", "done"]
    after = q.results(populated, "g2_cw", columns=["dot", "intensity_w_cm2", "run_id"])
    assert list(after["dot"]) == ["d2"] and list(after["intensity_w_cm2"]) == [150.0]
    assert int(after["run_id"].iloc[0]) != int(before["run_id"].iloc[0])
    m = populated.get_measurement(mid)
    assert m["dot"] == "d2" and m["settings"]["intensity_w_cm2"] == 150.0


def test_a_kind_edit_changes_which_result_stands_for_the_dot(populated: Catalog, tmp_path: Path) -> None:
    a = _cw(populated, tmp_path, "d1", 1)
    b = _cw(populated, tmp_path, "d1", 2)
    populated.update_measurement(a, {"duration_s": 5.0})  # a is the longer acquisition: it stands for d1
    jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw"]).to_run)
    rep = q.dots(populated, columns=["dot", "g2_cw_run_id"])
    run_of = {r["measurement_id"]: r["run_id"] for r in q.results(populated, "g2_cw").to_dict("records")}
    assert int(rep["g2_cw_run_id"].iloc[0]) == run_of[a]
    workflow.edit(populated, "measurement", a, {"kind": "intensity_trace"})  # no longer a g2 acquisition
    rep = q.dots(populated, columns=["dot", "g2_cw_run_id"])
    assert int(rep["g2_cw_run_id"].iloc[0]) == run_of[b]  # the g2_cw acquisition is preferred now


def test_deletions_are_in_the_history(populated: Catalog, tmp_path: Path) -> None:
    mid = _cw(populated, tmp_path, "d3", 3)
    populated.delete_measurement(mid, reason="wrong dot")
    populated.delete_dot("slide-1", "d3")
    populated.delete_sample("InP-A", force=True, reason="retired")
    h = [(e.action, e.entity, e.entity_label, e.reason) for e in populated.history()]
    assert ("delete", "measurement", f"measurement {mid} (g2_cw)", "wrong dot") in h
    assert ("delete", "dot", "slide-1/d3", None) in h
    assert ("delete", "dot", "slide-1/d1", "retired") in h
    assert ("delete", "specimen", "slide-1", "retired") in h
    assert h[0] == ("delete", "sample", "InP-A", "retired")


def test_curation_tags_and_exclusions_leave_values_out_and_say_so(populated: Catalog, tmp_path: Path) -> None:
    m1 = _cw(populated, tmp_path, "d1", 1)
    m2 = _cw(populated, tmp_path, "d2", 2)
    jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw"]).to_run)
    assert len(q.dots(populated, columns=["dot", "g2_zero"])) == 2
    populated.tag("dot", "slide-1/d1", "Fig. 3")
    with pytest.raises(AlreadyExistsError):
        populated.tag("dot", "slide-1/d1", "Fig. 3")
    populated.exclude("dot", "slide-1/d2", reason="two dots in the spot")
    df = q.dots(populated, columns=["dot", "g2_zero"])
    assert list(df["dot"]) == ["d1"] and df.attrs["excluded"] == 1
    assert len(q.dots(populated, columns=["dot"], include_excluded=True)) == 2
    stats = q.population(populated, "g2_zero")
    assert int(stats["n"].iloc[0]) == 1 and stats.attrs["excluded"] == 1
    # a measurement's exclusion takes its results out of the dots view and the result listings
    populated.exclude("measurement", m1, reason="bad focus")
    assert q.dots(populated, columns=["dot", "g2_zero"]).empty
    res = q.results(populated, "g2_cw")
    assert res.empty and res.attrs["excluded"] == 2
    assert len(q.results(populated, "g2_cw", include_excluded=True)) == 2
    populated.include("measurement", m1, reason="refocused: fine")
    populated.include("dot", "slide-1/d2")
    assert sorted(q.dots(populated, columns=["dot", "g2_zero"])["dot"]) == ["d1", "d2"]
    with pytest.raises(NotFoundError, match="not excluded"):
        populated.include("dot", "slide-1/d2")
    with pytest.raises(InvalidValueError, match="needs a reason"):
        populated.exclude("dot", "slide-1/d1", reason=" ")
    populated.untag("dot", "slide-1/d1", "Fig. 3")
    actions = [(e.action, e.entity_label) for e in populated.history()]
    assert actions[:6] == [
        ("untag", "slide-1/d1"),
        ("include", "slide-1/d2"),
        ("include", f"measurement {m1}"),
        ("exclude", f"measurement {m1}"),
        ("exclude", "slide-1/d2"),
        ("tag", "slide-1/d1"),
    ]
    assert populated.curation() == []
    assert m2 != m1


def test_an_intensity_edit_makes_the_series_sigma_stale_and_analyze_recomputes_it(
    populated: Catalog, tmp_path: Path
) -> None:
    for k, intensity in enumerate((150.0, 400.0, 800.0)):
        run = simulate_cw(
            DotParams(), excitation=CwExcitation(intensity_w_cm2=intensity), duration_s=1.5, seed=k
        )
        f = tmp_path / f"ps{k}.ptu"
        write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.5)
        item = IngestItem(
            f,
            "power_series_point",
            "slide-1",
            dot="d1",
            setup="hbt",
            series_name="PS",
            series_index=k,
            settings={
                "intensity_w_cm2": intensity,
                "excitation_mode": "cw",
                "excitation_wavelength_nm": 445.0,
            },
        )
        assert ingest_file(populated, item).status == "ingested"
    jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw", "power_series"]).to_run)
    (before,) = q.results(populated, "power_series").to_dict("records")
    point = populated.list_measurements(kind="power_series_point")[-1]["id"]
    report = workflow.edit(populated, "measurement", point, {"intensity_w_cm2": 1600.0}, reason="misread")
    assert report.stale >= 2  # the point's g2 and the series it belongs to
    assert q.results(populated, "power_series").empty
    outs = jobs.run_inline(populated, jobs.plan(populated, analyses=["g2_cw", "power_series"]).to_run)
    assert {o.analysis for o in outs} == {"g2_cw", "power_series"} and all(o.status == "done" for o in outs)
    (after,) = q.results(populated, "power_series").to_dict("records")
    assert after["run_id"] != before["run_id"]
    # the same γ + w_p at twice the intensity: the slope, hence σ, is computed anew (smaller)
    assert after["sigma_cm2"] < before["sigma_cm2"]
