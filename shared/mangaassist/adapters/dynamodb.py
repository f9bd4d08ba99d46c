"""DynamoDB adapters: exact catalog and order lookups, the daily spend ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from mangaassist.catalog.store import product_id

JST = timezone(timedelta(hours=9))  # the budget day is a JST day, as in answer.routing


class DynamoLookups:
    """Exact lookups against the products and orders tables."""

    def __init__(self, products_table: Any, orders_table: Any) -> None:
        self._products = products_table
        self._orders = orders_table

    def product(self, series_id: str, volume: int) -> dict[str, Any] | None:
        return self._products.get_item(Key={"productId": product_id(series_id, volume)}).get("Item")

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self._orders.get_item(Key={"orderId": order_id}).get("Item")


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
