"""Pattern recommendation, model selection and the cost projection from observed turns."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from mangaassist.planning import (
    Pattern,
    PatternInputs,
    SelectionInputs,
    TcoInputs,
    TurnCost,
    project_from_turns,
    recommend_pattern,
    select_model,
)
from mangaassist.planning.patterns import latency_score


def test_hard_filters_name_what_excluded_each_pattern():
    result = recommend_pattern()
    by = {c.pattern: c for c in result.candidates}
    assert by[Pattern.LAMBDA_BEDROCK_ON_DEMAND].excluded_by == ["latency"]  # 4,500 ms cold-start p99 > 3,000 ms
    assert by[Pattern.SAGEMAKER_SERVERLESS].excluded_by == ["latency", "throughput"]  # 50 RPS ceiling < 81 burst
    assert by[Pattern.BEDROCK_PROVISIONED].excluded_by == ["budget"]  # 49 units × $23 × 24 h × 30 > $180,000
    assert result.recommended == Pattern.SAGEMAKER_REALTIME and result.runner_up is None
    assert result.budget_usd == Decimal("0.006") * 1_000_000 * 30
    assert all(c.reasons for c in result.candidates)
    assert [c.eligible for c in result.candidates] == sorted((c.eligible for c in result.candidates), reverse=True)


def test_the_seeds_latency_tolerance_lets_lambda_through():
    result = recommend_pattern(PatternInputs(latency_tolerance=1.5))
    assert result.recommended == Pattern.SAGEMAKER_REALTIME
    assert result.runner_up == Pattern.LAMBDA_BEDROCK_ON_DEMAND


def test_claude_only_and_a_bigger_budget():
    result = recommend_pattern(PatternInputs(needs_bedrock_model=True, max_monthly_cost_usd=Decimal(1_000_000)))
    assert result.recommended == Pattern.BEDROCK_PROVISIONED and result.runner_up is None
    nothing = recommend_pattern(PatternInputs(needs_bedrock_model=True))
    assert nothing.recommended is None and any("No pattern" in n for n in nothing.notes)


def test_weights_are_overridable_and_validated():
    cost_only = recommend_pattern(PatternInputs(latency_tolerance=1.5, weights={
        "latency": 0, "throughput": 0, "cost": 1, "operations": 0}))
    assert cost_only.weights["cost"] == 1
    with pytest.raises(ValidationError):
        PatternInputs(weights={"latency": 1})


def test_latency_score_is_continuous_at_the_target():
    assert latency_score(1000, 3000) == 100
    assert latency_score(3000, 3000) == pytest.approx(50)
    assert latency_score(3001, 3000) == pytest.approx(50, abs=0.1)
    assert latency_score(6000, 3000) == 0


def test_recommendation_uses_the_tco_of_the_same_load():
    result = recommend_pattern(PatternInputs(tco=TcoInputs(capacity={"messages_per_day": 100_000})))
    assert result.burst_rps == pytest.approx(8.1, abs=0.01)
    assert result.tco.capacity.model_units["sonnet"] == 5


def test_selector_enforces_min_quality_that_the_seed_ignored():
    result = select_model()
    assert result.selected == "sonnet"  # Haiku's 0.82 < the seed's own min_quality_score 0.85
    haiku = next(s for s in result.ranking if s.name == "haiku")
    assert haiku.excluded_by == ["quality"] and haiku.total_score > result.score
    assert any("12.0×" in t for t in result.trade_offs)


def test_selector_picks_haiku_for_cheap_faq_and_explains_the_trade_off():
    result = select_model(SelectionInputs(task="faq", goal="cost", min_quality=0.8))
    assert result.selected == "haiku"
    assert result.trade_offs[0].startswith("haiku over sonnet: costs $0.006188 less per query")
    assert result.weights == {"cost": 0.5, "quality": 0.2, "latency": 0.15, "fit": 0.15}


def test_selector_language_and_no_eligible_model():
    result = select_model(SelectionInputs(language="fr"))
    assert result.selected is None and result.score is None
    assert all("language" in s.excluded_by for s in result.ranking)
    assert "no model meets" in result.reason


def turn(day: str, cost: str, **kw) -> TurnCost:
    return TurnCost(day=day, cost_usd=Decimal(cost), **kw)


def test_projection_from_turns():
    turns = [turn("2025-11-01", "0.002", escalated=True, task="recommendation", tiers=["haiku", "sonnet"]),
             turn("2025-11-01", "0.0005", task="faq", tiers=["haiku"]),
             turn("2025-11-02", "0", fallback=True, task="faq", tier_path=["haiku", "canned"]),
             turn("2025-11-02", "0.0035", escalated=True, task="comparison", tiers=["haiku", "sonnet"])]
    p = project_from_turns(turns)
    assert p.turns == 4 and p.days_observed == 2
    assert p.total_cost_usd == Decimal("0.006")
    assert p.daily_cost_usd == Decimal("0.003") and p.monthly_cost_usd == Decimal("0.09")
    assert p.cost_per_query_usd == Decimal("0.0015") and p.meets_cost_target
    assert p.escalation_rate == 0.5 and p.fallback_rate == 0.25
    assert p.per_task["faq"].turns == 2 and p.tier_usage == {"canned": 1, "haiku": 4, "sonnet": 2}
    assert p.daily_cost_at_volume_usd == Decimal("1500")
    assert project_from_turns(turns, days_in_month=31).monthly_cost_usd == Decimal("0.093")


def test_projection_of_nothing_and_bad_days():
    empty = project_from_turns([])
    assert empty.turns == 0 and empty.cost_per_query_usd == 0 and empty.escalation_rate == 0
    with pytest.raises(ValidationError):
        turn("01/11/2025", "0.1")
    with pytest.raises(ValidationError):
        turn("2025-11-01", "-0.1")
    over = project_from_turns([turn("2025-11-01", "0.01")])
    assert not over.meets_cost_target
