"""Classify state: task, language, complexity, entities of the user's message."""

from mangaassist.classify import classify
from mangaassist.state_task import state_task
from mangaassist.task_model import installed_model
from mangaassist.turn import Classification, TurnState


def _classify(state: TurnState) -> Classification:
    return classify(state.request.message, state.query_embedding, installed_model())


lambda_handler = state_task(_classify)
