"""Model curves, defined once: the fits minimise against them and the figures draw them from stored results.

Plain functions of arrays and parameters that know nothing about fitting
(as lmfit's ``lineshapes``). Units are in the parameter names; every function
accepts scalars or arrays and returns float64 arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "exp_tail_binned",
    "g2_cw",
    "g2_cw_binned",
    "linear",
    "lorentzian",
    "power_law_log_norm",
    "power_law_pmf",
    "pulsed_g2_binned",
    "saturation",
    "ta_biexponential",
]

_EXPLICIT_TERMS = 2000  # power-law normalisation: this many terms exactly, the rest by Euler–Maclaurin


def _f(x: Any) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def lorentzian(
    wavelength_nm: Any, amplitude: float, center_nm: float, fwhm_nm: float, offset: float = 0.0
) -> FloatArray:
    """I(λ) = A·(w/2)² / ((λ − λ0)² + (w/2)²) + c (peak height A above the offset c)."""
    x = _f(wavelength_nm)
    h2 = 0.25 * fwhm_nm * fwhm_nm
    out: FloatArray = amplitude * h2 / ((x - center_nm) ** 2 + h2) + offset
    return out


def exp_tail_binned(
    left_ns: Any,
    right_ns: Any,
    amplitude_per_ns: float,
    rate_per_ns: float,
    background_per_ns: float,
    start_ns: float = 0.0,
) -> FloatArray:
    """Expected counts of bins [left, right) of A·exp(−γ(t − t_start)) + B, integrated over each bin."""
    u = _f(left_ns) - start_ns
    v = _f(right_ns) - start_ns
    out: FloatArray = amplitude_per_ns * (np.exp(-rate_per_ns * u) - np.exp(-rate_per_ns * v)) / rate_per_ns
    out = out + background_per_ns * (v - u)
    return out


def g2_cw(
    tau_ns: Any, g2_zero: float, rate_per_ns: float, tau0_ns: float, baseline: float = 1.0
) -> FloatArray:
    """g2(τ) = b − (b − g2(0))·exp(−(γ + w_p)|τ − τ0|): the cw antibunching dip of a two-level emitter."""
    s = np.abs(_f(tau_ns) - tau0_ns)
    out: FloatArray = baseline - (baseline - g2_zero) * np.exp(-rate_per_ns * s)
    return out


def g2_cw_binned(
    left_ns: Any, right_ns: Any, g2_zero: float, rate_per_ns: float, tau0_ns: float, baseline: float = 1.0
) -> FloatArray:
    """:func:`g2_cw` averaged over bins [left, right): what a histogram bin holds.

    F(s) = sign(s)·(1 − e^{−r|s|})/r is an antiderivative of e^{−r|s|}; the bin
    average keeps the bin at τ0 above 0 when g2(0) → 0.
    """
    sl = _f(left_ns) - tau0_ns
    su = _f(right_ns) - tau0_ns
    r = rate_per_ns
    mean_exp = (np.sign(su) * -np.expm1(-r * np.abs(su)) - np.sign(sl) * -np.expm1(-r * np.abs(sl))) / (
        r * (su - sl)
    )
    out: FloatArray = baseline - (baseline - g2_zero) * mean_exp
    return out


def linear(x: Any, intercept: float, slope: float) -> FloatArray:
    out: FloatArray = intercept + slope * _f(x)
    return out


def saturation(
    intensity_w_cm2: Any, amplitude: float, saturation_intensity_w_cm2: float, offset: float = 0.0
) -> FloatArray:
    """I_PL = A·I/(I + I_S) + c: the emission of an effective two-level system vs excitation intensity."""
    x = _f(intensity_w_cm2)
    out: FloatArray = amplitude * x / (x + saturation_intensity_w_cm2) + offset
    return out


def ta_biexponential(
    time_ps: Any,
    fast_amplitude: float,
    biexciton_rate_per_ns: float,
    slow_amplitude: float,
    slow_rate_per_ns: float,
    offset: float = 0.0,
) -> FloatArray:
    """ΔA(t) = A_f·exp(−γ_XX·t) + A_s·exp(−γ·t) + c with t in ps and rates in ns⁻¹."""
    t_ns = _f(time_ps) * 1e-3
    out: FloatArray = (
        fast_amplitude * np.exp(-biexciton_rate_per_ns * t_ns)
        + slow_amplitude * np.exp(-slow_rate_per_ns * t_ns)
        + offset
    )
    return out


def power_law_log_norm(k: float, x_min: int, x_max: int) -> float:
    """log Σ_{x=x_min}^{x_max} x^−k, exact for the first terms and Euler–Maclaurin beyond (error < 1e-12)."""
    split = min(x_max, x_min + _EXPLICIT_TERMS - 1)
    xs = np.arange(x_min, split + 1, dtype=np.float64) / x_min
    total = float(np.sum(xs**-k))
    if split < x_max:
        a, b = (split + 1) / x_min, x_max / x_min  # the tail, in units of x_min
        la = math.log(a)
        lr = math.log(b / a)
        e = 1.0 - k
        integral = math.exp(e * la) * (lr if abs(e) < 1e-12 else math.expm1(e * lr) / e) * x_min
        ends = 0.5 * (a**-k + b**-k)
        deriv = -k * (b ** (-k - 1.0) - a ** (-k - 1.0)) / (12.0 * x_min)
        total += integral + ends + deriv
    return -k * math.log(x_min) + math.log(total)


def power_law_pmf(x_bins: Any, k: float, x_min: int, x_max: int) -> FloatArray:
    """P(x) = x^−k / Σ_{x_min}^{x_max} y^−k: a discrete, doubly truncated power law (x in whole bins)."""
    x = _f(x_bins)
    out: FloatArray = np.exp(-k * np.log(x) - power_law_log_norm(k, x_min, x_max))
    return np.where((x >= x_min) & (x <= x_max), out, 0.0)


def pulsed_g2_binned(
    left_ns: Any,
    right_ns: Any,
    side_area_counts: float,
    g2_zero: float,
    rate_per_ns: float,
    tau0_ns: float,
    period_ns: float,
    background_per_ns: float,
) -> FloatArray:
    """Expected coincidences per bin of a pulsed g2: Laplace peaks at τ0 + k·P over a flat floor.

    Two photons of different pulses, each delayed by an exponential of rate γ,
    are separated by a Laplace distribution (γ/2)·exp(−γ|s|) around k·P. Every
    side peak holds ``side_area_counts``, the centre ``g2_zero`` times that;
    uncorrelated (background) pairs add a flat floor. The train of peaks is
    summed in closed form: Σ_k (γ/2)·e^{−γ|s − kP|} = (γ/2)·cosh(γ(P/2 − |s'|))/sinh(γP/2)
    with s' = s folded into (−P/2, P/2]. The centre peak is integrated over each
    bin exactly; the rest of the train (smooth at the bin scale) at the bin centre.
    """
    lo = _f(left_ns)
    hi = _f(right_ns)
    r = rate_per_ns
    mid = 0.5 * (lo + hi) - tau0_ns
    width = hi - lo
    folded = np.abs(np.mod(mid + 0.5 * period_ns, period_ns) - 0.5 * period_ns)
    # cosh(γ(P/2 − x))/sinh(γP/2) written with exponentials that cannot overflow
    a = r * period_ns
    train = 0.5 * r * (np.exp(-r * folded) + np.exp(-(a - r * folded))) / -np.expm1(-a)
    centre_mid = 0.5 * r * np.exp(-r * np.abs(mid))

    def cdf(s: FloatArray) -> FloatArray:  # ∫_{-∞}^{s} (γ/2)e^{−γ|u|} du
        out: FloatArray = np.where(
            s < 0, 0.5 * np.exp(r * np.minimum(s, 0.0)), 1.0 - 0.5 * np.exp(-r * np.maximum(s, 0.0))
        )
        return out

    centre = cdf(hi - tau0_ns) - cdf(lo - tau0_ns)
    total: FloatArray = background_per_ns * width + side_area_counts * (
        (train - centre_mid) * width + g2_zero * centre
    )
    return total
