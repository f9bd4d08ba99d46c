"""Run one validated job: the kind decides what runs."""

from __future__ import annotations

from mangaassist.jobs.cost_report import TurnSource, run_cost_report
from mangaassist.jobs.load_test_job import run_load_test
from mangaassist.jobs.models import (
    CostReportJob,
    JobBase,
    JobRejected,
    LoadTestJob,
    OptimizeJob,
    RegressionRunJob,
    unknown_kind,
)
from mangaassist.jobs.planning_jobs import PLANNERS, run_planning
from mangaassist.jobs.results import JobOutput


def run_job(job: JobBase, turns: TurnSource) -> JobOutput:
    if isinstance(job, CostReportJob):
        return run_cost_report(job, turns)
    if type(job) in PLANNERS:
        return run_planning(job)
    if isinstance(job, LoadTestJob):
        return run_load_test(job)
    if isinstance(job, OptimizeJob):
        from mangaassist.jobs.optimize_job import run_optimize

        return run_optimize(job.job_id, job.params, turns)  # type: ignore[arg-type]  # DynamoTurnSource: a window too
    if isinstance(job, RegressionRunJob):
        from mangaassist.jobs.regression_job import run_regression

        return run_regression(job)
    raise JobRejected(unknown_kind(getattr(job, "kind", type(job).__name__)))
