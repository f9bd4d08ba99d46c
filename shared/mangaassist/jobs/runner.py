"""Run one validated job: the kind decides what runs."""

from __future__ import annotations

from mangaassist.jobs.cost_report import TurnSource, run_cost_report
from mangaassist.jobs.models import CostReportJob, JobBase, JobRejected, unknown_kind
from mangaassist.jobs.planning_jobs import PLANNERS, run_planning
from mangaassist.jobs.results import JobOutput


def run_job(job: JobBase, turns: TurnSource) -> JobOutput:
    if isinstance(job, CostReportJob):
        return run_cost_report(job, turns)
    if type(job) in PLANNERS:
        return run_planning(job)
    raise JobRejected(unknown_kind(getattr(job, "kind", type(job).__name__)))
