"""Abuse and spend limits through the real WebSocket of the local stack (issue #10, item 4): a flood from one
connection, the daily quota, and the hard stop at 100% of the daily budget (no model call at all)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from websockets.sync.client import connect

from conftest import take_session_writes
from mangaassist.adapters.dynamodb import DynamoSpendLedger
from mangaassist.answer.routing import jst_day
from mangaassist.chat import limits
from mangaassist.reply.fallback import BUDGET_EXHAUSTED
from mangaassist.settings import settings
from mangaassist_local.gateway import Gateway
from mangaassist_local.stack import REGION, LocalAws

pytestmark = pytest.mark.integration


def _frame(message: str, session: str, locale: str | None = None) -> str:
    frame: dict[str, Any] = {"action": "sendMessage", "sessionId": session, "message": message}
    if locale:
        frame["locale"] = locale
    return json.dumps(frame, ensure_ascii=False)


def _clear() -> None:
    settings.cache_clear()  # the in-process sendMessage reads its settings and limits again
    limits.limits.cache_clear()
    limits.budget_stop.cache_clear()


@pytest.fixture
def limit_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set limit variables for the stack's in-process sendMessage; restored after the test."""
    _clear()
    yield monkeypatch
    monkeypatch.undo()
    _clear()


def _set(env: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        env.setenv(name, value)
    _clear()


def _quiet_model_calls(stack: LocalAws, quiet: float = 3.0, timeout: float = 60.0) -> int:
    """The model endpoint's call count once no call came for `quiet` seconds: an execution that outlived its
    sendMessage deadline in an earlier test may still be calling models."""
    deadline = time.monotonic() + timeout
    count, since = len(stack.models.calls), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if len(stack.models.calls) != count:
            count, since = len(stack.models.calls), time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return count


def test_a_flood_from_one_connection_gets_rate_limited_one_reply_per_frame(
        local_aws: LocalAws, gateway: Gateway, limit_env: pytest.MonkeyPatch) -> None:
    # A slow refill (one token per 1000 s) so the test does not depend on how long a turn takes on a busy machine.
    _set(limit_env, RATE_CONNECTION_PER_SECOND="0.001", RATE_CONNECTION_BURST="3")
    tag = uuid.uuid4().hex[:8]
    sent = [f"What are the themes of Berserk? (flood {n} {tag})" for n in range(8)]
    with connect(gateway.ws_url, open_timeout=10) as ws:
        for message in sent:  # all at once, without waiting for replies
            ws.send(_frame(message, f"flood-{tag}", "en"))
        replies = [json.loads(ws.recv(timeout=120)) for _ in sent]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.5)  # exactly one reply per frame: nothing more arrives
    answers = [r for r in replies if r["type"] == "answer"]
    limited = [r for r in replies if r.get("code") == "RATE_LIMITED"]
    assert len(answers) + len(limited) == len(sent), replies
    assert [r["type"] for r in replies[:3]] == ["answer"] * 3  # the burst is served, in order
    assert len(answers) == 3 and len(limited) == 5
    assert all(r["type"] == "error" and 1 <= r["retryAfter"] <= 1000 and r["message"] for r in limited)
    assert all(a["text"] and a["meta"]["validation"]["failures"] != ["budget_exhausted"] for a in answers)
    # Nothing accepted is lost: every answered turn is recorded; refused frames are not.
    records = take_session_writes(local_aws, lambda body: tag in body.get("userText", ""), count=len(sent),
                                  timeout=10)
    assert sorted(r["turnId"] for r in records) == sorted(a["turnId"] for a in answers)


def test_a_connection_over_the_daily_quota_gets_quota_exceeded(
        local_aws: LocalAws, gateway: Gateway, limit_env: pytest.MonkeyPatch) -> None:
    _set(limit_env, DAILY_TURN_QUOTA="2", RATE_CONNECTION_PER_SECOND="0", RATE_PRINCIPAL_PER_MINUTE="0")
    tag = uuid.uuid4().hex[:8]
    with connect(gateway.ws_url, open_timeout=10) as ws:
        replies = []
        for n in range(3):
            ws.send(_frame(f"Hello! ({tag} {n})", f"quota-{tag}", "en"))
            replies.append(json.loads(ws.recv(timeout=60)))
    assert [r.get("code", r["type"]) for r in replies] == ["answer", "answer", "QUOTA_EXCEEDED"]
    assert 1 <= replies[2]["retryAfter"] <= 24 * 3600


def test_at_100_percent_of_the_daily_budget_the_reply_is_polite_and_no_model_is_called(
        local_aws: LocalAws, gateway: Gateway, limit_env: pytest.MonkeyPatch) -> None:
    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name=REGION).Table(local_aws.env["BUDGET_TABLE"])
    ledger, day = DynamoSpendLedger(table), jst_day(datetime.now(UTC))
    ledger.add(day, Decimal("0.000001"))  # some spend today, whichever tests ran before
    _set(limit_env, DAILY_BUDGET_USD=str(ledger.spent_today(day)))  # today's spend is exactly the budget
    tag = uuid.uuid4().hex[:8]
    calls = _quiet_model_calls(local_aws)
    with connect(gateway.ws_url, open_timeout=10) as ws:
        replies = []
        for message, locale in ((f"ワンピースの3巻はいくらですか？（{tag}）", None),
                                (f"How much is One Piece volume 3? ({tag})", "en")):
            ws.send(_frame(message, f"budget-{tag}", locale))
            replies.append(json.loads(ws.recv(timeout=60)))
        assert len(local_aws.models.calls) == calls  # not even the query embedding
        for reply, language in zip(replies, ("ja", "en"), strict=True):
            assert reply["type"] == "answer" and reply["text"] == BUDGET_EXHAUSTED[language]
            assert reply["meta"]["validation"] == {"decision": "fallback", "failures": ["budget_exhausted"]}
            assert reply["meta"]["cost_usd"] == "0" and reply["meta"]["tiers"] == []
        # Below the budget again, turns run as before.
        _set(limit_env, DAILY_BUDGET_USD=str(ledger.spent_today(day) + Decimal("100")))
        ws.send(_frame(f"How much is One Piece volume 3? ({tag} again)", f"budget-{tag}", "en"))
        after = json.loads(ws.recv(timeout=60))
    assert after["type"] == "answer" and after["meta"]["validation"]["failures"] != ["budget_exhausted"]
    assert len(local_aws.models.calls) > calls
