"""Population statistics over 1-D samples (one value per dot, measurement, ...).

Pure functions: they take array-likes or pandas Series, drop missing values
(NaN, None, ``pd.NA``) and return frozen dataclasses whose field names carry no
units, so the same code serves g2(0), lifetimes in ns or linewidths in µeV.
Every result has ``.as_dict()`` for tables and JSON.

Conventions: sample standard deviations use ``ddof=1``; quoted errors are one
standard error; p-values are two-sided. Infinite values are rejected rather
than silently dropped: they usually mean a failed fit upstream.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as sps

from qdcat.errors import InvalidValueError

__all__ = [
    "SHAPIRO_MAX_N",
    "SHAPIRO_MIN_N",
    "Comparison",
    "Correlation",
    "Summary",
    "compare",
    "correlate",
    "describe",
    "group_describe",
]

SHAPIRO_MIN_N = 3
"""Fewest values for which :func:`describe` reports a Shapiro–Wilk p-value."""
SHAPIRO_MAX_N = 5000
"""Most values for which :func:`describe` reports a Shapiro–Wilk p-value (scipy's accuracy limit)."""

_NAN = float("nan")
_MAX_ITERATIONS = 100


@dataclass(frozen=True)
class _Record:
    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (field order preserved)."""
        return asdict(self)


@dataclass(frozen=True)
class Summary(_Record):
    """Location, spread and a maximum-likelihood normal fit of one sample."""

    name: str
    n: int
    """Number of values used (missing values dropped)."""
    n_missing: int
    mean: float
    mean_err: float
    """Standard error of the mean, sd/√n."""
    sd: float
    """Sample standard deviation (ddof=1)."""
    median: float
    min: float
    max: float
    q25: float
    q75: float
    normal_mean: float
    """Maximum-likelihood μ̂ of a normal fit (equals ``mean``)."""
    normal_mean_err: float
    """σ̂/√n."""
    normal_sd: float
    """Maximum-likelihood σ̂ of a normal fit (ddof=0)."""
    normal_sd_err: float
    """σ̂/√(2n)."""
    shapiro_p: float
    """Shapiro–Wilk p-value for normality; NaN outside 3 ≤ n ≤ 5000 or for constant data."""


@dataclass(frozen=True)
class Correlation(_Record):
    """Rank and linear correlation of paired samples and a straight-line fit y = a + b·x."""

    x_name: str
    y_name: str
    n: int
    """Number of pairs used."""
    n_dropped: int
    """Pairs dropped because a value (or a given error) was missing."""
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float
    slope: float
    slope_err: float
    intercept: float
    intercept_err: float
    r_squared: float
    weighted_slope: float | None = None
    weighted_slope_err: float | None = None
    weighted_intercept: float | None = None
    weighted_intercept_err: float | None = None
    weighted_reduced_chi2: float | None = None
    n_flagged: int = 0
    """Results left out because a quantity failed QC (set by the query layer)."""


@dataclass(frozen=True)
class Comparison(_Record):
    """Two independent samples compared: location tests, distribution tests and effect sizes."""

    a_name: str
    b_name: str
    n_a: int
    n_b: int
    n_missing_a: int
    n_missing_b: int
    mean_a: float
    mean_b: float
    median_a: float
    median_b: float
    sd_a: float
    sd_b: float
    mean_difference: float
    """mean_a − mean_b."""
    mean_difference_err: float
    """Welch standard error √(sd_a²/n_a + sd_b²/n_b)."""
    welch_t: float
    welch_p: float
    ks_statistic: float
    ks_p: float
    mannwhitney_u: float
    """Mann–Whitney U of sample a (ties count one half)."""
    mannwhitney_p: float
    cohens_d: float
    """(mean_a − mean_b) / pooled SD; NaN when both samples are constant."""
    cliffs_delta: float
    """P(a > b) − P(a < b), from 2U/(n_a·n_b) − 1."""
    n_flagged: int = 0
    """Results left out because a quantity failed QC (set by the query layer)."""


# ---------------------------------------------------------------------------
# input handling


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-D float array with missing values as NaN."""
    try:
        if isinstance(values, pd.Series | pd.Index):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"{name}: values must be numbers (missing values as NaN or None); "
            f"convert the column to numbers first ({exc})"
        ) from None
    if arr.ndim != 1:
        raise InvalidValueError(
            f"{name}: expected a one-dimensional sequence of numbers, got shape {arr.shape}; "
            "pass a single column"
        )
    if np.isinf(arr).any():
        raise InvalidValueError(
            f"{name}: contains infinite values; remove them or mark them missing (NaN) first"
        )
    return arr


