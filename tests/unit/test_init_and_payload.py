"""The turn's state document carries the query embedding compactly; handlers do their init in the init phase."""

from __future__ import annotations

import json
import logging
import math
from array import array

import pytest
from pydantic import ValidationError

from mangaassist.lambda_task import prime
from mangaassist.turn import QueryEmbedding, TurnState

VECTOR = [math.sin(i) / 10 for i in range(384)]  # 384 dimensions, as multilingual-e5-small


def test_the_vector_travels_as_base64_float32_and_comes_back_as_the_same_numbers() -> None:
    embedding = QueryEmbedding(model_id="e5", vector=VECTOR)
    dumped = embedding.model_dump(mode="json")
    assert isinstance(dumped["vector"], str)
    float32 = array("f", VECTOR).tolist()  # the model's own precision
    assert QueryEmbedding.model_validate(dumped).vector == float32
    assert len(json.dumps(dumped)) * 2 < len(json.dumps({"vector": VECTOR}))  # well under half the JSON list
    assert embedding.model_dump()["vector"] == VECTOR  # Python-side dumps keep the list


def test_a_list_is_still_accepted_and_the_whole_state_round_trips() -> None:
    state = TurnState.model_validate({
        "request": {"turn_id": "t", "session_id": "s", "message": "hi", "received_at_ms": 1},
        "config": {"haiku_model_id": "h", "sonnet_model_id": "s"},
        "query_embedding": {"model_id": "e5", "vector": VECTOR[:8]},
    })
    again = TurnState.model_validate(json.loads(json.dumps(state.model_dump(mode="json"))))
    assert again.query_embedding is not None
    assert again.query_embedding.vector == array("f", VECTOR[:8]).tolist()


@pytest.mark.parametrize("bad", ["not base64!", "AAA=", "AAAAAAA="])  # not base64; 2 and 5 bytes: not float32s
def test_a_vector_that_is_not_float32_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValidationError, match="base64 of float32"):
        QueryEmbedding.model_validate({"model_id": "e5", "vector": bad})


def test_prime_does_nothing_outside_a_lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    built: list[str] = []
    prime(lambda: built.append("client"))
    assert built == []


def test_prime_builds_in_a_lambda_environment_and_a_failure_waits_for_the_first_invocation(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mangaassist-RouteFunction")
    built: list[str] = []

    def redis_down() -> None:
        raise ConnectionError("redis is down")

    with caplog.at_level(logging.WARNING):
        prime(lambda: built.append("client"), redis_down, lambda: built.append("patterns"))
    assert built == ["client", "patterns"]  # the failure neither raised nor stopped the rest
    assert "redis_down" in caplog.text
