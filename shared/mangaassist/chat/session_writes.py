"""session_writer: turn records from SQS into the sessions table, in BatchWriteItem chunks of 25.

Idempotent on (sessionId, turnId): a redelivered record overwrites itself with
the same content. Items DynamoDB leaves unprocessed are retried with capped
exponential backoff; those still unprocessed are reported as failed messages so
SQS redelivers them (and, after maxReceiveCount, parks them in the DLQ).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHUNK = 25
MAX_ROUNDS = 4
BASE_DELAY_S = 0.05
MAX_DELAY_S = 0.8


class TurnRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    session_id: str = Field(alias="sessionId", min_length=1)
    turn_id: str = Field(alias="turnId", min_length=1)
    user_text: str = Field(alias="userText")
    answer_text: str = Field(alias="answerText")

    @property
    def key(self) -> tuple[str, str]:
        return self.session_id, self.turn_id


def parse_record(body: str) -> dict[str, Any]:
    """Validate one message body; raises on a malformed record (reported as that message's failure)."""
    record = TurnRecord.model_validate(json.loads(body))
    return record.model_dump(by_alias=True)


def write_turns(
    client: Any,
    table_name: str,
    items: dict[str, dict[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> set[str]:
    """Write items (message id -> DynamoDB-typed item); return the message ids that could not be written."""
    # BatchWriteItem rejects two requests for the same key: the last message for a turn wins,
    # and every message carrying that turn shares its fate.
    owners: dict[tuple[str, str], list[str]] = {}
    for message_id, item in items.items():
        owners.setdefault((item["sessionId"]["S"], item["turnId"]["S"]), []).append(message_id)
    pending = [items[message_ids[-1]] for message_ids in owners.values()]
    failed: set[str] = set()
    for start in range(0, len(pending), CHUNK):
        requests = [{"PutRequest": {"Item": item}} for item in pending[start : start + CHUNK]]
        for attempt in range(MAX_ROUNDS):
            unprocessed = client.batch_write_item(RequestItems={table_name: requests}).get("UnprocessedItems", {})
            requests = unprocessed.get(table_name, [])
            if not requests:
                break
            if attempt < MAX_ROUNDS - 1:
                sleep(min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt) * random.uniform(0.5, 1.0))
        for request in requests:
            item = request["PutRequest"]["Item"]
            failed.update(owners[(item["sessionId"]["S"], item["turnId"]["S"])])
    return failed
