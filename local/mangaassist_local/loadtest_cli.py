"""`mangaassist loadtest`: an open-loop load test over the real WebSocket (issue #13).

The schedule (mangaassist.quality.arrivals) and the messages (quality.traffic_mix) are made first; the client
(load_runner) sends each turn at its time whatever the replies do; the summary (quality.load_report) takes
latency from each turn's scheduled send to its reply. Targets: a running local stack (`--url`, loopback only),
an explicit WebSocket URL (`--ws-url`, `--token`), or a deployed stack (`--stack-name`: its WebSocketUrl output).
`--job` also stores the summary and its chart in the results bucket as a `load-test` analytics job.

Exit codes: 0 ran (whatever the figures); 1 the run had no reply at all, or a spike/burst ratio was not as asked;
2 refused (bad options, too big, a non-loopback --url, no stack).
"""

from __future__ import annotations

import ipaddress
import json
import random
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote, urlsplit

import typer

from mangaassist.quality.arrivals import LoadShape, Pattern, Process

DEFAULT_URL = "http://127.0.0.1:8080"


class LoadTestError(Exception):
    """One line for the user, exit 2."""


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"mangaassist loadtest: {message}", err=True)
    raise typer.Exit(code)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def websocket_url(url: str | None, ws_url: str | None, stack_name: str | None, token: str | None,
                  region: str | None = None, endpoint_url: str | None = None) -> str:
    """The WebSocket URL to load, with ?token= when given; LoadTestError for a refused or unknown target."""
    if sum(x is not None for x in (url, ws_url, stack_name)) > 1:
        raise LoadTestError("give one of --url, --ws-url or --stack-name")
    if stack_name is not None:
        from mangaassist_local.seed import SeedError
        from mangaassist_local.smoke import stack_websocket_url

        try:
            target = stack_websocket_url(stack_name, region, endpoint_url)
        except SeedError as error:
            raise LoadTestError(str(error)) from None
    elif ws_url is not None:
        if not ws_url.startswith(("ws://", "wss://")):
            raise LoadTestError(f"--ws-url must be a ws:// or wss:// URL, got {ws_url!r}")
        target = ws_url
    else:
        base = (url or DEFAULT_URL).rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https"):
            raise LoadTestError(f"--url must be the gateway's http:// URL (as `mangaassist chat --url`), got {base!r}")
        if not is_loopback(parts.hostname):
            raise LoadTestError(f"{parts.hostname} is not a loopback address: a load test goes to a local stack "
                                "unless you name the target explicitly with --ws-url (or --stack-name)")
        target = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws"
    if token:
        target += ("&" if "?" in target else "?") + "token=" + quote(token, safe="")
    return target


def _order_ids() -> list[str]:
    from mangaassist_offline.sample_data import orders

    return sorted(orders())


def plan_turns(shape: LoadShape, process: Process, seed: int, messages: str, allow_cache: bool,
               run_id: str) -> tuple[list[Any], int]:
    """The schedule with its messages: (planned turns, messages that repeat an earlier one)."""
    from mangaassist.catalog.store import catalog
    from mangaassist.quality.arrivals import schedule
    from mangaassist.quality.traffic_mix import MIXES, MessageMaker
    from mangaassist_local.load_runner import PlannedTurn

    times = schedule(shape, seed, process)
    maker = MessageMaker(list(catalog().values()), _order_ids(), seed, MIXES[messages], unique=not allow_cache)
    drawn = maker.draw(len(times))
    plan = [PlannedTurn(index=n, at=at, message=message, session_id=f"load-{run_id}-{n}")
            for n, (at, message) in enumerate(zip(times, drawn, strict=True))]
    return plan, maker.repeats


