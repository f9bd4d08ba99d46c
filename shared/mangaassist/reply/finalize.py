"""Finalize: the reply frame, its meta, the turn's cost. Every path ends here."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from mangaassist.answer.attempt import model_id, other_tier
from mangaassist.errors import outcome_of
from mangaassist.protocol import AnswerFrame, AnswerMeta
from mangaassist.reply.cache import hit_frame
from mangaassist.reply.fallback import canned_text
from mangaassist.text import message_language, reply_language
from mangaassist.turn import Outcome, Target, TierCall, TurnState


def now_ms() -> int:
    return int(time.time() * 1000)


def _failure_tiers(state: TurnState) -> list[TierCall]:
    """Calls whose Catch kept them out of `answer`: they still count in the tier path."""
    route = state.route
    if route is None:
        return []

    def failed(target: Target, error: str) -> TierCall:
        return TierCall(target=target, model_id=model_id(target, state.config), outcome=Outcome(outcome_of(error)))

    tiers = []
    if state.answer is None and state.attempt_failure is not None:
        tiers.append(failed(route.target, state.attempt_failure.error))
    if state.escalation_failure is not None:
        target = route.fallback if state.attempt_failure is not None else (route.escalate_to or route.fallback)
        tiers.append(failed(target, state.escalation_failure.error))
    if state.retry_failure is not None and state.answer is not None:
        tiers.append(failed(other_tier(state.answer.target), state.retry_failure.error))
    return tiers


def total_cost(tiers: list[TierCall]) -> str:
    """The turn's cost: the exact sum of its tiers, as a plain decimal string."""
    return format(sum((tier.cost_usd for tier in tiers), Decimal("0")), "f")


def cold_starts_ms(state: TurnState, own_ms: float = 0.0) -> float:
    """The init time of every environment that started cold for this turn (Finalize's own included)."""
    steps: list[Any] = [state.query_embedding, state.route, state.answer, state.validation]
    if state.understanding is not None:
        steps += [state.understanding.classification, state.understanding.retrieval]
    return round(own_ms + sum(step.cold_start_ms for step in steps if step is not None), 1)


def history_used(state: TurnState) -> bool:
    """The answer was written with the session's history in the prompt."""
    return bool(state.request.history)


def customer_data_used(state: TurnState) -> bool:
    """The answer was written from the customer's own records (an order)."""
    return state.understanding is not None and any(s.kind == "order" for s in state.understanding.retrieval.sources)


def finalize(state: TurnState, finished_ms: int | None = None, cold_start_ms: float = 0.0) -> dict[str, Any]:
    """The answer frame for this turn: the validated answer, the semantic cache's, or the canned one."""
    if state.route is not None and state.route.cache.hit:
        return _semantic_hit(state, finished_ms, cold_start_ms)
    classification = state.understanding.classification if state.understanding else None
    language = (reply_language(classification.language, state.request.locale) if classification
                else message_language(state.request.message, state.request.locale))
    tiers = [*(state.answer.tiers if state.answer else []), *_failure_tiers(state)]
    # The canned apology passes Validate (it is safe) but is never an accepted answer: no model answered.
    canned = state.answer is not None and state.answer.target is Target.CANNED
    accepted = (state.answer is not None and not canned and state.validation is not None
                and state.validation.decision == "accept")
    failures = list(state.validation.failures) if state.validation else []
    if canned and not failures:
        failures.append(f"unanswered:{state.route.reason}" if state.route else "unanswered")
    failures += [f"error:{f.error}" for f in (state.failure, state.retry_failure) if f is not None]
    text = state.answer.text if accepted and state.answer else canned_text(language)
    if not accepted and not any(t.target is Target.CANNED for t in tiers):
        tiers.append(TierCall(target=Target.CANNED, model_id="canned"))
    stages = {
        "embed": state.query_embedding.elapsed_ms if state.query_embedding else None,
        "classify": classification.elapsed_ms if classification else None,
        "retrieve": state.understanding.retrieval.elapsed_ms if state.understanding else None,
        "route": state.route.elapsed_ms if state.route else None,
        "answer": state.answer.elapsed_ms if state.answer else None,
        "validate": state.validation.elapsed_ms if state.validation else None,
    }
    finished = finished_ms if finished_ms is not None else now_ms()
    cold = cold_starts_ms(state, cold_start_ms)
    if cold:
        stages["cold_start"] = cold  # init time, outside the steps' own times but inside the total
    meta = {
        "turnId": state.request.turn_id,
        "task": classification.task.value if classification else "unknown",
        "language": classification.language.value if classification else language,
        "complexity": classification.complexity if classification else None,
        "route": ({"target": state.route.target.value, "reason": state.route.reason,
                   "fallback": state.route.fallback.value, "config_version": state.route.config_version,
                   "confidence_threshold": state.route.confidence_threshold,
                   "max_tokens": state.route.max_tokens} if state.route else None),
        "tiers": [tier.model_dump(mode="json") for tier in tiers],
        # An escalation that was tried counts, even when it failed.
        "escalated": bool(state.answer and state.answer.escalated) or state.escalation_failure is not None,
        "confidence": state.answer.confidence if state.answer else None,
        "validation": {"decision": "accept" if accepted else "fallback", "failures": failures},
        "cache": "miss",
        "cache_distance": state.route.cache.distance if state.route else None,
        "cost_usd": total_cost(tiers),
        "latency_ms": {"total": max(finished - state.request.received_at_ms, 0),
                       **{name: round(ms, 1) for name, ms in stages.items() if ms is not None}},
        "sources": [s.id for s in state.understanding.retrieval.sources] if state.understanding else [],
    }
    return AnswerFrame(turnId=state.request.turn_id, text=text, meta=AnswerMeta.model_validate(meta)).to_wire()


def _semantic_hit(state: TurnState, finished_ms: int | None, cold_start_ms: float) -> dict[str, Any]:
    """Route found this question's paraphrase under the same guard: its answer, re-issued at no cost."""
    assert state.route is not None  # the caller checked
    lookup = state.route.cache
    finished = finished_ms if finished_ms is not None else now_ms()
    stages = {"embed": state.query_embedding.elapsed_ms if state.query_embedding else None,
              "classify": state.understanding.classification.elapsed_ms if state.understanding else None,
              "retrieve": state.understanding.retrieval.elapsed_ms if state.understanding else None,
              "route": state.route.elapsed_ms, "cold_start": cold_starts_ms(state, cold_start_ms) or None}
    latency = {"total": float(max(finished - state.request.received_at_ms, 0)),
               **{name: round(ms, 1) for name, ms in stages.items() if ms is not None}}
    return hit_frame({"text": lookup.text, "meta": lookup.meta}, state.request.turn_id, latency["total"],
                     kind="semantic", distance=lookup.distance, latency_ms=latency)
