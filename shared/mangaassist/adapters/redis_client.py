"""Redis clients for ElastiCache Serverless: tight timeouts, and IAM authentication when a user is configured.

With IAM authentication the cache has no password: each new connection sends AUTH with the user id and a
short-lived token, a SigV4 presigned `connect` request for the cache (signed by the function's role, which needs
elasticache:Connect on the cache and the user). redis-py asks the credential provider on every new connection, so
a token is reused while it is fresh and re-signed before its 15 minutes run out.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

import redis
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.retry import Retry

TOKEN_SECONDS = 900  # ElastiCache accepts IAM tokens for 15 minutes
TOKEN_REUSE_SECONDS = 600  # sign a new one well before that


class ElastiCacheIAMProvider(CredentialProvider):
    """(user id, IAM auth token) for redis-py's AUTH."""

    def __init__(self, user_id: str, cache_name: str, region: str, session: Any = None, serverless: bool = True,
                 clock: Any = time.monotonic) -> None:
        if not user_id or not cache_name:
            raise ValueError("ElastiCache IAM auth needs the user id and the cache name")
        self.user_id = user_id
        self.cache_name = cache_name
        self.region = region
        self.serverless = serverless
        self._session = session
        self._clock = clock
        self._token: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def _credentials(self) -> Any:
        if self._session is None:
            import botocore.session

            self._session = botocore.session.get_session()
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign the ElastiCache IAM auth token")
        return credentials.get_frozen_credentials()

    def token(self) -> str:
        """A fresh presigned `connect` URL without its scheme: what ElastiCache takes as the password."""
        params = {"Action": "connect", "User": self.user_id}
        if self.serverless:
            params["ResourceType"] = "ServerlessCache"
        request = AWSRequest(method="GET", url=f"http://{self.cache_name}/?{urlencode(params)}")
        SigV4QueryAuth(self._credentials(), "elasticache", self.region, expires=TOKEN_SECONDS).add_auth(request)
        return str(request.url).removeprefix("http://")

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._token[0] >= TOKEN_REUSE_SECONDS:
                self._token = (now, self.token())
            return self.user_id, self._token[1]


def connect_redis(url: str, provider: CredentialProvider | None = None) -> redis.Redis:
    """A client sized for the turn budget: tight timeouts and one immediate retry (a connection dropped while the
    Lambda was frozen); redis-py's defaults retry three times with backoff (~4 s against a dead host).
    With REDIS_IAM_USER set, the client authenticates with IAM tokens."""
    from mangaassist.settings import settings

    if provider is None:
        s = settings()
        if s.redis_iam_user:
            provider = ElastiCacheIAMProvider(s.redis_iam_user, s.redis_cache_name, s.region)
    return redis.Redis.from_url(url, socket_timeout=0.1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 1),
                                credential_provider=provider)
