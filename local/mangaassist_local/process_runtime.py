"""Run the functions the way Lambda does: each in execution environments of its own, so a stack uses every core.

An environment is a worker process (lambda_worker.py) that imported one handler and serves one invocation
at a time. From a `sam build` output (BuildLayout) it sees the built function directory, the built layer
and the runtime's boto3 — nothing from the dev venv; from the source tree (SourceLayout) it sees the
function's CodeUri, the layer's source (shared/) and the dev venv's packages, which are the layer's and the
runtime's locked versions. Environments are reused warm and started cold on demand; each function's Timeout is enforced
(the invocation fails as Lambda reports it and the environment is replaced), and so is its reserved
concurrency (TooManyRequestsException).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from mangaassist_local.lambda_runtime import ConcurrencyGate, Invocation
from mangaassist_local.template import FunctionSpec, Template

WORKER = Path(__file__).with_name("lambda_worker.py")
# What a Lambda environment has besides the function's own variables.
_PASS_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE")


@dataclass(frozen=True)
class BuildLayout:
    """Where the code of a `sam build` lives, with the host-architecture layer and runtime beside it."""

    build_dir: Path  # .aws-sam/build
    layer_dir: Path  # the built layer, host architecture: <dir>/python is on sys.path
    runtime_dir: Path  # boto3/botocore as the Lambda runtime provides them

    def function_dir(self, logical_id: str) -> Path:
        return self.build_dir / logical_id

    def sys_path(self, logical_id: str) -> list[str]:
        # Lambda's order: the function (/var/task), the layer (/opt/python), then the runtime (/var/runtime).
        return [str(self.function_dir(logical_id)), str(self.layer_dir / "python"), str(self.runtime_dir)]


@dataclass(frozen=True)
class SourceLayout:
    """The source tree laid out as Lambda would see it deployed: the function's CodeUri (/var/task), the layer's
    source (/opt/python) and the dev venv's site-packages (the layer's dependencies and the runtime's boto3)."""

    template: Template
    layer_dir: Path

    def function_dir(self, logical_id: str) -> Path:
        return self.template.functions[logical_id].code_uri

    def sys_path(self, logical_id: str) -> list[str]:
        packages = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        return [str(self.function_dir(logical_id)), str(self.layer_dir), *packages]


class Layout(Protocol):
    def function_dir(self, logical_id: str) -> Path: ...

    def sys_path(self, logical_id: str) -> list[str]: ...


class _Environment:
    def __init__(self, spec: FunctionSpec, path: list[str], env: dict[str, str]) -> None:
        self.initialization_type = env["AWS_LAMBDA_INITIALIZATION_TYPE"]
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [sys.executable, "-I", "-S", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**env, "MANGAASSIST_WORKER_PATH": os.pathsep.join(path), "_HANDLER": spec.handler},
            cwd=path[0], text=True, encoding="utf-8", bufsize=1)
        self._stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        self._replies: list[str] = []
        self._reply_ready = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"lambda-{spec.logical_id}")
        self._reader.start()
        self._wait_line(timeout=30)  # the init phase: imports (an import error is reported per invocation)
        self.init_ms = round((time.perf_counter() - started) * 1000, 1)

    def _read(self) -> None:
        for line in self._stdout:
            with self._reply_ready:
                self._replies.append(line)
                self._reply_ready.notify_all()
        with self._reply_ready:
            self._replies.append("")  # the process ended
            self._reply_ready.notify_all()

    def _wait_line(self, timeout: float) -> str | None:
        with self._reply_ready:
            if not self._reply_ready.wait_for(lambda: bool(self._replies), timeout=timeout):
                return None
            return self._replies.pop(0)

    def invoke(self, event: Any, context: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's reply, or None when it did not answer in time (or died)."""
        try:
            self._stdin.write(json.dumps({"event": event, "context": context}, ensure_ascii=False) + "\n")
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        line = self._wait_line(timeout)
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self._stdin, self._stdout):
            try:
                stream.close()
            except OSError:
                pass


@dataclass
class _Pool:
    idle: list[_Environment] = field(default_factory=list)
    busy: int = 0


