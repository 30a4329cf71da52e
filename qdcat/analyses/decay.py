"""Pulsed acquisition → TCSPC histogram → mono-exponential tail (Poisson ML): the lifetime τ and γ = 1/τ.

Applies to every time-tag acquisition that times photons against laser
pulses: T3 files (nanotimes) and T2 files with the laser sync recorded as
events. Every detector of the acquisition feeds the histogram.
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
)
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.excitation_mode == "cw":
        return "cw excitation: no laser pulses to time the photons against"
    if a.record == "t2":
        return "T2 without a laser sync channel: record the sync (setup role 'sync') or use T3"
    if a.record == "t3" and not a.nanotime_resolution_ps:
        return (
            "nanotimes without their unit (a .spc without its .set): delete it, ingest again with --set-file"
        )
    if not a.detectors or a.photons == 0:
        return "no detector photons"
    return None


def fetch(store: TimeTagStore, target: Target, params: Params) -> _io.Tcspc:
    return _io.tcspc(store, target.main, t2_bin_ps=params["bin_ps"])


def histogram(h: _io.Tcspc, bin_ps: float) -> tuple[Any, Any, float]:
    """The TCSPC histogram rebinned to about ``bin_ps`` (a whole number of the file's bins).

    A last bin the data cover only in part is dropped: the model is integrated over whole
    bins, and a partial one (a period of 3125 file bins rebinned by 8) biases the fit
    (τ high by ~0.8 standard errors at 3·10⁵ photons, seen on simulated data).
    """
    import numpy as np

    rebin = max(1, round(bin_ps / h.bin_ps))
    n = h.counts.size // rebin * rebin
    if n == 0:  # fewer file bins than one rebinned bin: keep them all in one
        n, rebin = h.counts.size, h.counts.size
    counts = h.counts[:n].reshape(-1, rebin).sum(axis=1)
    width_ns = h.bin_ps * rebin / 1e3
    return np.arange(counts.size + 1) * width_ns, counts, width_ns


def compute(h: _io.Tcspc, target: Target, params: Params) -> Computed:
    from qdcat.analysis.fits import fit_decay

    edges_ns, counts, width_ns = histogram(h, params["bin_ps"])
    try:
        fit = fit_decay(
            edges_ns,
            counts,
            start_after_peak_ns=params["start_after_peak_ns"],
            fit_stop_ns=params["fit_stop_ns"],
        )
    except InvalidValueError as exc:
        raise InvalidValueError(
            f"{exc} (histogram of {int(counts.sum())} photons in {width_ns * 1e3:g} ps bins; the fit "
            "window is set with --param decay.start_after_peak_ns=… and decay.fit_stop_ns=…, the bins "
            "with decay.bin_ps=…)"
        ) from None
    return Computed(
        {
            "lifetime_ns": fit.lifetime_ns,
            "lifetime_ns_err": fit.lifetime_ns_err,
            "decay_rate_per_us": fit.decay_rate_per_us,
            "decay_rate_per_us_err": fit.decay_rate_per_us_err,
            "amplitude_counts_per_ns": fit.amplitude_counts_per_ns,
            "amplitude_counts_per_ns_err": fit.amplitude_counts_per_ns_err,
            "background_counts_per_ns": fit.background_counts_per_ns,
            "background_counts_per_ns_err": fit.background_counts_per_ns_err,
            "fit_start_ns": fit.fit_start_ns,
            "fit_stop_ns": fit.fit_stop_ns,
            "bin_ns": width_ns,
            "period_ns": h.period_ps / 1e3,
            "timing": h.source,
            "photons": int(h.counts.sum()),
            "fit_counts": fit.n_counts,
            "deviance_per_dof": fit.deviance_per_dof,
            "converged": fit.converged,
            "flags": fit.flags,
        },
        {"time_ns_edges": edges_ns, "counts": counts},
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots
    from qdcat.analysis.lineshapes import exp_tail_binned

    r, a = d.result, d.arrays
    edges = np.asarray(a["time_ns_edges"], dtype=np.float64)
    sel = (edges[:-1] >= r["fit_start_ns"] - 1e-9) & (edges[1:] <= r["fit_stop_ns"] + 1e-9)
    left, right = edges[:-1][sel], edges[1:][sel]
    rate = r["decay_rate_per_us"] * 1e-3  # µs⁻¹ → ns⁻¹
    model = exp_tail_binned(
        left, right, r["amplitude_counts_per_ns"], rate, r["background_counts_per_ns"], r["fit_start_ns"]
    )
    fit = plots.Fit(
        0.5 * (left + right),
        model,
        r"fit $A\,e^{-(t-t_0)/\tau} + B$",
        lines=(
            f"τ = {plots.pm(r['lifetime_ns'], r['lifetime_ns_err'], 'ns')}",
            f"γ = {plots.pm(r['decay_rate_per_us'], r['decay_rate_per_us_err'], 'µs$^{-1}$')}",
            "B = "
            + plots.pm(r["background_counts_per_ns"], r.get("background_counts_per_ns_err"), "counts/ns"),
            f"deviance/dof = {r['deviance_per_dof']:.2f}",
        ),
        flags=tuple(str(r.get("flags") or "").split()),
        span=(r["fit_start_ns"], r["fit_stop_ns"]),
    )
    return {"decay": plots.plot_decay(edges, a["counts"], fit, title=f"Decay · {d.title}")}


ANALYSIS = Analysis(
    name="decay",
    version="3",
    order=20,
    summary="TCSPC histogram and mono-exponential tail (Poisson ML): lifetime",
    applies_to="pulsed time tags: T3 (nanotimes) or T2 with the laser sync as a channel; all detectors",
    method=(
        "Histogram of photon delays after the laser pulse (T3 nanotimes, or t − t_last_sync for T2), "
        "summed over every detector and rebinned to about bin_ps. A·exp(−γ(t − t0)) + B, integrated "
        "over each bin, is fitted by Poisson maximum likelihood from start_after_peak_ns after the "
        "peak to the last bin holding counts (no IRF reconvolution: the tail starts after it). "
        "Errors from the expected Fisher information."
    ),
    params=(
        Param(
            "bin_ps",
            float,
            64.0,
            "histogram bin width (T3: rounded to whole nanotime bins)",
            "ps",
            lo=1.0,
            hi=1e7,
        ),
        Param(
            "start_after_peak_ns", float, 1.0, "fit start after the peak (past the IRF)", "ns", lo=0.0, hi=1e4
        ),
        Param(
            "fit_stop_ns",
            float,
            None,
            "fit stop (default: end of the last bin with counts)",
            "ns",
            lo=0.0,
            lo_open=True,
            hi=1e7,
        ),
    ),
    columns=(
        Column("lifetime_ns", "float", "ns", "fluorescence lifetime τ = 1/γ", err=True, dots=True),
        Column("decay_rate_per_us", "float", "µs⁻¹", "decay rate γ", err=True, dots=True),
        Column(
            "amplitude_counts_per_ns", "float", "counts/ns", "tail amplitude A at the fit start", err=True
        ),
        Column("background_counts_per_ns", "float", "counts/ns", "flat background B", err=True),
        Column("fit_start_ns", "float", "ns", "fit window start"),
        Column("fit_stop_ns", "float", "ns", "fit window end"),
        Column("bin_ns", "float", "ns", "histogram bin width"),
        Column("period_ns", "float", "ns", "laser period", nullable=True),
        Column(
            "timing",
            "str",
            "",
            "what timed the photons (T3 nanotimes, T2 sync channel)",
            nullable=True,
            length=40,
        ),
        Column("photons", "bigint", "counts", "photons in the histogram"),
        Column("fit_counts", "bigint", "counts", "photons in the fit window", nullable=True),
        Column("deviance_per_dof", "float", "", "Poisson deviance per degree of freedom"),
        Column("converged", "bool", "", "the optimiser converged"),
    ),
    flags={
        "at_bound:<parameter>": "a parameter sits at its bound",
        "not_converged": "the optimiser did not converge",
        "few_counts": "fewer than 100 photons in the fit window",
        "poor_fit": "deviance/dof above 1 + 5·sqrt(2/dof): not mono-exponential",
        "no_decay_signal": "the exponential does not beat a flat background (likelihood ratio < 25): noise",
        "lifetime_beyond_window": "τ is longer than the fit window: poorly constrained",
    },
    qc_rules=(
        QcRule("no_decay_signal", ("*",), "no decay above the background: the lifetime means nothing"),
        QcRule("not_converged", ("*",), "the fit did not converge"),
        QcRule("at_bound:decay_rate", ("*",), "the decay rate sits at its bound"),
        QcRule("few_counts", ("*",), "fewer than 100 photons in the fit window"),
        QcRule("lifetime_beyond_window", ("*",), "τ exceeds the fit window"),
    ),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    primary_kinds=("decay",),
)
