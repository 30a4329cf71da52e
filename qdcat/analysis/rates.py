"""Count rates of a binned trace: the mean rate and its change from the start to the end of an acquisition."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qdcat.analysis._validate import array_1d, finite_scalar
from qdcat.errors import InvalidValueError

__all__ = ["RateRatio", "count_rate_ratio"]

RATIO_SIGMAS = 5.0  # |end/start − 1| beyond this many σ is flagged


@dataclass(frozen=True)
class RateRatio:
    """Mean rate (Poisson error) and the ratio of the mean rates at the end and at the start."""

    rate_cps: float
    rate_cps_err: float
    start_cps: float
    end_cps: float
    ratio: float  # NaN when the trace is too short or the start holds no photon
    ratio_err: float
    flags: tuple[str, ...]


def count_rate_ratio(counts: Any, bin_s: float, *, edge_fraction: float = 0.1) -> RateRatio:
    """Rates of a trace of photon counts per bin of ``bin_s`` seconds.

    The start and the end are the first and last ``edge_fraction`` of the bins
    (at least one bin each). Errors are Poisson: √N for each count.
    """
    c = array_1d("counts", counts, min_size=1, nonnegative=True)
    width = finite_scalar("bin_s", bin_s, lo=0.0, lo_open=True)
    frac = finite_scalar("edge_fraction", edge_fraction, lo=0.0, hi=0.5, lo_open=True)
    total = float(c.sum())
    if total == 0:
        raise InvalidValueError("the trace holds no photons; check the detector channels")
    duration = c.size * width
    flags: list[str] = []
    k = max(1, round(frac * c.size))
    n_start, n_end = float(c[:k].sum()), float(c[-k:].sum())
    edge_s = k * width
    ratio = ratio_err = math.nan
    if c.size < 10:
        flags.append("short_trace")
    elif n_start > 0:
        ratio = n_end / n_start
        ratio_err = ratio * math.sqrt(1.0 / n_start + (1.0 / n_end if n_end > 0 else 1.0 / n_start))
        if abs(ratio - 1.0) > RATIO_SIGMAS * ratio_err:
            flags.append("bleaching" if ratio < 1.0 else "brightening")
    return RateRatio(
        rate_cps=total / duration,
        rate_cps_err=math.sqrt(total) / duration,
        start_cps=n_start / edge_s,
        end_cps=n_end / edge_s,
        ratio=ratio,
        ratio_err=ratio_err,
        flags=tuple(flags),
    )
