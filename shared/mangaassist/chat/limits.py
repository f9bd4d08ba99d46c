"""Abuse and spend limits, checked by sendMessage before a turn may cost anything.

- Rate: token buckets per connection and per principal (customer id or `guest:<connectionId>`), in Redis so every
  Lambda environment shares them; one Lua script checks both buckets and takes a token from each only when both
  have one, so a refused frame costs nothing. When Redis is down or not configured each execution environment
  keeps its own buckets: the limit is then per environment, still a bound, since reserved concurrency caps how
  many environments sendMessage has (at most reserved x the rate in total).
- Quota: turns per principal per JST day, a counter with a TTL in Redis, else in the budget table (DynamoDB).
- Budget: at 100% of the daily budget no turn starts; the customer gets a polite reply (see conversation).

Keys never hold a customer id: the principal is hashed. The principal's hash is the Redis hash tag, so both
buckets of a frame live in one slot (ElastiCache Serverless is a cluster).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from mangaassist.answer.routing import JST, SpendLedger, jst_day
from mangaassist.settings import Settings, redis_host, settings

logger = Logger(service="mangaassist")

QUOTA_TTL_SECONDS = 2 * 24 * 3600  # a day's counter outlives its day, whatever the clocks say
STORE_RETRY_SECONDS = 5.0  # after a store fails, frames skip it this long instead of each paying its timeouts
BUDGET_READ_SECONDS = 5.0  # today's spend is re-read at most this often per environment

# KEYS: bucket keys; ARGV: per key its rate (tokens per ms) and burst. Returns 0 (taken) or the wait in ms.
_BUCKETS_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens, ts = tonumber(state[1]) or burst, tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  levels[i] = tokens
  if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) / rate)) end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
end
return 0
"""

_COUNT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


@dataclass(frozen=True)
class Bucket:
    key: str
    per_second: float
    burst: int


@dataclass(frozen=True)
class Refusal:
    """Why a frame is not served, as the error frame says it."""

    code: str  # RATE_LIMITED | QUOTA_EXCEEDED
    message: str
    retry_after: int  # whole seconds, at least 1


class BucketStore(Protocol):
    def take(self, buckets: list[Bucket]) -> float:
        """Take one token from every bucket, or none: 0.0 when taken, else the seconds until one could be."""
        ...


class Counter(Protocol):
    def count(self, key: str) -> int:
        """Add one to the counter and return its new value."""
        ...


class RedisBuckets:
    def __init__(self, client: Any) -> None:
        self._script = client.register_script(_BUCKETS_LUA)

    def take(self, buckets: list[Bucket]) -> float:
        args: list[float] = []
        for bucket in buckets:
            args += [bucket.per_second / 1000, bucket.burst]
        wait_ms = int(self._script(keys=[b.key for b in buckets], args=args))
        return wait_ms / 1000


class InProcessBuckets:
    """The same buckets in this process only (one Lambda execution environment)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, buckets: list[Bucket]) -> float:
        with self._lock:
            now = self._clock()
            levels = []
            wait = 0.0
            for bucket in buckets:
                tokens, at = self._levels.get(bucket.key, (float(bucket.burst), now))
                tokens = min(float(bucket.burst), tokens + max(0.0, now - at) * bucket.per_second)
                levels.append(tokens)
                if tokens < 1:
                    wait = max(wait, (1 - tokens) / bucket.per_second)
            if wait > 0:
                return wait
            for bucket, tokens in zip(buckets, levels, strict=True):
                self._levels[bucket.key] = (tokens - 1, now)
            if len(self._levels) > 10_000:  # forget full buckets: a long-lived environment sees many connections
                self._levels = {k: v for k, v in self._levels.items() if now - v[1] < 600}
            return 0.0


class RedisCounter:
    def __init__(self, client: Any) -> None:
        self._script = client.register_script(_COUNT_LUA)

    def count(self, key: str) -> int:
        return int(self._script(keys=[key], args=[QUOTA_TTL_SECONDS]))


class DynamoCounter:
    """Counters in the budget table (its key is `day`; these items are `quota#<day>#<hash>`), expiring by TTL."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def count(self, key: str) -> int:
        expires = int(time.time()) + QUOTA_TTL_SECONDS
        result = self._table.update_item(
            Key={"day": key}, UpdateExpression="ADD turns :one SET expiresAt = if_not_exists(expiresAt, :exp)",
            ExpressionAttributeValues={":one": 1, ":exp": expires}, ReturnValues="UPDATED_NEW")
        return int(result["Attributes"]["turns"])


def principal_tag(principal: str) -> str:
    """The principal as it appears in keys: a hash, never the customer id itself."""
    return hashlib.sha256(principal.encode()).hexdigest()[:24]


def seconds_to_jst_midnight(now: datetime) -> int:
    local = now.astimezone(JST)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((midnight - local).total_seconds()))


@dataclass(frozen=True)
class LimitPolicy:
    connection_per_second: float = 1.0
    connection_burst: int = 5
    principal_per_minute: float = 30.0
    principal_burst: int = 30
    daily_turns: int = 200

    @classmethod
    def from_settings(cls, s: Settings) -> LimitPolicy:
        return cls(s.rate_connection_per_second, s.rate_connection_burst, s.rate_principal_per_minute,
                   s.rate_principal_burst, s.daily_turn_quota)


