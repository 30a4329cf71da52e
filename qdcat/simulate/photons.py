"""Photon streams of one dot as a time tagger delivers them: cw HBT (T2), pulsed T2 with sync, T3.

Emission (renewal two-level emitter, biexciton cascade, power-law blinking) and
detection (efficiency, 50/50 split, jitter, dead time, background, cable delay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qdcat._kernels import simulate as _k
from qdcat.errors import InvalidValueError
from qdcat.simulate._params import (
    CHANNEL_A,
    CHANNEL_B,
    CHANNEL_SYNC,
    MAX_EVENTS,
    BlinkingParams,
    CwExcitation,
    Detection,
    DotParams,
    PulsedExcitation,
    check_int,
    check_real,
    check_seed,
    sample_power_law,
)

FWHM_PER_SD = 2.0 * math.sqrt(2.0 * math.log(2.0))
DEFAULT_POWER_SERIES_W_CM2 = (76.0, 150.0, 300.0, 500.0, 700.0, 950.0)


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True, eq=False)
class PhotonStream:
    """Merged, time-sorted detection events (T2).

    ``timestamps_ps`` int64, non-decreasing; ``channels`` uint8 (A = 0, B = 1,
    laser sync = 64); ``nanotimes_ps`` (pulsed streams only) is each event's
    time since the latest sync, int64 ps (0 for the syncs themselves).
    """

    timestamps_ps: npt.NDArray[np.int64]
    channels: npt.NDArray[np.uint8]
    duration_s: float
    resolution_ps: float = 1.0
    nanotimes_ps: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        t, c = self.timestamps_ps, self.channels
        if not isinstance(t, np.ndarray) or t.dtype != np.int64 or t.ndim != 1:
            raise InvalidValueError("timestamps_ps must be a 1-D numpy int64 array")
        if not isinstance(c, np.ndarray) or c.dtype != np.uint8 or c.shape != t.shape:
            raise InvalidValueError(
                "channels must be a numpy uint8 array of the same length as timestamps_ps"
            )
        n = self.nanotimes_ps
        if n is not None and (not isinstance(n, np.ndarray) or n.dtype != np.int64 or n.shape != t.shape):
            raise InvalidValueError("nanotimes_ps must be None or an int64 array as long as timestamps_ps")

    def __len__(self) -> int:
        return int(self.timestamps_ps.shape[0])

    def timestamps_of(self, channel: int) -> npt.NDArray[np.int64]:
        """The (sorted) timestamps of one channel."""
        selected: npt.NDArray[np.int64] = self.timestamps_ps[self.channels == channel]
        return selected


@dataclass(frozen=True, eq=False)
class T3Records:
    """T3-style records of detector events: sync index, nanotime since that sync, channel.

    ``nanotime`` is in units of ``resolution_ps`` (as T3 files store it);
    ``nanotime_ps`` converts. Sync ``k`` is at k·sync_period_ps.
    """

    sync_index: npt.NDArray[np.int64]
    nanotime: npt.NDArray[np.int64]
    channels: npt.NDArray[np.uint8]
    sync_period_ps: int
    resolution_ps: int
    duration_s: float

    def __len__(self) -> int:
        return int(self.sync_index.shape[0])

    @property
    def nanotime_ps(self) -> npt.NDArray[np.int64]:
        return self.nanotime * self.resolution_ps


@dataclass(frozen=True, eq=False)
class BlinkingTruth:
    """The true on/off history: period ``i`` starts at ``period_start_ps[i]`` in state ``period_on[i]``.

    ``dwell_s`` holds the drawn duration of each period (the last one runs past
    the end of the acquisition; the first starts at t = 0 at a switch).
    ``on_fraction`` is the realised fraction of [0, duration) spent on.
    """

    params: BlinkingParams
    period_start_ps: npt.NDArray[np.int64]
    period_on: npt.NDArray[np.bool_]
    dwell_s: npt.NDArray[np.float64]
    duration_s: float
    on_fraction: float

    @property
    def on_durations_s(self) -> npt.NDArray[np.float64]:
        return self.dwell_s[self.period_on]

    @property
    def off_durations_s(self) -> npt.NDArray[np.float64]:
        return self.dwell_s[~self.period_on]

    def is_on(self, timestamps_ps: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether the dot was on at each time (times before 0 count as the first period)."""
        idx = np.searchsorted(self.period_start_ps, np.asarray(timestamps_ps), side="right") - 1
        return self.period_on[np.maximum(idx, 0)]

    def on_intervals_ps(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Start and end (exclusive) of every on period, clipped to the acquisition."""
        ends = np.append(self.period_start_ps[1:], round(self.duration_s * 1e12))
        return self.period_start_ps[self.period_on], ends[self.period_on]


@dataclass(frozen=True, eq=False)
class CwTruth:
    """What produced a cw stream. Rates are means over the acquisition, before dead-time losses.

    ``antibunching_rate_per_us`` is γ + w_p; ``g2_zero`` = 1 − ρ_A·ρ_B with
    ρ = S/(S+B) per detector; the dip sits at ``tau0_ps`` (= delay of B).
    """

    dot: DotParams
    excitation: CwExcitation
    detection: Detection
    duration_s: float
    pump_rate_per_us: float
    decay_rate_per_us: float
    antibunching_rate_per_us: float
    emission_rate_on_cps: float
    on_fraction: float
    signal_a_cps: float
    signal_b_cps: float
    background_a_cps: float
    background_b_cps: float
    rho_a: float
    rho_b: float
    g2_zero: float
    tau0_ps: float
    blinking: BlinkingTruth | None

    def g2(self, tau_ps: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Expected g2(τ) = 1 − ρ_Aρ_B·exp(−(γ+w_p)|τ−τ0|) (no jitter, no blinking bunching)."""
        tau = np.asarray(tau_ps, dtype=np.float64)
        rate_per_ps = self.antibunching_rate_per_us * 1e-6
        return 1.0 - self.rho_a * self.rho_b * np.exp(-rate_per_ps * np.abs(tau - self.tau0_ps))


@dataclass(frozen=True, eq=False)
class PulsedTruth:
    """What produced a pulsed stream. Rates are means over the acquisition, before dead-time losses.

    Per pulse N ~ Poisson(``mean_excitons``); with N ≥ 2 the biexciton decays
    first. ``g2_zero_signal`` is the expected centre/side peak area ratio of
    the dot's own photons (no background): 2·P(N≥2)·q_XX·q_X / μ², with
    q = yield·efficiency and μ the detected photons per pulse. These are the
    true peak areas: when the lifetime is not ≪ the period the peaks overlap,
    and counts in a window of ±period/2 mix neighbouring peaks.
    """

    dot: DotParams
    excitation: PulsedExcitation
    detection: Detection
    duration_s: float
    sync_period_ps: int
    pulse_delay_ps: float
    n_pulses: int
    mean_excitons: float
    p_excited: float
    p_multiexciton: float
    lifetime_ns: float
    biexciton_rate_per_ns: float
    biexciton_quantum_yield: float
    detected_per_pulse: float
    on_fraction: float
    signal_a_cps: float
    signal_b_cps: float
    background_a_cps: float
    background_b_cps: float
    g2_zero_signal: float
    tau0_ps: float
    blinking: BlinkingTruth | None


@dataclass(frozen=True, eq=False)
class CwResult:
    stream: PhotonStream
    truth: CwTruth


@dataclass(frozen=True, eq=False)
class PulsedResult:
    stream: PhotonStream
    truth: PulsedTruth


@dataclass(frozen=True, eq=False)
class PulsedT3Result:
    records: T3Records
    truth: PulsedTruth


@dataclass(frozen=True, eq=False)
class PowerSeries:
    """cw runs of one dot at several intensities and the truth of the γ + w_p vs I line.

    γ + w_p = ``decay_rate_per_us`` + ``slope_cm2_per_j``·I (slope = σ/ħω_p).
    """

    intensities_w_cm2: npt.NDArray[np.float64]
    runs: tuple[CwResult, ...]
    slope_cm2_per_j: float
    decay_rate_per_us: float
    sigma_cm2: float
    saturation_intensity_w_cm2: float

    @property
    def antibunching_rate_per_us(self) -> npt.NDArray[np.float64]:
        return np.array([r.truth.antibunching_rate_per_us for r in self.runs])


# --------------------------------------------------------------------------- validation helpers


def _check_type(name: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise InvalidValueError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")


def _check_duration(duration_s: Any, max_s: float = 9000.0) -> float:
    # Photon times are float64 ps until they are registered: below 2^53 ps (~2.5 h)
    # they keep sub-ps precision. Longer acquisitions: simulate pieces.
    return check_real("duration_s", duration_s, 0.0, max_s, lo_open=True, unit="s")


def _check_budget(expected_events: float, hint: str = "") -> None:
    if expected_events > MAX_EVENTS:
        raise InvalidValueError(
            f"these parameters would produce ~{expected_events:.3g} events (limit {MAX_EVENTS:.0e}); "
            f"simulate a shorter duration_s and concatenate, or lower the rates{hint}"
        )


# --------------------------------------------------------------------------- emission


def ideal_binned_runs(
    period_start_ps: npt.ArrayLike, period_on: npt.ArrayLike, duration_s: float, bin_s: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """The on and off run lengths (in bins) an ideal binned analysis of the true history finds.

    A bin is on when the dot was on for more than half of it; runs of equal bins
    are periods; the truncated first and last are dropped (as the analysis
    does). Returns (on runs, off runs, number of bins): the reference the
    exponents of a 10 ms binned trace can at best reach.
    """
    starts = np.asarray(period_start_ps, dtype=np.int64)
    on = np.asarray(period_on, dtype=bool)
    n_bins = int(duration_s / bin_s)
    bin_ps = round(bin_s * 1e12)
    ends = np.append(starts[1:], n_bins * bin_ps)
    edges = np.arange(n_bins + 1, dtype=np.int64) * bin_ps
    # on time accumulated up to each bin edge, from the on periods clipped to the acquisition
    s_on, e_on = np.clip(starts[on], 0, edges[-1]), np.clip(ends[on], 0, edges[-1])
    cum = np.zeros(n_bins + 1)
    for s_, e_ in zip(s_on, e_on, strict=True):
        cum += np.clip(edges - s_, 0, e_ - s_)
    state = np.diff(cum) > 0.5 * bin_ps
    run_starts = np.concatenate(([0], np.flatnonzero(np.diff(state.astype(np.int8))) + 1))
    lengths = np.diff(np.append(run_starts, n_bins))[1:-1]
    run_on = state[run_starts][1:-1]
    return lengths[run_on].astype(np.int64), lengths[~run_on].astype(np.int64), n_bins


def _draw_blinking(rng: np.random.Generator, params: BlinkingParams, duration_s: float) -> BlinkingTruth:
    # Starting state drawn with the long-run on-fraction; the first period then
    # starts at t = 0 at a switch (not the stationary residual dwell).
    start_on = bool(rng.random() < params.expected_on_fraction)
    mean_cycle_s = params.mean_on_s + params.mean_off_s
    chunks: list[np.ndarray] = []
    total_s = 0.0
    while total_s < duration_s:
        n = int(min(1.2 * (duration_s - total_s) / mean_cycle_s + 16, 5_000_000))
        on = sample_power_law(rng, params.k_on, params.t_min_s, params.t_max_s, n)
        off = sample_power_law(rng, params.k_off, params.t_min_s, params.t_max_s, n)
        pair = np.empty(2 * n)
        pair[0::2], pair[1::2] = (on, off) if start_on else (off, on)
        chunks.append(pair)
        total_s += float(pair.sum())
    dwell_s = np.concatenate(chunks)
    starts_s = np.concatenate(([0.0], np.cumsum(dwell_s)[:-1]))
    n_periods = int(np.searchsorted(starts_s, duration_s, side="left"))
    dwell_s, starts_s = dwell_s[:n_periods], starts_s[:n_periods]
    period_on = np.zeros(n_periods, dtype=np.bool_)
    period_on[0 if start_on else 1 :: 2] = True
    period_start_ps = np.round(starts_s * 1e12).astype(np.int64)
    duration_ps = round(duration_s * 1e12)
    lengths = np.diff(np.append(period_start_ps, duration_ps))
    on_fraction = float(lengths[period_on].sum() / duration_ps)
    return BlinkingTruth(params, period_start_ps, period_on, dwell_s, duration_s, on_fraction)


def draw_blinking(params: BlinkingParams, *, duration_s: float, seed: int) -> BlinkingTruth:
    """The true on/off history of a blinking dot over ``duration_s`` (no photons)."""
    _check_type("params", params, BlinkingParams)
    duration_s = _check_duration(duration_s, max_s=1e7)
    return _draw_blinking(np.random.default_rng(check_seed(seed)), params, duration_s)


def _renewal_detections(
    rng: np.random.Generator, pump_per_ps: float, decay_per_ps: float, p_detect: float, span_ps: float
) -> npt.NDArray[np.float64]:
    """Times of detected photons of a renewal two-level emitter running for ``span_ps``.

    Each cycle is Exp(w_p) + Exp(γ) and yields a detected photon with
    probability p = η·ε. The gap between detected photons is a Geometric(p)
    number of cycles; its Laplace transform p·φ/(1 − (1−p)·φ), with
    φ(s) = w_p·γ/((s+w_p)(s+γ)), equals a·b/((s+a)(s+b)) where a, b are the
    roots of s² − (w_p+γ)s + p·w_p·γ. So the gap is exactly Exp(a) + Exp(b):
    two draws per *detected* photon instead of two per emission cycle.
    """
    total = pump_per_ps + decay_per_ps
    fast = 0.5 * (total + math.sqrt(total * total - 4.0 * p_detect * pump_per_ps * decay_per_ps))
    slow = p_detect * pump_per_ps * decay_per_ps / fast  # ab = p·w·γ; avoids cancellation
    mean_gap_ps = 1.0 / fast + 1.0 / slow
    out: list[np.ndarray] = []
    t0 = 0.0
    while True:
        n_exp = (span_ps - t0) / mean_gap_ps
        n = int(n_exp + 6.0 * math.sqrt(n_exp) + 16)
        gaps = rng.exponential(1.0 / slow, n)
        gaps += rng.exponential(1.0 / fast, n)
        t = np.cumsum(gaps)
        t += t0
        if t[-1] >= span_ps:
            out.append(t[: np.searchsorted(t, span_ps, side="left")])
            return np.concatenate(out)
        out.append(t)
        t0 = float(t[-1])


def _bernoulli_indices(rng: np.random.Generator, p: float, n: int) -> npt.NDArray[np.int64]:
    """Sorted indices in [0, n) of successes of n Bernoulli(p) trials, via geometric gaps.

    Costs O(successes), not O(n): 10^9 laser pulses need no 10^9-long array.
    """
    out: list[np.ndarray] = []
    last = -1
    while True:
        n_exp = (n - 1 - last) * p
        size = int(n_exp + 6.0 * math.sqrt(n_exp) + 16)
        idx = last + np.cumsum(rng.geometric(p, size))
        if idx[-1] >= n:
            out.append(idx[: np.searchsorted(idx, n, side="left")])
            return np.concatenate(out).astype(np.int64)
        out.append(idx)
        last = int(idx[-1])


# --------------------------------------------------------------------------- detection


def _dead_time(t: npt.NDArray[np.int64], dead_time_ns: float) -> npt.NDArray[np.int64]:
    dead_ps = round(dead_time_ns * 1e3)
    if dead_ps <= 0 or t.size == 0:
        return t
    keep = np.empty(t.size, dtype=np.bool_)
    _k.dead_time_keep(t, dead_ps, keep)
    return t[keep]


def _register(
    x_ps: npt.NDArray[np.float64], duration_ps: int, resolution_ps: int, dead_time_ns: float
) -> npt.NDArray[np.int64]:
    """Clip to the acquisition, floor to the tagger resolution, sort, apply dead time."""
    x_ps = x_ps[(x_ps >= 0.0) & (x_ps < duration_ps)]
    if resolution_ps == 1:
        t = x_ps.astype(np.int64)  # truncation is the floor for x >= 0
    else:
        t = (x_ps // resolution_ps).astype(np.int64) * resolution_ps
    t.sort(kind="stable")  # nearly sorted already (jitter only): timsort is ~linear here
    return _dead_time(t, dead_time_ns)


def _detect(
    rng: np.random.Generator,
    signal_ps: npt.NDArray[np.float64],
    detection: Detection,
    duration_ps: int,
    resolution_ps: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Split detected signal photons to A/B, add jitter, delay and background; per-detector tags."""
    duration_s = duration_ps * 1e-12
    to_a = rng.random(signal_ps.size) < detection.fraction_a
    jitter = rng.standard_normal(signal_ps.size)
    sd_a = detection.jitter_a_fwhm_ps / FWHM_PER_SD
    sd_b = detection.jitter_b_fwhm_ps / FWHM_PER_SD
    jitter *= sd_a if sd_a == sd_b else np.where(to_a, sd_a, sd_b)
    jitter += signal_ps
    # Background is generated directly in the tag frame: a delayed uniform process is still uniform.
    bg_a = rng.uniform(0.0, duration_ps, rng.poisson(detection.background_a_cps * duration_s))
    bg_b = rng.uniform(0.0, duration_ps, rng.poisson(detection.background_b_cps * duration_s))
    b = jitter[~to_a]
    b += detection.delay_b_ps
    return (
        _register(np.concatenate((jitter[to_a], bg_a)), duration_ps, resolution_ps, detection.dead_time_a_ns),
        _register(np.concatenate((b, bg_b)), duration_ps, resolution_ps, detection.dead_time_b_ns),
    )


def _merge(
    t1: npt.NDArray[np.int64], c1: int, t2: npt.NDArray[np.int64], c2: int | npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    ch1 = np.full(t1.size, c1, dtype=np.uint8)
    ch2 = np.full(t2.size, c2, dtype=np.uint8) if np.isscalar(c2) else np.asarray(c2, dtype=np.uint8)
    t_out = np.empty(t1.size + t2.size, dtype=np.int64)
    c_out = np.empty(t1.size + t2.size, dtype=np.uint8)
    _k.merge_sorted(t1, ch1, t2, ch2, t_out, c_out)
    return t_out, c_out


def _rho(signal_cps: float, background_cps: float) -> float:
    total = signal_cps + background_cps
    return signal_cps / total if total > 0 else 0.0


# --------------------------------------------------------------------------- cw


def _simulate_cw(
    rng: np.random.Generator,
    dot: DotParams,
    excitation: CwExcitation,
    detection: Detection,
    duration_s: float,
    resolution_ps: int,
) -> CwResult:
    pump_us = excitation.pump_rate_per_us(dot.sigma_cm2)
    decay_us = dot.decay_rate_per_us
    emission_on_cps = dot.quantum_yield * pump_us * decay_us / (pump_us + decay_us) * 1e6
    _check_budget(
        (emission_on_cps * detection.efficiency + detection.background_a_cps + detection.background_b_cps)
        * duration_s
    )
    duration_ps = round(duration_s * 1e12)
    blinking = _draw_blinking(rng, dot.blinking, duration_s) if dot.blinking is not None else None
    if blinking is None:
        starts = np.zeros(1, dtype=np.int64)
        ends = np.full(1, duration_ps, dtype=np.int64)
    else:
        starts, ends = blinking.on_intervals_ps()
    # Emit on an "on-clock" that runs only while the dot is on, then map back to
    # real time: off periods cost nothing and on periods stay exact renewals.
    on_cum = np.concatenate(([0], np.cumsum(ends - starts))).astype(np.float64)
    signal_ps = _renewal_detections(
        rng, pump_us * 1e-6, decay_us * 1e-6, dot.quantum_yield * detection.efficiency, float(on_cum[-1])
    )
    if blinking is not None:
        j = np.searchsorted(on_cum[1:], signal_ps, side="right")
        signal_ps += starts[j] - on_cum[j]
    t_a, t_b = _detect(rng, signal_ps, detection, duration_ps, resolution_ps)
    timestamps, channels = _merge(t_a, CHANNEL_A, t_b, CHANNEL_B)

    on_fraction = 1.0 if blinking is None else blinking.on_fraction
    detected_cps = emission_on_cps * detection.efficiency * on_fraction
    s_a, s_b = detected_cps * detection.fraction_a, detected_cps * (1.0 - detection.fraction_a)
    rho_a = _rho(s_a, detection.background_a_cps)
    rho_b = _rho(s_b, detection.background_b_cps)
    truth = CwTruth(
        dot=dot,
        excitation=excitation,
        detection=detection,
        duration_s=duration_s,
        pump_rate_per_us=pump_us,
        decay_rate_per_us=decay_us,
        antibunching_rate_per_us=pump_us + decay_us,
        emission_rate_on_cps=emission_on_cps,
        on_fraction=on_fraction,
        signal_a_cps=s_a,
        signal_b_cps=s_b,
        background_a_cps=detection.background_a_cps,
        background_b_cps=detection.background_b_cps,
        rho_a=rho_a,
        rho_b=rho_b,
        g2_zero=1.0 - rho_a * rho_b,
        tau0_ps=detection.delay_b_ps,
        blinking=blinking,
    )
    stream = PhotonStream(timestamps, channels, duration_s, float(resolution_ps))
    return CwResult(stream, truth)


def simulate_cw(
    dot: DotParams,
    *,
    excitation: CwExcitation | None = None,
    detection: Detection | None = None,
    duration_s: float,
    seed: int,
    resolution_ps: int = 1,
) -> CwResult:
    """A cw HBT acquisition (T2, channels A = 0 and B = 1) of one dot, with its truth.

    The emitter is a renewal two-level system (ideal g2 = 1 − exp(−(γ+w_p)|τ|));
    timestamps are floored to ``resolution_ps`` (a whole number of ps).
    """
    _check_type("dot", dot, DotParams)
    excitation = CwExcitation() if excitation is None else excitation
    detection = Detection() if detection is None else detection
    _check_type("excitation", excitation, CwExcitation)
    _check_type("detection", detection, Detection)
    duration_s = _check_duration(duration_s)
    resolution_ps = check_int("resolution_ps", resolution_ps, 1, 1_000_000)
    rng = np.random.default_rng(check_seed(seed))
    return _simulate_cw(rng, dot, excitation, detection, duration_s, resolution_ps)


def simulate_power_series(
    dot: DotParams,
    intensities_w_cm2: npt.ArrayLike = DEFAULT_POWER_SERIES_W_CM2,
    *,
    detection: Detection | None = None,
    duration_s: float = 10.0,
    wavelength_nm: float = 445.0,
    seed: int,
    resolution_ps: int = 1,
) -> PowerSeries:
    """cw acquisitions of one dot at each intensity (default 76-950 W/cm², the study's range).

    Each run has its own independent random stream spawned from ``seed``; the
    background rates of ``detection`` are the same at every intensity.
    """
    _check_type("dot", dot, DotParams)
    detection = Detection() if detection is None else detection
    _check_type("detection", detection, Detection)
    intensities = np.asarray(intensities_w_cm2, dtype=np.float64).ravel()
    if intensities.size == 0:
        raise InvalidValueError("intensities_w_cm2 must hold at least one intensity (W/cm², > 0)")
    excitations = [CwExcitation(float(i), wavelength_nm) for i in intensities]  # validates each
    duration_s = _check_duration(duration_s)
    resolution_ps = check_int("resolution_ps", resolution_ps, 1, 1_000_000)
    children = np.random.SeedSequence(check_seed(seed)).spawn(len(excitations))
    runs = tuple(
        _simulate_cw(np.random.default_rng(child), dot, exc, detection, duration_s, resolution_ps)
        for child, exc in zip(children, excitations, strict=True)
    )
    energy_j = excitations[0].photon_energy_j
    slope = dot.sigma_cm2 / energy_j
    return PowerSeries(
        intensities_w_cm2=intensities,
        runs=runs,
        slope_cm2_per_j=slope,
        decay_rate_per_us=dot.decay_rate_per_us,
        sigma_cm2=dot.sigma_cm2,
        saturation_intensity_w_cm2=dot.decay_rate_per_us * 1e6 / slope,
    )


# --------------------------------------------------------------------------- pulsed


def _pulsed_core(
    dot: DotParams,
    excitation: PulsedExcitation,
    detection: Detection,
    duration_s: float,
    seed: int,
    resolution_ps: int,
    with_syncs: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], PulsedTruth]:
    """Detector events (merged A/B, no syncs) and the truth of a pulsed acquisition."""
    duration_s, resolution_ps, seed = _check_pulsed(
        dot, excitation, detection, duration_s, resolution_ps, seed
    )
    period_ps = excitation.sync_period_ps
    duration_ps = round(duration_s * 1e12)
    n_pulses = -(-duration_ps // period_ps)  # pulses at k·period < duration

    m = excitation.mean_excitons_for(dot.sigma_cm2)
    p0 = math.exp(-m)
    p_excited = -math.expm1(-m)
    p_multi = max(p_excited - m * p0, 0.0)
    p_single = p_excited - p_multi
    q_x = dot.quantum_yield * detection.efficiency
    q_xx = dot.biexciton_quantum_yield * detection.efficiency
    # Per-pulse outcomes with >= 1 detected photon (mutually exclusive):
    # X from a lone exciton; cascade with X only, XX only, both.
    outcome_p = np.array(
        [p_single * q_x, p_multi * (1.0 - q_xx) * q_x, p_multi * q_xx * (1.0 - q_x), p_multi * q_xx * q_x]
    )
    detected_per_pulse = p_excited * q_x + p_multi * q_xx
    _check_budget(
        n_pulses * detected_per_pulse
        + (detection.background_a_cps + detection.background_b_cps) * duration_s
        + (n_pulses if with_syncs else 0),
        " (T2 stores every sync; simulate_pulsed_t3 does not)" if with_syncs else "",
    )

    rng = np.random.default_rng(seed)
    blinking = _draw_blinking(rng, dot.blinking, duration_s) if dot.blinking is not None else None
    signal_ps = _pulsed_signal(rng, dot, excitation, blinking, outcome_p, n_pulses)
    t_a, t_b = _detect(rng, signal_ps, detection, duration_ps, resolution_ps)
    timestamps, channels = _merge(t_a, CHANNEL_A, t_b, CHANNEL_B)

    if blinking is None:
        on_fraction = 1.0
    else:
        pulse_times = np.arange(n_pulses, dtype=np.int64) * period_ps + round(excitation.pulse_delay_ps)
        on_fraction = float(blinking.is_on(pulse_times).mean())
    detected_cps = detected_per_pulse * on_fraction * 1e12 / period_ps
    truth = PulsedTruth(
        dot=dot,
        excitation=excitation,
        detection=detection,
        duration_s=duration_s,
        sync_period_ps=period_ps,
        pulse_delay_ps=excitation.pulse_delay_ps,
        n_pulses=n_pulses,
        mean_excitons=m,
        p_excited=p_excited,
        p_multiexciton=p_multi,
        lifetime_ns=dot.lifetime_ns,
        biexciton_rate_per_ns=dot.biexciton_rate_per_ns,
        biexciton_quantum_yield=dot.biexciton_quantum_yield,
        detected_per_pulse=detected_per_pulse,
        on_fraction=on_fraction,
        signal_a_cps=detected_cps * detection.fraction_a,
        signal_b_cps=detected_cps * (1.0 - detection.fraction_a),
        background_a_cps=detection.background_a_cps,
        background_b_cps=detection.background_b_cps,
        g2_zero_signal=2.0 * p_multi * q_xx * q_x / detected_per_pulse**2,
        tau0_ps=detection.delay_b_ps,
        blinking=blinking,
    )
    return timestamps, channels, truth


def _check_pulsed(
    dot: DotParams,
    excitation: PulsedExcitation,
    detection: Detection,
    duration_s: float,
    resolution_ps: int,
    seed: int,
) -> tuple[float, int, int]:
    """The validated (duration_s, resolution_ps, seed) of a pulsed simulation."""
    _check_type("dot", dot, DotParams)
    _check_type("excitation", excitation, PulsedExcitation)
    _check_type("detection", detection, Detection)
    duration_s = _check_duration(duration_s)
    resolution_ps = check_int("resolution_ps", resolution_ps, 1, 1_000_000)
    seed = check_seed(seed)
    period_ps = excitation.sync_period_ps
    if period_ps % resolution_ps:
        raise InvalidValueError(
            f"the sync period ({period_ps} ps) must be a whole multiple of resolution_ps ({resolution_ps}); "
            "choose a resolution that divides it (e.g. 1, 4, 8, 16 or 25 ps at 10 MHz)"
        )
    return duration_s, resolution_ps, seed


def _pulsed_signal(
    rng: np.random.Generator,
    dot: DotParams,
    excitation: PulsedExcitation,
    blinking: BlinkingTruth | None,
    outcome_p: npt.NDArray[np.float64],
    n_pulses: int,
) -> npt.NDArray[np.float64]:
    """Emission times (ps) of the detected X and XX photons: per pulse one of the ``outcome_p`` outcomes."""
    period_ps = excitation.sync_period_ps
    p_any = float(outcome_p.sum())
    pulses = _bernoulli_indices(rng, p_any, n_pulses)
    if blinking is not None:
        # A pulse that arrives while the dot is off excites nothing that emits.
        pulses = pulses[blinking.is_on(pulses * period_ps + round(excitation.pulse_delay_ps))]
    outcome = np.searchsorted(np.cumsum(outcome_p) / p_any, rng.random(pulses.size), side="right")
    outcome = np.minimum(outcome, 3)  # guards the last edge against rounding of the cumsum
    cascade = outcome >= 1
    t_xx = rng.exponential(1e3 / dot.biexciton_rate_per_ns, int(cascade.sum()))
    delay_xx = np.zeros(pulses.size)
    delay_xx[cascade] = t_xx
    has_x = outcome != 2
    has_xx = outcome >= 2
    pulse_ps = pulses * float(period_ps) + excitation.pulse_delay_ps
    x_ps = pulse_ps[has_x] + delay_xx[has_x]
    x_ps += rng.exponential(dot.lifetime_ns * 1e3, x_ps.size)
    xx_ps = pulse_ps[has_xx] + delay_xx[has_xx]
    return np.concatenate((x_ps, xx_ps))


def simulate_pulsed(
    dot: DotParams,
    *,
    excitation: PulsedExcitation | None = None,
    detection: Detection | None = None,
    duration_s: float,
    seed: int,
    resolution_ps: int = 1,
) -> PulsedResult:
    """A pulsed acquisition in T2: detector events (A = 0, B = 1) and every laser sync (64).

    Sync k is at k·sync_period_ps (the first at t = 0); its pulse reaches the dot
    ``excitation.pulse_delay_ps`` later. Every sync is stored, as
    a T2 tagger does: 10^7 events per second at 10 MHz; for long runs use
    :func:`simulate_pulsed_t3`, which gives the same detector events without them.
    """
    excitation = PulsedExcitation() if excitation is None else excitation
    detection = Detection() if detection is None else detection
    det_t, det_c, truth = _pulsed_core(dot, excitation, detection, duration_s, seed, resolution_ps, True)
    period_ps = truth.sync_period_ps
    syncs = np.arange(truth.n_pulses, dtype=np.int64) * period_ps
    timestamps, channels = _merge(syncs, CHANNEL_SYNC, det_t, det_c)
    nanotimes = timestamps % period_ps
    stream = PhotonStream(timestamps, channels, truth.duration_s, float(resolution_ps), nanotimes)
    return PulsedResult(stream, truth)


def simulate_pulsed_t3(
    dot: DotParams,
    *,
    excitation: PulsedExcitation | None = None,
    detection: Detection | None = None,
    duration_s: float,
    seed: int,
    nanotime_resolution_ps: int = 1,
) -> PulsedT3Result:
    """A pulsed acquisition as T3 records; the same detector events as :func:`simulate_pulsed`.

    With equal seeds, ``t2_to_t3(simulate_pulsed(...).stream)`` equals these records.
    """
    excitation = PulsedExcitation() if excitation is None else excitation
    detection = Detection() if detection is None else detection
    det_t, det_c, truth = _pulsed_core(dot, excitation, detection, duration_s, seed, 1, False)
    res = check_int("nanotime_resolution_ps", nanotime_resolution_ps, 1, 1_000_000)
    period_ps = truth.sync_period_ps
    sync_index = det_t // period_ps
    nanotime = (det_t - sync_index * period_ps) // res
    records = T3Records(sync_index, nanotime, det_c, period_ps, res, truth.duration_s)
    return PulsedT3Result(records, truth)


def t2_to_t3(
    stream: PhotonStream, *, nanotime_resolution_ps: int = 1, sync_channel: int = CHANNEL_SYNC
) -> T3Records:
    """Convert a T2 stream with sync events to T3 records (sync index counted from the first sync).

    Detector events before the first sync have no sync to refer to and are dropped.
    """
    _check_type("stream", stream, PhotonStream)
    res = check_int("nanotime_resolution_ps", nanotime_resolution_ps, 1, 1_000_000)
    sync_channel = check_int("sync_channel", sync_channel, 0, 255)
    is_sync = stream.channels == sync_channel
    syncs = stream.timestamps_ps[is_sync]
    if syncs.size < 2:
        raise InvalidValueError(
            f"the stream has {syncs.size} sync events on channel {sync_channel}; T3 needs at least 2 "
            "(is this a pulsed stream, and is sync_channel right?)"
        )
    t = stream.timestamps_ps[~is_sync]
    c = stream.channels[~is_sync]
    keep = t >= syncs[0]
    t, c = t[keep], c[keep]
    sync_index = np.searchsorted(syncs, t, side="right").astype(np.int64) - 1
    nanotime = (t - syncs[sync_index]) // res
    period_ps = round(float(np.median(np.diff(syncs))))
    return T3Records(sync_index, nanotime, c, period_ps, res, stream.duration_s)
