"""Escalate state: the stronger tier after a low-confidence answer, or the fallback after a failure."""

from mangaassist.answer.attempt import escalate
from mangaassist.lambda_task import state_task
from mangaassist.turn import Answer, TurnState
from mangaassist.wiring import model_client, observe_model_call


def _escalate(state: TurnState) -> Answer:
    return escalate(state, model_client, observe_model_call)


lambda_handler = state_task(_escalate)
