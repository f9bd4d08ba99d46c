"""Escalate state: the stronger tier after a low-confidence answer, or the fallback after a failure."""

from mangaassist.answering import escalate
from mangaassist.services import model_client, observe_model_call
from mangaassist.state_task import state_task
from mangaassist.turn import Answer, TurnState


def _escalate(state: TurnState) -> Answer:
    return escalate(state, model_client, observe_model_call)


lambda_handler = state_task(_escalate)