class Limits:
    """Rate limits and the daily quota for one frame. A store that fails hands over to the next one; limits never
    turn a frame into a crash."""

    def __init__(self, policy: LimitPolicy, buckets: BucketStore | None, counters: list[Counter],
                 local: InProcessBuckets | None = None, clock: Any = time.monotonic) -> None:
        self.policy = policy
        self._buckets = buckets
        self._local = local or InProcessBuckets()
        self._counters = counters
        self._clock = clock
        self._down_until: dict[int, float] = {}  # id(store) -> when to try it again

    def _usable(self, store: object) -> bool:
        return self._down_until.get(id(store), 0.0) <= self._clock()

    def _failed(self, store: object) -> None:
        self._down_until[id(store)] = self._clock() + STORE_RETRY_SECONDS

    def buckets(self, connection_id: str, principal: str) -> list[Bucket]:
        tag = principal_tag(principal)
        chosen = []
        if self.policy.connection_per_second > 0:
            chosen.append(Bucket(f"mangaassist:rate:{{{tag}}}:conn:{connection_id}",
                                 self.policy.connection_per_second, self.policy.connection_burst))
        if self.policy.principal_per_minute > 0:
            chosen.append(Bucket(f"mangaassist:rate:{{{tag}}}:principal",
                                 self.policy.principal_per_minute / 60, self.policy.principal_burst))
        return chosen

    def rate(self, connection_id: str, principal: str) -> Refusal | None:
        buckets = self.buckets(connection_id, principal)
        if not buckets:
            return None
        wait = None
        if self._buckets is not None and self._usable(self._buckets):
            try:
                wait = self._buckets.take(buckets)
            except Exception:
                self._failed(self._buckets)
                logger.warning("rate limits: the shared store failed; this environment's buckets decide",
                               exc_info=True)
        if wait is None:
            wait = self._local.take(buckets)
        if wait <= 0:
            return None
        return Refusal("RATE_LIMITED", "too many messages; please wait a moment before sending another",
                       max(1, math.ceil(wait)))

    def quota(self, principal: str, now: datetime | None = None) -> Refusal | None:
        if self.policy.daily_turns <= 0:
            return None
        when = now or datetime.now(JST)
        key = f"quota#{jst_day(when)}#{principal_tag(principal)}"
        for counter in self._counters:
            if not self._usable(counter):
                continue
            try:
                used = counter.count(key)
            except Exception:
                self._failed(counter)
                logger.warning("daily quota: a counter store failed; trying the next", exc_info=True)
                continue
            if used <= self.policy.daily_turns:
                return None
            return Refusal("QUOTA_EXCEEDED", f"the daily limit of {self.policy.daily_turns} messages is reached; "
                           "please come back tomorrow", seconds_to_jst_midnight(when))
        # No store could count: serve the turn. The rate limits still bound it, and the budget stop bounds spend.
        logger.error("daily quota: no counter store answered; the turn is served")
        return None

    def admit(self, connection_id: str, principal: str) -> Refusal | None:
        """Rate limits first (a refused frame uses no quota), then the quota."""
        return self.rate(connection_id, principal) or self.quota(principal)


class BudgetStop:
    """Whether today's spend has reached the daily budget; read at most every few seconds per environment.

    An unreadable ledger does not stop turns: Route then answers with Haiku only, without escalation."""

    def __init__(self, ledger: SpendLedger, daily_budget_usd: Decimal, clock: Any = time.monotonic,
                 refresh_seconds: float = BUDGET_READ_SECONDS) -> None:
        self._ledger = ledger
        self._budget = daily_budget_usd
        self._clock = clock
        self._refresh = refresh_seconds
        self._read: tuple[float, str, Decimal] | None = None

    def exhausted(self, now: datetime | None = None) -> bool:
        if self._budget <= 0:
            return False
        day = jst_day(now or datetime.now(JST))
        at = self._clock()
        if self._read is None or self._read[1] != day or at - self._read[0] >= self._refresh:
            try:
                self._read = (at, day, self._ledger.spent_today(day))
            except Exception:
                logger.warning("the daily budget could not be read: turns go on (Route plays safe)", exc_info=True)
                return False
        return self._read[2] >= self._budget


@cache
def limits() -> Limits:
    """This environment's limits: Redis when REDIS_URL names a host, the budget table as the quota's fallback."""
    from mangaassist.adapters import aws
    from mangaassist.adapters.redis_client import connect_redis

    s = settings()
    client = connect_redis(s.redis_url) if redis_host(s.redis_url) else None
    counters: list[Counter] = []
    if client is not None:
        counters.append(RedisCounter(client))
    if s.budget_table:
        counters.append(DynamoCounter(aws.table(s.budget_table)))
    return Limits(LimitPolicy.from_settings(s), RedisBuckets(client) if client is not None else None, counters)


@cache
def budget_stop() -> BudgetStop | None:
    from mangaassist.adapters import aws
    from mangaassist.adapters.dynamodb import DynamoSpendLedger

    s = settings()
    if not s.budget_table:
        return None
    return BudgetStop(DynamoSpendLedger(aws.table(s.budget_table)), s.daily_budget_usd)
