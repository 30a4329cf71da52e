"""`qdcat analyze` against an earlier qdcat (a git ref), on the same files, in one run.

    python scripts/bench_analyze_vs_ref.py --ref e4bd9ca            # 24 dots, 3 repeats
    python scripts/bench_analyze_vs_ref.py --ref e4bd9ca --dots 6 --repeats 1

A session is simulated once with this checkout's ``write_session``. The ref is
checked out into a temporary git worktree; each repeat, interleaved, runs the
same driver (``--driver``) under both qdcats in fresh processes: a new SQLite
catalog, the session registered and ingested (not timed), one untimed batch on
a scratch catalog first so numba's JIT cache is warm, then timed:

* ``like-for-like``: for every analysis the ref knows, the jobs the ref plans
  (its analyses ran on the kinds they declared) — this checkout restricted to
  the same (analysis, measurement kinds) pairs, so both run the same jobs on the
  same measurements. The ratio is the cost of the new code for the same work.
* ``all``: everything each version plans (this checkout also feeds every
  acquisition to every analysis that applies).

Per analysis: median seconds and jobs; ratios this/ref. Read ratios, not
absolute times: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The kinds each analysis read before one acquisition fed every analysis (qdcat ≤ 0.x, migration 0002).
OLD_KINDS = {
    "spectrum": ("spectrum", "ensemble_spectrum"),
    "decay": ("decay",),
    "g2_cw": ("g2_cw",),
    "g2_pulsed": ("g2_pulsed",),
    "blinking": ("intensity_trace",),
    "power_series": ("power_series_point",),
    "saturation": ("saturation_point",),
    "biexciton": ("transient_absorption",),
}


def _session_for(cat: object, session: Path, home: Path) -> Path:
    """session.toml without the setup facts an older qdcat does not take (camera, detectors)."""
    import inspect
    import tomllib

    takes = set(inspect.signature(cat.add_setup).parameters)  # type: ignore[attr-defined]
    data = tomllib.loads((session / "session.toml").read_text())
    dropped = {k for st in data.get("setup", []) for k in st if k not in takes | {"name"}}
    if not dropped:
        return session / "session.toml"
    text = (session / "session.toml").read_text()
    kept = [line for line in text.splitlines() if line.split("=")[0].strip() not in dropped]
    out = home.parent / f"{home.name}-session.toml"
    out.write_text("\n".join(kept) + "\n")
    # the dots CSVs are named relative to the session file
    for csv in session.glob("*.csv"):
        target = out.parent / csv.name
        if not target.exists():
            target.symlink_to(csv)
    return out


def driver(session: Path, home: Path, mode: str) -> dict[str, object]:
    """Runs inside the qdcat under test (PYTHONPATH): ingest, then time analyze per analysis."""
    import qdcat
    from qdcat import jobs
    from qdcat.catalog.api import init_catalog
    from qdcat.ingest.pipeline import ingest_many, read_manifest
    from qdcat.session import register_session

    cat = init_catalog(home)
    register_session(cat, _session_for(cat, session, home))
    outcomes = ingest_many(cat, read_manifest(session / "manifest.csv"))
    assert all(o.status == "ingested" for o in outcomes), [o for o in outcomes if o.status != "ingested"]
    new = hasattr(jobs, "measurement_analyses")
    out: dict[str, object] = {"qdcat": qdcat.__file__, "analyses": {}}
    for analysis, kinds in OLD_KINDS.items():
        sel = jobs.Selection(kinds=kinds) if (new and mode == "like-for-like") else jobs.Selection()
        t0 = time.perf_counter()
        p = jobs.plan(cat, analyses=[analysis], selection=sel)
        outs = jobs.run_inline(cat, p.to_run)
        dt = time.perf_counter() - t0
        bad = [o for o in outs if o.status != "done"]
        assert not bad, bad
        out["analyses"][analysis] = {"seconds": dt, "jobs": len(outs)}  # type: ignore[index]
    if new and mode == "all":  # analyses the ref does not have
        from qdcat import analyses

        for analysis in analyses.names():
            if analysis in OLD_KINDS:
                continue
            t0 = time.perf_counter()
            outs = jobs.run_inline(cat, jobs.plan(cat, analyses=[analysis]).to_run)
            out["analyses"][analysis] = {"seconds": time.perf_counter() - t0, "jobs": len(outs)}  # type: ignore[index]
    cat.close()
    return out


def _run(code_root: Path, session: Path, scratch: Path, mode: str) -> dict[str, object]:
    home = Path(tempfile.mkdtemp(prefix="cat-", dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(code_root), "QDCAT_HOME": str(home)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--driver", str(session), str(home), mode]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(f"driver failed under {code_root}:\n{res.stderr[-3000:]}")
    shutil.rmtree(home, ignore_errors=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=False, help="git ref of the earlier qdcat (e.g. a commit)")
    ap.add_argument("--dots", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--driver", nargs=3, metavar=("SESSION", "HOME", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        session, home, mode = args.driver
        print(json.dumps(driver(Path(session), Path(home), mode)))
        return
    if not args.ref:
        raise SystemExit("give --ref, the git ref of the qdcat to compare with")
    sys.path.insert(0, str(ROOT))
    from qdcat.session import write_session
    from scripts.bench_jobs import scaled_plan

    scratch = Path(tempfile.mkdtemp(prefix="qdcat-bench-ref-"))
    worktree = scratch / "ref"
    try:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.ref],
            check=True,
            capture_output=True,
        )
        session = scratch / "session"
        write_session(session, scaled_plan(args.dots, args.seed))
        # warm numba's on-disk cache for both versions (not timed)
        for root in (ROOT, worktree):
            _run(root, session, scratch, "all")
        results: dict[tuple[str, str], list[dict[str, object]]] = {}
        for _ in range(args.repeats):
            for mode in ("like-for-like", "all"):
                for name, root in (("this", ROOT), ("ref", worktree)):
                    if name == "ref" and mode == "all" and (("ref", "like-for-like") in results):
                        results.setdefault(("ref", "all"), []).append(results[("ref", "like-for-like")][-1])
                        continue
                    results.setdefault((name, mode), []).append(_run(root, session, scratch, mode))
        _report(results)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(scratch, ignore_errors=True)


def _median(runs: list[dict[str, object]], analysis: str, field: str) -> float:
    vals = [float(r["analyses"].get(analysis, {}).get(field, 0.0)) for r in runs]  # type: ignore[union-attr]
    return statistics.median(vals)


def _report(results: dict[tuple[str, str], list[dict[str, object]]]) -> None:
    names = list(dict.fromkeys(a for runs in results.values() for r in runs for a in r["analyses"]))  # type: ignore[union-attr]
    for mode in ("like-for-like", "all"):
        this, ref = results[("this", mode)], results[("ref", mode)]
        print(f"\n{mode} (medians of {len(this)}; seconds, jobs):")
        print(f"{'analysis':14} {'this s':>8} {'jobs':>5} {'ref s':>8} {'jobs':>5} {'this/ref':>9}")
        tot_this = tot_ref = 0.0
        for a in names:
            ts, tj = _median(this, a, "seconds"), _median(this, a, "jobs")
            rs, rj = _median(ref, a, "seconds"), _median(ref, a, "jobs")
            tot_this, tot_ref = tot_this + ts, tot_ref + rs
            ratio = f"{ts / rs:.2f}" if rs > 0 else "—"
            print(f"{a:14} {ts:8.2f} {tj:5.0f} {rs:8.2f} {rj:5.0f} {ratio:>9}")
        print(f"{'total':14} {tot_this:8.2f} {'':5} {tot_ref:8.2f} {'':5} {tot_this / tot_ref:9.2f}")


if __name__ == "__main__":
    main()
