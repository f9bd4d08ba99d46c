"""The turn's latency budget, written once.

SPEC §3 promises an answer in 3 s; where a dependency hangs, the customer must still get the fallback soon.
The state machine's TimeoutSeconds (statemachines/chat_turn.asl.json, checked against these values by
tests/unit/test_retry_policy.py), the model clients' read timeouts and sendMessage's wait all come from here.

Worst case with both models hung: Attempt's model read times out (MODEL_READ_SECONDS), Escalate's too, then
Validate and Finalize reply with the fallback: about 2 x 3 s + the other states, under TURN_SECONDS; the
machine's own timeout (TURN_SECONDS) bounds anything else, and sendMessage stops waiting one second later.
"""

from __future__ import annotations

# The whole execution (the machine's TimeoutSeconds).
TURN_SECONDS = 9
# Each Task's TimeoutSeconds: room for a cold start (1-2 s of imports in a new environment) plus the work,
# which warm takes milliseconds, or a model call. Lambda's own timeout may be longer; the turn does not wait.
TASK_SECONDS: dict[str, int] = {
    "EmbedQuery": 3, "Classify": 3, "ClassifyByRules": 3, "Retrieve": 3, "RetrieveByKeywords": 3, "Route": 3,
    "Attempt": 5, "Escalate": 5, "RetryOtherTier": 5, "Validate": 3, "Finalize": 4,
}
MODEL_TASKS = frozenset({"Attempt", "Escalate", "RetryOtherTier"})
# A model call's read timeout: inside its Task's TimeoutSeconds, so the client reports the timeout
# (ModelTimeoutError, recorded in the health windows) before Step Functions abandons the task.
MODEL_READ_SECONDS = 3.0  # twice the FM inference budget of SPEC §3 (1.5 s)
MODEL_CONNECT_SECONDS = 1.0
# sendMessage waits for the execution at most this long (its read timeout on StartSyncExecution), then replies
# with the fallback and records the turn as timed out; its Lambda Timeout leaves REPLY_MARGIN_SECONDS for that.
SEND_MESSAGE_WAIT_SECONDS = TURN_SECONDS + 1
REPLY_MARGIN_SECONDS = 2

