"""Throughput and capacity sizing: requests per second, tokens per minute, model units, instances, concurrency.

The arithmetic of seed 000's throughput calculator, followed to its end (SPEC §7): 1M messages/day is
11.57 RPS, × 3.5 = 40.5 RPS at peak, × 2 = 81 RPS in a burst; at 800 tokens per request the peak is
1.94M tokens/min, which is 49 Sonnet model units at 40k tokens/min each, not the 2 its prose concludes.
Ceilings are taken on exact fractions, so a count is never off by one through float noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from pydantic import Field, field_validator

from mangaassist.planning.models import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    PlanModel,
    PlanResult,
    assumptions_of,
    ceil_fraction,
    default_tokens_per_minute_per_unit,
    exact,
)

SEED_PROSE_SONNET_UNITS = 2  # seed 000: "bedrock_provisioned with 2 Sonnet MUs + 1 Haiku MU"
SEED_LAMBDA_CONCURRENCY_LIMIT = 1_000  # seed 000's ThroughputCalculator
SEED_LAMBDA_SECONDS = 2  # seed 000's average Lambda duration


class CapacityInputs(PlanModel):
    messages_per_day: int = Field(default=1_000_000, gt=0, description="chat messages per day (SPEC §3)")
    peak_multiplier: float = Field(default=3.5, ge=1, description="peak RPS / average RPS (SPEC §3, seed 000)")
    burst_factor: float = Field(default=2.0, ge=1, description="burst RPS / peak RPS (SPEC §3, seed 000)")
    peak_hours_per_day: float = Field(default=6, gt=0, le=24, description="hours at peak, 18:00–24:00 JST (SPEC §3)")
    tokens_per_request: int = Field(default=800, gt=0,
                                    description="input + output tokens per request (seed 000: 500 + 300)")
    tokens_per_minute_per_unit: dict[str, int] = Field(
        default_factory=default_tokens_per_minute_per_unit,
        description="tokens/min one provisioned model unit carries (seed 001: 40k for Sonnet and Haiku; "
                    "seed 000 says 80k for Haiku)")
    sagemaker_instance_type: str = Field(default="ml.g5.2xlarge", description="SageMaker instance type (seeds 000/001)")
    sagemaker_rps_per_instance: float = Field(default=8, gt=0,
                                              description="requests/s one ml.g5.2xlarge serves (seed 000)")
    turn_p50_seconds: float = Field(default=1.0, gt=0, description="turn latency p50 for Little's law (SPEC §3 SLA)")
    turn_p95_seconds: float = Field(default=2.5, gt=0, description="turn latency p95 for Little's law (SPEC §3 SLA)")
    functions_in_flight_per_turn: int = Field(
        default=2, ge=1, description="Lambdas running at once per turn: sendMessage waits on the synchronous "
                                     "execution while one state's Lambda runs (SPEC §1)")
    headroom: float = Field(
        default=0.2, ge=0, le=10, description="spare capacity on top of the burst rate (our rule: elastic or "
                                              "instance capacity carries burst + 20%)")

    @field_validator("tokens_per_minute_per_unit")
    @classmethod
    def _positive_capacity(cls, value: dict[str, int]) -> dict[str, int]:
        if not value or any(v <= 0 for v in value.values()):
            raise ValueError("every model needs a positive tokens-per-minute capacity")
        return value


class CapacityPlan(PlanResult):
    average_rps: float
    peak_rps: float
    burst_rps: float
    off_peak_rps: float
    tokens_per_minute_peak: float
    tokens_per_minute_burst: float
    tokens_per_hour_peak: float
    model_units: dict[str, int] = Field(description="provisioned units per model for the sustained peak")
    model_units_burst: dict[str, int] = Field(description="units per model if the burst + headroom may not spill")
    sagemaker_instances: int = Field(description="instances at peak hours: burst + headroom")
    sagemaker_instances_peak: int = Field(description="instances for the peak rate, no headroom")
    sagemaker_instances_off_peak: int = Field(description="instances off-peak: off-peak burst + headroom, min 1")
    lambda_concurrency: int = Field(description="burst × p95 × functions in flight × (1 + headroom)")
    lambda_concurrency_peak_p50: int = Field(description="typical concurrency at peak: peak × p50 × functions")


@dataclass(frozen=True)
class Rates:
    """Exact request rates (requests per second) of a traffic profile."""

    average: Fraction
    peak: Fraction
    burst: Fraction
    off_peak: Fraction
    peak_window_messages: Fraction
    peak_window_clamped: bool


def rates(inputs: CapacityInputs) -> Rates:
    average = Fraction(inputs.messages_per_day, SECONDS_PER_DAY)
    peak = average * exact(inputs.peak_multiplier)
    burst = peak * exact(inputs.burst_factor)
    peak_seconds = exact(inputs.peak_hours_per_day) * SECONDS_PER_HOUR
    in_peak = peak * peak_seconds
    clamped = in_peak > inputs.messages_per_day
    in_peak = min(in_peak, Fraction(inputs.messages_per_day))
    off_peak_seconds = SECONDS_PER_DAY - peak_seconds
    off_peak = (inputs.messages_per_day - in_peak) / off_peak_seconds if off_peak_seconds else Fraction(0)
    return Rates(average=average, peak=peak, burst=burst, off_peak=off_peak, peak_window_messages=in_peak,
                 peak_window_clamped=clamped)


def capacity_plan(inputs: CapacityInputs | None = None) -> CapacityPlan:
    inputs = inputs or CapacityInputs()
    r = rates(inputs)
    headroom = 1 + exact(inputs.headroom)
    tokens = inputs.tokens_per_request
    tpm_peak = r.peak * 60 * tokens
    tpm_burst = r.burst * 60 * tokens
    units = {m: ceil_fraction(tpm_peak / cap) for m, cap in inputs.tokens_per_minute_per_unit.items()}
    units_burst = {m: ceil_fraction(tpm_burst * headroom / cap) for m, cap in inputs.tokens_per_minute_per_unit.items()}
    per_instance = exact(inputs.sagemaker_rps_per_instance)
    instances = ceil_fraction(r.burst * headroom / per_instance)
    instances_off_peak = max(1, ceil_fraction(r.off_peak * exact(inputs.burst_factor) * headroom / per_instance))
    in_flight = inputs.functions_in_flight_per_turn
    concurrency = ceil_fraction(r.burst * exact(inputs.turn_p95_seconds) * in_flight * headroom)
    typical = ceil_fraction(r.peak * exact(inputs.turn_p50_seconds) * in_flight)

    assumptions = assumptions_of(inputs)
    assumptions["seconds_per_day"] = f"{SECONDS_PER_DAY} — average RPS = messages_per_day / seconds_per_day"
    assumptions["sizing_rule"] = (
        "provisioned model units carry the sustained peak (seed 000's rule); bursts above it go down the fallback "
        "chain provisioned → on-demand (SPEC §1); SageMaker instances (5–15 min to scale out) and Lambda "
        f"concurrency carry the burst rate + {inputs.headroom:.0%} headroom")
    assumptions["littles_law"] = "concurrency = arrival rate × time in system (turn p95 for the burst sizing)"

    notes: list[str] = []
    sonnet_cap = inputs.tokens_per_minute_per_unit.get("sonnet")
    if sonnet_cap:
        carried = SEED_PROSE_SONNET_UNITS * sonnet_cap
        notes.append(
            f"Seed 000's example concludes 'bedrock_provisioned with 2 Sonnet MUs'; its own arithmetic gives "
            f"{float(tpm_peak):,.0f} tokens/min at peak = {units['sonnet']} Sonnet units at {sonnet_cap:,} "
            f"tokens/min each. 2 units carry {carried:,} tokens/min ({float(carried / tpm_peak):.1%} of the peak): "
            "we follow the arithmetic, not the prose.")
    lambda_capacity = Fraction(SEED_LAMBDA_CONCURRENCY_LIMIT, SEED_LAMBDA_SECONDS)
    if r.burst < lambda_capacity * Fraction(7, 10):
        notes.append(
            f"Seed 000's own rule (burst < 0.7 × 1,000 concurrency / 2 s = 350 RPS → lambda_on_demand) picks "
            f"Lambda on-demand for {float(r.burst):.1f} burst RPS before it ever sizes provisioned throughput.")
    notes.append("Haiku unit capacity: seed 001 says 40k tokens/min, seed 000 says 80k; "
                 f"this plan uses {inputs.tokens_per_minute_per_unit.get('haiku', 'no')} (tokens_per_minute_per_unit).")
    notes.append(
        "The seeds' SageMaker target tracking (InvocationsPerInstance = 10) counts invocations per instance per "
        f"minute: at {float(r.peak):.1f} RPS that target asks for {ceil_fraction(r.peak * 60 / 10)} instances; "
        f"a target of sagemaker_rps_per_instance × 60 = {float(per_instance * 60):.0f} matches this plan.")
    if r.peak_window_clamped:
        notes.append("peak_multiplier × peak_hours_per_day exceeds 24 h of average traffic: the peak window is capped "
                     "at the whole day's messages and off-peak traffic is zero.")
    return CapacityPlan(
        average_rps=float(r.average), peak_rps=float(r.peak), burst_rps=float(r.burst), off_peak_rps=float(r.off_peak),
        tokens_per_minute_peak=float(tpm_peak), tokens_per_minute_burst=float(tpm_burst),
        tokens_per_hour_peak=float(tpm_peak * 60), model_units=units, model_units_burst=units_burst,
        sagemaker_instances=instances, sagemaker_instances_peak=ceil_fraction(r.peak / per_instance),
        sagemaker_instances_off_peak=instances_off_peak, lambda_concurrency=concurrency,
        lambda_concurrency_peak_p50=typical, assumptions=assumptions, notes=notes)
