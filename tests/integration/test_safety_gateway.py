"""#10 items 5 and 6 through the real WebSocket of the local stack: every malformed-frame class gets its error
frame (and the connection keeps working), hidden characters are stripped before the turn, and an answer the
hardened Validate refuses never reaches the customer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from mangaassist.reply.fallback import CANNED
from mangaassist_local.faults import parse_faults
from mangaassist_local.gateway import Gateway

pytestmark = pytest.mark.integration


def _frame(message: Any) -> str:
    return json.dumps({"action": "sendMessage", "sessionId": "safety-session", "message": message})


def _raw(message_json: str) -> str:
    return '{"action": "sendMessage", "sessionId": "safety-session", "message": ' + message_json + "}"


MALFORMED: list[tuple[str, str | bytes, str]] = [
    ("3 KB of nested brackets", "[" * 3000, "FRAME_TOO_DEEP"),
    ("nested objects", '{"a":' * 1500 + "1" + "}" * 1500, "FRAME_TOO_DEEP"),
    ("nesting inside a valid frame", _raw('"hi", "x": ' + "[" * 100 + "]" * 100), "FRAME_TOO_DEEP"),
    ("a lone high surrogate", _raw('"\\ud800"'), "INVALID_UNICODE"),
    ("a lone low surrogate in text", _raw('"One Piece \\udc00 105"'), "INVALID_UNICODE"),
    ("only NUL and controls", _frame("\x00\x01\x07\x1b"), "EMPTY_MESSAGE"),
    ("only zero-width characters", _frame("\u200b\u200c\u200d\u2060\ufeff"), "EMPTY_MESSAGE"),
    ("only bidi overrides", _frame("\u202e\u202d\u2066\u2069"), "EMPTY_MESSAGE"),
    ("binary", b"\x00\xff" * 10, "BINARY_NOT_SUPPORTED"),
]


async def _recv(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 60))


def test_every_malformed_frame_class_gets_one_error_frame(gateway: Gateway) -> None:
    async def chat() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with websockets.connect(gateway.ws_url) as ws:
            replies = []
            for _, frame, _ in MALFORMED:
                await ws.send(frame)
                replies.append(await _recv(ws))
            # hidden characters around a real question: stripped, and the question is answered
            await ws.send(_frame("\u202eHello\u200b \x00there!\u2066"))
            answer = await _recv(ws)
            with pytest.raises(asyncio.TimeoutError):  # exactly one reply per frame: nothing else is queued
                await asyncio.wait_for(ws.recv(), 1.0)
            return replies, answer

    replies, answer = asyncio.run(asyncio.wait_for(chat(), 240))
    for (name, _, code), reply in zip(MALFORMED, replies, strict=True):
        assert reply["type"] == "error" and reply["code"] == code and reply["message"], (name, reply)
    assert answer["type"] == "answer" and answer["text"].strip()


def _ask(gateway: Gateway, message: str) -> dict[str, Any]:
    async def chat() -> dict[str, Any]:
        async with websockets.connect(gateway.ws_url) as ws:
            await ws.send(_frame(message))
            return await _recv(ws)

    return asyncio.run(asyncio.wait_for(chat(), 240))


def test_an_answer_with_personal_data_never_reaches_the_customer(gateway: Gateway, faults: Any) -> None:
    faults.set(parse_faults("haiku=pii,sonnet=pii"))  # every answer carries an e-mail address and a phone
    frame = _ask(gateway, "Can I return an opened volume? (safety test)")
    assert frame["type"] == "answer"
    assert frame["text"] == CANNED["en"]
    validation = frame["meta"]["validation"]
    assert validation["decision"] == "fallback"
    assert {"pii:email", "pii:phone"} <= set(validation["failures"])
    assert "@" not in frame["text"]


def test_the_local_models_grounded_answers_are_accepted(gateway: Gateway) -> None:
    for message in ("How much is One Piece volume 105?", "ワンピースの105巻はいくらですか？",
                    "What does shipping cost in Japan?"):
        frame = _ask(gateway, message + " ")
        assert frame["type"] == "answer"
        validation = frame["meta"]["validation"]
        assert validation["decision"] == "accept", (message, validation, frame["text"])
