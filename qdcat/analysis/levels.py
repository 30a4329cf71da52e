"""Intensity levels of a blinking dot: its constant-rate segments grouped into a few levels.

Segments (photons, duration) in; per level the intensity with its error, dwell and visits out.

Method (Watkins & Yang, J. Phys. Chem. B 109, 617 (2005); Li & Yang, J. Phys. Chem. B 123,
689 (2019)): agglomerative hierarchical clustering merges, from one level per segment down to
one level, the two levels whose merge loses the least likelihood; for each number of levels
G up to ``max_levels`` that partition starts an expectation–maximisation fit of a G-level
mixture, and G is the one of lowest BIC (see :func:`_criterion`: the mixture's
classification likelihood, and a penalty for each level and for each change point the
levels keep). The likelihood of a segment of n photons over T at intensity I is that of
its intervals, ``n ln I - I T``, so the merge loss of two groups is ``f(a) + f(b) - f(a ∪ b)``
with ``f = n ln(n / T)``. For such a loss the cheapest merge is always between groups
adjacent in intensity (if ``I_a < I_b < I_c``, the pooled rate of a and c lies on one side
of I_b, and on that side merging with b costs less), so the clustering runs over the
segments sorted by rate with a heap of neighbour pairs, in O(n log n).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from qdcat.analysis.changepoints import ChangePoints
from qdcat.errors import InvalidValueError

__all__ = ["IntensityLevels", "group_levels", "levels_from_change_points"]

I64Array = npt.NDArray[np.int64]
F64Array = npt.NDArray[np.float64]

EM_MAX_ITERATIONS = 500
EM_TOLERANCE = 1e-9  # change of ln L between iterations, relative to the number of segments


@dataclass(frozen=True)
class IntensityLevels:
    """The levels of one trace, dimmest first, and which level each segment belongs to.

    ``intensity_err_cps`` is the Poisson error sqrt(photons) / dwell, scaled by
    sqrt(``dispersion``) when the level's segments scatter more than Poisson about it
    (quasi-Poisson; ``dispersion`` estimates the variance of the level's photon total over
    its Poisson variance, see :func:`_dispersion`): a segment that hides a missed short
    event, or a misplaced boundary, makes a level's photons less informative than their
    number says.

    ``visits[g]`` counts the maximal runs of consecutive segments at level g (the first and
    last run of the trace are cut by the acquisition). ``bic[G - 1]`` and
    ``log_likelihood[G - 1]`` belong to the G-level mixture (lower BIC is better);
    ``merge_loss[i]`` is the log-likelihood the i-th agglomerative merge gave up, from one
    level per segment down to one level: the hierarchy of 1 … n_segments levels.
    """

    intensity_cps: F64Array
    intensity_err_cps: F64Array
    photons: I64Array
    dwell_s: F64Array
    visits: I64Array
    dispersion: F64Array
    segment_level: I64Array
    bic: F64Array
    log_likelihood: F64Array
    merge_loss: F64Array
    max_levels: int

    @property
    def n_levels(self) -> int:
        return int(self.intensity_cps.shape[0])

    @property
    def dwell_fraction(self) -> F64Array:
        fraction: F64Array = self.dwell_s / self.dwell_s.sum()
        return fraction


def levels_from_change_points(change_points: ChangePoints, *, max_levels: int = 10) -> IntensityLevels:
    """:func:`group_levels` of the segments between a stream's change points."""
    return group_levels(
        change_points.segment_photons, change_points.segment_durations_s, max_levels=max_levels
    )


def group_levels(segment_photons: Any, segment_durations_s: Any, *, max_levels: int = 10) -> IntensityLevels:
    """Group consecutive constant-rate segments (photons, seconds; in time order) into levels."""
    n, dur = _segments(segment_photons, segment_durations_s)
    if isinstance(max_levels, bool) or not isinstance(max_levels, int | np.integer) or max_levels < 1:
        raise InvalidValueError(f"max_levels must be a positive integer, got {max_levels!r}")
    order, cuts, losses = _agglomerate(n, dur)
    g_max = min(int(max_levels), n.shape[0])
    fits = [_em(n, dur, _partition(order, cuts, g)) for g in range(1, g_max + 1)]
    log_l = np.array([f.log_likelihood for f in fits], np.float64)
    bic = np.array([_criterion(n, f) for f in fits], np.float64)
    return _summarise(n, dur, fits[int(np.argmin(bic))].labels, bic, log_l, losses, int(max_levels))


