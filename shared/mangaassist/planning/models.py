"""What the planning modules share: the base models, money, the deployment patterns and the price look-ups.

Token prices are not repeated here: they come from `mangaassist.answer.pricing.DEFAULT_PRICES` (SPEC §3),
the same table Finalize prices turns with. The hourly prices below (provisioned model units, SageMaker
instances) are the seeds' figures; every one of them is a default of some input model and can be overridden.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from mangaassist.answer.pricing import DEFAULT_PRICES, MILLION
from mangaassist.turn import Target

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
HOURS_PER_DAY = 24


def _plain(value: Decimal) -> str:
    """A Decimal as plain digits without trailing zeros (6750, 562.5; never 6.75E+3) for JSON."""
    return format(value.normalize(), "f")


# Money: Decimal in Python, a plain decimal string in JSON.
Usd = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class PlanModel(BaseModel):
    """Inputs and results are immutable; unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanResult(PlanModel):
    """Every result names what it assumed and where it departs from the seeds' arithmetic."""

    assumptions: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Pattern(StrEnum):
    """The four deployment patterns of seeds 000/001."""

    LAMBDA_BEDROCK_ON_DEMAND = "lambda_bedrock_on_demand"
    BEDROCK_PROVISIONED = "bedrock_provisioned"
    SAGEMAKER_REALTIME = "sagemaker_realtime"
    SAGEMAKER_SERVERLESS = "sagemaker_serverless"


class Commitment(StrEnum):
    """Bedrock provisioned-throughput commitment terms (SPEC §3)."""

    NONE = "none"
    ONE_MONTH = "one_month"
    SIX_MONTHS = "six_months"


class TokenPrice(PlanModel):
    """USD per 1M tokens."""

    input: Usd = Field(ge=0)
    output: Usd = Field(ge=0)

    def per_message(self, input_tokens: int, output_tokens: int) -> Decimal:
        return (self.input * input_tokens + self.output * output_tokens) / MILLION


MODELS = ("haiku", "sonnet")


def default_token_prices() -> dict[str, TokenPrice]:
    """Haiku and Sonnet on-demand prices from answer.pricing (SPEC §3)."""
    return {name: TokenPrice(input=DEFAULT_PRICES[Target(name)][0], output=DEFAULT_PRICES[Target(name)][1])
            for name in MODELS}


def default_unit_prices() -> dict[str, Decimal]:
    """Provisioned model unit, USD per hour: Sonnet ≈ $23, Haiku ≈ $5 (SPEC §3, seed 001)."""
    return {"sonnet": Decimal("23"), "haiku": Decimal("5")}


def default_tokens_per_minute_per_unit() -> dict[str, int]:
    """Tokens per minute one model unit carries: 40k for both (seed 001); seed 000 says 80k for Haiku."""
    return {"sonnet": 40_000, "haiku": 40_000}


def default_commitment_discounts() -> dict[Commitment, Decimal]:
    """Discount on the hourly unit price: none, 1 month ≈ 30%, 6 months ≈ 50% (seed 001)."""
    return {Commitment.NONE: Decimal("0"), Commitment.ONE_MONTH: Decimal("0.30"),
            Commitment.SIX_MONTHS: Decimal("0.50")}


def exact(value: float | int | Decimal) -> Fraction:
    """The decimal a number was written as, exactly (3.5 -> 7/2), so ceilings are never off by float noise."""
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def ceil_fraction(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value) + "}"
    return str(value)


def assumptions_of(inputs: BaseModel, prefix: str = "") -> dict[str, str]:
    """Every input field as "value — what it is and where it comes from" (nested inputs flattened: a.b)."""
    out: dict[str, str] = {}
    for name, field in type(inputs).model_fields.items():
        value = getattr(inputs, name)
        key = f"{prefix}{name}"
        if isinstance(value, PlanModel) and not isinstance(value, TokenPrice):
            out.update(assumptions_of(value, f"{key}."))
            continue
        description = field.description or ""
        out[key] = f"{_show(value)} — {description}" if description else _show(value)
    return out


def money(value: Decimal, places: int = 2) -> str:
    """$1,234.56 for prose and tables."""
    quantum = Decimal(1).scaleb(-places)
    return f"${value.quantize(quantum):,}"
