"""Physical constants, validation and the frozen parameter dataclasses of the simulator.

Every dataclass validates itself on construction, so a simulator function can
trust any parameter object it receives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qdcat import constants
from qdcat.constants import HC_EV_NM
from qdcat.errors import InvalidValueError

CHANNEL_A = 0
CHANNEL_B = 1
CHANNEL_SYNC = 64

# Beyond this the arrays and their temporaries (~30 bytes per event) outgrow a workstation.
MAX_EVENTS = 300_000_000


# --------------------------------------------------------------------------- validation


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool, unit: str) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    text = f"{left}{lo:g}, {hi:g}{right}"
    return f"{text} {unit}".rstrip()


def check_real(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
) -> float:
    """Return ``value`` as a float, or raise InvalidValueError naming the valid range."""
    valid = _interval(lo, hi, lo_open, hi_open, unit)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidValueError(f"{name} must be a real number in {valid}, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi)
    if bad:
        raise InvalidValueError(f"{name} = {value!r} is out of range; it must be in {valid}")
    return v


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """Return ``value`` as an int, or raise InvalidValueError naming the valid range."""
    valid = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidValueError(f"{name} must be an integer {valid}, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        raise InvalidValueError(f"{name} = {v} is out of range; it must be an integer {valid}")
    return v


def check_seed(seed: Any) -> int:
    """Seeds are plain non-negative integers so that a run is reproducible from its record."""
    return check_int("seed", seed, 0)


def set_field(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their fields (e.g. numpy scalars to float) here only.
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------- physics helpers


def photon_energy_j(wavelength_nm: float) -> float:
    """Photon energy hc/λ in joules (445 nm → 4.464e-19 J)."""
    wavelength_nm = check_real("wavelength_nm", wavelength_nm, 100.0, 10_000.0, unit="nm")
    return constants.photon_energy_j(wavelength_nm)


def emission_energy_ev(wavelength_nm: npt.ArrayLike) -> Any:
    """Emission energy E = hc/λ0 in eV (float for a scalar, array for an array)."""
    energy = HC_EV_NM / np.asarray(wavelength_nm, dtype=np.float64)
    return float(energy) if energy.ndim == 0 else energy


def pump_rate_per_us(sigma_cm2: float, intensity_w_cm2: float, wavelength_nm: float = 445.0) -> float:
    """Pump (excitation) rate w_p = σ·I/ħω_p in µs⁻¹."""
    return sigma_cm2 * intensity_w_cm2 / photon_energy_j(wavelength_nm) * 1e-6


def saturation_intensity_w_cm2(
    decay_rate_per_us: float, sigma_cm2: float, wavelength_nm: float = 445.0
) -> float:
    """Saturation intensity I_S = ħω_p·γ/σ in W/cm² (where w_p = γ)."""
    return photon_energy_j(wavelength_nm) * decay_rate_per_us * 1e6 / sigma_cm2


def power_law_mean(k: float, t_min: float, t_max: float) -> float:
    """Mean of P(t) ∝ t^-k on [t_min, t_max]."""

    def integral(p: float) -> float:  # ∫ t^p dt over [t_min, t_max]
        if abs(p + 1.0) < 1e-12:
            return math.log(t_max / t_min)
        return float((t_max ** (p + 1.0) - t_min ** (p + 1.0)) / (p + 1.0))

    return integral(1.0 - k) / integral(-k)


def sample_power_law(
    rng: np.random.Generator, k: float, t_min: float, t_max: float, n: int
) -> npt.NDArray[np.float64]:
    """Inverse-CDF draws from the truncated power law P(t) ∝ t^-k on [t_min, t_max]."""
    u = rng.random(n)
    a = 1.0 - k
    if abs(a) < 1e-12:  # k = 1: log-uniform
        t: npt.NDArray[np.float64] = t_min * (t_max / t_min) ** u
        return t
    lo, hi = t_min**a, t_max**a
    t = (lo + u * (hi - lo)) ** (1.0 / a)
    return t


# --------------------------------------------------------------------------- parameter dataclasses


@dataclass(frozen=True)
class BlinkingParams:
    """On/off telegraph blinking with truncated power-law dwell times P(t) ∝ t^-k, t in [t_min_s, t_max_s].

    Defaults are the mean exponents of the reference study (25 InP/ZnSe dots).
    ``t_min_s`` = 10 ms is the study's bin time (the shortest period it could
    see); with ``t_max_s`` = 100 s they give an expected on-fraction of ~99 %,
    close to the study's 99 % for one dot (its 25-dot mean of 95.5 % comes from
    dot-to-dot spread in k_off, which :func:`draw_population` reproduces).
    """

    k_on: float = 1.2
    k_off: float = 2.2
    t_min_s: float = 0.01
    t_max_s: float = 100.0

    def __post_init__(self) -> None:
        set_field(self, "k_on", check_real("k_on", self.k_on, 0.0, 10.0, lo_open=True))
        set_field(self, "k_off", check_real("k_off", self.k_off, 0.0, 10.0, lo_open=True))
        # 1 µs floor: shorter dwells would collapse onto the same picosecond switching time.
        set_field(self, "t_min_s", check_real("t_min_s", self.t_min_s, 1e-6, 1e4, unit="s"))
        set_field(
            self, "t_max_s", check_real("t_max_s", self.t_max_s, self.t_min_s, 1e6, lo_open=True, unit="s")
        )

    @property
    def mean_on_s(self) -> float:
        return power_law_mean(self.k_on, self.t_min_s, self.t_max_s)

    @property
    def mean_off_s(self) -> float:
        return power_law_mean(self.k_off, self.t_min_s, self.t_max_s)

    @property
    def expected_on_fraction(self) -> float:
        """Long-run fraction of time on: mean on dwell / (mean on + mean off dwell)."""
        return self.mean_on_s / (self.mean_on_s + self.mean_off_s)


@dataclass(frozen=True)
class DotParams:
    """One emitter. Defaults: the reference study's population means (InP/ZnSe, science.md §4-5).

    ``quantum_yield`` is the radiative fraction of exciton decays (non-radiative
    decays emit nothing); the biexciton decays at ``biexciton_rate_per_ns``
    and emits with ``biexciton_quantum_yield`` (γ_XX = 14.3 ns⁻¹, PLQY_XX = 0.77 %).
    ``blinking=None`` is a dot that never blinks.
    """

    lifetime_ns: float = 22.5
    quantum_yield: float = 0.65
    sigma_cm2: float = 2.6e-14
    center_nm: float = 629.0
    fwhm_nm: float = 19.4
    biexciton_rate_per_ns: float = 14.3
    biexciton_quantum_yield: float = 0.0077
    blinking: BlinkingParams | None = None

    def __post_init__(self) -> None:
        set_field(self, "lifetime_ns", check_real("lifetime_ns", self.lifetime_ns, 0.01, 1e5, unit="ns"))
        set_field(
            self, "quantum_yield", check_real("quantum_yield", self.quantum_yield, 0.0, 1.0, lo_open=True)
        )
        set_field(
            self, "sigma_cm2", check_real("sigma_cm2", self.sigma_cm2, 0.0, 1e-10, lo_open=True, unit="cm²")
        )
        set_field(self, "center_nm", check_real("center_nm", self.center_nm, 200.0, 3000.0, unit="nm"))
        set_field(self, "fwhm_nm", check_real("fwhm_nm", self.fwhm_nm, 0.0, 500.0, lo_open=True, unit="nm"))
        set_field(
            self,
            "biexciton_rate_per_ns",
            check_real(
                "biexciton_rate_per_ns", self.biexciton_rate_per_ns, 0.0, 1e4, lo_open=True, unit="ns⁻¹"
            ),
        )
        set_field(
            self,
            "biexciton_quantum_yield",
            check_real("biexciton_quantum_yield", self.biexciton_quantum_yield, 0.0, 1.0),
        )
        if self.blinking is not None and not isinstance(self.blinking, BlinkingParams):
            raise InvalidValueError(f"blinking must be a BlinkingParams or None, got {self.blinking!r}")

    @property
    def decay_rate_per_us(self) -> float:
        """γ = 1/lifetime in µs⁻¹."""
        return 1e3 / self.lifetime_ns

    @property
    def emission_energy_ev(self) -> float:
        return HC_EV_NM / self.center_nm

    @classmethod
    def reference_dot(cls) -> DotParams:
        """The power-series dot of the reference study (its Figs. 4-5).

        γ = 47 µs⁻¹ (τ = 21.3 ns), σ = slope·ħω_p = 5.9e4 cm²/J × 4.464e-19 J =
        2.63e-14 cm², blinking k_on = 1.02, k_off = 2.44.
        """
        return cls(
            lifetime_ns=1e3 / 47.0,
            sigma_cm2=5.9e4 * photon_energy_j(445.0),
            blinking=BlinkingParams(k_on=1.02, k_off=2.44),
        )


@dataclass(frozen=True)
class CwExcitation:
    """Continuous-wave excitation at ``intensity_w_cm2`` (445 nm by default, as in the study)."""

    intensity_w_cm2: float = 100.0
    wavelength_nm: float = 445.0

    def __post_init__(self) -> None:
        set_field(
            self,
            "intensity_w_cm2",
            check_real("intensity_w_cm2", self.intensity_w_cm2, 0.0, 1e7, lo_open=True, unit="W/cm²"),
        )
        set_field(
            self, "wavelength_nm", check_real("wavelength_nm", self.wavelength_nm, 100.0, 10_000.0, unit="nm")
        )

    @property
    def photon_energy_j(self) -> float:
        return photon_energy_j(self.wavelength_nm)

    def pump_rate_per_us(self, sigma_cm2: float) -> float:
        return pump_rate_per_us(sigma_cm2, self.intensity_w_cm2, self.wavelength_nm)


@dataclass(frozen=True)
class PulsedExcitation:
    """Picosecond pulses at ``repetition_rate_mhz``; per pulse a Poisson number of excitons.

    Give the mean exciton number ⟨N⟩ directly (``mean_excitons``) or the pulse
    fluence (``fluence_j_cm2``; then ⟨N⟩ = σ·fluence/ħω_p with each dot's own
    σ), not both; with neither, ⟨N⟩ = 1. The sync period is rounded to whole
    picoseconds (10 MHz → 100 000 ps) so that sync times are exact integers.
    ``pulse_delay_ps`` is when the pulse reaches the dot after its sync tag
    (cables, optical path): as on a real TCSPC setup the decay rises inside the
    window (default 2 ns) instead of wrapping jittered early photons around to
    the end of the previous period.
    """

    repetition_rate_mhz: float = 10.0
    mean_excitons: float | None = None
    fluence_j_cm2: float | None = None
    wavelength_nm: float = 445.0
    pulse_delay_ps: float = 2000.0

    def __post_init__(self) -> None:
        set_field(
            self,
            "repetition_rate_mhz",
            check_real(
                "repetition_rate_mhz", self.repetition_rate_mhz, 0.0, 1000.0, lo_open=True, unit="MHz"
            ),
        )
        if self.mean_excitons is not None and self.fluence_j_cm2 is not None:
            raise InvalidValueError(
                "give either mean_excitons or fluence_j_cm2 for a PulsedExcitation, not both"
            )
        if self.mean_excitons is not None:
            set_field(
                self,
                "mean_excitons",
                check_real("mean_excitons", self.mean_excitons, 0.0, 100.0, lo_open=True),
            )
        if self.fluence_j_cm2 is not None:
            set_field(
                self,
                "fluence_j_cm2",
                check_real("fluence_j_cm2", self.fluence_j_cm2, 0.0, 1.0, lo_open=True, unit="J/cm²"),
            )
        set_field(
            self, "wavelength_nm", check_real("wavelength_nm", self.wavelength_nm, 100.0, 10_000.0, unit="nm")
        )
        set_field(
            self,
            "pulse_delay_ps",
            check_real(
                "pulse_delay_ps", self.pulse_delay_ps, 0.0, self.sync_period_ps, hi_open=True, unit="ps"
            ),
        )

    @property
    def sync_period_ps(self) -> int:
        return round(1e6 / self.repetition_rate_mhz)

    def mean_excitons_for(self, sigma_cm2: float) -> float:
        """⟨N⟩ for a dot of cross-section ``sigma_cm2``."""
        if self.fluence_j_cm2 is not None:
            return sigma_cm2 * self.fluence_j_cm2 / photon_energy_j(self.wavelength_nm)
        return 1.0 if self.mean_excitons is None else self.mean_excitons


@dataclass(frozen=True)
class Detection:
    """The HBT detection path: overall efficiency, a 50/50 split to detectors A and B.

    ``efficiency`` is the probability that an emitted photon is detected at all
    (collection × transmission × detector efficiency). Timing jitter is
    Gaussian with the given FWHM; dead time is non-paralysable and per
    detector; background is Poisson per detector; ``delay_b_ps`` is the cable
    delay of detector B, so the cw g2 dip sits at τ0 = delay_b_ps; ``fraction_a``
    is the beamsplitter's share sent to A (0.5: the 50/50 HBT). Defaults:
    2 % efficiency (≈70 kcps total from the default dot at 100 W/cm²), 350 ps
    jitter and 22 ns dead time (a common SPAD), 500 cps background per detector
    (g2(0) ≈ 0.03 like the study's best dot), no delay.
    """

    efficiency: float = 0.02
    jitter_a_fwhm_ps: float = 350.0
    jitter_b_fwhm_ps: float = 350.0
    dead_time_a_ns: float = 22.0
    dead_time_b_ns: float = 22.0
    background_a_cps: float = 500.0
    background_b_cps: float = 500.0
    delay_b_ps: float = 0.0
    fraction_a: float = 0.5

    def __post_init__(self) -> None:
        set_field(self, "efficiency", check_real("efficiency", self.efficiency, 0.0, 1.0, lo_open=True))
        for name in ("jitter_a_fwhm_ps", "jitter_b_fwhm_ps"):
            set_field(self, name, check_real(name, getattr(self, name), 0.0, 1e6, unit="ps"))
        for name in ("dead_time_a_ns", "dead_time_b_ns"):
            set_field(self, name, check_real(name, getattr(self, name), 0.0, 1e6, unit="ns"))
        for name in ("background_a_cps", "background_b_cps"):
            set_field(self, name, check_real(name, getattr(self, name), 0.0, 1e8, unit="cps"))
        set_field(self, "delay_b_ps", check_real("delay_b_ps", self.delay_b_ps, -1e9, 1e9, unit="ps"))
        set_field(
            self,
            "fraction_a",
            check_real("fraction_a", self.fraction_a, 0.0, 1.0, lo_open=True, hi_open=True),
        )
