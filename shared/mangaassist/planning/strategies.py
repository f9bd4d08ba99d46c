"""Cascade strategy comparison: all-Sonnet, all-Haiku, the Haiku-first cascade, and the cascade behind a cache.

Every message of the cascade is answered by Haiku first and an `escalation_rate` share of them again by Sonnet,
at the same tokens per message (SPEC §3). Sonnet costs exactly 12× Haiku at SPEC §3 prices, so the cascade
costs `1/12 + escalation rate` of all-Sonnet, whatever the traffic split (SPEC §7) — checked exactly here.
Seed 002's cost-efficiency score (quality × baseline cost / cost × latency factor) is computed as written; it
ranks all-Haiku first, and the cascade only wins once a quality floor excludes all-Haiku.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from pydantic import Field

from mangaassist.planning.models import PlanModel, PlanResult, TokenPrice, Usd, assumptions_of, default_token_prices


class Strategy(StrEnum):
    ALL_SONNET = "all_sonnet"
    ALL_HAIKU = "all_haiku"
    CASCADE = "cascade"
    CASCADE_CACHE = "cascade_cache"


def _quality() -> dict[Strategy, float]:
    # seed 002: All Sonnet 0.97, All Haiku 0.82, Cascade Optimized 0.94; "Cascade + Cache ... 94%+ quality"
    return {Strategy.ALL_SONNET: 0.97, Strategy.ALL_HAIKU: 0.82, Strategy.CASCADE: 0.94, Strategy.CASCADE_CACHE: 0.94}


def _latency() -> dict[Strategy, float]:
    # seed 002's CES table: 1,200 / 300 / 700 ms; the cached cascade is given the cascade's (the seed has none)
    return {Strategy.ALL_SONNET: 1200, Strategy.ALL_HAIKU: 300, Strategy.CASCADE: 700, Strategy.CASCADE_CACHE: 700}


class StrategyInputs(PlanModel):
    messages_per_day: int = Field(default=1_000_000, gt=0, description="messages per day (SPEC §3)")
    input_tokens: int = Field(default=500, gt=0, description="input tokens per message (SPEC §3, seed 002)")
    output_tokens: int = Field(default=350, ge=0, description="output tokens per message (SPEC §3, seed 002)")
    prices: dict[str, TokenPrice] = Field(default_factory=default_token_prices,
                                          description="on-demand USD per 1M tokens (answer.pricing, SPEC §3)")
    escalation_rate: Usd = Field(default=Decimal("0.15"), ge=0, le=1,
                                 description="share of Haiku answers escalated to Sonnet (SPEC §3 target ceiling; "
                                             "pass the measured rate, e.g. from project_from_turns)")
    cache_hit_rate: Usd = Field(default=Decimal("0.20"), ge=0, le=1,
                                description="answer cache hit rate (seed 002: 20%)")
    cache_cost_per_hit_usd: Usd = Field(default=Decimal(0), ge=0,
                                        description="model cost of a cache hit (Redis not priced)")
    quality: dict[Strategy, float] = Field(default_factory=_quality, description="quality 0–1 per strategy (seed 002)")
    latency_ms: dict[Strategy, float] = Field(default_factory=_latency, description="latency per strategy (seed 002)")
    target_latency_ms: float = Field(default=3000, gt=0,
                                     description="latency SLA for the score's latency factor (seed 002)")
    cost_baseline_usd: Usd = Field(default=Decimal("0.015"), gt=0, description="the score's cost baseline (seed 002)")
    quality_floor: float = Field(default=0.90, ge=0, le=1, description="minimum quality (SPEC §3 SLA: > 0.90)")
    cost_target_per_query_usd: Usd = Field(default=Decimal("0.006"), gt=0,
                                           description="SPEC §3 SLA: < $0.006 per query")
    days_per_month: int = Field(default=30, gt=0, description="a month is 30 days (as seed 002)")


class StrategyResult(PlanModel):
    name: Strategy
    parts: dict[str, Usd] = Field(description="daily cost by part; daily_cost_usd is their sum")
    daily_cost_usd: Usd
    monthly_cost_usd: Usd
    cost_per_query_usd: Usd
    saving_vs_all_sonnet: Usd = Field(description="1 − daily cost / all-Sonnet's")
    quality: float
    latency_ms: float
    efficiency_score: float = Field(description="seed 002's cost-efficiency score (CES)")
    meets_quality_floor: bool
    meets_cost_target: bool


class CascadeIdentity(PlanModel):
    price_ratio: Usd = Field(description="Sonnet / Haiku cost per message (12 at SPEC §3 prices)")
    cascade_to_all_sonnet: Usd
    expected: Usd = Field(description="1 / price_ratio + escalation_rate")
    holds: bool = Field(description="equal exactly (rational arithmetic)")
    twelve_x: bool = Field(description="the price ratio is exactly 12")


class StrategyComparison(PlanResult):
    strategies: dict[str, StrategyResult] = Field(description="by strategy name, in Strategy order")
    best_by_score: Strategy
    best_meeting_quality_floor: Strategy | None
    identity: CascadeIdentity


def efficiency_score(quality: float, cost: Decimal, latency_ms: float, baseline: Decimal, target_ms: float) -> float:
    """Seed 002: quality × 1 / max(cost / baseline, 0.01) × min(1, target / latency)."""
    cost_factor = 1.0 / max(float(cost / baseline), 0.01)
    return round(quality * cost_factor * min(1.0, target_ms / max(latency_ms, 1.0)), 4)


def _parts(inputs: StrategyInputs) -> dict[Strategy, dict[str, Decimal]]:
    n = Decimal(inputs.messages_per_day)
    haiku = inputs.prices["haiku"].per_message(inputs.input_tokens, inputs.output_tokens)
    sonnet = inputs.prices["sonnet"].per_message(inputs.input_tokens, inputs.output_tokens)
    e, h = inputs.escalation_rate, inputs.cache_hit_rate
    missed = n * (1 - h)
    return {
        Strategy.ALL_SONNET: {"sonnet_usd": n * sonnet},
        Strategy.ALL_HAIKU: {"haiku_usd": n * haiku},
        Strategy.CASCADE: {"haiku_first_usd": n * haiku, "sonnet_escalations_usd": n * e * sonnet},
        Strategy.CASCADE_CACHE: {"haiku_first_usd": missed * haiku, "sonnet_escalations_usd": missed * e * sonnet,
                                 "cache_hits_usd": n * h * inputs.cache_cost_per_hit_usd},
    }


def _identity(inputs: StrategyInputs, daily: dict[Strategy, Decimal]) -> CascadeIdentity:
    haiku = inputs.prices["haiku"].per_message(inputs.input_tokens, inputs.output_tokens)
    sonnet = inputs.prices["sonnet"].per_message(inputs.input_tokens, inputs.output_tokens)
    if not haiku or not sonnet:
        zero = Decimal(0)
        return CascadeIdentity(price_ratio=zero, cascade_to_all_sonnet=zero, expected=zero, holds=False,
                               twelve_x=False)
    ratio = Fraction(sonnet) / Fraction(haiku)
    actual = Fraction(daily[Strategy.CASCADE]) / Fraction(daily[Strategy.ALL_SONNET])
    expected = 1 / ratio + Fraction(inputs.escalation_rate)
    return CascadeIdentity(price_ratio=sonnet / haiku, cascade_to_all_sonnet=daily[Strategy.CASCADE] /
                           daily[Strategy.ALL_SONNET], expected=1 / (sonnet / haiku) + inputs.escalation_rate,
                           holds=actual == expected, twelve_x=ratio == 12)


def compare_strategies(inputs: StrategyInputs | None = None) -> StrategyComparison:
    inputs = inputs or StrategyInputs()
    parts = _parts(inputs)
    daily = {name: sum(p.values(), Decimal(0)) for name, p in parts.items()}
    sonnet_daily = daily[Strategy.ALL_SONNET]
    results: dict[str, StrategyResult] = {}
    for name, cost in daily.items():
        per_query = cost / inputs.messages_per_day
        quality = inputs.quality[name]
        results[name.value] = StrategyResult(
            name=name, parts=parts[name], daily_cost_usd=cost, monthly_cost_usd=cost * inputs.days_per_month,
            cost_per_query_usd=per_query, saving_vs_all_sonnet=1 - cost / sonnet_daily if sonnet_daily else Decimal(0),
            quality=quality, latency_ms=inputs.latency_ms[name],
            efficiency_score=efficiency_score(quality, per_query, inputs.latency_ms[name], inputs.cost_baseline_usd,
                                              inputs.target_latency_ms),
            meets_quality_floor=quality >= inputs.quality_floor,
            meets_cost_target=per_query <= inputs.cost_target_per_query_usd)
    best = max(results.values(), key=lambda r: r.efficiency_score).name
    floor = [r for r in results.values() if r.meets_quality_floor]
    best_floor = max(floor, key=lambda r: r.efficiency_score).name if floor else None
    identity = _identity(inputs, daily)
    cascade = results[Strategy.CASCADE.value]
    notes = [
        f"Seed 002's cost-efficiency score ranks {best.value} first ({results[best].efficiency_score:g}); "
        + (f"'cascade is best' only holds with the quality floor {inputs.quality_floor:g}, which picks "
           f"{best_floor.value} ({results[best_floor].efficiency_score:g})." if best_floor and best_floor != best
           else f"with the quality floor {inputs.quality_floor:g} the pick is "
                f"{best_floor.value if best_floor else 'none'}."),
        f"Seed 002's 55.3% and 64.2% savings assume a 70/27/3 traffic split with per-class token counts; at the same "
        f"tokens per message the cascade costs 1/{identity.price_ratio:.4g} + escalation rate = "
        f"{float(identity.cascade_to_all_sonnet):.4f} of all-Sonnet, a saving of "
        f"{float(cascade.saving_vs_all_sonnet):.1%} at escalation rate {inputs.escalation_rate:g}.",
        "Every cascade message pays Haiku first; seed 002's tasks routed straight to Sonnet are not modelled (route "
        "them as escalations: rate = direct-to-Sonnet share + escalated share).",
        f"Cache hits cost {inputs.cache_cost_per_hit_usd:g} USD in model tokens; the Redis cache itself is not priced.",
    ]
    if not identity.holds:
        notes.append("The cascade identity does not hold: check the prices and tokens.")
    assumptions = assumptions_of(inputs)
    assumptions["monthly"] = f"daily × {inputs.days_per_month} days"
    assumptions["cost_per_message"] = ", ".join(
        f"{m}: {inputs.prices[m].per_message(inputs.input_tokens, inputs.output_tokens):f} USD" for m in inputs.prices)
    return StrategyComparison(strategies=results, best_by_score=best, best_meeting_quality_floor=best_floor,
                              identity=identity, assumptions=assumptions, notes=notes)
