"""EmbedQuery state: the user message's embedding, once per turn."""

from mangaassist.lambda_task import prime, state_task
from mangaassist.turn import QueryEmbedding, TurnState
from mangaassist.wiring import embedder


def _embed(state: TurnState) -> QueryEmbedding:
    model = embedder()
    return QueryEmbedding(model_id=model.model_id, vector=model.embed_query(state.request.message))


lambda_handler = state_task(_embed)

prime(embedder)
