"""Populations of dots: per-dot parameters drawn from a material's distributions.

Presets resemble the reference study (InP/ZnSe) and a contrasting CdSe/CdS-like sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from qdcat.errors import InvalidValueError
from qdcat.simulate._params import (
    HC_EV_NM,
    BlinkingParams,
    CwExcitation,
    Detection,
    DotParams,
    check_int,
    check_real,
    check_seed,
    power_law_mean,
    set_field,
)

# Blinking exponents are drawn inside this range: below ~0.5 the on/off
# durations all pile up at t_max, above ~4 every period is t_min.
K_MIN, K_MAX = 0.5, 4.0


@dataclass(frozen=True)
class PopulationParams:
    """Distributions of per-dot parameters of one material.

    Gaussian ``*_mean``/``*_sd`` pairs are those of the parent normal; where a
    ``*_min``/``*_max`` range is given the draw is a truncated normal
    (resampled, never clipped), so its moments are slightly narrower.

    Lifetime vs emission energy E = hc/λ0 is linear with scatter:
    τ = lifetime_mean_ns + slope·(E − E_ref) + N(0, scatter²), with slope and
    scatter chosen so that SD(τ) = ``lifetime_sd_ns`` and corr(τ, E) =
    ``lifetime_energy_r`` (default −0.8: bluer dots decay faster, a strong
    correlation as in the study; the study does not print the sign). FWHM is
    drawn independently of E. The per-dot background is set so that the dot's
    expected cw g2(0) = 1 − ρ² equals its drawn ``g2_zero`` (ρ = S/(S+B) on
    both detectors), i.e. g2(0) arises from background only, as in the study.
    """

    material: str = "InP/ZnSe"
    center_mean_nm: float = 629.0
    center_sd_nm: float = 10.0
    fwhm_mean_nm: float = 19.4
    fwhm_sd_nm: float = 2.5
    fwhm_min_nm: float = 13.0
    fwhm_max_nm: float = 24.0
    lifetime_mean_ns: float = 22.5
    lifetime_sd_ns: float = 5.4
    lifetime_energy_r: float = -0.8
    lifetime_min_ns: float = 5.0
    quantum_yield_mean: float = 0.65
    quantum_yield_sd: float = 0.1
    quantum_yield_min: float = 0.3
    quantum_yield_max: float = 1.0
    sigma_mean_cm2: float = 2.6e-14
    sigma_sd_cm2: float = 0.3e-14
    k_on_mean: float = 1.2
    k_on_sd: float = 0.15
    k_off_mean: float = 2.2
    k_off_sd: float = 0.3
    blinking_t_min_s: float = 0.01
    blinking_t_max_s: float = 100.0
    g2_zero_mean: float = 0.19
    g2_zero_sd: float = 0.1
    g2_zero_min: float = 0.01
    g2_zero_max: float = 0.6
    biexciton_rate_per_ns: float = 14.3
    biexciton_quantum_yield: float = 0.0077
    ensemble_decay_rate_per_us: float = 40.0

    def __post_init__(self) -> None:
        if not isinstance(self.material, str) or not self.material:
            raise InvalidValueError("material must be a non-empty string, e.g. 'InP/ZnSe'")

        def check(name: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
            value = check_real(name, getattr(self, name), lo, hi, lo_open=lo_open, hi_open=hi_open)
            set_field(self, name, value)
            return value

        for name in ("center_sd_nm", "fwhm_sd_nm"):
            check(name, 0.0, 200.0)
        check("center_mean_nm", 200.0, 3000.0)
        fwhm_min = check("fwhm_min_nm", 0.0, 500.0, lo_open=True)
        fwhm_max = check("fwhm_max_nm", fwhm_min, 500.0, lo_open=True)
        check("fwhm_mean_nm", fwhm_min, fwhm_max)
        lifetime_min = check("lifetime_min_ns", 0.01, 1e5)
        check("lifetime_mean_ns", lifetime_min, 1e5, lo_open=True)
        check("lifetime_sd_ns", 0.0, 1e4)
        check("lifetime_energy_r", -1.0, 1.0)
        qy_min = check("quantum_yield_min", 0.0, 1.0, lo_open=True)
        qy_max = check("quantum_yield_max", qy_min, 1.0, lo_open=True)
        check("quantum_yield_mean", qy_min, qy_max)
        check("quantum_yield_sd", 0.0, 1.0)
        check("sigma_mean_cm2", 0.0, 1e-10, lo_open=True)
        check("sigma_sd_cm2", 0.0, 1e-10)
        for name in ("k_on_mean", "k_off_mean"):
            check(name, K_MIN, K_MAX)
        for name in ("k_on_sd", "k_off_sd"):
            check(name, 0.0, 5.0)
        t_min = check("blinking_t_min_s", 1e-6, 1e4)
        check("blinking_t_max_s", t_min, 1e6, lo_open=True)
        # g2(0) < 1 so that the signal fraction ρ = sqrt(1 − g2(0)) stays > 0.
        g2_min = check("g2_zero_min", 0.0, 1.0, hi_open=True)
        g2_max = check("g2_zero_max", g2_min, 1.0, lo_open=True, hi_open=True)
        check("g2_zero_mean", g2_min, g2_max)
        check("g2_zero_sd", 0.0, 1.0)
        check("biexciton_rate_per_ns", 0.0, 1e4, lo_open=True)
        check("biexciton_quantum_yield", 0.0, 1.0)
        check("ensemble_decay_rate_per_us", 0.0, 1e6, lo_open=True)

    @classmethod
    def inp_znse(cls) -> PopulationParams:
        """The reference study's InP/ZnSe sample (science.md §4-5); the defaults."""
        return cls()

    @classmethod
    def cdse_cds(cls) -> PopulationParams:
        """A contrasting CdSe/CdS-like sample: bluer, narrower lines, slower decay, more blinking.

        k_off ≈ 1.6 (< 2: not blinking-free; expected on-fraction ~60 %), a
        weaker lifetime-energy correlation, a larger σ and a much brighter
        biexciton (slower Auger, γ_XX = 1 ns⁻¹, PLQY_XX = 4γ/γ_XX ≈ 13 %).
        """
        return cls(
            material="CdSe/CdS",
            center_mean_nm=610.0,
            center_sd_nm=6.0,
            fwhm_mean_nm=15.0,
            fwhm_sd_nm=2.0,
            fwhm_min_nm=10.0,
            fwhm_max_nm=20.0,
            lifetime_mean_ns=30.0,
            lifetime_sd_ns=6.0,
            lifetime_energy_r=-0.5,
            quantum_yield_mean=0.8,
            quantum_yield_sd=0.08,
            sigma_mean_cm2=5e-14,
            sigma_sd_cm2=0.5e-14,
            k_on_mean=1.5,
            k_on_sd=0.2,
            k_off_mean=1.6,
            k_off_sd=0.2,
            g2_zero_mean=0.25,
            g2_zero_sd=0.1,
            biexciton_rate_per_ns=1.0,
            biexciton_quantum_yield=0.13,
            ensemble_decay_rate_per_us=33.0,
        )

    @property
    def energy_ref_ev(self) -> float:
        """E(λ0) averaged over the centre distribution, to second order in SD/mean."""
        mu, sd = self.center_mean_nm, self.center_sd_nm
        return HC_EV_NM / mu * (1.0 + (sd / mu) ** 2)

    @property
    def energy_sd_ev(self) -> float:
        """SD of E = hc/λ0 (first order in SD/mean: the spread is ~1.5 % of λ0)."""
        return HC_EV_NM * self.center_sd_nm / self.center_mean_nm**2

    @property
    def lifetime_slope_ns_per_ev(self) -> float:
        e_sd = self.energy_sd_ev
        return self.lifetime_energy_r * self.lifetime_sd_ns / e_sd if e_sd > 0 else 0.0

    @property
    def lifetime_scatter_ns(self) -> float:
        if self.energy_sd_ev == 0:
            return self.lifetime_sd_ns
        return self.lifetime_sd_ns * math.sqrt(1.0 - self.lifetime_energy_r**2)


