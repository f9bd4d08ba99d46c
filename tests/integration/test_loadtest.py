"""`mangaassist loadtest` end to end against the local stack's gateway: every scheduled turn is sent, answered
and counted; the run becomes a load-test job with a chart; targets that are not loopback are refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mangaassist.jobs import parse_job
from mangaassist.jobs.runner import run_job
from mangaassist.quality.arrivals import LoadShape, Pattern, Process, schedule
from mangaassist.quality.load_report import LoadTestResult
from mangaassist_local.cli import app
from mangaassist_local.gateway import Gateway
from mangaassist_local.loadtest_cli import LoadTestError, run, websocket_url


def warm_up(ws_url: str) -> None:
    """One turn first: the first turn of a fresh stack loads the embedding model and may pass its deadline."""
    from websockets.sync.client import connect

    with connect(ws_url) as socket:
        socket.send(json.dumps({"action": "sendMessage", "sessionId": "warm-up", "message": "Hello!"}))
        socket.recv(timeout=60)


def test_every_scheduled_turn_is_sent_answered_and_counted(gateway: Gateway) -> None:
    warm_up(gateway.ws_url)
    shape = LoadShape(pattern=Pattern.MIX, rate=3, duration=2)
    expected = schedule(shape, seed=21, process=Process.EVEN)
    summary, result, samples = run(shape, gateway.ws_url, process=Process.EVEN, seed=21, timeout=60)
    assert len(samples) == summary.scheduled == len(expected) == 6
    assert [s.scheduled_s for s in samples] == pytest.approx(expected)
    assert summary.sent == summary.replied == 6 and summary.no_reply == summary.errors == 0
    assert summary.answered + summary.fallbacks == 6
    for sample in samples:
        assert sample.sent_s is not None and sample.replied_s is not None and sample.latency_ms is not None
        assert sample.sent_s >= sample.scheduled_s - 0.005  # never early
        # latency runs from the scheduled send, so it covers the stack's own time for the turn
        assert sample.latency_ms == pytest.approx((sample.replied_s - sample.scheduled_s) * 1000, abs=0.2)
        if sample.server_ms is not None:  # a deadline fallback has no stack-side total
            assert sample.latency_ms >= sample.server_ms - 50
        assert sample.task and sample.cost_usd is not None
    assert summary.latency_ms.n == 6 and summary.latency_ms.p50 is not None
    assert sum(stats["turns"] for stats in summary.by_kind.values()) == 6
    assert sum(summary.by_model.values()) == 6
    assert summary.cost.turns_priced == 6
    assert result.connections_opened >= 1

    job = parse_job({"kind": "load-test", "params": LoadTestResult.of(summary, samples).model_dump(mode="json")})
    output = run_job(job, turns=None)  # type: ignore[arg-type]  # the load-test kind reads no turns
    assert output.charts["latency"].startswith(b"\x89PNG")
    assert output.result["summary"]["replied"] == 6
    assert "6/6 replied" in output.summary


def test_targets_that_are_not_loopback_are_refused() -> None:
    assert websocket_url(None, None, None, None) == "ws://127.0.0.1:8080/ws"
    assert websocket_url("http://localhost:18080/", None, None, "a b") == "ws://localhost:18080/ws?token=a%20b"
    assert websocket_url(None, "wss://chat.example.com/prod", None, "t") == "wss://chat.example.com/prod?token=t"
    with pytest.raises(LoadTestError, match="not a loopback address"):
        websocket_url("http://chat.example.com", None, None, None)
    with pytest.raises(LoadTestError, match="one of"):
        websocket_url("http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws", None, None)
    result = CliRunner().invoke(app, ["loadtest", "--url", "http://10.0.0.8:8080", "--duration", "1"])
    assert result.exit_code == 2 and "not a loopback address" in result.output
    result = CliRunner().invoke(app, ["loadtest", "--rate", "100", "--duration", "600", "--max-turns", "1000"])
    assert result.exit_code == 2 and "over --max-turns" in result.output
    result = CliRunner().invoke(app, ["loadtest", "--pattern", "burst", "--burst-every", "1", "--burst-length", "2"])
    assert result.exit_code == 2 and "burst_length" in result.output
