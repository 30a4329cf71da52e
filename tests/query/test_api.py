"""Population queries on both backends, checked against the result tables read independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sqlalchemy import func, select, text

from qdcat import analyses
from qdcat.catalog.api import Catalog
from qdcat.catalog.models import AnalysisRun, Dot, Measurement
from qdcat.query import api as q
from qdcat.query.filters import FilterError


def _raw(cat: Catalog, sql: str) -> pd.DataFrame:
    """Rows read with plain SQL, independently of the query layer."""
    with cat.engine.connect() as c:
        res = c.execute(text(sql))
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


SPECTRA = """
SELECT s.name AS sample, d.label AS dot, r.center_nm, r.fwhm_nm, r.energy_ev, r.measurement_id
FROM result_spectrum r JOIN analysis_run a ON a.id = r.run_id AND a.is_current
JOIN dot d ON d.id = r.dot_id JOIN specimen sp ON sp.id = d.specimen_id JOIN sample s ON s.id = sp.sample_id
"""
DECAYS = """
SELECT d.label AS dot, r.lifetime_ns FROM result_decay r
JOIN analysis_run a ON a.id = r.run_id AND a.is_current JOIN dot d ON d.id = r.dot_id
"""


G2_OWN = """
SELECT d.label AS dot, r.g2_zero FROM result_g2_cw r
JOIN analysis_run a ON a.id = r.run_id AND a.is_current JOIN dot d ON d.id = r.dot_id
JOIN measurement m ON m.id = r.measurement_id WHERE m.kind = 'g2_cw'
"""


def test_dot_view_equals_the_result_tables(analysed: Catalog) -> None:
    df = q.dots(analysed)
    raw = _raw(analysed, SPECTRA)
    # every dot of the session had one spectrum: one row each, same numbers
    assert sorted(df["dot"]) == sorted(raw["dot"])
    merged = df.merge(raw, on="dot", suffixes=("", "_raw"))
    np.testing.assert_array_equal(merged["center_nm"], merged["center_nm_raw"])
    np.testing.assert_array_equal(merged["sample"], merged["sample_raw"])
    dec = _raw(analysed, DECAYS).set_index("dot")["lifetime_ns"]
    with_decay = df.dropna(subset=["lifetime_ns"]).set_index("dot")["lifetime_ns"]
    pd.testing.assert_series_equal(with_decay.sort_index(), dec.sort_index(), check_names=False)
    # the ensemble spectrum and the saturation points have no dot: not in the dot view, but in the
    # results view
    spectra = q.results(analysed, "spectrum")
    n_sat = len(analysed.list_measurements(kind="saturation_point"))
    assert len(spectra) == len(raw) + 1 + n_sat and spectra["dot"].isna().sum() == 1 + n_sat
    # a dot's g2 is the one of its g2 acquisition, not of a power-series point (its kind names g2_cw)
    g2 = _raw(analysed, G2_OWN).set_index("dot")["g2_zero"]
    shown = df.dropna(subset=["g2_zero"]).set_index("dot")["g2_zero"]
    pd.testing.assert_series_equal(shown.sort_index(), g2.sort_index(), check_names=False)
    assert len(q.results(analysed, "g2_cw")) > len(g2)  # the series points have g2 results too


def test_population_statistics_equal_numpy_on_the_same_rows(analysed: Catalog) -> None:
    raw = _raw(analysed, SPECTRA)
    got = q.population(analysed, "fwhm_nm", by="sample")
    for sample, g in raw.groupby("sample"):
        v = g["fwhm_nm"].to_numpy(float)
        row = got.loc[sample]
        assert row["n"] == v.size
        assert row["mean"] == pytest.approx(v.mean(), rel=1e-12)
        assert row["sd"] == pytest.approx(v.std(ddof=1), rel=1e-12)
        assert row["median"] == pytest.approx(np.median(v), rel=1e-12)
        assert (row["min"], row["max"]) == (v.min(), v.max())
        assert row["normal_sd"] == pytest.approx(v.std(ddof=0), rel=1e-9)

    c = q.correlation(analysed, "energy_ev", "fwhm_nm")["all"]
    x, y = raw["energy_ev"].to_numpy(float), raw["fwhm_nm"].to_numpy(float)
    r = np.sum((x - x.mean()) * (y - y.mean())) / np.sqrt(
        np.sum((x - x.mean()) ** 2) * np.sum((y - y.mean()) ** 2)
    )
    assert c.pearson_r == pytest.approx(r, rel=1e-9) and c.n == x.size
    assert c.slope == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-9)

    samples = sorted(raw["sample"].unique())
    cmp = q.comparison(analysed, "fwhm_nm", samples)
    a = raw[raw["sample"] == samples[0]]["fwhm_nm"].to_numpy(float)
    b = raw[raw["sample"] == samples[1]]["fwhm_nm"].to_numpy(float)
    assert cmp.ks_p == pytest.approx(sps.ks_2samp(a, b).pvalue, rel=1e-12)
    assert cmp.median_a == pytest.approx(np.median(a)) and cmp.n_b == b.size
    delta = np.mean([np.sign(u - v) for u in a for v in b])  # Cliff's δ by brute force
    assert cmp.cliffs_delta == pytest.approx(delta, abs=1e-12)


FILTERS = [
    ("fwhm_nm < 18 and center_nm > 600", lambda d: (d.fwhm_nm < 18) & (d.center_nm > 600)),
    (
        "sample = 'CdSe-CdS-sim' or lifetime_ns between 15 and 25",
        lambda d: (d["sample"] == "CdSe-CdS-sim") | d.lifetime_ns.between(15, 25),
    ),
    ("lifetime_ns is null", lambda d: d.lifetime_ns.isna()),
    (
        "dot in ('QD001', 'CD002') and not g2_zero > 0.9",
        lambda d: d["dot"].isin(["QD001", "CD002"]) & ~(d.g2_zero > 0.9),
    ),
    ("dot like 'QD%'", lambda d: d["dot"].str.startswith("QD")),
]


def test_filters_select_what_pandas_selects(analysed: Catalog) -> None:
    full = q.dots(analysed)
    for where, predicate in FILTERS:
        expected = sorted(full[predicate(full).fillna(False).astype(bool)]["dot"])
        assert sorted(q.dots(analysed, where=where)["dot"]) == expected, where


INJECTIONS = [
    "g2_zero < 0.2; DROP TABLE dot",
    "g2_zero < 0.2 or 1=1",
    "dot = 'x' OR 'a'='a'",
    "sample = ''; DELETE FROM measurement; --'",
    "g2_zero < 0.2 -- comment",
    "g2_zero < 0.2 /* x */",
    "g2_zero < (SELECT 1)",
    "g2_zero < 0.2 union select * from sample",
    "lifetime > 3",
    "g2_zero <",
]


def test_injection_attempts_are_refused_and_change_nothing(analysed: Catalog) -> None:
    def counts() -> tuple[int, ...]:
        with analysed.session() as s:
            return tuple(
                s.scalar(select(func.count()).select_from(m))
                for m in (Dot, Measurement, AnalysisRun, *(a.table for a in analyses.registry().values()))
            )

    before = counts()
    for where in INJECTIONS:
        with pytest.raises(FilterError):
            q.dots(analysed, where=where)
    assert counts() == before


def test_unknown_names_list_the_valid_ones(analysed: Catalog) -> None:
    with pytest.raises(
        FilterError, match=r"unknown field 'lifetime'.*did you mean 'lifetime_ns'.*Valid fields: .*g2_zero"
    ):
        q.dots(analysed, where="lifetime > 3")
    with pytest.raises(FilterError, match=r"unknown column\(s\) fwhm; did you mean .*fwhm_nm"):
        q.dots(analysed, columns=["dot", "fwhm"])
    with pytest.raises(Exception, match="unknown analysis 'lifetimes'"):
        q.results(analysed, "lifetimes")
    names = {f.name for f in q.fields("power_series")}
    assert {"sigma_cm2", "sigma_cm2_err", "intensity_w_cm2", "sample"} <= names


def test_results_view_carries_settings_and_old_results(analysed: Catalog) -> None:
    from qdcat import jobs

    g2 = q.results(
        analysed, "g2_cw", columns=["measurement_id", "kind", "intensity_w_cm2", "g2_zero", "run_id"]
    )
    assert (g2[g2["kind"] == "g2_cw"]["intensity_w_cm2"] == 100.0).all()
    series = analysed.list_measurements(kind="power_series_point")
    assert sorted(g2[g2["kind"] == "power_series_point"]["intensity_w_cm2"]) == sorted(
        m["intensity_w_cm2"] for m in series
    )
    jobs.run_inline(analysed, jobs.plan(analysed, analyses=["g2_cw"], params={"g2_cw": {"bin_ns": 2}}).to_run)
    assert len(q.results(analysed, "g2_cw")) == len(g2)
    assert len(q.results(analysed, "g2_cw", include_old=True)) == 2 * len(g2)
    assert set(q.results(analysed, "g2_cw")["run_id"]).isdisjoint(g2["run_id"])
