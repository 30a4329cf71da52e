"""Emission spectrum → Lorentzian: centre, emission energy, FWHM (in nm and meV).

Applies to every spectrum (single dot or ensemble). The CCD's offset and read
noise set the weights; the fit is weighted least squares with the variance
taken from the model (see :func:`qdcat.analysis.fits.fit_lorentzian`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdcat.analyses import _io
from qdcat.analyses._base import (
    Acquisition,
    Analysis,
    Column,
    Computed,
    DrawInput,
    Param,
    Params,
    QcRule,
    Target,
    finite_or_none,
)
from qdcat.constants import width_mev

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    return None if a.data_kind == "spectrum" else f"not a spectrum (its data are {a.data_kind})"


def fetch(store: TimeTagStore, target: Target, params: Params) -> dict[str, Any]:
    return _io.read_arrays(store, target.main)


def noise_model(target: Target, params: Params) -> tuple[float | None, float | None, str]:
    """The camera's offset and read noise: the parameters, else the setup's facts, else measured."""
    a = target.main
    bias = params["bias_counts"] if params["bias_counts"] is not None else a.ccd_offset_counts
    read = params["read_noise_counts"] if params["read_noise_counts"] is not None else a.ccd_read_noise_counts
    if bias is not None and read is not None:
        given = params["bias_counts"] is not None and params["read_noise_counts"] is not None
        return bias, read, "parameters" if given else "the setup's camera offset and read noise"
    return None, None, "measured in the wings (camera offset/read noise not recorded)"


def compute(arrays: dict[str, Any], target: Target, params: Params) -> Computed:
    from qdcat.analysis.fits import fit_lorentzian

    bias, read, source = noise_model(target, params)
    window = None
    if params["window_start_nm"] is not None or params["window_stop_nm"] is not None:
        x = arrays["wavelength_nm"]
        window = (
            params["window_start_nm"] if params["window_start_nm"] is not None else float(x[0]),
            params["window_stop_nm"] if params["window_stop_nm"] is not None else float(x[-1]),
        )
    fit = fit_lorentzian(
        arrays["wavelength_nm"],
        arrays["counts"],
        bias_counts=bias,
        read_noise_counts=read,
        window_nm=window,
    )
    return Computed(
        {
            "center_nm": fit.center_nm,
            "center_nm_err": fit.center_nm_err,
            "energy_ev": fit.energy_ev,
            "energy_ev_err": fit.energy_ev_err,
            "fwhm_nm": fit.fwhm_nm,
            "fwhm_nm_err": fit.fwhm_nm_err,
            # ΔE = hc·Δλ/λ² (meV): derived from the fitted centre and width.
            "fwhm_mev": width_mev(fit.center_nm, fit.fwhm_nm),
            "fwhm_mev_err": finite_or_none(width_mev(fit.center_nm, fit.fwhm_nm_err)),
            "amplitude_counts": fit.amplitude_counts,
            "amplitude_counts_err": fit.amplitude_counts_err,
            "offset_counts": fit.offset_counts,
            "offset_counts_err": fit.offset_counts_err,
            "window_start_nm": fit.window_nm[0],
            "window_stop_nm": fit.window_nm[1],
            "noise_model": source[:80],
            "reduced_chi2": fit.reduced_chi2,
            "converged": fit.converged,
            "flags": fit.flags,
        }
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import lorentzian

    r = d.result
    raw = d.raw()
    x = np.asarray(raw["wavelength_nm"], dtype=np.float64)
    start, stop = r.get("window_start_nm"), r.get("window_stop_nm")
    lo = start if start is not None else float(x[0])
    hi = stop if stop is not None else float(x[-1])
    grid = np.linspace(lo, hi, 800)
    fit = plots.Fit(
        grid,
        lorentzian(grid, r["amplitude_counts"], r["center_nm"], r["fwhm_nm"], r["offset_counts"]),
        "Lorentzian fit",
        lines=(
            f"λ0 = {plots.pm(r['center_nm'], r['center_nm_err'], 'nm')}",
            f"FWHM = {plots.pm(r['fwhm_nm'], r['fwhm_nm_err'], 'nm')}",
            f"E = {plots.pm(r['energy_ev'], r['energy_ev_err'], 'eV')}",
            rf"$\chi^2_\nu$ = {r['reduced_chi2']:.2f}",
        ),
        flags=tuple(str(r.get("flags") or "").split()),
    )
    return {"spectrum": plots.plot_spectrum(x, raw["counts"], fit, title=f"Spectrum · {d.title}")}


ANALYSIS = Analysis(
    name="spectrum",
    version="3",
    order=10,
    summary="Lorentzian fit of an emission spectrum: centre, energy, FWHM",
    applies_to="every spectrum (single dot or ensemble)",
    method=(
        "I(λ) = A·(w/2)²/((λ−λ0)² + (w/2)²) + c by weighted least squares, the variance taken from the "
        "model and refined over three passes: (model − CCD offset) + read_noise² + 1/12 when the "
        "setup records the camera's offset and read noise, else (line above the offset) + the flat "
        "part's variance measured beyond 3 FWHM from the line. E = hc/λ0; FWHM in meV = hc·w/λ0²."
    ),
    params=(
        Param(
            "bias_counts",
            float,
            None,
            "CCD electronic offset (default: the setup's, else measured)",
            "counts",
            lo=-1e9,
            hi=1e9,
        ),
        Param(
            "read_noise_counts",
            float,
            None,
            "CCD read noise, 1σ (default: the setup's, else measured)",
            "counts",
            lo=0.0,
            hi=1e9,
        ),
        Param(
            "window_start_nm",
            float,
            None,
            "start of the fit window (default: first pixel)",
            "nm",
            lo=0.0,
            hi=1e5,
        ),
        Param(
            "window_stop_nm", float, None, "end of the fit window (default: last pixel)", "nm", lo=0.0, hi=1e5
        ),
    ),
    columns=(
        Column("center_nm", "float", "nm", "emission centre λ0", err=True, dots=True),
        Column("energy_ev", "float", "eV", "emission energy E = hc/λ0", err=True, dots=True),
        Column("fwhm_nm", "float", "nm", "full width at half maximum", err=True, dots=True),
        Column("fwhm_mev", "float", "meV", "FWHM in energy, hc·w/λ0²", err=True, dots=True),
        Column("amplitude_counts", "float", "counts", "peak height above the offset", err=True),
        Column("offset_counts", "float", "counts", "flat offset c", err=True),
        Column("window_start_nm", "float", "nm", "fit window start", nullable=True),
        Column("window_stop_nm", "float", "nm", "fit window end", nullable=True),
        Column(
            "noise_model",
            "str",
            "",
            "where the noise model came from (setup facts, or the wings)",
            nullable=True,
            length=80,
        ),
        Column("reduced_chi2", "float", "", "χ²/dof of the weighted fit"),
        Column("converged", "bool", "", "the optimiser converged"),
    ),
    flags={
        "at_bound:<parameter>": "a parameter sits at its bound (centre at the spectrum's edge, …)",
        "not_converged": "the optimiser did not converge",
        "weak_line": "the amplitude is below 5σ: no clear line",
        "poor_fit": "χ²/dof above 1 + 5·sqrt(2/dof): not a single Lorentzian",
    },
    qc_rules=(
        QcRule("not_converged", ("*",), "the fit did not converge"),
        QcRule("weak_line", ("*",), "no clear line above the noise"),
        QcRule("at_bound:center_nm", ("*",), "the line centre sits at the edge of the spectrum"),
        QcRule("at_bound:fwhm_nm", ("*",), "the width sits at its bound"),
        QcRule("poor_fit", ("fwhm_nm", "fwhm_mev"), "not a single Lorentzian: its width is model-dependent"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("spectrum", "ensemble_spectrum"),
    headline=("center_nm", "fwhm_nm"),
)
