"""Attempt state (and Validate's retry): one model call on the routed or the other tier.

The state machine passes {"mode": "first"|"retry", "state": <turn>}.
"""

from typing import Any

from mangaassist.answer.attempt import attempt, retry_other_tier
from mangaassist.answer.health import health_board
from mangaassist.lambda_task import prime, state_task
from mangaassist.text import prepare_titles
from mangaassist.turn import Answer, Target, TurnState
from mangaassist.wiring import model_client, observe_model_call


def _attempt(state: TurnState) -> Answer:
    return attempt(state, model_client, observe_model_call)


def _retry(state: TurnState) -> Answer:
    return retry_other_tier(state, model_client, observe_model_call)


_first, _again = state_task(_attempt), state_task(_retry)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = _again if event.get("mode") == "retry" else _first
    return step(event["state"], context)

prime(lambda: model_client(Target.HAIKU), health_board, prepare_titles)
