"""Blinking analysis against known on/off histories: ML vs the study's log–log regression."""

from __future__ import annotations

import numpy as np
import pytest

from qdcat.analysis.blinking import (
    analyze_blinking,
    duration_distribution,
    power_law_loglog,
    power_law_ml_discrete,
    power_law_ml_pooled,
)
from qdcat.errors import InvalidValueError
from qdcat.simulate import BlinkingParams, Detection, DotParams, draw_blinking, simulate_cw


def _discrete_power_law(rng: np.random.Generator, k: float, x_max: int, n: int) -> np.ndarray:
    x = np.arange(1, x_max + 1)
    cdf = np.cumsum(x**-k)
    cdf /= cdf[-1]
    return x[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), x_max - 1)]


def test_duration_distribution_by_hand() -> None:
    dist = duration_distribution([1.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(dist.duration_s, [1.0, 2.0, 4.0])
    # Δavg = [2−1, (4−1)/2, 4−2] (one-sided at the ends); P = (N/N_total)/Δavg
    np.testing.assert_allclose(dist.probability_per_s, [0.5 / 1.0, 0.25 / 1.5, 0.25 / 2.0])
    np.testing.assert_allclose(dist.survival, [0.5, 0.25, 0.0])  # fraction of periods longer than t


def test_ml_recovers_true_dwell_exponents_of_the_simulator() -> None:
    # True dwell times from draw_blinking (continuous, 10 ms-100 s) on a 10 µs grid: t_min = 1000 bins,
    # t_max = 10^7 bins, so the discrete model matches the continuous law to ~1e-3.
    params = BlinkingParams(k_on=1.2, k_off=2.2)
    pulls: dict[str, list[float]] = {"on": [], "off": []}
    for seed in range(30):
        truth = draw_blinking(params, duration_s=3000.0, seed=seed)
        dwell, on = truth.dwell_s[1:-1], truth.period_on[1:-1]  # the first and last periods are truncated
        for state, sel, k in (("on", on, params.k_on), ("off", ~on, params.k_off)):
            fit = power_law_ml_discrete(np.round(dwell[sel] / 1e-5), x_min_bins=1000, x_max_bins=10_000_000)
            assert fit.converged and fit.k_lo < fit.k < fit.k_hi
            pulls[state].append((fit.k - k) / fit.k_err)
    # measured (~650 periods of each state per seed): mean k_on 1.198, k_off 2.192; 1σ coverage
    # 0.60 / 0.60, mean pulls −0.10 / −0.22
    for values in pulls.values():
        p = np.array(values)
        assert 0.45 <= np.mean(np.abs(p) <= 1) <= 0.9
        assert abs(p.mean()) < 0.5


def test_loglog_regression_is_biased_where_ml_is_not() -> None:
    # Durations drawn from the discrete doubly truncated law itself (x_min = 1 bin of 10 ms, 300 s window).
    for k in (1.2, 2.2):
        ml_k, ml_pull, ll_k, ll_pull = [], [], [], []
        for seed in range(40):
            x = _discrete_power_law(np.random.default_rng(seed), k, 30_000, 400)
            ml = power_law_ml_discrete(x, x_max_bins=30_000)
            ll, ll_err = power_law_loglog(x * 0.01)
            ml_k.append(ml.k)
            ml_pull.append((ml.k - k) / ml.k_err)
            ll_k.append(ll)
            ll_pull.append((ll - k) / ll_err)
        # measured, 400 periods: k = 1.2 → ML 1.198 (coverage 0.60), log-log 1.145 (coverage 0.20,
        # mean pull −2.3); k = 2.2 → ML 2.201 (0.62), log-log 2.007 (0.35, mean pull −1.6).
        assert abs(np.mean(ml_k) - k) < 0.02
        assert 0.45 <= np.mean(np.abs(ml_pull) <= 1) <= 0.9
        assert np.mean(ll_k) < k - 0.04  # the study's regression underestimates k ...
        assert np.mean(np.abs(ll_pull) <= 1) < 0.45  # ... and its standard error does not cover that


def test_trace_from_simulated_cw_with_blinking() -> None:
    # 300 s at 10 ms bins: ~100 counts/bin on, ~10 off (1000 cps background on A + B).
    dot = DotParams(blinking=BlinkingParams(k_on=1.2, k_off=2.2))
    run = simulate_cw(dot, detection=Detection(efficiency=0.003), duration_s=300.0, seed=0)
    n_bins = 30_000
    trace = np.bincount(run.stream.timestamps_ps // 10**10, minlength=n_bins)[:n_bins]
    background = np.random.default_rng(0).poisson(1000.0 * 0.01, 3000)  # a dot-free trace of the setup
    with_bg = analyze_blinking(trace, 0.01, background_counts=background)
    self_est = analyze_blinking(trace, 0.01)
    study = analyze_blinking(trace, 0.01, background_counts=background, threshold="background_sigma")
    assert "background measurement" in with_bg.threshold_method and with_bg.levels.off_known
    assert "two-level Poisson mixture" in self_est.threshold_method and not self_est.levels.off_known
    # the midpoint between the measured off level and the on level; the study's mean + 3 SD
    assert with_bg.threshold_counts == pytest.approx(0.5 * (background.mean() + with_bg.levels.on_counts))
    assert study.threshold_counts == pytest.approx(background.mean() + 3 * background.std(ddof=1))
    # (the low level of the mixture also holds the bins a switch cuts: a little above the background)
    assert 90.0 < with_bg.levels.on_counts < 125.0 and 8.0 < self_est.levels.off_counts < 15.0
    for result in (with_bg, self_est):
        assert 45.0 < result.threshold_counts < 65.0
        assert result.on_fraction == pytest.approx(run.truth.on_fraction, abs=0.005)
        assert result.on_durations_s.size >= 40 and result.off_durations_s.size >= 40
        assert result.flags == ()
        # measured (53 on / 54 off periods): with the background trace k_on log-log 1.14, ML 1.15 ± 0.05
        # (truth 1.2); k_off log-log 1.51, ML 1.78 ± 0.11 (truth 2.2); self-estimated threshold: similar.
        # Off periods shorter than a 10 ms bin are missed or merged, which flattens P(t_off)
        # for either estimator; the ML stays the closer one.
        assert abs(result.k_on_ml - 1.2) < 0.2
        assert 1.4 < result.k_off_ml < 2.4
        assert abs(result.k_off_ml - 2.2) < abs(result.k_off_loglog - 2.2)


def test_analyze_blinking_recovers_known_runs() -> None:
    rng = np.random.default_rng(2)
    runs = [(True, 5), (False, 3), (True, 7), (False, 1), (True, 2), (False, 4), (True, 9), (False, 2)]
    state = np.concatenate([np.full(n, s) for s, n in runs])
    trace = rng.poisson(np.where(state, 200.0, 5.0))
    result = analyze_blinking(trace, 0.01, background_counts=rng.poisson(5.0, 500))
    # The first (on, 5) and last (off, 2) runs are truncated and dropped.
    np.testing.assert_allclose(result.on_durations_s, [0.07, 0.02, 0.09])
    np.testing.assert_allclose(result.off_durations_s, [0.03, 0.01, 0.04])
    assert result.on_fraction_binned == pytest.approx(23 / 33)
    assert abs(result.on_fraction - 23 / 33) < 3 * result.on_fraction_err  # no sub-bin periods to put back
    assert result.on_ml is not None and result.on_ml.x_max_bins == 33


def test_blinking_free_trace_is_flagged_not_fitted() -> None:
    trace = np.random.default_rng(3).poisson(100.0, 2000)
    result = analyze_blinking(trace, 0.01, background_counts=np.random.default_rng(4).poisson(5.0, 500))
    assert "one_level" in result.flags and "state_unknown" not in result.flags
    # always on: 1 within its error (not clipped, so a population mean stays unbiased); the bins say 1
    assert 0 < result.on_fraction_err < 0.01 and abs(result.on_fraction - 1.0) < 4 * result.on_fraction_err
    assert result.on_fraction_binned == 1.0
    assert np.isnan(result.k_off_ml) and np.isnan(result.k_on_loglog)
    assert "too_few_off_periods_for_ml" in result.flags
    # without a background or dark rate, one level is taken as on, and said to be a guess
    self_est = analyze_blinking(trace, 0.01)
    assert self_est.on_fraction_binned == 1.0 and {"one_level", "state_unknown"} <= set(self_est.flags)
    # the same level known to be the off level: the dot stayed off
    dark = analyze_blinking(np.random.default_rng(5).poisson(5.0, 2000), 0.01, dark_counts_per_bin=5.0)
    assert dark.on_fraction < 0.01 and dark.levels.on_counts is None


def _two_level_trace(
    rng: np.random.Generator, on_fraction: float, n_bins: int, mean_run: float
) -> np.ndarray:
    """A 10 ms trace switching between on (80 counts/bin) and off (4) with exponential runs."""
    state, out, on = [], 0, bool(rng.random() < on_fraction)
    while out < n_bins:
        mean = mean_run * (on_fraction if on else 1.0 - on_fraction) / 0.5
        n = max(1, int(rng.exponential(mean)))
        state.append(np.full(n, on))
        out += n
        on = not on
    s = np.concatenate(state)[:n_bins]
    return np.column_stack((s, rng.poisson(np.where(s, 80.0, 4.0))))


@pytest.mark.parametrize("on_fraction", [1.0, 0.99, 0.9, 0.5, 0.15])
@pytest.mark.parametrize("with_background", [True, False])
def test_on_fraction_of_always_rarely_and_mostly_off_dots(on_fraction: float, with_background: bool) -> None:
    """The threshold is right for every kind of dot, with or without a background measurement."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        if on_fraction == 1.0:
            truth, trace = np.ones(3000, bool), rng.poisson(80.0, 3000)
        else:
            pairs = _two_level_trace(rng, on_fraction, 3000, 40.0)
            truth, trace = pairs[:, 0].astype(bool), pairs[:, 1]
        bg = rng.poisson(4.0, 1000) if with_background else None
        res = analyze_blinking(trace, 0.01, background_counts=bg)
        assert abs(res.on_fraction - truth.mean()) <= 0.002 + 3 * res.on_fraction_err, (seed, res.flags)
        assert "levels_not_resolved" not in res.flags
        if on_fraction == 1.0:
            assert ("state_unknown" in res.flags) == (not with_background)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: analyze_blinking(np.zeros(100), 0.01), "no counts"),
        (lambda: analyze_blinking(np.ones(5), 0.01), "at least"),
        (lambda: analyze_blinking(np.r_[np.ones(20), np.nan], 0.01), "NaN"),
        (lambda: analyze_blinking(np.ones(20), 0.0), "bin_width_s"),
        (lambda: analyze_blinking(-np.ones(20), 0.01), ">= 0"),
        (lambda: power_law_ml_discrete([1.5, 2.0, 3.0], x_max_bins=10), "whole"),
        (lambda: power_law_ml_discrete([1, 2, 30], x_max_bins=10), "outside"),
        (lambda: power_law_ml_discrete([1, 2, 3], x_max_bins=1), "exceed"),
        (lambda: power_law_ml_discrete([1, 2], x_max_bins=0), "x_max_bins"),
        (lambda: power_law_loglog([1.0, 1.0, 2.0]), "three distinct"),
        (lambda: duration_distribution([1.0, 1.0]), "distinct"),
        (lambda: duration_distribution([1.0, -1.0]), "> 0"),
    ],
)
def test_bad_input_raises_with_advice(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValueError, match=match):
        call()


def test_pooled_ml_recovers_one_exponent_from_many_short_traces() -> None:
    """Traces with ~5 periods each (the study's): pooled, the exponent is pinned down, with 1σ coverage."""
    for k in (1.3, 2.2):
        pulls = []
        for seed in range(30):
            rng = np.random.default_rng(seed)
            groups = []
            for _ in range(25):
                x_max = int(rng.integers(500, 3000))
                groups.append((_discrete_power_law(rng, k, x_max, int(rng.integers(2, 9))), x_max))
            fit = power_law_ml_pooled(groups)
            assert fit.n_periods == sum(g[0].size for g in groups) and fit.converged
            pulls.append((fit.k - k) / fit.k_err)
        p = np.asarray(pulls)
        assert abs(p.mean()) < 0.4 and 0.5 <= np.mean(np.abs(p) <= 1) <= 0.9, p
    with pytest.raises(InvalidValueError, match="at least 2"):
        power_law_ml_pooled([(np.array([3.0]), 10), (np.array([]), 10)])


def _power_law(rng: np.random.Generator, k: float, t_min: float, t_max: float, n: int) -> np.ndarray:
    a, b = t_min ** (1.0 - k), t_max ** (1.0 - k)
    return (a + rng.random(n) * (b - a)) ** (1.0 / (1.0 - k))


def _sub_bin_trace(
    rng: np.random.Generator,
    k_on: float,
    k_off: float,
    duration_s: float,
    bin_s: float,
    on_cps: float,
    off_cps: float,
) -> tuple[np.ndarray, float]:
    """Counts per bin of a power-law telegraph (most periods far below a bin) and its true on-fraction."""
    dwell = _power_law(rng, k_on, 3e-4, 30.0, 20000), _power_law(rng, k_off, 3e-4, 30.0, 20000)
    first_on = bool(rng.random() < 0.5)
    d = np.empty(40000)
    d[0::2], d[1::2] = (dwell[0], dwell[1]) if first_on else (dwell[1], dwell[0])
    ends = np.cumsum(d) - rng.random() * d[0]
    is_on = (np.arange(d.size) % 2 == 0) == first_on
    edges = np.arange(0.0, duration_s + bin_s / 2, bin_s)
    # time on before each bin edge: the on periods' overlap with [0, edge), exactly
    starts = ends - d
    on_time = np.array(
        [np.sum(np.clip(np.minimum(ends, e) - np.maximum(starts, 0.0), 0.0, None)[is_on]) for e in edges]
    )
    on_per_bin = np.diff(on_time)
    counts = rng.poisson(on_cps * on_per_bin + off_cps * bin_s)
    return counts, float(on_time[-1] / duration_s)


def test_on_fraction_with_sub_bin_periods_is_unbiased_with_honest_errors() -> None:
    """Power-law blinking puts most periods below a 10 ms bin: the put-back fraction has z mean ≈ 0, SD ≈ 1.

    The truth is the exact on time of the simulated switching; the binned
    fraction (the study's) is biased high by the short off periods it cannot see.
    """
    z, z_binned = [], []
    for seed in range(24):
        rng = np.random.default_rng(100 + seed)
        k_on, k_off = rng.uniform(1.1, 1.6), rng.uniform(1.8, 2.6)
        counts, truth = _sub_bin_trace(rng, k_on, k_off, 20.0, 0.01, rng.uniform(2e4, 1.5e5), 400.0)
        bg = rng.poisson(4.0, 1000)
        res = analyze_blinking(counts, 0.01, background_counts=bg)
        if "levels_not_resolved" in res.flags or res.on_fraction_err == 0:
            continue
        z.append((res.on_fraction - truth) / res.on_fraction_err)
        z_binned.append((res.on_fraction_binned - truth) / res.on_fraction_err)
    assert len(z) >= 18
    assert abs(np.mean(z)) < 0.4 and 0.55 < np.std(z) < 1.35, (np.mean(z), np.std(z))
    assert np.mean(z_binned) > np.mean(z)  # the study's binned fraction misses the hidden off time
