"""Cascade strategies, TCO and break-even at SPEC §3's prices, and the seeds' arithmetic traps (SPEC §7)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mangaassist.planning import (
    BreakEvenInputs,
    Commitment,
    Pattern,
    StrategyInputs,
    TcoInputs,
    TokenPrice,
    break_even,
    compare_strategies,
    total_cost_of_ownership,
)


def test_all_sonnet_and_all_haiku_per_day_exactly():
    s = compare_strategies().strategies
    assert s["all_sonnet"].daily_cost_usd == Decimal("6750.00")
    assert s["all_haiku"].daily_cost_usd == Decimal("562.50")
    assert s["all_sonnet"].monthly_cost_usd == Decimal("202500")  # 30 days
    assert s["all_haiku"].monthly_cost_usd == Decimal("16875")


def test_cascade_costs_one_twelfth_plus_the_escalation_rate():
    result = compare_strategies(StrategyInputs(escalation_rate=Decimal("0.15")))
    cascade = result.strategies["cascade"]
    assert cascade.daily_cost_usd == Decimal("562.5") + Decimal("0.15") * Decimal("6750")  # 1,575
    assert result.identity.holds and result.identity.twelve_x
    assert result.identity.price_ratio == 12
    assert cascade.saving_vs_all_sonnet.quantize(Decimal("0.001")) == Decimal("0.767")
    assert any("55.3%" in note for note in result.notes)


def test_the_cache_scales_the_cascade_by_its_miss_rate():
    result = compare_strategies(StrategyInputs(cache_hit_rate=Decimal("0.2")))
    assert result.strategies["cascade_cache"].daily_cost_usd == result.strategies["cascade"].daily_cost_usd * Decimal(
        "0.8")


def test_raw_efficiency_score_prefers_all_haiku_the_quality_floor_picks_a_cascade():
    result = compare_strategies()
    assert result.best_by_score == "all_haiku"  # seed 002's own score, as written
    assert result.best_meeting_quality_floor in {"cascade", "cascade_cache"}
    assert result.best_meeting_quality_floor == "cascade_cache"
    assert not result.strategies["all_haiku"].meets_quality_floor
    without_cache = compare_strategies(StrategyInputs(cache_hit_rate=Decimal(0),
                                                      quality={"all_sonnet": 0.97, "all_haiku": 0.82, "cascade": 0.94,
                                                               "cascade_cache": 0.80}))
    assert without_cache.best_meeting_quality_floor == "cascade"
    assert any("all_haiku first" in note for note in result.notes)


def test_seed_efficiency_score_formula():
    from mangaassist.planning.strategies import efficiency_score

    # seed 002's own table: All Haiku 0.82 at $0.0003 → 41.0; All Sonnet 0.97 at $0.0096, 1,200 ms → 1.5156
    assert efficiency_score(0.82, Decimal("0.0003"), 300, Decimal("0.015"), 3000) == 41.0
    assert efficiency_score(0.97, Decimal("0.0096"), 1200, Decimal("0.015"), 3000) == pytest.approx(1.5156)


def test_strategy_prices_come_from_the_inputs():
    cheap = {"haiku": TokenPrice(input=Decimal("0.25"), output=Decimal("1.25")),
             "sonnet": TokenPrice(input=Decimal("0.50"), output=Decimal("2.50"))}
    result = compare_strategies(StrategyInputs(prices=cheap))
    assert result.identity.price_ratio == 2 and not result.identity.twelve_x and result.identity.holds


def test_tco_marks_the_seed_configuration_not_viable_and_prices_what_it_needs():
    report = total_cost_of_ownership()
    by = {p.pattern: p for p in report.patterns}
    provisioned = by[Pattern.BEDROCK_PROVISIONED]
    assert not provisioned.viable and provisioned.priced_at == "required"
    assert provisioned.configured["sonnet_units"] == 2 and provisioned.required["sonnet_units"] == 49
    assert provisioned.compute_usd == 49 * 23 * 24 * 30
    assert provisioned.total_usd == provisioned.compute_usd + provisioned.token_usd + provisioned.operations_usd
    sagemaker = by[Pattern.SAGEMAKER_REALTIME]
    assert not sagemaker.viable and "32 RPS" in sagemaker.reason and "40.5 RPS" in sagemaker.reason
    assert not by[Pattern.SAGEMAKER_SERVERLESS].viable and not by[Pattern.SAGEMAKER_SERVERLESS].can_be_sized
    assert by[Pattern.LAMBDA_BEDROCK_ON_DEMAND].viable
    assert report.cheapest_viable == Pattern.LAMBDA_BEDROCK_ON_DEMAND
    assert any("2 sonnet units" in note and "49 units" in note for note in report.notes)


def test_tco_operations_hours_and_rate():
    report = total_cost_of_ownership(TcoInputs(engineer_hourly_rate=Decimal(200)))
    ops = {p.pattern: p.operations_usd for p in report.patterns}
    assert ops[Pattern.SAGEMAKER_REALTIME] == 2400 and ops[Pattern.LAMBDA_BEDROCK_ON_DEMAND] == 400


def test_tco_sized_patterns_become_viable():
    report = total_cost_of_ownership(TcoInputs(provisioned_units=49, sagemaker_peak_instances=13,
                                               sagemaker_base_instances=1))
    by = {p.pattern: p for p in report.patterns}
    assert by[Pattern.BEDROCK_PROVISIONED].viable and by[Pattern.BEDROCK_PROVISIONED].priced_at == "configured"
    assert by[Pattern.SAGEMAKER_REALTIME].viable


def test_a_commitment_bills_every_hour():
    report = total_cost_of_ownership(TcoInputs(commitment=Commitment.ONE_MONTH, provisioned_hours_per_day=Decimal(6),
                                               provisioned_units=49))
    provisioned = next(p for p in report.patterns if p.pattern == Pattern.BEDROCK_PROVISIONED)
    assert provisioned.compute_usd == 49 * Decimal("16.10") * 24 * 30
    assert any("bills every hour" in note for note in report.notes)


def test_sonnet_never_breaks_even_without_a_commitment():
    report = break_even()
    none = report.point("sonnet", Commitment.NONE)
    assert none.never and none.break_even_utilisation is None
    assert none.on_demand_value_per_unit_hour_usd.quantize(Decimal("0.01")) == Decimal("19.06")  # ~$19/h vs $23/h
    assert none.utilisation_needed == pytest.approx(1.2068, abs=1e-4)
    month = report.point("sonnet", Commitment.ONE_MONTH)
    assert not month.never and month.break_even_utilisation == pytest.approx(0.8448, abs=1e-4)
    assert report.point("sonnet", "six_months").break_even_utilisation == pytest.approx(0.6034, abs=1e-4)
    assert all(p.never for p in report.points if p.model == "haiku")  # $1.59/h of tokens vs $5/h (40k/min)


def test_the_seed_rule_of_300k_tokens_per_hour_is_about_ten_times_off():
    report = break_even()
    none = report.point("sonnet", Commitment.NONE)
    assert 9 < none.break_even_tokens_per_hour / 300_000 < 11
    assert any("300,000 tokens/hour" in note and "9.7×" in note for note in report.notes)


def test_break_even_discounts_are_parameters():
    report = break_even(BreakEvenInputs(commitment_discounts={"none": Decimal("0.25"), "one_month": Decimal("0.3"),
                                                              "six_months": Decimal("0.5")}))
    assert not report.point("sonnet", "none").never  # 17.25 < 19.06
