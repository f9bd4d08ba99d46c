"""Analytics jobs without AWS: the job messages, the status store's conditional writes (botocore Stubber), the
worker's decisions (a fake status store with the same transition rules), the cost report's arithmetic."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber

from mangaassist.jobs import JOB_KINDS, JobRejected, build_job, new_job_id, parse_job
from mangaassist.jobs.cost_report import build_report, run_cost_report
from mangaassist.jobs.models import JOB_ID_PATTERN, MAX_REPORT_DAYS, CostReportJob, CostReportParams
from mangaassist.jobs.results import JobOutput, ResultStore, chart_key, result_key
from mangaassist.jobs.status import JobIdTaken, JobRecord, JobStatus, JobStore
from mangaassist.jobs.worker import JobWorker, Outcome
from mangaassist_local.jobs_cli import JobsCliError, parse_params

NOW = datetime(2025, 11, 23, 1, 2, 3, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


# -- messages ---------------------------------------------------------------------------------------------------
def test_a_cost_report_job_round_trips_through_its_message():
    job = parse_job({"kind": "cost-report", "job_id": "nov-report", "params": {"start": "2025-11-01",
                                                                              "end": "2025-11-30"}})
    assert isinstance(job, CostReportJob)
    assert (job.params.start, job.params.last, job.params.days) == (date(2025, 11, 1), date(2025, 11, 30), 30)
    assert json.loads(job.message()) == {"kind": "cost-report", "job_id": "nov-report",
                                         "params": {"start": "2025-11-01", "end": "2025-11-30"}}
    assert parse_job(job.message()) == job


def test_a_missing_job_id_is_generated_and_end_defaults_to_start():
    job = parse_job('{"kind": "cost-report", "params": {"start": "2025-11-23"}}')
    assert re.fullmatch(JOB_ID_PATTERN, job.job_id) and job.job_id.startswith("cost-report-")
    assert json.loads(job.params_json()) == {"start": "2025-11-23", "end": "2025-11-23"}
    assert new_job_id("tco", NOW).startswith("tco-20251123-010203-")
    assert new_job_id("tco") != new_job_id("tco")


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "the message is not JSON"),
    ("[1, 2]", "a job is a JSON object"),
    ('{"params": {}}', 'no job kind: give "kind"'),
    ('{"kind": "sales-forecast", "params": {}}', "unknown job kind 'sales-forecast' (kinds: cost-report"),
    ('{"kind": "cost-report", "job_id": "../etc", "params": {"start": "2025-11-01"}}',
     "job_id: '../etc' is not a job id"),
    ('{"kind": "cost-report", "params": {}}', "params.start: Field required"),
    ('{"kind": "cost-report"}', "params: Field required"),
    ('{"kind": "cost-report", "params": {"start": "11/01/2025"}}', "params.start: expected a day as YYYY-MM-DD"),
    ('{"kind": "cost-report", "params": {"start": 20251101}}', "params.start: expected a day as YYYY-MM-DD"),
    ('{"kind": "cost-report", "params": {"start": "2025-02-30"}}', "params.start: '2025-02-30' is not a calendar"),
    ('{"kind": "cost-report", "params": {"start": "2025-11-02", "end": "2025-11-01"}}',
     "end (2025-11-01) is before start (2025-11-02)"),
    ('{"kind": "cost-report", "params": {"start": "2025-01-01", "end": "2025-12-31"}}',
     f"the range has 365 days; a report covers at most {MAX_REPORT_DAYS}"),
    ('{"kind": "cost-report", "params": {"start": "2025-11-01", "days": 3}}', "params.days: unknown field"),
    ('{"kind": "cost-report", "params": {"start": "2025-11-01"}, "priority": 1}', "priority: unknown field"),
])
def test_an_invalid_job_is_refused_with_a_reason_a_person_can_act_on(body, reason):
    with pytest.raises(JobRejected) as refused:
        parse_job(body)
    assert reason in str(refused.value)


def test_build_job_refuses_an_unknown_kind_before_looking_at_params():
    with pytest.raises(JobRejected, match="unknown job kind 'costs'"):
        build_job("costs", {"anything": 1})
    assert "cost-report" in JOB_KINDS
    assert build_job("cost-report", {"start": "2025-11-01"}, "x1").job_id == "x1"


def test_cli_params_are_json_when_they_parse_and_dotted_keys_nest():
    assert parse_params(["start=2025-11-01", "n=3", "ratio=0.5", "flag=true", "a.b=1", "a.c=x", "empty="]) == {
        "start": "2025-11-01", "n": 3, "ratio": 0.5, "flag": True, "a": {"b": 1, "c": "x"}, "empty": ""}
    for bad, message in ((["start"], "expects KEY=VALUE"), (["=1"], "expects KEY=VALUE"),
                         (["a=1", "a=2"], "given twice"), (["a=1", "a.b=2"], "already given a value")):
        with pytest.raises(JobsCliError, match=message):
            parse_params(bad)


def test_result_keys_live_under_the_job_id():
    assert result_key("j-1") == "jobs/j-1/result.json"
    assert chart_key("j-1", "task-mix") == "jobs/j-1/task-mix.png"
    with pytest.raises(ValueError):
        chart_key("j-1", "../x")


# -- the status store's requests (botocore Stubber) ---------------------------------------------------------------
def _dynamodb() -> Any:
    return boto3.client("dynamodb", region_name="ap-northeast-1")


def _conditional_failed(stub: Stubber, method: str = "update_item") -> None:
    stub.add_client_error(method, service_error_code="ConditionalCheckFailedException", http_status_code=400)


def test_submit_writes_queued_only_if_the_id_is_new_or_failed():
    client = _dynamodb()
    store = JobStore(client, "jobs", now=lambda: NOW)
    with Stubber(client) as stub:
        stub.add_response("update_item", {}, {
            "TableName": "jobs", "Key": {"jobId": {"S": "j1"}}, "UpdateExpression": ANY,
            "ConditionExpression": "attribute_not_exists(jobId) OR #s = :failed",
            "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
        store.submit("j1", "cost-report", '{"start": "2025-11-01"}')
        stub.assert_no_pending_responses()


def test_submit_of_a_taken_id_says_what_the_job_is():
    client = _dynamodb()
    store = JobStore(client, "jobs", now=lambda: NOW)
    with Stubber(client) as stub:
        _conditional_failed(stub)
        stub.add_response("get_item", {"Item": {"jobId": {"S": "j1"}, "status": {"S": "SUCCEEDED"},
                                                "submittedAt": {"S": "2025-11-23T01:00:00.000Z"}}})
        with pytest.raises(JobIdTaken, match=r"job j1 is already SUCCEEDED \(submitted 2025-11-23T01:00:00.000Z\)"):
            store.submit("j1", "cost-report", "{}")


def test_claim_is_conditional_on_a_claimable_status_and_says_no_when_the_condition_fails():
    client = _dynamodb()
    store = JobStore(client, "jobs", now=lambda: NOW)
    with Stubber(client) as stub:
        stub.add_response("update_item", {}, {
            "TableName": "jobs", "Key": {"jobId": {"S": "j1"}}, "UpdateExpression": ANY,
            "ConditionExpression": "attribute_not_exists(jobId) OR #s IN (:queued, :failed) OR "
                                   "(#s = :running AND #lease < :now_ms)",
            "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
        _conditional_failed(stub)
        assert store.claim("j1", "cost-report", "{}", "run-1", 1) is True
        assert store.claim("j1", "cost-report", "{}", "run-2", 1) is False


def test_finishing_a_run_is_conditional_on_holding_it():
    client = _dynamodb()
    store = JobStore(client, "jobs", now=lambda: NOW)
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_response("update_item", {}, {
                "TableName": "jobs", "Key": {"jobId": {"S": "j1"}}, "UpdateExpression": ANY,
                "ConditionExpression": "#s = :running AND #run = :run", "ExpressionAttributeNames": ANY,
                "ExpressionAttributeValues": ANY})
        assert store.succeed("j1", "run-1", ["jobs/j1/result.json"], "ok")
        assert store.fail_run("j1", "run-1", "boom")


def test_other_dynamodb_errors_propagate():
    client = _dynamodb()
    store = JobStore(client, "jobs", now=lambda: NOW)
    with Stubber(client) as stub:
        stub.add_client_error("update_item", service_error_code="ProvisionedThroughputExceededException",
                              http_status_code=400)
        with pytest.raises(ClientError):
            store.claim("j1", "cost-report", "{}", "run-1", 1)


def test_a_record_reads_back_from_its_item():
    record = JobRecord.from_item({
        "jobId": {"S": "j1"}, "status": {"S": "FAILED"}, "kind": {"S": "cost-report"},
        "params": {"S": '{"start": "2025-11-01"}'}, "error": {"S": "invalid job: ..."}, "attempts": {"N": "2"},
        "resultKeys": {"L": [{"S": "jobs/j1/result.json"}]}, "leaseUntil": {"N": "5"}, "runId": {"S": "r"}})
    assert record.status is JobStatus.FAILED and record.params == {"start": "2025-11-01"} and record.attempts == 2
    assert record.as_dict()["result_keys"] == ["jobs/j1/result.json"] and "run_id" not in record.as_dict()


# -- the worker's decisions ------------------------------------------------------------------------------------------
@dataclass
class FakeStore:
    """The jobs table's transition rules (the real conditions run against moto in the integration tests)."""

    items: dict[str, JobRecord] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)
    now_ms: int = 1_000_000
    broken: bool = False

    def _set(self, job_id: str, **values: Any) -> None:
        if self.broken:
            raise EndpointConnectionError(endpoint_url="https://dynamodb")
        current = self.items.get(job_id) or JobRecord(job_id=job_id, status=JobStatus.QUEUED)
        self.items[job_id] = replace(current, **values)
        self.history.append((job_id, self.items[job_id].status.value))

    def get(self, job_id: str) -> JobRecord | None:
        return self.items.get(job_id)

    def submit(self, job_id: str, kind: str, params_json: str) -> None:
        if job_id in self.items and self.items[job_id].status is not JobStatus.FAILED:
            raise JobIdTaken(self.items[job_id])
        self._set(job_id, status=JobStatus.QUEUED, kind=kind, error="")

    def claim(self, job_id: str, kind: str, params_json: str, run_id: str, lease_until_ms: int) -> bool:
        current = self.items.get(job_id)
        if current is not None and not (current.status in (JobStatus.QUEUED, JobStatus.FAILED) or (
                current.status is JobStatus.RUNNING and current.lease_until_ms < self.now_ms)):
            return False
        attempts = current.attempts if current else 0
        self._set(job_id, status=JobStatus.RUNNING, kind=kind, run_id=run_id, lease_until_ms=lease_until_ms,
                  attempts=attempts + 1, error="")
        return True

    def _holds(self, job_id: str, run_id: str) -> bool:
        current = self.items.get(job_id)
        return current is not None and current.status is JobStatus.RUNNING and current.run_id == run_id

    def succeed(self, job_id: str, run_id: str, result_keys: list[str], summary: str) -> bool:
        if not self._holds(job_id, run_id):
            return False
        self._set(job_id, status=JobStatus.SUCCEEDED, result_keys=result_keys, summary=summary)
        return True

    def fail_run(self, job_id: str, run_id: str, error: str) -> bool:
        if not self._holds(job_id, run_id):
            return False
        self._set(job_id, status=JobStatus.FAILED, error=error)
        return True

    def reject(self, job_id: str, error: str, kind: str = "") -> bool:
        current = self.items.get(job_id)
        if current is not None and current.status not in (JobStatus.QUEUED, JobStatus.FAILED):
            return False
        self._set(job_id, status=JobStatus.FAILED, error=error, kind=kind)
        return True


