"""The one wrapper every state handler uses: parse the turn, time the step, dump JSON.

Errors propagate: the Lambda error's name (the exception class) is what the
state machine's Retry and Catch match on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

import mangaassist
from mangaassist.turn import TurnState

logger = Logger(service="mangaassist")

Step = Callable[[TurnState], BaseModel]
_first_invocation = [True]  # per execution environment


def cold_start_ms() -> float:
    """This environment's init time on its first invocation, else 0 (a warm environment)."""
    if not _first_invocation[0]:
        return 0.0
    _first_invocation[0] = False
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
        return 0.0  # initialised ahead of time: no invocation waited for it
    return round((time.perf_counter() - mangaassist.IMPORTED_AT) * 1000, 1)


def prime(*builders: Callable[[], object]) -> None:
    """Build what a handler needs during the init phase (at import) instead of in its first invocation.

    Lambda runs init once per environment before any invocation, and SnapStart (like the local runtime's
    snapshots) keeps what init built: a new environment starts with its clients, models and compiled patterns
    ready instead of loading botocore's service models and compiling the catalog's title patterns in a
    customer's turn. Only inside a Lambda environment (AWS_LAMBDA_FUNCTION_NAME), so importing a handler
    elsewhere (tests, the in-process runtime) changes nothing. A builder that fails is left to the invocation
    that needs it, which fails or degrades as it always did: init never fails because a dependency is down.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    for build in builders:
        try:
            build()
        except Exception:
            logger.warning("init: could not prepare %s; the first invocation will",
                           getattr(build, "__name__", repr(build)), exc_info=True)


def state_task(step: Step) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        cold_ms = cold_start_ms()
        state = TurnState.model_validate(event)
        logger.append_keys(turn_id=state.request.turn_id, session_id=state.request.session_id)
        started = time.perf_counter()
        result = step(state)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        if "elapsed_ms" in type(result).model_fields:
            result = result.model_copy(update={"elapsed_ms": elapsed, "cold_start_ms": cold_ms})
        logger.debug("state step done", extra={"step": step.__name__, "elapsed_ms": elapsed})
        return result.model_dump(mode="json")

    handler.__name__ = step.__name__
    return handler
