"""Route: the hybrid deployment router (SPEC §1).

Rules, first match wins:
1. budget guard: spent today >= 95% of the daily budget -> Haiku only, no escalation;
2. manga-specific query and a SageMaker endpoint configured -> SageMaker, Haiku as fallback;
3. peak hours 18:00-24:00 JST and a provisioned Sonnet ARN configured -> provisioned Sonnet;
4. complex task (complexity >= 0.8) -> on-demand Sonnet;
5. everything else -> Haiku, escalating to Sonnet on low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

from aws_lambda_powertools import Logger

from mangaassist.telemetry import record_budget_unreadable
from mangaassist.turn import Classification, RouteDecision, Target, TurnConfig

logger = Logger(service="mangaassist")

JST = timezone(timedelta(hours=9))
BUDGET_GUARD = Decimal("0.95")
COMPLEX = 0.8
PEAK_START_HOUR = 18  # until midnight JST


class Availability(Protocol):
    """What the router needs of the health board: the first available target of a chain."""

    def choose(self, preferred: Sequence[str], now: float | None = None) -> tuple[str | None, list[str]]: ...


class SpendLedger(Protocol):
    def spent_today(self, day: str) -> Decimal: ...
    def add(self, day: str, amount: Decimal) -> None: ...


def jst_day(now: datetime) -> str:
    return now.astimezone(JST).strftime("%Y-%m-%d")


def is_peak(now: datetime) -> bool:
    return now.astimezone(JST).hour >= PEAK_START_HOUR


def spent_today_or_none(ledger: SpendLedger, day: str) -> Decimal | None:
    """Today's spend, or None when the budget table cannot be read (decide() then plays safe)."""
    try:
        return ledger.spent_today(day)
    except Exception:
        logger.warning("the daily budget could not be read: Haiku only, no escalation", exc_info=True)
        record_budget_unreadable()
        return None


def decide(
    classification: Classification,
    config: TurnConfig,
    spent_usd: Decimal | None,
    now: datetime,
) -> RouteDecision:
    threshold = config.confidence_threshold
    sonnet = Target.SONNET_PROVISIONED if config.sonnet_provisioned_arn and is_peak(now) else Target.SONNET

    def decision(target: Target, reason: str, fallback: Target, escalate_to: Target | None) -> RouteDecision:
        return RouteDecision(target=target, reason=reason, fallback=fallback, escalate_to=escalate_to,
                             confidence_threshold=threshold)

    if spent_usd is None:  # the budget is unknown: the cheapest tier, nothing that could overspend
        return decision(Target.HAIKU, "budget_unknown", Target.CANNED, None)
    if spent_usd >= config.daily_budget_usd * BUDGET_GUARD:
        return decision(Target.HAIKU, "budget_guard", Target.CANNED, None)
    if classification.manga_specific and config.sagemaker_endpoint:
        return decision(Target.SAGEMAKER, "manga_specific", Target.HAIKU, sonnet)
    if sonnet is Target.SONNET_PROVISIONED:
        return decision(sonnet, "peak_provisioned", Target.SONNET, None)
    if classification.complexity >= COMPLEX:
        return decision(Target.SONNET, "complex_task", Target.HAIKU, None)
    return decision(Target.HAIKU, "default_haiku_first", sonnet, sonnet)


def avoid_open_circuits(decision: RouteDecision, health: Availability, chain: dict[str, list[str]],
                        now: float | None = None) -> RouteDecision:
    """Move a decision down its fallback chain past targets whose circuit is open.

    Under the budget guard only Haiku may answer, so the chain is Haiku alone. When
    nothing in the chain is available the turn gets the canned answer.
    """
    if decision.target is Target.CANNED:
        return decision
    preferred = ["haiku"] if decision.reason == "budget_guard" else chain[decision.target.value]
    target, skipped = health.choose(preferred, now)
    if not skipped:
        return decision
    reason = f"{decision.reason}+circuit_open:{','.join(skipped)}"
    if target is None:
        return decision.model_copy(update={"target": Target.CANNED, "reason": reason, "fallback": Target.CANNED,
                                           "escalate_to": None})
    rest = preferred[preferred.index(target) + 1:]
    fallback, _ = health.choose(rest, now) if rest else (None, [])
    escalate_to = decision.escalate_to
    if escalate_to is not None and (escalate_to.value == target or escalate_to.value in skipped):
        escalate_to = None  # never escalate into an open circuit, nor onto the same tier
    return decision.model_copy(update={"target": Target(target), "reason": reason,
                                       "fallback": Target(fallback) if fallback else Target.CANNED,
                                       "escalate_to": escalate_to})