# -- validation ------------------------------------------------------------------------------


def _segments(photons: Any, durations: Any) -> tuple[F64Array, F64Array]:
    p = np.asarray(photons)
    d = np.asarray(durations)
    if p.ndim != 1 or d.ndim != 1 or p.shape != d.shape or p.shape[0] == 0:
        raise InvalidValueError(
            f"segment_photons and segment_durations_s must be 1-D, non-empty and of equal length, "
            f"got shapes {p.shape} and {d.shape}"
        )
    if not np.issubdtype(p.dtype, np.integer) or np.any(p < 0) or not np.any(p > 0):
        raise InvalidValueError(
            "segment_photons must be integers >= 0, not all 0 (the photon counts of the segments)"
        )
    try:
        d = d.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError("segment_durations_s must be numbers (seconds)") from None
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise InvalidValueError("segment_durations_s must be finite and > 0 (seconds)")
    return p.astype(np.float64), d


# -- agglomerative clustering ----------------------------------------------------------------


def _f(n: float, t: float) -> float:
    return n * math.log(n / t) if n > 0 else 0.0


def _agglomerate(n: F64Array, dur: F64Array) -> tuple[I64Array, I64Array, F64Array]:
    """Merge neighbours in rate order, cheapest first, down to one group.

    Returns the segments in rate order, the cut (position in that order where the right
    group starts) each merge removed, and each merge's loss of ln L, in merge order.
    """
    order = np.argsort(n / dur, kind="stable").astype(np.int64)
    size = order.shape[0]
    cnt = n[order].tolist()
    tim = dur[order].tolist()
    nxt = list(range(1, size + 1))  # group starting at i: next group starts at nxt[i]
    prv = list(range(-1, size - 1))
    version = [0] * size
    alive = [True] * size

    def loss(a: int, b: int) -> float:
        return _f(cnt[a], tim[a]) + _f(cnt[b], tim[b]) - _f(cnt[a] + cnt[b], tim[a] + tim[b])

    heap = [(loss(i, i + 1), i, i + 1, 0, 0) for i in range(size - 1)]
    heapq.heapify(heap)
    cuts: list[int] = []
    losses: list[float] = []
    while heap:
        cost, a, b, va, vb = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or version[a] != va or version[b] != vb:
            continue  # stale: one side has merged since
        cnt[a] += cnt[b]
        tim[a] += tim[b]
        alive[b] = False
        version[a] += 1
        nxt[a] = nxt[b]
        if nxt[a] < size:
            prv[nxt[a]] = a
        cuts.append(b)
        losses.append(max(cost, 0.0))
        if prv[a] >= 0:
            heapq.heappush(heap, (loss(prv[a], a), prv[a], a, version[prv[a]], version[a]))
        if nxt[a] < size:
            heapq.heappush(heap, (loss(a, nxt[a]), a, nxt[a], version[a], version[nxt[a]]))
    return order, np.array(cuts, np.int64), np.array(losses, np.float64)


def _partition(order: I64Array, cuts: I64Array, g: int) -> I64Array:
    """Group of each segment when the hierarchy has ``g`` groups (the last g-1 merges undone)."""
    kept = np.sort(cuts[cuts.shape[0] - (g - 1) :]) if g > 1 else np.empty(0, np.int64)
    label_in_order = np.searchsorted(kept, np.arange(order.shape[0]), side="right")
    labels = np.empty(order.shape[0], np.int64)
    labels[order] = label_in_order
    return labels


# -- mixture fit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mixture:
    rates: F64Array  # per level, counts/s
    weights: F64Array
    log_likelihood: float
    entropy: float  # of the segments' level memberships
    labels: I64Array  # most probable level of each segment


def _log_terms(n: F64Array, dur: F64Array, rates: F64Array, weights: F64Array) -> F64Array:
    """ln(w_g) + n_j ln I_g - I_g T_j for every segment j (rows) and level g (columns)."""
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    terms: F64Array = (
        log_w[None, :] + special.xlogy(n[:, None], rates[None, :]) - dur[:, None] * rates[None, :]
    )
    return terms


