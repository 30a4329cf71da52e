"""Figures from real analysis results on simulated data: saved sizes, labelled units, fit curves present."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy import stats

from qdcat import analyses
from qdcat.analyses import Acquisition, DrawInput, Target
from qdcat.analyses._base import flags_text
from qdcat.analyses._io import Tcspc
from qdcat.analyses.biexciton import TaData
from qdcat.analyses.blinking import Traces
from qdcat.analyses.g2_cw import G2Data
from qdcat.analyses.g2_pulsed import PulsedData
from qdcat.analyses.saturation import SaturationData
from qdcat.analysis.histograms import PairHistogram
from qdcat.analysis.lineshapes import lorentzian, power_law_pmf, ta_biexponential
from qdcat.errors import InvalidValueError
from qdcat.plots import (
    DPI,
    FIGSIZE,
    Durations,
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


def _save(fig: Figure, tmp_path: Path, stem: str) -> None:
    assert isinstance(fig, Figure)
    for suffix in (".png", ".svg"):
        path = save_figure(fig, tmp_path / "new" / "folder" / f"{stem}{suffix}")
        assert path == tmp_path / "new" / "folder" / f"{stem}{suffix}"
        assert path.is_file() and path.stat().st_size > 0
    png = imread(tmp_path / "new" / "folder" / f"{stem}.png")
    assert png.shape[:2] == PIXELS
    assert "<svg" in (tmp_path / "new" / "folder" / f"{stem}.svg").read_text(encoding="utf-8")[:2000]


def _check(fig: Figure, tmp_path: Path, stem: str) -> Axes:
    """Save as PNG and SVG (into a folder that does not exist yet) and check files and labels."""
    _save(fig, tmp_path, stem)
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
#
# Each figure is drawn the way `qdcat plot measurement` draws it: the analysis computes a result
# row from simulated data, and its ``draw`` renders the stored row (nothing is fitted again).


def _acq(**kw: Any) -> Acquisition:
    base: dict[str, Any] = dict(
        measurement_id=1,
        kind="g2_cw",
        specimen_id=1,
        specimen_purpose="single_dot",
        dot_id=1,
        setup_id=1,
        data_kind="timetags",
        has_nanotimes=False,
        resolution_ps=1.0,
        nanotime_resolution_ps=None,
        duration_s=10.0,
        channel_counts={"0": 10, "1": 10},
        detectors=(0, 1),
        hbt_a=(0,),
        hbt_b=(1,),
        sync=None,
        channel_source="setup roles",
        excitation_mode="cw",
        excitation_wavelength_nm=445.0,
        intensity_w_cm2=100.0,
        repetition_rate_mhz=None,
        series_name=None,
        series_index=None,
        data_sha256="x",
        store_path="raw/x",
    )
    return Acquisition(**(base | kw))


def _target(*inputs: Acquisition, series: str | None = None) -> Target:
    inputs = inputs or (_acq(),)
    return Target(
        "test", "measurement:1", 1, 1, 1, series, "test", inputs, {"decay_rate_solution_per_us": 27.7}
    )


def _draw(name: str, fetched: Any, *, raw: Any = None, target: Target | None = None, params: Any = None):  # type: ignore[no-untyped-def]
    """(figures, the stored row, the derived arrays) of one analysis on ``fetched`` data."""
    a = analyses.get(name)
    p = a.resolve_params(params)
    c = a.compute(fetched, target or _target(), p)
    row = {**c.row, "flags": flags_text(c.row.get("flags") or ())}
    figs = a.draw(DrawInput(row, p, c.arrays, lambda: raw, "InP · slide · QD7 · measurement 1"))
    return figs, row, c.arrays


@pytest.fixture(scope="module")
def spectrum() -> tuple[np.ndarray, np.ndarray]:
    wl = np.linspace(600.0, 620.0, 200)
    h2 = 0.25 * 0.8**2
    expected = 2000.0 * h2 / ((wl - 610.3) ** 2 + h2) + 100.0
    return wl, np.random.default_rng(1).poisson(expected).astype(float)


@pytest.fixture(scope="module")
def tcspc() -> Tcspc:
    """0.5 ns bins, τ = 20 ns from 5 ns on, flat background of 1 per bin, over a 200 ns period."""
    t = 0.25 + 0.5 * np.arange(400)
    expected = np.where(t >= 5.0, 400.0 * np.exp(-(t - 5.0) / 20.0), 0.0) + 1.0
    return Tcspc(np.random.default_rng(2).poisson(expected), 500.0, 200_000.0, "T3 nanotimes")


def _pair_hist(
    delays_ns: np.ndarray, counts: np.ndarray, bin_ns: float, g2_per_count: float
) -> PairHistogram:
    """A PairHistogram holding ``counts`` whose g2 is ``g2_per_count``·counts."""
    bin_ps = round(bin_ns * 1e3)
    edges = np.round((delays_ns - bin_ns / 2) * 1e3).astype(np.int64)
    edges = np.append(edges, edges[-1] + bin_ps)
    n_a = n_b = 10**6
    duration = round(g2_per_count * n_a * n_b * bin_ps)
    return PairHistogram(edges, counts.astype(np.int64), 0, 1, n_a, n_b, duration, int(-edges[0]), bin_ps)


@pytest.fixture(scope="module")
def cw_hist() -> PairHistogram:
    tau = np.arange(-150.0, 150.0, 1.0) + 0.5
    counts = np.random.default_rng(3).poisson(200.0 * (1.0 - 0.95 * np.exp(-np.abs(tau - 2.0) / 10.0)))
    return _pair_hist(tau, counts, 1.0, 1.0 / 200.0)


@pytest.fixture(scope="module")
def pulsed_hist() -> PairHistogram:
    tau = np.arange(-499.75, 500.0, 0.5)
    shape = sum((0.2 if k == 0 else 1.0) * np.exp(-np.abs(tau - 3.0 - 100.0 * k) / 5.0) for k in range(-6, 7))
    return _pair_hist(tau, np.random.default_rng(4).poisson(40.0 * shape + 0.5), 0.5, 1.0)


def _power_law_bins(rng: np.random.Generator, k: float, x_max: int, n: int) -> np.ndarray:
    x = np.arange(1, x_max + 1)
    cdf = np.cumsum(x**-k)
    cdf /= cdf[-1]
    return x[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), x_max - 1)]


@pytest.fixture(scope="module")
def trace() -> np.ndarray:
    """Two-level Poisson trace (10 ms bins) whose on/off dwell times follow power laws (k 1.5 / 1.8)."""
    rng = np.random.default_rng(5)
    on_runs = _power_law_bins(rng, 1.5, 500, 400)
    off_runs = _power_law_bins(rng, 1.8, 500, 400)
    runs = np.column_stack((on_runs, off_runs)).ravel()  # on, off, on, off, ...
    state = np.repeat(np.arange(runs.size) % 2 == 0, runs)[:20_000]
    return rng.poisson(np.where(state, 60.0, 3.0))


@pytest.fixture(scope="module")
def blinking(trace: np.ndarray) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return _draw("blinking", Traces(trace, None, 0.01))


# --------------------------------------------------------------------------- single dot


def test_every_analysis_draws_only_from_its_stored_row() -> None:
    """Each analysis declares a draw function; the figures module has none of its own."""
    for a in analyses.registry().values():
        assert callable(a.draw) and a.draw.__module__ == f"qdcat.analyses.{a.name}"


def test_spectrum(spectrum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wl, counts = spectrum
    figs, row, _ = _draw(
        "spectrum", {"wavelength_nm": wl, "counts": counts}, raw={"wavelength_nm": wl, "counts": counts}
    )
    ax = _check(figs["spectrum"], tmp_path, "spectrum")
    assert "QD7" in ax.get_title()
    assert _lines(ax) == ["data", "Lorentzian fit"]
    x, y = ax.get_lines()[1].get_data()
    np.testing.assert_allclose(
        y,
        lorentzian(x, row["amplitude_counts"], row["center_nm"], row["fwhm_nm"], row["offset_counts"]),
        rtol=1e-12,
    )
    assert np.max(y) == pytest.approx(row["amplitude_counts"] + row["offset_counts"], rel=1e-3)
    box = _box_text(ax)
    assert "λ0 = 610.3" in box and "FWHM" in box and "±" in box
    assert _lines(plot_spectrum(wl, counts, None).axes[0]) == ["data"]


def test_decay_fit_curve_is_the_bin_integrated_model(tcspc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, row, arrays = _draw("decay", tcspc, params={"bin_ps": 500})
    ax = _check(figs["decay"], tmp_path, "decay")
    assert ax.get_yscale() == "log"
    assert len(_lines(ax)) == 2  # data and fit (the fit range is a shaded span)
    x, y = ax.get_lines()[1].get_data()
    assert x[0] >= row["fit_start_ns"] and x[-1] <= row["fit_stop_ns"]
    # counts/ns × 0.5 ns bins at the start of the fit range
    assert y[0] == pytest.approx(
        (row["amplitude_counts_per_ns"] + row["background_counts_per_ns"]) * 0.5, rel=0.05
    )
    assert abs(row["lifetime_ns"] - 20.0) < 4 * row["lifetime_ns_err"]
    assert "τ = " in _box_text(ax) and " ns" in _box_text(ax)
    assert "0.5 ns" in ax.get_ylabel()
    centres = 0.5 * (arrays["time_ns_edges"][:-1] + arrays["time_ns_edges"][1:])
    assert len(_lines(plot_decay(centres, arrays["counts"], None).axes[0])) == 1


def test_cw_g2(cw_hist, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, row, _ = _draw("g2_cw", G2Data(cw_hist, None, None))
    ax = _check(figs["g2"], tmp_path, "g2")
    assert _lines(ax) == ["data", "0.5 (single-emitter limit)", "fit"]
    x, y = ax.get_lines()[2].get_data()
    assert np.min(y) == pytest.approx(row["g2_zero"], abs=0.01)
    assert x[np.argmin(y)] == pytest.approx(row["tau0_ns"], abs=0.2)
    assert "g^{(2)}(0)" in _box_text(ax) and "ns" in _box_text(ax)
    assert _lines(plot_g2(cw_hist.delays_ps / 1e3, cw_hist.g2).axes[0]) == [
        "data",
        "0.5 (single-emitter limit)",
    ]


def test_pulsed_g2_marks_every_peak_window_and_the_peak_model(pulsed_hist, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, row, _ = _draw("g2_pulsed", PulsedData(pulsed_hist, 100_000.0))
    ax = _check(figs["g2_pulsed"], tmp_path, "pulsed")
    assert len(ax.patches) == 2 * 4 + 1
    assert row["tau0_ns"] == pytest.approx(3.0, abs=0.5)
    assert "centre window (k = 0)" in _legend_text(ax) and "peak model" in _legend_text(ax)
    assert "g^{(2)}(0)" in _box_text(ax)
    assert abs(row["g2_zero_corrected"] - 0.2) < 4 * row["g2_zero_corrected_err"]
    assert len(plot_pulsed_g2(pulsed_hist.delays_ps / 1e3, pulsed_hist.counts).axes[0].patches) == 0


def test_trace_with_threshold_and_intensity_histogram(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, row, _ = blinking
    fig = figs["trace"]
    _save(fig, tmp_path, "trace")
    ax, hax = fig.axes
    assert len(_lines(ax)) == 2
    assert ax.get_lines()[1].get_ydata()[0] == pytest.approx(row["threshold_counts"])
    assert "10 ms" in ax.get_ylabel() and "on " in ax.get_title()
    assert len(hax.patches) > 10  # the histogram of counts per bin
    assert len(_lines(plot_trace(np.arange(5.0), np.ones(5), None).axes[0])) == 1


def test_on_off_distributions_with_both_laws(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, row, _ = blinking
    ax = _check(figs["on_off"], tmp_path, "on_off")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = _lines(ax)
    assert len(labels) == 6
    assert sum("log–log" in s for s in labels) == 2 and sum("ML" in s for s in labels) == 2
    # the regression line has slope −k_loglog in log–log coordinates
    x, y = ax.get_lines()[1].get_data()
    assert np.polyfit(np.log10(x), np.log10(y), 1)[0] == pytest.approx(-row["k_on_loglog"], rel=1e-6)
    # the ML law is the normalised discrete power law: slope −k_ml, and it sums to 1 over the bins
    x, y = ax.get_lines()[5].get_data()
    assert np.polyfit(np.log10(x), np.log10(y), 1)[0] == pytest.approx(-row["k_off_ml"], rel=1e-6)
    pmf = power_law_pmf(np.arange(1, row["ml_max_bins"] + 1), row["k_off_ml"], 1, row["ml_max_bins"])
    assert pmf.sum() == pytest.approx(1.0, rel=1e-9)


def test_on_off_skips_missing_curves(tmp_path: Path) -> None:
    on = Durations("on", [0.01, 0.02, 0.05], [10.0, 4.0, 1.0], [0.6, 0.3, 0.0], 5)
    ax = plot_on_off([on]).axes[0]
    assert _lines(ax) == ["on: data (5 periods)"]
    for fig in (plot_on_off([]), plot_survival([])):
        assert _lines(fig.axes[0]) == []
        assert "too few" in fig.axes[0].texts[0].get_text()
        save_figure(fig, tmp_path / "empty.png")  # draws without a warning


def test_survival(blinking, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    figs, *_ = blinking
    ax = _check(figs["survival"], tmp_path, "survival")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(_lines(ax)) == 2
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata())
        assert np.all((y > 0) & (y <= 1)) and np.all(np.diff(y) <= 0)


def test_power_series(cw_hist, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    points = [
        (_acq(measurement_id=k, intensity_w_cm2=i, series_name="PS"), cw_hist)
        for k, i in enumerate((100, 300, 900), 1)
    ]
    figs, row, arrays = _draw("power_series", points, target=_target(*(p for p, _ in points), series="PS"))
    ax = _check(figs["power_series"], tmp_path, "power")
    assert _lines(ax) == ["weighted linear fit"]  # the error-bar data live in a container
    assert len(ax.collections) == 1  # the error bars
    x, y = ax.get_lines()[-1].get_data()
    assert x[0] == 0.0 and y[0] == pytest.approx(row["decay_rate_per_us"])
    box = _box_text(ax)
    assert "σ = " in box and "cm²" in box and "γ = " in box
    no_fit = plot_power_series(
        arrays["intensity_w_cm2"], arrays["rate_per_us"], arrays["rate_per_us_err"], None
    ).axes[0]
    assert _lines(no_fit) == [] and "linear fit" not in _legend_text(no_fit)


def test_saturation(tmp_path: Path) -> None:
    intensity = np.geomspace(10.0, 1e4, 12)
    pl = np.random.default_rng(7).poisson(5000.0 * intensity / (intensity + 800.0) + 50.0)
    points = tuple(
        _acq(measurement_id=k, data_kind="spectrum", intensity_w_cm2=i, series_name="S")
        for k, i in enumerate(intensity)
    )
    figs, row, _ = _draw(
        "saturation",
        SaturationData(list(intensity), list(pl), 445.0, None),
        target=_target(*points, series="S"),
    )
    ax = _check(figs["saturation"], tmp_path, "saturation")
    assert ax.get_xscale() == "log"  # three decades
    assert len(_lines(ax)) == 2  # fit curve and I_S marker
    assert "I_S" in _box_text(ax) and "σ = " in _box_text(ax)  # γ from the sample in solution
    assert row["decay_source"] == "decay_rate_from_solution"
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
    # one least-squares line per group (a pooled line would hide a within-group correlation)
    ok = np.isfinite(x)
    expected = []
    for g in ("S1", "S2"):
        sel = ok & (groups == g)
        reg = stats.linregress(x[sel], y[sel])
        expected.append(f"{g}: slope = {reg.slope:.3f} ± {reg.stderr:.3f}, r = {reg.rvalue:.2f}")
        assert abs(reg.slope - 2.0) < 4 * reg.stderr
    assert _lines(ax) == expected
    assert "1 point with NaN dropped" in ax.get_title()
    plain = plot_scatter(x, y, xlabel="x (ns)", ylabel="y (ns)", fit_line=False).axes[0]
    assert _lines(plain) == [] and len(plain.collections) == 1


# --------------------------------------------------------------------------- errors and threads


def test_save_figure_refuses_other_formats(spectrum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fig = plot_spectrum(*spectrum)
    for name in ("plot.jpg", "plot.eps", "plot"):
        with pytest.raises(InvalidValueError, match=r"\.png, \.svg or \.pdf"):
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


def test_figures_are_built_in_threads(spectrum, tcspc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edges = np.arange(tcspc.counts.size + 1) * 0.5
    jobs = [
        lambda: save_figure(plot_spectrum(*spectrum), tmp_path / "t1.png"),
        lambda: save_figure(plot_decay(edges, tcspc.counts), tmp_path / "t2.png"),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda job: job(), jobs))
    assert all(imread(p).shape[:2] == PIXELS for p in paths)


def test_transient_absorption_with_and_without_fit(tmp_path: Path) -> None:
    from qdcat.simulate.transient import simulate_ta_kinetics

    k = simulate_ta_kinetics(seed=3)
    raw = {"time_ps": k.time_ps, "delta_a": k.delta_a}
    figs, row, _ = _draw("biexciton", TaData(k.time_ps, k.delta_a, 27.7), raw=raw)
    ax = _check(figs["transient_absorption"], tmp_path, "ta")
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 2
    x, y = ax.get_lines()[1].get_data()
    expected = ta_biexponential(
        x,
        row["fast_amplitude"],
        row["biexciton_rate_per_ns"],
        row["slow_amplitude"],
        row["slow_rate_per_ns"],
        row["offset"],
    )
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    bare = _check(plot_transient_absorption(k.time_ps, k.delta_a), tmp_path, "ta_bare")
    assert len(bare.get_lines()) == 1
