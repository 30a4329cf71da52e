"""Time tags of a dot → count rate and photostability: the rate at the start and at the end.

The worked example of docs/analyses.md ("adding an analysis"): one module and
one Alembic revision. A dot that bleaches (or brightens) under the laser shows
an end/start rate ratio away from 1; the study's "very good photostability" is
the population of that ratio.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from qdcat.analyses import _io
from qdcat.analyses._base import (
    Acquisition,
    Analysis,
    Column,
    Computed,
    DrawInput,
    Param,
    Params,
    QcRule,
    Target,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.figure import Figure

    from qdcat.store.timetags import TimeTagStore


def applies(a: Acquisition) -> str | None:
    if a.data_kind != "timetags":
        return f"no photon time tags (its data are {a.data_kind})"
    if a.dot_id is None:
        return "not on a dot"
    if not a.detectors or a.photons == 0:
        return "no detector photons"
    return None


def fetch(store: TimeTagStore, target: Target, params: Params) -> npt.NDArray[np.int64]:
    """The trace of every detector in bins of ``bin_s`` (bounded memory: one chunk at a time)."""
    return _io.trace(store, target.main, bin_ps=round(params["bin_s"] * 1e12))


def compute(counts: npt.NDArray[np.int64], target: Target, params: Params) -> Computed:
    import numpy as np

    from qdcat.analysis.rates import count_rate_ratio

    res = count_rate_ratio(counts, params["bin_s"], edge_fraction=params["edge_fraction"])
    return Computed(
        {
            "count_rate_cps": res.rate_cps,
            "count_rate_cps_err": res.rate_cps_err,
            "photons": int(np.sum(counts)),
            "trace_duration_s": counts.size * params["bin_s"],
            "rate_start_cps": res.start_cps,
            "rate_end_cps": res.end_cps,
            "end_start_ratio": res.ratio,
            "end_start_ratio_err": res.ratio_err,
            "flags": res.flags,
        },
        {"counts": counts},
    )


def draw(d: DrawInput) -> dict[str, Figure]:
    import numpy as np

    from qdcat import plots

    r, counts = d.result, np.asarray(d.arrays["counts"], dtype=np.float64)
    bin_s = float(d.params["bin_s"])
    t = np.arange(counts.size) * bin_s
    end = counts.size * bin_s
    k = max(1, round(float(d.params["edge_fraction"]) * counts.size)) * bin_s
    fit = plots.Fit(
        [0.0, k, math.nan, end - k, end],  # the NaN breaks the line between the two levels
        [r["rate_start_cps"], r["rate_start_cps"], math.nan, r["rate_end_cps"], r["rate_end_cps"]],
        "mean rate at start and end",
        lines=(
            f"rate = {plots.pm(r['count_rate_cps'], r['count_rate_cps_err'], 'counts/s')}",
            f"end/start = {plots.pm(r['end_start_ratio'], r['end_start_ratio_err'])}",
        ),
        flags=tuple(str(r.get("flags") or "").split()),
    )
    return {"brightness": plots.plot_rate(t, counts / bin_s, fit, title=f"Count rate · {d.title}")}


ANALYSIS = Analysis(
    name="brightness",
    version="1",
    order=55,
    summary="count rate of a dot and its photostability (end/start rate ratio)",
    applies_to="every time-tag acquisition on a dot (all detectors summed)",
    method=(
        "Photons of every detector binned (bin_s). Rate = photons/duration (Poisson error). The mean "
        "rates of the first and the last edge_fraction of the acquisition give end/start with its "
        "Poisson error; 'bleaching'/'brightening' when the ratio differs from 1 by more than 5σ."
    ),
    params=(
        Param("bin_s", float, 0.1, "trace bin width", "s", lo=1e-4, hi=100.0),
        Param("edge_fraction", float, 0.1, "part of the acquisition averaged at each end", lo=0.01, hi=0.5),
    ),
    columns=(
        Column(
            "count_rate_cps", "float", "counts/s", "mean count rate of all detectors", err=True, dots=True
        ),
        Column("photons", "bigint", "counts", "photons of all detectors"),
        Column("trace_duration_s", "float", "s", "length of the trace"),
        Column("rate_start_cps", "float", "counts/s", "mean rate over the first edge_fraction"),
        Column("rate_end_cps", "float", "counts/s", "mean rate over the last edge_fraction"),
        Column(
            "end_start_ratio",
            "float",
            "",
            "end/start rate ratio (1 = photostable)",
            err=True,
            nullable=True,
            dots=True,
        ),
    ),
    flags={
        "bleaching": "the rate fell by more than 5σ between start and end",
        "brightening": "the rate rose by more than 5σ between start and end",
        "short_trace": "fewer than 10 bins: no start/end ratio",
    },
    qc_rules=(QcRule("short_trace", ("end_start_ratio",), "fewer than 10 bins"),),
    applies=applies,
    fetch=fetch,
    compute=compute,
    draw=draw,
    headline=("count_rate_cps", "end_start_ratio"),
)
