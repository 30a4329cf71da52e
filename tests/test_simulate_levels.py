"""Tests of the multi-level (grey-state) blinking simulator: physics against the parameters.

Every expectation is computed here from the input parameters (brightness,
lifetimes, dwell laws, jump matrix, acquisition settings) and compared within
sampling error; the truth is used only to know which photon came from which
state and how long each state lasted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, stats

from qdcat import simulate as sim
from qdcat.errors import InvalidValueError
from qdcat.simulate import DwellLaw, EmissionState, MultiLevelParams, simulate_multilevel_t3

OFFSET_PS = 1000.0  # the simulator's default IRF offset


def rep_rate_hz(mhz: float) -> float:
    return 1e12 / round(1e6 / mhz)  # the period is a whole number of ps


def nanotime_ps(res: sim.MultiLevelResult) -> np.ndarray:
    """Nanotimes in ps, centred in their resolution bin (the simulator floors them)."""
    r = res.records
    return (r.nanotime + 0.5) * r.resolution_ps


def three_states() -> MultiLevelParams:
    return MultiLevelParams(
        states=(EmissionState(1.0, 20.0, "bright"), EmissionState(0.4, 9.0, "grey"), EmissionState(0.0, 5.0)),
        dwell=(DwellLaw.exponential(0.15), DwellLaw.exponential(0.08), DwellLaw.power_law(1.5, 1e-3, 0.5)),
    )


# --------------------------------------------------------------------------- seeding


def test_same_seed_gives_identical_records_and_different_seeds_differ() -> None:
    params = MultiLevelParams.a_type()
    a = simulate_multilevel_t3(params, duration_s=1.5, seed=7)
    b = simulate_multilevel_t3(params, duration_s=1.5, seed=7)
    c = simulate_multilevel_t3(params, duration_s=1.5, seed=8)
    for name in ("sync_index", "nanotime", "channels"):
        assert np.array_equal(getattr(a.records, name), getattr(b.records, name))
    assert np.array_equal(a.truth.period_start_ps, b.truth.period_start_ps)
    assert np.array_equal(a.truth.period_state, b.truth.period_state)
    assert np.array_equal(a.truth.photon_state, b.truth.photon_state)
    assert len(a.records) > 1000
    assert len(a.records) != len(c.records) or not np.array_equal(a.records.sync_index, c.records.sync_index)
    assert not np.array_equal(a.truth.period_start_ps, c.truth.period_start_ps)


# --------------------------------------------------------------------------- intensities


@pytest.mark.parametrize(
    "make",
    [MultiLevelParams.a_type, MultiLevelParams.b_type, MultiLevelParams.two_state_on_off, three_states],
)
def test_signal_rate_in_each_state_matches_its_brightness(make: Callable[[], MultiLevelParams]) -> None:
    params = make()
    p_bright, mhz, duration = 0.004, 20.0, 3.0
    z_values = []
    for seed in range(4):
        res = simulate_multilevel_t3(
            params,
            duration_s=duration,
            seed=seed,
            bright_detection_per_pulse=p_bright,
            repetition_rate_mhz=mhz,
        )
        lengths = np.diff(np.append(res.truth.period_start_ps, round(duration * 1e12)))
        for s, state in enumerate(params.states):
            time_s = lengths[res.truth.period_state == s].sum() / 1e12
            n = int((res.truth.photon_state == s).sum())
            expected = p_bright * state.brightness * rep_rate_hz(mhz) * time_s
            if state.brightness == 0.0:
                assert n == 0, "a dark state emitted"
            elif expected > 0:
                z_values.append((n - expected) / math.sqrt(expected))
    z = np.array(z_values)
    assert z.size >= 4
    assert np.all(np.abs(z) < 4.0), z
    # the z's of independent (state, seed) pairs are ~N(0, 1): their sum of squares is chi-square
    assert stats.chi2.sf(float((z**2).sum()), z.size) > 1e-3, z


def test_each_photon_carries_the_state_at_its_pulse() -> None:
    # At 2 MHz (500 ns period) a photon arrives in its own pulse's period, so its sync gives the pulse.
    res = simulate_multilevel_t3(
        three_states(), duration_s=2.0, seed=3, repetition_rate_mhz=2.0, bright_detection_per_pulse=0.05
    )
    sig = res.truth.photon_state >= 0
    pulse_ps = res.records.sync_index[sig] * res.records.sync_period_ps + round(OFFSET_PS)
    assert np.array_equal(res.truth.state_at(pulse_ps), res.truth.photon_state[sig])
    # Within a period the emission rate is constant: the photons spread uniformly over it.
    starts = res.truth.period_start_ps
    ends = np.append(starts[1:], round(2.0 * 1e12))
    i = np.searchsorted(starts, pulse_ps, side="right") - 1
    position = (pulse_ps - starts[i]) / (ends[i] - starts[i])
    assert stats.kstest(position, "uniform").pvalue > 1e-3


# --------------------------------------------------------------------------- lifetimes


def _mean_delay_per_state(params: MultiLevelParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean nanotime after the IRF offset and its 1σ error, per state (2 MHz: τ ≪ period)."""
    sigma_irf, res_ps = 50.0, 16
    res = simulate_multilevel_t3(
        params,
        duration_s=4.0,
        seed=seed,
        repetition_rate_mhz=2.0,
        bright_detection_per_pulse=0.05,
        irf_sigma_ps=sigma_irf,
        nanotime_resolution_ps=res_ps,
    )
    nt = nanotime_ps(res)
    means, errors = [], []
    for s, state in enumerate(params.states):
        x = nt[res.truth.photon_state == s]
        assert x.size > 5000
        means.append(x.mean() - OFFSET_PS)
        tau = state.lifetime_ns * 1e3
        errors.append(math.sqrt(tau**2 + sigma_irf**2 + res_ps**2 / 12) / math.sqrt(x.size))
    return np.array(means), np.array(errors)


