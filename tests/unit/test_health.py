"""Health windows and the circuit breaker over the in-process store, on an injected clock (no sleeps)."""

from __future__ import annotations

import threading

import pytest

from mangaassist.answer import health
from mangaassist.answer.health import (
    CHAIN,
    DynamoHealthStore,
    HealthBoard,
    HealthPolicy,
    InProcessHealthStore,
    Observation,
    RedisHealthStore,
    TargetHealth,
    bucketed_p99,
    p99,
)
from mangaassist.settings import settings
from mangaassist.turn import Target

T0 = 1_760_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def board(clock: Clock) -> HealthBoard:
    return HealthBoard(InProcessHealthStore(), HealthPolicy(), clock=clock)


def feed(board: HealthBoard, target: str, outcome: str, count: int, latency_ms: float = 400.0) -> list[list[str]]:
    return [board.record(target, latency_ms, outcome) for _ in range(count)]


def test_no_trip_below_min_calls(board: HealthBoard) -> None:
    assert feed(board, "haiku", "error", 19) == [[]] * 19
    assert board.available("haiku")
    assert board.record("haiku", 400, "error") == ["error_rate(100%>5%)"]  # the 20th call is evidence enough
    assert not board.available("haiku")


def test_error_rate_trips_just_above_five_percent_not_at_it(board: HealthBoard) -> None:
    feed(board, "sonnet", "ok", 95)
    assert feed(board, "sonnet", "error", 5) == [[]] * 5  # 5/100 is exactly the threshold
    state = board.health("sonnet")
    assert (state.calls, state.error_rate, state.reasons) == (100, 0.05, [])
    assert board.record("sonnet", 400, "timeout") == ["error_rate(5.9%>5%)"]  # 6/101; timeouts are errors
    assert not board.available("sonnet")


def test_p99_latency_trips_above_the_limit(board: HealthBoard) -> None:
    feed(board, "haiku", "ok", 99, latency_ms=300)
    assert board.record("haiku", 3100, "ok") == []  # 100 calls: nearest-rank p99 is the 99th, still 300 ms
    assert board.health("haiku").p99_latency_ms == 300
    assert board.record("haiku", 3100, "ok") == ["p99_latency(3100ms>2500ms)"]


def test_p99_at_exactly_the_limit_does_not_trip(board: HealthBoard) -> None:
    assert feed(board, "sagemaker", "ok", 40, latency_ms=2500) == [[]] * 40
    assert board.available("sagemaker")


def test_p99_limit_is_per_target(clock: Clock) -> None:
    policy = HealthPolicy(p99_latency_ms={"sonnet": 4000})
    board = HealthBoard(InProcessHealthStore(), policy, clock=clock)
    assert feed(board, "sonnet", "ok", 20, latency_ms=3100)[-1] == []
    assert feed(board, "haiku", "ok", 20, latency_ms=3100)[-1] == ["p99_latency(3100ms>2500ms)"]  # default limit


def test_throttle_share_trips_as_capacity(board: HealthBoard) -> None:
    feed(board, "sonnet_provisioned", "ok", 17)
    assert feed(board, "sonnet_provisioned", "throttled", 3) == [[]] * 3  # 3/20 is exactly 15%
    state = board.health("sonnet_provisioned")
    assert (state.throttle_rate, state.error_rate) == (0.15, 0.0)  # throttles are capacity, not errors
    assert board.record("sonnet_provisioned", 40, "throttled") == ["capacity(throttled 19%>15%)"]


def test_failures_do_not_count_toward_p99(board: HealthBoard) -> None:
    board.record("haiku", 8000, "timeout")
    board.record("haiku", 120, "ok")
    assert board.health("haiku").p99_latency_ms == 120
    board.record("sonnet", 5, "throttled")
    assert board.health("sonnet").p99_latency_ms is None


def test_reason_strings() -> None:
    state = TargetHealth(target="sonnet", calls=100, error_rate=0.12, throttle_rate=0.30, p99_latency_ms=3100.0)
    assert HealthPolicy().breaches(state) == [
        "p99_latency(3100ms>2500ms)", "error_rate(12%>5%)", "capacity(throttled 30%>15%)"]
    assert HealthPolicy().breaches(TargetHealth(target="sonnet", calls=19, error_rate=1.0)) == []


def test_circuit_opens_for_exactly_the_cooldown(board: HealthBoard, clock: Clock) -> None:
    opened_at = clock.now
    assert feed(board, "haiku", "error", 20)[-1]
    state = board.health("haiku")
    assert state.open_until == opened_at + 30 and state.open_reason == "error_rate(100%>5%)"
    clock.now = opened_at + 29.999
    assert not board.available("haiku") and board.health("haiku").is_open(clock.now)
    clock.now = opened_at + 30
    assert board.available("haiku") and board.health("haiku").open_until is None


def test_a_closed_circuit_starts_from_a_clean_slate(board: HealthBoard, clock: Clock) -> None:
    feed(board, "haiku", "error", 20)
    clock.now += 30  # cool-down over; the 20 errors are still inside the 60 s window
    assert board.record("haiku", 400, "error") == []
    assert board.health("haiku").calls == 1
    assert feed(board, "haiku", "error", 19)[-1] == ["error_rate(100%>5%)"]  # 20 fresh calls trip it again


def test_calls_while_open_do_not_reopen_or_extend(board: HealthBoard, clock: Clock) -> None:
    feed(board, "haiku", "error", 20)
    until = board.health("haiku").open_until
    clock.now += 10
    assert feed(board, "haiku", "error", 25) == [[]] * 25
    assert board.health("haiku").open_until == until


