"""Benchmark: open-loop Poisson load over real WebSockets at given rates (issue #9; not a test).

Starts `mangaassist serve` in a process of its own with the model latency asked (so the client never shares
a CPU-bound interpreter with the stack), or uses a running stack (--url), warms it up, then for each rate runs
`mangaassist loadtest`'s library (mangaassist_local.loadtest_cli.run: every turn scheduled in advance, latency
from the scheduled send to the reply, unique messages of SPEC §3's production mix) and prints completed
turns/s, p50/p95/p99, fallbacks and timeouts.

    .venv/bin/python bench/turn_load.py --rates 5,10,20 --duration 60 --latency zero
    .venv/bin/python bench/turn_load.py --rates 20 --duration 60 --latency seed [--in-process] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mangaassist.quality.arrivals import LoadShape, Pattern, Process
from mangaassist_local.loadtest_cli import run

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - our own local URL
            return response.status == 200
    except OSError:
        return False


def start_serve(latency: str, in_process: bool, overrides: list[str], timeout: float
                ) -> tuple[subprocess.Popen[bytes], str]:
    port, aws_port = free_port(), free_port()
    command = [str(REPO / ".venv/bin/mangaassist"), "serve", "--port", str(port), "--aws-port", str(aws_port),
               "--latency", latency, *(["--in-process"] if in_process else []),
               *(arg for override in overrides for arg in ("--parameter-overrides", override))]
    log = open(os.environ.get("TURN_LOAD_LOG", os.devnull), "ab")
    server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            sys.exit(f"turn_load: `{' '.join(command)}` did not become healthy (exit {server.poll()})")
        time.sleep(1)
    return server, url


def stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5,10,20", help="turns/s, comma-separated")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--latency", default="zero", help="zero, seed or TIER=MS (the stack's model latency)")
    parser.add_argument("--messages", default="mix", choices=["mix", "lookup"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a turn may take before no reply")
    parser.add_argument("--url", default=None, help="a running stack's gateway instead (its --latency applies)")
    parser.add_argument("--in-process", action="store_true", help="serve --in-process (threads of one process)")
    parser.add_argument("--warm-up", type=int, default=10, help="turns sent first, not measured")
    parser.add_argument("--parameter-override", action="append", default=[], metavar="NAME=VALUE",
                        help="passed to serve --parameter-overrides (e.g. ConnectionRatePerSecond=0)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    server = None
    if args.url is None:
        print(f"turn_load: starting mangaassist serve --latency {args.latency}"
              f"{' --in-process' if args.in_process else ''}...", file=sys.stderr)
        server, url = start_serve(args.latency, args.in_process, args.parameter_override, timeout=600)
    else:
        url = args.url.rstrip("/")
    ws_url = url.replace("http://", "ws://") + "/ws"
    rows = []
    try:
        if args.warm_up:
            run(LoadShape(rate=2, duration=args.warm_up / 2), ws_url, process=Process.EVEN,
                messages=args.messages, timeout=60)
        for rate in rates:
            shape = LoadShape(pattern=Pattern.SUSTAINED, rate=rate, duration=args.duration)
            summary, _, _ = run(shape, ws_url, seed=args.seed, messages=args.messages, timeout=args.timeout,
                                progress=sys.stderr)
            everyone = summary.latency_ms_all_turns
            rows.append({"rate": rate, "latency": args.latency, "duration_s": args.duration,
                         "scheduled": summary.scheduled, "offered_per_s": summary.offered_per_s,
                         "completed_per_s": summary.completed_per_s,
                         "completed_in_window_per_s": summary.completed_in_window_per_s,
                         "p50_ms": everyone.p50, "p95_ms": everyone.p95, "p99_ms": everyone.p99,
                         "fallbacks": summary.fallbacks, "fallback_reasons": summary.fallbacks_by_reason,
                         "no_reply": summary.no_reply, "turn_deadline_timeouts": summary.timeouts["turn_deadline"],
                         "errors": summary.errors, "escalation_rate": summary.escalation_rate,
                         "send_lag_p99_ms": summary.send_lag_ms.p99, "seed": summary.seed})
    finally:
        if server is not None:
            stop(server)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    mode = "in-process" if args.in_process else "worker processes"
    print(f"MangaAssist open-loop load, Poisson arrivals, {args.duration:g} s per rate, model latency "
          f"{args.latency}, messages {args.messages}, {mode if server else url}; latency = scheduled send -> reply, "
          "no reply counted as infinitely slow")

    def ms(value: float | None) -> str:
        return "no reply" if value is None else f"{value:,.0f}"

    print(f"{'rate/s':>6} {'turns':>6} {'done/s':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'fallbacks':>9} "
          f"{'timeouts':>8} {'no reply':>8} {'errors':>6} {'lag p99':>8}")
    for row in rows:
        print(f"{row['rate']:>6g} {row['scheduled']:>6} {row['completed_per_s']:>7.2f} {ms(row['p50_ms']):>9} "
              f"{ms(row['p95_ms']):>9} {ms(row['p99_ms']):>9} {row['fallbacks']:>9} "
              f"{row['turn_deadline_timeouts']:>8} {row['no_reply']:>8} {row['errors']:>6} "
              f"{ms(row['send_lag_p99_ms']):>8}")


if __name__ == "__main__":
    main()
