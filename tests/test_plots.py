"""Figures from real analysis results on simulated data: saved sizes, labelled units, fit curves present."""

from __future__ import annotations

import dataclasses
import math
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy import stats

from qdcat.analysis.blinking import BlinkingAnalysis, analyze_blinking
from qdcat.analysis.fits import (
    fit_decay,
    fit_g2_cw,
    fit_lorentzian,
    fit_power_series,
    fit_saturation,
    g2_pulsed,
)
from qdcat.errors import InvalidValueError
from qdcat.plots import (
    DPI,
    FIGSIZE,
    plot_decay,
    plot_g2,
    plot_histogram,
    plot_on_off,
    plot_power_series,
    plot_pulsed_g2,
    plot_saturation,
    plot_scatter,
    plot_spectrum,
    plot_survival,
    plot_trace,
    plot_transient_absorption,
    save_figure,
)

UNIT = re.compile(r"[(\[][^)\]]+[)\]]")  # "(nm)", "[s]", "(counts / 0.5 ns)", ...
PIXELS = (round(FIGSIZE[1] * DPI), round(FIGSIZE[0] * DPI))  # rows, columns


# --------------------------------------------------------------------------- helpers


def _check(fig: Figure, tmp_path: Path, stem: str) -> Axes:
    """Save as PNG and SVG (into a folder that does not exist yet) and check files and labels."""
    assert isinstance(fig, Figure)
    for suffix in (".png", ".svg"):
        path = save_figure(fig, tmp_path / "new" / "folder" / f"{stem}{suffix}")
        assert path == tmp_path / "new" / "folder" / f"{stem}{suffix}"
        assert path.is_file() and path.stat().st_size > 0
    png = imread(tmp_path / "new" / "folder" / f"{stem}.png")
    assert png.shape[:2] == PIXELS
    assert "<svg" in (tmp_path / "new" / "folder" / f"{stem}.svg").read_text(encoding="utf-8")[:2000]
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    for label in (ax.get_xlabel(), ax.get_ylabel()):
        assert label and UNIT.search(label), f"axis label without a unit: {label!r}"
    assert ax.get_title()
    assert ax.get_legend() is not None
    return ax


def _lines(ax: Axes) -> list[str]:
    """Labels of the labelled lines (error-bar caps and helper lines are unlabelled)."""
    return [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def _legend_text(ax: Axes) -> str:
    legend = ax.get_legend()
    return "\n".join(t.get_text() for t in legend.get_texts()) if legend is not None else ""


def _box_text(ax: Axes) -> str:
    """Text of the fit-result boxes (AnchoredText artists)."""
    return "\n".join(a.txt.get_text() for a in ax.artists if hasattr(a, "txt"))


# --------------------------------------------------------------------------- simulated inputs


@pytest.fixture(scope="module")
def spectrum() -> tuple[np.ndarray, np.ndarray]:
    wl = np.linspace(600.0, 620.0, 200)
    h2 = 0.25 * 0.8**2
    expected = 2000.0 * h2 / ((wl - 610.3) ** 2 + h2) + 100.0
    return wl, np.random.default_rng(1).poisson(expected).astype(float)


@pytest.fixture(scope="module")
def decay() -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(0.0, 200.25, 0.5)
    t = 0.5 * (edges[:-1] + edges[1:])
    expected = np.where(t >= 5.0, 400.0 * np.exp(-(t - 5.0) / 20.0), 0.0) + 1.0
    return edges, np.random.default_rng(2).poisson(expected).astype(float)


@pytest.fixture(scope="module")
def cw_g2() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tau = np.arange(-100.0, 100.0, 1.0) + 0.5
    counts = np.random.default_rng(3).poisson(200.0 * (1.0 - 0.95 * np.exp(-np.abs(tau - 2.0) / 10.0)))
    return tau, counts / 200.0, counts.astype(float)


@pytest.fixture(scope="module")
def pulsed() -> tuple[np.ndarray, np.ndarray]:
    tau = np.arange(-549.75, 550.0, 0.5)
    shape = sum((0.2 if k == 0 else 1.0) * np.exp(-np.abs(tau - 3.0 - 100.0 * k) / 5.0) for k in range(-5, 6))
    return tau, np.random.default_rng(4).poisson(40.0 * shape).astype(float)


def _power_law_bins(rng: np.random.Generator, k: float, x_max: int, n: int) -> np.ndarray:
    x = np.arange(1, x_max + 1)
    cdf = np.cumsum(x**-k)
    cdf /= cdf[-1]
    return x[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), x_max - 1)]


