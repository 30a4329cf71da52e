"""Change points against simulated piecewise-constant Poisson streams with known switches,
the numba kernel against a plain numpy implementation of the same algorithm, streaming
against in-memory, and input checks."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qdcat._kernels import changepoint as _k
from qdcat.analysis.changepoints import (
    MAX_WINDOW_PHOTONS,
    ChangePointAccumulator,
    ChangePoints,
    change_points_from_chunks,
    critical_value,
    find_change_points,
    location_drop,
    simulate_location_drops,
    simulate_null_maxima,
)
from qdcat.errors import InvalidValueError

PS = 1e12


# -- simulated streams (numpy only) ------------------------------------------------------------


def piecewise_poisson(
    rates_cps: np.ndarray,
    switches_s: np.ndarray,
    stop_s: float,
    rng: np.random.Generator,
    start_s: float = 0.0,
) -> np.ndarray:
    """Arrival times (int64 ps) of a Poisson process whose rate is ``rates_cps[i]`` between
    consecutive switch times: a Poisson number of uniform times per piece is exact."""
    edges = np.concatenate([[start_s], switches_s, [stop_s]])
    parts = [
        np.sort(rng.uniform(a, b, rng.poisson(r * (b - a))))
        for r, a, b in zip(rates_cps, edges[:-1], edges[1:], strict=True)
    ]
    return np.round(np.concatenate(parts) * PS).astype(np.int64)


def telegraph(
    levels_cps: list[float], mean_dwell_s: float | list[float], duration_s: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dot jumping between levels after exponential dwells: (timestamps, level per visit, switch times)."""
    g = len(levels_cps)
    dwell = np.broadcast_to(np.asarray(mean_dwell_s, np.float64), (g,))
    state = int(rng.integers(g))
    states, switches, t = [state], [], 0.0
    while g > 1:
        t += rng.exponential(dwell[state])
        if t >= duration_s:
            break
        state = (state + 1 + int(rng.integers(g - 1))) % g
        states.append(state)
        switches.append(t)
    rates = np.asarray(levels_cps, np.float64)[states]
    return piecewise_poisson(rates, np.array(switches), duration_s, rng), np.array(states), np.array(switches)


# -- the same algorithm in plain numpy ---------------------------------------------------------


def _klogk(n: int) -> np.ndarray:
    k = np.arange(n + 1, dtype=np.float64)
    return k * np.log(np.where(k > 0, k, 1.0))


def numpy_profile(t: np.ndarray, a: int, b: int, kl: np.ndarray) -> np.ndarray:
    """2 ln L_k for k = 0..n (index k; -inf where undefined) of the segment t[a..b], vectorised."""
    n = b - a
    tot = float(t[b] - t[a])
    k = np.arange(n + 1)
    s = (t[a : b + 1] - t[a]).astype(np.float64)
    ok = (s > 0) & (s < tot)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = kl[k] + kl[n - k] - k * np.log(s) - (n - k) * np.log(tot - s)
        out = 2.0 * (v - kl[n] + n * math.log(tot))
    return np.where(ok, out, -np.inf)


def numpy_best(t: np.ndarray, a: int, b: int, m: int, kl: np.ndarray) -> tuple[int, float]:
    n = b - a
    if n < 2 * m or t[b] == t[a]:
        return -1, -math.inf
    prof = numpy_profile(t, a, b, kl)[m : n - m + 1]
    if not np.isfinite(prof).any():
        return -1, -math.inf
    k = int(np.argmax(prof))
    return k + m, float(prof[k])


