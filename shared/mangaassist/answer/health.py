"""Health-based switching (SPEC §1 Route): per-target health windows and a circuit breaker.

Every model call is an observation (latency, outcome). Over a sliding window a
target trips when, with at least `min_calls` calls, its p99 latency, error rate
or capacity signal crosses the seed's thresholds (strictly above, as the seed
compares). A tripped target's circuit stays open for `cooldown_seconds`;
`HealthBoard.choose` then walks the fallback chain (`CHAIN`) past it.

The windows live where every Lambda instance sees them: Redis (sorted sets,
exact), else the budget table in DynamoDB (per-minute counters, bucketed p99),
else this process. A health-store failure never fails a turn: it logs and
reports the target healthy.

Once a circuit's cool-down ends the target starts from a clean slate: only
observations after the circuit closed count, so the calls that tripped it
(still inside the window when cool-down < window) cannot re-trip it at once.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Protocol, cast, get_args

from aws_lambda_powertools import Logger

from mangaassist.settings import redis_host, settings

logger = Logger(service="mangaassist")

OutcomeName = Literal["ok", "error", "throttled", "timeout"]
OUTCOMES: frozenset[str] = frozenset(get_args(OutcomeName))
# A low-confidence answer is still a successful model call; it says nothing about the target's health.
_OUTCOME_ALIASES = {"low_confidence": "ok"}
P99_LATENCY_MS = 2500.0  # seed: DynamicPatternSwitcher latency_threshold_ms
TARGETS = ("haiku", "sonnet", "sonnet_provisioned", "sagemaker")

# Where traffic goes when a target's circuit is open: provisioned -> on-demand Sonnet -> on-demand Haiku (SPEC §1).
CHAIN: dict[str, list[str]] = {
    "sonnet_provisioned": ["sonnet_provisioned", "sonnet", "haiku"],
    "sonnet": ["sonnet", "haiku"],
    "haiku": ["haiku", "sonnet"],
    "sagemaker": ["sagemaker", "haiku", "sonnet"],
}


@dataclass(frozen=True)
class HealthPolicy:
    """Thresholds from the seed's DynamicPatternSwitcher (p99 2500 ms, errors 5%, capacity 85%).

    Capacity: the seed trips at 85% capacity utilization, a figure only provisioned
    throughput and SageMaker instances report. On-demand Bedrock reports none; its
    capacity signal is being refused, so for every target we trip when more than 15%
    of calls are throttled: the on-demand stand-in for the seed's 85% utilization.
    Errors are "error" and "timeout" outcomes; throttles count toward capacity only.
    """

    window_seconds: float = 60.0
    min_calls: int = 20  # below this a window is noise (at 20 calls the p99 is simply the slowest)
    p99_latency_ms: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(TARGETS, P99_LATENCY_MS))
    max_error_rate: float = 0.05
    max_throttle_rate: float = 0.15
    cooldown_seconds: float = 30.0

    def latency_limit(self, target: str) -> float:
        return self.p99_latency_ms.get(target, P99_LATENCY_MS)

    def breaches(self, health: TargetHealth) -> list[str]:
        """The thresholds `health` crosses, as reason strings; none below `min_calls`."""
        if health.calls < self.min_calls:
            return []
        reasons = []
        limit = self.latency_limit(health.target)
        if health.p99_latency_ms is not None and health.p99_latency_ms > limit:
            reasons.append(f"p99_latency({health.p99_latency_ms:.0f}ms>{limit:.0f}ms)")
        if health.error_rate > self.max_error_rate:
            reasons.append(f"error_rate({_pct(health.error_rate)}>{_pct(self.max_error_rate)})")
        if health.throttle_rate > self.max_throttle_rate:
            reasons.append(f"capacity(throttled {_pct(health.throttle_rate)}>{_pct(self.max_throttle_rate)})")
        return reasons


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"


@dataclass(frozen=True)
class Observation:
    target: str
    at: float  # epoch seconds
    latency_ms: float
    outcome: OutcomeName

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")


@dataclass(frozen=True)
class TargetHealth:
    """One target's window as a store sees it; `reasons` is filled by the board's policy."""

    target: str
    calls: int = 0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    p99_latency_ms: float | None = None  # over successful calls; failures count in the rates instead
    open_until: float | None = None
    open_reason: str | None = None
    reasons: list[str] = field(default_factory=list)

    def is_open(self, now: float) -> bool:
        return self.open_until is not None and now < self.open_until


def p99(latencies: Iterable[float]) -> float | None:
    """Nearest-rank p99: with 20 calls it is the slowest, with 200 the second slowest."""
    ordered = sorted(latencies)
    if not ordered:
        return None
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def _summarize(target: str, outcomes: Sequence[tuple[str, float]]) -> TargetHealth:
    calls = len(outcomes)
    if not calls:
        return TargetHealth(target=target)
    errors = sum(1 for outcome, _ in outcomes if outcome in ("error", "timeout"))
    throttles = sum(1 for outcome, _ in outcomes if outcome == "throttled")
    return TargetHealth(target=target, calls=calls, error_rate=errors / calls, throttle_rate=throttles / calls,
                        p99_latency_ms=p99(latency for outcome, latency in outcomes if outcome == "ok"))


class HealthStore(Protocol):
    window_seconds: float

    def record(self, obs: Observation) -> None: ...

    def snapshot(self, target: str, now: float) -> TargetHealth: ...

    def open_circuit(self, target: str, until: float, reason: str, now: float) -> bool:
        """Open `target`'s circuit until `until`; True only for the caller that opened it."""
        ...

    def open_circuits(self, targets: Sequence[str], now: float) -> dict[str, float]:
        """`open_until` of those of `targets` whose circuit is open at `now` (one round trip)."""
        ...


