"""Fits of single-dot and ensemble measurements: spectra, decays, g2, power and saturation series.

Each function validates its arrays, fits with a scipy routine and returns a
frozen result holding values, 1σ uncertainties, fit quality, the window and
method used, and QC flags (never a silent nonsense value).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize

from qdcat.analysis import lineshapes
from qdcat.analysis._validate import (
    HC_EV_NM,
    FloatArray,
    PoissonFit,
    array_1d,
    at_bounds,
    finite_scalar,
    increasing,
    photon_energy_j,
    poisson_fit,
    same_length,
)
from qdcat.errors import InvalidValueError

__all__ = [
    "BiexcitonYield",
    "CwG2Fit",
    "DecayFit",
    "LorentzianFit",
    "PowerSeriesFit",
    "PulsedG2",
    "PulsedG2Fit",
    "SaturationFit",
    "biexciton_yield",
    "fit_decay",
    "fit_g2_cw",
    "fit_g2_pulsed",
    "fit_lorentzian",
    "fit_power_series",
    "fit_saturation",
    "g2_pulsed",
    "photon_energy_j",
    "pulsed_peak_offset",
    "sigma_from_saturation_cm2",
    "sigma_from_slope_cm2",
]

FEW_COUNTS = 100  # below this many counts in the fit window a result gets the "few_counts" flag
NO_DECAY_DEVIANCE = 25.0  # decay fit vs flat background: smaller deviance gains are noise
NO_DIP_DEVIANCE = 25.0  # cw g2 dip vs flat g2: smaller deviance gains are a noise hole


def _sd(cov: FloatArray, i: int) -> float:
    v = float(cov[i, i])
    return math.sqrt(v) if v >= 0 and math.isfinite(v) else math.nan


def _window(
    name: str, window: tuple[float, float] | None, default: tuple[float, float]
) -> tuple[float, float]:
    if window is None:
        return default
    try:
        lo, hi = (float(w) for w in window)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a (low, high) pair of numbers, got {window!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidValueError(f"{name} must be finite with low < high, got {window!r}")
    return lo, hi


def _bound_flags(names: tuple[str, ...], flags: tuple[bool, ...]) -> list[str]:
    return [f"at_bound:{n}" for n, f in zip(names, flags, strict=True) if f]


def _poisson_flags(names: tuple[str, ...], fit: PoissonFit, few_counts: bool) -> tuple[list[str], float]:
    """The QC flags every Poisson fit shares (bounds, convergence, few counts, poor fit) and deviance/dof."""
    flags = _bound_flags(names, fit.at_bound)
    if not fit.converged:
        flags.append("not_converged")
    if few_counts:
        flags.append("few_counts")
    dpd = fit.deviance / fit.dof if fit.dof > 0 else math.nan
    if fit.dof > 0 and dpd > 1.0 + 5.0 * math.sqrt(2.0 / fit.dof):
        flags.append("poor_fit")
    return flags, dpd


# --------------------------------------------------------------------------- 1. spectrum


@dataclass(frozen=True)
class LorentzianFit:
    """I(λ) = A·(w/2)²/((λ−λ0)² + (w/2)²) + c fitted to a CCD spectrum."""

    center_nm: float
    center_nm_err: float
    energy_ev: float
    energy_ev_err: float
    fwhm_nm: float
    fwhm_nm_err: float
    amplitude_counts: float
    amplitude_counts_err: float
    offset_counts: float
    offset_counts_err: float
    reduced_chi2: float
    dof: int
    window_nm: tuple[float, float]
    method: str
    converged: bool
    flags: tuple[str, ...]


def _lorentz(x: FloatArray, p: FloatArray) -> FloatArray:
    a, x0, w, c = p
    return lineshapes.lorentzian(x, a, x0, w, c)


def fit_lorentzian(
    wavelength_nm: Any,
    counts: Any,
    *,
    bias_counts: float | None = None,
    read_noise_counts: float | None = None,
    window_nm: tuple[float, float] | None = None,
) -> LorentzianFit:
    """Weighted least squares with a variance taken from the model, refined over three passes.

    With the camera's ``bias_counts`` (electronic offset, no shot noise) and
    ``read_noise_counts`` known: variance = (model − bias) + read² + 1/12 (ADC
    step). Without them, the flat part's variance is measured where the line
    is not (beyond 3 FWHM from the centre: half the mean squared difference of
    neighbouring residuals, which slow trends do not inflate), and the line
    adds its own shot noise: variance = (model − offset) + that. Weights from
    the model, not the data (data weights bias the amplitude low).
    ``window_nm`` limits the fit range.
    """
    x, y, (lo, hi), camera = _lorentz_inputs(wavelength_nm, counts, bias_counts, read_noise_counts, window_nm)
    known = camera is not None
    p, lower, upper, x_scale = _lorentz_start(x, y)
    if camera is not None:
        bias, read = camera
        var_floor = read * read + 1.0 / 12.0
        var = np.maximum(y - bias, 0.0) + var_floor
    else:  # a first guess: the flat part's scatter from neighbouring pixels
        var_floor = max(0.5 * float(np.median(np.diff(y) ** 2)) / 0.4549, 1.0 / 12.0)
        var = np.maximum(y - p[3], 0.0) + var_floor
    p, jac, var, converged = _lorentz_passes(
        x, y, p, lower, upper, x_scale, var, var_floor, camera[0] if camera is not None else None
    )
    sd = np.sqrt(var)
    r = (_lorentz(x, p) - y) / sd
    cov = _jtj_inverse(jac)
    if cov is None:
        cov = np.full((4, 4), np.nan)
        converged = False
    dof = x.size - 4
    chi2 = float(r @ r) / dof
    flags = _bound_flags(("amplitude", "center_nm", "fwhm_nm", "offset"), at_bounds(p, lower, upper))
    if not converged:
        flags.append("not_converged")
    if not p[0] > 5.0 * _sd(cov, 0):
        flags.append("weak_line")
    if not known and chi2 > 0:
        # The flat part's variance was measured: the fit's own scatter calibrates the errors.
        cov = cov * max(chi2, 1.0)
    if chi2 > 1.0 + 5.0 * math.sqrt(2.0 / dof):
        flags.append("poor_fit")
    x0_err = _sd(cov, 1)
    return LorentzianFit(
        center_nm=float(p[1]),
        center_nm_err=x0_err,
        energy_ev=HC_EV_NM / float(p[1]),
        energy_ev_err=HC_EV_NM / float(p[1]) ** 2 * x0_err,
        fwhm_nm=float(p[2]),
        fwhm_nm_err=_sd(cov, 2),
        amplitude_counts=float(p[0]),
        amplitude_counts_err=_sd(cov, 0),
        offset_counts=float(p[3]),
        offset_counts_err=_sd(cov, 3),
        reduced_chi2=chi2,
        dof=dof,
        window_nm=(lo, hi),
        method=(
            "weighted least squares, variance = model - bias + read_noise^2 + 1/12"
            if known
            else "weighted least squares, variance = line + the wings' measured variance"
        ),
        converged=converged,
        flags=tuple(flags),
    )


def _lorentz_inputs(
    wavelength_nm: Any,
    counts: Any,
    bias_counts: float | None,
    read_noise_counts: float | None,
    window_nm: tuple[float, float] | None,
) -> tuple[FloatArray, FloatArray, tuple[float, float], tuple[float, float] | None]:
    """The validated spectrum inside the window, the window, and (bias, read noise) when both are known."""
    x = array_1d("wavelength_nm", wavelength_nm, min_size=5)
    y = array_1d("counts", counts, min_size=5)
    same_length(wavelength_nm=x, counts=y)
    increasing("wavelength_nm", x)
    bias = finite_scalar("bias_counts", bias_counts) if bias_counts is not None else 0.0
    read = (
        finite_scalar("read_noise_counts", read_noise_counts, lo=0.0)
        if read_noise_counts is not None
        else 0.0
    )
    camera = (bias, read) if bias_counts is not None and read_noise_counts is not None else None
    lo, hi = _window("window_nm", window_nm, (float(x[0]), float(x[-1])))
    sel = (x >= lo) & (x <= hi)
    x, y = x[sel], y[sel]
    if x.size < 8:
        raise InvalidValueError(
            f"only {x.size} pixels in window_nm {(lo, hi)}; widen the window to >= 8 pixels"
        )
    if np.ptp(y) == 0:
        raise InvalidValueError("the spectrum is flat (no line to fit); check the exposure and the window")
    return x, y, (lo, hi), camera


def _lorentz_start(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Start values (amplitude, centre, FWHM, offset), their bounds and scales from the raw spectrum."""
    c0 = float(np.percentile(y, 10))
    i_max = int(np.argmax(y))
    a0 = float(y[i_max]) - c0
    step = float(np.median(np.diff(x)))
    w0 = max(float(np.count_nonzero(y > c0 + 0.5 * a0)) * step, 2.0 * step)
    p = np.array([a0, float(x[i_max]), w0, c0])
    lower = np.array([0.0, float(x[0]), 0.1 * step, -np.inf])
    upper = np.array([np.inf, float(x[-1]), 10.0 * float(x[-1] - x[0]), np.inf])
    x_scale = np.array([max(a0, 1.0), step, w0, max(abs(c0), 1.0)])
    return p, lower, upper, x_scale


