"""Intensity levels recovered from simulated blinking traces with known levels, their errors
calibrated over seeds, the clustering against a naive one, and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qdcat.analysis.changepoints import find_change_points
from qdcat.analysis.levels import IntensityLevels, group_levels, levels_from_change_points
from qdcat.errors import InvalidValueError
from tests.analysis.test_changepoints import telegraph

TRACES = {
    # name: (levels in counts/s, mean dwell in s per level)
    "always on": ([3e4], [1.0]),
    "two levels": ([3e3, 3e4], [0.05, 0.05]),
    "three levels": ([2e3, 1.2e4, 3e4], [0.05, 0.05, 0.05]),
    "four levels": ([2e3, 9e3, 2e4, 4e4], [0.05, 0.05, 0.05, 0.05]),
    "mostly off": ([5e2, 2.5e4], [0.2, 0.01]),  # background between rare short bursts
}
SEEDS = range(20)


def levels_of(name: str, seed: int) -> tuple[IntensityLevels, np.ndarray]:
    rates, dwell = TRACES[name]
    t, _, _ = telegraph(rates, dwell, 2.0, np.random.default_rng(seed))
    return levels_from_change_points(find_change_points(t)), np.array(rates)


@pytest.fixture(scope="module")
def results() -> dict[str, list[tuple[IntensityLevels, np.ndarray]]]:
    return {name: [levels_of(name, seed) for seed in SEEDS] for name in TRACES}


@pytest.mark.parametrize("name", list(TRACES))
def test_the_number_of_levels_is_recovered(
    results: dict[str, list[tuple[IntensityLevels, np.ndarray]]], name: str
) -> None:
    counts = [lv.n_levels for lv, _ in results[name]]
    expected = len(TRACES[name][0])
    assert sum(c == expected for c in counts) >= 18, f"{name}: levels found {counts}"


@pytest.mark.parametrize("name", list(TRACES))
def test_level_intensities_are_the_true_ones(
    results: dict[str, list[tuple[IntensityLevels, np.ndarray]]], name: str
) -> None:
    for lv, rates in results[name]:
        if lv.n_levels == rates.shape[0]:
            np.testing.assert_allclose(lv.intensity_cps, rates, rtol=0.1)
            assert np.all(np.abs(lv.intensity_cps - rates) < 5 * lv.intensity_err_cps)


@pytest.mark.parametrize("name", list(TRACES))
def test_intensity_errors_are_calibrated_over_seeds(
    results: dict[str, list[tuple[IntensityLevels, np.ndarray]]], name: str
) -> None:
    """z = (I - I_true) / σ over the seeds where the levels were all found: SD 0.8–1.25."""
    z = np.concatenate(
        [
            (lv.intensity_cps - rates) / lv.intensity_err_cps
            for lv, rates in results[name]
            if lv.n_levels == rates.shape[0]
        ]
    )
    assert z.shape[0] >= 18
    assert 0.8 <= float(np.std(z, ddof=1)) <= 1.25, f"{name}: z SD {np.std(z, ddof=1):.2f}"
    assert abs(float(np.mean(z))) < 0.5, f"{name}: z mean {np.mean(z):.2f}"


def test_dwell_and_on_fraction_of_a_mostly_off_dot(
    results: dict[str, list[tuple[IntensityLevels, np.ndarray]]],
) -> None:
    fractions = [lv.dwell_fraction[1] for lv, _ in results["mostly off"] if lv.n_levels == 2]
    # Mean dwell 0.2 s off, 0.01 s on: on 1/21 of the time.
    assert np.mean(fractions) == pytest.approx(1 / 21, rel=0.25)
    for lv, _ in results["mostly off"]:
        assert lv.dwell_s.sum() == pytest.approx(2.0, rel=0.02)
        assert abs(int(lv.visits[0]) - int(lv.visits[1])) <= 1  # the levels alternate


def test_an_always_on_dot_is_one_level_of_all_its_photons(
    results: dict[str, list[tuple[IntensityLevels, np.ndarray]]],
) -> None:
    for lv, _ in results["always on"]:
        if lv.n_levels == 1:
            assert lv.visits.tolist() == [1]
            assert np.all(lv.segment_level == 0)


# -- the clustering itself ---------------------------------------------------------------------


def naive_hierarchy_losses(photons: np.ndarray, durations: np.ndarray) -> list[float]:
    """Merge the pair of groups (any two, not only neighbours) that loses least ln L, O(n^3)."""

    def f(n: float, t: float) -> float:
        return n * math.log(n / t) if n > 0 else 0.0

    groups = [(float(n), float(t)) for n, t in zip(photons, durations, strict=True)]
    losses = []
    while len(groups) > 1:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                (ni, ti), (nj, tj) = groups[i], groups[j]
                loss = f(ni, ti) + f(nj, tj) - f(ni + nj, ti + tj)
                if best is None or loss < best[0]:
                    best = (loss, i, j)
        assert best is not None
        loss, i, j = best
        merged = (groups[i][0] + groups[j][0], groups[i][1] + groups[j][1])
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [merged]
        losses.append(max(loss, 0.0))
    return losses


@pytest.mark.parametrize("seed", range(5))
def test_neighbour_merges_give_the_full_agglomerative_hierarchy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    durations = rng.uniform(0.001, 0.1, 25)
    photons = rng.poisson(durations * rng.choice([2e3, 1e4, 3e4], 25)).astype(np.int64) + 1
    lv = group_levels(photons, durations)
    np.testing.assert_allclose(
        lv.merge_loss, naive_hierarchy_losses(photons, durations), rtol=1e-9, atol=1e-9
    )


def test_visits_dwell_and_assignment_by_hand() -> None:
    # dim, bright, bright, dim, bright: levels 0/1, three bright segments in two visits
    photons = np.array([100, 3000, 2900, 110, 3100])
    durations = np.array([0.1, 0.1, 0.1, 0.1, 0.1])
    lv = group_levels(photons, durations)
    assert lv.n_levels == 2
    assert lv.segment_level.tolist() == [0, 1, 1, 0, 1]
    assert lv.visits.tolist() == [2, 2]
    np.testing.assert_allclose(lv.dwell_s, [0.2, 0.3])
    assert lv.photons.tolist() == [210, 9000]
    np.testing.assert_allclose(lv.intensity_cps, [1050.0, 30000.0])
    assert lv.bic.shape == lv.log_likelihood.shape == (5,)
    assert lv.merge_loss.shape == (4,)
    assert int(np.argmin(lv.bic)) == 1


def test_a_photon_free_gap_joins_the_dim_level() -> None:
    lv = group_levels(np.array([5000, 0, 5100, 1, 4900]), np.array([0.05, 0.01, 0.05, 0.02, 0.05]))
    assert lv.n_levels == 2
    assert lv.segment_level.tolist() == [1, 0, 1, 0, 1]
    assert lv.intensity_cps[0] == pytest.approx(1 / 0.03)


@pytest.mark.parametrize(
    ("photons", "durations", "kwargs", "message"),
    [
        ([1, 2], [0.1], {}, "equal length"),
        ([], [], {}, "non-empty"),
        ([1.5, 2], [0.1, 0.1], {}, "integers"),
        ([-1, 2], [0.1, 0.1], {}, "integers >= 0"),
        ([0, 0], [0.1, 0.1], {}, "not all 0"),
        ([1, 2], [0.1, 0.0], {}, "> 0"),
        ([1, 2], [0.1, np.nan], {}, "finite"),
        ([1, 2], [0.1, 0.1], {"max_levels": 0}, "max_levels"),
    ],
)
def test_bad_segments_are_refused(
    photons: list[float], durations: list[float], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        group_levels(np.asarray(photons), np.asarray(durations), **kwargs)
