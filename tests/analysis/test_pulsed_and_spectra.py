"""The pulsed g2 estimators and the spectrum's noise models, against simulated truth over many seeds."""

from __future__ import annotations

import numpy as np
import pytest

from qdcat.analysis.fits import fit_g2_pulsed, fit_lorentzian, g2_pulsed, pulsed_peak_offset
from qdcat.analysis.lineshapes import lorentzian, pulsed_g2_binned


def _pulsed(
    rng: np.random.Generator, g: float, floor_per_ns: float, tau0: float
) -> tuple[np.ndarray, np.ndarray]:
    """A pulsed coincidence histogram: Laplace peaks (τ = 20 ns) at τ0 + k·100 ns over a flat floor."""
    edges = np.arange(-500.0, 500.5, 1.0)
    mu = pulsed_g2_binned(edges[:-1], edges[1:], 300.0, g, 1 / 20.0, tau0, 100.0, floor_per_ns)
    return 0.5 * (edges[:-1] + edges[1:]), rng.poisson(mu).astype(float)


@pytest.mark.parametrize(("g", "floor"), [(0.0, 0.3), (0.1, 0.0), (0.3, 1.0)])
def test_pulsed_g2_estimators_recover_their_truths(g: float, floor: float) -> None:
    """Window ratio → the ratio of the windows' expected counts; peak model → g (floor and tails removed)."""
    pulls_model, ratio_err = [], []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        tau0 = float(rng.uniform(-30.0, 30.0))
        tau, counts = _pulsed(rng, g, floor, tau0)
        t0, t0_err = pulsed_peak_offset(tau, counts, period_ns=100.0)
        assert abs(t0 - tau0) < 5 * t0_err + 0.5
        ratio = g2_pulsed(tau, counts, period_ns=100.0, n_side_peaks=4, center_ns=t0)
        # expected window ratio from the noise-free histogram (an independent evaluation of the windows)
        edges = np.arange(-500.0, 500.5, 1.0)
        mu = pulsed_g2_binned(edges[:-1], edges[1:], 300.0, g, 1 / 20.0, tau0, 100.0, floor)
        win = [mu[np.abs(tau - t0 - k * 100.0) < 50.0].sum() for k in range(-4, 5)]
        expected = win[4] / np.mean(win[:4] + win[5:])
        ratio_err.append((ratio.g2_zero - expected) / ratio.g2_zero_err)
        model = fit_g2_pulsed(tau, counts, period_ns=100.0, n_side_peaks=4, tau0_ns=t0)
        pulls_model.append(
            (model.g2_zero - g) / model.g2_zero_err if g > 0 else model.g2_zero / model.g2_zero_err
        )
    r, m = np.asarray(ratio_err), np.asarray(pulls_model)
    assert abs(r.mean()) < 0.35 and 0.7 < r.std(ddof=1) < 1.3, r
    if g > 0:  # at g = 0 the estimate sits at its bound: only its upper side is a pull
        assert abs(m.mean()) < 0.5 and 0.6 < m.std(ddof=1) < 1.5, m
    else:
        assert np.all(m < 3.0)


@pytest.mark.parametrize("facts", [True, False])
def test_spectrum_errors_match_their_spread_with_or_without_the_camera_facts(facts: bool) -> None:
    """With the CCD's offset and read noise, or with the flat part's variance measured: z SD ≈ 1."""
    x = np.linspace(560.0, 700.0, 1200)
    pulls: dict[str, list[float]] = {"c": [], "w": []}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        bias, read = float(rng.uniform(100, 600)), float(rng.uniform(3, 10))
        center, fwhm = float(rng.uniform(610, 650)), float(rng.uniform(12, 25))
        signal = rng.poisson(lorentzian(x, float(rng.uniform(300, 3000)), center, fwhm) + 20.0)
        y = np.round(signal + bias + rng.normal(0.0, read, x.size))
        fit = fit_lorentzian(
            x, y, bias_counts=bias if facts else None, read_noise_counts=read if facts else None
        )
        pulls["c"].append((fit.center_nm - center) / fit.center_nm_err)
        pulls["w"].append((fit.fwhm_nm - fwhm) / fit.fwhm_nm_err)
        assert ("wings" in fit.method) == (not facts)
    for v in pulls.values():
        p = np.asarray(v)
        assert abs(p.mean()) < 0.4 and 0.8 < p.std(ddof=1) < 1.25, p
