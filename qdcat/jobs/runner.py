"""Analysis jobs: plan, claim, compute, write back — exactly once.

A job is an ``analysis_run`` row. Its life:

1. :func:`plan` finds the targets of the chosen analyses, and for each one
   whose (analysis, version, parameters, inputs) has no run yet inserts a
   ``pending`` run with its inputs. A done run with the same identity means
   nothing to do. A current run whose inputs have changed since is marked
   ``stale`` and stops being current.
2. A worker claims a job atomically: on PostgreSQL ``SELECT … FOR UPDATE SKIP
   LOCKED`` (concurrent workers skip each other's rows), on SQLite inside
   ``BEGIN IMMEDIATE`` (one writer at a time). The claim sets a lease and a
   random token; a heartbeat thread extends the lease while the job runs. A job
   whose lease expired (its worker died) is claimable again, up to
   ``MAX_ATTEMPTS`` claims.
3. The worker rebuilds the target, checks its inputs hash, computes outside any
   transaction and writes derived arrays to ``derived/<run>-<token>`` in the
   store.
4. One transaction writes the result row and marks the run done and current,
   only if the run still carries this worker's token and the inputs are
   unchanged. A failure records the error and traceback instead.

The database is the source of truth whatever executes the work (this process,
a process pool, a Dask cluster).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import socket
import threading
import time
import traceback as tb
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.exc import IntegrityError

import qdcat
from qdcat import analyses as registry
from qdcat.analyses import Analysis, Computed, PartsView, Target
from qdcat.analyses._base import CHOICE_COLUMNS, KEY_COLUMNS, PART_COLUMN, flags_text
from qdcat.catalog import current
from qdcat.catalog.api import Catalog, parse_id
from qdcat.catalog.db import is_unreachable
from qdcat.catalog.models import AnalysisRun, AnalysisRunInput, Measurement, RunStatus
from qdcat.catalog.validate import check_row
from qdcat.errors import InvalidValueError, NotFoundError, QdcatError
from qdcat.jobs.discover import Selection, discover, load, target_of

LEASE_S = 120.0
MAX_ATTEMPTS = 3
DERIVED_PREFIX = "derived"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PlannedJob:
    run_id: int | None
    analysis: str
    target_key: str
    label: str
    # "queued" (new), "pending", "reclaimed" (its process died), "running" (elsewhere),
    # "up to date", "failed", "would run", "made current"
    action: str


@dataclass(frozen=True)
class Plan:
    jobs: tuple[PlannedJob, ...]
    stale: int  # current runs marked stale because their inputs changed

    @property
    def to_run(self) -> list[int]:
        return [
            j.run_id
            for j in self.jobs
            if j.action in ("queued", "pending", "reclaimed") and j.run_id is not None
        ]

    def counts(self) -> dict[str, int]:
        return dict(Counter(j.action for j in self.jobs))


def _analyses(names: Iterable[str] | None) -> list[Analysis]:
    names = list(names or [])
    return [registry.get(n) for n in names] if names else list(registry.registry().values())


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(params), sort_keys=True, default=str).encode()).hexdigest()


def plan(
    cat: Catalog,
    *,
    analyses: Iterable[str] | None = None,
    selection: Selection = Selection(),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
) -> Plan:
    """Queue a pending run for every selected target whose result is missing or out of date."""
    chosen = _analyses(analyses)
    params = params or {}
    unknown = set(params) - {a.name for a in chosen}
    if unknown:
        raise InvalidValueError(f"parameters given for analyses not selected: {', '.join(sorted(unknown))}")
    jobs: list[PlannedJob] = []
    stale = 0
    resolved = {a.name: a.resolve_params(params.get(a.name)) for a in chosen}  # refuse bad values first
    kept = cat.kept_params()  # per measurement, over the batch's parameters
    with cat.session() as s:
        _check_selection(cat, s, selection)
        scope = load(s, selection=selection)
        for analysis in chosen:
            targets = discover(s, analysis, selection, scope=scope)
            stale += _mark_stale(s, analysis, targets, dry_run=dry_run)
            for t in targets:
                p = resolved[analysis.name]
                own = kept.get((t.measurement_id, analysis.name)) if t.measurement_id is not None else None
                if own:
                    p = analysis.resolve_params({**params.get(analysis.name, {}), **own})
                job = _plan_one(s, analysis, t, p, params_hash(p), dry_run=dry_run, retry_failed=retry_failed)
                jobs.append(job)
    return Plan(tuple(jobs), stale)


def _check_selection(cat: Catalog, s: Any, selection: Selection) -> None:
    """Names that do not exist are a typo, not an empty selection: say so."""
    if selection.sample:
        cat._get_sample(s, selection.sample)
    if selection.specimen:
        cat._get_specimen(s, selection.specimen)
    if selection.kinds:
        from qdcat.catalog.models import MeasurementKind

        bad = [k for k in selection.kinds if k not in MeasurementKind._value2member_map_]
        if bad:
            raise InvalidValueError(
                f"unknown measurement kind(s) {', '.join(bad)}; choose from: "
                + ", ".join(k.value for k in MeasurementKind)
            )
    if selection.measurement_ids:
        ids = [parse_id(m, "measurement") for m in selection.measurement_ids]
        found = set(s.scalars(select(Measurement.id).where(Measurement.id.in_(ids))))
        missing = sorted(set(ids) - found)
        if missing:
            raise NotFoundError(
                f"no measurement(s) {', '.join(map(str, missing))}; list them with `qdcat measurement list`"
            )
    if selection.dot:
        from qdcat.catalog.models import Dot

        if s.scalar(select(Dot.id).where(Dot.label == selection.dot).limit(1)) is None:
            raise NotFoundError(f"no dot labelled {selection.dot!r}; list them with `qdcat dot list`")


def _identity(s: Any, analysis: Analysis, p_hash: str, i_hash: str) -> AnalysisRun | None:
    return s.scalar(
        select(AnalysisRun).where(
            AnalysisRun.analysis == analysis.name,
            AnalysisRun.analysis_version == analysis.version,
            AnalysisRun.params_hash == p_hash,
            AnalysisRun.inputs_hash == i_hash,
        )
    )


def _plan_one(
    s: Any,
    analysis: Analysis,
    t: Target,
    p: dict[str, Any],
    p_hash: str,
    *,
    dry_run: bool,
    retry_failed: bool,
) -> PlannedJob:
    i_hash = t.inputs_hash()
    run = _identity(s, analysis, p_hash, i_hash)
    if run is not None:
        status = RunStatus(run.status)
        if status is RunStatus.DONE:
            if run.is_current:
                return PlannedJob(run.id, analysis.name, t.key, t.label, "up to date")
            # Asked again for an earlier configuration: it becomes the current answer, no recompute.
            if not dry_run:
                _make_current(s, run)
            return PlannedJob(run.id, analysis.name, t.key, t.label, "made current")
        if status is RunStatus.FAILED and not retry_failed:
            return PlannedJob(run.id, analysis.name, t.key, t.label, "failed")
        if status in (RunStatus.FAILED, RunStatus.STALE):
            if not dry_run:
                run.status, run.error, run.traceback, run.attempts = RunStatus.PENDING, None, None, 0
                run.claim_token = None
            return PlannedJob(run.id, analysis.name, t.key, t.label, "pending")
        if status is RunStatus.RUNNING and (run.lease_expires_at is None or run.lease_expires_at < _now()):
            # Its process died (the heartbeat stopped renewing the lease). The user asked for
            # this result now, so it runs again here, with a fresh count of attempts: the
            # attempt limit guards background workers against a job that kills them.
            if not dry_run:
                run.status, run.attempts, run.claim_token, run.lease_expires_at = (
                    RunStatus.PENDING,
                    0,
                    None,
                    None,
                )
                run.error = "reclaimed by `qdcat analyze`: the process running it stopped renewing its lease"
            return PlannedJob(run.id, analysis.name, t.key, t.label, "reclaimed")
        return PlannedJob(run.id, analysis.name, t.key, t.label, status.value)
    if dry_run:
        return PlannedJob(None, analysis.name, t.key, t.label, "would run")
    run = AnalysisRun(
        analysis=analysis.name,
        analysis_version=analysis.version,
        params=p,
        params_hash=p_hash,
        inputs_hash=i_hash,
        input_checksums={str(i.measurement_id): i.data_sha256 for i in t.inputs},
        qdcat_version=qdcat.__version__,
        status=RunStatus.PENDING,
        attempts=0,
        target_key=t.key,
        is_current=False,
    )
    run.inputs = [AnalysisRunInput(measurement_id=m) for m in sorted(set(t.measurement_ids))]
    try:
        with s.begin_nested():  # another planner may insert the same run concurrently
            s.add(run)
    except IntegrityError:
        other = _identity(s, analysis, p_hash, i_hash)
        return PlannedJob(other.id if other else None, analysis.name, t.key, t.label, "pending")
    return PlannedJob(run.id, analysis.name, t.key, t.label, "queued")


def _mark_stale(s: Any, analysis: Analysis, targets: Sequence[Target], *, dry_run: bool) -> int:
    """Current runs of these targets whose inputs changed stop being current."""
    by_key = {t.key: t.inputs_hash() for t in targets}
    if not by_key:
        return 0
    n = 0
    # Only results of this analysis version are compared: a result of an older version stays
    # current (its inputs were fingerprinted differently) until this version's result replaces it.
    current = s.scalars(
        select(AnalysisRun).where(
            AnalysisRun.analysis == analysis.name,
            AnalysisRun.analysis_version == analysis.version,
            AnalysisRun.is_current.is_(True),
            AnalysisRun.target_key.in_(list(by_key)),
        )
    ).all()
    retired = []
    for run in current:
        if run.inputs_hash != by_key[run.target_key]:
            n += 1
            if not dry_run:
                run.is_current = False
                run.status = RunStatus.STALE
                run.error = "inputs changed since this result was computed; re-run `qdcat analyze`"
                retired.append(run.id)
    if retired:
        s.flush()
        _refresh_representative(s, analysis.name, retired)
    if not dry_run:
        # Queued or failed runs of these targets planned on older inputs will never be
        # current: retire them now rather than when a worker reaches them.
        waiting = s.scalars(
            select(AnalysisRun).where(
                AnalysisRun.analysis == analysis.name,
                AnalysisRun.status.in_([RunStatus.PENDING, RunStatus.FAILED]),
                AnalysisRun.target_key.in_(list(by_key)),
            )
        ).all()
        for run in waiting:
            if run.inputs_hash != by_key[run.target_key]:
                run.status = RunStatus.STALE
                run.error = "inputs changed before this run was done; a new run was planned"
    s.flush()
    return n


def refresh_staleness(cat: Catalog, *, analyses: Iterable[str] | None = None) -> int:
    """Mark stale every current result whose inputs changed (called after ingests)."""
    n = 0
    with cat.session() as s:
        scope = load(s)
        for analysis in _analyses(analyses):
            n += _mark_stale(s, analysis, discover(s, analysis, scope=scope), dry_run=False)
    return n


def refresh_kind_preference(cat: Catalog, measurement_ids: Iterable[int]) -> None:
    """After a measurement's kind changed: whether its results' kind names their analysis, and
    which result stands for each dot (a g2_cw acquisition re-labelled as a decay, say)."""
    ids = [int(i) for i in measurement_ids]
    if not ids:
        return
    with cat.session() as s:
        kinds = {
            i: k
            for i, k in s.execute(select(Measurement.id, Measurement.kind).where(Measurement.id.in_(ids)))
        }
        for a in registry.registry().values():
            t = a.table
            rows = s.execute(
                select(t.c.run_id, t.c.measurement_id, t.c.dot_id).where(t.c.measurement_id.in_(ids))
            )
            dots = set()
            for run_id, mid, dot in rows:
                preferred = str(getattr(kinds.get(mid), "value", kinds.get(mid))) in a.primary_kinds
                s.execute(update(t).where(t.c.run_id == run_id).values(kind_preferred=preferred))
                dots.add(dot)
            current.refresh(s, t, dots)


def _make_current(s: Any, run: AnalysisRun) -> None:
    s.execute(
        update(AnalysisRun)
        .where(
            AnalysisRun.analysis == run.analysis,
            AnalysisRun.target_key == run.target_key,
            AnalysisRun.is_current.is_(True),
            AnalysisRun.id != run.id,
        )
        .values(is_current=False)
    )
    s.flush()
    run.is_current = True
    s.flush()
    _refresh_representative(s, run.analysis, [run.id])


def _refresh_representative(s: Any, analysis: str, run_ids: Sequence[int]) -> None:
    """The dots of these runs re-choose the result that stands for them in the dots view."""
    table = registry.get(analysis).table
    dots = s.scalars(select(table.c.dot_id).where(table.c.run_id.in_(list(run_ids)))).all()
    current.refresh(s, table, dots)


def _kind_preferred(analysis: Analysis, target: Target) -> bool:
    """Whether the analysed measurement's kind names the analysis (the target knows its kind)."""
    kinds = (i.kind for i in target.inputs if i.measurement_id == target.measurement_id)
    return target.measurement_id is not None and next(kinds, None) in analysis.primary_kinds