class ProcessRuntime:
    """Same contract as LambdaRuntime (invoke / invoke_json), with each function in worker processes."""

    def __init__(self, template: Template, layout: Layout, env: dict[str, str]) -> None:
        self.template = template
        self.layout = layout
        self.base_env = env  # the stack's variables (endpoints, credentials, local overrides)
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.cold_starts: dict[str, list[float]] = {}
        self.gate = ConcurrencyGate()

    def _environment_variables(self, spec: FunctionSpec) -> dict[str, str]:
        env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
        env.update(self.template.function_environment(spec.logical_id, self.base_env.get("AWS_ENDPOINT_URL", "")))
        env.update(self.base_env)
        # Set by the gateway after the stack starts (the @connections endpoint): read at each cold start.
        if management := os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"):
            env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = management
        # Also set by the gateway: its local token issuer stands in for the Cognito user pool.
        for key in ("AUTH_ISSUER", "AUTH_JWKS_URL", "AUTH_AUDIENCE"):
            if key in env and (value := os.environ.get(key)):
                env[key] = value
        env.update({"AWS_LAMBDA_FUNCTION_NAME": self.template.physical_name(spec.logical_id),
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                    "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                    "LAMBDA_TASK_ROOT": str(self.layout.function_dir(spec.logical_id)),
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
        return env

    def _acquire(self, spec: FunctionSpec, initialization: str = "on-demand") -> _Environment:
        with self._lock:
            pool = self._pools.setdefault(spec.logical_id, _Pool())
            pool.busy += 1
            while pool.idle:
                candidate = pool.idle.pop()
                if candidate.process.poll() is None:
                    return candidate
        try:
            # Lambda's own variable: a handler reports no cold start in an environment initialised ahead of time.
            env = {**self._environment_variables(spec), "AWS_LAMBDA_INITIALIZATION_TYPE": initialization}
            environment = _Environment(spec, self.layout.sys_path(spec.logical_id), env)
        except BaseException:
            with self._lock:
                pool.busy -= 1
            raise
        if initialization == "on-demand":
            with self._lock:
                self.cold_starts.setdefault(spec.logical_id, []).append(environment.init_ms)
        return environment

    def _release(self, spec: FunctionSpec, environment: _Environment, reuse: bool) -> None:
        with self._lock:
            pool = self._pools[spec.logical_id]
            pool.busy -= 1
            if reuse:
                pool.idle.append(environment)
                return
        environment.stop()

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        """Run one invocation in an environment; TooManyRequestsError when the reserved concurrency is in use."""
        spec = self.template.function_by_name(name_or_arn)
        with self.gate.enter(spec):
            return self._run(spec, event)

    def _run(self, spec: FunctionSpec, event: Any) -> Invocation:
        with self._lock:
            self.invocations[spec.logical_id] = self.invocations.get(spec.logical_id, 0) + 1
        environment = self._acquire(spec)
        context = {"function_name": self.template.physical_name(spec.logical_id),
                   "invoked_function_arn": self.template.arn(spec.logical_id), "memory_limit_in_mb": spec.memory_size,
                   "aws_request_id": str(uuid.uuid4()), "deadline": time.time() + spec.timeout}
        reply = environment.invoke(event, context, timeout=spec.timeout)
        if reply is None:
            exited = environment.process.poll() is not None
            self._release(spec, environment, reuse=False)  # a timed-out or crashed environment is replaced
            if exited:
                return Invocation(error=True, payload={"errorType": "Runtime.ExitError",
                                                       "errorMessage": "the execution environment exited"})
            return Invocation(error=True, payload={
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {spec.timeout:.2f} seconds"})
        self._release(spec, environment, reuse=True)
        if "error" in reply:
            return Invocation(error=True, payload=reply["error"])
        return Invocation(payload=reply["payload"])

    def invoke_json(self, name_or_arn: str, body: bytes) -> tuple[bytes, bool]:
        event = json.loads(body) if body else {}
        result = self.invoke(name_or_arn, event)
        return json.dumps(result.payload, ensure_ascii=False).encode(), result.error

    def warm(self, workers: int = 2) -> None:
        """Start one environment per function now (as `sam local start-api --warm-containers EAGER` does, or
        provisioned concurrency of 1), so the first turn is not eleven cold starts in a row. Environments for
        more concurrency still start cold, and are counted as cold starts."""
        def start(spec: FunctionSpec) -> None:
            environment = self._acquire(spec, initialization="provisioned-concurrency")
            self._release(spec, environment, reuse=True)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warm") as pool:
            list(pool.map(start, self.template.functions.values()))

    def stop(self) -> None:
        with self._lock:
            environments = [env for pool in self._pools.values() for env in pool.idle]
            for pool in self._pools.values():
                pool.idle.clear()
        for environment in environments:
            environment.stop()
