"""Shared fixtures: the local AWS stack (moto server + in-process handlers) for integration tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from mangaassist_local.faults import FaultPlan
from mangaassist_local.gateway import Gateway
from mangaassist_local.stack import LocalAws, start_local_aws


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    stack = start_local_aws(faults=FaultPlan())
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def gateway(local_aws: LocalAws) -> Iterator[Gateway]:
    """The WebSocket gateway in front of the session's stack."""
    gw = Gateway(local_aws.runtime, local_aws.template)
    gw.start()
    yield gw
    gw.stop()


def clear_health(stack: LocalAws) -> None:
    """Forget the health windows and circuits (kept in the budget table without Redis)."""
    table = boto3.resource("dynamodb", endpoint_url=stack.endpoint,
                           region_name="ap-northeast-1").Table(stack.env["BUDGET_TABLE"])
    for item in table.scan(ProjectionExpression="#d", ExpressionAttributeNames={"#d": "day"})["Items"]:
        if item["day"].startswith(("health#", "circuit#")):
            table.delete_item(Key={"day": item["day"]})


@pytest.fixture
def faults(local_aws: LocalAws) -> Iterator[FaultPlan]:
    """The model endpoint's fault plan; faults and the health they damaged are cleared after each test."""
    yield local_aws.models.faults
    local_aws.models.faults.set([])
    clear_health(local_aws)


@pytest.fixture
def scratch_index(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh vector index name, so test documents never reach the stack's (cached) catalog index."""
    from mangaassist import wiring
    from mangaassist.settings import settings

    name = f"scratch-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("VECTOR_INDEX", name)
    settings.cache_clear()
    wiring.vector_store.cache_clear()
    yield name
    monkeypatch.undo()
    settings.cache_clear()
    wiring.vector_store.cache_clear()


def take_session_writes(stack: LocalAws, match: Callable[[dict[str, Any]], bool], count: int = 1,
                        timeout: float = 30) -> list[dict[str, Any]]:
    """Receive and delete up to `count` session writes (SQS bodies) that `match`; the other tests' messages are
    made visible again."""
    sqs = stack.client("sqs")
    url = stack.template.queue_url("SessionWritesQueue", stack.endpoint)
    found: list[dict[str, Any]] = []
    others: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=60).get("Messages", [])
            for message in messages:
                body = json.loads(message["Body"])
                if len(found) < count and match(body):
                    found.append(body)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    others.append(message["ReceiptHandle"])
    finally:
        for handle in others:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def turn_input(message: str, locale: str | None = None, session_id: str = "test-session") -> dict[str, Any]:
    return {"request": {"turn_id": f"{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:12]}",
                        "session_id": session_id, "message": message, "locale": locale,
                        "received_at_ms": int(time.time() * 1000)}}


def sqs_event(bodies: list[str]) -> tuple[dict[str, Any], list[str]]:
    """An SQS event source mapping's event for these message bodies, and their message ids."""
    ids = [str(uuid.uuid4()) for _ in bodies]
    records = [{"messageId": mid, "receiptHandle": f"rh-{mid}", "body": body, "attributes": {},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:q", "awsRegion": "ap-northeast-1"}
               for mid, body in zip(ids, bodies, strict=True)]
    return {"Records": records}, ids


def run_turn(stack: LocalAws, payload: dict[str, Any]) -> dict[str, Any]:
    """One execution of the real chat-turn machine through StartSyncExecution; returns the reply frame."""
    from mangaassist.adapters import aws

    response = stack.client("stepfunctions", config=aws.SYNC_CUSTOM_ENDPOINT).start_sync_execution(
        stateMachineArn=stack.state_machine_arn, input=json.dumps(payload, ensure_ascii=False))
    assert response["status"] == "SUCCEEDED", response
    return json.loads(response["output"])
