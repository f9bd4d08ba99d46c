"""Escalate state: the stronger tier after a low-confidence answer, or the fallback after a failure."""

from mangaassist.answer.attempt import escalate
from mangaassist.answer.health import health_board
from mangaassist.lambda_task import prime, state_task
from mangaassist.text import prepare_titles
from mangaassist.turn import Answer, Target, TurnState
from mangaassist.wiring import model_client, observe_model_call


def _escalate(state: TurnState) -> Answer:
    return escalate(state, model_client, observe_model_call)


lambda_handler = state_task(_escalate)

prime(lambda: model_client(Target.SONNET), health_board, prepare_titles)
