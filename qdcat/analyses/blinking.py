"""Time tags of a dot → intensity trace → on/off threshold, on-fraction, power-law dwell-time exponents.

Applies to every time-tag acquisition on a dot, whatever the excitation: an
HBT acquisition holds the dot's trace too (every detector is summed). A
background acquisition of the same specimen and setup sets the threshold.
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
    import numpy as np
    import numpy.typing as npt
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.dot_id is None:
        return "not on a dot"
    if not a.detectors or a.photons == 0:
        return "no detector photons"
    return None


@dataclass(frozen=True)
class Traces:
    counts: npt.NDArray[np.int64]
    background: npt.NDArray[np.int64] | None
    bin_s: float
    dark_cps: float | None = None  # the setup's detectors' dark counts (the off level when no background)


def fetch(store: TimeTagStore, target: Target, params: Params) -> Traces:
    bin_ps = round(params["bin_ms"] * 1e9)
    main = target.main
    bg = target.companion("background")
    counts = _io.trace(store, main, bin_ps=bin_ps)
    bg_counts = _io.trace(store, bg, bin_ps=bin_ps, channels=main.detectors) if bg is not None else None
    return Traces(counts, bg_counts, bin_ps / 1e12, main.dark_cps)


def analyze(tr: Traces, params: Params) -> Any:
    """The blinking analysis of a trace with this analysis's parameters (g2_cw reads its on-fraction)."""
    from qdcat.analysis.blinking import analyze_blinking

    return analyze_blinking(
        tr.counts,
        tr.bin_s,
        background_counts=tr.background,
        dark_counts_per_bin=tr.dark_cps * tr.bin_s
        if tr.dark_cps is not None and tr.background is None
        else None,
        threshold=params["threshold"],
        k_sigma=params["k_sigma"],
        min_periods=params["min_periods"],
    )


def compute(tr: Traces, target: Target, params: Params) -> Computed:
    import numpy as np

    res = analyze(tr, params)
    on = res.on_durations_s
    bg = target.companion("background")
    arrays: dict[str, Any] = {
        "counts": tr.counts,
        "on_durations_s": res.on_durations_s,
        "off_durations_s": res.off_durations_s,
    }
    if tr.background is not None:
        arrays["background_counts"] = tr.background
    for name, dist in (("on", res.on_distribution), ("off", res.off_distribution)):
        if dist is not None:
            arrays[f"{name}_duration_s"] = dist.duration_s
            arrays[f"{name}_probability_per_s"] = dist.probability_per_s
            arrays[f"{name}_survival"] = dist.survival
    return Computed(
        {
            "bin_ms": params["bin_ms"],
            "trace_duration_s": tr.counts.size * tr.bin_s,
            "threshold_counts": res.threshold_counts,
            "threshold_method": res.threshold_method[:200],
            "off_level_counts": res.levels.off_counts,
            "on_level_counts": res.levels.on_counts,
            "background_measurement_id": bg.measurement_id if bg is not None else None,
            "mean_count_rate_cps": float(tr.counts.mean()) / tr.bin_s,
            "on_fraction": res.on_fraction,
            "on_fraction_err": res.on_fraction_err,
            "on_fraction_binned": res.on_fraction_binned,
            "n_on_periods": int(on.size),
            "n_off_periods": int(res.off_durations_s.size),
            "k_on_loglog": finite_or_none(res.k_on_loglog),
            "k_on_loglog_err": finite_or_none(res.k_on_loglog_err),
            "k_off_loglog": finite_or_none(res.k_off_loglog),
            "k_off_loglog_err": finite_or_none(res.k_off_loglog_err),
            "on_loglog_log10_p_1s": finite_or_none(res.on_loglog_log10_p_1s),
            "off_loglog_log10_p_1s": finite_or_none(res.off_loglog_log10_p_1s),
            "k_on_ml": finite_or_none(res.k_on_ml),
            "k_on_ml_err": finite_or_none(res.k_on_ml_err),
            "k_off_ml": finite_or_none(res.k_off_ml),
            "k_off_ml_err": finite_or_none(res.k_off_ml_err),
            "ml_max_bins": int(tr.counts.size),
            "on_longer_than_1s_fraction": float(np.mean(on > 1.0)) if on.size else None,
            "flags": res.flags,
        },
        arrays,
    )