@pytest.mark.parametrize("make", [MultiLevelParams.a_type, MultiLevelParams.b_type])
def test_mean_nanotime_in_each_state_is_its_lifetime(make: Callable[[], MultiLevelParams]) -> None:
    params = make()
    means, errors = _mean_delay_per_state(params, seed=5)
    taus = np.array([s.lifetime_ns * 1e3 for s in params.states])
    assert np.all(np.abs(means - taus) < 4 * errors), (means, taus, errors)


def test_a_type_grey_decays_faster_and_b_type_dim_does_not() -> None:
    a = MultiLevelParams.a_type()
    assert a.states[1].brightness == pytest.approx(0.3) and a.states[0].brightness == 1.0
    means, errors = _mean_delay_per_state(a, seed=11)
    assert means[1] < 0.5 * means[0]
    assert means[0] - means[1] > 20 * math.hypot(*errors)
    assert a.blinking_type == "A"

    b = MultiLevelParams.b_type()
    assert b.states[1].brightness == pytest.approx(0.3)
    means, errors = _mean_delay_per_state(b, seed=12)
    assert abs(means[0] - means[1]) < 4 * math.hypot(*errors)
    assert b.blinking_type == "B"


def test_a_prompt_emitter_shows_the_gaussian_irf_at_the_offset() -> None:
    sigma, tau, res_ps, offset = 80.0, 1.0, 4, 3000.0  # τ = 1 ps: the nanotimes are the IRF itself
    params = MultiLevelParams(states=(EmissionState(1.0, tau / 1e3),), dwell=(DwellLaw.exponential(1.0),))
    res = simulate_multilevel_t3(
        params,
        duration_s=0.5,
        seed=4,
        background_cps=0.0,
        irf_sigma_ps=sigma,
        irf_offset_ps=offset,
        nanotime_resolution_ps=res_ps,
    )
    nt = nanotime_ps(res)
    n = nt.size
    sd = math.sqrt(sigma**2 + tau**2 + (res_ps**2 + 1) / 12)  # + the flooring to ps and to the resolution
    assert abs(nt.mean() - (offset + tau)) < 4 * sd / math.sqrt(n)
    assert abs(nt.std() - sd) < 4 * sd / math.sqrt(2 * n)
    assert stats.normaltest(nt).pvalue > 1e-3


