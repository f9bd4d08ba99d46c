"""Cross-check `mangaassist loadtest`'s percentiles with an independent client (issue #13's done-when; not a test).

Against a running stack: first `mangaassist loadtest --pattern mix` (asyncio, scheduled send -> reply), then a
plain client written apart from it: its own Poisson arrivals (random.expovariate), one thread per turn on its
own pool of synchronous WebSockets, timing send -> reply with time.perf_counter, percentiles by
statistics.quantiles. Both send SPEC §3's production mix (the same message maker, different seeds, unique
messages). By default the independent client offers the load test's own schedule again (the same send times and
message kinds, its own messages): at ~170 turns a second random Poisson draw differs in its bursts and its kinds,
and that alone moves p95/p99 by more than 20% from run to run. `--own-arrivals` draws its own instead. Prints both
sets of figures and whether each percentile agrees within 20%.

    .venv/bin/python bench/loadtest_crosscheck.py --url http://127.0.0.1:18080 --rate 5 --duration 30 [--warm-up 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import random
import statistics
import threading
import time
import uuid
from typing import Any

from websockets.sync.client import connect

from mangaassist.catalog.store import catalog
from mangaassist.quality.traffic_mix import PRODUCTION_MIX, MessageMaker
from mangaassist_offline.sample_data import orders


def poisson_arrivals(rate: float, duration: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    arrivals, at = [], rng.expovariate(rate)
    while at < duration:
        arrivals.append(at)
        at += rng.expovariate(rate)
    return arrivals


def independent_client(ws_url: str, arrivals: list[float], kinds: list[str] | None, seed: int,
                       timeout: float, pool: int) -> dict[str, float]:
    """Send one unique message per arrival (seconds from the start), of the given kinds or drawn from the mix.

    Like customers of the chat page (and like the load test), it holds connections open and reuses them: a pool
    of `pool` sockets opened before the first send (the load test's own count for the rate, so both hold the same
    connections), and a new one only when all are busy. A connection per turn would
    add a $connect and a $disconnect invocation to every turn and offer the stack more work than the load test
    does, which near the 2-core machine's capacity alone makes this client 5-15% slower."""
    maker = MessageMaker(list(catalog().values()), sorted(orders()), seed + 1, PRODUCTION_MIX)
    messages = maker.of_kinds(kinds) if kinds is not None else maker.draw(len(arrivals))
    results: list[float | None] = [None] * len(arrivals)
    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
    held = contextlib.ExitStack()  # every socket opened, closed when the run is over
    opened = 0
    lock = threading.Lock()

    def open_socket() -> Any:
        nonlocal opened
        socket = connect(ws_url, open_timeout=10)
        with lock:
            held.enter_context(socket)
            opened += 1
        return socket

    for _ in range(pool):
        idle.put(open_socket())

    def one(n: int) -> None:
        try:
            try:
                socket = idle.get_nowait()
            except queue.Empty:
                socket = open_socket()
            frame = {"action": "sendMessage", "sessionId": f"xcheck-{uuid.uuid4().hex[:8]}",
                     "message": messages[n].text}
            started = time.perf_counter()
            socket.send(json.dumps(frame, ensure_ascii=False))
            socket.recv(timeout=timeout)
            results[n] = (time.perf_counter() - started) * 1000
            idle.put(socket)
        except Exception:  # noqa: BLE001 - a failed turn is reported as no reply; its socket is not reused
            results[n] = None

    threads = []
    start = time.perf_counter()
    for n, due in enumerate(arrivals):
        time.sleep(max(start + due - time.perf_counter(), 0))
        thread = threading.Thread(target=one, args=(n,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout + 15)
    held.close()
    got = [r for r in results if r is not None]
    cuts = statistics.quantiles(got, n=100, method="inclusive")
    return {"turns": len(arrivals), "replied": len(got), "p50": cuts[49], "p95": cuts[94], "p99": cuts[98],
            "connections": opened}


def main() -> None:
    from mangaassist.quality.arrivals import LoadShape, Pattern, Process
    from mangaassist.quality.load_report import LoadSummary
    from mangaassist_local.load_runner import warm_connections
    from mangaassist_local.loadtest_cli import plan_turns, run, websocket_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=30.0, metavar="SECONDS",
                        help="unmeasured load first: the load test's schedule, then the same rate until this many "
                             "seconds; on a fresh stack whichever client ran first would pay for starting the Lambda "
                             "environments the other then reuses")
    parser.add_argument("--own-arrivals", action="store_true",
                        help="the independent client draws its own Poisson arrivals and message kinds; by default it "
                             "offers the load test's schedule again (same send times, same kinds, its own unique "
                             "messages), so the two measure the same offered load and not two random samples of it")
    parser.add_argument("--loadtest-json", default=None, help="compare with this `mangaassist loadtest --json` "
                                                              "output instead of running it first")
    args = parser.parse_args()
    ws_url = websocket_url(args.url, None, None, None)
    pool = warm_connections(args.rate)
    if args.warm_up > 0 and not args.loadtest_json:
        # The warm-up offers the load test's own schedule (computed from its seed, as the load test will), so the
        # Lambda environments its bursts need exist before either measured run: otherwise whichever run meets a
        # burst first pays the cold starts and the first calls of new environments, and the other does not.
        plan, _ = plan_turns(LoadShape(pattern=Pattern.MIX, rate=args.rate, duration=args.duration), Process.POISSON,
                             args.seed, "mix", False, "warm-up")
        print(f"warming up: the load test's schedule ({len(plan)} turns), then {args.rate:g} turns/s until "
              f"{args.warm_up:g} s (not measured)", flush=True)
        independent_client(ws_url, [turn.at for turn in plan], [turn.message.kind for turn in plan], args.seed + 200,
                           args.timeout, pool)
        if args.warm_up > args.duration:
            independent_client(ws_url, poisson_arrivals(args.rate, args.warm_up - args.duration, args.seed + 300),
                               None, args.seed + 300, args.timeout, pool)
    samples: list[Any] = []
    if args.loadtest_json:
        summary = LoadSummary.model_validate_json(open(args.loadtest_json, encoding="utf-8").read())
    else:
        summary, _, samples = run(LoadShape(pattern=Pattern.MIX, rate=args.rate, duration=args.duration), ws_url,
                                  seed=args.seed, timeout=args.timeout)
    ours = summary.latency_ms
    if args.own_arrivals or not samples:
        theirs = independent_client(ws_url, poisson_arrivals(args.rate, args.duration, args.seed + 100), None,
                                    args.seed + 100, args.timeout, pool)
    else:
        ordered = sorted(samples, key=lambda sample: sample.scheduled_s)
        theirs = independent_client(ws_url, [sample.scheduled_s for sample in ordered],
                                    [sample.kind for sample in ordered], args.seed + 100, args.timeout, pool)
    print(f"{'':<28} {'turns':>6} {'replied':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    print(f"{'mangaassist loadtest':<28} {summary.scheduled:>6} {summary.replied:>8} {ours.p50 or 0:>8.0f} "
          f"{ours.p95 or 0:>8.0f} {ours.p99 or 0:>8.0f}")
    print(f"{'independent threaded client':<28} {theirs['turns']:>6.0f} {theirs['replied']:>8.0f} "
          f"{theirs['p50']:>8.0f} {theirs['p95']:>8.0f} {theirs['p99']:>8.0f}"
          f"  ({theirs['connections']:.0f} connections)")
    for name in ("p50", "p95", "p99"):
        mine = getattr(ours, name) or 0.0
        delta = abs(mine - theirs[name]) / theirs[name]
        print(f"  {name}: differ by {delta:.0%} -> {'agree (within 20%)' if delta <= 0.2 else 'DISAGREE'}")


if __name__ == "__main__":
    main()