def _states(r: Any, a: Any) -> list[Any]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import power_law_pmf

    out = []
    bin_s = r["bin_ms"] * 1e-3
    for name in ("on", "off"):
        if f"{name}_duration_s" not in a:
            continue
        t = np.asarray(a[f"{name}_duration_s"], dtype=np.float64)
        grid = np.geomspace(float(t.min()), float(t.max()), 200)
        laws = []
        k_ll, icpt = r.get(f"k_{name}_loglog"), r.get(f"{name}_loglog_log10_p_1s")
        if k_ll is not None and icpt is not None:
            laws.append(
                plots.Fit(
                    grid,
                    10.0 ** (icpt - k_ll * np.log10(grid)),
                    f"log–log fit, k = {plots.pm(k_ll, r.get(f'k_{name}_loglog_err'))}",
                )
            )
        k_ml, x_max = r.get(f"k_{name}_ml"), r.get("ml_max_bins")
        if k_ml is not None and x_max:
            xb = np.unique(np.maximum(np.round(grid / bin_s), 1.0))
            laws.append(
                plots.Fit(
                    xb * bin_s,
                    power_law_pmf(xb, k_ml, 1, int(x_max)) / bin_s,
                    f"ML, k = {plots.pm(k_ml, r.get(f'k_{name}_ml_err'))}",
                )
            )
        out.append(
            plots.Durations(
                name,
                t,
                a[f"{name}_probability_per_s"],
                a[f"{name}_survival"],
                int(np.asarray(a[f"{name}_durations_s"]).size),
                laws,
            )
        )
    return out


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots

    r, a = d.result, d.arrays
    width_s = r["bin_ms"] * 1e-3
    counts = np.asarray(a["counts"])
    states = _states(r, a)
    return {
        "trace": plots.plot_trace(
            np.arange(counts.size) * width_s,
            counts,
            r["threshold_counts"],
            background_counts=a.get("background_counts"),
            title=f"Intensity trace · {d.title} (on {100 * r['on_fraction']:.1f} %)",
        ),
        "on_off": plots.plot_on_off(states, title=f"On/off durations · {d.title}"),
        "survival": plots.plot_survival(states, title=f"Survival of on/off periods · {d.title}"),
    }


_K = "power-law exponent of P(t) ∝ t^−k"

BLINKING_PARAMS = (
    Param("bin_ms", float, 10.0, "trace bin width", "ms", lo=0.001, hi=1e4),
    Param(
        "threshold",
        str,
        "midpoint",
        "midpoint: θ = (off + on)/2; background_sigma: θ = off + k_sigma·SD (the study's method)",
        choices=("midpoint", "background_sigma"),
    ),
    Param("k_sigma", float, 3.0, "background SDs above the off level (background_sigma)", lo=0.0, hi=50.0),
    Param("min_periods", int, 10, "fewest periods of a state for a per-dot exponent", lo=2, hi=10_000),
)

