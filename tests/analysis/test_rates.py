"""Count rate and photostability of a trace, against the simulated truth and numpy on the same counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qdcat.analysis.rates import count_rate_ratio
from qdcat.errors import InvalidValueError


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_dot_has_ratio_one_within_its_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(500.0, 600)  # 5000 counts/s in 0.1 s bins
    r = count_rate_ratio(counts, 0.1)
    assert r.rate_cps == pytest.approx(counts.sum() / 60.0)
    assert r.rate_cps_err == pytest.approx(math.sqrt(counts.sum()) / 60.0)
    assert abs(r.rate_cps - 5000.0) < 5 * r.rate_cps_err
    assert r.start_cps == pytest.approx(counts[:60].sum() / 6.0) and r.end_cps == pytest.approx(
        counts[-60:].sum() / 6.0
    )
    assert abs(r.ratio - 1.0) < 5 * r.ratio_err and r.flags == ()


def test_bleaching_and_brightening_are_flagged() -> None:
    rng = np.random.default_rng(1)
    fading = rng.poisson(1000.0 * np.exp(-np.arange(600) / 300.0))
    r = count_rate_ratio(fading, 0.1)
    assert r.flags == ("bleaching",)
    # truth: mean of exp(-t/300) over the last vs the first 60 bins
    t = np.arange(600)
    truth = np.exp(-t[-60:] / 300.0).mean() / np.exp(-t[:60] / 300.0).mean()
    assert abs(r.ratio - truth) < 5 * r.ratio_err
    assert count_rate_ratio(fading[::-1], 0.1).flags == ("brightening",)


def test_short_and_empty_traces() -> None:
    r = count_rate_ratio([5, 6, 7], 0.1)
    assert math.isnan(r.ratio) and r.flags == ("short_trace",)
    with pytest.raises(InvalidValueError, match="no photons"):
        count_rate_ratio(np.zeros(20), 0.1)
    with pytest.raises(InvalidValueError, match="edge_fraction"):
        count_rate_ratio(np.ones(20), 0.1, edge_fraction=0.9)
