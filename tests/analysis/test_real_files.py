"""The analyses on real instrument files (shared/data/timetags), against independent references.

No ground truth exists for these files; what is checked is that the histograms equal a
plain numpy computation on the same decoded events, and that the fits run, converge and
say what the SOURCES.md description of each file leads one to expect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdcat.analysis.blinking import analyze_blinking
from qdcat.analysis.fits import fit_decay, g2_pulsed
from qdcat.analysis.histograms import intensity_trace, pair_histogram, tcspc_t3
from qdcat.ingest.ptu import open_ptu


def _events(path: Path):  # type: ignore[no-untyped-def]
    blocks = list(open_ptu(path).iter_blocks())
    t = np.concatenate([b.timestamps_ps for b in blocks])
    c = np.concatenate([b.channels for b in blocks])
    n = np.concatenate([b.nanotimes for b in blocks]) if blocks[0].nanotimes is not None else None
    return open_ptu(path).header, t, c, n


@pytest.mark.parametrize("name", ["psd_hydraharp_v20_t3.ptu", "tttrlib_mt200_hh400_beads.ptu"])
def test_decay_of_real_t3_files(shared_timetags: Path, name: str) -> None:
    header, _, c, nt = _events(shared_timetags / name)
    res_ps = header.nanotime_resolution_ps
    hist = tcspc_t3(c, nt, nanotime_resolution_ps=res_ps)
    ch0 = hist.counts[hist.channels.index(0)]
    assert np.array_equal(ch0, np.bincount(nt[c == 0], minlength=ch0.size))  # independent reference
    # stop the fit before the end of the sync period, where the TAC range ends
    period_ns = 1e3 / (header.sync_rate_hz / 1e6)
    fit = fit_decay(hist.edges_ps / 1e3, ch0, fit_stop_ns=0.8 * min(period_ns, hist.edges_ps[-1] / 1e3))
    assert fit.converged
    assert 0.1 < fit.lifetime_ns < 50  # dye / bead fluorescence: ns lifetimes
    assert 0 < fit.lifetime_ns_err < 0.2 * fit.lifetime_ns
    assert fit.decay_rate_per_us == pytest.approx(1e3 / fit.lifetime_ns, rel=1e-9)


def test_pulse_comb_of_a_classical_source_has_no_dip(shared_timetags: Path) -> None:
    """psd_picoharp_v30_t2: an 80 MHz pulse comb with no dip at τ = 0 (SOURCES.md)."""
    _, t, c, _ = _events(shared_timetags / "psd_picoharp_v30_t2.ptu")
    h = pair_histogram(t, c, 0, 1, window_ps=50_000, bin_ps=100)
    # independent reference for the histogram: all pair delays by searchsorted
    ta, tb = t[c == 0], t[c == 1]
    lo = np.searchsorted(tb, ta - 50_000, side="left")
    hi = np.searchsorted(tb, ta + 50_000, side="left")
    idx = np.repeat(np.arange(ta.size), hi - lo)
    pos = (
        np.arange(int((hi - lo).sum()))
        - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo)
        + np.repeat(lo, hi - lo)
    )
    delays = tb[pos] - ta[idx]
    assert np.array_equal(h.counts, np.bincount((delays + 50_000) // 100, minlength=1000)[:1000])
    centres_ns = (h.edges_ps[:-1] + 50) / 1e3
    # the comb's zero-delay peak is wherever the cable delay put it: take the tallest peak
    centre = centres_ns[np.argmax(np.convolve(h.counts, np.ones(21), mode="same"))]
    g = g2_pulsed(centres_ns, h.counts, period_ns=12.5, n_side_peaks=3, center_ns=float(centre))
    assert abs(g.g2_zero - 1) < 5 * g.g2_zero_err + 0.1  # classical light: no antibunching


def test_blinking_analysis_on_a_real_trace(shared_timetags: Path) -> None:
    _, t, c, _ = _events(shared_timetags / "psd_picoharp_v30_t2.ptu")
    tr = intensity_trace(t, c, bin_ps=10_000_000_000, channels_of_interest=(0, 1))
    total = tr.total
    assert int(total.sum()) == int(np.sum((c == 0) | (c == 1)))
    ref = np.bincount(t[c < 2] // 10_000_000_000)
    assert np.array_equal(total[: ref.size], ref)
    res = analyze_blinking(total, 0.01)
    assert 0 <= res.on_fraction <= 1
    assert res.threshold_method and res.threshold_counts > 0
