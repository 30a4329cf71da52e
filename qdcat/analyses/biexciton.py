"""Transient-absorption kinetics → the fast biexciton component γ_XX → PLQY_XX = 4γ/γ_XX.

Applies to transient-absorption curves (time_ps, delta_a). γ is the sample's
exciton decay rate in solution (``qdcat sample add … --decay-rate-solution-per-us``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qdcat.analyses import _io
from qdcat.analyses._base import Acquisition, Analysis, Column, Computed, DrawInput, Params, QcRule, Target
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    # A curve's arrays are named at ingest from its kind (time_ps, delta_a for TA): the kind
    # is the only description two-column data carry.
    if a.data_kind != "curve" or a.kind != "transient_absorption":
        return "not a transient-absorption curve"
    return None


@dataclass(frozen=True)
class TaData:
    time_ps: Any
    delta_a: Any
    decay_rate_per_us: float


def fetch(store: TimeTagStore, target: Target, params: Params) -> TaData:
    a = target.main
    gamma = target.context.get("decay_rate_solution_per_us")
    if not gamma:
        raise InvalidValueError(
            f"the sample of measurement {a.measurement_id} has no decay_rate_solution_per_us; the "
            "biexciton yield needs the exciton decay rate in solution "
            "(`qdcat sample add ... --decay-rate-solution-per-us`)"
        )
    arrays = _io.read_arrays(store, a)
    if "time_ps" not in arrays or "delta_a" not in arrays:
        raise InvalidValueError(
            f"measurement {a.measurement_id} holds {sorted(arrays)}; a transient-absorption curve needs "
            "time_ps and delta_a"
        )
    return TaData(arrays["time_ps"], arrays["delta_a"], float(gamma))


def compute(data: TaData, target: Target, params: Params) -> Computed:
    from qdcat.analysis.fits import biexciton_yield
    from qdcat.analysis.transient import fit_ta_biexponential

    ta = fit_ta_biexponential(data.time_ps, data.delta_a)
    yy = biexciton_yield(
        ta.biexciton_rate_per_ns,
        data.decay_rate_per_us,
        biexciton_rate_per_ns_err=ta.biexciton_rate_per_ns_err,
    )
    return Computed(
        {
            "biexciton_rate_per_ns": ta.biexciton_rate_per_ns,
            "biexciton_rate_per_ns_err": ta.biexciton_rate_per_ns_err,
            "biexciton_lifetime_ps": ta.biexciton_lifetime_ps,
            "biexciton_lifetime_ps_err": ta.biexciton_lifetime_ps_err,
            "fast_amplitude": ta.fast_amplitude,
            "slow_amplitude": ta.slow_amplitude,
            "slow_rate_per_ns": ta.slow_rate_per_ns,
            "offset": ta.offset,
            "fit_start_ps": ta.fit_start_ps,
            "fit_stop_ps": ta.fit_stop_ps,
            "decay_rate_per_us": data.decay_rate_per_us,
            "radiative_rate_xx_per_ns": yy.radiative_rate_xx_per_ns,
            "plqy_xx": yy.plqy_xx,
            "plqy_xx_err": yy.plqy_xx_err,
            "reduced_chi2": ta.reduced_chi2,
            "flags": ta.flags,
        }
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import ta_biexponential

    r = d.result
    raw = d.raw()
    x = np.asarray(raw["time_ps"], dtype=np.float64)
    lines = (
        f"γ_XX = {plots.pm(r['biexciton_rate_per_ns'], r['biexciton_rate_per_ns_err'], 'ns⁻¹')}",
        f"τ_XX = {plots.pm(r['biexciton_lifetime_ps'], r['biexciton_lifetime_ps_err'], 'ps')}",
        f"PLQY_XX = {plots.pm(100 * r['plqy_xx'], 100 * (r['plqy_xx_err'] or 0), '%')}",
    )
    flags = tuple(str(r.get("flags") or "").split())
    if r.get("fast_amplitude") is None:  # results of version 1 did not store the whole model
        fit = plots.Fit((), (), "model not stored (version 1 result)", lines=lines, flags=flags)
    else:
        lo = max(float(r["fit_start_ps"]), float(x[x > 0].min()))
        grid = np.geomspace(lo, float(r["fit_stop_ps"]), 400)
        fit = plots.Fit(
            grid,
            ta_biexponential(
                grid,
                r["fast_amplitude"],
                r["biexciton_rate_per_ns"],
                r["slow_amplitude"],
                r["slow_rate_per_ns"],
                r["offset"],
            ),
            "fit $A_f e^{-γ_{XX}t} + A_s e^{-γt}$",
            lines=lines,
            flags=flags,
        )
    return {
        "transient_absorption": plots.plot_transient_absorption(
            x, raw["delta_a"], fit, title=f"Transient absorption · {d.title}"
        )
    }


ANALYSIS = Analysis(
    name="biexciton",
    version="2",
    order=80,
    summary="fast transient-absorption component γ_XX and PLQY_XX = 4γ/γ_XX",
    applies_to="transient-absorption curves (time_ps, delta_a) of a sample with a solution decay rate",
    method=(
        "ΔA(t) = A_f·exp(−γ_XX·t) + A_s·exp(−γ_s·t) + c by variable projection (the amplitudes linear, "
        "the rates on a grid then refined); PLQY_XX = γ_r,XX/γ_XX with γ_r,XX = 4γ (γ in solution)."
    ),
    params=(),
    columns=(
        Column("biexciton_rate_per_ns", "float", "ns⁻¹", "fast (biexciton) decay rate γ_XX", err=True),
        Column("biexciton_lifetime_ps", "float", "ps", "1/γ_XX", err=True),
        Column("fast_amplitude", "float", "OD", "amplitude of the fast component", nullable=True),
        Column("slow_amplitude", "float", "OD", "amplitude of the slow component", nullable=True),
        Column("slow_rate_per_ns", "float", "ns⁻¹", "slow decay rate", nullable=True),
        Column("offset", "float", "OD", "offset c", nullable=True),
        Column("fit_start_ps", "float", "ps", "fit window start", nullable=True),
        Column("fit_stop_ps", "float", "ps", "fit window end", nullable=True),
        Column("decay_rate_per_us", "float", "µs⁻¹", "exciton decay rate γ in solution (the sample's)"),
        Column("radiative_rate_xx_per_ns", "float", "ns⁻¹", "γ_r,XX = 4γ"),
        Column("plqy_xx", "float", "", "biexciton quantum yield γ_r,XX/γ_XX", err=True),
        Column(
            "reduced_chi2",
            "float",
            "",
            "χ²/dof (NULL when the noise was estimated from the residuals)",
            nullable=True,
        ),
    ),
    flags={"(see qdcat.analysis.transient)": "flags of the two-exponential fit"},
    qc_rules=(
        QcRule("not_converged", ("*",), "the fit did not converge"),
        QcRule("fast_component_unresolved", ("*",), "no fast component resolved"),
        QcRule("poor_fit", ("*",), "two exponentials do not describe the kinetics"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("transient_absorption",),
    headline=("biexciton_rate_per_ns", "plqy_xx"),
    sample_context=("decay_rate_solution_per_us",),
)