# ----------------------------------------------------------------------------- claiming


@dataclass(frozen=True)
class Claim:
    run_id: int
    token: str
    analysis: str
    attempts: int


def worker_identity() -> tuple[str, int]:
    """(host, pid) as a claim records them: who holds a running job."""
    return socket.gethostname()[:255], os.getpid()


def claim(
    cat: Catalog,
    *,
    run_ids: Sequence[int] | None = None,
    analyses: Iterable[str] | None = None,
    lease_s: float = LEASE_S,
) -> Claim | None:
    """Atomically take one claimable job (pending, or running with an expired lease)."""
    engine = cat.engine
    sqlite = engine.dialect.name == "sqlite"
    host, pid = worker_identity()
    names = list(analyses or [])
    while True:
        now = _now()
        with engine.connect() as conn:
            if sqlite:
                # One writer at a time: the select and the update below cannot interleave
                # with another process's claim.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            cond = (AnalysisRun.status == RunStatus.PENDING) | (
                (AnalysisRun.status == RunStatus.RUNNING) & (AnalysisRun.lease_expires_at < now)
            )
            q = select(AnalysisRun.id, AnalysisRun.status, AnalysisRun.attempts, AnalysisRun.analysis).where(
                cond
            )
            if run_ids is not None:
                q = q.where(AnalysisRun.id.in_(list(run_ids)))
            if names:
                q = q.where(AnalysisRun.analysis.in_(names))
            q = q.order_by(AnalysisRun.id).limit(1)
            if not sqlite:
                q = q.with_for_update(skip_locked=True)
            row = conn.execute(q).first()
            if row is None:
                conn.rollback()
                return None
            if RunStatus(row.status) is RunStatus.RUNNING and row.attempts >= MAX_ATTEMPTS:
                conn.execute(
                    update(AnalysisRun)
                    .where(AnalysisRun.id == row.id)
                    .values(
                        status=RunStatus.FAILED,
                        finished_at=now,
                        lease_expires_at=None,
                        error=f"its worker died or lost the lease {row.attempts} times; "
                        "see `qdcat jobs show`, then `qdcat jobs retry`",
                    )
                )
                conn.commit()
                continue
            token = uuid.uuid4().hex
            conn.execute(
                update(AnalysisRun)
                .where(AnalysisRun.id == row.id)
                .values(
                    status=RunStatus.RUNNING,
                    claim_token=token,
                    host=host,
                    pid=pid,
                    attempts=AnalysisRun.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    lease_expires_at=now + dt.timedelta(seconds=lease_s),
                    finished_at=None,
                    error=None,
                    traceback=None,
                )
            )
            conn.commit()
            return Claim(row.id, token, row.analysis, row.attempts + 1)