def run(shape: LoadShape, ws_url: str, *, process: Process = Process.POISSON, seed: int | None = None,
        messages: str | None = None, allow_cache: bool = False, timeout: float = 30.0, daily_messages: int = 1_000_000,
        max_turns: int = 20_000, max_duration: float = 900.0, progress: Any = None, target_name: str | None = None
        ) -> tuple[Any, Any, list[Any]]:
    """Plan, send and summarize one load test: (LoadSummary, LoadRun, samples). LoadTestError when refused."""
    from mangaassist.quality.load_report import summarize
    from mangaassist_local.load_runner import run_load, warm_connections

    if shape.duration > max_duration:
        raise LoadTestError(f"--duration {shape.duration:g} s is over --max-duration {max_duration:g} s")
    expected = shape.expected_count()
    if expected > max_turns:
        raise LoadTestError(f"the schedule offers about {expected:,.0f} turns, over --max-turns {max_turns:,}")
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
    messages = messages or ("mix" if shape.pattern is Pattern.MIX else "lookup")
    run_id = uuid.uuid4().hex[:8]
    plan, repeats = plan_turns(shape, process, seed, messages, allow_cache, run_id)
    if len(plan) > max_turns:  # a Poisson draw above the mean
        raise LoadTestError(f"the schedule drew {len(plan):,} turns, over --max-turns {max_turns:,}")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    if progress is not None:
        progress.write(f"loadtest: {len(plan)} turns over {shape.duration:g} s ({shape.pattern.value}, "
                       f"seed {seed}) -> {_redacted(ws_url)}\n")
    result = run_load(plan, ws_url, timeout=timeout, warm=warm_connections(shape.peak_rate()), progress=progress)
    summary = summarize(result.samples, target=target_name or _redacted(ws_url), shape=shape, process=process,
                        seed=seed, messages=messages, started_at=started_at, daily_messages=daily_messages,
                        repeated_messages=repeats)
    summary.connections = {"warm": result.warmed, "during_run": result.connections_opened - result.warmed}
    return summary, result, result.samples


def _redacted(url: str) -> str:
    return url.split("?", 1)[0] + ("?token=…" if "token=" in url else "")