def _em(n: F64Array, dur: F64Array, labels: I64Array) -> _Mixture:
    """EM of a mixture of constant-rate levels over the segments, from a hard start."""
    g = int(labels.max()) + 1
    resp = np.zeros((n.shape[0], g))
    resp[np.arange(n.shape[0]), labels] = 1.0
    log_l = -math.inf
    for _ in range(EM_MAX_ITERATIONS):
        weights = resp.sum(axis=0) / n.shape[0]
        rates = (resp * n[:, None]).sum(axis=0) / np.maximum((resp * dur[:, None]).sum(axis=0), 1e-300)
        terms = _log_terms(n, dur, rates, weights)
        top = terms.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(terms - top).sum(axis=1))
        resp = np.exp(terms - norm[:, None])
        previous, log_l = log_l, float(norm.sum())
        if log_l - previous <= EM_TOLERANCE * n.shape[0]:
            break
    entropy = float(-np.sum(resp * np.log(np.maximum(resp, 1e-300))))
    return _Mixture(rates, weights, log_l, entropy, np.argmax(terms, axis=1).astype(np.int64))


def _criterion(n: F64Array, fit: _Mixture) -> float:
    """BIC of G levels for the photon stream, lower is better.

    ``-2 ln L + 2 H`` is the classification likelihood of the mixture (the ICL of Biernacki,
    Celeux & Govaert, IEEE TPAMI 22, 719 (2000)): a level that only splits a noisy level in
    two leaves segments of uncertain membership and gains nothing. Parameters: G
    intensities (sample size: photons), G - 1 weights (segments), and, as Watkins & Yang's
    ``n_cp ln N``, one change point per step between consecutive segments of different
    levels — so a level that only collects a few fragments cut off by false change
    points pays for their change points, which keeps those fragments from becoming levels.
    """
    g = fit.rates.shape[0]
    photons = float(n.sum())
    steps = int(np.count_nonzero(fit.labels[1:] != fit.labels[:-1]))
    penalty = (g + steps) * math.log(photons) + (g - 1) * math.log(n.shape[0])
    return float(-2.0 * fit.log_likelihood + 2.0 * fit.entropy + penalty)


def _dispersion(n: F64Array, dur: F64Array) -> float:
    """Variance of a level's photon total over its Poisson variance, from the scatter of its
    segments about the level's intensity (1 for a single segment).

    The residuals' squares are summed before dividing (not averaged as χ² per segment):
    the total's variance is the sum of the segments', and a short segment's misplaced
    boundary must not weigh as if it held the level's photons.
    """
    expected = dur * (n.sum() / dur.sum())
    poisson = float(expected.sum() - np.sum(expected**2) / expected.sum()) if n.sum() > 0 else 0.0
    if n.shape[0] < 2 or poisson <= 0.0:
        return 1.0
    return float(np.sum((n - expected) ** 2) / poisson)


def _summarise(
    n: F64Array,
    dur: F64Array,
    labels: I64Array,
    bic: F64Array,
    log_l: F64Array,
    losses: F64Array,
    max_levels: int,
) -> IntensityLevels:
    used = np.unique(labels)  # a mixture component may win no segment: it is no level
    photons = np.array([n[labels == u].sum() for u in used])
    dwell = np.array([dur[labels == u].sum() for u in used])
    rank = np.argsort(photons / dwell, kind="stable")
    relabel = np.empty(int(used.max()) + 1, np.int64)
    relabel[used[rank]] = np.arange(used.shape[0])
    level = relabel[labels]
    photons, dwell = photons[rank], dwell[rank]
    starts = np.concatenate([[True], level[1:] != level[:-1]])
    visits = np.bincount(level[starts], minlength=used.shape[0]).astype(np.int64)
    dispersion = np.array([_dispersion(n[level == g], dur[level == g]) for g in range(used.shape[0])])
    return IntensityLevels(
        intensity_cps=photons / dwell,
        intensity_err_cps=np.sqrt(np.maximum(photons, 1) * np.maximum(dispersion, 1.0)) / dwell,
        photons=photons.astype(np.int64),
        dwell_s=dwell,
        visits=visits,
        dispersion=dispersion,
        segment_level=level,
        bic=bic,
        log_likelihood=log_l,
        merge_loss=losses,
        max_levels=max_levels,
    )
