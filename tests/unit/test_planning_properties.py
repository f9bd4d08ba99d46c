"""Properties: more traffic never needs less capacity; a strategy's cost is the sum of its parts; the cascade
costs exactly 1/12 + the escalation rate of all-Sonnet at SPEC §3 prices."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from mangaassist.planning import CapacityInputs, StrategyInputs, capacity_plan, compare_strategies

messages = st.integers(min_value=1, max_value=50_000_000)
multipliers = st.floats(min_value=1, max_value=8, allow_nan=False)
rates = st.decimals(min_value=0, max_value=1, places=4)


@given(a=messages, b=messages, peak=multipliers, burst=multipliers, tokens=st.integers(1, 20_000))
def test_more_traffic_never_needs_fewer_units_instances_or_concurrency(a, b, peak, burst, tokens):
    low, high = sorted((a, b))
    small, large = (capacity_plan(CapacityInputs(messages_per_day=n, peak_multiplier=peak, burst_factor=burst,
                                                 tokens_per_request=tokens)) for n in (low, high))
    for model in small.model_units:
        assert small.model_units[model] <= large.model_units[model]
        assert small.model_units_burst[model] <= large.model_units_burst[model]
    assert small.sagemaker_instances <= large.sagemaker_instances
    assert small.sagemaker_instances_peak <= large.sagemaker_instances_peak
    assert small.lambda_concurrency <= large.lambda_concurrency
    assert small.peak_rps <= large.peak_rps <= large.burst_rps


@given(n=messages, tokens_in=st.integers(1, 5_000), tokens_out=st.integers(0, 5_000), escalation=rates,
       cache=rates)
def test_each_strategy_costs_the_sum_of_its_parts(n, tokens_in, tokens_out, escalation, cache):
    result = compare_strategies(StrategyInputs(messages_per_day=n, input_tokens=tokens_in, output_tokens=tokens_out,
                                               escalation_rate=escalation, cache_hit_rate=cache))
    for strategy in result.strategies.values():
        assert strategy.daily_cost_usd == sum(strategy.parts.values(), Decimal(0))
        assert strategy.monthly_cost_usd == strategy.daily_cost_usd * 30
        assert strategy.daily_cost_usd >= 0


@given(n=messages, tokens_in=st.integers(1, 5_000), tokens_out=st.integers(0, 5_000), escalation=rates)
def test_cascade_over_all_sonnet_is_one_twelfth_plus_the_escalation_rate_exactly(n, tokens_in, tokens_out,
                                                                                  escalation):
    result = compare_strategies(StrategyInputs(messages_per_day=n, input_tokens=tokens_in, output_tokens=tokens_out,
                                               escalation_rate=escalation, cache_hit_rate=Decimal(0)))
    cascade = Fraction(result.strategies["cascade"].daily_cost_usd)
    sonnet = Fraction(result.strategies["all_sonnet"].daily_cost_usd)
    assert cascade / sonnet == Fraction(1, 12) + Fraction(escalation)
    assert result.identity.holds and result.identity.twelve_x
