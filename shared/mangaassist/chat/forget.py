"""Forget a customer: delete every turn of their sessions from the sessions table.

Session keys are hashes of (principal, client session id), so a customer's turns are found through the
ByPrincipal index (keys only), then deleted by key in batches of 25. The index is eventually consistent and
session writes may still be queued: run it again to catch a turn written meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Key

BY_PRINCIPAL = "ByPrincipal"


def principal_turn_keys(table: Any, principal: str) -> list[dict[str, str]]:
    keys: list[dict[str, str]] = []
    kwargs: dict[str, Any] = {"IndexName": BY_PRINCIPAL, "KeyConditionExpression": Key("principal").eq(principal)}
    while True:
        page = table.query(**kwargs)
        keys += [{"sessionId": item["sessionId"], "turnId": item["turnId"]} for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return keys
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def forget_principal(table: Any, principal: str, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Delete the principal's turns; returns {"items": deleted, "sessions": distinct sessions}."""
    keys = principal_turn_keys(table, principal)
    with table.batch_writer(overwrite_by_pkeys=["sessionId", "turnId"]) as batch:
        for n, key in enumerate(keys, 1):
            batch.delete_item(Key=key)
            if progress is not None and (n % 25 == 0 or n == len(keys)):
                progress(n, len(keys))
    return {"items": len(keys), "sessions": len({key["sessionId"] for key in keys})}
