"""Adapters wired from the function's environment, built once per process."""

from __future__ import annotations

from functools import cache

from mangaassist import aws
from mangaassist.model_client import BedrockConverseClient, ModelClient, SageMakerTGIClient
from mangaassist.retrieve import DynamoLookups
from mangaassist.routing import DynamoSpendLedger
from mangaassist.turn import Target


@cache
def lookups() -> DynamoLookups:
    return DynamoLookups(aws.table(aws.env("PRODUCTS_TABLE")), aws.table(aws.env("ORDERS_TABLE")))


@cache
def spend_ledger() -> DynamoSpendLedger:
    return DynamoSpendLedger(aws.table(aws.env("BUDGET_TABLE")))


@cache
def _bedrock() -> BedrockConverseClient:
    return BedrockConverseClient(aws.client("bedrock-runtime", aws.MODEL))


@cache
def _sagemaker() -> SageMakerTGIClient:
    return SageMakerTGIClient(aws.client("sagemaker-runtime", aws.MODEL))


def model_client(target: Target) -> ModelClient:
    return _sagemaker() if target is Target.SAGEMAKER else _bedrock()
