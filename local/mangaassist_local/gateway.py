"""A local WebSocket API with API Gateway's semantics, driven by template.yaml.

- Routes come from the template's AWS::ApiGatewayV2 Route -> Integration -> function
  chain; the route key is selected with the API's RouteSelectionExpression
  ($request.body.action), falling back to $default.
- $connect runs before the handshake completes (a non-2xx statusCode rejects it),
  each frame is one invocation with the API Gateway WebSocket proxy event, and
  $disconnect runs after the socket closes.
- The @connections management API (POST/GET/DELETE /{stage}/@connections/{id})
  is served on the same port, so the handlers' boto3 apigatewaymanagementapi
  clients work unchanged with endpoint_url = management_endpoint.

Handlers block for a whole chat turn, so they run on a thread pool; frames of one
connection are still invoked one after another, in arrival order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from mangaassist.adapters import aws
from mangaassist.chat.forget import forget_principal
from mangaassist.settings import settings
from mangaassist_local.lambda_runtime import Invocation, Runtime
from mangaassist_local.local_issuer import JWKS_PATH, MAX_EXPIRES_IN, TOKEN_PATH, LocalIssuer
from mangaassist_local.seed import sample_customers
from mangaassist_local.template import ACCOUNT, Template

log = logging.getLogger("mangaassist_local.gateway")

MANAGEMENT_ENV = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message (and PostToConnection) limit
INTERNAL_ERROR_FRAME = {"type": "error", "code": "INTERNAL_ERROR", "message": "Internal server error"}
_SELECTION = re.compile(r"^\$\{?request\.body\.(?P<path>[A-Za-z0-9_.]+)\}?$")
_FUNCTION_IN_URI = re.compile(r"functions/(?P<arn>arn:[^/]+:function:[^/]+)/invocations")
_STOP = object()  # end-of-stream marker for a connection's frame queue
_CUSTOMER = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")  # as the authorizer accepts a principal


def _api_id() -> str:
    """API Gateway style ids ('L0SM9cOFvHcCIhw='): URL-safe so they need no escaping in @connections paths."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@dataclass(frozen=True)
class RouteTable:
    """Route key -> function logical id, and how the route key is read from a frame; route key -> the Lambda
    authorizer's function for routes with AuthorizationType CUSTOM (WebSocket APIs allow one, on $connect)."""

    routes: dict[str, str]
    selection_path: tuple[str, ...]
    authorizers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_template(cls, template: Template) -> RouteTable:
        apis = {name: res for name, res in template.of_type("AWS::ApiGatewayV2::Api").items()
                if res.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"}
        if len(apis) != 1:
            raise ValueError(f"expected one WebSocket API in {template.path}, found {len(apis)}")
        (api_id, api), = apis.items()
        expression = api["Properties"].get("RouteSelectionExpression", "$request.body.action")
        match = _SELECTION.match(expression)
        if match is None:
            raise ValueError(f"unsupported RouteSelectionExpression {expression!r}")
        integrations = template.of_type("AWS::ApiGatewayV2::Integration")
        by_physical = {template.physical_name(name): name for name in integrations}
        routes: dict[str, str] = {}
        authorizers: dict[str, str] = {}
        by_authorizer = {template.physical_name(name): res
                         for name, res in template.of_type("AWS::ApiGatewayV2::Authorizer").items()}
        for name, res in template.of_type("AWS::ApiGatewayV2::Route").items():
            props = res["Properties"]
            if props.get("ApiId") != {"Ref": api_id}:
                continue
            # Resolving the Target the way CloudFormation would ("integrations/<Ref>") keeps
            # !Sub, !Join and !Ref forms alike; the Ref resolves to the integration's local name.
            target = str(template.resolve(props.get("Target", "")))
            integration = by_physical.get(target.rsplit("/", 1)[-1])
            if integration is None:
                raise ValueError(f"route {name}: target {target!r} names no integration")
            uri = str(template.resolve(integrations[integration]["Properties"].get("IntegrationUri", "")))
            found = _FUNCTION_IN_URI.search(uri)
            if found is None:
                raise ValueError(f"integration {integration}: {uri!r} is not a Lambda proxy integration")
            routes[props["RouteKey"]] = template.function_by_name(found["arn"]).logical_id
            if props.get("AuthorizationType") == "CUSTOM":
                authorizer = by_authorizer.get(str(template.resolve(props.get("AuthorizerId", ""))))
                if authorizer is None:
                    raise ValueError(f"route {name}: AuthorizerId names no AWS::ApiGatewayV2::Authorizer")
                uri = str(template.resolve(authorizer["Properties"].get("AuthorizerUri", "")))
                found = _FUNCTION_IN_URI.search(uri)
                if found is None:
                    raise ValueError(f"route {name}: authorizer {uri!r} is not a Lambda function")
                authorizers[props["RouteKey"]] = template.function_by_name(found["arn"]).logical_id
        return cls(routes=routes, selection_path=tuple(match["path"].split(".")), authorizers=authorizers)

    def select(self, text: str | None) -> str | None:
        """The route key for a frame (None for binary frames), or None when nothing matches."""
        if text is not None:
            try:
                value: Any = json.loads(text)
            except (ValueError, RecursionError):  # deep nesting: unreadable, like invalid JSON ($default)
                value = None
            for key in self.selection_path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, str) and value in self.routes and not value.startswith("$"):
                return value
        return "$default" if "$default" in self.routes else None


