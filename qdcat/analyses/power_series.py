"""A series of cw HBT acquisitions of one dot at several intensities → γ + w_p vs I → σ, γ, I_S.

γ + w_p = γ + (σ/ħω_p)·I: a weighted line through the antibunching rates of
every point's g2 fit gives the slope σ/ħω_p (σ = slope·ħω_p), the intercept γ
and I_S = γ/slope (with a Fieller interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qdcat.analyses import g2_cw
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
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if not a.series_name:
        return "not part of a series (series_name)"
    # A point without its intensity still belongs to the series: the job fails and says so.
    return g2_cw.applies(a)


def series_applies(points: Sequence[Acquisition]) -> str | None:
    if len(points) < 3:
        return f"a power series needs >= 3 points, has {len(points)}"
    return None


def fetch(store: TimeTagStore, target: Target, params: Params) -> list[tuple[Acquisition, Any]]:
    points = sorted(target.points(), key=lambda i: (i.intensity_w_cm2 or 0.0, i.series_index or 0))
    return [(p, g2_cw.g2_histogram(store, p, params)) for p in points]


def compute(points: list[tuple[Acquisition, Any]], target: Target, params: Params) -> Computed:
    import numpy as np

    from qdcat.analysis.fits import fit_power_series

    missing = [p.measurement_id for p, _ in points if not p.intensity_w_cm2]
    if missing:
        raise InvalidValueError(
            f"power-series points {missing} have no intensity_w_cm2 in their settings; record it at ingest"
        )
    fits = [g2_cw.fit(h, params) for _, h in points]
    rates = np.array([f.antibunching_rate_per_us for f in fits])
    errs = np.array([f.antibunching_rate_per_us_err for f in fits])
    intensity = np.array([p.intensity_w_cm2 for p, _ in points], dtype=np.float64)
    wavelength = points[0][0].excitation_wavelength_nm or params["excitation_wavelength_nm"]
    fit = fit_power_series(intensity, rates, errs, wavelength_nm=wavelength)
    return Computed(
        {
            "series_name": target.series_name or "",
            "n_points": len(points),
            "intensity_min_w_cm2": float(intensity.min()),
            "intensity_max_w_cm2": float(intensity.max()),
            "slope_cm2_per_j": fit.slope_cm2_per_j,
            "slope_cm2_per_j_err": fit.slope_cm2_per_j_err,
            "decay_rate_per_us": fit.decay_rate_per_us,
            "decay_rate_per_us_err": fit.decay_rate_per_us_err,
            "sigma_cm2": fit.sigma_cm2,
            "sigma_cm2_err": fit.sigma_cm2_err,
            "saturation_intensity_w_cm2": fit.saturation_intensity_w_cm2,
            "saturation_intensity_w_cm2_err": finite_or_none(fit.saturation_intensity_w_cm2_err),
            "saturation_intensity_w_cm2_lo": finite_or_none(fit.saturation_intensity_w_cm2_lo),
            "saturation_intensity_w_cm2_hi": finite_or_none(fit.saturation_intensity_w_cm2_hi),
            "excitation_wavelength_nm": fit.wavelength_nm,
            "reduced_chi2": fit.reduced_chi2,
            "flags": fit.flags,
        },
        {
            "intensity_w_cm2": intensity,
            "rate_per_us": rates,
            "rate_per_us_err": errs,
            "g2_zero": np.array([f.g2_zero for f in fits]),
        },
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import linear

    r, a = d.result, d.arrays
    x = np.asarray(a["intensity_w_cm2"], dtype=np.float64)
    grid = np.linspace(0.0, float(np.nanmax(x)) * 1.05, 200)
    slope = r["slope_cm2_per_j"] * 1e-6  # cm²/J → µs⁻¹ per W/cm²
    fit = plots.Fit(
        grid,
        linear(grid, r["decay_rate_per_us"], slope),
        "weighted linear fit",
        lines=(
            f"σ = {plots.pm(r['sigma_cm2'], r['sigma_cm2_err'], 'cm²')}",
            f"γ = {plots.pm(r['decay_rate_per_us'], r['decay_rate_per_us_err'], 'µs$^{-1}$')}",
            "$I_S$ = "
            + plots.pm(r["saturation_intensity_w_cm2"], r["saturation_intensity_w_cm2_err"], "W/cm²"),
            rf"$\chi^2_\nu$ = {r['reduced_chi2']:.2f}",
        ),
        flags=tuple(str(r.get("flags") or "").split()),
    )
    return {
        "power_series": plots.plot_power_series(
            x,
            a["rate_per_us"],
            a["rate_per_us_err"],
            fit,
            title=f"Power series {r['series_name']} · {d.title}",
        )
    }


ANALYSIS = Analysis(
    name="power_series",
    version="2",
    order=60,
    grouping="series",
    summary="γ + w_p against intensity over a series: σ, γ, I_S",
    applies_to="a series (series_name) of >= 3 cw HBT acquisitions of one dot at several intensities",
    method=(
        "Each point's g2 is fitted as in g2_cw; γ + w_p = γ + (σ/ħω_p)·I by weighted linear least "
        "squares (unscaled covariance). σ = slope·ħω_p with ħω_p = hc/λ_p; I_S = γ/slope, with its "
        "68 % Fieller interval."
    ),
    params=(
        *g2_cw.G2_PARAMS,
        Param(
            "excitation_wavelength_nm",
            float,
            445.0,
            "pump wavelength when the settings lack it",
            "nm",
            lo=100.0,
            hi=10_000.0,
        ),
    ),
    columns=(
        Column("series_name", "str", "", "the series", length=100),
        Column("n_points", "int", "", "points in the series"),
        Column("intensity_min_w_cm2", "float", "W/cm²", "lowest intensity"),
        Column("intensity_max_w_cm2", "float", "W/cm²", "highest intensity"),
        Column("slope_cm2_per_j", "float", "cm²/J", "slope σ/ħω_p", err=True, dots=True),
        Column("decay_rate_per_us", "float", "µs⁻¹", "intercept γ", err=True, dots="ps_decay_rate_per_us"),
        Column("sigma_cm2", "float", "cm²", "absorption cross-section σ = slope·ħω_p", err=True, dots=True),
        Column("saturation_intensity_w_cm2", "float", "W/cm²", "I_S = γ/slope", err=True, dots=True),
        Column(
            "saturation_intensity_w_cm2_lo",
            "float",
            "W/cm²",
            "68 % Fieller interval, low end",
            nullable=True,
            dots=True,
        ),
        Column(
            "saturation_intensity_w_cm2_hi",
            "float",
            "W/cm²",
            "68 % Fieller interval, high end",
            nullable=True,
            dots=True,
        ),
        Column("excitation_wavelength_nm", "float", "nm", "pump wavelength λ_p"),
        Column("reduced_chi2", "float", "", "χ²/dof of the line"),
    ),
    flags={
        "nonphysical_sign": "slope or intercept <= 0",
        "poor_fit": "χ²/dof above 1 + 5·sqrt(2/dof)",
    },
    qc_rules=(
        QcRule("nonphysical_sign", ("*",), "slope or intercept <= 0"),
        QcRule("poor_fit", ("*",), "the rates do not lie on a line within their errors"),
    ),
    applies=applies,
    series_applies=series_applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("power_series_point",),
    headline=("sigma_cm2", "decay_rate_per_us"),
)
