"""Session history and turn records: read in sendMessage, written by session_writer."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from mangaassist.answer.routing import jst_day
from mangaassist.chat.redact import redact
from mangaassist.turn import HistoryItem

SESSION_TTL_SECONDS = 30 * 24 * 3600
HISTORY_TURNS = 3


def new_turn_id(now_ms: int | None = None) -> str:
    """Time-ordered ids: the sessions table's sort key then lists turns in order."""
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    return f"{stamp:013d}-{uuid.uuid4().hex[:12]}"


def session_key(principal: str, session_id: str) -> str:
    """The sessions table key of a client's session id: it belongs to the principal, so another principal
    sending the same id reads and writes a different key; and the client's id never appears at rest or in
    logs (the state machine's logs carry this key)."""
    digest = hashlib.sha256(json.dumps([principal, session_id]).encode()).hexdigest()[:40]  # unambiguous
    return f"s-{digest}"


def turn_record(session_id: str, turn_id: str, message: str, frame: dict[str, Any],
                principal: str | None = None) -> dict[str, Any]:
    """The item session_writer stores for one turn (also the SQS message body).

    `session_id` is the session_key. `day` is the turn's JST day (YYYY-MM-DD): the sessions table's ByDay
    index, which cost reports query. `principal` feeds the ByPrincipal index (`mangaassist forget`)."""
    meta = frame.get("meta", {})
    created_ms = int(turn_id.split("-", 1)[0]) if turn_id[:13].isdigit() else int(time.time() * 1000)
    owner = {"principal": principal} if principal else {}
    return {
        **owner,
        "sessionId": session_id,
        "turnId": turn_id,
        "userText": redact(message),  # personal data never reaches the session store (chat.redact)
        "answerText": redact(frame.get("text", "")),
        "task": meta.get("task", "unknown"),
        "costUsd": str(meta.get("cost_usd", "0")),
        "meta": json.dumps(meta, ensure_ascii=False, default=str),
        "createdAt": created_ms,
        "day": jst_day(datetime.fromtimestamp(created_ms / 1000, UTC)),
        "expiresAt": int(time.time()) + SESSION_TTL_SECONDS,
    }


class DynamoHistory:
    def __init__(self, table: Any) -> None:
        self._table = table

    def recent(self, session_id: str, turns: int = HISTORY_TURNS) -> list[HistoryItem]:
        """The last `turns` turns, oldest first, as alternating user/assistant messages."""
        items = self._table.query(KeyConditionExpression=Key("sessionId").eq(session_id), ScanIndexForward=False,
                                  Limit=turns).get("Items", [])
        history: list[HistoryItem] = []
        for item in reversed(items):
            history.append(HistoryItem(role="user", text=item["userText"]))
            history.append(HistoryItem(role="assistant", text=item["answerText"]))
        return history
