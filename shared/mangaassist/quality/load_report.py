"""What a load test measured: one sample per scheduled turn, and the summary the CLI prints and the job stores.

Latency is from the turn's SCHEDULED send time to its reply frame, so a client that falls behind or a stack
that queues shows up as latency (open loop). Percentiles are nearest-rank: p95 is the smallest latency that
at least 95% of the turns do not exceed. A turn that never got a reply counts as infinitely slow in the
`all_turns` percentiles (null when the percentile falls among them) and is left out of `replied` ones.
Money is Decimal; the projections are cost per turn × the daily traffic you name (× 30 days a month).
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mangaassist.answer.pricing import cost_usd
from mangaassist.quality.arrivals import LoadShape, Process, RatioCheck, ratio_check
from mangaassist.turn import Target

Outcome = Literal["answer", "fallback", "error", "timeout"]
CLIENT_TIMEOUT = "CLIENT_TIMEOUT"  # no reply within the client's timeout
SLA_MS = {"p50": 1000.0, "p95": 2500.0, "p99": 3000.0}  # SPEC §3
DAYS_PER_MONTH = 30
MAX_BINS = 120  # the chart's time bins, which a load-test job carries (SQS and DynamoDB bound its size)


class Tier(BaseModel):
    model_config = ConfigDict(extra="ignore")
    target: str
    outcome: str = "ok"
    input_tokens: int = 0
    output_tokens: int = 0


class TurnSample(BaseModel):
    """One scheduled turn: when it was due, sent and answered (seconds from the run's start), and how."""

    index: int
    kind: str
    scheduled_s: float
    sent_s: float | None = None
    replied_s: float | None = None
    latency_ms: float | None = None  # scheduled -> reply; None: no reply
    outcome: Outcome
    code: str | None = None  # the error frame's code, or the client's (CLIENT_TIMEOUT, CONNECTION_CLOSED, ...)
    task: str | None = None
    escalated: bool = False
    cache: str | None = None
    cost_usd: Decimal | None = None
    failures: list[str] = Field(default_factory=list)
    tiers: list[Tier] = Field(default_factory=list)
    server_ms: float | None = None  # meta.latency_ms.total: the stack's own view

    @property
    def final_tier(self) -> str:
        """Who answered: the last tier that succeeded, "cache" for a cache hit, else "canned"."""
        if self.cache == "exact":
            return "cache"
        answered = [t.target for t in self.tiers if t.outcome == "ok" and t.target != Target.CANNED.value]
        return answered[-1] if answered and self.outcome == "answer" else "canned"


def sample_from_reply(index: int, kind: str, scheduled_s: float, sent_s: float, replied_s: float,
                      frame: Any) -> TurnSample:
    """A sample from the reply frame (already JSON-decoded; anything else is a BAD_FRAME error)."""
    base: dict[str, Any] = {"index": index, "kind": kind, "scheduled_s": scheduled_s, "sent_s": sent_s,
                            "replied_s": replied_s, "latency_ms": round((replied_s - scheduled_s) * 1000, 1)}
    if not isinstance(frame, dict) or frame.get("type") not in ("answer", "error"):
        return TurnSample(**base, outcome="error", code="BAD_FRAME")
    if frame["type"] == "error":
        return TurnSample(**base, outcome="error", code=str(frame.get("code") or "UNKNOWN"))
    meta: dict[str, Any] = frame["meta"] if isinstance(frame.get("meta"), dict) else {}
    validation: dict[str, Any] = meta["validation"] if isinstance(meta.get("validation"), dict) else {}
    tiers = [Tier.model_validate(t) for t in meta.get("tiers") or [] if isinstance(t, dict) and "target" in t]
    latency: dict[str, Any] = meta["latency_ms"] if isinstance(meta.get("latency_ms"), dict) else {}
    try:
        cost = Decimal(str(meta.get("cost_usd")))
    except ArithmeticError:
        cost = None
    return TurnSample(**base, outcome="answer" if validation.get("decision") == "accept" else "fallback",
                      task=meta.get("task"), escalated=bool(meta.get("escalated")), cache=meta.get("cache"),
                      cost_usd=cost if cost is not None and cost.is_finite() else None,
                      failures=[str(f) for f in validation.get("failures") or []], tiers=tiers,
                      server_ms=latency.get("total") if isinstance(latency.get("total"), int | float) else None)


def sample_without_reply(index: int, kind: str, scheduled_s: float, sent_s: float | None, code: str) -> TurnSample:
    return TurnSample(index=index, kind=kind, scheduled_s=scheduled_s, sent_s=sent_s,
                      outcome="timeout" if code == CLIENT_TIMEOUT else "error", code=code)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the ceil(p/100 · n)-th smallest value (None for no values; inf stays inf)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


class Percentiles(BaseModel):
    n: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        finite = [v for v in values if math.isfinite(v)]

        def pick(p: float) -> float | None:
            value = percentile(values, p)
            return round(value, 1) if value is not None and math.isfinite(value) else None

        return cls(n=len(values), p50=pick(50), p95=pick(95), p99=pick(99), max=pick(100),
                   mean=round(sum(finite) / len(finite), 1) if finite else None)


class CostProjection(BaseModel):
    turns_priced: int
    total_usd: Decimal
    per_turn_usd: Decimal
    all_sonnet_per_turn_usd: Decimal  # the same answers' tokens at Sonnet's price (answer/pricing.py)
    daily_messages: int
    projected_daily_usd: Decimal
    projected_monthly_usd: Decimal
    days_per_month: int = DAYS_PER_MONTH


class LoadSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str
    shape: LoadShape
    process: Process
    seed: int
    messages: str
    started_at: str
    scheduled: int
    sent: int
    replied: int
    answered: int  # accepted answers
    fallbacks: int
    errors: int  # error frames and connection failures
    no_reply: int  # client timeouts
    offered_per_s: float
    completed_per_s: float  # replies / (start -> last reply), at least the schedule's duration
    completed_in_window_per_s: float  # replies that came within the schedule's duration / duration
    latency_ms: Percentiles  # replied turns, scheduled send -> reply
    latency_ms_all_turns: Percentiles  # every scheduled turn; no reply = infinitely slow
    server_latency_ms: Percentiles  # meta.latency_ms.total of the answers
    send_lag_ms: Percentiles  # actual send - scheduled send: is the client keeping up?
    errors_by_code: dict[str, int]
    fallbacks_by_reason: dict[str, int]
    throttles: dict[str, int]  # "turns": turns with a throttled model call; "<tier>": throttled calls
    timeouts: dict[str, int]  # no_reply (client), turn_deadline (sendMessage's), model_calls (tier timeouts)
    escalation_rate: float | None
    by_model: dict[str, int]  # who answered (last successful tier, cache, canned)
    cache_hits: int
    cost: CostProjection
    by_kind: dict[str, dict[str, Any]]
    ratio_scheduled: RatioCheck | None = None  # spike/burst: the schedule's peak/base ratio vs asked
    ratio_sent: RatioCheck | None = None  # ... and as actually sent
    sla: dict[str, bool]  # SPEC §3 targets on latency_ms_all_turns
    repeated_messages: int = 0
    connections: dict[str, int] = Field(default_factory=dict)  # "warm" (before the start), "during_run"


def _reason(failure: str) -> str:
    """"ungrounded:price=528" -> "ungrounded"; "error:States.Timeout" stays whole."""
    return failure if failure.startswith("error:") else failure.split(":", 1)[0]


def summarize(samples: list[TurnSample], *, target: str, shape: LoadShape, process: Process, seed: int,
              messages: str, started_at: str, daily_messages: int = 1_000_000,
              repeated_messages: int = 0) -> LoadSummary:
    replies = [s for s in samples if s.latency_ms is not None]
    metas = [s for s in replies if s.outcome in ("answer", "fallback")]
    duration = shape.duration
    last_reply = max((s.replied_s for s in replies if s.replied_s is not None), default=0.0)
    throttles: Counter[str] = Counter()
    for s in metas:
        throttled = [t.target for t in s.tiers if t.outcome == "throttled"]
        throttles.update(throttled)
        throttles["turns"] += bool(throttled)
    throttles["turns"] += sum(1 for s in samples if s.outcome == "error" and "THROTTL" in (s.code or "").upper())
    priced = [s for s in metas if s.cost_usd is not None]
    total = sum((s.cost_usd for s in priced if s.cost_usd is not None), Decimal("0"))
    per_turn = total / len(priced) if priced else Decimal("0")
    sonnet = sum((cost_usd(Target.SONNET, t.input_tokens, t.output_tokens)
                  for s in priced for t in s.tiers if t.outcome == "ok" and t.target == s.final_tier), Decimal("0"))
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({s.kind for s in samples}):
        of_kind = [s for s in samples if s.kind == kind]
        values = [s.latency_ms if s.latency_ms is not None else math.inf for s in of_kind]
        stats = Percentiles.of(values)
        by_kind[kind] = {"turns": len(of_kind), "p50_ms": stats.p50, "p95_ms": stats.p95,
                         "fallbacks": sum(s.outcome == "fallback" for s in of_kind),
                         "escalated": sum(s.escalated for s in of_kind)}
    everyone = Percentiles.of([s.latency_ms if s.latency_ms is not None else math.inf for s in samples])
    sent_times = [s.sent_s for s in samples if s.sent_s is not None]
    return LoadSummary(
        target=target, shape=shape, process=process, seed=seed, messages=messages, started_at=started_at,
        scheduled=len(samples), sent=len(sent_times), replied=len(replies),
        answered=sum(s.outcome == "answer" for s in samples), fallbacks=sum(s.outcome == "fallback" for s in samples),
        errors=sum(s.outcome == "error" for s in samples), no_reply=sum(s.outcome == "timeout" for s in samples),
        offered_per_s=round(len(samples) / duration, 3),
        completed_per_s=round(len(replies) / max(last_reply, duration), 3),
        completed_in_window_per_s=round(sum(1 for s in replies if (s.replied_s or 0) < duration) / duration, 3),
        latency_ms=Percentiles.of([s.latency_ms for s in replies if s.latency_ms is not None]),
        latency_ms_all_turns=everyone,
        server_latency_ms=Percentiles.of([s.server_ms for s in metas if s.server_ms is not None]),
        send_lag_ms=Percentiles.of([round((s.sent_s - s.scheduled_s) * 1000, 1)
                                    for s in samples if s.sent_s is not None]),
        errors_by_code=dict(Counter(s.code or "UNKNOWN" for s in samples if s.outcome in ("error", "timeout"))),
        fallbacks_by_reason=dict(Counter(_reason(f) for s in samples if s.outcome == "fallback" for f in s.failures)),
        throttles=dict(throttles) or {"turns": 0},
        timeouts={"no_reply": sum(s.outcome == "timeout" for s in samples),
                  "turn_deadline": sum("timeout" in s.failures for s in metas),
                  "model_calls": sum(t.outcome == "timeout" for s in metas for t in s.tiers)},
        escalation_rate=round(sum(s.escalated for s in metas) / len(metas), 4) if metas else None,
        by_model=dict(Counter(s.final_tier for s in metas)),
        cache_hits=sum(s.cache == "exact" for s in metas),
        cost=CostProjection(
            turns_priced=len(priced), total_usd=total, per_turn_usd=per_turn.quantize(Decimal("1e-10")),
            all_sonnet_per_turn_usd=(sonnet / len(priced) if priced else Decimal("0")).quantize(Decimal("1e-10")),
            daily_messages=daily_messages, projected_daily_usd=(per_turn * daily_messages).quantize(Decimal("0.01")),
            projected_monthly_usd=(per_turn * daily_messages * DAYS_PER_MONTH).quantize(Decimal("0.01"))),
        by_kind=by_kind,
        ratio_scheduled=ratio_check(shape, [s.scheduled_s for s in samples]),
        ratio_sent=ratio_check(shape, sent_times),
        sla={name: value is not None and value < SLA_MS[name]
             for name, value in (("p50", everyone.p50), ("p95", everyone.p95), ("p99", everyone.p99))},
        repeated_messages=repeated_messages)


class TimeBin(BaseModel):
    """The turns scheduled in [start_s, start_s + width_s): how many, how many replied, and their latency."""

    start_s: float
    width_s: float
    arrivals: int
    replied: int
    no_reply: int
    fallbacks: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


def time_bins(samples: list[TurnSample], duration: float) -> list[TimeBin]:
    """At most MAX_BINS bins of whole seconds over the schedule (the chart, and what the job carries)."""
    width = max(math.ceil(duration / MAX_BINS), 1)
    count = max(math.ceil(duration / width), 1)
    grouped: list[list[TurnSample]] = [[] for _ in range(count)]
    for sample in samples:
        grouped[min(int(sample.scheduled_s // width), count - 1)].append(sample)
    bins = []
    for n, group in enumerate(grouped):
        latencies = [s.latency_ms for s in group if s.latency_ms is not None]
        bins.append(TimeBin(start_s=n * width, width_s=width, arrivals=len(group), replied=len(latencies),
                            no_reply=sum(s.latency_ms is None for s in group),
                            fallbacks=sum(s.outcome == "fallback" for s in group),
                            p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95),
                            max_ms=max(latencies, default=None)))
    return bins


class LoadTestResult(BaseModel):
    """A run as the `load-test` job carries it: the summary and the chart's time bins."""

    model_config = ConfigDict(extra="forbid")

    summary: LoadSummary
    bins: list[TimeBin] = Field(default_factory=list, max_length=MAX_BINS)

    @classmethod
    def of(cls, summary: LoadSummary, samples: list[TurnSample]) -> LoadTestResult:
        return cls(summary=summary, bins=time_bins(samples, summary.shape.duration))


def format_summary(summary: LoadSummary) -> str:
    """The table for people."""
    shape = summary.shape

    def ms(value: float | None) -> str:
        return "no reply" if value is None else f"{value:,.0f}"

    def row(name: str, stats: Percentiles) -> str:
        return f"  {name:<22} {ms(stats.p50):>9} {ms(stats.p95):>9} {ms(stats.p99):>9} {ms(stats.max):>9}  n={stats.n}"

    cost = summary.cost
    lines = [
        f"load test against {summary.target}  ({summary.started_at})",
        f"  pattern {shape.pattern.value}, {shape.rate:g} turns/s{' (final)' if shape.pattern.value == 'ramp' else ''}"
        f", {shape.duration:g} s, {summary.process.value} arrivals (seed {summary.seed}), messages: {summary.messages}",
        f"  turns       scheduled {summary.scheduled}, sent {summary.sent}, replied {summary.replied}: "
        f"{summary.answered} answered, {summary.fallbacks} fallbacks, {summary.errors} errors, "
        f"{summary.no_reply} no reply",
        f"  throughput  offered {summary.offered_per_s:.2f}/s, completed {summary.completed_per_s:.2f}/s "
        f"({summary.completed_in_window_per_s:.2f}/s within the {shape.duration:g} s window)",
        f"  {'latency ms':<22} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}",
        row("all turns", summary.latency_ms_all_turns),
        row("replied turns", summary.latency_ms),
        row("stack's own (meta)", summary.server_latency_ms),
        row("send lag", summary.send_lag_ms),
        "  SLA (SPEC §3, all turns) " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in summary.sla.items()),
        f"  errors      {_counts(summary.errors_by_code)}",
        f"  fallbacks   {_counts(summary.fallbacks_by_reason)}",
        f"  throttles   {_counts(summary.throttles)}",
        f"  timeouts    {_counts(summary.timeouts)}",
        f"  escalation  {'-' if summary.escalation_rate is None else f'{summary.escalation_rate:.1%}'}; "
        f"answered by {_counts(summary.by_model)}; cache hits {summary.cache_hits}",
        f"  cost        ${cost.per_turn_usd:.6f}/turn (all-Sonnet ${cost.all_sonnet_per_turn_usd:.6f}); at "
        f"{cost.daily_messages:,} messages/day: ${cost.projected_daily_usd:,.2f}/day, "
        f"${cost.projected_monthly_usd:,.2f}/month ({cost.days_per_month} days)",
    ]
    for label, check in (("scheduled", summary.ratio_scheduled), ("sent", summary.ratio_sent)):
        if check is not None:
            measured = "n/a" if check.measured is None else f"{check.measured:.2f}x"
            lines.append(f"  peak/base   {label}: {measured} vs {check.asked:g}x asked "
                         f"(±{check.tolerance:.0%}) {'ok' if check.ok else 'NOT AS ASKED'}")
    if summary.connections:
        lines.append(f"  connections {summary.connections.get('warm', 0)} opened before the start, "
                     f"{summary.connections.get('during_run', 0)} during the run (their connect time counts)")
    if summary.repeated_messages:
        lines.append(f"  note        {summary.repeated_messages} messages repeated an earlier one (the answer "
                     "cache may have served them)")
    lines.append(f"  {'by kind':<16} {'turns':>6} {'p50 ms':>9} {'p95 ms':>9} {'fallbacks':>10} {'escalated':>10}")
    for kind, stats in summary.by_kind.items():
        lines.append(f"  {kind:<16} {stats['turns']:>6} {ms(stats['p50_ms']):>9} {ms(stats['p95_ms']):>9} "
                     f"{stats['fallbacks']:>10} {stats['escalated']:>10}")
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    shown = {k: v for k, v in counts.items() if v}
    return ", ".join(f"{k} {v}" for k, v in sorted(shown.items(), key=lambda kv: -kv[1])) or "none"
