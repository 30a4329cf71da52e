"""TA bi-exponential fit against simulated traces with known truth, an independent scipy reference and
the study's biexciton numbers (fast component ~70 ps → γ_XX = 14.3 ns⁻¹ → PLQY_XX = 0.77 %)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import optimize

from qdcat.analysis.fits import biexciton_yield
from qdcat.analysis.transient import TaFit, fit_ta_biexponential, ta_model
from qdcat.errors import InvalidValueError
from qdcat.simulate.transient import default_ta_time_ps, simulate_ta_kinetics

N_SEEDS = 200
SOLUTION_DECAY_RATE_PER_US = 27.7  # exciton decay rate γ in solution (science.md §5)


def _study(
    fit: Callable[[Any], TaFit], n_seeds: int
) -> tuple[np.ndarray, np.ndarray, float, list[tuple[str, ...]]]:
    est, err, flags = [], [], []
    truth = math.nan
    for seed in range(n_seeds):
        k = simulate_ta_kinetics(seed=seed)
        f = fit(k)
        truth = k.truth.biexciton_rate_per_ns
        est.append(f.biexciton_rate_per_ns)
        err.append(f.biexciton_rate_per_ns_err)
        flags.append(f.flags)
        assert f.converged
        assert f.biexciton_rate_per_ns > f.slow_rate_per_ns
    return np.array(est), np.array(err), truth, flags


def _assert_unbiased_and_honest(est: np.ndarray, err: np.ndarray, truth: float) -> None:
    assert np.all(np.isfinite(est)) and np.all(err > 0)
    sem = float(np.std(est, ddof=1)) / math.sqrt(est.size)
    assert abs(float(np.mean(est)) - truth) <= 3.0 * sem, (np.mean(est), truth, sem)
    coverage = float(np.mean(np.abs(est - truth) <= err))
    assert 0.55 <= coverage <= 0.80, coverage
    # The quoted σ matches the seed-to-seed scatter (within the sampling error of an SD over 200 seeds).
    assert float(np.std(est, ddof=1)) == pytest.approx(float(np.mean(err)), rel=0.2)


# --------------------------------------------------------------------------- simulator


def test_simulator_default_axis_and_truth() -> None:
    t = default_ta_time_ps()
    assert t.size == 300 and t[0] == 0.5 and t[-1] == pytest.approx(3000.0)
    assert np.all(np.diff(t) > 0) and np.all(t > 0)
    assert np.count_nonzero(t <= 500.0) == 200  # dense where the 70 ps component decays
    k = simulate_ta_kinetics(seed=3)
    assert k.truth.biexciton_rate_per_ns == pytest.approx(1000.0 / 70.0)
    assert k.truth.exciton_rate_per_ns == pytest.approx(1.0 / 36.1)
    expected = 0.4 * np.exp(-t / 70.0) + 1.0 * np.exp(-t / 36_100.0)
    np.testing.assert_allclose(k.truth.expected_delta_a, expected, rtol=1e-12)
    resid = k.delta_a - expected
    assert float(np.std(resid)) == pytest.approx(0.01, rel=0.15)


def test_simulator_is_seeded_and_pure() -> None:
    a = simulate_ta_kinetics(seed=7)
    b = simulate_ta_kinetics(seed=7)
    c = simulate_ta_kinetics(seed=8)
    np.testing.assert_array_equal(a.delta_a, b.delta_a)
    assert not np.array_equal(a.delta_a, c.delta_a)
    quiet = simulate_ta_kinetics(noise_sd=0.0, time_ps=[-10.0, 0.0, 70.0])
    np.testing.assert_allclose(quiet.delta_a, [0.0, 1.4, 0.4 / math.e + math.exp(-70.0 / 36_100.0)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"biexciton_lifetime_ps": 0.0},
        {"exciton_lifetime_ns": -1.0},
        {"noise_sd": -0.1},
        {"noise_sd": math.nan},
        {"seed": -1},
        {"time_ps": [1.0, 1.0, 2.0]},
        {"time_ps": [[1.0, 2.0]]},
    ],
)
def test_simulator_rejects_bad_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidValueError):
        simulate_ta_kinetics(**kwargs)


# --------------------------------------------------------------------------- ground truth over seeds


def test_estimated_noise_is_unbiased_with_honest_errors() -> None:
    est, err, truth, flags = _study(lambda k: fit_ta_biexponential(k.time_ps, k.delta_a), N_SEEDS)
    _assert_unbiased_and_honest(est, err, truth)
    assert all(f == () for f in flags)


def test_given_errors_are_unbiased_with_honest_errors() -> None:
    est, err, truth, _ = _study(
        lambda k: fit_ta_biexponential(k.time_ps, k.delta_a, delta_a_err=np.full(k.time_ps.size, 0.01)),
        N_SEEDS,
    )
    _assert_unbiased_and_honest(est, err, truth)


def test_fit_recovers_all_parameters() -> None:
    k = simulate_ta_kinetics(seed=11)
    f = fit_ta_biexponential(k.time_ps, k.delta_a)
    tr = k.truth
    for value, sd, true in [
        (f.biexciton_rate_per_ns, f.biexciton_rate_per_ns_err, tr.biexciton_rate_per_ns),
        (f.biexciton_lifetime_ps, f.biexciton_lifetime_ps_err, tr.biexciton_lifetime_ps),
        (f.fast_amplitude, f.fast_amplitude_err, tr.biexciton_amplitude),
        (f.slow_rate_per_ns, f.slow_rate_per_ns_err, tr.exciton_rate_per_ns),
        (f.slow_amplitude, f.slow_amplitude_err, tr.exciton_amplitude),
    ]:
        assert abs(value - true) <= 4.0 * sd, (value, true, sd)
    assert f.biexciton_lifetime_ps == pytest.approx(1000.0 / f.biexciton_rate_per_ns)
    assert f.offset == 0.0 and f.offset_err == 0.0
    assert f.dof == 300 - 4 and f.n_points == 300
    assert math.isnan(f.reduced_chi2) and "estimated from the residuals" in f.method
    assert f.noise_sd == pytest.approx(0.01, rel=0.15)
    weighted = fit_ta_biexponential(k.time_ps, k.delta_a, delta_a_err=np.full(300, 0.01))
    assert weighted.reduced_chi2 == pytest.approx(1.0, abs=0.3) and "delta_a_err" in weighted.method


# --------------------------------------------------------------------------- the study's numbers


def test_study_biexciton_rate_and_yield() -> None:
    k = simulate_ta_kinetics(biexciton_lifetime_ps=70.0, seed=0)
    assert round(k.truth.biexciton_rate_per_ns, 1) == 14.3  # fast component ~70 ps → 14.3 ns⁻¹
    f = fit_ta_biexponential(k.time_ps, k.delta_a)
    assert round(f.biexciton_lifetime_ps) in range(67, 74)
    y = biexciton_yield(
        f.biexciton_rate_per_ns,
        SOLUTION_DECAY_RATE_PER_US,
        biexciton_rate_per_ns_err=f.biexciton_rate_per_ns_err,
    )
    gamma_r_xx_per_ns = 4.0 * SOLUTION_DECAY_RATE_PER_US / 1000.0  # γ_r,XX = 4γ, µs⁻¹ → ns⁻¹
    assert y.plqy_xx == pytest.approx(gamma_r_xx_per_ns / f.biexciton_rate_per_ns, rel=1e-12)
    assert y.plqy_xx_err == pytest.approx(
        y.plqy_xx * f.biexciton_rate_per_ns_err / f.biexciton_rate_per_ns, rel=1e-12
    )
    # The paper's 0.77 % is 4·27.7 µs⁻¹ / 14.3 ns⁻¹; the fit's γ_XX gives it within its 2σ.
    paper = biexciton_yield(14.3, SOLUTION_DECAY_RATE_PER_US).plqy_xx
    assert round(100.0 * paper, 2) == 0.77
    assert abs(y.plqy_xx - paper) <= 2.0 * y.plqy_xx_err
    assert round(100.0 * y.plqy_xx, 1) == 0.8


# --------------------------------------------------------------------------- independent reference


def _curve_fit_reference(
    t_ps: np.ndarray, y: np.ndarray, p0: list[float], sigma: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    def model(t: np.ndarray, a_f: float, g_f: float, a_s: float, g_s: float) -> np.ndarray:
        return a_f * np.exp(-g_f * t / 1000.0) + a_s * np.exp(-g_s * t / 1000.0)

    popt, pcov = optimize.curve_fit(
        model, t_ps, y, p0=p0, sigma=sigma, absolute_sigma=sigma is not None, xtol=1e-14, ftol=1e-14
    )
    return popt, np.sqrt(np.diag(pcov))


@pytest.mark.parametrize("seed", [0, 5, 42])
@pytest.mark.parametrize("given_errors", [False, True])
def test_agrees_with_scipy_curve_fit(seed: int, given_errors: bool) -> None:
    k = simulate_ta_kinetics(seed=seed)
    sigma = np.full(k.time_ps.size, 0.01) if given_errors else None
    f = fit_ta_biexponential(k.time_ps, k.delta_a, delta_a_err=sigma)
    tr = k.truth
    p0 = [tr.biexciton_amplitude, tr.biexciton_rate_per_ns, tr.exciton_amplitude, tr.exciton_rate_per_ns]
    popt, perr = _curve_fit_reference(k.time_ps, k.delta_a, p0, sigma)
    ours = [f.fast_amplitude, f.biexciton_rate_per_ns, f.slow_amplitude, f.slow_rate_per_ns]
    ours_err = [
        f.fast_amplitude_err,
        f.biexciton_rate_per_ns_err,
        f.slow_amplitude_err,
        f.slow_rate_per_ns_err,
    ]
    np.testing.assert_allclose(ours, popt, rtol=1e-3)
    np.testing.assert_allclose(ours_err, perr, rtol=1e-2)
    np.testing.assert_allclose(ta_model(k.time_ps, *ours), ta_model(k.time_ps, *popt), rtol=1e-4)


# --------------------------------------------------------------------------- variants and flags


def test_negative_bleach_and_fit_start() -> None:
    k = simulate_ta_kinetics(seed=2)
    pos = fit_ta_biexponential(k.time_ps, k.delta_a, fit_start_ps=20.0)
    neg = fit_ta_biexponential(k.time_ps, -k.delta_a, fit_start_ps=20.0)
    assert pos.fit_start_ps >= 20.0 and pos.n_points == int(np.count_nonzero(k.time_ps >= 20.0))
    assert neg.biexciton_rate_per_ns == pytest.approx(pos.biexciton_rate_per_ns, rel=1e-6)
    assert neg.fast_amplitude == pytest.approx(-pos.fast_amplitude, rel=1e-6)
    assert neg.slow_amplitude < 0 and "negative signal" in neg.method
    assert abs(pos.biexciton_rate_per_ns - k.truth.biexciton_rate_per_ns) <= 4 * pos.biexciton_rate_per_ns_err


def test_negative_delays_are_ignored_by_default() -> None:
    t = np.concatenate((np.linspace(-50.0, -1.0, 20), default_ta_time_ps()))
    k = simulate_ta_kinetics(time_ps=t, seed=4)
    f = fit_ta_biexponential(k.time_ps, k.delta_a)
    assert f.fit_start_ps == 0.5 and f.n_points == 300


def test_offset_is_fitted_when_asked() -> None:
    k = simulate_ta_kinetics(seed=9, exciton_lifetime_ns=1.0)
    t = k.time_ps
    y = k.delta_a + 0.3
    f = fit_ta_biexponential(t, y, fit_offset=True)
    assert f.dof == t.size - 5
    assert abs(f.offset - 0.3) <= 4 * f.offset_err
    assert abs(f.slow_rate_per_ns - 1.0) <= 4 * f.slow_rate_per_ns_err
    assert abs(f.biexciton_rate_per_ns - k.truth.biexciton_rate_per_ns) <= 4 * f.biexciton_rate_per_ns_err


def test_flags_unresolved_fast_component() -> None:
    # No fast component at all: its amplitude is not significant.
    k = simulate_ta_kinetics(biexciton_amplitude=0.0, seed=1)
    assert "fast_component_unresolved" in fit_ta_biexponential(k.time_ps, k.delta_a).flags
    # A 0.2 ps component sampled in 2.5 ps steps.
    k = simulate_ta_kinetics(biexciton_lifetime_ps=0.2, seed=1)
    assert "fast_component_unresolved" in fit_ta_biexponential(k.time_ps, k.delta_a).flags


def test_flags_slow_rate_unconstrained() -> None:
    # A 10 µs exciton seen through a 3 ns window.
    k = simulate_ta_kinetics(exciton_lifetime_ns=10_000.0, seed=1)
    f = fit_ta_biexponential(k.time_ps, k.delta_a)
    assert "slow_rate_unconstrained" in f.flags
    assert "fast_component_unresolved" not in f.flags


def test_flags_poor_fit_with_understated_errors() -> None:
    k = simulate_ta_kinetics(seed=1)
    f = fit_ta_biexponential(k.time_ps, k.delta_a, delta_a_err=np.full(300, 0.002))
    assert "poor_fit" in f.flags and f.reduced_chi2 > 10


# --------------------------------------------------------------------------- error paths


def _t() -> np.ndarray:
    return np.linspace(1.0, 100.0, 20)


@pytest.mark.parametrize(
    ("time_ps", "delta_a", "kwargs", "match"),
    [
        (np.arange(1.0, 6.0), np.ones(5), {}, "at least 8"),
        (_t(), np.ones(19), {}, "equal lengths"),
        (_t()[::-1], np.exp(-_t() / 10), {}, "strictly increasing"),
        (_t(), np.where(np.arange(20) == 3, np.nan, 1.0), {}, "NaN"),
        (_t(), np.zeros(20), {}, "zero everywhere"),
        (_t(), np.full(20, 0.5), {}, "constant"),
        (_t(), np.exp(-_t() / 10), {"delta_a_err": np.zeros(20)}, "delta_a_err must be > 0"),
        (_t(), np.exp(-_t() / 10), {"delta_a_err": np.ones(19)}, "equal lengths"),
        (_t(), np.exp(-_t() / 10), {"fit_start_ps": 95.0}, "lower fit_start_ps"),
        (_t(), np.exp(-_t() / 10), {"fit_start_ps": -5.0}, "fit_start_ps"),
        (_t(), np.exp(-_t() / 10), {"fit_start_ps": math.inf}, "fit_start_ps"),
        (-_t()[::-1], np.exp(-_t() / 10), {}, "at t > 0"),
        (np.ones((2, 10)), np.ones((2, 10)), {}, "1-D"),
    ],
)
def test_invalid_input_raises(
    time_ps: np.ndarray, delta_a: np.ndarray, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidValueError, match=match):
        fit_ta_biexponential(time_ps, delta_a, **kwargs)
