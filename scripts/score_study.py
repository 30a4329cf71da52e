"""Score qdcat on a study from the independent simulator (tests/independent/simulator.py).

    python scripts/score_study.py --seed 1 --dots 24                    # 20 s cw, 1 s pulsed
    python scripts/score_study.py --seed 1 --dots 4 --cw-duration 5     # smoke test
    python scripts/score_study.py --seed 2 --scenario typical --no-background --keep /tmp/study2

Simulates a study, registers its session.toml in a fresh SQLite catalog, ingests its manifest, runs
every analysis inline, and compares the current results with the truth: for every estimate with an
uncertainty, the z-scores z = (estimate − truth)/err (n, mean, SD, fraction |z| < 2) and the results
carrying QC flags; for blinking, the on-fraction error by dot class and the ML exponents against the
drawn ones and against an "ideal 10 ms binned" analysis of the true on/off states. Exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.independent.simulator import SCENARIOS, StudyTruth, simulate_study  # noqa: E402

BIN_S = 0.010  # the "ideal" reference bins like the paper: 10 ms


@dataclass(frozen=True)
class Check:
    """One estimate compared with one truth column, over the results of one analysis."""

    analysis: str
    column: str
    truth: str
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or (self.column if self.column == self.truth else f"{self.column} vs {self.truth}")


CHECKS = (
    Check("spectrum", "center_nm", "center_nm"),
    Check("spectrum", "fwhm_nm", "fwhm_nm"),
    Check("decay", "lifetime_ns", "lifetime_ns"),
    Check("g2_cw", "g2_zero", "g2_zero_expected"),
    Check("g2_cw", "g2_zero_corrected", "g2_zero_signal"),
    Check("g2_cw", "antibunching_rate_per_us", "antibunching_rate_per_us"),
    Check("g2_cw", "tau0_ns", "tau0_ns"),
    Check("g2_cw", "baseline", "baseline_expected"),
    Check("g2_cw", "signal_fraction_a", "rho_a"),
    Check("g2_cw", "signal_fraction_b", "rho_b"),
    Check("g2_pulsed", "g2_zero", "g2_pulsed_expected"),
    Check("g2_pulsed", "g2_zero", "g2_pulsed_expected_blinking"),
    Check("g2_pulsed", "g2_zero_corrected", "g2_pulsed_signal"),
    Check("g2_pulsed", "tau0_ns", "tau0_ns"),
    Check("blinking", "on_fraction", "on_fraction"),
    Check("blinking", "k_on_ml", "k_on"),
    Check("blinking", "k_off_ml", "k_off"),
)


# --------------------------------------------------------------------------------------------- pipeline


def build_catalog(study: StudyTruth, home: Path) -> tuple[Any, dict[str, int]]:
    """A fresh catalog with the study registered, ingested and analysed; returns it and job counts."""
    import qdcat.workflow as workflow
    from qdcat import jobs
    from qdcat.catalog.api import init_catalog
    from qdcat.ingest.pipeline import read_manifest
    from qdcat.session import register_session

    cat = init_catalog(home)
    register_session(cat, study.session_toml)
    items = read_manifest(study.manifest)
    if hasattr(workflow, "ingest"):
        outcomes = workflow.ingest(cat, items).outcomes
    else:  # older qdcat
        from qdcat.ingest.pipeline import ingest_many

        outcomes = ingest_many(cat, items)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"  ingest failed: {o.path.name}: {o.message}")
    plan = jobs.plan(cat)
    runs = jobs.run_inline(cat, plan.to_run)
    for run in runs:
        if run.status != "done":
            last = (run.error or "").strip().splitlines()[-1:] or [""]
            print(f"  job {run.run_id} ({run.analysis}) {run.status}: {last[0]}")
    counts = {f"jobs {k}": v for k, v in Counter(run.status for run in runs).items()}
    return cat, {
        "ingested": sum(o.status == "ingested" for o in outcomes),
        "ingest failed": len(failed),
        **counts,
    }


_SOURCE_NAMES: dict[int, str | None] = {}


def source_name(cat: Any, measurement_id: int) -> str | None:
    """Base name of the file a measurement was ingested from (cached)."""
    if measurement_id not in _SOURCE_NAMES:
        raw = cat.get_measurement(measurement_id).get("raw_data") or {}
        src = raw.get("source_filename")
        _SOURCE_NAMES[measurement_id] = Path(src).name if src else None
    return _SOURCE_NAMES[measurement_id]


def results_with_files(cat: Any, analysis: str) -> pd.DataFrame:
    """Current results of ``analysis``, each with the base name of the file it came from."""
    from qdcat.query.api import results

    df = results(cat, analysis, include_old=False)
    if df.empty or "measurement_id" not in df:
        return df
    df = df.copy()
    df["file"] = [source_name(cat, int(m)) if pd.notna(m) else None for m in df["measurement_id"]]
    return df


def _float(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _flags(row: pd.Series) -> list[str]:
    v = row.get("flags")
    return v.split() if isinstance(v, str) and v.strip() else []


def _qc_ok(row: pd.Series, column: str) -> bool:
    """The result's QC verdict keeps this quantity (no verdict column: treated as kept)."""
    qc = row.get("qc")
    if not isinstance(qc, str):
        return True
    failed = row.get("qc_failed")
    return qc != "fail" and column not in (failed.split() if isinstance(failed, str) else [])


