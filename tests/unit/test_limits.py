"""chat.limits: token buckets in a real redis-server (and the in-process fallback), the daily quota (Redis, then
the budget table on a moto server), the budget stop, and how sendMessage answers a limited frame."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
import redis

from mangaassist.chat.conversation import handle_frame
from mangaassist.chat.limits import (
    JST,
    Bucket,
    BudgetStop,
    DynamoCounter,
    InProcessBuckets,
    LimitPolicy,
    Limits,
    RedisBuckets,
    RedisCounter,
    principal_tag,
    seconds_to_jst_midnight,
)
from mangaassist.protocol import error_frame
from mangaassist.reply.fallback import BUDGET_EXHAUSTED
from mangaassist_local.redis_local import LocalRedis, free_port, start_redis

from .test_chat import ANSWER, FakePorts, body


@pytest.fixture(scope="module")
def redis_server() -> Iterator[LocalRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REDIS_URL", raising=False)  # our own server, never an outside one
        server = start_redis()
    if not server.url or server.process is None:
        pytest.fail(f"redis-server did not start: {server.describe()}")
    yield server
    server.stop()


@pytest.fixture
def client(redis_server: LocalRedis) -> redis.Redis:
    return redis.Redis.from_url(redis_server.url)


def key() -> str:
    return f"test:bucket:{{{uuid.uuid4().hex[:8]}}}:"


DEAD_REDIS = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


class Ledger:
    def __init__(self, spent: Decimal = Decimal("0"), error: Exception | None = None) -> None:
        self.spent, self.error, self.reads = spent, error, 0

    def spent_today(self, day: str) -> Decimal:
        self.reads += 1
        if self.error:
            raise self.error
        return self.spent

    def add(self, day: str, amount: Decimal) -> None:
        self.spent += amount


# -- buckets --------------------------------------------------------------------------------------------------


def test_a_redis_bucket_allows_its_burst_then_says_how_long_to_wait(client: redis.Redis) -> None:
    bucket = [Bucket(key() + "conn", per_second=1.0, burst=5)]
    store = RedisBuckets(client)
    waits = [store.take(bucket) for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert all(0 < wait <= 1.0 for wait in waits[5:])


def test_two_environments_share_one_bucket(client: redis.Redis, redis_server: LocalRedis) -> None:
    bucket = [Bucket(key() + "conn", per_second=0.5, burst=4)]
    a, b = RedisBuckets(client), RedisBuckets(redis.Redis.from_url(redis_server.url))
    assert [a.take(bucket), b.take(bucket), a.take(bucket), b.take(bucket)] == [0.0] * 4
    assert a.take(bucket) > 0 and b.take(bucket) > 0


def test_a_refused_take_costs_no_token_in_any_bucket(client: redis.Redis) -> None:
    prefix = key()
    roomy, tight = Bucket(prefix + "conn", 0.001, 5), Bucket(prefix + "principal", 0.001, 1)
    store = RedisBuckets(client)
    assert store.take([roomy, tight]) == 0.0
    assert store.take([roomy, tight]) > 0  # the tight bucket is empty: nothing is taken from the roomy one
    assert float(client.hget(roomy.key, "tokens")) == pytest.approx(4.0, abs=0.01)  # type: ignore[arg-type]
    assert [store.take([roomy]) for _ in range(4)] == [0.0] * 4


def test_a_bucket_refills_at_its_rate(client: redis.Redis) -> None:
    bucket = [Bucket(key() + "conn", per_second=20.0, burst=1)]
    store = RedisBuckets(client)
    assert store.take(bucket) == 0.0
    wait = store.take(bucket)
    assert 0 < wait <= 0.05
    time.sleep(wait + 0.02)
    assert store.take(bucket) == 0.0


def test_buckets_expire_once_they_would_be_full_again(client: redis.Redis) -> None:
    bucket = Bucket(key() + "conn", per_second=1.0, burst=5)
    RedisBuckets(client).take([bucket])
    assert 0 < client.pttl(bucket.key) <= 6000  # type: ignore[operator]


def test_the_in_process_bucket_does_the_same_arithmetic() -> None:
    now = [100.0]
    store = InProcessBuckets(clock=lambda: now[0])
    bucket = [Bucket("k", per_second=1.0, burst=2)]
    assert [store.take(bucket), store.take(bucket)] == [0.0, 0.0]
    assert store.take(bucket) == pytest.approx(1.0)
    now[0] += 0.25
    assert store.take(bucket) == pytest.approx(0.75)
    now[0] += 0.75
    assert store.take(bucket) == 0.0


# -- limits: rate ------------------------------------------------------------------------------------------------


def test_connection_and_principal_limits(client: redis.Redis) -> None:
    policy = LimitPolicy(connection_per_second=0.01, connection_burst=2, principal_per_minute=0.6,
                         principal_burst=3, daily_turns=0)
    limits = Limits(policy, RedisBuckets(client), [])
    customer = f"customer-{uuid.uuid4().hex[:6]}"
    assert limits.rate("conn-a", customer) is None
    assert limits.rate("conn-a", customer) is None
    refused = limits.rate("conn-a", customer)  # this connection's burst is spent
    assert refused is not None and refused.code == "RATE_LIMITED" and refused.retry_after >= 1
    assert limits.rate("conn-b", customer) is None  # the principal's third token
    refused = limits.rate("conn-c", customer)  # a fresh connection, but the principal's burst is spent
    assert refused is not None and refused.code == "RATE_LIMITED"
    assert 60 <= refused.retry_after <= 100  # 0.6/min: 100 s per token
    assert limits.rate("conn-d", f"guest:{uuid.uuid4().hex}") is None  # other principals are not affected


def test_keys_name_a_hash_of_the_principal_never_the_principal() -> None:
    limits = Limits(LimitPolicy(), None, [])
    keys = [b.key for b in limits.buckets("conn-1", "customer-C0042")]
    assert len(keys) == 2 and not any("C0042" in k for k in keys)
    assert all(f"{{{principal_tag('customer-C0042')}}}" in k for k in keys)  # one hash slot per principal


def test_a_zero_rate_turns_that_limit_off() -> None:
    limits = Limits(LimitPolicy(connection_per_second=0, principal_per_minute=0), None, [])
    assert all(limits.rate("c", "p") is None for _ in range(50))


def test_with_redis_down_each_environment_still_limits_on_its_own() -> None:
    from mangaassist.adapters.redis_client import connect_redis

    class Counting(RedisBuckets):
        tries = 0

        def take(self, buckets: list[Bucket]) -> float:
            Counting.tries += 1
            return super().take(buckets)

    now = [0.0]
    limits = Limits(LimitPolicy(), Counting(connect_redis(DEAD_REDIS)), [], clock=lambda: now[0])
    outcomes = [limits.rate("conn-x", "guest:conn-x") for _ in range(8)]
    assert outcomes[:5] == [None] * 5
    assert all(o is not None and o.code == "RATE_LIMITED" and o.retry_after == 1 for o in outcomes[5:])
    assert Counting.tries == 1  # a dead store is not asked again by every frame...
    now[0] = 5.0
    limits.rate("conn-x", "guest:conn-x")
    assert Counting.tries == 2  # ...but again a few seconds later


# -- limits: daily quota -----------------------------------------------------------------------------------------


def test_the_daily_quota_counts_turns_per_principal_in_redis(client: redis.Redis) -> None:
    limits = Limits(LimitPolicy(daily_turns=3), None, [RedisCounter(client)])
    who = f"customer-{uuid.uuid4().hex[:6]}"
    noon = datetime(2031, 5, 1, 12, 0, tzinfo=JST)
    assert [limits.quota(who, noon) for _ in range(3)] == [None] * 3
    refused = limits.quota(who, noon)
    assert refused is not None and refused.code == "QUOTA_EXCEEDED" and refused.retry_after == 12 * 3600
    assert limits.quota(f"guest:{uuid.uuid4().hex}", noon) is None
    assert limits.quota(who, datetime(2031, 5, 2, 0, 1, tzinfo=JST)) is None  # a new JST day
    quota_key = f"quota#2031-05-01#{principal_tag(who)}"
    assert int(client.get(quota_key)) == 4  # type: ignore[arg-type]
    assert 0 < client.ttl(quota_key) <= 2 * 24 * 3600  # type: ignore[operator]


def test_seconds_to_jst_midnight() -> None:
    assert seconds_to_jst_midnight(datetime(2031, 5, 1, 23, 59, 30, tzinfo=JST)) == 30
    assert seconds_to_jst_midnight(datetime(2031, 5, 1, 15, 0, tzinfo=JST).astimezone()) == 9 * 3600


@pytest.fixture(scope="module")
def budget_table() -> Iterator[Any]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        dynamodb = boto3.resource("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="ap-northeast-1",
                                  aws_access_key_id="x", aws_secret_access_key="x")
        table = dynamodb.create_table(TableName="budget", BillingMode="PAY_PER_REQUEST",
                                      AttributeDefinitions=[{"AttributeName": "day", "AttributeType": "S"}],
                                      KeySchema=[{"AttributeName": "day", "KeyType": "HASH"}])
        yield table
    finally:
        server.stop()


def test_with_redis_down_the_quota_is_counted_in_the_budget_table(budget_table: Any) -> None:
    from mangaassist.adapters.redis_client import connect_redis

    limits = Limits(LimitPolicy(daily_turns=2), None,
                    [RedisCounter(connect_redis(DEAD_REDIS)), DynamoCounter(budget_table)])
    who = f"customer-{uuid.uuid4().hex[:6]}"
    noon = datetime(2031, 5, 1, 12, 0, tzinfo=JST)
    outcomes = [limits.quota(who, noon) for _ in range(3)]
    assert outcomes[:2] == [None, None]
    assert outcomes[2] is not None and outcomes[2].code == "QUOTA_EXCEEDED"
    item = budget_table.get_item(Key={"day": f"quota#2031-05-01#{principal_tag(who)}"})["Item"]
    assert item["turns"] == 3 and item["expiresAt"] > time.time()


def test_with_no_counter_answering_the_turn_is_served() -> None:
    class Broken:
        def count(self, key: str) -> int:
            raise ConnectionError("down")

    assert Limits(LimitPolicy(daily_turns=1), None, [Broken()]).quota("p") is None


# -- budget stop ------------------------------------------------------------------------------------------------


def test_the_budget_stop_is_at_100_percent() -> None:
    assert BudgetStop(Ledger(Decimal("699.99")), Decimal("700")).exhausted() is False
    assert BudgetStop(Ledger(Decimal("700")), Decimal("700")).exhausted() is True
    assert BudgetStop(Ledger(Decimal("9999")), Decimal("0")).exhausted() is False  # 0: no hard stop


def test_an_unreadable_budget_does_not_stop_turns() -> None:
    assert BudgetStop(Ledger(error=ConnectionError("throttled")), Decimal("700")).exhausted() is False


def test_the_spend_is_reread_every_few_seconds() -> None:
    now = [0.0]
    ledger = Ledger(Decimal("10"))
    stop = BudgetStop(ledger, Decimal("100"), clock=lambda: now[0], refresh_seconds=5)
    assert [stop.exhausted() for _ in range(3)] == [False] * 3 and ledger.reads == 1
    ledger.spent = Decimal("100")
    now[0] = 5.0
    assert stop.exhausted() is True and ledger.reads == 2


# -- sendMessage -------------------------------------------------------------------------------------------------


def test_error_frames_carry_retry_after() -> None:
    assert error_frame("RATE_LIMITED", "wait", retry_after=3) == {"type": "error", "code": "RATE_LIMITED",
                                                                  "message": "wait", "retryAfter": 3}
    assert "retryAfter" not in error_frame("INVALID_JSON", "bad")


def test_a_flood_gets_one_reply_per_frame_and_only_admitted_frames_run() -> None:
    fake = FakePorts(answer=ANSWER)
    ports = fake.ports()
    ports.limits = Limits(LimitPolicy(), None, [])  # defaults: 1/s, burst 5 per connection
    replies = [handle_frame(body(f"ワンピースの{n}巻はありますか？"), False, "conn-1", ports) for n in range(9)]
    assert len(fake.replies) == 9 and fake.replies == replies
    kinds = [r.get("code", r["type"]) for r in replies]
    assert kinds == ["answer"] * 5 + ["RATE_LIMITED"] * 4
    assert all(r["retryAfter"] >= 1 for r in replies[5:])
    assert len(fake.turn_inputs) == 5 and len(fake.records) == 5  # refused frames start and record nothing
    other = handle_frame(body(), False, "conn-2", ports)  # another guest is not affected
    assert other["type"] == "answer"


def test_a_customer_over_the_daily_quota_gets_quota_exceeded(client: redis.Redis) -> None:
    fake = FakePorts(answer=ANSWER)
    ports = fake.ports()
    ports.limits = Limits(LimitPolicy(connection_per_second=0, principal_per_minute=0, daily_turns=2), None,
                          [RedisCounter(client)])
    who = f"customer-{uuid.uuid4().hex[:6]}"
    replies = [handle_frame(body(), False, f"conn-{n}", ports, principal=who) for n in range(3)]
    assert [r.get("code", r["type"]) for r in replies] == ["answer", "answer", "QUOTA_EXCEEDED"]
    assert replies[2]["retryAfter"] >= 1 and len(fake.turn_inputs) == 2


@pytest.mark.parametrize(("message", "locale", "language"), [
    ("ワンピースの105巻はありますか？", None, "ja"),
    ("How much is One Piece volume 3?", "en", "en"),
])
def test_at_100_percent_of_the_budget_the_turn_gets_a_polite_reply_and_no_execution(
        message: str, locale: str | None, language: str) -> None:
    fake = FakePorts(answer=ANSWER)
    ports = fake.ports()
    ports.budget = BudgetStop(Ledger(Decimal("700.01")), Decimal("700"))
    reply = handle_frame(body(message, locale), False, "conn-1", ports)
    assert fake.turn_inputs == []
    assert reply["type"] == "answer" and reply["text"] == BUDGET_EXHAUSTED[language]
    assert reply["meta"]["validation"] == {"decision": "fallback", "failures": ["budget_exhausted"]}
    assert reply["meta"]["cost_usd"] == "0" and reply["meta"]["language"] == language
    assert fake.replies == [reply]
    assert len(fake.records) == 1 and json.loads(fake.records[0]["meta"])["validation"]["failures"] == [
        "budget_exhausted"]


def test_below_the_budget_the_turn_runs() -> None:
    fake = FakePorts(answer=ANSWER)
    ports = fake.ports()
    ports.budget = BudgetStop(Ledger(Decimal("699")), Decimal("700"))
    assert handle_frame(body(), False, "conn-1", ports)["text"] == ANSWER["text"]
    assert len(fake.turn_inputs) == 1
