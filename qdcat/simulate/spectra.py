"""CCD emission spectra (Lorentzian lines, shot and read noise) and ensemble saturation series.

Line shapes are plain functions; the simulators add noise and return the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qdcat.constants import HC_EV_NM
from qdcat.errors import InvalidValueError
from qdcat.simulate._params import (
    check_int,
    check_real,
    check_seed,
    photon_energy_j,
    saturation_intensity_w_cm2,
    set_field,
)

DEFAULT_SATURATION_W_CM2 = tuple(float(x) for x in np.geomspace(10.0, 5000.0, 15))


def lorentzian(
    wavelength_nm: npt.ArrayLike, amplitude: float, center_nm: float, fwhm_nm: float, offset: float = 0.0
) -> npt.NDArray[np.float64]:
    """I(λ) = A·(w/2)² / ((λ − λ0)² + (w/2)²) + c (A is the peak height above c)."""
    x = np.asarray(wavelength_nm, dtype=np.float64)
    half = 0.5 * fwhm_nm
    return amplitude * half**2 / ((x - center_nm) ** 2 + half**2) + offset


def saturation_curve(
    intensity_w_cm2: npt.ArrayLike, amplitude: float, saturation_intensity_w_cm2: float, offset: float = 0.0
) -> npt.NDArray[np.float64]:
    """I_PL = A·I/(I + I_S) + c."""
    i = np.asarray(intensity_w_cm2, dtype=np.float64)
    return amplitude * i / (i + saturation_intensity_w_cm2) + offset


@dataclass(frozen=True)
class Ccd:
    """A spectrometer CCD: pixel grid over a wavelength range, bias offset and read noise.

    One count per photoelectron; ``bias_counts`` is the electronic offset (no
    shot noise), ``read_noise_counts`` the Gaussian read-noise SD. Defaults: a
    1340-pixel camera covering 540-720 nm around the 629 nm emission.
    """

    n_pixels: int = 1340
    wavelength_start_nm: float = 540.0
    wavelength_stop_nm: float = 720.0
    bias_counts: float = 600.0
    read_noise_counts: float = 5.0

    def __post_init__(self) -> None:
        set_field(self, "n_pixels", check_int("n_pixels", self.n_pixels, 2, 1_000_000))
        start = check_real("wavelength_start_nm", self.wavelength_start_nm, 100.0, 10_000.0, unit="nm")
        set_field(self, "wavelength_start_nm", start)
        stop = check_real(
            "wavelength_stop_nm", self.wavelength_stop_nm, start, 10_000.0, lo_open=True, unit="nm"
        )
        set_field(self, "wavelength_stop_nm", stop)
        set_field(self, "bias_counts", check_real("bias_counts", self.bias_counts, 0.0, 1e9))
        set_field(
            self, "read_noise_counts", check_real("read_noise_counts", self.read_noise_counts, 0.0, 1e6)
        )

    def wavelength_nm(self) -> npt.NDArray[np.float64]:
        """Pixel-centre wavelengths, evenly spaced (a linear dispersion)."""
        return np.linspace(self.wavelength_start_nm, self.wavelength_stop_nm, self.n_pixels)


@dataclass(frozen=True, eq=False)
class LineTruth:
    """Truth of a single-line spectrum: counts = Lorentzian(amplitude, centre, FWHM) + offset.

    ``offset_counts`` (the c of the fit model) = ``bias_counts`` + ``background_counts``;
    ``expected_counts`` is the noise-free spectrum.
    """

    center_nm: float
    fwhm_nm: float
    amplitude_counts: float
    offset_counts: float
    background_counts: float
    bias_counts: float
    read_noise_counts: float
    expected_counts: npt.NDArray[np.float64]

    @property
    def emission_energy_ev(self) -> float:
        return HC_EV_NM / self.center_nm


@dataclass(frozen=True, eq=False)
class EnsembleSpectrumTruth:
    """Truth of a spectrum summed over many lines (one per dot); arrays are per dot."""

    center_nm: npt.NDArray[np.float64]
    fwhm_nm: npt.NDArray[np.float64]
    amplitude_counts: npt.NDArray[np.float64]
    offset_counts: float
    background_counts: float
    bias_counts: float
    read_noise_counts: float
    expected_counts: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Spectrum:
    """``counts`` (whole ADU, float64) on the pixel grid ``wavelength_nm``, with the truth."""

    wavelength_nm: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64]
    truth: LineTruth | EnsembleSpectrumTruth


@dataclass(frozen=True, eq=False)
class SaturationTruth:
    amplitude_counts: float
    saturation_intensity_w_cm2: float
    offset_counts: float
    decay_rate_per_us: float
    sigma_cm2: float
    wavelength_nm: float
    relative_noise: float
    expected_counts: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SaturationSeries:
    """Ensemble PL vs cw intensity, I_PL = A·I/(I + I_S) + c with I_S = ħω_p·γ/σ."""

    intensity_w_cm2: npt.NDArray[np.float64]
    pl_counts: npt.NDArray[np.float64]
    truth: SaturationTruth


def _noisy(rng: np.random.Generator, photo_e: npt.NDArray[np.float64], ccd: Ccd) -> npt.NDArray[np.float64]:
    # Shot noise acts on photoelectrons only; bias and read noise are electronic.
    counts = rng.poisson(photo_e).astype(np.float64) + ccd.bias_counts
    counts += rng.normal(0.0, ccd.read_noise_counts, photo_e.size) if ccd.read_noise_counts > 0 else 0.0
    return np.round(counts)  # an ADC delivers whole counts


def simulate_spectrum(
    center_nm: float,
    fwhm_nm: float,
    amplitude_counts: float,
    *,
    ccd: Ccd | None = None,
    background_counts: float = 0.0,
    seed: int,
) -> Spectrum:
    """One dot's emission line on the CCD with Poisson shot noise, read noise and bias.

    ``amplitude_counts`` is the peak height in photoelectrons; ``background_counts``
    a flat photon background per pixel (shot-noisy, part of the offset c).
    """
    ccd = Ccd() if ccd is None else ccd
    if not isinstance(ccd, Ccd):
        raise InvalidValueError(f"ccd must be a Ccd, got {type(ccd).__name__}")
    center = check_real("center_nm", center_nm, 100.0, 10_000.0, unit="nm")
    fwhm = check_real("fwhm_nm", fwhm_nm, 0.0, 1000.0, lo_open=True, unit="nm")
    amplitude = check_real("amplitude_counts", amplitude_counts, 0.0, 1e12)
    background = check_real("background_counts", background_counts, 0.0, 1e12)
    rng = np.random.default_rng(check_seed(seed))
    wl = ccd.wavelength_nm()
    photo_e = lorentzian(wl, amplitude, center, fwhm, background)
    truth = LineTruth(
        center_nm=center,
        fwhm_nm=fwhm,
        amplitude_counts=amplitude,
        offset_counts=ccd.bias_counts + background,
        background_counts=background,
        bias_counts=ccd.bias_counts,
        read_noise_counts=ccd.read_noise_counts,
        expected_counts=photo_e + ccd.bias_counts,
    )
    return Spectrum(wl, _noisy(rng, photo_e, ccd), truth)


def simulate_ensemble_spectrum(
    center_nm: npt.ArrayLike,
    fwhm_nm: npt.ArrayLike,
    amplitude_counts: npt.ArrayLike,
    *,
    ccd: Ccd | None = None,
    background_counts: float = 0.0,
    seed: int,
) -> Spectrum:
    """The spectrum of a population: the sum of one Lorentzian per dot, then noise once.

    Pass a :class:`~qdcat.simulate.Population`'s ``center_nm`` and ``fwhm_nm``;
    ``amplitude_counts`` is per dot or one value for all.
    """
    ccd = Ccd() if ccd is None else ccd
    if not isinstance(ccd, Ccd):
        raise InvalidValueError(f"ccd must be a Ccd, got {type(ccd).__name__}")
    centers = np.asarray(center_nm, dtype=np.float64).ravel()
    fwhms = np.asarray(fwhm_nm, dtype=np.float64).ravel()
    amps = np.broadcast_to(np.asarray(amplitude_counts, dtype=np.float64), centers.shape).copy()
    if centers.size == 0 or fwhms.shape != centers.shape:
        raise InvalidValueError("center_nm and fwhm_nm must be non-empty and of equal length (one per dot)")
    if not (np.all(np.isfinite(centers)) and np.all((centers >= 100.0) & (centers <= 10_000.0))):
        raise InvalidValueError("every center_nm must be finite and in [100, 10000] nm")
    if not np.all((fwhms > 0.0) & (fwhms <= 1000.0)):
        raise InvalidValueError("every fwhm_nm must be in (0, 1000] nm")
    if not np.all((amps >= 0.0) & np.isfinite(amps)):
        raise InvalidValueError("every amplitude_counts must be finite and >= 0")
    background = check_real("background_counts", background_counts, 0.0, 1e12)
    rng = np.random.default_rng(check_seed(seed))
    wl = ccd.wavelength_nm()
    photo_e = np.full(wl.size, background)
    # Chunked over dots so that (dots x pixels) never becomes one huge temporary.
    for lo in range(0, centers.size, 256):
        sl = slice(lo, lo + 256)
        half = 0.5 * fwhms[sl, None]
        photo_e += (amps[sl, None] * half**2 / ((wl[None, :] - centers[sl, None]) ** 2 + half**2)).sum(axis=0)
    truth = EnsembleSpectrumTruth(
        center_nm=centers,
        fwhm_nm=fwhms,
        amplitude_counts=amps,
        offset_counts=ccd.bias_counts + background,
        background_counts=background,
        bias_counts=ccd.bias_counts,
        read_noise_counts=ccd.read_noise_counts,
        expected_counts=photo_e + ccd.bias_counts,
    )
    return Spectrum(wl, _noisy(rng, photo_e, ccd), truth)


def simulate_saturation_series(
    intensity_w_cm2: npt.ArrayLike = DEFAULT_SATURATION_W_CM2,
    *,
    decay_rate_per_us: float = 40.0,
    sigma_cm2: float = 2.6e-14,
    amplitude_counts: float = 1e5,
    offset_counts: float = 200.0,
    relative_noise: float = 0.02,
    wavelength_nm: float = 445.0,
    seed: int,
) -> SaturationSeries:
    """Ensemble PL counts vs cw intensity (default 10-5000 W/cm², 15 points).

    I_S = ħω_p·γ/σ (defaults: γ = 40 µs⁻¹ of the film, σ = 2.6e-14 cm² →
    I_S ≈ 687 W/cm², the study's 690). Noise: a Gaussian relative fluctuation
    of each point (laser power, focus; ``relative_noise``) and Poisson counting noise.
    """
    intensities = np.asarray(intensity_w_cm2, dtype=np.float64).ravel()
    if intensities.size == 0 or not np.all((intensities > 0.0) & np.isfinite(intensities)):
        raise InvalidValueError("intensity_w_cm2 must be a non-empty list of finite intensities > 0 W/cm²")
    gamma = check_real("decay_rate_per_us", decay_rate_per_us, 0.0, 1e6, lo_open=True, unit="µs⁻¹")
    sigma = check_real("sigma_cm2", sigma_cm2, 0.0, 1e-10, lo_open=True, unit="cm²")
    amplitude = check_real("amplitude_counts", amplitude_counts, 0.0, 1e12, lo_open=True)
    offset = check_real("offset_counts", offset_counts, 0.0, 1e12)
    rel = check_real("relative_noise", relative_noise, 0.0, 0.5)
    photon_energy_j(wavelength_nm)  # validates the wavelength
    rng = np.random.default_rng(check_seed(seed))
    i_s = saturation_intensity_w_cm2(gamma, sigma, wavelength_nm)
    expected = saturation_curve(intensities, amplitude, i_s, offset)
    jittered = expected * np.clip(1.0 + rel * rng.standard_normal(intensities.size), 0.0, None)
    counts = rng.poisson(jittered).astype(np.float64)
    truth = SaturationTruth(
        amplitude_counts=amplitude,
        saturation_intensity_w_cm2=i_s,
        offset_counts=offset,
        decay_rate_per_us=gamma,
        sigma_cm2=sigma,
        wavelength_nm=float(wavelength_nm),
        relative_noise=rel,
        expected_counts=expected,
    )
    return SaturationSeries(intensities, counts, truth)
