"""CloudWatch metrics for a finished turn (Powertools Metrics, EMF, namespace MangaAssist)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

metrics = Metrics(namespace="MangaAssist", service="mangaassist")


def record_turn(meta: dict[str, Any]) -> None:
    if is_metrics_disabled():
        # Powertools skips the flush when disabled but still buffers (and prints at 100 values): don't buffer.
        return
    route = meta.get("route") or {}
    metrics.add_metric(name="Turns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TurnCostUsd", unit=MetricUnit.NoUnit, value=float(meta["cost_usd"]))
    metrics.add_metric(name="TurnLatency", unit=MetricUnit.Milliseconds, value=meta["latency_ms"]["total"])
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=int(meta["escalated"]))
    metrics.add_metric(name="ValidationFailures", unit=MetricUnit.Count,
                       value=int(meta["validation"]["decision"] != "accept"))
    for tier in meta["tiers"]:
        if tier["latency_ms"]:
            metrics.add_metric(name="InferenceLatency", unit=MetricUnit.Milliseconds, value=tier["latency_ms"])
    if meta.get("cache_distance") is not None:  # the semantic cache's nearest match: to tune its threshold
        metrics.add_metric(name="SemanticCacheDistance", unit=MetricUnit.NoUnit, value=meta["cache_distance"])
    # Routing decisions by target and reason: a metric name per pair keeps one EMF blob per turn.
    if route:
        metrics.add_metric(name="RoutingDecisions", unit=MetricUnit.Count, value=1)  # the dashboard's total
        metrics.add_metric(name=f"RoutingDecisions.{route['target']}.{route['reason']}", unit=MetricUnit.Count,
                           value=1)
    metrics.flush_metrics()  # one EMF line per turn, printed to the function's log


def record_switch(target: str, reasons: list[str]) -> None:
    """A circuit opened: traffic for `target` moves down its fallback chain (a pattern switch)."""
    if is_metrics_disabled():
        return
    metrics.add_metric(name="PatternSwitches", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"PatternSwitches.{target}", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="reasons", value=";".join(reasons))
    metrics.flush_metrics()


def _count(name: str, kind: str) -> None:
    """One event: the total and its breakdown (`name.kind`) in one EMF line."""
    if is_metrics_disabled():
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"{name}.{kind}", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


def record_cache_hit(kind: str) -> None:
    """An answer served from the cache without starting an execution."""
    _count("CacheHits", kind)


def record_limited(code: str) -> None:
    """sendMessage refused a frame: RATE_LIMITED or QUOTA_EXCEEDED."""
    _count("Limited", code)


def record_budget_exhausted() -> None:
    """A turn was not started: today's spend reached the daily budget (the customer got the budget reply)."""
    _count("BudgetExhausted", "send_message")


def record_budget_unreadable() -> None:
    """Route could not read today's spend and routed to Haiku without escalation."""
    _count("BudgetUnreadable", "route")


def record_retrieval_degraded(reason: str) -> None:
    """Retrieve fell back to keyword search: the vector index was empty, missing or unreachable."""
    _count("RetrievalDegraded", reason)


# What sendMessage loses or degrades: the alarms of template.yaml watch these (namespace MangaAssist,
# dimension service=mangaassist).
def record_reply(kind: str) -> None:
    """One reply frame sent for an accepted frame: `answer`, or `fallback` (the polite apology)."""
    _count("ChatReplies", kind)


def record_turn_timeout() -> None:
    """sendMessage stopped waiting for the execution at the turn's deadline and replied with the fallback."""
    _count("TurnTimeouts", "send_message")


def record_reply_post_failure(kind: str) -> None:
    """post_to_connection did not deliver: `gone` (the customer left) or `error` (forbidden, throttled, network)."""
    _count("ReplyPostFailures", kind)


def record_session_enqueue_failure() -> None:
    """The turn's session write could not be enqueued: that turn is missing from the customer's history."""
    _count("SessionEnqueueFailures", "send_message")
