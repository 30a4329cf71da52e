"""qdcat.query.stats against independent plain-numpy computations on seeded data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from qdcat.errors import InvalidValueError
from qdcat.query.stats import Comparison, Correlation, Summary, compare, correlate, describe, group_describe


def _rng(seed: int = 20240611) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# describe


def test_describe_matches_plain_numpy() -> None:
    x = _rng().normal(0.15, 0.04, size=137)
    s = describe(x, name="g2_zero")
    n = x.size
    mean = x.sum() / n
    sd = math.sqrt(((x - mean) ** 2).sum() / (n - 1))
    sd_ml = math.sqrt(((x - mean) ** 2).sum() / n)
    ordered = np.sort(x)
    assert isinstance(s, Summary)
    assert s.name == "g2_zero"
    assert (s.n, s.n_missing) == (n, 0)
    assert s.mean == pytest.approx(mean, rel=1e-12)
    assert s.sd == pytest.approx(sd, rel=1e-12)
    assert s.mean_err == pytest.approx(sd / math.sqrt(n), rel=1e-12)
    assert s.median == pytest.approx(ordered[n // 2], rel=1e-12)  # n odd
    assert (s.min, s.max) == (ordered[0], ordered[-1])
    # linear interpolation between order statistics: position q·(n−1)
    for q, got in ((0.25, s.q25), (0.75, s.q75)):
        pos = q * (n - 1)
        lo = math.floor(pos)
        expected = ordered[lo] + (pos - lo) * (ordered[min(lo + 1, n - 1)] - ordered[lo])
        assert got == pytest.approx(expected, rel=1e-12)
    assert s.normal_mean == pytest.approx(mean, rel=1e-9)
    assert s.normal_sd == pytest.approx(sd_ml, rel=1e-9)
    assert s.normal_mean_err == pytest.approx(sd_ml / math.sqrt(n), rel=1e-9)
    assert s.normal_sd_err == pytest.approx(sd_ml / math.sqrt(2 * n), rel=1e-9)
    assert 0.0 < s.shapiro_p <= 1.0


def test_describe_result_is_frozen_and_dictable() -> None:
    s = describe([1.0, 2.0, 4.0])
    d = s.as_dict()
    assert list(d) == [f.name for f in dataclasses.fields(Summary)]
    assert d == dataclasses.asdict(s)
    assert d["name"] == "value"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mean = 0.0  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(5))
def test_normal_fit_recovers_truth_within_three_quoted_errors(seed: int) -> None:
    mu, sigma = 12.5, 3.25  # e.g. lifetimes in ns
    x = _rng(seed).normal(mu, sigma, size=20_000)
    s = describe(x)
    assert abs(s.normal_mean - mu) < 3 * s.normal_mean_err
    assert abs(s.normal_sd - sigma) < 3 * s.normal_sd_err
    assert abs(s.mean - mu) < 3 * s.mean_err
    assert math.isnan(s.shapiro_p)  # n > 5000: Shapiro–Wilk not reported


def test_shapiro_flags_a_clearly_non_normal_sample() -> None:
    assert describe(_rng().exponential(1.0, size=500)).shapiro_p < 1e-6


def test_shapiro_only_for_three_to_5000_values() -> None:
    assert math.isnan(describe([1.0, 2.0]).shapiro_p)
    assert not math.isnan(describe([1.0, 2.0, 4.0]).shapiro_p)
    assert not math.isnan(describe(_rng().normal(size=5000)).shapiro_p)
    assert math.isnan(describe(_rng().normal(size=5001)).shapiro_p)


def test_describe_constant_sample_has_zero_spread_and_no_shapiro() -> None:
    s = describe([3.0] * 10)
    assert (s.mean, s.sd, s.normal_sd, s.median) == (3.0, 0.0, 0.0, 3.0)
    assert math.isnan(s.shapiro_p)


def test_describe_drops_missing_values() -> None:
    clean = _rng().normal(size=40)
    with_gaps = [*clean[:10], np.nan, None, *clean[10:], float("nan")]
    s = describe(with_gaps)
    assert (s.n, s.n_missing) == (40, 3)
    assert s.as_dict() | {"n_missing": 0} == describe(clean).as_dict()


def test_describe_accepts_nullable_pandas_series() -> None:
    series = pd.Series([1.0, None, 2.0, 4.0], dtype="Float64")
    s = describe(series)
    assert (s.n, s.n_missing) == (3, 1)
    assert s.mean == pytest.approx(7 / 3)


@pytest.mark.parametrize("values", [[], [1.0], [np.nan, 2.0, None], pd.Series([np.nan] * 5)])
def test_describe_needs_two_values(values: object) -> None:
    with pytest.raises(InvalidValueError, match="at least 2 values"):
        describe(values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.ones((3, 3)), "one-dimensional"),
        (["a", "b", "c"], "must be numbers"),
        ([1.0, 2.0, np.inf], "infinite"),
        (5.0, "one-dimensional"),
    ],
)
def test_describe_rejects_bad_input(values: object, match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        describe(values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# correlate


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / math.sqrt((dx**2).sum() * (dy**2).sum()))


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n of distinct values."""
    r = np.empty(v.size)
    r[np.argsort(v)] = np.arange(1, v.size + 1)
    return r


