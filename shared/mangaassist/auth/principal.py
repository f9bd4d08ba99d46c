"""The principal: a signed-in customer's id, or `guest:<connectionId>`.

The $connect authorizer puts it in its context; API Gateway hands that context to
every later route of the connection as `requestContext.authorizer`.
"""

from __future__ import annotations

import hashlib
from typing import Any

PRINCIPAL_KEY = "principal"
GUEST_PREFIX = "guest:"


def guest_principal(connection_id: str) -> str:
    return f"{GUEST_PREFIX}{connection_id}"


def is_guest(principal: str) -> bool:
    return principal.startswith(GUEST_PREFIX)


def principal_from_event(event: dict[str, Any]) -> str:
    """The authorizer's principal for this connection; a guest when the context is missing."""
    ctx = event.get("requestContext") or {}
    authorizer = ctx.get("authorizer") or {}
    principal = authorizer.get(PRINCIPAL_KEY) if isinstance(authorizer, dict) else None
    if isinstance(principal, str) and principal:
        return principal
    return guest_principal(str(ctx.get("connectionId", "unknown")))


def hashed(value: str) -> str:
    """A short stable digest for logs: correlates a session's lines without printing its id."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]
