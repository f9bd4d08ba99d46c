"""Verify a customer's ID token: RS256 only, the issuer's JWKS (cached), issuer, audience and expiry checked.

Deployed, the issuer is the stack's Cognito user pool and the audience its app client id; locally, the
gateway's own issuer. A token that fails any check raises AuthError: the handshake is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt

ALGORITHMS = ["RS256"]  # never HS256 (a public key used as an HMAC secret) or "none"
CUSTOMER_CLAIM = "custom:customer_id"  # the Cognito custom attribute holding the store's customer ref (C-1043)
LEEWAY_SECONDS = 5
_PRINCIPAL = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")


class AuthError(Exception):
    """The token is not acceptable; the message says why (logged, never sent to the client)."""


@dataclass(frozen=True)
class Identity:
    principal: str  # the customer id every per-user record is keyed by
    subject: str
    expires_at: int


@cache
def jwks_client(jwks_url: str) -> jwt.PyJWKClient:
    """One client per JWKS URL per process: keys are cached, fetched again only for an unknown kid."""
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=3)


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        if not issuer or not audience or not jwks_url:
            raise AuthError("the token issuer is not configured (AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL)")
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError(f"malformed token: {error}") from error
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"algorithm {header.get('alg')!r} is not accepted")
        if not header.get("kid"):
            raise AuthError("the token names no key (kid)")
        try:
            key = jwks_client(self.jwks_url).get_signing_key(str(header["kid"]))
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as error:  # bad signature, expired, wrong issuer/audience, unknown kid, JWKS down
            raise AuthError(f"{type(error).__name__}: {error}") from error
        if claims.get("token_use", "id") != "id":
            raise AuthError("only ID tokens are accepted (an access token carries no audience or customer id)")
        principal = str(claims.get(CUSTOMER_CLAIM) or claims["sub"])
        if not _PRINCIPAL.match(principal):
            raise AuthError("the token's customer id is not a valid principal")
        return Identity(principal=principal, subject=str(claims["sub"]), expires_at=int(claims["exp"]))
