"""Bin-free dwell-time statistics against simulated blinking with known exponents and cutoffs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, stats

from qdcat.analysis.dwell import (
    DwellPeriods,
    compare_cutoff,
    cutoff_power_law_log_likelihood,
    cutoff_power_law_ml,
    dwell_periods,
    power_law_log_likelihood,
    power_law_ml,
    power_law_ml_pooled,
)
from qdcat.errors import InvalidValueError

T_MIN, T_MAX = 1e-2, 1e2  # a 10 ms resolution and a 100 s trace: four decades


# --- samplers, independent of the module ------------------------------------------------------------


def _power_law(
    rng: np.random.Generator, k: float, t_min: float, t_max: float, size: int | tuple[int, ...]
) -> np.ndarray:
    """Inverse CDF of p(t) ∝ t^-k on [t_min, t_max]."""
    u = rng.random(size)
    if k == 1.0:
        return t_min * (t_max / t_min) ** u
    e = 1.0 - k
    return (t_min**e + u * (t_max**e - t_min**e)) ** (1.0 / e)


def _cutoff_power_law(
    rng: np.random.Generator, k: float, tau: float, t_min: float, t_max: float, n: int
) -> np.ndarray:
    """Rejection sampling of p(t) ∝ t^-k e^{-t/τ}: power-law proposals, accepted with e^{-(t-t_min)/τ}."""
    out = np.empty(0)
    while out.size < n:
        t = _power_law(rng, k, t_min, t_max, 2 * n)
        out = np.r_[out, t[rng.random(t.size) < np.exp(-(t - t_min) / tau)]]
    return out[:n]


def _telegraph(
    rng: np.random.Generator,
    k_on: float,
    k_off: float,
    t_min: float,
    total_s: float,
    n_traces: int,
    *,
    start: str,
) -> list[DwellPeriods]:
    """Alternating on/off periods from power laws on [t_min, total_s], observed on [0, total_s].

    ``start="cut"``: the first period is drawn like any other and the observation starts at a uniform
    point inside it. ``start="stationary"``: the process ran for 3 total_s before the observation.
    Each observed period is split into two segments, which dwell_periods must merge again.
    """
    n_draw = 16
    while True:
        first_on = rng.random(n_traces) < 0.5
        state = first_on[:, None] ^ (np.arange(n_draw) % 2 == 1)[None, :]
        shape = (n_traces, n_draw)
        d = np.where(
            state, _power_law(rng, k_on, t_min, total_s, shape), _power_law(rng, k_off, t_min, total_s, shape)
        )
        offset = rng.random(n_traces) * d[:, 0] if start == "cut" else np.full(n_traces, 3.0 * total_s)
        end = np.cumsum(d, axis=1) - offset[:, None]
        if np.all(end[:, -1] > total_s):
            break
        n_draw *= 2
    begin = end - d
    seen = (end > 0) & (begin < total_s)
    observed = np.minimum(end, total_s) - np.maximum(begin, 0.0)
    traces = []
    for i in range(n_traces):
        periods, on = observed[i, seen[i]], state[i, seen[i]]
        split = 0.05 + 0.9 * rng.random(periods.size)
        segments = np.column_stack([periods * split, periods * (1.0 - split)]).ravel()
        traces.append(dwell_periods(segments, np.repeat(on, 2)))
    return traces


def _on_periods(traces: list[DwellPeriods], how: str) -> tuple[np.ndarray, np.ndarray]:
    """On periods of many traces, with censoring flags: "last_only" drops each trace's first period
    and keeps the last censored; "both_ends" censors first and last; "none" treats all as complete."""
    durations, censored = [], []
    for tr in traces:
        t, c = tr.on_s, tr.on_censored
        if how == "last_only" and tr.starts_on:
            t, c = t[1:], c[1:]
        durations.append(t)
        censored.append(c if how != "none" else np.zeros_like(c))
    return np.concatenate(durations), np.concatenate(censored)


def _z_stats(z: list[float]) -> tuple[float, float]:
    a = np.asarray(z)
    assert np.all(np.isfinite(a))
    return float(a.mean()), float(a.std(ddof=1))


# --- dwell periods ---------------------------------------------------------------------------------


def test_dwell_periods_merges_segments_of_one_state_by_hand() -> None:
    p = dwell_periods([1.0, 2.0, 3.0, 4.0, 5.0, 0.5], [True, True, False, True, True, False])
    np.testing.assert_array_equal(p.on_s, [3.0, 9.0])
    np.testing.assert_array_equal(p.off_s, [3.0, 0.5])
    np.testing.assert_array_equal(p.on_censored, [True, False])  # the first period of the trace
    np.testing.assert_array_equal(p.off_censored, [False, True])  # the last
    assert p.n_switches == 3
    assert p.starts_on is True
    assert p.on_s.dtype == np.float64 and p.on_censored.dtype == np.bool_


def test_a_trace_that_never_switches_is_one_period_censored_at_both_ends() -> None:
    p = dwell_periods([1.0, 2.0, 4.0], np.array([0, 0, 0]))
    np.testing.assert_array_equal(p.off_s, [7.0])
    np.testing.assert_array_equal(p.off_censored, [True])
    assert p.on_s.size == 0 and p.on_censored.size == 0
    assert p.n_switches == 0 and p.starts_on is False


# --- the pure power law ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1.0, 1.3, 1.8, 2.4])
def test_power_law_ml_recovers_k_with_calibrated_errors_and_intervals(k: float) -> None:
    rng = np.random.default_rng(int(k * 100))
    samples = _power_law(rng, k, T_MIN, T_MAX, (200, 300))
    z, covered = [], []
    for t in samples:
        fit = power_law_ml(t, t_min_s=T_MIN, t_max_s=T_MAX)
        assert fit.k_low < fit.k < fit.k_high
        assert fit.flags == () and fit.n == 300 and fit.n_censored == 0
        z.append((fit.k - k) / fit.k_err)
        covered.append(fit.k_low <= k <= fit.k_high)
    mean, sd = _z_stats(z)
    # 200 fits: the mean of unit-variance pulls has SE 0.07, their SD an SE of 0.05.
    assert abs(mean) < 0.3
    assert 0.8 < sd < 1.25
    # The profile-likelihood interval is a 68.3 % interval: binomial SE 3.3 % over 200 fits.
    assert 0.58 < np.mean(covered) < 0.78


def test_censoring_the_last_period_removes_the_bias_of_cut_periods() -> None:
    # Long periods (1-100 s) in short traces (100 s, ~7 periods): cut periods are a large share of all.
    k_on, k_off, t_min, total_s = 1.3, 1.8, 1.0, 100.0
    rng = np.random.default_rng(7)
    z: dict[str, list[float]] = {"last_only": [], "none": []}
    for _ in range(100):
        traces = _telegraph(rng, k_on, k_off, t_min, total_s, 60, start="cut")
        for how in z:
            t, c = _on_periods(traces, how)
            fit = power_law_ml(t, censored=c, t_min_s=t_min, t_max_s=total_s)
            z[how].append((fit.k - k_on) / fit.k_err)
    mean, sd = _z_stats(z["last_only"])
    assert abs(mean) < 0.35  # SE 0.1 over 100 fits
    assert 0.8 < sd < 1.25
    naive_mean, _ = _z_stats(z["none"])
    # Taking the cut periods for complete ones shortens the tail: k too high by about one error bar.
    assert naive_mean - mean > 0.6


def test_taking_the_left_cut_first_period_as_right_censored_biases_k_low() -> None:
    # Why dwell_periods' docstring says to drop the first period: a trace that starts mid-process
    # sees the rest of a period that had already lasted a while, which ln S(t) alone does not model.
    k_on, k_off, t_min, total_s = 1.3, 1.8, 1.0, 100.0
    rng = np.random.default_rng(8)
    z: dict[str, list[float]] = {"last_only": [], "both_ends": []}
    for _ in range(60):
        traces = _telegraph(rng, k_on, k_off, t_min, total_s, 60, start="stationary")
        for how in z:
            t, c = _on_periods(traces, how)
            fit = power_law_ml(t, censored=c, t_min_s=t_min, t_max_s=total_s)
            z[how].append((fit.k - k_on) / fit.k_err)
    assert abs(_z_stats(z["last_only"])[0]) < 0.45  # SE 0.13 over 60 fits
    assert _z_stats(z["both_ends"])[0] < -1.0


def _quad_log_integral(f: Callable[[float], float], lo: float, hi: float) -> float:
    """ln ∫_lo^hi f(t) dt by quad directly in t, piecewise over quarter decades."""
    edges = np.geomspace(lo, hi, max(2, math.ceil(4 * math.log10(hi / lo)) + 1))
    total = sum(
        integrate.quad(f, edges[i], edges[i + 1], epsabs=0.0, epsrel=1e-12, limit=200)[0]
        for i in range(edges.size - 1)
    )
    return math.log(total)


def _reference_log_likelihood(
    t: np.ndarray, censored: np.ndarray, t_min: float, t_max: float, density: Callable[[float], float]
) -> float:
    """Σ ln p(t) over complete periods + Σ ln ∫_t^{t_max} p over censored ones, p normalised by quad."""
    log_z = _quad_log_integral(density, t_min, t_max)
    complete = sum(math.log(density(x)) - log_z for x in t[~censored])
    return complete + sum(_quad_log_integral(density, x, t_max) - log_z for x in t[censored])


def test_power_law_ml_matches_a_naive_grid_search_with_quad_normalisation() -> None:
    rng = np.random.default_rng(3)
    t = _power_law(rng, 1.6, 1e-3, 10.0, 400)
    censored = np.zeros(t.size, dtype=bool)
    censored[[0, -1]] = True
    fit = power_law_ml(t, censored=censored, t_min_s=1e-3, t_max_s=10.0)

    def ref(k: float) -> float:
        return _reference_log_likelihood(t, censored, 1e-3, 10.0, lambda x: x**-k)

    coarse = np.arange(1.0, 2.5, 0.02)
    k0 = coarse[np.argmax([ref(k) for k in coarse])]
    fine = np.arange(k0 - 0.02, k0 + 0.02, 1e-4)
    ll_fine = np.array([ref(k) for k in fine])
    assert abs(fine[np.argmax(ll_fine)] - fit.k) < 1e-3
    assert ref(fit.k) == pytest.approx(fit.log_likelihood, rel=1e-6)
    assert fit.log_likelihood >= ll_fine.max() - 1e-6 * abs(fit.log_likelihood)


def test_cutoff_likelihood_matches_quad_over_seven_decades_and_the_fit_is_its_maximum() -> None:
    t_min, t_max, tau = 1e-4, 1e3, 50.0
    rng = np.random.default_rng(4)
    t = _cutoff_power_law(rng, 1.5, tau, t_min, t_max, 3000)
    censored = np.zeros(t.size, dtype=bool)
    censored[[0, -1]] = True
    fit = cutoff_power_law_ml(t, censored=censored, t_min_s=t_min, t_max_s=t_max)

    def ref(k: float, cutoff: float) -> float:
        return _reference_log_likelihood(t, censored, t_min, t_max, lambda x: x**-k * math.exp(-x / cutoff))

    assert ref(fit.k, fit.cutoff_s) == pytest.approx(fit.log_likelihood, rel=1e-11)
    for dk in (-0.005, 0.0, 0.005):
        for f in (0.98, 1.0, 1.02):
            ll = cutoff_power_law_log_likelihood(
                t, fit.k + dk, fit.cutoff_s * f, censored=censored, t_min_s=t_min, t_max_s=t_max
            )
            assert ll == pytest.approx(ref(fit.k + dk, fit.cutoff_s * f), rel=1e-11)
            assert ll <= fit.log_likelihood + 1e-9
    # A survival integral deep in the exponential tail and far below t_max: S(2 s) ~ e^-200 at
    # tau_c = 10 ms. The reference density is scaled by e^200 so quad sees numbers of order one;
    # the scale cancels in ln L.
    x, c = np.array([1e-3, 2.0]), np.array([False, True])
    got = cutoff_power_law_log_likelihood(x, 1.5, 0.01, censored=c, t_min_s=t_min, t_max_s=t_max)
    want = _reference_log_likelihood(
        x, c, t_min, t_max, lambda s: (s / 2.0) ** -1.5 * math.exp(-(s - 2.0) / 0.01)
    )
    assert got == pytest.approx(want, rel=1e-11)
    assert got < -190.0


def test_log_likelihood_is_continuous_through_k_equal_one() -> None:
    rng = np.random.default_rng(5)
    t = _power_law(rng, 1.0, T_MIN, T_MAX, 1000)
    c = np.zeros(t.size, dtype=bool)
    c[[0, -1]] = True

    def ll(k: float) -> float:
        return power_law_log_likelihood(t, k, censored=c, t_min_s=T_MIN, t_max_s=T_MAX)

    slope = (ll(1.0 + 1e-4) - ll(1.0 - 1e-4)) / 2e-4
    for dk in (-1e-9, 1e-9):
        assert ll(1.0 + dk) - ll(1.0) == pytest.approx(dk * slope, abs=1e-9)
    # No step anywhere near k = 1 (where the stable forms switch): the second differences stay at
    # f''·h², which is constant on this scale; a step of size s would stand out by s.
    second = np.diff([ll(k) for k in 1.0 + np.linspace(-1e-3, 1e-3, 401)], 2)
    assert np.max(np.abs(second - np.median(second))) < 1e-9
    fit = power_law_ml(t, censored=c, t_min_s=T_MIN, t_max_s=T_MAX)
    assert abs(fit.k - 1.0) < 4 * fit.k_err


def test_pooled_fit_shares_k_over_dots_with_different_windows() -> None:
    k = 1.7
    rng = np.random.default_rng(6)
    windows = (10.0, 100.0, 1000.0)
    z = []
    for _ in range(50):
        groups = [(_power_law(rng, k, T_MIN, w, 150), None, T_MIN, w) for w in windows]
        pooled = power_law_ml_pooled(groups)
        singles = [power_law_ml(g[0], t_min_s=T_MIN, t_max_s=g[3]) for g in groups]
        assert pooled.k_err < min(s.k_err for s in singles)
        assert pooled.n == 450 and pooled.t_min_s == T_MIN and pooled.t_max_s == 1000.0
        joint = sum(power_law_log_likelihood(g[0], pooled.k, t_min_s=T_MIN, t_max_s=g[3]) for g in groups)
        assert joint == pytest.approx(pooled.log_likelihood, rel=1e-12)
        z.append((pooled.k - k) / pooled.k_err)
    mean, sd = _z_stats(z)
    assert abs(mean) < 0.5  # SE 0.14 over 50 fits
    assert 0.7 < sd < 1.35


def test_pooled_fit_of_one_group_is_the_single_fit() -> None:
    rng = np.random.default_rng(9)
    t = _power_law(rng, 2.0, T_MIN, T_MAX, 200)
    c = np.zeros(t.size, dtype=bool)
    c[-1] = True
    assert power_law_ml_pooled([(t, c, T_MIN, T_MAX)]) == power_law_ml(
        t, censored=c, t_min_s=T_MIN, t_max_s=T_MAX
    )


def test_durations_below_t_min_are_dropped_and_counted() -> None:
    rng = np.random.default_rng(10)
    t = _power_law(rng, 1.5, 1e-3, T_MAX, 500)
    fit = power_law_ml(t, t_min_s=T_MIN, t_max_s=T_MAX)
    kept = t[t >= T_MIN]
    assert fit.n_below_min == 500 - kept.size > 0
    assert fit.n == kept.size
    assert fit.k == power_law_ml(kept, t_min_s=T_MIN, t_max_s=T_MAX).k


def test_a_censored_period_as_long_as_the_window_counts_as_one_ending_there() -> None:
    # S(t_max) = 0 for every k; in the limit t -> t_max a censored period weighs like the density there.
    t = np.array([0.05, 0.3, 2.0, 0.02, 0.7, T_MAX])
    c = np.array([False, False, False, False, False, True])
    fit = power_law_ml(t, censored=c, t_min_s=T_MIN, t_max_s=T_MAX)
    assert "censored_at_t_max" in fit.flags and fit.n_censored == 1
    assert fit.k == power_law_ml(t, t_min_s=T_MIN, t_max_s=T_MAX).k
    near = power_law_ml(t * np.r_[1, 1, 1, 1, 1, 1 - 1e-9], censored=c, t_min_s=T_MIN, t_max_s=T_MAX)
    assert near.k == pytest.approx(fit.k, abs=1e-6)
    # Sums of segments may overshoot t_max by rounding; that is not an error.
    power_law_ml(t * (1 + 1e-12), t_min_s=T_MIN, t_max_s=T_MAX)


def test_flags_of_a_fit_that_runs_into_k_equal_zero() -> None:
    # Periods piled up at the top of the window want a rising law: k hits its lower bound.
    fit = power_law_ml([9.0, 9.5, 9.9, 8.0], t_min_s=1.0, t_max_s=10.0)
    assert {"at_bound:k", "interval_open", "few_periods"} <= set(fit.flags)
    assert math.isnan(fit.k_low) and fit.k < 1e-3


# --- the cutoff and the model comparison -----------------------------------------------------------


def test_lr_test_has_its_nominal_false_positive_rate_on_pure_power_laws() -> None:
    # k = 1.3 leaves ~40 of 300 periods in the top decade: enough for the asymptotic ½χ²₀ + ½χ²₁.
    rng = np.random.default_rng(11)
    samples = _power_law(rng, 1.3, T_MIN, T_MAX, (300, 300))
    results = [compare_cutoff(t, t_min_s=T_MIN, t_max_s=T_MAX) for t in samples]
    rejected = np.mean([r.preferred == "cutoff_power_law" for r in results])
    assert 0.02 < rejected < 0.09
    # Half of the null fits put the cutoff beyond the window, on the boundary: LR = 0, p = 1.
    at_zero = np.mean([r.lr_statistic == 0.0 for r in results])
    assert 0.35 < at_zero < 0.65
    for r in results:
        assert r.cutoff_power_law.log_likelihood >= r.power_law.log_likelihood - 1e-6
        if "at_bound:cutoff" in r.cutoff_power_law.flags:  # no cutoff at all: the pure power law again
            assert r.cutoff_power_law.k == pytest.approx(r.power_law.k, abs=1e-5)
        expected = 0.5 * stats.chi2.sf(r.lr_statistic, 1) if r.lr_statistic > 0 else 1.0
        assert r.p_value == pytest.approx(expected, rel=1e-12)


def test_lr_test_finds_a_cutoff_inside_the_window_and_recovers_it() -> None:
    k, tau = 1.5, T_MAX / 20
    rng = np.random.default_rng(12)
    preferred, z_tau, z_k = [], [], []
    for _ in range(100):
        t = _cutoff_power_law(rng, k, tau, T_MIN, T_MAX, 1000)
        r = compare_cutoff(t, t_min_s=T_MIN, t_max_s=T_MAX)
        cut = r.cutoff_power_law
        preferred.append(r.preferred == "cutoff_power_law")
        assert "cutoff_beyond_window" not in cut.flags
        # Errors are symmetric in ln tau_c (the fit's parameter): compare there.
        z_tau.append(math.log(cut.cutoff_s / tau) / (cut.cutoff_s_err / cut.cutoff_s))
        z_k.append((cut.k - k) / cut.k_err)
    assert np.mean(preferred) > 0.9
    for z in (z_tau, z_k):
        mean, sd = _z_stats(z)
        assert abs(mean) < 0.5  # SE 0.1 over 100 fits, plus the small-sample bias of ln tau_c
        assert 0.7 < sd < 1.35


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "kwargs", "fragment"),
    [
        ([0.1, -0.2, 0.3], {}, "must all be > 0"),
        ([0.1, np.nan, 0.3], {}, "NaN"),
        ([0.1, 0.2, 0.3], {"t_min_s": 1.0, "t_max_s": 1.0}, "must be below t_max_s"),
        ([0.1, 0.2, 300.0], {}, "exceeds t_max_s"),
        ([0.1, 0.2, 0.3], {"censored": [True, False]}, "one flag per entry"),
        ([0.1, 0.2, 0.3], {"censored": [0.5, 0, 1]}, "booleans"),
        ([0.1, 0.001, 0.002], {}, "at least 2"),
        ([[0.1, 0.2]], {}, "1-D"),
        ([0.1, 0.2, 0.3], {"t_min_s": -1.0}, "t_min_s must be finite and in (0"),
    ],
)
@pytest.mark.parametrize("fit", [power_law_ml, cutoff_power_law_ml, compare_cutoff])
def test_bad_input_is_refused_with_a_useful_message(
    fit: Callable[..., object], durations: list[float], kwargs: dict[str, object], fragment: str
) -> None:
    args: dict[str, object] = {"t_min_s": T_MIN, "t_max_s": T_MAX, **kwargs}
    with pytest.raises(InvalidValueError) as err:
        fit(durations, **args)
    assert fragment in str(err.value)


def test_bad_pooled_and_segment_input() -> None:
    with pytest.raises(InvalidValueError, match=r"group 1: .*exceeds t_max_s"):
        power_law_ml_pooled([([0.1, 0.2], None, T_MIN, T_MAX), ([5.0], None, T_MIN, 1.0)])
    with pytest.raises(InvalidValueError, match=r"in all groups together .*needs at least 2"):
        power_law_ml_pooled([([0.1], None, T_MIN, T_MAX), ([], None, T_MIN, 1.0)])
    with pytest.raises(InvalidValueError, match=r"\(durations_s, censored, t_min_s, t_max_s\)"):
        power_law_ml_pooled([([0.1, 0.2], T_MAX)])
    with pytest.raises(InvalidValueError, match="groups is empty"):
        power_law_ml_pooled([])
    with pytest.raises(InvalidValueError, match="one flag per entry"):
        dwell_periods([1.0, 2.0], [True])
    with pytest.raises(InvalidValueError, match="drop empty segments"):
        dwell_periods([1.0, 0.0], [True, False])
    with pytest.raises(InvalidValueError, match="at least 1"):
        dwell_periods([], [])
