"""The AWS APIs on one local port: moto in server mode, plus what moto lacks.

In front of moto's WSGI app:
- Lambda Invoke (POST /2015-03-31/functions/<name>/invocations) runs the
  project's handlers on the stack's runtime (no Docker); the interpreter's
  Lambda tasks call that runtime directly, as Step Functions calls Lambda
  inside AWS, not back over HTTP;
- StartSyncExecution runs the EXPRESS machine through moto's ASL interpreter
  and answers with the sync response shape;
- bedrock-runtime and sagemaker-runtime paths, requests signed for "aoss" (OpenSearch) and the fault switch go
  to mangaassist_local.model_server: in this process, or forwarded to that server's own process.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import cheroot.wsgi
from moto.core.config import default_user_config
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response

from mangaassist_local import model_server
from mangaassist_local.lambda_runtime import Runtime, TooManyRequestsError
from mangaassist_local.model_server import CREDENTIAL_SCOPE, ModelApp, RemoteModels
from mangaassist_local.template import ACCOUNT

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def _cache_interpreter_clients() -> None:
    """moto's interpreter builds a boto3 client for every Lambda task (~50 ms each): reuse one per region."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    made: dict[tuple[str, str], Any] = {}
    original = boto_client.boto_client_for

    def cached(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        if key not in made:
            made[key] = original(region=region, service=service, state_credentials=state_credentials)
        return made[key]

    lambda_eval_utils.boto_client_for = cached


def _name_lambda_service_errors() -> None:
    """Step Functions names a Lambda API error `Lambda.<exception>` (e.g. Lambda.TooManyRequestsException, which
    Retry clauses list); moto's interpreter calls every such error "Exception". Name them as AWS does."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    original = StateTaskLambda._from_error
    if getattr(original, "named", False):
        return

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        failure = original(self, env, ex)
        if isinstance(ex, ClientError):
            name = f"Lambda.{ex.response['Error'].get('Code') or 'AWSLambdaException'}"
            failure.error_name = CustomErrorName(name)  # type: ignore[misc]
            details = failure.event_details.get("lambdaFunctionFailedEventDetails") if failure.event_details else None
            if details is not None:
                details["error"] = name
        return failure

    from_error.named = True  # type: ignore[attr-defined]
    StateTaskLambda._from_error = from_error  # type: ignore[method-assign]


# The runtimes of the stacks in this process, newest last: the interpreter's Lambda tasks run on them directly.
_RUNTIMES: list[Runtime] = []


def _invoke_lambdas_directly() -> None:
    """moto's interpreter invokes a Task's function with a boto3 client over HTTP back into this server: a request
    to sign, a connection and a server thread for every state. Step Functions calls Lambda inside AWS; call the
    runtime directly, with the Invoke API's outcomes: a function error as FunctionError, a throttle or an unknown
    function as the ClientError the API returns (named Lambda.<code> by _name_lambda_service_errors). A function
    no local runtime knows still goes over HTTP."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils._invoke_lambda_function
    if getattr(original, "direct", False):
        return

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        name = str(parameters["FunctionName"])
        runtime = next((r for r in reversed(_RUNTIMES) if r.template.has_function(name)), None)
        if runtime is None:
            return original(parameters=parameters, region=region, state_credentials=state_credentials)
        body = parameters.get("Payload") or b"{}"
        try:
            result = runtime.invoke(name, json.loads(body))
        except TooManyRequestsError as error:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": str(error)},
                               "Reason": error.reason, "ResponseMetadata": {"HTTPStatusCode": 429}},
                              "Invoke") from error
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result.payload}
        if result.error:
            response["FunctionError"] = "Unhandled"
        return response

    invoke.direct = True  # type: ignore[attr-defined]
    lambda_eval_utils._invoke_lambda_function = invoke


def _cache_parsed_definitions() -> None:
    """moto parses the ASL text on every execution (~35 ms for ours): parse each definition once.

    The parsed program holds declarations only; each execution's state lives in its own Environment.
    """
    from moto.stepfunctions.parser.backend import execution_worker

    parser = execution_worker.AmazonStateLanguageParser
    if getattr(parser.parse, "cached", False):
        return
    parse = functools.lru_cache(maxsize=32)(parser.parse)
    parse.cached = True  # type: ignore[attr-defined]
    parser.parse = staticmethod(parse)  # type: ignore[method-assign]