def _present(arr: np.ndarray) -> np.ndarray:
    return arr[~np.isnan(arr)]


def _f(value: Any) -> float:
    return float(value)


# ---------------------------------------------------------------------------
# describe


def describe(values: ArrayLike, *, name: str = "value") -> Summary:
    """Summary statistics and a maximum-likelihood normal fit of one sample.

    Missing values are dropped and counted in ``n_missing``. The normal fit
    (``scipy.stats.norm.fit``) gives μ̂ = mean and σ̂ = the ddof=0 standard
    deviation, with asymptotic errors σ̂/√n and σ̂/√(2n).

    Raises:
        InvalidValueError: fewer than 2 values remain, or values are not numeric,
            infinite or not one-dimensional.
    """
    arr = _as_1d(values, name)
    data = _present(arr)
    n = int(data.size)
    n_missing = int(arr.size - n)
    if n < 2:
        raise InvalidValueError(
            f"{name}: at least 2 values are needed to describe a sample, got {n} "
            f"({n_missing} missing dropped); select more rows"
        )
    sd = _f(np.std(data, ddof=1))
    q25, median, q75 = (float(q) for q in np.quantile(data, [0.25, 0.5, 0.75]))
    normal_mean, normal_sd = (float(p) for p in sps.norm.fit(data))
    shapiro_p = _NAN
    if SHAPIRO_MIN_N <= n <= SHAPIRO_MAX_N and np.ptp(data) > 0:
        # scipy warns (and is unreliable) when the spread is negligible against the values,
        # e.g. fits pinned at a bound: no p-value then, rather than a doubtful one.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                shapiro_p = _f(sps.shapiro(data).pvalue)
            except (UserWarning, RuntimeWarning):
                shapiro_p = _NAN
    return Summary(
        name=name,
        n=n,
        n_missing=n_missing,
        mean=_f(np.mean(data)),
        mean_err=sd / math.sqrt(n),
        sd=sd,
        median=median,
        min=_f(np.min(data)),
        max=_f(np.max(data)),
        q25=q25,
        q75=q75,
        normal_mean=normal_mean,
        normal_mean_err=normal_sd / math.sqrt(n),
        normal_sd=normal_sd,
        normal_sd_err=normal_sd / math.sqrt(2 * n),
        shapiro_p=shapiro_p,
    )


def _partial_summary(values: ArrayLike, name: str) -> Summary:
    """Like :func:`describe`, but with NaN for what a sample of fewer than 2 values cannot give."""
    arr = _as_1d(values, name)
    data = _present(arr)
    stats: dict[str, Any] = dict.fromkeys((f.name for f in fields(Summary)), _NAN)
    stats.update(name=name, n=int(data.size), n_missing=int(arr.size - data.size))
    if data.size == 1:
        v = float(data[0])
        stats.update(mean=v, median=v, min=v, max=v, q25=v, q75=v, normal_mean=v)
    return Summary(**stats)


