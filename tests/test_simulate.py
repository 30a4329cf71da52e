"""Tests of qdcat.simulate: the physics against formulas written out here, conventions, seeding, validation.

Every expectation is computed in this file from the input parameters (never
read back from the simulator's truth) and compared within sampling error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from qdcat import simulate as sim
from qdcat.errors import InvalidValueError

H_J_S = 6.62607015e-34
C_M_S = 299_792_458.0


def photon_energy(wavelength_nm: float) -> float:
    return H_J_S * C_M_S / (wavelength_nm * 1e-9)


def pair_delays(t_a: np.ndarray, t_b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """All delays t_b − t_a in [lo, hi): the naive reference correlator."""
    start = np.searchsorted(t_b, t_a + lo, side="left")
    stop = np.searchsorted(t_b, t_a + hi, side="left")
    n = stop - start
    idx_a = np.repeat(np.arange(t_a.size), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return t_b[np.repeat(start, n) + offset] - t_a[idx_a]


def emission_rate_cps(quantum_yield: float, pump_per_s: float, decay_per_s: float) -> float:
    return quantum_yield * pump_per_s * decay_per_s / (pump_per_s + decay_per_s)


# --------------------------------------------------------------------------- cw g2


def test_cw_g2_matches_two_level_formula_with_background() -> None:
    lifetime_ns, qy, sigma, intensity = 20.0, 0.8, 2.6e-14, 300.0
    eff, bg, delay_ps = 0.03, 15_000.0, 41_300.0
    dot = sim.DotParams(lifetime_ns=lifetime_ns, quantum_yield=qy, sigma_cm2=sigma)
    det = sim.Detection(
        efficiency=eff,
        background_a_cps=bg,
        background_b_cps=bg,
        delay_b_ps=delay_ps,
        jitter_a_fwhm_ps=100.0,
        jitter_b_fwhm_ps=100.0,
    )
    duration_s = 3.0
    res = sim.simulate_cw(
        dot, excitation=sim.CwExcitation(intensity), detection=det, duration_s=duration_s, seed=11
    )
    t_a = res.stream.timestamps_of(sim.CHANNEL_A)
    t_b = res.stream.timestamps_of(sim.CHANNEL_B)

    pump = sigma * intensity / photon_energy(445.0)  # s⁻¹
    decay = 1e9 / lifetime_ns
    rate_ps = (pump + decay) * 1e-12
    signal = 0.5 * eff * emission_rate_cps(qy, pump, decay)
    rho = signal / (signal + bg)

    half_window, bin_ps = 150_000.0, 2_000.0
    edges = delay_ps + np.arange(-half_window, half_window + 1, bin_ps)
    observed, _ = np.histogram(pair_delays(t_a, t_b, edges[0], edges[-1]), bins=edges)
    norm = t_a.size * t_b.size / (duration_s * 1e12)  # uncorrelated pairs per ps of delay

    def expected(_bins: np.ndarray, rho_a_rho_b: float, rate_per_ns: float) -> np.ndarray:
        # ∫ over each bin of N_A·N_B/T · (1 − ρ_Aρ_B·exp(−rate·|τ − τ0|)) dτ
        rate = rate_per_ns * 1e-3
        x = edges - delay_ps
        prim = np.sign(x) * (1.0 - np.exp(-rate * np.abs(x))) / rate
        return norm * (np.diff(edges) - rho_a_rho_b * np.diff(prim))

    model = expected(edges[:-1], rho * rho, rate_ps * 1e3)
    assert observed.sum() > 10_000  # enough pairs for the test to have power
    assert 0.6 < np.sum((observed - model) ** 2 / model) / observed.size < 1.5
    # A free fit of depth and width lands on the formula's values within its errors,
    # and those errors are small enough to tell a background-free dip or a ~30 % wrong rate.
    (depth, rate), cov = optimize.curve_fit(
        expected, edges[:-1], observed, p0=(0.5, 0.03), sigma=np.sqrt(model), absolute_sigma=True
    )
    depth_se, rate_se = np.sqrt(np.diag(cov))
    assert abs(depth - rho * rho) < 4.0 * depth_se and depth_se < (1.0 - rho * rho) / 5.0
    assert abs(rate - rate_ps * 1e3) < 4.0 * rate_se and rate_se < 0.08 * rate_ps * 1e3


def test_cw_count_rates_and_dead_time() -> None:
    dot = sim.DotParams(lifetime_ns=25.0, quantum_yield=0.7, sigma_cm2=3e-14)
    det = sim.Detection(efficiency=0.05, dead_time_a_ns=80.0, dead_time_b_ns=30.0, background_a_cps=2e3)
    duration_s = 0.5
    res = sim.simulate_cw(
        dot, excitation=sim.CwExcitation(500.0), detection=det, duration_s=duration_s, seed=3
    )
    s = res.stream
    assert s.timestamps_ps.dtype == np.int64 and s.channels.dtype == np.uint8
    assert np.all(np.diff(s.timestamps_ps) >= 0)
    assert set(np.unique(s.channels).tolist()) == {0, 1}
    assert s.nanotimes_ps is None
    assert s.timestamps_ps.min() >= 0 and s.timestamps_ps.max() < duration_s * 1e12
    for channel, dead_ns in ((0, 80.0), (1, 30.0)):
        assert np.diff(s.timestamps_of(channel)).min() >= dead_ns * 1e3

    pump = 3e-14 * 500.0 / photon_energy(445.0)
    signal = 0.5 * 0.05 * emission_rate_cps(0.7, pump, 1e9 / 25.0)
    for channel, bg, dead_ns in ((0, 2e3, 80.0), (1, 500.0, 30.0)):
        true_rate = signal + bg
        registered = true_rate / (1.0 + true_rate * dead_ns * 1e-9)  # non-paralysable dead time
        n = s.timestamps_of(channel).size
        expected_n = registered * duration_s
        assert abs(n - expected_n) < 5.0 * math.sqrt(expected_n)


# --------------------------------------------------------------------------- pulsed


def _truncated_exp_mle(x: np.ndarray, length: float) -> tuple[float, float]:
    """ML rate of an exponential truncated to [0, length] and its standard error."""

    def mean_minus(g: float) -> float:
        return 1.0 / g - length / math.expm1(g * length) - x.mean()

    g = optimize.brentq(mean_minus, 1e-6 / length, 50.0 / length)
    e = math.exp(g * length)
    var = 1.0 / g**2 - length**2 * e / (e - 1.0) ** 2  # variance of the truncated law = Fisher info
    return g, 1.0 / math.sqrt(x.size * var)


def test_pulsed_decay_tail_has_the_set_lifetime() -> None:
    lifetime_ns = 18.0
    dot = sim.DotParams(lifetime_ns=lifetime_ns, quantum_yield=0.7)
    det = sim.Detection(efficiency=0.05, background_a_cps=0.0, background_b_cps=0.0, jitter_a_fwhm_ps=50.0)
    exc = sim.PulsedExcitation(mean_excitons=1.0, pulse_delay_ps=5000.0)
    res = sim.simulate_pulsed_t3(dot, excitation=exc, detection=det, duration_s=0.5, seed=5)
    nanotime_ns = res.records.nanotime_ps / 1e3
    # Start 3 ns after the pulse (5 ns): the 70 ps biexciton and the jitter are over. Photons
    # of earlier pulses wrapping into the window decay with the same rate, so the tail stays
    # mono-exponential on [start, period).
    start_ns, period_ns = 8.0, 100.0
    x = nanotime_ns[nanotime_ns >= start_ns] - start_ns
    gamma, se = _truncated_exp_mle(x, period_ns - start_ns)
    assert x.size > 50_000
    assert abs(gamma - 1.0 / lifetime_ns) < 4.0 * se
    assert se < 0.02 / lifetime_ns  # the check resolves the lifetime to better than 2 %


def test_pulsed_g2_zero_from_biexciton_cascade() -> None:
    m, qy, qy_xx, eff = 1.0, 0.6, 0.3, 0.1
    # A 5 ns lifetime keeps the peaks (100 ns apart) from overlapping: with 20 ns, ~10 % of each
    # peak's area would spill into its neighbours and a window count would not be the peak area.
    dot = sim.DotParams(lifetime_ns=5.0, quantum_yield=qy, biexciton_quantum_yield=qy_xx)
    det = sim.Detection(
        efficiency=eff, background_a_cps=0.0, background_b_cps=0.0, dead_time_a_ns=0.0, dead_time_b_ns=0.0
    )
    res = sim.simulate_pulsed(
        dot, excitation=sim.PulsedExcitation(mean_excitons=m), detection=det, duration_s=0.2, seed=8
    )
    period = 100_000
    delays = pair_delays(
        res.stream.timestamps_of(0), res.stream.timestamps_of(1), -10.5 * period, 10.5 * period
    )
    peak = np.round(delays / period).astype(int)
    areas = np.bincount(peak + 10, minlength=21)
    centre, sides = areas[10], np.delete(areas, 10)
    ratio = centre / sides.mean()
    ratio_se = ratio * math.sqrt(1.0 / centre + 1.0 / sides.sum())

    p_multi = 1.0 - math.exp(-m) * (1.0 + m)
    q_x, q_xx = qy * eff, qy_xx * eff
    mu = (1.0 - math.exp(-m)) * q_x + p_multi * q_xx
    expected = 2.0 * p_multi * q_xx * q_x / mu**2
    assert abs(ratio - expected) < 4.0 * ratio_se
    assert ratio_se < 0.1 * expected


def test_pulsed_t2_conventions_and_t3_equivalence() -> None:
    dot = sim.DotParams(blinking=sim.BlinkingParams(t_min_s=0.001, t_max_s=0.05))
    det = sim.Detection(delay_b_ps=12_345.0, efficiency=0.05)
    kw = {"excitation": sim.PulsedExcitation(mean_excitons=0.5), "detection": det, "duration_s": 0.05}
    t2 = sim.simulate_pulsed(dot, seed=21, **kw)
    s = t2.stream
    assert np.all(np.diff(s.timestamps_ps) >= 0)
    assert set(np.unique(s.channels).tolist()) == {0, 1, 64}
    syncs = s.timestamps_of(64)
    np.testing.assert_array_equal(syncs, np.arange(syncs.size, dtype=np.int64) * 100_000)
    assert syncs.size == 500_000  # 10 MHz for 50 ms
    last_sync = syncs[np.searchsorted(syncs, s.timestamps_ps, side="right") - 1]
    np.testing.assert_array_equal(s.nanotimes_ps, s.timestamps_ps - last_sync)

    t3 = sim.simulate_pulsed_t3(dot, seed=21, **kw).records
    conv = sim.t2_to_t3(s)
    for name in ("sync_index", "nanotime", "channels"):
        np.testing.assert_array_equal(getattr(conv, name), getattr(t3, name))
    assert t3.sync_period_ps == conv.sync_period_ps == 100_000
    assert t3.sync_index.dtype == np.int64 and t3.channels.dtype == np.uint8

    coarse = sim.simulate_pulsed_t3(dot, seed=21, nanotime_resolution_ps=16, **kw).records
    np.testing.assert_array_equal(coarse.nanotime, t3.nanotime // 16)
    assert coarse.resolution_ps == 16


def test_fluence_sets_mean_exciton_number() -> None:
    fluence, sigma = 2e-5, 2.6e-14
    exc = sim.PulsedExcitation(fluence_j_cm2=fluence)
    assert exc.mean_excitons_for(sigma) == pytest.approx(sigma * fluence / photon_energy(445.0), rel=1e-9)
    assert sim.PulsedExcitation().mean_excitons_for(sigma) == 1.0


# --------------------------------------------------------------------------- blinking


def _power_law_mle(t: np.ndarray, t_min: float, t_max: float) -> tuple[float, float]:
    """ML exponent of P(t) ∝ t^-k on [t_min, t_max] and its standard error."""
    log_t = np.log(t)

    def log_norm(k: float) -> float:  # log ∫ t^-k dt
        a = 1.0 - k
        if abs(a) < 1e-9:
            return math.log(math.log(t_max / t_min))
        return math.log((t_max**a - t_min**a) / a)

    def nll(k: float) -> float:
        return k * log_t.sum() + t.size * log_norm(k)

    k = optimize.minimize_scalar(nll, bounds=(0.05, 6.0), method="bounded").x
    h = 1e-4  # Fisher information from the curvature of the log-likelihood
    info = (nll(k + h) - 2 * nll(k) + nll(k - h)) / h**2
    return k, 1.0 / math.sqrt(info)


@pytest.mark.parametrize(("k_on", "k_off"), [(1.2, 2.2), (1.0, 1.6)])
def test_blinking_dwell_times_follow_set_exponents(k_on: float, k_off: float) -> None:
    params = sim.BlinkingParams(k_on=k_on, k_off=k_off, t_min_s=0.01, t_max_s=100.0)
    truth = sim.draw_blinking(params, duration_s=20_000.0, seed=2)
    for dwell, k in ((truth.on_durations_s, k_on), (truth.off_durations_s, k_off)):
        assert dwell.size > 500
        assert dwell.min() >= 0.01 and dwell.max() <= 100.0
        k_hat, se = _power_law_mle(dwell, 0.01, 100.0)
        assert abs(k_hat - k) < 4.0 * se
        assert se < 0.1
    # The history alternates, starts at 0 and its periods have the drawn lengths.
    assert truth.period_start_ps[0] == 0
    assert np.all(truth.period_on[1:] != truth.period_on[:-1])
    np.testing.assert_allclose(np.diff(truth.period_start_ps) * 1e-12, truth.dwell_s[:-1], atol=1e-11)


def test_blinking_dot_emits_only_when_on() -> None:
    blink = sim.BlinkingParams(k_on=1.5, k_off=1.5, t_min_s=0.001, t_max_s=0.5)
    dot = sim.DotParams(blinking=blink)
    det = sim.Detection(
        efficiency=0.05,
        background_a_cps=0.0,
        background_b_cps=0.0,
        jitter_a_fwhm_ps=0.0,
        jitter_b_fwhm_ps=0.0,
        delay_b_ps=5000.0,
    )
    res = sim.simulate_cw(dot, detection=det, duration_s=2.0, seed=4)
    b = res.truth.blinking
    assert b is not None
    s = res.stream
    assert np.all(b.is_on(s.timestamps_of(0)))
    assert np.all(b.is_on(s.timestamps_of(1) - 5000))
    # Independent on-fraction from the periods; the count rate follows it.
    starts = b.period_start_ps
    lengths = np.diff(np.append(starts, 2 * 10**12))
    on_fraction = lengths[b.period_on].sum() / 2e12
    assert 0.05 < on_fraction < 0.95  # both states are well represented
    pump = 2.6e-14 * 100.0 / photon_energy(445.0)
    expected = 0.05 * emission_rate_cps(0.65, pump, 1e9 / 22.5) * on_fraction * 2.0
    assert abs(len(s) - expected) < 6.0 * math.sqrt(expected)


# --------------------------------------------------------------------------- seeding


def test_same_seed_identical_different_seed_different() -> None:
    dot = sim.DotParams(blinking=sim.BlinkingParams(t_min_s=0.001, t_max_s=0.1))
    a = sim.simulate_cw(dot, duration_s=0.1, seed=7).stream
    b = sim.simulate_cw(dot, duration_s=0.1, seed=7).stream
    c = sim.simulate_cw(dot, duration_s=0.1, seed=8).stream
    np.testing.assert_array_equal(a.timestamps_ps, b.timestamps_ps)
    np.testing.assert_array_equal(a.channels, b.channels)
    assert a.timestamps_ps.size != c.timestamps_ps.size or np.any(a.timestamps_ps != c.timestamps_ps)

    p1 = sim.simulate_pulsed_t3(dot, duration_s=0.05, seed=1).records
    p2 = sim.simulate_pulsed_t3(dot, duration_s=0.05, seed=1).records
    np.testing.assert_array_equal(p1.nanotime, p2.nanotime)
    np.testing.assert_array_equal(p1.sync_index, p2.sync_index)

    s1 = sim.simulate_spectrum(629.0, 19.4, 1000.0, seed=3).counts
    s2 = sim.simulate_spectrum(629.0, 19.4, 1000.0, seed=3).counts
    s3 = sim.simulate_spectrum(629.0, 19.4, 1000.0, seed=4).counts
    np.testing.assert_array_equal(s1, s2)
    assert np.any(s1 != s3)

    params = sim.PopulationParams.inp_znse()
    pop1, pop2 = sim.draw_population(params, 50, seed=9), sim.draw_population(params, 50, seed=9)
    for name, column in pop1.as_dict().items():
        np.testing.assert_array_equal(column, pop2.as_dict()[name])
    assert np.any(sim.draw_population(params, 50, seed=10).center_nm != pop1.center_nm)


# --------------------------------------------------------------------------- spectra


def test_spectrum_mean_is_the_lorentzian() -> None:
    center, fwhm, amp, bg = 631.3, 18.7, 400.0, 20.0
    ccd = sim.Ccd(n_pixels=1340, wavelength_start_nm=560.0, wavelength_stop_nm=700.0, read_noise_counts=6.0)
    n = 300
    spectra = np.array(
        [
            sim.simulate_spectrum(center, fwhm, amp, ccd=ccd, background_counts=bg, seed=s).counts
            for s in range(n)
        ]
    )
    wl = np.linspace(560.0, 700.0, 1340)
    half = fwhm / 2
    photo_e = amp * half**2 / ((wl - center) ** 2 + half**2) + bg
    expected = photo_e + ccd.bias_counts
    var = photo_e + 6.0**2 + 1.0 / 12.0  # shot + read + ADC rounding
    z = (spectra.mean(axis=0) - expected) / np.sqrt(var / n)
    assert 0.85 < np.mean(z**2) < 1.15
    assert np.abs(z).max() < 5.5
    # and the per-pixel spread is shot noise plus read noise
    ratio = spectra.var(axis=0, ddof=1) / var
    assert abs(ratio.mean() - 1.0) < 0.03


def test_ensemble_spectrum_is_the_sum_of_the_lines() -> None:
    centers, fwhms, amps = (
        np.array([610.0, 629.0, 640.0]),
        np.array([15.0, 20.0, 22.0]),
        np.array([5.0, 8.0, 3.0]),
    )
    spec = sim.simulate_ensemble_spectrum(centers, fwhms, amps, ccd=sim.Ccd(read_noise_counts=0.0), seed=1)
    wl = spec.wavelength_nm
    lines = (
        amps[:, None] * (fwhms[:, None] / 2) ** 2 / ((wl - centers[:, None]) ** 2 + (fwhms[:, None] / 2) ** 2)
    )
    np.testing.assert_allclose(spec.truth.expected_counts, lines.sum(axis=0) + 600.0, rtol=1e-12)
    assert spec.counts.shape == wl.shape


def test_saturation_series_follows_is_formula() -> None:
    gamma_per_us, sigma = 40.0, 2.6e-14
    i_s = photon_energy(445.0) * gamma_per_us * 1e6 / sigma
    assert photon_energy(445.0) == pytest.approx(4.464e-19, rel=1e-3)
    intensities = np.array([50.0, 300.0, 700.0, 2000.0, 8000.0])
    runs = np.array(
        [
            sim.simulate_saturation_series(
                intensities,
                decay_rate_per_us=gamma_per_us,
                sigma_cm2=sigma,
                amplitude_counts=1e4,
                offset_counts=100.0,
                relative_noise=0.0,
                seed=s,
            ).pl_counts
            for s in range(200)
        ]
    )
    expected = 1e4 * intensities / (intensities + i_s) + 100.0
    z = (runs.mean(axis=0) - expected) / np.sqrt(expected / 200)
    assert np.abs(z).max() < 4.5


# --------------------------------------------------------------------------- power series


def test_power_series_rates_and_truth() -> None:
    dot = sim.DotParams(lifetime_ns=1e3 / 47.0, sigma_cm2=2.63e-14, quantum_yield=0.6)
    det = sim.Detection(efficiency=0.01)
    series = sim.simulate_power_series(dot, detection=det, duration_s=0.2, seed=12)
    assert series.intensities_w_cm2.tolist() == [76.0, 150.0, 300.0, 500.0, 700.0, 950.0]
    slope = 2.63e-14 / photon_energy(445.0)  # cm²/J
    assert series.slope_cm2_per_j == pytest.approx(slope, rel=1e-9)
    assert series.saturation_intensity_w_cm2 == pytest.approx(47e6 / slope, rel=1e-9)
    np.testing.assert_allclose(
        series.antibunching_rate_per_us, 47.0 + slope * series.intensities_w_cm2 * 1e-6
    )
    seeds_differ = {run.stream.timestamps_ps[:5].tobytes() for run in series.runs}
    assert len(seeds_differ) == len(series.runs)
    for intensity, run in zip(series.intensities_w_cm2, series.runs, strict=True):
        pump = slope * intensity
        true_rate = 0.5 * 0.01 * emission_rate_cps(0.6, pump, 47e6) + 500.0
        expected_n = true_rate / (1.0 + true_rate * 22e-9) * 0.2
        n = run.stream.timestamps_of(0).size
        assert abs(n - expected_n) < 5.0 * math.sqrt(expected_n)


# --------------------------------------------------------------------------- populations


def test_population_distributions_and_correlations() -> None:
    params = sim.PopulationParams.inp_znse()
    n = 4000
    pop = sim.draw_population(params, n, seed=42)
    assert len(pop) == n

    def near(sample: np.ndarray, mean: float, sd: float) -> None:
        assert abs(sample.mean() - mean) < 4.0 * sd / math.sqrt(n)
        assert abs(sample.std(ddof=1) - sd) < 4.0 * sd / math.sqrt(2 * n)

    near(pop.center_nm, 629.0, 10.0)
    near(pop.lifetime_ns, 22.5, 5.4)
    fwhm_law = stats.truncnorm((13.0 - 19.4) / 2.5, (24.0 - 19.4) / 2.5, loc=19.4, scale=2.5)
    near(pop.fwhm_nm, fwhm_law.mean(), fwhm_law.std())
    assert pop.fwhm_nm.min() >= 13.0 and pop.fwhm_nm.max() <= 24.0
    g2_law = stats.truncnorm((0.01 - 0.19) / 0.1, (0.6 - 0.19) / 0.1, loc=0.19, scale=0.1)
    near(pop.g2_zero, g2_law.mean(), g2_law.std())

    energy = 1239.84193 / pop.center_nm
    r_lifetime = np.corrcoef(pop.lifetime_ns, energy)[0, 1]
    r_fwhm = np.corrcoef(pop.fwhm_nm, energy)[0, 1]
    assert abs(math.atanh(r_lifetime) - math.atanh(-0.8)) < 4.0 / math.sqrt(n - 3)
    assert abs(r_fwhm) < 4.0 / math.sqrt(n - 3)


def test_population_backgrounds_give_the_drawn_g2() -> None:
    pop = sim.draw_population(sim.PopulationParams.inp_znse(), 20, seed=5)
    det = sim.Detection()  # the default the population refers to
    for i in range(len(pop)):
        dot = pop.dot(i)
        assert dot.blinking is not None
        k_on, k_off, lo, hi = dot.blinking.k_on, dot.blinking.k_off, 0.01, 100.0
        mean_on = (
            integrate.quad(lambda t, k=k_on: t ** (1 - k), lo, hi)[0]
            / integrate.quad(lambda t, k=k_on: t ** (-k), lo, hi)[0]
        )
        mean_off = (
            integrate.quad(lambda t, k=k_off: t ** (1 - k), lo, hi)[0]
            / integrate.quad(lambda t, k=k_off: t ** (-k), lo, hi)[0]
        )
        pump = dot.sigma_cm2 * 100.0 / photon_energy(445.0)
        signal = 0.5 * det.efficiency * emission_rate_cps(dot.quantum_yield, pump, 1e9 / dot.lifetime_ns)
        signal *= mean_on / (mean_on + mean_off)
        d = pop.detection_for(i)
        rho_a = signal / (signal + d.background_a_cps)
        rho_b = signal / (signal + d.background_b_cps)
        assert 1.0 - rho_a * rho_b == pytest.approx(pop.g2_zero[i], rel=1e-6)


def test_cdse_preset_contrasts_with_inp() -> None:
    inp = sim.draw_population(sim.PopulationParams.inp_znse(), 500, seed=1)
    cdse = sim.draw_population(sim.PopulationParams.cdse_cds(), 500, seed=1)
    assert abs(cdse.center_nm.mean() - 610.0) < 2.0
    assert abs(cdse.k_off.mean() - 1.6) < 0.05
    assert cdse.lifetime_ns.mean() > inp.lifetime_ns.mean() + 5.0
    assert cdse.fwhm_nm.mean() < inp.fwhm_nm.mean() - 2.0
    assert cdse.on_fraction_expected.mean() < inp.on_fraction_expected.mean() - 0.2
    assert stats.mannwhitneyu(inp.k_off, cdse.k_off).pvalue < 1e-6


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "make",
    [
        lambda: sim.DotParams(lifetime_ns=-1.0),
        lambda: sim.DotParams(quantum_yield=1.5),
        lambda: sim.DotParams(lifetime_ns="20"),
        lambda: sim.DotParams(lifetime_ns=float("nan")),
        lambda: sim.BlinkingParams(t_min_s=1.0, t_max_s=0.5),
        lambda: sim.BlinkingParams(k_off=0.0),
        lambda: sim.Detection(efficiency=0.0),
        lambda: sim.Detection(dead_time_a_ns=-1.0),
        lambda: sim.CwExcitation(intensity_w_cm2=0.0),
        lambda: sim.PulsedExcitation(mean_excitons=1.0, fluence_j_cm2=1e-5),
        lambda: sim.PulsedExcitation(repetition_rate_mhz=-10.0),
        lambda: sim.simulate_cw(sim.DotParams(), duration_s=0.0, seed=1),
        lambda: sim.simulate_cw(sim.DotParams(), duration_s=1.0, seed=-1),
        lambda: sim.simulate_cw(sim.DotParams(), duration_s=1.0, seed=1.5),
        lambda: sim.simulate_cw(sim.DotParams(), duration_s=1.0, seed=1, resolution_ps=0),
        lambda: sim.simulate_cw(sim.DotParams(), duration_s=1e4, seed=1),  # beyond float64 ps precision
        lambda: sim.simulate_cw(sim.DotParams(), excitation=sim.CwExcitation(1e5), duration_s=5000.0, seed=1),
        lambda: sim.simulate_pulsed(sim.DotParams(), duration_s=100.0, seed=1),  # 10^9 syncs
        lambda: sim.simulate_cw("dot", duration_s=1.0, seed=1),
        lambda: sim.simulate_pulsed(sim.DotParams(), duration_s=0.01, seed=1, resolution_ps=3),
        lambda: sim.t2_to_t3(sim.simulate_cw(sim.DotParams(), duration_s=0.01, seed=1).stream),
        lambda: sim.draw_population(sim.PopulationParams(), 0, seed=1),
        lambda: sim.PopulationParams(fwhm_min_nm=25.0, fwhm_max_nm=20.0),
        lambda: sim.PopulationParams(lifetime_energy_r=-1.5),
        lambda: sim.Ccd(n_pixels=1),
        lambda: sim.simulate_spectrum(629.0, 0.0, 100.0, seed=1),
        lambda: sim.simulate_ensemble_spectrum([620.0, 630.0], [20.0], 1.0, seed=1),
        lambda: sim.simulate_saturation_series([-5.0, 10.0], seed=1),
        lambda: sim.draw_blinking(sim.BlinkingParams(), duration_s=-1.0, seed=1),
    ],
)
def test_bad_parameters_raise(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValueError):
        make()


def test_error_message_names_the_valid_range() -> None:
    with pytest.raises(InvalidValueError, match=r"quantum_yield.*\(0, 1\]"):
        sim.DotParams(quantum_yield=2.0)
