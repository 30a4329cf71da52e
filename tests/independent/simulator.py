"""An independent simulator of a single-dot spectroscopy study, to score qdcat on data it was not tuned to.

Written from the physics of ``shared/science.md`` alone; it shares no code with qdcat's own simulator
(``qdcat.simulate``). Only qdcat's *file writers* are used (PTU T2, Photon-HDF5 T3), so the files have
the formats a lab's files have and travel the path real data travel (register, ingest, analyse).

What one study holds (``simulate_study``):

- one sample, one single-dot specimen, one setup (``indep-setup``: channel 0 = hbt_a, 1 = hbt_b);
- per dot: a CCD spectrum (CSV), one cw HBT acquisition (PTU T2), and for about half of the dots one
  pulsed acquisition (Photon-HDF5 T3, 10 MHz, 16 ps nanotimes, both detectors);
- per specimen: background acquisitions (no dot) at the 2–3 excitation intensities the dots were
  measured at, so the right background is the one matched by intensity;
- ``manifest.csv``, ``session.toml``, ``dots.csv``, ``truth.csv`` (one row per acquisition) and
  ``states/<file>.npz`` (the true on/off switching of every dot acquisition).

Physics, in short (details at each function):

- spectrum: Lorentzian line, Poisson shot noise on the signal, CCD bias (no shot noise) and Gaussian read
  noise, integer counts;
- cw: incoherently pumped two-level emitter as a renewal process — after each emission the emitter is
  in the ground state, the next emission follows after Exp(w_p) + Exp(γ) — so g2(τ) = 1 − e^{−(γ+w_p)|τ|}
  for the signal. Detection thins it (efficiency η), a 50/50 beam splitter sends each detected photon to
  A or B. Thinning a renewal process by η is done exactly: the interval between detected photons is the
  sum of N ~ Geometric(η) emission intervals, which is Exp(r₊) + Exp(r₋) (see ``renewal_detections``);
- blinking: telegraph process with truncated power-law dwell times p(t) ∝ t^−k on [t_min, t_max]
  (exponents k_on, k_off), started long before the acquisition (burn-in) so it is near-stationary; the
  renewal process runs on the dot's on-time clock (no signal photons while off; background continues);
- detectors: uncorrelated Poisson background (dark + intensity-proportional), non-paralysable dead time
  per detector (on the true arrival times), Gaussian timing jitter per detector, a cable delay τ0 on B;
- pulsed: every pulse excites with probability 1 − e^{−μ} unless the emitter is still excited from an
  earlier pulse (two-level: at most one photon per excitation cycle, none while busy); emission Exp(γ)
  after the pulse; excitations in off periods are lost (non-radiative). T3 records per photon: the sync
  index and the nanotime (16 ps units) since that sync.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

H_J_S = 6.62607015e-34
C_M_S = 299_792_458.0
EXCITATION_NM = 445.0
PUMP_PHOTON_J = H_J_S * C_M_S / (EXCITATION_NM * 1e-9)  # ħω_p ≈ 4.464e-19 J
REPETITION_RATE_HZ = 10e6
PERIOD_PS = 100_000  # 10 MHz
NANOTIME_PS = 16.0
TEMPERATURE_K = 295.0

SAMPLE = "indep-sample"
SPECIMEN = "indep-slide"
SETUP = "indep-setup"

DOT_CLASSES = ("always-on", "typical", "mostly-off")
SCENARIOS = ("mixed", "always_on", "mostly_off", "typical")
INTENSITY_POOL_W_CM2 = (60.0, 100.0, 160.0, 250.0, 400.0, 630.0, 1000.0)
MOSTLY_OFF_ON_FRACTION = (0.03, 0.3)  # realised cw on-fraction of a mostly-off dot

MANIFEST_COLUMNS = (
    "file",
    "kind",
    "specimen",
    "dot",
    "setup",
    "excitation_wavelength_nm",
    "excitation_mode",
    "repetition_rate_mhz",
    "intensity_w_cm2",
    "temperature_k",
)

TRUTH_COLUMNS = (
    "file",
    "dot",
    "kind",
    "dot_class",
    "specimen",
    "intensity_w_cm2",
    "duration_s",
    # spectrum
    "center_nm",
    "fwhm_nm",
    "peak_counts",
    "bias_counts",
    "read_noise_counts",
    "n_pixels",
    # emitter
    "lifetime_ns",
    "decay_rate_per_us",
    "sigma_cm2",
    "pump_rate_per_us",
    "detection_efficiency",
    # cw g2
    "antibunching_rate_per_us",
    "g2_zero_signal",
    "g2_zero_expected",
    "baseline_expected",
    "tau0_ns",
    "rho_a",
    "rho_b",
    "signal_a_cps",
    "signal_b_cps",
    "background_a_cps",
    "background_b_cps",
    "count_rate_a_cps",
    "count_rate_b_cps",
    # pulsed
    "mean_excitation_per_pulse",
    "g2_pulsed_signal",
    "g2_pulsed_expected",
    "g2_pulsed_expected_blinking",
    "nanotime_peak_a_ns",
    "nanotime_peak_b_ns",
    # blinking
    "on_fraction",
    "n_switches",
    "k_on",
    "k_off",
    "t_min_ms",
    "t_max_s",
    # detectors
    "jitter_a_fwhm_ps",
    "jitter_b_fwhm_ps",
    "dead_time_a_ns",
    "dead_time_b_ns",
    "events",
    "state_file",
)


# --------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class SetupParams:
    """What belongs to the instrument: detectors, cables, CCD, stray light."""

    jitter_a_fwhm_ps: float
    jitter_b_fwhm_ps: float
    dead_time_a_ns: float
    dead_time_b_ns: float
    tau0_ns: float  # cable delay of B relative to A: pair delays t_B − t_A are shifted by +τ0
    dark_a_cps: float
    dark_b_cps: float
    stray_a_cps_per_w_cm2: float  # background proportional to the laser intensity
    stray_b_cps_per_w_cm2: float
    pulsed_background_a_cps: float
    pulsed_background_b_cps: float
    sync_offset_ns: float  # where detector A's prompt photons sit after the sync (T3)
    n_pixels: int
    span_nm: float
    bias_counts: float
    read_noise_counts: float

    def background_cps(self, intensity_w_cm2: float) -> tuple[float, float]:
        return (
            self.dark_a_cps + self.stray_a_cps_per_w_cm2 * intensity_w_cm2,
            self.dark_b_cps + self.stray_b_cps_per_w_cm2 * intensity_w_cm2,
        )


@dataclass(frozen=True)
class BlinkParams:
    """Telegraph on/off switching with truncated power-law dwell times; ``always-on`` never switches."""

    dot_class: str
    k_on: float = math.nan
    k_off: float = math.nan
    t_min_s: float = math.nan
    t_max_s: float = math.nan

    @property
    def blinks(self) -> bool:
        return self.dot_class != "always-on"


@dataclass(frozen=True)
class DotParams:
    label: str
    blink: BlinkParams
    center_nm: float
    fwhm_nm: float
    peak_counts: float
    spectrometer_center_nm: float
    lifetime_ns: float
    sigma_cm2: float
    intensity_w_cm2: float
    detection_efficiency: float  # η: probability that an emitted photon is detected (either detector)
    mean_excitation_per_pulse: float
    pulsed: bool

    @property
    def decay_rate_hz(self) -> float:
        return 1e9 / self.lifetime_ns

    @property
    def pump_rate_hz(self) -> float:
        """w_p = σ·I/ħω_p (I in W/cm², σ in cm²)."""
        return self.sigma_cm2 * self.intensity_w_cm2 / PUMP_PHOTON_J


@dataclass
class StudyTruth:
    folder: Path
    manifest: Path
    session_toml: Path
    truth_csv: Path
    states_dir: Path
    setup: SetupParams
    dots: list[DotParams]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def by_file(self) -> dict[str, dict[str, Any]]:
        """Truth rows keyed by the file's base name (what the catalog records as source_filename)."""
        return {Path(r["file"]).name: r for r in self.rows}


