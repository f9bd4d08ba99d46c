"""answering.py: attempt, escalate and retry with a fake ModelClient factory."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mangaassist.answer.attempt import attempt, escalate, model_id, other_tier, retry_other_tier
from mangaassist.answer.prompts import MAX_TOKENS
from mangaassist.errors import ModelThrottledError
from mangaassist.reply.fallback import CANNED
from mangaassist.turn import Language, Outcome, Target, Task

from .conftest import (
    HAIKU_ID,
    PROVISIONED_ARN,
    SAGEMAKER_ENDPOINT,
    SONNET_ID,
    FakeClients,
    make_answer,
    make_config,
    make_history,
    make_route,
    make_state,
    make_tier,
    product_source,
)

GOOD = "One Piece volume 105 costs ¥528 and we have 7 copies left."
HEDGED = "I'm not sure, maybe One Piece volume 105 costs ¥600, perhaps."


# --- attempt -----------------------------------------------------------------------------------------------------


def test_attempt_uses_the_routed_model_id(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, GOOD, input_tokens=500, output_tokens=350)
    state = make_state(route=make_route(Target.HAIKU))
    answer = attempt(state, clients)

    ((target, request),) = clients.requests
    assert target is Target.HAIKU
    assert request.model_id == HAIKU_ID
    assert request.max_tokens == MAX_TOKENS[Task.PRODUCT_SEARCH]
    assert answer.text == GOOD
    assert answer.target is Target.HAIKU
    assert answer.escalated is False and answer.retried is False
    (tier,) = answer.tiers
    assert (tier.target, tier.model_id, tier.input_tokens, tier.output_tokens) == (Target.HAIKU, HAIKU_ID, 500, 350)
    assert tier.cost_usd == Decimal("0.0005625")
    assert tier.outcome is Outcome.OK
    assert answer.confidence >= 0.8


@pytest.mark.parametrize(
    ("target", "expected_id"),
    [(Target.SONNET, SONNET_ID), (Target.SONNET_PROVISIONED, PROVISIONED_ARN), (Target.SAGEMAKER, SAGEMAKER_ENDPOINT)],
)
def test_attempt_on_other_targets(clients: FakeClients, target: Target, expected_id: str) -> None:
    clients.add(target, GOOD)
    config = make_config(sonnet_provisioned_arn=PROVISIONED_ARN, sagemaker_endpoint=SAGEMAKER_ENDPOINT)
    answer = attempt(make_state(config=config, route=make_route(target, fallback=Target.HAIKU)), clients)
    assert clients.requests[0][1].model_id == expected_id
    assert answer.tiers[0].model_id == expected_id


def test_model_ids_per_target() -> None:
    config = make_config()
    assert model_id(Target.HAIKU, config) == HAIKU_ID
    assert model_id(Target.SONNET, config) == SONNET_ID
    assert model_id(Target.SONNET_PROVISIONED, config) == SONNET_ID  # no ARN: on-demand Sonnet
    assert model_id(Target.SONNET_PROVISIONED, make_config(sonnet_provisioned_arn=PROVISIONED_ARN)) == PROVISIONED_ARN


def test_attempt_sends_at_most_the_last_3_turns_of_history_plus_the_message(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, GOOD)
    state = make_state("And volume 106?", history=make_history(5), route=make_route())
    attempt(state, clients)
    messages = clients.requests[0][1].messages
    assert len(messages) == 7
    assert messages[:6] == [
        {"role": "user", "text": "question 3"}, {"role": "assistant", "text": "answer 3"},
        {"role": "user", "text": "question 4"}, {"role": "assistant", "text": "answer 4"},
        {"role": "user", "text": "question 5"}, {"role": "assistant", "text": "answer 5"},
    ]
    assert messages[-1] == {"role": "user", "text": "And volume 106?"}


@pytest.mark.parametrize("turns", [0, 1, 3])
def test_short_history_is_sent_whole(clients: FakeClients, turns: int) -> None:
    clients.add(Target.HAIKU, GOOD)
    attempt(make_state(history=make_history(turns), route=make_route()), clients)
    messages = clients.requests[0][1].messages
    assert len(messages) == 2 * turns + 1
    assert messages[-1]["role"] == "user"


def test_system_prompt_carries_context_and_reply_language(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, "ワンピース第105巻は528円です。")
    attempt(make_state("ワンピースの105巻は？", language=Language.JA, route=make_route()), clients)
    system = clients.requests[0][1].system
    assert "<context>" in system and "one-piece#105" in system
    assert "Reply in Japanese." in system


def test_mixed_language_replies_in_the_locale(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, GOOD)
    attempt(make_state(language=Language.MIXED, locale="en", route=make_route()), clients)
    assert "Reply in English." in clients.requests[0][1].system


def test_low_confidence_answer_is_marked_low_confidence(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, HEDGED)
    answer = attempt(make_state(route=make_route()), clients)
    assert answer.confidence < 0.8
    assert answer.tiers[0].outcome is Outcome.LOW_CONFIDENCE


def test_attempt_needs_understanding_and_route(clients: FakeClients) -> None:
    with pytest.raises(ValueError, match="understanding"):
        attempt(make_state(route=make_route(), understood=False), clients)


def test_model_errors_propagate_for_the_state_machine(clients: FakeClients) -> None:
    clients.replies[Target.HAIKU].append(ModelThrottledError("ThrottlingException"))
    with pytest.raises(ModelThrottledError):
        attempt(make_state(route=make_route()), clients)


# --- escalate ----------------------------------------------------------------------------------------------------


def test_escalate_after_low_confidence_keeps_the_first_tier_and_adds_sonnet(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, HEDGED)
    clients.add(Target.SONNET, GOOD)
    state = make_state(route=make_route(Target.HAIKU, fallback=Target.SONNET, escalate_to=Target.SONNET))
    first = attempt(state, clients)
    escalated = escalate(state.model_copy(update={"answer": first}), clients)

    assert [t for t, _ in clients.requests] == [Target.HAIKU, Target.SONNET]
    assert clients.requests[1][1].model_id == SONNET_ID
    assert escalated.escalated is True
    assert escalated.text == GOOD
    assert escalated.target is Target.SONNET
    assert [t.target for t in escalated.tiers] == [Target.HAIKU, Target.SONNET]
    assert escalated.tiers[0] == first.tiers[0]
    assert escalated.tiers[0].outcome is Outcome.LOW_CONFIDENCE
    assert escalated.tiers[1].cost_usd == Decimal("0.00675")


def test_escalation_sends_the_same_context_and_history(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, HEDGED)
    clients.add(Target.SONNET, GOOD)
    state = make_state(history=make_history(2), route=make_route())
    first = attempt(state, clients)
    escalate(state.model_copy(update={"answer": first}), clients)
    (_, a), (_, b) = clients.requests
    assert a.system == b.system
    assert a.messages == b.messages


def test_escalate_without_escalation_target_uses_the_fallback(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, GOOD)
    state = make_state(route=make_route(Target.SONNET, fallback=Target.HAIKU, escalate_to=None),
                       answer=make_answer(HEDGED, target=Target.SONNET,
                                          tiers=[make_tier(Target.SONNET, cost_usd="0.00675", model_id=SONNET_ID)]))
    answer = escalate(state, clients)
    assert [t.target for t in answer.tiers] == [Target.SONNET, Target.HAIKU]


def test_escalate_after_a_throttled_attempt_records_it_then_uses_the_fallback(clients: FakeClients) -> None:
    clients.add(Target.SONNET, GOOD)
    state = make_state(route=make_route(Target.HAIKU, fallback=Target.SONNET, escalate_to=Target.SONNET),
                       attempt_failure="ModelThrottledError")
    answer = escalate(state, clients)

    assert [t for t, _ in clients.requests] == [Target.SONNET]
    assert answer.escalated is True
    assert [(t.target, t.outcome) for t in answer.tiers] == [(Target.HAIKU, Outcome.THROTTLED),
                                                            (Target.SONNET, Outcome.OK)]
    assert answer.tiers[0].cost_usd == 0
    assert answer.tiers[0].model_id == HAIKU_ID


@pytest.mark.parametrize(("error", "outcome"), [("ModelTimeoutError", Outcome.TIMEOUT),
                                                ("States.Timeout", Outcome.TIMEOUT),
                                                ("ModelUnavailableError", Outcome.ERROR),
                                                ("States.TaskFailed", Outcome.ERROR)])
def test_failed_attempt_outcomes(clients: FakeClients, error: str, outcome: Outcome) -> None:
    clients.add(Target.HAIKU, GOOD)
    state = make_state(route=make_route(Target.SAGEMAKER, fallback=Target.HAIKU), attempt_failure=error,
                       config=make_config(sagemaker_endpoint=SAGEMAKER_ENDPOINT))
    answer = escalate(state, clients)
    assert [(t.target, t.outcome) for t in answer.tiers] == [(Target.SAGEMAKER, outcome), (Target.HAIKU, Outcome.OK)]


@pytest.mark.parametrize(("language", "locale", "reply"), [(Language.JA, None, "ja"), (Language.EN, None, "en"),
                                                           (Language.MIXED, "en", "en"), (Language.MIXED, "ja", "ja")])
def test_canned_target_returns_canned_text_at_zero_cost(clients: FakeClients, language: Language,
                                                        locale: str | None, reply: str) -> None:
    # The budget guard's fallback is CANNED: a throttled Haiku then gets the polite canned answer, no model call.
    state = make_state(language=language, locale=locale,
                       route=make_route(Target.HAIKU, fallback=Target.CANNED, escalate_to=None, reason="budget_guard"),
                       attempt_failure="ModelThrottledError")
    answer = escalate(state, clients)
    assert clients.requests == []
    assert answer.text == CANNED[reply]
    assert answer.target is Target.CANNED
    assert [(t.target, t.outcome) for t in answer.tiers] == [(Target.HAIKU, Outcome.THROTTLED),
                                                            (Target.CANNED, Outcome.OK)]
    assert sum(t.cost_usd for t in answer.tiers) == 0


def test_escalate_needs_a_route(clients: FakeClients) -> None:
    with pytest.raises(ValueError, match="route"):
        escalate(make_state(), clients)


# --- retry on the other tier -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [(Target.HAIKU, Target.SONNET), (Target.SONNET, Target.HAIKU),
                                               (Target.SAGEMAKER, Target.SONNET),
                                               (Target.SONNET_PROVISIONED, Target.HAIKU)])
def test_other_tier(first: Target, second: Target) -> None:
    assert other_tier(first) is second


@pytest.mark.parametrize(("first", "second", "second_id"), [(Target.HAIKU, Target.SONNET, SONNET_ID),
                                                            (Target.SONNET, Target.HAIKU, HAIKU_ID)])
def test_retry_switches_tier_and_sets_retried(clients: FakeClients, first: Target, second: Target,
                                              second_id: str) -> None:
    clients.add(second, GOOD)
    previous = make_answer("One Piece volume 105 costs ¥600.", target=first, tiers=[make_tier(first)])
    state = make_state(route=make_route(first), answer=previous)
    answer = retry_other_tier(state, clients)

    assert clients.requests[0][0] is second
    assert clients.requests[0][1].model_id == second_id
    assert answer.retried is True
    assert answer.target is second
    assert answer.text == GOOD
    assert [t.target for t in answer.tiers] == [first, second]


def test_retry_keeps_the_escalated_flag(clients: FakeClients) -> None:
    clients.add(Target.HAIKU, GOOD)
    previous = make_answer("bad", target=Target.SONNET, escalated=True,
                           tiers=[make_tier(Target.HAIKU), make_tier(Target.SONNET, cost_usd="0.00675")])
    answer = retry_other_tier(make_state(route=make_route(), answer=previous), clients)
    assert answer.escalated is True and answer.retried is True
    assert [t.target for t in answer.tiers] == [Target.HAIKU, Target.SONNET, Target.HAIKU]


def test_retry_needs_a_previous_answer(clients: FakeClients) -> None:
    with pytest.raises(ValueError, match="previous answer"):
        retry_other_tier(make_state(route=make_route()), clients)


def test_sources_used_for_confidence_are_the_retrieved_ones(clients: FakeClients) -> None:
    # The same reply is grounded with the right product and ungrounded with another one.
    clients.add(Target.HAIKU, GOOD)
    clients.add(Target.HAIKU, GOOD)
    grounded = attempt(make_state(route=make_route()), clients)
    other = attempt(make_state(route=make_route(), sources=[product_source("naruto", 1, price_jpy=484, stock=3,
                                                                           title_en="Naruto")]), clients)
    assert other.confidence < grounded.confidence
