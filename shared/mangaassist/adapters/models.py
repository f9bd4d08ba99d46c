"""The ModelClient port and its adapters: Bedrock Converse and SageMaker (TGI).

Adapters turn service errors into the domain's named errors so the state
machine can Retry on throttling and Catch the rest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from mangaassist.adapters import chat_template
from mangaassist.errors import ModelRequestError, ModelThrottledError, ModelTimeoutError, ModelUnavailableError

_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
_TIMEOUT = {"ModelTimeoutException", "RequestTimeout"}
_UNAVAILABLE = {"ServiceUnavailableException", "InternalServerException", "ModelNotReadyException",
                "ModelErrorException", "ModelError", "InternalFailure", "ServiceUnavailable"}


@dataclass(frozen=True)
class ModelRequest:
    model_id: str
    system: str
    messages: list[dict[str, str]]  # [{"role": "user"|"assistant", "text": ...}], ending with the user's
    max_tokens: int = 512
    temperature: float = 0.3


@dataclass(frozen=True)
class ModelReply:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    latency_ms: float


class ModelClient(Protocol):
    def generate(self, request: ModelRequest) -> ModelReply: ...


def _raise_named(error: Exception) -> None:
    """Re-raise a botocore error as the domain error the state machine understands."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = f"{code}: {error.response.get('Error', {}).get('Message', '')}"
        if code in _THROTTLED or status == 429:
            raise ModelThrottledError(message) from error
        if code in _TIMEOUT or status == 408:
            raise ModelTimeoutError(message) from error
        if code in _UNAVAILABLE or status >= 500 or status == 424:  # 424: SageMaker's container failed
            raise ModelUnavailableError(message) from error
        raise ModelRequestError(message) from error
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        raise ModelTimeoutError(str(error)) from error
    if isinstance(error, EndpointConnectionError):
        raise ModelUnavailableError(str(error)) from error
    raise error


class BedrockConverseClient:
    """Claude on Bedrock through the Converse API (on-demand ids, inference profiles, provisioned ARNs)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime  # a bedrock-runtime client

    def generate(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        try:
            response = self._runtime.converse(
                modelId=request.model_id,
                system=[{"text": request.system}],
                messages=[{"role": m["role"], "content": [{"text": m["text"]}]} for m in request.messages],
                inferenceConfig={"maxTokens": request.max_tokens, "temperature": request.temperature},
            )
        except Exception as error:  # noqa: BLE001 - mapped to named errors below
            _raise_named(error)
        elapsed = (time.perf_counter() - started) * 1000
        text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
        usage = response.get("usage", {})
        return ModelReply(
            text=text,
            stop_reason=response.get("stopReason", "end_turn"),
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            latency_ms=float(response.get("metrics", {}).get("latencyMs", elapsed)),
        )


def render_tgi_prompt(request: ModelRequest, template: str = "chatml") -> str:
    """The TGI `inputs`: the model's chat template, user and history text escaped (adapters.chat_template)."""
    return chat_template.render(chat_template.TEMPLATES[template], request.system, request.messages)


class SageMakerTGIClient:
    """The manga-specific model on a SageMaker real-time endpoint (TGI payload)."""

    def __init__(self, runtime: Any, template: str = "chatml") -> None:
        self._runtime = runtime  # a sagemaker-runtime client
        self._template = template  # the model's chat template (settings: SAGEMAKER_CHAT_TEMPLATE)

    def generate(self, request: ModelRequest) -> ModelReply:
        body = {
            "inputs": render_tgi_prompt(request, self._template),
            "parameters": {"max_new_tokens": request.max_tokens, "temperature": max(request.temperature, 0.01),
                           "details": True, "decoder_input_details": True,
                           "stop": list(chat_template.TEMPLATES[self._template].stop)},
        }
        started = time.perf_counter()
        try:
            response = self._runtime.invoke_endpoint(
                EndpointName=request.model_id, ContentType="application/json", Accept="application/json",
                Body=json.dumps(body).encode(),
            )
            payload = json.loads(response["Body"].read())
        except Exception as error:  # noqa: BLE001 - mapped to named errors below
            _raise_named(error)
        elapsed = (time.perf_counter() - started) * 1000
        first = payload[0] if isinstance(payload, list) else payload
        details = first.get("details") or {}
        finish = details.get("finish_reason", "eos_token")
        return ModelReply(
            text=first.get("generated_text", "").strip(),
            stop_reason="max_tokens" if finish == "length" else "end_turn",
            input_tokens=len(details.get("prefill") or []) or len(body["inputs"]) // 4,
            output_tokens=int(details.get("generated_tokens", 0)),
            latency_ms=elapsed,
        )
