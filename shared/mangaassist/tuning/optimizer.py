"""The SLA optimizer: from a window's SLA status, at most ONE bounded step, with its reason.

Rules (the first that can act wins; the others are listed as deferred, so one change is judged at a time):

1. quality below target -> raise the confidence threshold one step (more answers escalate to Sonnet);
2. a latency percentile at or over its target -> shorten max tokens one step for the task with the most turns
   over that target (the worst percentile first: p99, p95, p50);
3. escalation rate at or over target -> lower the threshold one step (fewer escalations), unless quality is
   below target (that would trade the customers' answers for cost);
4. cost per query at or over target -> lengthen the cache TTL one step for the cacheable task that costs most in
   the window, else shorten max tokens one step for the task that costs most;
5. availability below target -> no knob moves it: reported, for a person to investigate.

Nothing moves inside the cool-down after the configuration last changed (its effect must show in a window
first), nor on a window with fewer than `min_turns` turns; a value never leaves its bounds (a knob at its bound
is reported as such). Unlike the seed's optimizer, breaches never trigger several changes at once, and
compliance is strict (SPEC section 3's "<" and ">").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from mangaassist.tuning.runtime_config import (
    THRESHOLD_BOUNDS,
    THRESHOLD_STEP,
    TTL_BOUNDS,
    TTL_STEP,
    Change,
    ConfigRecord,
    Knob,
    default_ttl,
    max_tokens_bounds,
    max_tokens_step,
    value_of,
)
from mangaassist.tuning.window import LATENCY_TARGETS, SlaCheck, WindowStats
from mangaassist.turn import Task

DEFAULT_COOLDOWN_MINUTES = 30  # two scheduled runs: the window must see turns made with the new value
DEFAULT_MIN_TURNS = 20
TASKS = {t.value for t in Task}  # a stored turn may name a task this code no longer has: no knob for it

Status = Literal["proposed", "applied", "deferred", "cooldown", "at_bound", "no_knob", "insufficient_data"]


class Recommendation(BaseModel):
    breach: str
    knob: Knob | None
    task: str | None = None
    old: float | None = None
    new: float | None = None
    status: Status
    reason: str

    def change(self) -> Change:
        assert self.knob is not None and self.old is not None and self.new is not None
        return Change(knob=self.knob, task=Task(self.task) if self.task else None, old=self.old, new=self.new)


class Plan(BaseModel):
    sla: list[SlaCheck]
    recommendations: list[Recommendation]
    action: Recommendation | None  # the one step to take now (None: nothing moves)
    cooldown_until: datetime | None
    notes: list[str]


def _fmt(check: SlaCheck) -> str:
    if check.unit == "ms":
        return f"{check.name} {check.actual:,.0f} ms (target {check.op} {check.target:,.0f} ms)"
    if check.unit == "USD":
        return f"cost per query ${check.actual:.6f} (target {check.op} ${check.target})"
    if check.unit == "share":
        return f"{check.name} {check.actual:.1%} (target {check.op} {check.target:.1%})"
    return f"{check.name} {check.actual:.3f} (target {check.op} {check.target})"


def _threshold_step(record: ConfigRecord, deploy: float, direction: int, breach: SlaCheck, why: str
                    ) -> Recommendation:
    old = float(value_of(record.overrides, "confidence_threshold", None, deploy) or deploy)
    low, high = THRESHOLD_BOUNDS
    new = round(min(max(old + direction * THRESHOLD_STEP, low), high), 2)
    if (direction < 0 and old <= low) or (direction > 0 and old >= high) or new == old:
        return Recommendation(breach=breach.name, knob="confidence_threshold", old=old, new=old, status="at_bound",
                              reason=f"{_fmt(breach)}; the confidence threshold is at its bound "
                                     f"({low}..{high}): nothing left to move here")
    return Recommendation(breach=breach.name, knob="confidence_threshold", old=old, new=new, status="proposed",
                          reason=f"{_fmt(breach)}: {why} the confidence threshold {old:.2f} -> {new:.2f}")


def _fewer_tokens(record: ConfigRecord, deploy: float, task: str, breach: SlaCheck, why: str) -> Recommendation:
    t = Task(task)
    old = int(value_of(record.overrides, "max_tokens", t, deploy) or 0)
    floor, _ = max_tokens_bounds(t)
    new = max(old - max_tokens_step(t), floor)
    if new >= old:
        return Recommendation(breach=breach.name, knob="max_tokens", task=task, old=old, new=old, status="at_bound",
                              reason=f"{_fmt(breach)}; max tokens for {task} are at their floor ({floor})")
    return Recommendation(breach=breach.name, knob="max_tokens", task=task, old=old, new=new, status="proposed",
                          reason=f"{_fmt(breach)}: {why} max tokens for {task} {old} -> {new} (shorter answers "
                                 "finish sooner and cost less)")


def _longer_ttl(record: ConfigRecord, deploy: float, task: str, breach: SlaCheck, why: str) -> Recommendation:
    t = Task(task)
    old = int(value_of(record.overrides, "cache_ttl_seconds", t, deploy) or 0)
    new = min(old + TTL_STEP, TTL_BOUNDS[1])
    return Recommendation(breach=breach.name, knob="cache_ttl_seconds", task=task, old=old, new=new,
                          status="proposed" if new > old else "at_bound",
                          reason=f"{_fmt(breach)}: {why} the answer cache TTL for {task} {old} s -> {new} s "
                                 "(more repeats served free)" if new > old else
                          f"{_fmt(breach)}; the cache TTL for {task} is at its bound ({TTL_BOUNDS[1]} s)")


def _latency(stats: WindowStats, record: ConfigRecord, deploy: float, breach: SlaCheck) -> Recommendation:
    """Max tokens of the task with the most turns over the breached target (ties: the larger p95)."""
    ranked = sorted(((f.slow_turns.get(breach.name, 0), f.p95_latency_ms or 0.0, task)
                     for task, f in stats.by_task.items() if task in TASKS), reverse=True)
    first_at_bound = None
    for slow, _, task in ranked:
        if slow == 0:
            break
        rec = _fewer_tokens(record, deploy, task, breach,
                            f"{slow} of the window's turns over {LATENCY_TARGETS[breach.name]:,.0f} ms are {task}:")
        if rec.status == "proposed":
            return rec
        first_at_bound = first_at_bound or rec
    return first_at_bound or Recommendation(breach=breach.name, knob="max_tokens", status="at_bound",
                                            reason=f"{_fmt(breach)}; no task with slow turns can be shortened")


def _cost(stats: WindowStats, record: ConfigRecord, deploy: float, breach: SlaCheck) -> Recommendation:
    ranked = sorted(((f.cost_usd, task) for task, f in stats.by_task.items()
                     if task in TASKS and f.cost_usd > 0), reverse=True)
    total = stats.total_cost_usd or 1
    for cost, task in ranked:
        share = f"{task} is {float(cost / total):.0%} of the window's cost:"
        if default_ttl(Task(task)) is not None:
            rec = _longer_ttl(record, deploy, task, breach, share)
            if rec.status == "proposed":
                return rec
        rec = _fewer_tokens(record, deploy, task, breach, share)
        if rec.status == "proposed":
            return rec
    return Recommendation(breach=breach.name, knob=None, status="at_bound",
                          reason=f"{_fmt(breach)}; every knob that lowers cost is at its bound")


def recommend(stats: WindowStats, sla: list[SlaCheck], record: ConfigRecord, deploy_threshold: float,
              now: datetime, cooldown_minutes: int = DEFAULT_COOLDOWN_MINUTES,
              min_turns: int = DEFAULT_MIN_TURNS) -> Plan:
    checks = {c.name: c for c in sla}
    breached = {name for name, c in checks.items() if c.status == "breach"}
    candidates: list[Recommendation] = []
    notes: list[str] = []
    quality_low = "quality" in breached
    if quality_low:
        candidates.append(_threshold_step(record, deploy_threshold, +1, checks["quality"],
                                          "escalate more answers to Sonnet:"))
    for name in ("p99_latency_ms", "p95_latency_ms", "p50_latency_ms"):
        if name in breached:
            candidates.append(_latency(stats, record, deploy_threshold, checks[name]))
            break  # one latency breach is enough to act on: the worst percentile
    if "escalation_rate" in breached:
        rec = _threshold_step(record, deploy_threshold, -1, checks["escalation_rate"], "escalate fewer answers:")
        if quality_low and rec.status == "proposed":
            rec = rec.model_copy(update={"status": "deferred", "new": rec.old, "reason": rec.reason + "; held: "
                                         "quality is below target, and fewer escalations would lower it further"})
        candidates.append(rec)
    if "cost_per_query_usd" in breached:
        candidates.append(_cost(stats, record, deploy_threshold, checks["cost_per_query_usd"]))
    if "availability" in breached:
        candidates.append(Recommendation(
            breach="availability", knob=None, status="no_knob",
            reason=f"{_fmt(checks['availability'])}: {stats.fallbacks} of {stats.turns} turns got the canned "
                   "fallback; no tuned value fixes failures: look at the failures in their meta (or `mangaassist "
                   "jobs submit cost-report`) and the model health circuits"))
    if checks["quality"].status == "unknown":
        notes.append("quality unknown (no regression score given): never counted as a breach, and the threshold "
                     "may be lowered without a quality check")

    changed = record.updated_at_time()
    cooldown_until = changed + timedelta(minutes=cooldown_minutes) if changed else None
    blocked: Status | None = None
    if stats.turns < min_turns:
        blocked = "insufficient_data"
        notes.append(f"only {stats.turns} turns in the window (at least {min_turns} before anything moves)")
    elif cooldown_until is not None and now < cooldown_until:
        blocked = "cooldown"
        notes.append(f"cool-down: version {record.version} was written at {record.updated_at}; nothing moves "
                     f"before {cooldown_until.isoformat(timespec='seconds')}")
    action = None
    result = []
    for rec in candidates:
        if rec.status == "proposed":
            if blocked is not None:
                rec = rec.model_copy(update={"status": blocked})
            elif action is None:
                action = rec
            else:
                rec = rec.model_copy(update={"status": "deferred",
                                             "reason": rec.reason + "; deferred: one step at a time"})
        result.append(rec)
    if not breached:
        notes.append("every known SLA target is met: nothing to change")
    return Plan(sla=sla, recommendations=result, action=action, cooldown_until=cooldown_until, notes=notes)
