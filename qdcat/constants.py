"""Physical constants and the conversions every layer shares, defined once (SI, CODATA 2018 exact values).

No imports beyond the standard library: the catalog, the analyses, the
simulator and the figures all read these.
"""

from __future__ import annotations

import math

from qdcat.errors import InvalidValueError

PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299_792_458.0
ELEMENTARY_CHARGE_C = 1.602176634e-19

#: h·c in eV·nm: E[eV] = HC_EV_NM / λ[nm] (1239.84198…; science.md rounds it to 1239.84193).
HC_EV_NM = PLANCK_J_S * SPEED_OF_LIGHT_M_S / ELEMENTARY_CHARGE_C * 1e9


def photon_energy_j(wavelength_nm: float) -> float:
    """Photon energy ħω = hc/λ in joules (445 nm → 4.464e-19 J)."""
    try:
        lam = float(wavelength_nm)
    except (TypeError, ValueError):
        raise InvalidValueError(f"wavelength_nm must be a number, got {wavelength_nm!r}") from None
    if not (math.isfinite(lam) and 100.0 <= lam <= 10_000.0):
        raise InvalidValueError(f"wavelength_nm must be finite and in [100, 10000] nm, got {wavelength_nm!r}")
    return PLANCK_J_S * SPEED_OF_LIGHT_M_S / (lam * 1e-9)


def energy_ev(wavelength_nm: float) -> float:
    """Photon energy E = hc/λ in eV."""
    return HC_EV_NM / float(wavelength_nm)


def width_mev(center_nm: float, width_nm: float) -> float:
    """A spectral width converted to energy at ``center_nm``: ΔE = hc·Δλ/λ² in meV."""
    return HC_EV_NM * 1e3 * float(width_nm) / float(center_nm) ** 2
