"""Analysis jobs: the only place that touches both the catalog and the analyses.

``plan`` queues runs, ``claim``/``execute``/``work`` run them exactly once, the
executors spread them over processes or a Dask cluster, the result tables
hold one typed row per done run, and ``summarize`` says how a pass ended.
"""

from qdcat.jobs.discover import Selection, applicability
from qdcat.jobs.executors import run_dask, run_inline, run_processes
from qdcat.jobs.report import AnalysisTally, AnalyzeReport, summarize
from qdcat.jobs.runner import (
    Claim,
    JobOutcome,
    Plan,
    PlannedJob,
    claim,
    derived_arrays,
    execute,
    get_job,
    headline,
    job_counts,
    list_jobs,
    measurement_analyses,
    params_hash,
    plan,
    refresh_kind_preference,
    refresh_staleness,
    result_parts,
    results_for_measurement,
    retry,
    work,
    worker_identity,
)

__all__ = [
    "AnalysisTally",
    "AnalyzeReport",
    "Claim",
    "JobOutcome",
    "Plan",
    "PlannedJob",
    "Selection",
    "applicability",
    "claim",
    "derived_arrays",
    "execute",
    "get_job",
    "headline",
    "job_counts",
    "list_jobs",
    "measurement_analyses",
    "params_hash",
    "plan",
    "refresh_kind_preference",
    "refresh_staleness",
    "result_parts",
    "results_for_measurement",
    "retry",
    "run_dask",
    "run_inline",
    "run_processes",
    "summarize",
    "work",
    "worker_identity",
]
