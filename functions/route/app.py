"""Route state: the hybrid router's decision for this turn."""

from datetime import UTC, datetime

from mangaassist.answer.health import CHAIN, health_board
from mangaassist.answer.routing import avoid_open_circuits, decide, jst_day, spent_today_or_none
from mangaassist.lambda_task import prime, state_task
from mangaassist.reply.semantic_cache import prepare_semantic_cache, semantic_cache
from mangaassist.tuning.runtime_config import current_record, turn_tuning
from mangaassist.turn import RouteDecision, TurnState
from mangaassist.wiring import spend_ledger


def _route(state: TurnState) -> RouteDecision:
    if state.understanding is None:
        raise ValueError("route needs the classification")
    now = datetime.now(UTC)
    spent = spent_today_or_none(spend_ledger(), jst_day(now))
    # The tuned values in force (the SLA optimizer's runtime configuration, cached for a few seconds): the turn
    # carries them in its decision, so CheckConfidence, Attempt/Escalate and Finalize all use this one version.
    tuning = turn_tuning(current_record(), state.understanding.classification.task, state.config.confidence_threshold)
    config = state.config.model_copy(update={"confidence_threshold": tuning.confidence_threshold})
    decision = decide(state.understanding.classification, config, spent, now)
    decision = avoid_open_circuits(decision, health_board(), CHAIN).model_copy(update={
        "config_version": tuning.version, "max_tokens": tuning.max_tokens,
        "cache_ttl_seconds": tuning.cache_ttl_seconds})
    # The semantic cache needs the classification's entities and the query embedding: this is the first state
    # that has both. A hit goes straight to Finalize (the CacheHit Choice).
    cache = semantic_cache()
    return decision if cache is None else decision.model_copy(update={"cache": cache.lookup(state)})


lambda_handler = state_task(_route)

prime(spend_ledger, prepare_semantic_cache, health_board)
