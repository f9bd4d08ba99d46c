"""Classify state: task, language, complexity, entities of the user's message."""

from mangaassist.lambda_task import prime, state_task
from mangaassist.text import prepare_titles
from mangaassist.turn import Classification, TurnState
from mangaassist.understand.classify import classify
from mangaassist.understand.task_model import installed_model


def _classify(state: TurnState) -> Classification:
    return classify(state.request.message, state.query_embedding, installed_model())


lambda_handler = state_task(_classify)

prime(installed_model, prepare_titles)