def _cache_json_paths() -> None:
    """moto's interpreter builds a new JSONPath parser (PLY's yacc tables) for every path it evaluates, several
    times per state: a quarter of the stack's CPU in a turn. Parse each path once; a parsed path is not changed
    by finding it in a document."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        if not getattr(module.parse, "cached", False):
            parse = functools.lru_cache(maxsize=1024)(module.parse)
            parse.cached = True  # type: ignore[attr-defined]
            module.parse = parse  # type: ignore[attr-defined]


def _copy_json(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


class _JsonCopy:
    """The `copy` module as moto's interpreter sees it: deepcopy of a state's JSON value (dicts, lists, scalars)
    without deepcopy's memo bookkeeping, several times faster; anything else (a memo, other types) still goes
    to copy.deepcopy. JSON values have no cycles, and ASL never relies on two paths sharing one object."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return _copy_json(value) if memo is None else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _copy_states_faster() -> None:
    """moto's interpreter deep-copies the whole state document on every read and write of every state: with the
    generic deepcopy that was the largest share of the serve process's CPU in a turn after the JSONPath parsing."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import state_parallel
    from moto.stepfunctions.parser.asl.eval import states

    for module in (states, execute_state, state_parallel, string_expression, result_path):
        if not isinstance(module.copy, _JsonCopy):
            module.copy = _JsonCopy()  # type: ignore[attr-defined]


_partition = threading.local()  # the (table, hash key) a query without an index reads, in this thread


def _query_one_partition() -> None:
    """moto's Table.query without an index lists and sorts every item of the table (all_items), then keeps the
    queried partition's. The history query of every turn then grew with every turn stored: after a few thousand
    turns the stack answered at half its fresh speed. For that call all_items lists only the queried partition;
    the query keeps the same items, in the same order."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "one_partition", False):
        return
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Table, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
              exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
              index_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        narrow = index_name is None and hash_key is not None
        if narrow:
            _partition.current = (self, hash_key)
        try:
            return original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                  scan_index_forward, projection_expressions, index_name, *args, **kwargs)
        finally:
            if narrow:
                _partition.current = None

    def all_items(self: Table) -> Any:
        current = getattr(_partition, "current", None)
        if current is None or current[0] is not self:
            return original_all_items(self)
        found = self.items.get(current[1])  # .get: items is a defaultdict, and a miss must not add a partition
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    query.one_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _backend_app(service: Any) -> Any:
    """moto's Flask app for one service, out of debug mode. In debug mode Flask builds a new class for every
    request's form data (a developer hint about multipart forms), about a twentieth of the serve process's
    CPU; a debug-mode exception traceback is no use to an AWS client anyway."""
    app = create_backend_app(service)
    app.debug = False
    return app


