"""Who may see an order: only its owner. Everyone else gets a marker source, never the order.

A guest is asked to sign in (the order is not even looked up); a signed-in customer asking for an order that
is not theirs, or does not exist, is told it is not in their account - the same words either way, so the
answer reveals neither existence, status, carrier nor tracking. The marker (`order_access` in the source's
facts) is what the prompt and the local model turn into that answer, in the customer's language.

Lookups are counted per principal in fixed windows (Redis when the function reaches it, else the budget
table), so order ids cannot be enumerated at speed even by signed-in customers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from mangaassist.chat.limits import Counter, principal_tag
from mangaassist.turn import SourceRef

logger = Logger(service="mangaassist")

OrderAccess = Literal["granted", "sign_in_required", "not_found", "rate_limited"]
ORDER_LOOKUPS_PER_WINDOW = 10
WINDOW_SECONDS = 600


class OrderLookups(Protocol):
    def order(self, order_id: str) -> dict[str, Any] | None: ...


class OrderLookupLimit:
    """At most `limit` order lookups per principal per `window` seconds."""

    def __init__(self, counter: Counter | None, limit: int = ORDER_LOOKUPS_PER_WINDOW,
                 window: int = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._counter, self._limit, self._window, self._clock = counter, limit, window, clock

    def allow(self, principal: str) -> bool:
        if self._counter is None:
            return True
        key = f"orderlookups#{int(self._clock() // self._window)}#{principal_tag(principal)}"
        try:
            return self._counter.count(key) <= self._limit
        except Exception:  # defence in depth only: ownership is still checked
            logger.warning("order lookup counter unavailable; lookup allowed", exc_info=True)
            return True


def is_guest(principal: str | None) -> bool:
    return not principal or principal.startswith("guest:")


def marker(order_id: str, access: OrderAccess) -> SourceRef:
    """A source that names only the id the customer typed, and why nothing more is shown."""
    return SourceRef(kind="order", id=order_id, title=f"Order {order_id}", facts={"order_access": access})


def order_source(order_id: str, principal: str | None, lookups: OrderLookups, limit: OrderLookupLimit | None,
                 to_ref: Callable[[dict[str, Any]], SourceRef]) -> SourceRef:
    if is_guest(principal):
        return marker(order_id, "sign_in_required")
    assert principal is not None
    if limit is not None and not limit.allow(principal):
        return marker(order_id, "rate_limited")
    item = lookups.order(order_id)
    if item is None or str(item.get("customer_ref", "")) != principal:
        return marker(order_id, "not_found")
    ref = to_ref(item)
    return ref.model_copy(update={"facts": {**ref.facts, "order_access": "granted"}})