@dataclass
class _Connection:
    id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float
    last_active_at: float
    frames: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    authorizer: dict[str, Any] | None = None  # the $connect authorizer's context, in every later event


class Gateway:
    def __init__(self, runtime: Runtime, template: Template, host: str = "127.0.0.1", port: int = 0,
                 stage: str = "local", ready: Callable[[], bool] | None = None) -> None:
        self.runtime = runtime
        self.template = template
        self.host = host
        self.stage = stage
        self.routes = RouteTable.from_template(template)
        self._ready = ready
        self._requested_port = port
        self._port = 0
        self._connections: dict[str, _Connection] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._pool = self._new_pool()
        self._previous_env: str | None = None
        self.issuer: LocalIssuer | None = None  # the local stand-in for the Cognito user pool, made at start()
        self._previous_auth_env: dict[str, str | None] = {}

    # -- addresses ------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self._port}/ws"

    @property
    def management_endpoint(self) -> str:
        return f"http://{self.host}:{self._port}/{self.stage}"

    def connection_ids(self) -> list[str]:
        return list(self._connections)

    # -- lifecycle ------------------------------------------------------------------
    @staticmethod
    def _new_pool() -> ThreadPoolExecutor:
        # Each invocation holds a thread for a whole chat turn: size for many concurrent sockets.
        return ThreadPoolExecutor(max_workers=64, thread_name_prefix="gateway-invoke")

    def start(self) -> None:
        """Serve on a background thread with its own event loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("gateway already started")
        self._pool = self._new_pool()  # stop() shuts the previous one down
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as error:  # noqa: BLE001 - handed to start() on the caller's thread
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="gateway", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread = None
            raise failure[0]
        self._previous_env = os.environ.get(MANAGEMENT_ENV)
        os.environ[MANAGEMENT_ENV] = self.management_endpoint
        # The authorizer trusts this gateway's issuer (in-process handlers read os.environ; worker processes
        # get these variables passed through).
        self.issuer = LocalIssuer(self.url)
        auth_env = {"AUTH_ISSUER": self.issuer.issuer, "AUTH_JWKS_URL": self.issuer.jwks_url,
                    "AUTH_AUDIENCE": self.issuer.audience}
        self._previous_auth_env = {key: os.environ.get(key) for key in auth_env}
        os.environ.update(auth_env)
        settings.cache_clear()  # in-process handlers read the endpoint just set
        log.info("gateway listening on %s (routes: %s)", self.url, ", ".join(sorted(self.routes.routes)))

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get(JWKS_PATH, self._jwks)
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_get("/local/customers", self._customers)
        app.router.add_post("/local/forget", self._forget)
        connections = f"/{self.stage}/@connections/{{connection_id}}"
        app.router.add_post(connections, self._post_to_connection)
        app.router.add_get(connections, self._get_connection)
        app.router.add_delete(connections, self._delete_connection)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here (port=0 picks a free one)
        assert server is not None
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._pool.shutdown(wait=False, cancel_futures=True)
            if os.environ.get(MANAGEMENT_ENV) == self.management_endpoint:
                if self._previous_env is None:
                    os.environ.pop(MANAGEMENT_ENV, None)
                else:
                    os.environ[MANAGEMENT_ENV] = self._previous_env
                settings.cache_clear()
            if self.issuer is not None and os.environ.get("AUTH_ISSUER") == self.issuer.issuer:
                for key, value in self._previous_auth_env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                settings.cache_clear()

    async def _shutdown(self) -> None:
        for connection in list(self._connections.values()):
            await connection.ws.close(code=1001, message=b"Going away")
        for task in list(self._workers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- events ---------------------------------------------------------------------
    def _context(self, connection_id: str, route_key: str, event_type: str, connected_at: float,
                 source_ip: str, user_agent: str, authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
        now = time.time()
        context: dict[str, Any] = {
            "routeKey": route_key, "eventType": event_type, "messageDirection": "IN",
            "connectionId": connection_id, "connectedAt": int(connected_at * 1000),
            "domainName": f"{self.host}:{self._port}", "stage": self.stage, "apiId": "local",
            "requestId": _api_id(), "extendedRequestId": _api_id(),
            "requestTime": _request_time(now), "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        }
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)  # as API Gateway: principalId plus the context's keys
        return context

    async def _authorize(self, request: web.Request, connection_id: str, connected_at: float, source_ip: str,
                         user_agent: str) -> tuple[int, dict[str, Any] | None]:
        """Run the route's REQUEST authorizer as API Gateway does: (status, authorizer context). A function
        error "Unauthorized" is 401, another error 500, a policy without Allow (or with a Deny) 403."""
        headers = {key: request.headers[key] for key in request.headers}
        event: dict[str, Any] = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{self.template.region}:{ACCOUNT}:local/{self.stage}/$connect",
            "headers": headers, "multiValueHeaders": {key: request.headers.getall(key) for key in headers},
            "stageVariables": {},
            "requestContext": self._context(connection_id, "$connect", "CONNECT", connected_at, source_ip,
                                            user_agent),
        }
        if request.query:
            event["queryStringParameters"] = {key: request.query[key] for key in request.query}
            event["multiValueQueryStringParameters"] = {key: request.query.getall(key) for key in request.query}
        result = await self._invoke(self.routes.authorizers["$connect"], event)
        payload = result.payload if isinstance(result.payload, dict) else {}
        if result.error:
            if payload.get("errorMessage") == "Unauthorized":
                return 401, None
            log.error("authorizer failed: %s", json.dumps(payload, ensure_ascii=False, default=str))
            return 500, None
        statements = (payload.get("policyDocument") or {}).get("Statement") or []
        effects = {str(statement.get("Effect")) for statement in statements if isinstance(statement, dict)}
        if "Deny" in effects or "Allow" not in effects or "principalId" not in payload:
            return 403, None
        context = payload.get("context") or {}
        return 200, {**{key: value for key, value in context.items() if isinstance(value, str | int | bool)},
                     "principalId": str(payload["principalId"])}

    async def _invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self.runtime.invoke, function, event)
        except Exception as error:  # noqa: BLE001 - e.g. a handler that cannot be imported: a function error
            return Invocation(error=True, payload={"errorType": type(error).__name__, "errorMessage": str(error)})

    # -- WebSocket ------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        connection_id = _api_id()
        connected_at = time.time()
        source_ip = request.remote or "127.0.0.1"
        user_agent = request.headers.get("User-Agent", "")
        authorizer: dict[str, Any] | None = None
        if "$connect" in self.routes.authorizers:
            status, authorizer = await self._authorize(request, connection_id, connected_at, source_ip, user_agent)
            if status != 200:
                refusal = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Internal server error")
                return web.json_response({"message": refusal}, status=status)
        if "$connect" in self.routes.routes:
            headers = {key: request.headers[key] for key in request.headers}
            event = {
                "headers": headers,
                "multiValueHeaders": {key: request.headers.getall(key) for key in headers},
                "requestContext": self._context(connection_id, "$connect", "CONNECT", connected_at, source_ip,
                                                user_agent, authorizer),
                "isBase64Encoded": False,
            }
            if request.query:
                event["queryStringParameters"] = {key: request.query[key] for key in request.query}
                event["multiValueQueryStringParameters"] = {key: request.query.getall(key) for key in request.query}
            result = await self._invoke(self.routes.routes["$connect"], event)
            status = 500 if result.error else self._status(result.payload)
            if result.error:
                log.error("$connect failed: %s", json.dumps(result.payload, ensure_ascii=False, default=str))
            if not 200 <= status < 300:
                return web.json_response({"message": "Forbidden" if status == 403 else "Connection rejected"},
                                         status=status)

        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        await ws.prepare(request)
        connection = _Connection(id=connection_id, ws=ws, source_ip=source_ip, user_agent=user_agent,
                                 connected_at=connected_at, last_active_at=connected_at, authorizer=authorizer)
        self._connections[connection_id] = connection
        worker = asyncio.get_running_loop().create_task(self._serve_frames(connection))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    connection.last_active_at = time.time()
                    connection.frames.put_nowait((message.data, False))
                elif message.type == WSMsgType.BINARY:
                    connection.last_active_at = time.time()
                    connection.frames.put_nowait((base64.b64encode(message.data).decode(), True))
                elif message.type == WSMsgType.ERROR:
                    log.warning("connection %s: %s", connection_id, ws.exception())
                    break
        finally:
            # Frames already received are still invoked (as API Gateway does); their
            # replies find the connection gone.
            self._connections.pop(connection_id, None)
            connection.frames.put_nowait(_STOP)
        if "$disconnect" in self.routes.routes:
            event = {
                "headers": {"Host": f"{self.host}:{self._port}", "User-Agent": user_agent},
                "requestContext": {
                    **self._context(connection_id, "$disconnect", "DISCONNECT", connected_at, source_ip, user_agent,
                                    authorizer),
                    "disconnectStatusCode": ws.close_code or 1006, "disconnectReason": "",
                },
                "isBase64Encoded": False,
            }
            result = await self._invoke(self.routes.routes["$disconnect"], event)
            if result.error:
                log.error("$disconnect failed: %s", json.dumps(result.payload, ensure_ascii=False, default=str))
        return ws

    @staticmethod
    def _status(payload: Any) -> int:
        """A proxy integration's statusCode; a response without one counts as 200, as API Gateway does."""
        if isinstance(payload, dict) and "statusCode" in payload:
            try:
                return int(payload["statusCode"])
            except (TypeError, ValueError):
                return 502
        return 200

    async def _serve_frames(self, connection: _Connection) -> None:
        """Invoke the routed function for each frame of one connection, in order."""
        while (item := await connection.frames.get()) is not _STOP:
            body, is_base64 = item
            route_key = self.routes.select(None if is_base64 else body)
            if route_key is None:
                await self._send(connection.id, json.dumps({"message": "Forbidden", "connectionId": connection.id,
                                                            "requestId": _api_id()}).encode())
                continue
            event = {
                "requestContext": {
                    **self._context(connection.id, route_key, "MESSAGE", connection.connected_at,
                                    connection.source_ip, connection.user_agent, connection.authorizer),
                    "messageId": _api_id(),
                },
                "body": body,
                "isBase64Encoded": is_base64,
            }
            result = await self._invoke(self.routes.routes[route_key], event)
            if result.error:
                log.error("route %s on %s failed: %s", route_key, connection.id,
                          json.dumps(result.payload, ensure_ascii=False, default=str))
                await self._send(connection.id, json.dumps(INTERNAL_ERROR_FRAME).encode())

    async def _send(self, connection_id: str, data: bytes) -> bool:
        """Send one frame; False when the connection is unknown or closed."""
        connection = self._connections.get(connection_id)
        if connection is None or connection.ws.closed:
            return False
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = None  # not UTF-8: only a binary frame can carry it
        async with connection.send_lock:
            try:
                if text is None:
                    await connection.ws.send_bytes(data)
                else:
                    await connection.ws.send_str(text)
            except ConnectionError:
                return False
        connection.last_active_at = time.time()
        return True

    def post(self, connection_id: str, data: bytes, timeout: float = 10.0) -> bool:
        """Send a frame from any thread other than the gateway's own; False when the connection is gone."""
        if self._loop is None:
            raise RuntimeError("gateway not started")
        if threading.current_thread() is self._thread:
            raise RuntimeError("post() would deadlock on the gateway's loop; await _send instead")
        return asyncio.run_coroutine_threadsafe(self._send(connection_id, data), self._loop).result(timeout)

    # -- @connections ---------------------------------------------------------------
    @staticmethod
    def _gone(connection_id: str) -> web.Response:
        # botocore maps the x-amzn-ErrorType header to the modelled GoneException.
        return web.json_response({"message": f"Connection {connection_id} is gone"}, status=410,
                                 headers={"x-amzn-ErrorType": "GoneException"})

    async def _post_to_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return web.json_response({"message": "Payload too large"}, status=413,
                                     headers={"x-amzn-ErrorType": "PayloadTooLargeException"})
        if not await self._send(connection_id, data):
            return self._gone(connection_id)
        return web.Response(status=200)

    async def _get_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        connection = self._connections.get(connection_id)
        if connection is None or connection.ws.closed:
            return self._gone(connection_id)
        return web.json_response({
            "connectedAt": _iso(connection.connected_at), "lastActiveAt": _iso(connection.last_active_at),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        })

    async def _delete_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        connection = self._connections.get(connection_id)
        if connection is None or connection.ws.closed:
            return self._gone(connection_id)
        await connection.ws.close(code=1000, message=b"Connection deleted")
        return web.Response(status=204)

    # -- local token issuer ---------------------------------------------------------
    async def _jwks(self, request: web.Request) -> web.Response:
        if self.issuer is None:
            return web.json_response({"message": "not started"}, status=503)
        return web.json_response(self.issuer.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        """Sign an ID token for a customer id: local only (this gateway's own key; loopback callers only)."""
        if self.issuer is None:
            return web.json_response({"message": "not started"}, status=503)
        if request.remote not in ("127.0.0.1", "::1"):
            return web.json_response({"message": "Forbidden"}, status=403)
        try:
            body = await request.json()
            customer = body["customer"]
            expires_in = int(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            return web.json_response({"message": 'expected {"customer": "C-1043", "expires_in": 3600}'}, status=400)
        if not isinstance(customer, str) or not _CUSTOMER.match(customer):
            return web.json_response({"message": "customer must be an id like C-1043"}, status=400)
        if not 0 < expires_in <= MAX_EXPIRES_IN:
            return web.json_response({"message": f"expires_in must be within 1..{MAX_EXPIRES_IN}"}, status=400)
        token = self.issuer.sign(customer, expires_in)
        return web.json_response({"token": token, "customer": customer, "expires_in": expires_in,
                                  "issuer": self.issuer.issuer})

    async def _forget(self, request: web.Request) -> web.Response:
        """`mangaassist forget --url`: delete a customer's sessions from this stack's sessions table."""
        if request.remote not in ("127.0.0.1", "::1"):
            return web.json_response({"message": "Forbidden"}, status=403)
        try:
            customer = (await request.json())["customer"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"message": 'expected {"customer": "C-1043"}'}, status=400)
        if not isinstance(customer, str) or not _CUSTOMER.match(customer):
            return web.json_response({"message": "customer must be an id like C-1043"}, status=400)
        table = aws.table(settings().require("sessions_table"))
        counts = await asyncio.get_running_loop().run_in_executor(self._pool, forget_principal, table, customer)
        return web.json_response({"customer": customer, **counts})

    async def _customers(self, request: web.Request) -> web.Response:
        """The sample customers (those with seeded orders), for the chat page's sign-in selector."""
        return web.json_response({"customers": sample_customers()})

    # -- page and health ------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        # Read per request so the page can be edited while the stack runs.
        page = resources.files("mangaassist_local").joinpath("web/index.html").read_text(encoding="utf-8")
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _health(self, request: web.Request) -> web.Response:
        ready = self._ready() if self._ready is not None else True
        body = {"status": "ok" if ready else "starting", "connections": len(self._connections),
                "ws_url": self.ws_url, "stage": self.stage}
        return web.json_response(body, status=200 if ready else 503)
