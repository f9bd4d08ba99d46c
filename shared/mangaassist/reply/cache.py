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

from mangaassist.protocol import AnswerFrame, AnswerMeta
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
    digest = hashlib.sha256(f"{locale or ''}\x1f{normalize(' '.join(message.split()))}".encode()).hexdigest()
    return f"mangaassist:answer:v1:{digest}"


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
        import redis

        # Tight timeouts: the cache must never cost more than it saves inside the 3 s budget.
        self._redis = redis.Redis.from_url(url, socket_timeout=0.1, socket_connect_timeout=0.2)

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


def cacheable(frame: dict[str, Any]) -> bool:
    meta = frame.get("meta", {})
    return meta.get("validation", {}).get("decision") == "accept" and meta.get("task") in CACHEABLE_TASKS


def hit_frame(cached: dict[str, Any], turn_id: str, elapsed_ms: float) -> dict[str, Any]:
    """A cached answer re-issued as this turn's frame: no model call, no cost."""
    meta = {**cached["meta"], "turnId": turn_id, "cache": "exact", "tiers": [], "escalated": False,
            "cost_usd": "0", "latency_ms": {"total": round(elapsed_ms, 1), "cache": round(elapsed_ms, 1)}}
    return AnswerFrame(turnId=turn_id, text=cached["text"], meta=AnswerMeta.model_validate(meta)).to_wire()
