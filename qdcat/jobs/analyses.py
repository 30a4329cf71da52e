"""The analyses qdcat runs as jobs: what each reads, how it groups inputs, what it writes.

Each :class:`Analysis` names its measurement kinds, default parameters and
result table, finds its *targets* in the catalog (one measurement, or a series
of them) and computes one result row, plus optional derived arrays, from a
target. Compute functions read bulk data from the store only; the runner
(:mod:`qdcat.jobs.runner`) owns every catalog write.

A target carries everything its computation depends on besides the raw bytes —
input checksums, settings, channel roles, the sample's solution decay rate — and
its fingerprint is hashed into the run's ``inputs_hash``: when any of it
changes, the old result is stale.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from qdcat.catalog.models import (
    AssetState,
    BiexcitonResult,
    BlinkingResult,
    DecayResult,
    Dot,
    G2CwResult,
    G2PulsedResult,
    InstrumentSettings,
    Measurement,
    MeasurementKind,
    PowerSeriesResult,
    RawAsset,
    Sample,
    SaturationResult,
    SetupChannel,
    Specimen,
    SpectrumResult,
)
from qdcat.errors import InvalidValueError

HC_EV_NM = 1239.841984  # h·c in eV·nm


@dataclass(frozen=True)
class InputMeasurement:
    """One measurement a target reads, with the metadata its analysis depends on."""

    measurement_id: int
    kind: str
    role: str  # "main", "point" (of a series) or "background"
    store_path: str = field(compare=False)
    data_sha256: str
    data_kind: str
    has_nanotimes: bool
    resolution_ps: float | None
    nanotime_resolution_ps: float | None
    duration_s: float | None
    channel_counts: dict[str, int]
    channels: dict[str, int]  # role -> channel code of the measurement's setup
    intensity_w_cm2: float | None
    excitation_wavelength_nm: float | None
    repetition_rate_mhz: float | None
    series_index: int | None

    def fingerprint(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("store_path")
        return d


@dataclass(frozen=True)
class Target:
    """What one analysis run is about: a measurement or a series, with its inputs."""

    analysis: str
    key: str
    specimen_id: int
    dot_id: int | None
    measurement_id: int | None
    series_name: str | None
    label: str  # human-readable: "slide-InP/QD001 g2_cw #17"
    inputs: tuple[InputMeasurement, ...]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def measurement_ids(self) -> tuple[int, ...]:
        return tuple(i.measurement_id for i in self.inputs)

    def main_inputs(self) -> list[InputMeasurement]:
        return [i for i in self.inputs if i.role in ("main", "point")]

    def background(self) -> InputMeasurement | None:
        return self.companion("background")

    def companion(self, role: str) -> InputMeasurement | None:
        return next((i for i in self.inputs if i.role == role), None)

    def inputs_hash(self) -> str:
        payload = {
            "key": self.key,
            "inputs": [i.fingerprint() for i in self.inputs],
            "context": self.context,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Computed:
    """A compute function's output: result columns and derived arrays for the store."""

    row: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    name: str
    version: str
    kinds: tuple[MeasurementKind, ...]
    result_model: type
    defaults: Mapping[str, Any]
    compute: Callable[[Any, Target, Mapping[str, Any]], Computed]
    grouping: str = "measurement"  # "measurement" or "series"
    # Another measurement of the same specimen the analysis reads too, as (role, kind):
    # the newest one is used, and adding a newer one makes the result stale.
    companion: tuple[str, MeasurementKind] | None = None
    needs_sample_decay_rate: bool = False
    description: str = ""

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``; unknown names and wrong types are refused."""
        out = dict(self.defaults)
        for k, v in (overrides or {}).items():
            if k not in self.defaults:
                valid = ", ".join(sorted(self.defaults)) or "(none)"
                raise InvalidValueError(f"analysis {self.name!r} has no parameter {k!r}; valid: {valid}")
            default = self.defaults[k]
            try:
                out[k] = type(default)(v) if not isinstance(default, bool) else _parse_bool(v)
            except (TypeError, ValueError):
                raise InvalidValueError(
                    f"parameter {self.name}.{k} must be a {type(default).__name__}, got {v!r}"
                ) from None
        return out


def _parse_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(v)


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(params), sort_keys=True, default=str).encode()).hexdigest()


def _flags(flags: Iterable[str]) -> str:
    return " ".join(flags)[:255]


def _f(x: Any) -> float | None:
    """A float for the catalog; NaN and ±inf become NULL (SQL has no NaN on every backend)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------- helpers on inputs


