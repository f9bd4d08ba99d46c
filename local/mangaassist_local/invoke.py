"""`mangaassist invoke`: one function of template.yaml on an event, like `sam local invoke`, without Docker.

The event goes through Lambda's Invoke API (boto3, the real wire protocol) of a running local
stack's AWS endpoint, where the function runs with the template's environment; with no stack
running, an ephemeral one is started in this process for the one call. The result is the
function's JSON payload, or its error payload (errorType, errorMessage, stackTrace) as Lambda
and `sam local invoke` report it.

Exit codes: 0 the function returned, 1 the function failed, 2 the call could not be made
(unknown function, unreadable or invalid event file, a stack that cannot be reached).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mangaassist_local.template import FunctionSpec, Template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "ap-northeast-1"
OK, FUNCTION_FAILED, NOT_INVOKED = 0, 1, 2


class InvokeError(Exception):
    """The function could not be invoked (a usage or connection problem, not the function's error)."""


@dataclass(frozen=True)
class InvokeResult:
    logical_id: str
    function_name: str
    payload: Any
    function_error: str | None  # Lambda's X-Amz-Function-Error ("Unhandled"), None when the function returned
    duration_ms: float
    stack: str  # where it ran: the AWS endpoint, or "an ephemeral stack"


def load_event(path: str) -> bytes:
    """The event file's bytes, checked to be one JSON document ("-" reads stdin)."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise InvokeError(f"event file {path}: no such file") from None
    except OSError as error:
        raise InvokeError(f"cannot read event file {path}: {error.strerror or error}") from None
    try:
        json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvokeError(f"event file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InvokeError(f"event file {path} is not valid JSON: {error.msg} "
                          f"(line {error.lineno}, column {error.colno})") from None
    return raw


def find_function(name: str, template: Template) -> FunctionSpec:
    """The template's function with this logical id (or its local physical name, mangaassist-<LogicalId>)."""
    try:
        return template.function_by_name(name)
    except KeyError:
        known = sorted(template.functions)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5) or [
            k for k in known if name and name.lower() in k.lower()][:1]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InvokeError(f"no function {name!r} in {template.path.name}{hint}; "
                          f"its functions: {', '.join(known)}") from None


def _get(url: str) -> tuple[int, bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local stack's URL
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except (urllib.error.URLError, OSError, ValueError):
        return None


def local_aws_at(aws_url: str) -> bool:
    """Whether a MangaAssist local stack's AWS endpoint answers there (not some other service on the port)."""
    answer = _get(f"{aws_url}/_mangaassist/faults")
    if answer is None or answer[0] != 200:
        return False
    try:
        return "previous" in json.loads(answer[1])
    except ValueError:
        return False


def gateway_at(url: str) -> bool:
    answer = _get(f"{url}/health")
    return answer is not None and answer[0] == 200


def invoke_at(aws_url: str, spec: FunctionSpec, function_name: str, event: bytes, stack: str) -> InvokeResult:
    """One RequestResponse Invoke through the Lambda API at aws_url."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "lambda", endpoint_url=aws_url, region_name=REGION, aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local stack's dummy credentials
        # One attempt: a function is never run twice for one command; wait out its timeout.
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=spec.timeout + 30))
    started = time.perf_counter()
    try:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse", Payload=event)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise InvokeError(f"the stack at {aws_url} has no function {function_name} "
                              "(was it started from another template.yaml?)") from None
        raise InvokeError(f"could not invoke {function_name} at {aws_url}: {error}") from None
    except BotoCoreError as error:
        raise InvokeError(f"could not invoke {function_name} at {aws_url}: {error}") from None
    duration_ms = (time.perf_counter() - started) * 1000
    body = response["Payload"].read()
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = body.decode("utf-8", errors="replace")
    return InvokeResult(logical_id=spec.logical_id, function_name=function_name, payload=payload,
                        function_error=response.get("FunctionError"), duration_ms=duration_ms, stack=stack)


def _in_ephemeral_stack(spec: FunctionSpec, function_name: str, event: bytes,
                        notify: Callable[[str], None]) -> InvokeResult:
    from mangaassist_local.runner import start_stack

    notify("(no stack running: starting an ephemeral one)")
    # The functions run in this process: their logs go to stderr (as sam's do), stdout keeps the result.
    with contextlib.redirect_stdout(sys.stderr):
        stack = start_stack()
        try:
            return invoke_at(stack.aws.endpoint, spec, function_name, event, "an ephemeral stack")
        finally:
            stack.stop()


def invoke(name: str, event_path: str, url: str, aws_url: str,
           notify: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> InvokeResult:
    """Check the function and the event, find a running stack (or start one) and invoke."""
    template = Template(TEMPLATE, REGION)
    spec = find_function(name, template)
    event = load_event(event_path)
    function_name = template.physical_name(spec.logical_id)
    url, aws_url = url.rstrip("/"), aws_url.rstrip("/")
    if local_aws_at(aws_url):
        return invoke_at(aws_url, spec, function_name, event, aws_url)
    if gateway_at(url):
        raise InvokeError(f"a stack's gateway answers at {url}, but its AWS endpoint does not answer at {aws_url}: "
                          "give it with --aws-url (`mangaassist serve` prints it)")
    return _in_ephemeral_stack(spec, function_name, event, notify)


def render(result: InvokeResult, as_json: bool) -> str:
    """The payload as JSON; without as_json, after a short header (function, status, duration)."""
    body = json.dumps(result.payload, ensure_ascii=False, indent=2)
    if as_json:
        return body
    if result.function_error is None:
        status = "ok"
    else:
        kind = result.payload.get("errorType", "") if isinstance(result.payload, dict) else ""
        status = f"function error ({result.function_error}{': ' + kind if kind else ''})"
    return (f"function  {result.logical_id} ({result.function_name})\n"
            f"status    {status}\n"
            f"duration  {result.duration_ms:.1f} ms  (through {result.stack})\n"
            f"{body}")


def main(name: str, event_path: str, as_json: bool, url: str, aws_url: str) -> int:
    """The command: print the result (or why there is none, on stderr) and return the exit code."""
    import typer

    try:
        result = invoke(name, event_path, url, aws_url)
    except InvokeError as error:
        typer.echo(f"mangaassist invoke: {error}", err=True)
        return NOT_INVOKED
    typer.echo(render(result, as_json))
    return OK if result.function_error is None else FUNCTION_FAILED
