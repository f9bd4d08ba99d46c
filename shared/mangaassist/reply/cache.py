"""The answer cache: an exact-match hit is served by sendMessage without starting an execution.

Adapters: Redis (ElastiCache in AWS, redis-server locally) and an in-process
dictionary for when no Redis is configured. A cache failure is a miss, never an
error: the turn simply runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from mangaassist.answer.prompts import PROMPTS_VERSION
from mangaassist.protocol import AnswerFrame, AnswerMeta
from mangaassist.reply.validate import VALIDATOR_VERSION
from mangaassist.settings import redis_host, settings
from mangaassist.textnorm import normalize

logger = Logger(service="mangaassist")

TTL_SECONDS = 300  # the seed's cascade cache TTL; prices and stock may move
# Order status and stock answers go stale; these tasks are safe to replay for a few minutes.
CACHEABLE_TASKS = {"greeting", "faq", "summarization", "recommendation", "comparison", "discussion", "translation"}


class Cache(Protocol):
    name: str

    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, value: dict[str, Any], ttl: int = TTL_SECONDS) -> None: ...


def cache_key(message: str, locale: str | None) -> str:
    """The exact key: the prompt and validator versions (a new prompt or check must not replay answers made
    under the old one), the locale and the whitespace- and width-folded message."""
    text = f"{PROMPTS_VERSION}\x1f{VALIDATOR_VERSION}\x1f{locale or ''}\x1f{normalize(' '.join(message.split()))}"
    # backslashreplace: a lone surrogate is a key like any other, never a UnicodeEncodeError.
    return f"mangaassist:answer:v2:{hashlib.sha256(text.encode('utf-8', 'backslashreplace')).hexdigest()}"


class InProcessCache:
    name = "in-process"

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return entry[1]

    def put(self, key: str, value: dict[str, Any], ttl: int = TTL_SECONDS) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)


class RedisCache:
    name = "redis"

    def __init__(self, url: str) -> None:
        from mangaassist.adapters.redis_client import connect_redis

        # Tight timeouts: the cache must never cost more than it saves inside the 3 s budget. IAM auth if configured.
        self._redis = connect_redis(url)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._redis.get(key)
        except Exception:  # a cache outage is a miss
            logger.warning("redis get failed; treating as a miss", exc_info=True)
            return None
        return json.loads(raw) if raw else None  # type: ignore[arg-type]  # sync client: bytes, not Awaitable

    def put(self, key: str, value: dict[str, Any], ttl: int = TTL_SECONDS) -> None:
        try:
            self._redis.set(key, json.dumps(value, ensure_ascii=False), ex=ttl)
        except Exception:  # a cache outage only costs the next hit
            logger.warning("redis set failed; answer not cached", exc_info=True)


@cache
def answer_cache() -> Cache:
    """Redis when REDIS_URL names a reachable host, else the in-process cache."""
    url = settings().redis_url
    if redis_host(url):
        return RedisCache(url)
    return InProcessCache()


def cacheable(frame: dict[str, Any], history_used: bool = False, customer_data_used: bool = False) -> bool:
    """Only answers anyone may be given: accepted, of a replayable task, and built without the session's
    history or the customer's own data (orders), which another customer typing the same words must not see."""
    meta = frame.get("meta", {})
    if history_used or customer_data_used or meta.get("cache", "miss") != "miss":
        return False
    return meta.get("validation", {}).get("decision") == "accept" and meta.get("task") in CACHEABLE_TASKS


def hit_frame(cached: dict[str, Any], turn_id: str, elapsed_ms: float, kind: str = "exact",
              distance: float | None = None, latency_ms: dict[str, float] | None = None) -> dict[str, Any]:
    """A cached answer re-issued as this turn's frame: no model call, no cost. `kind` is exact or semantic (then
    `distance` is how far the cached question was and `latency_ms` the steps this turn ran before the hit)."""
    latency = latency_ms or {"total": round(elapsed_ms, 1), "cache": round(elapsed_ms, 1)}
    meta = {**cached["meta"], "turnId": turn_id, "cache": kind, "cache_distance": distance, "tiers": [],
            "escalated": False, "cost_usd": "0", "latency_ms": latency}
    return AnswerFrame(turnId=turn_id, text=cached["text"], meta=AnswerMeta.model_validate(meta)).to_wire()
