"""SQS event source mappings: batching, partial batch failures, whole-batch failures, redrive to the DLQ.

Most tests use a small template written to tmp (a queue with a 2 s visibility
timeout and maxReceiveCount 2, a scripted handler), so they neither wait out the
real queues' timeouts nor depend on the workers' code; one test runs the real
session-writes mapping end to end.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from mangaassist_local.lambda_runtime import LambdaRuntime
from mangaassist_local.pollers import SqsMapping, SqsPollers, failed_message_ids, sqs_mappings
from mangaassist_local.stack import REGION, REPO, LocalAws
from mangaassist_local.template import Template

pytestmark = pytest.mark.integration

DRAIN_TIMEOUT = 60
MAX_RECEIVE_COUNT = 2

TEMPLATE = f"""
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  PollerTestFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.lambda_handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt PollerTestQueue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  PollerPlainFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.lambda_handler
      Events:
        Plain:
          Type: SQS
          Properties:
            Queue: !GetAtt PollerPlainQueue.Arn
            BatchSize: 5
  # Longer than the batching window, as Lambda's guidance asks (else a batch sees its own messages again).
  PollerTestQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 2
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt PollerTestDLQ.Arn
        maxReceiveCount: {MAX_RECEIVE_COUNT}
  PollerPlainQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
  PollerTestDLQ:
    Type: AWS::SQS::Queue