def _line(seed: int = 7, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng(seed)
    x = rng.uniform(0.0, 10.0, size=n)
    y_err = rng.uniform(0.2, 1.5, size=n)
    y = 1.7 + 0.45 * x + rng.normal(0.0, y_err)
    return x, y, y_err


def test_correlate_matches_formulas_and_polyfit() -> None:
    x, y, _ = _line()
    c = correlate(x, y, x_name="lifetime_ns", y_name="g2_zero")
    n = x.size
    assert isinstance(c, Correlation)
    assert (c.x_name, c.y_name, c.n, c.n_dropped) == ("lifetime_ns", "g2_zero", n, 0)

    r = _pearson(x, y)
    assert c.pearson_r == pytest.approx(r, rel=1e-10)
    t = r * math.sqrt((n - 2) / (1 - r**2))
    assert c.pearson_p == pytest.approx(2 * sps.t.sf(abs(t), n - 2), rel=1e-6)
    assert c.spearman_rho == pytest.approx(_pearson(_ranks(x), _ranks(y)), rel=1e-10)
    assert 0 <= c.spearman_p < 1e-6

    slope, intercept = np.polyfit(x, y, 1)
    assert c.slope == pytest.approx(slope, rel=1e-10)
    assert c.intercept == pytest.approx(intercept, rel=1e-10)
    residuals = y - intercept - slope * x
    s2 = (residuals**2).sum() / (n - 2)
    sxx = ((x - x.mean()) ** 2).sum()
    assert c.slope_err == pytest.approx(math.sqrt(s2 / sxx), rel=1e-9)
    assert c.intercept_err == pytest.approx(math.sqrt(s2 * (1 / n + x.mean() ** 2 / sxx)), rel=1e-9)
    assert c.r_squared == pytest.approx(r**2, rel=1e-10)
    assert c.weighted_slope is None
    assert c.weighted_reduced_chi2 is None
    assert c.as_dict()["slope"] == c.slope


def test_weighted_fit_matches_polyfit_unscaled() -> None:
    x, y, y_err = _line()
    c = correlate(x, y, y_err=y_err)
    (b, a), cov = np.polyfit(x, y, 1, w=1 / y_err, cov="unscaled")
    assert c.weighted_slope == pytest.approx(b, rel=1e-10)
    assert c.weighted_intercept == pytest.approx(a, rel=1e-10)
    assert c.weighted_slope_err == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-9)
    assert c.weighted_intercept_err == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-9)
    chi2 = (((y - a - b * x) / y_err) ** 2).sum()
    assert c.weighted_reduced_chi2 == pytest.approx(chi2 / (x.size - 2), rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_weighted_fit_recovers_true_line(seed: int) -> None:
    x, y, y_err = _line(seed, n=400)
    c = correlate(x, y, y_err=y_err)
    assert c.weighted_slope is not None and c.weighted_slope_err is not None
    assert c.weighted_intercept is not None and c.weighted_intercept_err is not None
    assert abs(c.weighted_slope - 0.45) < 3 * c.weighted_slope_err
    assert abs(c.weighted_intercept - 1.7) < 3 * c.weighted_intercept_err
    assert c.weighted_reduced_chi2 == pytest.approx(1.0, abs=0.25)


def test_weighted_fit_with_x_errors_uses_effective_variance() -> None:
    x, y, y_err = _line()
    x_err = _rng(3).uniform(0.05, 0.3, size=x.size)
    c = correlate(x, y, x_err=x_err, y_err=y_err)
    assert c.weighted_slope is not None
    # fixed point: a weighted fit with σ² = y_err² + (b·x_err)² at the returned b reproduces b
    sigma = np.sqrt(y_err**2 + (c.weighted_slope * x_err) ** 2)
    (b, a), cov = np.polyfit(x, y, 1, w=1 / sigma, cov="unscaled")
    assert c.weighted_slope == pytest.approx(b, rel=1e-9)
    assert c.weighted_intercept == pytest.approx(a, rel=1e-9)
    assert c.weighted_slope_err == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-6)
    # zero x errors change nothing
    assert correlate(x, y, x_err=np.zeros_like(x), y_err=y_err) == correlate(x, y, y_err=y_err)


