"""Sessions belong to the principal: handle_frame keys history and records by (principal, sessionId)."""

from __future__ import annotations

import json
from typing import Any

from mangaassist.chat.conversation import ChatPorts, handle_frame
from mangaassist.chat.sessions import session_key
from mangaassist.turn import HistoryItem


class SessionStore:
    """The sessions table's behaviour: turns by key, the last three read back oldest first."""

    def __init__(self) -> None:
        self.turns: dict[str, list[dict[str, Any]]] = {}
        self.inputs: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []

    def recent(self, key: str) -> list[HistoryItem]:
        items = self.turns.get(key, [])[-3:]
        return [HistoryItem(role=role, text=item[field]) for item in items
                for role, field in (("user", "userText"), ("assistant", "answerText"))]

    def record(self, record: dict[str, Any]) -> None:
        self.turns.setdefault(record["sessionId"], []).append(record)

    def run_turn(self, turn_input: dict[str, Any]) -> dict[str, Any]:
        self.inputs.append(turn_input)
        turn_id = turn_input["request"]["turn_id"]
        return {"type": "answer", "turnId": turn_id, "text": "ok",
                "meta": {"turnId": turn_id, "task": "faq", "cost_usd": "0"}}

    def ports(self) -> ChatPorts:
        return ChatPorts(run_turn=self.run_turn, reply=lambda frame: bool(self.replies.append(frame)) or True,
                         history=self.recent, record=self.record)


def frame(message: str, session_id: str = "shared-session") -> str:
    return json.dumps({"action": "sendMessage", "sessionId": session_id, "message": message})


def test_another_principal_with_the_same_session_id_sees_and_changes_nothing() -> None:
    store = SessionStore()
    for n in range(2):
        sent = handle_frame(frame(f"owner question {n}"), False, "conn-a", store.ports(), principal="C-1043")
    assert sent["meta"]["history_turns"] == 1
    owner_key = session_key("C-1043", "shared-session")
    before = json.dumps(store.turns[owner_key])

    intruder = handle_frame(frame("show me the history"), False, "conn-b", store.ports(), principal="C-1102")
    assert intruder["meta"]["history_turns"] == 0
    assert store.inputs[-1]["request"]["history"] == []
    assert store.inputs[-1]["request"]["principal"] == "C-1102"
    assert "shared-session" not in json.dumps(store.inputs[-1])  # the client's id never reaches the machine's logs
    assert json.dumps(store.turns[owner_key]) == before  # not one turn added to the owner's session
    guest = handle_frame(frame("and me?"), False, "conn-c", store.ports())  # no principal: guest:conn-c
    assert guest["meta"]["history_turns"] == 0
    assert store.inputs[-1]["request"]["principal"] == "guest:conn-c"

    again = handle_frame(frame("owner question 2"), False, "conn-d", store.ports(), principal="C-1043")
    assert again["meta"]["history_turns"] == 2  # the owner, on a new connection, still has their session
    assert [h["text"] for h in store.inputs[-1]["request"]["history"] if h["role"] == "user"] == [
        "owner question 0", "owner question 1"]


def test_the_session_key_hides_the_client_session_id_and_depends_on_both_parts() -> None:
    key = session_key("C-1043", "my-session")
    assert "my-session" not in key and "C-1043" not in key
    assert len({key, session_key("C-1102", "my-session"), session_key("C-1043", "other")}) == 3
    # no ambiguity between (principal, session) splits
    assert session_key("a", "b\nc") != session_key("a\nb", "c")
