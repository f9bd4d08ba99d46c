"""Attack tests through the real WebSocket of the local stack: who is talking, and what they may see (#10).

The gateway runs the template's $connect authorizer (AuthorizerFunction) with the stack's own token issuer;
turns run through the real chat-turn machine; session turns are stored by the real session_writer.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import sqs_event, take_session_writes
from mangaassist.chat.forget import principal_turn_keys
from mangaassist_local.cli import app
from mangaassist_local.gateway import Gateway
from mangaassist_local.identity_cli import as_order_owner, with_token
from mangaassist_local.local_issuer import LocalIssuer
from mangaassist_local.stack import LocalAws

pytestmark = pytest.mark.integration

# MGA-2025-00102 belongs to C-1043: delivered by Yamato Transport, tracking 4521-8830-1027, eta 2025-01-17.
ORDER = "MGA-2025-00102"
SECRETS = ("delivered", "配達済", "Yamato", "ヤマト", "4521-8830-1027", "2025-01-17", "2025-01-14", "one-piece")
ASK_EN = f"Where is my order {ORDER}?"
ASK_JA = f"{ORDER}の配送状況を教えてください"


def ws_url(gateway: Gateway, customer: str | None = None, **claims: Any) -> str:
    assert gateway.issuer is not None
    return with_token(gateway.ws_url, gateway.issuer.sign(customer, **claims) if customer else None)


def turn(url: str, message: str, session: str | None = None, locale: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"action": "sendMessage", "sessionId": session or f"id-{uuid.uuid4().hex[:8]}",
                             "message": message}
    if locale:
        frame["locale"] = locale
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps(frame, ensure_ascii=False))
        reply: dict[str, Any] = json.loads(ws.recv(timeout=60))
    assert reply["type"] == "answer", reply
    return reply


def store_turns(stack: LocalAws, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the real session_writer on these turns' queued writes (no pollers run in the tests)."""
    ids = {frame["turnId"] for frame in frames}
    records = take_session_writes(stack, lambda body: body.get("turnId") in ids, len(ids))
    assert len(records) == len(ids)
    event, _ = sqs_event([json.dumps(record, ensure_ascii=False) for record in records])
    result = stack.runtime.invoke("SessionWriterFunction", event)
    assert not result.error and result.payload["batchItemFailures"] == [], result.payload
    return records


def reveals(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret.lower() in text.lower()]


@pytest.fixture(scope="module", autouse=True)
def warm(gateway: Gateway) -> None:
    """Every Task's first (cold) run in this process: a turn that may pass its deadline on a loaded machine."""
    for _ in range(3):
        if turn(gateway.ws_url, "How much is One Piece volume 3?")["meta"]["validation"]["decision"] == "accept":
            return


def test_the_owner_still_gets_the_order_details(gateway: Gateway) -> None:
    reply = turn(ws_url(gateway, "C-1043"), ASK_EN)
    assert "delivered" in reply["text"] and "Yamato Transport" in reply["text"], reply["text"]
    assert reply["meta"]["validation"]["decision"] == "accept"
    japanese = turn(ws_url(gateway, "C-1043"), ASK_JA)
    assert "Yamato Transport" in japanese["text"] and ORDER in japanese["text"], japanese["text"]


@pytest.mark.parametrize("message, phrase", [(ASK_EN, "no order"), (ASK_JA, "見つかりませんでした")])
def test_another_customer_is_told_it_is_not_in_their_account_and_learns_nothing(
        gateway: Gateway, message: str, phrase: str) -> None:
    reply = turn(ws_url(gateway, "C-1102"), message)
    assert phrase in reply["text"], reply["text"]
    assert reveals(reply["text"]) == []
    assert reply["meta"]["validation"]["decision"] == "accept"
    # Indistinguishable from an order that does not exist: same words, only the typed id differs.
    missing = turn(ws_url(gateway, "C-1102"), message.replace(ORDER, "MGA-2025-09999"))
    assert missing["text"].replace("MGA-2025-09999", ORDER) == reply["text"]


@pytest.mark.parametrize("message, phrase", [(ASK_EN, "sign in"), (ASK_JA, "ログイン")])
def test_a_guest_asking_for_an_order_is_asked_to_sign_in(gateway: Gateway, message: str, phrase: str) -> None:
    reply = turn(gateway.ws_url, message)
    assert phrase in reply["text"], reply["text"]
    assert reveals(reply["text"]) == []
    assert reply["meta"]["cache"] == "miss"  # a marker answer is never served from or to the shared cache


