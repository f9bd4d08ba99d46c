"""Adapters wired from the function's environment, built once per process."""

from __future__ import annotations

from functools import cache

from mangaassist import aws
from mangaassist.embeddings import BedrockTitanEmbedder, EmbeddingConfig
from mangaassist.health import health_board
from mangaassist.model_client import BedrockConverseClient, ModelClient, SageMakerTGIClient
from mangaassist.retrieve import DynamoLookups
from mangaassist.routing import DynamoSpendLedger
from mangaassist.state_task import logger
from mangaassist.telemetry import record_switch
from mangaassist.turn import Target
from mangaassist.vector_store import VectorStore, store_from_env


@cache
def lookups() -> DynamoLookups:
    return DynamoLookups(aws.table(aws.env("PRODUCTS_TABLE")), aws.table(aws.env("ORDERS_TABLE")))


@cache
def spend_ledger() -> DynamoSpendLedger:
    return DynamoSpendLedger(aws.table(aws.env("BUDGET_TABLE")))


def observe_model_call(target: str, latency_ms: float, outcome: str) -> None:
    """Feed the shared health windows; a call that opens a circuit logs and counts the switch once."""
    reasons = health_board().record(target, latency_ms, outcome)
    if reasons:
        logger.warning("circuit opened: traffic moves down the fallback chain",
                       extra={"target": target, "reasons": reasons})
        record_switch(target, reasons)


@cache
def vector_store() -> VectorStore | None:
    return store_from_env()


@cache
def embedder() -> BedrockTitanEmbedder:
    return BedrockTitanEmbedder(aws.client("bedrock-runtime", aws.FAST), EmbeddingConfig.from_env())


@cache
def _bedrock() -> BedrockConverseClient:
    return BedrockConverseClient(aws.client("bedrock-runtime", aws.MODEL))


@cache
def _sagemaker() -> SageMakerTGIClient:
    return SageMakerTGIClient(aws.client("sagemaker-runtime", aws.MODEL))


def model_client(target: Target) -> ModelClient:
    return _sagemaker() if target is Target.SAGEMAKER else _bedrock()
