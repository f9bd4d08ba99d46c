"""The semantic answer cache: a paraphrase of an answered question gets that answer, under the same guard.

Route looks up (the turn's query embedding, k-NN 1, filtered by the guard's tag: reply.cache_guard), Finalize
writes. The store is RedisVL over Redis/Valkey vector search (FT.CREATE/FT.SEARCH, HNSW, cosine); deployed, a
node-based ElastiCache for Valkey 8.2 (SEMANTIC_CACHE_URL), locally a redis-server 8.2 with RediSearch. Without
one, or when it fails, the cache is off: every lookup is a miss and the turn runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from mangaassist.answer.prompts import PROMPTS_VERSION
from mangaassist.reply.cache_guard import Guard, guard_for
from mangaassist.reply.validate import VALIDATOR_VERSION
from mangaassist.settings import redis_host, settings
from mangaassist.turn import CacheLookup, Task, TurnState

logger = Logger(service="mangaassist")

# Policies change rarely; series facts (status, latest volume) more often; recommendations follow the stock
# (15 min, the runtime configuration's ceiling for the exact cache too).
DEFAULT_TTLS: dict[str, int] = {"greeting": 86400, "faq": 21600, "summarization": 21600, "discussion": 21600,
                                "comparison": 21600, "recommendation": 900}
# A price or stock statement may go stale within a TTL: such answers are never cached semantically (a policy's
# fees are policy, so FAQ answers may quote them).
_PRICE = re.compile(r"[¥￥$]\s?\d|\d[\d,]*\s?(?:円|yen\b|jpy\b)|in stock|out of stock|在庫|品切れ", re.IGNORECASE)
_PREFIX = "mangaassist:semcache:v1"


def ttl_for(task: str, overrides: str = "") -> int:
    """The task's TTL in seconds: SEMANTIC_CACHE_TTLS ("faq=3600,recommendation=600") over the defaults."""
    ttls = dict(DEFAULT_TTLS)
    for item in filter(None, (part.strip() for part in overrides.split(","))):
        name, _, seconds = item.partition("=")
        if seconds.strip().isdigit():
            ttls[name.strip()] = int(seconds)
    return ttls.get(task, 0)


def versioned(guard: Guard) -> str:
    """The guard key bound to the prompt and validator versions: a new prompt or check starts a fresh cache."""
    return hashlib.sha256(f"{PROMPTS_VERSION}|{VALIDATOR_VERSION}|{guard.key}".encode()).hexdigest()[:32]


def turn_guard(state: TurnState) -> Guard | None:
    """The guard of this turn if its answer may come from (or go to) the semantic cache: no history, a
    classification, a task whose answer depends only on the question."""
    if state.request.history or state.understanding is None or state.query_embedding is None:
        return None
    return guard_for(state.understanding.classification, state.request.message, state.request.locale)


def storable(state: TurnState, frame: dict[str, Any]) -> bool:
    """An accepted model answer built from the catalog and policies only: no order, no product price or stock."""
    meta = frame.get("meta", {})
    if meta.get("validation", {}).get("decision") != "accept" or meta.get("cache") != "miss":
        return False
    sources = state.understanding.retrieval.sources if state.understanding else []
    if any(source.kind in ("order", "product") for source in sources):
        return False
    task = state.understanding.classification.task if state.understanding else Task.UNKNOWN
    return task is Task.FAQ or not _PRICE.search(frame.get("text", ""))


class SemanticStore(Protocol):
    def nearest(self, guard_key: str, vector: Sequence[float]) -> tuple[float, dict[str, Any]] | None: ...
    def put(self, guard_key: str, message: str, vector: Sequence[float], frame: dict[str, Any], ttl: int) -> None: ...


