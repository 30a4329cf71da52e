"""``qdcat demo``: build a small catalog end to end on the embedded default.

Creates a fresh catalog directory, records a sample, a specimen, a grid of
dots and an HBT setup, streams a cw time-tag acquisition per dot into the zarr
store and a spectrum per dot, then checks catalog and store against each other.

The photon streams here are plain uncorrelated (Poisson) light: enough to
exercise the catalog and the store at realistic rates. The physical
single-dot simulator (antibunching, blinking, pulsed excitation) replaces it
when the ingest and simulator capability lands.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qdcat.catalog.api import Catalog, MeasurementSpec, SettingsSpec, init_catalog
from qdcat.errors import QdcatError

DEMO_MARKER = ".qdcat-demo"


@dataclass(frozen=True)
class DemoResult:
    home: Path
    dots: int
    measurements: int
    events: int
    stored_bytes: int
    seconds: float
    problems: int


def _prepare_home(home: Path) -> None:
    if home.exists():
        if not (home / DEMO_MARKER).exists():
            raise QdcatError(
                f"{home} exists and is not a demo catalog; choose another --home (the demo never "
                "touches a real catalog)"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("created by `qdcat demo`; safe to delete\n")


def _poisson_pair(rng: np.random.Generator, rate_cps: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Two detectors at ``rate_cps`` each, merged and time-sorted, in ps."""
    n = rng.poisson(2 * rate_cps * seconds)
    t = np.sort(rng.integers(0, int(seconds * 1e12), n, dtype=np.int64))
    ch = rng.integers(0, 2, n).astype(np.uint8)
    return t, ch


def run_demo(
    home: str | Path = "qdcat-demo",
    *,
    n_dots: int = 72,
    acquisition_s: float = 2.0,
    rate_cps: float = 50e3,
    seed: int = 2026,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    t0 = time.perf_counter()
    home = Path(home).resolve()
    _prepare_home(home)
    rng = np.random.default_rng(seed)
    cat: Catalog = init_catalog(home)
    try:
        cat.add_sample(
            "InP-ZnSe-demo",
            "InP/ZnSe",
            core_diameter_nm=3.2,
            total_diameter_nm=10,
            abs_max_nm=594,
            pl_peak_nm=629,
            pl_fwhm_nm=47,
            plqy_fraction=0.65,
            decay_rate_solution_per_us=27.7,
            synthesis_reference="reference study (shared/reference)",
        )
        cat.add_specimen(
            "slide-1",
            "InP-ZnSe-demo",
            purpose="single_dot",
            preparation_method="drop-cast",
            concentration_nmol_l=1,
            solvent="toluene",
            substrate="glass coverslip",
            surface_density_per_um2=0.25,
        )
        side = int(np.ceil(np.sqrt(n_dots)))
        cat.import_dots(
            "slide-1",
            [
                {"label": f"QD{i + 1:03d}", "x_um": 2.0 * (i % side), "y_um": 2.0 * (i // side)}
                for i in range(n_dots)
            ],
        )
        cat.add_setup(
            "micro-PL",
            channels={0: ("hbt_a", "SPAD A"), 1: ("hbt_b", "SPAD B"), 2: ("sync", "445 nm laser")},
            time_tagger_model="HydraHarp 400",
            time_tagger_resolution_ps=1,
            spectrometer="Andor Shamrock 303i, 300 l/mm",
        )
        wl = np.linspace(560, 700, 1024)
        events = 0
        for i in range(n_dots):
            label = f"QD{i + 1:03d}"
            if progress:
                progress("dots", i + 1, n_dots)
            centre, fwhm = rng.normal(629, 8), rng.normal(19.4, 2.5)
            line = 4000 * (fwhm / 2) ** 2 / ((wl - centre) ** 2 + (fwhm / 2) ** 2)
            counts = rng.poisson(line + 300).astype(np.float64) + rng.normal(0, 4, wl.size)
            cat.add_array_measurement(
                MeasurementSpec(kind="spectrum", specimen="slide-1", dot=label, setup="micro-PL"),
                {"wavelength_nm": wl, "counts": counts},
            )
            t, ch = _poisson_pair(rng, rate_cps, acquisition_s)
            spec = MeasurementSpec(
                kind="g2_cw",
                specimen="slide-1",
                dot=label,
                setup="micro-PL",
                duration_s=acquisition_s,
                settings=SettingsSpec(
                    excitation_wavelength_nm=445, excitation_mode="cw", intensity_w_cm2=200
                ),
            )
            with cat.new_timetag_measurement(spec, resolution_ps=1) as w:
                w.append(t, ch)
            events += t.size
        status = cat.status()
        problems = len(cat.fsck(checksums=True))
        return DemoResult(
            home=home,
            dots=n_dots,
            measurements=int(status["measurements"]),
            events=events,
            stored_bytes=int(status["raw_bytes"]),
            seconds=time.perf_counter() - t0,
            problems=problems,
        )
    finally:
        cat.close()