@dataclass
class FakeResults:
    written: dict[str, JobOutput] = field(default_factory=dict)

    def write(self, job_id: str, output: JobOutput) -> list[str]:
        self.written[job_id] = output
        return [result_key(job_id), *(chart_key(job_id, name) for name in output.charts)]


@dataclass
class FakeRun:
    runs: list[str] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def __call__(self, job: Any) -> JobOutput:
        self.runs.append(job.job_id)
        if self.errors:
            raise self.errors.pop(0)
        return JobOutput(result={"job_id": job.job_id}, charts={"task-mix": PNG}, summary="3 turns")


def worker(store: FakeStore | None = None, run: FakeRun | None = None) -> tuple[JobWorker, FakeStore, FakeRun]:
    store = store or FakeStore()
    run = run or FakeRun()
    return JobWorker(store, FakeResults(), run, clock_ms=lambda: store.now_ms), store, run  # type: ignore[arg-type]


def body(job_id: str | None = "j1", **extra: Any) -> str:
    job = {"kind": "cost-report", "params": {"start": "2025-11-01"}, **extra}
    if job_id is not None:
        job["job_id"] = job_id
    return json.dumps(job)


def test_a_valid_job_goes_queued_running_succeeded_with_its_result_keys():
    w, store, _ = worker()
    store.submit("j1", "cost-report", "{}")
    assert w.handle("m1", body(), remaining_ms=300_000) is Outcome.SUCCEEDED
    assert [status for _, status in store.history] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    record = store.items["j1"]
    assert record.result_keys == ["jobs/j1/result.json", "jobs/j1/task-mix.png"] and record.summary == "3 turns"
    assert record.lease_until_ms == store.now_ms + 300_000 + 60_000  # until the invocation's deadline + margin