def _lorentz_passes(
    x: FloatArray,
    y: FloatArray,
    p: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    x_scale: FloatArray,
    var: FloatArray,
    var_floor: float,
    bias: float | None,
) -> tuple[FloatArray, FloatArray, FloatArray, bool]:
    """Three weighted fits, each weighted by the previous model: (params, Jacobian, variance, converged).

    With the camera's ``bias`` the variance is (model − bias) + ``var_floor``; without, the
    floor is re-measured in the wings each pass and the variance is (model − offset) + floor.
    """
    converged = True
    for _ in range(3):
        sd = np.sqrt(var)
        res = optimize.least_squares(
            lambda q, sd=sd: (_lorentz(x, q) - y) / sd,
            p,
            bounds=(lower, upper),
            x_scale=x_scale,
        )
        p = res.x
        converged = bool(res.success)
        if bias is not None:
            var = np.maximum(_lorentz(x, p) - bias, 0.0) + var_floor
        else:
            var_floor = _wing_variance(x, y - _lorentz(x, p), p[1], p[2], var_floor)
            var = np.maximum(_lorentz(x, p) - p[3], 0.0) + var_floor
    return p, res.jac, var, converged


def _jtj_inverse(jac: FloatArray) -> FloatArray | None:
    """The covariance (JᵀJ)⁻¹ of a least-squares fit, None when JᵀJ is singular."""
    try:
        return np.asarray(np.linalg.inv(jac.T @ jac), dtype=np.float64)
    except np.linalg.LinAlgError:
        return None


def _wing_variance(x: FloatArray, resid: FloatArray, center: float, fwhm: float, fallback: float) -> float:
    """Variance of the flat part: half the mean squared difference of neighbouring residuals off the line."""
    far = np.abs(x - center) > 3.0 * fwhm
    d = np.diff(resid)[far[1:] & far[:-1]]
    if d.size < 10:
        return fallback
    return max(0.5 * float(np.mean(d * d)), 1.0 / 12.0)


# --------------------------------------------------------------------------- 2. decay


@dataclass(frozen=True)
class DecayFit:
    """Mono-exponential tail A·exp(−γ(t − t_start)) + B of a TCSPC histogram (Poisson ML)."""

    lifetime_ns: float
    lifetime_ns_err: float
    decay_rate_per_us: float
    decay_rate_per_us_err: float
    amplitude_counts_per_ns: float
    amplitude_counts_per_ns_err: float
    background_counts_per_ns: float
    background_counts_per_ns_err: float
    deviance: float
    dof: int
    deviance_per_dof: float
    fit_start_ns: float
    fit_stop_ns: float
    n_counts: int
    method: str
    converged: bool
    flags: tuple[str, ...]


def _edges(name: str, t: FloatArray, n: int) -> FloatArray:
    increasing(name, t)
    if t.size == n + 1:
        return t
    if t.size != n:
        raise InvalidValueError(f"{name} must hold {n} bin centres or {n + 1} bin edges, got {t.size} values")
    mid = 0.5 * (t[1:] + t[:-1])
    return np.concatenate(([t[0] - (mid[0] - t[0])], mid, [t[-1] + (t[-1] - mid[-1])]))


def fit_decay(
    time_ns: Any,
    counts: Any,
    *,
    fit_start_ns: float | None = None,
    fit_stop_ns: float | None = None,
    start_after_peak_ns: float = 1.0,
) -> DecayFit:
    """Poisson maximum-likelihood fit of the decay tail; no IRF reconvolution (the tail starts after it).

    ``time_ns``: bin edges (len = counts + 1) or centres (len = counts). The fit
    uses whole bins in [fit_start_ns, fit_stop_ns]; the default start is
    ``start_after_peak_ns`` after the peak bin (past the IRF and a biexciton
    component), the default stop the end of the last bin with counts. The model is
    integrated over each bin. Flags: ``no_decay_signal`` when the exponential does
    not beat a flat background (likelihood ratio < 25), ``lifetime_beyond_window``
    when τ exceeds the fit window.
    """
    n = array_1d("counts", counts, min_size=5, nonnegative=True)
    edges = _edges("time_ns", array_1d("time_ns", time_ns, min_size=5), n.size)
    if n.sum() == 0:
        raise InvalidValueError("the histogram holds no counts; check the channel and the acquisition")
    sel = _decay_window(n, edges, fit_start_ns, fit_stop_ns, start_after_peak_ns)
    y = n[sel]
    if y.sum() < 10:
        raise InvalidValueError(
            f"only {int(y.sum())} counts in the fit window; acquire longer (>= 10 needed)"
        )
    t0 = float(edges[:-1][sel][0])
    u = edges[:-1][sel] - t0
    v = edges[1:][sel] - t0
    width = v - u

    def model(p: FloatArray) -> FloatArray:
        a, g, b = p
        return lineshapes.exp_tail_binned(u, v, a, g, b)

    a0, g0, b0 = _decay_start(y, u, v)
    lower = np.array([0.0, 1e-6 * g0, 0.0])
    upper = np.array([np.inf, 1e3 * g0, np.inf])
    fit = poisson_fit(model, y, np.array([a0, g0, b0]), lower, upper, np.array([a0, g0, max(b0, 1e-3)]))
    a, g, b = (float(v) for v in fit.params)
    g_err = _sd(fit.covariance, 1)
    flags, dpd = _poisson_flags(("amplitude", "decay_rate", "background"), fit, y.sum() < FEW_COUNTS)
    # Is there a decay at all? The likelihood-ratio statistic against a flat background
    # (2 more parameters): below 25 (p ≈ 4e-6) the histogram is noise and τ means nothing.
    flat = y.sum() / width.sum() * width
    if _deviance(y, flat) - fit.deviance < NO_DECAY_DEVIANCE:
        flags.append("no_decay_signal")
    if 1.0 / g > float(v[-1]):
        flags.append("lifetime_beyond_window")
    return DecayFit(
        lifetime_ns=1.0 / g,
        lifetime_ns_err=g_err / g**2,
        decay_rate_per_us=1e3 * g,
        decay_rate_per_us_err=1e3 * g_err,
        amplitude_counts_per_ns=float(a),
        amplitude_counts_per_ns_err=_sd(fit.covariance, 0),
        background_counts_per_ns=float(b),
        background_counts_per_ns_err=_sd(fit.covariance, 2),
        deviance=fit.deviance,
        dof=fit.dof,
        deviance_per_dof=dpd,
        fit_start_ns=t0,
        fit_stop_ns=float(v[-1] + t0),
        n_counts=int(y.sum()),
        method="poisson maximum likelihood on the tail, bin-integrated model, no IRF reconvolution",
        converged=fit.converged,
        flags=tuple(flags),
    )


