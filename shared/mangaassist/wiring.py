"""Adapters wired from the function's environment, built once per process."""

from __future__ import annotations

from functools import cache

from mangaassist.adapters import aws
from mangaassist.adapters.dynamodb import DynamoLookups, DynamoSpendLedger
from mangaassist.adapters.embeddings import BedrockTitanEmbedder, EmbeddingConfig
from mangaassist.adapters.models import BedrockConverseClient, ModelClient, SageMakerTGIClient
from mangaassist.adapters.opensearch import OpenSearchVectorStore, VectorStore
from mangaassist.answer.health import health_board
from mangaassist.lambda_task import logger
from mangaassist.settings import redis_host, settings
from mangaassist.telemetry import record_switch
from mangaassist.turn import Target
from mangaassist.understand.order_access import OrderLookupLimit


@cache
def lookups() -> DynamoLookups:
    s = settings()
    return DynamoLookups(aws.table(s.require("products_table")), aws.table(s.require("orders_table")))


@cache
def order_limit() -> OrderLookupLimit:
    """Order lookups per principal: counted in Redis when this function reaches it, else in the budget table."""
    from mangaassist.adapters.redis_client import connect_redis
    from mangaassist.chat.limits import Counter, DynamoCounter, RedisCounter

    s = settings()
    counter: Counter | None = None
    if redis_host(s.redis_url):
        counter = RedisCounter(connect_redis(s.redis_url))
    elif s.budget_table:
        counter = DynamoCounter(aws.table(s.budget_table))
    return OrderLookupLimit(counter)


@cache
def spend_ledger() -> DynamoSpendLedger:
    return DynamoSpendLedger(aws.table(settings().require("budget_table")))


def observe_model_call(target: str, latency_ms: float, outcome: str) -> None:
    """Feed the shared health windows; a call that opens a circuit logs and counts the switch once."""
    reasons = health_board().record(target, latency_ms, outcome)
    if reasons:
        logger.warning("circuit opened: traffic moves down the fallback chain",
                       extra={"target": target, "reasons": reasons})
        record_switch(target, reasons)


@cache
def vector_store() -> VectorStore | None:
    """OpenSearch Serverless when OPENSEARCH_ENDPOINT is set (always, as deployed), else none: Retrieve then
    searches the bundled catalog by keywords."""
    s = settings()
    if not s.opensearch_endpoint:
        return None
    return OpenSearchVectorStore.connect(s.opensearch_endpoint, s.vector_index, s.embedding_dimensions, s.region)


@cache
def embedder() -> BedrockTitanEmbedder:
    return BedrockTitanEmbedder(aws.client("bedrock-runtime", aws.FAST), EmbeddingConfig.from_settings(settings()))


@cache
def _bedrock() -> BedrockConverseClient:
    return BedrockConverseClient(aws.client("bedrock-runtime", aws.MODEL))


@cache
def _sagemaker() -> SageMakerTGIClient:
    return SageMakerTGIClient(aws.client("sagemaker-runtime", aws.MODEL), settings().sagemaker_chat_template)


def model_client(target: Target) -> ModelClient:
    return _sagemaker() if target is Target.SAGEMAKER else _bedrock()
