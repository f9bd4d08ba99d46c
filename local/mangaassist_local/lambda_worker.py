"""One Lambda execution environment: imports one handler and serves its invocations, one at a time.

Run by mangaassist_local.process_runtime as `python -I -S lambda_worker.py`: isolated mode and no site
directory, so the only code it can import is the standard library plus the directories named in
MANGAASSIST_WORKER_PATH (the built function, the built layer, the runtime's boto3), in Lambda's order.
It must therefore use the standard library only.

Protocol: one JSON line per request on stdin ({"event", "context"}), one JSON line per reply on the
original stdout ({"payload"} or {"error": {errorType, errorMessage, stackTrace}}). The handler's own
prints and logs go to stderr, as Lambda sends them to CloudWatch instead of the caller.

Snapshot mode (MANGAASSIST_SNAPSHOT_FD, a Unix socket): after the init phase the process serves no
invocation itself; for each message on the socket (the initialization type, with the two ends of a
request pipe and a reply pipe attached) it forks a new environment from its initialised memory, as
Lambda SnapStart restores a snapshot taken after init, and answers with the new environment's pid.
"""

import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any


class Context:
    """The attributes of Lambda's context object that handlers (and Powertools) read."""

    def __init__(self, fields: dict) -> None:
        self.function_name = fields["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = int(fields["memory_limit_in_mb"])
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = float(fields["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(error_type: str, error: BaseException) -> dict:
    return {"errorType": error_type, "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error)[-5:]}


def serve(handler: Callable[..., Any] | None, init_error: dict | None, requests: IO[str], replies: IO[str]) -> None:
    for line in requests:
        request = json.loads(line)
        if init_error is not None:
            reply = {"error": init_error}
        else:
            try:
                assert handler is not None
                reply = {"payload": handler(request["event"], Context(request["context"]))}
            except Exception as error:  # noqa: BLE001 - the function error, named by its class as Lambda does
                reply = {"error": _error(type(error).__name__, error)}
        try:
            replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        except (TypeError, ValueError) as error:  # a result Lambda could not serialize either
            replies.write(json.dumps({"error": _error("Runtime.MarshalError", error)}) + "\n")


def restore_environments(control: socket.socket, handler: Callable[..., Any] | None, init_error: dict | None,
                         ready: IO[str]) -> None:
    """Snapshot mode: fork one environment per request on `control` until the runtime closes it."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps environments that end
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 64, 2)
        except OSError:
            return
        if not message or len(fds) != 2:
            return  # the runtime stopped
        pid = os.fork()
        if pid == 0:  # the new environment
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            ready.close()
            initialization = message.decode()
            os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = initialization
            package = sys.modules.get("mangaassist")
            # The first environment of an on-demand snapshot waited for the init phase: its cold start counts it.
            if initialization == "snap-start" and package is not None and hasattr(package, "IMPORTED_AT"):
                setattr(package, "IMPORTED_AT", time.perf_counter())  # noqa: B010 - a restored environment's cold start is its restore
            requests = os.fdopen(fds[0], "r", encoding="utf-8")
            replies = os.fdopen(fds[1], "w", encoding="utf-8", buffering=1)
            try:
                serve(handler, init_error, requests, replies)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        control.sendall(f"{pid}\n".encode())


def main() -> None:
    sys.path[:0] = [p for p in os.environ.pop("MANGAASSIST_WORKER_PATH", "").split(os.pathsep) if p]
    snapshot_fd = os.environ.pop("MANGAASSIST_SNAPSHOT_FD", "")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the handler's stdout (prints, Powertools logs) goes to stderr
    sys.stdout = sys.stderr
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = init_error = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # noqa: BLE001 - reported on every invocation, as Lambda does
        init_error = _error("Runtime.ImportModuleError", Exception(f"Unable to import module '{module_name}': {error}"))
    replies.write(json.dumps({"ready": init_error is None}) + "\n")
    if snapshot_fd:
        restore_environments(socket.socket(fileno=int(snapshot_fd)), handler, init_error, replies)
    else:
        serve(handler, init_error, sys.stdin, replies)


if __name__ == "__main__":
    main()
