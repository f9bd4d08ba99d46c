"""StartSyncExecution's endpoint: sync-states.<region> in AWS, the override as is locally."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from mangaassist.adapters import aws
from mangaassist.settings import settings


class _Captured:
    url = ""

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.url = request.url
        body = b'{"executionArn": "arn:x", "startDate": 0, "stopDate": 0, "status": "SUCCEEDED", "output": "{}"}'
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def _start_sync(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SFN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                        **env}.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    aws.sync_states.cache_clear()
    try:
        client = aws.sync_states()
        captured = _Captured()
        client.meta.events.register("before-send.sfn.StartSyncExecution", captured)
        client.start_sync_execution(stateMachineArn="arn:aws:states:ap-northeast-1:123456789012:stateMachine:t")
        return captured.url
    finally:
        settings.cache_clear()
        aws.sync_states.cache_clear()


def test_without_an_endpoint_override_the_sync_host_prefix_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _start_sync(monkeypatch, {}) == "https://sync-states.ap-northeast-1.amazonaws.com/"


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SFN"])
def test_a_custom_endpoint_is_used_as_is(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    assert _start_sync(monkeypatch, {variable: "http://127.0.0.1:4566"}) == "http://127.0.0.1:4566/"