@dataclass(frozen=True, eq=False)
class Population:
    """Per-dot parameters of ``n`` dots (column arrays, one entry per dot) and the setup they assume.

    ``signal_*_cps`` are the expected mean detected rates at ``excitation`` and
    ``detection`` (including the expected on-fraction); ``background_*_cps``
    are chosen from them so that 1 − ρ_Aρ_B = ``g2_zero``. The lifetime
    relation is τ = lifetime_mean_ns + ``lifetime_slope_ns_per_ev``·(E −
    ``energy_ref_ev``) + N(0, ``lifetime_scatter_ns``²).
    """

    params: PopulationParams
    excitation: CwExcitation
    detection: Detection
    center_nm: npt.NDArray[np.float64]
    energy_ev: npt.NDArray[np.float64]
    fwhm_nm: npt.NDArray[np.float64]
    lifetime_ns: npt.NDArray[np.float64]
    quantum_yield: npt.NDArray[np.float64]
    sigma_cm2: npt.NDArray[np.float64]
    k_on: npt.NDArray[np.float64]
    k_off: npt.NDArray[np.float64]
    on_fraction_expected: npt.NDArray[np.float64]
    g2_zero: npt.NDArray[np.float64]
    signal_a_cps: npt.NDArray[np.float64]
    signal_b_cps: npt.NDArray[np.float64]
    background_a_cps: npt.NDArray[np.float64]
    background_b_cps: npt.NDArray[np.float64]
    energy_ref_ev: float
    lifetime_slope_ns_per_ev: float
    lifetime_scatter_ns: float

    _COLUMNS: ClassVar[tuple[str, ...]] = (
        "center_nm",
        "energy_ev",
        "fwhm_nm",
        "lifetime_ns",
        "quantum_yield",
        "sigma_cm2",
        "k_on",
        "k_off",
        "on_fraction_expected",
        "g2_zero",
        "signal_a_cps",
        "signal_b_cps",
        "background_a_cps",
        "background_b_cps",
    )

    def __len__(self) -> int:
        return int(self.center_nm.shape[0])

    def as_dict(self) -> dict[str, npt.NDArray[np.float64]]:
        """The per-dot columns (e.g. for ``pandas.DataFrame(pop.as_dict())``)."""
        return {name: getattr(self, name) for name in self._COLUMNS}

    def dot(self, i: int) -> DotParams:
        """Dot ``i`` as simulator input."""
        i = check_int("i", i, 0, len(self) - 1)
        p = self.params
        return DotParams(
            lifetime_ns=float(self.lifetime_ns[i]),
            quantum_yield=float(self.quantum_yield[i]),
            sigma_cm2=float(self.sigma_cm2[i]),
            center_nm=float(self.center_nm[i]),
            fwhm_nm=float(self.fwhm_nm[i]),
            biexciton_rate_per_ns=p.biexciton_rate_per_ns,
            biexciton_quantum_yield=p.biexciton_quantum_yield,
            blinking=BlinkingParams(
                k_on=float(self.k_on[i]),
                k_off=float(self.k_off[i]),
                t_min_s=p.blinking_t_min_s,
                t_max_s=p.blinking_t_max_s,
            ),
        )

    def detection_for(self, i: int) -> Detection:
        """The population's detection with dot ``i``'s background rates."""
        i = check_int("i", i, 0, len(self) - 1)
        d = self.detection
        return Detection(
            efficiency=d.efficiency,
            jitter_a_fwhm_ps=d.jitter_a_fwhm_ps,
            jitter_b_fwhm_ps=d.jitter_b_fwhm_ps,
            dead_time_a_ns=d.dead_time_a_ns,
            dead_time_b_ns=d.dead_time_b_ns,
            background_a_cps=float(self.background_a_cps[i]),
            background_b_cps=float(self.background_b_cps[i]),
            delay_b_ps=d.delay_b_ps,
            fraction_a=d.fraction_a,
        )


