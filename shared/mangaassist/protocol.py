"""The WebSocket protocol (SPEC §1): client frames in, answer and error frames out."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from mangaassist.textnorm import clean_text, has_lone_surrogate

MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame limit
MAX_MESSAGE_CHARS = 2000
MAX_NESTING = 32  # a frame is one flat object; deeper JSON is an attack on the parser (RecursionError)


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


def _nesting_depth(body: str) -> int:
    """The deepest [ / { nesting outside strings: checked before json.loads, which recurses once per level."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in body:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _shown(value: Any) -> str:
    """A client's value quoted in an error message: ASCII-only (a lone surrogate cannot break the reply), short."""
    shown = ascii(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_client_frame(body: str | None, is_base64: bool = False) -> ClientFrame:
    """The frame, or ProtocolError with a stable code; never any other exception, whatever the body."""
    if is_base64:
        raise ProtocolError("BINARY_NOT_SUPPORTED", "binary frames are not supported; send JSON text")
    if body is None or not body.strip():
        raise ProtocolError("EMPTY_FRAME", "the frame is empty")
    if has_lone_surrogate(body):  # API Gateway hands over valid UTF-8, but a direct caller may not
        raise ProtocolError("INVALID_UNICODE", "the frame is not valid UTF-8 text")
    if len(body.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError("FRAME_TOO_LARGE", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    if _nesting_depth(body) > MAX_NESTING:
        raise ProtocolError("FRAME_TOO_DEEP", f"JSON nested deeper than {MAX_NESTING} levels is not accepted")
    try:
        raw: Any = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("INVALID_JSON", "the frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_FRAME", "the frame must be a JSON object")
    if raw.get("action") != "sendMessage":
        raise ProtocolError("UNKNOWN_ACTION", f"unknown action {_shown(raw.get('action'))}; use 'sendMessage'")
    for field in ("sessionId", "message"):
        if field not in raw:
            raise ProtocolError("MISSING_FIELD", f"'{field}' is required")
    if isinstance(raw["message"], str):
        raw["message"] = _clean_message(raw["message"])
    try:
        return ClientFrame.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError("INVALID_FIELD", f"'{where}': {first['msg']}") from None


def _clean_message(message: str) -> str:
    """The message as the turn sees it: valid Unicode, NFKC, no control or invisible format characters."""
    if has_lone_surrogate(message):  # "\ud800" decodes to a lone surrogate: no UTF-8 encoding exists
        raise ProtocolError("INVALID_UNICODE", "'message' contains an unpaired UTF-16 surrogate (invalid Unicode)")
    cleaned = clean_text(message)
    if not cleaned.strip():
        raise ProtocolError("EMPTY_MESSAGE", "'message' must not be empty (control and invisible characters "
                                             "are removed)")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise ProtocolError("MESSAGE_TOO_LONG", f"'message' is limited to {MAX_MESSAGE_CHARS} characters")
    return cleaned


def decode_body(event: dict[str, Any]) -> tuple[str | None, bool]:
    """The frame body of an API Gateway WebSocket event and whether it was binary."""
    return event.get("body"), bool(event.get("isBase64Encoded"))


class RouteMeta(BaseModel):
    target: str
    reason: str
    fallback: str
    # The runtime configuration the turn used (mangaassist.tuning): its version and the values it set.
    config_version: int | None = None
    confidence_threshold: float | None = None
    max_tokens: int | None = None


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
    cache: Literal["miss", "exact", "semantic"] = "miss"
    cache_distance: float | None = None  # cosine distance to the semantic cache's nearest match under the guard
    cost_usd: str = Field(pattern=r"^\d+(\.\d+)?$")  # a plain decimal string, never a float
    latency_ms: dict[str, float] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    history_turns: int = Field(default=0, ge=0)  # how many turns of the principal's session history the answer saw


class AnswerFrame(BaseModel):
    """The one answer frame: Finalize, cache hits, sendMessage's fallback and the machine's LastResortReply."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["answer"] = "answer"
    turnId: str
    text: str = Field(min_length=1)
    meta: AnswerMeta

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def error_frame(code: str, message: str, turn_id: str | None = None, retry_after: int | None = None) -> dict[str, Any]:
    """`retryAfter`: whole seconds before the client may send again (RATE_LIMITED, QUOTA_EXCEEDED)."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if turn_id:
        frame["turnId"] = turn_id
    if retry_after is not None:
        frame["retryAfter"] = retry_after
    return frame
