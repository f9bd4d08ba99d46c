"""The sample events in events/ run through their handlers and the real state machine.

Every function of template.yaml has a sample event, and each gives the shape its caller (the next
state, API Gateway, the SQS event source mapping) expects.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import clear_health, run_turn, take_session_writes
from mangaassist.chat.sessions import session_key
from mangaassist_local.stack import REGION, REPO, LocalAws
from mangaassist_local.template import Template

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"

# One sample event per function of template.yaml (test_every_function_of_the_template_has_a_sample_event).
EVENT_FOR = {
    "EmbedQueryFunction": "state_embed_query.json",
    "ClassifyFunction": "state_classify.json",
    "RetrieveFunction": "state_retrieve.json",
    "RouteFunction": "state_route.json",
    "AttemptFunction": "state_attempt.json",
    "EscalateFunction": "state_escalate.json",
    "ValidateFunction": "state_validate.json",
    "FinalizeFunction": "state_finalize.json",
    "AuthorizerFunction": "authorizer.json",
    "ConnectFunction": "ws_connect.json",
    "DisconnectFunction": "ws_disconnect.json",
    "SendMessageFunction": "ws_send_message.json",
    "SessionWriterFunction": "sqs_session_writes.json",
    "EmbeddingWorkerFunction": "sqs_embeddings.json",
    "AnalyticsWorkerFunction": "sqs_analytics_jobs.json",
}
# Read at collection, so a function added to the template gets a (failing) case of its own.
TEMPLATE_FUNCTIONS = sorted(Template(REPO / "template.yaml", REGION).functions)


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


# -- every function has an event -------------------------------------------------------------
def test_every_function_of_the_template_has_a_sample_event(local_aws):
    missing = sorted(set(local_aws.template.functions) - set(EVENT_FOR))
    assert not missing, f"add a sample event to events/ (and EVENT_FOR) for {', '.join(missing)}"
    assert set(EVENT_FOR) <= set(local_aws.template.functions), "EVENT_FOR names a function the template lacks"
    for name in EVENT_FOR.values():
        assert (EVENTS / name).is_file(), f"events/{name} is missing"


def test_the_readme_lists_every_event_file():
    readme = (EVENTS / "README.md").read_text()
    listed = set(re.findall(r"^\|\s*([\w.-]+\.json)\s*\|", readme, flags=re.MULTILINE))
    assert listed == {path.name for path in EVENTS.glob("*.json")}
    for logical_id, name in EVENT_FOR.items():
        assert re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*{logical_id}\s*\|", readme, flags=re.MULTILINE), name


# What the machine has put in the state by the time it reaches each Task (ResultPath by ResultPath).
STATE_KEYS = {
    "state_embed_query.json": {"request", "config"},
    "state_classify.json": {"request", "config", "query_embedding"},
    "state_retrieve.json": {"request", "config", "query_embedding"},
    "state_route.json": {"request", "config", "query_embedding", "understanding"},
    "state_attempt.json": {"request", "config", "query_embedding", "understanding", "route"},
    "state_escalate.json": {"request", "config", "query_embedding", "understanding", "route", "attempt_failure"},
    "state_validate.json": {"request", "config", "query_embedding", "understanding", "route", "answer"},
    "state_finalize.json": {"request", "config", "query_embedding", "understanding", "route", "answer",
                            "validation"},
}


@pytest.mark.parametrize("name", sorted(STATE_KEYS))
def test_state_events_hold_what_the_machine_has_set_by_then(name, local_aws):
    from mangaassist.turn import TurnState

    event = load(name)
    if name == "state_attempt.json":
        assert event["mode"] == "first"  # the Attempt state's Parameters
        event = event["state"]
    assert set(event) == STATE_KEYS[name]
    state = TurnState.model_validate(event)
    assert state.request.turn_id == load("chat_turn_input.json")["request"]["turn_id"]
    # LoadConfig's Result, as the local stack's template substitutes it.
    _, definition = local_aws.template.state_machine(local_aws.endpoint)
    assert event["config"] == json.loads(definition)["States"]["LoadConfig"]["Result"]
    if state.query_embedding is not None:
        assert len(state.query_embedding.vector) == int(local_aws.env["EMBEDDING_DIMENSIONS"])


# -- each sample event through its handler ------------------------------------------------------
def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def check_embed_query(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import QueryEmbedding

    embedding = QueryEmbedding.model_validate(out)
    assert embedding.model_id == stack.env["EMBEDDING_MODEL_ID"]
    assert len(embedding.vector) == int(stack.env["EMBEDDING_DIMENSIONS"]) == 384
    # The recorded vector in the later states' events is this message's.
    assert _cosine(embedding.vector, load("state_classify.json")["query_embedding"]["vector"]) > 0.999


def check_classify(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import Classification

    classification = Classification.model_validate(out)
    assert (classification.task, classification.language) == ("product_search", "en")
    assert classification.entities.titles == ["one-piece"] and classification.entities.volumes == [3]
    assert 0 <= classification.complexity < 0.8 and classification.manga_specific is False


def check_retrieve(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import Retrieval

    sources = {source.id: source for source in Retrieval.model_validate(out).sources}
    assert sources["one-piece#3"].kind == "product" and sources["one-piece#3"].facts["price_jpy"] == 528
    assert "one-piece" in sources


def check_route(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import RouteDecision

    route = RouteDecision.model_validate(out)
    assert (route.target, route.reason, route.fallback, route.escalate_to) == (
        "haiku", "default_haiku_first", "sonnet", "sonnet")
    assert route.confidence_threshold == float(event["config"]["confidence_threshold"])


def check_attempt(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import Answer

    answer = Answer.model_validate(out)
    assert answer.target == "haiku" and "528" in answer.text
    assert [(tier.target, tier.outcome) for tier in answer.tiers] == [("haiku", "ok")]
    assert answer.tiers[0].model_id == event["state"]["config"]["haiku_model_id"]
    assert answer.tiers[0].input_tokens > 0 and float(out["tiers"][0]["cost_usd"]) > 0
    # CheckConfidence compares these two: this answer goes on to Validate.
    assert answer.confidence >= event["state"]["route"]["confidence_threshold"]


def check_escalate(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import Answer

    answer = Answer.model_validate(out)
    assert answer.escalated is True and answer.target == "sonnet" and answer.text
    assert [(tier.target, tier.outcome) for tier in answer.tiers] == [("haiku", "throttled"), ("sonnet", "ok")]


def check_validate(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.turn import Validation

    assert Validation.model_validate(out).decision == "accept" and out["failures"] == []


def check_finalize(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    assert out["type"] == "answer" and out["turnId"] == event["request"]["turn_id"]
    assert out["text"] == event["answer"]["text"]
    meta = out["meta"]
    assert meta["task"] == "product_search" and meta["validation"]["decision"] == "accept"
    assert meta["cost_usd"] == event["answer"]["tiers"][0]["cost_usd"] and "one-piece#3" in meta["sources"]


def check_authorizer(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    # No ?token=: a guest, admitted, named by its connection for every later route.
    assert out["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert out["context"] == {"principal": f"guest:{event['requestContext']['connectionId']}", "kind": "guest"}


def check_connect(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    assert out == {"statusCode": 200}


def check_send_message(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    assert out == {"statusCode": 200}
    frame = json.loads(event["body"])
    # Stored under the principal's own key (a guest here: no authorizer context in the sample event).
    key = session_key(f"guest:{event['requestContext']['connectionId']}", frame["sessionId"])
    taken = take_session_writes(stack, lambda body: body.get("sessionId") == key, timeout=10)
    record = taken[0] if taken else None
    assert record is not None, "sendMessage ran the turn and queued its session write"
    assert record["task"] == "product_search" and "528" in record["answerText"]


def check_session_writer(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    assert out == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def check_embedding_worker(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.adapters.opensearch import OpenSearchVectorStore
    from mangaassist.settings import settings

    assert out == {"batchItemFailures": [{"itemIdentifier": event["Records"][2]["messageId"]}]}
    store = OpenSearchVectorStore.connect(stack.endpoint, settings().vector_index, 384, REGION)
    indexed = store._existing(["series:kaiju-bakery", "policy:gift-wrapping"])
    assert all(indexed.get(doc_id) for doc_id in ("series:kaiju-bakery", "policy:gift-wrapping")), indexed


def check_analytics_worker(out: dict[str, Any], event: dict[str, Any], stack: LocalAws) -> None:
    from mangaassist.jobs import JobStatus, JobStore

    # Both jobs run (a redelivery of a SUCCEEDED job id is not run again, and is no failure either).
    assert out == {"batchItemFailures": []}
    store = JobStore(stack.client("dynamodb"), stack.env["JOBS_TABLE"])
    for job_id in ("sample-cost-report-2025-11-22", "sample-capacity-plan"):
        record = store.get(job_id)
        assert record is not None and record.status is JobStatus.SUCCEEDED, record
        assert f"jobs/{job_id}/result.json" in record.result_keys
    plan = json.loads(stack.client("s3").get_object(Bucket=stack.env["RESULTS_BUCKET"],
                                                    Key="jobs/sample-capacity-plan/result.json")["Body"].read())
    assert plan["result"]["model_units"]["sonnet"] == 49  # SPEC §7: 1.94M tokens/min at peak, 40k per unit


CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any], LocalAws], None]] = {
    "EmbedQueryFunction": check_embed_query,
    "ClassifyFunction": check_classify,
    "RetrieveFunction": check_retrieve,
    "RouteFunction": check_route,
    "AttemptFunction": check_attempt,
    "EscalateFunction": check_escalate,
    "ValidateFunction": check_validate,
    "FinalizeFunction": check_finalize,
    "AuthorizerFunction": check_authorizer,
    "ConnectFunction": check_connect,
    "DisconnectFunction": check_connect,
    "SendMessageFunction": check_send_message,
    "SessionWriterFunction": check_session_writer,
    "EmbeddingWorkerFunction": check_embedding_worker,
    "AnalyticsWorkerFunction": check_analytics_worker,
}


@pytest.mark.parametrize("logical_id", sorted(set(TEMPLATE_FUNCTIONS) | set(EVENT_FOR)))
def test_sample_event_gives_what_its_caller_expects(logical_id, local_aws, request):
    assert logical_id in local_aws.template.functions, f"{logical_id} is not a function of template.yaml"
    assert logical_id in EVENT_FOR, f"{logical_id} has no sample event: add one to events/ and EVENT_FOR"
    assert logical_id in CHECKS, f"{logical_id} has an event but nothing checks its result"
    if logical_id == "SendMessageFunction":
        request.getfixturevalue("gateway")  # the @connections API it replies through
    if logical_id == "EmbeddingWorkerFunction":
        request.getfixturevalue("scratch_index")
    if logical_id == "RouteFunction":
        clear_health(local_aws)  # no circuit left open by an earlier test moves the route
    event = load(EVENT_FOR[logical_id])
    result = local_aws.runtime.invoke(logical_id, event)
    assert not result.error, result.payload
    CHECKS[logical_id](result.payload, event, local_aws)
