"""Simulated lab sessions: a folder of real-format files, a manifest and the truth.

``write_session`` turns the simulator's output into what a lab's session
folder holds — PTU (cw, T2) and Photon-HDF5 (pulsed, T3) time tags, spectra as
CSV — plus ``manifest.csv`` (what each file is), ``session.toml`` (samples,
specimens, dots and setups to register) and the ground truth (``truth_dots.csv``,
``truth.json``). ``register_session`` puts the session.toml objects into a
catalog, so simulated data take exactly the path real data take: register,
``qdcat ingest --manifest``.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import numpy.typing as npt

from qdcat.catalog.api import Catalog
from qdcat.errors import AlreadyExistsError, InvalidValueError
from qdcat.ingest.pipeline import write_manifest_csv
from qdcat.ingest.ptu_write import write_ptu_t2

if TYPE_CHECKING:  # the simulator is imported when a session is written, not with the module
    from qdcat.simulate import (
        CwExcitation,
        Detection,
        DotParams,
        Population,
        PopulationParams,
        PowerSeries,
        PulsedExcitation,
        SaturationSeries,
        T3Records,
    )
    from qdcat.simulate.transient import TaKinetics

SETUP = "sim-microPL"
EXCITATION_NM = 445.0


@dataclass(frozen=True)
class SessionPlan:
    """How much to simulate. Defaults follow the reference study's design."""

    n_dots: int = 72  # spectra on every dot
    n_g2_dots: int = 70  # cw g2
    n_lifetime_dots: int = 25  # pulsed decays
    n_pulsed_g2_dots: int = 5
    n_blinking_dots: int = 25  # long intensity traces
    n_second_sample_dots: int = 25  # contrasting CdSe/CdS-like sample
    g2_duration_s: float = 5.0
    trace_duration_s: float = 20.0
    pulsed_duration_s: float = 2.0
    power_series_duration_s: float = 5.0
    cw_intensity_w_cm2: float = 100.0
    seed: int = 2026

    def __post_init__(self) -> None:
        for name in ("n_g2_dots", "n_lifetime_dots", "n_pulsed_g2_dots", "n_blinking_dots"):
            if getattr(self, name) > self.n_dots:
                raise InvalidValueError(f"{name} ({getattr(self, name)}) exceeds n_dots ({self.n_dots})")
        if self.n_dots < 1:
            raise InvalidValueError("n_dots must be >= 1")

    @classmethod
    def quick(cls, n_dots: int = 6, seed: int = 7) -> SessionPlan:
        """A few dots with short acquisitions: for tests and a first look."""
        k = max(1, n_dots // 2)
        return cls(
            n_dots=n_dots,
            n_g2_dots=n_dots,
            n_lifetime_dots=k,
            n_pulsed_g2_dots=1,
            n_blinking_dots=k,
            n_second_sample_dots=k,
            g2_duration_s=1.0,
            trace_duration_s=3.0,
            pulsed_duration_s=0.5,
            power_series_duration_s=1.0,
            seed=seed,
        )


@dataclass(frozen=True)
class SessionSummary:
    folder: Path
    manifest: Path
    session_toml: Path
    files: int
    events: int


class _Settings(TypedDict, total=False):
    """The acquisition settings a manifest row carries (see ``qdcat.ingest.pipeline.SETTINGS_FIELDS``)."""

    excitation_wavelength_nm: float
    excitation_mode: str
    repetition_rate_mhz: float
    intensity_w_cm2: float
    temperature_k: int


class _ManifestRow(_Settings, total=False):
    """One row of ``manifest.csv``: what a file of the session is."""

    file: Path  # relative to the session folder
    kind: str
    specimen: str
    dot: str
    setup: str
    series_name: str
    series_index: int


#: One row of ``truth_dots.csv``: sample, specimen and dot label, then the dot's true parameters.
_DotTruth = dict[str, str | float]

_PULSED_SETTINGS: _Settings = {
    "excitation_wavelength_nm": EXCITATION_NM,
    "excitation_mode": "pulsed",
    "repetition_rate_mhz": 10.0,
    "temperature_k": 295,
}


@dataclass(frozen=True)
class _Bench:
    """What every acquisition of a session shares: its folder, the plan, the two lasers, the seeds.

    ``seeds`` is one stream that the acquisitions draw from in the order the session
    is written in: the same plan gives bit-identical files.
    """

    folder: Path
    plan: SessionPlan
    cw: CwExcitation
    pulsed: PulsedExcitation
    seeds: Iterator[np.uint32]

    def seed(self) -> int:
        return int(next(self.seeds))

    def cw_settings(self) -> _Settings:
        return {
            "excitation_wavelength_nm": EXCITATION_NM,
            "excitation_mode": "cw",
            "intensity_w_cm2": self.plan.cw_intensity_w_cm2,
            "temperature_k": 295,
        }


@dataclass
class _Manifest:
    """The manifest rows and the photon events of the files written so far, in writing order."""

    folder: Path
    rows: list[_ManifestRow] = field(default_factory=list)
    events: int = 0

    def file(self, path: Path) -> Path:
        """``path`` as the manifest names it: relative to the session folder."""
        return path.relative_to(self.folder)


@dataclass(frozen=True)
class _SampleDesign:
    """One sample of the session: its slide, its population and how many dots get each acquisition.

    The contrasting sample gets every acquisition on every dot except pulsed g2.
    """

    sample: str
    specimen: str
    params: PopulationParams
    n_dots: int
    n_g2: int
    n_lifetime: int
    n_blinking: int
    n_pulsed_g2: int

    @classmethod
    def of(
        cls, sample: str, specimen: str, params: PopulationParams, n: int, plan: SessionPlan
    ) -> _SampleDesign:
        second = not sample.startswith("InP")
        return cls(
            sample,
            specimen,
            params,
            n,
            n_g2=n if second else plan.n_g2_dots,
            n_lifetime=n if second else plan.n_lifetime_dots,
            n_blinking=n if second else plan.n_blinking_dots,
            n_pulsed_g2=0 if second else plan.n_pulsed_g2_dots,
        )

    def labels(self) -> list[str]:
        prefix = "QD" if self.sample.startswith("InP") else "CD"
        return [f"{prefix}{i + 1:03d}" for i in range(self.n_dots)]


@dataclass(frozen=True)
class _Dot:
    """One dot under the microscope: where it sits, its true parameters and how it is detected."""

    sample: str
    specimen: str
    label: str
    params: DotParams
    detection: Detection


def _spectrum_csv(path: Path, wl: npt.NDArray[np.float64], counts: npt.NDArray[np.float64]) -> None:
    with path.open("w") as fh:
        fh.write("# simulated CCD spectrum (qdcat.simulate)\nwavelength_nm,counts\n")
        for x, y in zip(wl, counts, strict=True):
            fh.write(f"{x:.4f},{y:.0f}\n")


def _write_t3(path: Path, records: T3Records, duration_s: float, description: str) -> int:
    """Simulated T3 records as a Photon-HDF5 file; returns the number of events."""
    from qdcat.ingest.photon_hdf5 import write_photon_hdf5

    r = records
    write_photon_hdf5(
        path,
        timestamps_ps=r.sync_index * r.sync_period_ps,
        channels=r.channels,
        nanotimes=r.nanotime.astype(np.uint16),
        resolution_ps=float(r.sync_period_ps),
        nanotime_resolution_ps=float(r.resolution_ps),
        sync_rate_hz=1e12 / r.sync_period_ps,
        acquisition_s=duration_s,
        description=description,
    )
    return len(r)


def write_session(
    folder: str | Path,
    plan: SessionPlan | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> SessionSummary:
    """Simulate a session like the reference study into ``folder`` (created; must be empty)."""
    from qdcat import simulate as sim

    plan = plan or SessionPlan()
    folder = _new_session_folder(Path(folder))
    bench = _Bench(
        folder,
        plan,
        cw=sim.CwExcitation(intensity_w_cm2=plan.cw_intensity_w_cm2, wavelength_nm=EXCITATION_NM),
        pulsed=sim.PulsedExcitation(repetition_rate_mhz=10.0, mean_excitons=0.3, wavelength_nm=EXCITATION_NM),
        seeds=iter(np.random.SeedSequence(plan.seed).generate_state(100_000)),
    )
    manifest = _Manifest(folder)
    designs = [
        _SampleDesign.of("InP-ZnSe-sim", "slide-InP", sim.PopulationParams.inp_znse(), plan.n_dots, plan),
        _SampleDesign.of(
            "CdSe-CdS-sim", "slide-CdSe", sim.PopulationParams.cdse_cds(), plan.n_second_sample_dots, plan
        ),
    ]
    total = sum(d.n_dots for d in designs)
    truth_rows: list[_DotTruth] = []
    dot_files: dict[str, str] = {}
    pops: dict[str, Population] = {}
    for design in designs:
        if design.n_dots == 0:
            continue
        pop = sim.draw_population(design.params, design.n_dots, seed=bench.seed(), excitation=bench.cw)
        pops[design.sample] = pop
        labels = design.labels()
        dot_files[design.specimen] = _write_dot_positions(folder, design.specimen, labels)
        for i, label in enumerate(labels):
            dot = _Dot(design.sample, design.specimen, label, pop.dot(i), pop.detection_for(i))
            truth_rows.append(_acquire_dot(bench, manifest, design, dot, i, pop))
            if progress:
                progress("simulating dots", len(truth_rows), total)
        _write_background_trace(bench, manifest, design.specimen, pop)

    inp = pops["InP-ZnSe-sim"]
    ps = _write_power_series(bench, manifest, inp)
    sat = _write_saturation_series(bench, manifest)
    _write_film_decay(bench, manifest, sat)
    ta = _write_ta_kinetics(bench, manifest)
    _write_ensemble_spectrum(bench, manifest, inp)

    manifest_csv = write_manifest_csv(folder / "manifest.csv", manifest.rows)
    _write_truth_dots_csv(folder / "truth_dots.csv", truth_rows)
    _write_truth_json(folder / "truth.json", plan, pops, ps, sat, ta)
    session_toml = _write_session_toml(folder, dot_files)
    return SessionSummary(folder, manifest_csv, session_toml, len(manifest.rows), manifest.events)


def _new_session_folder(folder: Path) -> Path:
    """``folder`` with the session's subfolders; it must be new or empty."""
    if folder.exists() and any(folder.iterdir()):
        raise InvalidValueError(f"{folder} is not empty; simulate into a new folder")
    for sub in ("spectra", "g2", "decay", "traces", "power_series", "ensemble"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def _write_dot_positions(folder: Path, specimen: str, labels: list[str]) -> str:
    """The specimen's dot list (label and stage position, a 9-column grid); returns its file name."""
    dots_csv = folder / f"dots_{specimen}.csv"
    with dots_csv.open("w") as fh:
        fh.write("label,x_um,y_um\n")
        for i, lab in enumerate(labels):
            fh.write(f"{lab},{2.0 * (i % 9):.1f},{2.0 * (i // 9):.1f}\n")
    return dots_csv.name


def _acquire_dot(
    bench: _Bench, manifest: _Manifest, design: _SampleDesign, dot: _Dot, i: int, pop: Population
) -> _DotTruth:
    """Every acquisition of the ``i``-th dot of a sample; returns the dot's truth row."""
    truth: _DotTruth = {"sample": dot.sample, "specimen": dot.specimen, "dot": dot.label}
    truth.update({k: float(v[i]) for k, v in pop.as_dict().items()})
    _write_dot_spectrum(bench, manifest, dot)
    # One cw HBT acquisition per dot feeds both g2_cw and blinking: the blinking dots get
    # a long one (the trace), the others a short one (enough for the g2 dip).
    if i < max(design.n_g2, design.n_blinking):
        long = i < design.n_blinking
        kind = "g2_cw" if i < design.n_g2 else "intensity_trace"
        duration = bench.plan.trace_duration_s if long else bench.plan.g2_duration_s
        truth.update(_write_cw_hbt(bench, manifest, dot, kind, duration))
    if i < design.n_lifetime:
        # One pulsed T3 acquisition (two detectors) feeds decay, blinking and g2_pulsed;
        # its kind names what the experimenter recorded it for.
        kind = "g2_pulsed" if i < design.n_pulsed_g2 else "decay"
        truth.update(_write_pulsed_t3(bench, manifest, dot, kind))
    return truth


def _write_dot_spectrum(bench: _Bench, manifest: _Manifest, dot: _Dot) -> None:
    """The dot's CCD spectrum as CSV."""
    from qdcat.simulate import simulate_spectrum

    sp = simulate_spectrum(
        dot.params.center_nm, dot.params.fwhm_nm, 3000.0, background_counts=20.0, seed=bench.seed()
    )
    f = bench.folder / "spectra" / f"{dot.label}.csv"
    _spectrum_csv(f, sp.wavelength_nm, sp.counts)
    manifest.rows.append(
        {
            "file": manifest.file(f),
            "kind": "spectrum",
            "specimen": dot.specimen,
            "dot": dot.label,
            "setup": SETUP,
        }
    )


def _write_cw_hbt(bench: _Bench, manifest: _Manifest, dot: _Dot, kind: str, duration_s: float) -> _DotTruth:
    """One cw HBT acquisition (T2) as a PTU file, with the true on/off history; returns its truth."""
    from qdcat.simulate import simulate_cw

    res = simulate_cw(
        dot.params, excitation=bench.cw, detection=dot.detection, duration_s=duration_s, seed=bench.seed()
    )
    f = bench.folder / "g2" / f"{dot.label}.ptu"
    write_ptu_t2(f, [(res.stream.timestamps_ps, res.stream.channels)], acquisition_s=duration_s)
    manifest.events += len(res.stream)
    b = res.truth.blinking
    if b is not None:  # the true on/off history, for an ideal binned reference
        (bench.folder / "states").mkdir(exist_ok=True)
        np.savez(
            bench.folder / "states" / f"{dot.label}.npz",
            period_start_ps=b.period_start_ps,
            period_on=b.period_on,
            duration_s=np.float64(duration_s),
        )
    manifest.rows.append(
        {
            "file": manifest.file(f),
            "kind": kind,
            "specimen": dot.specimen,
            "dot": dot.label,
            "setup": SETUP,
            **bench.cw_settings(),
        }
    )
    truth: _DotTruth = {
        "g2_zero_expected": res.truth.g2_zero,
        "antibunching_rate_per_us": res.truth.antibunching_rate_per_us,
        "decay_rate_per_us": res.truth.decay_rate_per_us,
        "tau0_ps": res.truth.tau0_ps,
        "rho_a": res.truth.rho_a,
        "rho_b": res.truth.rho_b,
        "cw_duration_s": duration_s,
    }
    if b is not None:
        truth["on_fraction_realised"] = float(b.on_fraction)
    return truth


def _write_pulsed_t3(bench: _Bench, manifest: _Manifest, dot: _Dot, kind: str) -> _DotTruth:
    """One pulsed acquisition (T3, two detectors) as Photon-HDF5; returns its g2 truth."""
    from qdcat.simulate import simulate_pulsed_t3

    duration_s = bench.plan.pulsed_duration_s
    res = simulate_pulsed_t3(
        dot.params,
        excitation=bench.pulsed,
        detection=dot.detection,
        duration_s=duration_s,
        seed=bench.seed(),
        nanotime_resolution_ps=16,
    )
    f = bench.folder / "decay" / f"{dot.label}_pulsed.h5"
    manifest.events += _write_t3(
        f,
        res.records,
        duration_s,
        f"simulated pulsed acquisition of {dot.label} ({dot.sample}) by qdcat.simulate",
    )
    manifest.rows.append(
        {
            "file": manifest.file(f),
            "kind": kind,
            "specimen": dot.specimen,
            "dot": dot.label,
            "setup": SETUP,
            **_PULSED_SETTINGS,
        }
    )
    # Background photons are uncorrelated: they fill the centre peak as much
    # as the side peaks, so the window ratio is 1 − ρ_A·ρ_B·(1 − g_signal).
    tr = res.truth
    rho_a = tr.signal_a_cps / (tr.signal_a_cps + tr.background_a_cps)
    rho_b = tr.signal_b_cps / (tr.signal_b_cps + tr.background_b_cps)
    return {
        "g2_pulsed_zero_signal": tr.g2_zero_signal,
        "g2_pulsed_zero_expected": 1.0 - rho_a * rho_b * (1.0 - tr.g2_zero_signal),
    }


def _write_background_trace(bench: _Bench, manifest: _Manifest, specimen: str, pop: Population) -> None:
    """A trace of the specimen with no dot in focus: only the detectors' background (PTU, T2)."""
    from qdcat.simulate import Detection

    plan = bench.plan
    bg = Detection(
        background_a_cps=float(np.median(pop.background_a_cps)),
        background_b_cps=float(np.median(pop.background_b_cps)),
    )
    t_end = int(plan.trace_duration_s * 1e12)
    rng = np.random.default_rng(bench.seed())
    ta = np.sort(rng.integers(0, t_end, rng.poisson(bg.background_a_cps * plan.trace_duration_s)))
    tb = np.sort(rng.integers(0, t_end, rng.poisson(bg.background_b_cps * plan.trace_duration_s)))
    t = np.concatenate([ta, tb]).astype(np.int64)
    c = np.concatenate([np.zeros(ta.size, np.uint8), np.ones(tb.size, np.uint8)])
    order = np.argsort(t, kind="stable")
    f = bench.folder / "traces" / f"background_{specimen}.ptu"
    write_ptu_t2(f, [(t[order], c[order])], acquisition_s=plan.trace_duration_s)
    manifest.rows.append(
        {
            "file": manifest.file(f),
            "kind": "background_trace",
            "specimen": specimen,
            "setup": SETUP,
            **bench.cw_settings(),
        }
    )


def _write_power_series(bench: _Bench, manifest: _Manifest, inp: Population) -> PowerSeries:
    """cw acquisitions of the first InP dot at the study's 76–950 W/cm² (PTU, T2)."""
    from qdcat.simulate import simulate_power_series

    duration_s = bench.plan.power_series_duration_s
    ps = simulate_power_series(
        inp.dot(0), detection=inp.detection_for(0), duration_s=duration_s, seed=bench.seed()
    )
    for k, (intensity, run) in enumerate(zip(ps.intensities_w_cm2, ps.runs, strict=True)):
        f = bench.folder / "power_series" / f"QD001_{intensity:.0f}Wcm2.ptu"
        write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=duration_s)
        manifest.events += len(run.stream)
        manifest.rows.append(
            {
                "file": manifest.file(f),
                "kind": "power_series_point",
                "specimen": "slide-InP",
                "dot": "QD001",
                "setup": SETUP,
                **bench.cw_settings(),
                "intensity_w_cm2": float(intensity),
                "series_name": "PS-QD001",
                "series_index": k,
            }
        )
    return ps


def _write_saturation_series(bench: _Bench, manifest: _Manifest) -> SaturationSeries:
    """Ensemble film: spectra of a saturation series (integrated PL vs I) as CSV."""
    from qdcat.simulate import Ccd, lorentzian, simulate_saturation_series

    sat = simulate_saturation_series(seed=bench.seed())
    wl = Ccd().wavelength_nm()
    shape = lorentzian(wl, 1.0, 629.0, 47.0)
    for k, (intensity, pl) in enumerate(zip(sat.intensity_w_cm2, sat.pl_counts, strict=True)):
        f = bench.folder / "ensemble" / f"saturation_{k:02d}_{intensity:.0f}Wcm2.csv"
        _spectrum_csv(f, wl, np.round(pl * shape / shape.sum(), 3))
        manifest.rows.append(
            {
                "file": manifest.file(f),
                "kind": "saturation_point",
                "specimen": "film-InP",
                "setup": SETUP,
                "excitation_wavelength_nm": EXCITATION_NM,
                "excitation_mode": "cw",
                "intensity_w_cm2": float(intensity),
                "series_name": "SAT-film",
                "series_index": k,
            }
        )
    return sat


def _write_film_decay(bench: _Bench, manifest: _Manifest, sat: SaturationSeries) -> None:
    """Pulsed decay of the film: the ensemble decay rate γ that σ = ħω_p·γ/I_S needs."""
    from qdcat.simulate import DotParams, simulate_pulsed_t3

    film = simulate_pulsed_t3(
        DotParams(lifetime_ns=1e3 / sat.truth.decay_rate_per_us),
        excitation=bench.pulsed,
        duration_s=bench.plan.pulsed_duration_s,
        seed=bench.seed(),
        nanotime_resolution_ps=16,
    )
    f = bench.folder / "ensemble" / "film_decay.h5"
    manifest.events += _write_t3(
        f,
        film.records,
        bench.plan.pulsed_duration_s,
        "simulated ensemble decay of the film by qdcat.simulate",
    )
    manifest.rows.append(
        {
            "file": manifest.file(f),
            "kind": "decay",
            "specimen": "film-InP",
            "setup": SETUP,
            **_PULSED_SETTINGS,
        }
    )


def _write_ta_kinetics(bench: _Bench, manifest: _Manifest) -> TaKinetics:
    """Transient absorption of the solution: the fast biexciton component (the study's ~70 ps)."""
    from qdcat.simulate.transient import simulate_ta_kinetics

    ta = simulate_ta_kinetics(seed=bench.seed())
    f = bench.folder / "ensemble" / "ta_kinetics.csv"
    with f.open("w") as fh:
        fh.write("# simulated transient-absorption bleach recovery (qdcat.simulate)\ntime_ps,delta_a\n")
        for x, y in zip(ta.time_ps, ta.delta_a, strict=True):
            fh.write(f"{x:.4f},{y:.6g}\n")
    manifest.rows.append(
        {"file": manifest.file(f), "kind": "transient_absorption", "specimen": "solution-InP"}
    )
    return ta


def _write_ensemble_spectrum(bench: _Bench, manifest: _Manifest, inp: Population) -> None:
    """The film's ensemble spectrum: one line per dot of the InP population, as CSV."""
    from qdcat.simulate import simulate_ensemble_spectrum

    ens = simulate_ensemble_spectrum(inp.center_nm, inp.fwhm_nm, 3000.0, seed=bench.seed())
    f = bench.folder / "ensemble" / "ensemble_spectrum.csv"
    _spectrum_csv(f, ens.wavelength_nm, ens.counts)
    manifest.rows.append({"file": manifest.file(f), "kind": "ensemble_spectrum", "specimen": "film-InP"})


def _write_truth_dots_csv(path: Path, truth_rows: list[_DotTruth]) -> None:
    """Every dot's truth; the columns in the order they first appear."""
    with path.open("w", newline="") as fh:
        cols: list[str] = []
        for r in truth_rows:
            cols.extend(k for k in r if k not in cols)
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(truth_rows)


def _write_truth_json(
    path: Path,
    plan: SessionPlan,
    pops: dict[str, Population],
    ps: PowerSeries,
    sat: SaturationSeries,
    ta: TaKinetics,
) -> None:
    """The truth beyond single dots: plan, power series, saturation, TA and the population laws."""
    truth = {
        "plan": asdict(plan),
        "power_series": {
            "dot": "QD001",
            "intensities_w_cm2": ps.intensities_w_cm2.tolist(),
            "slope_cm2_per_j": ps.slope_cm2_per_j,
            "decay_rate_per_us": ps.decay_rate_per_us,
            "sigma_cm2": ps.sigma_cm2,
            "saturation_intensity_w_cm2": ps.saturation_intensity_w_cm2,
        },
        "saturation": {k: (np.asarray(v).tolist()) for k, v in asdict(sat.truth).items()},
        "transient_absorption": {
            "biexciton_lifetime_ps": ta.truth.biexciton_lifetime_ps,
            "biexciton_rate_per_ns": ta.truth.biexciton_rate_per_ns,
        },
        "populations": {
            s: {
                "material": p.params.material,
                "lifetime_slope_ns_per_ev": p.lifetime_slope_ns_per_ev,
                "energy_ref_ev": p.energy_ref_ev,
            }
            for s, p in pops.items()
        },
    }
    path.write_text(json.dumps(truth, indent=2, default=float))


def _write_session_toml(folder: Path, dot_files: dict[str, str]) -> Path:
    from qdcat.simulate import Ccd

    ccd = Ccd()  # the camera every simulated spectrum is taken with: its facts belong to the setup
    text = f"""# Objects this simulated session refers to; `qdcat ingest --register` adds the missing ones.
[[sample]]
name = "InP-ZnSe-sim"
material = "InP/ZnSe"
core_diameter_nm = 3.2
total_diameter_nm = 10.0
abs_max_nm = 594.0
pl_peak_nm = 629.0
pl_fwhm_nm = 47.0
plqy_fraction = 0.65
decay_rate_solution_per_us = 27.7
synthesis_reference = "simulated after the reference study (shared/reference)"

[[sample]]
name = "CdSe-CdS-sim"
material = "CdSe/CdS"
synthesis_reference = "simulated contrasting sample"

[[specimen]]
name = "slide-InP"
sample = "InP-ZnSe-sim"
purpose = "single_dot"
preparation_method = "drop-cast"
concentration_nmol_l = 1.0
solvent = "toluene"
substrate = "glass coverslip"
surface_density_per_um2 = 0.25
dots = "{dot_files.get("slide-InP", "")}"

[[specimen]]
name = "slide-CdSe"
sample = "CdSe-CdS-sim"
purpose = "single_dot"
preparation_method = "drop-cast"
dots = "{dot_files.get("slide-CdSe", "")}"

[[specimen]]
name = "film-InP"
sample = "InP-ZnSe-sim"
purpose = "ensemble"
preparation_method = "spin-coat"

[[specimen]]
name = "solution-InP"
sample = "InP-ZnSe-sim"
purpose = "ensemble"
preparation_method = "dispersion"
solvent = "toluene"

[[setup]]
name = "{SETUP}"
time_tagger_model = "HydraHarp 400 (simulated)"
time_tagger_resolution_ps = 1.0
spectrometer = "simulated CCD, 1340 px"
ccd_offset_counts = {ccd.bias_counts}
ccd_read_noise_counts = {ccd.read_noise_counts}
channels = {{ "0" = "hbt_a", "1" = "hbt_b", "64" = "sync" }}
"""
    path = folder / "session.toml"
    path.write_text(text)
    return path


def register_session(cat: Catalog, session_toml: str | Path) -> dict[str, int]:
    """Add the samples, specimens, dots and setups of a session file that are not in the catalog yet.

    Idempotent, also when several processes register the same session at once: what
    another process added meanwhile counts as already there.
    """
    path = Path(session_toml)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidValueError(f"cannot read session file {path}: {exc}") from exc
    # Read and check the whole file first: a mistake anywhere adds nothing.
    samples, specimens, setups = [], [], []
    for i, s in enumerate(_tables(data, "sample", path)):
        where = f"{path}: [[sample]] #{i + 1}"
        samples.append((where, _text(s, "name", where), _text(s, "material", where), s))
    for i, sp in enumerate(_tables(data, "specimen", path)):
        where = f"{path}: [[specimen]] #{i + 1}"
        dots = sp.pop("dots", None)
        if dots is not None and not isinstance(dots, str):
            raise InvalidValueError(f"{where}: dots must be the name of a CSV file, got {dots!r}")
        specimens.append((where, _text(sp, "name", where), _text(sp, "sample", where), dots, sp))
    for i, st in enumerate(_tables(data, "setup", path)):
        where = f"{path}: [[setup]] #{i + 1}"
        name = _text(st, "name", where)
        for per_channel in ("channels", "dark_count_rate_cps", "timing_jitter_ps"):
            if per_channel in st:
                st[per_channel] = _by_channel(st[per_channel], f"{where}: {per_channel}")
        setups.append((where, name, st))
    added = {"samples": 0, "specimens": 0, "dots": 0, "setups": 0}
    for where, name, material, kw in samples:
        added["samples"] += _add_once(where, cat.add_sample, name, material, **kw)
    for where, name, sample, dots, kw in specimens:
        added["specimens"] += _add_once(where, cat.add_specimen, name, sample, **kw)
        if dots is not None:
            for attempt in range(3):  # another process may add the same dots in between
                try:
                    res = cat.import_dots_csv(name, path.parent / dots, skip_existing=True)
                except AlreadyExistsError:
                    if attempt == 2:
                        raise
                    continue
                added["dots"] += res["added"]
                break
    for where, name, kw in setups:
        added["setups"] += _add_once(where, cat.add_setup, name, **kw)
    return added


def _tables(data: Mapping[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise InvalidValueError(
            f"{path}: '{key}' must be a list of tables ([[{key}]] sections), got {items!r}"
        )
    return [dict(x) for x in items]


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.pop(key, None)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{where}: '{key}' must be a non-empty text, got {value!r}")
    return value


def _by_channel(value: Any, where: str) -> dict[int, Any]:
    if not isinstance(value, dict):
        raise InvalidValueError(f"{where} must be a table of channel number = value, got {value!r}")
    out = {}
    for k, v in value.items():
        try:
            out[int(k)] = v
        except ValueError:
            raise InvalidValueError(f"{where}: channel {k!r} is not a whole number") from None
    return out


def _add_once(where: str, add: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """1 when ``add`` added the record, 0 when it was there already; bad fields say where."""
    try:
        add(*args, **kwargs)
    except AlreadyExistsError:
        return 0
    except TypeError as exc:  # a key the API does not take
        import re

        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        what = f"unknown key {unknown.group(1)!r}" if unknown else str(exc)
        raise InvalidValueError(
            f"{where}: {what}; see `qdcat simulate` for a complete session file"
        ) from None
    return 1