def numpy_window(
    t: np.ndarray, m: int, alpha: float, confidence: float, recheck: bool
) -> tuple[list[int], list[int], list[int]]:
    """Binary segmentation, the neighbour check and the confidence regions of one window."""
    n = t.shape[0] - 1
    kl = _klogk(n + 1)

    def significant(a: int, b: int) -> tuple[int, bool]:
        k, v = numpy_best(t, a, b, m, kl)
        return k, k >= 0 and v > critical_value(b - a, alpha=alpha, min_photons=m)

    cps: list[int] = []
    todo = [(0, n)]
    while todo:
        a, b = todo.pop()
        k, ok = significant(a, b)
        if ok:
            cps.append(a + k)
            todo += [(a + k, b), (a, a + k)]
    cps.sort()
    if recheck:
        dirty = [True] * len(cps)
        i = 0
        while i < len(cps):
            if not dirty[i]:
                i += 1
                continue
            dirty[i] = False
            prev = 0 if i == 0 else cps[i - 1]
            nxt = n if i == len(cps) - 1 else cps[i + 1]
            k, ok = significant(prev, nxt)
            if not ok:
                del cps[i], dirty[i]
                for j in (i - 1, i):
                    if 0 <= j < len(cps):
                        dirty[j] = True
                i = max(i - 1, 0)
            elif prev + k != cps[i]:
                cps[i] = prev + k
                for j in (i - 1, i + 1):
                    if 0 <= j < len(cps):
                        dirty[j] = True
                i = max(i - 1, 0)
            else:
                i += 1
    lows, highs = [], []
    for i, c in enumerate(cps):
        prev = 0 if i == 0 else cps[i - 1]
        nxt = n if i == len(cps) - 1 else cps[i + 1]
        prof = numpy_profile(t, prev, nxt, kl)
        k0 = c - prev
        t_left, t_right = float(t[c] - t[prev]), float(t[nxt] - t[c])
        rho = (k0 / t_left) / ((nxt - prev - k0) / t_right)
        drop = location_drop(max(rho, 1 / rho), confidence=confidence)
        inside = prof >= prof[k0] - drop
        lo = k0
        while lo > 1 and inside[lo - 1]:
            lo -= 1
        hi = k0
        while hi < nxt - prev - 1 and inside[hi + 1]:
            hi += 1
        lows.append(prev + lo - 1)
        highs.append(prev + hi + 1)
    return cps, lows, highs


