"""With the functions in worker processes, the models and the OpenSearch stand-in run in a process of their own
(mangaassist_local.model_server): the workers reach it directly, the AWS port forwards to it, and it stops with
the stack."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from websockets.sync.client import connect

from mangaassist_local.runner import LocalStack, start_stack
from mangaassist_local.stack import REGION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start_stack(processes=True, warm=True, overrides={"RATE_CONNECTION_PER_SECOND": "0"})
    yield running
    running.stop()
    assert running.aws.model_server is not None and running.aws.model_server.exited()


def _turn(stack: LocalStack, message: str) -> dict:
    with connect(stack.gateway.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "sendMessage", "sessionId": "model-server", "message": message}))
        return json.loads(ws.recv(timeout=30))


def _put_faults(stack: LocalStack, specs: list[str]) -> list[str]:
    request = urllib.request.Request(f"{stack.aws.endpoint}/_mangaassist/faults", method="PUT",
                                     data=json.dumps({"faults": specs}).encode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["previous"]


def test_turns_are_answered_by_the_model_server_process(stack: LocalStack) -> None:
    server = stack.aws.model_server
    assert server is not None
    assert stack.aws.env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == server.endpoint != stack.aws.endpoint
    assert stack.aws.env["OPENSEARCH_ENDPOINT"] == server.endpoint
    frame = _turn(stack, "How much is One Piece volume 5? (model server)")
    meta = frame["meta"]
    assert frame["type"] == "answer" and meta["validation"]["decision"] == "accept", meta
    assert [(tier["target"], tier["outcome"]) for tier in meta["tiers"]] == [("haiku", "ok")]
    assert "one-piece#5" in meta["sources"]


@pytest.mark.parametrize("endpoint", ["model_server", "aws_port"])
def test_the_catalog_index_is_searched_in_the_model_server(stack: LocalStack, endpoint: str) -> None:
    from mangaassist.adapters.opensearch import OpenSearchVectorStore

    assert stack.aws.model_server is not None
    url = stack.aws.model_server.endpoint if endpoint == "model_server" else stack.aws.endpoint  # forwarded
    store = OpenSearchVectorStore.connect(url, stack.aws.env.get("VECTOR_INDEX") or "mangaassist-store",
                                          int(stack.aws.env["EMBEDDING_DIMENSIONS"]), REGION)
    hits = store.search("Frieren", None, k=3, mode="keyword")
    assert hits and "frieren" in hits[0].id, hits
    assert stack.aws.models.calls == []  # the stack process's own endpoint answered nothing


def test_the_aws_port_forwards_model_calls_and_faults(stack: LocalStack) -> None:
    runtime = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=stack.aws.endpoint)
    answer = runtime.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                              messages=[{"role": "user", "content": [{"text": "Hello!"}]}])
    assert answer["output"]["message"]["content"][0]["text"]
    assert _put_faults(stack, ["haiku=error"]) == []
    try:
        with pytest.raises(runtime.exceptions.InternalServerException):
            runtime.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                             messages=[{"role": "user", "content": [{"text": "Hello!"}]}])
    finally:
        assert _put_faults(stack, []) == ["haiku=error@1"]


def test_the_stack_keeps_its_start_up_objects_out_of_the_collector(stack: LocalStack) -> None:
    import gc
    import sys

    from mangaassist_local.process_tuning import GC_THRESHOLDS, SWITCH_INTERVAL_S

    assert gc.get_threshold() == GC_THRESHOLDS
    assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert gc.get_freeze_count() > 10_000  # moto, botocore's models, the catalog...
