"""On-demand vs provisioned break-even, per model and commitment.

A model unit carries `tokens_per_minute` tokens; fully used for an hour, those tokens would cost
`on_demand_value` at on-demand prices (blended at the message's input/output mix). Provisioned is cheaper
once the unit is used more than `unit price / on_demand_value` of the time: the break-even utilisation.
Above 100% it never breaks even. At SPEC §3's 500 in / 350 out a fully used Sonnet unit is worth about
$19/h against ~$23/h (SPEC §7): without a commitment discount provisioned Sonnet never pays off.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from mangaassist.answer.pricing import MILLION
from mangaassist.planning.models import (
    HOURS_PER_DAY,
    MODELS,
    Commitment,
    PlanModel,
    PlanResult,
    TokenPrice,
    Usd,
    assumptions_of,
    default_commitment_discounts,
    default_token_prices,
    default_tokens_per_minute_per_unit,
    default_unit_prices,
)

SEED_RULE_TOKENS_PER_HOUR = 300_000  # seed 001: "crossover ... around 300K tokens/hour sustained"


class BreakEvenInputs(PlanModel):
    input_tokens: int = Field(default=500, ge=0, description="input tokens per message (SPEC §3)")
    output_tokens: int = Field(default=350, ge=0, description="output tokens per message (SPEC §3)")
    prices: dict[str, TokenPrice] = Field(default_factory=default_token_prices,
                                          description="on-demand USD per 1M tokens (answer.pricing, SPEC §3)")
    unit_price_per_hour: dict[str, Usd] = Field(default_factory=default_unit_prices,
                                                description="USD per model-unit hour (SPEC §3)")
    tokens_per_minute_per_unit: dict[str, int] = Field(
        default_factory=default_tokens_per_minute_per_unit,
        description="tokens/min per unit (seed 001: 40k both; seed 000: 80k Haiku)")
    commitment_discounts: dict[Commitment, Usd] = Field(
        default_factory=default_commitment_discounts, description="discount per commitment (seed 001: ~30%, ~50%)")
    models: list[str] = Field(default_factory=lambda: list(MODELS), description="models to compare")
    seed_rule_tokens_per_hour: int = Field(default=SEED_RULE_TOKENS_PER_HOUR, gt=0,
                                           description="seed 001's break-even rule of thumb")


class BreakEvenPoint(PlanModel):
    model: str
    commitment: Commitment
    discount: Usd
    provisioned_price_per_hour_usd: Usd
    on_demand_price_per_million_tokens_usd: Usd = Field(description="blended at the input/output mix")
    unit_capacity_tokens_per_hour: int
    on_demand_value_per_unit_hour_usd: Usd = Field(description="a fully used unit's tokens at on-demand prices")
    utilisation_needed: float | None = Field(description="price / value; above 1 means never (None: free tokens)")
    break_even_utilisation: float | None = Field(description="share of the unit's capacity; None when never")
    never: bool = Field(description="break-even would need more than 100% utilisation")
    break_even_tokens_per_hour: float = Field(description="sustained tokens/h at which on-demand costs the unit")
    break_even_full_load_hours_per_day: float | None
    verdict: str


class BreakEvenReport(PlanResult):
    points: list[BreakEvenPoint]

    def point(self, model: str, commitment: Commitment | str) -> BreakEvenPoint:
        return next(p for p in self.points if p.model == model and p.commitment == Commitment(commitment))


def _point(inputs: BreakEvenInputs, model: str, commitment: Commitment) -> BreakEvenPoint:
    price = inputs.prices[model]
    tokens = inputs.input_tokens + inputs.output_tokens
    blended = price.per_message(inputs.input_tokens, inputs.output_tokens) * MILLION / tokens if tokens else Decimal(0)
    capacity = inputs.tokens_per_minute_per_unit[model] * 60
    value = blended * capacity / MILLION
    discount = inputs.commitment_discounts.get(commitment, Decimal(0))
    hourly = inputs.unit_price_per_hour[model] * (1 - discount)
    break_even_tokens = float(hourly / blended * MILLION) if blended else float("inf")
    utilisation = hourly / value if value else None
    never = utilisation is None or utilisation > 1
    share = None if never or utilisation is None else round(float(utilisation), 4)
    if never:
        needed = "" if utilisation is None else f" ({float(utilisation):.0%} utilisation needed)"
        verdict = (f"never: a fully used unit's tokens are worth ${value:.2f}/h on demand, "
                   f"less than the unit's ${hourly:.2f}/h{needed}")
    else:
        verdict = (f"provisioned is cheaper above {share:.1%} utilisation "
                   f"({break_even_tokens:,.0f} tokens/h sustained per unit)")
    return BreakEvenPoint(
        model=model, commitment=commitment, discount=discount, provisioned_price_per_hour_usd=hourly,
        on_demand_price_per_million_tokens_usd=blended, unit_capacity_tokens_per_hour=capacity,
        on_demand_value_per_unit_hour_usd=value, break_even_utilisation=share, never=never,
        utilisation_needed=None if utilisation is None else round(float(utilisation), 4),
        break_even_tokens_per_hour=break_even_tokens,
        break_even_full_load_hours_per_day=None if share is None else round(share * HOURS_PER_DAY, 2),
        verdict=verdict)


def break_even(inputs: BreakEvenInputs | None = None) -> BreakEvenReport:
    inputs = inputs or BreakEvenInputs()
    points = [_point(inputs, model, commitment) for model in inputs.models for commitment in Commitment]
    notes: list[str] = []
    rule = inputs.seed_rule_tokens_per_hour
    for p in points:
        if p.commitment == Commitment.NONE and p.model == "sonnet":
            notes.append(
                f"Seed 001's rule 'provisioned wins above ~{rule:,} tokens/hour sustained' is "
                f"{p.break_even_tokens_per_hour / rule:.1f}× off for Sonnet: on-demand spending reaches the unit's "
                f"${p.provisioned_price_per_hour_usd:.2f}/h at {p.break_even_tokens_per_hour:,.0f} tokens/h, more "
                f"than one unit carries ({p.unit_capacity_tokens_per_hour:,}/h).")
            notes.append(f"Seed 001's '30–50% savings' from provisioned do not follow from its own prices: "
                         f"{p.verdict}.")
    notes.append("Utilisation is of one unit's rated tokens/min; a unit sized for the peak (capacity_plan) runs at "
                 "average / peak utilisation over the day, 1 / peak_multiplier (29% at 3.5) when billed 24 h.")
    assumptions = assumptions_of(inputs)
    assumptions["formula"] = ("break-even utilisation = unit price × (1 − discount) / (tokens/min × 60 × blended "
                              "on-demand USD per token); blended = (in × price_in + out × price_out) / (in + out)")
    return BreakEvenReport(points=points, assumptions=assumptions, notes=notes)