ANALYSIS = Analysis(
    name="blinking",
    version="3",
    order=50,
    summary="on/off threshold, on-fraction, power-law exponents (log–log and ML)",
    applies_to="every time-tag acquisition on a dot (all detectors summed)",
    method=(
        "Photons of every detector binned (bin_ms). The off level: a background acquisition of the same "
        "specimen and setup at the nearest intensity (mean, SD), else the setup's detector dark counts, "
        "else the trace's low level; the on level from the trace (one Poisson level, or a two-level "
        "mixture accepted by BIC and separation). θ = (off + on)/2 by default (a bin half on, half off "
        "splits evenly), or off + k_sigma·SD (the study's). Runs above/below θ are on/off periods (the "
        "truncated first and last are dropped). P(t) = [N(t_n)/N_total]/Δavg(t_n); k by log–log "
        "regression of P(t) (the study's method) and by maximum likelihood of a discrete power law "
        "truncated at 1 bin and the trace length. Per-dot exponents from fewer than min_periods periods "
        "fail QC: pool a sample's dots (`qdcat blinking`)."
    ),
    params=BLINKING_PARAMS,
    columns=(
        Column("bin_ms", "float", "ms", "trace bin width", dots="blinking_bin_ms"),
        Column("trace_duration_s", "float", "s", "length of the trace", nullable=True, dots=True),
        Column(
            "threshold_counts",
            "float",
            "counts",
            "on/off threshold θ per bin",
            dots="blinking_threshold_counts",
        ),
        Column("threshold_method", "str", "", "how θ was set, and where the off level came from", length=200),
        Column("off_level_counts", "float", "counts", "off level per bin", nullable=True),
        Column(
            "on_level_counts", "float", "counts", "on level per bin (NULL: the dot stayed off)", nullable=True
        ),
        Column(
            "background_measurement_id",
            "int",
            "",
            "the background acquisition used",
            nullable=True,
            references="measurement.id",
        ),
        Column("mean_count_rate_cps", "float", "counts/s", "mean count rate of the trace", dots=True),
        Column(
            "on_fraction",
            "float",
            "",
            "fraction of time on, sub-bin periods included: (mean − off)/(on − off), not clipped to [0, 1]",
            err=True,
            dots=True,
        ),
        Column("on_fraction_binned", "float", "", "fraction of bins above θ (the study's)", nullable=True),
        Column("n_on_periods", "int", "", "complete on periods"),
        Column("n_off_periods", "int", "", "complete off periods"),
        Column(
            "k_on_loglog", "float", "", f"on {_K}, log–log regression", err=True, nullable=True, dots=True
        ),
        Column(
            "k_off_loglog", "float", "", f"off {_K}, log–log regression", err=True, nullable=True, dots=True
        ),
        Column("on_loglog_log10_p_1s", "float", "", "log10 P_on(1 s) of the regression line", nullable=True),
        Column(
            "off_loglog_log10_p_1s", "float", "", "log10 P_off(1 s) of the regression line", nullable=True
        ),
        Column("k_on_ml", "float", "", f"on {_K}, maximum likelihood", err=True, nullable=True, dots=True),
        Column("k_off_ml", "float", "", f"off {_K}, maximum likelihood", err=True, nullable=True, dots=True),
        Column(
            "ml_max_bins",
            "bigint",
            "",
            "upper truncation of the ML power law (trace length in bins)",
            nullable=True,
        ),
        Column(
            "on_longer_than_1s_fraction",
            "float",
            "",
            "fraction of on periods longer than 1 s",
            nullable=True,
            dots=True,
        ),
    ),
    flags={
        "levels_not_resolved": "on and off lie closer than their noise: the on/off split means little",
        "one_level": "the trace shows one level (always on, or always off)",
        "state_unknown": "one level and no background or dark rate: whether it is on or off is unknown",
        "few_<state>_periods": "fewer than min_periods complete periods: a weak per-dot exponent",
        "<state>_ml:<flag>": "a flag of the ML fit (at_bound:k, interval_open)",
        "too_few_<state>_periods_for_loglog": "fewer than three distinct durations: no log–log exponent",
        "too_few_<state>_periods_for_ml": "fewer than two periods: no ML exponent",
    },
    qc_rules=(
        QcRule("levels_not_resolved", ("*",), "on and off levels overlap"),
        QcRule("state_unknown", ("*",), "one level and no measured off level: on or off cannot be told"),
        QcRule("on_ml:*", ("k_on_ml",), "the ML fit of the on times is unreliable"),
        QcRule("off_ml:*", ("k_off_ml",), "the ML fit of the off times is unreliable"),
        QcRule("few_on_periods", ("k_on_ml", "k_on_loglog"), "too few on periods for a per-dot exponent"),
        QcRule("few_off_periods", ("k_off_ml", "k_off_loglog"), "too few off periods for a per-dot exponent"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("intensity_trace",),
    headline=("on_fraction", "k_on_ml", "k_off_ml"),
    companions=(BACKGROUND,),
)