class _Heartbeat:
    """Extends a claim's lease every lease/4 seconds; notices when the claim was lost."""

    def __init__(self, cat: Catalog, c: Claim, lease_s: float) -> None:
        self.cat, self.claim, self.lease_s = cat, c, lease_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"qdcat-heartbeat-{c.run_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            now = _now()
            try:
                with self.cat.engine.begin() as conn:
                    n = conn.execute(
                        update(AnalysisRun)
                        .where(
                            AnalysisRun.id == self.claim.run_id,
                            AnalysisRun.claim_token == self.claim.token,
                            AnalysisRun.status == RunStatus.RUNNING,
                        )
                        .values(heartbeat_at=now, lease_expires_at=now + dt.timedelta(seconds=self.lease_s))
                    ).rowcount
            except Exception:  # a transient database error: try again next beat
                continue
            if n == 0:
                self.lost = True
                return


# ----------------------------------------------------------------------------- execution


@dataclass(frozen=True)
class JobOutcome:
    run_id: int
    analysis: str
    status: str  # "done", "failed", "stale", "lost"
    seconds: float
    error: str | None = None


def _target_of(s: Any, run: AnalysisRun) -> Target | None:
    analysis = registry.get(run.analysis)
    ids = tuple(s.scalars(select(AnalysisRunInput.measurement_id).where(AnalysisRunInput.run_id == run.id)))
    return target_of(s, analysis, run.target_key, ids)


