"""Multi-criteria model selection (seed 002's ModelSelectorFramework): hard constraints, then a weighted score.

Hard constraints: average latency, estimated cost per query, minimum quality, language support and context
length. The eligible models are scored 0–1 on cost (1 − cost / max cost), quality, latency (1 − latency / max
latency) and task fit (1.0 a strength, 0.3 a weakness, 0.6 otherwise), weighted by the optimisation goal.
Unlike the seed, the minimum quality is enforced and nothing is relaxed silently: with no eligible model there
is no selection, and the ranking says what excluded each one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from mangaassist.planning.models import (
    PlanModel,
    PlanResult,
    TokenPrice,
    Usd,
    assumptions_of,
    default_token_prices,
)

Goal = Literal["cost", "quality", "latency", "balanced"]
WEIGHT_PROFILES: dict[str, dict[str, float]] = {  # seed 002
    "cost": {"cost": 0.50, "quality": 0.20, "latency": 0.15, "fit": 0.15},
    "quality": {"cost": 0.10, "quality": 0.50, "latency": 0.15, "fit": 0.25},
    "latency": {"cost": 0.15, "quality": 0.15, "latency": 0.50, "fit": 0.20},
    "balanced": {"cost": 0.25, "quality": 0.30, "latency": 0.20, "fit": 0.25},
}


class ModelProfile(PlanModel):
    name: str
    price: TokenPrice
    avg_latency_ms: float = Field(ge=0)
    quality: float = Field(ge=0, le=1)
    max_context_tokens: int = Field(default=200_000, gt=0)
    languages: list[str] = Field(default_factory=lambda: ["ja", "en"])
    strengths: list[str] = Field(default_factory=list)
    weaknesses: list[str] = Field(default_factory=list)


def default_profiles() -> list[ModelProfile]:
    """Seed 002's Haiku and Sonnet profiles, priced from answer.pricing."""
    prices = default_token_prices()
    return [
        ModelProfile(name="haiku", price=prices["haiku"], avg_latency_ms=250, quality=0.82,
                     strengths=["classification", "extraction", "faq", "search", "greeting"],
                     weaknesses=["nuanced_reasoning", "creative_writing", "complex_comparison"]),
        ModelProfile(name="sonnet", price=prices["sonnet"], avg_latency_ms=800, quality=0.95,
                     strengths=["nuanced_reasoning", "creative_writing", "complex_comparison", "recommendation",
                                "translation", "cultural_context"]),
    ]


class SelectionInputs(PlanModel):
    task: str = Field(default="general", description="task category for the task-fit score (seed 002)")
    goal: Goal = Field(default="balanced", description="optimisation goal choosing the weights (seed 002)")
    weights: dict[str, float] | None = Field(default=None,
                                             description="cost/quality/latency/fit weights; None = the goal's")
    max_latency_ms: float = Field(default=3000, gt=0, description="hard constraint (seed 002, SPEC §3)")
    max_cost_per_query_usd: Usd = Field(default=Decimal("0.02"), gt=0, description="hard constraint (seed 002)")
    min_quality: float = Field(default=0.85, ge=0, le=1,
                               description="hard constraint (seed 002; the seed never enforced it)")
    language: str = Field(default="ja", description="language the model must support")
    input_tokens: int = Field(default=500, ge=0, description="input tokens per query (SPEC §3)")
    output_tokens: int = Field(default=350, ge=0,
                               description="output tokens (SPEC §3; seed 002's 70% of input: the same)")
    models: list[ModelProfile] = Field(default_factory=default_profiles, description="candidates (seed 002)")

    @field_validator("weights")
    @classmethod
    def _four_weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and (set(value) != {"cost", "quality", "latency", "fit"}
                                  or any(w < 0 for w in value.values()) or sum(value.values()) <= 0):
            raise ValueError("weights need exactly cost, quality, latency, fit; non-negative, not all zero")
        return value


class ModelScore(PlanModel):
    name: str
    eligible: bool
    excluded_by: list[str]
    cost_per_query_usd: Usd
    cost_score: float
    quality_score: float
    latency_score: float
    fit_score: float
    total_score: float


class ModelSelection(PlanResult):
    selected: str | None
    score: float | None
    ranking: list[ModelScore]
    weights: dict[str, float]
    reason: str
    trade_offs: list[str]


