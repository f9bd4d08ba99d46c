"""The optimizer's sliding window: the stored turns of the last N minutes and their SLA figures (SPEC section 3).

Turns come from the sessions table's ByDay index (what session_writer stores, see chat.sessions.turn_record), one
Query per JST day the window touches, with a turnId range: turn ids start with their epoch milliseconds.

Definitions (the same as the cost report's where both have one):
- latency: meta.latency_ms.total, what the customer waited (cache hits included); nearest-rank percentiles;
- cost per query: the sum of the turns' costUsd over all turns (a cache hit costs 0);
- escalation rate: turns whose meta says escalated over the turns that ran the model (a hit cannot escalate);
- availability: turns answered with a real answer (validation accept, or a cache hit) over all turns; a canned
  fallback, whatever its cause, counts against it;
- quality: the last prompt regression score, given by the caller (None: unknown, never a breach).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from mangaassist.answer.routing import jst_day

Op = Literal["<", ">"]


@dataclass(frozen=True)
class SlaTarget:
    name: str
    op: Op
    target: float
    unit: str


# SPEC section 3: p50 < 1,000 ms, p95 < 2,500 ms, p99 < 3,000 ms, cost/query < $0.006, escalation < 15%,
# availability > 99.9%, quality > 0.90. Strict inequalities, as written there.
TARGETS = (
    SlaTarget("p50_latency_ms", "<", 1000, "ms"),
    SlaTarget("p95_latency_ms", "<", 2500, "ms"),
    SlaTarget("p99_latency_ms", "<", 3000, "ms"),
    SlaTarget("cost_per_query_usd", "<", 0.006, "USD"),
    SlaTarget("escalation_rate", "<", 0.15, "share"),
    SlaTarget("availability", ">", 0.999, "share"),
    SlaTarget("quality", ">", 0.90, "score"),
)
LATENCY_TARGETS = {t.name: t.target for t in TARGETS if t.name.endswith("_latency_ms")}


class TurnSource(Protocol):
    def turns_between(self, day: str, first: str, last: str) -> Iterable[dict[str, Any]]: ...


@dataclass(frozen=True)
class TurnSample:
    """What the optimizer needs of one stored turn."""

    task: str
    latency_ms: float | None
    cost_usd: Decimal
    escalated: bool
    cache_hit: bool
    fallback: bool
    config_version: int | None


def sample_of(item: dict[str, Any]) -> TurnSample | None:
    """A stored turn (sessions table attributes) as a sample; None when its meta cannot be read."""
    try:
        meta = json.loads(item.get("meta") or "{}")
        cost = Decimal(str(item.get("costUsd", "0")))
    except (TypeError, ValueError, InvalidOperation):
        return None
    if not isinstance(meta, dict) or not cost.is_finite():
        return None
    latency = meta.get("latency_ms", {}).get("total") if isinstance(meta.get("latency_ms"), dict) else None
    hit = str(meta.get("cache") or "miss") != "miss"
    validation = meta.get("validation")
    accepted = isinstance(validation, dict) and validation.get("decision") == "accept"
    route = meta.get("route") if isinstance(meta.get("route"), dict) else {}
    version = route.get("config_version") if isinstance(route, dict) else None
    return TurnSample(task=str(item.get("task") or meta.get("task") or "unknown"),
                      latency_ms=float(latency) if isinstance(latency, int | float) else None,
                      cost_usd=cost, escalated=bool(meta.get("escalated")) and not hit, cache_hit=hit,
                      fallback=not (accepted or hit), config_version=version if isinstance(version, int) else None)


def window_items(source: TurnSource, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The stored turns with start < created <= end, one Query per JST day the window touches."""
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    first, last = f"{start_ms + 1:013d}", f"{end_ms:013d}-~"  # "~" sorts after the ids' hex suffixes
    days, day = [], start
    while True:
        days.append(jst_day(day))
        if jst_day(day) == jst_day(end):
            break
        day = min(day + timedelta(days=1), end)
    items: list[dict[str, Any]] = []
    for name in dict.fromkeys(days):
        items.extend(source.turns_between(name, first, last))
    return items


