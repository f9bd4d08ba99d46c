"""The shared health stores for real: a redis-server on a free port, and the budget table on the local AWS stack.

Redis circuits expire by the server's clock, so the Redis tests use real time;
the DynamoDB store only sees the times it is given, so those tests inject them.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import boto3
import pytest
import redis

from mangaassist.answer.health import (
    CHAIN,
    DynamoHealthStore,
    HealthBoard,
    HealthPolicy,
    Observation,
    RedisHealthStore,
    connect_redis,
)
from mangaassist_local.redis_local import LocalRedis, free_port, start_redis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_server() -> Iterator[LocalRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REDIS_URL", raising=False)  # start our own server, never an outside one
        server = start_redis()
    if not server.source.startswith("redis-server"):
        pytest.fail(f"redis-server did not start: {server.describe()}")
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"test:health:{uuid.uuid4().hex[:8]}:"  # each test its own keys


def redis_board(server: LocalRedis, prefix: str, policy: HealthPolicy | None = None) -> HealthBoard:
    """One "Lambda instance": its own connection to the shared Redis."""
    return HealthBoard(RedisHealthStore(redis.Redis.from_url(server.url), key_prefix=prefix), policy)


def test_two_instances_share_the_window_and_the_circuit(redis_server: LocalRedis, prefix: str) -> None:
    a, b = redis_board(redis_server, prefix), redis_board(redis_server, prefix)
    assert [a.record("sonnet", 300, "error") for _ in range(10)] == [[]] * 10
    assert [b.record("sonnet", 300, "error") for _ in range(9)] == [[]] * 9
    seen_by_a = a.health("sonnet")
    assert (seen_by_a.calls, seen_by_a.error_rate) == (19, 1.0)
    assert b.record("sonnet", 300, "error") == ["error_rate(100%>5%)"]  # the 20th call, from either instance
    assert not a.available("sonnet")
    assert a.choose(CHAIN["sonnet"]) == ("haiku", ["sonnet"])
    assert a.health("sonnet").open_reason == "error_rate(100%>5%)"


def test_p99_is_exact_over_the_shared_window(redis_server: LocalRedis, prefix: str) -> None:
    a, b = redis_board(redis_server, prefix), redis_board(redis_server, prefix)
    for board in (a, b) * 50:
        board.record("haiku", 300, "ok")
    assert a.record("haiku", 3100, "ok") == []  # 101 calls with one slow: p99 is still 300 ms
    assert b.health("haiku").p99_latency_ms == 300
    assert b.record("haiku", 3100, "ok") == ["p99_latency(3100ms>2500ms)"]


def test_identical_observations_are_distinct_members(redis_server: LocalRedis, prefix: str) -> None:
    store = RedisHealthStore(redis.Redis.from_url(redis_server.url), key_prefix=prefix)
    now = time.time()
    for _ in range(3):
        store.record(Observation("haiku", now, 250.0, "ok"))
    assert store.snapshot("haiku", now).calls == 3


def test_the_window_is_trimmed_and_capped(redis_server: LocalRedis, prefix: str) -> None:
    client = redis.Redis.from_url(redis_server.url)
    store = RedisHealthStore(client, key_prefix=prefix, max_observations=50)
    now = time.time()
    for i in range(5):
        store.record(Observation("haiku", now - 120 + i, 250.0, "ok"))  # already outside the window
    for _ in range(80):
        store.record(Observation("haiku", now, 250.0, "ok"))
    assert client.zcard(f"{prefix}haiku:obs") == 50
    assert 0 < client.ttl(f"{prefix}haiku:obs") <= 120


def test_exactly_one_of_many_concurrent_openers_wins(redis_server: LocalRedis, prefix: str) -> None:
    boards = [redis_board(redis_server, prefix) for _ in range(8)]
    for _ in range(19):
        boards[0].record("haiku", 300, "timeout")
    barrier = threading.Barrier(len(boards))
    results: list[list[str]] = []

    def instance(board: HealthBoard) -> None:
        barrier.wait()
        results.append(board.record("haiku", 300, "timeout"))  # every one sees >= 20 calls and tries to open

    threads = [threading.Thread(target=instance, args=(board,)) for board in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[]] * 7 + [["error_rate(100%>5%)"]]

    stores = [RedisHealthStore(redis.Redis.from_url(redis_server.url), key_prefix=prefix) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    opened: list[bool] = []

    def opener(store: RedisHealthStore) -> None:
        barrier.wait()
        now = time.time()
        opened.append(store.open_circuit("sonnet", now + 30, "capacity(throttled 30%>15%)", now))

    threads = [threading.Thread(target=opener, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(opened) == [False] * 7 + [True]


def test_the_circuit_key_expires_after_the_cooldown(redis_server: LocalRedis, prefix: str) -> None:
    client = redis.Redis.from_url(redis_server.url)
    board = redis_board(redis_server, prefix, HealthPolicy(cooldown_seconds=1))
    for _ in range(20):
        board.record("sagemaker", 300, "error")
    assert client.exists(f"{prefix}sagemaker:circuit") == 1
    assert 0 < client.pttl(f"{prefix}sagemaker:circuit") <= 1000
    assert board.choose(CHAIN["sagemaker"]) == ("haiku", ["sagemaker"])
    time.sleep(1.2)  # the one real wait: Redis expires the key by its own clock
    assert client.exists(f"{prefix}sagemaker:circuit") == 0
    assert board.available("sagemaker") and board.choose(CHAIN["sagemaker"]) == ("sagemaker", [])
    assert board.record("sagemaker", 300, "error") == []  # a clean slate: the old errors no longer count
    assert board.health("sagemaker").calls == 1


def test_a_redis_that_is_down_reads_as_healthy(prefix: str) -> None:
    client = connect_redis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there; the factory's settings
    board = HealthBoard(RedisHealthStore(client, key_prefix=prefix))
    assert [board.record("haiku", 300, "error") for _ in range(25)] == [[]] * 25
    assert board.available("haiku")
    assert board.choose(CHAIN["sonnet_provisioned"]) == ("sonnet_provisioned", [])
    assert board.health("haiku").calls == 0
    assert board.store.open_circuit("haiku", time.time() + 30, "error_rate(100%>5%)", time.time()) is False


# --- DynamoDB: the budget table on the local AWS stack ------------------------------------------------------


@pytest.fixture
def budget_table(local_aws):
    dynamodb = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint, region_name="ap-northeast-1")
    return dynamodb.Table(local_aws.env["BUDGET_TABLE"])


@pytest.fixture
def target() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"  # the table lives for the whole session


@pytest.fixture
def minute() -> float:
    return (time.time() // 60) * 60  # the start of the current minute: the tests place calls inside minutes


def dynamo_board(table, at: Callable[[], float], policy: HealthPolicy | None = None) -> HealthBoard:
    return HealthBoard(DynamoHealthStore(table), policy, clock=at)


def test_dynamo_counters_accumulate_across_instances(budget_table, target: str, minute: float) -> None:
    a, b = DynamoHealthStore(budget_table), DynamoHealthStore(budget_table)
    for i, outcome in enumerate(["ok"] * 6 + ["error", "timeout", "throttled"]):
        (a if i % 2 else b).record(Observation(target, minute + i, 300.0 + 500 * (i % 3), outcome))
    item = budget_table.get_item(Key={"day": f"health#{target}#{int(minute // 60)}"})["Item"]
    assert (item["calls"], item["errors"], item["throttles"]) == (9, 2, 1)
    assert (item["lat_le_500"], item["lat_le_1000"], item["lat_le_1500"]) == (2, 2, 2)  # ok calls only
    assert item["expiresAt"] == int(minute) + 86400
    state = a.snapshot(target, minute + 30)
    assert (state.calls, state.error_rate, state.throttle_rate, state.p99_latency_ms) == (9, 2 / 9, 1 / 9, 1500.0)


def test_dynamo_bucketed_p99(budget_table, target: str, minute: float) -> None:
    now = minute + 10
    board = dynamo_board(budget_table, lambda: now)
    for _ in range(99):
        board.record(target, 300, "ok")
    assert board.record(target, 2600, "ok") == []  # 100 calls: the 99th is in the 250..500 bucket
    assert board.health(target).p99_latency_ms == 500
    assert board.record(target, 2600, "ok") == ["p99_latency(3000ms>2500ms)"]  # the bucket's upper bound
    assert not board.available(target)


def test_dynamo_bucket_at_the_limit_does_not_trip(budget_table, target: str, minute: float) -> None:
    board = dynamo_board(budget_table, lambda: minute + 10)
    assert [board.record(target, 2500, "ok") for _ in range(20)] == [[]] * 20
    assert board.health(target).p99_latency_ms == 2500


def test_dynamo_window_spans_whole_minutes(budget_table, target: str, minute: float) -> None:
    store = DynamoHealthStore(budget_table)
    for offset in (-61, -1, 5):  # two minutes ago, last minute, this minute
        store.record(Observation(target, minute + offset, 300.0, "error"))
    assert store.snapshot(target, minute + 10).calls == 2  # the minutes overlapping (now - 60, now]
    assert store.snapshot(target, minute + 70).calls == 1


def test_dynamo_conditional_single_opener(budget_table, target: str, minute: float) -> None:
    a, b = DynamoHealthStore(budget_table), DynamoHealthStore(budget_table)
    assert a.open_circuit(target, minute + 30, "error_rate(12%>5%)", minute) is True
    assert b.open_circuit(target, minute + 31, "error_rate(12%>5%)", minute + 1) is False
    item = budget_table.get_item(Key={"day": f"circuit#{target}"})["Item"]
    assert (float(item["openUntil"]), item["reason"]) == (minute + 30, "error_rate(12%>5%)")
    assert b.open_circuits([target, "haiku-never-opened"], minute + 29.9) == {target: minute + 30}
    assert b.open_circuits([target], minute + 30) == {}
    assert b.open_circuit(target, minute + 60, "p99_latency(3000ms>2500ms)", minute + 30) is True  # expired


def test_dynamo_board_trips_chooses_and_starts_clean(budget_table, target: str, minute: float) -> None:
    clock = {"now": minute + 5}
    board = dynamo_board(budget_table, lambda: clock["now"])
    results = [board.record(target, 300, "throttled") for _ in range(20)]
    assert results[-1] == ["capacity(throttled 100%>15%)"] and results[:-1] == [[]] * 19
    assert board.choose([target, "haiku"]) == ("haiku", [target])
    clock["now"] = minute + 35  # cool-down over
    assert board.choose([target, "haiku"]) == (target, [])
    assert board.record(target, 300, "throttled") == []  # the minute it opened in no longer counts
    clock["now"] = minute + 65
    assert board.health(target).calls == 0
    assert [board.record(target, 300, "throttled") for _ in range(20)][-1] == ["capacity(throttled 100%>15%)"]
