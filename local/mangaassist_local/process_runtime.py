"""Run the functions the way Lambda does: each in execution environments of its own, so a stack uses every core.

An environment is a worker process (lambda_worker.py) that imported one handler and serves one invocation
at a time. From a `sam build` output (BuildLayout) it sees the built function directory, the built layer
and the runtime's boto3 — nothing from the dev venv; from the source tree (SourceLayout) it sees the
function's CodeUri, the layer's source (shared/) and the dev venv's packages, which are the layer's and the
runtime's locked versions. Environments are reused warm and started cold on demand; each function's Timeout is
enforced (the invocation fails as Lambda reports it and the environment is replaced), and so is its reserved
concurrency (TooManyRequestsException).

A cold start forks the function's snapshot, a process kept after its init phase (_Snapshot, SnapStart's model):
under load on a laptop, a fresh Python process and its imports per concurrent invocation (a second of CPU
each) would starve the invocations themselves. The init phase is still measured once per function (init_ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
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
    """One execution environment: a worker process serving one invocation at a time over two pipes."""

    def __init__(self, pid: int, requests: IO[str], replies: IO[str], name: str,
                 process: subprocess.Popen[str] | None = None) -> None:
        self.pid = pid
        self.process = process  # ours when spawned; a restored environment is the snapshot's child
        self._stdin = requests
        self._stdout = replies
        self._replies: list[str] = []
        self._reply_ready = threading.Condition()
        self.ended = False
        self.init_ms = 0.0
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"lambda-{name}")
        self._reader.start()

    @classmethod
    def spawn(cls, spec: FunctionSpec, path: list[str], env: dict[str, str],
              pass_fds: tuple[int, ...] = ()) -> _Environment:
        """A new Python process that imports the handler (the init phase) before it returns."""
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [sys.executable, "-I", "-S", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**env, "MANGAASSIST_WORKER_PATH": os.pathsep.join(path), "_HANDLER": spec.handler},
            cwd=path[0], text=True, encoding="utf-8", bufsize=1, pass_fds=pass_fds)
        environment = cls(process.pid, process.stdin, process.stdout, spec.logical_id, process)  # type: ignore[arg-type]
        environment._wait_line(timeout=30)  # the init phase: imports (an import error is reported per invocation)
        environment.init_ms = round((time.perf_counter() - started) * 1000, 1)
        return environment

    def _read(self) -> None:
        try:
            for line in self._stdout:
                with self._reply_ready:
                    self._replies.append(line)
                    self._reply_ready.notify_all()
        except (OSError, ValueError):
            pass  # closed by stop()
        with self._reply_ready:
            self.ended = True
            self._replies.append("")  # the process ended
            self._reply_ready.notify_all()

    def _wait_line(self, timeout: float) -> str | None:
        with self._reply_ready:
            if not self._reply_ready.wait_for(lambda: bool(self._replies), timeout=timeout):
                return None
            return self._replies.pop(0)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return not self.ended

    def invoke(self, event: Any, context: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's reply, or None when it did not answer in time (or died)."""
        try:
            self._stdin.write(json.dumps({"event": event, "context": context}, ensure_ascii=False) + "\n")
            self._stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return None
        line = self._wait_line(timeout)
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=5)
        elif not self.ended:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)  # the snapshot process reaps it
        for stream in (self._stdin, self._stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


class _Snapshot:
    """A function's process after its init phase, kept only to fork new environments from, as Lambda SnapStart
    restores new environments from a snapshot taken after init: the imports are paid once per function, and a
    new environment costs a fork (milliseconds) instead of a Python start and every import (a second of CPU).
    Deployed without SnapStart, every cold start pays the init: the first environment's init_ms is that figure."""

    def __init__(self, spec: FunctionSpec, path: list[str], env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = _Environment.spawn(spec, path, {**env, "MANGAASSIST_SNAPSHOT_FD": str(theirs.fileno())},
                                              pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        ours.settimeout(30)
        self.name = spec.logical_id
        self.init_ms = self.process.init_ms
        self._control = ours
        self._pids = ours.makefile("r", encoding="ascii")
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.alive()

    def restore(self, initialization: str) -> _Environment:
        started = time.perf_counter()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self._control, [initialization.encode()], [request_read, reply_write])
                line = self._pids.readline()
        except OSError:
            line = ""
        finally:
            os.close(request_read)
            os.close(reply_write)
        if not line.strip().isdigit():
            os.close(request_write)
            os.close(reply_read)
            raise RuntimeError(f"{self.name}: the snapshot process could not start an environment")
        environment = _Environment(int(line), os.fdopen(request_write, "w", encoding="utf-8", buffering=1),
                                   os.fdopen(reply_read, "r", encoding="utf-8"), self.name)
        environment.init_ms = round((time.perf_counter() - started) * 1000, 1)
        return environment

    def stop(self) -> None:
        for closable in (self._pids, self._control):
            with contextlib.suppress(OSError):
                closable.close()
        self.process.stop()


@dataclass
class _Pool:
    idle: list[_Environment] = field(default_factory=list)
    busy: int = 0


class ProcessRuntime:
    """Same contract as LambdaRuntime (invoke / invoke_json), with each function in worker processes."""

    def __init__(self, template: Template, layout: Layout, env: dict[str, str], snapshots: bool | None = None) -> None:
        """`snapshots` (default: where the OS can fork and pass file descriptors) starts new environments from a
        snapshot of an initialised one (_Snapshot) instead of a fresh process each."""
        self.template = template
        self.layout = layout
        self.base_env = env  # the stack's variables (endpoints, credentials, local overrides)
        self.snapshots = (hasattr(os, "fork") and hasattr(socket, "send_fds")) if snapshots is None else snapshots
        self._pools: dict[str, _Pool] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        self._snapshot_locks: dict[str, threading.Lock] = {}
        self._environments: set[_Environment] = set()  # every live environment, for stop()
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.cold_starts: dict[str, list[float]] = {}  # per function: each on-demand environment's start, ms
        self.init_ms: dict[str, float] = {}  # per function: the init phase (imports) of its first environment
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

    def _snapshot(self, spec: FunctionSpec) -> tuple[_Snapshot, bool]:
        """The function's snapshot, and whether it was made now (its init is part of this cold start)."""
        with self._lock:
            lock = self._snapshot_locks.setdefault(spec.logical_id, threading.Lock())
        with lock:
            snapshot = self._snapshots.get(spec.logical_id)
            if snapshot is not None and snapshot.alive():
                return snapshot, False
            if snapshot is not None:
                snapshot.stop()
            env = {**self._environment_variables(spec), "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}
            snapshot = _Snapshot(spec, self.layout.sys_path(spec.logical_id), env)
            self._snapshots[spec.logical_id] = snapshot
            self.init_ms[spec.logical_id] = snapshot.init_ms
            return snapshot, True

    def _start(self, spec: FunctionSpec, initialization: str) -> _Environment:
        if not self.snapshots:
            # Lambda's own variable: a handler reports no cold start in an environment initialised ahead of time.
            env = {**self._environment_variables(spec), "AWS_LAMBDA_INITIALIZATION_TYPE": initialization}
            environment = _Environment.spawn(spec, self.layout.sys_path(spec.logical_id), env)
            self.init_ms.setdefault(spec.logical_id, environment.init_ms)
            return environment
        snapshot, made = self._snapshot(spec)
        # A restored environment reports its restore as its cold start ("snap-start"); the first one of a snapshot
        # made for this invocation waited for the init phase too, and reports it ("on-demand"), as Lambda would.
        if initialization == "on-demand" and not made:
            initialization = "snap-start"
        environment = snapshot.restore(initialization)
        if made:
            environment.init_ms = round(environment.init_ms + snapshot.init_ms, 1)
        return environment

    def _acquire(self, spec: FunctionSpec, initialization: str = "on-demand") -> _Environment:
        with self._lock:
            pool = self._pools.setdefault(spec.logical_id, _Pool())
            pool.busy += 1
            while pool.idle:
                candidate = pool.idle.pop()
                if candidate.alive():
                    return candidate
                self._environments.discard(candidate)
        try:
            environment = self._start(spec, initialization)
        except BaseException:
            with self._lock:
                pool.busy -= 1
            raise
        with self._lock:
            self._environments.add(environment)
            if initialization == "on-demand":
                self.cold_starts.setdefault(spec.logical_id, []).append(environment.init_ms)
        return environment

    def _release(self, spec: FunctionSpec, environment: _Environment, reuse: bool) -> None:
        with self._lock:
            pool = self._pools[spec.logical_id]
            pool.busy -= 1
            if reuse:
                pool.idle.append(environment)
                return
            self._environments.discard(environment)
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
            exited = not environment.alive()
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
            environments = list(self._environments)
            self._environments.clear()
            for pool in self._pools.values():
                pool.idle.clear()
            snapshots = list(self._snapshots.values())
            self._snapshots.clear()
        for environment in environments:
            environment.stop()
        for snapshot in snapshots:
            snapshot.stop()
