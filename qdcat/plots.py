"""Figures of single-dot and population results, drawn with matplotlib's object-oriented API.

Every ``plot_*`` function takes plain arrays and, for a single measurement,
a :class:`Fit` overlay (a model curve already evaluated from a stored result,
with the lines of its result box) and returns a new
:class:`matplotlib.figure.Figure` (about 6 × 4 in, constrained layout) with
labelled axes (quantity and unit), a title and a legend. Nothing here touches
``pyplot``: figures are not registered with a GUI backend, so the functions
work headless and from several threads at once. :func:`save_figure` writes a
figure as PNG or SVG at 150 dpi.

Nothing here fits: the analyses' ``draw`` functions (``qdcat.analyses``)
evaluate the model curves of :mod:`qdcat.analysis.lineshapes` at the stored
parameters and pass them in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnchoredText
from scipy import stats

from qdcat.errors import InvalidValueError

__all__ = [
    "DPI",
    "FIGSIZE",
    "Durations",
    "DwellFit",
    "Fit",
    "PeakWindows",
    "plot_decay",
    "plot_dwell_times",
    "plot_flid",
    "plot_g2",
    "plot_histogram",
    "plot_level_decays",
    "plot_levels_trace",
    "plot_on_off",
    "plot_power_series",
    "plot_pulsed_g2",
    "plot_rate",
    "plot_saturation",
    "plot_scatter",
    "plot_spectrum",
    "plot_survival",
    "plot_trace",
    "save_figure",
]

FIGSIZE = (6.0, 4.0)  # inches
DPI = 150  # a saved PNG is FIGSIZE × DPI = 900 × 600 pixels
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

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


def pm(value: float | None, err: float | None = None, unit: str = "") -> str:
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


def save_figure(
    fig: Figure, path: str | Path, *, dpi: float = DPI, size_in: tuple[float, float] | None = None
) -> Path:
    """Write ``fig`` to ``path`` as PNG, SVG or PDF (chosen by the suffix); create missing folders.

    ``dpi`` sets the raster resolution (PNG; 150 by default), ``size_in`` the figure's
    size in inches (width, height; a journal column is ~3.4 in wide). Vector formats
    (SVG, PDF) carry no date, so the same figure gives the same file. Returns the path
    written; any other suffix raises :class:`InvalidValueError`.
    """
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InvalidValueError(
            f"cannot save a figure as {p.name!r}: the suffix must be .png, .svg or .pdf, "
            f"got {p.suffix or 'none'!r}"
        )
    if not (math.isfinite(dpi) and 20 <= dpi <= 2400):
        raise InvalidValueError(f"dpi must lie in [20, 2400], got {dpi}")
    if size_in is not None:
        w, h = size_in
        if not (0.5 <= w <= 40 and 0.5 <= h <= 40):
            raise InvalidValueError(f"figure size must be 0.5–40 inches each way, got {w} × {h}")
        fig.set_size_inches(w, h)
    p.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else None)
    fig.savefig(p, dpi=dpi, format=fmt, metadata=metadata)
    return p


# --------------------------------------------------------------------------- single dot


@dataclass(frozen=True)
class Fit:
    """What a figure overlays on its data: a model curve already evaluated, and what to say about it.

    The analyses build it from a *stored* result (``qdcat.analyses.<name>.draw``)
    with the model functions of :mod:`qdcat.analysis.lineshapes`, so a figure
    never fits anything. ``span`` shades the fit range; ``lines`` go into the
    result box with the QC ``flags``.
    """

    x: npt.ArrayLike
    y: npt.ArrayLike
    label: str = "fit"
    lines: Sequence[str] = ()
    flags: Sequence[str] = ()
    span: tuple[float, float] | None = None


@dataclass(frozen=True)
class Durations:
    """One state's dwell-time distribution P(t), its survival S(t), and power laws to draw over it."""

    name: str  # "on", "off", "level 2", ...
    duration_s: npt.ArrayLike
    probability_per_s: npt.ArrayLike
    survival: npt.ArrayLike
    n_periods: int
    laws: Sequence[Fit] = ()