# --------------------------------------------------------------------------------------------- scoring


def z_rows(check: Check, df: pd.DataFrame, truth: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if df.empty or check.column not in df:
        return None
    err_col = f"{check.column}_err"
    z: list[float] = []
    z_clean: list[float] = []
    z_qc: list[float] = []
    diff: list[float] = []
    no_err = flagged = 0
    for _, r in df.iterrows():
        t = truth.get(r.get("file") or "")
        if t is None:
            continue
        true, est = _float(t.get(check.truth)), _float(r.get(check.column))
        if not (math.isfinite(true) and math.isfinite(est)):
            continue
        diff.append(est - true)
        has_flags = bool(_flags(r))
        flagged += has_flags
        err = _float(r.get(err_col)) if err_col in df else math.nan
        if math.isfinite(err) and err > 0:
            z.append((est - true) / err)
            if not has_flags:
                z_clean.append(z[-1])
            if _qc_ok(r, check.column):
                z_qc.append(z[-1])
        else:
            no_err += 1
    if not diff:
        return None
    za, zc, zq = np.asarray(z), np.asarray(z_clean), np.asarray(z_qc)
    return {
        "analysis": check.analysis,
        "quantity": check.name,
        "n": len(diff),
        "n_z": za.size,
        "z_mean": float(za.mean()) if za.size else math.nan,
        "z_sd": float(za.std(ddof=1)) if za.size > 1 else math.nan,
        "frac_lt2": float(np.mean(np.abs(za) < 2)) if za.size else math.nan,
        "bias": float(np.mean(diff)),
        "rmse": float(np.sqrt(np.mean(np.square(diff)))),
        "no_err": no_err,
        "flagged": flagged,
        "n_clean": zc.size,
        "z_mean_clean": float(zc.mean()) if zc.size else math.nan,
        "z_sd_clean": float(zc.std(ddof=1)) if zc.size > 1 else math.nan,
        "n_qc": zq.size,
        "z_mean_qc": float(zq.mean()) if zq.size else math.nan,
        "z_sd_qc": float(zq.std(ddof=1)) if zq.size > 1 else math.nan,
    }


def flag_summary(name: str, df: pd.DataFrame) -> tuple[int, int, str]:
    if df.empty:
        return 0, 0, ""
    counter: Counter[str] = Counter()
    flagged = 0
    for _, r in df.iterrows():
        f = _flags(r)
        flagged += bool(f)
        counter.update(f)
    return len(df), flagged, ", ".join(f"{k}×{v}" for k, v in counter.most_common(4))


# --------------------------------------------------------------------------------------------- ideal blinking


def binned_states(t_switch: np.ndarray, state_after: np.ndarray, duration_s: float) -> np.ndarray:
    """Per 10 ms bin: on if more than half of the bin was on (true states, no photons)."""
    n = math.floor(duration_s / BIN_S + 1e-9)
    edges = np.arange(n + 1) * BIN_S
    bounds = np.append(t_switch, duration_s)
    on = state_after.astype(bool)
    starts, ends = bounds[:-1][on], bounds[1:][on]
    if starts.size == 0:
        return np.zeros(n, dtype=bool)
    # on-time in [0, t]: the on intervals wholly before the last one started by t, plus that one's part
    before = np.concatenate([[0.0], np.cumsum(ends - starts)])
    j = np.searchsorted(starts, edges, side="right") - 1
    jj = np.clip(j, 0, None)
    f_on = np.where(j >= 0, before[jj] + np.clip(edges - starts[jj], 0.0, ends[jj] - starts[jj]), 0.0)
    frac = np.diff(f_on) / BIN_S
    return frac > 0.5


def run_lengths(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On and off run lengths (bins), the truncated first and last runs dropped."""
    if states.size == 0:
        return np.empty(0, int), np.empty(0, int)
    change = np.flatnonzero(np.diff(states.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.append(starts, states.size))
    values = states[starts]
    inner = slice(1, -1)
    lengths, values = lengths[inner], values[inner]
    return lengths[values], lengths[~values]


def discrete_power_law_ml(samples: Iterable[tuple[np.ndarray, int]]) -> tuple[float, float, int]:
    """ML exponent of P(x) = x^−k / Σ_{j=1}^{L} j^−k, pooled over (run lengths, L) groups; (k, se, n)."""
    groups = [(np.asarray(x, float), int(top)) for x, top in samples if np.size(x)]
    n = sum(x.size for x, _ in groups)
    if n < 2:
        return math.nan, math.nan, n
    tops = sorted({top for _, top in groups})
    logj = {top: np.log(np.arange(1, top + 1, dtype=float)) for top in tops}
    stats = [(float(np.log(x).sum()), x.size, top) for x, top in groups]

    def nll(k: float) -> float:
        total = 0.0
        for slog, m, top in stats:
            lz = np.logaddexp.reduce(-k * logj[top])
            total += k * slog + m * lz
        return total

    res = minimize_scalar(nll, bounds=(0.01, 8.0), method="bounded", options={"xatol": 1e-6})
    k = float(res.x)
    h = 1e-3
    curv = (nll(k + h) - 2 * nll(k) + nll(k - h)) / (h * h)
    se = 1.0 / math.sqrt(curv) if curv > 0 else math.nan
    return k, se, n


def ideal_blinking(
    study: StudyTruth, pooled_kinds: tuple[str, ...] = ("g2_cw",)
) -> dict[str, dict[str, Any]]:
    """Per dot class: pooled ML exponents of the ideal 10 ms binned on/off runs of the ``pooled_kinds``
    acquisitions, and per acquisition the ideal binned on-fraction and ML exponents (keyed by file base
    name under ``"_files"``)."""
    pooled: dict[str, dict[str, list[tuple[np.ndarray, int]]]] = {}
    per_file: dict[str, dict[str, float]] = {}
    for r in study.rows:
        if not r.get("state_file"):
            continue
        z = np.load(study.folder / r["state_file"])
        states = binned_states(z["t_switch_s"], z["state_after"], float(z["duration_s"]))
        on, off = run_lengths(states)
        cls = r["dot_class"]
        for key in (cls, "all") if r["kind"] in pooled_kinds else ():
            g = pooled.setdefault(key, {"on": [], "off": []})
            g["on"].append((on, states.size))
            g["off"].append((off, states.size))
        k_on = discrete_power_law_ml([(on, states.size)])[0]
        k_off = discrete_power_law_ml([(off, states.size)])[0]
        per_file[Path(r["file"]).name] = {"on_fraction": float(states.mean()), "k_on": k_on, "k_off": k_off}
    out: dict[str, dict[str, Any]] = {"_files": per_file}  # type: ignore[dict-item]
    for cls, g in pooled.items():
        k_on, se_on, n_on = discrete_power_law_ml(g["on"])
        k_off, se_off, n_off = discrete_power_law_ml(g["off"])
        out[cls] = {
            "k_on": k_on,
            "k_on_se": se_on,
            "n_on": n_on,
            "k_off": k_off,
            "k_off_se": se_off,
            "n_off": n_off,
        }
    return out


# --------------------------------------------------------------------------------------------- printing


def _f(x: float, nd: int = 3) -> str:
    return "—" if not math.isfinite(x) else f"{x:.{nd}f}"


def print_z_table(rows: list[dict[str, Any]]) -> None:
    print(
        "z = (estimate − truth)/err over results with a finite err (n_z of n); 'QC pass' = the results whose "
        "QC verdict keeps the quantity;\n'no flags' = the results without any flag; bias and rmse of "
        "estimate − truth over all n"
    )
    head = (
        f"{'analysis':<10} {'quantity':<40} {'n':>3} {'n_z':>4} {'mean z':>7} {'SD z':>6} {'|z|<2':>6}"
        f" {'QC pass: n':>10} {'mean z':>7} {'SD z':>6}"
        f" {'no flags: n':>11} {'mean z':>7} {'SD z':>6} {'bias':>10} {'rmse':>10}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['analysis']:<10} {r['quantity']:<40} {r['n']:>3} {r['n_z']:>4} {_f(r['z_mean'], 2):>7} "
            f"{_f(r['z_sd'], 2):>6} {_f(r['frac_lt2'], 2):>6} {r['n_qc']:>10} {_f(r['z_mean_qc'], 2):>7} "
            f"{_f(r['z_sd_qc'], 2):>6} {r['n_clean']:>11} "
            f"{_f(r['z_mean_clean'], 2):>7} {_f(r['z_sd_clean'], 2):>6} {r['bias']:>10.4g} {r['rmse']:>10.4g}"
        )


def print_background_matching(
    cat: Any, frames: dict[str, pd.DataFrame], truth: dict[str, dict[str, Any]]
) -> None:
    """Did the analyses take the background recorded at the dot's own excitation intensity?"""
    print("\nbackground companion chosen (matched = same excitation intensity as the dot's acquisition)")
    for a in ("g2_cw", "blinking"):
        df = frames.get(a, pd.DataFrame())
        if df.empty or "background_measurement_id" not in df:
            continue
        n = matched = none = 0
        for _, r in df.iterrows():
            t = truth.get(r.get("file") or "")
            if t is None or t["kind"] != "g2_cw":
                continue
            n += 1
            bid = r.get("background_measurement_id")
            if bid is None or not math.isfinite(_float(bid)):
                none += 1
                continue
            bg = truth.get(source_name(cat, int(bid)) or "")
            if bg is not None and _float(bg.get("intensity_w_cm2")) == _float(t.get("intensity_w_cm2")):
                matched += 1
        print(
            f"  {a:<10} cw results {n}: matched {matched}, other intensity {n - matched - none}, none {none}"
        )


def print_details(frames: dict[str, pd.DataFrame], truth: dict[str, dict[str, Any]]) -> None:
    print("\nevery compared result: file, quantity, estimate ± err, truth, z, flags")
    for c in CHECKS:
        df = frames[c.analysis]
        if df.empty or c.column not in df:
            continue
        for _, r in df.iterrows():
            t = truth.get(r.get("file") or "")
            if t is None or not math.isfinite(_float(t.get(c.truth))):
                continue
            est, err, true = _float(r.get(c.column)), _float(r.get(f"{c.column}_err")), _float(t.get(c.truth))
            z = (est - true) / err if math.isfinite(err) and err > 0 else math.nan
            print(
                f"  {r['file']:<22} {c.name:<44} {est:>10.4g} ± {err:<9.3g} {true:>10.4g}  z={_f(z, 2):>6}"
                f"  {' '.join(_flags(r))}"
            )


def blinking_tables(
    df: pd.DataFrame, truth: dict[str, dict[str, Any]], ideal: dict[str, Any]
) -> pd.DataFrame:
    """Print the on-fraction and exponent tables; return the per-result frame they were made from."""
    if df.empty:
        print("no blinking results")
        return pd.DataFrame()
    recs = []
    for _, r in df.iterrows():
        t = truth.get(r.get("file") or "")
        if t is None:
            continue
        ideal_file = ideal["_files"].get(r["file"], {})
        recs.append(
            {
                "dot": t["dot"],
                "class": t["dot_class"],
                "acq": "cw" if t["kind"] == "g2_cw" else "pulsed",
                "err": _float(r.get("on_fraction")) - _float(t.get("on_fraction")),
                "ideal_err": _float(ideal_file.get("on_fraction")) - _float(t.get("on_fraction")),
                "k_on_ml": _float(r.get("k_on_ml")),
                "k_off_ml": _float(r.get("k_off_ml")),
                "k_on": _float(t.get("k_on")),
                "k_off": _float(t.get("k_off")),
                "ideal_k_on": _float(ideal_file.get("k_on")),
                "ideal_k_off": _float(ideal_file.get("k_off")),
                "method": r.get("threshold_method"),
            }
        )
    b = pd.DataFrame(recs)
    print("\non-fraction error (qdcat − truth), by dot class and acquisition")
    print(
        f"{'class':<11} {'acq':<7} {'n':>3} {'mean':>8} {'SD':>7} {'max|e|':>7}   "
        f"{'ideal 10ms mean':>15}  threshold"
    )
    for (cls, acq), g in b.groupby(["class", "acq"]):
        e = g["err"].dropna()
        sd = e.std(ddof=1) if e.size > 1 else math.nan
        worst = e.abs().max() if e.size else math.nan
        methods = ", ".join(f"{k}×{v}" for k, v in Counter(g["method"].dropna()).items())
        print(
            f"{cls:<11} {acq:<7} {e.size:>3} {_f(e.mean(), 4):>8} {_f(sd, 4):>7} {_f(worst, 4):>7}   "
            f"{_f(g['ideal_err'].mean(), 4):>15}  {methods}"
        )
    print(
        "\npower-law exponents (cw acquisitions): truth (drawn, continuous), ideal 10 ms binned ML, qdcat ML"
    )
    print(
        f"{'class':<11} {'state':<4} {'truth mean':>10} {'ideal pooled':>16} {'ideal per-acq':>13}"
        f" {'qdcat mean':>10} {'n qdcat':>7}"
    )
    cw = b[b["acq"] == "cw"]
    for cls in sorted(set(cw["class"]) | ({"all"} if cw["class"].nunique() > 1 else set())):
        g = cw if cls == "all" else cw[cw["class"] == cls]
        ref = ideal.get(cls, {})
        for state in ("on", "off"):
            q = g[f"k_{state}_ml"].dropna()
            pooled = ref.get(f"k_{state}", math.nan)
            se = ref.get(f"k_{state}_se", math.nan)
            pooled_txt = f"{_f(pooled, 2)}±{_f(se, 2)} ({ref.get(f'n_{state}', 0)})"
            print(
                f"{cls:<11} {state:<4} {_f(g[f'k_{state}'].mean(), 2):>10} {pooled_txt:>16}"
                f" {_f(g[f'ideal_k_{state}'].mean(), 2):>13} {_f(q.mean(), 2):>10} {q.size:>7}"
            )
    return b


def pooled_table(cat: Any, b: pd.DataFrame, ideal: dict[str, dict[str, Any]]) -> None:
    """qdcat's population answer (q.pooled_blinking over a class's dots) against the ideal pooled ML."""
    from qdcat.errors import QdcatError
    from qdcat.query import api as q

    print(
        "\npooled exponents: qdcat (q.pooled_blinking, the dots' cw traces) vs ideal 10 ms binned pooled ML"
    )
    print(f"{'class':<11} {'state':<4} {'qdcat pooled':>18} {'ideal pooled':>18} {'diff/σ':>7}  flags")
    cw = b[b["acq"] == "cw"]
    for cls in sorted(set(cw["class"]) | ({"all"} if cw["class"].nunique() > 1 else set())):
        if cls == "always-on":
            continue
        labels = sorted(set((cw if cls == "all" else cw[cw["class"] == cls])["dot"]))
        where = "dot in (" + ", ".join(f"'{lab}'" for lab in labels) + ")"
        try:
            (p,) = q.pooled_blinking(cat, by=None, where=where, min_trace_s=5.0)
        except QdcatError as e:
            print(f"{cls:<11} {'':<4} {e}")
            continue
        ref = ideal.get(cls, {})
        for state in ("on", "off"):
            k, err, n = (
                getattr(p, f"k_{state}"),
                getattr(p, f"k_{state}_err"),
                getattr(p, f"n_{state}_periods"),
            )
            rk, rse = ref.get(f"k_{state}", math.nan), ref.get(f"k_{state}_se", math.nan)
            d = (k - rk) / math.hypot(err, rse)
            mine = f"{_f(k, 2)}±{_f(err, 2)} ({n})"
            theirs = f"{_f(rk, 2)}±{_f(rse, 2)} ({ref.get(f'n_{state}', 0)})"
            print(f"{cls:<11} {state:<4} {mine:>18} {theirs:>18} {_f(d, 1):>7}  {p.flags}")


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dots", type=int, default=24)
    ap.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    ap.add_argument("--no-background", action="store_true", help="no background acquisitions")
    ap.add_argument("--cw-duration", type=float, default=20.0, help="seconds per cw acquisition")
    ap.add_argument("--pulsed-duration", type=float, default=1.0, help="seconds per pulsed acquisition")
    ap.add_argument("--keep", type=Path, help="simulate into DIR/study and keep the catalog in DIR/catalog")
    ap.add_argument("--details", action="store_true", help="also list every compared result")
    args = ap.parse_args(argv)

    tmp = None
    if args.keep:
        base = args.keep
        base.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="qdcat-score-")
        base = Path(tmp.name)
    try:
        t0 = time.perf_counter()
        study = simulate_study(
            base / "study",
            seed=args.seed,
            n_dots=args.dots,
            cw_duration_s=args.cw_duration,
            pulsed_duration_s=args.pulsed_duration,
            with_background=not args.no_background,
            scenario=args.scenario,
        )
        t1 = time.perf_counter()
        classes = ", ".join(f"{k} {v}" for k, v in Counter(d.blink.dot_class for d in study.dots).items())
        print(
            f"study: seed {args.seed}, {args.dots} dots ({classes}), "
            f"scenario {args.scenario}, cw {args.cw_duration:g} s, pulsed {args.pulsed_duration:g} s, "
            f"background {'no' if args.no_background else 'yes'}; {len(study.rows)} files in {t1 - t0:.1f} s"
        )
        s = study.setup
        print(
            f"setup: τ0 {s.tau0_ns:.2f} ns, "
            f"jitter A/B {s.jitter_a_fwhm_ps:.0f}/{s.jitter_b_fwhm_ps:.0f} ps FWHM, "
            f"dead time A/B {s.dead_time_a_ns:.0f}/{s.dead_time_b_ns:.0f} ns, "
            f"CCD bias {s.bias_counts:.0f}, read noise {s.read_noise_counts:.1f}"
        )
        cat, counts = build_catalog(study, base / "catalog")
        t2 = time.perf_counter()
        print(f"catalog: {counts} in {t2 - t1:.1f} s\n")

        truth = study.by_file()
        analyses = sorted({c.analysis for c in CHECKS})
        frames = {a: results_with_files(cat, a) for a in analyses}
        rows = [r for c in CHECKS if (r := z_rows(c, frames[c.analysis], truth)) is not None]
        print_z_table(rows)
        if args.details:
            print_details(frames, truth)

        print("\nQC flags (current results)")
        for a in analyses:
            n, flagged, top = flag_summary(a, frames[a])
            print(f"  {a:<10} {flagged:>3}/{n:<3} flagged   {top}")

        print_background_matching(cat, frames, truth)
        ideal = ideal_blinking(study)
        b = blinking_tables(frames["blinking"], truth, ideal)
        if not b.empty:
            pooled_table(cat, b, ideal)
        cat.close()
        print(
            f"\ntotal {time.perf_counter() - t0:.1f} s; study in {study.folder}"
            + ("" if args.keep else " (deleted)")
        )
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
