"""WebSocket connections: recorded on $connect, removed on $disconnect, posted to by sendMessage."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from mangaassist.adapters import aws
from mangaassist.settings import settings

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes WebSocket connections after 2 hours


class ConnectionStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def add(self, connection_id: str, source_ip: str | None = None) -> None:
        now = int(time.time())
        self._table.put_item(Item={"connectionId": connection_id, "connectedAt": now,
                                   "expiresAt": now + CONNECTION_TTL_SECONDS, "sourceIp": source_ip or ""})

    def remove(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connectionId": connection_id})


def management_endpoint(request_context: dict[str, Any]) -> str:
    """The @connections API of the API that sent the event.

    AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, the standard per-service variable, wins when set
    (a custom domain in front of the API, or the local stack).
    """
    configured = settings().management_endpoint
    if configured:
        return configured
    return f"https://{request_context['domainName']}/{request_context['stage']}"


class ConnectionPoster:
    def __init__(self, endpoint: str) -> None:
        self._client = aws.client_for_endpoint("apigatewaymanagementapi", endpoint)

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        """Send a frame; False when the client has gone (GoneException)."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id,
                                            Data=json.dumps(frame, ensure_ascii=False).encode())
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                return False
            raise
