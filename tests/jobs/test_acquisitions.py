"""One acquisition feeds every analysis its data support, whatever kind it was ingested as."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdcat import analyses, jobs
from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.jobs.discover import channel_groups
from qdcat.simulate import CwExcitation, DotParams, simulate_cw

from .conftest import result_rows


def _analysed(cat: Catalog) -> dict[str, list[int]]:
    p = jobs.plan(cat)
    outs = jobs.run_inline(cat, p.to_run)
    assert [o for o in outs if o.status != "done"] == []
    by: dict[str, list[int]] = {}
    for o in outs:
        by.setdefault(o.analysis, []).append(o.run_id)
    return by


def _applies(cat: Catalog, measurement_id: int) -> dict[str, str]:
    return {r["analysis"]: r["applies"] for r in jobs.measurement_analyses(cat, measurement_id)}


def test_a_shared_two_detector_t3_file_gives_decay_blinking_and_pulsed_g2(
    populated: Catalog, shared_timetags: Path
) -> None:
    f = shared_timetags / "psd_hydraharp_v20_t3.ptu"
    populated.add_setup("t3", channels={0: "hbt_a", 1: "hbt_b", 64: "sync"})
    out = ingest_file(populated, IngestItem(f, "decay", "slide-1", dot="d1", setup="t3"))
    assert out.status == "ingested"
    mid = out.measurement_id
    applies = _applies(populated, mid)
    assert {a for a, v in applies.items() if v == "yes"} == {
        "decay",
        "blinking",
        "g2_pulsed",
        "brightness",
        "levels",
    }
    by = _analysed(populated)
    assert set(by) == {"decay", "blinking", "g2_pulsed", "brightness", "levels"}
    (decay,) = result_rows(populated, "result_decay")
    raw = populated.raw_asset(mid)
    # every detector feeds the decay: all photons of both channels
    assert decay["photons"] == sum(int(v) for k, v in raw["channel_counts"].items() if int(k) < 64)
    (pg2,) = result_rows(populated, "result_g2_pulsed")
    assert pg2["period_ns"] == pytest.approx(raw["resolution_ps"] / 1e3)
    (bl,) = result_rows(populated, "result_blinking")
    assert bl["measurement_id"] == mid and 0 <= bl["on_fraction"] <= 1
    # ingesting the same file again as another kind adds nothing: it already feeds them all
    again = ingest_file(populated, IngestItem(f, "g2_pulsed", "slide-1", dot="d1", setup="t3"))
    assert again.status == "skipped"
    assert jobs.plan(populated).to_run == []
    rows = {r["analysis"]: r for r in jobs.measurement_analyses(populated, mid)}
    assert rows["decay"]["status"] == "current" and "lifetime_ns" in rows["decay"]["result"]
    assert rows["g2_cw"]["applies"] == "no" and "pulsed" in rows["g2_cw"]["why / reads"]


def _cw_file(path: Path, seed: int = 1, duration_s: float = 2.0) -> Path:
    run = simulate_cw(
        DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=duration_s, seed=seed
    )
    write_ptu_t2(path, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=duration_s)
    return path


def test_a_simulated_cw_hbt_file_gives_g2_and_blinking(populated: Catalog, tmp_path: Path) -> None:
    f = _cw_file(tmp_path / "cw.ptu")
    out = ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d1", setup="hbt"))
    applies = {a for a, v in _applies(populated, out.measurement_id).items() if v == "yes"}
    assert applies == {"g2_cw", "blinking", "brightness", "levels"}
    assert set(_analysed(populated)) == applies
    # the kind narrows what `analyze --kind` selects, never what applies
    assert (
        ingest_file(populated, IngestItem(f, "intensity_trace", "slide-1", dot="d1", setup="hbt")).status
        == "skipped"
    )
    assert jobs.plan(populated, selection=jobs.Selection(kinds=("intensity_trace",))).jobs == ()


def test_every_channel_of_a_role_feeds_the_analyses(populated: Catalog, tmp_path: Path) -> None:
    """Two SPADs on each arm (4 detectors): the g2 pairs arms, the trace sums all four."""
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=2.0, seed=4)
    ch = run.stream.channels.copy()
    rng = np.random.default_rng(0)
    ch = ch + 2 * rng.integers(0, 2, ch.size).astype(np.uint8)  # arm A → 0/2, arm B → 1/3
    f = tmp_path / "four.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, ch)], acquisition_s=2.0)
    populated.add_setup("four", channels={0: "hbt_a", 2: "hbt_a", 1: "hbt_b", 3: "hbt_b"})
    out = ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d2", setup="four"))
    _analysed(populated)
    (g2,) = result_rows(populated, "result_g2_cw")
    n = np.bincount(ch, minlength=4)
    assert g2["count_rate_a_cps"] * 2.0 == pytest.approx(n[0] + n[2], rel=1e-3)
    assert g2["count_rate_b_cps"] * 2.0 == pytest.approx(n[1] + n[3], rel=1e-3)
    assert g2["g2_zero"] < 0.5  # the arms still antibunch
    (bl,) = result_rows(populated, "result_blinking")
    arrays = jobs.derived_arrays(populated, bl["run_id"])
    assert int(arrays["counts"].sum()) == ch.size
    assert out.measurement_id == g2["measurement_id"]


def test_channel_groups_from_roles_and_from_the_file() -> None:
    counts = {"0": 10, "1": 12, "2": 0, "64": 100}
    # roles: every channel of a role, empty channels left out
    assert channel_groups(counts, {"hbt_a": (0, 2), "hbt_b": (1,), "sync": (64,)}) == (
        (0, 1),
        (0,),
        (1,),
        64,
        "setup roles",
    )
    # two plain detectors act as the HBT pair
    det, a, b, sync, how = channel_groups(counts, {"detector": (0, 1), "sync": (64,)})
    assert (det, a, b, sync) == ((0, 1), (0,), (1,), 64) and "HBT pair" in how
    # no roles: the store's convention (detectors 0–63, the T2 sync 64)
    assert channel_groups(counts, None)[:4] == ((0, 1), (0,), (1,), 64)
    assert channel_groups({"0": 5, "1": 5, "5": 5}, None)[1:3] == ((), ())


def test_each_analysis_says_why_it_does_not_apply(populated: Catalog, tmp_path: Path) -> None:
    f = _cw_file(tmp_path / "bg.ptu", seed=2)
    out = ingest_file(populated, IngestItem(f, "background_trace", "slide-1", setup="hbt"))
    rows = {r["analysis"]: r for r in jobs.measurement_analyses(populated, out.measurement_id)}
    assert all(r["applies"] == "no" for r in rows.values())
    assert (
        rows["g2_cw"]["why / reads"] == "not on a dot" and "not a spectrum" in rows["spectrum"]["why / reads"]
    )
    assert rows["decay"]["why / reads"].startswith("cw excitation") or "sync" in rows["decay"]["why / reads"]


def test_declarations_are_complete() -> None:
    for a in analyses.registry().values():
        assert a.summary and a.applies_to and a.method and a.flags, a.name
        assert a.table.name == f"result_{a.name}"
        for c in a.columns:
            assert c.description, (a.name, c.name)
        for p in a.params:
            assert p.help and p.parse(p.default, a.name) == p.default, (a.name, p.name)


def test_setup_facts_feed_the_analyses(populated: Catalog, tmp_path: Path) -> None:
    """The camera's offset and read noise set the spectrum's noise model; dark rates the off level."""
    from qdcat.simulate import simulate_spectrum

    populated.add_setup(
        "camera",
        channels={0: "hbt_a", 1: "hbt_b"},
        ccd_offset_counts=600,
        ccd_read_noise_counts=5,
        dark_count_rate_cps={0: 150, 1: 250},
        timing_jitter_ps={0: 350, 1: 350},
    )
    rec = populated.get_setup("camera")
    assert rec["ccd_offset_counts"] == 600 and rec["channels"]["1"]["dark_count_rate_cps"] == 250
    sp = simulate_spectrum(620.0, 20.0, 2000.0, background_counts=20.0, seed=3)
    for name, setup in (("with.csv", "camera"), ("without.csv", None)):
        f = tmp_path / name
        f.write_text(
            f"# {name}\nwavelength_nm,counts\n"
            + "".join(f"{x},{y}\n" for x, y in zip(sp.wavelength_nm, sp.counts, strict=True))
        )
        ingest_file(populated, IngestItem(f, "spectrum", "slide-1", dot="d1", setup=setup))
    # a cw acquisition with no background measurement: the dark rates give the off level
    out = ingest_file(
        populated, IngestItem(_cw_file(tmp_path / "cw.ptu"), "g2_cw", "slide-1", dot="d2", setup="camera")
    )
    _analysed(populated)
    models = {r["noise_model"] for r in result_rows(populated, "result_spectrum")}
    assert models == {
        "the setup's camera offset and read noise",
        "measured in the wings (camera offset/read noise not recorded)",
    }
    (bl,) = [
        r for r in result_rows(populated, "result_blinking") if r["measurement_id"] == out.measurement_id
    ]
    assert "dark counts of the setup" in bl["threshold_method"]
    assert bl["off_level_counts"] == pytest.approx((150 + 250) * 0.01)
    with pytest.raises(Exception, match="does not map"):
        populated.add_setup("bad", channels={0: "hbt_a"}, dark_count_rate_cps={5: 100})
    with pytest.raises(Exception, match=">= 0"):
        populated.add_setup("bad", channels={0: "hbt_a"}, ccd_read_noise_counts=-1)
