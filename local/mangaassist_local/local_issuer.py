"""The local stack's token issuer, standing in for the Cognito user pool.

A fresh RSA key pair per gateway (tokens of an earlier stack are refused, as a
rotated key would be). The gateway serves the public half as a JWKS and signs
ID tokens shaped like Cognito's (token_use "id", aud = the app client id, the
customer id in custom:customer_id) for `mangaassist token` and the chat page.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from mangaassist.auth.verify import CUSTOMER_CLAIM

LOCAL_AUDIENCE = "mangaassist-local-client"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/local/token"  # noqa: S105 - a URL path, not a secret
MAX_EXPIRES_IN = 24 * 3600


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LocalIssuer:
    def __init__(self, issuer: str, audience: str = LOCAL_AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = secrets.token_hex(8)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64(numbers.n), "e": _b64(numbers.e)}]}

    def sign(self, customer_id: str, expires_in: int = 3600, **overrides: Any) -> str:
        """An ID token for `customer_id`; `overrides` replace claims (tests forge wrong ones this way)."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": f"local-{customer_id}", CUSTOMER_CLAIM: customer_id, "iss": self.issuer,
                                  "aud": self.audience, "token_use": "id", "iat": now, "exp": now + expires_in}
        claims.update(overrides)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