# --------------------------------------------------------------------------------------------- blinking


def power_law_dwells(rng: np.random.Generator, k: float, t_min: float, t_max: float, n: int) -> np.ndarray:
    """``n`` draws from p(t) ∝ t^−k on [t_min, t_max] by inverting the CDF."""
    u = rng.random(n)
    if abs(k - 1.0) < 1e-9:
        return t_min * (t_max / t_min) ** u
    a, b = t_min ** (1.0 - k), t_max ** (1.0 - k)
    return (a + u * (b - a)) ** (1.0 / (1.0 - k))


def telegraph(
    rng: np.random.Generator, blink: BlinkParams, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Switching times in [0, duration) and the state after each; the first entry is t = 0.

    The process starts 2·t_max before the acquisition in a random state, so what is seen is close to
    the stationary process (a dwell in progress at t = 0 is length-biased, as in a real experiment).
    """
    if not blink.blinks:
        return np.zeros(1), np.ones(1, dtype=bool)
    burn = 2.0 * blink.t_max_s
    total = burn + duration_s
    on_first = bool(rng.random() < 0.5)
    ends: list[np.ndarray] = []
    t_end = 0.0
    chunk = 4096
    while t_end < total:
        on = power_law_dwells(rng, blink.k_on, blink.t_min_s, blink.t_max_s, chunk)
        off = power_law_dwells(rng, blink.k_off, blink.t_min_s, blink.t_max_s, chunk)
        pair = np.empty(2 * chunk)
        pair[0::2], pair[1::2] = (on, off) if on_first else (off, on)
        c = t_end + np.cumsum(pair)
        ends.append(c)
        t_end = float(c[-1])
        chunk = min(4 * chunk, 1 << 20)
    switch = np.concatenate(ends) - burn  # times at which dwell j ends
    # dwell j (0-based) is on when (j even) == on_first; the state after its end is the opposite
    j = np.arange(switch.size)
    state_after = ((j % 2) == 0) != on_first
    first = int(np.searchsorted(switch, 0.0, side="right"))  # first switch after t = 0
    state0 = bool(state_after[first - 1]) if first > 0 else on_first
    last = int(np.searchsorted(switch, duration_s, side="left"))
    t_sw = np.concatenate([[0.0], switch[first:last]])
    st = np.concatenate([[state0], state_after[first:last]])
    return t_sw, st


def on_intervals(
    t_switch: np.ndarray, state_after: np.ndarray, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the on periods within [0, duration)."""
    bounds = np.append(t_switch, duration_s)
    on = state_after.astype(bool)
    return bounds[:-1][on], bounds[1:][on]


def on_fraction(t_switch: np.ndarray, state_after: np.ndarray, duration_s: float) -> float:
    s, e = on_intervals(t_switch, state_after, duration_s)
    return float((e - s).sum() / duration_s)


def _is_on(t: np.ndarray, t_switch: np.ndarray, state_after: np.ndarray) -> np.ndarray:
    i = np.searchsorted(t_switch, t, side="right") - 1
    return state_after[np.clip(i, 0, None)]


def _on_time_to_real(u: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Map times on the concatenated on-time clock to laboratory times."""
    cum = np.concatenate([[0.0], np.cumsum(ends - starts)])
    i = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, starts.size - 1)
    return starts[i] + (u - cum[i])


# --------------------------------------------------------------------------------------------- photons


def renewal_detections(
    rng: np.random.Generator, pump_hz: float, decay_hz: float, efficiency: float, duration_s: float
) -> np.ndarray:
    """Detected photon times (s) of a cw-pumped two-level emitter over ``duration_s`` of on-time.

    Emission intervals are Exp(w_p) + Exp(γ) (excite, then decay), Laplace transform
    F(s) = w_pγ/((s + w_p)(s + γ)). A photon is detected with probability η, so a detected interval is
    the sum of N ~ Geometric(η) emission intervals, with transform ηF/(1 − (1 − η)F)
    = ηw_pγ/(s² + (w_p + γ)s + ηw_pγ) = r₊r₋/((s + r₊)(s + r₋)): exactly Exp(r₊) + Exp(r₋), with r± the
    roots, r₊ + r₋ = w_p + γ and r₊r₋ = ηw_pγ. (Same as drawing Gamma(N, 1/w_p) + Gamma(N, 1/γ), faster.)
    """
    if duration_s <= 0 or efficiency <= 0:
        return np.empty(0)
    total, product = pump_hz + decay_hz, efficiency * pump_hz * decay_hz
    r_fast = 0.5 * (total + math.sqrt(total * total - 4.0 * product))
    r_slow = product / r_fast  # the small root without cancellation
    rate = product / total  # detected photons per second of on-time
    parts: list[np.ndarray] = []
    t0 = 0.0
    while t0 < duration_s:
        n = int(rate * (duration_s - t0) * 1.05) + 64
        dt = rng.standard_exponential(n) / r_fast + rng.standard_exponential(n) / r_slow
        t = t0 + np.cumsum(dt)
        parts.append(t[t < duration_s])
        t0 = float(t[-1])
    return np.concatenate(parts)


def _first_come_passes(start: np.ndarray, busy_until: np.ndarray) -> np.ndarray:
    n = start.size
    status = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 accepted, −1 rejected
    while True:
        live = np.flatnonzero(status >= 0)
        if live.size == 0 or not np.any(status[live] == 0):
            break
        s, b = start[live], busy_until[live]
        prev_any = np.concatenate([[-np.inf], np.maximum.accumulate(b)[:-1]])
        accepted = (status[live] == 1) | (prev_any <= s)
        prev_acc = np.concatenate([[-np.inf], np.maximum.accumulate(np.where(accepted, b, -np.inf))[:-1]])
        rejected = ~accepted & (prev_acc > s)
        status[live[accepted]] = 1
        status[live[rejected]] = -1
    return status == 1


def first_come_keep(start: np.ndarray, busy_until: np.ndarray) -> np.ndarray:
    """Which events (sorted by ``start``) a unit accepts that, once it accepts one, is busy until its
    ``busy_until``: event j is accepted iff no accepted earlier event is still busy at start_j.

    Used for detector dead time (busy_until = t + dead time, non-paralysable) and for a two-level
    emitter under pulses (busy until it has emitted). Vectorised: an event no earlier event at all is
    busy at is surely accepted and separates what comes before from what follows, so only the short
    clusters of overlapping events after such a barrier are resolved, in passes that each accept the
    events no earlier candidate can block and reject those a surely accepted event blocks (the passes
    needed are the length of the longest chain of overlapping events: a handful).
    """
    if start.size == 0:
        return np.zeros(0, dtype=bool)
    prev_any = np.concatenate([[-np.inf], np.maximum.accumulate(busy_until)[:-1]])
    keep = prev_any <= start
    if keep.all():
        return keep
    open_ = np.flatnonzero(~keep)
    barriers = np.flatnonzero(keep)
    barriers = barriers[np.searchsorted(barriers, open_) - 1]  # the event opening each cluster
    involved = np.union1d(open_, barriers)
    keep[involved] = _first_come_passes(start[involved], busy_until[involved])
    return keep


@dataclass(frozen=True)
class DetectorEvents:
    """Recorded times (s, jitter and cable delay applied, sorted) and which ones are signal photons."""

    t: np.ndarray
    signal: np.ndarray


def detector_events(
    rng: np.random.Generator,
    signal_t: np.ndarray,
    background_cps: float,
    duration_s: float,
    dead_time_s: float,
    jitter_fwhm_s: float,
    delay_s: float,
) -> DetectorEvents:
    """One detector: signal + Poisson background, dead time on the true times, jitter, cable delay;
    events recorded in [0, duration)."""
    bg = rng.uniform(0.0, duration_s, rng.poisson(background_cps * duration_s))
    t = np.concatenate([signal_t, bg])
    is_signal = np.concatenate([np.ones(signal_t.size, bool), np.zeros(bg.size, bool)])
    order = np.argsort(t, kind="stable")
    t, is_signal = t[order], is_signal[order]
    keep = first_come_keep(t, t + dead_time_s)
    t, is_signal = t[keep], is_signal[keep]
    t = t + rng.normal(0.0, jitter_fwhm_s / (2.0 * math.sqrt(2.0 * math.log(2.0))), t.size) + delay_s
    inside = (t >= 0.0) & (t < duration_s)
    t, is_signal = t[inside], is_signal[inside]
    order = np.argsort(t, kind="stable")
    return DetectorEvents(t[order], is_signal[order])


def _merge_t2(a: DetectorEvents, b: DetectorEvents) -> tuple[np.ndarray, np.ndarray]:
    ts = np.concatenate([np.round(a.t * 1e12), np.round(b.t * 1e12)]).astype(np.int64)
    ch = np.concatenate([np.zeros(a.t.size, np.uint8), np.ones(b.t.size, np.uint8)])
    order = np.argsort(ts, kind="stable")
    return ts[order], ch[order]


def _rho(ev: DetectorEvents) -> float:
    return float(ev.signal.mean()) if ev.t.size else math.nan


def _rates(ev: DetectorEvents, duration_s: float) -> tuple[float, float, float]:
    n_sig = int(ev.signal.sum())
    return n_sig / duration_s, (ev.t.size - n_sig) / duration_s, ev.t.size / duration_s


# --------------------------------------------------------------------------------------------- acquisitions


@dataclass(frozen=True)
class Acquisition:
    truth: dict[str, Any]
    t_switch: np.ndarray
    state_after: np.ndarray


def simulate_cw(
    rng: np.random.Generator, dot: DotParams, setup: SetupParams, duration_s: float, path: Path
) -> Acquisition:
    """One cw HBT acquisition of ``dot`` written as a PTU T2 file (channel 0 = A, 1 = B)."""
    from qdcat.ingest.ptu_write import write_ptu_t2

    t_sw, st = telegraph(rng, dot.blink, duration_s)
    starts, ends = on_intervals(t_sw, st, duration_s)
    u = renewal_detections(
        rng, dot.pump_rate_hz, dot.decay_rate_hz, dot.detection_efficiency, float((ends - starts).sum())
    )
    t = _on_time_to_real(u, starts, ends) if u.size else u
    to_b = rng.random(t.size) < 0.5
    bg_a, bg_b = setup.background_cps(dot.intensity_w_cm2)
    a = detector_events(
        rng, t[~to_b], bg_a, duration_s, setup.dead_time_a_ns * 1e-9, setup.jitter_a_fwhm_ps * 1e-12, 0.0
    )
    b = detector_events(
        rng,
        t[to_b],
        bg_b,
        duration_s,
        setup.dead_time_b_ns * 1e-9,
        setup.jitter_b_fwhm_ps * 1e-12,
        setup.tau0_ns * 1e-9,
    )
    ts, ch = _merge_t2(a, b)
    write_ptu_t2(path, [(ts, ch)], acquisition_s=duration_s, comment="tests/independent simulator: cw HBT")
    rho_a, rho_b = _rho(a), _rho(b)
    f = on_fraction(t_sw, st, duration_s)
    sa, ba, ra = _rates(a, duration_s)
    sb, bb, rb = _rates(b, duration_s)
    gamma, w = dot.decay_rate_hz, dot.pump_rate_hz
    truth = {
        "duration_s": duration_s,
        "antibunching_rate_per_us": (gamma + w) / 1e6,
        "g2_zero_signal": 0.0,
        # raw g2(0), normalised so uncorrelated light gives 1: signal–signal pairs vanish at τ = 0
        "g2_zero_expected": 1.0 - rho_a * rho_b,
        # blinking: within the fit window the on-state bunching lifts the plateau to 1 + ρ_Aρ_B(1 − f)/f
        "baseline_expected": 1.0 + rho_a * rho_b * (1.0 - f) / f if f > 0 else math.nan,
        "tau0_ns": setup.tau0_ns,
        "rho_a": rho_a,
        "rho_b": rho_b,
        "signal_a_cps": sa,
        "signal_b_cps": sb,
        "background_a_cps": ba,
        "background_b_cps": bb,
        "count_rate_a_cps": ra,
        "count_rate_b_cps": rb,
        "on_fraction": f,
        "n_switches": int(t_sw.size - 1),
        "events": int(ts.size),
    }
    return Acquisition(truth, t_sw, st)


def simulate_pulsed(
    rng: np.random.Generator, dot: DotParams, setup: SetupParams, duration_s: float, path: Path
) -> Acquisition:
    """One pulsed (10 MHz) acquisition of ``dot``, both detectors, written as Photon-HDF5 T3."""
    from qdcat.ingest.photon_hdf5 import write_photon_hdf5

    t_sw, st = telegraph(rng, dot.blink, duration_s)
    period_s = PERIOD_PS * 1e-12
    n_pulses = round(duration_s / period_s)
    p_exc = -math.expm1(-dot.mean_excitation_per_pulse)
    # pulses that would excite a ground-state emitter: geometric gaps between them
    n_guess = int(n_pulses * p_exc * 1.05) + 64
    idx = np.cumsum(rng.geometric(p_exc, n_guess)) - 1
    while idx[-1] < n_pulses:
        more = idx[-1] + np.cumsum(rng.geometric(p_exc, n_guess // 10 + 64))
        idx = np.concatenate([idx, more])
    idx = idx[idx < n_pulses]
    t_pulse = idx * period_s
    idx = idx[_is_on(t_pulse, t_sw, st)]  # off: the exciton is lost non-radiatively
    t_pulse = idx * period_s
    emission = t_pulse + rng.exponential(dot.lifetime_ns * 1e-9, idx.size)
    emission = emission[first_come_keep(t_pulse, emission)]  # busy (excited) emitters absorb nothing
    detected = emission[rng.random(emission.size) < dot.detection_efficiency]
    to_b = rng.random(detected.size) < 0.5
    offset = setup.sync_offset_ns * 1e-9
    a = detector_events(
        rng,
        detected[~to_b] + offset,
        setup.pulsed_background_a_cps,
        duration_s,
        setup.dead_time_a_ns * 1e-9,
        setup.jitter_a_fwhm_ps * 1e-12,
        0.0,
    )
    b = detector_events(
        rng,
        detected[to_b] + offset,
        setup.pulsed_background_b_cps,
        duration_s,
        setup.dead_time_b_ns * 1e-9,
        setup.jitter_b_fwhm_ps * 1e-12,
        setup.tau0_ns * 1e-9,
    )
    t_ps = np.concatenate([a.t, b.t]) * 1e12
    ch = np.concatenate([np.zeros(a.t.size, np.uint8), np.ones(b.t.size, np.uint8)])
    order = np.argsort(t_ps, kind="stable")
    t_ps, ch = t_ps[order], ch[order]
    sync = np.floor(t_ps / PERIOD_PS).astype(np.int64)
    nanotime = np.floor((t_ps - sync * PERIOD_PS) / NANOTIME_PS).astype(np.int64)
    nanotime = np.clip(nanotime, 0, round(PERIOD_PS / NANOTIME_PS) - 1).astype(np.uint16)
    write_photon_hdf5(
        path,
        timestamps_ps=sync * PERIOD_PS,
        channels=ch,
        nanotimes=nanotime,
        resolution_ps=float(PERIOD_PS),
        nanotime_resolution_ps=NANOTIME_PS,
        sync_rate_hz=REPETITION_RATE_HZ,
        acquisition_s=duration_s,
        description=f"pulsed acquisition of {dot.label} (tests/independent simulator)",
        channel_roles={0: "hbt_a", 1: "hbt_b"},
    )
    rho_a, rho_b = _rho(a), _rho(b)
    rr = rho_a * rho_b
    f = on_fraction(t_sw, st, duration_s)
    sa, ba, ra = _rates(a, duration_s)
    sb, bb, rb = _rates(b, duration_s)
    g_sig = 0.0
    truth = {
        "duration_s": duration_s,
        "tau0_ns": setup.tau0_ns,
        "rho_a": rho_a,
        "rho_b": rho_b,
        "signal_a_cps": sa,
        "signal_b_cps": sb,
        "background_a_cps": ba,
        "background_b_cps": bb,
        "count_rate_a_cps": ra,
        "count_rate_b_cps": rb,
        "g2_pulsed_signal": g_sig,
        # centre/side window ratio: background pairs fill the centre as much as the side peaks
        "g2_pulsed_expected": 1.0 - rr * (1.0 - g_sig),
        # ... and with blinking the side peaks carry the on-state bunching 1/f as well
        "g2_pulsed_expected_blinking": (1.0 - rr * (1.0 - g_sig / f)) / (1.0 + rr * (1.0 - f) / f)
        if f > 0
        else math.nan,
        "nanotime_peak_a_ns": setup.sync_offset_ns,
        "nanotime_peak_b_ns": (setup.sync_offset_ns + setup.tau0_ns) % (PERIOD_PS / 1e3),
        "on_fraction": f,
        "n_switches": int(t_sw.size - 1),
        "events": int(t_ps.size),
    }
    return Acquisition(truth, t_sw, st)


def simulate_background(
    rng: np.random.Generator, setup: SetupParams, intensity_w_cm2: float, duration_s: float, path: Path
) -> dict[str, Any]:
    """A background acquisition (laser on, no dot in the focus) as PTU T2."""
    from qdcat.ingest.ptu_write import write_ptu_t2

    bg_a, bg_b = setup.background_cps(intensity_w_cm2)
    empty = np.empty(0)
    a = detector_events(
        rng, empty, bg_a, duration_s, setup.dead_time_a_ns * 1e-9, setup.jitter_a_fwhm_ps * 1e-12, 0.0
    )
    b = detector_events(
        rng,
        empty,
        bg_b,
        duration_s,
        setup.dead_time_b_ns * 1e-9,
        setup.jitter_b_fwhm_ps * 1e-12,
        setup.tau0_ns * 1e-9,
    )
    ts, ch = _merge_t2(a, b)
    write_ptu_t2(
        path, [(ts, ch)], acquisition_s=duration_s, comment="tests/independent simulator: background"
    )
    return {
        "duration_s": duration_s,
        "background_a_cps": a.t.size / duration_s,
        "background_b_cps": b.t.size / duration_s,
        "count_rate_a_cps": a.t.size / duration_s,
        "count_rate_b_cps": b.t.size / duration_s,
        "events": int(ts.size),
    }


def lorentzian(x: np.ndarray, amplitude: float, center: float, fwhm: float) -> np.ndarray:
    hw2 = (fwhm / 2.0) ** 2
    return amplitude * hw2 / ((x - center) ** 2 + hw2)


def simulate_spectrum(
    rng: np.random.Generator, dot: DotParams, setup: SetupParams, path: Path
) -> dict[str, Any]:
    """CCD spectrum: Poisson(Lorentzian) + bias + Gaussian read noise, integer counts, as CSV."""
    wl = dot.spectrometer_center_nm + np.linspace(-setup.span_nm / 2, setup.span_nm / 2, setup.n_pixels)
    signal = rng.poisson(lorentzian(wl, dot.peak_counts, dot.center_nm, dot.fwhm_nm))
    counts = np.round(signal + setup.bias_counts + rng.normal(0.0, setup.read_noise_counts, wl.size))
    with path.open("w") as fh:
        fh.write("# CCD spectrum (tests/independent simulator)\nwavelength_nm,counts\n")
        for x, y in zip(wl, counts, strict=True):
            fh.write(f"{x:.4f},{y:.0f}\n")
    return {
        "center_nm": dot.center_nm,
        "fwhm_nm": dot.fwhm_nm,
        "peak_counts": dot.peak_counts,
        "bias_counts": setup.bias_counts,
        "read_noise_counts": setup.read_noise_counts,
        "n_pixels": setup.n_pixels,
    }


# --------------------------------------------------------------------------------------------- the study


def draw_setup(rng: np.random.Generator, top_intensity_w_cm2: float) -> SetupParams:
    dark_a, dark_b = rng.uniform(100.0, 400.0, 2)
    top_a, top_b = rng.uniform(1000.0, 3000.0, 2)  # background at the highest intensity used
    tau0 = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 40.0))
    return SetupParams(
        jitter_a_fwhm_ps=float(rng.uniform(50.0, 500.0)),
        jitter_b_fwhm_ps=float(rng.uniform(50.0, 500.0)),
        dead_time_a_ns=float(rng.uniform(20.0, 80.0)),
        dead_time_b_ns=float(rng.uniform(20.0, 80.0)),
        tau0_ns=tau0,
        dark_a_cps=float(dark_a),
        dark_b_cps=float(dark_b),
        stray_a_cps_per_w_cm2=float((top_a - dark_a) / top_intensity_w_cm2),
        stray_b_cps_per_w_cm2=float((top_b - dark_b) / top_intensity_w_cm2),
        pulsed_background_a_cps=float(dark_a + rng.uniform(20.0, 300.0)),  # low mean laser power
        pulsed_background_b_cps=float(dark_b + rng.uniform(20.0, 300.0)),
        # both prompt peaks (A at the offset, B at offset + τ0) land 1–50 ns after the sync
        sync_offset_ns=float(rng.uniform(1.0, 5.0) + max(0.0, -tau0)),
        n_pixels=int(rng.integers(1024, 1341)),
        span_nm=float(rng.uniform(95.0, 105.0)),
        bias_counts=float(rng.uniform(100.0, 600.0)),
        read_noise_counts=float(rng.uniform(3.0, 10.0)),
    )


def dot_classes(rng: np.random.Generator, n: int, scenario: str) -> list[str]:
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, not {scenario!r}")
    if scenario != "mixed":
        return [scenario.replace("_", "-")] * n
    n_on = round(n / 3)
    n_off = max(1, round(n / 6)) if n >= 3 else 0
    classes = ["always-on"] * n_on + ["mostly-off"] * n_off + ["typical"] * (n - n_on - n_off)
    return [classes[i] for i in rng.permutation(n)]


def draw_blinking(rng: np.random.Generator, dot_class: str, t_max_floor_s: float) -> BlinkParams:
    if dot_class == "always-on":
        return BlinkParams(dot_class)
    t_min = float(rng.uniform(1e-4, 1e-3))
    t_max = float(t_max_floor_s * rng.uniform(1.0, 3.0))
    if dot_class == "typical":
        return BlinkParams(
            dot_class, float(rng.uniform(1.0, 1.7)), float(rng.uniform(1.7, 2.7)), t_min, t_max
        )
    # mostly off: short on periods (steeper on law), long off periods (flatter off law); the realised
    # on-fraction is then very variable, so simulate_study redraws until it lies in the class's range
    return BlinkParams(dot_class, float(rng.uniform(1.5, 2.0)), float(rng.uniform(1.3, 1.7)), t_min, t_max)


def draw_dot(
    rng: np.random.Generator, label: str, blink: BlinkParams, intensity_w_cm2: float, pulsed: bool
) -> DotParams:
    center = float(rng.uniform(600.0, 660.0))
    lifetime = float(rng.uniform(12.0, 35.0))
    sigma = float(rng.uniform(2e-14, 3e-14))
    w = sigma * intensity_w_cm2 / PUMP_PHOTON_J
    gamma = 1e9 / lifetime
    emitted_hz = w * gamma / (w + gamma)
    target_per_detector = float(np.exp(rng.uniform(np.log(5e3), np.log(8e4))))  # on-state signal cps
    return DotParams(
        label=label,
        blink=blink,
        center_nm=center,
        fwhm_nm=float(rng.uniform(12.0, 25.0)),
        peak_counts=float(rng.uniform(500.0, 5000.0)),
        spectrometer_center_nm=center + float(rng.uniform(-20.0, 20.0)),
        lifetime_ns=lifetime,
        sigma_cm2=sigma,
        intensity_w_cm2=intensity_w_cm2,
        detection_efficiency=min(1.0, 2.0 * target_per_detector / emitted_hz),
        mean_excitation_per_pulse=float(rng.uniform(0.1, 0.5)),
        pulsed=pulsed,
    )


def _write_csv(path: Path, columns: tuple[str, ...] | list[str], rows: list[dict[str, Any]]) -> None:
    def fmt(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float):
            return repr(v)  # shortest exact representation
        return v

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({k: fmt(r.get(k)) for k in columns})


def _write_session_toml(folder: Path, seed: int) -> Path:
    text = f"""# Objects of a study simulated by tests/independent/simulator.py (seed {seed}).
[[sample]]
name = "{SAMPLE}"
material = "InP/ZnSe"
synthesis_reference = "independent simulator (tests/independent)"

[[specimen]]
name = "{SPECIMEN}"
sample = "{SAMPLE}"
purpose = "single_dot"
preparation_method = "drop-cast"
substrate = "glass coverslip"
dots = "dots.csv"

[[setup]]
name = "{SETUP}"
time_tagger_model = "simulated two-SPAD HBT"
time_tagger_resolution_ps = 1.0
spectrometer = "simulated CCD"
channels = {{ "0" = "hbt_a", "1" = "hbt_b" }}
"""
    path = folder / "session.toml"
    path.write_text(text, encoding="utf-8")
    return path


def simulate_study(
    folder: Path,
    *,
    seed: int,
    n_dots: int = 24,
    cw_duration_s: float = 20.0,
    pulsed_duration_s: float = 1.0,
    with_background: bool = True,
    scenario: str = "mixed",
) -> StudyTruth:
    """Simulate a single-dot study into the empty (or new) ``folder``; returns the truth."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty")
    if n_dots < 1:
        raise ValueError("n_dots must be at least 1")
    for sub in ("spectra", "cw", "pulsed", "background", "states"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    n_int = int(rng.integers(2, 4))
    intensities = sorted(float(x) for x in rng.choice(INTENSITY_POOL_W_CM2, n_int, replace=False))
    setup = draw_setup(rng, intensities[-1])
    classes = dot_classes(rng, n_dots, scenario)
    # every intensity gets dots (when there are enough dots), in random order
    dot_intensity = [intensities[i % n_int] for i in rng.permutation(n_dots)]
    n_pulsed = max(1, n_dots // 2)
    pulsed_set = set(rng.permutation(n_dots)[:n_pulsed].tolist())
    t_max_floor = max(cw_duration_s, pulsed_duration_s)

    dots: list[DotParams] = []
    rows: list[dict[str, Any]] = []
    manifest: list[dict[str, Any]] = []
    cw_settings = {
        "excitation_wavelength_nm": EXCITATION_NM,
        "excitation_mode": "cw",
        "temperature_k": TEMPERATURE_K,
    }
    pulsed_settings = {
        "excitation_wavelength_nm": EXCITATION_NM,
        "excitation_mode": "pulsed",
        "repetition_rate_mhz": REPETITION_RATE_HZ / 1e6,
        "temperature_k": TEMPERATURE_K,
    }
    detectors = {
        "jitter_a_fwhm_ps": setup.jitter_a_fwhm_ps,
        "jitter_b_fwhm_ps": setup.jitter_b_fwhm_ps,
        "dead_time_a_ns": setup.dead_time_a_ns,
        "dead_time_b_ns": setup.dead_time_b_ns,
    }
    with (folder / "dots.csv").open("w", encoding="utf-8") as fh:
        fh.write("label,x_um,y_um\n")
        for i in range(n_dots):
            fh.write(f"D{i + 1:02d},{3.0 * (i % 8):.1f},{3.0 * (i // 8):.1f}\n")

    for i in range(n_dots):
        label = f"D{i + 1:02d}"
        blink = draw_blinking(rng, classes[i], t_max_floor)
        dot = draw_dot(rng, label, blink, dot_intensity[i], i in pulsed_set)
        emitter = {
            "dot": label,
            "dot_class": blink.dot_class,
            "specimen": SPECIMEN,
            "lifetime_ns": dot.lifetime_ns,
            "decay_rate_per_us": dot.decay_rate_hz / 1e6,
            "sigma_cm2": dot.sigma_cm2,
            "detection_efficiency": dot.detection_efficiency,
            "k_on": blink.k_on,
            "k_off": blink.k_off,
            "t_min_ms": blink.t_min_s * 1e3,
            "t_max_s": blink.t_max_s,
        }
        # spectrum
        f = folder / "spectra" / f"{label}_spectrum.csv"
        spec = simulate_spectrum(rng, dot, setup, f)
        rows.append({"file": f"spectra/{f.name}", "kind": "spectrum", **emitter, **spec})
        manifest.append({"file": f"spectra/{f.name}", "kind": "spectrum", "specimen": SPECIMEN, "dot": label})

        # cw HBT; a mostly-off dot is redrawn until its realised on-fraction lies in 3–30 %
        f = folder / "cw" / f"{label}_cw.ptu"
        for _ in range(200):
            state = rng.bit_generator.state
            t_sw, st = telegraph(rng, blink, cw_duration_s)
            frac = on_fraction(t_sw, st, cw_duration_s)
            lo, hi = MOSTLY_OFF_ON_FRACTION
            if blink.dot_class != "mostly-off" or lo < frac < hi:
                rng.bit_generator.state = state  # simulate_cw redraws this very realisation
                break
            blink = draw_blinking(rng, classes[i], t_max_floor)
            dot = replace(dot, blink=blink)
        emitter |= {
            "k_on": blink.k_on,
            "k_off": blink.k_off,
            "t_min_ms": blink.t_min_s * 1e3,
            "t_max_s": blink.t_max_s,
        }
        dots.append(dot)
        acq = simulate_cw(rng, dot, setup, cw_duration_s, f)
        state_file = f"states/{f.name}.npz"
        np.savez(
            folder / state_file,
            t_switch_s=acq.t_switch,
            state_after=acq.state_after,
            duration_s=cw_duration_s,
        )
        rows.append(
            {
                "file": f"cw/{f.name}",
                "kind": "g2_cw",
                **emitter,
                **detectors,
                "intensity_w_cm2": dot.intensity_w_cm2,
                "pump_rate_per_us": dot.pump_rate_hz / 1e6,
                **acq.truth,
                "state_file": state_file,
            }
        )
        manifest.append(
            {
                "file": f"cw/{f.name}",
                "kind": "g2_cw",
                "specimen": SPECIMEN,
                "dot": label,
                "setup": SETUP,
                "intensity_w_cm2": dot.intensity_w_cm2,
                **cw_settings,
            }
        )

        if dot.pulsed:
            f = folder / "pulsed" / f"{label}_pulsed.h5"
            acq = simulate_pulsed(rng, dot, setup, pulsed_duration_s, f)
            state_file = f"states/{f.name}.npz"
            np.savez(
                folder / state_file,
                t_switch_s=acq.t_switch,
                state_after=acq.state_after,
                duration_s=pulsed_duration_s,
            )
            rows.append(
                {
                    "file": f"pulsed/{f.name}",
                    "kind": "decay",
                    **emitter,
                    **detectors,
                    "mean_excitation_per_pulse": dot.mean_excitation_per_pulse,
                    **acq.truth,
                    "state_file": state_file,
                }
            )
            manifest.append(
                {
                    "file": f"pulsed/{f.name}",
                    "kind": "decay",
                    "specimen": SPECIMEN,
                    "dot": label,
                    "setup": SETUP,
                    **pulsed_settings,
                }
            )

    if with_background:
        for intensity in intensities:
            f = folder / "background" / f"background_{intensity:.0f}Wcm2.ptu"
            bg = simulate_background(rng, setup, intensity, cw_duration_s, f)
            rows.append(
                {
                    "file": f"background/{f.name}",
                    "kind": "background_trace",
                    "specimen": SPECIMEN,
                    "intensity_w_cm2": intensity,
                    "tau0_ns": setup.tau0_ns,
                    **detectors,
                    **bg,
                }
            )
            manifest.append(
                {
                    "file": f"background/{f.name}",
                    "kind": "background_trace",
                    "specimen": SPECIMEN,
                    "setup": SETUP,
                    "intensity_w_cm2": intensity,
                    **cw_settings,
                }
            )

    manifest_path = folder / "manifest.csv"
    _write_csv(manifest_path, MANIFEST_COLUMNS, manifest)
    truth_path = folder / "truth.csv"
    _write_csv(truth_path, TRUTH_COLUMNS, rows)
    session_toml = _write_session_toml(folder, seed)
    return StudyTruth(
        folder=folder,
        manifest=manifest_path,
        session_toml=session_toml,
        truth_csv=truth_path,
        states_dir=folder / "states",
        setup=setup,
        dots=dots,
        rows=rows,
    )


def read_truth(path: Path) -> list[dict[str, Any]]:
    """truth.csv back as dicts, numbers as floats (empty cells as NaN)."""

    def conv(v: str) -> Any:
        if v == "":
            return math.nan
        try:
            return float(v)
        except ValueError:
            return v

    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [{k: conv(v) for k, v in r.items()} for r in csv.DictReader(fh)]
