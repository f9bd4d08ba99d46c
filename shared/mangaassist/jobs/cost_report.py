"""The cost report: what the stored turns of a range of JST days cost, and where the money went.

The turns are the sessions table's items (what session_writer stores, see chat.sessions.turn_record), read one
JST day at a time from its ByDay index. Money is Decimal throughout and a string in the JSON: the report's
total is exactly the sum of the turns' `costUsd`, and the per-day, per-task, per-language and per-route
figures each add up to it too (per tier: plus an "unattributed" row if a turn's tiers do not add up to its cost).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer

from mangaassist.jobs.models import CostReportJob, CostReportParams
from mangaassist.jobs.results import JobOutput

TARGET_COST_PER_QUERY = Decimal("0.006")  # SPEC §3: cost/query < $0.006
TARGET_ESCALATION_RATE = 0.15  # SPEC §3: escalation rate < 15%
BY_DAY_INDEX = "ByDay"
UNATTRIBUTED = "unattributed"
ZERO = Decimal("0")
_PER_QUERY = Decimal("1e-9")
_deserializer = TypeDeserializer()


class TurnSource(Protocol):
    def turns_on(self, day: str) -> Iterable[dict[str, Any]]:
        """The stored turns of one JST day (YYYY-MM-DD), as plain dicts (sessions table attributes)."""
        ...


class DynamoTurnSource:
    """The sessions table's ByDay index (hash `day`, range `turnId`; projects task, costUsd, meta, createdAt)."""

    def __init__(self, client: Any, table: str, index: str = BY_DAY_INDEX) -> None:
        self.client = client
        self.table = table
        self.index = index

    def turns_on(self, day: str) -> Iterator[dict[str, Any]]:
        return self._query("#d = :d", {":d": {"S": day}})

    def turns_between(self, day: str, first: str, last: str) -> Iterator[dict[str, Any]]:
        """One JST day's turns with first <= turnId <= last: turn ids start with their time (chat.sessions
        new_turn_id), so this is a time range within the day (the SLA optimizer's sliding window)."""
        return self._query("#d = :d AND turnId BETWEEN :a AND :b",
                           {":d": {"S": day}, ":a": {"S": first}, ":b": {"S": last}})

    def _query(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table, IndexName=self.index, KeyConditionExpression=condition,
            ExpressionAttributeNames={"#d": "day"}, ExpressionAttributeValues=values)
        for page in pages:
            for item in page.get("Items", []):
                yield {key: _deserializer.deserialize(value) for key, value in item.items()}


def days_of(params: CostReportParams) -> list[str]:
    return [(params.start + timedelta(days=n)).isoformat() for n in range(params.days)]


def money(value: Decimal) -> str:
    return format(value, "f")


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _Tally:
    turns: int = 0
    cost: Decimal = ZERO

    def add(self, cost: Decimal) -> None:
        self.turns += 1
        self.cost += cost

    def as_dict(self, total: Decimal) -> dict[str, Any]:
        return {"turns": self.turns, "cost_usd": money(self.cost),
                "cost_share": round(float(self.cost / total), 4) if total else None}


