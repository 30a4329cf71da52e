"""The levels analysis through the catalog: simulated grey-state dots ingested, analysed, queried.

Per result (n_levels, blinking type, exponents) and per level (source ``levels.level``:
intensity, dwell, lifetime, g2), on both backends.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.ingest.photon_hdf5 import write_photon_hdf5
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.query import api as q
from qdcat.query.figures import measurement_figures
from qdcat.simulate import MultiLevelParams, MultiLevelResult, simulate_multilevel_t3

from .conftest import result_rows


def _write(path: Path, sim: MultiLevelResult) -> Path:
    r = sim.records
    write_photon_hdf5(
        path,
        timestamps_ps=r.sync_index * r.sync_period_ps,
        channels=r.channels,
        nanotimes=r.nanotime.astype(np.uint16),
        resolution_ps=float(r.sync_period_ps),
        nanotime_resolution_ps=float(r.resolution_ps),
        sync_rate_hz=1e12 / r.sync_period_ps,
        acquisition_s=r.duration_s,
        description="simulated grey-state dot",
    )
    return path


@pytest.fixture(scope="module")
def grey_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, MultiLevelResult]]:
    folder = tmp_path_factory.mktemp("grey")
    sims = {
        "A": simulate_multilevel_t3(MultiLevelParams.a_type(), duration_s=8.0, seed=3, background_cps=3000.0),
        "B": simulate_multilevel_t3(MultiLevelParams.b_type(), duration_s=8.0, seed=4, background_cps=3000.0),
    }
    return {name: (_write(folder / f"{name}.h5", sim), sim) for name, sim in sims.items()}


@pytest.fixture
def grey(
    populated: Catalog, grey_files: dict[str, tuple[Path, MultiLevelResult]]
) -> tuple[Catalog, dict[str, int], dict[str, MultiLevelResult]]:
    populated.add_setup("t3-hbt", channels={0: "hbt_a", 1: "hbt_b"})
    populated.import_dots(
        "slide-1", [{"label": f"grey-{n}", "x_um": 9, "y_um": i} for i, n in enumerate("AB")]
    )
    sims = {name: sim for name, (_, sim) in grey_files.items()}
    ids = {}
    for name, (f, _) in grey_files.items():
        out = ingest_file(
            populated,
            IngestItem(f, "intensity_trace", "slide-1", dot=f"grey-{name}", setup="t3-hbt"),
        )
        assert out.status == "ingested", out
        ids[name] = int(out.measurement_id)
    outs = jobs.run_inline(populated, jobs.plan(populated, analyses=["levels", "decay"]).to_run)
    assert [o for o in outs if o.status != "done"] == []
    return populated, ids, sims


def test_a_and_b_type_dots_are_classified_with_their_levels(grey) -> None:  # type: ignore[no-untyped-def]
    cat, ids, sims = grey
    rows = {r["measurement_id"]: r for r in result_rows(cat, "result_levels")}
    a, b = rows[ids["A"]], rows[ids["B"]]
    assert (a["blinking_type"], b["blinking_type"]) == ("A", "B")
    assert a["n_levels"] == b["n_levels"] == 2
    assert a["timing"] == "t3"
    # the A dot's grey level decays faster: τ_grey/τ_bright = 6/20 within errors
    assert a["dim_lifetime_ratio"] == pytest.approx(0.3, abs=4 * a["dim_lifetime_ratio_err"])
    assert b["dim_lifetime_ratio"] == pytest.approx(1.0, abs=4 * b["dim_lifetime_ratio_err"])
    truth = sims["A"].truth
    on_fraction = float(truth.state_fraction[int(np.argmax(truth.expected_rate_cps))])
    assert a["on_fraction"] == pytest.approx(on_fraction, abs=0.05)
    assert a["photons"] == len(sims["A"].records)


def test_levels_are_rows_of_their_own_that_queries_filter(grey) -> None:  # type: ignore[no-untyped-def]
    cat, ids, sims = grey
    levels = q.results(cat, "levels.level")
    assert len(levels) == 4 and set(levels["level"]) == {0, 1}
    # "levels with lifetime < 10 ns and intensity < 50 % of the brightest": the A dot's grey level only
    hit = q.results(cat, "levels.level", where="lifetime_ns < 10 and intensity_rel < 0.5")
    assert list(hit["dot"]) == ["grey-A"] and list(hit["measurement_id"]) == [ids["A"]]
    truth = sims["A"].truth
    tau = float(hit["lifetime_ns"].iloc[0])
    assert tau == pytest.approx(6.0, abs=4 * float(hit["lifetime_ns_err"].iloc[0]))
    grey_rate = float(np.min(truth.expected_rate_with_background_cps))
    assert float(hit["intensity_cps"].iloc[0]) == pytest.approx(grey_rate, rel=0.05)
    # g2 of each level: central over side peak areas of that level's photons, against a numpy
    # count of same-sync / ±1, ±2-sync A–B pairs among the photons in the true state
    for name in ("A", "B"):
        r = sims[name].records
        state = sims[name].truth.state_at(r.sync_index * r.sync_period_ps)
        rank = np.argsort(np.argsort(sims[name].truth.expected_rate_cps))  # state → level (dimmest 0)
        mine = levels[levels["measurement_id"] == ids[name]].set_index("level")
        for st in range(2):
            sel = state == st
            a = r.sync_index[sel & (r.channels == 0)]
            b = r.sync_index[sel & (r.channels == 1)]
            centre = np.isin(b, a).sum()
            side = sum(np.isin(b, a + k).sum() for k in (-2, -1, 1, 2)) / 4
            got = mine.loc[int(rank[st])]
            assert got["g2_zero"] == pytest.approx(centre / side, abs=3 * got["g2_zero_err"] + 0.02)
    # dwell fractions of each result add up to one
    for _, g in levels.groupby("measurement_id"):
        assert g["dwell_fraction"].sum() == pytest.approx(1.0)
    # the population statistics take the parts as a source
    stats = q.population(cat, "lifetime_ns", by="dot", source="levels.level")
    assert set(stats.index) == {"grey-A", "grey-B"} and (stats["n"] == 2).all()
    dots = q.dots(cat, columns=["dot", "n_levels", "blinking_type", "k_off_cp", "levels_on_fraction"])
    assert set(dots.dropna(subset=["blinking_type"])["blinking_type"]) == {"A", "B"}


def test_parts_follow_their_result_when_it_goes(grey) -> None:  # type: ignore[no-untyped-def]
    cat, ids, _ = grey
    cat.delete_measurement(ids["A"])
    left = q.results(cat, "levels.level")
    assert set(left["measurement_id"]) == {ids["B"]}
    with cat.engine.connect() as c:
        from sqlalchemy import text

        n = c.execute(text("SELECT count(*) FROM result_levels_level")).scalar_one()
    assert n == 2


def test_a_new_run_replaces_the_current_levels(grey) -> None:  # type: ignore[no-untyped-def]
    cat, _, _ = grey
    p = jobs.plan(cat, analyses=["levels"], params={"levels": {"alpha": 0.01}})
    outs = jobs.run_inline(cat, p.to_run)
    assert len(outs) == 2 and all(o.status == "done" for o in outs)
    current = q.results(cat, "levels.level")
    assert len(current) == 4
    old = q.results(cat, "levels.level", include_old=True)
    assert len(old) == 8


def test_the_levels_figures_are_drawn(grey) -> None:  # type: ignore[no-untyped-def]
    cat, ids, _ = grey
    figs = measurement_figures(cat, ids["A"])
    assert {"levels_trace", "flid", "level_decays", "dwell_times"} <= set(figs)
    ax = figs["flid"].axes[0]
    assert "A-type" in ax.get_title()


def test_a_cw_trace_without_timing_has_levels_but_no_lifetimes(populated: Catalog, tmp_path: Path) -> None:
    from qdcat.ingest.ptu_write import write_ptu_t2
    from qdcat.simulate import BlinkingParams, CwExcitation, DotParams, simulate_cw

    run = simulate_cw(
        DotParams(blinking=BlinkingParams(k_on=1.2, k_off=1.8, t_min_s=0.02)),
        excitation=CwExcitation(intensity_w_cm2=300.0),
        duration_s=5.0,
        seed=11,
    )
    f = tmp_path / "cw.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=5.0)
    out = ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d1", setup="hbt"))
    outs = jobs.run_inline(populated, jobs.plan(populated, analyses=["levels"]).to_run)
    assert [o.status for o in outs] == ["done"]
    (r,) = result_rows(populated, "result_levels")
    assert r["measurement_id"] == out.measurement_id
    assert r["timing"] is None and r["blinking_type"] in (None, "none")
    parts = q.results(populated, "levels.level")
    assert parts["lifetime_ns"].isna().all()
    assert len(parts) == r["n_levels"] >= 1
    if r["n_levels"] >= 2:
        # the cw g2 of the brightest level antibunches (the dip sits at the arms' offset)
        g2 = float(parts.sort_values("level")["g2_zero"].iloc[-1])
        assert math.isfinite(g2) and g2 < 0.6
