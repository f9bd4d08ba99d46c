"""Total cost of ownership per deployment pattern, monthly: compute, tokens and operations hours × rate.

Capacity-aware, unlike seed 000's TCO (SPEC §7): each pattern has a configured size (defaults: the seed's own
plan — 2 Sonnet units, 2–4 SageMaker instances) and the size the load needs (from `capacity_plan`). A pattern
whose configured size cannot carry the load is `viable=False`, with the reason, and is priced at what it would
need (`priced_at="required"`); the configured size's price is kept in `configured_total_usd` for comparison.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from mangaassist.answer.pricing import MILLION
from mangaassist.planning.models import (
    HOURS_PER_DAY,
    SECONDS_PER_HOUR,
    Commitment,
    Pattern,
    PlanModel,
    PlanResult,
    TokenPrice,
    Usd,
    assumptions_of,
    decimal,
    default_commitment_discounts,
    default_token_prices,
    default_unit_prices,
    money,
)
from mangaassist.planning.traffic import CapacityInputs, CapacityPlan, Rates, capacity_plan, rates


def _default_ops_hours() -> dict[Pattern, Decimal]:
    # seed 000: Lambda 2 h/month, provisioned 4 h, SageMaker 12 h; serverless is ours (between the two).
    return {Pattern.LAMBDA_BEDROCK_ON_DEMAND: Decimal(2), Pattern.BEDROCK_PROVISIONED: Decimal(4),
            Pattern.SAGEMAKER_REALTIME: Decimal(12), Pattern.SAGEMAKER_SERVERLESS: Decimal(6)}


class TcoInputs(PlanModel):
    capacity: CapacityInputs = Field(default_factory=CapacityInputs, description="the load (see capacity_plan)")
    input_tokens: int = Field(default=500, ge=0, description="input tokens per message, for token prices (SPEC §3)")
    output_tokens: int = Field(default=350, ge=0, description="output tokens per message, for token prices (SPEC §3)")
    prices: dict[str, TokenPrice] = Field(default_factory=default_token_prices,
                                          description="on-demand USD per 1M tokens (answer.pricing, SPEC §3)")
    days_per_month: int = Field(default=30, gt=0, description="days in a month (the seeds use 30)")
    engineer_hourly_rate: Usd = Field(
        default=Decimal(150), ge=0, description="USD per engineer hour (seed 000: 12 h = $1,200–2,400, i.e. "
                                                "$100–200/h; midpoint)")
    operations_hours: dict[Pattern, Usd] = Field(default_factory=_default_ops_hours,
                                                 description="engineer hours per month (seed 000; serverless ours)")
    on_demand_sonnet_share: Usd = Field(default=Decimal("0.30"), ge=0, le=1,
                                        description="share of on-demand messages on Sonnet (seed 000's 70/30 split)")
    lambda_gb_seconds_per_message: Usd = Field(default=Decimal(2), ge=0,
                                               description="1 GB × 2 s per invocation (seed 000)")
    lambda_price_per_gb_second: Usd = Field(default=Decimal("0.0000166667"), ge=0, description="Lambda USD per GB-s")
    lambda_price_per_million_requests: Usd = Field(default=Decimal("0.20"), ge=0,
                                                   description="Lambda USD per 1M requests")
    lambda_concurrency_limit: int = Field(default=1_000, gt=0, description="account concurrency (seed 000)")
    provisioned_model: Literal["sonnet", "haiku"] = Field(default="sonnet", description="model on provisioned units")
    provisioned_units: int = Field(default=2, ge=0, description="configured units (seed 000/001's plan: 2 Sonnet MUs)")
    provisioned_hours_per_day: Usd = Field(default=Decimal(24), gt=0, le=24,
                                           description="hours a day the units exist (a commitment bills all 24)")
    commitment: Commitment = Field(default=Commitment.NONE, description="provisioned commitment term")
    unit_price_per_hour: dict[str, Usd] = Field(default_factory=default_unit_prices,
                                                description="USD per model-unit hour (SPEC §3)")
    commitment_discounts: dict[Commitment, Usd] = Field(default_factory=default_commitment_discounts,
                                                        description="discount per commitment (seed 001)")
    sagemaker_price_per_hour: Usd = Field(default=Decimal("1.89"), ge=0, description="ml.g5.2xlarge, Tokyo (SPEC §3)")
    sagemaker_peak_instances: int = Field(default=4, ge=0, description="configured instances at peak (seed 000's TCO)")
    sagemaker_base_instances: int = Field(default=2, ge=0, description="configured instances off-peak (seed 000's TCO)")
    serverless_price_per_request: Usd = Field(default=Decimal("0.0008"), ge=0, description="seed 000's cost estimate")
    serverless_max_rps: float = Field(default=50, gt=0, description="SageMaker serverless ceiling (seed 000)")


class PatternCost(PlanModel):
    pattern: Pattern
    viable: bool = Field(description="the configured size carries the load")
    can_be_sized: bool = Field(description="some size within the pattern's limits carries the load")
    reason: str
    priced_at: Literal["required", "configured", "usage"]
    configured: dict[str, int | float]
    required: dict[str, int | float]
    compute_usd: Usd
    token_usd: Usd
    operations_usd: Usd
    total_usd: Usd
    configured_total_usd: Usd = Field(description="monthly price of the configured size (what the seed printed)")
    cost_per_message_usd: Usd


class TcoReport(PlanResult):
    patterns: list[PatternCost]
    cheapest_viable: Pattern | None = Field(description="cheapest pattern whose configured size carries the load")
    cheapest_when_sized: Pattern | None = Field(description="cheapest pattern priced at the size the load needs")
    capacity: CapacityPlan


def _on_demand_per_message(inputs: TcoInputs) -> Decimal:
    haiku = inputs.prices["haiku"].per_message(inputs.input_tokens, inputs.output_tokens)
    sonnet = inputs.prices["sonnet"].per_message(inputs.input_tokens, inputs.output_tokens)
    share = inputs.on_demand_sonnet_share
    return (1 - share) * haiku + share * sonnet


def _finish(inputs: TcoInputs, sketch: PatternCost, daily_compute: Decimal, daily_tokens: Decimal,
            configured_daily: Decimal) -> PatternCost:
    """The sketch (pattern, viability, sizes) with its monthly prices filled in."""
    days = inputs.days_per_month
    ops = inputs.operations_hours.get(sketch.pattern, Decimal(0)) * inputs.engineer_hourly_rate
    total = (daily_compute + daily_tokens) * days + ops
    messages = Decimal(inputs.capacity.messages_per_day * days)
    return sketch.model_copy(update={
        "compute_usd": daily_compute * days, "token_usd": daily_tokens * days, "operations_usd": ops,
        "total_usd": total, "configured_total_usd": configured_daily * days + ops,
        "cost_per_message_usd": total / messages})


def _sketch(pattern: Pattern, viable: bool, can_be_sized: bool, reason: str,
            priced_at: Literal["required", "configured", "usage"], configured: dict[str, int | float],
            required: dict[str, int | float]) -> PatternCost:
    zero = Decimal(0)
    return PatternCost(pattern=pattern, viable=viable, can_be_sized=can_be_sized, reason=reason, priced_at=priced_at,
                       configured=configured, required=required, compute_usd=zero, token_usd=zero,
                       operations_usd=zero, total_usd=zero, configured_total_usd=zero, cost_per_message_usd=zero)


def _lambda(inputs: TcoInputs, plan: CapacityPlan) -> PatternCost:
    messages = Decimal(inputs.capacity.messages_per_day)
    tokens = messages * _on_demand_per_message(inputs)
    compute = (messages * inputs.lambda_gb_seconds_per_message * inputs.lambda_price_per_gb_second
               + messages / MILLION * inputs.lambda_price_per_million_requests)
    need, limit = plan.lambda_concurrency, inputs.lambda_concurrency_limit
    viable = need <= limit
    reason = (f"needs {need} concurrent executions at burst (limit {limit})" if viable else
              f"needs {need} concurrent executions at burst, above the {limit} limit")
    sketch = _sketch(Pattern.LAMBDA_BEDROCK_ON_DEMAND, viable, viable, reason, "usage",
                     {"concurrency_limit": limit}, {"concurrency": need})
    return _finish(inputs, sketch, compute, tokens, compute + tokens)


def _covered_messages(inputs: TcoInputs, r: Rates) -> Decimal:
    """Messages in the hours provisioned units exist (the peak hours first)."""
    hours = inputs.provisioned_hours_per_day
    extra = max(Decimal(0), hours - Decimal(str(inputs.capacity.peak_hours_per_day)))
    covered = decimal(r.peak_window_messages) + decimal(r.off_peak) * extra * SECONDS_PER_HOUR
    return min(covered, Decimal(inputs.capacity.messages_per_day))


def _provisioned(inputs: TcoInputs, plan: CapacityPlan, r: Rates, notes: list[str]) -> PatternCost:
    model = inputs.provisioned_model
    hours = inputs.provisioned_hours_per_day
    if inputs.commitment != Commitment.NONE and hours < HOURS_PER_DAY:
        notes.append(f"A {inputs.commitment.value} commitment bills every hour: provisioned_hours_per_day {hours} "
                     "is billed as 24.")
        hours = Decimal(HOURS_PER_DAY)
    rate = inputs.unit_price_per_hour[model] * (1 - inputs.commitment_discounts.get(inputs.commitment, Decimal(0)))
    need, have = plan.model_units[model], inputs.provisioned_units
    capacity = inputs.capacity.tokens_per_minute_per_unit[model]
    messages = Decimal(inputs.capacity.messages_per_day)
    covered = messages if hours >= HOURS_PER_DAY else _covered_messages(inputs, r)
    uncovered_tokens = (messages - covered) * _on_demand_per_message(inputs)
    viable = have >= need
    reason = (f"{have} {model} units carry {have * capacity:,} tokens/min; the peak needs "
              f"{plan.tokens_per_minute_peak:,.0f} ({need} units)")
    sketch = _sketch(Pattern.BEDROCK_PROVISIONED, viable, True, reason, "configured" if viable else "required",
                     {f"{model}_units": have, "hours_per_day": float(hours)},
                     {f"{model}_units": need, "hours_per_day": float(hours)})
    return _finish(inputs, sketch, (have if viable else need) * rate * hours, uncovered_tokens,
                   have * rate * hours + uncovered_tokens)


def _sagemaker(inputs: TcoInputs, plan: CapacityPlan) -> PatternCost:
    per = inputs.capacity.sagemaker_rps_per_instance
    peak_hours = Decimal(str(inputs.capacity.peak_hours_per_day))
    off_hours = HOURS_PER_DAY - peak_hours
    need_peak, need_base = plan.sagemaker_instances, plan.sagemaker_instances_off_peak
    have_peak, have_base = inputs.sagemaker_peak_instances, inputs.sagemaker_base_instances
    price = inputs.sagemaker_price_per_hour
    configured = (have_peak * peak_hours + have_base * off_hours) * price
    viable = have_peak >= need_peak and have_base >= need_base
    priced = configured if viable else (need_peak * peak_hours + need_base * off_hours) * price
    reason = (f"{have_peak} instances serve {have_peak * per:g} RPS at peak against {plan.peak_rps:.1f} RPS peak and "
              f"{plan.burst_rps:.1f} RPS burst ({need_peak} instances with headroom; {need_base} off-peak)")
    sketch = _sketch(Pattern.SAGEMAKER_REALTIME, viable, True, reason, "configured" if viable else "required",
                     {"peak_instances": have_peak, "base_instances": have_base},
                     {"peak_instances": need_peak, "base_instances": need_base})
    return _finish(inputs, sketch, priced, Decimal(0), configured)


def _serverless(inputs: TcoInputs, plan: CapacityPlan) -> PatternCost:
    messages = Decimal(inputs.capacity.messages_per_day)
    cost = messages * inputs.serverless_price_per_request
    viable = plan.burst_rps <= inputs.serverless_max_rps
    reason = (f"ceiling {inputs.serverless_max_rps:g} RPS against {plan.burst_rps:.1f} RPS burst"
              + ("" if viable else ": cannot carry the load at any size (priced per request as if it could)"))
    sketch = _sketch(Pattern.SAGEMAKER_SERVERLESS, viable, viable, reason, "usage",
                     {"max_rps": inputs.serverless_max_rps}, {"burst_rps": plan.burst_rps})
    return _finish(inputs, sketch, cost, Decimal(0), cost)


def total_cost_of_ownership(inputs: TcoInputs | None = None) -> TcoReport:
    inputs = inputs or TcoInputs()
    plan = capacity_plan(inputs.capacity)
    notes: list[str] = []
    costs = [_lambda(inputs, plan), _provisioned(inputs, plan, rates(inputs.capacity), notes),
             _sagemaker(inputs, plan), _serverless(inputs, plan)]
    viable = [c for c in costs if c.viable]
    sized = [c for c in costs if c.can_be_sized]
    cheapest_viable = min(viable, key=lambda c: c.total_usd).pattern if viable else None
    cheapest_sized = min(sized, key=lambda c: c.total_usd).pattern if sized else None
    for cost in costs:
        if not cost.viable and cost.priced_at == "required":
            notes.append(f"{cost.pattern.value}: not viable as configured ({cost.reason}); priced at the size the "
                         f"load needs, {money(cost.total_usd)}/month, not the configured "
                         f"{money(cost.configured_total_usd)}/month.")
    notes.append("Seed 000's TCO prices 2 Sonnet units for the 6 peak hours and 2–4 SageMaker instances without "
                 "checking them against the load (SPEC §7); here every pattern is checked against capacity_plan.")
    notes.append("The SageMaker patterns serve a self-hosted model (seed 001: a fine-tuned 7B), not Claude: their "
                 "answers' quality is not what these prices compare.")
    assumptions = assumptions_of(inputs)
    assumptions["on_demand_cost_per_message"] = (
        f"{_on_demand_per_message(inputs):f} USD — (1 − sonnet share) × Haiku + sonnet share × Sonnet at "
        f"{inputs.input_tokens} in / {inputs.output_tokens} out")
    assumptions["provisioned_hours"] = ("messages outside the provisioned hours are served on demand at the same "
                                        "Haiku/Sonnet mix; bursts above the peak units spill on demand (not priced)")
    assumptions["monthly"] = f"daily × {inputs.days_per_month} days + operations hours × engineer rate"
    return TcoReport(patterns=costs, cheapest_viable=cheapest_viable, cheapest_when_sized=cheapest_sized,
                     capacity=plan, assumptions=assumptions, notes=notes)