def _hbt(inp: InputMeasurement) -> tuple[int, int]:
    try:
        return inp.channels["hbt_a"], inp.channels["hbt_b"]
    except KeyError:
        raise InvalidValueError(
            f"measurement {inp.measurement_id} has no setup with hbt_a and hbt_b channels "
            f"(roles: {inp.channels or 'none'}); record it with a setup that names them "
            "(`qdcat setup add NAME --channel 0=hbt_a --channel 1=hbt_b`)"
        ) from None


def _detectors(inp: InputMeasurement) -> list[int]:
    chans = [c for r, c in inp.channels.items() if r in ("hbt_a", "hbt_b", "detector")]
    if not chans:
        chans = [int(c) for c, n in inp.channel_counts.items() if int(c) < 64 and n > 0]
    if not chans:
        raise InvalidValueError(f"measurement {inp.measurement_id} has no detector events")
    return sorted(set(chans))


def _rate_cps(inp: InputMeasurement, channel: int) -> float | None:
    if not inp.duration_s:
        return None
    return inp.channel_counts.get(str(channel), 0) / inp.duration_s


def _g2_histogram(store: Any, inp: InputMeasurement, params: Mapping[str, Any]) -> Any:
    from qdcat.analysis.histograms import G2Accumulator

    a, b = _hbt(inp)
    acc = G2Accumulator(
        a, b, window_ps=round(params["window_ns"] * 1e3), bin_ps=round(params["bin_ns"] * 1e3)
    )
    reader = store.open_timetags(inp.store_path)
    for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    return acc.result()


def _signal_fractions(target: Target, inp: InputMeasurement) -> tuple[float | None, float | None]:
    """ρ = 1 − B/R per detector from the specimen's background trace (None without one)."""
    bg = target.background()
    if bg is None:
        return None, None
    out = []
    for ch in _hbt(inp):
        total, back = _rate_cps(inp, ch), _rate_cps(bg, ch)
        rho = None if not total or back is None else 1.0 - back / total
        out.append(rho if rho is not None and 0.0 < rho <= 1.0 else None)
    return out[0], out[1]


def _fit_g2(store: Any, target: Target, inp: InputMeasurement, params: Mapping[str, Any]) -> tuple[Any, Any]:
    from qdcat.analysis.fits import fit_g2_cw

    hist = _g2_histogram(store, inp, params)
    rho_a, rho_b = _signal_fractions(target, inp)
    if rho_a is None or rho_b is None:
        rho_a = rho_b = None
    fit = fit_g2_cw(
        hist.delays_ps / 1e3,
        hist.g2,
        counts=hist.counts,
        rho_a=rho_a,
        rho_b=rho_b,
        free_baseline=bool(params.get("free_baseline", False)),
    )
    return hist, fit


# ----------------------------------------------------------------------------- compute functions