def test_the_same_job_id_twice_runs_once():
    w, store, run = worker()
    assert w.handle("m1", body()) is Outcome.SUCCEEDED
    assert w.handle("m2", body()) is Outcome.SKIPPED
    assert run.runs == ["j1"] and store.items["j1"].status is JobStatus.SUCCEEDED


def test_a_job_running_elsewhere_is_not_run_again_until_its_lease_expires():
    w, store, run = worker()
    store.claim("j1", "cost-report", "{}", "other-worker", lease_until_ms=store.now_ms + 1000)
    assert w.handle("m1", body()) is Outcome.SKIPPED and run.runs == []
    store.now_ms += 1001  # the other worker died mid-job: its lease ran out
    assert w.handle("m1", body()) is Outcome.SUCCEEDED and run.runs == ["j1"]
    assert store.items["j1"].attempts == 2


def test_an_invalid_job_is_failed_with_the_reason_and_not_retried():
    w, store, run = worker()
    outcome = w.handle("m1", json.dumps({"kind": "cost-report", "job_id": "bad-1", "params": {"start": "soon"}}))
    assert outcome is Outcome.REJECTED and run.runs == []
    record = store.items["bad-1"]
    assert record.status is JobStatus.FAILED and record.kind == "cost-report"
    assert record.error == "invalid job: params.start: expected a day as YYYY-MM-DD, got 'soon'"


