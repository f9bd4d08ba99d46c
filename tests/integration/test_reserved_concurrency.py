"""A throttled function, as Lambda and Step Functions report it: 429 TooManyRequestsException on the Invoke API,
`Lambda.TooManyRequestsException` in the state machine, where the Retry clauses match it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from conftest import run_turn, turn_input

pytestmark = pytest.mark.integration


@pytest.fixture
def throttled(local_aws) -> Iterator[callable]:
    functions = local_aws.template.functions
    saved = dict(functions)

    def throttle(logical_id: str) -> None:
        functions[logical_id] = dataclasses.replace(functions[logical_id], reserved_concurrency=0)

    yield throttle
    functions.clear()
    functions.update(saved)


def test_the_invoke_api_answers_a_throttle_with_429(local_aws, throttled):
    throttled("ClassifyFunction")
    client = local_aws.client("lambda")
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=local_aws.template.physical_name("ClassifyFunction"), Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_the_state_machine_retries_a_throttled_task_then_degrades(local_aws, throttled):
    throttled("EmbedQueryFunction")
    gate = local_aws.runtime.gate
    before = gate.throttles.get("EmbedQueryFunction", 0)
    frame = run_turn(local_aws, turn_input("What is your return policy?", "en"))
    # The first call and the Retry clause's two attempts: the clause matched Lambda.TooManyRequestsException
    # (moto alone would have called it "Exception", which no Retry lists).
    assert gate.throttles["EmbedQueryFunction"] - before == 3
    assert frame["type"] == "answer"
    assert frame["meta"]["validation"]["decision"] != "fallback", json.dumps(frame["meta"], ensure_ascii=False)
