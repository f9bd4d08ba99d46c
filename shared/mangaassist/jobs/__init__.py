"""Analytics jobs (SPEC §2, §4): typed job messages, their status in the jobs table, their results in S3.

`models` (the messages, validated on submit and on receipt), `status` (QUEUED -> RUNNING -> SUCCEEDED | FAILED,
conditional writes), `results` (S3 keys), `worker` (one SQS message -> one run), `cost_report` and `charts`
(the cost report), `planning_jobs` (capacity, TCO, break-even and strategy plans from mangaassist.planning).
"""

from mangaassist.jobs.models import JOB_KINDS, JobBase, JobRejected, build_job, new_job_id, parse_job
from mangaassist.jobs.results import JobOutput, ResultStore, chart_key, result_key
from mangaassist.jobs.status import JobIdTaken, JobRecord, JobStatus, JobStore

__all__ = ["JOB_KINDS", "JobBase", "JobIdTaken", "JobOutput", "JobRecord", "JobRejected", "JobStatus", "JobStore",
           "ResultStore", "build_job", "chart_key", "new_job_id", "parse_job", "result_key"]