def group_describe(df: pd.DataFrame, column: str, by: str | None = None) -> pd.DataFrame:
    """:func:`describe` of ``df[column]`` per value of ``df[by]`` (or one row ``'all'``).

    The result has one row per group, indexed by the group value (index name
    ``by``, or ``'group'`` without grouping; missing group values form their own
    group), and one column per :class:`Summary` field. Groups with fewer than 2
    values are kept, with NaN for the statistics they cannot give.

    Raises:
        InvalidValueError: ``column`` or ``by`` is not a column of ``df``, or the
            column is not numeric.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(f"group_describe needs a pandas DataFrame, got {type(df).__name__}")
    for label, col in (("column", column), ("by", by)):
        if col is not None and col not in df.columns:
            valid = ", ".join(sorted(map(str, df.columns)))
            raise InvalidValueError(f"{label} {col!r} is not a column of the table; choose one of: {valid}")

    def summarize(values: pd.Series) -> dict[str, Any]:
        arr = _as_1d(values, column)
        if _present(arr).size >= 2:
            return describe(arr, name=column).as_dict()
        return _partial_summary(arr, column).as_dict()

    if by is None:
        rows = [summarize(df[column])]
        index = pd.Index(["all"], name="group")
    else:
        keys: list[Any] = []
        rows = []
        for key, values in df.groupby(by, dropna=False, sort=True)[column]:
            keys.append(key)
            rows.append(summarize(values))
        index = pd.Index(keys, name=by)
    return pd.DataFrame(rows, index=index, columns=[f.name for f in fields(Summary)])


# ---------------------------------------------------------------------------
# correlate


def _weighted_line(
    x: np.ndarray, y: np.ndarray, y_err: np.ndarray, x_err: np.ndarray | None, start_slope: float
) -> tuple[float, float, float, float, float]:
    """Weighted least-squares line (normal equations, unscaled covariance).

    Weights are 1/σ² with σ² = y_err² + (b·x_err)² (effective variance); without
    x_err that is plain 1/y_err² and a single pass. With x_err the slope b is
    iterated to a fixed point starting from ``start_slope``.

    Returns (slope, slope_err, intercept, intercept_err, reduced chi²).
    """
    slope = start_slope
    for _ in range(_MAX_ITERATIONS):
        var = y_err**2 if x_err is None else y_err**2 + (slope * x_err) ** 2
        w = 1.0 / var
        s, sx, sy = w.sum(), (w * x).sum(), (w * y).sum()
        sxx, sxy = (w * x * x).sum(), (w * x * y).sum()
        delta = s * sxx - sx * sx
        new_slope = (s * sxy - sx * sy) / delta
        intercept = (sxx * sy - sx * sxy) / delta
        converged = abs(new_slope - slope) <= 1e-12 * max(abs(new_slope), 1e-300)
        slope = new_slope
        if x_err is None or converged:
            break
    chi2 = float((w * (y - intercept - slope * x) ** 2).sum())
    return (
        float(slope),
        math.sqrt(s / delta),
        float(intercept),
        math.sqrt(sxx / delta),
        chi2 / (x.size - 2),
    )


# Long on purpose: the docstring states the statistics and the weighting rules; the body reads as
# one sequence (pair, drop missing, ordinary fit, weighted fit), clearer whole than split.
def correlate(
    x: ArrayLike,
    y: ArrayLike,
    *,
    x_name: str = "x",
    y_name: str = "y",
    x_err: ArrayLike | None = None,
    y_err: ArrayLike | None = None,
) -> Correlation:
    """Pearson and Spearman correlation of paired samples and a straight-line fit y = a + b·x.

    Pairs with a missing x or y (or a missing given error) are dropped and counted
    in ``n_dropped``. The ordinary least-squares fit is ``scipy.stats.linregress``.
    With ``y_err`` a weighted fit is added (weights 1/y_err², unscaled covariance,
    so its errors come from the quoted uncertainties alone; the reduced χ² tells
    whether those are realistic). With ``x_err`` as well, the weights use the
    effective variance y_err² + (b·x_err)².

    For a constant y the correlation coefficients are undefined and reported as NaN.

    Raises:
        InvalidValueError: fewer than 3 pairs remain, x is constant, the inputs
            differ in length, y_err is not positive or x_err is given without y_err.
    """
    if x_err is not None and y_err is None:
        raise InvalidValueError(
            f"{x_name} errors are only used by the weighted fit, which needs {y_name} errors; "
            "pass y_err as well (or drop x_err)"
        )
    columns = {"x": _as_1d(x, x_name), "y": _as_1d(y, y_name)}
    if y_err is not None:
        columns["y_err"] = _as_1d(y_err, f"{y_name} errors")
    if x_err is not None:
        columns["x_err"] = _as_1d(x_err, f"{x_name} errors")
    lengths = {key: arr.size for key, arr in columns.items()}
    if len(set(lengths.values())) != 1:
        raise InvalidValueError(
            f"{x_name} and {y_name} (and their errors) must have the same length, got "
            + ", ".join(f"{key}={n}" for key, n in lengths.items())
            + "; pass paired values"
        )
    keep = np.logical_and.reduce([~np.isnan(arr) for arr in columns.values()])
    cols = {key: arr[keep] for key, arr in columns.items()}
    n = int(keep.sum())
    n_dropped = int(keep.size - n)
    if n < 3:
        raise InvalidValueError(
            f"{y_name} vs {x_name}: at least 3 complete pairs are needed to correlate, got {n} "
            f"({n_dropped} incomplete pairs dropped); select more rows"
        )
    xs, ys = cols["x"], cols["y"]
    if np.ptp(xs) == 0:
        raise InvalidValueError(
            f"{x_name} is constant ({xs[0]!r}) over all {n} pairs; no correlation or slope can be "
            "computed, choose rows where it varies"
        )
    if "y_err" in cols and not (cols["y_err"] > 0).all():
        raise InvalidValueError(f"{y_name} errors must be positive; drop or fix the rows with errors ≤ 0")
    if "x_err" in cols and not (cols["x_err"] >= 0).all():
        raise InvalidValueError(f"{x_name} errors must not be negative; fix the rows with errors < 0")

    if np.ptp(ys) == 0:
        pearson_r = pearson_p = spearman_rho = spearman_p = _NAN
    else:
        pearson = sps.pearsonr(xs, ys)
        spearman = sps.spearmanr(xs, ys)
        pearson_r, pearson_p = _f(pearson.statistic), _f(pearson.pvalue)
        spearman_rho, spearman_p = _f(spearman.statistic), _f(spearman.pvalue)
    fit = sps.linregress(xs, ys)

    weighted: dict[str, Any] = {}
    if "y_err" in cols:
        b, b_err, a, a_err, red_chi2 = _weighted_line(xs, ys, cols["y_err"], cols.get("x_err"), fit.slope)
        weighted = {
            "weighted_slope": b,
            "weighted_slope_err": b_err,
            "weighted_intercept": a,
            "weighted_intercept_err": a_err,
            "weighted_reduced_chi2": red_chi2,
        }
    return Correlation(
        x_name=x_name,
        y_name=y_name,
        n=n,
        n_dropped=n_dropped,
        pearson_r=pearson_r,
        pearson_p=pearson_p,
        spearman_rho=spearman_rho,
        spearman_p=spearman_p,
        slope=_f(fit.slope),
        slope_err=_f(fit.stderr),
        intercept=_f(fit.intercept),
        intercept_err=_f(fit.intercept_stderr),
        r_squared=_f(fit.rvalue) ** 2,
        **weighted,
    )


# ---------------------------------------------------------------------------
# compare


def _welch(a: np.ndarray, b: np.ndarray, var_a: float, var_b: float) -> tuple[float, float]:
    """Welch t and two-sided p."""
    if var_a == 0 and var_b == 0:
        return _NAN, _NAN
    if var_a > 0 and var_b > 0:
        res = sps.ttest_ind(a, b, equal_var=False)
        return _f(res.statistic), _f(res.pvalue)
    # One constant sample: scipy warns about precision loss although the formula is exact here.
    sa, sb = var_a / a.size, var_b / b.size
    t = (a.mean() - b.mean()) / math.sqrt(sa + sb)
    dof = (sa + sb) ** 2 / (sa**2 / (a.size - 1) + sb**2 / (b.size - 1))
    return _f(t), _f(2 * sps.t.sf(abs(t), dof))


def compare(a: ArrayLike, b: ArrayLike, *, a_name: str = "A", b_name: str = "B") -> Comparison:
    """Compare two independent samples (e.g. g2(0) of dots on two samples).

    Reports the difference of means with its Welch standard error and t-test,
    the two-sample Kolmogorov–Smirnov test, the two-sided Mann–Whitney U test,
    Cohen's d (pooled SD) and Cliff's delta. Missing values are dropped.

    Raises:
        InvalidValueError: either sample has fewer than 2 values.
    """
    arr_a, arr_b = _as_1d(a, a_name), _as_1d(b, b_name)
    xa, xb = _present(arr_a), _present(arr_b)
    for label, data, arr in ((a_name, xa, arr_a), (b_name, xb, arr_b)):
        if data.size < 2:
            raise InvalidValueError(
                f"{label}: at least 2 values per sample are needed to compare, got {data.size} "
                f"({arr.size - data.size} missing dropped); select more rows"
            )
    na, nb = int(xa.size), int(xb.size)
    var_a, var_b = _f(np.var(xa, ddof=1)), _f(np.var(xb, ddof=1))
    mean_a, mean_b = _f(np.mean(xa)), _f(np.mean(xb))
    difference = mean_a - mean_b
    welch_t, welch_p = _welch(xa, xb, var_a, var_b)
    ks = sps.ks_2samp(xa, xb)
    mw = sps.mannwhitneyu(xa, xb, alternative="two-sided")
    u = _f(mw.statistic)
    pooled_sd = math.sqrt(((na - 1) * var_a + (nb - 1) * var_b) / (na + nb - 2))
    return Comparison(
        a_name=a_name,
        b_name=b_name,
        n_a=na,
        n_b=nb,
        n_missing_a=int(arr_a.size - na),
        n_missing_b=int(arr_b.size - nb),
        mean_a=mean_a,
        mean_b=mean_b,
        median_a=_f(np.median(xa)),
        median_b=_f(np.median(xb)),
        sd_a=math.sqrt(var_a),
        sd_b=math.sqrt(var_b),
        mean_difference=difference,
        mean_difference_err=math.sqrt(var_a / na + var_b / nb),
        welch_t=welch_t,
        welch_p=welch_p,
        ks_statistic=_f(ks.statistic),
        ks_p=_f(ks.pvalue),
        mannwhitney_u=u,
        mannwhitney_p=_f(mw.pvalue),
        cohens_d=difference / pooled_sd if pooled_sd > 0 else _NAN,
        cliffs_delta=2.0 * u / (na * nb) - 1.0,
    )