def test_a_reused_session_id_loads_no_history_and_leaves_the_owners_session_alone(
        local_aws: LocalAws, gateway: Gateway) -> None:
    session = f"shared-{uuid.uuid4().hex[:8]}"
    owner = [turn(ws_url(gateway, "C-1211"), f"Recommend a manga like Naruto ({session} {n})", session)
             for n in range(2)]
    assert [frame["meta"]["history_turns"] for frame in owner] == [0, 0]  # the first write is not stored yet
    owner_records = store_turns(local_aws, owner)
    owner_key = owner_records[0]["sessionId"]
    assert {record["sessionId"] for record in owner_records} == {owner_key} and session not in owner_key

    intruder = turn(ws_url(gateway, "C-1264"), "What did I ask before? Summarise our chat.", session)
    guest = turn(gateway.ws_url, "What did I ask before?", session)
    assert intruder["meta"]["history_turns"] == 0 and guest["meta"]["history_turns"] == 0
    others = store_turns(local_aws, [intruder, guest])
    assert owner_key not in {record["sessionId"] for record in others}

    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name="ap-northeast-1").Table(local_aws.env["SESSIONS_TABLE"])
    items = table.query(KeyConditionExpression=boto3.dynamodb.conditions.Key("sessionId").eq(owner_key))["Items"]
    assert sorted(item["turnId"] for item in items) == sorted(frame["turnId"] for frame in owner)
    back = turn(ws_url(gateway, "C-1211"), "And one more like that?", session)  # a new connection, same owner
    assert back["meta"]["history_turns"] == 2


@pytest.mark.parametrize("forge", ["expired", "other_key", "wrong_audience", "wrong_issuer", "garbage"])
def test_forged_and_expired_tokens_are_refused_at_the_handshake(gateway: Gateway, forge: str) -> None:
    assert gateway.issuer is not None
    now = int(time.time())
    if forge == "expired":
        token = gateway.issuer.sign("C-1043", exp=now - 120, iat=now - 3720)
    elif forge == "other_key":
        forger = LocalIssuer(gateway.issuer.issuer)
        forger.kid = gateway.issuer.kid
        token = forger.sign("C-1043")
    elif forge == "wrong_audience":
        token = gateway.issuer.sign("C-1043", aud="someone-else")
    elif forge == "wrong_issuer":
        token = gateway.issuer.sign("C-1043", iss="https://evil.example")
    else:
        token = "not.a.token"
    with pytest.raises(InvalidStatus) as refused:
        with connect(with_token(gateway.ws_url, token), open_timeout=10):
            pass
    assert refused.value.response.status_code == 403


def test_token_command_then_chat_as_that_customer(gateway: Gateway) -> None:
    runner = CliRunner()
    issued = runner.invoke(app, ["token", "--customer", "C-1302", "--url", gateway.url, "--json"])
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.output)["token"]
    chat = runner.invoke(app, ["chat", "Where is my order MGA-2025-00360?", "--url", gateway.url,
                               "--token", token, "--json"])
    assert chat.exit_code == 0, chat.output
    assert "Japan Post" in json.loads(chat.output)["text"] or "delivered" in json.loads(chat.output)["text"]
    by_customer = runner.invoke(app, ["chat", "Where is my order MGA-2025-00360?", "--url", gateway.url,
                                      "--customer", "C-1302", "--json"])
    assert json.loads(by_customer.output)["text"] == json.loads(chat.output)["text"]
    refused = runner.invoke(app, ["chat", "hi", "--url", gateway.url, "--token", "bad.token.here"])
    assert refused.exit_code == 2 and "HANDSHAKE_REFUSED" in refused.output
    bad = runner.invoke(app, ["token", "--customer", "guest:x", "--url", gateway.url])
    assert bad.exit_code == 2 and "customer must be an id" in bad.output


def test_forget_deletes_the_customers_sessions(local_aws: LocalAws, gateway: Gateway) -> None:
    frames = [turn(ws_url(gateway, "C-1318"), f"Recommend a fantasy manga ({n})", f"forget-{n}") for n in range(3)]
    store_turns(local_aws, frames)
    kept = store_turns(local_aws, [turn(ws_url(gateway, "C-1345"), "Recommend a sports manga", "forget-0")])
    table = boto3.resource("dynamodb", endpoint_url=local_aws.endpoint,
                           region_name="ap-northeast-1").Table(local_aws.env["SESSIONS_TABLE"])
    assert len(principal_turn_keys(table, "C-1318")) == 3
    result = CliRunner().invoke(app, ["forget", "--customer", "C-1318", "--url", gateway.url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"customer": "C-1318", "items": 3, "sessions": 3}
    assert principal_turn_keys(table, "C-1318") == []
    assert len(principal_turn_keys(table, "C-1345")) == 1 and kept  # another customer's turns stay
    again = turn(ws_url(gateway, "C-1318"), "Recommend a fantasy manga again", "forget-0")
    assert again["meta"]["history_turns"] == 0
    table_view = CliRunner().invoke(app, ["forget", "--customer", "C-1318", "--url", gateway.url])
    assert table_view.exit_code == 0 and "C-1318" in table_view.output


def test_evaluations_ask_order_questions_as_the_orders_owner(gateway: Gateway) -> None:
    """`mangaassist regress` (the golden set) asks about sample orders: signed in as their owner locally."""
    url = as_order_owner(gateway.ws_url, f"What's the status of order {ORDER}?")
    assert "?token=" in url
    reply = turn(url, f"What's the status of order {ORDER}?")
    assert "Yamato Transport" in reply["text"], reply["text"]
    assert as_order_owner(gateway.ws_url, "Do you have One Piece?") == gateway.ws_url  # no order: a guest
    remote = "wss://abc.execute-api.ap-northeast-1.amazonaws.com/prod"
    assert as_order_owner(remote, f"Where is {ORDER}?") == remote  # nothing signs tokens for a deployed stack
