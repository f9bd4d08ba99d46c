"""Shared builders and fakes for the domain unit tests.

No network and no AWS account: the boto3 clients in these tests are stubbed
with botocore's Stubber, and the fixtures below set fake credentials.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from mangaassist.adapters.models import ModelReply, ModelRequest
from mangaassist.settings import settings
from mangaassist.turn import (
    Answer,
    Classification,
    Entities,
    HistoryItem,
    Language,
    Retrieval,
    RouteDecision,
    SourceRef,
    Target,
    Task,
    TaskFailure,
    TierCall,
    TurnConfig,
    TurnRequest,
    TurnState,
    Understanding,
    Validation,
)

HAIKU_ID = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_ID = "anthropic.claude-3-sonnet-20240229-v1:0"
PROVISIONED_ARN = "arn:aws:bedrock:ap-northeast-1:123456789012:provisioned-model/abc123"
SAGEMAKER_ENDPOINT = "mangaassist-manga-llm"
RECEIVED_AT_MS = 1_760_000_000_000


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region so no test can reach (or need) a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()  # each test reads the environment it sets
    yield
    settings.cache_clear()


# --- sources ---------------------------------------------------------------------------------------------------


def product_source(series_id: str = "one-piece", volume: int = 105, price_jpy: int = 528, stock: int = 7,
                   title_en: str = "One Piece") -> SourceRef:
    return SourceRef(kind="product", id=f"{series_id}#{volume}", title=f"{title_en} vol. {volume}",
                     facts={"series_id": series_id, "volume": volume, "price_jpy": price_jpy, "stock": stock})


def series_source(series_id: str = "vinland-saga", title: str = "Vinland Saga (ヴィンランド・サガ)", volumes: int = 29,
                  price_jpy: int = 770) -> SourceRef:
    return SourceRef(kind="series", id=series_id, title=title,
                     facts={"volumes": volumes, "price_jpy": price_jpy, "status": "ongoing"})


def order_source(order_id: str = "MGA-2025-00417", status: str = "shipped") -> SourceRef:
    return SourceRef(kind="order", id=order_id, title=f"Order {order_id}",
                     facts={"status": status, "carrier": "Yamato Transport", "tracking_number": "4521-8830-1027",
                            "eta": "2025-10-18"})


def policy_source(policy_id: str = "returns") -> SourceRef:
    return SourceRef(kind="policy", id=policy_id, title="Returns and refunds",
                     snippet="Unopened items can be returned within 14 days.")


# --- state builders --------------------------------------------------------------------------------------------


def make_config(**overrides: Any) -> TurnConfig:
    values: dict[str, Any] = {"haiku_model_id": HAIKU_ID, "sonnet_model_id": SONNET_ID}
    values.update(overrides)
    return TurnConfig(**values)


def make_history(turns: int) -> list[HistoryItem]:
    """`turns` user/assistant pairs, numbered so a test can tell which ones were kept."""
    items = []
    for n in range(1, turns + 1):
        items.append(HistoryItem(role="user", text=f"question {n}"))
        items.append(HistoryItem(role="assistant", text=f"answer {n}"))
    return items


def make_request(message: str = "Do you have One Piece volume 105?", locale: str | None = None,
                 history: list[HistoryItem] | None = None, received_at_ms: int = RECEIVED_AT_MS) -> TurnRequest:
    return TurnRequest(turn_id="1760000000000-abcdef123456", session_id="session-1", message=message, locale=locale,
                       connection_id="conn-1", received_at_ms=received_at_ms, history=history or [])


def make_classification(task: Task = Task.PRODUCT_SEARCH, language: Language = Language.EN,
                        complexity: float = 0.2, manga_specific: bool = False,
                        entities: Entities | None = None) -> Classification:
    return Classification(task=task, language=language, complexity=complexity, manga_specific=manga_specific,
                          confidence=0.9, entities=entities or Entities())


def make_route(target: Target = Target.HAIKU, fallback: Target = Target.SONNET,
               escalate_to: Target | None = Target.SONNET, reason: str = "default_haiku_first",
               threshold: float = 0.8) -> RouteDecision:
    return RouteDecision(target=target, reason=reason, fallback=fallback, escalate_to=escalate_to,
                         confidence_threshold=threshold)


def make_tier(target: Target = Target.HAIKU, input_tokens: int = 500, output_tokens: int = 350,
              cost_usd: str = "0.0005625", outcome: str = "ok", model_id: str = HAIKU_ID) -> TierCall:
    return TierCall(target=target, model_id=model_id, input_tokens=input_tokens, output_tokens=output_tokens,
                    cost_usd=Decimal(cost_usd), outcome=outcome)


def make_answer(text: str = "One Piece volume 105 costs ¥528 and we have 7 copies left.",
                target: Target = Target.HAIKU, confidence: float = 0.95, tiers: list[TierCall] | None = None,
                **extra: Any) -> Answer:
    return Answer(text=text, target=target, confidence=confidence,
                  tiers=tiers if tiers is not None else [make_tier(target)], **extra)


def make_state(
    message: str = "Do you have One Piece volume 105?",
    *,
    task: Task = Task.PRODUCT_SEARCH,
    language: Language = Language.EN,
    locale: str | None = None,
    sources: list[SourceRef] | None = None,
    history: list[HistoryItem] | None = None,
    config: TurnConfig | None = None,
    route: RouteDecision | None = None,
    answer: Answer | None = None,
    validation: Validation | None = None,
    attempt_failure: str | None = None,
    escalation_failure: str | None = None,
    retry_failure: str | None = None,
    failure: str | None = None,
    understood: bool = True,
    received_at_ms: int = RECEIVED_AT_MS,
) -> TurnState:
    """A TurnState as the state machine would hand it to a step; failures are Catch error names."""
    understanding = None
    if understood:
        understanding = Understanding(
            classification=make_classification(task=task, language=language),
            retrieval=Retrieval(sources=sources if sources is not None else [product_source()]),
        )

    def caught(error: str | None) -> TaskFailure | None:
        return TaskFailure.model_validate({"Error": error, "Cause": "{}"}) if error else None

    return TurnState(
        request=make_request(message, locale=locale, history=history, received_at_ms=received_at_ms),
        config=config or make_config(),
        understanding=understanding,
        route=route,
        answer=answer,
        validation=validation,
        attempt_failure=caught(attempt_failure),
        escalation_failure=caught(escalation_failure),
        retry_failure=caught(retry_failure),
        failure=caught(failure),
    )


# --- a fake model ----------------------------------------------------------------------------------------------


@dataclass
class FakeModelClient:
    target: Target
    owner: FakeClients

    def generate(self, request: ModelRequest) -> ModelReply:
        self.owner.requests.append((self.target, request))
        queue = self.owner.replies[self.target]
        if not queue:
            raise AssertionError(f"unexpected model call on {self.target}")
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


@dataclass
class FakeClients:
    """A ClientFactory: canned replies per target, every request recorded in call order."""

    replies: dict[Target, list[ModelReply | Exception]] = field(default_factory=lambda: defaultdict(list))
    requests: list[tuple[Target, ModelRequest]] = field(default_factory=list)

    def add(self, target: Target, text: str, *, stop_reason: str = "end_turn", input_tokens: int = 500,
            output_tokens: int = 350, latency_ms: float = 120.0) -> None:
        self.replies[target].append(ModelReply(text=text, stop_reason=stop_reason, input_tokens=input_tokens,
                                               output_tokens=output_tokens, latency_ms=latency_ms))

    def __call__(self, target: Target) -> FakeModelClient:
        return FakeModelClient(target, self)


@pytest.fixture
def clients() -> FakeClients:
    return FakeClients()
