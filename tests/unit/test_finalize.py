"""finalize.py: the reply frame and its meta on every path, including the Catch paths."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mangaassist.reply.fallback import CANNED
from mangaassist.reply.finalize import finalize, total_cost
from mangaassist.turn import Language, Target, Validation

from .conftest import (
    RECEIVED_AT_MS,
    SONNET_ID,
    make_answer,
    make_route,
    make_state,
    make_tier,
)

ACCEPT = Validation(decision="accept")
HAIKU_TIER = make_tier(Target.HAIKU, 500, 350, "0.0005625")
SONNET_TIER = make_tier(Target.SONNET, 500, 350, "0.00675", model_id=SONNET_ID)
GOOD = "One Piece volume 105 costs ¥528 and we have 7 copies left."


def tiers_of(frame: dict) -> list[tuple[str, str]]:
    return [(t["target"], t["outcome"]) for t in frame["meta"]["tiers"]]


# --- accepted answers --------------------------------------------------------------------------------------------


def test_accepted_answer_is_replied_with_its_meta() -> None:
    answer = make_answer(GOOD, confidence=0.93, tiers=[HAIKU_TIER])
    state = make_state(route=make_route(), answer=answer, validation=ACCEPT)
    frame = finalize(state, finished_ms=RECEIVED_AT_MS + 1500)

    assert frame["type"] == "answer"
    assert frame["turnId"] == state.request.turn_id
    assert frame["text"] == GOOD
    meta = frame["meta"]
    assert meta["turnId"] == state.request.turn_id
    assert meta["task"] == "product_search"
    assert meta["language"] == "en"
    assert meta["route"] == {"target": "haiku", "reason": "default_haiku_first", "fallback": "sonnet",
                             "config_version": 0, "confidence_threshold": 0.8, "max_tokens": None}
    assert tiers_of(frame) == [("haiku", "ok")]
    assert meta["escalated"] is False
    assert meta["confidence"] == 0.93
    assert meta["validation"] == {"decision": "accept", "failures": []}
    assert meta["cache"] == "miss"
    assert meta["cost_usd"] == "0.0005625"
    assert meta["sources"] == ["one-piece#105"]


def test_cost_is_the_exact_decimal_sum_of_the_tiers_as_a_string() -> None:
    answer = make_answer(GOOD, target=Target.SONNET, escalated=True, tiers=[HAIKU_TIER, SONNET_TIER])
    frame = finalize(make_state(route=make_route(), answer=answer, validation=ACCEPT), finished_ms=RECEIVED_AT_MS)
    assert frame["meta"]["cost_usd"] == "0.0073125"
    assert Decimal(frame["meta"]["cost_usd"]) == Decimal("0.0005625") + Decimal("0.00675")
    assert frame["meta"]["escalated"] is True
    assert tiers_of(frame) == [("haiku", "ok"), ("sonnet", "ok")]


def test_cost_of_many_small_tiers_has_no_float_error() -> None:
    tiers = [make_tier(Target.HAIKU, 1, 0, "0.00000025") for _ in range(3)]
    frame = finalize(make_state(route=make_route(), answer=make_answer(GOOD, tiers=tiers), validation=ACCEPT))
    assert Decimal(frame["meta"]["cost_usd"]) == Decimal("0.00000075")


def test_total_cost() -> None:
    assert total_cost([]) == "0"
    assert Decimal(total_cost([HAIKU_TIER, SONNET_TIER, HAIKU_TIER])) == Decimal("0.007875")


def test_tiny_costs_are_plain_decimals_not_scientific_notation() -> None:
    tiny = HAIKU_TIER.model_copy(update={"cost_usd": Decimal("7.5E-7")})
    assert total_cost([tiny]) == "0.00000075"
    assert tiny.model_dump(mode="json")["cost_usd"] == "0.00000075"


def test_latency_total_is_measured_from_received_at() -> None:
    answer = make_answer(GOOD, tiers=[HAIKU_TIER]).model_copy(update={"elapsed_ms": 812.34})
    state = make_state(route=make_route(), answer=answer, validation=ACCEPT, received_at_ms=1_000_000)
    latency = finalize(state, finished_ms=1_002_345)["meta"]["latency_ms"]
    assert latency["total"] == 2345
    assert latency["answer"] == 812.3


def test_latency_total_is_never_negative() -> None:
    state = make_state(route=make_route(), received_at_ms=1_000_000)
    assert finalize(state, finished_ms=999_000)["meta"]["latency_ms"]["total"] == 0


# --- fallbacks ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "locale", "reply"), [(Language.JA, None, "ja"), (Language.EN, None, "en"),
                                                           (Language.EN, "ja", "en"), (Language.MIXED, "en", "en"),
                                                           (Language.MIXED, "ja", "ja")])
def test_validation_fallback_replies_canned_text_in_the_users_language(language: Language, locale: str | None,
                                                                        reply: str) -> None:
    answer = make_answer("One Piece volume 105 costs ¥600.", retried=True, tiers=[HAIKU_TIER, SONNET_TIER])
    state = make_state(language=language, locale=locale, route=make_route(), answer=answer,
                       validation=Validation(decision="fallback", failures=["ungrounded:price:600"]))
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert frame["text"] == CANNED[reply]
    assert frame["meta"]["validation"] == {"decision": "fallback", "failures": ["ungrounded:price:600"]}
    assert tiers_of(frame) == [("haiku", "ok"), ("sonnet", "ok"), ("canned", "ok")]
    assert frame["meta"]["cost_usd"] == "0.0073125"  # the model calls were paid for even if not used


@pytest.mark.parametrize(("message", "locale", "reply"), [
    ("ワンピースの105巻はありますか？", None, "ja"), ("ワンピースの105巻はありますか？", "en", "ja"),
    ("Do you have One Piece volume 105?", "ja", "en"), ("Do you have One Piece volume 105?", None, "en")])
def test_failure_before_understanding_replies_in_the_messages_language(message: str, locale: str | None,
                                                                        reply: str) -> None:
    state = make_state(message, locale=locale, understood=False, failure="States.TaskFailed")
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert frame["text"] == CANNED[reply]
    assert frame["meta"]["task"] == "unknown"
    assert frame["meta"]["language"] == reply
    assert frame["meta"]["route"] is None
    assert frame["meta"]["validation"] == {"decision": "fallback", "failures": ["error:States.TaskFailed"]}
    assert tiers_of(frame) == [("canned", "ok")]
    assert frame["meta"]["cost_usd"] == "0"
    assert frame["meta"]["sources"] == []


def test_unvalidated_answer_is_not_sent() -> None:
    # Validate's Catch goes to Finalize with the answer but without a validation.
    state = make_state(route=make_route(), answer=make_answer(GOOD, tiers=[HAIKU_TIER]), failure="States.TaskFailed")
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert frame["text"] == CANNED["en"]
    assert frame["meta"]["validation"]["decision"] == "fallback"


def test_retry_decision_without_a_retry_answer_falls_back() -> None:
    state = make_state(route=make_route(), answer=make_answer(GOOD, tiers=[HAIKU_TIER]),
                       validation=Validation(decision="retry", failures=["language:en"]))
    assert finalize(state, finished_ms=RECEIVED_AT_MS)["text"] == CANNED["en"]


# --- failures caught by the state machine ------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "outcome"), [("ModelThrottledError", "throttled"), ("ModelTimeoutError", "timeout"),
                                                ("States.Timeout", "timeout"), ("ModelUnavailableError", "error"),
                                                ("ModelRequestError", "error"), ("States.TaskFailed", "error")])
def test_attempt_and_escalation_failures_appear_as_tiers(error: str, outcome: str) -> None:
    state = make_state(route=make_route(Target.HAIKU, fallback=Target.SONNET, escalate_to=Target.SONNET),
                       attempt_failure="ModelThrottledError", escalation_failure=error)
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    # the attempt failed on the routed target, the escalation on its fallback, then the canned reply
    assert tiers_of(frame) == [("haiku", "throttled"), ("sonnet", outcome), ("canned", "ok")]
    assert frame["text"] == CANNED["en"]
    assert frame["meta"]["cost_usd"] == "0"


def test_escalation_failure_after_a_low_confidence_answer_is_a_tier_on_the_escalation_target() -> None:
    low = make_tier(Target.HAIKU, 500, 350, "0.0005625", outcome="low_confidence")
    answer = make_answer(GOOD, confidence=0.7, tiers=[low])
    state = make_state(route=make_route(Target.HAIKU, fallback=Target.SONNET, escalate_to=Target.SONNET),
                       answer=answer, escalation_failure="ModelThrottledError", validation=ACCEPT)
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert frame["text"] == GOOD  # the validated first answer still goes out
    assert tiers_of(frame) == [("haiku", "low_confidence"), ("sonnet", "throttled")]
    assert frame["meta"]["cost_usd"] == "0.0005625"


def test_attempt_failure_then_successful_escalation_is_not_counted_twice() -> None:
    # escalate() already put the failed attempt into the answer's tiers.
    failed = make_tier(Target.HAIKU, 0, 0, "0", outcome="throttled")
    answer = make_answer(GOOD, target=Target.SONNET, escalated=True, tiers=[failed, SONNET_TIER])
    state = make_state(route=make_route(), answer=answer, attempt_failure="ModelThrottledError", validation=ACCEPT)
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert tiers_of(frame) == [("haiku", "throttled"), ("sonnet", "ok")]
    assert frame["text"] == GOOD


def test_retry_failure_is_a_tier_on_the_other_tier() -> None:
    answer = make_answer("One Piece volume 105 costs ¥600.", tiers=[HAIKU_TIER])
    state = make_state(route=make_route(), answer=answer,
                       validation=Validation(decision="retry", failures=["ungrounded:price:600"]),
                       retry_failure="ModelTimeoutError")
    frame = finalize(state, finished_ms=RECEIVED_AT_MS)
    assert tiers_of(frame) == [("haiku", "ok"), ("sonnet", "timeout"), ("canned", "ok")]
    assert frame["meta"]["validation"]["failures"] == ["ungrounded:price:600", "error:ModelTimeoutError"]
    assert frame["text"] == CANNED["en"]


def test_canned_answer_is_not_added_twice() -> None:
    canned = make_answer(CANNED["en"], target=Target.CANNED, tiers=[make_tier(Target.CANNED, 0, 0, "0")])
    state = make_state(route=make_route(fallback=Target.CANNED), answer=canned,
                       validation=Validation(decision="fallback", failures=["x"]))
    assert [t for t, _ in tiers_of(finalize(state, finished_ms=RECEIVED_AT_MS))].count("canned") == 1


def test_cold_starts_are_summed_apart_from_the_stages() -> None:
    state = make_state()
    assert state.understanding is not None
    state.understanding.classification.cold_start_ms = 640.0
    state.understanding.retrieval.cold_start_ms = 700.5
    frame = finalize(state, finished_ms=RECEIVED_AT_MS, cold_start_ms=100.0)
    assert frame["meta"]["latency_ms"]["cold_start"] == 1440.5
    warm = finalize(make_state(), finished_ms=RECEIVED_AT_MS)
    assert "cold_start" not in warm["meta"]["latency_ms"]