@pytest.fixture(scope="module")
def trace() -> tuple[np.ndarray, np.ndarray]:
    """Two-level Poisson trace (10 ms bins) whose on/off dwell times follow power laws (k 1.5 / 1.8)."""
    rng = np.random.default_rng(5)
    on_runs = _power_law_bins(rng, 1.5, 500, 400)
    off_runs = _power_law_bins(rng, 1.8, 500, 400)
    runs = np.column_stack((on_runs, off_runs)).ravel()  # on, off, on, off, ...
    state = np.repeat(np.arange(runs.size) % 2 == 0, runs)[:20_000]
    counts = rng.poisson(np.where(state, 60.0, 3.0)).astype(float)
    return 0.01 * np.arange(counts.size), counts


@pytest.fixture(scope="module")
def blinking(trace: tuple[np.ndarray, np.ndarray]) -> BlinkingAnalysis:
    return analyze_blinking(trace[1], 0.01)


@pytest.fixture(scope="module")
def power_series() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    intensity = np.array([100.0, 200.0, 400.0, 800.0, 1600.0])
    err = np.full(5, 1.5)
    rate = 47.0 + 0.059 * intensity + np.random.default_rng(6).normal(0.0, 1.5, 5)
    return intensity, rate, err


@pytest.fixture(scope="module")
def saturation() -> tuple[np.ndarray, np.ndarray]:
    intensity = np.geomspace(10.0, 1e4, 12)
    return intensity, np.random.default_rng(7).poisson(5000.0 * intensity / (intensity + 800.0) + 50.0)


# --------------------------------------------------------------------------- single dot


