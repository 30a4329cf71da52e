"""Kernels of photon-by-photon change-point detection (Watkins & Yang, J. Phys. Chem. B 109, 617 (2005)).

They trust their input (non-decreasing int64 ps timestamps, indices inside the array, a
``klogk`` table long enough); :mod:`qdcat.analysis.changepoints` validates before calling.
A segment is the photons ``a..b`` of ``t``: ``n = b - a`` inter-photon intervals over
``T = t[b] - t[a]``; a split at ``k`` gives the first part the intervals ending at photons
``a+1..a+k``. Its log-likelihood ratio against one constant rate (Poisson process) is

    ln L_k = k ln(k / V_k) + (n-k) ln((n-k) / (1 - V_k)) - n ln n,   V_k = (t[a+k] - t[a]) / T,

written below as ``g(k) + g(n-k) - g(n) + n ln T - k ln s - (n-k) ln(T - s)`` with
``g(x) = x ln x`` read from a table, so each k costs two logarithms.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

I64Array = npt.NDArray[np.int64]
F64Array = npt.NDArray[np.float64]

_NEG_INF = -math.inf


@numba.njit(cache=True, nogil=True)
def first_decrease(t: I64Array) -> int:
    """Index of the first timestamp smaller than its predecessor, or -1 if sorted."""
    for i in range(1, t.shape[0]):
        if t[i] < t[i - 1]:
            return i
    return -1


# fdlibm's log (e_log.c): ln x = k ln 2 + ln m with m in [√2/2, √2), ln m from a minimax
# polynomial in s = (m - 1) / (m + 1). Written without branches and with the exponent taken
# from the bits, so that LLVM vectorises it; the libm call numba makes cannot be, and two
# logarithms per photon are the whole cost of the scan (4x faster here, within 1 ulp).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF_BITS = 0x3FE6A09E00000000
_ONE_BITS = 0x3FF0000000000000
_MANTISSA = 0x000FFFFFFFFFFFFF
_BLOCK = 512  # photons per vectorised block: its buffers stay in L1


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _log_inplace(x: F64Array, scratch: F64Array, n: int) -> None:
    """``x[:n] = ln(x[:n])`` for positive normal numbers (1 ps and more here)."""
    xi = x.view(np.int64)
    si = scratch.view(np.int64)
    for i in range(n):
        hx = xi[i] + (_ONE_BITS - _SQRT_HALF_BITS)
        si[i] = (hx & _MANTISSA) + _SQRT_HALF_BITS
        xi[i] = (hx >> 52) - 1023
    for i in range(n):
        k = float(xi[i])
        f = scratch[i] - 1.0
        hfsq = 0.5 * f * f
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        x[i] = k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def llr_max(t: I64Array, a: int, b: int, m: int, klogk: F64Array) -> tuple[int, float]:
    """(k, 2 ln L_k) at the maximum over ``m <= k <= n - m``; (-1, -inf) if no split fits.

    A k whose split time coincides with an end of the segment (tied timestamps) has no
    finite ratio and is skipped. The first of equal maxima wins.
    """
    n = b - a
    if n < 2 * m:
        return -1, _NEG_INF
    t0 = t[a]
    span = t[b] - t0
    if span <= 0:
        return -1, _NEG_INF
    tot = float(span)
    log_s = np.empty(_BLOCK)
    log_r = np.empty(_BLOCK)
    scratch = np.empty(_BLOCK)
    best = _NEG_INF
    k_best = -1
    first = m
    last = n - m
    while first <= last:
        count = min(_BLOCK, last - first + 1)
        for j in range(count):
            s = float(max(t[a + first + j] - t0, 1))  # 1 ps stands in for a tie; masked below
            log_s[j] = s
            log_r[j] = max(tot - s, 1.0)
        _log_inplace(log_s, scratch, count)
        _log_inplace(log_r, scratch, count)
        for j in range(count):
            k = first + j
            v = klogk[k] + klogk[n - k] - k * log_s[j] - (n - k) * log_r[j]
            d = t[a + k] - t0
            if v > best and 0 < d < span:
                best = v
                k_best = k
        first += count
    if k_best < 0:
        return -1, _NEG_INF
    return k_best, 2.0 * (best - klogk[n] + n * math.log(tot))


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _llr_at(t: I64Array, a: int, b: int, k: int, klogk: F64Array) -> float:
    """2 ln L_k of one split (-inf where undefined); for the confidence scans, off the hot loop."""
    n = b - a
    tot = float(t[b] - t[a])
    s = float(t[a + k] - t[a])
    if s <= 0.0 or s >= tot:
        return _NEG_INF
    v = klogk[k] + klogk[n - k] - k * math.log(s) - (n - k) * math.log(tot - s)
    return float(2.0 * (v - klogk[n] + n * math.log(tot)))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _critical(n: int, crit_log_n: F64Array, crit_value: F64Array) -> float:
    return float(np.interp(math.log(n), crit_log_n, crit_value))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def binary_segmentation(
    t: I64Array,
    lo: int,
    hi: int,
    m: int,
    klogk: F64Array,
    crit_log_n: F64Array,
    crit_value: F64Array,
    out: I64Array,
) -> int:
    """Split ``lo..hi`` recursively at the most likely change point while it is significant.

    Writes the change points (photon indices, ascending) to ``out`` and returns their
    number; ``out`` needs room for ``(hi - lo) // m`` of them. An explicit stack instead of
    recursion: the depth can reach the number of change points.
    """
    cap = (hi - lo) // max(m, 1) + 2
    stack_a = np.empty(cap, np.int64)
    stack_b = np.empty(cap, np.int64)
    stack_a[0] = lo
    stack_b[0] = hi
    top = 1
    n_cp = 0
    while top > 0:
        top -= 1
        a = stack_a[top]
        b = stack_b[top]
        k, v = llr_max(t, a, b, m, klogk)
        if k < 0 or v <= _critical(b - a, crit_log_n, crit_value):
            continue
        c = a + k
        out[n_cp] = c
        n_cp += 1
        stack_a[top] = c
        stack_b[top] = b
        stack_a[top + 1] = a
        stack_b[top + 1] = c
        top += 2
    out[:n_cp].sort()
    return n_cp


@numba.njit(cache=True, nogil=True, error_model="numpy")
def recheck(
    t: I64Array,
    lo: int,
    hi: int,
    cps: I64Array,
    n_cp: int,
    m: int,
    klogk: F64Array,
    crit_log_n: F64Array,
    crit_value: F64Array,
) -> int:
    """Test each change point again between its neighbours; drop it or move it to the maximum.

    A point is re-tested whenever a neighbour changed, until none changes. Each move raises
    the likelihood of the whole segmentation (coordinate ascent) and each drop removes a
    point, so it ends; the cap on tests only guards against exact floating-point ties.
    Returns the new number of change points (``cps[:n]``, ascending).
    """
    dirty = np.ones(n_cp, np.bool_)
    budget = 50 * n_cp + 10
    i = 0
    while i < n_cp and budget > 0:
        if not dirty[i]:
            i += 1
            continue
        budget -= 1
        dirty[i] = False
        prev = lo if i == 0 else cps[i - 1]
        nxt = hi if i == n_cp - 1 else cps[i + 1]
        k, v = llr_max(t, prev, nxt, m, klogk)
        if k < 0 or v <= _critical(nxt - prev, crit_log_n, crit_value):
            for j in range(i, n_cp - 1):
                cps[j] = cps[j + 1]
                dirty[j] = dirty[j + 1]
            n_cp -= 1
            if i > 0:
                dirty[i - 1] = True
            if i < n_cp:
                dirty[i] = True
            i = max(i - 1, 0)
            continue
        if prev + k != cps[i]:
            cps[i] = prev + k
            if i > 0:
                dirty[i - 1] = True
            if i + 1 < n_cp:
                dirty[i + 1] = True
            i = max(i - 1, 0)
            continue
        i += 1
    return n_cp


@numba.njit(cache=True, nogil=True, error_model="numpy")
def confidence_bounds(
    t: I64Array,
    lo: int,
    hi: int,
    cps: I64Array,
    n_cp: int,
    klogk: F64Array,
    drop_log_rho: F64Array,
    drop_value: F64Array,
    out_lo: I64Array,
    out_hi: I64Array,
) -> None:
    """Photon indices bounding each change point's confidence interval in time.

    Between its neighbours, the region of splits whose 2 ln L is within ``drop`` of the
    change point's own, grown outwards from it while contiguous (Watkins & Yang's region);
    ``drop`` is read from the table at the contrast ρ ≥ 1 of the two adjacent segments.
    A split at k puts the switch within one interval of photon k, so the interval runs
    from photon ``k_lo - 1`` to photon ``k_hi + 1``.
    """
    for i in range(n_cp):
        prev = lo if i == 0 else cps[i - 1]
        nxt = hi if i == n_cp - 1 else cps[i + 1]
        c = cps[i]
        n = nxt - prev
        k0 = c - prev
        t_left = float(t[c] - t[prev])
        t_right = float(t[nxt] - t[c])
        rho = 1.0
        if t_left > 0.0 and t_right > 0.0:
            rho = (k0 / t_left) / ((n - k0) / t_right)
            if rho < 1.0:
                rho = 1.0 / rho
        drop = float(np.interp(math.log(rho), drop_log_rho, drop_value))
        threshold = _llr_at(t, prev, nxt, k0, klogk) - drop
        k = k0
        while k > 1 and _llr_at(t, prev, nxt, k - 1, klogk) >= threshold:
            k -= 1
        out_lo[i] = prev + k - 1
        k = k0
        while k < n - 1 and _llr_at(t, prev, nxt, k + 1, klogk) >= threshold:
            k += 1
        out_hi[i] = prev + k + 1


# -- Monte Carlo of the null distribution and of the location error -----------------------


@numba.njit(cache=True, nogil=True, error_model="numpy")
def null_max_llr(n: int, min_photons: I64Array, n_rep: int, seed: int, out: F64Array) -> None:
    """Max of 2 ln L_k over ``m <= k <= n - m`` for each ``m`` of ``min_photons`` (ascending),
    on ``n_rep`` constant-rate streams of ``n`` intervals: ``out`` has shape (n_rep, len(m)).

    Every trimming comes from the same stream, so the table's columns are consistent.
    Entries whose ``2m > n`` are -inf (no split fits).
    """
    np.random.seed(seed)
    n_m = min_photons.shape[0]
    # The most restrictive trimming each k still satisfies: k may serve every m <= min(k, n-k).
    col = np.full(n + 1, -1, np.int64)
    for k in range(1, n):
        e = min(k, n - k)
        j = -1
        while j + 1 < n_m and min_photons[j + 1] <= e:
            j += 1
        col[k] = j
    g = np.zeros(n + 1)
    for k in range(1, n):
        g[k] = k * math.log(k) + (n - k) * math.log(n - k)
    s = np.empty(n + 1)
    best = np.empty(n_m)
    for r in range(n_rep):
        acc = 0.0
        s[0] = 0.0
        for i in range(1, n + 1):
            acc += np.random.exponential()
            s[i] = acc
        tot = acc
        best[:] = _NEG_INF
        for k in range(1, n):
            j = col[k]
            if j < 0:
                continue
            v = g[k] - k * math.log(s[k]) - (n - k) * math.log(tot - s[k])
            if v > best[j]:
                best[j] = v
        for j in range(n_m - 2, -1, -1):
            best[j] = max(best[j], best[j + 1])
        c0 = n * math.log(tot) - n * math.log(n)
        for j in range(n_m):
            out[r, j] = 2.0 * (best[j] + c0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def location_drops(rho: float, n_side: int, n_rep: int, seed: int, out: F64Array) -> None:
    """For one true switch (rate 1, then ``rho``) with ~``n_side`` photons on each side, the
    smallest drop of 2 ln L below its maximum that lets the contiguous region around the
    estimate reach a correct split (the photon just before or just after the switch).

    Its quantiles are the drops that give confidence intervals their nominal coverage.
    """
    np.random.seed(seed)
    cap = 4 * n_side + 64
    ts = np.empty(cap, np.int64)
    prof = np.empty(cap)
    kl = np.empty(cap + 1)
    kl[0] = 0.0
    for k in range(1, cap + 1):
        kl[k] = k * math.log(k)
    unit = 1.0e6  # ps per mean interval before the switch: integer times as in real data
    tau = n_side * unit
    for r in range(n_rep):
        t = 0.0
        ts[0] = 0
        n = 0
        j0 = 0
        after = 0
        while after < n_side and n + 1 < cap:
            dt = np.random.exponential() * unit
            if t < tau and t + dt >= tau:
                t = tau + np.random.exponential() * unit / rho  # memoryless at the switch
            elif t >= tau:
                t += dt / rho
            else:
                t += dt
            n += 1
            ts[n] = np.int64(t)
            if t < tau:
                j0 = n
            else:
                after += 1
        k_hat = -1
        best = _NEG_INF
        for k in range(1, n):
            v = _llr_at(ts, 0, n, k, kl)
            prof[k] = v
            if v > best:
                best = v
                k_hat = k
        lo_k, hi_k = (k_hat, j0) if k_hat <= j0 else (j0 + 1, k_hat)
        worst = best
        for k in range(lo_k, hi_k + 1):
            if 1 <= k < n:
                worst = min(worst, prof[k])
        out[r] = best - worst
