"""$connect authorizer: verify the ?token= ID token (or admit a guest) and name the connection's principal."""

from functools import cache
from typing import Any

from mangaassist.auth.authorizer import authorize
from mangaassist.auth.verify import AuthError, TokenVerifier
from mangaassist.settings import settings


@cache
def _verifier(issuer: str, audience: str, jwks_url: str) -> TokenVerifier | None:
    try:
        return TokenVerifier(issuer, audience, jwks_url)
    except AuthError:
        return None  # tokens are then refused; guests still connect


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    s = settings()
    return authorize(event, _verifier(s.auth_issuer, s.auth_audience, s.auth_jwks_url))