def test_long_delays_wrap_into_the_next_period() -> None:
    # τ = 20 ns at 20 MHz (50 ns): e^(-49/20) ≈ 9 % of the photons arrive after the next sync.
    tau, period, a = 20_000.0, 50_000.0, OFFSET_PS
    params = MultiLevelParams(states=(EmissionState(1.0, tau / 1e3),), dwell=(DwellLaw.exponential(1.0),))
    res = simulate_multilevel_t3(params, duration_s=2.0, seed=2, background_cps=0.0)
    nt = nanotime_ps(res)
    assert nt.max() < period
    # (a + X) mod P with X ~ Exp(τ): mean a + τ − P·Σ_m P(a + X ≥ mP) = a + τ − P·e^((a−P)/τ)/(1 − e^(−P/τ))
    q = math.exp(-period / tau)
    expected_mean = a + tau - period * math.exp(a / tau) * q / (1 - q)
    assert abs(nt.mean() - expected_mean) < 4 * tau / math.sqrt(nt.size)
    # wrapped photons in [0, c), c well below the offset (no IRF tail reaches there)
    c = a - 250.0
    p_wrapped = math.exp(-(period - a) / tau) * (1 - math.exp(-c / tau)) / (1 - q)
    n_wrapped = int((nt < c).sum())
    assert abs(n_wrapped - p_wrapped * nt.size) < 4 * math.sqrt(p_wrapped * nt.size)
    assert n_wrapped > 300


# --------------------------------------------------------------------------- dwell times


def _path_only(params: MultiLevelParams, duration_s: float, seed: int) -> sim.MultiLevelTruth:
    res = simulate_multilevel_t3(
        params, duration_s=duration_s, seed=seed, bright_detection_per_pulse=1e-6, background_cps=0.0
    )
    return res.truth


def test_exponential_dwells_follow_their_law() -> None:
    means = (0.005, 0.012)
    params = MultiLevelParams(
        states=(EmissionState(1.0, 20.0), EmissionState(0.3, 6.0)),
        dwell=tuple(DwellLaw.exponential(m) for m in means),
    )
    truth = _path_only(params, 30.0, seed=4)
    dwell, state = truth.dwell_s[:-1], truth.period_state[:-1]  # the last period is clipped
    for s, mean in enumerate(means):
        x = dwell[state == s]
        assert x.size > 800
        assert stats.kstest(x, stats.expon(scale=mean).cdf).pvalue > 1e-3
        assert stats.kstest(x, stats.expon(scale=1.2 * mean).cdf).pvalue < 1e-3  # the test has power


def test_power_law_dwells_follow_the_truncated_power_law() -> None:
    laws = ((1.6, 1e-3, 1.0), (2.2, 2e-3, 0.5))
    params = MultiLevelParams(
        states=(EmissionState(1.0, 20.0), EmissionState(0.0, 20.0)),
        dwell=tuple(DwellLaw.power_law(*law) for law in laws),
    )
    truth = _path_only(params, 40.0, seed=6)
    dwell, state = truth.dwell_s[:-1], truth.period_state[:-1]

    def cdf(k: float, lo: float, hi: float) -> Callable[[np.ndarray], np.ndarray]:
        return lambda t: (np.clip(t, lo, hi) ** (1 - k) - lo ** (1 - k)) / (hi ** (1 - k) - lo ** (1 - k))

    for s, (k, lo, hi) in enumerate(laws):
        x = dwell[state == s]
        assert x.size > 800
        assert x.min() >= lo * (1 - 1e-9) and x.max() <= hi * (1 + 1e-9)
        assert stats.kstest(x, cdf(k, lo, hi)).pvalue > 1e-3
        assert stats.kstest(x, cdf(k + 0.3, lo, hi)).pvalue < 1e-3


