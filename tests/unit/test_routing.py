"""routing.py: the hybrid router's rules in order, JST peak hours, the budget guard, the spend ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangaassist.adapters.dynamodb import DynamoSpendLedger
from mangaassist.answer import routing
from mangaassist.answer.routing import COMPLEX, JST, decide, is_peak, jst_day
from mangaassist.turn import Target, Task

from .conftest import PROVISIONED_ARN, SAGEMAKER_ENDPOINT, make_classification, make_config

BUDGET = Decimal("700")


def utc(hour: int, minute: int = 0, second: int = 0, day: int = 15) -> datetime:
    return datetime(2025, 10, day, hour, minute, second, tzinfo=UTC)


# JST = UTC+9: 09:00 UTC is 18:00 JST.
OFF_PEAK = utc(3)  # 12:00 JST
PEAK = utc(10)  # 19:00 JST


def simple(**overrides: Any):
    values: dict[str, Any] = {"task": Task.FAQ, "complexity": 0.2, "manga_specific": False}
    values.update(overrides)
    return make_classification(**values)


# --- peak hours --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "peak"),
    [
        (utc(8, 59, 59), False),  # 17:59:59 JST
        (utc(9, 0, 0), True),  # 18:00:00 JST
        (utc(12, 0, 0), True),  # 21:00 JST
        (utc(14, 59, 0), True),  # 23:59 JST
        (utc(14, 59, 59), True),  # 23:59:59 JST
        (utc(15, 0, 0), False),  # 00:00 JST the next day
        (utc(0, 0, 0), False),  # 09:00 JST
    ],
)
def test_peak_hours_are_18_to_24_jst(now: datetime, peak: bool) -> None:
    assert is_peak(now) is peak


def test_peak_is_judged_in_jst_whatever_the_timezone_of_now() -> None:
    new_york = timezone(timedelta(hours=-4))
    assert is_peak(datetime(2025, 10, 15, 1, 30, tzinfo=new_york)) is False  # 14:30 JST
    assert is_peak(datetime(2025, 10, 15, 5, 30, tzinfo=new_york)) is True  # 18:30 JST
    assert is_peak(datetime(2025, 10, 15, 18, 30, tzinfo=JST)) is True
    assert is_peak(datetime(2025, 10, 15, 17, 30, tzinfo=JST)) is False


def test_jst_day_rolls_over_at_jst_midnight() -> None:
    assert jst_day(utc(14, 59, 59)) == "2025-10-15"
    assert jst_day(utc(15, 0, 0)) == "2025-10-16"


# --- rule 1: budget guard ----------------------------------------------------------------------------------------


def test_budget_guard_not_triggered_at_94_9_percent() -> None:
    spent = BUDGET * Decimal("0.949")
    decision = decide(simple(), make_config(daily_budget_usd=BUDGET), spent, OFF_PEAK)
    assert decision.reason != "budget_guard"
    assert decision.escalate_to is Target.SONNET


def test_budget_guard_triggered_at_exactly_95_percent() -> None:
    spent = BUDGET * Decimal("0.95")
    decision = decide(simple(), make_config(daily_budget_usd=BUDGET), spent, OFF_PEAK)
    assert decision.reason == "budget_guard"
    assert decision.target is Target.HAIKU
    assert decision.escalate_to is None
    assert decision.fallback is Target.CANNED


def test_budget_guard_just_below_95_percent() -> None:
    spent = BUDGET * Decimal("0.95") - Decimal("0.000001")
    assert decide(simple(), make_config(daily_budget_usd=BUDGET), spent, OFF_PEAK).reason != "budget_guard"


def test_budget_guard_wins_over_every_other_rule() -> None:
    config = make_config(daily_budget_usd=BUDGET, sagemaker_endpoint=SAGEMAKER_ENDPOINT,
                         sonnet_provisioned_arn=PROVISIONED_ARN)
    complex_manga = simple(task=Task.DISCUSSION, complexity=0.95, manga_specific=True)
    decision = decide(complex_manga, config, BUDGET, PEAK)
    assert (decision.target, decision.reason) == (Target.HAIKU, "budget_guard")
    assert decision.escalate_to is None


# --- rule 2: manga-specific ----------------------------------------------------------------------------------------


def test_manga_specific_with_sagemaker_goes_to_sagemaker_with_haiku_fallback() -> None:
    decision = decide(simple(task=Task.DISCUSSION, manga_specific=True),
                      make_config(sagemaker_endpoint=SAGEMAKER_ENDPOINT), Decimal("0"), OFF_PEAK)
    assert (decision.target, decision.reason, decision.fallback) == (Target.SAGEMAKER, "manga_specific", Target.HAIKU)
    assert decision.escalate_to is Target.SONNET


def test_manga_specific_at_peak_escalates_to_provisioned_sonnet() -> None:
    config = make_config(sagemaker_endpoint=SAGEMAKER_ENDPOINT, sonnet_provisioned_arn=PROVISIONED_ARN)
    decision = decide(simple(manga_specific=True), config, Decimal("0"), PEAK)
    assert decision.target is Target.SAGEMAKER
    assert decision.escalate_to is Target.SONNET_PROVISIONED


def test_manga_specific_without_sagemaker_is_not_routed_to_sagemaker() -> None:
    decision = decide(simple(task=Task.RECOMMENDATION, complexity=0.5, manga_specific=True), make_config(),
                      Decimal("0"), OFF_PEAK)
    assert decision.target is Target.HAIKU
    assert decision.reason == "default_haiku_first"


def test_sagemaker_endpoint_alone_does_not_take_other_queries() -> None:
    decision = decide(simple(manga_specific=False), make_config(sagemaker_endpoint=SAGEMAKER_ENDPOINT), Decimal("0"),
                      OFF_PEAK)
    assert decision.target is Target.HAIKU


# --- rule 3: peak provisioned ------------------------------------------------------------------------------------


def test_peak_with_provisioned_arn_goes_to_provisioned_sonnet() -> None:
    decision = decide(simple(), make_config(sonnet_provisioned_arn=PROVISIONED_ARN), Decimal("0"), PEAK)
    assert (decision.target, decision.reason) == (Target.SONNET_PROVISIONED, "peak_provisioned")
    assert decision.fallback is Target.SONNET
    assert decision.escalate_to is None


@pytest.mark.parametrize("now", [utc(9, 0, 0), utc(14, 59, 0)])  # 18:00 and 23:59 JST
def test_provisioned_at_the_peak_edges(now: datetime) -> None:
    decision = decide(simple(), make_config(sonnet_provisioned_arn=PROVISIONED_ARN), Decimal("0"), now)
    assert decision.target is Target.SONNET_PROVISIONED


@pytest.mark.parametrize("now", [utc(8, 59, 59), utc(15, 0, 0)])  # 17:59:59 and 00:00 JST
def test_no_provisioned_outside_peak(now: datetime) -> None:
    decision = decide(simple(), make_config(sonnet_provisioned_arn=PROVISIONED_ARN), Decimal("0"), now)
    assert decision.target is Target.HAIKU
    assert decision.escalate_to is Target.SONNET


def test_no_provisioned_at_peak_without_an_arn() -> None:
    for complexity, target in ((0.2, Target.HAIKU), (0.9, Target.SONNET)):
        decision = decide(simple(complexity=complexity), make_config(), Decimal("0"), PEAK)
        assert decision.target is target
        assert Target.SONNET_PROVISIONED not in (decision.target, decision.fallback, decision.escalate_to)


# --- rule 4: complex tasks ---------------------------------------------------------------------------------------


def test_complex_threshold_matches_the_docstring() -> None:
    assert f"complexity >= {COMPLEX})" in routing.__doc__


@pytest.mark.parametrize("complexity", [COMPLEX, (COMPLEX + 1) / 2, 1.0])
def test_complex_task_goes_to_sonnet(complexity: float) -> None:
    decision = decide(simple(task=Task.COMPARISON, complexity=complexity), make_config(), Decimal("0"), OFF_PEAK)
    assert (decision.target, decision.reason, decision.fallback) == (Target.SONNET, "complex_task", Target.HAIKU)
    assert decision.escalate_to is None


def test_just_below_complex_goes_to_haiku() -> None:
    decision = decide(simple(complexity=COMPLEX - 0.001), make_config(), Decimal("0"), OFF_PEAK)
    assert decision.target is Target.HAIKU


# --- rule 5: default -----------------------------------------------------------------------------------------------


def test_default_is_haiku_first_escalating_to_sonnet() -> None:
    decision = decide(simple(), make_config(confidence_threshold=0.7), Decimal("0"), OFF_PEAK)
    assert (decision.target, decision.reason) == (Target.HAIKU, "default_haiku_first")
    assert decision.fallback is Target.SONNET
    assert decision.escalate_to is Target.SONNET
    assert decision.confidence_threshold == 0.7


# --- every decision ----------------------------------------------------------------------------------------------


@given(
    task=st.sampled_from(list(Task)),
    complexity=st.floats(0, 1),
    manga=st.booleans(),
    sagemaker=st.booleans(),
    provisioned=st.booleans(),
    spent=st.decimals(min_value=0, max_value=2000, places=4),
    minutes=st.integers(0, 7 * 24 * 60),
)
def test_every_decision_has_a_reason_and_a_different_fallback(
    task: Task, complexity: float, manga: bool, sagemaker: bool, provisioned: bool, spent: Decimal, minutes: int
) -> None:
    config = make_config(sagemaker_endpoint=SAGEMAKER_ENDPOINT if sagemaker else "",
                         sonnet_provisioned_arn=PROVISIONED_ARN if provisioned else "")
    now = utc(0) + timedelta(minutes=minutes)
    decision = decide(simple(task=task, complexity=complexity, manga_specific=manga), config, spent, now)
    assert decision.reason in {"budget_guard", "manga_specific", "peak_provisioned", "complex_task",
                               "default_haiku_first"}
    assert decision.fallback is not decision.target
    assert decision.confidence_threshold == config.confidence_threshold
    if decision.target is Target.SONNET_PROVISIONED or decision.escalate_to is Target.SONNET_PROVISIONED:
        assert provisioned and is_peak(now)
    if decision.target is Target.SAGEMAKER:
        assert sagemaker and manga


# --- the spend ledger --------------------------------------------------------------------------------------------


class _FakeBudgetTable:
    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items
        self.updates: list[dict[str, Any]] = []

    def get_item(self, Key: dict[str, str], ConsistentRead: bool = False) -> dict[str, Any]:
        item = self.items.get(Key["day"])
        return {"Item": item} if item else {}

    def update_item(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)


def test_spend_ledger_reads_the_day_and_defaults_to_zero() -> None:
    ledger = DynamoSpendLedger(_FakeBudgetTable({"2025-10-15": {"day": "2025-10-15", "spentUsd": Decimal("12.5")}}))
    assert ledger.spent_today("2025-10-15") == Decimal("12.5")
    assert ledger.spent_today("2025-10-16") == Decimal("0")


def test_spend_ledger_adds_atomically_and_skips_zero() -> None:
    table = _FakeBudgetTable({})
    ledger = DynamoSpendLedger(table)
    ledger.add("2025-10-15", Decimal("0"))
    assert table.updates == []
    ledger.add("2025-10-15", Decimal("0.0005625"))
    (update,) = table.updates
    assert update["Key"] == {"day": "2025-10-15"}
    assert update["UpdateExpression"].startswith("ADD spentUsd :amount")
    assert update["ExpressionAttributeValues"][":amount"] == Decimal("0.0005625")


class _UnreadableLedger:
    def spent_today(self, day: str) -> Decimal:
        raise ConnectionError("budget table unreachable")

    def add(self, day: str, amount: Decimal) -> None:  # pragma: no cover - not used
        raise AssertionError


def test_an_unreadable_budget_routes_to_haiku_without_escalation(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    monkeypatch.setattr(routing, "record_budget_unreadable", lambda: counted.append("x"))
    spent = routing.spent_today_or_none(_UnreadableLedger(), "2025-11-23")
    assert spent is None and counted == ["x"]
    complex_question = make_classification(complexity=0.95)
    decision = routing.decide(complex_question, make_config(), spent, datetime(2025, 11, 23, 3, tzinfo=UTC))
    assert decision.target is Target.HAIKU and decision.reason == "budget_unknown"
    assert decision.escalate_to is None and decision.fallback is Target.CANNED
