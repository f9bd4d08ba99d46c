"""chat.py: handle_frame with fake ports: exactly one reply frame per client frame, one record per turn."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from mangaassist.chat.conversation import ChatPorts, fallback_frame, handle_frame, sync_output
from mangaassist.chat.sessions import session_key
from mangaassist.reply.cache import InProcessCache, cache_key
from mangaassist.reply.fallback import CANNED, canned_text
from mangaassist.turn import HistoryItem

from .conftest import make_history


@dataclass
class FakePorts:
    answer: dict[str, Any] | None = None
    run_error: Exception | None = None
    gone: bool = False
    reply_error: Exception | None = None
    history_items: list[HistoryItem] = field(default_factory=list)
    history_error: Exception | None = None
    record_error: Exception | None = None
    turn_inputs: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    history_asked: list[str] = field(default_factory=list)

    def run_turn(self, turn_input: dict[str, Any]) -> dict[str, Any] | None:
        self.turn_inputs.append(turn_input)
        if self.run_error:
            raise self.run_error
        if self.answer is None:
            return None
        turn_id = turn_input["request"]["turn_id"]
        return {**self.answer, "turnId": turn_id, "meta": {**self.answer.get("meta", {}), "turnId": turn_id}}

    def reply(self, frame: dict[str, Any]) -> bool:
        self.replies.append(frame)
        if self.reply_error:
            raise self.reply_error
        return not self.gone

    def history(self, session_id: str) -> list[HistoryItem]:
        self.history_asked.append(session_id)
        if self.history_error:
            raise self.history_error
        return self.history_items

    def record(self, record: dict[str, Any]) -> None:
        if self.record_error:
            raise self.record_error
        self.records.append(record)

    def ports(self, cache: InProcessCache | None = None) -> ChatPorts:
        return ChatPorts(run_turn=self.run_turn, reply=self.reply, history=self.history, record=self.record,
                         cache=cache)


ANSWER = {"type": "answer", "text": "ONE PIECE第105巻は528円です。",
          "meta": {"task": "product_search", "cost_usd": "0.0005625", "tiers": []}}


def body(message: str = "ワンピースの105巻はありますか？", locale: str | None = "ja", session_id: str = "s-1") -> str:
    values: dict[str, Any] = {"action": "sendMessage", "sessionId": session_id, "message": message}
    if locale is not None:
        values["locale"] = locale
    return json.dumps(values, ensure_ascii=False)


# --- bad frames --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "is_base64", "code"),
    [
        ("", False, "EMPTY_FRAME"),
        ("{", False, "INVALID_JSON"),
        (body(), True, "BINARY_NOT_SUPPORTED"),
        ('{"action": "sendMessage", "sessionId": "s-1", "message": "   "}', False, "EMPTY_MESSAGE"),
        ('{"action": "sendMessage", "sessionId": "s-1", "message": "hi", "locale": "fr"}', False, "INVALID_FIELD"),
    ],
)
def test_bad_frame_gets_exactly_one_error_frame_and_nothing_runs(raw: str, is_base64: bool, code: str) -> None:
    fake = FakePorts(answer=ANSWER)
    sent = handle_frame(raw, is_base64, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert sent["type"] == "error"
    assert sent["code"] == code
    assert sent["message"]
    assert fake.turn_inputs == []
    assert fake.records == []
    assert fake.history_asked == []


# --- good frames -------------------------------------------------------------------------------------------------


def test_good_frame_runs_the_turn_with_history_and_locale() -> None:
    history = make_history(2)
    fake = FakePorts(answer=ANSWER, history_items=history)
    sent = handle_frame(body(), False, "conn-1", fake.ports())

    key = session_key("guest:conn-1", "s-1")  # no authorizer context: a guest's own session
    assert fake.history_asked == [key]
    (turn_input,) = fake.turn_inputs
    request = turn_input["request"]
    assert request["session_id"] == key and request["principal"] == "guest:conn-1"
    assert request["message"] == "ワンピースの105巻はありますか?"  # NFKC: the full-width ？ is normalised
    assert request["locale"] == "ja"
    assert request["connection_id"] == "conn-1"
    assert request["history"] == [{"role": h.role, "text": h.text} for h in history]
    assert isinstance(request["received_at_ms"], int) and request["received_at_ms"] > 0
    assert request["turn_id"].startswith(f"{request['received_at_ms']:013d}-")
    json.dumps(turn_input)  # the execution input must be JSON

    assert fake.replies == [sent]
    assert sent["type"] == "answer"
    assert sent["text"] == ANSWER["text"]


def test_good_frame_enqueues_one_record_of_the_turn() -> None:
    fake = FakePorts(answer=ANSWER)
    sent = handle_frame(body(), False, "conn-1", fake.ports())
    (record,) = fake.records
    assert record["sessionId"] == session_key("guest:conn-1", "s-1")  # no authorizer context: a guest
    assert record["principal"] == "guest:conn-1"
    assert record["turnId"] == fake.turn_inputs[0]["request"]["turn_id"] == sent["turnId"]
    assert record["userText"] == "ワンピースの105巻はありますか?"  # as normalised by the parser
    assert record["answerText"] == ANSWER["text"]
    assert record["task"] == "product_search"
    assert record["costUsd"] == "0.0005625"


def test_missing_locale_is_passed_as_none() -> None:
    fake = FakePorts(answer=ANSWER)
    handle_frame(body("Hello", locale=None), False, "conn-1", fake.ports())
    assert fake.turn_inputs[0]["request"]["locale"] is None


# --- failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "locale", "text"), [
    ("ワンピースの105巻はありますか？", "ja", CANNED["ja"]), ("ワンピースの105巻はありますか？", None, CANNED["ja"]),
    ("Do you have One Piece volume 105?", None, CANNED["en"]),
    ("Do you have One Piece volume 105?", "ja", CANNED["en"])])
def test_run_turn_raising_still_replies_the_fallback_answer(message: str, locale: str | None, text: str) -> None:
    fake = FakePorts(run_error=RuntimeError("StartSyncExecution failed"))
    sent = handle_frame(body(message, locale=locale), False, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert sent["type"] == "answer"
    assert sent["text"] == text
    assert sent["meta"]["validation"] == {"decision": "fallback", "failures": ["error:execution"]}
    assert len(fake.records) == 1


def test_run_turn_returning_none_still_replies_the_fallback_answer() -> None:
    fake = FakePorts(answer=None)
    sent = handle_frame(body(locale="ja"), False, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert sent["text"] == CANNED["ja"]
    assert sent["turnId"] == fake.turn_inputs[0]["request"]["turn_id"]
    assert len(fake.records) == 1
    assert fake.records[0]["answerText"] == CANNED["ja"]


def test_gone_connection_still_records_the_turn() -> None:
    fake = FakePorts(answer=ANSWER, gone=True)
    sent = handle_frame(body(), False, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert len(fake.records) == 1


def test_history_loader_raising_still_answers_without_history() -> None:
    fake = FakePorts(answer=ANSWER, history_error=RuntimeError("DynamoDB down"))
    sent = handle_frame(body(), False, "conn-1", fake.ports())
    assert fake.turn_inputs[0]["request"]["history"] == []
    assert fake.replies == [sent]
    assert sent["text"] == ANSWER["text"]
    assert len(fake.records) == 1


def test_record_failure_does_not_break_the_reply() -> None:
    fake = FakePorts(answer=ANSWER, record_error=RuntimeError("SQS down"))
    sent = handle_frame(body(), False, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert sent["text"] == ANSWER["text"]


# --- answer cache ------------------------------------------------------------------------------------------------


def test_cache_hit_replies_without_running_the_turn() -> None:
    cache = InProcessCache()
    cached = {"type": "answer", "turnId": "old", "text": "送料は550円です。",
              "meta": {"turnId": "old", "task": "faq", "language": "ja", "cost_usd": "0.0005625", "cache": "miss",
                       "tiers": [{"target": "haiku"}], "validation": {"decision": "accept", "failures": []}}}
    cache.put(cache_key("送料はいくらですか？", "ja"), cached)
    fake = FakePorts(answer=ANSWER)
    sent = handle_frame(body("送料はいくらですか？", locale="ja"), False, "conn-1", fake.ports(cache))

    assert fake.turn_inputs == []
    assert fake.replies == [sent]
    assert sent["text"] == "送料は550円です。"
    assert sent["turnId"] != "old" and sent["meta"]["turnId"] == sent["turnId"]
    assert sent["meta"]["cache"] == "exact"
    assert sent["meta"]["cost_usd"] == "0"
    assert sent["meta"]["tiers"] == []
    (record,) = fake.records
    assert record["turnId"] == sent["turnId"]


def test_cache_miss_runs_the_turn() -> None:
    fake = FakePorts(answer=ANSWER)
    handle_frame(body(), False, "conn-1", fake.ports(InProcessCache()))
    assert len(fake.turn_inputs) == 1
    assert len(fake.replies) == 1


# --- helpers -----------------------------------------------------------------------------------------------------


def test_fallback_frame() -> None:
    frame = fallback_frame("t-1", "送料はいくらですか？", "ja", "error:execution")
    assert frame["type"] == "answer"
    assert frame["turnId"] == frame["meta"]["turnId"] == "t-1"
    assert frame["text"] == CANNED["ja"]
    assert frame["meta"]["cost_usd"] == "0"


def test_sync_output() -> None:
    assert sync_output({"status": "SUCCEEDED", "output": json.dumps(ANSWER)}) == ANSWER
    assert sync_output({"status": "FAILED", "error": "States.TaskFailed", "cause": "boom"}) is None
    assert sync_output({"status": "SUCCEEDED"}) is None


def test_a_cached_entry_that_is_not_an_answer_frame_is_a_miss() -> None:
    cache = InProcessCache()
    cache.put(cache_key("送料はいくらですか？", "ja"), {"type": "answer", "turnId": "old", "text": "x", "meta": {}})
    fake = FakePorts(answer=ANSWER)
    handle_frame(body("送料はいくらですか？", locale="ja"), False, "conn-1", fake.ports(cache))
    assert len(fake.turn_inputs) == 1  # the turn ran instead


@pytest.mark.parametrize(("message", "locale", "language"), [
    ("ワンピースの3巻はいくらですか？", None, "ja"), ("How much is One Piece volume 3?", None, "en"),
    ("How much is One Piece volume 3?", "ja", "en")])
def test_the_fallback_speaks_the_messages_language_without_a_locale(message: str, locale: str | None,
                                                                    language: str) -> None:
    frame = fallback_frame("t-1", message, locale, "error:execution")
    assert frame["meta"]["language"] == language
    assert frame["text"] == canned_text(language)


def test_a_turn_past_its_deadline_replies_the_fallback_and_is_recorded_as_a_timeout() -> None:
    from mangaassist.errors import TurnTimeoutError

    fake = FakePorts(run_error=TurnTimeoutError("read timeout"))
    sent = handle_frame(body("ワンピースの3巻はいくらですか？", locale=None), False, "conn-1", fake.ports())
    assert fake.replies == [sent] and sent["text"] == CANNED["ja"]
    assert sent["meta"]["validation"] == {"decision": "fallback", "failures": ["timeout"]}
    assert len(fake.records) == 1 and fake.records[0]["turnId"] == sent["turnId"]


def test_a_timed_out_execution_is_a_timeout() -> None:
    from mangaassist.errors import TurnTimeoutError

    with pytest.raises(TurnTimeoutError):
        sync_output({"status": "TIMED_OUT", "error": "States.Timeout"})


@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "ForbiddenException", "Message": "Forbidden"}}, "PostToConnection"),
    ClientError({"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"}}, "PostToConnection"),
    EndpointConnectionError(endpoint_url="https://abc.execute-api.ap-northeast-1.amazonaws.com"),
    RuntimeError("anything else")])
def test_whatever_the_reply_post_raises_the_turn_is_still_recorded_once(error: Exception) -> None:
    fake = FakePorts(answer=ANSWER, reply_error=error)
    sent = handle_frame(body(), False, "conn-1", fake.ports())
    assert fake.replies == [sent]
    assert len(fake.records) == 1 and fake.records[0]["turnId"] == sent["turnId"]