def _score(model: ModelProfile, inputs: SelectionInputs, weights: dict[str, float]) -> ModelScore:
    cost = model.price.per_message(inputs.input_tokens, inputs.output_tokens)
    excluded = []
    if model.avg_latency_ms > inputs.max_latency_ms:
        excluded.append("latency")
    if cost > inputs.max_cost_per_query_usd:
        excluded.append("cost")
    if model.quality < inputs.min_quality:
        excluded.append("quality")
    if inputs.language not in model.languages:
        excluded.append("language")
    if inputs.input_tokens + inputs.output_tokens > model.max_context_tokens:
        excluded.append("context")
    task = inputs.task.lower()
    scores = {"cost": max(0.0, 1.0 - float(cost / inputs.max_cost_per_query_usd)), "quality": model.quality,
              "latency": max(0.0, 1.0 - model.avg_latency_ms / inputs.max_latency_ms),
              "fit": 1.0 if task in model.strengths else 0.3 if task in model.weaknesses else 0.6}
    total = sum(weights[k] * v for k, v in scores.items())
    return ModelScore(name=model.name, eligible=not excluded, excluded_by=excluded, cost_per_query_usd=cost,
                      cost_score=round(scores["cost"], 4), quality_score=round(scores["quality"], 4),
                      latency_score=round(scores["latency"], 4), fit_score=scores["fit"], total_score=round(total, 4))


def _trade_off(chosen: ModelProfile, other: ModelProfile, inputs: SelectionInputs) -> str:
    a = chosen.price.per_message(inputs.input_tokens, inputs.output_tokens)
    b = other.price.per_message(inputs.input_tokens, inputs.output_tokens)
    cost = ("costs the same" if a == b else
            f"costs ${abs(a - b):.6f} {'more' if a > b else 'less'} per query"
            + (f" ({float(a / b):.1f}×)" if b and a > b else f" ({float(b / a):.1f}× cheaper)" if a else ""))
    quality = chosen.quality - other.quality
    latency = chosen.avg_latency_ms - other.avg_latency_ms
    return (f"{chosen.name} over {other.name}: {cost}, quality {quality:+.2f}, "
            f"{abs(latency):,.0f} ms {'slower' if latency > 0 else 'faster'} on average")


def select_model(inputs: SelectionInputs | None = None) -> ModelSelection:
    inputs = inputs or SelectionInputs()
    raw = inputs.weights or WEIGHT_PROFILES[inputs.goal]
    weights = {k: v / sum(raw.values()) for k, v in raw.items()}
    ranking = sorted((_score(m, inputs, weights) for m in inputs.models),
                     key=lambda s: (not s.eligible, -s.total_score))
    chosen = ranking[0] if ranking and ranking[0].eligible else None
    profiles = {m.name: m for m in inputs.models}
    trade_offs: list[str] = []
    if chosen is not None:
        trade_offs = [_trade_off(profiles[chosen.name], profiles[s.name], inputs) for s in ranking[1:]]
        reason = (f"{chosen.name} scores {chosen.total_score:.4f} for {inputs.goal} goals on task '{inputs.task}' "
                  "among the models meeting every hard constraint")
    else:
        reason = "no model meets every hard constraint: " + "; ".join(
            f"{s.name} fails {', '.join(s.excluded_by)}" for s in ranking)
    for s in ranking:
        if not s.eligible:
            trade_offs.append(f"{s.name} excluded by {', '.join(s.excluded_by)} (score {s.total_score:.4f})")
    notes = ["Seed 002's selector filters on latency and cost only (its min_quality_score is never checked) and "
             "relaxes every constraint when nothing passes; here quality, language and context are enforced and "
             "nothing is relaxed."]
    haiku = profiles.get("haiku")
    if haiku is not None and haiku.quality < inputs.min_quality:
        notes.append(f"At min_quality {inputs.min_quality:g} Haiku ({haiku.quality:g}) is excluded, so the seed's "
                     "own defaults select Sonnet whatever the goal; Haiku-first is the cascade's job, not the "
                     "selector's.")
    assumptions = assumptions_of(inputs)
    assumptions["weights_used"] = ", ".join(f"{k}: {v:.2f}" for k, v in weights.items())
    return ModelSelection(selected=chosen.name if chosen else None, score=chosen.total_score if chosen else None,
                          ranking=ranking, weights=weights, reason=reason, trade_offs=trade_offs,
                          assumptions=assumptions, notes=notes)
