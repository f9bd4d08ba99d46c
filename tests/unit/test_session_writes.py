"""write_turns with botocore's Stubber: UnprocessedItems are retried, then reported."""

from __future__ import annotations

import boto3
from botocore.stub import ANY, Stubber

from mangaassist.chat.session_writes import CHUNK, MAX_ROUNDS, write_turns


def item(n: int, session: str = "s") -> dict:
    return {"sessionId": {"S": session}, "turnId": {"S": f"t{n:03d}"}, "userText": {"S": "q"},
            "answerText": {"S": "a"}}


def put(n: int) -> dict:
    return {"PutRequest": {"Item": item(n)}}


def client_and_stub():
    client = boto3.client("dynamodb", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_chunks_of_25_and_unprocessed_items_retried_until_written():
    client, stub = client_and_stub()
    items = {f"m{n}": item(n) for n in range(30)}
    stub.add_response("batch_write_item", {"UnprocessedItems": {"T": [put(3)]}},
                      {"RequestItems": {"T": [put(n) for n in range(CHUNK)]}})
    stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"T": [put(3)]}})
    stub.add_response("batch_write_item", {"UnprocessedItems": {}},
                      {"RequestItems": {"T": [put(n) for n in range(CHUNK, 30)]}})
    sleeps: list[float] = []
    with stub:
        failed = write_turns(client, "T", items, sleep=sleeps.append)
    stub.assert_no_pending_responses()
    assert failed == set()
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.8


def test_items_never_processed_are_reported_with_capped_backoff():
    client, stub = client_and_stub()
    items = {"m1": item(1), "m2": item(2)}
    for _ in range(MAX_ROUNDS):
        stub.add_response("batch_write_item", {"UnprocessedItems": {"T": [put(2)]}}, {"RequestItems": ANY})
    sleeps: list[float] = []
    with stub:
        failed = write_turns(client, "T", items, sleep=sleeps.append)
    assert failed == {"m2"}
    assert len(sleeps) == MAX_ROUNDS - 1 and all(s <= 0.8 for s in sleeps)
    assert sleeps[-1] > sleeps[0] * 0.5  # grows (jitter aside)


def test_duplicate_keys_share_one_write_and_one_fate():
    client, stub = client_and_stub()
    items = {"m1": item(5), "m2": item(5)}
    stub.add_response("batch_write_item", {"UnprocessedItems": {"T": [put(5)]}}, {"RequestItems": {"T": [put(5)]}})
    for _ in range(MAX_ROUNDS - 1):
        stub.add_response("batch_write_item", {"UnprocessedItems": {"T": [put(5)]}}, {"RequestItems": ANY})
    with stub:
        failed = write_turns(client, "T", items, sleep=lambda s: None)
    assert failed == {"m1", "m2"}
