"""The status of each job in the jobs table (pk jobId), moved only by conditional writes.

    QUEUED ──claim──▶ RUNNING ──▶ SUCCEEDED
       │                 │  └────▶ FAILED ──(resubmitted or redelivered)──▶ RUNNING ...
       └──(rejected)─────┴───────▶ FAILED

- `submit` writes QUEUED unless the id is taken by a job that has not failed (a FAILED job may be run again).
- `claim` moves a job to RUNNING for one run (a fresh `runId`, a lease until the invocation's deadline) only
  from nothing, QUEUED or FAILED, or from RUNNING whose lease has expired (a worker that died mid-job): a job
  already SUCCEEDED, or RUNNING in another worker, is not run again.
- `succeed` / `fail_run` finish the run that holds the job (condition on its runId).
- `reject` records a job that cannot run (malformed, invalid) as FAILED, but never overwrites a job that is
  RUNNING or SUCCEEDED under that id.

Items expire (TTL `expiresAt`) after RETENTION_DAYS, as the results bucket's objects do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

RETENTION_DAYS = 90  # the results bucket's lifecycle expires results after 90 days too
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_NAMES = {"#s": "status", "#kind": "kind", "#params": "params", "#submitted": "submittedAt",
          "#started": "startedAt", "#finished": "finishedAt", "#updated": "updatedAt", "#error": "error",
          "#keys": "resultKeys", "#summary": "summary", "#attempts": "attempts", "#lease": "leaseUntil",
          "#run": "runId", "#exp": "expiresAt"}


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    status: JobStatus
    kind: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    submitted_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    updated_at: str = ""
    error: str = ""
    result_keys: list[str] = field(default_factory=list)
    summary: str = ""
    attempts: int = 0
    lease_until_ms: int = 0
    run_id: str = ""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobRecord:
        """From a DynamoDB-typed item."""
        plain = {key: _deserializer.deserialize(value) for key, value in item.items()}
        try:
            params = json.loads(plain.get("params") or "{}")
        except ValueError:
            params = {"unreadable": plain.get("params")}
        return cls(job_id=str(plain["jobId"]), status=JobStatus(plain.get("status", "FAILED")),
                   kind=str(plain.get("kind", "")), params=params if isinstance(params, dict) else {},
                   submitted_at=str(plain.get("submittedAt", "")), started_at=str(plain.get("startedAt", "")),
                   finished_at=str(plain.get("finishedAt", "")), updated_at=str(plain.get("updatedAt", "")),
                   error=str(plain.get("error", "")), result_keys=[str(k) for k in plain.get("resultKeys", [])],
                   summary=str(plain.get("summary", "")), attempts=int(plain.get("attempts", 0)),
                   lease_until_ms=int(plain.get("leaseUntil", 0)), run_id=str(plain.get("runId", "")))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        del out["run_id"], out["lease_until_ms"]  # the worker's bookkeeping
        return out


class JobIdTaken(Exception):
    """submit: the id belongs to a job that is queued, running or done (only a FAILED job may be run again)."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        super().__init__(f"job {record.job_id} is already {record.status.value}"
                         + (f" (submitted {record.submitted_at})" if record.submitted_at else ""))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobStore:
    """The jobs table through a low-level DynamoDB client (`client` may be stubbed in tests)."""

    def __init__(self, client: Any, table: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.table = table
        self._now = now

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord | None:
        item = self.client.get_item(TableName=self.table, Key={"jobId": {"S": job_id}},
                                    ConsistentRead=True).get("Item")
        return JobRecord.from_item(item) if item else None

    def recent(self, limit: int = 20) -> list[JobRecord]:
        """The most recently submitted jobs, newest first (a Scan: the table holds RETENTION_DAYS of jobs)."""
        records = [JobRecord.from_item(item)
                   for page in self.client.get_paginator("scan").paginate(TableName=self.table)
                   for item in page.get("Items", [])]
        records.sort(key=lambda r: (r.submitted_at or r.updated_at, r.job_id), reverse=True)
        return records[:limit]

    # -- transitions ---------------------------------------------------------------------------------------
    def _update(self, job_id: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        """One conditional UpdateItem; False when the condition did not hold."""
        used = set(re.findall(r"[#:]\w+", f"{expression} {condition}"))  # DynamoDB refuses unused names/values
        typed = {key: _serializer.serialize(value) for key, value in values.items() if key in used}
        names = {name: attr for name, attr in _NAMES.items() if name in used}
        try:
            self.client.update_item(TableName=self.table, Key={"jobId": {"S": job_id}}, UpdateExpression=expression,
                                    ConditionExpression=condition, ExpressionAttributeNames=names,
                                    ExpressionAttributeValues=typed)
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def _stamps(self) -> dict[str, Any]:
        now = self._now()
        return {":now": iso(now), ":exp": int((now + timedelta(days=RETENTION_DAYS)).timestamp())}

    def submit(self, job_id: str, kind: str, params_json: str) -> None:
        """QUEUED; JobIdTaken when the id belongs to a job that has not failed."""
        for _ in range(3):
            if self._update(
                    job_id,
                    "SET #s = :queued, #kind = :kind, #params = :params, #submitted = :now, #updated = :now, "
                    "#exp = :exp, #attempts = :zero REMOVE #error, #started, #finished, #keys, #summary, #lease, #run",
                    "attribute_not_exists(jobId) OR #s = :failed",
                    {":queued": JobStatus.QUEUED.value, ":failed": JobStatus.FAILED.value, ":kind": kind,
                     ":params": params_json, ":zero": 0, **self._stamps()}):
                return
            record = self.get(job_id)
            if record is not None and record.status is not JobStatus.FAILED:
                raise JobIdTaken(record)
            # It failed or vanished between the write and the read: try again.
        raise RuntimeError(f"job {job_id}: its status keeps changing; submit it again")

    def claim(self, job_id: str, kind: str, params_json: str, run_id: str, lease_until_ms: int) -> bool:
        """RUNNING for this run; False when the job is SUCCEEDED or RUNNING (with a live lease) elsewhere."""
        now = self._now()
        return self._update(
            job_id,
            "SET #s = :running, #kind = :kind, #params = :params, #started = :now, #updated = :now, #exp = :exp, "
            "#lease = :lease, #run = :run, #submitted = if_not_exists(#submitted, :now) "
            "REMOVE #error, #finished, #keys, #summary ADD #attempts :one",
            "attribute_not_exists(jobId) OR #s IN (:queued, :failed) OR (#s = :running AND #lease < :now_ms)",
            {":running": JobStatus.RUNNING.value, ":queued": JobStatus.QUEUED.value,
             ":failed": JobStatus.FAILED.value, ":kind": kind, ":params": params_json, ":lease": lease_until_ms,
             ":run": run_id, ":one": 1, ":now_ms": int(now.timestamp() * 1000), **self._stamps()})

    def succeed(self, job_id: str, run_id: str, result_keys: list[str], summary: str) -> bool:
        """SUCCEEDED with its results; False when this run no longer holds the job."""
        return self._update(
            job_id, "SET #s = :done, #finished = :now, #updated = :now, #keys = :keys, #summary = :summary "
                    "REMOVE #lease",
            "#s = :running AND #run = :run",
            {":done": JobStatus.SUCCEEDED.value, ":running": JobStatus.RUNNING.value, ":run": run_id,
             ":keys": result_keys, ":summary": summary, **self._stamps()})

    def fail_run(self, job_id: str, run_id: str, error: str) -> bool:
        """FAILED with the reason; False when this run no longer holds the job."""
        return self._update(
            job_id, "SET #s = :failed, #finished = :now, #updated = :now, #error = :error REMOVE #lease",
            "#s = :running AND #run = :run",
            {":failed": JobStatus.FAILED.value, ":running": JobStatus.RUNNING.value, ":run": run_id,
             ":error": error, **self._stamps()})

    def reject(self, job_id: str, error: str, kind: str = "") -> bool:
        """FAILED for a job that cannot run; False (nothing written) when the id is RUNNING or SUCCEEDED."""
        expression = ("SET #s = :failed, #finished = :now, #updated = :now, #error = :error, #exp = :exp, "
                      "#submitted = if_not_exists(#submitted, :now)")
        values: dict[str, Any] = {":failed": JobStatus.FAILED.value, ":queued": JobStatus.QUEUED.value,
                                  ":error": error, **self._stamps()}
        if kind:
            expression += ", #kind = :kind"
            values[":kind"] = kind
        return self._update(job_id, expression, "attribute_not_exists(jobId) OR #s IN (:queued, :failed)", values)
