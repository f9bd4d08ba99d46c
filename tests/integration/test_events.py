"""The sample events in events/ run through their handlers and the real state machine."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from conftest import run_turn

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_connect_then_disconnect_records_and_forgets_the_connection(local_aws):
    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name="ap-northeast-1").Table(local_aws.env["CONNECTIONS_TABLE"])
    connect = local_aws.runtime.invoke("ConnectFunction", load("ws_connect.json"))
    assert connect.payload == {"statusCode": 200}
    item = table.get_item(Key={"connectionId": "L0SM9cOFvHcCIhw="})["Item"]
    assert item["sourceIp"] == "203.0.113.10" and item["expiresAt"] > item["connectedAt"]
    disconnect = local_aws.runtime.invoke("DisconnectFunction", load("ws_disconnect.json"))
    assert disconnect.payload == {"statusCode": 200}
    assert "Item" not in table.get_item(Key={"connectionId": "L0SM9cOFvHcCIhw="})


def test_sample_turn_input_runs_the_machine_with_its_history(local_aws):
    frame = run_turn(local_aws, load("chat_turn_input.json"))
    assert frame["turnId"] == "1763870405000-3f9c2a1b7d4e"
    assert frame["meta"]["task"] == "product_search" and "one-piece#3" in frame["meta"]["sources"]


def test_sample_session_writes_batch_reports_the_malformed_record(local_aws):
    event = load("sqs_session_writes.json")
    result = local_aws.runtime.invoke("SessionWriterFunction", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
