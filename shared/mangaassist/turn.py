"""The chat-turn payload passed between the state machine's states.

Each Task writes its own key (ResultPath), so the document stays small
(well under the 256 KB Step Functions limit): ids and short texts only.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator


class Task(StrEnum):
    GREETING = "greeting"
    FAQ = "faq"
    PRODUCT_SEARCH = "product_search"
    RECOMMENDATION = "recommendation"
    COMPARISON = "comparison"
    DISCUSSION = "discussion"
    ORDER_STATUS = "order_status"
    SUMMARIZATION = "summarization"
    TRANSLATION = "translation"
    UNKNOWN = "unknown"


class Language(StrEnum):
    JA = "ja"
    EN = "en"
    MIXED = "mixed"


class Target(StrEnum):
    HAIKU = "haiku"
    SONNET = "sonnet"
    SONNET_PROVISIONED = "sonnet_provisioned"
    SAGEMAKER = "sagemaker"
    CANNED = "canned"


class Outcome(StrEnum):
    OK = "ok"
    THROTTLED = "throttled"
    ERROR = "error"
    TIMEOUT = "timeout"
    LOW_CONFIDENCE = "low_confidence"


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=False)


class HistoryItem(Model):
    role: Literal["user", "assistant"]
    text: str


class TurnRequest(Model):
    turn_id: str
    session_id: str
    message: str
    locale: Literal["ja", "en"] | None = None
    connection_id: str | None = None
    received_at_ms: int
    history: list[HistoryItem] = Field(default_factory=list)
    # Who is talking: the customer id, or "guest:<connectionId>"; None (an older caller) is a guest.
    principal: str | None = None

    @property
    def signed_in(self) -> bool:
        return bool(self.principal) and not str(self.principal).startswith("guest:")


class TurnConfig(Model):
    """Deploy-time settings injected by the state machine's LoadConfig state."""

    haiku_model_id: str
    sonnet_model_id: str
    sonnet_provisioned_arn: str = ""
    sagemaker_endpoint: str = ""
    confidence_threshold: float = 0.80
    daily_budget_usd: Decimal = Decimal("700")

    @field_validator("confidence_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float:
        threshold = float(value)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("confidence_threshold must be within 0..1")
        return threshold


class QueryEmbedding(Model):
    """The user message's embedding, computed once per turn (EmbedQuery) for Classify and Retrieve.

    In the state document the vector is base64 of little-endian float32, the model's own precision: a third
    of the JSON list's size, and one string for Step Functions to carry through every state instead of
    hundreds of numbers. A list is still accepted (older events, tests).
    """

    model_id: str
    vector: list[float]
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time

    @field_validator("vector", mode="before")
    @classmethod
    def _unpack(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            packed = array("f", base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError) as error:
            raise ValueError("vector must be a list of numbers or base64 of float32") from error
        if sys.byteorder != "little":
            packed.byteswap()
        return packed.tolist()

    @field_serializer("vector", when_used="json")
    def _pack(self, value: list[float]) -> str:
        packed = array("f", value)
        if sys.byteorder != "little":
            packed.byteswap()
        return base64.b64encode(packed.tobytes()).decode("ascii")


class Entities(Model):
    titles: list[str] = Field(default_factory=list)  # catalog series ids
    volumes: list[int] = Field(default_factory=list)
    order_ids: list[str] = Field(default_factory=list)


class Classification(Model):
    task: Task
    language: Language
    complexity: float = Field(ge=0.0, le=1.0)
    manga_specific: bool
    confidence: float = Field(ge=0.0, le=1.0)
    entities: Entities = Field(default_factory=Entities)
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time


class SourceRef(Model):
    """A retrieved source: a short reference, never the whole document."""

    kind: Literal["series", "policy", "product", "order"]
    id: str
    title: str
    snippet: str = ""
    score: float = 0.0
    facts: dict[str, str | int | None] = Field(default_factory=dict)


class Retrieval(Model):
    sources: list[SourceRef] = Field(default_factory=list)
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time


class Understanding(Model):
    classification: Classification
    retrieval: Retrieval


class CacheLookup(Model):
    """Route's semantic-cache lookup: on a hit the machine goes straight to Finalize with the cached answer."""

    hit: bool = False
    distance: float | None = None  # the nearest entry under the same guard (None: no entry, or no lookup)
    text: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)  # the cached frame's meta


class RouteDecision(Model):
    target: Target
    reason: str
    fallback: Target
    escalate_to: Target | None = None
    confidence_threshold: float
    # The runtime configuration this turn uses (mangaassist.tuning): its version, the task's max tokens (None: the
    # prompts' default) and the answer cache TTL (None: the cache's default).
    config_version: int = 0
    max_tokens: int | None = Field(default=None, gt=0)
    cache_ttl_seconds: int | None = Field(default=None, gt=0)
    cache: CacheLookup = Field(default_factory=CacheLookup)  # the CacheHit Choice reads $.route.cache.hit
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time


class TierCall(Model):
    target: Target
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    latency_ms: float = 0.0
    outcome: Outcome = Outcome.OK

    @field_serializer("cost_usd")
    def _plain_decimal(self, value: Decimal) -> str:
        return format(value, "f")  # "0.00000075", never "7.5E-7"


class Answer(Model):
    text: str
    target: Target
    stop_reason: str = "end_turn"
    confidence: float = Field(ge=0.0, le=1.0)
    tiers: list[TierCall] = Field(default_factory=list)
    escalated: bool = False
    retried: bool = False
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time


class Validation(Model):
    decision: Literal["accept", "retry", "fallback"]
    failures: list[str] = Field(default_factory=list)
    elapsed_ms: float = 0.0
    cold_start_ms: float = 0.0  # this step's environment started cold: its init time


class TaskFailure(Model):
    """What a Catch puts in the state: the error name and its cause."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class TurnState(Model):
    request: TurnRequest
    config: TurnConfig
    query_embedding: QueryEmbedding | None = None
    understanding: Understanding | None = None
    route: RouteDecision | None = None
    answer: Answer | None = None
    validation: Validation | None = None
    attempt_failure: TaskFailure | None = None
    escalation_failure: TaskFailure | None = None
    retry_failure: TaskFailure | None = None
    failure: TaskFailure | None = None
    embedding_failure: TaskFailure | None = None

    @property
    def language(self) -> Language:
        """The language to answer in: classified, else the locale hint, else English."""
        if self.understanding is not None:
            return self.understanding.classification.language
        return Language(self.request.locale or "en")