def _decay_window(
    n: FloatArray,
    edges: FloatArray,
    fit_start_ns: float | None,
    fit_stop_ns: float | None,
    start_after_peak_ns: float,
) -> npt.NDArray[np.bool_]:
    """The bins of the fit window: whole bins from the start (default: after the peak) to the stop."""
    # The peak: first the 4 ns window holding the most counts (it starts at the rise), then
    # the highest bin inside it. With a dim dot over a flat background the single highest
    # bin of the whole histogram is often a noise bin anywhere in the period.
    width = min(n.size, max(1, round(4.0 / float(np.median(np.diff(edges))))))
    csum = np.concatenate(([0.0], np.cumsum(n)))
    k0 = int(np.argmax(csum[width:] - csum[:-width]))
    k = k0 + int(np.argmax(n[k0 : k0 + width]))
    peak = 0.5 * (edges[k] + edges[k + 1])
    start = (
        peak + finite_scalar("start_after_peak_ns", start_after_peak_ns, lo=0.0)
        if fit_start_ns is None
        else finite_scalar("fit_start_ns", fit_start_ns)
    )
    # The default stop is the end of the last bin holding counts: beyond it lies no data (a TAC
    # range shorter than the laser period, or a histogram padded to the period).
    last = int(np.flatnonzero(n)[-1])
    stop = float(edges[last + 1]) if fit_stop_ns is None else finite_scalar("fit_stop_ns", fit_stop_ns)
    sel = (edges[:-1] >= start - 1e-9) & (edges[1:] <= stop + 1e-9)
    if np.count_nonzero(sel) < 5:
        raise InvalidValueError(
            f"only {np.count_nonzero(sel)} bins between fit_start_ns={start:g} and fit_stop_ns={stop:g}; "
            "the decay is too short for the bins, or the window starts too late"
        )
    return sel


