"""adapters.redis_client: the ElastiCache IAM auth token (a SigV4-presigned `connect` request) and redis-py using it
as the AUTH password on a real redis-server whose ACL user expects exactly that token."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from botocore.credentials import Credentials

from mangaassist.adapters.redis_client import TOKEN_REUSE_SECONDS, ElastiCacheIAMProvider, connect_redis
from mangaassist_local.redis_local import LocalRedis, start_redis


class Session:
    def __init__(self, token: str | None = "session-token") -> None:
        self.credentials = Credentials("AKIDEXAMPLE", "secret", token)

    def get_credentials(self) -> Any:
        return self.credentials


def provider(clock: list[float] | None = None, **kwargs: Any) -> ElastiCacheIAMProvider:
    now = clock or [0.0]
    return ElastiCacheIAMProvider("mangaassist-app", "mangaassist-prod", "ap-northeast-1", session=Session(),
                                  clock=lambda: now[0], **kwargs)


def test_the_token_is_a_presigned_connect_request_for_the_cache() -> None:
    token = provider().token()
    assert not token.startswith("http")
    parts = urlsplit(f"http://{token}")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert parts.netloc == "mangaassist-prod" and parts.path == "/"
    assert query["Action"] == "connect" and query["User"] == "mangaassist-app"
    assert query["ResourceType"] == "ServerlessCache"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Expires"] == "900"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/") and query["X-Amz-Credential"].endswith(
        "/ap-northeast-1/elasticache/aws4_request")
    assert query["X-Amz-SignedHeaders"] == "host" and len(query["X-Amz-Signature"]) == 64
    assert query["X-Amz-Security-Token"] == "session-token"


def test_a_node_based_cluster_token_has_no_resource_type() -> None:
    assert "ResourceType" not in provider(serverless=False).token()


def test_the_token_is_reused_while_fresh_and_re_signed_before_it_expires() -> None:
    clock = [0.0]
    iam = provider(clock)
    session = iam._session
    signed: list[int] = []

    def counted() -> Any:  # count the signings
        signed.append(1)
        return session.credentials

    session.get_credentials = counted
    user, first = iam.get_credentials()
    assert user == "mangaassist-app" and len(signed) == 1
    clock[0] = TOKEN_REUSE_SECONDS - 1
    assert iam.get_credentials()[1] == first and len(signed) == 1
    clock[0] = TOKEN_REUSE_SECONDS
    iam.get_credentials()
    assert len(signed) == 2


def test_it_needs_a_user_and_a_cache_name() -> None:
    with pytest.raises(ValueError, match="user id and the cache name"):
        ElastiCacheIAMProvider("", "cache", "ap-northeast-1")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[LocalRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REDIS_URL", raising=False)
        server = start_redis()
    if not server.url or server.process is None:
        pytest.fail(f"redis-server did not start: {server.describe()}")
    yield server
    server.stop()


def test_redis_py_authenticates_with_the_user_and_token(redis_server: LocalRedis) -> None:
    iam = ElastiCacheIAMProvider(f"app-{uuid.uuid4().hex[:6]}", "mangaassist-prod", "ap-northeast-1",
                                 session=Session(), clock=lambda: 0.0)
    user, token = iam.get_credentials()
    admin = redis.Redis.from_url(redis_server.url)
    admin.acl_setuser(user, enabled=True, passwords=[f"+{token}"], keys=["*"], commands=["+@all"])
    try:
        assert connect_redis(redis_server.url, iam).ping() is True
        stranger = ElastiCacheIAMProvider(user, "another-cache", "ap-northeast-1", session=Session(),
                                          clock=lambda: 0.0)
        with pytest.raises(redis.AuthenticationError):
            connect_redis(redis_server.url, stranger).ping()
    finally:
        admin.acl_deluser(user)


def test_settings_switch_iam_auth_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from mangaassist.settings import settings

    monkeypatch.setenv("REDIS_IAM_USER", "mangaassist-app")
    monkeypatch.setenv("REDIS_CACHE_NAME", "mangaassist-prod")
    settings.cache_clear()
    client = connect_redis("rediss://example.serverless.apne1.cache.amazonaws.com:6379")
    chosen = client.connection_pool.connection_kwargs["credential_provider"]
    assert isinstance(chosen, ElastiCacheIAMProvider) and chosen.cache_name == "mangaassist-prod"
    monkeypatch.delenv("REDIS_IAM_USER")
    settings.cache_clear()
    plain = connect_redis("redis://127.0.0.1:6379")
    assert plain.connection_pool.connection_kwargs.get("credential_provider") is None
