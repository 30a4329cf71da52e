"""cw HBT acquisition → g2(τ) → antibunching fit: g2(0), γ + w_p, τ0, background-corrected g2(0).

Applies to every cw time-tag acquisition on a dot with two detectors in a
Hanbury Brown–Twiss pair (setup roles hbt_a and hbt_b; every channel of each
arm). A background acquisition of the same specimen and setup gives the signal
fractions ρ = 1 − B/R per arm for the corrected g2(0).
"""

from __future__ import annotations

from dataclasses import dataclass
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
from qdcat.analyses._companions import BACKGROUND

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.analysis.histograms import PairHistogram
    from qdcat.store.timetags import TimeTagStore


def is_cw(a: Acquisition) -> bool:
    if a.excitation_mode is not None:
        return a.excitation_mode == "cw"
    return a.record == "t2"  # nothing says pulsed: no sync, no nanotimes


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.dot_id is None:
        return "not on a dot"
    if not is_cw(a):
        return "pulsed excitation (see g2_pulsed)"
    if not a.has_hbt_pair:
        return "no two-detector HBT pair (setup roles hbt_a and hbt_b, both with photons)"
    return None


@dataclass(frozen=True)
class G2Data:
    hist: PairHistogram
    rho_a: float | None
    rho_b: float | None
    traces: Any = None  # blinking.Traces of the acquisition: its on-fraction (None: not read)


MOSTLY_OFF = 0.3  # an acquisition on less than this fraction of the time gets the mostly_off flag


def _arm_rate_cps(a: Acquisition, channels: tuple[int, ...]) -> float | None:
    if not a.duration_s:
        return None
    return sum(int(a.channel_counts.get(str(c), 0)) for c in channels) / a.duration_s


def signal_fractions(main: Acquisition, bg: Acquisition | None) -> tuple[float | None, float | None]:
    """ρ = 1 − B/R per arm from the background acquisition's rates (None without one, or if nonsensical)."""
    if bg is None:
        return None, None
    out: list[float | None] = []
    for arm in (main.hbt_a, main.hbt_b):
        total, back = _arm_rate_cps(main, arm), _arm_rate_cps(bg, arm)
        rho = None if not total or back is None else 1.0 - back / total
        out.append(rho if rho is not None and 0.0 < rho <= 1.0 else None)
    if out[0] is None or out[1] is None:
        return None, None
    return out[0], out[1]


def g2_histogram(store: TimeTagStore, a: Acquisition, params: Params) -> PairHistogram:
    return _io.pair_histogram(
        store, a, window_ps=round(params["window_ns"] * 1e3), bin_ps=round(params["bin_ns"] * 1e3)
    )


def fetch(store: TimeTagStore, target: Target, params: Params) -> G2Data:
    from qdcat.analyses import blinking

    rho_a, rho_b = signal_fractions(target.main, target.companion("background"))
    traces = blinking.fetch(store, target, blinking.ANALYSIS.defaults())
    return G2Data(g2_histogram(store, target.main, params), rho_a, rho_b, traces)


def fit(hist: PairHistogram, params: Params, rho_a: float | None = None, rho_b: float | None = None) -> Any:
    from qdcat.analysis.fits import fit_g2_cw

    return fit_g2_cw(
        hist.delays_ps / 1e3,
        hist.g2,
        counts=hist.counts,
        rho_a=rho_a,
        rho_b=rho_b,
        free_baseline=bool(params["free_baseline"]),
    )


def on_fraction(data: G2Data) -> float | None:
    """The acquisition's on-fraction as the blinking analysis finds it (its default parameters)."""
    from qdcat.analyses import blinking

    if data.traces is None:
        return None
    return float(blinking.analyze(data.traces, blinking.ANALYSIS.defaults()).on_fraction)