def test_spectrum(spectrum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wl, counts = spectrum
    fit = fit_lorentzian(wl, counts)
    ax = _check(plot_spectrum(wl, counts, fit, title="Dot 7"), tmp_path, "spectrum")
    assert ax.get_title() == "Dot 7"
    assert _lines(ax) == ["data", "Lorentzian fit"]
    fit_line = ax.get_lines()[1]
    assert np.max(fit_line.get_ydata()) == pytest.approx(fit.amplitude_counts + fit.offset_counts, rel=1e-3)
    box = _box_text(ax)
    assert "λ0 = 610.3" in box and "FWHM" in box and "±" in box
    assert _lines(plot_spectrum(wl, counts, None).axes[0]) == ["data"]


def test_decay_fit_curve_matches_bin_integrated_model(decay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edges, counts = decay
    fit = fit_decay(edges, counts)
    ax = _check(plot_decay(edges, counts, fit), tmp_path, "decay")
    assert ax.get_yscale() == "log"
    assert len(_lines(ax)) == 2
    x, y = ax.get_lines()[1].get_data()
    assert x[0] >= fit.fit_start_ns and x[-1] <= fit.fit_stop_ns
    # counts/ns × 0.5 ns bins at the start of the fit range
    assert y[0] == pytest.approx((fit.amplitude_counts_per_ns + fit.background_counts_per_ns) * 0.5, rel=0.05)
    assert "τ = " in _box_text(ax) and " ns" in _box_text(ax)
    assert "0.5 ns" in ax.get_ylabel()
    # centres instead of edges give the same figure data
    centres = 0.5 * (edges[:-1] + edges[1:])
    assert len(_lines(plot_decay(centres, counts, None).axes[0])) == 1


def test_cw_g2(cw_g2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tau, g2, counts = cw_g2
    fit = fit_g2_cw(tau, g2, counts=counts)
    ax = _check(plot_g2(tau, g2, fit), tmp_path, "g2")
    assert _lines(ax) == ["data", "0.5 (single-emitter limit)", "fit"]
    x, y = ax.get_lines()[2].get_data()
    assert np.min(y) == pytest.approx(fit.g2_zero, abs=0.01)
    assert x[np.argmin(y)] == pytest.approx(fit.tau0_ns, abs=0.2)
    assert "g^{(2)}(0)" in _box_text(ax) and "ns" in _box_text(ax)
    assert _lines(plot_g2(tau, g2).axes[0]) == ["data", "0.5 (single-emitter limit)"]


def test_pulsed_g2_marks_every_peak_window(pulsed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tau, counts = pulsed
    result = g2_pulsed(tau, counts, period_ns=100.0, n_side_peaks=4, center_ns=3.0)
    ax = _check(plot_pulsed_g2(tau, counts, result), tmp_path, "pulsed")
    assert len(ax.patches) == 2 * 4 + 1
    assert "centre window (k = 0)" in _legend_text(ax)
    assert "g^{(2)}(0)" in _box_text(ax)
    assert len(plot_pulsed_g2(tau, counts).axes[0].patches) == 0


def test_trace_with_threshold(trace, blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t, counts = trace
    ax = _check(plot_trace(t, counts, blinking.threshold_counts), tmp_path, "trace")
    assert len(_lines(ax)) == 2
    assert ax.get_lines()[1].get_ydata()[0] == pytest.approx(blinking.threshold_counts)
    assert "10 ms" in ax.get_ylabel()
    assert len(_lines(plot_trace(t, counts, None).axes[0])) == 1


def test_on_off_distributions_with_both_fits(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert blinking.on_distribution is not None and blinking.off_distribution is not None
    ax = _check(plot_on_off(blinking), tmp_path, "on_off")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = _lines(ax)
    assert len(labels) == 6
    assert sum("log–log" in s for s in labels) == 2 and sum("median" in s for s in labels) == 2
    # the regression line has slope −k_loglog in log–log coordinates
    x, y = ax.get_lines()[1].get_data()
    slope = np.polyfit(np.log10(x), np.log10(y), 1)[0]
    assert slope == pytest.approx(-blinking.k_on_loglog, rel=1e-6)
    # the ML line has slope −k_ml
    x, y = ax.get_lines()[5].get_data()
    assert np.polyfit(np.log10(x), np.log10(y), 1)[0] == pytest.approx(-blinking.k_off_ml, rel=1e-6)


def test_on_off_skips_missing_curves(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    partial = dataclasses.replace(
        blinking, off_distribution=None, k_on_loglog=math.nan, on_ml=None, k_on_ml=math.nan
    )
    ax = plot_on_off(partial).axes[0]
    assert _lines(ax) == [_lines(ax)[0]] and _lines(ax)[0].startswith("on: data")
    nothing = dataclasses.replace(blinking, on_distribution=None, off_distribution=None)
    for fig in (plot_on_off(nothing), plot_survival(nothing)):
        assert _lines(fig.axes[0]) == []
        assert "too few" in fig.axes[0].texts[0].get_text()
        save_figure(fig, tmp_path / "empty.png")  # draws without a warning


def test_survival(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ax = _check(plot_survival(blinking), tmp_path, "survival")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(_lines(ax)) == 2
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata())
        assert np.all((y > 0) & (y <= 1)) and np.all(np.diff(y) <= 0)


def test_power_series(power_series, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    intensity, rate, err = power_series
    fit = fit_power_series(intensity, rate, err)
    ax = _check(plot_power_series(intensity, rate, err, fit), tmp_path, "power")
    assert _lines(ax) == ["weighted linear fit"]  # the error-bar data live in a container
    assert len(ax.collections) == 1  # the error bars
    x, y = ax.get_lines()[-1].get_data()
    assert x[0] == 0.0 and y[0] == pytest.approx(fit.decay_rate_per_us)
    box = _box_text(ax)
    assert "σ = (" in box and "10^{-" in box and "cm²" in box and "γ = " in box
    no_fit = plot_power_series(intensity, rate, err, None).axes[0]
    assert _lines(no_fit) == [] and "linear fit" not in _legend_text(no_fit)


def test_saturation(saturation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    intensity, pl = saturation
    fit = fit_saturation(intensity, pl, decay_rate_per_us=40.0)
    ax = _check(plot_saturation(intensity, pl, fit), tmp_path, "saturation")
    assert ax.get_xscale() == "log"  # three decades
    assert len(_lines(ax)) == 2  # fit curve and I_S marker
    assert "I_S" in _box_text(ax) and "σ = " in _box_text(ax)
    assert _lines(plot_saturation(intensity, pl, None).axes[0]) == []


# --------------------------------------------------------------------------- population


def test_histogram_overlays_groups_and_counts_dropped_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    a = np.r_[rng.normal(20.0, 2.0, 60), np.nan, np.nan]
    b = rng.normal(25.0, 3.0, 40)
    ax = _check(
        plot_histogram({"sample A": a, "sample B": b}, xlabel="Lifetime τ (ns)"), tmp_path, "histogram"
    )
    assert len(ax.patches) == 2  # one filled step outline per group
    assert len(_lines(ax)) == 2  # the normal curves
    assert "sample A (n = 60, 2 NaN dropped)" in _legend_text(ax)
    # the normal curve is scaled to the counts: its area equals the histogram's
    width = float(np.mean(np.diff(np.histogram_bin_edges(np.r_[a[:60], b], bins="auto"))))
    x, y = ax.get_lines()[1].get_data()
    assert np.sum(y[:-1] * np.diff(x)) == pytest.approx(40 * width, rel=0.05)
    bare = plot_histogram({"A": a}, xlabel="Lifetime τ (ns)", bins=10, normal_fit=False).axes[0]
    assert _lines(bare) == []


def test_scatter_groups_and_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    x = rng.uniform(1.0, 10.0, 50)
    y = 2.0 * x + 1.0 + rng.normal(0.0, 0.5, 50)
    x[3] = np.nan
    groups = np.where(np.arange(50) % 2 == 0, "S1", "S2")
    fig = plot_scatter(
        x,
        y,
        xlabel="Lifetime τ (ns)",
        ylabel="Linewidth (meV)",
        groups=groups,
        y_err=np.full(50, 0.5),
    )
    ax = _check(fig, tmp_path, "scatter")
    assert len([c for c in ax.collections if c.get_label() in ("S1 (n = 25)", "S2 (n = 24)")]) == 2
    (line,) = _lines(ax)
    ok = np.isfinite(x)
    reg = stats.linregress(x[ok], y[ok])
    assert line == f"least squares: slope = {reg.slope:.3f} ± {reg.stderr:.3f}, r = {reg.rvalue:.2f}"
    assert abs(reg.slope - 2.0) < 4 * reg.stderr
    assert "1 point with NaN dropped" in ax.get_title()
    plain = plot_scatter(x, y, xlabel="x (ns)", ylabel="y (ns)", fit_line=False).axes[0]
    assert _lines(plain) == [] and len(plain.collections) == 1


# --------------------------------------------------------------------------- errors and threads


def test_save_figure_refuses_other_formats(spectrum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fig = plot_spectrum(*spectrum)
    for name in ("plot.jpg", "plot.pdf", "plot"):
        with pytest.raises(InvalidValueError, match=r"\.png or \.svg"):
            save_figure(fig, tmp_path / name)
    assert not any(tmp_path.iterdir())
    assert save_figure(fig, str(tmp_path / "UPPER.PNG")).stat().st_size > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: plot_histogram({}, xlabel="τ (ns)"), "values_by_group is empty"),
        (lambda: plot_histogram({"A": []}, xlabel="τ (ns)"), "group 'A'"),
        (lambda: plot_histogram({"A": [np.nan, np.nan]}, xlabel="τ (ns)"), "group 'A' has no finite"),
        (lambda: plot_histogram({"A": [1.0, 2.0]}, xlabel=""), "xlabel is empty"),
        (lambda: plot_scatter([], [], xlabel="x (s)", ylabel="y (s)"), "x is empty"),
        (lambda: plot_scatter([np.nan], [1.0], xlabel="x (s)", ylabel="y (s)"), "no point"),
        (lambda: plot_scatter([1.0, 2.0], [1.0], xlabel="x (s)", ylabel="y (s)"), "equal lengths"),
        (lambda: plot_scatter([1.0], [1.0], xlabel="x (s)", ylabel="y (s)", groups=["a", "b"]), "groups"),
        (lambda: plot_scatter([1.0], [1.0], xlabel="x (s)", ylabel="y (s)", y_err=[-1.0]), ">= 0"),
        (lambda: plot_spectrum([], []), "wavelength_nm is empty"),
        (lambda: plot_decay(np.arange(3.0), np.ones(5)), "bin centres or"),
        (lambda: plot_trace(np.arange(3.0), np.ones((3, 2))), "1-D"),
    ],
)
def test_bad_input_names_what_is_missing(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValueError, match=match):
        call()


def test_figures_are_built_in_threads(spectrum, decay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs = [
        lambda: save_figure(plot_spectrum(*spectrum), tmp_path / "t1.png"),
        lambda: save_figure(plot_decay(*decay), tmp_path / "t2.png"),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda job: job(), jobs))
    assert all(imread(p).shape[:2] == PIXELS for p in paths)


def test_transient_absorption_with_and_without_fit(tmp_path: Path) -> None:
    from qdcat.analysis.transient import fit_ta_biexponential, ta_model
    from qdcat.simulate.transient import simulate_ta_kinetics

    k = simulate_ta_kinetics(seed=3)
    fit = fit_ta_biexponential(k.time_ps, k.delta_a)
    ax = _check(plot_transient_absorption(k.time_ps, k.delta_a, fit), tmp_path, "ta")
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 2
    x, y = ax.get_lines()[1].get_data()
    expected = ta_model(
        x, fit.fast_amplitude, fit.biexciton_rate_per_ns, fit.slow_amplitude, fit.slow_rate_per_ns, fit.offset
    )
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    bare = _check(plot_transient_absorption(k.time_ps, k.delta_a), tmp_path, "ta_bare")
    assert len(bare.get_lines()) == 1