def test_an_unknown_kind_is_failed_under_its_job_id():
    w, store, _ = worker()
    assert w.handle("m1", '{"kind": "forecast", "job_id": "f-1"}') is Outcome.REJECTED
    assert store.items["f-1"].error.startswith("invalid job: unknown job kind 'forecast'")


def test_a_message_without_a_readable_job_id_is_only_logged():
    w, store, run = worker()
    assert w.handle("m1", "{not json") is Outcome.DROPPED
    assert w.handle("m2", '["cost-report"]') is Outcome.DROPPED
    assert w.handle("m3", '{"kind": "cost-report", "job_id": "has space"}') is Outcome.DROPPED
    assert store.items == {} and run.runs == []


def test_a_message_without_a_job_id_runs_under_its_message_id_so_a_redelivery_is_recognised():
    w, _, run = worker()
    assert w.handle("4f0c", body(job_id=None)) is Outcome.SUCCEEDED
    assert w.handle("4f0c", body(job_id=None)) is Outcome.SKIPPED
    assert run.runs == ["sqs-4f0c"]


def test_an_invalid_duplicate_does_not_touch_a_succeeded_job():
    w, store, _ = worker()
    w.handle("m1", body())
    assert w.handle("m2", json.dumps({"kind": "cost-report", "job_id": "j1", "params": {}})) is Outcome.REJECTED
    assert store.items["j1"].status is JobStatus.SUCCEEDED and store.items["j1"].error == ""


def test_an_infrastructure_error_is_raised_for_a_retry_and_the_retry_runs_the_job():
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                            "Query")
    w, store, run = worker(run=FakeRun(errors=[throttled]))
    with pytest.raises(ClientError):
        w.handle("m1", body())
    record = store.items["j1"]
    assert record.status is JobStatus.FAILED and record.error.startswith("infrastructure error, retried by SQS")
    assert w.handle("m1", body()) is Outcome.SUCCEEDED and run.runs == ["j1", "j1"]


def test_when_the_status_store_is_down_the_error_propagates():
    w, store, _ = worker()
    store.broken = True
    with pytest.raises(EndpointConnectionError):
        w.handle("m1", body())
    with pytest.raises(EndpointConnectionError):
        w.handle("m2", json.dumps({"kind": "cost-report", "job_id": "bad", "params": {}}))


