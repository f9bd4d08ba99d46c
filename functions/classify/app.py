"""Classify state: task, language, complexity, entities of the user's message."""

from mangaassist.classify import classify
from mangaassist.state_task import state_task
from mangaassist.turn import Classification, TurnState


def _classify(state: TurnState) -> Classification:
    return classify(state.request.message)


lambda_handler = state_task(_classify)
