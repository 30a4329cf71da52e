"""Per-level photon statistics: level assignment, level lifetimes, FLID lifetimes, A/B classification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from qdcat.analysis.flid import (
    LevelPhotonAccumulator,
    _weighted_slope,
    classify_blinking,
    flid_map,
    level_lifetimes,
    lifetime_from_mean_delay,
)
from qdcat.errors import InvalidValueError

# -- level assignment --------------------------------------------------------------------------


def _stream(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1e8, n)).astype(np.int64)  # ~10 kcps, ps
    d = rng.integers(0, 50_000, n)
    return t, d


def test_photons_go_to_the_level_of_their_segment_whole_or_chunked() -> None:
    t, d = _stream(1)
    edges = np.sort(np.random.default_rng(2).choice(t[1:-1], 12, replace=False))
    seg_level = np.random.default_rng(3).integers(0, 3, 13)
    kw = dict(
        n_levels=3, start_ps=int(t[0]), stop_ps=int(t[-1]) + 1, bin_ps=1000.0, n_bins=50, window_ps=10**10
    )
    whole = LevelPhotonAccumulator(edges, seg_level, **kw)  # type: ignore[arg-type]
    whole.add(t, d)
    chunked = LevelPhotonAccumulator(edges, seg_level, **kw)  # type: ignore[arg-type]
    for part_t, part_d in zip(np.array_split(t, 7), np.array_split(d, 7), strict=True):
        chunked.add(part_t, part_d)
    a, b = whole.result(), chunked.result()
    assert np.array_equal(a.decays, b.decays) and np.array_equal(a.window_photons, b.window_photons)
    # naive reference: a loop over the photons; a photon at a change point closes the earlier segment
    expected = np.zeros((3, 50), np.int64)
    for ti, di in zip(t, d, strict=True):
        seg = sum(1 for e in edges if ti > e)
        expected[seg_level[seg], di // 1000] += 1
    assert np.array_equal(a.decays, expected)
    assert a.photons.sum() == t.size
    assert a.window_photons.sum() == t.size


def test_segment_levels_must_match_the_change_points() -> None:
    with pytest.raises(InvalidValueError, match="one level per segment"):
        LevelPhotonAccumulator(
            [10, 20], [0, 1], n_levels=2, start_ps=0, stop_ps=30, bin_ps=1.0, n_bins=2, window_ps=5
        )


# -- lifetimes ---------------------------------------------------------------------------------


def _decay_hist(
    rng: np.random.Generator, n: int, tau_ns: float, bg: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(0.0, 100.0001, 0.2)
    t = 1.0 + rng.exponential(tau_ns, n)
    t = t[t < 100.0]
    t = np.concatenate([t, rng.uniform(0, 100.0, bg)])
    return edges, np.histogram(t, edges)[0]


def test_level_lifetimes_are_unbiased_with_honest_errors() -> None:
    z = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        e, h1 = _decay_hist(rng, 4000, 20.0, bg=200)
        _, h2 = _decay_hist(rng, 1500, 6.0, bg=200)
        fits = level_lifetimes(e, np.stack([h2, h1]), fit_start_ns=2.0, fit_stop_ns=100.0)
        for f, tau in zip(fits, (6.0, 20.0), strict=True):
            assert math.isfinite(f.lifetime_ns), f.flags
            z.append((f.lifetime_ns - tau) / f.lifetime_ns_err)
    zs = np.array(z)
    assert abs(zs.mean()) < 0.35
    assert 0.8 < zs.std(ddof=1) < 1.25


def test_a_level_without_photons_or_decay_gets_no_lifetime_and_says_why() -> None:
    rng = np.random.default_rng(0)
    e, h = _decay_hist(rng, 3000, 10.0)
    flat = np.histogram(rng.uniform(0, 100, 3000), e)[0]
    fits = level_lifetimes(e, np.stack([np.zeros_like(h), flat, h]), fit_start_ns=2.0, fit_stop_ns=100.0)
    assert math.isnan(fits[0].lifetime_ns) and fits[0].flags[0].startswith("no_lifetime:")
    assert math.isnan(fits[1].lifetime_ns) and "no_lifetime:no_decay" in fits[1].flags
    assert fits[2].lifetime_ns == pytest.approx(10.0, rel=0.1)


def test_lifetime_from_the_mean_delay_inverts_the_truncated_exponential() -> None:
    width = 50_000.0
    rng = np.random.default_rng(5)
    for tau in (500.0, 5_000.0, 20_000.0, 60_000.0):
        x = rng.exponential(tau, 400_000)
        x = x[x < width]
        est = float(lifetime_from_mean_delay(np.array([x.mean()]), width)[0])
        # independent reference: brentq on the closed form
        ref = optimize.brentq(lambda s, m=x.mean(): s - width / math.expm1(width / s) - m, 100.0, 1e7)
        assert est == pytest.approx(ref, rel=2e-3)
        assert est == pytest.approx(tau, rel=0.03)
    assert math.isnan(float(lifetime_from_mean_delay(np.array([0.6 * width]), width)[0]))


def test_flid_map_puts_windows_at_their_intensity_and_lifetime() -> None:
    # two halves: bright with τ = 20 ns, dim with τ = 5 ns; 10 ms windows
    rng = np.random.default_rng(9)
    dur = 10**12  # 1 s each
    t1 = np.sort(rng.integers(0, dur, 50_000))
    t2 = np.sort(rng.integers(dur, 2 * dur, 10_000))
    d1 = (1000 + rng.exponential(20_000, t1.size)).astype(np.int64) % 100_000
    d2 = (1000 + rng.exponential(5_000, t2.size)).astype(np.int64) % 100_000
    acc = LevelPhotonAccumulator(
        [dur],
        [1, 0],
        n_levels=2,
        start_ps=0,
        stop_ps=2 * dur,
        bin_ps=100.0,
        n_bins=1000,
        window_ps=10**10,
        tail_start_ps=1000.0,
        tail_stop_ps=100_000.0,
    )
    acc.add(np.concatenate([t1, t2]), np.concatenate([d1, d2]))
    fm = flid_map(acc.result())
    ic = 0.5 * (fm.intensity_edges_cps[1:] + fm.intensity_edges_cps[:-1])
    dc = 0.5 * (fm.delay_edges_ns[1:] + fm.delay_edges_ns[:-1])
    bright = fm.counts[ic > 30_000].sum(axis=0)
    dim = fm.counts[ic < 20_000].sum(axis=0)
    assert bright.sum() == dim.sum() == 100
    assert (bright * dc).sum() / bright.sum() == pytest.approx(20.0, rel=0.1)
    assert (dim * dc).sum() / dim.sum() == pytest.approx(5.0, rel=0.15)


# -- classification ----------------------------------------------------------------------------


def test_weighted_slope_matches_numpy_polyfit() -> None:
    rng = np.random.default_rng(2)
    x = np.array([0.1, 0.3, 0.55, 1.0])
    sd = np.array([0.4, 0.5, 0.3, 0.2])
    y = 2.0 + 15.0 * x + rng.normal(0, sd)
    slope, se = _weighted_slope(x, y, sd)
    p, cov = np.polyfit(x, y, 1, w=1 / sd, cov="unscaled")
    chi2 = float((((y - np.polyval(p, x)) / sd) ** 2).sum()) / (x.size - 2)
    assert slope == pytest.approx(p[0], rel=1e-10)
    assert se == pytest.approx(math.sqrt(cov[0, 0] * max(chi2, 1.0)), rel=1e-10)


@pytest.mark.parametrize(
    ("intensity", "tau", "err", "kind"),
    [
        ([10e3, 30e3, 100e3], [3.0, 7.0, 20.0], [0.3, 0.4, 0.3], "A"),
        ([30e3, 100e3], [6.0, 20.0], [0.5, 0.4], "A"),
        ([30e3, 100e3], [19.6, 20.0], [0.5, 0.4], "B"),
        ([10e3, 30e3, 100e3], [20.5, 19.8, 20.0], [0.6, 0.5, 0.3], "B"),
        ([30e3, 100e3], [10.0, 20.0], [8.0, 6.0], "unclear"),  # too noisy for either
        ([100e3], [20.0], [0.3], "none"),
        ([1e3, 100e3], [math.nan, 20.0], [math.nan, 0.3], "unclear"),  # the dim level has no decay
    ],
)
def test_blinking_type_on_clear_and_unclear_cases(
    intensity: list[float], tau: list[float], err: list[float], kind: str
) -> None:
    c = classify_blinking(intensity, tau, err)
    assert c.type == kind, c.reason
    if kind in ("A", "B"):
        assert c.dim_lifetime_ratio == pytest.approx(tau[0] / tau[-1])
        assert c.reason


def test_classification_refuses_mismatched_inputs() -> None:
    with pytest.raises(InvalidValueError, match="equally long"):
        classify_blinking([1.0, 2.0], [1.0], [1.0])
    with pytest.raises(InvalidValueError, match="dim_below"):
        classify_blinking([1.0, 2.0], [1.0, 2.0], [0.1, 0.1], dim_below=1.5)


def test_flid_takes_the_flat_background_out_of_each_window() -> None:
    """10 kcps of τ = 8 ns over 5 kcps of flat background in a 100 ns tail: corrected, the windows
    sit at 8 ns; uncorrected they read far longer."""
    rng = np.random.default_rng(4)
    dur, width = 2 * 10**12, 100_000.0
    ts = np.sort(rng.integers(0, dur, 20_000))
    tb = np.sort(rng.integers(0, dur, 10_000))
    d_sig = rng.exponential(8_000, ts.size)
    d_sig = d_sig[d_sig < width]
    ts = ts[: d_sig.size]
    t = np.concatenate([ts, tb])
    d = np.concatenate([d_sig, rng.uniform(0, width, tb.size)])
    order = np.argsort(t, kind="stable")
    kw = dict(n_levels=1, start_ps=0, stop_ps=dur, bin_ps=100.0, n_bins=1000, window_ps=10**11)
    acc = LevelPhotonAccumulator([], [0], **kw, tail_start_ps=0.0, tail_stop_ps=width)  # type: ignore[arg-type]
    acc.add(t[order], d[order])
    lp = acc.result()

    def centre(fm: object) -> float:
        dc = 0.5 * (fm.delay_edges_ns[1:] + fm.delay_edges_ns[:-1])  # type: ignore[attr-defined]
        h = fm.counts.sum(axis=0)  # type: ignore[attr-defined]
        return float((h * dc).sum() / h.sum())

    assert centre(flid_map(lp, background_tail_cps=tb.size / 2.0)) == pytest.approx(8.0, rel=0.1)
    raw = flid_map(lp)
    assert raw.counts.sum() == 0 or centre(raw) > 12.0
