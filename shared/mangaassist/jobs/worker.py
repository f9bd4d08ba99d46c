"""The analytics worker's domain: one SQS message -> one job run, its status and its results.

What becomes of a message:

- not JSON / not an object / a job_id that is not a valid id: nothing to record it under; logged and dropped;
- a job that fails its own validation (unknown kind, bad params): FAILED with the reason, dropped;
- a job id already SUCCEEDED, or RUNNING in another worker: not run again, dropped;
- the job raises JobRejected or ValueError (its inputs are impossible) or any other error (a bug): FAILED with
  the reason, dropped: running it again would fail again;
- an infrastructure error (DynamoDB, S3: botocore's ClientError/BotoCoreError): the status says so when it can,
  and the error propagates, so the batch reports that message as failed and SQS redelivers it (then the DLQ).

Only the last case is a batch item failure: a bad job never loops through redeliveries.
A message without a job_id runs as "sqs-<messageId>", so a redelivery of it is still recognised.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.jobs.models import JobBase, JobRejected, parse_job, valid_job_id
from mangaassist.jobs.results import JobOutput, ResultStore
from mangaassist.jobs.status import JobStore

logger = Logger(service="mangaassist")
INFRASTRUCTURE_ERRORS = (ClientError, BotoCoreError)
LEASE_MARGIN_MS = 60_000  # a RUNNING job is taken over only this long after its worker's deadline
DEFAULT_LEASE_MS = 15 * 60_000  # without a Lambda context: Lambda's longest timeout
# Background work: patient timeouts and the SDK's standard retries (not the chat turn's fail-fast settings).
JOBS_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 5})


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ran (or was claimed) and failed for a reason retrying would not fix
    REJECTED = "rejected"  # invalid job: FAILED without running
    SKIPPED = "skipped"  # already SUCCEEDED, or RUNNING elsewhere
    DROPPED = "dropped"  # nothing to record it under (no readable job id)


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class JobWorker:
    def __init__(self, store: JobStore, results: ResultStore, run: Callable[[JobBase], JobOutput],
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.store = store
        self.results = results
        self.run = run
        self._clock_ms = clock_ms

    def handle(self, message_id: str, body: str, remaining_ms: int | None = None) -> Outcome:
        """One message. Raises only for infrastructure errors (the message is then reported as failed)."""
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            logger.error("analytics job dropped: the message is not a JSON object, so it has no job id",
                         extra={"message_id": message_id, "body": _clip(body, 500)})
            return Outcome.DROPPED
        if data.get("job_id") is None:
            data = {**data, "job_id": f"sqs-{message_id}"}
        job_id = data["job_id"]
        if not valid_job_id(job_id):
            logger.error("analytics job dropped: its job_id is not a valid id",
                         extra={"message_id": message_id, "job_id": _clip(str(job_id), 200)})
            return Outcome.DROPPED
        try:
            job = parse_job(data)
        except JobRejected as error:
            return self._reject(job_id, str(error), data.get("kind"))
        return self._run(job, remaining_ms)

    def _reject(self, job_id: str, reason: str, kind: Any) -> Outcome:
        recorded = self.store.reject(job_id, _clip(f"invalid job: {reason}"),
                                     kind=kind[:64] if isinstance(kind, str) else "")
        if recorded:
            logger.warning("analytics job rejected", extra={"job_id": job_id, "reason": reason})
        else:
            logger.warning("invalid message for a job id that is running or done: dropped, the job is untouched",
                           extra={"job_id": job_id, "reason": reason})
        return Outcome.REJECTED

    def _run(self, job: JobBase, remaining_ms: int | None) -> Outcome:
        kind = str(getattr(job, "kind", ""))
        run_id = uuid.uuid4().hex
        lease = self._clock_ms() + (remaining_ms if remaining_ms is not None else DEFAULT_LEASE_MS) + LEASE_MARGIN_MS
        if not self.store.claim(job.job_id, kind, job.params_json(), run_id, lease):
            record = self.store.get(job.job_id)
            logger.info("analytics job not run again", extra={"job_id": job.job_id,
                                                             "status": record.status if record else None})
            return Outcome.SKIPPED
        logger.info("analytics job running", extra={"job_id": job.job_id, "kind": kind})
        try:
            output = self.run(job)
            keys = self.results.write(job.job_id, output)
        except INFRASTRUCTURE_ERRORS as error:
            self._fail_quietly(job.job_id, run_id, f"infrastructure error, retried by SQS (then its DLQ): {error}")
            raise
        except (JobRejected, ValueError) as error:
            logger.warning("analytics job failed on its inputs", extra={"job_id": job.job_id, "error": str(error)})
            self.store.fail_run(job.job_id, run_id, _clip(f"the job's inputs were refused: {error}"))
            return Outcome.FAILED
        except Exception as error:
            logger.exception("analytics job failed", extra={"job_id": job.job_id})
            self.store.fail_run(job.job_id, run_id, _clip(
                f"internal error ({type(error).__name__}: {error}); not retried: re-submit it with the same "
                "job id once the cause is fixed"))
            return Outcome.FAILED
        if not self.store.succeed(job.job_id, run_id, keys, _clip(output.summary, 500)):
            logger.warning("analytics job finished after another worker took it over; its status is theirs",
                           extra={"job_id": job.job_id})
        logger.info("analytics job succeeded", extra={"job_id": job.job_id, "keys": keys})
        return Outcome.SUCCEEDED

    def _fail_quietly(self, job_id: str, run_id: str, reason: str) -> None:
        """Record an infrastructure failure if the status store itself is reachable; never mask the error."""
        try:
            self.store.fail_run(job_id, run_id, _clip(reason))
        except INFRASTRUCTURE_ERRORS:
            logger.exception("could not record the job's failure", extra={"job_id": job_id})


@cache
def default_worker() -> JobWorker:
    """The worker wired from the function's settings (JOBS_TABLE, RESULTS_BUCKET, SESSIONS_TABLE)."""
    from mangaassist.adapters import aws
    from mangaassist.jobs.cost_report import DynamoTurnSource
    from mangaassist.jobs.runner import run_job
    from mangaassist.settings import settings

    s = settings()
    dynamodb = aws.client("dynamodb", JOBS_CONFIG)
    return JobWorker(JobStore(dynamodb, s.require("jobs_table")),
                     ResultStore(aws.client("s3", JOBS_CONFIG), s.require("results_bucket")),
                     partial(run_job, turns=DynamoTurnSource(dynamodb, s.require("sessions_table"))))
