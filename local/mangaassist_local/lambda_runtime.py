"""Run the handlers named in template.yaml in-process, with Lambda's invoke contract.

A handler's exception becomes a function error whose payload carries errorType
(the class name), as the Lambda runtime does: the state machine's Retry and
Catch match on it. The function timeout is not enforced in-process
(process_runtime.ProcessRuntime enforces it); reserved concurrency is enforced by both.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from mangaassist_local.template import FunctionSpec, Template


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


@dataclass(frozen=True)
class Invocation:
    payload: Any
    error: bool = False


class TooManyRequestsError(Exception):
    """Lambda's TooManyRequestsException (HTTP 429): the function's reserved concurrency is all in use.

    The invocation never starts: the Invoke API answers 429, Step Functions names it
    `Lambda.TooManyRequestsException` (which the chat turn's Retry clauses list), and an SQS mapping leaves the
    batch on the queue."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


class ConcurrencyGate:
    """Each function's in-flight invocations, held to its ReservedConcurrentExecutions when the template sets one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.throttles: dict[str, int] = {}

    @contextmanager
    def enter(self, spec: FunctionSpec) -> Iterator[None]:
        with self._lock:
            running = self.in_flight.get(spec.logical_id, 0)
            if spec.reserved_concurrency is not None and running >= spec.reserved_concurrency:
                self.throttles[spec.logical_id] = self.throttles.get(spec.logical_id, 0) + 1
                raise TooManyRequestsError(f"Rate Exceeded. ({spec.logical_id}: reserved concurrency "
                                           f"{spec.reserved_concurrency} in use)")
            self.in_flight[spec.logical_id] = running + 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight[spec.logical_id] -= 1


class Runtime(Protocol):
    """What the gateway, the pollers and the AWS endpoint need of a runtime: in-process (LambdaRuntime) or
    worker processes running a `sam build` output (process_runtime.ProcessRuntime)."""

    template: Template
    invocations: dict[str, int]
    gate: ConcurrencyGate

    def invoke(self, name_or_arn: str, event: Any) -> Invocation: ...

    def invoke_json(self, name_or_arn: str, body: bytes) -> tuple[bytes, bool]: ...


class LambdaRuntime:
    def __init__(self, template: Template) -> None:
        self.template = template
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.gate = ConcurrencyGate()

    def _load(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        with self._lock:
            if spec.logical_id not in self._handlers:
                module_name, func_name = spec.handler.rsplit(".", 1)
                path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
                unique = f"mangaassist_fn_{spec.logical_id}"
                module_spec = importlib.util.spec_from_file_location(unique, path)
                if module_spec is None or module_spec.loader is None:
                    raise ImportError(f"cannot load {path}")
                module: ModuleType = importlib.util.module_from_spec(module_spec)
                sys.modules[unique] = module
                module_spec.loader.exec_module(module)
                self._handlers[spec.logical_id] = getattr(module, func_name)
            return self._handlers[spec.logical_id]

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        """Run the handler; TooManyRequestsError when its reserved concurrency is in use."""
        spec = self.template.function_by_name(name_or_arn)
        with self.gate.enter(spec):
            return self._run(spec, event)

    def _run(self, spec: FunctionSpec, event: Any) -> Invocation:
        context = LambdaContext(function_name=self.template.physical_name(spec.logical_id),
                                invoked_function_arn=self.template.arn(spec.logical_id),
                                deadline=time.time() + spec.timeout)
        with self._lock:
            self.invocations[spec.logical_id] = self.invocations.get(spec.logical_id, 0) + 1
        try:
            handler = self._load(spec)  # an import error is the function's error, as in Lambda
            return Invocation(payload=handler(event, context))
        except Exception as error:  # noqa: BLE001 - reported as the function error, as Lambda does
            return Invocation(error=True, payload={
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error)[-5:],
            })

    def invoke_json(self, name_or_arn: str, body: bytes) -> tuple[bytes, bool]:
        event = json.loads(body) if body else {}
        result = self.invoke(name_or_arn, event)
        return json.dumps(result.payload, ensure_ascii=False, default=str).encode(), result.error
