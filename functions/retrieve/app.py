"""Retrieve state: catalog and policy sources plus exact product and order lookups."""

from mangaassist.lambda_task import prime, state_task
from mangaassist.text import prepare_titles
from mangaassist.turn import Retrieval, TurnState
from mangaassist.understand.retrieve import retrieve
from mangaassist.understand.task_model import installed_model
from mangaassist.wiring import lookups, order_limit, vector_store


def _retrieve(state: TurnState) -> Retrieval:
    return retrieve(state.request.message, lookups(), state.query_embedding, vector_store(), installed_model(),
                    principal=state.request.principal, order_limit=order_limit(), history=state.request.history,
                    locale=state.request.locale)


lambda_handler = state_task(_retrieve)

prime(installed_model, lookups, order_limit, vector_store, prepare_titles)
