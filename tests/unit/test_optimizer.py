"""The SLA optimizer's decisions on synthetic windows: one bounded step at a time, with a cool-down."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangaassist.answer.prompts import MAX_TOKENS
from mangaassist.tuning.optimizer import recommend
from mangaassist.tuning.runtime_config import (
    THRESHOLD_BOUNDS,
    TTL_BOUNDS,
    ConfigRecord,
    Overrides,
    max_tokens_bounds,
    with_change,
)
from mangaassist.tuning.window import TurnSample, measure, nearest_rank, sample_of, sla_status, window_items
from mangaassist.turn import Task

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DEPLOY = 0.80


def turn(task: str = "faq", latency: float = 400, cost: str = "0.0005", escalated: bool = False,
         hit: bool = False, fallback: bool = False) -> TurnSample:
    return TurnSample(task=task, latency_ms=latency, cost_usd=Decimal(cost), escalated=escalated and not hit,
                      cache_hit=hit, fallback=fallback, config_version=0)


def plan_for(samples: list[TurnSample], record: ConfigRecord | None = None, quality: float | None = 0.95,
             now: datetime = NOW, cooldown: int = 30) -> Any:
    stats = measure(samples, now - timedelta(minutes=60), now, quality, "test")
    return recommend(stats, sla_status(stats), record or ConfigRecord(), DEPLOY, now, cooldown_minutes=cooldown)


def healthy(n: int = 100) -> list[TurnSample]:
    return [turn() for _ in range(n)]


def with_escalations(share: float, n: int = 100) -> list[TurnSample]:
    k = round(share * n)
    return [turn("discussion", escalated=i < k) for i in range(n)]


def record(overrides: Overrides, minutes_ago: float = 120, version: int = 3) -> ConfigRecord:
    return ConfigRecord(version=version, overrides=overrides, action="apply", previous_version=version - 1,
                        updated_at=(NOW - timedelta(minutes=minutes_ago)).isoformat(), updated_by="test")


def test_a_healthy_window_changes_nothing() -> None:
    plan = plan_for(healthy())
    assert plan.action is None and plan.recommendations == []
    assert {c.name: c.status for c in plan.sla} == {
        "p50_latency_ms": "ok", "p95_latency_ms": "ok", "p99_latency_ms": "ok", "cost_per_query_usd": "ok",
        "escalation_rate": "ok", "availability": "ok", "quality": "ok"}


def test_high_escalation_lowers_the_threshold_one_step() -> None:
    plan = plan_for(with_escalations(0.30))
    escalation = next(c for c in plan.sla if c.name == "escalation_rate")
    assert escalation.actual == pytest.approx(0.30) and escalation.status == "breach"
    assert plan.action is not None
    assert (plan.action.knob, plan.action.old, plan.action.new) == ("confidence_threshold", 0.80, 0.78)
    assert "escalation_rate 30.0%" in plan.action.reason and "0.80 -> 0.78" in plan.action.reason


def test_escalation_exactly_at_the_target_is_a_breach() -> None:
    # SPEC section 3 says "< 15%": 15.0% is not compliant (the seed's <= is not copied).
    plan = plan_for(with_escalations(0.15))
    assert next(c for c in plan.sla if c.name == "escalation_rate").status == "breach"


def test_the_threshold_never_goes_below_its_floor() -> None:
    low = THRESHOLD_BOUNDS[0]
    plan = plan_for(with_escalations(0.5), record(Overrides(confidence_threshold=low + 0.01)))
    assert plan.action is not None and plan.action.new == pytest.approx(low)
    plan = plan_for(with_escalations(0.5), record(Overrides(confidence_threshold=low)))
    assert plan.action is None
    assert [(r.knob, r.status) for r in plan.recommendations] == [("confidence_threshold", "at_bound")]


def test_a_latency_breach_shortens_max_tokens_of_the_slow_task() -> None:
    samples = [turn("faq", 300) for _ in range(90)] + [turn("comparison", 4000) for _ in range(10)]
    plan = plan_for(samples)
    assert plan.action is not None
    assert (plan.action.breach, plan.action.knob, plan.action.task) == ("p99_latency_ms", "max_tokens", "comparison")
    assert plan.action.old == MAX_TOKENS[Task.COMPARISON] == 600
    assert plan.action.new == 540  # one step: 10% of the designed maximum


def test_max_tokens_stop_at_their_floor_and_then_the_next_slow_task_moves() -> None:
    floor, _ = max_tokens_bounds(Task.COMPARISON)
    samples = ([turn("faq", 300) for _ in range(80)] + [turn("comparison", 4000) for _ in range(12)]
               + [turn("discussion", 3500) for _ in range(8)])
    plan = plan_for(samples, record(Overrides(max_tokens={Task.COMPARISON: floor})))
    assert plan.action is not None and plan.action.task == "discussion"
    all_floored = Overrides(max_tokens={Task.COMPARISON: floor, Task.DISCUSSION: max_tokens_bounds(Task.DISCUSSION)[0]})
    plan = plan_for(samples, record(all_floored))
    assert plan.action is None
    assert plan.recommendations[0].status == "at_bound"


def test_nothing_moves_inside_the_cooldown() -> None:
    recent = record(Overrides(confidence_threshold=0.78), minutes_ago=10)
    plan = plan_for(with_escalations(0.30), recent, cooldown=30)
    assert plan.action is None
    assert [r.status for r in plan.recommendations] == ["cooldown"]
    assert plan.cooldown_until == NOW + timedelta(minutes=20)
    # Once the cool-down is over, the next step is proposed from the value in force.
    later = plan_for(with_escalations(0.30), recent, now=NOW + timedelta(minutes=21), cooldown=30)
    assert later.action is not None and (later.action.old, later.action.new) == (0.78, 0.76)


def test_one_step_at_a_time_when_several_targets_are_breached() -> None:
    samples = [turn("comparison", 4000, cost="0.02", escalated=True) for _ in range(30)] + healthy(70)
    plan = plan_for(samples)
    proposed = [r for r in plan.recommendations if r.status == "proposed"]
    assert proposed == [plan.action]
    assert plan.action is not None and plan.action.breach == "p99_latency_ms"
    assert {r.breach for r in plan.recommendations if r.status == "deferred"} == {"escalation_rate",
                                                                               "cost_per_query_usd"}


def test_low_quality_raises_the_threshold_and_holds_the_escalation_cut() -> None:
    plan = plan_for(with_escalations(0.30), quality=0.85)
    assert plan.action is not None and (plan.action.knob, plan.action.new) == ("confidence_threshold", 0.82)
    held = next(r for r in plan.recommendations if r.breach == "escalation_rate")
    assert held.status == "deferred" and "quality is below target" in held.reason


def test_unknown_quality_is_not_a_breach() -> None:
    plan = plan_for(healthy(), quality=None)
    assert next(c for c in plan.sla if c.name == "quality").status == "unknown"
    assert plan.action is None and any("quality unknown" in n for n in plan.notes)


def test_a_cost_breach_lengthens_the_cache_ttl_of_the_costliest_cacheable_task() -> None:
    samples = [turn("recommendation", cost="0.01") for _ in range(60)] + [turn("faq", cost="0.001")
                                                                         for _ in range(40)]
    plan = plan_for(samples)
    assert plan.action is not None
    assert (plan.action.knob, plan.action.task, plan.action.old, plan.action.new) == (
        "cache_ttl_seconds", "recommendation", 300, 360)
    at_max = record(Overrides(cache_ttl_seconds={Task.RECOMMENDATION: TTL_BOUNDS[1]}))
    plan = plan_for(samples, at_max)
    assert plan.action is not None and (plan.action.knob, plan.action.task) == ("max_tokens", "recommendation")


def test_a_cost_breach_on_an_uncacheable_task_shortens_its_max_tokens() -> None:
    plan = plan_for([turn("product_search", cost="0.01") for _ in range(100)])
    assert plan.action is not None and (plan.action.knob, plan.action.task) == ("max_tokens", "product_search")


def test_availability_has_no_knob() -> None:
    samples = healthy(98) + [turn(fallback=True) for _ in range(2)]
    plan = plan_for(samples)
    assert plan.action is None
    assert [(r.breach, r.status) for r in plan.recommendations] == [("availability", "no_knob")]


def test_a_small_window_moves_nothing() -> None:
    plan = plan_for(with_escalations(0.5, n=10))
    assert plan.action is None and [r.status for r in plan.recommendations] == ["insufficient_data"]


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.sampled_from(["escalation", "quality", "latency", "cost"]), min_size=1, max_size=40))
def test_bounds_are_never_crossed_however_long_it_runs(steps: list[str]) -> None:
    """Apply every proposed step of a long run of breaches: every value stays within its bounds."""
    windows = {"escalation": (with_escalations(0.4), 0.95),
               "quality": (healthy(), 0.5),
               "latency": ([turn(t.value, 5000) for t in Task] * 5, 0.95),
               "cost": ([turn(t.value, cost="0.05") for t in Task] * 5, 0.95)}
    current = ConfigRecord()
    for n, step in enumerate(steps):
        samples, quality = windows[step]
        plan = plan_for(samples, current, quality=quality, now=NOW + timedelta(hours=n + 1))
        if plan.action is not None:
            overrides = with_change(current.overrides, plan.action.change(), DEPLOY)  # validates the bounds
            current = ConfigRecord(version=current.version + 1, overrides=overrides,
                                   updated_at=(NOW + timedelta(hours=n + 1)).isoformat())
    o = current.overrides
    if o.confidence_threshold is not None:
        assert THRESHOLD_BOUNDS[0] <= o.confidence_threshold <= THRESHOLD_BOUNDS[1]
    for task, tokens in o.max_tokens.items():
        assert max_tokens_bounds(task)[0] <= tokens <= max_tokens_bounds(task)[1]
    for ttl in o.cache_ttl_seconds.values():
        assert TTL_BOUNDS[0] <= ttl <= TTL_BOUNDS[1]


def test_overrides_out_of_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        Overrides(confidence_threshold=0.5)
    with pytest.raises(ValueError, match="never cached"):
        Overrides(cache_ttl_seconds={Task.ORDER_STATUS: 600})
    with pytest.raises(ValueError, match="outside"):
        Overrides(max_tokens={Task.GREETING: 10})


def test_a_value_back_at_its_default_is_dropped() -> None:
    plan = plan_for(with_escalations(0.3), record(Overrides(confidence_threshold=0.78)))
    assert plan.action is not None
    raised = with_change(Overrides(confidence_threshold=0.78),
                         plan.action.change().model_copy(update={"new": 0.80}), DEPLOY)
    assert raised == Overrides()


def test_figures_of_a_window() -> None:
    samples = [turn(latency=float(ms)) for ms in range(1, 101)] + [turn(hit=True, latency=5, cost="0")]
    stats = measure(samples, NOW - timedelta(hours=1), NOW, None)
    assert (stats.p50_latency_ms, stats.p95_latency_ms, stats.p99_latency_ms) == (50, 95, 99)
    assert stats.turns == 101 and stats.model_turns == 100 and stats.cache_hits == 1
    assert stats.cost_per_query_usd == (Decimal("0.0005") * 100 / 101).quantize(Decimal("1e-9"))
    assert nearest_rank([3.0], 99) == 3.0


def test_a_stored_turn_becomes_a_sample() -> None:
    meta = {"task": "discussion", "escalated": True, "cache": "miss", "validation": {"decision": "accept"},
            "latency_ms": {"total": 812}, "route": {"config_version": 4}}
    sample = sample_of({"task": "discussion", "costUsd": "0.0021", "meta": json.dumps(meta)})
    assert sample == TurnSample(task="discussion", latency_ms=812.0, cost_usd=Decimal("0.0021"), escalated=True,
                                cache_hit=False, fallback=False, config_version=4)
    assert sample_of({"costUsd": "x", "meta": "{}"}) is None
    assert sample_of({"costUsd": "0", "meta": "not json"}) is None


def test_the_window_queries_each_jst_day_it_touches() -> None:
    asked: list[tuple[str, str, str]] = []

    class Source:
        def turns_between(self, day: str, first: str, last: str) -> list[dict[str, Any]]:
            asked.append((day, first, last))
            return []

    end = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 00:30 JST on Dec 1
    window_items(Source(), end - timedelta(hours=1), end)
    start_ms, end_ms = int((end - timedelta(hours=1)).timestamp() * 1000), int(end.timestamp() * 1000)
    assert asked == [("2026-11-30", f"{start_ms + 1:013d}", f"{end_ms:013d}-~"),
                     ("2026-12-01", f"{start_ms + 1:013d}", f"{end_ms:013d}-~")]


def test_the_schedules_message_is_a_valid_optimize_job() -> None:
    """template.yaml's EventBridge rule sends this body to the analytics queue every 15 minutes."""
    from pathlib import Path

    from mangaassist.jobs.models import JobRejected, OptimizeJob, parse_job
    from mangaassist.tuning.params import OptimizeParams
    from mangaassist_local.template import Template

    template = Template(Path(__file__).resolve().parents[2] / "template.yaml", "ap-northeast-1")
    rule = template.resources["OptimizerSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["AnalyticsJobsQueue", "Arn"]}
    job = parse_job({**json.loads(target["Input"]), "job_id": "sqs-1"})
    assert isinstance(job, OptimizeJob) and job.params == OptimizeParams()  # dry run unless OptimizerApply=true
    with pytest.raises(JobRejected, match="window_minutes"):
        parse_job({"kind": "optimize", "params": {"window_minutes": 0}})