class RedisSemanticStore:
    """One RedisVL SearchIndex per vector size: a tag field (the guard), the vector, the frame as JSON."""

    def __init__(self, url: str, credential_provider: Any = None) -> None:
        import redis

        # Tight timeouts: a slow cache must cost less than the model call it saves.
        self._client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25,
                                            credential_provider=credential_provider)
        self._indexes: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _index(self, dims: int) -> Any:
        with self._lock:
            if dims not in self._indexes:
                from redisvl.index import SearchIndex

                schema = {
                    "index": {"name": f"mangaassist-semcache-v1-{dims}", "prefix": f"{_PREFIX}:{dims}",
                              "storage_type": "hash"},
                    # Tag and vector fields only: what ElastiCache for Valkey's vector search indexes.
                    "fields": [{"name": "guard", "type": "tag"},
                               {"name": "vector", "type": "vector",
                                "attrs": {"dims": dims, "algorithm": "hnsw", "distance_metric": "cosine",
                                          "datatype": "float32"}}],
                }
                index = SearchIndex.from_dict(schema, redis_client=self._client)
                index.create(overwrite=False)  # an existing index (another environment made it) is kept
                self._indexes[dims] = index
            return self._indexes[dims]

    def prepare(self, dims: int) -> None:
        """The imports and the index, made ahead of the first lookup (init-phase work: lambda_task.prime)."""
        import numpy  # noqa: F401 - imported now, not in a turn
        import redisvl.query  # noqa: F401

        self._index(dims)

    def nearest(self, guard_key: str, vector: Sequence[float]) -> tuple[float, dict[str, Any]] | None:
        from redisvl.query import VectorQuery
        from redisvl.query.filter import Tag

        query = VectorQuery(vector=list(vector), vector_field_name="vector", return_fields=["frame"],
                            filter_expression=Tag("guard") == guard_key, num_results=1)
        results = self._index(len(vector)).query(query)
        if not results:
            return None
        return float(results[0]["vector_distance"]), json.loads(results[0]["frame"])

    def put(self, guard_key: str, message: str, vector: Sequence[float], frame: dict[str, Any], ttl: int) -> None:
        import numpy as np

        index = self._index(len(vector))
        # One entry per (guard, question): asking again refreshes it instead of adding a duplicate.
        key = f"{_PREFIX}:{len(vector)}:{guard_key}:{hashlib.sha256(message.encode()).hexdigest()[:16]}"
        record = {"guard": guard_key, "vector": np.asarray(vector, dtype=np.float32).tobytes(),
                  "frame": json.dumps(frame, ensure_ascii=False)}
        index.load([record], keys=[key], ttl=ttl)


@dataclass
class SemanticCache:
    store: SemanticStore
    max_distance: float | None  # None: shadow mode, distances recorded, nothing served
    ttl_overrides: str = ""

    def lookup(self, state: TurnState) -> CacheLookup:
        guard = turn_guard(state)
        if guard is None or state.query_embedding is None:
            return CacheLookup()
        try:
            found = self.store.nearest(versioned(guard), state.query_embedding.vector)
        except Exception:  # an outage or a server without vector search is a miss
            logger.warning("semantic cache lookup failed; a miss", exc_info=True)
            return CacheLookup()
        if found is None:
            return CacheLookup()
        distance, frame = found
        distance = round(max(distance, 0.0), 4)
        if self.max_distance is None or distance > self.max_distance:
            return CacheLookup(distance=distance)
        return CacheLookup(hit=True, distance=distance, text=frame["text"], meta=frame["meta"])

    def save(self, state: TurnState, frame: dict[str, Any]) -> bool:
        guard = turn_guard(state)
        if guard is None or state.query_embedding is None or not storable(state, frame):
            return False
        ttl = ttl_for(str(guard.parts["task"]), self.ttl_overrides)
        if ttl <= 0:
            return False
        try:
            self.store.put(versioned(guard), state.request.message, state.query_embedding.vector, frame, ttl)
        except Exception:  # a cache outage only costs the next hit
            logger.warning("semantic cache write failed; answer not cached", exc_info=True)
            return False
        return True


@cache
def semantic_cache() -> SemanticCache | None:
    """The semantic cache when SEMANTIC_CACHE_URL names a server, else None (off)."""
    s = settings()
    if not redis_host(s.semantic_cache_url):
        return None
    provider = None
    if s.redis_iam_user and s.semantic_cache_name:  # IAM auth, as the answer cache: a node-based replication group
        from mangaassist.adapters.redis_client import ElastiCacheIAMProvider

        provider = ElastiCacheIAMProvider(s.redis_iam_user, s.semantic_cache_name, s.region, serverless=False)
    return SemanticCache(RedisSemanticStore(s.semantic_cache_url, provider), s.semantic_cache_max_distance,
                         s.semantic_cache_ttls)


def prepare_semantic_cache() -> None:
    """Init-phase work for the functions that use the semantic cache (Route, Finalize): see lambda_task.prime."""
    semantic = semantic_cache()
    if semantic is not None and isinstance(semantic.store, RedisSemanticStore):
        semantic.store.prepare(settings().embedding_dimensions)
