"""Population queries at a lab's scale: the dots view, a filtered query, a results query, statistics.

Fills a catalog in bulk (10 samples, one specimen each; per dot a spectrum, a cw
g2 acquisition feeding g2_cw, blinking and brightness, and for every fourth dot a
pulsed acquisition feeding decay — about four current results per dot — and 10 %
of results superseded by a newer run) at 10³, 10⁴ and 10⁵ dots on SQLite and on
PostgreSQL, then times, as medians of repeats:

* ``dots``      — the whole dots view, every column (``q.dots(cat)``);
* ``filtered``  — ``q.dots(cat, sample=S, where="g2_zero < 0.5 and lifetime_ns > 10",
  columns=[5 columns])``, about 10³ rows at 10⁵ dots;
* ``results``   — the current g2_cw results of one sample (``q.results``);
* ``population``— ``q.population(cat, "fwhm_nm", by="sample")``;
* ``cli``       — ``qdcat sample list`` and ``qdcat query dots --where … --json``
  end to end on the small (10³) catalog, in fresh processes.

With ``--ref REV`` the same queries run under an older qdcat (a git worktree of REV,
in fresh processes, on its own catalog filled by its own code with the same rows) so
the ratio is measured in the same run. ``--explain`` prints the query plan of the
filtered query on each backend.

    python scripts/bench_queries.py --sizes 1000 10000 100000 --ref 7770c78~1 --explain
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("QDCAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FILTER = "g2_zero < 0.5 and lifetime_ns > 10"
FILTER_COLUMNS = ["sample", "dot", "g2_zero", "lifetime_ns", "center_nm"]


def _fill(url: str, n_dots: int, seed: int = 1) -> None:
    """Write the synthetic catalog with Core bulk inserts (the ORM would take minutes at 10⁵)."""
    import datetime as dt

    from sqlalchemy import create_engine, insert

    from qdcat import analyses as registry
    from qdcat.catalog import db
    from qdcat.catalog.models import AnalysisRun, Dot, Measurement, Sample, Specimen

    rng = np.random.default_rng(seed)
    engine = create_engine(url)
    db.upgrade(engine)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    n_samples = 10
    per = n_dots // n_samples
    with engine.begin() as conn:
        conn.execute(
            insert(Sample),
            [
                {"id": i + 1, "name": f"S{i:02d}", "material": ["InP/ZnSe", "CdSe/CdS"][i % 2]}
                for i in range(10)
            ],
        )
        conn.execute(
            insert(Specimen),
            [
                {"id": i + 1, "name": f"SP{i:02d}", "sample_id": i + 1, "purpose": "single_dot"}
                for i in range(10)
            ],
        )
        dots = [
            {"id": d + 1, "specimen_id": d // per + 1, "label": f"QD{d % per:06d}", "x_um": 1.0, "y_um": 2.0}
            for d in range(per * n_samples)
        ]
        conn.execute(insert(Dot), dots)
        meas, runs = [], []
        results: dict[str, list[dict[str, object]]] = {a: [] for a in registry.names()}
        tables = {a.name: a.table for a in registry.registry().values()}

        def result(analysis: str, dot: dict[str, object], m_id: int, current: bool) -> None:
            run_id = len(runs) + 1
            runs.append(
                {
                    "id": run_id,
                    "analysis": analysis,
                    "analysis_version": "1",
                    "params": {},
                    "params_hash": "p",
                    "inputs_hash": f"{run_id}",
                    "input_checksums": {},
                    "qdcat_version": "bench",
                    "status": "done" if current else "stale",
                    "attempts": 1,
                    "created_at": now,
                    "finished_at": now,
                    "target_key": f"measurement:{m_id}",
                    "is_current": current,
                }
            )
            row: dict[str, object] = {
                "run_id": run_id,
                "specimen_id": dot["specimen_id"],
                "dot_id": dot["id"],
                "measurement_id": m_id,
                "flags": "",
                "qc": "pass",
                "qc_failed": "",
                "qc_reason": "",
            }
            if "representative" in tables[analysis].c:
                # one current result per dot and analysis here, so it is the dot's representative
                row |= {"kind_preferred": True, "representative": current}
            for c in tables[analysis].columns:
                if c.name in row:
                    continue
                kind = c.type.python_type
                if kind is float:
                    row[c.name] = float(rng.uniform(0.0, 40.0) if c.name != "g2_zero" else rng.uniform(0, 1))
                elif not c.nullable:
                    row[c.name] = {bool: True, int: 1, str: "x"}[kind]
            results[analysis].append(row)

        for dot in dots:
            for kind, feeds in (
                ("spectrum", ["spectrum"]),
                ("g2_cw", ["g2_cw", "blinking", "brightness"]),
                *([("decay", ["decay"])] if dot["id"] % 4 == 0 else []),
            ):
                m_id = len(meas) + 1
                meas.append(
                    {
                        "id": m_id,
                        "kind": kind,
                        "specimen_id": dot["specimen_id"],
                        "dot_id": dot["id"],
                        "started_at": now,
                        "duration_s": 20.0,
                    }
                )
                for a in feeds:
                    if rng.random() < 0.1:
                        result(a, dot, m_id, current=False)  # superseded by the next run
                    result(a, dot, m_id, current=True)
        conn.execute(insert(Measurement), meas)
        for i in range(0, len(runs), 50_000):
            conn.execute(insert(AnalysisRun), runs[i : i + 50_000])
        for a, rows in results.items():
            for i in range(0, len(rows), 20_000):
                conn.execute(insert(tables[a]), rows[i : i + 20_000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


# The timed part runs in a child process so that an older qdcat (a worktree) can run it too.
_CHILD = textwrap.dedent(
    """
    import json, statistics, sys, time
    from qdcat.catalog.api import open_catalog
    from qdcat.query import api as q
    home, db_url, repeats, filt, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    cols = cols.split(",")
    cat = open_catalog(home, database_url=db_url, check_schema=False)
    def timed(f):
        f()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t0)
        return statistics.median(ts), len(out)
    out = {}
    out["dots"] = timed(lambda: q.dots(cat))
    out["filtered"] = timed(lambda: q.dots(cat, sample="S03", where=filt, columns=cols))
    out["results"] = timed(lambda: q.results(cat, "g2_cw", sample="S03"))
    out["population"] = timed(lambda: q.population(cat, "fwhm_nm", by="sample"))
    print(json.dumps(out))
    """
)


def _child(python: str, pythonpath: Path, home: Path, url: str, repeats: int) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    out = subprocess.run(
        [python, "-c", _CHILD, str(home), url, str(repeats), FILTER, ",".join(FILTER_COLUMNS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _explain(url: str) -> str:
    from sqlalchemy import create_engine

    from qdcat.catalog.api import Catalog
    from qdcat.config import load_config
    from qdcat.query import api as q

    engine = create_engine(url)
    cat = Catalog(load_config(tempfile.gettempdir(), database_url=url), engine)
    sql = q.dots_select(cat, sample="S03", where=FILTER, columns=FILTER_COLUMNS)
    compiled = sql.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + str(compiled)).fetchall()
    engine.dispose()
    return "\n".join(" | ".join(str(v) for v in r[-1:]) for r in rows)


def _cli(python_bin: Path, pythonpath: Path, home: Path, url: str, repeats: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath), QDCAT_DATABASE_URL=url)
    cmds = {
        "sample list": ["sample", "list"],
        "query dots --where --json": ["query", "dots", "--where", FILTER, "--json"],
    }
    out = {}
    for name, args in cmds.items():
        ts = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            subprocess.run(
                [str(python_bin), "-c", "from qdcat.cli import main; main()", "--home", str(home), *args],
                env=env,
                capture_output=True,
                check=True,
                cwd=tempfile.gettempdir(),
            )
            ts.append(time.perf_counter() - t0)
        out[name] = statistics.median(ts[1:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ref", help="git revision of an older qdcat to time on the same catalogs")
    ap.add_argument("--explain", action="store_true", help="print the filtered query's plan")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "qdcat-bench-queries")
    ap.add_argument("--fill", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fill:
        _fill(args.fill[0], int(args.fill[1]))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    versions = {"this": ROOT}
    if args.ref:
        ref_dir = args.workdir / f"ref-{args.ref}"
        if not ref_dir.exists():
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_dir), args.ref], check=True
            )
        versions["ref"] = ref_dir
    for backend in args.backends:
        for n in args.sizes:
            # Each version times its own catalog, filled by its own code (an older qdcat refuses
            # a newer schema), with the same rows from the same seed.
            urls = {v: _prepare(backend, n, v, p, args.workdir) for v, p in versions.items()}
            homes = {v: args.workdir / f"{backend}-{n}-{v}" for v in versions}
            times = {v: _child(python, p, homes[v], urls[v], args.repeats) for v, p in versions.items()}
            for what in times["this"]:
                row = [backend, n, what, *times["this"][what]]
                if "ref" in times:
                    row += [times["ref"][what][0], times["ref"][what][0] / times["this"][what][0]]
                print(_fmt(row), flush=True)
            if args.explain and n == max(args.sizes):
                print(f"--- plan of the filtered query, {backend}, {n} dots ---\n{_explain(urls['this'])}\n")
            if n == min(args.sizes):
                bin_dir = Path(python).parent
                cli = {
                    v: _cli(bin_dir / "python", p, homes[v], urls[v], args.repeats)
                    for v, p in versions.items()
                }
                for name in cli["this"]:
                    row = [backend, n, f"cli {name}", cli["this"][name], "-"]
                    if "ref" in cli:
                        row += [cli["ref"][name], cli["ref"][name] / cli["this"][name]]
                    print(_fmt(row), flush=True)


def _prepare(backend: str, n: int, version: str, path: Path, workdir: Path) -> str:
    """The catalog of ``n`` dots for one version: filled by that version's code when missing."""
    home = workdir / f"{backend}-{n}-{version}"
    home.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        url = f"sqlite:///{home / 'catalog.sqlite'}"
        fresh = not (home / "catalog.sqlite").exists()
    else:
        url = PG_URL.rsplit("/", 1)[0] + f"/qdcat_bench_{n}_{version}"
        fresh = _pg_create(url)
    if fresh:
        t0 = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(path))
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--fill", url, str(n)],
            env=env,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        print(f"filled {backend} {n} dots ({version}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


def _fmt(row: list[object]) -> str:
    parts = [
        f"{row[0]:<10}",
        f"{row[1]:>7}",
        f"{row[2]:<32}",
        f"{row[3] * 1e3:9.1f} ms",
        f"rows {row[4]!s:>6}",
    ]
    if len(row) > 5:
        parts += [f"ref {float(row[5]) * 1e3:9.1f} ms", f"speed-up {float(row[6]):6.1f}×"]  # type: ignore[arg-type]
    return "  ".join(parts)


def _pg_create(url: str) -> bool:
    """Create the benchmark database if it is missing; True when it was created (needs filling)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        exists = conn.execute(text("select 1 from pg_database where datname = :n"), {"n": name}).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return not exists


if __name__ == "__main__":
    main()
