"""pricing.py: SPEC §3 token prices as exact Decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangaassist.answer.pricing import DEFAULT_PRICES as PRICES
from mangaassist.answer.pricing import PriceTableError, cost_usd, parse_price_table
from mangaassist.turn import Target

tokens = st.integers(min_value=0, max_value=10_000_000)


def test_prices_per_million_tokens_are_the_spec_figures() -> None:
    assert PRICES[Target.HAIKU] == (Decimal("0.25"), Decimal("1.25"))
    assert PRICES[Target.SONNET] == (Decimal("3.00"), Decimal("15.00"))


def test_every_target_has_a_price() -> None:
    assert set(PRICES) == set(Target)


def test_haiku_500_in_350_out() -> None:
    cost = cost_usd(Target.HAIKU, 500, 350)
    assert isinstance(cost, Decimal)
    assert cost == Decimal("0.0005625")


def test_sonnet_500_in_350_out() -> None:
    assert cost_usd(Target.SONNET, 500, 350) == Decimal("0.00675")


def test_daily_figures_at_one_million_messages() -> None:
    # SPEC §3: all-Sonnet $6,750/day, all-Haiku $562.50/day at 500 in / 350 out.
    assert cost_usd(Target.SONNET, 500, 350) * 1_000_000 == Decimal("6750")
    assert cost_usd(Target.HAIKU, 500, 350) * 1_000_000 == Decimal("562.5")


def test_one_million_tokens_costs_the_list_price() -> None:
    assert cost_usd(Target.HAIKU, 1_000_000, 0) == Decimal("0.25")
    assert cost_usd(Target.HAIKU, 0, 1_000_000) == Decimal("1.25")
    assert cost_usd(Target.SONNET, 1_000_000, 0) == Decimal("3")
    assert cost_usd(Target.SONNET, 0, 1_000_000) == Decimal("15")


def test_sonnet_is_12_times_haiku() -> None:
    assert cost_usd(Target.SONNET, 500, 350) == 12 * cost_usd(Target.HAIKU, 500, 350)


def test_single_tokens_are_exact() -> None:
    assert cost_usd(Target.HAIKU, 1, 0) == Decimal("0.00000025")
    assert cost_usd(Target.HAIKU, 0, 1) == Decimal("0.00000125")


@pytest.mark.parametrize("target", [Target.SONNET_PROVISIONED, Target.SAGEMAKER, Target.CANNED])
def test_capacity_billed_targets_cost_nothing_per_call(target: Target) -> None:
    assert cost_usd(target, 500, 350) == Decimal("0")


def test_zero_tokens_cost_zero() -> None:
    assert cost_usd(Target.SONNET, 0, 0) == Decimal("0")


@pytest.mark.parametrize(("input_tokens", "output_tokens"), [(-1, 0), (0, -1), (-500, -350)])
@pytest.mark.parametrize("target", list(Target))
def test_negative_tokens_raise(target: Target, input_tokens: int, output_tokens: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_usd(target, input_tokens, output_tokens)


@given(target=st.sampled_from(list(Target)), input_tokens=tokens, output_tokens=tokens)
def test_cost_is_never_negative(target: Target, input_tokens: int, output_tokens: int) -> None:
    cost = cost_usd(target, input_tokens, output_tokens)
    assert isinstance(cost, Decimal)
    assert cost >= 0


@given(input_tokens=tokens, output_tokens=tokens)
def test_sonnet_haiku_ratio_is_exactly_12(input_tokens: int, output_tokens: int) -> None:
    haiku = cost_usd(Target.HAIKU, input_tokens, output_tokens)
    sonnet = cost_usd(Target.SONNET, input_tokens, output_tokens)
    if input_tokens or output_tokens:
        assert sonnet / haiku == 12
    assert sonnet == 12 * haiku


@given(a_in=tokens, a_out=tokens, b_in=tokens, b_out=tokens)
def test_cost_is_additive(a_in: int, a_out: int, b_in: int, b_out: int) -> None:
    together = cost_usd(Target.HAIKU, a_in + b_in, a_out + b_out)
    assert together == cost_usd(Target.HAIKU, a_in, a_out) + cost_usd(Target.HAIKU, b_in, b_out)


def test_price_table_overrides_one_tier_and_keeps_the_rest() -> None:
    table = parse_price_table('{"haiku": {"input": "0.30", "output": "1.50"}}')
    assert table[Target.HAIKU] == (Decimal("0.30"), Decimal("1.50"))
    assert table[Target.SONNET] == PRICES[Target.SONNET]


@pytest.mark.parametrize("text", ['{"haiku": {"input": "x", "output": "1"}}', '{"gpt": {"input": 1, "output": 1}}',
                                  '{"haiku": {"input": "-1", "output": "1"}}', "[1, 2]", "{not json"])
def test_bad_price_table_is_a_clear_error(text: str) -> None:
    with pytest.raises(PriceTableError):
        parse_price_table(text)
