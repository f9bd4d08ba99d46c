"""One Lambda execution environment: imports one handler and serves its invocations, one at a time.

Run by mangaassist_local.process_runtime as `python -I -S lambda_worker.py`: isolated mode and no site
directory, so the only code it can import is the standard library plus the directories named in
MANGAASSIST_WORKER_PATH (the built function, the built layer, the runtime's boto3), in Lambda's order.
It must therefore use the standard library only.

Protocol: one JSON line per request on stdin ({"event", "context"}), one JSON line per reply on the
original stdout ({"payload"} or {"error": {errorType, errorMessage, stackTrace}}). The handler's own
prints and logs go to stderr, as Lambda sends them to CloudWatch instead of the caller.
"""

import importlib
import json
import os
import sys
import time
import traceback


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


def main() -> None:
    sys.path[:0] = [p for p in os.environ.pop("MANGAASSIST_WORKER_PATH", "").split(os.pathsep) if p]
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
    for line in sys.stdin:
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


if __name__ == "__main__":
    main()
