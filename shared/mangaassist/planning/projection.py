"""Cost projection from observed turns: daily and monthly cost, cost per query against the SLA, escalation and
fallback rates (the turns' own, not an assumed traffic split)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from pydantic import AliasChoices, ConfigDict, Field, field_validator

from mangaassist.planning.models import PlanModel, PlanResult, Usd

COST_TARGET_PER_QUERY = Decimal("0.006")  # SPEC §3 SLA


class TurnCost(PlanModel):
    """One stored turn, as the projection needs it. `tiers` (also accepted as `tier_path`): tiers tried, in order."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    day: str = Field(description="YYYY-MM-DD")
    cost_usd: Usd = Field(ge=0)
    escalated: bool = False
    fallback: bool = False
    task: str = "unknown"
    tiers: list[str] = Field(default_factory=list, validation_alias=AliasChoices("tiers", "tier_path"))

    @field_validator("day")
    @classmethod
    def _iso_day(cls, value: str) -> str:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"day must be YYYY-MM-DD, got {value!r}") from None


class TaskCost(PlanModel):
    turns: int
    cost_usd: Usd
    cost_per_query_usd: Usd


class CostProjection(PlanResult):
    turns: int
    days_observed: int
    total_cost_usd: Usd
    daily_cost_usd: Usd = Field(description="average over the days observed")
    monthly_cost_usd: Usd
    queries_per_day: float
    cost_per_query_usd: Usd
    cost_target_per_query_usd: Usd
    meets_cost_target: bool
    escalation_rate: float
    fallback_rate: float
    daily_cost_at_volume_usd: Usd = Field(description="cost per query × messages_per_day")
    monthly_cost_at_volume_usd: Usd
    per_day: dict[str, Usd]
    per_task: dict[str, TaskCost]
    tier_usage: dict[str, int] = Field(description="turns that tried each tier")


def project_from_turns(turns: Sequence[TurnCost], days_in_month: int = 30, *, messages_per_day: int = 1_000_000,
                       cost_target_per_query_usd: Decimal = COST_TARGET_PER_QUERY) -> CostProjection:
    if days_in_month <= 0 or messages_per_day <= 0:
        raise ValueError("days_in_month and messages_per_day must be positive")
    per_day: dict[str, Decimal] = {}
    tasks: dict[str, list[Decimal]] = {}
    tiers: Counter[str] = Counter()
    for turn in turns:
        per_day[turn.day] = per_day.get(turn.day, Decimal(0)) + turn.cost_usd
        tasks.setdefault(turn.task, []).append(turn.cost_usd)
        tiers.update(set(turn.tiers))
    count, days = len(turns), len(per_day)
    total = sum(per_day.values(), Decimal(0))
    daily = total / days if days else Decimal(0)
    per_query = total / count if count else Decimal(0)
    notes = [f"monthly = average observed day × {days_in_month} days; 'at volume' figures scale the observed cost "
             f"per query to {messages_per_day:,} messages/day."]
    if not count:
        notes.append("No turns: every figure is zero.")
    elif days < 7:
        notes.append(f"Only {days} day(s) observed: weekly patterns (weekend peaks) are not in the average.")
    return CostProjection(
        turns=count, days_observed=days, total_cost_usd=total, daily_cost_usd=daily,
        monthly_cost_usd=daily * days_in_month, queries_per_day=count / days if days else 0.0,
        cost_per_query_usd=per_query, cost_target_per_query_usd=cost_target_per_query_usd,
        meets_cost_target=per_query <= cost_target_per_query_usd,
        escalation_rate=sum(t.escalated for t in turns) / count if count else 0.0,
        fallback_rate=sum(t.fallback for t in turns) / count if count else 0.0,
        daily_cost_at_volume_usd=per_query * messages_per_day,
        monthly_cost_at_volume_usd=per_query * messages_per_day * days_in_month,
        per_day=dict(sorted(per_day.items())),
        per_task={task: TaskCost(turns=len(c), cost_usd=sum(c, Decimal(0)), cost_per_query_usd=sum(c, Decimal(0))
                                 / len(c)) for task, c in sorted(tasks.items())},
        tier_usage=dict(sorted(tiers.items())),
        assumptions={"days_in_month": f"{days_in_month}", "messages_per_day": f"{messages_per_day}",
                     "cost_target_per_query_usd": f"{cost_target_per_query_usd:f} — SPEC §3 SLA"},
        notes=notes)