def _truncated_normal(
    rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float, n: int
) -> npt.NDArray[np.float64]:
    """Normal(mean, sd) restricted to [lo, hi] by resampling the draws that fall outside."""
    if sd == 0.0:
        return np.full(n, mean)
    x = rng.normal(mean, sd, n)
    for _ in range(1000):
        bad = (x < lo) | (x > hi)
        n_bad = int(bad.sum())
        if n_bad == 0:
            return x
        x[bad] = rng.normal(mean, sd, n_bad)
    raise InvalidValueError(
        f"a normal({mean:g}, {sd:g}) almost never falls in [{lo:g}, {hi:g}]; widen the range or move the mean"
    )


def draw_population(
    params: PopulationParams,
    n: int,
    *,
    seed: int,
    excitation: CwExcitation | None = None,
    detection: Detection | None = None,
) -> Population:
    """Draw ``n`` dots from ``params``; backgrounds refer to ``excitation`` and ``detection``.

    Defaults: cw 100 W/cm² at 445 nm and :class:`Detection`'s defaults.
    """
    if not isinstance(params, PopulationParams):
        raise InvalidValueError(f"params must be a PopulationParams, got {type(params).__name__}")
    n = check_int("n", n, 1, 10_000_000)
    excitation = CwExcitation() if excitation is None else excitation
    detection = Detection() if detection is None else detection
    if not isinstance(excitation, CwExcitation) or not isinstance(detection, Detection):
        raise InvalidValueError("excitation must be a CwExcitation and detection a Detection")
    p = params
    rng = np.random.default_rng(check_seed(seed))

    center = rng.normal(p.center_mean_nm, p.center_sd_nm, n)
    center = np.clip(center, 200.0, 3000.0)  # only bites for absurd SDs; keeps DotParams valid
    energy = HC_EV_NM / center
    fwhm = _truncated_normal(rng, p.fwhm_mean_nm, p.fwhm_sd_nm, p.fwhm_min_nm, p.fwhm_max_nm, n)
    slope = p.lifetime_slope_ns_per_ev
    lifetime = p.lifetime_mean_ns + slope * (energy - p.energy_ref_ev)
    lifetime += rng.normal(0.0, p.lifetime_scatter_ns, n)
    lifetime = np.maximum(lifetime, p.lifetime_min_ns)
    qy = _truncated_normal(
        rng, p.quantum_yield_mean, p.quantum_yield_sd, p.quantum_yield_min, p.quantum_yield_max, n
    )
    sigma = _truncated_normal(
        rng, p.sigma_mean_cm2, p.sigma_sd_cm2, 0.3 * p.sigma_mean_cm2, 3 * p.sigma_mean_cm2, n
    )
    k_on = _truncated_normal(rng, p.k_on_mean, p.k_on_sd, K_MIN, K_MAX, n)
    k_off = _truncated_normal(rng, p.k_off_mean, p.k_off_sd, K_MIN, K_MAX, n)
    g2 = _truncated_normal(rng, p.g2_zero_mean, p.g2_zero_sd, p.g2_zero_min, p.g2_zero_max, n)

    t_lo, t_hi = p.blinking_t_min_s, p.blinking_t_max_s
    mean_on = np.array([power_law_mean(k, t_lo, t_hi) for k in k_on])
    mean_off = np.array([power_law_mean(k, t_lo, t_hi) for k in k_off])
    on_fraction = mean_on / (mean_on + mean_off)

    pump_us = sigma * excitation.intensity_w_cm2 / excitation.photon_energy_j * 1e-6
    decay_us = 1e3 / lifetime
    detected_cps = qy * pump_us * decay_us / (pump_us + decay_us) * 1e6 * detection.efficiency * on_fraction
    s_a = detected_cps * detection.fraction_a
    s_b = detected_cps * (1.0 - detection.fraction_a)
    rho = np.sqrt(1.0 - g2)  # the same signal fraction on both detectors
    return Population(
        params=p,
        excitation=excitation,
        detection=detection,
        center_nm=center,
        energy_ev=energy,
        fwhm_nm=fwhm,
        lifetime_ns=lifetime,
        quantum_yield=qy,
        sigma_cm2=sigma,
        k_on=k_on,
        k_off=k_off,
        on_fraction_expected=on_fraction,
        g2_zero=g2,
        signal_a_cps=s_a,
        signal_b_cps=s_b,
        background_a_cps=s_a * (1.0 - rho) / rho,
        background_b_cps=s_b * (1.0 - rho) / rho,
        energy_ref_ev=p.energy_ref_ev,
        lifetime_slope_ns_per_ev=slope,
        lifetime_scatter_ns=p.lifetime_scatter_ns,
    )
