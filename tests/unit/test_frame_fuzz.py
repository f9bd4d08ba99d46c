"""Property: whatever arrives on sendMessage (text or binary, any JSON or none), handle_frame sends exactly one
well-formed reply (an error frame with a code, or an answer frame) and never raises (#10)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mangaassist.chat.conversation import handle_frame
from mangaassist.protocol import AnswerFrame, parse_client_frame
from mangaassist.reply.cache import InProcessCache, cache_key

from .test_chat import FakePorts

# Every code point, lone surrogates and controls included: what a JSON "\uXXXX" escape can produce.
ANY_CHAR = st.characters(codec=None, categories=None)
ANY_TEXT = st.text(ANY_CHAR, max_size=60)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)
MESSAGES = st.one_of(
    ANY_TEXT,
    st.text(st.sampled_from("\x00\x07\x1b\x7f\x85\u200b\u200d\u202e\u2066\ufeff\u00ad\ud800\udfff \n\tａ巻¥5"),
             max_size=20),
    JSON_VALUES,
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[str | None, bool]:
    """Client frames: near-valid sendMessage objects, arbitrary JSON, raw text, bracket bombs; either flag."""
    shape = draw(st.sampled_from(["message", "json", "text", "nested"]))
    if shape == "message":
        fields: dict[str, Any] = {"action": draw(st.sampled_from(["sendMessage", "sendmessage", None]) | ANY_TEXT),
                                  "sessionId": draw(st.sampled_from(["s-1", ""]) | ANY_TEXT),
                                  "message": draw(MESSAGES)}
        if draw(st.booleans()):
            fields["locale"] = draw(st.sampled_from(["ja", "en", "fr", None]) | JSON_VALUES)
        body: str | None = json.dumps(fields, ensure_ascii=draw(st.booleans()))
    elif shape == "json":
        body = json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans()))
    elif shape == "text":
        body = draw(st.none() | ANY_TEXT)
    else:
        depth = draw(st.integers(1, 5000))
        body = draw(st.sampled_from(["[", "{\"a\":", "[{\"b\":"])) * depth
    return body, draw(st.booleans())


def well_formed(reply: dict[str, Any]) -> None:
    json.dumps(reply, ensure_ascii=False).encode()  # postable: valid UTF-8 JSON
    if reply.get("type") == "error":
        assert set(reply) <= {"type", "code", "message", "turnId", "retryAfter"}
        assert reply["code"].isupper() and reply["message"]
    else:
        AnswerFrame.model_validate(reply)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.booleans())
def test_every_frame_gets_exactly_one_well_formed_reply(frame: tuple[str | None, bool], cached: bool) -> None:
    body, is_base64 = frame
    fake = FakePorts(answer=None)  # the machine did not answer: the fallback answer frame replies
    sent = handle_frame(body, is_base64, "conn-1", fake.ports(InProcessCache() if cached else None))
    assert fake.replies == [sent]
    well_formed(sent)
    assert len(fake.turn_inputs) == (1 if sent["type"] == "answer" else 0)
    if sent["type"] == "answer":
        json.dumps(fake.turn_inputs[0]).encode()  # the execution input is JSON, encodable as UTF-8
        assert len(fake.records) == 1


@settings(max_examples=300, deadline=None)
@given(MESSAGES, st.sampled_from(["ja", "en", None]))
def test_what_the_parser_lets_through_has_a_cache_key(message: Any, locale: str | None) -> None:
    body = json.dumps({"action": "sendMessage", "sessionId": "s-1", "message": message, "locale": locale})
    try:
        parsed = parse_client_frame(body)
    except Exception as error:  # only ProtocolError may come out
        assert type(error).__name__ == "ProtocolError"
        return
    assert parsed.message.strip()
    parsed.message.encode()
    assert cache_key(parsed.message, parsed.locale).startswith("mangaassist:answer:")
