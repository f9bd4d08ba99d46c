"""Finalize state: the reply frame, the day's spend, the turn's metrics."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mangaassist.answer.routing import jst_day
from mangaassist.lambda_task import cold_start_ms, logger, prime
from mangaassist.reply.cache import TTL_SECONDS, answer_cache, cache_key, cacheable
from mangaassist.reply.finalize import customer_data_used, finalize, history_used
from mangaassist.reply.semantic_cache import prepare_semantic_cache, semantic_cache
from mangaassist.telemetry import record_cache_hit, record_turn
from mangaassist.text import prepare_titles
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
    if meta["cache"] == "semantic":
        record_cache_hit("semantic")
    elif cacheable(frame, history_used(state), customer_data_used(state)):
        ttl = state.route.cache_ttl_seconds if state.route and state.route.cache_ttl_seconds else TTL_SECONDS
        answer_cache().put(cache_key(state.request.message, state.request.locale), frame, ttl=ttl)  # tuned TTL
    if meta["cache"] == "miss" and (semantic := semantic_cache()) is not None:
        semantic.save(state, frame)  # only what its guard and rules allow (no history, prices, stock, orders)
    record_turn(meta)
    return frame

prime(spend_ledger, answer_cache, prepare_semantic_cache, prepare_titles)
