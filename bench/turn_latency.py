"""Benchmark: end-to-end chat-turn latency through the local stack (not a test).

Starts the whole stack (model endpoint at zero latency), sends N turns over a real
WebSocket and prints p50/p95/p99 of: end-to-end time seen by the client, time
outside model calls, each state's time, and the exact-cache hit path.

    .venv/bin/python bench/turn_latency.py [--turns 200] [--from-build [DIR]]

With --from-build the functions run from the `sam build` output in Lambda-like worker processes (see
mangaassist_local.process_runtime); the first turn's cold starts are reported apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path

from websockets.sync.client import connect

from mangaassist_local.build import host_build
from mangaassist_local.runner import start_stack

MIX = [  # the production mix of SPEC §3, roughly
    ("How much is One Piece volume 5?", None), ("Do you have Naruto vol 10 in stock?", None),
    ("Can you recommend something like Frieren?", None), ("ワンピースの100巻はいくらですか？", None),
    ("Summarize Monster for me", None), ("Where is my order MGA-2025-00417?", None),
    ("進撃の巨人みたいなおすすめはありますか？", None), ("Hello!", None), ("What's your return policy?", None),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, values: list[float]) -> str:
    return (f"{name:<28} p50 {pct(values, .5):7.1f}  p95 {pct(values, .95):7.1f}  p99 {pct(values, .99):7.1f}  "
            f"mean {statistics.fmean(values):7.1f}  (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--from-build", nargs="?", const=".aws-sam/build", default=None, metavar="DIR")
    args = parser.parse_args()
    build = host_build(Path(args.from_build)) if args.from_build else None
    # The bench measures latency, not abuse limits: one connection sends hundreds of turns back to back.
    stack = start_stack(build=build, overrides={"RATE_CONNECTION_PER_SECOND": "0", "RATE_PRINCIPAL_PER_MINUTE": "0",
                                                "DAILY_TURN_QUOTA": "0"})
    first_turn = 0.0
    try:
        with connect(stack.gateway.ws_url) as socket:
            def turn(message: str, session: str) -> tuple[float, dict]:
                started = time.perf_counter()
                socket.send(json.dumps({"action": "sendMessage", "sessionId": session, "message": message}))
                frame = json.loads(socket.recv(timeout=30))
                return (time.perf_counter() - started) * 1000, frame

            for n, (message, _) in enumerate(MIX):  # warm-up: imports, first clients
                elapsed, _frame = turn(f"{message} {uuid.uuid4().hex[:4]}", "warmup")
                first_turn = elapsed if n == 0 else first_turn
            e2e, outside, states, cached = [], [], {}, []
            for n in range(args.turns):
                message = f"{MIX[n % len(MIX)][0]} (#{n})"  # unique text: never a cache hit
                elapsed, frame = turn(message, f"bench-{n % 20}")
                meta = frame["meta"]
                e2e.append(elapsed)
                outside.append(elapsed - sum(t["latency_ms"] for t in meta["tiers"]))
                for name, ms in meta["latency_ms"].items():
                    states.setdefault(name, []).append(ms)
            turn("Hello!", "cache")
            for _ in range(max(20, args.turns // 5)):
                elapsed, frame = turn("Hello!", "cache")
                assert frame["meta"]["cache"] == "exact", frame["meta"]
                cached.append(elapsed)
    finally:
        stack.stop()
    mode = f"functions from {args.from_build}" if build else "functions in-process from the source tree"
    print(f"MangaAssist local turn latency, ms ({args.turns} turns, model endpoint at zero latency, "
          f"cache: {stack.redis.describe()}, {mode})")
    cold = getattr(stack.aws.runtime, "cold_starts", {})
    if cold:
        inits = [ms for values in cold.values() for ms in values]
        print(f"first turn (cold)            {first_turn:7.1f}  cold starts {len(inits)} "
              f"(init p50 {pct(inits, .5):.0f} ms, max {max(inits):.0f} ms)")
    print(row("end to end (client)", e2e))
    print(row("outside model calls", outside))
    for name, values in states.items():
        print(row(f"  meta.latency_ms.{name}", values))
    print(row("exact cache hit (client)", cached))


if __name__ == "__main__":
    main()