def test_dwell_law_mean_and_cdf_against_the_formulas() -> None:
    k, lo, hi = 1.7, 2e-3, 5.0
    law = DwellLaw.power_law(k, lo, hi)
    norm = integrate.quad(lambda t: t**-k, lo, hi)[0]
    assert law.mean_dwell_s == pytest.approx(integrate.quad(lambda t: t ** (1 - k), lo, hi)[0] / norm)
    assert float(law.cdf(0.1)[()]) == pytest.approx(integrate.quad(lambda t: t**-k, lo, 0.1)[0] / norm)
    assert float(law.cdf(1e-4)[()]) == 0.0 and float(law.cdf(10.0)[()]) == pytest.approx(1.0)
    assert DwellLaw.exponential(0.3).mean_dwell_s == 0.3
    assert float(DwellLaw.exponential(0.3).cdf(0.3)[()]) == pytest.approx(1 - math.exp(-1))


# --------------------------------------------------------------------------- the jump chain


def test_jumps_follow_the_transition_matrix_and_time_fractions_the_stationary_law() -> None:
    m = np.array([[0, 1, 0, 0], [0.5, 0, 0.5, 0], [0, 0.3, 0, 0.7], [0.6, 0, 0.4, 0]])
    means = np.array([1e-3, 2e-3, 0.5e-3, 1.5e-3])
    params = MultiLevelParams(
        states=tuple(EmissionState(b, 10.0) for b in (1.0, 0.6, 0.3, 0.0)),
        dwell=tuple(DwellLaw.exponential(float(x)) for x in means),
        transitions=tuple(tuple(row) for row in m),
    )
    truth = _path_only(params, 20.0, seed=9)
    seq = truth.period_state
    counts = np.zeros((4, 4), dtype=np.int64)
    np.add.at(counts, (seq[:-1], seq[1:]), 1)
    assert counts.sum() > 10_000
    assert np.all(counts[m == 0] == 0), counts  # impossible jumps (and self-jumps) never happen
    for i in range(4):
        allowed = m[i] > 0
        if allowed.sum() > 1:
            expected = m[i, allowed] * counts[i].sum()
            assert stats.chisquare(counts[i, allowed], expected).pvalue > 1e-3, (i, counts[i])
    # stationary law of the jump chain (π = πM), weighted by the mean dwell of each state
    w, v = np.linalg.eig(m.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    fractions = pi * means / (pi * means).sum()
    np.testing.assert_allclose(truth.state_fraction, fractions, atol=0.02)
    np.testing.assert_allclose(params.stationary_fractions, fractions, rtol=1e-9)


def test_the_first_state_is_drawn_with_the_time_fractions_or_given() -> None:
    params = MultiLevelParams.a_type()  # bright 200 ms, grey 100 ms: bright 2/3 of the time
    firsts = [_path_only(params, 1e-3, seed).period_state[0] for seed in range(300)]
    n_bright = firsts.count(0)
    p = 0.2 / (0.2 + 0.1)
    assert abs(n_bright - 300 * p) < 4 * math.sqrt(300 * p * (1 - p))
    fixed = MultiLevelParams(states=params.states, dwell=params.dwell, start_state=1)
    assert all(_path_only(fixed, 1e-3, seed).period_state[0] == 1 for seed in range(20))


def test_the_history_tiles_the_acquisition() -> None:
    duration = 5.0
    res = simulate_multilevel_t3(MultiLevelParams.a_type(), duration_s=duration, seed=1)
    t = res.truth
    duration_ps = round(duration * 1e12)
    assert t.period_start_ps[0] == 0 and t.period_start_ps.dtype == np.int64
    assert np.all(np.diff(t.period_start_ps) > 0) and t.period_start_ps[-1] < duration_ps
    assert np.array_equal(t.switch_times_ps, t.period_start_ps[1:])
    assert t.switch_times_ps.size > 10
    assert np.all(t.period_state[1:] != t.period_state[:-1])
    assert t.dwell_s.sum() == pytest.approx(duration)
    np.testing.assert_allclose(t.dwell_s, np.diff(np.append(t.period_start_ps, duration_ps)) / 1e12)
    assert np.array_equal(t.state_at(t.switch_times_ps), t.period_state[1:])
    assert np.array_equal(t.state_at(t.switch_times_ps - 1), t.period_state[:-1])
    assert t.state_fraction.sum() == pytest.approx(1.0)


def test_truth_rates_and_lifetimes_are_the_parameters() -> None:
    params = three_states()
    res = simulate_multilevel_t3(
        params,
        duration_s=0.5,
        seed=0,
        repetition_rate_mhz=40.0,
        bright_detection_per_pulse=0.01,
        nanotime_resolution_ps=25,
    )
    b = np.array([1.0, 0.4, 0.0])
    signal = 0.01 * b * 40e6
    np.testing.assert_allclose(res.truth.expected_rate_cps, signal, rtol=1e-12)
    np.testing.assert_allclose(res.truth.expected_rate_with_background_cps, signal + 200.0, rtol=1e-12)
    np.testing.assert_allclose(res.truth.lifetime_ns, [20.0, 9.0, 5.0])
    assert res.truth.sync_period_ps == 25_000 == res.records.sync_period_ps


def test_blinking_type_from_the_states() -> None:
    def params(*states: tuple[float, float]) -> MultiLevelParams:
        return MultiLevelParams(
            states=tuple(EmissionState(b, tau) for b, tau in states),
            dwell=tuple(DwellLaw.exponential(0.1) for _ in states),
        )

    assert params((1.0, 20.0)).blinking_type == "none"
    assert MultiLevelParams.two_state_on_off().blinking_type == "none"  # bright and dark, no grey state
    assert params((1.0, 20.0), (0.3, 6.0)).blinking_type == "A"
    assert params((1.0, 20.0), (0.5, 21.0), (0.0, 20.0)).blinking_type == "B"
    assert params((1.0, 20.0), (0.3, 6.0), (0.4, 20.0)).blinking_type == "mixed"
    assert params((1.0, 20.0), (0.3, 30.0)).blinking_type == "mixed"
    assert params((1.0, 20.0), (0.8, 5.0)).blinking_type == "none"  # 0.8 is not dim


# --------------------------------------------------------------------------- detection


def test_background_rate_is_uniform_in_time_and_nanotime_and_split_evenly() -> None:
    bg, duration = 40_000.0, 2.0
    res = simulate_multilevel_t3(
        MultiLevelParams.b_type(),
        duration_s=duration,
        seed=21,
        background_cps=bg,
        bright_detection_per_pulse=1e-4,
    )
    is_bg = res.truth.photon_state == -1
    n = int(is_bg.sum())
    assert abs(n - bg * duration) < 4 * math.sqrt(bg * duration)
    period = res.records.sync_period_ps
    assert stats.kstest(nanotime_ps(res)[is_bg] / period, "uniform").pvalue > 1e-3
    t = (res.records.sync_index[is_bg] * period + nanotime_ps(res)[is_bg]) / (duration * 1e12)
    assert stats.kstest(t, "uniform").pvalue > 1e-3
    n_a = int((res.records.channels[is_bg] == sim.CHANNEL_A).sum())
    assert abs(n_a - n / 2) < 4 * math.sqrt(n / 4)


def test_channels_are_a_or_b_with_fraction_a_and_records_are_time_ordered() -> None:
    frac = 0.3
    res = simulate_multilevel_t3(MultiLevelParams.a_type(), duration_s=1.0, seed=13, fraction_a=frac)
    r = res.records
    assert r.channels.dtype == np.uint8 and set(np.unique(r.channels)) == {0, 1}
    sig = res.truth.photon_state >= 0
    n = int(sig.sum())
    n_a = int((r.channels[sig] == sim.CHANNEL_A).sum())
    assert abs(n_a - frac * n) < 4 * math.sqrt(n * frac * (1 - frac))
    assert np.all(np.diff(r.sync_index) >= 0)
    assert np.all(np.diff(r.sync_index * r.sync_period_ps + r.nanotime * r.resolution_ps) >= 0)
    assert r.nanotime.min() >= 0 and r.nanotime.max() < r.sync_period_ps // r.resolution_ps
    assert r.sync_index.max() * r.sync_period_ps < 1.0 * 1e12
    assert len(r) == res.truth.photon_state.size


# --------------------------------------------------------------------------- validation


def _two(**kw: object) -> MultiLevelParams:
    base: dict[str, object] = {
        "states": (EmissionState(1.0, 20.0), EmissionState(0.3, 6.0), EmissionState(0.1, 3.0)),
        "dwell": (DwellLaw.exponential(0.1),) * 3,
    }
    base.update(kw)
    return MultiLevelParams(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EmissionState(1.2, 20.0), "brightness"),
        (lambda: EmissionState(-0.1, 20.0), "brightness"),
        (lambda: EmissionState(0.5, 0.0), "lifetime_ns"),
        (lambda: DwellLaw.exponential(-1.0), "mean_s"),
        (lambda: DwellLaw.power_law(1.5, 1.0, 0.5), "t_max_s"),
        (lambda: DwellLaw.power_law(0.0), "k"),
        (lambda: DwellLaw("gamma", mean_s=1.0), "exponential' or 'power_law"),  # type: ignore[arg-type]
        (lambda: DwellLaw("exponential", mean_s=1.0, k=2.0), "only mean_s"),
        (lambda: _two(dwell=(DwellLaw.exponential(0.1),) * 2), "3 states but 2 dwell laws"),
        (lambda: _two(states=()), "states must be"),
        (lambda: _two(states=(EmissionState(0.0, 1.0),) * 3), "at least one state must emit"),
        (lambda: _two(transitions=((0, 1), (1, 0))), r"3×3 matrix .* got shape \(2, 2\)"),
        (lambda: _two(transitions=((0, 0.5, 0.4), (0.5, 0, 0.5), (0.5, 0.5, 0))), "row 0 .* sums to 0.9"),
        (lambda: _two(transitions=((0.2, 0.4, 0.4), (0.5, 0, 0.5), (0.5, 0.5, 0))), r"transitions\[0\]\[0\]"),
        (lambda: _two(transitions=((0, 1.5, -0.5), (0.5, 0, 0.5), (0.5, 0.5, 0))), ">= 0"),
        (lambda: _two(transitions=((0, 1, 0), (1, 0, 0), (0.5, 0.5, 0))), "can never be reached"),
        (lambda: _two(transitions=((0, 1), (1, 0, 0), (0.5, 0.5, 0))), "matrix"),
        (lambda: _two(start_state=3), "start_state"),
        (lambda: _two(states=[1.0, 0.5, 0.2]), r"states\[0\] must be a EmissionState"),
    ],
)
def test_bad_parameters_are_refused_with_a_useful_message(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"seed": -1}, "seed"),
        ({"repetition_rate_mhz": 0.0}, "repetition_rate_mhz"),
        ({"bright_detection_per_pulse": 1.5}, "bright_detection_per_pulse"),
        ({"background_cps": -1.0}, "background_cps"),
        ({"fraction_a": 1.1}, "fraction_a"),
        ({"nanotime_resolution_ps": 7}, r"multiple of nanotime_resolution_ps \(7\).*e\.g\. 1, 2, 4, 5, 8"),
        ({"irf_offset_ps": 60_000.0}, "irf_offset_ps"),
        ({"duration_s": 9000.0, "bright_detection_per_pulse": 1.0}, "would produce"),
    ],
)
def test_bad_acquisitions_are_refused_with_a_useful_message(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"duration_s": 1.0, "seed": 0}
    args.update(kwargs)
    with pytest.raises(InvalidValueError, match=message):
        simulate_multilevel_t3(MultiLevelParams.a_type(), **args)  # type: ignore[arg-type]


def test_too_many_periods_are_refused() -> None:
    fast = MultiLevelParams(
        states=(EmissionState(1.0, 20.0), EmissionState(0.3, 6.0)),
        dwell=(DwellLaw.exponential(1e-6), DwellLaw.exponential(1e-6)),
    )
    with pytest.raises(InvalidValueError, match="periods"):
        simulate_multilevel_t3(fast, duration_s=100.0, seed=0)
    with pytest.raises(InvalidValueError, match="params must be a MultiLevelParams"):
        simulate_multilevel_t3("a_type", duration_s=1.0, seed=0)  # type: ignore[arg-type]