@pytest.mark.parametrize(("error", "reason"), [
    (ValueError("messages_per_day must be positive"), "the job's inputs were refused: messages_per_day must be"),
    (ZeroDivisionError("division by zero"), "internal error (ZeroDivisionError: division by zero); not retried"),
])
def test_a_job_that_fails_by_itself_is_failed_and_not_retried(error, reason):
    w, store, _ = worker(run=FakeRun(errors=[error]))
    assert w.handle("m1", body()) is Outcome.FAILED
    assert store.items["j1"].status is JobStatus.FAILED and store.items["j1"].error.startswith(reason)


def test_results_go_charts_first_then_result_json():
    s3 = boto3.client("s3", region_name="ap-northeast-1")
    with Stubber(s3) as stub:
        stub.add_response("put_object", {}, {"Bucket": "b", "Key": "jobs/j1/task-mix.png", "Body": PNG,
                                             "ContentType": "image/png"})
        stub.add_response("put_object", {}, {"Bucket": "b", "Key": "jobs/j1/result.json", "Body": ANY,
                                             "ContentType": "application/json"})
        keys = ResultStore(s3, "b").write("j1", JobOutput(result={"a": "1"}, charts={"task-mix": PNG}))
    assert keys == ["jobs/j1/result.json", "jobs/j1/task-mix.png"]


# -- the cost report ---------------------------------------------------------------------------------------------
def tier(target: str, cost: str, tokens: tuple[int, int] = (500, 350), outcome: str = "ok") -> dict[str, Any]:
    return {"target": target, "model_id": target, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "cost_usd": cost, "outcome": outcome}


def turn(n: int, task: str, tiers: list[dict[str, Any]], *, language: str = "en", reason: str = "default_haiku_first",
         escalated: bool = False, decision: str = "accept", cache: str = "miss", cost: str | None = None,
         ) -> dict[str, Any]:
    total = cost if cost is not None else str(sum((Decimal(t["cost_usd"]) for t in tiers), Decimal("0")))
    meta = {"task": task, "language": language, "route": {"target": "haiku", "reason": reason, "fallback": "sonnet"},
            "tiers": tiers, "escalated": escalated, "validation": {"decision": decision, "failures": []},
            "cache": cache, "cost_usd": total}
    return {"sessionId": f"s{n}", "turnId": f"{n:013d}-x", "task": task, "costUsd": total,
            "meta": json.dumps(meta)}


@dataclass
class Turns:
    days: dict[str, list[dict[str, Any]]]
    asked: list[str] = field(default_factory=list)

    def turns_on(self, day: str) -> list[dict[str, Any]]:
        self.asked.append(day)
        return self.days.get(day, [])


TURNS = Turns({
    "2025-11-22": [
        turn(1, "faq", [tier("haiku", "0.0005625")]),
        turn(2, "discussion", [tier("haiku", "0.0006", outcome="low_confidence"), tier("sonnet", "0.00675")],
             escalated=True),
        turn(3, "faq", [], cache="exact", cost="0"),
    ],
    "2025-11-24": [
        turn(4, "product_search", [tier("haiku", "0.00041"), tier("canned", "0")], language="ja",
             decision="fallback"),
        turn(5, "discussion", [], cache="exact", cost="0", language="ja"),
        turn(6, "recommendation", [], cache="exact", cost="0"),
        turn(7, "comparison", [tier("sonnet", "0.009")], reason="complex_to_sonnet"),
    ],
})


def report(start: str = "2025-11-22", end: str = "2025-11-24") -> dict[str, Any]:
    params = CostReportParams.model_validate({"start": start, "end": end})
    return build_report(params, TURNS).result("j1", generated_at=NOW)


