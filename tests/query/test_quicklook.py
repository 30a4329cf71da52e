"""Quick looks at raw data (``qdcat plot raw``) and figure files for a paper (PDF, dpi, size)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from qdcat import plots
from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError
from qdcat.ingest.photon_hdf5 import write_photon_hdf5
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.query.quicklook import raw_figure
from qdcat.simulate import CwExcitation, DotParams, MultiLevelParams, simulate_cw, simulate_multilevel_t3


def _line(fig: object) -> tuple[np.ndarray, np.ndarray]:
    ax = fig.axes[0]  # type: ignore[attr-defined]
    line = max(ax.get_lines(), key=lambda ln: len(ln.get_xdata()))
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_raw_trace_g2_and_tcspc_count_every_photon(populated: Catalog, tmp_path: Path) -> None:
    cw = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=300.0), duration_s=2.0, seed=3)
    f = tmp_path / "cw.ptu"
    write_ptu_t2(f, [(cw.stream.timestamps_ps, cw.stream.channels)], acquisition_s=2.0)
    m_cw = ingest_file(populated, IngestItem(f, "g2_cw", "slide-1", dot="d1", setup="hbt")).measurement_id
    _, counts = _line(raw_figure(populated, m_cw, "trace", bin_ms=50.0))
    assert counts.sum() == pytest.approx(len(cw.stream), abs=0) and counts.size == 40
    tau, g2 = _line(raw_figure(populated, m_cw, "g2", window_ns=100.0, bin_ps=2000.0))
    assert g2[np.argmin(np.abs(tau))] < 0.5 < np.median(g2)  # antibunched at zero delay, 1 far out
    assert raw_figure(populated, m_cw).axes[0].get_title().startswith("Raw g2")  # auto: an HBT pair

    sim = simulate_multilevel_t3(MultiLevelParams.a_type(), duration_s=2.0, seed=1)
    r = sim.records
    h5 = tmp_path / "t3.h5"
    write_photon_hdf5(
        h5,
        timestamps_ps=r.sync_index * r.sync_period_ps,
        channels=r.channels,
        nanotimes=r.nanotime.astype(np.uint16),
        resolution_ps=float(r.sync_period_ps),
        nanotime_resolution_ps=float(r.resolution_ps),
        sync_rate_hz=1e12 / r.sync_period_ps,
        acquisition_s=r.duration_s,
        description="simulated grey-state dot",
    )
    m_t3 = ingest_file(populated, IngestItem(h5, "decay", "slide-1", dot="d2", setup="hbt")).measurement_id
    fig = raw_figure(populated, m_t3)  # auto: nanotimes → TCSPC
    assert fig.axes[0].get_title().startswith("Raw TCSPC")
    # independent count: numpy histogram of the nanotimes in 8-unit bins
    _, counts = _line(raw_figure(populated, m_t3, "tcspc", bin_ps=8 * r.resolution_ps))
    expected = np.bincount(r.nanotime // 8)
    assert counts.sum() == expected.sum() == len(r)
    assert np.argmax(counts) == np.argmax(expected)
    with pytest.raises(InvalidValueError, match="not a spectrum"):
        raw_figure(populated, m_t3, "spectrum")
    with pytest.raises(InvalidValueError, match="not one of"):
        raw_figure(populated, m_t3, "histogram")


def test_figures_for_a_paper_pdf_dpi_and_size(tmp_path: Path) -> None:
    fig = plots.plot_trace(np.arange(10.0), np.arange(10.0))
    pdf = plots.save_figure(fig, tmp_path / "a.pdf", size_in=(3.4, 2.6))
    assert pdf.read_bytes().startswith(b"%PDF")
    png = plots.save_figure(fig, tmp_path / "a.png", dpi=300, size_in=(3.4, 2.6))
    assert mpimg.imread(png).shape[:2] == (780, 1020)
    again = plots.save_figure(
        plots.plot_trace(np.arange(10.0), np.arange(10.0)), tmp_path / "b.pdf", size_in=(3.4, 2.6)
    )
    assert again.read_bytes() == pdf.read_bytes()  # no date inside: the same figure, the same file
    with pytest.raises(InvalidValueError, match="dpi"):
        plots.save_figure(fig, tmp_path / "c.png", dpi=5)
    with pytest.raises(InvalidValueError, match=r"\.pdf"):
        plots.save_figure(fig, tmp_path / "c.jpg")
