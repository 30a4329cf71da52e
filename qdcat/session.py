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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qdcat.catalog.api import Catalog
from qdcat.errors import AlreadyExistsError, InvalidValueError
from qdcat.ingest.pipeline import write_manifest_csv
from qdcat.ingest.ptu_write import write_ptu_t2

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


def _spectrum_csv(path: Path, wl: np.ndarray, counts: np.ndarray) -> None:
    with path.open("w") as fh:
        fh.write("# simulated CCD spectrum (qdcat.simulate)\nwavelength_nm,counts\n")
        for x, y in zip(wl, counts, strict=True):
            fh.write(f"{x:.4f},{y:.0f}\n")


def _write_t3(path: Path, records: Any, duration_s: float, description: str) -> int:
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
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidValueError(f"{folder} is not empty; simulate into a new folder")
    for sub in ("spectra", "g2", "decay", "traces", "power_series", "ensemble"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    seeds = iter(np.random.SeedSequence(plan.seed).generate_state(100_000))
    rows: list[dict[str, Any]] = []
    truth_rows: list[dict[str, Any]] = []
    events = 0
    samples = [
        ("InP-ZnSe-sim", "slide-InP", sim.PopulationParams.inp_znse(), plan.n_dots),
        ("CdSe-CdS-sim", "slide-CdSe", sim.PopulationParams.cdse_cds(), plan.n_second_sample_dots),
    ]
    cw = sim.CwExcitation(intensity_w_cm2=plan.cw_intensity_w_cm2, wavelength_nm=EXCITATION_NM)
    pulsed = sim.PulsedExcitation(repetition_rate_mhz=10.0, mean_excitons=0.3, wavelength_nm=EXCITATION_NM)
    cw_settings = {
        "excitation_wavelength_nm": EXCITATION_NM,
        "excitation_mode": "cw",
        "intensity_w_cm2": plan.cw_intensity_w_cm2,
        "temperature_k": 295,
    }
    pulsed_settings = {
        "excitation_wavelength_nm": EXCITATION_NM,
        "excitation_mode": "pulsed",
        "repetition_rate_mhz": 10.0,
        "temperature_k": 295,
    }

    def cw_file(sub: str, kind: str, lab: str, specimen: str, dot: Any, det: Any, duration_s: float) -> Any:
        """One cw acquisition as a PTU file and its manifest row."""
        nonlocal events
        res = sim.simulate_cw(dot, excitation=cw, detection=det, duration_s=duration_s, seed=int(next(seeds)))
        f = folder / sub / f"{lab}.ptu"
        write_ptu_t2(f, [(res.stream.timestamps_ps, res.stream.channels)], acquisition_s=duration_s)
        events += len(res.stream)
        b = res.truth.blinking
        if b is not None:  # the true on/off history, for an ideal binned reference
            (folder / "states").mkdir(exist_ok=True)
            np.savez(
                folder / "states" / f"{lab}.npz",
                period_start_ps=b.period_start_ps,
                period_on=b.period_on,
                duration_s=np.float64(duration_s),
            )
        rows.append(
            {"file": f.relative_to(folder), "kind": kind, "specimen": specimen, "dot": lab, "setup": SETUP}
            | cw_settings
        )
        return res

    total = sum(n for *_, n in samples)
    done = 0
    dot_files: dict[str, str] = {}
    pops: dict[str, Any] = {}
    for sample, specimen, params, n in samples:
        if n == 0:
            continue
        pop = sim.draw_population(params, n, seed=int(next(seeds)), excitation=cw)
        pops[sample] = pop
        labels = [f"{'QD' if sample.startswith('InP') else 'CD'}{i + 1:03d}" for i in range(n)]
        dots_csv = folder / f"dots_{specimen}.csv"
        with dots_csv.open("w") as fh:
            fh.write("label,x_um,y_um\n")
            for i, lab in enumerate(labels):
                fh.write(f"{lab},{2.0 * (i % 9):.1f},{2.0 * (i // 9):.1f}\n")
        dot_files[specimen] = dots_csv.name
        second = not sample.startswith("InP")
        n_g2 = n if second else plan.n_g2_dots
        n_life = n if second else plan.n_lifetime_dots
        n_blink = n if second else plan.n_blinking_dots
        n_pg2 = 0 if second else plan.n_pulsed_g2_dots
        for i, lab in enumerate(labels):
            dot = pop.dot(i)
            det = pop.detection_for(i)
            truth = {"sample": sample, "specimen": specimen, "dot": lab}
            truth.update({k: float(v[i]) for k, v in pop.as_dict().items()})
            sp = sim.simulate_spectrum(
                dot.center_nm, dot.fwhm_nm, 3000.0, background_counts=20.0, seed=int(next(seeds))
            )
            f = folder / "spectra" / f"{lab}.csv"
            _spectrum_csv(f, sp.wavelength_nm, sp.counts)
            rows.append(
                {
                    "file": f.relative_to(folder),
                    "kind": "spectrum",
                    "specimen": specimen,
                    "dot": lab,
                    "setup": SETUP,
                }
            )
            # One cw HBT acquisition per dot feeds both g2_cw and blinking: the blinking dots get
            # a long one (the trace), the others a short one (enough for the g2 dip).
            if i < max(n_g2, n_blink):
                long = i < n_blink
                kind = "g2_cw" if i < n_g2 else "intensity_trace"
                duration = plan.trace_duration_s if long else plan.g2_duration_s
                res = cw_file("g2", kind, lab, specimen, dot, det, duration)
                truth.update(
                    g2_zero_expected=res.truth.g2_zero,
                    antibunching_rate_per_us=res.truth.antibunching_rate_per_us,
                    decay_rate_per_us=res.truth.decay_rate_per_us,
                    tau0_ps=res.truth.tau0_ps,
                    rho_a=res.truth.rho_a,
                    rho_b=res.truth.rho_b,
                    cw_duration_s=duration,
                )
                if res.truth.blinking is not None:
                    truth["on_fraction_realised"] = float(res.truth.blinking.on_fraction)
            if i < n_life:
                # One pulsed T3 acquisition (two detectors) feeds decay, blinking and g2_pulsed;
                # its kind names what the experimenter recorded it for.
                kind = "g2_pulsed" if i < n_pg2 else "decay"
                res = sim.simulate_pulsed_t3(
                    dot,
                    excitation=pulsed,
                    detection=det,
                    duration_s=plan.pulsed_duration_s,
                    seed=int(next(seeds)),
                    nanotime_resolution_ps=16,
                )
                f = folder / "decay" / f"{lab}_pulsed.h5"
                events += _write_t3(
                    f,
                    res.records,
                    plan.pulsed_duration_s,
                    f"simulated pulsed acquisition of {lab} ({sample}) by qdcat.simulate",
                )
                rows.append(
                    {
                        "file": f.relative_to(folder),
                        "kind": kind,
                        "specimen": specimen,
                        "dot": lab,
                        "setup": SETUP,
                        **pulsed_settings,
                    }
                )
                # Background photons are uncorrelated: they fill the centre peak as much
                # as the side peaks, so the window ratio is 1 − ρ_A·ρ_B·(1 − g_signal).
                tr = res.truth
                rho_a = tr.signal_a_cps / (tr.signal_a_cps + tr.background_a_cps)
                rho_b = tr.signal_b_cps / (tr.signal_b_cps + tr.background_b_cps)
                truth["g2_pulsed_zero_signal"] = tr.g2_zero_signal
                truth["g2_pulsed_zero_expected"] = 1.0 - rho_a * rho_b * (1.0 - tr.g2_zero_signal)
            truth_rows.append(truth)
            done += 1
            if progress:
                progress("simulating dots", done, total)
        # background trace of the specimen: no dot, only the detectors' background
        bg = sim.Detection(
            background_a_cps=float(np.median(pop.background_a_cps)),
            background_b_cps=float(np.median(pop.background_b_cps)),
        )
        t_end = int(plan.trace_duration_s * 1e12)
        rng = np.random.default_rng(int(next(seeds)))
        ta = np.sort(rng.integers(0, t_end, rng.poisson(bg.background_a_cps * plan.trace_duration_s)))
        tb = np.sort(rng.integers(0, t_end, rng.poisson(bg.background_b_cps * plan.trace_duration_s)))
        t = np.concatenate([ta, tb]).astype(np.int64)
        c = np.concatenate([np.zeros(ta.size, np.uint8), np.ones(tb.size, np.uint8)])
        order = np.argsort(t, kind="stable")
        f = folder / "traces" / f"background_{specimen}.ptu"
        write_ptu_t2(f, [(t[order], c[order])], acquisition_s=plan.trace_duration_s)
        rows.append(
            {
                "file": f.relative_to(folder),
                "kind": "background_trace",
                "specimen": specimen,
                "setup": SETUP,
                **cw_settings,
            }
        )

    # power series of the first InP dot (the study's 76–950 W/cm²)
    inp = pops["InP-ZnSe-sim"]
    ps = sim.simulate_power_series(
        inp.dot(0),
        detection=inp.detection_for(0),
        duration_s=plan.power_series_duration_s,
        seed=int(next(seeds)),
    )
    for k, (intensity, run) in enumerate(zip(ps.intensities_w_cm2, ps.runs, strict=True)):
        f = folder / "power_series" / f"QD001_{intensity:.0f}Wcm2.ptu"
        write_ptu_t2(
            f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=plan.power_series_duration_s
        )
        events += len(run.stream)
        rows.append(
            {
                "file": f.relative_to(folder),
                "kind": "power_series_point",
                "specimen": "slide-InP",
                "dot": "QD001",
                "setup": SETUP,
                **cw_settings,
                "intensity_w_cm2": float(intensity),
                "series_name": "PS-QD001",
                "series_index": k,
            }
        )

    # ensemble film: spectrum and a saturation series (integrated PL vs I)
    sat = sim.simulate_saturation_series(seed=int(next(seeds)))
    ccd = sim.Ccd()
    wl = ccd.wavelength_nm()
    shape = sim.lorentzian(wl, 1.0, 629.0, 47.0)
    for k, (intensity, pl) in enumerate(zip(sat.intensity_w_cm2, sat.pl_counts, strict=True)):
        f = folder / "ensemble" / f"saturation_{k:02d}_{intensity:.0f}Wcm2.csv"
        _spectrum_csv(f, wl, np.round(pl * shape / shape.sum(), 3))
        rows.append(
            {
                "file": f.relative_to(folder),
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
    # pulsed decay of the film: the ensemble decay rate γ that σ = ħω_p·γ/I_S needs
    film = sim.simulate_pulsed_t3(
        sim.DotParams(lifetime_ns=1e3 / sat.truth.decay_rate_per_us),
        excitation=pulsed,
        duration_s=plan.pulsed_duration_s,
        seed=int(next(seeds)),
        nanotime_resolution_ps=16,
    )
    f = folder / "ensemble" / "film_decay.h5"
    events += _write_t3(
        f, film.records, plan.pulsed_duration_s, "simulated ensemble decay of the film by qdcat.simulate"
    )
    rows.append(
        {
            "file": f.relative_to(folder),
            "kind": "decay",
            "specimen": "film-InP",
            "setup": SETUP,
            **pulsed_settings,
        }
    )

    # transient absorption of the solution: the fast biexciton component (the study's ~70 ps)
    from qdcat.simulate.transient import simulate_ta_kinetics

    ta = simulate_ta_kinetics(seed=int(next(seeds)))
    f = folder / "ensemble" / "ta_kinetics.csv"
    with f.open("w") as fh:
        fh.write("# simulated transient-absorption bleach recovery (qdcat.simulate)\ntime_ps,delta_a\n")
        for x, y in zip(ta.time_ps, ta.delta_a, strict=True):
            fh.write(f"{x:.4f},{y:.6g}\n")
    rows.append({"file": f.relative_to(folder), "kind": "transient_absorption", "specimen": "solution-InP"})
    ens = sim.simulate_ensemble_spectrum(inp.center_nm, inp.fwhm_nm, 3000.0, seed=int(next(seeds)))
    f = folder / "ensemble" / "ensemble_spectrum.csv"
    _spectrum_csv(f, ens.wavelength_nm, ens.counts)
    rows.append({"file": f.relative_to(folder), "kind": "ensemble_spectrum", "specimen": "film-InP"})

    manifest = write_manifest_csv(folder / "manifest.csv", rows)
    with (folder / "truth_dots.csv").open("w", newline="") as fh:
        cols: list[str] = []
        for r in truth_rows:
            cols.extend(k for k in r if k not in cols)
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(truth_rows)
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
    (folder / "truth.json").write_text(json.dumps(truth, indent=2, default=float))
    session_toml = _write_session_toml(folder, dot_files)
    return SessionSummary(folder, manifest, session_toml, len(rows), events)


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
