"""Counting kernels used on the ingest path."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True, nogil=True)
def channel_histogram(channels: npt.NDArray[np.uint8], out: npt.NDArray[np.int64]) -> None:
    """Add the count of each uint8 channel value to ``out`` (length 256).

    np.bincount converts uint8 to intp first (an 8x larger temporary) and runs
    at ~50 M events/s here; this loop runs at memory speed.
    """
    for i in range(channels.shape[0]):
        out[channels[i]] += 1