def _decay_start(y: FloatArray, u: FloatArray, v: FloatArray) -> tuple[float, float, float]:
    """Start values (amplitude, rate, background) of the tail in bins [u, v) from its start."""
    width = v - u
    tail = max(y.size // 10, 1)
    b0 = float(y[-tail:].sum() / width[-tail:].sum())
    sig = np.maximum(y - b0 * width, 0.0)
    mean_t = float((sig * 0.5 * (u + v)).sum() / sig.sum()) if sig.sum() > 0 else float(v[-1]) / 3
    g0 = 1.0 / max(mean_t, float(width[0]))
    a0 = max(float(y[0] / width[0]) - b0, 1.0)
    return a0, g0, b0


def _deviance(y: FloatArray, mu: FloatArray) -> float:
    """Poisson deviance of counts ``y`` against the expectation ``mu``."""
    safe = np.where(y > 0, y, 1.0)
    return 2.0 * float(np.sum(mu - y + np.where(y > 0, y * np.log(safe / mu), 0.0)))


# --------------------------------------------------------------------------- 3. g2 under cw


@dataclass(frozen=True)
class CwG2Fit:
    """g2(τ) = b − (b − g2(0))·exp(−(γ + w_p)|τ − τ0|), b = 1 unless the baseline was freed."""

    g2_zero: float
    g2_zero_err: float
    antibunching_rate_per_us: float
    antibunching_rate_per_us_err: float
    antibunching_time_ns: float
    antibunching_time_ns_err: float
    tau0_ns: float
    tau0_ns_err: float
    baseline: float
    baseline_err: float
    g2_zero_corrected: float | None
    g2_zero_corrected_err: float | None
    rho_a: float | None
    rho_b: float | None
    deviance: float
    dof: int
    deviance_per_dof: float
    window_ns: tuple[float, float]
    n_counts: int
    method: str
    converged: bool
    flags: tuple[str, ...]


def fit_g2_cw(
    tau_ns: Any,
    g2: Any,
    *,
    counts: Any = None,
    norm_factor: float | None = None,
    window_ns: tuple[float, float] | None = None,
    free_baseline: bool = False,
    rho_a: float | None = None,
    rho_b: float | None = None,
) -> CwG2Fit:
    """Poisson ML fit of a normalised cw g2 histogram (bin centres ``tau_ns``), τ0 free, model bin-averaged.

    Give the raw coincidence ``counts`` or the ``norm_factor`` f (g2 = f·counts,
    f = T/(N_A·N_B·Δτ)) so the Poisson errors are known. Signal fractions
    ``rho_a``, ``rho_b`` give g2_corr = (g2 − (1 − ρ_Aρ_B))/(ρ_Aρ_B) as well.
    ``free_baseline`` frees b (blinking bunching near the dip).
    """
    x, y, f, (lo, hi) = _g2_inputs(tau_ns, g2, counts, norm_factor, window_ns)
    edges = _edges("tau_ns", x, x.size)
    left, right = edges[:-1], edges[1:]
    rho_a, rho_b = _signal_fractions(rho_a, rho_b)

    def shape(p: FloatArray) -> FloatArray:
        g0, rate, t0, b = p
        return lineshapes.g2_cw_binned(left, right, g0, rate, t0, b)

    if free_baseline:

        def model(p: FloatArray) -> FloatArray:
            return shape(p) / f
    else:

        def model(p: FloatArray) -> FloatArray:
            return shape(np.append(p, 1.0)) / f

    b0 = float(np.median(y * f)) if free_baseline else 1.0
    fit, bounds = _g2_best_start(model, x, y, f, b0, (lo, hi), free_baseline)
    p, cov = fit.params, _g2_profiled_covariance(model, y, fit, bounds)
    rate, rate_err = float(p[1]), _sd(cov, 1)
    flags, dpd = _poisson_flags(
        ("g2_zero", "rate", "tau0_ns", "baseline")[: p.size], fit, y.sum() < FEW_COUNTS
    )
    g2z, g2z_err = float(p[0]), _sd(cov, 0)
    base, base_err = (float(p[3]), _sd(cov, 3)) if free_baseline else (1.0, 0.0)
    # A dip must be there: g2(0) below the baseline by more than 3σ (a peak, or a flat histogram,
    # is not a single emitter's antibunching, whatever τ0 the fit latched on).
    depth_err = math.hypot(g2z_err, base_err) if math.isfinite(g2z_err) else math.inf
    # With few coincidences Fisher's error at a dip fitted to 0 is meaningless, and τ0 free over the
    # window finds a noise hole somewhere: the dip must also beat a flat g2 by a likelihood ratio of
    # 25 (p ≈ 1e-5 for 3 parameters before the look-elsewhere factor of a few hundred positions).
    flat = np.full(y.size, float(y.mean())) if free_baseline else shape(np.array([1.0, 1.0, 0.0, 1.0])) / f
    if not base - g2z > 3.0 * depth_err or _deviance(y, flat) - fit.deviance < NO_DIP_DEVIANCE:
        flags.append("no_antibunching")
    corr, corr_err = _g2_corrected(g2z, g2z_err, rho_a, rho_b)
    return CwG2Fit(
        g2_zero=g2z,
        g2_zero_err=g2z_err,
        antibunching_rate_per_us=1e3 * rate,
        antibunching_rate_per_us_err=1e3 * rate_err,
        antibunching_time_ns=1.0 / rate,
        antibunching_time_ns_err=rate_err / rate**2,
        tau0_ns=float(p[2]),
        tau0_ns_err=_sd(cov, 2),
        baseline=float(p[3]) if free_baseline else 1.0,
        baseline_err=_sd(cov, 3) if free_baseline else 0.0,
        g2_zero_corrected=corr,
        g2_zero_corrected_err=corr_err,
        rho_a=rho_a,
        rho_b=rho_b,
        deviance=fit.deviance,
        dof=fit.dof,
        deviance_per_dof=dpd,
        window_ns=(lo, hi),
        n_counts=int(y.sum()),
        method="poisson maximum likelihood in counts, "
        + ("free baseline" if free_baseline else "baseline fixed at 1"),
        converged=fit.converged,
        flags=tuple(flags),
    )


def _signal_fractions(rho_a: float | None, rho_b: float | None) -> tuple[float | None, float | None]:
    """The validated signal fractions ρ_A, ρ_B: both or neither."""
    if rho_a is None and rho_b is None:
        return None, None
    if rho_a is None or rho_b is None:
        raise InvalidValueError("give both rho_a and rho_b (signal fractions) or neither")
    return (
        finite_scalar("rho_a", rho_a, lo=0.0, hi=1.0, lo_open=True),
        finite_scalar("rho_b", rho_b, lo=0.0, hi=1.0, lo_open=True),
    )


def _g2_corrected(
    g2z: float, g2z_err: float, rho_a: float | None, rho_b: float | None
) -> tuple[float | None, float | None]:
    """g2_corr = (g2(0) − (1 − ρ_Aρ_B))/(ρ_Aρ_B) and its error, (None, None) without the fractions."""
    if rho_a is None or rho_b is None:
        return None, None
    rr = rho_a * rho_b
    return (g2z - (1.0 - rr)) / rr, g2z_err / rr


def _g2_inputs(
    tau_ns: Any, g2: Any, counts: Any, norm_factor: float | None, window_ns: tuple[float, float] | None
) -> tuple[FloatArray, FloatArray, float, tuple[float, float]]:
    """Bin centres and raw coincidence counts inside the window, the normalisation f, the window."""
    tau = array_1d("tau_ns", tau_ns, min_size=5)
    g = array_1d("g2", g2, min_size=5, nonnegative=True)
    same_length(tau_ns=tau, g2=g)
    increasing("tau_ns", tau)
    if (counts is None) == (norm_factor is None):
        raise InvalidValueError("give exactly one of counts (raw coincidences) or norm_factor (g2 per count)")
    if counts is not None:
        c = array_1d("counts", counts, min_size=5, nonnegative=True)
        same_length(tau_ns=tau, counts=c)
        if c.sum() == 0:
            raise InvalidValueError("the g2 histogram holds no coincidences; acquire longer")
        f = float(g.sum() / c.sum())
        if not np.allclose(g, f * c, rtol=1e-6, atol=1e-12 * max(f, 1e-300)):
            raise InvalidValueError("g2 is not proportional to counts; pass the matching raw histogram")
    else:
        f = finite_scalar("norm_factor", norm_factor, lo=0.0, lo_open=True)
        c = g / f
        if not np.allclose(c, np.round(c), atol=1e-6):
            raise InvalidValueError("g2/norm_factor must give whole coincidence counts; check norm_factor")
        c = np.round(c)
    lo, hi = _window("window_ns", window_ns, (float(tau[0]), float(tau[-1])))
    sel = (tau >= lo) & (tau <= hi)
    if np.count_nonzero(sel) < 8:
        raise InvalidValueError(f"only {np.count_nonzero(sel)} bins in window_ns {(lo, hi)}; widen it")
    x, y = tau[sel], c[sel]
    if y.sum() == 0:
        raise InvalidValueError("no coincidences inside window_ns; widen it or acquire longer")
    return x, y, f, (lo, hi)


def _g2_best_start(
    model: Callable[[FloatArray], FloatArray],
    x: FloatArray,
    y: FloatArray,
    f: float,
    b0: float,
    window: tuple[float, float],
    free_baseline: bool,
) -> tuple[PoissonFit, tuple[FloatArray, FloatArray]]:
    """The fit from the best of three starts (the lowest deviance), and the parameter bounds."""
    lo, hi = window
    lower_list, upper_list = [0.0, 1e-6, lo], [10.0, 1e3, hi]
    if free_baseline:
        lower_list, upper_list = [*lower_list, 0.0], [*upper_list, 100.0]
    lower, upper = np.array(lower_list), np.array(upper_list)
    # Start from the dip of the histogram smoothed at three widths (1/40, 1/12 and 1/5 of the
    # window): with few coincidences the narrowest smoothing finds a noise minimum, the widest
    # finds the real dip; the fit with the lowest deviance wins.
    fit = None
    for k in sorted({max(int(x.size // d), 1) for d in (40, 12, 5)}):
        p0, scale = _g2_start(x, y * f, k, b0, lo, hi)
        if free_baseline:
            p0, scale = [*p0, b0], [*scale, 0.1]
        start = np.clip(np.array(p0, dtype=np.float64), lower, upper)  # a noisy median can start outside
        trial = poisson_fit(model, y, start, np.array(lower), np.array(upper), np.array(scale))
        if fit is None or trial.deviance < fit.deviance - 1e-9:
            fit = trial
    assert fit is not None
    return fit, (lower, upper)


def _g2_profiled_covariance(
    model: Callable[[FloatArray], FloatArray],
    y: FloatArray,
    fit: PoissonFit,
    bounds: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """Fisher's covariance, with the variances of τ0 and g2(0) widened to their profile errors."""
    lower, upper = bounds
    p, cov = fit.params, fit.covariance
    # τ0's likelihood is a cusp, not a parabola, when the dip is deep: its error from the curvature of
    # the profile deviance over ±2σ (two refits with τ0 held) where that is wider than Fisher's.
    t0_err = _profile_sd(model, y, fit, 2, np.array(lower), np.array(upper))
    if math.isfinite(t0_err) and t0_err**2 > cov[2, 2]:
        cov = cov.copy()
        cov[2, 2] = t0_err**2
    # g2(0) likewise: it trades off against the rate (a narrow deep dip or a wide shallow one), and at
    # its bound of 0 its likelihood is one-sided.
    g0_err = _profile_sd(model, y, fit, 0, np.array(lower), np.array(upper))
    if math.isfinite(g0_err) and p[0] - lower[0] < g0_err:  # one-sided: once more where Δdeviance ≈ 1
        g0_err = _profile_sd(model, y, fit, 0, np.array(lower), np.array(upper), step=g0_err)
    if math.isfinite(g0_err) and g0_err**2 > cov[0, 0]:
        cov = cov.copy()
        cov[0, 0] = g0_err**2
    return cov


def _g2_start(
    x: FloatArray, g: FloatArray, k: int, b0: float, lo: float, hi: float
) -> tuple[list[float], list[float]]:
    """Start values (g2(0), rate, τ0) from the minimum of g2 smoothed over 2k + 1 bins."""
    smooth = np.convolve(g, np.ones(2 * k + 1) / (2 * k + 1), mode="same")
    inner = slice(k, x.size - k) if x.size > 2 * k + 2 else slice(None)
    i_min = int(np.argmin(smooth[inner])) + (inner.start or 0)
    g00 = float(min(max(smooth[i_min], 0.0), 0.9 * b0))
    half = np.abs(x - x[i_min])[smooth > 0.5 * (b0 + g00)]
    rate0 = 1.0 / max(float(half.min()) if half.size else (hi - lo) / 4, float(np.median(np.diff(x))), 1e-3)
    return [g00, rate0 * math.log(2.0), float(x[i_min])], [0.1, rate0, 1.0]


def _profile_sd(
    model: Callable[[FloatArray], FloatArray],
    counts: FloatArray,
    fit: PoissonFit,
    i: int,
    lower: FloatArray,
    upper: FloatArray,
    step: float | None = None,
) -> float:
    """1σ of parameter ``i`` from the profile deviance at ±h (h = 2 Fisher σ): the others refitted.

    At a bound only the inner side is profiled (σ = h/√Δdeviance there): a g2(0)
    fitted to 0 is a one-sided likelihood, and Fisher's curvature at the bound
    says nothing about how far up the data allow it.
    """
    sd = _sd(fit.covariance, i)
    if not (math.isfinite(sd) and sd > 0):
        return math.nan
    h = 2.0 * sd if step is None else step
    free = [j for j in range(fit.params.size) if j != i]
    devs = []
    for sign in (-1.0, 1.0):
        held = float(np.clip(fit.params[i] + sign * h, lower[i], upper[i]))
        if abs(held - fit.params[i]) < 0.5 * h:  # at (or next to) a bound: profile the inner side only
            continue

        def sub_model(q: FloatArray, held: float = held) -> FloatArray:
            full = np.insert(q, i, held)
            out: FloatArray = model(full)
            return out

        lo, hi = lower[free], upper[free]
        q0 = np.clip(fit.params[free], lo, hi)
        q0 = np.where(q0 <= lo, lo + 1e-9 * np.maximum(np.abs(lo), 1.0), q0)
        scale = np.maximum(np.abs(q0), 1e-3)
        try:
            sub = poisson_fit(sub_model, counts, q0, lo, hi, scale)
        except ValueError:  # an infeasible start: keep Fisher's error
            return math.nan
        devs.append(sub.deviance - fit.deviance)
    if not devs:
        return math.nan
    curvature = sum(devs) / (len(devs) * h * h)  # Δdeviance ≈ (Δθ/σ)²
    if not curvature > 0:
        return math.inf
    return math.sqrt(1.0 / curvature)


# --------------------------------------------------------------------------- 4. g2 under pulsed excitation


@dataclass(frozen=True)
class PulsedG2:
    """g2(0) = area(peak 0) / mean area of the side peaks k = ±1 … ±n_side_peaks (no background removed)."""

    g2_zero: float
    g2_zero_err: float
    center_area_counts: int
    side_area_mean_counts: float
    side_areas_counts: tuple[int, ...]
    n_side_peaks: int
    period_ns: float
    center_ns: float
    half_window_ns: float
    method: str
    flags: tuple[str, ...]


def g2_pulsed(
    tau_ns: Any,
    counts: Any,
    *,
    period_ns: float,
    n_side_peaks: int = 4,
    center_ns: float = 0.0,
    half_window_ns: float | None = None,
) -> PulsedG2:
    """Peak areas of a pulsed coincidence histogram (bin centres ``tau_ns``, raw ``counts``).

    Areas sum the bins whose centres lie within ±``half_window_ns`` (default half
    the period) of center_ns + k·period for k = 0 and k = ±1 … ±n_side_peaks.
    Uncertainty: Poisson on every area, by the delta method (a zero centre area counts as 1).
    When the lifetime is not short against the period, the tails of the side peaks
    leak into the centre window (a fraction ≈ exp(−period/(2·lifetime))); narrow
    ``half_window_ns`` or correct for it.
    """
    tau = array_1d("tau_ns", tau_ns, min_size=3)
    c = array_1d("counts", counts, min_size=3, nonnegative=True)
    same_length(tau_ns=tau, counts=c)
    increasing("tau_ns", tau)
    period = finite_scalar("period_ns", period_ns, lo=0.0, lo_open=True)
    if not isinstance(n_side_peaks, int | np.integer) or n_side_peaks < 1:
        raise InvalidValueError(f"n_side_peaks must be a whole number >= 1 (per side), got {n_side_peaks!r}")
    n_side = int(n_side_peaks)
    centre = finite_scalar("center_ns", center_ns)
    hw = 0.5 * period if half_window_ns is None else finite_scalar("half_window_ns", half_window_ns, lo=0.0)
    if not 0 < hw <= 0.5 * period:
        raise InvalidValueError(f"half_window_ns must be in (0, period/2 = {0.5 * period:g}] ns")
    step = float(np.median(np.diff(tau)))
    if centre - n_side * period - hw < tau[0] - step or centre + n_side * period + hw > tau[-1] + step:
        raise InvalidValueError(
            f"the histogram ({tau[0]:g} to {tau[-1]:g} ns) does not cover {n_side} side peaks on each side "
            f"of {centre:g} ns (period {period:g} ns); histogram a wider range or use fewer side peaks"
        )
    if c.sum() == 0:
        raise InvalidValueError("the coincidence histogram holds no counts; acquire longer")

    def area(k: int) -> int:
        mid = centre + k * period
        return int(c[(tau >= mid - hw) & (tau < mid + hw)].sum())

    a0 = area(0)
    sides = tuple(area(k) for k in range(-n_side, n_side + 1) if k != 0)
    total = float(sum(sides))
    flags: list[str] = []
    if total == 0:
        raise InvalidValueError("the side peaks are empty; acquire longer or check period_ns and center_ns")
    mean_side = total / len(sides)
    g2z = a0 / mean_side
    # var(A0) = A0, var(mean side) = Σ A_k / n²
    g2z_err = math.sqrt(max(a0, 1) + g2z**2 * total / len(sides) ** 2) / mean_side
    if a0 == 0:
        flags.append("zero_center_area")
    if mean_side < FEW_COUNTS / 10:
        flags.append("few_counts")
    return PulsedG2(
        g2_zero=g2z,
        g2_zero_err=g2z_err,
        center_area_counts=a0,
        side_area_mean_counts=mean_side,
        side_areas_counts=sides,
        n_side_peaks=n_side,
        period_ns=period,
        center_ns=centre,
        half_window_ns=hw,
        method="peak-area ratio, Poisson errors (delta method), no background subtraction",
        flags=tuple(flags),
    )


def pulsed_peak_offset(tau_ns: Any, counts: Any, *, period_ns: float) -> tuple[float, float]:
    """Where the peaks of a pulsed coincidence histogram sit relative to k·period (the cable delay τ0).

    The histogram is folded modulo the period, the centre peak (|τ| < period/2)
    left out so an empty zero-delay peak does not matter, the floor subtracted,
    and the circular mean of the folded counts taken. Returns (τ0, its 1σ error)
    in ns, τ0 in (−period/2, period/2].
    """
    tau = array_1d("tau_ns", tau_ns, min_size=3)
    c = array_1d("counts", counts, min_size=3, nonnegative=True)
    same_length(tau_ns=tau, counts=c)
    period = finite_scalar("period_ns", period_ns, lo=0.0, lo_open=True)
    side = np.abs(tau) >= 0.5 * period
    if not np.any(c[side] > 0):
        raise InvalidValueError("the side peaks are empty; acquire longer or check the laser period")
    phase = 2.0 * np.pi * np.mod(tau[side], period) / period
    w = c[side] - float(np.percentile(c[side], 10))
    w = np.maximum(w, 0.0)
    if w.sum() <= 0:
        w = c[side]
    z = np.sum(w * np.exp(1j * phase)) / w.sum()
    centre = float(np.angle(z)) * period / (2.0 * np.pi)
    # Circular SD → error of the mean over the effective number of counts.
    spread = math.sqrt(max(-2.0 * math.log(max(abs(z), 1e-12)), 0.0)) * period / (2.0 * np.pi)
    err = spread / math.sqrt(max(float(w.sum()), 1.0))
    if centre <= -0.5 * period:
        centre += period
    return centre, err


@dataclass(frozen=True)
class PulsedG2Fit:
    """Pulsed g2 from a model of the whole histogram: Laplace peaks at τ0 + k·P over a flat floor.

    ``g2_zero`` = centre-peak area / side-peak area with the uncorrelated floor
    (background pairs) removed and each peak's tails counted in full, wherever
    they fall (no leak between windows).
    """

    g2_zero: float
    g2_zero_err: float
    side_area_counts: float
    side_area_counts_err: float
    rate_per_ns: float
    rate_per_ns_err: float
    tau0_ns: float
    tau0_ns_err: float
    background_per_ns: float
    background_per_ns_err: float
    n_peaks: int
    period_ns: float
    deviance_per_dof: float
    converged: bool
    flags: tuple[str, ...]


def fit_g2_pulsed(
    tau_ns: Any, counts: Any, *, period_ns: float, n_side_peaks: int = 4, tau0_ns: float | None = None
) -> PulsedG2Fit:
    """Poisson ML fit of :func:`qdcat.analysis.lineshapes.pulsed_g2_binned` to a pulsed histogram.

    ``tau_ns`` are bin centres (equal widths). The fit covers the peaks k = −n … n
    (n = ``n_side_peaks``) and half a period beyond; the model holds the whole
    train of peaks, so the tails of peaks outside the window are not taken for floor.
    """
    tau = array_1d("tau_ns", tau_ns, min_size=8)
    c = array_1d("counts", counts, min_size=8, nonnegative=True)
    same_length(tau_ns=tau, counts=c)
    increasing("tau_ns", tau)
    period = finite_scalar("period_ns", period_ns, lo=0.0, lo_open=True)
    if not isinstance(n_side_peaks, int | np.integer) or n_side_peaks < 1:
        raise InvalidValueError(f"n_side_peaks must be a whole number >= 1 (per side), got {n_side_peaks!r}")
    n = int(n_side_peaks)
    t0 = (
        pulsed_peak_offset(tau, c, period_ns=period)[0]
        if tau0_ns is None
        else finite_scalar("tau0_ns", tau0_ns)
    )
    half = (n + 0.5) * period
    sel = (tau >= t0 - half) & (tau <= t0 + half)
    x, y = tau[sel], c[sel]
    if y.sum() == 0 or x.size < 8:
        raise InvalidValueError("no coincidences within the side peaks; acquire longer")
    edges = _edges("tau_ns", x, x.size)
    lo, hi = edges[:-1], edges[1:]
    width = float(np.median(hi - lo))

    def model(p: FloatArray) -> FloatArray:
        area, g0, rate, tz, b = p
        return lineshapes.pulsed_g2_binned(lo, hi, area, g0, rate, tz, period, b)

    floor = float(np.percentile(y, 5)) / width
    side = np.abs(x - t0) > 0.5 * period
    area0 = max(float(y[side].sum() - floor * width * side.sum()) / (2 * n), 1.0)
    peak = float(np.max(y[side])) / width - floor
    rate0 = min(max(2.0 * peak / area0, 4.0 / period), 50.0)
    centre = np.abs(x - t0) <= 0.5 * period
    g0 = min(max(float(y[centre].sum() - floor * width * centre.sum()) / area0, 0.0), 2.0)
    p0 = np.array([area0, g0, rate0, t0, max(floor, 1e-6)])
    lower = np.array([0.0, 0.0, 0.1 / period, t0 - 0.25 * period, 0.0])
    upper = np.array([np.inf, 20.0, 1e3, t0 + 0.25 * period, np.inf])
    fit = poisson_fit(
        model, y, p0, lower, upper, np.array([area0, 0.1, rate0, 1.0, max(floor, 1e-3)]), max_nfev=400
    )
    p, cov = fit.params, fit.covariance
    flags, dpd = _poisson_flags(
        ("side_area", "g2_zero", "rate", "tau0_ns", "background"), fit, p[0] * 2 * n < FEW_COUNTS
    )
    return PulsedG2Fit(
        g2_zero=float(p[1]),
        g2_zero_err=_sd(cov, 1),
        side_area_counts=float(p[0]),
        side_area_counts_err=_sd(cov, 0),
        rate_per_ns=float(p[2]),
        rate_per_ns_err=_sd(cov, 2),
        tau0_ns=float(p[3]),
        tau0_ns_err=_sd(cov, 3),
        background_per_ns=float(p[4]),
        background_per_ns_err=_sd(cov, 4),
        n_peaks=n,
        period_ns=period,
        deviance_per_dof=dpd,
        converged=fit.converged,
        flags=tuple(flags),
    )


# --------------------------------------------------------------------------- 5. power series


def sigma_from_slope_cm2(slope_cm2_per_j: float, wavelength_nm: float = 445.0) -> float:
    """Absorption cross-section σ = slope·ħω_p (slope of γ + w_p vs I in cm²/J)."""
    return finite_scalar("slope_cm2_per_j", slope_cm2_per_j) * photon_energy_j(wavelength_nm)


def sigma_from_saturation_cm2(
    decay_rate_per_us: float, saturation_intensity_w_cm2: float, wavelength_nm: float = 445.0
) -> float:
    """σ = ħω_p·γ/I_S in cm² (γ in µs⁻¹, I_S in W/cm²)."""
    gamma = finite_scalar("decay_rate_per_us", decay_rate_per_us, lo=0.0, lo_open=True)
    i_s = finite_scalar("saturation_intensity_w_cm2", saturation_intensity_w_cm2, lo=0.0, lo_open=True)
    return photon_energy_j(wavelength_nm) * gamma * 1e6 / i_s


@dataclass(frozen=True)
class PowerSeriesFit:
    """γ + w_p = γ + (σ/ħω_p)·I, weighted linear fit; σ and I_S = γ/slope derived."""

    slope_cm2_per_j: float
    slope_cm2_per_j_err: float
    decay_rate_per_us: float
    decay_rate_per_us_err: float
    slope_intercept_corr: float
    sigma_cm2: float
    sigma_cm2_err: float
    saturation_intensity_w_cm2: float
    saturation_intensity_w_cm2_err: float
    # 68 % interval of I_S = γ/slope by Fieller's theorem: a ratio's errors are not symmetric
    # when the slope is uncertain (NaN bounds: the slope is not significant at 1σ).
    saturation_intensity_w_cm2_lo: float
    saturation_intensity_w_cm2_hi: float
    photon_energy_j: float
    wavelength_nm: float
    reduced_chi2: float
    dof: int
    method: str
    flags: tuple[str, ...]


def fieller_interval(
    numerator: float, denominator: float, var_num: float, var_den: float, cov: float, t: float = 1.0
) -> tuple[float, float]:
    """Confidence interval of a ratio a/b of correlated normal estimates (Fieller's theorem).

    Solves (a − ρb)² = t²(var_a − 2ρ·cov + ρ²·var_b) for ρ; bounded only when b is
    significant at the t-level (b² > t²·var_b), otherwise (nan, nan).
    """
    a, b = numerator, denominator
    qa = b * b - t * t * var_den
    qb = -2.0 * (a * b - t * t * cov)
    qc = a * a - t * t * var_num
    disc = qb * qb - 4.0 * qa * qc
    if qa <= 0 or disc < 0:
        return math.nan, math.nan
    root = math.sqrt(disc)
    lo, hi = sorted(((-qb - root) / (2 * qa), (-qb + root) / (2 * qa)))
    return lo, hi


def fit_power_series(
    intensity_w_cm2: Any,
    rate_per_us: Any,
    rate_per_us_err: Any,
    *,
    wavelength_nm: float = 445.0,
) -> PowerSeriesFit:
    """Weighted (1/σ²) linear fit of the antibunching rates γ + w_p (µs⁻¹) against intensity (W/cm²).

    Uncertainties are the unscaled covariance (the rate errors are taken as
    known); I_S's includes the slope–intercept covariance.
    """
    i = array_1d("intensity_w_cm2", intensity_w_cm2, min_size=3)
    r = array_1d("rate_per_us", rate_per_us, min_size=3)
    e = array_1d("rate_per_us_err", rate_per_us_err, min_size=3)
    same_length(intensity_w_cm2=i, rate_per_us=r, rate_per_us_err=e)
    if np.any(i <= 0) or np.any(e <= 0):
        raise InvalidValueError("intensities and rate uncertainties must all be > 0")
    if np.unique(i).size < 2:
        raise InvalidValueError("the power series needs at least two distinct intensities")
    energy = photon_energy_j(wavelength_nm)
    design = np.column_stack((np.ones_like(i), i)) / e[:, None]
    cov = np.linalg.inv(design.T @ design)
    intercept, slope = cov @ (design.T @ (r / e))
    resid = (r - intercept - slope * i) / e
    dof = i.size - 2
    chi2 = float(resid @ resid) / dof
    var_b, var_s, cov_bs = cov[0, 0], cov[1, 1], cov[0, 1]
    flags = []
    if slope <= 0 or intercept <= 0:
        flags.append("nonphysical_sign")
    i_s_lo, i_s_hi = fieller_interval(float(intercept), float(slope), var_b, var_s, cov_bs)
    if slope != 0:
        i_s = intercept / slope
        var_is = var_b / slope**2 + intercept**2 * var_s / slope**4 - 2.0 * intercept * cov_bs / slope**3
    else:
        i_s = var_is = math.nan
    if chi2 > 1.0 + 5.0 * math.sqrt(2.0 / dof):
        flags.append("poor_fit")
    return PowerSeriesFit(
        slope_cm2_per_j=float(slope) * 1e6,
        slope_cm2_per_j_err=math.sqrt(var_s) * 1e6,
        decay_rate_per_us=float(intercept),
        decay_rate_per_us_err=math.sqrt(var_b),
        slope_intercept_corr=float(cov_bs / math.sqrt(var_b * var_s)),
        sigma_cm2=float(slope) * 1e6 * energy,
        sigma_cm2_err=math.sqrt(var_s) * 1e6 * energy,
        saturation_intensity_w_cm2=float(i_s),
        saturation_intensity_w_cm2_err=math.sqrt(max(var_is, 0.0)) if math.isfinite(var_is) else math.nan,
        saturation_intensity_w_cm2_lo=i_s_lo,
        saturation_intensity_w_cm2_hi=i_s_hi,
        photon_energy_j=energy,
        wavelength_nm=float(wavelength_nm),
        reduced_chi2=chi2,
        dof=dof,
        method="weighted linear least squares, unscaled covariance",
        flags=tuple(flags),
    )


# --------------------------------------------------------------------------- 6. ensemble saturation


@dataclass(frozen=True)
class SaturationFit:
    """I_PL = A·I/(I + I_S) + c; with a decay rate γ, σ = ħω_p·γ/I_S."""

    amplitude_counts: float
    amplitude_counts_err: float
    saturation_intensity_w_cm2: float
    saturation_intensity_w_cm2_err: float
    offset_counts: float
    offset_counts_err: float
    sigma_cm2: float | None
    sigma_cm2_err: float | None
    decay_rate_per_us: float | None
    wavelength_nm: float
    reduced_chi2: float
    dof: int
    method: str
    converged: bool
    flags: tuple[str, ...]


def fit_saturation(
    intensity_w_cm2: Any,
    pl_counts: Any,
    *,
    pl_counts_err: Any = None,
    relative_noise: float = 0.0,
    fit_offset: bool = True,
    decay_rate_per_us: float | None = None,
    decay_rate_per_us_err: float = 0.0,
    wavelength_nm: float = 445.0,
) -> SaturationFit:
    """Weighted least squares of a saturation series.

    Without ``pl_counts_err`` the variance is model + (relative_noise·model)²
    (Poisson counting plus a known relative fluctuation of each point),
    refined over three passes.
    """
    n_par = 3 if fit_offset else 2
    x, y, err, rel = _saturation_inputs(intensity_w_cm2, pl_counts, pl_counts_err, relative_noise, n_par)

    def model(p: FloatArray) -> FloatArray:
        return lineshapes.saturation(x, p[0], p[1], p[2] if fit_offset else 0.0)

    c0 = max(float(y[0]), 0.0) if fit_offset else 0.0
    a0 = max(float(y[-1]) - c0, 1.0) * 1.2
    above = y - c0 > 0.5 * a0
    half = x[int(np.argmax(above))] if np.any(above) else x[-1]
    p = np.array([a0, float(half), c0])[:n_par]
    lower = np.array([0.0, 1e-6 * float(x[0]), -np.inf])[:n_par]
    upper = np.array([np.inf, 1e6 * float(x[-1]), np.inf])[:n_par]
    x_scale = np.array([a0, float(half), max(abs(c0), 1.0)])[:n_par]
    p, jac, var, converged = _saturation_passes(model, y, p, (lower, upper), x_scale, err, rel)
    r = (model(p) - y) / np.sqrt(var)
    cov = _jtj_inverse(jac)
    if cov is None:
        cov, converged = np.full((n_par, n_par), np.nan), False
    dof = x.size - n_par
    chi2 = float(r @ r) / dof
    flags = _bound_flags(("amplitude", "saturation_intensity", "offset")[:n_par], at_bounds(p, lower, upper))
    if not converged:
        flags.append("not_converged")
    if chi2 > 1.0 + 5.0 * math.sqrt(2.0 / dof):
        flags.append("poor_fit")
    if p[1] > x[-1]:
        flags.append("saturation_beyond_range")
    i_s, i_s_err = float(p[1]), _sd(cov, 1)
    sigma = sigma_err = gamma = None
    if decay_rate_per_us is not None:
        gamma = finite_scalar("decay_rate_per_us", decay_rate_per_us, lo=0.0, lo_open=True)
        g_err = finite_scalar("decay_rate_per_us_err", decay_rate_per_us_err, lo=0.0)
        sigma = sigma_from_saturation_cm2(gamma, i_s, wavelength_nm)
        sigma_err = sigma * math.hypot(g_err / gamma, i_s_err / i_s)
    return SaturationFit(
        amplitude_counts=float(p[0]),
        amplitude_counts_err=_sd(cov, 0),
        saturation_intensity_w_cm2=i_s,
        saturation_intensity_w_cm2_err=i_s_err,
        offset_counts=float(p[2]) if fit_offset else 0.0,
        offset_counts_err=_sd(cov, 2) if fit_offset else 0.0,
        sigma_cm2=sigma,
        sigma_cm2_err=sigma_err,
        decay_rate_per_us=gamma,
        wavelength_nm=float(wavelength_nm),
        reduced_chi2=chi2,
        dof=dof,
        method="weighted least squares, "
        + ("given errors" if err is not None else f"variance = model + ({rel:g}·model)^2"),
        converged=converged and "not_converged" not in flags,
        flags=tuple(flags),
    )


def _saturation_inputs(
    intensity_w_cm2: Any, pl_counts: Any, pl_counts_err: Any, relative_noise: float, n_par: int
) -> tuple[FloatArray, FloatArray, FloatArray | None, float]:
    """The validated intensities, PL counts, their errors (None if not given) and relative noise."""
    x = array_1d("intensity_w_cm2", intensity_w_cm2, min_size=4)
    y = array_1d("pl_counts", pl_counts, min_size=4)
    same_length(intensity_w_cm2=x, pl_counts=y)
    increasing("intensity_w_cm2", x)
    if x[0] <= 0:
        raise InvalidValueError("intensities must be > 0 W/cm²")
    rel = finite_scalar("relative_noise", relative_noise, lo=0.0, hi=1.0)
    err = None
    if pl_counts_err is not None:
        err = array_1d("pl_counts_err", pl_counts_err, min_size=4)
        same_length(intensity_w_cm2=x, pl_counts_err=err)
        if np.any(err <= 0):
            raise InvalidValueError("pl_counts_err must be > 0 everywhere")
    if x.size <= n_par:
        raise InvalidValueError(
            f"{x.size} points cannot constrain {n_par} parameters; measure more intensities"
        )
    return x, y, err, rel


def _saturation_passes(
    model: Callable[[FloatArray], FloatArray],
    y: FloatArray,
    p: FloatArray,
    bounds: tuple[FloatArray, FloatArray],
    x_scale: FloatArray,
    err: FloatArray | None,
    rel: float,
) -> tuple[FloatArray, FloatArray, FloatArray, bool]:
    """One fit with the given errors, or three with variance = model + (rel·model)²: (params, Jacobian,
    variance, converged)."""
    var = err**2 if err is not None else np.maximum(y, 1.0) + (rel * y) ** 2
    converged = True
    for _ in range(1 if err is not None else 3):
        sd = np.sqrt(var)
        res = optimize.least_squares(
            lambda q, sd=sd: (model(q) - y) / sd,
            p,
            bounds=bounds,
            x_scale=x_scale,
        )
        p, converged = res.x, bool(res.success)
        if err is None:
            m = np.maximum(model(p), 1.0)
            var = m + (rel * m) ** 2
    return p, res.jac, var, converged


# --------------------------------------------------------------------------- 8. biexciton yield


@dataclass(frozen=True)
class BiexcitonYield:
    """PLQY_XX = γ_r,XX/γ_XX with γ_r,XX = 4γ (γ: exciton decay rate in solution)."""

    radiative_rate_xx_per_ns: float
    radiative_rate_xx_per_ns_err: float
    plqy_xx: float
    plqy_xx_err: float
    biexciton_rate_per_ns: float
    decay_rate_per_us: float


def biexciton_yield(
    biexciton_rate_per_ns: float,
    decay_rate_per_us: float,
    *,
    biexciton_rate_per_ns_err: float = 0.0,
    decay_rate_per_us_err: float = 0.0,
) -> BiexcitonYield:
    """Biexciton quantum yield from the fast TA rate γ_XX (ns⁻¹) and the exciton rate γ (µs⁻¹)."""
    g_xx = finite_scalar("biexciton_rate_per_ns", biexciton_rate_per_ns, lo=0.0, lo_open=True)
    g = finite_scalar("decay_rate_per_us", decay_rate_per_us, lo=0.0, lo_open=True)
    g_xx_err = finite_scalar("biexciton_rate_per_ns_err", biexciton_rate_per_ns_err, lo=0.0)
    g_err = finite_scalar("decay_rate_per_us_err", decay_rate_per_us_err, lo=0.0)
    radiative = 4.0 * g * 1e-3  # µs⁻¹ → ns⁻¹
    plqy = radiative / g_xx
    return BiexcitonYield(
        radiative_rate_xx_per_ns=radiative,
        radiative_rate_xx_per_ns_err=4.0 * g_err * 1e-3,
        plqy_xx=plqy,
        plqy_xx_err=plqy * math.hypot(g_err / g, g_xx_err / g_xx),
        biexciton_rate_per_ns=g_xx,
        decay_rate_per_us=g,
    )
