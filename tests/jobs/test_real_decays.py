"""Every shared real file that holds a decay: qdcat's lifetime agrees with an independent one, or is refused.

The reference reads the file with another reader (ptufile, phconvert, h5py), histograms every
detector's nanotimes with numpy and fits A·exp(−t/τ) + B by weighted least squares
(scipy.optimize.curve_fit, Neyman weights) from 1 ns after the peak to the last bin with counts.
qdcat goes the user's way: a setup naming every channel a detector, ingest, `analyze`. Its lifetime
must agree with the reference within 3σ (both errors) + 3 %, or its QC verdict must refuse it, or
the decay must not apply, with the reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.query import api as q

FILES = {
    "psd_hydraharp_v20_t3.ptu": "ptu",
    "psd_hydraharp_v10_t3.ptu": "ptu",
    "tttrlib_mt200_hh400_beads.ptu": "ptu",
    "psd_hydraharp_v10.ht3": "ht3",
    "tttrlib_rh110_sm_000000.ht3": "ht3",
    "psd_timeharp_v50.t3r": "t3r",
    "phconvert_test_noise.spc": "spc",
    "tttrlib_bh_spc132.spc": "spc",
    "tttrlib_bh_spc132_smDNA_m000.spc": "spc",
    "tttrlib_smDNA_m000_converted.photon.hdf5": "h5",
}


def _independent(path: Path, kind: str) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(detector channels, nanotimes, nanotime unit in ps or None) by a reader that is not qdcat's."""
    if kind == "ptu":
        import ptufile

        with ptufile.PtuFile(path) as f:
            rec = f.decode_records()
            unit = float(f.tags["MeasDesc_Resolution"]) * 1e12
        photon = rec["channel"] >= 0
        return rec["channel"][photon].astype(int), rec["dtime"][photon].astype(np.int64), unit
    if kind in ("ht3", "t3r"):
        from phconvert import pqreader

        if kind == "ht3":
            _, dets, nanos, meta = pqreader.load_ht3(str(path))[:4]
            unit = float(np.ravel(meta["nanotimes_unit"])[0]) * 1e12
            keep = dets < 64
            return dets[keep].astype(int), nanos[keep].astype(np.int64), unit
        _, dets, nanos, meta = pqreader.load_t3r(str(path))
        valid = dets == 1  # phconvert's "detector" of a T3R file is the valid bit
        # TimeHarp 200: reverse start–stop, the TAC reading falls with the delay
        return (
            np.zeros(int(valid.sum()), int),
            4095 - nanos[valid].astype(np.int64),
            float(np.ravel(meta["nanotimes_unit"])[0]) * 1e12,
        )
    if kind == "spc":
        from phconvert import bhreader

        set_file = path.with_suffix(".set")
        if set_file.is_file():
            data = bhreader.load_spc(str(path), str(set_file))["photon_data"]
            setup = bhreader.load_set(str(set_file))["setup"]  # TAC range / gain over the ADC bins
            unit = float(setup["SP_TAC_R"]) / float(setup["SP_TAC_G"]) / int(data["tcspc_num_bins"]) * 1e12
        else:
            with path.open("rb") as f:
                data = bhreader._read_spc1xx_8xx(f)
            unit = None
        return np.asarray(data["detectors"]).astype(int), np.asarray(data["nanotimes"]).astype(np.int64), unit
    import h5py

    with h5py.File(path, "r") as f:
        pd_ = f["photon_data"]
        unit = float(pd_["nanotimes_specs/tcspc_unit"][()]) * 1e12
        return pd_["detectors"][:].astype(int), pd_["nanotimes"][:].astype(np.int64), unit


