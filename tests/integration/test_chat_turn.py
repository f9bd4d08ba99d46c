"""The real ASL file, executed by moto's Step Functions interpreter, every Lambda task
dispatched in-process to the real handlers and every model call answered by the local
model endpoint over the Bedrock wire protocol."""

from __future__ import annotations

import re
from decimal import Decimal

import boto3
import pytest

from conftest import run_turn, turn_input
from mangaassist.answer.pricing import cost_usd
from mangaassist.catalog.store import catalog
from mangaassist.reply.fallback import CANNED
from mangaassist.turn import Target
from mangaassist_local.faults import parse_faults

pytestmark = pytest.mark.integration
KANA = re.compile(r"[\u3040-\u30ff]")


def tier_path(frame: dict) -> list[tuple[str, str]]:
    return [(tier["target"], tier["outcome"]) for tier in frame["meta"]["tiers"]]


def test_greeting_stays_on_haiku(local_aws):
    frame = run_turn(local_aws, turn_input("Hello there!"))
    meta = frame["meta"]
    assert frame["type"] == "answer" and frame["turnId"] == meta["turnId"]
    assert meta["task"] == "greeting" and meta["language"] == "en"
    assert tier_path(frame) == [("haiku", "ok")]
    assert meta["escalated"] is False and meta["validation"]["decision"] == "accept"
    tier = meta["tiers"][0]
    assert Decimal(meta["cost_usd"]) == cost_usd(Target.HAIKU, tier["input_tokens"], tier["output_tokens"]) > 0
    assert {"classify", "retrieve", "route", "answer", "validate", "total"} <= set(meta["latency_ms"])


def test_product_question_is_grounded_in_the_catalog(local_aws):
    series = catalog()["one-piece"]
    volume = next(v for v, stock in enumerate(series.stock, 1) if stock > 0)
    frame = run_turn(local_aws, turn_input(f"How much is One Piece volume {volume}? Is it in stock?"))
    assert frame["meta"]["task"] == "product_search"
    assert f"one-piece#{volume}" in frame["meta"]["sources"]  # the exact DynamoDB lookup
    assert f"¥{series.price_jpy}" in frame["text"]
    assert f"{series.stock[volume - 1]} in stock" in frame["text"]


def test_japanese_recommendation_answers_in_japanese(local_aws):
    frame = run_turn(local_aws, turn_input("進撃の巨人みたいなおすすめの漫画はありますか？"))
    meta = frame["meta"]
    assert meta["task"] == "recommendation" and meta["language"] == "ja"
    assert KANA.search(frame["text"]) and "進撃の巨人" in frame["text"]
    assert meta["validation"]["decision"] == "accept"


def test_discussion_escalates_to_sonnet_and_pays_for_both(local_aws):
    frame = run_turn(local_aws, turn_input("What are the main themes of Vinland Saga?"))
    meta = frame["meta"]
    assert meta["task"] == "discussion"
    assert tier_path(frame) == [("haiku", "low_confidence"), ("sonnet", "ok")]
    assert meta["escalated"] is True and meta["confidence"] >= 0.8
    haiku, sonnet = meta["tiers"]
    expected = cost_usd(Target.HAIKU, haiku["input_tokens"], haiku["output_tokens"]) + cost_usd(
        Target.SONNET, sonnet["input_tokens"], sonnet["output_tokens"])
    assert Decimal(meta["cost_usd"]) == expected
    assert "I'm not sure" not in frame["text"]  # the hedged Haiku draft was replaced


def test_haiku_throttled_is_retried_then_caught_into_sonnet(local_aws, faults):
    faults.set(parse_faults("haiku=throttle"))
    before = local_aws.runtime.invocations.get("AttemptFunction", 0)
    frame = run_turn(local_aws, turn_input("Hello!"))
    assert tier_path(frame) == [("haiku", "throttled"), ("sonnet", "ok")]
    assert frame["meta"]["escalated"] is True
    # The state machine's Retry ran the Attempt task twice before its Catch moved on.
    assert local_aws.runtime.invocations["AttemptFunction"] - before == 2


def test_every_model_down_gives_the_canned_answer_in_the_users_language(local_aws, faults):
    faults.set(parse_faults("haiku=error,sonnet=error"))
    frame = run_turn(local_aws, turn_input("ワンピースの最新刊はいくらですか？"))
    assert frame["text"] == CANNED["ja"]
    outcomes = tier_path(frame)
    assert outcomes[0] == ("haiku", "error") and ("sonnet", "error") in outcomes and outcomes[-1][0] == "canned"
    assert frame["meta"]["validation"]["decision"] == "fallback"


def test_unsafe_answer_falls_back_without_a_retry(local_aws, faults):
    # Stricter since #10: personal data in an answer is never retried on the other tier; the fallback replies.
    faults.set(parse_faults("haiku=pii"))  # Haiku's answer leaks an e-mail address and a phone number
    frame = run_turn(local_aws, turn_input("What's your return policy?"))
    meta = frame["meta"]
    assert frame["text"] == CANNED["en"]
    assert [t for t, _ in tier_path(frame)] == ["haiku", "canned"]
    assert meta["validation"]["decision"] == "fallback"
    assert {"pii:email", "pii:phone"} <= set(meta["validation"]["failures"])
    assert "@" not in frame["text"] and "090-" not in frame["text"]