def execute(cat: Catalog, c: Claim, *, lease_s: float = LEASE_S) -> JobOutcome:
    """Run a claimed job to the end: result written and done, or failed with the error."""
    t0 = time.perf_counter()
    arrays_key: str | None = None
    try:
        with cat.session() as s:
            run = s.get(AnalysisRun, c.run_id)
            if run is None:
                raise NotFoundError(f"analysis run {c.run_id} no longer exists")
            analysis = registry.get(run.analysis)
            if analysis.version != run.analysis_version:
                raise InvalidValueError(
                    f"run {run.id} asks for {run.analysis} version {run.analysis_version}, this qdcat "
                    f"has version {analysis.version}; run it with that qdcat or plan it again"
                )
            target = _target_of(s, run)
            params, inputs_hash = dict(run.params), run.inputs_hash
        if target is None or target.inputs_hash() != inputs_hash:
            _finish(cat, c, RunStatus.STALE, "inputs changed after the job was planned; plan it again")
            return JobOutcome(c.run_id, c.analysis, "stale", time.perf_counter() - t0)
        with _Heartbeat(cat, c, lease_s) as hb:
            fetched = analysis.fetch(cat.store, target, params)
            computed = analysis.compute(fetched, target, params)
            if computed.arrays:
                arrays_key = f"{DERIVED_PREFIX}/{c.run_id}-{c.token}"
                cat.store.write_arrays(
                    arrays_key,
                    computed.arrays,
                    attrs={"analysis": analysis.name, "run_id": c.run_id, "target": target.key},
                    equal_length=False,
                )
        if hb.lost:
            raise _LostClaim()
        return _commit(cat, c, analysis, target, computed, arrays_key, t0)
    except _LostClaim:
        _drop_arrays(cat, arrays_key)
        return JobOutcome(c.run_id, c.analysis, "lost", time.perf_counter() - t0)
    except Exception as exc:
        _drop_arrays(cat, arrays_key)
        if is_unreachable(exc):
            # The database went away, not the analysis: nothing to record (and no way to).
            # The claim stays with its lease; `work` releases it when the database is back.
            raise
        msg = str(exc) if isinstance(exc, QdcatError) else f"{type(exc).__name__}: {exc}"
        _finish(cat, c, RunStatus.FAILED, msg, tb.format_exc())
        return JobOutcome(c.run_id, c.analysis, "failed", time.perf_counter() - t0, msg)


