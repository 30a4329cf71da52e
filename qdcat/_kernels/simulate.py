"""Kernels of the photon-stream simulator (:mod:`qdcat.simulate`).

They trust their input (sorted int64 timestamps, matching lengths); the public
simulator functions validate everything before calling them.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

I64Array = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]


@numba.njit(cache=True, nogil=True)
def dead_time_keep(timestamps_ps: I64Array, dead_time_ps: int, keep: npt.NDArray[np.bool_]) -> int:
    """Mark in ``keep`` the events a non-paralysable detector registers; return their number.

    Sequential by nature (whether an event is lost depends on the last *kept*
    event), so numpy cannot vectorise it.
    """
    n_kept = 0
    last = np.int64(0)
    for i in range(timestamps_ps.shape[0]):
        t = timestamps_ps[i]
        if n_kept > 0 and t - last < dead_time_ps:
            keep[i] = False
        else:
            keep[i] = True
            last = t
            n_kept += 1
    return n_kept


@numba.njit(cache=True, nogil=True)
def merge_sorted(
    t1: I64Array, c1: U8Array, t2: I64Array, c2: U8Array, t_out: I64Array, c_out: U8Array
) -> None:
    """Merge two time-sorted event lists into ``t_out``/``c_out``; ties keep list 1 first.

    A linear merge instead of argsort: the inputs are already sorted, and at
    10^7 events the O(n) merge is several times faster and needs no index array.
    """
    i = 0
    j = 0
    k = 0
    n1 = t1.shape[0]
    n2 = t2.shape[0]
    while i < n1 and j < n2:
        if t2[j] < t1[i]:
            t_out[k] = t2[j]
            c_out[k] = c2[j]
            j += 1
        else:
            t_out[k] = t1[i]
            c_out[k] = c1[i]
            i += 1
        k += 1
    while i < n1:
        t_out[k] = t1[i]
        c_out[k] = c1[i]
        i += 1
        k += 1
    while j < n2:
        t_out[k] = t2[j]
        c_out[k] = c2[j]
        j += 1
        k += 1
