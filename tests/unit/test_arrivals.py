"""The load tester's pure parts: arrival schedules (count, shape, ramp over the whole duration, spike and burst
ratios; nothing is sent), the production message mix, and the summary's arithmetic."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest
from pydantic import ValidationError

from mangaassist.catalog.store import catalog
from mangaassist.quality.arrivals import LoadShape, Pattern, Process, ratio_check, schedule
from mangaassist.quality.load_report import (
    CLIENT_TIMEOUT,
    LoadTestResult,
    Percentiles,
    percentile,
    sample_from_reply,
    sample_without_reply,
    summarize,
    time_bins,
)
from mangaassist.quality.traffic_mix import PRODUCTION_MIX, MessageMaker
from mangaassist.text import ORDER_ID, detect_language
from mangaassist_offline.sample_data import orders

ORDERS = sorted(orders())  # the sample orders the local stack serves


def share(times: list[float], start: float, end: float) -> float:
    return sum(start <= t < end for t in times) / len(times)


@pytest.mark.parametrize("pattern", list(Pattern))
@pytest.mark.parametrize("process", list(Process))
def test_every_arrival_is_inside_the_duration_in_order(pattern: Pattern, process: Process) -> None:
    shape = LoadShape(pattern=pattern, rate=4, duration=30)
    times = schedule(shape, seed=7, process=process)
    assert times == sorted(times)
    assert times and 0 <= times[0] and times[-1] < 30


@pytest.mark.parametrize("pattern,expected", [("sustained", 600), ("mix", 600), ("ramp", 300),
                                              ("burst", 48 * 10 + 12 * 20), ("spike", 48 * 10 + 12 * 100)])
def test_counts_follow_the_rate_integral(pattern: str, expected: float) -> None:
    shape = LoadShape(pattern=Pattern(pattern), rate=10, duration=60)
    assert shape.expected_count() == pytest.approx(expected)
    assert len(schedule(shape, seed=1, process=Process.EVEN)) == expected
    # Poisson: within four standard deviations of the mean, for several seeds
    for seed in range(5):
        assert abs(len(schedule(shape, seed=seed)) - expected) < 4 * math.sqrt(expected)


def test_poisson_arrivals_are_seeded_and_exponential() -> None:
    shape = LoadShape(rate=20, duration=200)
    times = schedule(shape, seed=3)
    assert times == schedule(shape, seed=3)
    assert times != schedule(shape, seed=4)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    assert mean == pytest.approx(1 / 20, rel=0.05)
    # exponential gaps: the standard deviation equals the mean (even spacing would have none)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    assert sd == pytest.approx(mean, rel=0.1)


@pytest.mark.parametrize("process", list(Process))
def test_the_ramp_rises_across_the_whole_duration(process: Process) -> None:
    """λ = rate·t/T: a quarter of the arrivals in the first half, 19% in the last tenth; the seed put them all in
    the first 23 s of 60."""
    shape = LoadShape(pattern=Pattern.RAMP, rate=20, duration=60)
    times = schedule(shape, seed=11, process=process)
    tolerance = 0.01 if process is Process.EVEN else 0.05
    assert share(times, 0, 30) == pytest.approx(0.25, abs=tolerance)
    assert share(times, 54, 60) == pytest.approx(0.19, abs=tolerance)
    assert share(times, 23, 60) > 0.8
    assert times[-1] > 59
    # each sixth of the run has more arrivals than the one before
    counts = [sum(10 * k <= t < 10 * (k + 1) for t in times) for k in range(6)]
    assert counts == sorted(counts) and counts[0] < counts[-1] / 5


@pytest.mark.parametrize("multiplier", [10.0, 4.0, 25.0])
def test_the_spike_is_the_multiplier_asked(multiplier: float) -> None:
    shape = LoadShape(pattern=Pattern.SPIKE, rate=5, duration=120, spike_multiplier=multiplier)
    (start, end), = shape.peak_windows()
    assert (start, end) == pytest.approx((48, 72))
    assert shape.rate_at(60) == 5 * multiplier and shape.rate_at(10) == shape.rate_at(100) == 5
    even = ratio_check(shape, schedule(shape, seed=2, process=Process.EVEN))
    assert even is not None and even.ok and even.measured == pytest.approx(multiplier, rel=0.02)
    poisson = ratio_check(shape, schedule(shape, seed=2))
    assert poisson is not None and poisson.ok and poisson.asked == multiplier


def test_the_ratio_check_catches_the_seeds_spike() -> None:
    """The seed's "10x spike" put 40% of the requests in 20% of the time: 2.67x. The check says so."""
    shape = LoadShape(pattern=Pattern.SPIKE, rate=5, duration=60)
    total = 600
    normal = [i * 24 / 180 for i in range(180)] + [36 + i * 24 / 180 for i in range(180)]
    spike = [24 + i * 12 / 240 for i in range(240)]
    check = ratio_check(shape, sorted(normal + spike))
    assert len(normal + spike) == total
    assert check is not None and not check.ok
    assert check.measured == pytest.approx(2.67, abs=0.01)