def compute(data: G2Data, target: Target, params: Params) -> Computed:
    hist = data.hist
    f = fit(hist, params, data.rho_a, data.rho_b)
    t_s = hist.duration_ps / 1e12
    bg = target.companion("background")
    on = on_fraction(data)
    flags = list(f.flags) + (["mostly_off"] if on is not None and on < MOSTLY_OFF else [])
    return Computed(
        {
            "g2_zero": f.g2_zero,
            "g2_zero_err": f.g2_zero_err,
            "g2_zero_corrected": finite_or_none(f.g2_zero_corrected),
            "g2_zero_corrected_err": finite_or_none(f.g2_zero_corrected_err),
            "antibunching_rate_per_us": f.antibunching_rate_per_us,
            "antibunching_rate_per_us_err": f.antibunching_rate_per_us_err,
            "antibunching_time_ns": f.antibunching_time_ns,
            "antibunching_time_ns_err": f.antibunching_time_ns_err,
            "tau0_ns": f.tau0_ns,
            "tau0_ns_err": f.tau0_ns_err,
            "baseline": f.baseline,
            "baseline_err": f.baseline_err,
            "signal_fraction_a": finite_or_none(f.rho_a),
            "signal_fraction_b": finite_or_none(f.rho_b),
            "background_measurement_id": bg.measurement_id if bg is not None else None,
            "fit_window_start_ns": f.window_ns[0],
            "fit_window_stop_ns": f.window_ns[1],
            "bin_ns": params["bin_ns"],
            "coincidences": int(hist.counts.sum()),
            "count_rate_a_cps": hist.n_a / t_s,
            "count_rate_b_cps": hist.n_b / t_s,
            "trace_on_fraction": on,
            "deviance_per_dof": f.deviance_per_dof,
            "converged": f.converged,
            "flags": flags,
        },
        {"delay_ns": hist.delays_ps / 1e3, "counts": hist.counts, "g2": hist.g2},
    )


def fit_lines(r: Any) -> tuple[str, ...]:
    from qdcat import plots

    lines = [
        f"$g^{{(2)}}(0)$ = {plots.pm(r['g2_zero'], r['g2_zero_err'])}",
        r"$(\gamma + w_p)^{-1}$ = "
        + plots.pm(r["antibunching_time_ns"], r["antibunching_time_ns_err"], "ns"),
        f"τ0 = {plots.pm(r['tau0_ns'], r['tau0_ns_err'], 'ns')}",
    ]
    if r.get("g2_zero_corrected") is not None:
        lines.append(
            "background-corrected $g^{(2)}(0)$ = "
            + plots.pm(r["g2_zero_corrected"], r["g2_zero_corrected_err"])
        )
    return tuple(lines)


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import g2_cw

    r, a = d.result, d.arrays
    baseline = r.get("baseline")
    fit = None
    if baseline is not None:  # results of version 1 with a free baseline did not store it
        grid = np.linspace(r["fit_window_start_ns"], r["fit_window_stop_ns"], 1500)
        fit = plots.Fit(
            grid,
            g2_cw(grid, r["g2_zero"], r["antibunching_rate_per_us"] * 1e-3, r["tau0_ns"], baseline),
            "fit",
            lines=fit_lines(r),
            flags=tuple(str(r.get("flags") or "").split()),
        )
    return {"g2": plots.plot_g2(a["delay_ns"], a["g2"], fit, title=f"cw g2 · {d.title}")}


# Shared with the power series, which fits one g2 per point.
G2_PARAMS = (
    Param("window_ns", float, 150.0, "histogram and fit window ±window", "ns", lo=1.0, hi=1e8),
    Param("bin_ns", float, 1.0, "histogram bin width", "ns", lo=0.001, hi=1e4),
    # Free by default: blinking bunches photons on µs–s scales, so within ±150 ns g2
    # levels off at ~1/on-fraction, not 1. With b fixed at 1 the simulated 72-dot
    # session gave rate pulls of mean +0.42 (51 % within 1σ); freed, −0.07 (66 %).
    Param("free_baseline", bool, True, "fit the baseline b (blinking bunching) instead of fixing it at 1"),
)