def submit_job(summary: Any, samples: list[Any], aws_url: str, stack_name: str | None, region: str | None,
               endpoint_url: str | None) -> str:
    """Send the run to the analytics queue as a load-test job; returns the job id."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mangaassist.jobs import JobRejected, build_job
    from mangaassist.quality.load_report import LoadTestResult
    from mangaassist_local.jobs_cli import JobsCliError, target

    params = LoadTestResult.of(summary, samples).model_dump(mode="json")
    try:
        job = build_job("load-test", params)
        where = target(aws_url, stack_name, region, endpoint_url)
        where.store.submit(job.job_id, "load-test", job.params_json())
        where.sqs.send_message(QueueUrl=where.queue_url, MessageBody=job.message())
    except (JobRejected, JobsCliError) as error:
        raise LoadTestError(f"could not submit the load-test job: {error}") from None
    except (BotoCoreError, ClientError) as error:
        raise LoadTestError(f"could not submit the load-test job: {error}") from None
    return job.job_id


def loadtest(
    pattern: Annotated[Pattern, typer.Option(help="Arrival pattern; mix = sustained arrivals with SPEC §3's "
                                                  "production message mix.")] = Pattern.SUSTAINED,
    rate: Annotated[float, typer.Option(help="Turns per second: the base rate (ramp: the final rate).")] = 5.0,
    duration: Annotated[float, typer.Option(help="Seconds of arrivals.")] = 30.0,
    spike_multiplier: Annotated[float, typer.Option(help="spike: the peak rate over the base rate.")] = 10.0,
    spike_fraction: Annotated[float, typer.Option(help="spike: the share of the duration it lasts, centred.")] = 0.2,
    burst_factor: Annotated[float, typer.Option(help="burst: the burst rate over the base rate (SPEC §3: 2).")] = 2.0,
    burst_every: Annotated[float, typer.Option(help="burst: seconds from one burst to the next.")] = 10.0,
    burst_length: Annotated[float, typer.Option(help="burst: seconds each burst lasts.")] = 2.0,
    process: Annotated[Process, typer.Option(help="poisson (seeded) or even (equal steps of the rate's "
                                                  "integral).")] = Process.POISSON,
    seed: Annotated[int | None, typer.Option(help="Seed of the arrivals and messages (default: random, "
                                                  "printed).")] = None,
    messages: Annotated[str | None, typer.Option(
        help="mix (SPEC §3's production mix) or lookup (price and stock questions); default mix for --pattern "
             "mix, else lookup.")] = None,
    allow_cache: Annotated[bool, typer.Option("--allow-cache", help="Repeat a small pool of messages per kind, so "
                                                                    "the answer cache serves some turns.")] = False,
    daily_messages: Annotated[int, typer.Option(help="Traffic for the cost projection, messages/day.")] = 1_000_000,
    timeout: Annotated[float, typer.Option(help="Seconds from a turn's scheduled time to give up on its "
                                                "reply.")] = 30.0,
    max_turns: Annotated[int, typer.Option(help="Refuse a schedule of more turns than this.")] = 20_000,
    max_duration: Annotated[float, typer.Option(help="Refuse a longer --duration than this (s).")] = 900.0,
    url: Annotated[str | None, typer.Option(help=f"A running local stack's gateway (loopback only; default "
                                                 f"{DEFAULT_URL}).")] = None,
    ws_url: Annotated[str | None, typer.Option(help="An explicit WebSocket URL (ws:// or wss://), any host.")] = None,
    token: Annotated[str | None, typer.Option(help="Appended as ?token=... (the $connect authorizer's).")] = None,
    stack_name: Annotated[str | None, typer.Option(help="A deployed stack: its WebSocketUrl output.")] = None,
    region: Annotated[str | None, typer.Option(help="The deployed stack's region.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG: latency over time with the arrivals.")] = None,
    job: Annotated[bool, typer.Option("--job", help="Also store the summary and chart as a load-test analytics "
                                                    "job (the local stack's, or --stack-name's).")] = False,
    aws_url: Annotated[str, typer.Option(help="The local stack's AWS endpoint, for --job.")] =
        "http://127.0.0.1:4566",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="Another AWS endpoint for --stack-name.",
                                                     hidden=True)] = None,
) -> None:
    """Open-loop load test: every turn is scheduled in advance and sent on time whatever the replies do;
    latency runs from the scheduled send to the reply. Prints p50/p95/p99, throughput, errors, throttles,
    timeouts, fallbacks, escalation and the projected cost."""
    from pydantic import ValidationError

    from mangaassist.quality.load_chart import latency_chart
    from mangaassist.quality.load_report import format_summary, time_bins
    from mangaassist.quality.traffic_mix import MIXES

    if messages is not None and messages not in MIXES:
        _fail(f"--messages must be one of {', '.join(MIXES)}, got {messages!r}")
    if timeout <= 0 or daily_messages < 0 or max_turns < 1:
        _fail("--timeout must be > 0, --daily-messages >= 0 and --max-turns >= 1")
    try:
        shape = LoadShape(pattern=pattern, rate=rate, duration=duration, spike_multiplier=spike_multiplier,
                          spike_fraction=spike_fraction, burst_factor=burst_factor, burst_every=burst_every,
                          burst_length=burst_length)
    except ValidationError as error:
        _fail("; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-') or 'shape'}: "
                        f"{str(e['msg']).removeprefix('Value error, ')}" for e in error.errors()))
    try:
        target_url = websocket_url(url, ws_url, stack_name, token, region, endpoint_url)
        summary, _result, samples = run(
            shape, target_url, process=process, seed=seed, messages=messages, allow_cache=allow_cache,
            timeout=timeout, daily_messages=daily_messages, max_turns=max_turns, max_duration=max_duration,
            progress=None if quiet else sys.stderr,
            target_name=f"stack {stack_name}" if stack_name else None)
        job_id = submit_job(summary, samples, aws_url, stack_name, region, endpoint_url) if job else None
    except LoadTestError as error:
        _fail(str(error))
    if chart is not None:
        chart.write_bytes(latency_chart(shape, time_bins(samples, shape.duration)))
    if as_json:
        out = summary.model_dump(mode="json")
        if job_id:
            out["job_id"] = job_id
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_summary(summary))
        if chart is not None:
            typer.echo(f"  chart       {chart}")
        if job_id:
            typer.echo(f"  job         {job_id} (mangaassist jobs status {job_id} --wait)")
    ratios_ok = all(c is None or c.ok for c in (summary.ratio_scheduled, summary.ratio_sent))
    if summary.replied == 0 or not ratios_ok:
        raise typer.Exit(1)
