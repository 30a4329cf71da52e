"""A series of spectra at several intensities → integrated PL vs I → I_S, and σ = ħω_p·γ/I_S.

γ is the ensemble's own decay rate: from a pulsed acquisition without a dot on
the same specimen (the film's decay) when there is one, else the sample's
decay rate in solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qdcat.analyses import _io, decay
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
from qdcat.analyses._companions import ENSEMBLE_DECAY
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "spectrum":
        return f"not a spectrum (its data are {a.data_kind})"
    if not a.series_name:
        return "not part of a series (series_name)"
    return None  # a point without its intensity fails the job, saying so


def series_applies(points: Sequence[Acquisition]) -> str | None:
    if len(points) < 4:
        return f"a saturation series needs >= 4 points, has {len(points)}"
    return None


@dataclass(frozen=True)
class SaturationData:
    intensity_w_cm2: list[float]
    pl_counts: list[float]
    wavelength_nm: float | None
    film_decay: _io.Tcspc | None


def fetch(store: TimeTagStore, target: Target, params: Params) -> SaturationData:
    points = sorted(target.points(), key=lambda i: i.intensity_w_cm2 or 0.0)
    # Integrated PL of each point: the sum of its spectrum.
    pl = [float(_io.read_arrays(store, p)["counts"].sum()) for p in points]
    film = target.companion("decay")
    h = _io.tcspc(store, film, t2_bin_ps=params["bin_ps"]) if film is not None else None
    return SaturationData(
        [float(p.intensity_w_cm2 or 0.0) for p in points], pl, points[0].excitation_wavelength_nm, h
    )


def compute(data: SaturationData, target: Target, params: Params) -> Computed:
    import numpy as np

    from qdcat.analysis.fits import fit_decay, fit_saturation

    missing = [p.measurement_id for p in target.points() if not p.intensity_w_cm2]
    if missing:
        raise InvalidValueError(
            f"saturation points {missing} have no intensity_w_cm2 in their settings; record it at ingest"
        )
    intensity = np.asarray(data.intensity_w_cm2, dtype=np.float64)
    pl = np.asarray(data.pl_counts, dtype=np.float64)
    gamma: float | None
    gamma_err = 0.0
    if data.film_decay is not None:
        edges, counts, _ = decay.histogram(data.film_decay, params["bin_ps"])
        dfit = fit_decay(edges, counts, start_after_peak_ns=params["start_after_peak_ns"])
        gamma, gamma_err, source = (
            dfit.decay_rate_per_us,
            dfit.decay_rate_per_us_err,
            "decay_rate_from_film_decay",
        )
    else:
        gamma = target.context.get("decay_rate_solution_per_us")
        source = "decay_rate_from_solution" if gamma else "no_decay_rate"
    wavelength = data.wavelength_nm or params["excitation_wavelength_nm"]
    fit = fit_saturation(
        intensity,
        pl,
        relative_noise=params["relative_noise"],
        decay_rate_per_us=gamma,
        decay_rate_per_us_err=gamma_err,
        wavelength_nm=wavelength,
    )
    film = target.companion("decay")
    return Computed(
        {
            "series_name": target.series_name or "",
            "n_points": int(intensity.size),
            "saturation_intensity_w_cm2": fit.saturation_intensity_w_cm2,
            "saturation_intensity_w_cm2_err": fit.saturation_intensity_w_cm2_err,
            "amplitude_counts": fit.amplitude_counts,
            "amplitude_counts_err": fit.amplitude_counts_err,
            "offset_counts": fit.offset_counts,
            "offset_counts_err": fit.offset_counts_err,
            "decay_rate_per_us": finite_or_none(fit.decay_rate_per_us),
            "decay_rate_per_us_err": finite_or_none(gamma_err) if gamma else None,
            "decay_source": source,
            "decay_measurement_id": film.measurement_id if film is not None else None,
            "sigma_cm2": finite_or_none(fit.sigma_cm2),
            "sigma_cm2_err": finite_or_none(fit.sigma_cm2_err),
            "excitation_wavelength_nm": fit.wavelength_nm,
            "reduced_chi2": fit.reduced_chi2,
            "converged": fit.converged,
            "flags": (*fit.flags, source),
        },
        {"intensity_w_cm2": intensity, "pl_counts": pl},
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import saturation

    r, a = d.result, d.arrays
    x = np.asarray(a["intensity_w_cm2"], dtype=np.float64)
    pos = x[x > 0]
    if pos.size >= 2 and pos.max() / pos.min() > 20.0:
        grid = np.geomspace(pos.min() / 1.5, pos.max() * 1.5, 300)
    else:
        grid = np.linspace(0.0, float(x.max()) * 1.05, 300)
    i_s = r["saturation_intensity_w_cm2"]
    lines = [
        f"$I_S$ = {plots.pm(i_s, r['saturation_intensity_w_cm2_err'], 'W/cm²')}",
        f"A = {plots.pm(r['amplitude_counts'], r.get('amplitude_counts_err'), 'counts')}",
    ]
    if r.get("sigma_cm2") is not None:
        lines.append(f"σ = {plots.pm(r['sigma_cm2'], r['sigma_cm2_err'], 'cm²')}")
    lines.append(rf"$\chi^2_\nu$ = {r['reduced_chi2']:.2f}")
    fit = plots.Fit(
        grid,
        saturation(grid, r["amplitude_counts"], i_s, r["offset_counts"]),
        r"fit $A\,I/(I + I_S) + c$",
        lines=tuple(lines),
        flags=tuple(str(r.get("flags") or "").split()),
    )
    return {
        "saturation": plots.plot_saturation(
            x,
            a["pl_counts"],
            fit,
            saturation_intensity_w_cm2=i_s,
            title=f"Saturation {r['series_name']} · {d.title}",
        )
    }


ANALYSIS = Analysis(
    name="saturation",
    version="3",
    order=70,
    grouping="series",
    summary="saturation of the PL: I_S and σ = ħω_p·γ/I_S",
    applies_to="a series (series_name) of >= 4 spectra at several intensities (ensemble or single dot)",
    method=(
        "Integrated PL (sum of each spectrum) vs intensity, I_PL = A·I/(I + I_S) + c by weighted least "
        "squares (variance = model + (relative_noise·model)²). σ = ħω_p·γ/I_S with γ from the film's "
        "decay (fitted as in decay) or the sample's decay rate in solution."
    ),
    params=(
        Param(
            "relative_noise", float, 0.02, "relative fluctuation of each point (laser, focus)", lo=0.0, hi=1.0
        ),
        Param(
            "excitation_wavelength_nm",
            float,
            445.0,
            "pump wavelength when the settings lack it",
            "nm",
            lo=100.0,
            hi=10_000.0,
        ),
        *decay.ANALYSIS.params[:2],
    ),
    columns=(
        Column("series_name", "str", "", "the series", length=100),
        Column("n_points", "int", "", "points in the series"),
        Column("saturation_intensity_w_cm2", "float", "W/cm²", "saturation intensity I_S", err=True),
        Column("amplitude_counts", "float", "counts", "PL amplitude A", err=True),
        Column("offset_counts", "float", "counts", "offset c", err=True),
        Column(
            "decay_rate_per_us", "float", "µs⁻¹", "the ensemble decay rate γ used", err=True, nullable=True
        ),
        Column("decay_source", "str", "", "where γ came from", nullable=True, length=40),
        Column(
            "decay_measurement_id",
            "int",
            "",
            "the film decay used",
            nullable=True,
            references="measurement.id",
        ),
        Column("sigma_cm2", "float", "cm²", "σ = ħω_p·γ/I_S", err=True, nullable=True),
        Column("excitation_wavelength_nm", "float", "nm", "pump wavelength λ_p"),
        Column("reduced_chi2", "float", "", "χ²/dof"),
        Column("converged", "bool", "", "the optimiser converged"),
    ),
    flags={
        "at_bound:<parameter>": "a parameter sits at its bound",
        "not_converged": "the optimiser did not converge",
        "poor_fit": "χ²/dof above 1 + 5·sqrt(2/dof)",
        "saturation_beyond_range": "I_S lies above the highest intensity measured",
        "decay_rate_from_film_decay": "γ from the film's decay (companion)",
        "decay_rate_from_solution": "γ from the sample's decay rate in solution",
        "no_decay_rate": "no γ: σ not computed",
    },
    qc_rules=(
        QcRule("not_converged", ("*",), "the fit did not converge"),
        QcRule("at_bound:saturation_intensity", ("*",), "I_S sits at its bound"),
        QcRule("saturation_beyond_range", ("*",), "I_S lies beyond the intensities measured"),
        QcRule("poor_fit", ("*",), "the points do not follow A·I/(I + I_S) + c"),
    ),
    applies=applies,
    series_applies=series_applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("saturation_point",),
    headline=("saturation_intensity_w_cm2", "sigma_cm2"),
    companions=(ENSEMBLE_DECAY,),
    sample_context=("decay_rate_solution_per_us",),
)