class _Outage:
    """A store error is logged and swallowed, then the store is skipped for a few seconds:
    a dead Redis must not cost a connect timeout on every call of every turn."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    @contextmanager
    def guard(self, operation: str) -> Iterator[None]:
        try:
            yield
        except Exception:  # a health outage must never fail a turn: the caller's default says "healthy"
            self._until = time.monotonic() + self._seconds
            logger.warning("health store failed; treating targets as healthy", extra={"operation": operation},
                           exc_info=True)


class InProcessHealthStore:
    """This process only: tests and single-process runs. Thread-safe."""

    def __init__(self, window_seconds: float = HealthPolicy.window_seconds, max_observations: int = 2000) -> None:
        self.window_seconds = window_seconds
        self._max = max_observations
        self._observations: dict[str, deque[Observation]] = {}
        self._circuits: dict[str, tuple[float, str]] = {}
        self._since: dict[str, float] = {}  # end of the last cool-down: the clean slate
        self._lock = threading.Lock()

    def record(self, obs: Observation) -> None:
        with self._lock:
            window = self._observations.setdefault(obs.target, deque(maxlen=self._max))
            window.append(obs)
            self._trim(window, obs.at)

    def _trim(self, window: deque[Observation], now: float) -> None:
        while window and window[0].at <= now - self.window_seconds:
            window.popleft()

    def snapshot(self, target: str, now: float) -> TargetHealth:
        with self._lock:
            start, since = now - self.window_seconds, self._since.get(target, -math.inf)
            window = [(o.outcome, o.latency_ms) for o in self._observations.get(target, ())
                      if o.at > start and o.at >= since]
            circuit = self._circuits.get(target)
        health = _summarize(target, window)
        if circuit and now < circuit[0]:
            health = replace(health, open_until=circuit[0], open_reason=circuit[1])
        return health

    def open_circuit(self, target: str, until: float, reason: str, now: float) -> bool:
        with self._lock:
            current = self._circuits.get(target)
            if current and now < current[0]:
                return False
            self._circuits[target] = (until, reason)
            self._since[target] = until
            return True

    def open_circuits(self, targets: Sequence[str], now: float) -> dict[str, float]:
        with self._lock:
            return {t: self._circuits[t][0] for t in targets if t in self._circuits and now < self._circuits[t][0]}


class RedisHealthStore:
    """Shared by every Lambda instance: one sorted set of observations per target, scored by time.

    Keys (all single-key commands in non-transactional pipelines, so a cluster-mode
    ElastiCache Serverless endpoint never sees a cross-slot request):
    `<prefix><target>:obs` the window, `<prefix><target>:circuit` the open circuit
    (SET NX PXAT: NX makes one opener, the expiry is the cool-down) and
    `<prefix><target>:since` when the last cool-down ended.
    """

    def __init__(self, redis_client: Any, key_prefix: str = "mangaassist:health:",
                 window_seconds: float = HealthPolicy.window_seconds, max_observations: int = 2000,
                 outage_seconds: float = 5.0) -> None:
        self._redis = redis_client
        self._prefix = key_prefix
        self.window_seconds = window_seconds
        self._max = max_observations
        self._outage = _Outage(outage_seconds)

    def _key(self, target: str, kind: str) -> str:
        return f"{self._prefix}{target}:{kind}"

    def record(self, obs: Observation) -> None:
        if self._outage.active():
            return
        key = self._key(obs.target, "obs")
        # The uuid keeps two identical observations two members.
        member = json.dumps({"l": round(obs.latency_ms, 1), "o": obs.outcome, "u": uuid.uuid4().hex[:12]},
                            separators=(",", ":"))
        with self._outage.guard("record"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.zadd(key, {member: obs.at})
            pipe.zremrangebyscore(key, "-inf", obs.at - self.window_seconds)
            pipe.zremrangebyrank(key, 0, -self._max - 1)  # keep the newest max_observations
            pipe.expire(key, math.ceil(self.window_seconds) * 2)
            pipe.execute()

    def snapshot(self, target: str, now: float) -> TargetHealth:
        if self._outage.active():
            return TargetHealth(target=target)
        health = TargetHealth(target=target)
        with self._outage.guard("snapshot"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._key(target, "circuit"))
            pipe.get(self._key(target, "since"))
            pipe.zrangebyscore(self._key(target, "obs"), f"({now - self.window_seconds}", "+inf", withscores=True)
            circuit_raw, since_raw, members = pipe.execute()
            since = float(since_raw) if since_raw else -math.inf
            window = [(m["o"], float(m["l"])) for m in (json.loads(raw) for raw, at in members if at >= since)]
            circuit = json.loads(circuit_raw) if circuit_raw else None
            health = _summarize(target, window)
            if circuit and now < circuit["until"]:
                health = replace(health, open_until=circuit["until"], open_reason=circuit["reason"])
        return health

    def open_circuit(self, target: str, until: float, reason: str, now: float) -> bool:
        if self._outage.active():
            return False
        until_ms = math.ceil(until * 1000)
        value = json.dumps({"until": until, "reason": reason}, separators=(",", ":"))
        opened = False
        with self._outage.guard("open_circuit"):
            opened = bool(self._redis.set(self._key(target, "circuit"), value, nx=True, pxat=until_ms))
            if opened:  # only the opener moves the clean-slate mark; it outlives the window it cuts
                self._redis.set(self._key(target, "since"), repr(until),
                                pxat=until_ms + math.ceil(self.window_seconds * 1000))
        return opened

    def open_circuits(self, targets: Sequence[str], now: float) -> dict[str, float]:
        if self._outage.active() or not targets:
            return {}
        opened: dict[str, float] = {}
        with self._outage.guard("open_circuits"):
            pipe = self._redis.pipeline(transaction=False)
            for target in targets:
                pipe.get(self._key(target, "circuit"))
            values = pipe.execute()
            opened = {t: json.loads(raw)["until"] for t, raw in zip(targets, values, strict=True) if raw}
        return {t: until for t, until in opened.items() if now < until}


# Latency buckets (upper bounds, ms) of the DynamoDB histogram. The seed's 2500 ms and the SLA's 3000 ms
# are bounds, so a limit at either is decided exactly; 8000 ms is the model clients' read timeout.
BUCKETS_MS = (250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 8000)
_BUCKET_ATTRS = [f"lat_le_{b}" for b in BUCKETS_MS] + [f"lat_gt_{BUCKETS_MS[-1]}"]
_DAY_SECONDS = 86400


def _bucket(latency_ms: float) -> str:
    for bound, attr in zip(BUCKETS_MS, _BUCKET_ATTRS, strict=False):
        if latency_ms <= bound:
            return attr
    return _BUCKET_ATTRS[-1]


def bucketed_p99(counts: Mapping[str, int]) -> float | None:
    """Upper bound of the bucket holding the nearest-rank p99 (inf beyond the last bound)."""
    total = sum(counts.get(attr, 0) for attr in _BUCKET_ATTRS)
    if not total:
        return None
    rank, seen = math.ceil(0.99 * total), 0
    for bound, attr in zip([*BUCKETS_MS, math.inf], _BUCKET_ATTRS, strict=True):
        seen += counts.get(attr, 0)
        if seen >= rank:
            return float(bound)
    return math.inf  # unreachable: the buckets sum to total


class DynamoHealthStore:
    """The fallback where no Redis exists: the budget table (pk `day`, TTL `expiresAt`).

    Items `health#<target>#<epoch minute>` hold atomic counters (ADD calls, errors,
    throttles and one latency bucket per successful call). Precision trade-offs:
    the window is whole minutes, every minute overlapping the last window_seconds,
    so it reaches back between window_seconds and window_seconds + 60; p99 is the
    upper bound of its histogram bucket, exact against a limit on a bucket bound
    (2500, 3000 ms) and conservative otherwise; after a cool-down only minutes that
    began after the circuit opened count, so re-tripping can lag up to a minute.
    The circuit is item `circuit#<target>`, written only if absent or expired.
    """

    def __init__(self, table: Any, window_seconds: float = HealthPolicy.window_seconds,
                 outage_seconds: float = 5.0) -> None:
        self._table = table
        self.window_seconds = window_seconds
        self._outage = _Outage(outage_seconds)

    @staticmethod
    def _minute_key(target: str, minute: int) -> dict[str, str]:
        return {"day": f"health#{target}#{minute}"}

    @staticmethod
    def _circuit_key(target: str) -> dict[str, str]:
        return {"day": f"circuit#{target}"}

    def record(self, obs: Observation) -> None:
        if self._outage.active():
            return
        adds = "calls :one, errors :e, throttles :t"
        values: dict[str, Any] = {":one": 1, ":e": int(obs.outcome in ("error", "timeout")),
                                  ":t": int(obs.outcome == "throttled"), ":exp": int(obs.at) + _DAY_SECONDS}
        if obs.outcome == "ok":
            adds += f", {_bucket(obs.latency_ms)} :one"
        with self._outage.guard("record"):
            self._table.update_item(
                Key=self._minute_key(obs.target, int(obs.at // 60)),
                UpdateExpression=f"ADD {adds} SET expiresAt = if_not_exists(expiresAt, :exp)",
                ExpressionAttributeValues=values,
            )

    def _get(self, keys: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        request = {self._table.name: {"Keys": keys}}
        for _ in range(2):  # one retry of unprocessed keys; what is still missing reads as no data
            response = self._table.meta.client.batch_get_item(RequestItems=request)
            items.update({item["day"]: item for item in response.get("Responses", {}).get(self._table.name, [])})
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        return items

    def snapshot(self, target: str, now: float) -> TargetHealth:
        if self._outage.active():
            return TargetHealth(target=target)
        circuit_key = self._circuit_key(target)
        minutes = range(int((now - self.window_seconds) // 60), int(now // 60) + 1)
        items: dict[str, dict[str, Any]] = {}
        with self._outage.guard("snapshot"):  # the circuit and the window's minutes in one BatchGetItem
            items = self._get([circuit_key, *(self._minute_key(target, m) for m in minutes)])
        circuit = items.pop(circuit_key["day"], {})
        if "openedAt" in circuit:  # clean slate: no minute that began before the last opening counts
            first = math.ceil(float(circuit["openedAt"]) / 60)
            items = {day: item for day, item in items.items() if int(day.rsplit("#", 1)[1]) >= first}
        totals: dict[str, int] = {}
        for item in items.values():
            for name in ("calls", "errors", "throttles", *_BUCKET_ATTRS):
                totals[name] = totals.get(name, 0) + int(item.get(name, 0))
        calls = totals.get("calls", 0)
        health = TargetHealth(target=target)
        if calls:
            health = TargetHealth(target=target, calls=calls, error_rate=totals["errors"] / calls,
                                  throttle_rate=totals["throttles"] / calls, p99_latency_ms=bucketed_p99(totals))
        until = float(circuit["openUntil"]) if "openUntil" in circuit else None
        if until is not None and now < until:
            health = replace(health, open_until=until, open_reason=circuit.get("reason"))
        return health

    def open_circuit(self, target: str, until: float, reason: str, now: float) -> bool:
        if self._outage.active():
            return False
        with self._outage.guard("open_circuit"):
            try:
                self._table.update_item(
                    Key=self._circuit_key(target),
                    UpdateExpression="SET openUntil = :until, openedAt = :now, reason = :reason, expiresAt = :exp",
                    # The condition is the single-opener guarantee: a live circuit cannot be reopened.
                    ConditionExpression="attribute_not_exists(openUntil) OR openUntil <= :now",
                    ExpressionAttributeValues={":until": _decimal(until), ":now": _decimal(now), ":reason": reason,
                                               ":exp": int(until) + _DAY_SECONDS},
                )
            except self._table.meta.client.exceptions.ConditionalCheckFailedException:
                return False
            return True
        return False

    def open_circuits(self, targets: Sequence[str], now: float) -> dict[str, float]:
        if self._outage.active() or not targets:
            return {}
        items: dict[str, dict[str, Any]] = {}
        with self._outage.guard("open_circuits"):
            items = self._get([self._circuit_key(t) for t in dict.fromkeys(targets)])
        opened = {t: float(items[f"circuit#{t}"]["openUntil"]) for t in targets if f"circuit#{t}" in items}
        return {t: until for t, until in opened.items() if now < until}


def _decimal(seconds: float) -> Decimal:
    return Decimal(str(round(seconds, 3)))  # DynamoDB numbers are Decimals; ms precision is plenty


class HealthBoard:
    """The policy over a store: record calls, trip circuits, pick the first available target of a chain."""

    def __init__(self, store: HealthStore, policy: HealthPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy or HealthPolicy()
        if store.window_seconds != self.policy.window_seconds:
            raise ValueError("the store's window_seconds must match the policy's")
        self._clock = clock

    def record(self, target: str, latency_ms: float, outcome: str, now: float | None = None) -> list[str]:
        """Record one model call; returns the reasons when this call opened the target's circuit, else []."""
        now = self._clock() if now is None else now
        outcome = _OUTCOME_ALIASES.get(outcome, outcome)  # Observation rejects anything else
        self.store.record(Observation(str(target), now, latency_ms, cast(OutcomeName, outcome)))
        health = self.health(target, now)
        if health.is_open(now) or not health.reasons:
            return []
        if not self.store.open_circuit(str(target), now + self.policy.cooldown_seconds, ", ".join(health.reasons),
                                       now):
            return []  # another instance opened it first and logs the switch
        logger.warning("circuit opened", extra={"target": str(target), "reasons": health.reasons,
                                                "cooldown_seconds": self.policy.cooldown_seconds})
        return health.reasons

    def health(self, target: str, now: float | None = None) -> TargetHealth:
        now = self._clock() if now is None else now
        health = self.store.snapshot(str(target), now)
        return replace(health, reasons=self.policy.breaches(health))

    def available(self, target: str, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        return str(target) not in self.store.open_circuits([str(target)], now)

    def choose(self, preferred: Sequence[str], now: float | None = None) -> tuple[str | None, list[str]]:
        """The first target of `preferred` whose circuit is closed, and the ones skipped before it.

        None when every target is open: the caller answers with the canned reply.
        """
        now = self._clock() if now is None else now
        names = [str(t) for t in preferred]
        opened = self.store.open_circuits(names, now)
        skipped: list[str] = []
        for name in names:
            if name not in opened:
                return name, skipped
            skipped.append(name)
        return None, skipped


def connect_redis(url: str) -> Any:
    """A client sized for the turn budget: tight timeouts and an explicit retry policy, one immediate retry
    (a connection dropped while the Lambda was frozen). redis-py's defaults differ by constructor: Redis()
    retries three times with backoff (~4 s against a dead host)."""
    from mangaassist.adapters.redis_client import connect_redis as connect  # IAM auth when configured

    return connect(url)


@cache
def health_board() -> HealthBoard:
    """Redis when REDIS_URL names a host (as the answer cache), else the budget table, else this process."""
    s = settings()
    if redis_host(s.redis_url):
        return HealthBoard(RedisHealthStore(connect_redis(s.redis_url)))
    if s.budget_table:
        from mangaassist.adapters import aws

        return HealthBoard(DynamoHealthStore(aws.table(s.budget_table)))
    return HealthBoard(InProcessHealthStore())
