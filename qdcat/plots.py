"""Figures of single-dot and population results, drawn with matplotlib's object-oriented API.

Every ``plot_*`` function takes plain arrays and/or the frozen result
dataclasses of :mod:`qdcat.analysis` and returns a new
:class:`matplotlib.figure.Figure` (about 6 × 4 in, constrained layout) with
labelled axes (quantity and unit), a title and a legend. Nothing here touches
``pyplot``: figures are not registered with a GUI backend, so the functions
work headless and from several threads at once. :func:`save_figure` writes a
figure as PNG or SVG at 150 dpi.

Raw histogram results convert with a change of units, e.g.
``plot_decay(tcspc.edges_ps / 1e3, tcspc.total, fit)``,
``plot_g2(pairs.delays_ps / 1e3, pairs.g2, fit)`` or
``plot_trace(trace.times_ps * 1e-12, trace.total, blinking.threshold_counts)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnchoredText
from scipy import stats

from qdcat.analysis.blinking import BlinkingAnalysis, DurationDistribution, PowerLawMl
from qdcat.analysis.fits import (
    CwG2Fit,
    DecayFit,
    LorentzianFit,
    PowerSeriesFit,
    PulsedG2,
    SaturationFit,
)
from qdcat.analysis.transient import TaFit, ta_model
from qdcat.errors import InvalidValueError

__all__ = [
    "DPI",
    "FIGSIZE",
    "plot_decay",
    "plot_g2",
    "plot_histogram",
    "plot_on_off",
    "plot_power_series",
    "plot_pulsed_g2",
    "plot_saturation",
    "plot_scatter",
    "plot_spectrum",
    "plot_survival",
    "plot_trace",
    "save_figure",
]

FIGSIZE = (6.0, 4.0)  # inches
DPI = 150  # a saved PNG is FIGSIZE × DPI = 900 × 600 pixels
_FORMATS = {".png": "png", ".svg": "svg"}

_DATA = "tab:blue"
_FIT = "tab:red"
_ON = "tab:blue"
_OFF = "tab:orange"
_MARK = "0.45"

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


def _array(name: str, values: Any) -> FloatArray:
    """A non-empty 1-D float array (NaN allowed: single-dot plots simply leave gaps)."""
    if values is None:
        raise InvalidValueError(f"{name} is missing; pass an array of numbers")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a 1-D array of numbers") from None
    if x.ndim != 1:
        raise InvalidValueError(f"{name} must be 1-D, got shape {x.shape}; plot one curve at a time")
    if x.size == 0:
        raise InvalidValueError(f"{name} is empty; there is nothing to plot")
    return x


def _same_length(**arrays: FloatArray) -> None:
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise InvalidValueError(f"arrays must have equal lengths, got {sizes}; pass one value per point")


def _figure(title: str | None, default: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(default if title is None else title)
    return fig, ax


def _decimals(err: float) -> int:
    """Decimals that show two significant digits of ``err``."""
    return min(max(0, 1 - math.floor(math.log10(err))), 12)


def _pm(value: float | None, err: float | None = None, unit: str = "") -> str:
    """``value ± err unit`` rounded to two significant digits of the error (scientific when tiny/huge)."""
    u = f" {unit}" if unit else ""
    if value is None or not math.isfinite(value):
        return "n/a"
    has_err = err is not None and math.isfinite(err) and err > 0
    scale = max(abs(value), err if has_err and err is not None else 0.0)
    exponent = math.floor(math.log10(scale)) if scale > 0 else 0
    if exponent < -3 or exponent >= 5:
        m = value / 10.0**exponent
        times = rf"$\times 10^{{{exponent}}}$"
        if not has_err or err is None:
            return f"{m:.3f}{times}{u}"
        me = err / 10.0**exponent
        d = _decimals(me)
        return f"({m:.{d}f} ± {me:.{d}f}){times}{u}"
    if not has_err or err is None:
        return f"{value:.4g}{u}"
    d = _decimals(err)
    return f"{value:.{d}f} ± {err:.{d}f}{u}"


def _stats_box(ax: Axes, lines: Sequence[str], loc: str, flags: Sequence[str] = ()) -> None:
    """Fit results in a framed box at ``loc`` (a legend-style location name)."""
    text = list(lines)
    if flags:
        text.append("flags: " + ", ".join(flags))
    box = AnchoredText("\n".join(text), loc=loc, prop={"size": 8.5}, frameon=True)
    box.patch.set_boxstyle("round,pad=0.3")
    box.patch.set_facecolor("white")
    box.patch.set_alpha(0.85)
    box.patch.set_edgecolor("0.7")
    ax.add_artist(box)


def _legend(ax: Axes, loc: str, **kwargs: Any) -> None:
    """A legend if anything is labelled (matplotlib warns on an empty one)."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(**{"loc": loc, "fontsize": 8.5, "framealpha": 0.85, **kwargs})


