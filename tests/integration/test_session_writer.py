"""session_writer against moto's DynamoDB: batches, malformed records, idempotency."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from conftest import sqs_event
from mangaassist.chat.sessions import DynamoHistory, turn_record

pytestmark = pytest.mark.integration


def record(session: str, n: int) -> str:
    frame = {"text": f"answer {n}", "meta": {"task": "faq", "cost_usd": "0.0001"}}
    return json.dumps(turn_record(session, f"{1_700_000_000_000 + n:013d}-{n:012d}", f"question {n}", frame))


def test_batch_of_60_is_written_and_a_malformed_record_fails_alone(local_aws):
    session = f"s-{uuid.uuid4().hex[:8]}"
    bodies = [record(session, n) for n in range(60)]
    bodies.insert(7, '{"sessionId": "x"}')  # missing fields
    bodies.insert(30, "not json")
    event, ids = sqs_event(bodies)
    result = local_aws.runtime.invoke("SessionWriterFunction", event)
    assert not result.error, result.payload
    assert sorted(f["itemIdentifier"] for f in result.payload["batchItemFailures"]) == sorted([ids[7], ids[30]])
    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name="ap-northeast-1").Table(local_aws.env["SESSIONS_TABLE"])
    history = DynamoHistory(table)
    assert [h.text for h in history.recent(session)] == [
        "question 57", "answer 57", "question 58", "answer 58", "question 59", "answer 59"]


def test_redelivered_and_duplicate_records_are_idempotent(local_aws):
    session = f"s-{uuid.uuid4().hex[:8]}"
    body = record(session, 1)
    event, _ = sqs_event([body, body])  # the same turn twice in one batch: BatchWriteItem would reject it
    first = local_aws.runtime.invoke("SessionWriterFunction", event)
    again = local_aws.runtime.invoke("SessionWriterFunction", sqs_event([body])[0])
    assert first.payload["batchItemFailures"] == [] and again.payload["batchItemFailures"] == []
    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name="ap-northeast-1").Table(local_aws.env["SESSIONS_TABLE"])
    items = table.query(KeyConditionExpression="sessionId = :s", ExpressionAttributeValues={":s": session})["Items"]
    assert len(items) == 1 and items[0]["answerText"] == "answer 1"