"""

# Behaviour per message body: {"id": ..., "fail": <fail while the receive count is below this>,
# "raise": <same, failing the whole invocation>, "invalid": <same, answering an unknown itemIdentifier>}.
HANDLER = '''
import json
from pathlib import Path

SEEN = Path(__file__).with_name("seen.jsonl")


def lambda_handler(event, context):
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    counts = [int(record["attributes"]["ApproximateReceiveCount"]) for record in records]
    with SEEN.open("a", encoding="utf-8") as seen:
        for record, body, count in zip(records, bodies, counts):
            seen.write(json.dumps({"id": body["id"], "count": count, "batch": len(records),
                                   "function": context.function_name, "record": record}) + "\\n")
    if any(count < body.get("raise", 0) for body, count in zip(bodies, counts)):
        raise RuntimeError("scripted failure of the whole batch")
    if any(count < body.get("invalid", 0) for body, count in zip(bodies, counts)):
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                  for record, body, count in zip(records, bodies, counts)
                                  if count < body.get("fail", 0)]}
'''


# -- fixtures (local_aws: the session-wide stack of tests/conftest.py) ---------------
class Workbench:
    """The tmp template, its runtime and queues on the local SQS endpoint."""

    def __init__(self, root: Path, local_aws: LocalAws) -> None:
        (root / "worker").mkdir()
        (root / "worker" / "app.py").write_text(HANDLER)
        (root / "template.yaml").write_text(TEMPLATE)
        self.seen_path = root / "worker" / "seen.jsonl"
        self.template = Template(root / "template.yaml", REGION)
        self.runtime = LambdaRuntime(self.template)
        self.endpoint = local_aws.endpoint
        self.sqs = local_aws.client("sqs")
        self.urls: dict[str, str] = {}
        queues = self.template.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the redrive policies name them.
        for logical_id, res in sorted(queues.items(), key=lambda item: "RedrivePolicy" in (item[1].get("Properties")
                                                                                          or {})):
            props = self.template.resolve(res.get("Properties") or {}, self.endpoint)
            attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            self.urls[logical_id] = self.sqs.create_queue(QueueName=self.template.physical_name(logical_id),
                                                          Attributes=attributes)["QueueUrl"]

    def reset(self) -> None:
        self.seen_path.write_text("")
        # PurgeQueue is limited to once a minute (moto enforces it too): delete what is visible instead.
        for url in self.urls.values():
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def send(self, queue: str, bodies: list[dict[str, Any]]) -> dict[str, str]:
        """Send in one batch; returns body id -> message id."""
        response = self.sqs.send_message_batch(QueueUrl=self.urls[queue], Entries=[
            {"Id": str(i), "MessageBody": json.dumps(body),
             "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"},
                                   "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}}}
            for i, body in enumerate(bodies)])
        assert not response.get("Failed"), response
        return {bodies[int(entry["Id"])]["id"]: entry["MessageId"] for entry in response["Successful"]}

    def seen(self) -> list[dict[str, Any]]:
        text = self.seen_path.read_text() if self.seen_path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line]

    def deliveries(self) -> dict[str, list[int]]:
        """Body id -> the receive counts it was delivered with."""
        out: dict[str, list[int]] = {}
        for entry in self.seen():
            out.setdefault(entry["id"], []).append(entry["count"])
        return out

    def run(self, queue: str, bodies: list[dict[str, Any]]) -> dict[str, str]:
        pollers = SqsPollers(self.runtime, self.template, self.endpoint)
        pollers.start()
        try:
            ids = self.send(queue, bodies)
            assert pollers.drain(DRAIN_TIMEOUT), "the queues did not drain"
        finally:
            pollers.stop()
        return ids


@pytest.fixture(scope="module")
def bench(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    return Workbench(tmp_path_factory.mktemp("pollers"), local_aws)


@pytest.fixture
def workbench(bench: Workbench) -> Workbench:
    bench.reset()
    return bench


def _tag() -> str:
    return uuid.uuid4().hex[:8]


# -- mappings and response rules ----------------------------------------------------
def test_mappings_come_from_the_template() -> None:
    template = Template(REPO / "template.yaml", REGION)
    mappings = {m.function: m for m in sqs_mappings(template)}
    assert mappings["SessionWriterFunction"] == SqsMapping(
        function="SessionWriterFunction", event="SessionWrites", queue="SessionWritesQueue",
        queue_arn=template.arn("SessionWritesQueue"), batch_size=25, window_seconds=1.0, report_failures=True)
    assert mappings["EmbeddingWorkerFunction"].queue == "EmbeddingsQueue"
    assert mappings["EmbeddingWorkerFunction"].batch_size == 10
    assert mappings["AnalyticsWorkerFunction"].queue == "AnalyticsJobsQueue"
    assert set(mappings) == {"SessionWriterFunction", "EmbeddingWorkerFunction", "AnalyticsWorkerFunction"}


def test_batch_item_failure_rules() -> None:
    ids = {"a", "b"}
    assert failed_message_ids(None, ids) == set()
    assert failed_message_ids({}, ids) == set()
    assert failed_message_ids({"batchItemFailures": None}, ids) == set()
    assert failed_message_ids({"batchItemFailures": []}, ids) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    # Lambda fails the whole batch on these.
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": None}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": [{"id": "a"}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": "a"}, ids) is None
    assert failed_message_ids("ok", ids) is None


# -- with the scripted handler --------------------------------------------------------
def test_messages_arrive_as_one_lambda_sqs_batch(workbench: Workbench) -> None:
    tag = _tag()
    bodies = [{"id": f"{tag}-{i}"} for i in range(5)]
    ids = workbench.run("PollerTestQueue", bodies)

    seen = workbench.seen()
    assert sorted(entry["id"] for entry in seen) == sorted(body["id"] for body in bodies)
    # The batching window gathers what a single batch send delivered into one invocation.
    assert {entry["batch"] for entry in seen} == {5}
    record = next(entry["record"] for entry in seen if entry["id"] == f"{tag}-0")
    assert record["messageId"] == ids[f"{tag}-0"]
    assert record["receiptHandle"]
    assert json.loads(record["body"]) == {"id": f"{tag}-0"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == workbench.template.arn("PollerTestQueue")
    assert record["awsRegion"] == REGION
    assert record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "test", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AQI="
    assert seen[0]["function"] == workbench.template.physical_name("PollerTestFunction")


def test_partial_batch_failure_returns_only_the_failed_messages(workbench: Workbench) -> None:
    tag = _tag()
    bodies = [{"id": f"{tag}-ok-{i}"} for i in range(3)] + [{"id": f"{tag}-retry-{i}", "fail": 2} for i in range(2)]
    workbench.run("PollerTestQueue", bodies)

    deliveries = workbench.deliveries()
    for i in range(3):
        assert deliveries[f"{tag}-ok-{i}"] == [1], "a succeeded message must be deleted, not redelivered"
    for i in range(2):
        assert deliveries[f"{tag}-retry-{i}"] == [1, 2], "a reported failure comes back once, then succeeds"
    assert _dlq_bodies(workbench) == []


def test_function_error_returns_the_whole_batch(workbench: Workbench) -> None:
    tag = _tag()
    bodies = [{"id": f"{tag}-{i}"} for i in range(3)] + [{"id": f"{tag}-boom", "raise": 2}]
    workbench.run("PollerTestQueue", bodies)

    deliveries = workbench.deliveries()
    assert set(deliveries) == {body["id"] for body in bodies}
    assert all(counts == [1, 2] for counts in deliveries.values()), deliveries


def test_invalid_response_fails_the_whole_batch(workbench: Workbench) -> None:
    tag = _tag()
    bodies = [{"id": f"{tag}-{i}"} for i in range(2)] + [{"id": f"{tag}-bad", "invalid": 2}]
    workbench.run("PollerTestQueue", bodies)

    deliveries = workbench.deliveries()
    assert all(counts == [1, 2] for counts in deliveries.values()), deliveries


def test_always_failing_message_lands_in_the_dlq_after_max_receive_count(workbench: Workbench) -> None:
    tag = _tag()
    bodies = [{"id": f"{tag}-poison", "fail": 99}, {"id": f"{tag}-fine"}]
    ids = workbench.run("PollerTestQueue", bodies)

    deliveries = workbench.deliveries()
    assert deliveries[f"{tag}-fine"] == [1]
    assert deliveries[f"{tag}-poison"] == list(range(1, MAX_RECEIVE_COUNT + 1))
    (dead,) = _dlq_messages(workbench)
    assert json.loads(dead["Body"])["id"] == f"{tag}-poison"
    assert dead["MessageId"] == ids[f"{tag}-poison"]
    # SQS keeps the receive count across the move: maxReceiveCount receives, plus this one.
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) == MAX_RECEIVE_COUNT + 1


def test_without_report_batch_item_failures_success_deletes_the_batch(workbench: Workbench) -> None:
    tag = _tag()
    # The handler names these as failures, but the mapping does not read batchItemFailures.
    bodies = [{"id": f"{tag}-{i}", "fail": 99} for i in range(3)]
    workbench.run("PollerPlainQueue", bodies)
    assert all(counts == [1] for counts in workbench.deliveries().values())
    assert len(workbench.deliveries()) == 3


def test_stop_is_quick_and_drain_reports_a_busy_queue(workbench: Workbench) -> None:
    pollers = SqsPollers(workbench.runtime, workbench.template, workbench.endpoint)
    # Not started: nothing consumes, so the queue cannot drain.
    workbench.send("PollerPlainQueue", [{"id": _tag()}])
    assert pollers.drain(0.5) is False
    pollers.start()
    assert pollers.drain(DRAIN_TIMEOUT)
    started = time.monotonic()
    pollers.stop()
    assert time.monotonic() - started < 3.5


def _dlq_messages(workbench: Workbench) -> list[dict[str, Any]]:
    return workbench.sqs.receive_message(QueueUrl=workbench.urls["PollerTestDLQ"], MaxNumberOfMessages=10,
                                         AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])


def _dlq_bodies(workbench: Workbench) -> list[str]:
    return [message["Body"] for message in _dlq_messages(workbench)]


# -- the real session-writes mapping ----------------------------------------------------
@pytest.mark.skipif(not (REPO / "functions" / "session_writer" / "app.py").exists(),
                    reason="functions/session_writer/app.py is not written yet")
def test_session_writes_reach_the_sessions_table(local_aws: LocalAws) -> None:
    from mangaassist.chat.sessions import DynamoHistory, new_turn_id, turn_record

    session_id = f"poller-{_tag()}"
    answers = [{"type": "answer", "text": "One Piece vol. 1 is ¥528.", "meta": {"task": "product_search"}},
               {"type": "answer", "text": "『ONE PIECE』第1巻は528円です。", "meta": {"task": "product_search"}}]
    sqs = local_aws.client("sqs")
    for i, (message, answer) in enumerate(zip(["How much is One Piece 1?", "ワンピース1巻はいくら？"], answers,
                                              strict=True)):
        record = turn_record(session_id, new_turn_id(1_700_000_000_000 + i), message, answer)
        sqs.send_message(QueueUrl=local_aws.env["SESSION_WRITES_QUEUE_URL"],
                         MessageBody=json.dumps(record, ensure_ascii=False))

    # Only this mapping: the other workers' queues are not this test's business.
    pollers = SqsPollers(local_aws.runtime, local_aws.template, local_aws.endpoint,
                         functions=["SessionWriterFunction"])
    assert [m.queue for m in pollers.mappings] == ["SessionWritesQueue"]
    pollers.start()
    try:
        assert pollers.drain(DRAIN_TIMEOUT)
    finally:
        pollers.stop()

    table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=local_aws.endpoint).Table(
        local_aws.env["SESSIONS_TABLE"])
    history = DynamoHistory(table).recent(session_id)
    assert [item.text for item in history] == ["How much is One Piece 1?", "One Piece vol. 1 is ¥528.",
                                               "ワンピース1巻はいくら？", "『ONE PIECE』第1巻は528円です。"]
    assert local_aws.runtime.invocations.get("SessionWriterFunction", 0) >= 1
