"""model_client.py: the Bedrock Converse and SageMaker TGI adapters, against botocore's Stubber.

The Stubber checks every request and response against the service's API model,
so a wrong parameter name or shape fails here, with no network.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from mangaassist.adapters.models import (
    BedrockConverseClient,
    ModelReply,
    ModelRequest,
    SageMakerTGIClient,
    render_tgi_prompt,
)
from mangaassist.errors import ModelRequestError, ModelThrottledError, ModelTimeoutError, ModelUnavailableError

from .conftest import HAIKU_ID, SAGEMAKER_ENDPOINT

REQUEST = ModelRequest(
    model_id=HAIKU_ID,
    system="You are MangaAssist.\n<context>\n[1] product one-piece#105\n</context>",
    messages=[
        {"role": "user", "text": "Hi"},
        {"role": "assistant", "text": "Hello! How can I help?"},
        {"role": "user", "text": "Do you have One Piece volume 105?"},
    ],
    max_tokens=300,
    temperature=0.3,
)

CONVERSE_RESPONSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Yes: "}, {"text": "7 copies at ¥528."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 512, "outputTokens": 24, "totalTokens": 536},
    "metrics": {"latencyMs": 431},
}


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


# --- Bedrock Converse --------------------------------------------------------------------------------------------


def test_converse_request_and_reply(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    stub.add_response("converse", CONVERSE_RESPONSE, expected_params={
        "modelId": HAIKU_ID,
        "system": [{"text": REQUEST.system}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello! How can I help?"}]},
            {"role": "user", "content": [{"text": "Do you have One Piece volume 105?"}]},
        ],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.3},
    })
    reply = BedrockConverseClient(client).generate(REQUEST)
    assert reply == ModelReply(text="Yes: 7 copies at ¥528.", stop_reason="end_turn", input_tokens=512,
                               output_tokens=24, latency_ms=431.0)


def test_converse_max_tokens_stop_reason_is_passed_through(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    stub.add_response("converse", {**CONVERSE_RESPONSE, "stopReason": "max_tokens"},
                      expected_params={"modelId": ANY, "system": ANY, "messages": ANY, "inferenceConfig": ANY})
    assert BedrockConverseClient(client).generate(REQUEST).stop_reason == "max_tokens"


def test_converse_with_a_provisioned_arn(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    stub.add_response("converse", CONVERSE_RESPONSE,
                      expected_params={"modelId": arn, "system": ANY, "messages": ANY, "inferenceConfig": ANY})
    request = ModelRequest(model_id=arn, system="s", messages=[{"role": "user", "text": "q"}])
    assert BedrockConverseClient(client).generate(request).input_tokens == 512


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 429, ModelThrottledError),
        ("ServiceQuotaExceededException", 400, ModelThrottledError),
        ("ModelTimeoutException", 408, ModelTimeoutError),
        ("ServiceUnavailableException", 503, ModelUnavailableError),
        ("InternalServerException", 500, ModelUnavailableError),
        ("ModelErrorException", 424, ModelUnavailableError),
        ("ModelNotReadyException", 429, ModelThrottledError),  # 429 means capacity, whatever the code
        ("ValidationException", 400, ModelRequestError),
        ("AccessDeniedException", 403, ModelRequestError),
        ("ResourceNotFoundException", 404, ModelRequestError),
    ],
)
def test_converse_errors_become_named_errors(bedrock: tuple[Any, Stubber], code: str, status: int,
                                             error: type[Exception]) -> None:
    client, stub = bedrock
    stub.add_client_error("converse", service_error_code=code, service_message="nope", http_status_code=status)
    with pytest.raises(error, match=code):
        BedrockConverseClient(client).generate(REQUEST)


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (ReadTimeoutError(endpoint_url="https://bedrock-runtime"), ModelTimeoutError),
        (ConnectTimeoutError(endpoint_url="https://bedrock-runtime"), ModelTimeoutError),
        (EndpointConnectionError(endpoint_url="https://bedrock-runtime"), ModelUnavailableError),
    ],
)
def test_connection_errors_become_named_errors(raised: Exception, error: type[Exception]) -> None:
    class Broken:
        def converse(self, **kwargs: Any) -> dict[str, Any]:
            raise raised

    with pytest.raises(error):
        BedrockConverseClient(Broken()).generate(REQUEST)


def test_other_exceptions_propagate_unchanged() -> None:
    class Broken:
        def converse(self, **kwargs: Any) -> dict[str, Any]:
            raise KeyError("bug")

    with pytest.raises(KeyError):
        BedrockConverseClient(Broken()).generate(REQUEST)


# --- SageMaker TGI -----------------------------------------------------------------------------------------------


def streaming(payload: Any) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def capture_invoke_params(client: Any) -> list[dict[str, Any]]:
    """The keyword arguments of each invoke_endpoint call, as the adapter passed them."""
    seen: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **kwargs: Any) -> None:
        seen.append(dict(params))

    client.meta.events.register("provide-client-params.sagemaker-runtime.InvokeEndpoint", hook)
    return seen


def test_render_tgi_prompt() -> None:
    # The model's chat template (ChatML by default) since #10, not ad-hoc <system>/<user> tags.
    prompt = render_tgi_prompt(REQUEST)
    assert prompt.startswith(f"<|im_start|>system\n{REQUEST.system}<|im_end|>\n")
    assert "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>user\nDo you have One Piece volume 105?<|im_end|>\n<|im_start|>assistant\n")


def test_sagemaker_request_body_and_reply(sagemaker: tuple[Any, Stubber]) -> None:
    client, stub = sagemaker
    seen = capture_invoke_params(client)
    payload = [{"generated_text": "  Yes, 7 copies at ¥528.  ",
                "details": {"finish_reason": "eos_token", "generated_tokens": 12,
                            "prefill": [{"id": n} for n in range(40)]}}]
    stub.add_response("invoke_endpoint", {"Body": streaming(payload), "ContentType": "application/json"},
                      expected_params={"EndpointName": SAGEMAKER_ENDPOINT, "ContentType": "application/json",
                                       "Accept": "application/json", "Body": ANY})
    request = ModelRequest(model_id=SAGEMAKER_ENDPOINT, system=REQUEST.system, messages=REQUEST.messages,
                           max_tokens=450, temperature=0.3)
    reply = SageMakerTGIClient(client).generate(request)

    body = json.loads(seen[0]["Body"])
    assert body["inputs"] == render_tgi_prompt(request)
    assert body["parameters"]["max_new_tokens"] == 450
    assert body["parameters"]["temperature"] == 0.3
    assert body["parameters"]["details"] is True
    assert body["parameters"]["stop"] == ["<|im_end|>"]

    assert reply.text == "Yes, 7 copies at ¥528."
    assert reply.stop_reason == "end_turn"
    assert reply.input_tokens == 40
    assert reply.output_tokens == 12
    assert reply.latency_ms >= 0


def test_sagemaker_zero_temperature_is_raised_to_tgi_minimum(sagemaker: tuple[Any, Stubber]) -> None:
    client, stub = sagemaker
    seen = capture_invoke_params(client)
    stub.add_response("invoke_endpoint", {"Body": streaming({"generated_text": "ok"})},
                      expected_params={"EndpointName": ANY, "ContentType": ANY, "Accept": ANY, "Body": ANY})
    SageMakerTGIClient(client).generate(ModelRequest(model_id="e", system="s", messages=[{"role": "user", "text": "q"}],
                                                     temperature=0.0))
    assert json.loads(seen[0]["Body"])["parameters"]["temperature"] > 0


def test_sagemaker_length_finish_is_max_tokens_and_object_payload(sagemaker: tuple[Any, Stubber]) -> None:
    client, stub = sagemaker
    payload = {"generated_text": "cut", "details": {"finish_reason": "length", "generated_tokens": 450}}
    stub.add_response("invoke_endpoint", {"Body": streaming(payload)},
                      expected_params={"EndpointName": ANY, "ContentType": ANY, "Accept": ANY, "Body": ANY})
    request = ModelRequest(model_id=SAGEMAKER_ENDPOINT, system="s" * 40, messages=[{"role": "user", "text": "q"}])
    reply = SageMakerTGIClient(client).generate(request)
    assert reply.stop_reason == "max_tokens"
    assert reply.output_tokens == 450
    assert reply.input_tokens == len(render_tgi_prompt(request)) // 4  # estimated without prefill details


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 429, ModelThrottledError),
        ("ModelNotReadyException", 429, ModelThrottledError),  # still loading: retry with backoff
        ("ServiceUnavailable", 503, ModelUnavailableError),
        ("InternalDependencyException", 530, ModelUnavailableError),
        ("ModelError", 424, ModelUnavailableError),  # the model container failed: not a bad request of ours
        ("ValidationError", 400, ModelRequestError),
    ],
)
def test_sagemaker_errors_become_named_errors(sagemaker: tuple[Any, Stubber], code: str, status: int,
                                              error: type[Exception]) -> None:
    client, stub = sagemaker
    stub.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=status)
    with pytest.raises(error):
        SageMakerTGIClient(client).generate(ModelRequest(model_id="e", system="s",
                                                         messages=[{"role": "user", "text": "q"}]))