class LocalAwsApp:
    def __init__(self, runtime: Runtime, models: ModelApp | RemoteModels, region: str) -> None:
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        _cache_interpreter_clients()
        _cache_parsed_definitions()
        _cache_json_paths()
        _copy_states_faster()
        _name_lambda_service_errors()
        _invoke_lambdas_directly()
        _query_one_partition()
        _RUNTIMES.append(runtime)
        self.moto = DomainDispatcherApplication(_backend_app)
        self._apps: dict[tuple[str, str], Any] = {}
        self.runtime = runtime
        self.models = models  # in this process, or the model server's process (forwarded to)
        self.region = region

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if model_server.serves(environ):
            return self.models.respond(Request(environ))(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            response = self._route(Request(environ), environ.get("PATH_INFO", ""))
            if response is not None:
                return response(environ, start_response)
        return self._moto_app(environ)(environ, start_response)

    def _moto_app(self, environ: dict[str, Any]) -> Any:
        """moto's app for this request's service, remembered by its SigV4 credential scope.

        moto's dispatcher lists its package directory and takes a global lock on every request
        to find the service; a signed request names its service, so look it up once.
        """
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None:
            return self.moto  # unsigned: /moto-api and the like
        key = (scope.group(2), scope.group(1))
        app = self._apps.get(key)
        if app is None:
            app = self._apps[key] = self.moto.get_application(environ)
        return app

    def _route(self, request: Request, path: str) -> Response | None:
        if match := _INVOKE.match(path):
            return self._invoke(request, unquote(match["name"]))
        if request.headers.get("X-Amz-Target") == "AWSStepFunctions.StartSyncExecution":
            return self._start_sync_execution(request)
        return None

    def _invoke(self, request: Request, name: str) -> Response:
        try:
            body, failed = self.runtime.invoke_json(name, request.get_data())
        except TooManyRequestsError as error:  # as the Lambda Invoke API answers a throttle
            return Response(json.dumps({"Type": "User", "message": str(error), "Reason": error.reason}), status=429,
                            mimetype="application/json", headers={"x-amzn-ErrorType": "TooManyRequestsException"})
        except KeyError:
            return Response(json.dumps({"Type": "User", "message": f"Function not found: {name}"}), status=404,
                            headers={"x-amzn-ErrorType": "ResourceNotFoundException"})
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return Response(body, status=200, mimetype="application/json", headers=headers)

    def _start_sync_execution(self, request: Request) -> Response:
        from moto.stepfunctions.parser.backend.execution import SyncExecution
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        params = json.loads(request.get_data() or b"{}")
        backend = stepfunctions_parser_backends[ACCOUNT][self.region]
        try:
            machine = backend.describe_state_machine(params["stateMachineArn"])
        except Exception as error:  # noqa: BLE001 - answered as the service would
            return Response(json.dumps({"__type": "StateMachineDoesNotExist", "message": str(error)}), status=400)
        # Snapshot the definition without the live executions (see moto's start_execution).
        clone = copy.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})
        name = params.get("name") or uuid.uuid4().hex
        arn = f"arn:aws:states:{self.region}:{ACCOUNT}:express:{machine.name}:{name}:{uuid.uuid4().hex[:8]}"
        execution = SyncExecution(  # moto's own call shape (its annotations are narrower than its use)
            name=name, sm_type=clone.sm_type, role_arn=clone.roleArn, exec_arn=arn, account_id=ACCOUNT,  # type: ignore[arg-type]
            region_name=self.region, state_machine=clone, start_date=datetime.now(tz=UTC),  # type: ignore[arg-type]
            cloud_watch_logging_session=None, activity_store={}, input_data=params.get("input") or "{}",
        )
        execution.start()  # runs to the end on this thread
        out = execution.to_start_sync_execution_output()
        body: dict[str, Any] = {key: value for key, value in out.items() if value is not None}
        for key in ("startDate", "stopDate"):
            if isinstance(body.get(key), datetime):
                body[key] = body[key].timestamp()
        body["status"] = str(getattr(out["status"], "value", out["status"]))
        body.pop("inputDetails", None)
        body.pop("outputDetails", None)
        body["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds":
                                  int((body["stopDate"] - body["startDate"]) * 1000)}
        return Response(json.dumps(body, default=str), mimetype="application/x-amz-json-1.0")


class LocalAwsServer:
    """LocalAwsApp on a port, served by cheroot in a background thread.

    cheroot keeps HTTP/1.1 connections alive between requests, as AWS endpoints do. werkzeug's development
    server closes every connection, so each AWS call paid a TCP connect, a new server thread and the client's
    connection setup (about 14 per turn). Idle connections wait in cheroot's selector, not in a thread.
    """

    # Requests that block hold a worker thread: a StartSyncExecution for the whole turn, and the handlers' own
    # calls during it. The pool is fixed, so it is sized for the worst backlog the deadlines allow (a turn
    # lasts at most ~10 s: 20 turns/s x 10 s x 2) with room to spare.
    THREADS = 512

    def __init__(self, app: LocalAwsApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = cheroot.wsgi.Server((host, port), app, numthreads=self.THREADS, timeout=60,
                                           request_queue_size=128, server_name="mangaassist-local-aws")
        # cheroot closes any connection beyond its default 10 kept alive; every worker process has its own pool.
        self._server.keep_alive_conn_limit = 1024
        self._server.prepare()  # binds now, so the port is known (and a busy one fails here)
        self._thread = threading.Thread(target=self._server.serve, name="local-aws", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self.app.runtime in _RUNTIMES:
            _RUNTIMES.remove(self.app.runtime)
        self._server.stop()