def numpy_change_points(
    t: np.ndarray,
    *,
    alpha: float = 0.05,
    confidence: float = 0.69,
    min_photons: int = 4,
    window_photons: int = MAX_WINDOW_PHOTONS,
    recheck: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(change-point photon indices, CI low and high photon indices): windows of at most
    ``window_photons``, keeping points further than window/8 from a window's end and
    starting the next window at the last kept point or window/4 before the end."""
    w = window_photons
    base = 0
    found: list[tuple[int, int, int]] = []
    while t.shape[0] - base >= w:
        cps, lows, highs = numpy_window(t[base : base + w], min_photons, alpha, confidence, recheck)
        kept = [(c, lo, hi) for c, lo, hi in zip(cps, lows, highs, strict=True) if c < w - 1 - w // 8]
        found += [(base + c, base + lo, base + hi) for c, lo, hi in kept]
        base += max(kept[-1][0] if kept else 0, w - w // 4)
    cps, lows, highs = numpy_window(t[base:], min_photons, alpha, confidence, recheck)
    found += [(base + c, base + lo, base + hi) for c, lo, hi in zip(cps, lows, highs, strict=True)]
    arr = np.array(found, np.int64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


# -- the kernel against the reference --------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_llr_scan_matches_the_numpy_profile(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = piecewise_poisson(np.array([2e4, 6e4]), np.array([0.01]), 0.03, rng)
    kl = _klogk(t.shape[0])
    for m in (1, 3, 16):
        k, v = _k.llr_max(t, 0, t.shape[0] - 1, m, kl)
        k_ref, v_ref = numpy_best(t, 0, t.shape[0] - 1, m, kl)
        assert k == k_ref
        assert v == pytest.approx(v_ref, rel=1e-12)


@pytest.mark.parametrize(
    ("seed", "window", "min_photons", "alpha"),
    [(0, MAX_WINDOW_PHOTONS, 1, 0.05), (1, 2048, 1, 0.05), (2, 1024, 4, 0.01), (3, 4096, 2, 0.31)],
)
def test_kernel_path_gives_the_numpy_reference_change_points(
    seed: int, window: int, min_photons: int, alpha: float
) -> None:
    rng = np.random.default_rng(seed)
    ts, _, _ = telegraph([3e3, 1.5e4, 4e4], 0.02, 0.6, rng)
    got = find_change_points(ts, alpha=alpha, min_photons=min_photons, window_photons=window)
    idx, lo, hi = numpy_change_points(ts, alpha=alpha, min_photons=min_photons, window_photons=window)
    assert got.n_change_points > 10
    np.testing.assert_array_equal(got.indices, idx)
    np.testing.assert_array_equal(got.times_ps, ts[idx])
    np.testing.assert_array_equal(got.ci_low_ps, ts[lo])
    np.testing.assert_array_equal(got.ci_high_ps, ts[hi])


def test_without_the_recheck_the_reference_agrees_too() -> None:
    ts, _, _ = telegraph([3e3, 4e4], 0.02, 0.5, np.random.default_rng(7))
    got = find_change_points(ts, recheck=False, window_photons=2048)
    idx, _, _ = numpy_change_points(ts, recheck=False, window_photons=2048)
    np.testing.assert_array_equal(got.indices, idx)


# -- statistics against ground truth -----------------------------------------------------------


def binomial_band(p: float, n: int, sigmas: float = 3.0) -> tuple[float, float]:
    half = sigmas * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


@pytest.mark.parametrize(
    ("alpha", "min_photons"), [(0.05, 4), (0.05, 1), (0.31, 1), (0.01, 2), (0.05, 8), (0.1, 5), (0.03, 1)]
)
def test_false_positives_on_constant_streams_at_the_stated_alpha(alpha: float, min_photons: int) -> None:
    """One test per stream (each shorter than a window), so P(any change point) = alpha.

    (0.1, 5) and (0.03, 1) are interpolated between tabulated values."""
    n_streams = 4000
    rng = np.random.default_rng(int(alpha * 1000) + min_photons)
    false = 0
    for _ in range(n_streams):
        n = int(np.exp(rng.uniform(np.log(40), np.log(4000))))
        t = np.cumsum(rng.exponential(1e7, n)).astype(np.int64) + 1_000_000
        false += find_change_points(t, alpha=alpha, min_photons=min_photons).n_change_points > 0
    lo, hi = binomial_band(alpha, n_streams)
    assert lo <= false / n_streams <= hi, f"{false} of {n_streams} constant streams split at alpha={alpha}"


@pytest.mark.parametrize("confidence", [0.69, 0.95])
def test_true_switches_lie_in_their_confidence_intervals_at_the_stated_rate(confidence: float) -> None:
    """200 traces, each bright–dim–bright or dim–bright–dim with contrasts 2–4 and ~600
    photons per segment; coverage counted over the 400 switches."""
    rng = np.random.default_rng(12 if confidence < 0.9 else 13)
    covered = matched = 0
    for _ in range(200):
        base = rng.uniform(5e3, 2e4)
        rho = rng.uniform(2.0, 4.0)
        rates = (
            np.array([base, base * rho, base])
            if rng.random() < 0.5
            else np.array([base * rho, base, base * rho])
        )
        durations = rng.uniform(400, 800, 3) / rates
        switches = np.cumsum(durations)[:2]
        t = piecewise_poisson(rates, switches, float(durations.sum()), rng)
        cp = find_change_points(t, confidence=confidence)
        for tau in switches * PS:
            if cp.n_change_points == 0:
                continue
            i = int(np.argmin(np.abs(cp.times_ps - tau)))
            mean_gap = PS / rates.min()
            if abs(cp.times_ps[i] - tau) > 30 * mean_gap:
                continue  # missed (none here with these contrasts; checked below)
            matched += 1
            covered += cp.ci_low_ps[i] <= tau <= cp.ci_high_ps[i]
    assert matched >= 395
    lo, hi = binomial_band(confidence, matched)
    assert lo <= covered / matched <= hi, f"coverage {covered}/{matched} at confidence {confidence}"


def test_a_dim_gap_of_one_interval_is_found_and_holds_no_photon() -> None:
    """A 5 ms off period inside a 100 kcps stream: one long interval, a segment of no photon
    (Watkins & Yang's untrimmed test; the default trimming would add a bright interval)."""
    rng = np.random.default_rng(3)
    t = piecewise_poisson(np.array([1e5, 0.0, 1e5]), np.array([0.02, 0.025]), 0.045, rng)
    cp = find_change_points(t, min_photons=1)
    gap = int(np.argmax(cp.segment_durations_s / np.maximum(cp.segment_photons, 0.5)))
    assert cp.segment_photons[gap] == 0
    assert cp.segment_starts_ps[gap] / PS == pytest.approx(0.02, abs=1e-4)
    assert cp.segment_durations_s[gap] == pytest.approx(0.005, abs=1e-4)
    assert cp.segment_rates_cps[gap] == 0.0
    assert cp.segment_rate_errors_cps[gap] == pytest.approx(1 / cp.segment_durations_s[gap])
    assert cp.segment_photons.sum() == t.shape[0] - 1


def test_segments_cover_the_stream_and_rates_follow_from_counts() -> None:
    t, _, switches = telegraph([2e3, 3e4], 0.05, 1.0, np.random.default_rng(5))
    cp = find_change_points(t)
    assert cp.segment_starts_ps[0] == t[0] and cp.segment_stops_ps[-1] == t[-1]
    np.testing.assert_array_equal(cp.segment_starts_ps[1:], cp.times_ps)
    np.testing.assert_array_equal(cp.segment_stops_ps[:-1], cp.times_ps)
    assert cp.segment_photons.sum() == cp.n_photons - 1 == t.shape[0] - 1
    np.testing.assert_allclose(cp.segment_rates_cps, cp.segment_photons / cp.segment_durations_s)
    assert np.all(cp.ci_low_ps <= cp.times_ps) and np.all(cp.times_ps <= cp.ci_high_ps)
    assert abs(cp.n_change_points - switches.shape[0]) <= 3


# -- streaming -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_stream() -> tuple[np.ndarray, np.ndarray]:
    """~60 000 photons, ~100 switches: dozens of 1024-photon windows."""
    t, _, switches = telegraph([2e3, 1e4, 4e4], 0.01, 3.0, np.random.default_rng(11))
    return t, switches


def _chunks(t: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    cuts = np.cumsum(sizes)
    return np.split(t, cuts[cuts < t.shape[0]])


@pytest.mark.parametrize("pattern", ["tiny", "odd", "large", "one"])
def test_streamed_chunks_give_the_same_change_points_as_the_whole_array(
    long_stream: tuple[np.ndarray, np.ndarray], pattern: str
) -> None:
    t, _ = long_stream
    rng = np.random.default_rng(0)
    patterns: dict[str, list[int]] = {
        "tiny": [int(x) for x in rng.integers(1, 8, size=(t.shape[0],))],
        "odd": [1023, 1, 1024, 1025, 77, 5000] * 20,
        "large": [20_000] * 5,
        "one": [t.shape[0]],
    }
    sizes = patterns[pattern]
    whole = find_change_points(t, window_photons=1024)
    streamed = change_points_from_chunks(_chunks(t, sizes), window_photons=1024)
    for f in dataclasses.fields(ChangePoints):
        np.testing.assert_array_equal(getattr(streamed, f.name), getattr(whole, f.name), err_msg=f.name)


def test_windows_find_the_switches_of_a_long_stream(long_stream: tuple[np.ndarray, np.ndarray]) -> None:
    t, switches = long_stream
    cp = find_change_points(t, window_photons=1024)
    assert cp.n_change_points > 50
    assert np.all(np.diff(cp.indices) >= 1)
    # Every switch with at least ~20 photons on both sides is found within 5 ms.
    found = np.array([np.min(np.abs(cp.times_ps - s * PS)) for s in switches]) / PS
    assert np.mean(found < 5e-3) > 0.8
    # The windowed result agrees with a single window over the whole stream on most points.
    single = find_change_points(t[:MAX_WINDOW_PHOTONS])
    common = np.intersect1d(single.indices, cp.indices[cp.indices < single.indices.max()]).shape[0]
    assert common >= 0.85 * single.n_change_points


def test_the_accumulator_result_leaves_its_state_alone(long_stream: tuple[np.ndarray, np.ndarray]) -> None:
    t, _ = long_stream
    acc = ChangePointAccumulator(window_photons=1024)
    acc.add(t[:10_000])
    early = acc.result()
    assert early.n_photons == 10_000
    acc.add(t[10_000:])
    np.testing.assert_array_equal(acc.result().indices, find_change_points(t, window_photons=1024).indices)


def test_memory_is_bounded_by_the_window() -> None:
    acc = ChangePointAccumulator(window_photons=2048)
    rng = np.random.default_rng(2)
    start = 0
    for _ in range(30):
        chunk = start + np.cumsum(rng.exponential(1e7, 3000)).astype(np.int64)
        start = int(chunk[-1])
        acc.add(chunk)
        assert acc._carry.shape[0] < 2048


# -- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "min_photons"), [(50, 1), (64, 4), (200, 16)])
def test_the_critical_value_table_matches_a_fresh_monte_carlo(n: int, min_photons: int) -> None:
    column = (1, 2, 4, 8, 16, 32, 64).index(min_photons)
    maxima = simulate_null_maxima(n, n_rep=20_000, seed=12345)[:, column]
    for alpha in (0.05, 0.31):
        rate = float(np.mean(maxima > critical_value(n, alpha=alpha, min_photons=min_photons)))
        assert binomial_band(alpha, 20_000, 4.0)[0] <= rate <= binomial_band(alpha, 20_000, 4.0)[1]


def test_location_drops_match_a_fresh_monte_carlo() -> None:
    drops = simulate_location_drops(2.5, n_rep=4000, seed=99)
    for confidence in (0.69, 0.95):
        rate = float(np.mean(drops <= location_drop(2.5, confidence=confidence)))
        lo, hi = binomial_band(confidence, 4000, 4.0)
        assert lo <= rate <= hi


def test_critical_values_grow_with_n_and_fall_with_alpha() -> None:
    values = [critical_value(n) for n in (10, 100, 1000, 10_000, 65_535)]
    assert values == sorted(values)
    assert (
        critical_value(1000, alpha=0.01) > critical_value(1000, alpha=0.05) > critical_value(1000, alpha=0.31)
    )
    assert critical_value(1000, min_photons=1) > critical_value(1000, min_photons=64)
    assert critical_value(5, min_photons=3) == -math.inf


# -- input checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamps", "message"),
    [
        (np.array([0, 5, 3, 9], np.int64), "decrease at index 2"),
        (np.array([-5, 3, 9], np.int64), ">= 0"),
        (np.array([0.0, 1.0, 2.0]), "int64"),
        (np.array([0, 1, 2], np.int32), "int64"),
        (np.zeros((2, 3), np.int64), "1-D"),
        (np.array([7], np.int64), "at least 2 photons"),
        (np.array([7, 7, 7], np.int64), "same timestamp"),
    ],
)
def test_bad_timestamps_are_refused(timestamps: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        find_change_points(timestamps)


def test_a_chunk_before_the_previous_one_is_refused() -> None:
    acc = ChangePointAccumulator()
    acc.add(np.array([10, 20, 30], np.int64))
    with pytest.raises(InvalidValueError, match="before the previous one ended"):
        acc.add(np.array([25, 40], np.int64))
    acc.add(np.array([30, 40], np.int64))  # refused chunks leave the state intact; ties are fine
    assert acc.result().n_photons == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.5}, "alpha"),
        ({"alpha": 0.001}, "alpha"),
        ({"alpha": "a"}, "alpha"),
        ({"confidence": 0.3}, "confidence"),
        ({"min_photons": 0}, "min_photons"),
        ({"min_photons": 65}, "min_photons"),
        ({"min_photons": True}, "min_photons"),
        ({"window_photons": 32}, "window_photons"),
        ({"window_photons": MAX_WINDOW_PHOTONS + 1}, "window_photons"),
        ({"min_photons": 8, "window_photons": 100}, "window_photons"),
        ({"recheck": 1}, "recheck"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        ChangePointAccumulator(**kwargs)  # type: ignore[arg-type]


def test_tied_timestamps_do_not_make_infinite_ratios() -> None:
    rng = np.random.default_rng(4)
    t = np.sort(rng.integers(0, 10**9, 2000)).astype(np.int64) // 100_000 * 100_000  # many ties
    cp = find_change_points(t)
    assert cp.n_change_points <= 2
    assert np.all(np.isfinite(cp.segment_rates_cps))
