"""Transient-absorption (TA) bleach recovery of an ensemble: a fast biexciton and a slow exciton decay.

ΔA(t) = A_XX·exp(−t/τ_XX) + A_X·exp(−t/τ_X) for t ≥ 0 (pump arrival at t = 0,
ΔA = 0 before it) plus Gaussian noise. The fast component's rate γ_XX = 1/τ_XX
feeds :func:`qdcat.analysis.fits.biexciton_yield` (science.md §3 item 8).
Pure and seeded: same arguments → bit-identical output, returned with the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qdcat.errors import InvalidValueError
from qdcat.simulate._params import check_real, check_seed

__all__ = ["TaKinetics", "TaTruth", "default_ta_time_ps", "simulate_ta_kinetics", "ta_biexponential"]


def default_ta_time_ps() -> npt.NDArray[np.float64]:
    """The default delay axis: 200 points linear 0.5-500 ps, then 100 log-spaced up to 3000 ps (300 in all).

    Dense where the ~70 ps biexciton component decays (2.5 ps steps), sparse on
    the slow exciton tail; strictly increasing and > 0.
    """
    linear = np.linspace(0.5, 500.0, 200)
    tail = np.geomspace(500.0, 3000.0, 101)[1:]
    return np.concatenate((linear, tail))


def ta_biexponential(
    time_ps: npt.ArrayLike,
    biexciton_amplitude: float,
    biexciton_lifetime_ps: float,
    exciton_amplitude: float,
    exciton_lifetime_ns: float,
) -> npt.NDArray[np.float64]:
    """Noise-free ΔA(t) = A_XX·exp(−t/τ_XX) + A_X·exp(−t/τ_X) for t ≥ 0, zero before the pump."""
    t = np.asarray(time_ps, dtype=np.float64)
    tp = np.maximum(t, 0.0)
    signal = biexciton_amplitude * np.exp(-tp / biexciton_lifetime_ps) + exciton_amplitude * np.exp(
        -tp / (1e3 * exciton_lifetime_ns)
    )
    out: npt.NDArray[np.float64] = np.where(t >= 0.0, signal, 0.0)
    return out


@dataclass(frozen=True, eq=False)
class TaTruth:
    """The parameters behind a simulated TA trace; ``expected_delta_a`` is the noise-free curve.

    ``biexciton_rate_per_ns`` = 1000/τ_XX[ps] (70 ps → 14.29 ns⁻¹) and
    ``exciton_rate_per_ns`` = 1/τ_X[ns] are the rates a fit should recover.
    """

    biexciton_lifetime_ps: float
    exciton_lifetime_ns: float
    biexciton_amplitude: float
    exciton_amplitude: float
    noise_sd: float
    seed: int
    biexciton_rate_per_ns: float
    exciton_rate_per_ns: float
    expected_delta_a: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class TaKinetics:
    """A TA kinetic trace: ``delta_a`` (arbitrary ΔA units) at pump-probe delays ``time_ps``."""

    time_ps: npt.NDArray[np.float64]
    delta_a: npt.NDArray[np.float64]
    truth: TaTruth


def simulate_ta_kinetics(
    *,
    biexciton_lifetime_ps: float = 70.0,
    exciton_lifetime_ns: float = 36.1,
    biexciton_amplitude: float = 0.4,
    exciton_amplitude: float = 1.0,
    noise_sd: float = 0.01,
    time_ps: npt.ArrayLike | None = None,
    seed: int = 0,
) -> TaKinetics:
    """A bi-exponential bleach recovery with additive Gaussian noise of SD ``noise_sd``.

    Defaults: τ_XX = 70 ps (γ_XX = 14.3 ns⁻¹, the study's fast component) and
    τ_X = 36.1 ns (γ = 27.7 µs⁻¹ in solution). ``time_ps`` defaults to
    :func:`default_ta_time_ps`; a given axis must be finite and strictly
    increasing (points at t < 0 carry noise only).
    """
    tau_xx = check_real("biexciton_lifetime_ps", biexciton_lifetime_ps, 0.0, 1e9, lo_open=True, unit="ps")
    tau_x = check_real("exciton_lifetime_ns", exciton_lifetime_ns, 0.0, 1e9, lo_open=True, unit="ns")
    a_xx = check_real("biexciton_amplitude", biexciton_amplitude, -1e12, 1e12)
    a_x = check_real("exciton_amplitude", exciton_amplitude, -1e12, 1e12)
    sd = check_real("noise_sd", noise_sd, 0.0, 1e12)
    seed = check_seed(seed)
    if time_ps is None:
        t = default_ta_time_ps()
    else:
        try:
            t = np.array(time_ps, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidValueError("time_ps must be a 1-D array of delays in ps") from None
        if t.ndim != 1 or t.size < 2:
            raise InvalidValueError(f"time_ps must be 1-D with >= 2 delays, got shape {t.shape}")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise InvalidValueError("time_ps must be finite and strictly increasing")
    rng = np.random.default_rng(seed)
    expected = ta_biexponential(t, a_xx, tau_xx, a_x, tau_x)
    noisy = expected + (rng.normal(0.0, sd, t.size) if sd > 0 else 0.0)
    truth = TaTruth(
        biexciton_lifetime_ps=tau_xx,
        exciton_lifetime_ns=tau_x,
        biexciton_amplitude=a_xx,
        exciton_amplitude=a_x,
        noise_sd=sd,
        seed=seed,
        biexciton_rate_per_ns=1e3 / tau_xx,
        exciton_rate_per_ns=1.0 / tau_x,
        expected_delta_a=expected,
    )
    return TaKinetics(time_ps=t, delta_a=np.asarray(noisy, dtype=np.float64), truth=truth)
