"""The WebSocket protocol (SPEC §1): client frames in, answer and error frames out."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame limit
MAX_MESSAGE_CHARS = 2000


class ProtocolError(Exception):
    """A frame we cannot serve; `code` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ClientFrame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    action: Literal["sendMessage"]
    session_id: StrictStr = Field(alias="sessionId", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: StrictStr
    locale: Literal["ja", "en"] | None = None


def parse_client_frame(body: str | None, is_base64: bool = False) -> ClientFrame:
    if is_base64:
        raise ProtocolError("BINARY_NOT_SUPPORTED", "binary frames are not supported; send JSON text")
    if body is None or not body.strip():
        raise ProtocolError("EMPTY_FRAME", "the frame is empty")
    if len(body.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError("FRAME_TOO_LARGE", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        raw: Any = json.loads(body)
    except ValueError:
        raise ProtocolError("INVALID_JSON", "the frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_FRAME", "the frame must be a JSON object")
    if raw.get("action") != "sendMessage":
        raise ProtocolError("UNKNOWN_ACTION", f"unknown action {raw.get('action')!r}; use 'sendMessage'")
    for field in ("sessionId", "message"):
        if field not in raw:
            raise ProtocolError("MISSING_FIELD", f"'{field}' is required")
    if isinstance(raw["message"], str):
        if not raw["message"].strip():
            raise ProtocolError("EMPTY_MESSAGE", "'message' must not be empty")
        if len(raw["message"]) > MAX_MESSAGE_CHARS:
            raise ProtocolError("MESSAGE_TOO_LONG", f"'message' is limited to {MAX_MESSAGE_CHARS} characters")
    try:
        return ClientFrame.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError("INVALID_FIELD", f"'{where}': {first['msg']}") from None


def decode_body(event: dict[str, Any]) -> tuple[str | None, bool]:
    """The frame body of an API Gateway WebSocket event and whether it was binary."""
    return event.get("body"), bool(event.get("isBase64Encoded"))


class RouteMeta(BaseModel):
    target: str
    reason: str
    fallback: str


class ValidationMeta(BaseModel):
    decision: Literal["accept", "fallback"]
    failures: list[str] = Field(default_factory=list)


class AnswerMeta(BaseModel):
    """What every answer frame tells the client about its turn (SPEC §1), whichever path produced it."""

    model_config = ConfigDict(extra="forbid")
    turnId: str
    task: str
    language: Literal["ja", "en", "mixed"]
    complexity: float | None = None
    route: RouteMeta | None = None
    tiers: list[dict[str, Any]] = Field(default_factory=list)  # turn.TierCall, as JSON
    escalated: bool = False
    confidence: float | None = None
    validation: ValidationMeta
    cache: Literal["miss", "exact"] = "miss"
    cost_usd: str = Field(pattern=r"^\d+(\.\d+)?$")  # a plain decimal string, never a float
    latency_ms: dict[str, float] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)


class AnswerFrame(BaseModel):
    """The one answer frame: Finalize, cache hits, sendMessage's fallback and the machine's LastResortReply."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["answer"] = "answer"
    turnId: str
    text: str = Field(min_length=1)
    meta: AnswerMeta

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def error_frame(code: str, message: str, turn_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if turn_id:
        frame["turnId"] = turn_id
    return frame