class _LostClaim(Exception):
    """Another worker owns the job now (this one's lease expired)."""


def _drop_arrays(cat: Catalog, key: str | None) -> None:
    if key is not None:
        # Best effort: gc removes unreferenced derived arrays later anyway.
        with contextlib.suppress(Exception):
            cat.store.delete(key)


def _owned(s: Any, c: Claim) -> AnalysisRun | None:
    q = select(AnalysisRun).where(AnalysisRun.id == c.run_id)
    if s.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()
    run = s.scalar(q)
    if run is None or run.claim_token != c.token or RunStatus(run.status) is not RunStatus.RUNNING:
        return None
    return run


def _commit(
    cat: Catalog,
    c: Claim,
    analysis: Analysis,
    target: Target,
    computed: Computed,
    arrays_key: str | None,
    t0: float,
) -> JobOutcome:
    with cat.session() as s:
        run = _owned(s, c)
        if run is None:
            raise _LostClaim()
        # The inputs must still be what was computed on (a measurement could have been
        # replaced or a background trace added meanwhile).
        fresh = _target_of(s, run)
        if fresh is None or fresh.inputs_hash() != run.inputs_hash:
            run.status, run.finished_at, run.lease_expires_at = RunStatus.STALE, _now(), None
            run.error = "inputs changed while the job ran; plan it again"
            _drop_arrays(cat, arrays_key)
            return JobOutcome(c.run_id, c.analysis, "stale", time.perf_counter() - t0)
        values = _result_values(analysis, computed.row)
        check_row(analysis.table, values)
        keys = {
            "run_id": run.id,
            "specimen_id": target.specimen_id,
            "dot_id": target.dot_id,
            "measurement_id": target.measurement_id,
        }
        s.execute(
            analysis.table.insert().values(**keys, kind_preferred=_kind_preferred(analysis, target), **values)
        )
        _insert_parts(s, analysis, computed.parts, keys)
        run.status = RunStatus.DONE
        run.finished_at = _now()
        run.lease_expires_at = None
        run.arrays_path = arrays_key
        _make_current(s, run)
    return JobOutcome(c.run_id, c.analysis, "done", time.perf_counter() - t0)


def _insert_parts(
    s: Any, analysis: Analysis, parts: Sequence[Mapping[str, Any]], keys: Mapping[str, Any]
) -> None:
    """The parts of a result (its levels), in the result's transaction: all of them or none."""
    view = analysis.parts_view
    if view is None:
        if parts:
            raise InvalidValueError(f"{analysis.name} computed parts but declares no Parts table")
        return
    rows = []
    for i, part in enumerate(parts):
        values = _result_values(view, part)
        check_row(view.table, values)
        rows.append({**keys, PART_COLUMN: i, **values})
    if rows:
        s.execute(view.table.insert(), rows)