def test_bursts_repeat_at_their_factor() -> None:
    shape = LoadShape(pattern=Pattern.BURST, rate=6, duration=60, burst_factor=3, burst_every=15, burst_length=3)
    assert shape.peak_windows() == [(0, 3), (15, 18), (30, 33), (45, 48)]
    times = schedule(shape, seed=5, process=Process.EVEN)
    check = ratio_check(shape, times)
    assert check is not None and check.ok and check.measured == pytest.approx(3, rel=0.05)
    assert ratio_check(LoadShape(rate=5, duration=10), times) is None  # no peak to check


def test_shapes_are_bounded_and_explain_themselves() -> None:
    with pytest.raises(ValidationError, match="burst_length"):
        LoadShape(pattern=Pattern.BURST, rate=5, duration=60, burst_every=2, burst_length=2)
    with pytest.raises(ValidationError):
        LoadShape(rate=0, duration=10)
    with pytest.raises(ValidationError):
        LoadShape(rate=5, duration=4000)


# -- messages ------------------------------------------------------------------------------------------------------
def test_the_production_mix_is_spec_s_and_messages_are_unique() -> None:
    assert sum(PRODUCTION_MIX.values()) == pytest.approx(1.0)
    maker = MessageMaker(list(catalog().values()), ORDERS, seed=9)
    drawn = maker.draw(2000)
    assert maker.repeats == 0 and len({m.text for m in drawn}) == 2000
    for kind, weight in PRODUCTION_MIX.items():
        assert sum(m.kind == kind for m in drawn) / 2000 == pytest.approx(weight, abs=0.03)
    titles = {s.title_en for s in catalog().values()}
    for message in drawn:
        assert detect_language(message.text).value == message.language, message
        if message.kind in ("product_lookup", "price_check", "recommendation", "manga_summary"):
            assert any(title in message.text for title in titles), message
        if message.kind == "order_status":
            assert ORDER_ID.search(message.text).group(0) in ORDERS  # type: ignore[union-attr]


def test_messages_of_given_kinds_follow_that_sequence_and_stay_unique() -> None:
    first = MessageMaker(list(catalog().values()), ORDERS, seed=9).draw(300)
    kinds = [m.kind for m in first]
    again = MessageMaker(list(catalog().values()), ORDERS, seed=10).of_kinds(kinds)
    assert [m.kind for m in again] == kinds
    assert len({m.text for m in again}) == 300 and {m.text for m in again} != {m.text for m in first}
    with pytest.raises(ValueError, match="unknown message kinds"):
        MessageMaker(list(catalog().values()), ORDERS, seed=9).of_kinds(["greeting", "haiku"])


def test_allow_cache_repeats_a_small_pool() -> None:
    maker = MessageMaker(list(catalog().values()), ORDERS, seed=9, unique=False, pool=5)
    assert len({m.text for m in maker.draw(500)}) <= 5 * len(PRODUCTION_MIX)


# -- the summary ---------------------------------------------------------------------------------------------------
def answer(cost: str = "0.000500", decision: str = "accept", escalated: bool = False, tiers: list | None = None,
           failures: list | None = None, cache: str = "miss", total: float = 100.0) -> dict:
    return {"type": "answer", "turnId": "t", "text": "x",
            "meta": {"turnId": "t", "task": "product_lookup", "language": "en", "escalated": escalated,
                     "validation": {"decision": decision, "failures": failures or []}, "cache": cache,
                     "cost_usd": cost, "latency_ms": {"total": total},
                     "tiers": tiers if tiers is not None else [{"target": "haiku", "outcome": "ok",
                                                                "input_tokens": 500, "output_tokens": 350}]}}


