"""Retrieve state: catalog and policy sources plus exact product and order lookups."""

from mangaassist.retrieve import retrieve
from mangaassist.services import lookups, vector_store
from mangaassist.state_task import state_task
from mangaassist.task_model import installed_model
from mangaassist.turn import Retrieval, TurnState


def _retrieve(state: TurnState) -> Retrieval:
    return retrieve(state.request.message, lookups(), state.query_embedding, vector_store(), installed_model())


lambda_handler = state_task(_retrieve)
