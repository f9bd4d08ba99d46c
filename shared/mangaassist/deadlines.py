"""The turn's latency budget, written once.

SPEC §3 promises an answer in 3 s; where a dependency hangs, the customer must still get the fallback soon.
The state machine's TimeoutSeconds (statemachines/chat_turn.asl.json, checked against these values by
tests/unit/test_retry_policy.py), the model clients' read timeouts and sendMessage's wait all come from here.

Worst case with both models hung: Attempt's model read times out (MODEL_READ_SECONDS), Escalate's too, then
Validate and Finalize reply with the fallback: about 2 x 3.5 s + the other states, under TURN_SECONDS; the
machine's own timeout (TURN_SECONDS) bounds anything else, and sendMessage stops waiting one second later.
"""

from __future__ import annotations

# The whole execution (the machine's TimeoutSeconds).
TURN_SECONDS = 9
# Each Task's TimeoutSeconds: Lambda's own timeout may be longer, the turn does not wait for it.
TASK_SECONDS: dict[str, int] = {
    "EmbedQuery": 2, "Classify": 2, "ClassifyByRules": 1, "Retrieve": 2, "RetrieveByKeywords": 1, "Route": 2,
    "Attempt": 4, "Escalate": 4, "RetryOtherTier": 4, "Validate": 2, "Finalize": 3,
}
MODEL_TASKS = frozenset({"Attempt", "Escalate", "RetryOtherTier"})
# A model call's read timeout: inside its Task's TimeoutSeconds, so the client reports the timeout
# (ModelTimeoutError, recorded in the health windows) before Step Functions abandons the task.
MODEL_READ_SECONDS = 3.5
MODEL_CONNECT_SECONDS = 1.0
# sendMessage waits for the execution at most this long (its read timeout on StartSyncExecution), then replies
# with the fallback and records the turn as timed out; its Lambda Timeout leaves REPLY_MARGIN_SECONDS for that.
SEND_MESSAGE_WAIT_SECONDS = TURN_SECONDS + 1
REPLY_MARGIN_SECONDS = 2