def _result_values(analysis: Analysis | PartsView, row: Mapping[str, Any]) -> dict[str, Any]:
    """A computed row checked against the declared columns: NaN/inf become NULL where allowed.

    A required column without a finite value fails the job with the flags that explain it.
    """
    table = analysis.table
    declared = set(analysis.result_names())
    unknown = set(row) - declared
    if unknown:
        raise InvalidValueError(f"{analysis.name} computed undeclared result columns {sorted(unknown)}")
    flags = row.get("flags") or ()
    flag_list = flags.split() if isinstance(flags, str) else list(flags)
    qc = analysis.qc(flag_list)
    out: dict[str, Any] = {
        "flags": flags_text(flag_list),
        "qc": qc.verdict,
        "qc_failed": " ".join(qc.failed)[:255],
        "qc_reason": qc.reason,
    }
    for k, v in row.items():
        if k == "flags":
            continue
        if isinstance(v, float | np.floating):
            v = float(v)
            if not math.isfinite(v):
                v = None
        elif isinstance(v, np.integer | np.bool_):
            v = v.item()
        if v is None and not table.c[k].nullable:
            raise InvalidValueError(
                f"{analysis.name}: the fit gave no finite {k} (flags: {out['flags'] or 'none'}); "
                "check the data or the parameters"
            )
        out[k] = v
    missing = [
        c.name
        for c in table.columns
        if c.name not in out
        and c.name not in (*KEY_COLUMNS, *CHOICE_COLUMNS, PART_COLUMN)
        and not c.nullable
        and c.server_default is None
    ]
    if missing:
        raise InvalidValueError(f"{analysis.name} computed no value for {missing}")
    return out


def _finish(cat: Catalog, c: Claim, status: RunStatus, error: str, traceback: str | None = None) -> None:
    with cat.session() as s:
        run = _owned(s, c)
        if run is None:
            return
        run.status, run.error, run.traceback = status, error, traceback
        run.finished_at, run.lease_expires_at = _now(), None


def release(cat: Catalog, c: Claim) -> None:
    """Give a claim back (pending again) when it is still ours — after a database outage."""
    with cat.session() as s:
        run = _owned(s, c)
        if run is not None:
            run.status, run.claim_token, run.lease_expires_at = RunStatus.PENDING, None, None
            run.attempts = max(0, run.attempts - 1)  # the database failed, not the job


def work(
    cat: Catalog,
    *,
    run_ids: Sequence[int] | None = None,
    analyses: Iterable[str] | None = None,
    lease_s: float = LEASE_S,
    idle_exit: bool = True,
    poll_s: float = 2.0,
    max_jobs: int | None = None,
    on_outcome: Callable[[JobOutcome], None] | None = None,
    stop: threading.Event | None = None,
    wait_for_database: bool = False,
    on_wait: Callable[[str, float], None] | None = None,
    max_backoff_s: float = 30.0,
) -> list[JobOutcome]:
    """Claim and run jobs until none is left (or forever with ``idle_exit=False``).

    With ``wait_for_database`` an unreachable database (a server restart, a network
    cut) does not end the loop: it waits with exponential backoff (1 s doubling up to
    ``max_backoff_s``), telling ``on_wait(reason, seconds)``, and carries on where it
    was; a job interrupted by the outage is given back and claimed again.
    """
    names = list(analyses or [])
    outcomes: list[JobOutcome] = []
    backoff = 1.0
    interrupted: Claim | None = None

    def pause(seconds: float) -> bool:
        """Sleep; True when asked to stop meanwhile."""
        if stop is not None:
            return stop.wait(seconds)
        time.sleep(seconds)
        return False

    while max_jobs is None or len(outcomes) < max_jobs:
        if stop is not None and stop.is_set():
            break
        try:
            if interrupted is not None:
                release(cat, interrupted)
                interrupted = None
            c = claim(cat, run_ids=run_ids, analyses=names, lease_s=lease_s)
            if c is None:
                backoff = 1.0
                if idle_exit or pause(poll_s):
                    break
                continue
            try:
                out = execute(cat, c, lease_s=lease_s)
            except Exception as exc:
                if is_unreachable(exc):
                    interrupted = c
                raise
            backoff = 1.0
        except Exception as exc:
            if not (wait_for_database and is_unreachable(exc)):
                raise
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["unreachable"])[0][:200]
            if on_wait:
                on_wait(reason, backoff)
            if pause(backoff):
                break
            backoff = min(2 * backoff, max_backoff_s)
            continue
        outcomes.append(out)
        if on_outcome:
            on_outcome(out)
    return outcomes


