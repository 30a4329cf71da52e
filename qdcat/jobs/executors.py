"""Where jobs run: this process, a local process pool, or a Dask distributed cluster.

Whatever runs them, every job goes through :func:`qdcat.jobs.runner.claim` and
the one-transaction write-back, so the database stays the source of truth:
a job is done once, whoever got to it first.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from qdcat.catalog.api import Catalog, open_catalog
from qdcat.config import Config
from qdcat.errors import InvalidValueError
from qdcat.jobs.runner import LEASE_S, JobOutcome, claim, execute, job_counts, work

Progress = Callable[[JobOutcome], None]

# One catalog per worker process (engine, connection pool, store handle), reused
# by every task that process runs.
_CATALOGS: dict[tuple[str, str], Catalog] = {}


def _catalog_for(config: Config) -> Catalog:
    key = (config.database_url, config.store_url)
    cat = _CATALOGS.get(key)
    if cat is None:
        cat = _CATALOGS[key] = open_catalog(config=config)
    return cat


def run_inline(
    cat: Catalog, run_ids: Sequence[int], *, progress: Progress | None = None, lease_s: float = LEASE_S
) -> list[JobOutcome]:
    """Run the jobs here, one after the other."""
    return work(cat, run_ids=run_ids, on_outcome=progress, lease_s=lease_s)


# ----------------------------------------------------------------------------- local processes


def _pool_worker(config: Config, run_ids: list[int], lease_s: float) -> None:
    cat = open_catalog(config=config)
    try:
        work(cat, run_ids=run_ids, lease_s=lease_s)
    finally:
        cat.close()


def run_processes(
    cat: Catalog,
    run_ids: Sequence[int],
    *,
    workers: int,
    progress: Callable[[dict[str, int]], None] | None = None,
    lease_s: float = LEASE_S,
) -> dict[str, int]:
    """``workers`` processes claim the jobs from the database until none is left."""
    if workers < 1:
        raise InvalidValueError(f"--workers must be >= 1, got {workers}")
    ids = list(run_ids)
    # spawn, not fork: a forked child would share the parent's database connections.
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_pool_worker, args=(Config(**_config_fields(cat.config)), ids, lease_s), daemon=True
        )
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if progress:
                progress(job_counts(cat, ids))
            time.sleep(0.5)
    finally:
        for p in procs:
            p.join(timeout=1)
            if p.is_alive():
                p.terminate()
    counts = job_counts(cat, ids)
    if progress:
        progress(counts)
    return counts


# ----------------------------------------------------------------------------- Dask


def _dask_task(config_fields: dict[str, Any], run_id: int, lease_s: float) -> dict[str, Any]:
    config = Config(**config_fields)
    cat = _catalog_for(config)
    c = claim(cat, run_ids=[run_id], lease_s=lease_s)
    if c is None:  # someone else has it (or it is already done)
        return {"run_id": run_id, "status": "skipped", "seconds": 0.0, "error": None, "analysis": ""}
    return asdict(execute(cat, c, lease_s=lease_s))


def run_dask(
    cat: Catalog,
    run_ids: Sequence[int],
    *,
    address: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    lease_s: float = LEASE_S,
) -> list[JobOutcome]:
    """One Dask task per job on the scheduler at ``address``, or on a local cluster of ``workers``.

    Workers open the catalog themselves: they need the same database URL and
    store URL as this process (a PostgreSQL server and a shared store for a
    real cluster; SQLite and a local folder work for a local cluster).
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise InvalidValueError("Dask executors need `pip install 'dask[distributed]'`") from exc
    cluster = None
    if address in (None, "", "local"):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    else:
        client = Client(address)
    config_fields = _config_fields(cat.config)
    outcomes: list[JobOutcome] = []
    try:
        futures = [client.submit(_dask_task, config_fields, rid, lease_s, pure=False) for rid in run_ids]
        for fut in as_completed(futures):
            d = fut.result()
            if d["status"] == "skipped":
                continue
            out = JobOutcome(**d)
            outcomes.append(out)
            if progress:
                progress(out)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return outcomes


def _config_fields(config: Config) -> dict[str, Any]:
    """The config as plain picklable fields, for another process."""
    out = {k: getattr(config, k) for k in config.__dataclass_fields__}
    out["sources"] = dict(out["sources"])
    return out
