"""Analytics jobs end to end on the local stack: chat turns over the real WebSocket, stored by session_writer,
reported by the analytics worker (status in the jobs table, results in S3), and the `mangaassist jobs` CLI.

Other tests store turns too (today's). So that a report covers exactly this module's turns, their session
writes (taken from the session-writes queue, as sendMessage queued them) are stored under a fresh JST day far in
the future: the same records, with a turn id (and so createdAt and day) on that day.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from conftest import sqs_event, take_session_writes
from mangaassist.chat.sessions import new_turn_id, turn_record
from mangaassist.jobs import JobStatus, JobStore
from mangaassist_local.gateway import Gateway
from mangaassist_local.pollers import SqsPollers
from mangaassist_local.stack import REGION, REPO, LocalAws

pytestmark = pytest.mark.integration
JST = timezone(timedelta(hours=9))
PNG = b"\x89PNG\r\n\x1a\n"
CLI = [sys.executable, "-m", "mangaassist_local.cli", "jobs"]
TAG = uuid.uuid4().hex[:8]


@dataclass
class StoredTurns:
    day: str  # the fresh JST day they are stored under
    frames: list[dict[str, Any]]  # the answer frames received over the WebSocket
    records: list[dict[str, Any]]  # what session_writer stored

    @property
    def total(self) -> Decimal:
        return sum((Decimal(frame["meta"]["cost_usd"]) for frame in self.frames), Decimal("0"))


@pytest.fixture(scope="module")
def stored(local_aws: LocalAws, gateway: Gateway) -> StoredTurns:
    sessions = [f"jobs-{TAG}-a", f"jobs-{TAG}-b"]
    discussion = f"What are the themes of Vinland Saga? (ref {TAG})"
    asks = [(sessions[0], f"How much is One Piece volume 7? (ref {TAG})", None),
            (sessions[0], discussion, None),  # the Haiku profile hedges on discussion: an escalation
            (sessions[1], f"進撃の巨人みたいなおすすめの漫画はありますか？（{TAG}）", "ja"),
            (sessions[1], discussion, None)]  # the same message again: an answer-cache hit if it was cached
    frames = []
    with connect(gateway.ws_url, open_timeout=10) as socket:
        for session, message, locale in asks:
            frame = {"action": "sendMessage", "sessionId": session, "message": message}
            if locale:
                frame["locale"] = locale
            socket.send(json.dumps(frame, ensure_ascii=False))
            reply = json.loads(socket.recv(timeout=60))
            assert reply["type"] == "answer", reply
            frames.append(reply)
    turn_ids = {frame["turnId"] for frame in frames}  # session keys are hashes of (principal, sessionId)
    queued = take_session_writes(local_aws, lambda body: body.get("turnId") in turn_ids, len(asks))
    assert len(queued) == len(asks), "sendMessage queued one session write per turn"
    queued.sort(key=lambda record: record["turnId"])
    fresh = date(2060, 1, 1) + timedelta(days=random.randrange(14_000))
    noon = int(datetime(fresh.year, fresh.month, fresh.day, 12, tzinfo=JST).timestamp() * 1000)
    records = []
    for n, (record, frame, (session, message, _)) in enumerate(zip(queued, frames, asks, strict=True)):
        # The record sendMessage queued is turn_record of the frame the customer got, on today's JST day...
        # (the text as the parser normalised it: NFKC)
        assert (record["userText"], record["turnId"]) == (unicodedata.normalize("NFKC", message), frame["turnId"])
        assert record["costUsd"] == frame["meta"]["cost_usd"] and json.loads(record["meta"]) == frame["meta"]
        created = datetime.fromtimestamp(record["createdAt"] / 1000, JST)
        assert record["day"] == created.strftime("%Y-%m-%d")
        # ... and the same record on the fresh day.
        moved = turn_record(session, new_turn_id(noon + n * 1000), message, frame, record["principal"])
        assert moved.keys() == record.keys() and moved["day"] == fresh.isoformat()
        records.append(moved)
    event, _ = sqs_event([json.dumps(record, ensure_ascii=False) for record in records])
    written = local_aws.runtime.invoke("SessionWriterFunction", event)
    assert written.payload == {"batchItemFailures": []}, written.payload
    return StoredTurns(day=fresh.isoformat(), frames=frames, records=records)


def jobs(stack: LocalAws) -> JobStore:
    return JobStore(stack.client("dynamodb"), stack.env["JOBS_TABLE"])


def s3_object(stack: LocalAws, key: str) -> bytes:
    return stack.client("s3").get_object(Bucket=stack.env["RESULTS_BUCKET"], Key=key)["Body"].read()


def cost_report(job_id: str, start: str, end: str | None = None) -> str:
    return json.dumps({"kind": "cost-report", "job_id": job_id, "params": {"start": start, "end": end or start}})


def check_report(report: dict[str, Any], turns: StoredTurns) -> None:
    frames = turns.frames
    assert report["turns"] == len(frames)
    assert Decimal(report["total_usd"]) == turns.total and report["total_usd"] == format(turns.total, "f")
    assert report["cost_per_day"] == [{"day": turns.day, "turns": len(frames), "cost_usd": report["total_usd"],
                                       "by_tier": report["cost_per_day"][0]["by_tier"]}]
    assert {task: v["turns"] for task, v in report["by_task"].items()} == _count(f["meta"]["task"] for f in frames)
    assert {lang: v["turns"] for lang, v in report["by_language"].items()} == _count(
        f["meta"]["language"] for f in frames)
    tier_costs: dict[str, Decimal] = {}
    for frame in frames:
        for tier in frame["meta"]["tiers"]:
            tier_costs[tier["target"]] = tier_costs.get(tier["target"], Decimal("0")) + Decimal(tier["cost_usd"])
    assert {t: Decimal(v["cost_usd"]) for t, v in report["by_tier"].items()} == tier_costs
    hits = [f for f in frames if f["meta"]["cache"] != "miss"]
    assert report["cache"]["hits"] == len(hits)
    assert (Decimal(report["cache"]["savings_usd"]) > 0) == bool(hits)
    assert report["escalation"]["turns"] == sum(f["meta"]["escalated"] for f in frames if f["meta"]["cache"] == "miss")
    assert report["fallback"]["turns"] == sum(f["meta"]["validation"]["decision"] != "accept" for f in frames)
    assert report["cost_per_query"]["target_usd_below"] == "0.006"


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


# -- the worker -------------------------------------------------------------------------------------------------
def test_a_cost_report_over_the_stored_turns_adds_up_exactly(local_aws: LocalAws, stored: StoredTurns):
    assert any(f["meta"]["escalated"] for f in stored.frames), "the discussion turn escalated to Sonnet"
    assert stored.frames[3]["meta"]["cache"] == "exact", "the repeated question was answered from the cache"
    job_id = f"cost-{TAG}"
    jobs(local_aws).submit(job_id, "cost-report", "{}")
    result = local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event([cost_report(job_id, stored.day)])[0])
    assert result.payload == {"batchItemFailures": []}, result.payload
    record = jobs(local_aws).get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED, record
    assert record.params == {"start": stored.day, "end": stored.day} and record.attempts == 1
    assert record.started_at <= record.finished_at and record.submitted_at <= record.started_at
    assert sorted(record.result_keys) == [f"jobs/{job_id}/cost-per-day-by-tier.png", f"jobs/{job_id}/result.json",
                                          f"jobs/{job_id}/task-mix.png"]
    assert record.summary.startswith(f"{stored.day}: {len(stored.frames)} turns, ${format(stored.total, 'f')} total")
    check_report(json.loads(s3_object(local_aws, f"jobs/{job_id}/result.json")), stored)
    for key in record.result_keys:
        if key.endswith(".png"):
            assert s3_object(local_aws, key).startswith(PNG)


def test_a_malformed_job_is_failed_with_its_reason_and_not_a_batch_failure(local_aws: LocalAws):
    bodies = [json.dumps({"kind": "cost-report", "job_id": f"bad-{TAG}", "params": {"start": "yesterday"}}),
              json.dumps({"kind": "forecast", "job_id": f"unknown-{TAG}", "params": {}}),
              "this is not a job"]  # no job id to record it under: logged only
    result = local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event(bodies)[0])
    assert result.payload == {"batchItemFailures": []}, result.payload
    bad = jobs(local_aws).get(f"bad-{TAG}")
    assert bad is not None and bad.status is JobStatus.FAILED and bad.kind == "cost-report"
    assert bad.error == "invalid job: params.start: expected a day as YYYY-MM-DD, got 'yesterday'"
    unknown = jobs(local_aws).get(f"unknown-{TAG}")
    assert unknown is not None and unknown.status is JobStatus.FAILED
    assert unknown.error.startswith("invalid job: unknown job kind 'forecast' (kinds: cost-report")
    assert not bad.result_keys and not unknown.result_keys


def test_the_same_job_id_twice_runs_once(local_aws: LocalAws, stored: StoredTurns):
    job_id = f"twice-{TAG}"
    body = cost_report(job_id, stored.day)
    first = local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event([body, body])[0])  # one batch
    assert first.payload == {"batchItemFailures": []}
    done = jobs(local_aws).get(job_id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.attempts == 1
    again = local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event([body])[0])  # a redelivery
    assert again.payload == {"batchItemFailures": []}
    assert jobs(local_aws).get(job_id) == done  # not claimed, not run: the same item, the same timestamps


def test_an_infrastructure_error_is_a_batch_failure_and_the_retry_succeeds(local_aws: LocalAws, stored: StoredTurns,
                                                                         monkeypatch: pytest.MonkeyPatch):
    from mangaassist.jobs.worker import default_worker

    job_id = f"retry-{TAG}"
    event, ids = sqs_event([cost_report(job_id, stored.day)])
    monkeypatch.setattr(default_worker().results, "bucket", f"no-such-bucket-{TAG}")
    failed = local_aws.runtime.invoke("AnalyticsWorkerFunction", event)
    assert failed.payload == {"batchItemFailures": [{"itemIdentifier": ids[0]}]}
    record = jobs(local_aws).get(job_id)
    assert record is not None and record.status is JobStatus.FAILED
    assert record.error.startswith("infrastructure error, retried by SQS (then its DLQ):") and "NoSuchBucket" in \
        record.error
    monkeypatch.undo()
    retried = local_aws.runtime.invoke("AnalyticsWorkerFunction", event)
    assert retried.payload == {"batchItemFailures": []}
    record = jobs(local_aws).get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED and record.attempts == 2
    assert record.error == ""


# -- the CLI ----------------------------------------------------------------------------------------------------
def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "REDIS_URL", "STATE_MACHINE"))}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**clean, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})


def analytics_queue_depth(stack: LocalAws) -> int:
    url = stack.template.queue_url("AnalyticsJobsQueue", stack.endpoint)
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


def test_submit_status_result_and_list_through_the_cli(local_aws: LocalAws, stored: StoredTurns, tmp_path: Path):
    aws = ("--aws-url", local_aws.endpoint)
    submitted = cli("submit", "cost-report", "--param", f"start={stored.day}", "-p", f"end={stored.day}",
                    "--job-id", f"cli-{TAG}", *aws)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout == f"cli-{TAG}\n" and "jobs status" in submitted.stderr
    queued = cli("status", f"cli-{TAG}", "--json", *aws)
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["status"] == "QUEUED"

    # The analytics queue's event source mapping, as `mangaassist serve` runs it.
    pollers = SqsPollers(local_aws.runtime, local_aws.template, local_aws.endpoint,
                         functions=["AnalyticsWorkerFunction"])
    pollers.start()
    try:
        assert pollers.drain(120), "the analytics queue did not drain"
    finally:
        pollers.stop()

    status = cli("status", f"cli-{TAG}", "--wait", "--timeout", "30", *aws)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = dict(line.split(None, 1) for line in status.stdout.splitlines() if line[:1] != " ")
    assert lines["status"] == "SUCCEEDED" and lines["kind"] == "cost-report"
    assert f"s3://{local_aws.env['RESULTS_BUCKET']}/jobs/cli-{TAG}/result.json" in status.stdout

    out = tmp_path / "out"
    fetched = cli("result", f"cli-{TAG}", "--output", str(out), "--json", *aws)
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(Path(f).name for f in json.loads(fetched.stdout)["files"]) == [
        "cost-per-day-by-tier.png", "result.json", "task-mix.png"]
    check_report(json.loads((out / "result.json").read_text()), stored)
    assert (out / "task-mix.png").read_bytes().startswith(PNG)
    assert (out / "cost-per-day-by-tier.png").read_bytes().startswith(PNG)
    default_dir = cli("result", f"cli-{TAG}", *aws, cwd=tmp_path)  # default: ./<job id>
    assert default_dir.returncode == 0 and (tmp_path / f"cli-{TAG}" / "result.json").is_file()
    assert f"{len(stored.frames)} turns" in default_dir.stdout

    listed = cli("list", "--json", *aws)
    assert listed.returncode == 0, listed.stderr
    mine = [job for job in json.loads(listed.stdout) if job["job_id"] == f"cli-{TAG}"]
    assert len(mine) == 1 and mine[0]["status"] == "SUCCEEDED"
    table = cli("list", "--limit", "50", *aws)
    assert table.stdout.splitlines()[0].split()[:3] == ["JOB", "ID", "KIND"]
    assert any(line.startswith(f"cli-{TAG} ") and "SUCCEEDED" in line for line in table.stdout.splitlines())

    again = cli("submit", "cost-report", "-p", f"start={stored.day}", "--job-id", f"cli-{TAG}", *aws)
    assert again.returncode == 2 and f"job cli-{TAG} is already SUCCEEDED" in again.stderr


def test_bad_kinds_and_params_are_refused_before_anything_is_queued(local_aws: LocalAws):
    aws = ("--aws-url", local_aws.endpoint)
    before = analytics_queue_depth(local_aws)
    for args, message in [
        (("submit", "forecast"), "unknown job kind 'forecast' (kinds: cost-report"),
        (("submit", "cost-report", "-p", "start=2025-13-01"), "params.start: '2025-13-01' is not a calendar day"),
        (("submit", "cost-report", "-p", "start=2025-11-02", "-p", "end=2025-11-01"), "is before start"),
        (("submit", "cost-report", "-p", "start=2025-11-01", "-p", "colour=red"), "params.colour: unknown field"),
        (("submit", "cost-report", "-p", "start"), "--param expects KEY=VALUE"),
        (("submit", "cost-report", "-p", "start=2025-11-01", "--job-id", "no/slashes"), "is not a job id"),
    ]:
        result = cli(*args, "--job-id", f"refused-{TAG}", *aws) if "--job-id" not in args else cli(*args, *aws)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and result.stdout == "", (args, result.stderr)
    assert "params of cost-report (KEY=VALUE" in cli("submit", "cost-report", *aws).stderr
    assert analytics_queue_depth(local_aws) == before
    assert jobs(local_aws).get(f"refused-{TAG}") is None


def test_status_and_result_of_unknown_or_failed_jobs(local_aws: LocalAws):
    aws = ("--aws-url", local_aws.endpoint)
    missing = cli("status", f"never-{TAG}", *aws)
    assert missing.returncode == 2 and f"no job never-{TAG}" in missing.stderr
    backwards = {"kind": "cost-report", "job_id": f"failed-{TAG}",
                 "params": {"start": "2025-11-02", "end": "2025-11-01"}}
    local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event([json.dumps(backwards)])[0])
    failed = cli("result", f"failed-{TAG}", *aws)
    assert failed.returncode == 1
    assert f"job failed-{TAG} is FAILED, it has no results: invalid job: params: end (2025-11-01) is before start" \
        in failed.stderr
    waited = cli("status", f"failed-{TAG}", "--wait", *aws)
    assert waited.returncode == 1 and "FAILED" in waited.stdout and "is before start" in waited.stdout
    nowhere = cli("list", "--aws-url", "http://127.0.0.1:9")
    assert nowhere.returncode == 2 and "no MangaAssist local stack answers at http://127.0.0.1:9" in nowhere.stderr


def test_a_deployed_stack_is_found_by_its_outputs(local_aws: LocalAws, stored: StoredTurns):
    name = f"jobs-test-{TAG}"
    outputs = {"AnalyticsJobsQueueUrl": local_aws.template.queue_url("AnalyticsJobsQueue", local_aws.endpoint),
               "JobsTableName": local_aws.env["JOBS_TABLE"], "ResultsBucketName": local_aws.env["RESULTS_BUCKET"]}
    local_aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()}}))
    deployed = ("--stack-name", name, "--region", REGION, "--endpoint-url", local_aws.endpoint)
    status = cli("status", f"cost-{TAG}", "--json", *deployed)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["job_id"] == f"cost-{TAG}"
    submitted = cli("submit", "cost-report", "-p", f"start={stored.day}", "--json", *deployed)
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "QUEUED" and job["queue_url"] == outputs["AnalyticsJobsQueueUrl"]
    # Leave the queue as we found it: run the job.
    _run_queued_jobs(local_aws)
    record = jobs(local_aws).get(job["job_id"])
    assert record is not None and record.status is JobStatus.SUCCEEDED
    missing = cli("list", "--stack-name", f"nope-{TAG}", "--region", REGION, "--endpoint-url", local_aws.endpoint)
    assert missing.returncode == 2 and f"stack 'nope-{TAG}' does not exist" in missing.stderr


def test_the_planning_kinds_run_through_the_worker_and_the_cli(local_aws: LocalAws, tmp_path: Path):
    bodies = [json.dumps({"kind": kind, "job_id": f"{kind}-{TAG}"}) for kind in ("capacity-plan", "break-even",
                                                                                 "strategies")]
    result = local_aws.runtime.invoke("AnalyticsWorkerFunction", sqs_event(bodies)[0])
    assert result.payload == {"batchItemFailures": []}, result.payload
    for kind in ("capacity-plan", "break-even", "strategies"):
        record = jobs(local_aws).get(f"{kind}-{TAG}")
        assert record is not None and record.status is JobStatus.SUCCEEDED, record
        assert set(record.result_keys) == {f"jobs/{kind}-{TAG}/{kind}.png", f"jobs/{kind}-{TAG}/result.json"}
        assert s3_object(local_aws, f"jobs/{kind}-{TAG}/{kind}.png").startswith(PNG)

    aws = ("--aws-url", local_aws.endpoint)
    submitted = cli("submit", "tco", "-p", "capacity.messages_per_day=2000000", "-p", "commitment=six_months",
                    "--job-id", f"tco-{TAG}", *aws)
    assert submitted.returncode == 0, submitted.stderr
    _run_queued_jobs(local_aws)
    fetched = cli("result", f"tco-{TAG}", "--output", str(tmp_path), *aws)
    assert fetched.returncode == 0, fetched.stderr
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["inputs"]["capacity"]["messages_per_day"] == 2_000_000
    assert report["inputs"]["commitment"] == "six_months" and report["result"]["patterns"]
    assert (tmp_path / "tco.png").read_bytes().startswith(PNG)
    assert fetched.stdout.startswith("cheapest viable as configured:")


def _run_queued_jobs(local_aws: LocalAws) -> None:
    """Let the analytics worker take what the CLI queued, as the deployed event source mapping would."""
    pollers = SqsPollers(local_aws.runtime, local_aws.template, local_aws.endpoint,
                         functions=["AnalyticsWorkerFunction"])
    pollers.start()
    try:
        assert pollers.drain(120)
    finally:
        pollers.stop()