def _overlay(ax: Axes, fit: Fit | None, loc: str, *, style: str = "-") -> None:
    if fit is None:
        return
    if np.size(fit.x):  # a result box without a curve (e.g. a model that could not be fitted)
        x = _array("fit x", fit.x)
        y = _array("fit y", fit.y)
        _same_length(fit_x=x, fit_y=y)
        ax.plot(x, y, style, lw=1.6, color=_FIT, label=fit.label)
    if fit.span is not None:
        ax.axvspan(fit.span[0], fit.span[1], color="0.5", alpha=0.1, lw=0, label="fit range")
    if fit.lines or fit.flags:
        _stats_box(ax, fit.lines, loc, fit.flags)


def plot_spectrum(
    wavelength_nm: npt.ArrayLike,
    counts: npt.ArrayLike,
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """CCD spectrum (points) with the Lorentzian of its result over the fit window."""
    x = _array("wavelength_nm", wavelength_nm)
    y = _array("counts", counts)
    _same_length(wavelength_nm=x, counts=y)
    fig, ax = _figure(title, "PL spectrum")
    ax.plot(x, y, "o", ms=3, color=_DATA, label="data")
    _overlay(ax, fit, "upper right")
    ax.set_xlabel("Wavelength λ (nm)")
    ax.set_ylabel("Intensity (counts per pixel)")
    _headroom(ax, _max(y), factor=1.3)
    _legend(ax, "upper left")
    return fig


def plot_decay(
    time_ns: npt.ArrayLike,
    counts: npt.ArrayLike,
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """TCSPC histogram on a log axis with the tail model of its result (expected counts per bin).

    ``time_ns``: bin edges (len = counts + 1) or centres (len = counts).
    """
    n = _array("counts", counts)
    edges = _bin_edges("time_ns", _array("time_ns", time_ns), n.size)
    centres = 0.5 * (edges[:-1] + edges[1:])
    widths = np.diff(edges)
    fig, ax = _figure(title, "Fluorescence decay")
    ax.plot(centres, n, drawstyle="steps-mid", lw=1.0, color=_DATA, label="data")
    _overlay(ax, fit, "center right")
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
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """cw g2(τ) with the dip model of its result over the fit window."""
    tau = _array("tau_ns", tau_ns)
    g = _array("g2", g2)
    _same_length(tau_ns=tau, g2=g)
    fig, ax = _figure(title, "Second-order correlation (cw)")
    ax.plot(tau, g, "o", ms=2.5, color=_DATA, label="data")
    ax.axhline(0.5, ls=":", lw=1.0, color=_MARK, label="0.5 (single-emitter limit)")
    _overlay(ax, fit, "lower right")
    top = _max(g)
    ax.set_ylim(0.0, max(1.25, (top if math.isfinite(top) else 1.0) * 1.1))
    ax.set_xlabel("Delay τ (ns)")
    ax.set_ylabel(r"$g^{(2)}(\tau)$ (normalised, 1 = uncorrelated)")
    _legend(ax, "lower left")
    return fig


@dataclass(frozen=True)
class PeakWindows:
    """The windows a pulsed g2 estimate summed: centres k·period + τ0, k = −n … n, half-width ``half_ns``."""

    center_ns: float
    period_ns: float
    n_side_peaks: int
    half_ns: float


def plot_pulsed_g2(
    tau_ns: npt.ArrayLike,
    counts: npt.ArrayLike,
    windows: PeakWindows | None = None,
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Coincidences vs delay (pulsed), the centre and side-peak windows shaded, the peak model over it."""
    tau = _array("tau_ns", tau_ns)
    c = _array("counts", counts)
    _same_length(tau_ns=tau, counts=c)
    fig, ax = _figure(title, "Second-order correlation (pulsed)")
    ax.plot(tau, c, drawstyle="steps-mid", lw=0.9, color=_DATA, label="coincidences")
    if windows is not None:
        hw = windows.half_ns
        side_face, side_edge = to_rgba(_MARK, 0.15), to_rgba(_MARK, 0.6)
        centre_face, centre_edge = to_rgba(_FIT, 0.2), to_rgba(_FIT, 0.8)
        for k in range(-windows.n_side_peaks, windows.n_side_peaks + 1):
            mid = windows.center_ns + k * windows.period_ns
            is_centre = k == 0
            first_side = k == -windows.n_side_peaks
            ax.axvspan(
                mid - hw,
                mid + hw,
                facecolor=centre_face if is_centre else side_face,
                edgecolor=centre_edge if is_centre else side_edge,
                lw=0.8,
                label="centre window (k = 0)"
                if is_centre
                else (f"side windows (k = ±1…±{windows.n_side_peaks})" if first_side else None),
            )
    _overlay(ax, fit, "upper right")
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
    background_counts: npt.ArrayLike | None = None,
) -> Figure:
    """Intensity trace (counts per bin vs time) with the on/off threshold, and its intensity histogram.

    The right-hand panel is the histogram of counts per bin (the study's Fig. 5a);
    a background trace, when given, is drawn beneath the trace and histogram.
    """
    t = _array("time_s", time_s)
    c = _array("counts", counts)
    _same_length(time_s=t, counts=c)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax, hax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": (4, 1)})
    ax.set_title("Intensity trace" if title is None else title)
    ax.plot(t, c, drawstyle="steps-post", lw=0.6, color=_DATA, label="trace")
    top = _max(c)
    bins = np.arange(-0.5, (top if math.isfinite(top) else 1.0) + 1.5, max(1.0, math.ceil(top / 60.0)))
    hax.hist(c[np.isfinite(c)], bins=bins, orientation="horizontal", color=_DATA, alpha=0.7)
    if background_counts is not None:
        b = _array("background_counts", background_counts)
        tb = np.arange(b.size) * (float(np.median(np.diff(t))) if t.size > 1 else 1.0)
        ax.plot(tb, b, drawstyle="steps-post", lw=0.6, color=_OFF, alpha=0.8, label="background")
        hax.hist(b, bins=bins, orientation="horizontal", color=_OFF, alpha=0.6)
    if threshold_counts is not None and math.isfinite(threshold_counts):
        for a in (ax, hax):
            a.axhline(
                threshold_counts,
                ls="--",
                lw=1.2,
                color=_FIT,
                label=f"threshold θ = {threshold_counts:.3g} counts" if a is ax else None,
            )
    ax.set_ylim(bottom=0.0)
    _headroom(ax, max(top, threshold_counts or 0.0), factor=1.25)
    ax.set_xlabel("Time (s)")
    hax.set_xlabel("Bins (count)")
    hax.tick_params(labelleft=False)
    if t.size >= 2:
        width_ms = float(np.median(np.diff(t))) * 1e3
        ax.set_ylabel(f"Intensity (counts / {width_ms:.3g} ms bin)")
    else:
        ax.set_ylabel("Intensity (counts per bin)")
    _legend(ax, "upper right")
    return fig


def plot_rate(
    time_s: npt.ArrayLike, rate_cps: npt.ArrayLike, fit: Fit | None = None, *, title: str | None = None
) -> Figure:
    """Count rate vs time with the levels of its result (e.g. the mean rates at start and end)."""
    t = _array("time_s", time_s)
    r = _array("rate_cps", rate_cps)
    _same_length(time_s=t, rate_cps=r)
    fig, ax = _figure(title, "Count rate")
    ax.plot(t, r, drawstyle="steps-post", lw=0.7, color=_DATA, label="count rate")
    _overlay(ax, fit, "lower left")
    ax.set_ylim(bottom=0.0)
    _headroom(ax, _max(r), factor=1.3)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Count rate (counts/s)")
    _legend(ax, "upper right")
    return fig


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


_STATE_COLORS = (_ON, _OFF, "tab:green", "tab:purple", "tab:brown")


def plot_on_off(states: Sequence[Durations], *, title: str | None = None) -> Figure:
    """Log–log P(t) of each state's dwell times with the power laws of its result (from stored exponents)."""
    fig, ax = _figure(title, "Blinking: on/off duration distributions")
    drawn = False
    for i, st in enumerate(states):
        color = _STATE_COLORS[i % len(_STATE_COLORS)]
        t = _array(f"{st.name} duration_s", st.duration_s)
        p = _array(f"{st.name} probability_per_s", st.probability_per_s)
        _same_length(duration_s=t, probability_per_s=p)
        ok = (t > 0) & (p > 0)
        if not ok.any():
            continue
        ax.plot(
            t[ok],
            p[ok],
            "o",
            ms=3.5,
            color=color,
            alpha=0.8,
            label=f"{st.name}: data ({st.n_periods} periods)",
        )
        for j, law in enumerate(st.laws):
            ax.plot(
                _array("law x", law.x),
                _array("law y", law.y),
                ("-", "--", ":")[j % 3],
                lw=1.4,
                color=color,
                label=f"{st.name}: {law.label}",
            )
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


def plot_survival(states: Sequence[Durations], *, title: str | None = None) -> Figure:
    """Survival S(t) = P(T > t) of each state's periods, log–log (S = 0 at the longest one is not drawn)."""
    fig, ax = _figure(title, "Survival of on and off periods")
    drawn = False
    for i, st in enumerate(states):
        color = _STATE_COLORS[i % len(_STATE_COLORS)]
        t = _array(f"{st.name} duration_s", st.duration_s)
        s = _array(f"{st.name} survival", st.survival)
        ok = (t > 0) & (s > 0)
        if not ok.any():
            continue
        ax.plot(
            t[ok],
            s[ok],
            "o-",
            ms=3,
            lw=1.0,
            drawstyle="steps-post",
            color=color,
            label=f"{st.name} periods (N = {st.n_periods})",
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


def _errors(name: str, values: npt.ArrayLike | None, like: FloatArray) -> FloatArray | None:
    if values is None:
        return None
    err = _array(name, values)
    _same_length(values=like, **{name: err})
    if np.any(err < 0):
        raise InvalidValueError(f"{name} must be >= 0 (1σ uncertainties)")
    return np.where(np.isfinite(err), err, 0.0)


def plot_power_series(
    intensity_w_cm2: npt.ArrayLike,
    rate_per_us: npt.ArrayLike,
    rate_per_us_err: npt.ArrayLike | None = None,
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Antibunching rates γ + w_p vs intensity with error bars and the line of its result."""
    x = _array("intensity_w_cm2", intensity_w_cm2)
    y = _array("rate_per_us", rate_per_us)
    _same_length(intensity_w_cm2=x, rate_per_us=y)
    err = _errors("rate_per_us_err", rate_per_us_err, x)
    fig, ax = _figure(title, "Power series: antibunching rate vs intensity")
    ax.errorbar(x, y, yerr=err, fmt="o", ms=4, capsize=2.5, color=_DATA, label=r"$\gamma + w_p$ from g2 fits")
    _overlay(ax, fit, "lower right")
    if fit is not None:
        ax.set_xlim(left=0.0)
    ax.set_xlabel("Excitation intensity I (W/cm²)")
    ax.set_ylabel(r"Antibunching rate $\gamma + w_p$ (µs$^{-1}$)")
    _legend(ax, "upper left")
    return fig


def plot_saturation(
    intensity_w_cm2: npt.ArrayLike,
    pl_counts: npt.ArrayLike,
    fit: Fit | None = None,
    *,
    saturation_intensity_w_cm2: float | None = None,
    pl_counts_err: npt.ArrayLike | None = None,
    title: str | None = None,
) -> Figure:
    """PL vs excitation intensity with the saturation curve of its result and I_S; log x over 1.3 decades."""
    x = _array("intensity_w_cm2", intensity_w_cm2)
    y = _array("pl_counts", pl_counts)
    _same_length(intensity_w_cm2=x, pl_counts=y)
    err = _errors("pl_counts_err", pl_counts_err, x)
    fig, ax = _figure(title, "Saturation of the PL")
    ax.errorbar(x, y, yerr=err, fmt="o", ms=4, capsize=2.5, color=_DATA, label="data")
    positive = x[np.isfinite(x) & (x > 0)]
    _overlay(ax, fit, "upper left")
    if saturation_intensity_w_cm2 is not None and math.isfinite(saturation_intensity_w_cm2):
        ax.axvline(saturation_intensity_w_cm2, ls=":", lw=1.2, color=_MARK, label="$I_S$")
    if positive.size >= 2 and float(positive.max()) / float(positive.min()) > 20.0:
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
    fit: Fit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Transient-absorption kinetics on a log delay axis with the two-exponential model of its result."""
    x = _array("time_ps", time_ps)
    y = _array("delta_a", delta_a)
    _same_length(time_ps=x, delta_a=y)
    fig, ax = _figure(title, "Transient absorption")
    pos = x > 0
    ax.plot(x[pos], y[pos], ".", ms=3, color=_DATA, label="data")
    _overlay(ax, fit, "upper right")
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
            bins=edges.tolist(),
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


def _error_bars(name: str, err: npt.ArrayLike | None, xs: FloatArray) -> FloatArray | None:
    """1σ error bars, one per point (a NaN error draws no bar); None when not given."""
    if err is None:
        return None
    ea = _array(name, err)
    _same_length(x=xs, **{name: ea})
    if np.any(ea < 0):
        raise InvalidValueError(f"{name} must be >= 0 (1σ uncertainties)")
    return np.where(np.isfinite(ea), ea, 0.0)


def _group_labels(groups: npt.ArrayLike | Sequence[Any] | None, n: int) -> npt.NDArray[np.object_]:
    """One group label (text) per point; every point in group "all" when no groups are given."""
    if groups is None:
        return np.array(["all"] * n, dtype=object)
    labels = np.asarray([str(g) for g in np.asarray(groups, dtype=object).ravel()], dtype=object)
    if labels.size != n:
        raise InvalidValueError(f"groups must hold one label per point: {labels.size} labels, {n} points")
    return labels


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
    """Scatter of y vs x coloured by group, with an ordinary least-squares line per group.

    Each group's line (:func:`scipy.stats.linregress`, errors not used as weights) is
    drawn in its colour when ``fit_line`` and it has at least three points with
    distinct x; the legend gives its slope ± SE and r. One pooled line over groups
    would hide a correlation within each (r = −0.8 inside one sample, none across).
    Points with NaN/inf x or y are dropped and counted in the title; a NaN error
    draws no bar.
    """
    for label, name in ((xlabel, "xlabel"), (ylabel, "ylabel")):
        if not label or not label.strip():
            raise InvalidValueError(
                f"{name} is empty; name the quantity and its unit, e.g. 'Lifetime τ (ns)'"
            )
    xs = _array("x", x)
    ys = _array("y", y)
    _same_length(x=xs, y=ys)
    errs = {name: _error_bars(name, e, xs) for name, e in (("x_err", x_err), ("y_err", y_err))}
    labels = _group_labels(groups, xs.size)
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
    for i, name in enumerate(dict.fromkeys(labels.tolist())):
        sel = labels == name
        gx, gy = xs[sel], ys[sel]
        if not (fit_line and gx.size >= 3 and np.ptp(gx) > 0):
            continue
        reg = stats.linregress(gx, gy)
        grid = np.linspace(float(gx.min()), float(gx.max()), 100)
        ax.plot(
            grid,
            reg.intercept + reg.slope * grid,
            "-",
            lw=1.5,
            color=f"C{i % 10}" if len(set(labels.tolist())) > 1 else "black",
            label=f"{name}: slope = {pm(float(reg.slope), float(reg.stderr))}, r = {reg.rvalue:.2f}",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax, "best")
    return fig


# --------------------------------------------------------------------------- photon-by-photon levels

_LEVEL_CMAP = "viridis"


def _level_colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps[_LEVEL_CMAP]
    return [cmap(0.1 + 0.8 * i / max(n - 1, 1)) for i in range(n)]


def plot_levels_trace(
    window_s: float,
    window_photons: npt.ArrayLike,
    segment_starts_s: npt.ArrayLike,
    segment_stops_s: npt.ArrayLike,
    segment_level: npt.ArrayLike,
    level_intensity_cps: npt.ArrayLike,
    *,
    title: str | None = None,
) -> Figure:
    """The binned trace (for the eye) with the change-point segments drawn at their level's intensity.

    Right: the time spent at each intensity, binned trace and levels (the study's Fig. 5a).
    """
    c = _array("window_photons", window_photons) / window_s
    starts, stops = _array("segment_starts_s", segment_starts_s), _array("segment_stops_s", segment_stops_s)
    level = np.asarray(segment_level, dtype=np.int64)
    intensity = _array("level_intensity_cps", level_intensity_cps)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax, hax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": (4, 1)})
    ax.set_title("Change points and levels" if title is None else title, fontsize="medium")
    t = starts[0] + np.arange(c.size) * window_s
    ax.plot(t, c, drawstyle="steps-post", lw=0.5, color="0.6", label=f"photons per {window_s * 1e3:g} ms")
    colors = _level_colors(intensity.size)
    for g in range(intensity.size):
        sel = level == g
        segs = np.stack([starts[sel], stops[sel]], axis=1)
        ys = np.full_like(segs, intensity[g])
        for (x0, x1), (y0, _) in zip(segs, ys, strict=True):
            ax.plot((x0, x1), (y0, y0), lw=2.0, color=colors[g], solid_capstyle="butt")
        ax.plot([], [], lw=2.0, color=colors[g], label=f"level {g}: {intensity[g] / 1e3:.3g} kcps")
        hax.axhline(intensity[g], color=colors[g], lw=1.5)
    top = max(_max(c), float(intensity.max()))
    hax.hist(c, bins=np.linspace(0.0, top * 1.05 + 1e-9, 61), orientation="horizontal", color="0.6")
    ax.set_ylim(0.0, top * 1.3 + 1e-9)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Intensity (counts/s)")
    hax.set_xlabel("Windows")
    hax.tick_params(labelleft=False)
    _legend(ax, "upper right", fontsize="small", ncol=2)
    return fig


def plot_flid(
    intensity_edges_cps: npt.ArrayLike,
    delay_edges_ns: npt.ArrayLike,
    counts: npt.ArrayLike,
    *,
    level_intensity_cps: npt.ArrayLike = (),
    level_lifetime_ns: npt.ArrayLike = (),
    level_lifetime_ns_err: npt.ArrayLike = (),
    title: str | None = None,
) -> Figure:
    """FLID: windows per (lifetime, intensity) bin, log colour scale, with the levels' fitted lifetimes."""
    from matplotlib.colors import LogNorm

    ie, de = _array("intensity_edges_cps", intensity_edges_cps), _array("delay_edges_ns", delay_edges_ns)
    h = np.asarray(counts, dtype=np.float64)
    fig, ax = _figure(title, "Fluorescence lifetime–intensity distribution")
    if h.sum() > 0:
        mesh = ax.pcolormesh(de, ie / 1e3, np.where(h > 0, h, np.nan), norm=LogNorm(), cmap="magma_r")
        fig.colorbar(mesh, ax=ax, label="Windows")
    else:
        _no_data(ax, "no window has enough delayed photons")
    li = np.asarray(level_intensity_cps, dtype=np.float64)
    lt = np.asarray(level_lifetime_ns, dtype=np.float64)
    le = np.asarray(level_lifetime_ns_err, dtype=np.float64)
    ok = np.isfinite(lt) if lt.size else np.zeros(0, bool)
    if ok.any():
        ax.errorbar(lt[ok], li[ok] / 1e3, xerr=le[ok], fmt="o", color=_FIT, ms=5, label="levels (fitted τ)")
        _legend(ax, "upper left")
    ax.set_xlabel("Lifetime from each window's mean delay (ns)")
    ax.set_ylabel("Intensity (kcounts/s)")
    return fig


def plot_level_decays(
    edges_ns: npt.ArrayLike,
    decays: npt.ArrayLike,
    *,
    level_lifetime_ns: npt.ArrayLike,
    level_lifetime_ns_err: npt.ArrayLike,
    fit_window_ns: tuple[float | None, float | None] = (None, None),
    title: str | None = None,
) -> Figure:
    """Each level's decay histogram, normalised to its peak, log scale, labelled with its lifetime."""
    e = _array("edges_ns", edges_ns)
    d = np.asarray(decays, dtype=np.float64)
    tau = np.asarray(level_lifetime_ns, dtype=np.float64)
    err = np.asarray(level_lifetime_ns_err, dtype=np.float64)
    fig, ax = _figure(title, "Decay of each level")
    ax.title.set_fontsize("medium")
    # Shown in about 200 bins (a level of a few hundred photons is noise in 100 ps bins);
    # empty bins are left out, not drawn down to zero on the log scale.
    step = max(1, d.shape[1] // 200)
    n = d.shape[1] // step * step
    d = d[:, :n].reshape(d.shape[0], -1, step).sum(axis=2)
    centres = 0.5 * (e[:n:step] + e[step : n + 1 : step])
    colors = _level_colors(d.shape[0])
    for g in range(d.shape[0]):
        if d[g].max() <= 0:
            continue
        lab = f"level {g}: τ = {pm(tau[g], err[g], 'ns')}" if math.isfinite(tau[g]) else f"level {g}: no τ"
        y = np.where(d[g] > 0, d[g] / d[g].max(), np.nan)
        ax.plot(centres, y, drawstyle="steps-mid", color=colors[g], lw=1.0, label=lab)
    lo, hi = fit_window_ns
    if lo is not None and hi is not None:
        ax.axvspan(lo, hi, color="0.9", zorder=0, label="fit window")
    ax.set_yscale("log")
    ax.set_xlabel("Delay after the laser pulse (ns)")
    ax.set_ylabel("Counts / peak (normalised)")
    _legend(ax, "upper right", fontsize="small")
    return fig


@dataclass(frozen=True)
class DwellFit:
    """One state's dwell times (censored marked) and its truncated power-law ML fit, for a figure."""

    name: str
    durations_s: FloatArray
    censored: npt.NDArray[np.bool_]
    k: float | None
    k_err: float | None
    t_min_s: float
    t_max_s: float


def plot_dwell_times(states: Sequence[DwellFit], *, title: str | None = None) -> Figure:
    """Survival S(t) of the complete periods above t_min, log–log, with the ML law's survival."""
    fig, ax = _figure(title, "Dwell times of on and off periods")
    drawn = False
    for i, st in enumerate(states):
        color = _STATE_COLORS[i % len(_STATE_COLORS)]
        t = np.sort(st.durations_s[(~st.censored) & (st.durations_s >= st.t_min_s)])
        if t.size < 2:
            continue
        s = 1.0 - np.arange(t.size) / t.size
        ax.plot(t, s, "o", ms=3, color=color, label=f"{st.name} (N = {t.size})")
        if st.k is not None and math.isfinite(st.k):
            grid = np.geomspace(st.t_min_s, float(t.max()), 200)
            ax.plot(
                grid,
                _power_law_survival(grid, st.k, st.t_min_s, st.t_max_s),
                "-",
                color=color,
                label=f"ML, k = {pm(st.k, st.k_err)}",
            )
        drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.set_yscale("log")
    else:
        _no_data(ax, "too few periods above t_min")
    ax.set_xlabel("Dwell time t (s)")
    ax.set_ylabel("Survival S(t) = P(T ≥ t)")
    _legend(ax, "lower left")
    return fig


def _power_law_survival(t: FloatArray, k: float, t_min: float, t_max: float) -> FloatArray:
    """S(t) of p ∝ t^-k on [t_min, t_max] (k = 1: the logarithmic limit)."""
    if abs(k - 1.0) < 1e-9:
        out: FloatArray = np.log(t_max / t) / np.log(t_max / t_min)
        return out
    a = 1.0 - k
    num = t_max**a - t**a
    den = t_max**a - t_min**a
    res: FloatArray = num / den
    return res
