"""The sendMessage route: validate the frame, run the turn, reply, record it.

Every accepted frame gets exactly one reply frame: the answer, or an error frame
with a code. The machine's failures become the polite fallback answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from mangaassist.auth.principal import guest_principal
from mangaassist.chat.limits import BudgetStop, Limits
from mangaassist.chat.sessions import new_turn_id, session_key, turn_record
from mangaassist.errors import TurnTimeoutError
from mangaassist.protocol import AnswerFrame, AnswerMeta, ProtocolError, ValidationMeta, error_frame, parse_client_frame
from mangaassist.reply.cache import Cache, cache_key, hit_frame
from mangaassist.reply.fallback import canned_text
from mangaassist.telemetry import (
    record_budget_exhausted,
    record_cache_hit,
    record_limited,
    record_reply,
    record_reply_post_failure,
    record_session_enqueue_failure,
    record_turn_timeout,
)
from mangaassist.text import message_language
from mangaassist.turn import HistoryItem

logger = Logger(service="mangaassist")


class TurnRunner(Protocol):
    def __call__(self, turn_input: dict[str, Any]) -> dict[str, Any] | None: ...


@dataclass
class ChatPorts:
    run_turn: TurnRunner  # StartSyncExecution; None when the execution did not succeed
    reply: Callable[[dict[str, Any]], bool]  # post to the connection; False when it is gone
    history: Callable[[str], list[HistoryItem]]
    record: Callable[[dict[str, Any]], None]  # enqueue the session write
    cache: Cache | None = None
    limits: Limits | None = None  # rate limits and the daily quota (chat.limits)
    budget: BudgetStop | None = None  # the hard stop at 100% of the daily budget


def fallback_frame(turn_id: str, message: str, locale: str | None, reason: str) -> dict[str, Any]:
    """The polite apology when no turn answered: in the message's language, as an answer would be."""
    language: Literal["ja", "en"] = "ja" if message_language(message, locale) == "ja" else "en"
    meta = AnswerMeta(turnId=turn_id, task="unknown", language=language, cost_usd="0",
                      validation=ValidationMeta(decision="fallback", failures=[reason]))
    return AnswerFrame(turnId=turn_id, text=canned_text(language, reason), meta=meta).to_wire()


def handle_frame(body: str | None, is_base64: bool, connection_id: str, ports: ChatPorts,
                 principal: str | None = None) -> dict[str, Any]:
    """Serve one client frame; returns the frame that was sent back.

    `principal` is who is talking (the authorizer's customer id, else `guest:<connectionId>`)."""
    principal = principal or guest_principal(connection_id)
    try:
        frame = parse_client_frame(body, is_base64)
    except ProtocolError as error:
        reply = error_frame(error.code, error.message)
        ports.reply(reply)
        return reply
    refusal = ports.limits.admit(connection_id, principal) if ports.limits else None
    if refusal is not None:  # one error frame, nothing started, nothing recorded
        record_limited(refusal.code)
        reply = error_frame(refusal.code, refusal.message, retry_after=refusal.retry_after)
        ports.reply(reply)
        return reply
    received = int(time.time() * 1000)
    started = time.perf_counter()
    turn_id = new_turn_id(received)
    key = session_key(principal, frame.session_id)  # the principal's own session: nobody else's history
    if ports.budget is not None and ports.budget.exhausted():  # before the cache: a semantic lookup embeds
        record_budget_exhausted()
        stopped = fallback_frame(turn_id, frame.message, frame.locale, "budget_exhausted")
        _deliver(stopped, turn_id, key, frame.message, connection_id, ports, principal)
        return stopped
    cached = ports.cache.get(cache_key(frame.message, frame.locale)) if ports.cache else None
    hit = None
    if cached is not None:
        try:
            hit = hit_frame(cached, turn_id, (time.perf_counter() - started) * 1000)
        except (KeyError, TypeError, ValidationError):
            logger.warning("cached answer is not a valid answer frame (an older release?): treated as a miss")
    if hit is not None:
        record_cache_hit("exact")
        _deliver(hit, turn_id, key, frame.message, connection_id, ports, principal)
        return hit
    try:
        history = ports.history(key)
    except Exception:
        logger.exception("could not load the session history")
        history = []
    turn_input = {"request": {"turn_id": turn_id, "session_id": key, "message": frame.message,
                              "locale": frame.locale, "connection_id": connection_id, "received_at_ms": received,
                              "principal": principal, "history": [h.model_dump() for h in history]}}
    reason = "error:execution"
    try:
        output = ports.run_turn(turn_input)
    except TurnTimeoutError:
        logger.warning("the chat-turn execution passed its deadline: the fallback replies")
        record_turn_timeout()
        output, reason = None, "timeout"
    except Exception:
        logger.exception("the chat-turn execution could not run")
        output = None
    answer = output if output is not None else fallback_frame(turn_id, frame.message, frame.locale, reason)
    if isinstance(answer.get("meta"), dict):
        answer["meta"]["history_turns"] = sum(1 for item in history if item.role == "user")
    _deliver(answer, turn_id, key, frame.message, connection_id, ports, principal)
    return answer


def _deliver(answer: dict[str, Any], turn_id: str, session_id: str, message: str, connection_id: str,
             ports: ChatPorts, principal: str | None = None) -> None:
    """Reply, then record the turn; the reply goes first because the customer is waiting. Whatever the post
    does (gone, forbidden, throttled, network), the turn is still recorded."""
    meta = answer.get("meta")
    validation = meta.get("validation") if isinstance(meta, dict) else None
    fell_back = isinstance(validation, dict) and validation.get("decision") == "fallback"
    record_reply("fallback" if fell_back else "answer")
    try:
        if not ports.reply(answer):
            logger.info("connection gone before the reply", extra={"connection_id": connection_id})
            record_reply_post_failure("gone")
    except Exception:
        logger.exception("could not post the reply", extra={"connection_id": connection_id})
        record_reply_post_failure("error")
    try:
        ports.record(turn_record(session_id, turn_id, message, answer, principal))
    except Exception:
        logger.exception("could not enqueue the session write")
        record_session_enqueue_failure()


def sync_output(response: dict[str, Any]) -> dict[str, Any] | None:
    """The answer frame from a StartSyncExecution response, or None if the execution failed."""
    if response.get("status") == "TIMED_OUT":
        raise TurnTimeoutError("the chat-turn execution timed out")
    if response.get("status") != "SUCCEEDED" or "output" not in response:
        logger.error("chat-turn execution failed", extra={"error": response.get("error"),
                                                          "cause": str(response.get("cause"))[:500]})
        return None
    return json.loads(response["output"])