def compute_spectrum(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.fits import fit_lorentzian

    (inp,) = target.main_inputs()
    arrays = store.read_arrays(inp.store_path)
    fit = fit_lorentzian(
        arrays["wavelength_nm"],
        arrays["counts"],
        bias_counts=params["bias_counts"],
        read_noise_counts=params["read_noise_counts"],
    )
    # ΔE = hc·Δλ/λ² (meV): derived from the fitted centre and width.
    to_mev = HC_EV_NM * 1e3 / fit.center_nm**2
    return Computed(
        {
            "center_nm": fit.center_nm,
            "center_nm_err": fit.center_nm_err,
            "energy_ev": fit.energy_ev,
            "energy_ev_err": fit.energy_ev_err,
            "fwhm_nm": fit.fwhm_nm,
            "fwhm_nm_err": fit.fwhm_nm_err,
            "fwhm_mev": fit.fwhm_nm * to_mev,
            "fwhm_mev_err": fit.fwhm_nm_err * to_mev,
            "amplitude_counts": fit.amplitude_counts,
            "amplitude_counts_err": fit.amplitude_counts_err,
            "offset_counts": fit.offset_counts,
            "offset_counts_err": fit.offset_counts_err,
            "reduced_chi2": fit.reduced_chi2,
            "converged": fit.converged,
            "flags": _flags(fit.flags),
        }
    )


def _decay(
    store: Any, inp: InputMeasurement, params: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, Any, float]:
    """TCSPC histogram of a decay measurement (T3 nanotimes or T2 with a sync) and its tail fit."""
    from qdcat.analysis.fits import fit_decay
    from qdcat.analysis.histograms import TcspcAccumulator, tcspc_t3

    reader = store.open_timetags(inp.store_path)
    detectors = _detectors(inp)
    rebin = int(params["rebin"])
    if inp.has_nanotimes:
        res = float(inp.nanotime_resolution_ps or 0.0)
        if inp.resolution_ps:
            period_ps = float(inp.resolution_ps)  # T3 macrotimes count sync periods: the file knows
        elif inp.repetition_rate_mhz:
            period_ps = 1e6 / inp.repetition_rate_mhz
        else:
            raise InvalidValueError(
                f"measurement {inp.measurement_id}: the sync period is unknown; record "
                "repetition_rate_mhz in its settings"
            )
        n_bins = max(1, int(period_ps // res))
        total = np.zeros(n_bins, np.int64)
        for chunk in reader.iter_chunks(fields=("channels", "nanotimes")):
            h = tcspc_t3(chunk.channels, chunk.nanotimes, nanotime_resolution_ps=res, n_bins=n_bins)
            total += h.counts[[i for i, c in enumerate(h.channels) if c in detectors]].sum(axis=0)
        bin_ps = res
    else:
        sync = inp.channels.get("sync")
        if sync is None or not inp.repetition_rate_mhz:
            raise InvalidValueError(
                f"measurement {inp.measurement_id} is T2 without nanotimes: a decay needs the "
                "sync recorded as a channel with role 'sync' and repetition_rate_mhz in the settings"
            )
        bin_ps = float(params["t2_bin_ps"])
        n_bins = int((1e6 / inp.repetition_rate_mhz) // bin_ps)
        acc = TcspcAccumulator(bin_ps=int(bin_ps), n_bins=n_bins, sync_channel=sync)
        for chunk in reader.iter_chunks(fields=("timestamps_ps", "channels")):
            acc.add(chunk.timestamps_ps, chunk.channels)
        h = acc.result()
        total = h.counts[[i for i, c in enumerate(h.channels) if c in detectors]].sum(axis=0)
    n = total.size // rebin * rebin
    counts = total[:n].reshape(-1, rebin).sum(axis=1)
    edges_ns = np.arange(counts.size + 1) * (bin_ps * rebin / 1e3)
    fit = fit_decay(edges_ns, counts, start_after_peak_ns=params["start_after_peak_ns"])
    return edges_ns, counts, fit, bin_ps * rebin / 1e3


def compute_decay(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    (inp,) = target.main_inputs()
    edges_ns, counts, fit, bin_ns = _decay(store, inp, params)
    return Computed(
        {
            "lifetime_ns": fit.lifetime_ns,
            "lifetime_ns_err": fit.lifetime_ns_err,
            "decay_rate_per_us": fit.decay_rate_per_us,
            "decay_rate_per_us_err": fit.decay_rate_per_us_err,
            "amplitude_counts_per_ns": fit.amplitude_counts_per_ns,
            "background_counts_per_ns": fit.background_counts_per_ns,
            "fit_start_ns": fit.fit_start_ns,
            "fit_stop_ns": fit.fit_stop_ns,
            "bin_ns": bin_ns,
            "photons": int(counts.sum()),
            "deviance_per_dof": fit.deviance_per_dof,
            "converged": fit.converged,
            "flags": _flags(fit.flags),
        },
        {"time_ns_edges": edges_ns, "counts": counts},
    )


def compute_g2_cw(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    (inp,) = target.main_inputs()
    hist, fit = _fit_g2(store, target, inp, params)
    t_s = hist.duration_ps / 1e12
    return Computed(
        {
            "g2_zero": fit.g2_zero,
            "g2_zero_err": fit.g2_zero_err,
            "g2_zero_corrected": _f(fit.g2_zero_corrected),
            "g2_zero_corrected_err": _f(fit.g2_zero_corrected_err),
            "antibunching_rate_per_us": fit.antibunching_rate_per_us,
            "antibunching_rate_per_us_err": fit.antibunching_rate_per_us_err,
            "antibunching_time_ns": fit.antibunching_time_ns,
            "antibunching_time_ns_err": fit.antibunching_time_ns_err,
            "tau0_ns": fit.tau0_ns,
            "tau0_ns_err": fit.tau0_ns_err,
            "signal_fraction_a": _f(fit.rho_a),
            "signal_fraction_b": _f(fit.rho_b),
            "fit_window_start_ns": fit.window_ns[0],
            "fit_window_stop_ns": fit.window_ns[1],
            "bin_ns": params["bin_ns"],
            "coincidences": int(hist.counts.sum()),
            "count_rate_a_cps": hist.n_a / t_s,
            "count_rate_b_cps": hist.n_b / t_s,
            "deviance_per_dof": fit.deviance_per_dof,
            "converged": fit.converged,
            "flags": _flags(fit.flags),
        },
        {"delay_ns": hist.delays_ps / 1e3, "counts": hist.counts, "g2": hist.g2},
    )


def compute_g2_pulsed(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.fits import g2_pulsed
    from qdcat.analysis.histograms import G2Accumulator

    (inp,) = target.main_inputs()
    if not inp.repetition_rate_mhz:
        raise InvalidValueError(
            f"measurement {inp.measurement_id}: pulsed g2 needs repetition_rate_mhz in its settings"
        )
    period_ps = round(1e6 / inp.repetition_rate_mhz)
    n_side = params["n_side_peaks"]
    # Peak areas only need to know which pulse each photon came from: the pair
    # histogram of macrotimes with one bin per period puts each peak k·P in bin k.
    a, b = _hbt(inp)
    acc = G2Accumulator(a, b, window_ps=(n_side + 1) * period_ps, bin_ps=period_ps)
    for chunk in store.open_timetags(inp.store_path).iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    hist = acc.result()
    k = np.arange(hist.counts.size) - (n_side + 1)
    tau_ns = k * period_ps / 1e3
    res = g2_pulsed(
        tau_ns,
        hist.counts,
        period_ns=period_ps / 1e3,
        n_side_peaks=n_side,
        half_window_ns=0.25 * period_ps / 1e3,
    )
    return Computed(
        {
            "g2_zero": res.g2_zero,
            "g2_zero_err": res.g2_zero_err,
            "center_area_counts": res.center_area_counts,
            "side_area_mean_counts": res.side_area_mean_counts,
            "n_side_peaks": res.n_side_peaks,
            "period_ns": res.period_ns,
            "flags": _flags(res.flags),
        },
        {"delay_ns": tau_ns.astype(np.float64), "counts": hist.counts},
    )


def _trace(store: Any, inp: InputMeasurement, channels: list[int], bin_ps: int) -> np.ndarray:
    from qdcat.analysis.histograms import IntensityTraceAccumulator

    acc = IntensityTraceAccumulator(bin_ps=bin_ps, channels=channels)
    for chunk in store.open_timetags(inp.store_path).iter_chunks(fields=("timestamps_ps", "channels")):
        acc.add(chunk.timestamps_ps, chunk.channels)
    return acc.result().total


def compute_blinking(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.blinking import analyze_blinking

    (inp,) = target.main_inputs()
    bin_ps = round(params["bin_ms"] * 1e9)
    channels = _detectors(inp)
    counts = _trace(store, inp, channels, bin_ps)
    bg = target.background()
    bg_counts = _trace(store, bg, channels, bin_ps) if bg is not None else None
    res = analyze_blinking(counts, bin_ps / 1e12, background_counts=bg_counts, k_sigma=params["k_sigma"])
    on = res.on_durations_s
    return Computed(
        {
            "bin_ms": params["bin_ms"],
            "threshold_counts": res.threshold_counts,
            "threshold_method": res.threshold_method[:120],
            "background_measurement_id": bg.measurement_id if bg is not None else None,
            "mean_count_rate_cps": float(counts.mean()) / (bin_ps / 1e12),
            "on_fraction": res.on_fraction,
            "n_on_periods": int(on.size),
            "n_off_periods": int(res.off_durations_s.size),
            "k_on_loglog": _f(res.k_on_loglog),
            "k_on_loglog_err": _f(res.k_on_loglog_err),
            "k_off_loglog": _f(res.k_off_loglog),
            "k_off_loglog_err": _f(res.k_off_loglog_err),
            "k_on_ml": _f(res.k_on_ml),
            "k_on_ml_err": _f(res.k_on_ml_err),
            "k_off_ml": _f(res.k_off_ml),
            "k_off_ml_err": _f(res.k_off_ml_err),
            "on_longer_than_1s_fraction": float(np.mean(on > 1.0)) if on.size else None,
            "flags": _flags(res.flags),
        },
        {
            "counts": counts,
            "on_durations_s": res.on_durations_s,
            "off_durations_s": res.off_durations_s,
            **({"background_counts": bg_counts} if bg_counts is not None else {}),
        },
    )


def compute_power_series(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.fits import fit_power_series

    points = sorted(target.main_inputs(), key=lambda i: (i.intensity_w_cm2 or 0.0, i.series_index or 0))
    missing = [p.measurement_id for p in points if not p.intensity_w_cm2]
    if missing:
        raise InvalidValueError(
            f"power-series points {missing} have no intensity_w_cm2 in their settings; record it at ingest"
        )
    rates, errs, g2z = [], [], []
    for p in points:
        _, fit = _fit_g2(store, target, p, params)
        rates.append(fit.antibunching_rate_per_us)
        errs.append(fit.antibunching_rate_per_us_err)
        g2z.append(fit.g2_zero)
    intensity = np.array([p.intensity_w_cm2 for p in points], dtype=np.float64)
    wavelength = points[0].excitation_wavelength_nm or params["excitation_wavelength_nm"]
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
            "saturation_intensity_w_cm2_err": fit.saturation_intensity_w_cm2_err,
            "saturation_intensity_w_cm2_lo": _f(fit.saturation_intensity_w_cm2_lo),
            "saturation_intensity_w_cm2_hi": _f(fit.saturation_intensity_w_cm2_hi),
            "excitation_wavelength_nm": fit.wavelength_nm,
            "reduced_chi2": fit.reduced_chi2,
            "flags": _flags(fit.flags),
        },
        {
            "intensity_w_cm2": intensity,
            "rate_per_us": np.asarray(rates),
            "rate_per_us_err": np.asarray(errs),
            "g2_zero": np.asarray(g2z),
        },
    )


def compute_saturation(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.fits import fit_saturation

    points = sorted(target.main_inputs(), key=lambda i: i.intensity_w_cm2 or 0.0)
    missing = [p.measurement_id for p in points if not p.intensity_w_cm2]
    if missing:
        raise InvalidValueError(
            f"saturation points {missing} have no intensity_w_cm2 in their settings; record it at ingest"
        )
    intensity = np.array([p.intensity_w_cm2 for p in points], dtype=np.float64)
    # Integrated PL of each point: the sum of its spectrum.
    pl = np.array([store.read_arrays(p.store_path)["counts"].sum() for p in points], dtype=np.float64)
    # σ = ħω_p·γ/I_S needs the ensemble's own decay rate: from a decay measured on the
    # same specimen (the film) when there is one, else the sample's rate in solution.
    decay = target.companion("decay")
    gamma_err = 0.0
    if decay is not None:
        _, _, dfit, _ = _decay(store, decay, params)
        gamma, gamma_err, source = (
            dfit.decay_rate_per_us,
            dfit.decay_rate_per_us_err,
            "decay_rate_from_specimen_decay",
        )
    else:
        gamma = target.context.get("decay_rate_solution_per_us")
        source = "decay_rate_from_solution" if gamma else "no_decay_rate"
    wavelength = points[0].excitation_wavelength_nm or params["excitation_wavelength_nm"]
    fit = fit_saturation(
        intensity,
        pl,
        relative_noise=params["relative_noise"],
        decay_rate_per_us=gamma,
        decay_rate_per_us_err=gamma_err,
        wavelength_nm=wavelength,
    )
    return Computed(
        {
            "series_name": target.series_name or "",
            "n_points": len(points),
            "saturation_intensity_w_cm2": fit.saturation_intensity_w_cm2,
            "saturation_intensity_w_cm2_err": fit.saturation_intensity_w_cm2_err,
            "amplitude_counts": fit.amplitude_counts,
            "offset_counts": fit.offset_counts,
            "decay_rate_per_us": _f(fit.decay_rate_per_us),
            "decay_rate_per_us_err": _f(gamma_err) if gamma else None,
            "sigma_cm2": _f(fit.sigma_cm2),
            "sigma_cm2_err": _f(fit.sigma_cm2_err),
            "excitation_wavelength_nm": fit.wavelength_nm,
            "reduced_chi2": fit.reduced_chi2,
            "converged": fit.converged,
            "flags": _flags((*fit.flags, source)),
        },
        {"intensity_w_cm2": intensity, "pl_counts": pl},
    )


def compute_biexciton(store: Any, target: Target, params: Mapping[str, Any]) -> Computed:
    from qdcat.analysis.fits import biexciton_yield
    from qdcat.analysis.transient import fit_ta_biexponential

    (inp,) = target.main_inputs()
    gamma = target.context.get("decay_rate_solution_per_us")
    if not gamma:
        raise InvalidValueError(
            f"the sample of measurement {inp.measurement_id} has no decay_rate_solution_per_us; "
            "the biexciton yield needs the exciton decay rate in solution "
            "(`qdcat sample add ... --decay-rate-solution-per-us`)"
        )
    arrays = store.read_arrays(inp.store_path)
    if "time_ps" not in arrays or "delta_a" not in arrays:
        raise InvalidValueError(
            f"measurement {inp.measurement_id} holds {sorted(arrays)}; a transient-absorption "
            "curve needs time_ps and delta_a"
        )
    ta = fit_ta_biexponential(arrays["time_ps"], arrays["delta_a"])
    yy = biexciton_yield(
        ta.biexciton_rate_per_ns,
        float(gamma),
        biexciton_rate_per_ns_err=ta.biexciton_rate_per_ns_err,
    )
    return Computed(
        {
            "biexciton_rate_per_ns": ta.biexciton_rate_per_ns,
            "biexciton_rate_per_ns_err": ta.biexciton_rate_per_ns_err,
            "biexciton_lifetime_ps": ta.biexciton_lifetime_ps,
            "biexciton_lifetime_ps_err": ta.biexciton_lifetime_ps_err,
            "decay_rate_per_us": float(gamma),
            "radiative_rate_xx_per_ns": yy.radiative_rate_xx_per_ns,
            "plqy_xx": yy.plqy_xx,
            "plqy_xx_err": yy.plqy_xx_err,
            "reduced_chi2": ta.reduced_chi2,
            "flags": _flags(ta.flags),
        }
    )


K = MeasurementKind
# The baseline is free by default: blinking bunches photons on µs–s scales, so
# within ±150 ns g2 levels off at ~1/on-fraction, not 1. With b fixed at 1 the
# simulated 72-dot session gave rate pulls of mean +0.42 (51 % within 1σ);
# freed, −0.07 (66 %).
_G2 = {"window_ns": 150.0, "bin_ns": 1.0, "free_baseline": True}
_DECAY = {"rebin": 4, "start_after_peak_ns": 1.0, "t2_bin_ps": 64.0}

ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            "spectrum",
            "1",
            (K.SPECTRUM, K.ENSEMBLE_SPECTRUM),
            SpectrumResult,
            {"bias_counts": 0.0, "read_noise_counts": 5.0},
            compute_spectrum,
            description="Lorentzian fit: centre, energy, FWHM",
        ),
        Analysis(
            "decay",
            "1",
            (K.DECAY,),
            DecayResult,
            dict(_DECAY),
            compute_decay,
            description="TCSPC histogram and mono-exponential tail (Poisson ML): lifetime",
        ),
        Analysis(
            "g2_cw",
            "1",
            (K.G2_CW,),
            G2CwResult,
            dict(_G2),
            compute_g2_cw,
            companion=("background", K.BACKGROUND_TRACE),
            description="cw antibunching fit: g2(0), γ + w_p, τ0 (corrected with a background trace)",
        ),
        Analysis(
            "g2_pulsed",
            "1",
            (K.G2_PULSED,),
            G2PulsedResult,
            {"n_side_peaks": 4},
            compute_g2_pulsed,
            description="pulsed g2: centre/side peak area ratio",
        ),
        Analysis(
            "blinking",
            "1",
            (K.INTENSITY_TRACE,),
            BlinkingResult,
            {"bin_ms": 10.0, "k_sigma": 3.0},
            compute_blinking,
            companion=("background", K.BACKGROUND_TRACE),
            description="on/off threshold, on-fraction, power-law exponents (log–log and ML)",
        ),
        Analysis(
            "power_series",
            "1",
            (K.POWER_SERIES_POINT,),
            PowerSeriesResult,
            {**_G2, "excitation_wavelength_nm": 445.0},
            compute_power_series,
            grouping="series",
            description="γ + w_p against intensity: σ, γ, I_S",
        ),
        Analysis(
            "saturation",
            "1",
            (K.SATURATION_POINT,),
            SaturationResult,
            {"relative_noise": 0.02, "excitation_wavelength_nm": 445.0, **_DECAY},
            compute_saturation,
            grouping="series",
            companion=("decay", K.DECAY),
            needs_sample_decay_rate=True,
            description="ensemble saturation: I_S and σ = ħω_p·γ/I_S",
        ),
        Analysis(
            "biexciton",
            "1",
            (K.TRANSIENT_ABSORPTION,),
            BiexcitonResult,
            {},
            compute_biexciton,
            needs_sample_decay_rate=True,
            description="fast transient-absorption component γ_XX and PLQY_XX = 4γ/γ_XX",
        ),
    )
}


def get_analysis(name: str) -> Analysis:
    try:
        return ANALYSES[name]
    except KeyError:
        raise InvalidValueError(f"unknown analysis {name!r}; choose from: {', '.join(ANALYSES)}") from None


def result_model(name: str) -> type:
    return get_analysis(name).result_model


# ----------------------------------------------------------------------------- target discovery


@dataclass(frozen=True)
class Selection:
    """Which measurements to analyse; empty fields select everything."""

    sample: str | None = None
    specimen: str | None = None
    dot: str | None = None
    kinds: tuple[str, ...] = ()
    measurement_ids: tuple[int, ...] = ()


def _inputs_query(kinds: Iterable[MeasurementKind]) -> Any:
    return (
        select(Measurement, RawAsset, InstrumentSettings, Specimen, Sample, Dot.label)
        .join(
            RawAsset, (RawAsset.measurement_id == Measurement.id) & (RawAsset.state == AssetState.COMMITTED)
        )
        .join(Specimen, Specimen.id == Measurement.specimen_id)
        .join(Sample, Sample.id == Specimen.sample_id)
        .outerjoin(InstrumentSettings, InstrumentSettings.measurement_id == Measurement.id)
        .outerjoin(Dot, Dot.id == Measurement.dot_id)
        .where(Measurement.kind.in_(list(kinds)))
    )


def _setup_channels(s: Session) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for ch in s.scalars(select(SetupChannel)):
        role = ch.role.value if hasattr(ch.role, "value") else str(ch.role)
        out[ch.setup_id].setdefault(role, ch.channel)
    return out


def _input(
    m: Measurement, a: RawAsset, st: InstrumentSettings | None, role: str, chans: dict[int, dict[str, int]]
) -> InputMeasurement:
    return InputMeasurement(
        measurement_id=m.id,
        kind=m.kind.value,
        role=role,
        store_path=a.store_path,
        data_sha256=a.data_sha256 or "",
        data_kind=a.data_kind.value,
        has_nanotimes=bool(a.has_nanotimes),
        resolution_ps=a.resolution_ps,
        nanotime_resolution_ps=a.nanotime_resolution_ps,
        duration_s=m.duration_s,
        channel_counts={str(k): int(v) for k, v in (a.channel_counts or {}).items()},
        channels=dict(chans.get(m.setup_id, {})) if m.setup_id is not None else {},
        intensity_w_cm2=st.intensity_w_cm2 if st else None,
        excitation_wavelength_nm=st.excitation_wavelength_nm if st else None,
        repetition_rate_mhz=st.repetition_rate_mhz if st else None,
        series_index=m.series_index,
    )


def discover(s: Session, analysis: Analysis, selection: Selection = Selection()) -> list[Target]:
    """The targets of ``analysis`` among the selected, committed measurements."""
    kinds = [k for k in analysis.kinds if not selection.kinds or k.value in selection.kinds]
    if not kinds:
        return []
    q = _inputs_query(kinds)
    if selection.sample:
        q = q.where(Sample.name == selection.sample)
    if selection.specimen:
        q = q.where(Specimen.name == selection.specimen)
    if selection.dot:
        q = q.where(Dot.label == selection.dot)
    if selection.measurement_ids:
        q = q.where(Measurement.id.in_(list(selection.measurement_ids)))
    rows = s.execute(q.order_by(Measurement.id)).all()
    if not rows:
        return []
    chans = _setup_channels(s)
    companions: dict[int, InputMeasurement] = {}
    if analysis.companion is not None:
        role, kind = analysis.companion
        bq = _inputs_query([kind]).where(Measurement.specimen_id.in_({r[0].specimen_id for r in rows}))
        for m, a, st, *_ in s.execute(bq.order_by(Measurement.id)).all():
            companions[m.specimen_id] = _input(m, a, st, role, chans)  # the newest wins
    targets: list[Target] = []

    def context(sample: Sample) -> dict[str, Any]:
        if not analysis.needs_sample_decay_rate:
            return {}
        return {"sample": sample.name, "decay_rate_solution_per_us": sample.decay_rate_solution_per_us}

    if analysis.grouping == "measurement":
        for m, a, st, sp, sample, dot_label in rows:
            inputs = [_input(m, a, st, "main", chans)]
            if m.specimen_id in companions:
                inputs.append(companions[m.specimen_id])
            where = f"{sp.name}/{dot_label}" if dot_label else sp.name
            targets.append(
                Target(
                    analysis=analysis.name,
                    key=f"measurement:{m.id}",
                    specimen_id=m.specimen_id,
                    dot_id=m.dot_id,
                    measurement_id=m.id,
                    series_name=None,
                    label=f"{where} {m.kind.value} #{m.id}",
                    inputs=tuple(inputs),
                    context=context(sample),
                )
            )
        return targets
    groups: dict[tuple[int, int | None, str], list[Any]] = defaultdict(list)
    for row in rows:
        m = row[0]
        name = m.series_name or f"(no series) {m.kind.value}"
        groups[(m.specimen_id, m.dot_id, name)].append(row)
    if selection.measurement_ids:
        # A series is analysed whole: complete the groups named by the selected points.
        for (spec_id, dot_id, name), _ in list(groups.items()):
            q = _inputs_query(kinds).where(
                Measurement.specimen_id == spec_id, Measurement.series_name == name
            )
            q = q.where(Measurement.dot_id.is_(None) if dot_id is None else Measurement.dot_id == dot_id)
            groups[(spec_id, dot_id, name)] = list(s.execute(q.order_by(Measurement.id)).all())
    for (spec_id, dot_id, name), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        _, _, _, sp, sample, dot_label = members[0]
        inputs = tuple(_input(m, a, st, "point", chans) for m, a, st, *_ in members)
        if spec_id in companions:
            inputs += (companions[spec_id],)
        where = f"{sp.name}/{dot_label}" if dot_label else sp.name
        targets.append(
            Target(
                analysis=analysis.name,
                key=f"series:{spec_id}:{dot_id if dot_id is not None else '-'}:{name}",
                specimen_id=spec_id,
                dot_id=dot_id,
                measurement_id=None,
                series_name=name,
                label=f"{where} series {name} ({len(inputs)} points)",
                inputs=inputs,
                context=context(sample),
            )
        )
    return targets
