"""Deadlines end to end: with both models hung, the customer still gets the fallback, in time, in the
message's language, and the turn is recorded (mangaassist.deadlines)."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.sync.client import connect

from conftest import take_session_writes
from mangaassist.reply.fallback import canned_text
from mangaassist_local.faults import parse_faults

pytestmark = pytest.mark.integration


def test_both_models_hung_still_reply_the_fallback_in_time_and_record_it(local_aws, gateway, faults):
    faults.set(parse_faults(["haiku=slow:40000", "sonnet=slow:40000"]))
    session = f"hung-{uuid.uuid4().hex[:8]}"
    with connect(gateway.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "sendMessage", "sessionId": session,
                            "message": f"ワンピースの3巻はいくらですか？ ({session})"}, ensure_ascii=False))
        frame = json.loads(ws.recv(timeout=60))
    assert frame["type"] == "answer", frame
    assert frame["text"] == canned_text("ja"), "the fallback speaks the message's language (no locale sent)"
    assert frame["meta"]["validation"]["decision"] == "fallback"
    outcomes = [(tier["target"], tier["outcome"]) for tier in frame["meta"]["tiers"]]
    # Either the machine finished with both model calls ended by the client's read timeout, or sendMessage
    # stopped waiting at the turn's deadline; never the 40 s hangs.
    both_timed_out = ("haiku", "timeout") in outcomes and ("sonnet", "timeout") in outcomes
    assert both_timed_out or frame["meta"]["validation"]["failures"] == ["timeout"], frame["meta"]
    found = take_session_writes(local_aws, lambda body: body["turnId"] == frame["turnId"], timeout=20)
    assert found and found[0]["turnId"] == frame["turnId"]
