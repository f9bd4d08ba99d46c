"""The local WebSocket gateway: API Gateway routing, events and the @connections API.

The first group runs the real handlers against the local AWS stack (moto, the
real state machine, the local model endpoint); the second drives the gateway
with a scripted runtime to pin down its own semantics (errors, ordering,
concurrency, rejected handshakes) without depending on the chat pipeline.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from mangaassist_local.gateway import MANAGEMENT_ENV, Gateway, RouteTable
from mangaassist_local.lambda_runtime import Invocation
from mangaassist_local.stack import REGION, REPO, LocalAws
from mangaassist_local.template import Template

pytestmark = pytest.mark.integration

RECV_TIMEOUT = 60
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


# -- fixtures: local_aws and gateway come from tests/conftest.py ----------------------
def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=240))


async def _recv_json(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))


def _frame(message: Any, **extra: Any) -> str:
    return json.dumps({"action": "sendMessage", "sessionId": "test-session", "message": message, **extra},
                      ensure_ascii=False)


def _http(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def _management(gw: Gateway) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=gw.management_endpoint, region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local")


def _wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


async def _new_connection(gw: Gateway, before: set[str]) -> str:
    """The id of the connection just opened (the server registers it right after the 101 goes out)."""
    for _ in range(200):
        if new := set(gw.connection_ids()) - before:
            (connection_id,) = new
            return connection_id
        await asyncio.sleep(0.025)
    raise AssertionError("the gateway did not register the connection")


def _assert_answer(frame: dict[str, Any]) -> None:
    assert frame["type"] == "answer", frame
    assert frame["turnId"]
    assert frame["text"].strip()
    meta = frame["meta"]
    assert meta["task"]
    assert isinstance(meta["tiers"], list)
    assert float(meta["cost_usd"]) >= 0
    if meta["cache"] == "miss":  # the machine ran: at least one model tier answered
        assert meta["tiers"] and all(tier["target"] and tier["outcome"] for tier in meta["tiers"]), meta
    else:  # served from the answer cache (an earlier test may have asked the same)
        assert meta["tiers"] == [] and float(meta["cost_usd"]) == 0, meta


# -- against the real handlers -----------------------------------------------------
def test_addresses_and_management_env(gateway: Gateway) -> None:
    assert gateway.port > 0
    assert gateway.url == f"http://127.0.0.1:{gateway.port}"
    assert gateway.ws_url == f"ws://127.0.0.1:{gateway.port}/ws"
    assert gateway.management_endpoint == f"http://127.0.0.1:{gateway.port}/local"
    assert os.environ[MANAGEMENT_ENV] == gateway.management_endpoint


def test_routes_come_from_the_template(gateway: Gateway) -> None:
    assert gateway.routes.routes == {"$connect": "ConnectFunction", "$disconnect": "DisconnectFunction",
                                     "sendMessage": "SendMessageFunction", "$default": "SendMessageFunction"}
    assert gateway.routes.selection_path == ("action",)
    assert gateway.routes.authorizers == {"$connect": "AuthorizerFunction"}  # ConnectRoute: CUSTOM


def test_english_and_japanese_messages_are_answered(gateway: Gateway) -> None:
    async def chat() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(gateway.ws_url) as ws:
            await ws.send(_frame("How much is One Piece volume 1?", locale="en"))
            english = await _recv_json(ws)
            await ws.send(_frame("ワンピースの1巻はいくらですか？在庫はありますか？"))
            japanese = await _recv_json(ws)
            return english, japanese

    english, japanese = _run(chat())
    _assert_answer(english)
    _assert_answer(japanese)
    assert english["meta"]["language"] == "en"
    assert japanese["meta"]["language"] in ("ja", "mixed")
    assert JAPANESE.search(japanese["text"]), japanese["text"]
    assert english["turnId"] != japanese["turnId"]


BAD_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("not json", "this is not json", "INVALID_JSON"),
    ("json array", '[{"action": "sendMessage"}]', "INVALID_FRAME"),
    ("message is a number", _frame(5), "INVALID_FIELD"),
    ("missing message", json.dumps({"action": "sendMessage", "sessionId": "test-session"}), "MISSING_FIELD"),
    ("empty message", _frame("   "), "EMPTY_MESSAGE"),
    ("message too long", _frame("a" * 2001), "MESSAGE_TOO_LONG"),
    ("unknown action", json.dumps({"action": "orderPizza", "sessionId": "s", "message": "hi"}), "UNKNOWN_ACTION"),
    ("binary frame", b'{"action": "sendMessage"}', "BINARY_NOT_SUPPORTED"),
    ("empty frame", "", "EMPTY_FRAME"),
]


def test_bad_frames_get_error_codes_and_the_connection_keeps_working(gateway: Gateway) -> None:
    async def chat() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with websockets.connect(gateway.ws_url) as ws:
            errors = []
            for _, frame, _ in BAD_FRAMES:
                await ws.send(frame)
                errors.append(await _recv_json(ws))
            await ws.send(_frame("Do you have Spy x Family?"))
            return errors, await _recv_json(ws)

    errors, answer = _run(chat())
    for (name, _, code), frame in zip(BAD_FRAMES, errors, strict=True):
        assert frame["type"] == "error", name
        assert frame["code"] == code, (name, frame)
        assert frame["message"], name
    _assert_answer(answer)


def test_frames_sent_back_to_back_are_answered_in_order(gateway: Gateway) -> None:
    async def chat() -> list[dict[str, Any]]:
        async with websockets.connect(gateway.ws_url) as ws:
            await ws.send("not json")
            await ws.send(_frame("Hello!"))
            await ws.send(_frame(""))
            return [await _recv_json(ws) for _ in range(3)]

    first, second, third = _run(chat())
    assert first["code"] == "INVALID_JSON"
    _assert_answer(second)
    assert third["code"] == "EMPTY_MESSAGE"


def test_connections_table_tracks_the_connection(gateway: Gateway, local_aws: LocalAws) -> None:
    table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=local_aws.endpoint).Table(
        local_aws.env["CONNECTIONS_TABLE"])
    before = set(gateway.connection_ids())

    async def connect_and_look() -> tuple[str, dict[str, Any] | None]:
        async with websockets.connect(gateway.ws_url):
            new = await _new_connection(gateway, before)
            return new, table.get_item(Key={"connectionId": new}).get("Item")

    connection_id, item = _run(connect_and_look())
    assert item is not None and item["connectionId"] == connection_id
    assert item["sourceIp"] == "127.0.0.1"
    assert _wait_for(lambda: "Item" not in table.get_item(Key={"connectionId": connection_id})), \
        "$disconnect did not remove the connection"
    assert connection_id not in gateway.connection_ids()


def test_management_api_get_post_delete(gateway: Gateway) -> None:
    client = _management(gateway)
    before = set(gateway.connection_ids())

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(gateway.ws_url, user_agent_header="gateway-test/1.0") as ws:
            connection_id = await _new_connection(gateway, before)
            loop = asyncio.get_running_loop()
            info = await loop.run_in_executor(None, lambda: client.get_connection(ConnectionId=connection_id))
            payload = "プッシュ通知: restock ✓".encode()
            await loop.run_in_executor(None, lambda: client.post_to_connection(ConnectionId=connection_id,
                                                                               Data=payload))
            pushed = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
            deleted = await loop.run_in_executor(None, lambda: client.delete_connection(ConnectionId=connection_id))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
            with pytest.raises(client.exceptions.GoneException):
                await loop.run_in_executor(None, lambda: client.get_connection(ConnectionId=connection_id))
            return {"info": info, "pushed": pushed, "deleted": deleted}

    result = _run(scenario())
    info = result["info"]
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "gateway-test/1.0"}
    assert info["ConnectedAt"] <= info["LastActiveAt"]
    assert isinstance(result["pushed"], str), "posted data must arrive as a text frame"
    assert result["pushed"] == "プッシュ通知: restock ✓"
    assert result["deleted"]["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize("operation", ["post_to_connection", "get_connection", "delete_connection"])
def test_unknown_connection_raises_botocores_gone_exception(gateway: Gateway, operation: str) -> None:
    client = _management(gateway)
    kwargs: dict[str, Any] = {"ConnectionId": "L0SM9cOFvHcCIhw="}
    if operation == "post_to_connection":
        kwargs["Data"] = b"{}"
    with pytest.raises(client.exceptions.GoneException) as info:
        getattr(client, operation)(**kwargs)
    assert isinstance(info.value, botocore.exceptions.ClientError)
    assert info.value.response["Error"]["Code"] == "GoneException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_health_is_503_until_ready(local_aws: LocalAws) -> None:
    ready = threading.Event()
    gw = Gateway(local_aws.runtime, local_aws.template, ready=ready.is_set)
    gw.start()
    try:
        status, content_type, body = _http(f"{gw.url}/health")
        assert status == 503
        assert json.loads(body)["status"] != "ok"
        ready.set()
        status, content_type, body = _http(f"{gw.url}/health")
        assert status == 200
        assert content_type.startswith("application/json")
        assert json.loads(body)["status"] == "ok"
    finally:
        gw.stop()


def test_web_page_is_served(gateway: Gateway) -> None:
    status, content_type, body = _http(f"{gateway.url}/")
    assert status == 200
    assert content_type.startswith("text/html") and "utf-8" in content_type.lower()
    assert 'id="message"' in body and 'id="send"' in body and 'id="log"' in body
    assert '<meta charset="utf-8">' in body
    assert "/ws" in body


# -- gateway semantics with a scripted runtime --------------------------------------
class ScriptedRuntime:
    """Stands in for LambdaRuntime: records events; the message handler is scripted per test."""

    def __init__(self, gateway_ref: list[Gateway], on_message: Any, connect_status: int = 200) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.authorizer_events: list[dict[str, Any]] = []  # the $connect authorizer's (it admits everyone)
        self._gateway_ref = gateway_ref
        self._on_message = on_message
        self._connect_status = connect_status
        self._lock = threading.Lock()

    def reply(self, event: dict[str, Any], frame: dict[str, Any]) -> bool:
        return self._gateway_ref[0].post(event["requestContext"]["connectionId"], json.dumps(frame).encode())

    def invoke(self, name: str, event: dict[str, Any]) -> Invocation:
        if name == "AuthorizerFunction":
            self.authorizer_events.append(event)
            return Invocation(payload={
                "principalId": "C-TEST", "context": {"principal": "C-TEST", "kind": "customer"},
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [event["methodArn"]]}]}})
        with self._lock:
            self.events.append((name, event))
        if name == "ConnectFunction":
            return Invocation(payload={"statusCode": self._connect_status})
        if name == "DisconnectFunction":
            return Invocation(payload={"statusCode": 200})
        return self._on_message(self, event)


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(REPO / "template.yaml", REGION)


def _scripted(template: Template, on_message: Any, connect_status: int = 200,
              tmpl: Template | None = None) -> tuple[Gateway, ScriptedRuntime]:
    ref: list[Gateway] = []
    runtime = ScriptedRuntime(ref, on_message, connect_status)
    gw = Gateway(runtime, tmpl or template)  # type: ignore[arg-type]
    ref.append(gw)
    gw.start()
    return gw, runtime


def _echo(runtime: ScriptedRuntime, event: dict[str, Any]) -> Invocation:
    runtime.reply(event, {"type": "echo", "body": event["body"], "route": event["requestContext"]["routeKey"]})
    return Invocation(payload={"statusCode": 200})


def test_events_have_api_gateways_shape(template: Template) -> None:
    gw, runtime = _scripted(template, _echo)
    try:
        async def chat() -> list[dict[str, Any]]:
            async with websockets.connect(gw.ws_url + "?token=abc") as ws:
                await ws.send(json.dumps({"action": "sendMessage", "x": 1}))
                await ws.send(json.dumps({"action": "somethingElse"}))
                await ws.send(b"\x00\xffbinary")
                return [await _recv_json(ws) for _ in range(3)]

        replies = _run(chat())
        assert [r["route"] for r in replies] == ["sendMessage", "$default", "$default"]
        assert _wait_for(lambda: any(name == "DisconnectFunction" for name, _ in runtime.events))
    finally:
        gw.stop()

    names = [name for name, _ in runtime.events]
    assert names == ["ConnectFunction", "SendMessageFunction", "SendMessageFunction", "SendMessageFunction",
                     "DisconnectFunction"]
    connect, text, _, binary, disconnect = (event for _, event in runtime.events)
    ctx = connect["requestContext"]
    assert ctx["routeKey"] == "$connect" and ctx["eventType"] == "CONNECT"
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", ctx["connectionId"])
    assert ctx["stage"] == "local" and ctx["apiId"] == "local"
    assert ctx["domainName"] == f"127.0.0.1:{gw.port}"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["messageDirection"] == "IN"
    assert isinstance(ctx["connectedAt"], int) and isinstance(ctx["requestTimeEpoch"], int) and ctx["requestId"]
    assert connect["queryStringParameters"] == {"token": "abc"}
    assert "Sec-WebSocket-Key" in connect["headers"]
    assert connect["isBase64Encoded"] is False

    assert text["requestContext"]["eventType"] == "MESSAGE"
    assert text["requestContext"]["routeKey"] == "sendMessage"
    assert text["requestContext"]["connectionId"] == ctx["connectionId"]
    assert json.loads(text["body"]) == {"action": "sendMessage", "x": 1}
    assert text["isBase64Encoded"] is False

    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x00\xffbinary"

    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["routeKey"] == "$disconnect"
    assert disconnect["requestContext"]["connectionId"] == ctx["connectionId"]

    # The REQUEST authorizer ran first, with the query string; its context reaches every route of the connection.
    (authorizer,) = runtime.authorizer_events
    assert authorizer["type"] == "REQUEST" and authorizer["methodArn"].endswith("/local/$connect")
    assert authorizer["queryStringParameters"] == {"token": "abc"}
    assert authorizer["requestContext"]["connectionId"] == ctx["connectionId"]
    for event in (connect, text, binary, disconnect):
        assert event["requestContext"]["authorizer"] == {"principal": "C-TEST", "kind": "customer",
                                                         "principalId": "C-TEST"}


def test_handler_error_sends_internal_error_and_keeps_the_socket(template: Template) -> None:
    def flaky(runtime: ScriptedRuntime, event: dict[str, Any]) -> Invocation:
        body = json.loads(event["body"])
        if body.get("boom"):
            return Invocation(error=True, payload={"errorType": "RuntimeError", "errorMessage": "boom"})
        if body.get("crash"):  # the runtime itself failing, e.g. a handler module that cannot be imported
            raise ImportError("no module app")
        return _echo(runtime, event)

    gw, _ = _scripted(template, flaky)
    try:
        async def chat() -> list[dict[str, Any]]:
            async with websockets.connect(gw.ws_url) as ws:
                await ws.send(json.dumps({"action": "sendMessage", "boom": True}))
                await ws.send(json.dumps({"action": "sendMessage", "crash": True}))
                await ws.send(json.dumps({"action": "sendMessage"}))
                return [await _recv_json(ws) for _ in range(3)]

        error, crash, echo = _run(chat())
    finally:
        gw.stop()
    assert error == {"type": "error", "code": "INTERNAL_ERROR", "message": "Internal server error"}
    assert crash == error
    assert echo["type"] == "echo"


def test_connect_rejection_refuses_the_handshake(template: Template) -> None:
    gw, runtime = _scripted(template, _echo, connect_status=403)
    try:
        async def connect() -> None:
            async with websockets.connect(gw.ws_url):
                pass

        with pytest.raises(InvalidHandshake) as info:
            _run(connect())
        status = getattr(getattr(info.value, "response", None), "status_code", None) or \
            getattr(info.value, "status_code", None)
        assert status == 403
        assert gw.connection_ids() == []
        assert [name for name, _ in runtime.events] == ["ConnectFunction"]
    finally:
        gw.stop()


def test_connections_are_served_concurrently_and_each_in_order(template: Template) -> None:
    def slow(runtime: ScriptedRuntime, event: dict[str, Any]) -> Invocation:
        body = json.loads(event["body"])
        time.sleep(body["sleep"])
        runtime.reply(event, {"type": "echo", "n": body["n"]})
        return Invocation(payload={"statusCode": 200})

    gw, _ = _scripted(template, slow)
    try:
        async def client(sleeps: list[float]) -> list[int]:
            async with websockets.connect(gw.ws_url) as ws:
                for n, sleep in enumerate(sleeps):
                    await ws.send(json.dumps({"action": "sendMessage", "n": n, "sleep": sleep}))
                return [(await _recv_json(ws))["n"] for _ in sleeps]

        async def both() -> tuple[list[list[int]], float]:
            started = time.monotonic()
            results = await asyncio.gather(*(client([0.6, 0.1, 0.3]) for _ in range(4)))
            return list(results), time.monotonic() - started

        results, elapsed = _run(both())
    finally:
        gw.stop()
    assert all(order == [0, 1, 2] for order in results), results
    # Serially the four connections would take 4 x 1.0 s.
    assert elapsed < 2.5, elapsed


def test_no_matching_route_and_no_default_is_forbidden(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def lambda_handler(event, context):\n    return None\n")
    (tmp_path / "template.yaml").write_text("""
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn/, Handler: app.lambda_handler}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  EchoIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:local:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations"
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: echo, Target: !Join ["/", [integrations, !Ref EchoIntegration]]}
""")
    tmpl = Template(tmp_path / "template.yaml", REGION)
    table = RouteTable.from_template(tmpl)
    assert table.routes == {"echo": "EchoFunction"}
    assert table.select('{"action": "echo"}') == "echo"
    assert table.select('{"action": "other"}') is None

    gw, runtime = _scripted(tmpl, _echo, tmpl=tmpl)
    try:
        async def chat() -> list[dict[str, Any]]:
            async with websockets.connect(gw.ws_url) as ws:  # no $connect route: accepted as is
                await ws.send(json.dumps({"action": "other"}))
                first = await _recv_json(ws)
                await ws.send(json.dumps({"action": "echo"}))
                return [first, await _recv_json(ws)]

        forbidden, echo = _run(chat())
    finally:
        gw.stop()
    assert forbidden["message"] == "Forbidden" and forbidden["connectionId"]
    assert echo == {"type": "echo", "body": '{"action": "echo"}', "route": "echo"}
    assert [name for name, _ in runtime.events] == ["EchoFunction"]


def test_route_selection() -> None:
    table = RouteTable(routes={"sendMessage": "A", "$default": "B", "$connect": "C"}, selection_path=("action",))
    assert table.select('{"action": "sendMessage"}') == "sendMessage"
    assert table.select('{"action": "unknown"}') == "$default"
    assert table.select('{"action": "$connect"}') == "$default"  # reserved keys are never selected by a frame
    assert table.select('{"action": 5}') == "$default"
    assert table.select('["sendMessage"]') == "$default"
    assert table.select("not json") == "$default"
    assert table.select(None) == "$default"


def test_stop_restores_the_environment(template: Template) -> None:
    before = os.environ.get(MANAGEMENT_ENV)
    gw, _ = _scripted(template, _echo)
    assert os.environ[MANAGEMENT_ENV] == gw.management_endpoint
    gw.stop()
    assert os.environ.get(MANAGEMENT_ENV) == before
