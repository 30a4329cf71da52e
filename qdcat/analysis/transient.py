"""Transient-absorption kinetics: the fast (biexciton) and slow (exciton) components of a bleach recovery.

The fast rate γ_XX of :func:`fit_ta_biexponential` is the input of
:func:`qdcat.analysis.fits.biexciton_yield` (PLQY_XX = 4γ/γ_XX, science.md §3
item 8). Same house style as :mod:`qdcat.analysis.fits`: validated arrays in,
a frozen result with 1σ errors, fit quality, method and QC flags out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from qdcat.analysis import lineshapes
from qdcat.analysis._validate import (
    FloatArray,
    array_1d,
    at_bounds,
    finite_scalar,
    increasing,
    same_length,
)
from qdcat.errors import InvalidValueError

__all__ = ["TaFit", "fit_ta_biexponential", "ta_model"]

MIN_POINTS = 8  # fewest delays accepted at all; the fit window needs n_parameters + 4
SLOW_WINDOW_FRACTION = 0.05  # window·γ_s below this: the slow decay is barely seen in the window
_GRID_SIZE = 60


@dataclass(frozen=True)
class TaFit:
    """ΔA(t) = A_f·exp(−γ_f·t) + A_s·exp(−γ_s·t) + c with γ_f > γ_s; t from the pump arrival (t = 0).

    Amplitudes are at t = 0 in the units of ΔA (negative for a negative
    bleach). ``noise_sd`` is the SD behind the weights: estimated from the
    residuals (then ``reduced_chi2`` is NaN, it is 1 by construction) or the
    RMS of the given ``delta_a_err``.
    """

    biexciton_rate_per_ns: float
    biexciton_rate_per_ns_err: float
    biexciton_lifetime_ps: float
    biexciton_lifetime_ps_err: float
    fast_amplitude: float
    fast_amplitude_err: float
    slow_rate_per_ns: float
    slow_rate_per_ns_err: float
    slow_amplitude: float
    slow_amplitude_err: float
    offset: float
    offset_err: float
    noise_sd: float
    reduced_chi2: float
    dof: int
    n_points: int
    fit_start_ps: float
    fit_stop_ps: float
    method: str
    converged: bool
    flags: tuple[str, ...]


# The model curve is defined once, in lineshapes; the old name stays for callers.
ta_model = lineshapes.ta_biexponential


def _sd(cov: FloatArray, i: int) -> float:
    v = float(cov[i, i])
    return math.sqrt(v) if v >= 0 and math.isfinite(v) else math.nan


def _linear_amplitudes(
    x: FloatArray, z: FloatArray, w: FloatArray, g_f: float, g_s: float, fit_offset: bool
) -> tuple[FloatArray, float]:
    """Weighted linear least squares of the amplitudes (and offset) at fixed rates: (coefficients, cost)."""
    cols = [np.exp(-g_f * x), np.exp(-g_s * x)]
    if fit_offset:
        cols.append(np.ones_like(x))
    design = np.column_stack(cols) * w[:, None]
    coef = np.asarray(np.linalg.lstsq(design, z * w, rcond=None)[0], dtype=np.float64)
    r = design @ coef - z * w
    return coef, float(r @ r)


def _initial_guess(
    x: FloatArray, z: FloatArray, w: FloatArray, g_lo: float, g_hi: float, fit_offset: bool
) -> FloatArray:
    """Slow rate from a log-linear fit of the late half, then a grid search of the fast rate."""
    span = float(x[-1] - x[0])
    late = x >= x[0] + 0.5 * span
    if np.count_nonzero(late) < 4:
        late = np.zeros(x.size, dtype=bool)
        late[-max(x.size // 2, 4) :] = True
    pos = late & (z > 0)
    g_s = 0.1 / float(x[-1])
    if np.count_nonzero(pos) >= 3 and np.ptp(x[pos]) > 0:
        slope = float(np.polyfit(x[pos], np.log(z[pos]), 1, w=w[pos] * z[pos])[0])
        if slope < 0:
            g_s = -slope
    g_s = float(np.clip(g_s, 10.0 * g_lo, g_hi / 100.0))

    def best_fast(g_slow: float) -> tuple[float, float]:
        grid = np.geomspace(max(3.0 * g_slow, 1.0 / float(x[-1])), g_hi, _GRID_SIZE)
        best = (float(grid[-1]), math.inf)
        for g in grid:
            coef, cost = _linear_amplitudes(x, z, w, float(g), g_slow, fit_offset)
            if coef[0] >= 0 and coef[1] >= 0 and cost < best[1]:
                best = (float(g), cost)
        return best

    g_f, _ = best_fast(g_s)
    # One refinement pass of the slow rate at that fast rate, then of the fast rate again.
    s_grid = np.geomspace(10.0 * g_lo, min(g_f / 3.0, g_hi / 100.0), _GRID_SIZE // 2)
    costs = [_linear_amplitudes(x, z, w, g_f, float(g), fit_offset)[1] for g in s_grid]
    g_s_grid = float(s_grid[int(np.argmin(costs))])
    if min(costs) < _linear_amplitudes(x, z, w, g_f, g_s, fit_offset)[1]:
        g_s = g_s_grid
        g_f, _ = best_fast(g_s)
    coef, _ = _linear_amplitudes(x, z, w, g_f, g_s, fit_offset)
    floor = 1e-6 * max(float(np.max(np.abs(z))), 1e-300)
    p = [max(float(coef[0]), floor), g_f, max(float(coef[1]), floor), g_s]
    if fit_offset:
        p.append(float(coef[2]))
    return np.array(p)


def fit_ta_biexponential(
    time_ps: Any,
    delta_a: Any,
    *,
    delta_a_err: Any = None,
    fit_start_ps: float | None = None,
    fit_offset: bool = False,
) -> TaFit:
    """Least-squares fit of a bi-exponential TA recovery; the fast rate is the biexciton rate γ_XX.

    ``time_ps``: pump-probe delays (strictly increasing, t = 0 at the pump).
    The fit uses the delays ≥ ``fit_start_ps`` (default: every delay > 0; set
    it past the instrument response or coherent artefact). With ``delta_a_err``
    (1σ per point) the fit is weighted and the errors are absolute; without,
    the noise SD is estimated from the residuals and the covariance scaled by
    the reduced χ². A negative bleach is fitted as −ΔA and reported with
    negative amplitudes. ``fit_offset`` adds a constant c (a long-lived
    component or a baseline); it is 0 otherwise. Rates are bounded > 0 and
    swapped after the fit if needed so that γ_f > γ_s.
    """
    n_par = 5 if fit_offset else 4
    t, y, err = _fit_window(time_ps, delta_a, delta_a_err, fit_start_ps, n_par)
    n = t.size
    head = y[: max(y.size // 4, 3)]
    sign = -1.0 if float(head.mean()) < 0 else 1.0
    x = t * 1e-3  # ns, so that the rates come out in ns⁻¹
    z = sign * y
    w = 1.0 / err if err is not None else np.ones_like(z)
    ls = _least_squares(x, z, w, fit_offset)
    r = (_model(ls.params, x, fit_offset) - z) * w
    rss = float(r @ r)
    dof = n - n_par
    cov, converged = _covariance(ls.jac)
    converged = converged and ls.converged
    noise_sd, chi2, method = _noise(err, rss, dof)
    if err is None:
        cov = cov * (rss / dof)
    if sign < 0:
        method += "; negative signal fitted as -delta_a"

    p = ls.params
    names = ("fast_amplitude", "biexciton_rate", "slow_amplitude", "slow_rate", "offset")[:n_par]
    flags = [f"at_bound:{nm}" for nm, b in zip(names, at_bounds(p, ls.lower, ls.upper), strict=True) if b]
    if not converged:
        flags.append("not_converged")
    a_f, g_f, a_s, g_s = (float(v) for v in p[:4])
    a_f_err, g_f_err, a_s_err, g_s_err = (_sd(cov, i) for i in range(4))
    tau_f_ps = 1e3 / g_f
    first_step_ps = float(t[1] - t[0])
    if tau_f_ps < first_step_ps or not a_f > 2.0 * a_f_err:
        flags.append("fast_component_unresolved")
    if (float(x[-1] - x[0]) * g_s < SLOW_WINDOW_FRACTION) or not g_s > 2.0 * g_s_err:
        flags.append("slow_rate_unconstrained")
    if err is not None and chi2 > 1.0 + 5.0 * math.sqrt(2.0 / dof):
        flags.append("poor_fit")
    return TaFit(
        biexciton_rate_per_ns=g_f,
        biexciton_rate_per_ns_err=g_f_err,
        biexciton_lifetime_ps=tau_f_ps,
        biexciton_lifetime_ps_err=1e3 * g_f_err / g_f**2,
        fast_amplitude=sign * a_f,
        fast_amplitude_err=a_f_err,
        slow_rate_per_ns=g_s,
        slow_rate_per_ns_err=g_s_err,
        slow_amplitude=sign * a_s,
        slow_amplitude_err=a_s_err,
        offset=sign * float(p[4]) if fit_offset else 0.0,
        offset_err=_sd(cov, 4) if fit_offset else 0.0,
        noise_sd=noise_sd,
        reduced_chi2=chi2,
        dof=dof,
        n_points=n,
        fit_start_ps=float(t[0]),
        fit_stop_ps=float(t[-1]),
        method=method,
        converged=converged,
        flags=tuple(flags),
    )


def _fit_window(
    time_ps: Any, delta_a: Any, delta_a_err: Any, fit_start_ps: float | None, n_par: int
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """The validated delays, ΔA and 1σ errors (None if not given) inside the fit window."""
    t = array_1d("time_ps", time_ps, min_size=MIN_POINTS)
    y = array_1d("delta_a", delta_a, min_size=MIN_POINTS)
    same_length(time_ps=t, delta_a=y)
    increasing("time_ps", t)
    err = None
    if delta_a_err is not None:
        err = array_1d("delta_a_err", delta_a_err, min_size=MIN_POINTS)
        same_length(time_ps=t, delta_a_err=err)
        if np.any(err <= 0):
            raise InvalidValueError("delta_a_err must be > 0 everywhere (1σ of each ΔA point)")
    if fit_start_ps is None:
        sel = t > 0
    else:
        start = finite_scalar("fit_start_ps", fit_start_ps, lo=0.0)
        sel = t >= start
    n = int(np.count_nonzero(sel))
    if n < n_par + 4:
        where = "at t > 0" if fit_start_ps is None else f"at t >= fit_start_ps={fit_start_ps:g} ps"
        raise InvalidValueError(
            f"only {n} delays {where}; a {n_par}-parameter fit needs >= {n_par + 4}: "
            "lower fit_start_ps or measure more delays"
        )
    t, y = t[sel], y[sel]
    if err is not None:
        err = err[sel]
    if not np.any(y):
        raise InvalidValueError("delta_a is zero everywhere in the fit window; check the probe channel")
    if np.ptp(y) == 0:
        raise InvalidValueError("delta_a is constant in the fit window (no decay to fit); check the data")
    return t, y, err


def _model(p: FloatArray, x: FloatArray, fit_offset: bool) -> FloatArray:
    out: FloatArray = p[0] * np.exp(-p[1] * x) + p[2] * np.exp(-p[3] * x)
    if fit_offset:
        out = out + p[4]
    return out


@dataclass(frozen=True)
class _LeastSquares:
    """Parameters (fast pair first: γ_f > γ_s), Jacobian and bounds in that order."""

    params: FloatArray
    jac: FloatArray
    lower: FloatArray
    upper: FloatArray
    converged: bool


def _least_squares(x: FloatArray, z: FloatArray, w: FloatArray, fit_offset: bool) -> _LeastSquares:
    """Bounded least squares of ``z`` (weights ``w``) from a grid-search start, rates ordered γ_f > γ_s."""
    n_par = 5 if fit_offset else 4
    min_step = float(np.min(np.diff(x)))
    g_lo = 1e-4 / float(x[-1])
    g_hi = 100.0 / min_step
    p0 = _initial_guess(x, z, w, g_lo, g_hi, fit_offset)
    lower = np.array([0.0, g_lo, 0.0, g_lo, -np.inf])[:n_par]
    upper = np.array([np.inf, g_hi, np.inf, g_hi, np.inf])[:n_par]
    p0 = np.clip(p0, lower, upper)
    scale_amp = max(float(np.max(np.abs(z))), 1e-300)
    x_scale = np.array([scale_amp, p0[1], scale_amp, p0[3], scale_amp])[:n_par]
    res = optimize.least_squares(
        lambda p: (_model(p, x, fit_offset) - z) * w,
        p0,
        bounds=(lower, upper),
        x_scale=x_scale,
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    p = np.array(res.x, dtype=np.float64)
    jac = np.array(res.jac, dtype=np.float64)
    order = [2, 3, 0, 1, 4][:n_par] if p[1] < p[3] else list(range(n_par))
    return _LeastSquares(p[order], jac[:, order], lower[order], upper[order], bool(res.success))


def _covariance(jac: FloatArray) -> tuple[FloatArray, bool]:
    """(JᵀJ)⁻¹ and whether it is usable; NaN everywhere (and False) when JᵀJ is singular."""
    n_par = jac.shape[1]
    try:
        cov = np.linalg.inv(jac.T @ jac)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        return np.full((n_par, n_par), np.nan), False
    return np.asarray(cov, dtype=np.float64), True


def _noise(err: FloatArray | None, rss: float, dof: int) -> tuple[float, float, str]:
    """(noise SD, reduced χ², method): from the given 1σ errors, or estimated from the residuals."""
    if err is None:
        method = "least squares, noise SD estimated from the residuals (covariance scaled by reduced chi2)"
        return math.sqrt(rss / dof), math.nan, method
    return (
        float(np.sqrt(np.mean(err**2))),
        rss / dof,
        "weighted least squares, absolute errors from delta_a_err",
    )
