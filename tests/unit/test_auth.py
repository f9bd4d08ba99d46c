"""The token verifier and the $connect authorizer: real RS256 keys, a real JWKS fetched by PyJWKClient (file://)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from mangaassist.auth.authorizer import authorize
from mangaassist.auth.principal import principal_from_event
from mangaassist.auth.verify import AuthError, TokenVerifier, jwks_client
from mangaassist_local.local_issuer import LocalIssuer

ISSUER = "https://issuer.example/pool"
METHOD_ARN = "arn:aws:execute-api:ap-northeast-1:123456789012:abc123/prod/$connect"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(ISSUER)


@pytest.fixture(scope="module")
def jwks_url(issuer: LocalIssuer) -> Iterator[str]:
    """The issuer's JWKS on a real HTTP server (PyJWKClient fetches http(s) only)."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    jwks_client.cache_clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def verifier(issuer: LocalIssuer, jwks_url: str) -> TokenVerifier:
    return TokenVerifier(ISSUER, issuer.audience, jwks_url)


def test_a_good_token_names_its_customer(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    identity = verifier.verify(issuer.sign("C-1043"))
    assert identity.principal == "C-1043"
    assert identity.expires_at > time.time()


@pytest.mark.parametrize("claims, reason", [
    ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 3600}, "ExpiredSignatureError"),
    ({"iss": "https://evil.example/pool"}, "InvalidIssuerError"),
    ({"aud": "another-client"}, "InvalidAudienceError"),
    ({"token_use": "access"}, "ID tokens"),
    ({"custom:customer_id": "guest:abc"}, "principal"),
])
def test_wrong_claims_are_refused(issuer: LocalIssuer, verifier: TokenVerifier, claims: dict, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verifier.verify(issuer.sign("C-1043", **claims))


def test_a_forged_signature_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    forger = LocalIssuer(ISSUER)
    forger.kid = issuer.kid  # same kid, other key: only the signature can tell
    with pytest.raises(AuthError, match="InvalidSignatureError"):
        verifier.verify(forger.sign("C-1043"))


def test_a_tampered_payload_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    header, payload, signature = issuer.sign("C-1043").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["custom:customer_id"] = "C-1102"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="InvalidSignatureError"):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_alg_none_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    claims = jwt.decode(issuer.sign("C-1043"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": issuer.kid})
    with pytest.raises(AuthError, match="algorithm 'none'"):
        verifier.verify(unsigned)


def test_hs256_with_the_public_key_as_secret_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    public_pem = issuer._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = jwt.decode(issuer.sign("C-1043"), options={"verify_signature": False})
    # PyJWT itself refuses a PEM as an HMAC secret; build the confusion token by hand, as an attacker would.
    import hashlib
    import hmac
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing_input = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(AuthError, match="algorithm 'HS256'"):
        verifier.verify((signing_input + b"." + mac).decode())


def test_a_token_without_kid_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    claims = jwt.decode(issuer.sign("C-1043"), options={"verify_signature": False})
    token = jwt.encode(claims, issuer._key, algorithm="RS256")
    with pytest.raises(AuthError, match="kid"):
        verifier.verify(token)


def test_an_unknown_kid_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    other = LocalIssuer(ISSUER)
    with pytest.raises(AuthError, match="PyJWKClientError"):
        verifier.verify(other.sign("C-1043"))


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_refused_with_a_reason(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(AuthError):
        verifier.verify(token)


def _connect_event(token: str | None) -> dict:
    event: dict = {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {},
                   "requestContext": {"connectionId": "conn-1", "routeKey": "$connect", "eventType": "CONNECT"}}
    if token is not None:
        event["queryStringParameters"] = {"token": token}
    return event


def _effect(response: dict) -> str:
    return str(response["policyDocument"]["Statement"][0]["Effect"])


def test_the_authorizer_admits_a_guest_without_a_token(verifier: TokenVerifier) -> None:
    response = authorize(_connect_event(None), verifier)
    assert _effect(response) == "Allow"
    assert response["context"] == {"principal": "guest:conn-1", "kind": "guest"}


def test_the_authorizer_names_the_customer(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    response = authorize(_connect_event(issuer.sign("C-1102")), verifier)
    assert _effect(response) == "Allow"
    assert response["principalId"] == "C-1102"
    assert response["context"]["principal"] == "C-1102"
    # What API Gateway passes to sendMessage: the context as requestContext.authorizer.
    assert principal_from_event({"requestContext": {"connectionId": "conn-1",
                                                    "authorizer": response["context"]}}) == "C-1102"


def test_the_authorizer_denies_a_bad_token(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    response = authorize(_connect_event(issuer.sign("C-1102", exp=int(time.time()) - 60)), verifier)
    assert _effect(response) == "Deny"
    assert "context" not in response


def test_without_an_issuer_tokens_are_denied_and_guests_admitted() -> None:
    assert _effect(authorize(_connect_event("x.y.z"), None)) == "Deny"
    assert _effect(authorize(_connect_event(None), None)) == "Allow"


def test_a_missing_authorizer_context_is_a_guest() -> None:
    assert principal_from_event({"requestContext": {"connectionId": "c9"}}) == "guest:c9"