G2_QC_RULES = (
    QcRule("not_converged", ("*",), "the fit did not converge"),
    QcRule("few_counts", ("*",), "fewer than 100 coincidences in the fit window"),
    QcRule("at_bound:rate", ("*",), "γ + w_p sits at its bound"),
    QcRule("at_bound:tau0_ns", ("*",), "the dip position sits at the edge of the window"),
    QcRule("no_antibunching", ("*",), "no dip: this is not a single emitter's g2"),
    QcRule("poor_fit", ("*",), "the dip model does not describe the histogram"),
    QcRule("mostly_off", ("*",), "the dot was on < 30 % of the time: background-dominated, few signal pairs"),
)

G2_COLUMNS = (
    Column("g2_zero", "float", "", "g2(0) of the fitted dip (raw, background included)", err=True, dots=True),
    Column(
        "g2_zero_corrected",
        "float",
        "",
        "background-corrected g2(0) = (g2 − (1 − ρ_Aρ_B))/(ρ_Aρ_B)",
        err=True,
        nullable=True,
        dots=True,
    ),
    Column("antibunching_rate_per_us", "float", "µs⁻¹", "γ + w_p", err=True, dots=True),
    Column("antibunching_time_ns", "float", "ns", "(γ + w_p)⁻¹", err=True, dots=True),
    Column("tau0_ns", "float", "ns", "dip position τ0 (cable delay)", err=True, dots=True),
    Column("baseline", "float", "", "baseline b of the fit (1 = no bunching)", err=True, nullable=True),
    Column("signal_fraction_a", "float", "", "ρ_A = 1 − B/R on arm A", nullable=True),
    Column("signal_fraction_b", "float", "", "ρ_B = 1 − B/R on arm B", nullable=True),
)

ANALYSIS = Analysis(
    name="g2_cw",
    version="3",
    order=30,
    summary="cw antibunching fit: g2(0), γ + w_p, τ0 (corrected with a background)",
    applies_to="cw time tags on a dot with an HBT pair (every channel of each arm)",
    method=(
        "Pair delays t_B − t_A within ±window_ns, normalised g2 = C·T/(N_A·N_B·Δτ). Fitted by Poisson "
        "ML in counts with the bin-averaged model b − (b − g2(0))·exp(−(γ + w_p)|τ − τ0|), τ0 free. "
        "With a background acquisition: ρ = 1 − B/R per arm and "
        "g2_corr = (g2 − (1 − ρ_Aρ_B))/(ρ_Aρ_B)."
    ),
    params=G2_PARAMS,
    columns=(
        *G2_COLUMNS,
        Column(
            "background_measurement_id",
            "int",
            "",
            "the background acquisition used",
            nullable=True,
            references="measurement.id",
        ),
        Column("fit_window_start_ns", "float", "ns", "fit window start"),
        Column("fit_window_stop_ns", "float", "ns", "fit window end"),
        Column("bin_ns", "float", "ns", "histogram bin width"),
        Column("coincidences", "bigint", "counts", "pairs in the histogram"),
        Column(
            "trace_on_fraction",
            "float",
            "",
            "on-fraction of the acquisition (as blinking finds it): a mostly-off dot's g2 is flagged",
            nullable=True,
        ),
        Column("count_rate_a_cps", "float", "counts/s", "count rate of arm A", dots=True),
        Column("count_rate_b_cps", "float", "counts/s", "count rate of arm B", dots=True),
        Column("deviance_per_dof", "float", "", "Poisson deviance per degree of freedom"),
        Column("converged", "bool", "", "the optimiser converged"),
    ),
    flags={
        "at_bound:<parameter>": "a parameter sits at its bound",
        "not_converged": "the optimiser did not converge",
        "few_counts": "fewer than 100 coincidences in the fit window",
        "poor_fit": "deviance/dof above 1 + 5·sqrt(2/dof)",
        "no_antibunching": "g2(0) is not 3σ below the baseline: no single emitter's dip",
        "mostly_off": "the dot was on less than 30 % of the acquisition (background dominates g2(0))",
    },
    qc_rules=G2_QC_RULES,
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("g2_cw",),
    headline=("g2_zero", "antibunching_time_ns"),
    companions=(BACKGROUND,),
)
