"""The $connect REQUEST authorizer: no token is a guest; a valid token is its customer; anything else is refused.

The template sets no IdentitySource, so API Gateway calls this for every handshake (with one it would refuse
token-less guests with 401 before calling us). The principal goes into the authorizer context, which API
Gateway hands to every later route of the connection as requestContext.authorizer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponseWebSocket,
)

from mangaassist.auth.principal import PRINCIPAL_KEY, guest_principal
from mangaassist.auth.verify import AuthError, TokenVerifier

logger = Logger(service="mangaassist")
TOKEN_PARAMETER = "token"  # noqa: S105 - the query-string name


def authorize(event: dict[str, Any], verifier: TokenVerifier | None) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    token = (request.get("queryStringParameters") or {}).get(TOKEN_PARAMETER) or ""
    connection_id = str(event.get("requestContext", {}).get("connectionId", ""))
    if not token:
        principal, kind = guest_principal(connection_id), "guest"
    else:
        try:
            if verifier is None:
                raise AuthError("no token issuer is configured")
            principal, kind = verifier.verify(token).principal, "customer"
        except AuthError as error:
            logger.warning("handshake refused: bad token", extra={"reason": str(error)})
            denied = APIGatewayAuthorizerResponseWebSocket.from_route_arn(request.method_arn, principal_id="anonymous")
            denied.deny_all_routes()
            return denied.asdict()
    response = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        request.method_arn, principal_id=principal, context={PRINCIPAL_KEY: principal, "kind": kind})
    response.allow_all_routes()
    return response.asdict()