def test_correlate_drops_incomplete_pairs() -> None:
    x, y, y_err = _line()
    xs, ys, es = x.copy(), y.copy(), y_err.copy()
    xs[[1, 5]] = np.nan
    ys[[5, 9, 11]] = np.nan
    es[20] = np.nan
    keep = np.ones(x.size, bool)
    keep[[1, 5, 9, 11, 20]] = False
    got = correlate(pd.Series(xs), list(ys), y_err=es)
    expected = correlate(x[keep], y[keep], y_err=y_err[keep])
    assert (got.n, got.n_dropped) == (x.size - 5, 5)
    assert got.as_dict() | {"n_dropped": 0} == expected.as_dict()
    # without errors the NaN in y_err does not matter
    assert correlate(xs, ys).n_dropped == 4


def test_correlate_constant_y_gives_nan_correlation_without_warnings() -> None:
    c = correlate([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0])
    assert math.isnan(c.pearson_r) and math.isnan(c.spearman_rho)
    assert c.slope == 0.0
    assert c.intercept == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": [1.0, 2.0], "y": [1.0, 2.0]}, "at least 3"),
        ({"x": [1.0, 2.0, np.nan, 4.0], "y": [1.0, np.nan, 3.0, 4.0]}, "at least 3"),
        ({"x": [1.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0]}, "constant"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0]}, "same length"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 4.0], "y_err": [1.0, 0.0, 1.0]}, "positive"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 4.0], "x_err": [1.0, 1.0, 1.0]}, "y_err"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 4.0], "y_err": [1.0, 1.0]}, "same length"),
    ],
)
def test_correlate_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        correlate(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# compare


def _brute_u(a: np.ndarray, b: np.ndarray) -> float:
    u = 0.0
    for ai in a:
        for bj in b:
            u += 1.0 if ai > bj else 0.5 if ai == bj else 0.0
    return u


def _brute_cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    more = less = 0
    for ai in a:
        for bj in b:
            more += ai > bj
            less += ai < bj
    return (more - less) / (a.size * b.size)


def _brute_ks(a: np.ndarray, b: np.ndarray) -> float:
    points = np.concatenate([a, b])
    return max(abs((a <= p).mean() - (b <= p).mean()) for p in points)


@pytest.mark.parametrize("rounded", [False, True], ids=["continuous", "with-ties"])
def test_compare_matches_independent_computations(rounded: bool) -> None:
    rng = _rng(11)
    a = rng.normal(0.20, 0.05, size=45)
    b = rng.normal(0.16, 0.07, size=38)
    if rounded:
        a, b = np.round(a, 2), np.round(b, 2)
    c = compare(a, b, a_name="InAs", b_name="GaAs")
    na, nb = a.size, b.size
    va, vb = a.var(ddof=1), b.var(ddof=1)
    assert isinstance(c, Comparison)
    assert (c.a_name, c.b_name, c.n_a, c.n_b) == ("InAs", "GaAs", na, nb)
    assert (c.mean_a, c.mean_b) == (pytest.approx(a.mean()), pytest.approx(b.mean()))
    assert (c.median_a, c.median_b) == (np.median(a), np.median(b))
    assert (c.sd_a, c.sd_b) == (pytest.approx(math.sqrt(va)), pytest.approx(math.sqrt(vb)))
    diff = a.mean() - b.mean()
    se = math.sqrt(va / na + vb / nb)
    assert c.mean_difference == pytest.approx(diff, rel=1e-10)
    assert c.mean_difference_err == pytest.approx(se, rel=1e-10)
    dof = se**4 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    assert c.welch_t == pytest.approx(diff / se, rel=1e-10)
    assert c.welch_p == pytest.approx(2 * sps.t.sf(abs(diff / se), dof), rel=1e-8)
    assert c.ks_statistic == pytest.approx(_brute_ks(a, b), abs=1e-12)
    assert 0.0 <= c.ks_p <= 1.0
    assert c.mannwhitney_u == _brute_u(a, b)
    assert 0.0 <= c.mannwhitney_p <= 1.0
    assert c.cliffs_delta == pytest.approx(_brute_cliffs_delta(a, b), abs=1e-12)
    pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    assert c.cohens_d == pytest.approx(diff / pooled, rel=1e-10)


def test_compare_detects_a_shift_and_not_a_null_difference() -> None:
    rng = _rng(5)
    shifted = compare(rng.normal(1.0, 1.0, 300), rng.normal(1.6, 1.0, 300))
    assert shifted.welch_p < 1e-6 and shifted.ks_p < 1e-6 and shifted.mannwhitney_p < 1e-6
    assert shifted.cohens_d == pytest.approx(-0.6, abs=0.2)
    assert shifted.cliffs_delta < 0
    # a sample against itself: no difference at all
    x = rng.normal(size=50)
    same = compare(x, x)
    assert same.mean_difference == 0.0 and same.cliffs_delta == 0.0 and same.cohens_d == 0.0
    assert same.welch_p == pytest.approx(1.0) and same.ks_p == pytest.approx(1.0)


def test_compare_drops_missing_values() -> None:
    c = compare([1.0, np.nan, 2.0, 3.0], pd.Series([4.0, None, 6.0, 5.0, np.nan]))
    assert (c.n_a, c.n_missing_a, c.n_b, c.n_missing_b) == (3, 1, 3, 2)
    assert c.as_dict() | {"n_missing_a": 0, "n_missing_b": 0} == compare([1, 2, 3], [4, 6, 5]).as_dict()
    assert c.cliffs_delta == -1.0


def test_compare_constant_samples_without_warnings() -> None:
    one_constant = compare([2.0, 2.0, 2.0], [1.0, 2.0, 4.0, 3.0])
    va, nb = 0.0, 4
    vb = np.var([1.0, 2.0, 4.0, 3.0], ddof=1)
    se = math.sqrt(va / 3 + vb / nb)
    assert one_constant.welch_t == pytest.approx((2.0 - 2.5) / se)
    assert one_constant.welch_p == pytest.approx(2 * sps.t.sf(abs(0.5 / se), nb - 1))
    both = compare([1.0, 1.0], [1.0, 1.0, 1.0])
    assert math.isnan(both.welch_t) and math.isnan(both.welch_p) and math.isnan(both.cohens_d)
    assert both.cliffs_delta == 0.0


@pytest.mark.parametrize(("a", "b"), [([1.0], [1.0, 2.0]), ([1.0, 2.0], [np.nan, 3.0]), ([], [])])
def test_compare_needs_two_values_per_sample(a: list[float], b: list[float]) -> None:
    with pytest.raises(InvalidValueError, match="at least 2 values"):
        compare(a, b)


# ---------------------------------------------------------------------------
# group_describe


def _population() -> pd.DataFrame:
    rng = _rng(3)
    n = 90
    df = pd.DataFrame(
        {
            "sample": rng.choice(["A", "B", "C"], size=n),
            "g2_zero": rng.uniform(0.0, 0.5, size=n),
        }
    )
    df.loc[rng.choice(n, size=8, replace=False), "g2_zero"] = np.nan
    return df


def test_group_describe_one_row_per_group() -> None:
    df = _population()
    table = group_describe(df, "g2_zero", "sample")
    assert list(table.index) == ["A", "B", "C"]
    assert table.index.name == "sample"
    assert list(table.columns) == [f.name for f in dataclasses.fields(Summary)]
    for key in ("A", "B", "C"):
        expected = describe(df.loc[df["sample"] == key, "g2_zero"], name="g2_zero").as_dict()
        row = table.loc[key].to_dict()
        assert row.keys() == expected.keys()
        for field, value in expected.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(row[field])
            else:
                assert row[field] == value, field
    assert table["n"].sum() + table["n_missing"].sum() == len(df)


def test_group_describe_without_grouping_is_one_row_all() -> None:
    df = _population()
    table = group_describe(df, "g2_zero", None)
    assert list(table.index) == ["all"]
    assert table.loc["all", "mean"] == pytest.approx(np.nanmean(df["g2_zero"]))
    assert table.loc["all", "n_missing"] == df["g2_zero"].isna().sum()


def test_group_describe_keeps_small_and_missing_key_groups() -> None:
    df = pd.DataFrame({"sample": ["A", "A", "A", "B", None, None], "x": [1.0, 2.0, 3.0, 7.0, 4.0, 6.0]})
    table = group_describe(df, "x", by="sample")
    assert len(table) == 3
    b = table.loc["B"]
    assert (b["n"], b["mean"], b["median"]) == (1, 7.0, 7.0)
    assert math.isnan(b["sd"]) and math.isnan(b["mean_err"])
    missing_key = table[table.index.isna()].iloc[0]
    assert (missing_key["n"], missing_key["mean"]) == (2, 5.0)


@pytest.mark.parametrize(("column", "by", "match"), [("nope", None, "nope"), ("x", "nope", "nope")])
def test_group_describe_unknown_columns(column: str, by: str | None, match: str) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "sample": ["A", "B"]})
    with pytest.raises(InvalidValueError, match=match):
        group_describe(df, column, by)


def test_describe_gives_no_shapiro_p_for_values_pinned_at_a_bound() -> None:
    # fits stuck at a lower bound of 0 leave tiny, wildly scaled values: scipy warns, we say NaN
    from qdcat.query.stats import describe as _describe

    s = _describe(np.array([1e-70, 2e-60, 3e-34, 1e-50]))
    assert s.n == 4 and np.isnan(s.shapiro_p)
