"""Attempt, escalate and retry: one model call each, with its cost and confidence."""

from __future__ import annotations

import time
from collections.abc import Callable

from mangaassist.adapters.models import ModelClient, ModelRequest
from mangaassist.answer import confidence, pricing
from mangaassist.answer.prompts import MAX_TOKENS, system_prompt
from mangaassist.errors import ModelThrottledError, ModelTimeoutError, outcome_of
from mangaassist.reply.fallback import canned_text
from mangaassist.text import reply_language
from mangaassist.turn import Answer, Outcome, Target, TaskFailure, TierCall, TurnConfig, TurnState

HISTORY_TURNS = 3
TEMPERATURE = {Target.HAIKU: 0.3, Target.SAGEMAKER: 0.3}  # Sonnet tiers: 0.5, as in the seed's cascade

ClientFactory = Callable[[Target], ModelClient]
# Told of every model call (target, latency ms, outcome), so health windows see throttles the
# state machine retries as well as the calls that end a turn.
Observer = Callable[[str, float, str], object]


def _outcome(error: Exception) -> str:
    if isinstance(error, ModelThrottledError):
        return "throttled"
    if isinstance(error, ModelTimeoutError):
        return "timeout"
    return "error"


def model_id(target: Target, config: TurnConfig) -> str:
    return {
        Target.HAIKU: config.haiku_model_id,
        Target.SONNET: config.sonnet_model_id,
        Target.SONNET_PROVISIONED: config.sonnet_provisioned_arn or config.sonnet_model_id,
        Target.SAGEMAKER: config.sagemaker_endpoint,
        Target.CANNED: "canned",
    }[target]


def other_tier(target: Target) -> Target:
    """The tier a failed validation retries on: the strong model for a cheap answer and vice versa."""
    return Target.SONNET if target in (Target.HAIKU, Target.SAGEMAKER) else Target.HAIKU


def _failed_tier(target: Target, failure: TaskFailure, config: TurnConfig) -> TierCall:
    return TierCall(target=target, model_id=model_id(target, config), outcome=Outcome(outcome_of(failure.error)))


def call(state: TurnState, target: Target, clients: ClientFactory, prior: list[TierCall],
         observe: Observer | None = None) -> Answer:
    """Ask `target` for the answer to this turn and score it."""
    if state.understanding is None or state.route is None:
        raise ValueError("attempt needs the understanding and the route in the state")
    classification = state.understanding.classification
    language = reply_language(classification.language, state.request.locale)
    if target is Target.CANNED:
        return Answer(text=canned_text(language), target=target, confidence=1.0,
                      tiers=[*prior, TierCall(target=target, model_id="canned")])
    sources = state.understanding.retrieval.sources
    history = [{"role": h.role, "text": h.text} for h in state.request.history[-2 * HISTORY_TURNS:]]
    request = ModelRequest(
        model_id=model_id(target, state.config),
        system=system_prompt(classification.task, language, sources),
        messages=[*history, {"role": "user", "text": state.request.message}],
        max_tokens=state.route.max_tokens or MAX_TOKENS[classification.task],  # the runtime configuration's
        temperature=TEMPERATURE.get(target, 0.5),
    )
    started = time.perf_counter()
    try:
        reply = clients(target).generate(request)
    except Exception as error:
        if observe is not None:
            observe(target.value, (time.perf_counter() - started) * 1000, _outcome(error))
        raise
    if observe is not None:
        observe(target.value, reply.latency_ms, "ok")
    score = confidence.score(reply.text, reply.stop_reason, classification.task, sources)
    tier = TierCall(
        target=target, model_id=request.model_id, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
        cost_usd=pricing.cost_usd(target, reply.input_tokens, reply.output_tokens),
        latency_ms=round(reply.latency_ms, 1),
        outcome=Outcome.OK if score >= state.route.confidence_threshold else Outcome.LOW_CONFIDENCE,
    )
    return Answer(text=reply.text, target=target, stop_reason=reply.stop_reason, confidence=score,
                  tiers=[*prior, tier])


def attempt(state: TurnState, clients: ClientFactory, observe: Observer | None = None) -> Answer:
    """The first call, on the routed target."""
    assert state.route is not None
    return call(state, state.route.target, clients, prior=[], observe=observe)


def escalate(state: TurnState, clients: ClientFactory, observe: Observer | None = None) -> Answer:
    """After a failed attempt: the route's fallback. After a low-confidence one: its escalation target."""
    if state.route is None:
        raise ValueError("escalate needs the route in the state")
    if state.attempt_failure is not None:
        prior = [_failed_tier(state.route.target, state.attempt_failure, state.config)]
        target = state.route.fallback
    else:
        prior = list(state.answer.tiers) if state.answer else []
        target = state.route.escalate_to or state.route.fallback
    answer = call(state, target, clients, prior, observe)
    return answer.model_copy(update={"escalated": True})


def retry_other_tier(state: TurnState, clients: ClientFactory, observe: Observer | None = None) -> Answer:
    """Validation's single retry, on the other tier."""
    if state.answer is None:
        raise ValueError("retry needs a previous answer")
    answer = call(state, other_tier(state.answer.target), clients, prior=list(state.answer.tiers), observe=observe)
    return answer.model_copy(update={"retried": True, "escalated": state.answer.escalated})
