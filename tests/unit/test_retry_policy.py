"""One retry policy and one latency budget: the state machine is checked against them.

A hand-edited ASL that retries the Parallel, retries function timeouts on a model task, drops a Task's
TimeoutSeconds or lets a branch fail the whole turn fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mangaassist import deadlines

REPO = Path(__file__).resolve().parents[2]
ASL = json.loads((REPO / "statemachines" / "chat_turn.asl.json").read_text())
TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
             "Lambda.ClientExecutionTimeoutException", "Lambda.TooManyRequestsException"}
TIMEOUTS = {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout", "States.ALL", "States.TaskFailed"}
# Which of our own error names each function can raise (the only ones worth a Retry clause).
RAISES = {"EmbedQuery": "DependencyThrottledError", "Retrieve": "DependencyThrottledError",
          "RetrieveByKeywords": "DependencyThrottledError", "Attempt": "ModelThrottledError",
          "Escalate": "ModelThrottledError", "RetryOtherTier": "ModelThrottledError"}


def states(definition: dict[str, Any] = ASL) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states(branch))
    return found


TASKS = {name: state for name, state in states().items() if state["Type"] == "Task"}


def test_the_machine_has_the_turn_deadline() -> None:
    assert ASL["TimeoutSeconds"] == deadlines.TURN_SECONDS


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_has_its_deadline_and_the_transient_retries(name: str) -> None:
    state = TASKS[name]
    assert state.get("TimeoutSeconds") == deadlines.TASK_SECONDS[name]
    retried = [set(rule["ErrorEquals"]) for rule in state["Retry"]]
    assert TRANSIENT in retried, f"{name} must retry Lambda's transient errors"
    for rule in state["Retry"]:
        assert rule.get("JitterStrategy") == "FULL" and rule["MaxAttempts"] <= 2
        assert not set(rule["ErrorEquals"]) & TIMEOUTS, f"{name} retries a timeout: the budget has no room for it"
        own = set(rule["ErrorEquals"]) - TRANSIENT
        assert own <= {RAISES.get(name, "")}, f"{name} retries {own}, which its function never raises"


def test_model_tasks_are_not_retried_beyond_one_transient_attempt() -> None:
    for name in deadlines.MODEL_TASKS:
        assert TASKS[name]["Retry"][0]["MaxAttempts"] == 1


def test_no_parallel_retries_after_its_branches_did() -> None:
    parallels = [name for name, state in states().items() if state["Type"] == "Parallel"]
    assert parallels and all("Retry" not in states()[name] for name in parallels)


def test_each_understanding_branch_degrades_on_its_own() -> None:
    (understand,) = (s for s in ASL["States"].values() if s["Type"] == "Parallel")
    for branch, fallback in zip(understand["Branches"], ["ClassifyByRules", "RetrieveByKeywords"], strict=True):
        first = branch["States"][branch["StartAt"]]
        assert [c["Next"] for c in first["Catch"]] == [fallback]
        degraded = branch["States"][fallback]
        # The same function without the query embedding: rules for Classify, keywords for Retrieve.
        assert degraded["Resource"] == first["Resource"]
        assert set(degraded["Parameters"]) == {"request.$", "config.$"}


def test_the_worst_model_path_fits_the_turn_deadline() -> None:
    # Attempt and Escalate both time out at the model's read timeout; the other states take milliseconds
    # (a second is generous), and Finalize still replies inside the machine's deadline.
    assert deadlines.MODEL_READ_SECONDS < min(deadlines.TASK_SECONDS[name] for name in deadlines.MODEL_TASKS)
    assert 2 * deadlines.MODEL_READ_SECONDS + 1 <= deadlines.TURN_SECONDS


def test_send_message_waits_for_the_turn_and_still_has_time_to_reply() -> None:
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_Loader)
    timeout = template["Resources"]["SendMessageFunction"]["Properties"]["Timeout"]
    assert deadlines.TURN_SECONDS < deadlines.SEND_MESSAGE_WAIT_SECONDS
    assert deadlines.SEND_MESSAGE_WAIT_SECONDS + deadlines.REPLY_MARGIN_SECONDS <= timeout
