"""frames.py: client frame validation with stable error codes, error frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mangaassist.protocol import (
    MAX_FRAME_BYTES,
    MAX_MESSAGE_CHARS,
    ProtocolError,
    decode_body,
    error_frame,
    parse_client_frame,
)


def frame(**fields: Any) -> str:
    values: dict[str, Any] = {"action": "sendMessage", "sessionId": "session-1", "message": "こんにちは"}
    values.update(fields)
    return json.dumps({k: v for k, v in values.items() if v is not ...}, ensure_ascii=False)


def code_of(body: str | None, is_base64: bool = False) -> str:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(body, is_base64)
    assert caught.value.message  # every error explains itself
    return caught.value.code


# --- valid frames ------------------------------------------------------------------------------------------------


def test_valid_frame() -> None:
    parsed = parse_client_frame(frame(locale="ja"))
    assert parsed.action == "sendMessage"
    assert parsed.session_id == "session-1"
    assert parsed.message == "こんにちは"
    assert parsed.locale == "ja"


def test_locale_is_optional_and_extra_fields_are_ignored() -> None:
    parsed = parse_client_frame(frame(clientTime=123))
    assert parsed.locale is None


@pytest.mark.parametrize("session_id", ["a", "abc-DEF_123.x:y", "s" * 128])
def test_session_id_charset_and_length(session_id: str) -> None:
    assert parse_client_frame(frame(sessionId=session_id)).session_id == session_id


def test_message_at_the_limit_is_accepted() -> None:
    assert len(parse_client_frame(frame(message="あ" * MAX_MESSAGE_CHARS)).message) == MAX_MESSAGE_CHARS


# --- error codes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, "", "   ", "\n"])
def test_empty_frame(body: str | None) -> None:
    assert code_of(body) == "EMPTY_FRAME"


def test_binary_frame() -> None:
    assert code_of(frame(), is_base64=True) == "BINARY_NOT_SUPPORTED"


def test_frame_too_large() -> None:
    body = frame(message="a" * MAX_FRAME_BYTES)
    assert code_of(body) == "FRAME_TOO_LARGE"


def test_frame_size_is_counted_in_bytes() -> None:
    # 11,000 Japanese characters are 33,000 UTF-8 bytes: over the 32 KB frame limit.
    assert code_of(frame(message="あ" * 11_000)) == "FRAME_TOO_LARGE"


@pytest.mark.parametrize("body", ["{", "not json", "{'action': 'sendMessage'}", '{"action": "sendMessage",}'])
def test_invalid_json(body: str) -> None:
    assert code_of(body) == "INVALID_JSON"


@pytest.mark.parametrize("body", ["[]", '[{"action": "sendMessage"}]', '"sendMessage"', "42", "null"])
def test_not_an_object(body: str) -> None:
    assert code_of(body) == "INVALID_FRAME"


@pytest.mark.parametrize("action", ["send", "SendMessage", "", None, ...])
def test_unknown_action(action: Any) -> None:
    assert code_of(frame(action=action)) == "UNKNOWN_ACTION"


@pytest.mark.parametrize("missing", ["sessionId", "message"])
def test_missing_field(missing: str) -> None:
    assert code_of(frame(**{missing: ...})) == "MISSING_FIELD"


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_empty_message(message: str) -> None:
    assert code_of(frame(message=message)) == "EMPTY_MESSAGE"


def test_message_too_long() -> None:
    assert code_of(frame(message="a" * (MAX_MESSAGE_CHARS + 1))) == "MESSAGE_TOO_LONG"


@pytest.mark.parametrize(
    "fields",
    [
        {"message": 5},
        {"message": None},
        {"message": ["hi"]},
        {"locale": "fr"},
        {"locale": "JA"},
        {"sessionId": "has spaces"},
        {"sessionId": ""},
        {"sessionId": "s" * 129},
        {"sessionId": 12345},
        {"sessionId": "セッション"},
    ],
)
def test_invalid_field(fields: dict[str, Any]) -> None:
    assert code_of(frame(**fields)) == "INVALID_FIELD"


def test_invalid_field_names_the_field() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(frame(locale="fr"))
    assert "locale" in caught.value.message


# --- helpers -----------------------------------------------------------------------------------------------------


def test_decode_body() -> None:
    assert decode_body({"body": "x", "isBase64Encoded": False}) == ("x", False)
    assert decode_body({"body": "eA==", "isBase64Encoded": True}) == ("eA==", True)
    assert decode_body({}) == (None, False)


def test_error_frame() -> None:
    assert error_frame("EMPTY_FRAME", "the frame is empty") == {"type": "error", "code": "EMPTY_FRAME",
                                                                "message": "the frame is empty"}
    assert error_frame("X", "y", turn_id="t-1")["turnId"] == "t-1"


def test_the_state_machines_last_resort_reply_is_an_answer_frame() -> None:
    import json
    from pathlib import Path

    from mangaassist.protocol import AnswerFrame

    asl = json.loads((Path(__file__).resolve().parents[2] / "statemachines" / "chat_turn.asl.json").read_text())
    params = asl["States"]["LastResortReply"]["Parameters"]

    def resolve(value):  # what the Pass state's JSONPath placeholders become for a turn
        if isinstance(value, dict):
            return {key.removesuffix(".$"): ("t-1" if key.endswith(".$") else resolve(item))
                    for key, item in value.items()}
        return value

    frame = AnswerFrame.model_validate(resolve(params))
    assert frame.meta.validation.decision == "fallback" and frame.meta.language == "mixed"


def test_an_incomplete_answer_frame_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from mangaassist.protocol import AnswerFrame

    with pytest.raises(ValidationError):
        AnswerFrame.model_validate({"type": "answer", "turnId": "t", "text": "hi",
                                    "meta": {"turnId": "t", "task": "faq", "cost_usd": "1e-7",
                                             "language": "en", "validation": {"decision": "accept"}}})


# --- malformed input never crashes the parser (#10) --------------------------------------------------------------


@pytest.mark.parametrize("body", ["[" * 3000, "{" * 3000, '{"a":' * 2000 + "1" + "}" * 2000,
                                  '{"action": "sendMessage", "x": ' + "[" * 40 + "]" * 40 + "}"])
def test_deep_nesting_is_refused_before_json_recurses(body: str) -> None:
    assert code_of(body) == "FRAME_TOO_DEEP"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert parse_client_frame(frame(message="[" * 500 + "{" * 500)).message == "[" * 500 + "{" * 500


def test_recursion_error_from_the_decoder_is_an_invalid_json_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    import mangaassist.protocol as protocol

    def recurse(_: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(protocol.json, "loads", recurse)
    assert code_of(frame()) == "INVALID_JSON"


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "abc\\udc00def", "\\ud83d"])
def test_lone_surrogate_in_the_message_is_invalid_unicode(escaped: str) -> None:
    body = '{"action": "sendMessage", "sessionId": "s-1", "message": "' + escaped + '"}'
    assert code_of(body) == "INVALID_UNICODE"


def test_a_surrogate_pair_is_a_character() -> None:
    body = '{"action": "sendMessage", "sessionId": "s-1", "message": "\\ud83d\\ude00 hi"}'
    assert parse_client_frame(body).message == "\U0001f600 hi"


def test_unencodable_body_is_invalid_unicode() -> None:
    assert code_of('{"action": "sendMessage", "sessionId": "s-1", "message": "\ud800"}') == "INVALID_UNICODE"


def test_unknown_action_is_quoted_safely_and_briefly() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame('{"action": "\\ud800' + "x" * 500 + '", "sessionId": "s", "message": "m"}')
    assert caught.value.code == "UNKNOWN_ACTION"
    caught.value.message.encode()  # a lone surrogate would fail here
    assert len(caught.value.message) < 100


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("ＯＮＥ ＰＩＥＣＥ　１０５巻", "ONE PIECE 105巻"),  # NFKC: full-width letters, digits and space
        ("ﾜﾝﾋﾟｰｽ", "ワンピース"),  # half-width katakana
        ("one\u200bpiece", "onepiece"),  # zero-width space
        ("pri\u200cce\u200d\u2060\ufeff", "price"),  # ZWNJ, ZWJ, word joiner, BOM
        ("abc\u202egnp.exe", "abcgnp.exe"),  # right-to-left override
        ("\u2066x\u2069 \u200ey\u200f", "x y"),  # bidi isolates and marks
        ("soft\u00adhyphen", "softhyphen"),
        ("nul\x00 bell\x07 esc\x1b[31m del\x7f", "nul bell esc[31m del"),  # C0 controls and DEL
        ("c1\x85\x9b", "c1"),  # C1 controls
        ("line one\nline two\tend", "line one\nline two\tend"),  # newline and tab stay
        ("crlf\r\nnext", "crlf\nnext"),
    ],
)
def test_message_is_normalised_and_stripped(message: str, expected: str) -> None:
    assert parse_client_frame(frame(message=message)).message == expected


@pytest.mark.parametrize("message", ["\x00", "\u200b\u200b", "\u202e", "\ufeff \u200d", "\x00\x01\x02", "\r\n\t"])
def test_message_left_empty_after_stripping_is_empty(message: str) -> None:
    assert code_of(frame(message=message)) == "EMPTY_MESSAGE"


def test_message_length_is_counted_after_normalisation() -> None:
    # "㍿" is one character that NFKC expands to four (株式会社).
    assert code_of(frame(message="㍿" * 501)) == "MESSAGE_TOO_LONG"
    assert len(parse_client_frame(frame(message="\u200b" * 3000 + "hi")).message) == 2