def _headroom(ax: Axes, top: float, *, factor: float) -> None:
    """Raise the upper y-limit so the legend and the fit box sit above the data."""
    if not math.isfinite(top) or top <= 0:
        return
    lo, _ = ax.get_ylim()
    ax.set_ylim(lo, lo + (top - lo) * factor)


def _max(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else math.nan


def _bin_edges(name: str, t: FloatArray, n: int) -> FloatArray:
    """Edges from ``n + 1`` edges or ``n`` centres (the convention of :func:`fit_decay`)."""
    if t.size == n + 1:
        return t
    if t.size != n:
        raise InvalidValueError(f"{name} must hold {n} bin centres or {n + 1} bin edges, got {t.size} values")
    if n == 1:
        return np.array([t[0] - 0.5, t[0] + 0.5])
    mid = 0.5 * (t[1:] + t[:-1])
    return np.concatenate(([t[0] - (mid[0] - t[0])], mid, [t[-1] + (t[-1] - mid[-1])]))


# --------------------------------------------------------------------------- saving


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (chosen by the suffix) at 150 dpi; create missing folders.

    Returns the path written. Any other suffix raises :class:`InvalidValueError`.
    """
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InvalidValueError(
            f"cannot save a figure as {p.name!r}: the suffix must be .png or .svg, got {p.suffix or 'none'!r}"
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    # No date in the SVG, so the same figure gives the same file.
    metadata = {"Date": None} if fmt == "svg" else None
    fig.savefig(p, dpi=DPI, format=fmt, metadata=metadata)
    return p


# --------------------------------------------------------------------------- single dot


def plot_spectrum(
    wavelength_nm: npt.ArrayLike,
    counts: npt.ArrayLike,
    fit: LorentzianFit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """CCD spectrum (points) with the fitted Lorentzian over its window; λ0 and FWHM annotated."""
    x = _array("wavelength_nm", wavelength_nm)
    y = _array("counts", counts)
    _same_length(wavelength_nm=x, counts=y)
    fig, ax = _figure(title, "PL spectrum")
    ax.plot(x, y, "o", ms=3, color=_DATA, label="data")
    if fit is not None:
        lo, hi = fit.window_nm
        grid = np.linspace(lo, hi, 800)
        h2 = 0.25 * fit.fwhm_nm**2
        model = fit.amplitude_counts * h2 / ((grid - fit.center_nm) ** 2 + h2) + fit.offset_counts
        ax.plot(grid, model, "-", lw=1.6, color=_FIT, label="Lorentzian fit")
        _stats_box(
            ax,
            [
                f"λ0 = {_pm(fit.center_nm, fit.center_nm_err, 'nm')}",
                f"FWHM = {_pm(fit.fwhm_nm, fit.fwhm_nm_err, 'nm')}",
                f"E = {_pm(fit.energy_ev, fit.energy_ev_err, 'eV')}",
                rf"$\chi^2_\nu$ = {fit.reduced_chi2:.2f}",
            ],
            "upper right",
            fit.flags,
        )
    ax.set_xlabel("Wavelength λ (nm)")
    ax.set_ylabel("Intensity (counts per pixel)")
    _headroom(ax, _max(y), factor=1.3)
    _legend(ax, "upper left")
    return fig


def plot_decay(
    time_ns: npt.ArrayLike,
    counts: npt.ArrayLike,
    fit: DecayFit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """TCSPC histogram on a log axis with the fitted tail A·exp(−γ(t − t_start)) + B over the fit range.

    ``time_ns``: bin edges (len = counts + 1) or centres (len = counts), as for
    :func:`qdcat.analysis.fits.fit_decay`. The fit (in counts/ns) is drawn as the
    expected counts of each bin of the range, i.e. integrated over the bin as
    in the fit.
    """
    n = _array("counts", counts)
    edges = _bin_edges("time_ns", _array("time_ns", time_ns), n.size)
    centres = 0.5 * (edges[:-1] + edges[1:])
    widths = np.diff(edges)
    fig, ax = _figure(title, "Fluorescence decay")
    ax.plot(centres, n, drawstyle="steps-mid", lw=1.0, color=_DATA, label="data")
    if fit is not None:
        sel = (edges[:-1] >= fit.fit_start_ns - 1e-9) & (edges[1:] <= fit.fit_stop_ns + 1e-9)
        g = fit.decay_rate_per_us * 1e-3  # µs⁻¹ → ns⁻¹
        u = edges[:-1][sel] - fit.fit_start_ns
        v = edges[1:][sel] - fit.fit_start_ns
        if sel.any() and g > 0:
            expected = fit.amplitude_counts_per_ns * (
                np.exp(-g * u) - np.exp(-g * v)
            ) / g + fit.background_counts_per_ns * (v - u)
            ax.plot(centres[sel], expected, "-", lw=1.6, color=_FIT, label=r"fit $A\,e^{-(t-t_0)/\tau} + B$")
        ax.axvspan(fit.fit_start_ns, fit.fit_stop_ns, color="0.5", alpha=0.1, lw=0, label="fit range")
        _stats_box(
            ax,
            [
                f"τ = {_pm(fit.lifetime_ns, fit.lifetime_ns_err, 'ns')}",
                f"γ = {_pm(fit.decay_rate_per_us, fit.decay_rate_per_us_err, 'µs$^{-1}$')}",
                f"B = {_pm(fit.background_counts_per_ns, fit.background_counts_per_ns_err, 'counts/ns')}",
                f"deviance/dof = {fit.deviance_per_dof:.2f}",
            ],
            "center right",
            fit.flags,
        )
    ax.set_yscale("log", nonpositive="mask")
    positive = n[np.isfinite(n) & (n > 0)]
    if positive.size:
        ax.set_ylim(0.5 * min(1.0, float(positive.min())), float(positive.max()) * 4.0)
    width = float(np.median(widths))
    ax.set_xlabel("Delay after the laser pulse t (ns)")
    ax.set_ylabel(f"Photons per bin (counts / {width:.3g} ns)")
    _legend(ax, "upper right")
    return fig


def plot_g2(
    tau_ns: npt.ArrayLike,
    g2: npt.ArrayLike,
    fit: CwG2Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """cw g2(τ) with the fitted dip b − (b − g2(0))·exp(−(γ + w_p)|τ − τ0|); g2(0) and (γ + w_p)⁻¹ annotated.

    The curve is the underlying (not bin-averaged) model over the fit window.
    """
    tau = _array("tau_ns", tau_ns)
    g = _array("g2", g2)
    _same_length(tau_ns=tau, g2=g)
    fig, ax = _figure(title, "Second-order correlation (cw)")
    ax.plot(tau, g, "o", ms=2.5, color=_DATA, label="data")
    ax.axhline(0.5, ls=":", lw=1.0, color=_MARK, label="0.5 (single-emitter limit)")
    if fit is not None:
        lo, hi = fit.window_ns
        grid = np.linspace(lo, hi, 1500)
        rate = fit.antibunching_rate_per_us * 1e-3  # µs⁻¹ → ns⁻¹
        b = fit.baseline
        model = b - (b - fit.g2_zero) * np.exp(-rate * np.abs(grid - fit.tau0_ns))
        ax.plot(grid, model, "-", lw=1.6, color=_FIT, label="fit")
        lines = [
            f"$g^{{(2)}}(0)$ = {_pm(fit.g2_zero, fit.g2_zero_err)}",
            f"$(\\gamma + w_p)^{{-1}}$ = {_pm(fit.antibunching_time_ns, fit.antibunching_time_ns_err, 'ns')}",
            f"τ0 = {_pm(fit.tau0_ns, fit.tau0_ns_err, 'ns')}",
        ]
        if fit.g2_zero_corrected is not None:
            lines.append(
                f"background-corrected $g^{{(2)}}(0)$ = "
                f"{_pm(fit.g2_zero_corrected, fit.g2_zero_corrected_err)}"
            )
        _stats_box(ax, lines, "lower right", fit.flags)
    top = _max(g)
    ax.set_ylim(0.0, max(1.25, (top if math.isfinite(top) else 1.0) * 1.1))
    ax.set_xlabel("Delay τ (ns)")
    ax.set_ylabel(r"$g^{(2)}(\tau)$ (normalised, 1 = uncorrelated)")
    _legend(ax, "lower left")
    return fig


def plot_pulsed_g2(
    tau_ns: npt.ArrayLike,
    counts: npt.ArrayLike,
    result: PulsedG2 | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Coincidences vs delay (pulsed), the centre and side-peak windows of ``result`` shaded."""
    tau = _array("tau_ns", tau_ns)
    c = _array("counts", counts)
    _same_length(tau_ns=tau, counts=c)
    fig, ax = _figure(title, "Second-order correlation (pulsed)")
    ax.plot(tau, c, drawstyle="steps-mid", lw=0.9, color=_DATA, label="coincidences")
    if result is not None:
        hw = result.half_window_ns
        side_face, side_edge = to_rgba(_MARK, 0.15), to_rgba(_MARK, 0.6)
        centre_face, centre_edge = to_rgba(_FIT, 0.2), to_rgba(_FIT, 0.8)
        for k in range(-result.n_side_peaks, result.n_side_peaks + 1):
            mid = result.center_ns + k * result.period_ns
            is_centre = k == 0
            first_side = k == -result.n_side_peaks
            ax.axvspan(
                mid - hw,
                mid + hw,
                facecolor=centre_face if is_centre else side_face,
                edgecolor=centre_edge if is_centre else side_edge,
                lw=0.8,
                label="centre window (k = 0)"
                if is_centre
                else (f"side windows (k = ±1…±{result.n_side_peaks})" if first_side else None),
            )
        _stats_box(
            ax,
            [
                f"$g^{{(2)}}(0)$ = {_pm(result.g2_zero, result.g2_zero_err)}",
                f"centre area = {result.center_area_counts} counts",
                f"mean side area = {result.side_area_mean_counts:.1f} counts",
                f"period = {result.period_ns:g} ns",
            ],
            "upper right",
            result.flags,
        )
    ax.set_ylim(bottom=0.0)
    _headroom(ax, _max(c), factor=1.5)
    ax.set_xlabel("Delay τ (ns)")
    ax.set_ylabel("Coincidences per bin (counts)")
    _legend(ax, "upper left")
    return fig


def plot_trace(
    time_s: npt.ArrayLike,
    counts: npt.ArrayLike,
    threshold_counts: float | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Intensity trace (counts per bin vs bin start time) with the on/off threshold as a dashed line."""
    t = _array("time_s", time_s)
    c = _array("counts", counts)
    _same_length(time_s=t, counts=c)
    fig, ax = _figure(title, "Intensity trace")
    ax.plot(t, c, drawstyle="steps-post", lw=0.6, color=_DATA, label="trace")
    if threshold_counts is not None and math.isfinite(threshold_counts):
        ax.axhline(
            threshold_counts,
            ls="--",
            lw=1.2,
            color=_FIT,
            label=f"threshold θ = {threshold_counts:.3g} counts",
        )
    ax.set_ylim(bottom=0.0)
    _headroom(ax, max(_max(c), threshold_counts or 0.0), factor=1.25)
    ax.set_xlabel("Time (s)")
    if t.size >= 2:
        width_ms = float(np.median(np.diff(t))) * 1e3
        ax.set_ylabel(f"Intensity (counts / {width_ms:.3g} ms bin)")
    else:
        ax.set_ylabel("Intensity (counts per bin)")
    _legend(ax, "upper right")
    return fig


def _power_law_curves(
    ax: Axes,
    dist: DurationDistribution,
    durations_s: FloatArray,
    name: str,
    color: str,
    k_loglog: float,
    k_loglog_err: float,
    ml: PowerLawMl | None,
) -> None:
    t, p = dist.duration_s, dist.probability_per_s
    ok = (t > 0) & (p > 0)
    ax.plot(
        t[ok], p[ok], "o", ms=3.5, color=color, alpha=0.8, label=f"{name}: data ({durations_s.size} periods)"
    )
    if not ok.any():
        return
    lt, lp = np.log10(t[ok]), np.log10(p[ok])
    grid = np.geomspace(float(t[ok].min()), float(t[ok].max()), 200)
    if math.isfinite(k_loglog):
        # least-squares intercept for the fixed slope −k on the log–log data
        intercept = float(np.mean(lp + k_loglog * lt))
        ax.plot(
            grid,
            10.0 ** (intercept - k_loglog * np.log10(grid)),
            "-",
            lw=1.4,
            color=color,
            label=f"{name}: log–log fit, k = {_pm(k_loglog, k_loglog_err)}",
        )
    if ml is not None and math.isfinite(ml.k):
        t_med = float(np.median(durations_s)) if durations_s.size else float(np.median(t[ok]))
        # P of the data at the median duration, interpolated on the log–log points
        lp_med = float(np.interp(math.log10(t_med), lt, lp))
        ax.plot(
            grid,
            10.0 ** (lp_med - ml.k * (np.log10(grid) - math.log10(t_med))),
            "--",
            lw=1.4,
            color=color,
            label=f"{name}: ML, k = {_pm(ml.k, ml.k_err)} (scaled to P at median t)",
        )


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def plot_on_off(blinking: BlinkingAnalysis, *, title: str | None = None) -> Figure:
    """Log–log P_on(t) and P_off(t) with the log–log regression line and the ML power law of each state.

    The regression line has slope −k_loglog and the least-squares intercept of
    the log data; the ML law (slope −k_ml) has no fitted scale and is scaled to
    the data's P at the median duration. States without a distribution or
    with a NaN exponent are left out.
    """
    fig, ax = _figure(title, "Blinking: on/off duration distributions")
    drawn = False
    for name, color, dist, durations, k_ll, k_ll_err, ml in (
        (
            "on",
            _ON,
            blinking.on_distribution,
            blinking.on_durations_s,
            blinking.k_on_loglog,
            blinking.k_on_loglog_err,
            blinking.on_ml,
        ),
        (
            "off",
            _OFF,
            blinking.off_distribution,
            blinking.off_durations_s,
            blinking.k_off_loglog,
            blinking.k_off_loglog_err,
            blinking.off_ml,
        ),
    ):
        if dist is None:
            continue
        _power_law_curves(ax, dist, np.asarray(durations, dtype=np.float64), name, color, k_ll, k_ll_err, ml)
        drawn = True
    if not drawn:
        _no_data(ax, "too few on/off periods for P(t)")
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * (hi / lo) ** 0.6)  # room for the legend above the falling data
    ax.set_xlabel("Duration t (s)")
    ax.set_ylabel(r"Probability density P(t) (s$^{-1}$)")
    _legend(ax, "upper right", fontsize=8)
    return fig


def plot_survival(blinking: BlinkingAnalysis, *, title: str | None = None) -> Figure:
    """Survival S(t) = P(T > t) of the on and off periods, log–log (S = 0 at the longest one is not drawn)."""
    fig, ax = _figure(title, "Survival of on and off periods")
    drawn = False
    for name, color, dist in (
        ("on", _ON, blinking.on_distribution),
        ("off", _OFF, blinking.off_distribution),
    ):
        if dist is None:
            continue
        ok = (dist.duration_s > 0) & (dist.survival > 0)
        n_periods = int(dist.number.sum())
        ax.plot(
            dist.duration_s[ok],
            dist.survival[ok],
            "o-",
            ms=3,
            lw=1.0,
            drawstyle="steps-post",
            color=color,
            label=f"{name} periods (N = {n_periods})",
        )
        drawn = True
    if not drawn:
        _no_data(ax, "too few on/off periods for S(t)")
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("Duration t (s)")
    ax.set_ylabel("Survival S(t) = P(T > t) (fraction)")
    _legend(ax, "lower left")
    return fig


def plot_power_series(
    intensity_w_cm2: npt.ArrayLike,
    rate_per_us: npt.ArrayLike,
    rate_per_us_err: npt.ArrayLike | None = None,
    fit: PowerSeriesFit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Antibunching rates γ + w_p vs intensity with error bars and the fitted line; σ and γ annotated."""
    x = _array("intensity_w_cm2", intensity_w_cm2)
    y = _array("rate_per_us", rate_per_us)
    _same_length(intensity_w_cm2=x, rate_per_us=y)
    err = None
    if rate_per_us_err is not None:
        err = _array("rate_per_us_err", rate_per_us_err)
        _same_length(intensity_w_cm2=x, rate_per_us_err=err)
        if np.any(err < 0):
            raise InvalidValueError("rate_per_us_err must be >= 0 (1σ uncertainties)")
        err = np.where(np.isfinite(err), err, 0.0)
    fig, ax = _figure(title, "Power series: antibunching rate vs intensity")
    ax.errorbar(x, y, yerr=err, fmt="o", ms=4, capsize=2.5, color=_DATA, label=r"$\gamma + w_p$ from g2 fits")
    if fit is not None:
        top = _max(x)
        grid = np.linspace(0.0, (top if math.isfinite(top) else 1.0) * 1.05, 200)
        slope = fit.slope_cm2_per_j * 1e-6  # cm²/J → µs⁻¹ per W/cm²
        ax.plot(
            grid, fit.decay_rate_per_us + slope * grid, "-", lw=1.6, color=_FIT, label="weighted linear fit"
        )
        _stats_box(
            ax,
            [
                f"σ = {_pm(fit.sigma_cm2, fit.sigma_cm2_err, 'cm²')}",
                f"γ = {_pm(fit.decay_rate_per_us, fit.decay_rate_per_us_err, 'µs$^{-1}$')}",
                f"$I_S$ = {_pm(fit.saturation_intensity_w_cm2, fit.saturation_intensity_w_cm2_err, 'W/cm²')}",
                rf"$\chi^2_\nu$ = {fit.reduced_chi2:.2f}",
            ],
            "lower right",
            fit.flags,
        )
        ax.set_xlim(left=0.0)
    ax.set_xlabel("Excitation intensity I (W/cm²)")
    ax.set_ylabel(r"Antibunching rate $\gamma + w_p$ (µs$^{-1}$)")
    _legend(ax, "upper left")
    return fig


def plot_saturation(
    intensity_w_cm2: npt.ArrayLike,
    pl_counts: npt.ArrayLike,
    fit: SaturationFit | None = None,
    *,
    pl_counts_err: npt.ArrayLike | None = None,
    title: str | None = None,
) -> Figure:
    """PL vs excitation intensity with the fit A·I/(I + I_S) + c and I_S marked; log x over > 1.3 decades."""
    x = _array("intensity_w_cm2", intensity_w_cm2)
    y = _array("pl_counts", pl_counts)
    _same_length(intensity_w_cm2=x, pl_counts=y)
    err = None
    if pl_counts_err is not None:
        err = _array("pl_counts_err", pl_counts_err)
        _same_length(intensity_w_cm2=x, pl_counts_err=err)
        if np.any(err < 0):
            raise InvalidValueError("pl_counts_err must be >= 0 (1σ uncertainties)")
        err = np.where(np.isfinite(err), err, 0.0)
    fig, ax = _figure(title, "Saturation of the PL")
    ax.errorbar(x, y, yerr=err, fmt="o", ms=4, capsize=2.5, color=_DATA, label="data")
    positive = x[np.isfinite(x) & (x > 0)]
    log_x = positive.size >= 2 and float(positive.max()) / float(positive.min()) > 20.0
    if fit is not None:
        if log_x:
            grid = np.geomspace(float(positive.min()) / 1.5, float(positive.max()) * 1.5, 300)
        else:
            top = _max(x)
            grid = np.linspace(0.0, (top if math.isfinite(top) else 1.0) * 1.05, 300)
        i_s = fit.saturation_intensity_w_cm2
        model = fit.amplitude_counts * grid / (grid + i_s) + fit.offset_counts
        ax.plot(grid, model, "-", lw=1.6, color=_FIT, label=r"fit $A\,I/(I + I_S) + c$")
        ax.axvline(i_s, ls=":", lw=1.2, color=_MARK, label="$I_S$")
        lines = [
            f"$I_S$ = {_pm(i_s, fit.saturation_intensity_w_cm2_err, 'W/cm²')}",
            f"A = {_pm(fit.amplitude_counts, fit.amplitude_counts_err, 'counts')}",
        ]
        if fit.sigma_cm2 is not None:
            lines.append(f"σ = {_pm(fit.sigma_cm2, fit.sigma_cm2_err, 'cm²')}")
        lines.append(rf"$\chi^2_\nu$ = {fit.reduced_chi2:.2f}")
        _stats_box(ax, lines, "upper left", fit.flags)
    if log_x:
        ax.set_xscale("log")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    _headroom(ax, _max(y), factor=1.45)
    ax.set_xlabel("Excitation intensity I (W/cm²)")
    ax.set_ylabel("PL intensity (counts)")
    _legend(ax, "lower right")
    return fig


def plot_transient_absorption(
    time_ps: npt.ArrayLike,
    delta_a: npt.ArrayLike,
    fit: TaFit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Transient-absorption kinetics on a log delay axis with the two-exponential fit and γ_XX."""
    x = _array("time_ps", time_ps)
    y = _array("delta_a", delta_a)
    _same_length(time_ps=x, delta_a=y)
    fig, ax = _figure(title, "Transient absorption")
    pos = x > 0
    ax.plot(x[pos], y[pos], ".", ms=3, color=_DATA, label="data")
    if fit is not None:
        grid = np.geomspace(float(x[pos].min()), float(x[pos].max()), 400)
        model = ta_model(
            grid,
            fit.fast_amplitude,
            fit.biexciton_rate_per_ns,
            fit.slow_amplitude,
            fit.slow_rate_per_ns,
            fit.offset,
        )
        ax.plot(grid, model, "-", lw=1.6, color=_FIT, label="fit $A_f e^{-γ_{XX}t} + A_s e^{-γt}$")
        lines = [
            f"γ_XX = {_pm(fit.biexciton_rate_per_ns, fit.biexciton_rate_per_ns_err, 'ns⁻¹')}",
            f"τ_XX = {_pm(fit.biexciton_lifetime_ps, fit.biexciton_lifetime_ps_err, 'ps')}",
        ]
        _stats_box(ax, lines, "upper right", fit.flags)
    ax.set_xscale("log")
    ax.set_xlabel("Pump–probe delay t (ps)")
    ax.set_ylabel("Absorbance change ΔA (OD)")
    _legend(ax, "lower left")
    return fig


# --------------------------------------------------------------------------- population


def _finite(name: str, values: Any) -> tuple[FloatArray, int]:
    """The finite values of a 1-D array and the number of NaN/inf values dropped."""
    x = _array(name, values)
    ok = np.isfinite(x)
    return x[ok], int(x.size - np.count_nonzero(ok))


def _dropped(n: int) -> str:
    return f", {n} NaN dropped" if n else ""


def plot_histogram(
    values_by_group: Mapping[str, npt.ArrayLike],
    *,
    xlabel: str,
    bins: int | str = "auto",
    normal_fit: bool = True,
    title: str | None = None,
) -> Figure:
    """Overlaid semi-transparent histograms, one per group, on common bins (a cross-sample comparison).

    ``xlabel`` names the quantity with its unit, e.g. ``"Lifetime τ (ns)"``.
    ``bins`` is passed to :func:`numpy.histogram_bin_edges` for all groups
    together. With ``normal_fit`` each group with two or more distinct values
    gets a normal curve (its mean and SD) scaled to its counts. NaN/inf values
    are dropped and counted in the legend.
    """
    if not xlabel or not xlabel.strip():
        raise InvalidValueError("xlabel is empty; name the quantity and its unit, e.g. 'Lifetime τ (ns)'")
    if not values_by_group:
        raise InvalidValueError("values_by_group is empty; pass at least one group of values to histogram")
    groups: dict[str, tuple[FloatArray, int]] = {}
    for name, values in values_by_group.items():
        finite, dropped = _finite(f"values of group {name!r}", values)
        if finite.size == 0:
            raise InvalidValueError(
                f"group {name!r} has no finite values ({dropped} NaN/inf); drop the group or fill it"
            )
        groups[str(name)] = (finite, dropped)
    everything = np.concatenate([v for v, _ in groups.values()])
    try:
        edges = np.histogram_bin_edges(everything, bins=bins)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"bins must be a positive number of bins or a numpy rule name: {exc}"
        ) from None
    fig, ax = _figure(title, f"{xlabel.split('(')[0].strip()} by group")
    width = float(np.mean(np.diff(edges)))
    grid = np.linspace(float(edges[0]), float(edges[-1]), 400)
    for i, (name, (values, dropped)) in enumerate(groups.items()):
        color = f"C{i % 10}"
        ax.hist(
            values,
            bins=edges,
            histtype="stepfilled",
            facecolor=to_rgba(color, 0.4),
            edgecolor=color,
            lw=1.0,
            label=f"{name} (n = {values.size}{_dropped(dropped)})",
        )
        if normal_fit and values.size >= 2 and np.ptp(values) > 0:
            mu, sd = float(values.mean()), float(values.std(ddof=1))
            curve = (
                values.size * width * np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
            )
            ax.plot(
                grid, curve, "-", lw=1.5, color=color, label=f"{name}: normal, μ = {mu:.3g}, SD = {sd:.3g}"
            )
    ax.set_ylim(bottom=0.0)
    _headroom(ax, ax.get_ylim()[1], factor=1.1 + 0.12 * len(groups))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Occurrences (count per bin)")
    _legend(ax, "best")
    return fig


def plot_scatter(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    xlabel: str,
    ylabel: str,
    groups: npt.ArrayLike | Sequence[Any] | None = None,
    fit_line: bool = True,
    x_err: npt.ArrayLike | None = None,
    y_err: npt.ArrayLike | None = None,
    title: str | None = None,
) -> Figure:
    """Scatter of y vs x coloured by group, with an ordinary least-squares line over all points.

    The line (:func:`scipy.stats.linregress`, errors not used as weights) is
    drawn when ``fit_line`` and at least three points with distinct x remain;
    the legend gives its slope ± SE and r. Points with NaN/inf x or y are
    dropped and counted in the title; a NaN error draws no bar.
    """
    for label, name in ((xlabel, "xlabel"), (ylabel, "ylabel")):
        if not label or not label.strip():
            raise InvalidValueError(
                f"{name} is empty; name the quantity and its unit, e.g. 'Lifetime τ (ns)'"
            )
    xs = _array("x", x)
    ys = _array("y", y)
    _same_length(x=xs, y=ys)
    errs: dict[str, FloatArray | None] = {}
    for name, e in (("x_err", x_err), ("y_err", y_err)):
        if e is None:
            errs[name] = None
            continue
        ea = _array(name, e)
        _same_length(x=xs, **{name: ea})
        if np.any(ea < 0):
            raise InvalidValueError(f"{name} must be >= 0 (1σ uncertainties)")
        errs[name] = np.where(np.isfinite(ea), ea, 0.0)
    labels = np.array(["all"] * xs.size, dtype=object)
    if groups is not None:
        labels = np.asarray([str(g) for g in np.asarray(groups, dtype=object).ravel()], dtype=object)
        if labels.size != xs.size:
            raise InvalidValueError(
                f"groups must hold one label per point: {labels.size} labels, {xs.size} points"
            )
    ok = np.isfinite(xs) & np.isfinite(ys)
    dropped = int(xs.size - np.count_nonzero(ok))
    if not ok.any():
        raise InvalidValueError(f"no point has finite x and y ({dropped} NaN/inf dropped); nothing to plot")
    xs, ys, labels = xs[ok], ys[ok], labels[ok]
    ex = errs["x_err"][ok] if errs["x_err"] is not None else None
    ey = errs["y_err"][ok] if errs["y_err"] is not None else None
    default = f"{ylabel.split('(')[0].strip()} vs {xlabel.split('(')[0].strip()}"
    heading = default if title is None else title
    if dropped:
        heading += f"\n({dropped} point{'s' if dropped != 1 else ''} with NaN dropped)"
    fig, ax = _figure(heading, heading)
    for i, name in enumerate(dict.fromkeys(labels.tolist())):
        sel = labels == name
        color = f"C{i % 10}"
        if ex is not None or ey is not None:
            ax.errorbar(
                xs[sel],
                ys[sel],
                xerr=None if ex is None else ex[sel],
                yerr=None if ey is None else ey[sel],
                fmt="none",
                ecolor=to_rgba(color, 0.5),
                lw=0.9,
                capsize=0,
            )
        ax.scatter(xs[sel], ys[sel], s=18, color=color, alpha=0.85, label=f"{name} (n = {int(sel.sum())})")
    if fit_line and xs.size >= 3 and np.ptp(xs) > 0:
        reg = stats.linregress(xs, ys)
        grid = np.linspace(float(xs.min()), float(xs.max()), 100)
        ax.plot(
            grid,
            reg.intercept + reg.slope * grid,
            "-",
            lw=1.5,
            color="black",
            label=f"least squares: slope = {_pm(float(reg.slope), float(reg.stderr))}, r = {reg.rvalue:.2f}",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax, "best")
    return fig