def test_the_total_is_the_exact_sum_of_the_turns_costs_and_every_breakdown_adds_up_to_it():
    out = report()
    expected = sum((Decimal(t["costUsd"]) for day in TURNS.days.values() for t in day), Decimal("0"))
    assert out["total_usd"] == str(expected) == "0.0173225"
    assert [row["day"] for row in out["cost_per_day"]] == ["2025-11-22", "2025-11-23", "2025-11-24"]
    assert out["cost_per_day"][1] == {"day": "2025-11-23", "turns": 0, "cost_usd": "0", "by_tier": {}}
    for section in ("by_task", "by_language", "by_route_reason", "by_tier"):
        assert sum(Decimal(v["cost_usd"]) for v in out[section].values()) == expected, section
    assert sum(Decimal(row["cost_usd"]) for row in out["cost_per_day"]) == expected
    assert sum(Decimal(c) for row in out["cost_per_day"] for c in row["by_tier"].values()) == expected


def test_the_breakdowns():
    out = report()
    assert out["turns"] == 7
    assert out["by_task"]["discussion"] == {"turns": 2, "cost_usd": "0.00735",
                                            "cost_share": round(0.00735 / 0.0173225, 4)}
    assert next(iter(out["by_task"])) == "comparison"  # the most expensive first
    assert out["by_tier"]["haiku"] == {"calls": 3, "turns": 3, "cost_usd": "0.0015725", "input_tokens": 1500,
                                       "output_tokens": 1050, "outcomes": {"low_confidence": 1, "ok": 2}}
    assert out["by_tier"]["sonnet"]["calls"] == 2 and out["by_tier"]["canned"]["cost_usd"] == "0"
    assert out["by_language"]["ja"]["turns"] == 2
    assert set(out["by_route_reason"]) == {"default_haiku_first", "complex_to_sonnet", "(cache hit)"}
    assert out["by_route_reason"]["(cache hit)"] == {"turns": 3, "cost_usd": "0", "cost_share": 0.0}


def test_rates_and_the_cost_per_query_target():
    out = report()
    assert out["escalation"] | {"definition": ""} == {
        "turns": 1, "of_model_turns": 4, "rate": 0.25, "target_rate_below": 0.15, "met": False, "definition": ""}
    assert out["fallback"]["turns"] == 1 and out["fallback"]["rate"] == round(1 / 7, 4)
    assert out["cost_per_query"]["usd"] == "0.002474643"  # 0.0173225 / 7, to 1e-9
    assert out["cost_per_query"]["model_turns_usd"] == "0.004330625"  # over the 4 turns that ran a model
    assert out["cost_per_query"]["target_usd_below"] == "0.006" and out["cost_per_query"]["met"] is True


def test_cache_savings_value_each_hit_at_the_mean_uncached_cost_of_its_task():
    cache = report()["cache"]
    assert cache["hits"] == 3 and cache["hit_rate"] == round(3 / 7, 4)
    assert cache["hits_by_task"] == {"discussion": 1, "faq": 1, "recommendation": 1}
    # faq: 0.0005625; discussion: 0.00735; recommendation has no uncached turn: the mean of all 4 uncached turns.
    assert Decimal(cache["savings_usd"]) == (Decimal("0.0005625") + Decimal("0.00735")
                                             + (Decimal("0.0173225") / 4)).quantize(Decimal("1e-9"))
    assert any("no uncached recommendation turn" in note for note in report()["notes"])


def test_a_turn_whose_tiers_do_not_add_up_keeps_the_tier_sums_honest():
    odd = Turns({"2025-11-22": [turn(1, "faq", [tier("haiku", "0.001")], cost="0.0015")]})
    out = build_report(CostReportParams(start=date(2025, 11, 22)), odd).result("j")
    assert out["by_tier"]["unattributed"]["cost_usd"] == "0.0005" and out["total_usd"] == "0.0015"


def test_unreadable_turns_are_counted_and_named():
    bad = Turns({"2025-11-22": [{"sessionId": "s", "turnId": "t", "task": "faq", "costUsd": "abc", "meta": "{"}]})
    out = build_report(CostReportParams(start=date(2025, 11, 22)), bad).result("j")
    assert out["turns"] == 1 and out["total_usd"] == "0"
    assert any("s/t: costUsd 'abc' is not a number" in note for note in out["notes"])
    assert any("s/t: meta is not a JSON object" in note for note in out["notes"])