def test_nearest_rank_percentiles_by_hand() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7 and percentile([], 50) is None
    stats = Percentiles.of([10.0, 20.0, math.inf, 30.0])  # one turn never answered
    assert (stats.p50, stats.p95, stats.max, stats.mean) == (20.0, None, None, 20.0)


def test_the_summary_counts_every_turn_and_prices_them() -> None:
    shape = LoadShape(rate=2, duration=5)
    sonnet_call = {"target": "sonnet", "outcome": "ok", "input_tokens": 500, "output_tokens": 350}
    samples = [
        sample_from_reply(0, "price_check", 0.0, 0.001, 0.5, answer()),                 # 500 ms
        sample_from_reply(1, "price_check", 1.0, 1.0, 2.0, answer(                      # 1000 ms, escalated
            cost="0.006000", escalated=True,
            tiers=[{"target": "haiku", "outcome": "throttled"}, sonnet_call])),
        sample_from_reply(2, "greeting", 2.0, 2.0, 4.5, answer(                         # 2500 ms, fallback
            cost="0", decision="fallback", failures=["timeout"],
            tiers=[{"target": "haiku", "outcome": "timeout"}, {"target": "canned", "outcome": "ok"}])),
        sample_from_reply(3, "greeting", 3.0, 3.0, 3.2, {"type": "error", "code": "INVALID_FIELD"}),  # 200 ms
        sample_without_reply(4, "greeting", 4.0, 4.0, CLIENT_TIMEOUT),
        sample_from_reply(5, "price_check", 4.5, 4.5, 4.6, answer(cost="0", cache="exact", tiers=[])),  # 100 ms
    ]
    summary = summarize(samples, target="ws://x", shape=shape, process=Process.POISSON, seed=1, messages="mix",
                        started_at="now", daily_messages=1_000_000)
    assert (summary.scheduled, summary.sent, summary.replied) == (6, 6, 5)
    assert (summary.answered, summary.fallbacks, summary.errors, summary.no_reply) == (3, 1, 1, 1)
    assert summary.latency_ms.p50 == 500 and summary.latency_ms.max == 2500
    # every turn: 100, 200, 500, 1000, 2500 and one never answered (infinitely slow)
    assert summary.latency_ms_all_turns.p50 == 500 and summary.latency_ms_all_turns.p95 is None
    assert summary.sla == {"p50": True, "p95": False, "p99": False}
    assert summary.errors_by_code == {"INVALID_FIELD": 1, CLIENT_TIMEOUT: 1}
    assert summary.fallbacks_by_reason == {"timeout": 1}
    assert summary.throttles == {"haiku": 1, "turns": 1}
    assert summary.timeouts == {"no_reply": 1, "turn_deadline": 1, "model_calls": 1}
    assert summary.escalation_rate == pytest.approx(1 / 4)
    assert summary.by_model == {"haiku": 1, "sonnet": 1, "canned": 1, "cache": 1}
    assert summary.cache_hits == 1
    cost = summary.cost
    assert cost.turns_priced == 4 and cost.total_usd == Decimal("0.0065")
    assert cost.per_turn_usd == Decimal("0.001625")
    assert cost.projected_daily_usd == Decimal("1625.00") and cost.projected_monthly_usd == Decimal("48750.00")
    # the same answers' tokens at Sonnet's price: 500 in / 350 out = $0.00675 for each of the two answered by a model
    assert cost.all_sonnet_per_turn_usd == Decimal("0.003375")
    assert summary.offered_per_s == pytest.approx(6 / 5)
    assert summary.completed_per_s == pytest.approx(5 / 5)  # the last reply at 4.6 s, inside the 5 s window
    assert summary.by_kind["greeting"]["turns"] == 3 and summary.by_kind["greeting"]["fallbacks"] == 1
    bins = time_bins(samples, shape.duration)
    assert [b.arrivals for b in bins] == [1, 1, 1, 1, 2] and bins[4].no_reply == 1
    assert LoadTestResult.of(summary, samples).bins == bins


def test_a_bad_reply_is_an_error_not_a_crash() -> None:
    sample = sample_from_reply(0, "greeting", 0.0, 0.0, 0.1, "not a frame")
    assert (sample.outcome, sample.code) == ("error", "BAD_FRAME")
    odd = sample_from_reply(1, "greeting", 0.0, 0.0, 0.1, {"type": "answer", "meta": {"cost_usd": "NaN?"}})
    assert odd.outcome == "fallback" and odd.cost_usd is None
