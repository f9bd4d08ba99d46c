"""Finalize state: the reply frame, the day's spend, the turn's metrics."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mangaassist.answer.routing import jst_day
from mangaassist.lambda_task import cold_start_ms, logger
from mangaassist.reply.cache import answer_cache, cache_key, cacheable
from mangaassist.reply.finalize import finalize
from mangaassist.telemetry import record_turn
from mangaassist.turn import TurnState
from mangaassist.wiring import spend_ledger


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cold_ms = cold_start_ms()
    state = TurnState.model_validate(event)
    frame = finalize(state, cold_start_ms=cold_ms)
    meta = frame["meta"]
    try:
        spend_ledger().add(jst_day(datetime.now(UTC)), Decimal(meta["cost_usd"]))
    except Exception:  # noqa: BLE001 - the reply matters more than the spend counter
        logger.exception("could not add the turn's cost to the budget counter")
    if cacheable(frame):
        answer_cache().put(cache_key(state.request.message, state.request.locale), frame)
    record_turn(meta)
    return frame