# ----------------------------------------------------------------------------- job listing


def list_jobs(
    cat: Catalog,
    *,
    status: str | None = None,
    analysis: str | None = None,
    run_ids: Sequence[int] | None = None,
    limit: int | None = 200,
) -> list[dict[str, Any]]:
    """Runs, newest first; ``run_ids`` selects some (and lifts the limit)."""
    if limit is not None and not 1 <= limit < 2**63:
        raise InvalidValueError(f"limit must be a positive whole number, got {limit}")
    with cat.session() as s:
        q = select(AnalysisRun).order_by(AnalysisRun.id.desc())
        if run_ids is not None:
            q, limit = q.where(AnalysisRun.id.in_(list(run_ids))), None
        if status:
            q = q.where(AnalysisRun.status == RunStatus(status))
        if analysis:
            q = q.where(AnalysisRun.analysis == registry.get(analysis).name)
        if limit:
            q = q.limit(limit)
        return [_run_record(r) for r in s.scalars(q)]


def _run_record(r: AnalysisRun, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id,
        "analysis": r.analysis,
        "version": r.analysis_version,
        "target": r.target_key,
        "status": RunStatus(r.status).value,
        "current": r.is_current,
        "attempts": r.attempts,
        "host": r.host,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "seconds": (r.finished_at - r.started_at).total_seconds() if r.finished_at and r.started_at else None,
        "error": (r.error or "")[:200] or None,
    }
    if full:
        out |= {
            "params": r.params,
            "params_hash": r.params_hash,
            "inputs_hash": r.inputs_hash,
            "input_checksums": r.input_checksums,
            "qdcat_version": r.qdcat_version,
            "pid": r.pid,
            "created_at": r.created_at,
            "heartbeat_at": r.heartbeat_at,
            "lease_expires_at": r.lease_expires_at,
            "arrays_path": r.arrays_path,
            "error": r.error,
            "traceback": r.traceback,
        }
    return out


def get_job(cat: Catalog, run_id: int) -> dict[str, Any]:
    run_id = parse_id(run_id, "analysis run")
    with cat.session() as s:
        r = s.get(AnalysisRun, run_id)
        if r is None:
            raise NotFoundError(f"no analysis run {run_id}; list them with `qdcat jobs list`")
        rec = _run_record(r, full=True)
        rec["inputs"] = sorted(i.measurement_id for i in r.inputs)
        return rec


def retry(cat: Catalog, run_ids: Sequence[int] = (), *, all_failed: bool = False) -> list[int]:
    """Failed (or stuck) runs back to pending; returns the ids."""
    run_ids = [parse_id(r, "analysis run") for r in run_ids]
    with cat.session() as s:
        q = select(AnalysisRun)
        if all_failed:
            q = q.where(AnalysisRun.status == RunStatus.FAILED)
        else:
            if not run_ids:
                raise InvalidValueError("name the runs to retry, or use --all-failed")
            q = q.where(AnalysisRun.id.in_(list(run_ids)))
        runs = s.scalars(q).all()
        missing = set(run_ids) - {r.id for r in runs}
        if missing:
            raise NotFoundError(f"no analysis runs {sorted(missing)}; list them with `qdcat jobs list`")
        out = []
        for r in runs:
            if RunStatus(r.status) is RunStatus.DONE:
                raise InvalidValueError(f"run {r.id} is done; nothing to retry")
            r.status, r.error, r.traceback, r.attempts = RunStatus.PENDING, None, None, 0
            r.claim_token, r.lease_expires_at = None, None
            out.append(r.id)
        return out


def result_parts(cat: Catalog, analysis: str, run_id: int) -> list[dict[str, Any]]:
    """The parts (the levels) of one result, in order; empty for an analysis without parts."""
    view = registry.get(analysis).parts_view
    if view is None:
        return []
    t = view.table
    with cat.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.run_id == run_id).order_by(t.c[PART_COLUMN])).mappings()
        return [dict(r) for r in rows]


def job_counts(cat: Catalog, run_ids: Sequence[int] | None = None) -> dict[str, int]:
    with cat.session() as s:
        q = select(AnalysisRun.status, func.count()).group_by(AnalysisRun.status)
        if run_ids is not None:
            q = q.where(AnalysisRun.id.in_(list(run_ids)))
        return {RunStatus(k).value: int(v) for k, v in s.execute(q)}


