"""Pulsed HBT acquisition → coincidence histogram → g2(0): τ0-centred window ratio, and a peak-model fit.

Applies to every pulsed time-tag acquisition on a dot with an HBT pair (T3, or
T2 with the laser sync). Photon times are the arrival times (T3: macrotime +
nanotime), so the peaks are resolved.

Two estimators, both stored:

* ``g2_zero`` — area of the window centred on τ0 over the mean area of the
  ±1 … ±n side windows (half-width ``half_window_fraction``·period). Nothing is
  removed: uncorrelated background pairs fill the centre window as much as the
  side windows (so it reads 1 − ρ_Aρ_B(1 − g2_dot)), and peak tails longer than
  the window leak between windows.
* ``g2_zero_corrected`` — the centre/side area ratio of a Poisson-ML model of
  the whole histogram (Laplace peaks of the emitter's decay rate at τ0 + k·P
  over a flat floor): background floor removed, tails counted in full.
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
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.analysis.histograms import PairHistogram
    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.dot_id is None:
        return "not on a dot"
    if a.excitation_mode == "cw" or a.record == "t2":
        return "not pulsed (no nanotimes, no sync channel, or recorded as cw)"
    if not a.has_hbt_pair:
        return "no two-detector HBT pair (setup roles hbt_a and hbt_b, both with photons)"
    return None


@dataclass(frozen=True)
class PulsedData:
    hist: PairHistogram
    period_ps: float


def fetch(store: TimeTagStore, target: Target, params: Params) -> PulsedData:
    a = target.main
    period = _io.period_ps(a)
    window = round((params["n_side_peaks"] + 1) * period)
    bin_ps = max(1, round(params["bin_ns"] * 1e3))
    window = (window // bin_ps + 1) * bin_ps
    return PulsedData(_io.pair_histogram(store, a, window_ps=window, bin_ps=bin_ps), period)


def compute(data: PulsedData, target: Target, params: Params) -> Computed:
    from qdcat.analysis.fits import fit_g2_pulsed, g2_pulsed, pulsed_peak_offset

    tau = data.hist.delays_ps / 1e3
    bin_ps = data.hist.bin_ps
    assert bin_ps is not None  # fetch() histograms the delays in linear bins
    counts = data.hist.counts
    period = data.period_ps / 1e3
    n_side = int(params["n_side_peaks"])
    arrays = {"delay_ns": tau.astype("float64"), "counts": counts}
    side = (abs(tau) >= 0.5 * period) & (abs(tau) < (n_side + 0.5) * period)
    if not counts[side].any():
        # A measurement outcome, not a failure: too few photons for a coincidence in a side peak.
        return Computed(
            {
                "g2_zero": None,
                "center_area_counts": int(counts.sum()),
                "side_area_mean_counts": 0.0,
                "n_side_peaks": n_side,
                "period_ns": period,
                "bin_ns": bin_ps / 1e3,
                "flags": ["no_coincidences"],
            },
            arrays,
        )
    tau0, tau0_err = pulsed_peak_offset(tau, counts, period_ns=period)
    hw = params["half_window_fraction"] * period
    ratio = g2_pulsed(tau, counts, period_ns=period, n_side_peaks=n_side, center_ns=tau0, half_window_ns=hw)
    flags = list(ratio.flags)
    row: dict[str, Any] = {
        "g2_zero": ratio.g2_zero,
        "g2_zero_err": ratio.g2_zero_err,
        "center_area_counts": ratio.center_area_counts,
        "side_area_mean_counts": ratio.side_area_mean_counts,
        "n_side_peaks": n_side,
        "period_ns": period,
        "tau0_ns": tau0,
        "tau0_ns_err": tau0_err,
        "half_window_ns": hw,
        "bin_ns": bin_ps / 1e3,
        "g2_zero_corrected": None,
        "g2_zero_corrected_err": None,
    }
    try:
        model = fit_g2_pulsed(tau, counts, period_ns=period, n_side_peaks=n_side, tau0_ns=tau0)
    except Exception as exc:  # the window ratio stands on its own; say why the model is missing
        flags.append("no_peak_model")
        row["model_error"] = str(exc)[:200]
    else:
        flags += [f"model:{f}" for f in model.flags]
        row |= {
            "g2_zero_corrected": model.g2_zero,
            "g2_zero_corrected_err": model.g2_zero_err,
            "peak_area_counts": model.side_area_counts,
            "peak_rate_per_ns": model.rate_per_ns,
            "peak_rate_per_ns_err": model.rate_per_ns_err,
            "background_per_ns": model.background_per_ns,
            "deviance_per_dof": model.deviance_per_dof,
        }
    row["flags"] = flags
    return Computed(row, arrays)


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import pulsed_g2_binned

    r, a = d.result, d.arrays
    tau = np.asarray(a["delay_ns"], dtype=np.float64)
    period = r["period_ns"]
    tau0 = r.get("tau0_ns") or 0.0
    windows = plots.PeakWindows(
        tau0, period, int(r["n_side_peaks"]), r.get("half_window_ns") or 0.25 * period
    )
    lines = [
        f"$g^{{(2)}}(0)$ windows = {plots.pm(r['g2_zero'], r.get('g2_zero_err'))}",
        f"centre area = {r['center_area_counts']} counts, mean side = {r['side_area_mean_counts']:.1f}",
        f"τ0 = {plots.pm(tau0, r.get('tau0_ns_err'), 'ns')}, period = {period:g} ns",
    ]
    fit = None
    if r.get("g2_zero_corrected") is not None and r.get("peak_rate_per_ns"):
        lines.insert(
            1, f"$g^{{(2)}}(0)$ peak model = {plots.pm(r['g2_zero_corrected'], r['g2_zero_corrected_err'])}"
        )
        step = float(np.median(np.diff(tau)))
        model = pulsed_g2_binned(
            tau - step / 2,
            tau + step / 2,
            r["peak_area_counts"],
            r["g2_zero_corrected"],
            r["peak_rate_per_ns"],
            tau0,
            period,
            r["background_per_ns"],
        )
        fit = plots.Fit(
            tau, model, "peak model", lines=tuple(lines), flags=tuple(str(r.get("flags") or "").split())
        )
    else:
        fit = plots.Fit(
            (), (), "no peak model", lines=tuple(lines), flags=tuple(str(r.get("flags") or "").split())
        )
    return {"g2_pulsed": plots.plot_pulsed_g2(tau, a["counts"], windows, fit, title=f"Pulsed g2 · {d.title}")}


ANALYSIS = Analysis(
    name="g2_pulsed",
    version="2",
    order=40,
    summary="pulsed g2(0): τ0-centred window ratio, and a peak-model fit without background and leak",
    applies_to="pulsed time tags (T3, or T2 with the sync) on a dot with an HBT pair",
    method=__doc__.split("Two estimators, both stored:", 1)[1].strip() if __doc__ else "",
    params=(
        Param("n_side_peaks", int, 4, "side peaks on each side", lo=1, hi=50),
        Param("bin_ns", float, 1.0, "histogram bin width", "ns", lo=0.001, hi=100.0),
        Param(
            "half_window_fraction",
            float,
            0.5,
            "half-width of each peak window as a fraction of the period (0.5: the windows tile the axis)",
            lo=0.01,
            hi=0.5,
        ),
    ),
    columns=(
        Column(
            "g2_zero",
            "float",
            "",
            "centre/side window-area ratio (raw)",
            err=True,
            nullable=True,
            dots="g2_pulsed_zero",
        ),
        Column(
            "g2_zero_corrected",
            "float",
            "",
            "centre/side area ratio of the peak model (floor removed, tails in full)",
            err=True,
            nullable=True,
            dots="g2_pulsed_zero_corrected",
        ),
        Column("center_area_counts", "bigint", "counts", "coincidences in the centre window"),
        Column("side_area_mean_counts", "float", "counts", "mean coincidences in a side window"),
        Column("n_side_peaks", "int", "", "side peaks on each side"),
        Column("period_ns", "float", "ns", "laser period"),
        Column("tau0_ns", "float", "ns", "peak offset τ0 (cable delay)", err=True, nullable=True),
        Column("half_window_ns", "float", "ns", "half-width of each window", nullable=True),
        Column("bin_ns", "float", "ns", "histogram bin width", nullable=True),
        Column("peak_area_counts", "float", "counts", "side-peak area of the model", nullable=True),
        Column("peak_rate_per_ns", "float", "ns⁻¹", "decay rate of the peak shape", err=True, nullable=True),
        Column("background_per_ns", "float", "counts/ns", "uncorrelated floor of the model", nullable=True),
        Column("deviance_per_dof", "float", "", "Poisson deviance per dof of the model", nullable=True),
        Column("model_error", "str", "", "why the peak model is missing", nullable=True, length=200),
    ),
    flags={
        "zero_center_area": "no coincidence in the centre window",
        "no_coincidences": "no coincidence in any side window: too few photons (g2_zero NULL)",
        "few_counts": "side windows hold fewer than 10 coincidences on average",
        "no_peak_model": "the peak model could not be fitted (see model_error); the window ratio stands",
        "model:<flag>": "a flag of the peak-model fit (at_bound, poor_fit, few_counts, …)",
    },
    qc_rules=(
        QcRule("no_coincidences", ("*",), "no coincidence: too few photons"),
        QcRule("few_counts", ("*",), "side windows hold fewer than 10 coincidences on average"),
        QcRule("no_peak_model", ("g2_zero_corrected",), "the peak model could not be fitted"),
        QcRule("model:*", ("g2_zero_corrected",), "the peak-model fit is unreliable"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("g2_pulsed",),
    headline=("g2_zero", "g2_zero_corrected"),
)
