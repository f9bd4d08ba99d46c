"""Capacity sizing at SPEC §3's traffic: 11.57 / 40.5 / 81 RPS, 1.94M tokens/min, 49 Sonnet units (SPEC §7)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mangaassist.planning import CapacityInputs, capacity_plan


def test_spec_traffic_figures():
    plan = capacity_plan(CapacityInputs(messages_per_day=1_000_000, peak_multiplier=3.5, burst_factor=2,
                                        tokens_per_request=800))
    assert plan.average_rps == pytest.approx(11.57, abs=0.005)
    assert plan.peak_rps == pytest.approx(40.5, abs=0.01)
    assert plan.burst_rps == pytest.approx(81.0, abs=0.02)
    assert plan.tokens_per_minute_peak == pytest.approx(1.94e6, rel=0.003)
    assert round(plan.tokens_per_minute_peak) == 1_944_444


def test_the_seed_prose_says_2_units_the_arithmetic_says_49():
    plan = capacity_plan()
    assert plan.model_units["sonnet"] == 49  # ceil(1,944,444 / 40,000) = ceil(48.6)
    assert plan.model_units["haiku"] == 49  # seed 001: 40k for Haiku too
    assert any("2 Sonnet MUs" in note and "49" in note for note in plan.notes)
    assert any("lambda_on_demand" in note for note in plan.notes)  # the seed's own rule picks Lambda at 81 RPS


def test_haiku_unit_capacity_is_a_parameter():
    plan = capacity_plan(CapacityInputs(tokens_per_minute_per_unit={"sonnet": 40_000, "haiku": 80_000}))
    assert plan.model_units == {"sonnet": 49, "haiku": 25}  # seed 000's 80k for Haiku


def test_instances_and_concurrency_follow_the_stated_rules():
    plan = capacity_plan()
    assert plan.sagemaker_instances_peak == 6  # ceil(40.5 / 8)
    assert plan.sagemaker_instances == 13  # ceil(81.02 × 1.2 / 8): burst + 20% headroom
    assert plan.sagemaker_instances_off_peak == 1
    assert plan.lambda_concurrency == 487  # ceil(81.02 RPS × 2.5 s (p95) × 2 functions × 1.2)
    assert plan.lambda_concurrency_peak_p50 == 82  # ceil(40.5 × 1.0 s × 2)
    assert plan.model_units_burst["sonnet"] == 117  # ceil(3.89M × 1.2 / 40k)
    no_headroom = capacity_plan(CapacityInputs(headroom=0))
    assert no_headroom.sagemaker_instances == 11 and no_headroom.model_units["sonnet"] == 49


def test_every_input_is_named_in_the_assumptions():
    plan = capacity_plan()
    for name in CapacityInputs.model_fields:
        assert name in plan.assumptions
    assert "headroom" in plan.assumptions["sizing_rule"]


def test_off_peak_traffic_is_what_the_peak_window_leaves():
    plan = capacity_plan()
    # 6 h at 40.5 RPS carry 875,000 messages; the other 125,000 spread over 18 h
    assert plan.off_peak_rps == pytest.approx(125_000 / (18 * 3600))
    clamped = capacity_plan(CapacityInputs(peak_multiplier=5, peak_hours_per_day=12))
    assert clamped.off_peak_rps == 0 and any("capped" in note for note in clamped.notes)


@pytest.mark.parametrize("bad", [{"messages_per_day": 0}, {"peak_multiplier": 0.5}, {"headroom": -0.1},
                                 {"tokens_per_minute_per_unit": {"sonnet": 0}}, {"unknown": 1}])
def test_bad_inputs_are_rejected(bad):
    with pytest.raises(ValidationError):
        CapacityInputs(**bad)