def derived_arrays(cat: Catalog, run_id: int) -> dict[str, Any]:
    """The derived arrays (histogram, trace, …) a run wrote, by name."""
    with cat.session() as s:
        r = s.get(AnalysisRun, run_id)
        if r is None:
            raise NotFoundError(f"no analysis run {run_id}")
        key = r.arrays_path
    if key is None:
        return {}
    return cat.store.read_arrays(key)


def results_for_measurement(
    cat: Catalog, measurement_id: int, *, include_old: bool = False
) -> list[dict[str, Any]]:
    """Result rows of every analysis that read this measurement (current ones unless ``include_old``)."""
    with cat.session() as s:
        if s.get(Measurement, measurement_id) is None:
            raise NotFoundError(f"no measurement {measurement_id}; list them with `qdcat measurement list`")
        q = (
            select(AnalysisRun)
            .join(AnalysisRunInput, AnalysisRunInput.run_id == AnalysisRun.id)
            .where(AnalysisRunInput.measurement_id == measurement_id, AnalysisRun.status == RunStatus.DONE)
            .order_by(AnalysisRun.id)
        )
        if not include_old:
            q = q.where(AnalysisRun.is_current.is_(True))
        out = []
        known = registry.registry()
        for run in s.scalars(q):
            table = known[run.analysis].table if run.analysis in known else None
            row = (
                s.execute(select(table).where(table.c.run_id == run.id)).mappings().first()
                if table is not None
                else None
            )
            values = {k: v for k, v in (row or {}).items() if k not in (*KEY_COLUMNS, *CHOICE_COLUMNS)}
            out.append(
                {
                    "analysis": run.analysis,
                    "run": run.id,
                    "version": run.analysis_version,
                    "current": run.is_current,
                    "finished_at": run.finished_at,
                    "params": run.params,
                    "measurement_id": row["measurement_id"] if row is not None else None,
                    **values,
                }
            )
        return out


def headline(analysis: str, row: Mapping[str, Any] | None) -> str:
    """A result row in one line: its headline quantities with errors, and its flags."""
    return _summary(registry.get(analysis), row)


def _summary(analysis: Analysis, row: RowMapping | Mapping[str, Any] | None) -> str:
    """The analysis's first declared quantity of a result row, as "name value ± err"."""
    if row is None:
        return ""
    names = analysis.headline or [next((c.name for c in analysis.columns if c.type == "float"), "")]
    parts = []
    for name in names:
        v, e = row.get(name), row.get(f"{name}_err")
        if isinstance(v, float):
            parts.append(f"{name} {v:.4g}" + (f" ± {e:.2g}" if e is not None else ""))
        elif isinstance(v, int | str) and not isinstance(v, bool):
            parts.append(f"{name} {v}")
    return ", ".join(parts) + (f" ({row['flags']})" if row.get("flags") else "")


def measurement_analyses(cat: Catalog, measurement_id: int) -> list[dict[str, Any]]:
    """Every analysis for one measurement: does it apply (or why not), and its current (else newest) run."""
    from qdcat.jobs.discover import applicability

    known = registry.registry()
    with cat.session() as s:
        if s.get(Measurement, measurement_id) is None:
            raise NotFoundError(f"no measurement {measurement_id}; list them with `qdcat measurement list`")
        verdicts = applicability(s, measurement_id, list(known.values()))
        runs = s.scalars(
            select(AnalysisRun)
            .join(AnalysisRunInput, AnalysisRunInput.run_id == AnalysisRun.id)
            .where(AnalysisRunInput.measurement_id == measurement_id)
            .order_by(AnalysisRun.is_current.desc(), AnalysisRun.id.desc())
        ).all()
        out = []
        for v in verdicts:
            a = known[v.analysis]
            own = [
                r
                for r in runs
                if r.analysis == a.name
                and (r.target_key == f"measurement:{measurement_id}" or a.grouping == "series")
            ]
            run = own[0] if v.applies and own else None
            row = None
            if run is not None and RunStatus(run.status) is RunStatus.DONE:
                row = s.execute(select(a.table).where(a.table.c.run_id == run.id)).mappings().first()
            out.append(
                {
                    "analysis": a.name,
                    "applies": "yes" if v.applies else "no",
                    "why / reads": v.reason,
                    "run": run.id if run is not None else None,
                    "status": (
                        ("current" if run.is_current else RunStatus(run.status).value)
                        if run is not None
                        else ("not analysed yet" if v.applies else "")
                    ),
                    "result": _summary(a, row),
                }
            )
        return out