def _reference_lifetime(nanotimes: np.ndarray, unit_ps: float) -> tuple[float, float]:
    rebin = max(1, round(64.0 / unit_ps))
    h = np.bincount(nanotimes // rebin).astype(float)
    width_ns = unit_ps * rebin / 1e3
    t = (np.arange(h.size) + 0.5) * width_ns
    k4 = max(1, round(4.0 / width_ns))
    start_bin = int(np.argmax(np.convolve(h, np.ones(k4), "valid")))
    peak = start_bin + int(np.argmax(h[start_bin : start_bin + k4]))
    lo = peak + round(1.0 / width_ns) + 1
    hi = int(np.flatnonzero(h)[-1]) + 1
    x, y = t[lo:hi] - t[lo], h[lo:hi]

    def model(x: np.ndarray, a: float, tau: float, b: float) -> np.ndarray:
        return a * np.exp(-x / tau) + b

    p0 = (max(y[0], 1.0), 10.0, max(float(np.median(y[-max(1, y.size // 10) :])), 0.1))
    popt, pcov = optimize.curve_fit(model, x, y, p0=p0, sigma=np.sqrt(np.maximum(y, 1.0)), maxfev=20_000)
    return float(popt[1]), float(math.sqrt(pcov[1, 1]))


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_decay_agrees_with_an_independent_fit_or_is_refused(
    name: str, catalog: Catalog, shared_timetags: Path
) -> None:
    path = shared_timetags / name
    dets, nanos, unit = _independent(path, FILES[name])
    channels = sorted(set(dets.tolist()))
    catalog.add_sample("S", "dye")
    catalog.add_specimen("sp", "S")
    catalog.add_dot("sp", "d", 0.0, 0.0)
    catalog.add_setup("all-detectors", channels={c: "detector" for c in channels})
    if name == "psd_hydraharp_v10.ht3":  # a 5 kB excerpt whose header announces 72 M records
        with pytest.raises(Exception, match="truncated"):
            ingest_file(catalog, IngestItem(path, "decay", "sp", dot="d", setup="all-detectors"))
        return
    out = ingest_file(catalog, IngestItem(path, "decay", "sp", dot="d", setup="all-detectors"))
    assert out.status == "ingested", out.message
    rows = {r["analysis"]: r for r in jobs.measurement_analyses(catalog, out.measurement_id)}
    if unit is None:  # an .spc without its .set: the nanotime unit is unknown
        assert rows["decay"]["applies"] == "no" and "--set-file" in rows["decay"]["why / reads"]
        assert "--set-file" in out.message
        return
    outs = jobs.run_inline(catalog, jobs.plan(catalog, analyses=["decay"]).to_run)
    assert [o.status for o in outs] == ["done"], outs
    (r,) = q.results(catalog, "decay").to_dict("records")
    assert r["photons"] == nanos.size  # every detector, every photon
    if r["qc"] == "fail":  # a clear refusal, with the reason
        assert r["qc_reason"] and name == "phconvert_test_noise.spc", r  # the only noise-only file
        assert "no_decay_signal" in r["flags"]
        return
    assert name != "phconvert_test_noise.spc"
    tau, tau_err = _reference_lifetime(nanos, unit)
    allowed = 3.0 * math.hypot(r["lifetime_ns_err"], tau_err) + 0.03 * tau
    assert abs(r["lifetime_ns"] - tau) < allowed, (r["lifetime_ns"], r["lifetime_ns_err"], tau, tau_err)


def test_a_pulse_comb_without_antibunching_is_refused_as_g2(catalog: Catalog, shared_timetags: Path) -> None:
    """psd_picoharp_v30_t2, the 80 MHz comb of a classical source: a g2 fit latches on a spike; refused."""
    catalog.add_sample("S", "dye")
    catalog.add_specimen("sp", "S")
    catalog.add_dot("sp", "d", 0.0, 0.0)
    catalog.add_setup("hbt", channels={0: "hbt_a", 1: "hbt_b"})
    path = shared_timetags / "psd_picoharp_v30_t2.ptu"
    out = ingest_file(catalog, IngestItem(path, "g2_cw", "sp", dot="d", setup="hbt"))
    outs = jobs.run_inline(catalog, jobs.plan(catalog, analyses=["g2_cw"]).to_run)
    assert [o.status for o in outs] == ["done"]
    (r,) = q.results(catalog, "g2_cw").to_dict("records")
    assert r["measurement_id"] == out.measurement_id
    assert "no_antibunching" in r["flags"] and r["qc"] == "fail" and "no dip" in r["qc_reason"]
    # and the population answers leave it out, saying so
    view = q.population_rows(catalog, "dots", ["g2_zero"], by=None)
    assert view.frame.empty and view.flagged == 1