def test_a_cost_report_job_reads_each_day_once_and_draws_two_pngs():
    turns = Turns(TURNS.days)
    job = parse_job({"kind": "cost-report", "job_id": "j1", "params": {"start": "2025-11-22", "end": "2025-11-24"}})
    assert isinstance(job, CostReportJob)
    output = run_cost_report(job, turns)
    assert turns.asked == ["2025-11-22", "2025-11-23", "2025-11-24"]
    assert set(output.charts) == {"cost-per-day-by-tier", "task-mix"}
    assert all(png.startswith(PNG) and len(png) > 1000 for png in output.charts.values())
    assert output.summary == "2025-11-22..2025-11-24: 7 turns, $0.0173225 total, $0.002474643/query (target < $0.006)"
    empty = run_cost_report(parse_job({"kind": "cost-report", "job_id": "j2",  # type: ignore[arg-type]
                                       "params": {"start": "2030-01-01"}}), Turns({}))
    assert empty.result["turns"] == 0 and empty.result["cost_per_query"]["usd"] is None
    assert all(png.startswith(PNG) for png in empty.charts.values())


# -- the planning kinds ------------------------------------------------------------------------------------------
PLANNING_KINDS = ("capacity-plan", "tco", "break-even", "strategies")


@pytest.mark.parametrize("kind", PLANNING_KINDS)
def test_a_planning_job_takes_its_library_inputs_with_every_default(kind):
    from mangaassist.jobs.models import params_model

    job = parse_job({"kind": kind, "job_id": "p1"})
    assert kind in JOB_KINDS and type(job.params) is params_model(kind)
    assert job.params == params_model(kind)()  # params omitted: the library's defaults
    assert parse_job(job.message()) == job  # the JSON the queue carries validates back to the same job


@pytest.mark.parametrize(("kind", "params", "reason"), [
    ("capacity-plan", {"messages_per_day": 0}, "params.messages_per_day: Input should be greater than 0"),
    ("capacity-plan", {"messages_per_dya": 5}, "params.messages_per_dya: unknown field"),
    ("tco", {"capacity": {"peak_multiplier": 0.5}}, "params.capacity.peak_multiplier: Input should be greater"),
    ("tco", {"commitment": "forever"}, "params.commitment: Input should be 'none', 'one_month' or 'six_months'"),
    ("break-even", {"input_tokens": -1}, "params.input_tokens: Input should be greater than or equal to 0"),
    ("strategies", {"escalation_rate": "1.5"}, "params.escalation_rate: Input should be less than or equal to 1"),
])
def test_planning_params_are_validated_by_the_librarys_models(kind, params, reason):
    with pytest.raises(JobRejected) as refused:
        build_job(kind, params, "p1")
    assert reason in str(refused.value)


@pytest.mark.parametrize("kind", PLANNING_KINDS)
def test_a_planning_job_writes_its_inputs_its_result_and_its_chart(kind):
    from mangaassist.jobs.runner import run_job

    job = build_job(kind, {}, "p1")
    output = run_job(job, Turns({}))
    assert output.result["kind"] == kind and output.result["job_id"] == "p1"
    assert output.result["inputs"] == job.params.model_dump(mode="json")
    assert output.result["result"]["notes"] and output.result["result"]["assumptions"]
    assert list(output.charts) == [kind] and output.charts[kind].startswith(PNG)
    assert output.summary
    json.dumps(output.result)  # JSON-ready as it is


def test_the_capacity_plan_follows_the_arithmetic_not_the_seeds_prose():
    from mangaassist.jobs.runner import run_job

    output = run_job(build_job("capacity-plan", {"messages_per_day": 1_000_000}, "p1"), Turns({}))
    assert output.result["result"]["model_units"]["sonnet"] == 49  # SPEC §7
    assert output.summary.startswith("11.57 RPS average, 40.5 peak, 81.0 burst; model units at peak: sonnet 49")


# -- the turn record's day -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("utc", "day"), [
    (datetime(2025, 11, 22, 14, 59, 59, tzinfo=UTC), "2025-11-22"),  # 23:59:59 JST
    (datetime(2025, 11, 22, 15, 0, 0, tzinfo=UTC), "2025-11-23"),  # midnight JST
])
def test_a_stored_turn_carries_its_jst_day_for_the_by_day_index(utc, day):
    from mangaassist.chat.sessions import new_turn_id, turn_record

    ms = int(utc.timestamp() * 1000)
    record = turn_record("s1", new_turn_id(ms), "hi", {"text": "hello", "meta": {"task": "greeting",
                                                                                 "cost_usd": "0.0001"}})
    assert record["createdAt"] == ms and record["day"] == day