def test_an_ungrounded_answer_is_retried_on_the_other_tier(local_aws, faults):
    from mangaassist_local import local_model

    original = local_model.answer

    def wrong_price_on_haiku(profile: str, prompt: local_model.Prompt) -> str:
        text = original(profile, prompt)
        return text.replace("¥528", "¥550") if profile == "haiku" else text

    local_model.answer = wrong_price_on_haiku  # the in-process model endpoint calls it
    try:
        frame = run_turn(local_aws, turn_input("How much is One Piece volume 105?"))
    finally:
        local_model.answer = original
    meta = frame["meta"]
    assert tier_path(frame)[:2] == [("haiku", "ok"), ("sonnet", "ok")]  # Validate's retry, not an escalation
    assert meta["validation"]["decision"] == "accept", meta["validation"]
    assert "¥528" in frame["text"] and "¥550" not in frame["text"]


def test_a_failing_task_is_caught_and_still_answers(local_aws):
    """Retrieve fails (the orders table is gone): the Parallel's Catch ends in Finalize with the fallback."""
    dynamodb = boto3.client("dynamodb", endpoint_url=local_aws.endpoint, region_name="ap-northeast-1")
    table = local_aws.env["ORDERS_TABLE"]
    description = dynamodb.describe_table(TableName=table)["Table"]
    saved = dynamodb.scan(TableName=table)["Items"]
    dynamodb.delete_table(TableName=table)
    try:
        # Signed in as the order's owner: only then is the orders table read (a guest's order is not looked up).
        payload = turn_input("Where is my order MGA-2025-00417?")
        payload["request"]["principal"] = "C-1043"
        frame = run_turn(local_aws, payload)
    finally:
        dynamodb.create_table(TableName=table, KeySchema=description["KeySchema"],
                              AttributeDefinitions=description["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST")
        for item in saved:
            dynamodb.put_item(TableName=table, Item=item)
    assert frame["type"] == "answer" and frame["text"] == CANNED["en"]
    assert "error:ResourceNotFoundException" in frame["meta"]["validation"]["failures"]
    assert frame["meta"]["tiers"] == [{"target": "canned", "model_id": "canned", "input_tokens": 0,
                                       "output_tokens": 0, "cost_usd": "0", "latency_ms": 0.0, "outcome": "ok"}]


def test_even_a_broken_turn_gets_a_reply_frame(local_aws):
    """Input no state can read: Classify fails, Finalize fails, the last-resort Pass state replies."""
    payload = turn_input("hi")
    del payload["request"]["message"]
    frame = run_turn(local_aws, payload)
    assert frame["type"] == "answer" and frame["turnId"] == payload["request"]["turn_id"]
    assert frame["meta"]["validation"]["decision"] == "fallback"
    assert "Sorry" in frame["text"] and KANA.search(frame["text"])


@pytest.fixture(scope="module")
def sagemaker_machine(local_aws):
    return local_aws.variant_state_machine("sagemaker", {"SageMakerImageUri": "local/manga-model:latest"})


def run_on(local_aws, machine_arn: str, message: str) -> dict:
    import json

    from mangaassist.adapters import aws

    response = local_aws.client("stepfunctions", config=aws.SYNC_CUSTOM_ENDPOINT).start_sync_execution(
        stateMachineArn=machine_arn, input=json.dumps(turn_input(message), ensure_ascii=False))
    assert response["status"] == "SUCCEEDED", response
    return json.loads(response["output"])


def test_manga_specific_question_goes_to_the_sagemaker_model(local_aws, sagemaker_machine):
    frame = run_on(local_aws, sagemaker_machine, "Can you summarize Monster?")
    meta = frame["meta"]
    assert meta["route"] == {"target": "sagemaker", "reason": "manga_specific", "fallback": "haiku",
                             "config_version": 0, "confidence_threshold": 0.8, "max_tokens": 400}
    assert tier_path(frame) == [("sagemaker", "ok")]
    assert meta["tiers"][0]["model_id"] == "mangaassist-MangaModelEndpoint"
    assert meta["cost_usd"] == "0"  # billed per instance hour, not per call
    assert "Monster" in frame["text"]


def test_sagemaker_down_falls_back_to_haiku(local_aws, sagemaker_machine, faults):
    faults.set(parse_faults("sagemaker=error"))
    frame = run_on(local_aws, sagemaker_machine, "Can you summarize Monster?")
    assert tier_path(frame) == [("sagemaker", "error"), ("haiku", "ok")]
    assert frame["meta"]["validation"]["decision"] == "accept" and "Monster" in frame["text"]


def test_open_haiku_circuit_moves_traffic_to_sonnet_and_back(local_aws):
    from conftest import clear_health
    from mangaassist.answer.health import health_board

    board = health_board()
    assert board.available("haiku")
    opened = []
    for _ in range(25):  # a window of failing Haiku calls, as the Attempt handlers would record them
        opened += board.record("haiku", 120.0, "error")
    try:
        assert any(reason.startswith("error_rate") for reason in opened)
        frame = run_turn(local_aws, turn_input("Hello!"))
        route = frame["meta"]["route"]
        assert route["target"] == "sonnet" and route["reason"] == "default_haiku_first+circuit_open:haiku"
        assert tier_path(frame) == [("sonnet", "ok")]
    finally:
        clear_health(local_aws)
    assert run_turn(local_aws, turn_input("Hello!"))["meta"]["route"]["target"] == "haiku"


def test_embeddings_down_the_turn_still_understands_with_rules_and_keywords(local_aws, faults):
    faults.set(parse_faults("embeddings=error"))
    frame = run_turn(local_aws, turn_input("How much is One Piece volume 3?"))
    meta = frame["meta"]
    assert "embed" not in meta["latency_ms"]  # EmbedQuery was caught
    assert meta["task"] == "product_search" and "one-piece#3" in meta["sources"]
    assert meta["validation"]["decision"] == "accept" and "¥" in frame["text"]