def test_only_the_first_opener_wins() -> None:
    store = InProcessHealthStore()
    assert store.open_circuit("sonnet", T0 + 30, "error_rate(9%>5%)", now=T0) is True
    assert store.open_circuit("sonnet", T0 + 31, "error_rate(9%>5%)", now=T0 + 1) is False
    assert store.snapshot("sonnet", T0 + 1).open_until == T0 + 30  # the loser did not extend it
    assert store.open_circuit("sonnet", T0 + 60, "p99_latency(3100ms>2500ms)", now=T0 + 30) is True  # expired


def test_concurrent_openers_one_winner() -> None:
    store = InProcessHealthStore()
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def opener() -> None:
        barrier.wait()
        results.append(store.open_circuit("haiku", T0 + 30, "error_rate(50%>5%)", now=T0))

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_old_observations_fall_out_of_the_window(board: HealthBoard, clock: Clock) -> None:
    feed(board, "sonnet", "error", 19)
    clock.now = T0 + 60  # the window is (now - 60, now]: the 19 errors at T0 are out
    assert board.record("sonnet", 400, "error") == []
    assert board.health("sonnet").calls == 1


def test_observations_just_inside_the_window_count(board: HealthBoard, clock: Clock) -> None:
    feed(board, "sonnet", "error", 19)
    clock.now = T0 + 59.9
    assert board.record("sonnet", 400, "error") == ["error_rate(100%>5%)"]


def test_choose_walks_the_chain(board: HealthBoard) -> None:
    assert board.choose(CHAIN["sonnet_provisioned"]) == ("sonnet_provisioned", [])
    feed(board, "sonnet_provisioned", "throttled", 20)
    assert board.choose(CHAIN["sonnet_provisioned"]) == ("sonnet", ["sonnet_provisioned"])
    feed(board, "sonnet", "error", 20)
    assert board.choose(CHAIN["sonnet_provisioned"]) == ("haiku", ["sonnet_provisioned", "sonnet"])
    assert board.choose(CHAIN["sagemaker"]) == ("sagemaker", [])
    feed(board, "haiku", "timeout", 20)
    assert board.choose(CHAIN["sonnet_provisioned"]) == (None, ["sonnet_provisioned", "sonnet", "haiku"])
    assert board.choose(CHAIN["haiku"]) == (None, ["haiku", "sonnet"])


def test_targets_may_be_the_enum(board: HealthBoard) -> None:
    feed(board, Target.SAGEMAKER, "error", 20)
    assert not board.available("sagemaker")
    assert board.choose([Target.SAGEMAKER, Target.HAIKU]) == ("haiku", ["sagemaker"])


def test_chains_cover_every_model_target() -> None:
    assert set(CHAIN) == {t.value for t in Target if t is not Target.CANNED}
    assert all(chain[0] == target for target, chain in CHAIN.items())


def test_low_confidence_is_a_healthy_call_and_unknown_outcomes_are_rejected(board: HealthBoard) -> None:
    feed(board, "haiku", "low_confidence", 20)
    assert board.health("haiku").error_rate == 0.0 and board.available("haiku")
    with pytest.raises(ValueError, match="outcome"):
        board.record("haiku", 100, "exploded")
    with pytest.raises(ValueError, match="outcome"):
        Observation("haiku", T0, 100, "exploded")  # type: ignore[arg-type]


def test_board_rejects_a_store_with_another_window() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        HealthBoard(InProcessHealthStore(window_seconds=30), HealthPolicy())


def test_p99_is_nearest_rank() -> None:
    assert p99([]) is None
    assert p99(range(1, 21)) == 20
    assert p99(range(1, 201)) == 198
    assert p99(range(1, 101)) == 99


def test_bucketed_p99_is_the_upper_bound_of_its_bucket() -> None:
    assert bucketed_p99({}) is None
    assert bucketed_p99({"lat_le_250": 98, "lat_le_3000": 2}) == 3000  # rank 99 falls in the 2500..3000 bucket
    assert bucketed_p99({"lat_le_250": 99, "lat_le_3000": 1}) == 250
    assert bucketed_p99({"lat_le_2500": 100}) == 2500  # a limit on a bucket bound is decided exactly
    assert bucketed_p99({"lat_le_500": 1, "lat_gt_8000": 1}) == float("inf")


class _DeadRedis:
    """Every command fails as a dropped connection would."""

    def __init__(self) -> None:
        self.calls = 0

    def pipeline(self, transaction: bool = True) -> _DeadRedis:
        return self

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            self.calls += 1
            raise ConnectionError("connection refused")
        return fail


def test_a_failing_redis_reads_as_healthy_and_is_skipped_for_a_while(clock: Clock) -> None:
    dead = _DeadRedis()
    board = HealthBoard(RedisHealthStore(dead), clock=clock)
    assert feed(board, "haiku", "error", 30) == [[]] * 30
    assert board.available("haiku") and board.choose(CHAIN["haiku"]) == ("haiku", [])
    assert board.health("haiku") == TargetHealth(target="haiku")
    assert dead.calls == 1  # after the first failure the store is left alone for outage_seconds


def test_factory_prefers_redis_then_the_budget_table_then_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def built() -> object:
        settings.cache_clear()
        health.health_board.cache_clear()
        return health.health_board().store

    monkeypatch.setenv("BUDGET_TABLE", "mangaassist-budget")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.example.internal:6379")
    try:
        assert isinstance(built(), RedisHealthStore)
        monkeypatch.setenv("REDIS_URL", "redis://:6379")  # no host: not a usable URL
        assert isinstance(built(), DynamoHealthStore)
        monkeypatch.delenv("REDIS_URL")
        assert isinstance(built(), DynamoHealthStore)
        monkeypatch.delenv("BUDGET_TABLE")
        assert isinstance(built(), InProcessHealthStore)
    finally:
        health.health_board.cache_clear()