@dataclass
class _TierTally:
    calls: int = 0
    turns: int = 0
    cost: Decimal = ZERO
    input_tokens: int = 0
    output_tokens: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class CostReport:
    """The aggregates over one range; `result()` is the report's JSON."""

    params: CostReportParams
    days: list[str]
    turns: int = 0
    total: Decimal = ZERO
    per_day: dict[str, _Tally] = field(default_factory=dict)
    day_tier_cost: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    by_task: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    by_language: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    by_route: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    by_tier: dict[str, _TierTally] = field(default_factory=lambda: defaultdict(_TierTally))
    escalated: int = 0
    fallbacks: int = 0
    cache_hits: Counter[str] = field(default_factory=Counter)  # task -> hits
    uncached: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))  # task -> model-run turns
    unreadable: list[str] = field(default_factory=list)

    def add(self, day: str, item: dict[str, Any]) -> None:
        turn = f"{item.get('sessionId', '?')}/{item.get('turnId', '?')}"
        cost = _decimal(item.get("costUsd", "0"))
        if cost is None:
            self.unreadable.append(f"{turn}: costUsd {item.get('costUsd')!r} is not a number (counted as 0)")
            cost = ZERO
        meta = self._meta(turn, item.get("meta"))
        self.turns += 1
        self.total += cost
        self.per_day[day].add(cost)
        task = str(item.get("task") or meta.get("task") or "unknown")
        self.by_task[task].add(cost)
        self.by_language[str(meta.get("language") or "unknown")].add(cost)
        hit = str(meta.get("cache") or "miss") != "miss"
        route = meta.get("route")
        reason = str(route.get("reason")) if isinstance(route, dict) else "(no route)"
        self.by_route["(cache hit)" if hit else reason].add(cost)
        if hit:
            self.cache_hits[task] += 1
        else:
            self.uncached[task].add(cost)
            self.escalated += bool(meta.get("escalated"))
        validation = meta.get("validation")
        self.fallbacks += not (isinstance(validation, dict) and validation.get("decision") == "accept")
        tiers = meta.get("tiers")
        self._add_tiers(day, cost, tiers if isinstance(tiers, list) else [])

    def _meta(self, turn: str, raw: Any) -> dict[str, Any]:
        try:
            meta = json.loads(raw or "{}")
        except (TypeError, ValueError):
            meta = None
        if isinstance(meta, dict):
            return meta
        self.unreadable.append(f"{turn}: meta is not a JSON object (task and cost counted, nothing else)")
        return {}

    def _add_tiers(self, day: str, cost: Decimal, tiers: list[Any]) -> None:
        attributed = ZERO
        seen: set[str] = set()
        for tier in tiers:
            if not isinstance(tier, dict):
                continue
            target = str(tier.get("target") or "unknown")
            tier_cost = _decimal(tier.get("cost_usd", "0")) or ZERO
            tally = self.by_tier[target]
            tally.calls += 1
            tally.turns += target not in seen
            seen.add(target)
            tally.cost += tier_cost
            tally.input_tokens += int(tier.get("input_tokens") or 0)
            tally.output_tokens += int(tier.get("output_tokens") or 0)
            tally.outcomes[str(tier.get("outcome") or "ok")] += 1
            self.day_tier_cost[day][target] = self.day_tier_cost[day].get(target, ZERO) + tier_cost
            attributed += tier_cost
        if attributed != cost:  # a turn whose tiers do not add up to its cost: keep the per-tier sums honest
            rest = cost - attributed
            self.by_tier[UNATTRIBUTED].cost += rest
            self.by_tier[UNATTRIBUTED].turns += 1
            self.day_tier_cost[day][UNATTRIBUTED] = self.day_tier_cost[day].get(UNATTRIBUTED, ZERO) + rest

    # -- the report --------------------------------------------------------------------------------------------
    def cache_savings(self) -> tuple[Decimal, list[str]]:
        """Hits × the mean cost of an uncached turn of the same task in the range (a hit costs nothing)."""
        notes = []
        model_turns = sum(t.turns for t in self.uncached.values())
        overall = sum((t.cost for t in self.uncached.values()), ZERO) / model_turns if model_turns else ZERO
        savings = ZERO
        for task, hits in sorted(self.cache_hits.items()):
            uncached = self.uncached.get(task)
            if uncached and uncached.turns:
                savings += hits * uncached.cost / uncached.turns
            else:
                savings += hits * overall
                notes.append(f"no uncached {task} turn in the range: its {hits} cache hits are valued at the mean "
                             "cost of all uncached turns")
        return savings.quantize(_PER_QUERY), notes

    def result(self, job_id: str, generated_at: datetime | None = None) -> dict[str, Any]:
        total = self.total
        model_turns = sum(t.turns for t in self.uncached.values())
        hits = sum(self.cache_hits.values())
        per_query = (total / self.turns).quantize(_PER_QUERY) if self.turns else None
        model_per_query = (sum((t.cost for t in self.uncached.values()), ZERO) / model_turns).quantize(_PER_QUERY) \
            if model_turns else None
        savings, savings_notes = self.cache_savings()
        escalation_rate = _rate(self.escalated, model_turns)
        notes = [
            "Days are JST (UTC+9) calendar days, both ends inclusive; money is USD, exact decimal strings.",
            "total_usd is the exact sum of the stored turns' costUsd; a cache hit costs 0.",
            *savings_notes,
            *self.unreadable[:20],
        ]
        if len(self.unreadable) > 20:
            notes.append(f"... and {len(self.unreadable) - 20} more unreadable turns")
        if not self.turns:
            notes.append("No stored turns in the range (turns stored before the sessions table had its ByDay "
                         "index carry no `day` and are not found).")
        return {
            "kind": "cost-report",
            "job_id": job_id,
            "generated_at": (generated_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
            "range": {"start": self.params.start.isoformat(), "end": self.params.last.isoformat(),
                      "days": self.params.days, "timezone": "Asia/Tokyo (JST, UTC+9)"},
            "turns": self.turns,
            "total_usd": money(total),
            "cost_per_day": [{"day": day, "turns": self.per_day[day].turns, "cost_usd": money(self.per_day[day].cost),
                              "by_tier": {t: money(c) for t, c in sorted(self.day_tier_cost[day].items())}}
                             for day in self.days],
            "by_task": {k: v.as_dict(total) for k, v in sorted(self.by_task.items(), key=_largest)},
            "by_tier": {k: {"calls": v.calls, "turns": v.turns, "cost_usd": money(v.cost),
                            "input_tokens": v.input_tokens, "output_tokens": v.output_tokens,
                            "outcomes": dict(sorted(v.outcomes.items()))}
                        for k, v in sorted(self.by_tier.items(), key=lambda kv: (-kv[1].cost, kv[0]))},
            "by_language": {k: v.as_dict(total) for k, v in sorted(self.by_language.items(), key=_largest)},
            "by_route_reason": {k: v.as_dict(total) for k, v in sorted(self.by_route.items(), key=_largest)},
            "escalation": {"turns": self.escalated, "of_model_turns": model_turns, "rate": escalation_rate,
                           "target_rate_below": TARGET_ESCALATION_RATE,
                           "met": None if escalation_rate is None else escalation_rate < TARGET_ESCALATION_RATE,
                           "definition": "turns whose meta says escalated, over the turns that ran the model "
                                         "(a cache hit cannot escalate)"},
            "fallback": {"turns": self.fallbacks, "rate": _rate(self.fallbacks, self.turns),
                         "definition": "turns whose validation decision is not accept (the canned answer), "
                                       "over all turns"},
            "cost_per_query": {"usd": money(per_query) if per_query is not None else None,
                               "model_turns_usd": money(model_per_query) if model_per_query is not None else None,
                               "target_usd_below": money(TARGET_COST_PER_QUERY),
                               "met": None if per_query is None else per_query < TARGET_COST_PER_QUERY,
                               "definition": "total over all turns (cache hits included); model_turns_usd: over "
                                             "the turns that ran the model"},
            "cache": {"hits": hits, "hit_rate": _rate(hits, self.turns),
                      "hits_by_task": dict(sorted(self.cache_hits.items())),
                      "savings_usd": money(savings),
                      "savings_method": "each hit is valued at the mean cost of an uncached turn of the same task "
                                        "in this range (a hit itself costs 0); tasks with no uncached turn use the "
                                        "mean over all uncached turns"},
            "notes": notes,
        }

    def summary(self) -> str:
        per_query = f"${money((self.total / self.turns).quantize(_PER_QUERY))}/query" if self.turns else "no turns"
        days = self.params.start.isoformat() if self.params.days == 1 else \
            f"{self.params.start.isoformat()}..{self.params.last.isoformat()}"
        return f"{days}: {self.turns} turns, ${money(self.total)} total, {per_query} (target < $0.006)"


def _largest(item: tuple[str, _Tally]) -> tuple[Decimal, int, str]:
    return -item[1].cost, -item[1].turns, item[0]


def build_report(params: CostReportParams, source: TurnSource) -> CostReport:
    days = days_of(params)
    report = CostReport(params=params, days=days, per_day={day: _Tally() for day in days},
                        day_tier_cost={day: {} for day in days})
    with localcontext() as context:
        context.prec = 60  # sums of many small costs stay exact
        for day in days:
            for item in source.turns_on(day):
                report.add(day, item)
    return report


def run_cost_report(job: CostReportJob, source: TurnSource, with_charts: bool = True) -> JobOutput:
    report = build_report(job.params, source)
    result = report.result(job.job_id)
    charts: dict[str, bytes] = {}
    if with_charts:
        from mangaassist.jobs.charts import cost_per_day_by_tier, task_mix

        charts = {"cost-per-day-by-tier": cost_per_day_by_tier(result), "task-mix": task_mix(result)}
    return JobOutput(result=result, charts=charts, summary=report.summary())