def nearest_rank(values: list[float], percentile: float) -> float:
    """The smallest value with at least `percentile`% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(percentile / 100 * len(ordered)), 1) - 1]


class TaskFigures(BaseModel):
    turns: int = 0
    model_turns: int = 0
    escalated: int = 0
    cost_usd: Decimal = Decimal("0")
    p95_latency_ms: float | None = None
    slow_turns: dict[str, int] = {}  # per latency target: turns at or over it


class WindowStats(BaseModel):
    start: datetime
    end: datetime
    turns: int
    model_turns: int
    cache_hits: int
    fallbacks: int
    unreadable: int
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    cost_per_query_usd: Decimal | None
    total_cost_usd: Decimal
    escalation_rate: float | None
    availability: float | None
    quality: float | None
    quality_source: str
    by_task: dict[str, TaskFigures]
    config_versions: dict[str, int]  # version -> turns (which configuration the window's turns ran with)

    def value(self, name: str) -> float | None:
        raw = getattr(self, name)
        return None if raw is None else float(raw)


def measure(samples: list[TurnSample], start: datetime, end: datetime, quality: float | None = None,
            quality_source: str = "unknown", unreadable: int = 0) -> WindowStats:
    latencies = [s.latency_ms for s in samples if s.latency_ms is not None]
    model = [s for s in samples if not s.cache_hit]
    total = sum((s.cost_usd for s in samples), Decimal("0"))
    tasks: dict[str, TaskFigures] = defaultdict(TaskFigures)
    per_task_latency: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        figures = tasks[s.task]
        figures.turns += 1
        figures.model_turns += not s.cache_hit
        figures.escalated += s.escalated
        figures.cost_usd += s.cost_usd
        if s.latency_ms is not None:
            per_task_latency[s.task].append(s.latency_ms)
    for task, values in per_task_latency.items():
        tasks[task].p95_latency_ms = nearest_rank(values, 95)
        tasks[task].slow_turns = {name: sum(v >= limit for v in values) for name, limit in LATENCY_TARGETS.items()}
    versions = Counter(str(s.config_version) if s.config_version is not None else "unknown" for s in samples)
    return WindowStats(
        start=start.astimezone(UTC), end=end.astimezone(UTC), turns=len(samples), model_turns=len(model),
        cache_hits=len(samples) - len(model), fallbacks=sum(s.fallback for s in samples), unreadable=unreadable,
        p50_latency_ms=nearest_rank(latencies, 50) if latencies else None,
        p95_latency_ms=nearest_rank(latencies, 95) if latencies else None,
        p99_latency_ms=nearest_rank(latencies, 99) if latencies else None,
        cost_per_query_usd=(total / len(samples)).quantize(Decimal("1e-9")) if samples else None,
        total_cost_usd=total,
        escalation_rate=round(sum(s.escalated for s in model) / len(model), 4) if model else None,
        availability=round(1 - sum(s.fallback for s in samples) / len(samples), 4) if samples else None,
        quality=quality, quality_source=quality_source, by_task=dict(sorted(tasks.items())),
        config_versions=dict(sorted(versions.items())))


class SlaCheck(BaseModel):
    name: str
    op: Op
    target: float
    unit: str
    actual: float | None
    status: Literal["ok", "breach", "unknown"]


def sla_status(stats: WindowStats) -> list[SlaCheck]:
    checks = []
    for t in TARGETS:
        actual = stats.value(t.name)
        if actual is None:
            status: Literal["ok", "breach", "unknown"] = "unknown"
        else:
            met = actual < t.target if t.op == "<" else actual > t.target
            status = "ok" if met else "breach"
        checks.append(SlaCheck(name=t.name, op=t.op, target=t.target, unit=t.unit, actual=actual, status=status))
    return checks


def collect(source: TurnSource, end: datetime, minutes: int, quality: float | None = None,
            quality_source: str = "unknown") -> WindowStats:
    start = end - timedelta(minutes=minutes)
    samples, unreadable = [], 0
    for item in window_items(source, start, end):
        sample = sample_of(item)
        if sample is None:
            unreadable += 1
        else:
            samples.append(sample)
    return measure(samples, start, end, quality, quality_source, unreadable)
