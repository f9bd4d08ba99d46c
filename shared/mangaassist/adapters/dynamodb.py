"""DynamoDB adapters: exact catalog and order lookups, the daily spend ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from mangaassist.catalog.store import product_id
from mangaassist.errors import DependencyThrottledError

JST = timezone(timedelta(hours=9))  # the budget day is a JST day, as in answer.routing


class DynamoLookups:
    """Exact lookups against the products and orders tables."""

    def __init__(self, products_table: Any, orders_table: Any) -> None:
        self._products = products_table
        self._orders = orders_table

    def product(self, series_id: str, volume: int) -> dict[str, Any] | None:
        return _get(self._products, {"productId": product_id(series_id, volume)})

    def order(self, order_id: str) -> dict[str, Any] | None:
        return _get(self._orders, {"orderId": order_id})


_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _get(table: Any, key: dict[str, Any]) -> dict[str, Any] | None:
    """GetItem; a throttle becomes DependencyThrottledError, the name the state machine's Retry matches."""
    try:
        item: dict[str, Any] | None = table.get_item(Key=key).get("Item")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _THROTTLED:
            raise DependencyThrottledError(f"DynamoDB throttled {table.name}: {error}") from error
        raise
    return item


class DynamoSpendLedger:
    """Daily spend in the budget table, one item per JST day, updated atomically with ADD."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def spent_today(self, day: str) -> Decimal:
        item = self._table.get_item(Key={"day": day}, ConsistentRead=False).get("Item") or {}
        return Decimal(str(item.get("spentUsd", "0")))

    def add(self, day: str, amount: Decimal) -> None:
        if amount <= 0:
            return
        expires = int((datetime.now(JST) + timedelta(days=35)).timestamp())
        self._table.update_item(
            Key={"day": day},
            UpdateExpression="ADD spentUsd :amount, turns :one SET expiresAt = if_not_exists(expiresAt, :exp)",
            ExpressionAttributeValues={":amount": amount, ":one": 1, ":exp": expires},
        )
