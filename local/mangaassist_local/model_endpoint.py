"""The local model endpoint: bedrock-runtime Converse / InvokeModel and
sagemaker-runtime InvokeEndpoint (TGI payload), answered by `local_model`.

Errors are shaped as the real services shape them (status, x-amzn-ErrorType),
so botocore raises its real exceptions and the adapters map them as in AWS.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from mangaassist.adapters import chat_template
from mangaassist_local import local_embeddings, local_model
from mangaassist_local.faults import FaultPlan
from mangaassist_local.latency import Latency

_ERRORS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "error": (500, "InternalServerException", "The model failed to process the request."),
    "timeout": (408, "ModelTimeoutException", "The model timed out while processing the request."),
}
_SM_ERRORS = {
    "throttle": (429, "ThrottlingException", "Rate exceeded for the endpoint."),
    "error": (424, "ModelError", "Received server error (500) from the primary container."),
    "timeout": (424, "ModelError", "The container did not respond within the invocation timeout."),
}


@dataclass
class ModelEndpoint:
    faults: FaultPlan = field(default_factory=FaultPlan)
    latency: Latency = field(default_factory=Latency)  # per tier, zero by default
    calls: list[dict[str, Any]] = field(default_factory=list)  # what was asked, for tests and the CLI

    @staticmethod
    def tier_of(model_id: str) -> str:
        lowered = model_id.lower()
        if "embed" in lowered:
            return "embeddings"
        if "haiku" in lowered:
            return "haiku"
        if "provisioned-model" in lowered:
            return "sonnet_provisioned"
        if "sonnet" in lowered:
            return "sonnet"
        return "sagemaker"

    @staticmethod
    def fault_target(tier: str) -> str:
        return "sonnet" if tier == "sonnet_provisioned" else tier  # --fault sonnet=... covers both

    def _delay_or_fail(self, tier: str, errors: dict[str, tuple[int, str, str]]) -> Response | None:
        failure, extra = self.faults.draw(self.fault_target(tier))
        delay = self.latency.delay_ms(tier) + extra
        if delay:
            time.sleep(delay / 1000)
        self.calls.append({"tier": tier, "failure": failure})
        if failure in (None, "pii"):
            return None
        status, code, message = errors[failure]
        return Response(json.dumps({"message": message}), status=status, mimetype="application/json",
                        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"})

    def _leaks(self, tier: str) -> bool:
        """Whether the last call drew the pii fault: the answer must come back unsafe."""
        return bool(self.calls) and self.calls[-1] == {"tier": tier, "failure": "pii"}

    def converse(self, request: Request, model_id: str) -> Response:
        tier = self.tier_of(model_id)
        if (failed := self._delay_or_fail(tier, _ERRORS)) is not None:
            return failed
        leak = self._leaks(tier)
        started = time.perf_counter()
        body = request.get_json(force=True)
        system = " ".join(block.get("text", "") for block in body.get("system", []))
        texts = [" ".join(c.get("text", "") for c in m.get("content", [])) for m in body.get("messages", [])]
        text = local_model.answer(tier, local_model.parse_prompt(system, texts[-1] if texts else ""))
        if leak:
            text += " Questions? Write to tanaka.hiro@example.com or call 090-1234-5678."
        max_tokens = body.get("inferenceConfig", {}).get("maxTokens", 4096)
        text, stop = _truncate(text, max_tokens)
        usage = {"inputTokens": local_model.count_tokens(system + "".join(texts)),
                 "outputTokens": local_model.count_tokens(text)}
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
        return _json({"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop,
                      "usage": usage, "metrics": {"latencyMs": int((time.perf_counter() - started) * 1000)}})

    def invoke_model(self, request: Request, model_id: str) -> Response:
        tier = self.tier_of(model_id)
        if tier == "embeddings":
            return self.embed(request, model_id)
        if (failed := self._delay_or_fail(tier, _ERRORS)) is not None:
            return failed
        body = json.loads(request.get_data() or b"{}")
        system = body.get("system", "")
        texts = []
        for message in body.get("messages", []):
            content = message.get("content", "")
            texts.append(content if isinstance(content, str) else " ".join(c.get("text", "") for c in content))
        text = local_model.answer(tier, local_model.parse_prompt(system, texts[-1] if texts else ""))
        text, stop = _truncate(text, body.get("max_tokens", 4096))
        return _json({"id": "msg_local", "type": "message", "role": "assistant", "model": model_id,
                      "content": [{"type": "text", "text": text}], "stop_reason": stop,
                      "usage": {"input_tokens": local_model.count_tokens(system + "".join(texts)),
                                "output_tokens": local_model.count_tokens(text)}})

    def embed(self, request: Request, model_id: str) -> Response:
        """Titan Text Embeddings v2's InvokeModel contract, answered by multilingual-e5-small (384 dims)."""
        if (failed := self._delay_or_fail("embeddings", _ERRORS)) is not None:
            return failed
        body = json.loads(request.get_data() or b"{}")
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            return _validation_error("inputText must be a non-empty string")
        dimensions = body.get("dimensions", local_embeddings.DIMENSIONS)
        if dimensions != local_embeddings.DIMENSIONS:
            return _validation_error(f"the local embeddings model has {local_embeddings.DIMENSIONS} dimensions, "
                                     f"not {dimensions}: set EmbeddingDimensions={local_embeddings.DIMENSIONS}")
        vector = local_embeddings.embed(text)
        return _json({"embedding": vector, "inputTextTokenCount": local_model.count_tokens(text)})

    def invoke_endpoint(self, request: Request, endpoint: str) -> Response:
        if (failed := self._delay_or_fail("sagemaker", _SM_ERRORS)) is not None:
            return failed
        body = json.loads(request.get_data() or b"{}")
        transcript = body.get("inputs", "")
        system, turns = chat_template.parse(chat_template.detect(transcript), transcript)
        users = [turn["text"] for turn in turns if turn["role"] == "user"]
        text = local_model.answer("sagemaker", local_model.parse_prompt(system, users[-1] if users else ""))
        params = body.get("parameters", {})
        text, stop = _truncate(text, params.get("max_new_tokens", 4096))
        details: dict[str, Any] = {"finish_reason": "length" if stop == "max_tokens" else "eos_token",
                   "generated_tokens": local_model.count_tokens(text)}
        if params.get("decoder_input_details"):
            details["prefill"] = [{"id": n} for n in range(local_model.count_tokens(transcript))]
        return _json([{"generated_text": text, "details": details}])


def _validation_error(message: str) -> Response:
    return Response(json.dumps({"message": message}), status=400, mimetype="application/json",
                    headers={"x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/"})


def _truncate(text: str, max_tokens: int) -> tuple[str, str]:
    if local_model.count_tokens(text) <= max_tokens:
        return text, "end_turn"
    while text and local_model.count_tokens(text) > max_tokens:
        text = text[: int(len(text) * 0.9)]
    return text, "max_tokens"


def _json(payload: Any) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")
