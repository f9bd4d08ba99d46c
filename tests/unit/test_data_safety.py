"""Data kept safely (issue #10, item 7): personal data redacted from what the session store keeps, and the
template's retention, network and cache-authentication settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangaassist.chat.redact import WITHHELD, redact
from mangaassist.chat.sessions import turn_record
from mangaassist.reply.pii import pii_failures
from mangaassist_local.template import Template

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "expected"), [
    ("My email is ｔａｎａｋａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "My email is [email]"),
    ("call me on +81 90-1234-5678 please", "call me on [phone] please"),
    ("電話は050-1234-5678です", "電話は[phone]です"),
    ("office 03.1234.5678", "office [phone]"),
    ("０９０ー１２３４ー５６７８に電話して", "[phone]に電話して"),
    ("card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29"),
    ("room 1 090-1234-5678", "room 1 [phone]"),
    ("マイナンバーは123456789018です", "マイナンバーは[my number]です"),
    ("東京都新宿区西新宿二丁目8番1号に送ってください", "[address]に送ってください"),
    ("ship to 1-2-3 Nishi-Shinjuku, Shinjuku-ku", "ship to [address]"),
    ("〒160-0023 まで", "[address] まで"),
])
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert pii_failures(redact(text)) == []


@pytest.mark.parametrize("text", [
    "ワンピースの105巻はいくらですか？",
    "Where is my order MGA-2025-00417?",
    "Your order MGA-2025-00417 shipped with Yamato Transport; tracking number 4521-8830-1027, arriving 2025-10-18.",
    "ONE PIECE第105巻は528円（税込）です。",
    "Ｆｕｌｌ-width text without personal data stays exactly as typed",
])
def test_text_without_personal_data_is_kept_exactly(text: str) -> None:
    assert redact(text) == text


def test_the_turn_record_keeps_no_personal_data() -> None:
    frame = {"type": "answer", "text": "We will write to tanaka@example.com shortly.",
             "meta": {"task": "faq", "cost_usd": "0.0001"}}
    record = turn_record("s-1", "1760000000000-abc", "I'm at 東京都渋谷区神南一丁目2番3号, 090-1111-2222", frame)
    assert record["userText"] == "I'm at [address], [phone]"
    assert record["answerText"] == "We will write to [email] shortly."
    stored = json.dumps({k: v for k, v in record.items() if k != "expiresAt"}, ensure_ascii=False)  # a timestamp
    assert "tanaka" not in stored and "090-1111" not in stored


_PII = st.sampled_from(["tanaka.hiro@example.com", "ｔａｎａｋａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "090-1234-5678",
                        "+81 3 1234 5678", "050.1234.5678", "4111-1111-1111-1111", "5500 0000 0000 0004",
                        "123456789018",
                        "東京都千代田区丸の内一丁目9番2号", "2-4-1 Shibakoen, Minato-ku", "〒100-0005"])
_FILLER = st.text(alphabet=st.sampled_from(list("abc xyz 123 の巻は？、。-.+@\u200b")), max_size=12)
_GAP = st.sampled_from([" ", "の", "、", "\n", "：", " (", "は"])  # what ends the words around a value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_FILLER, _GAP, _PII, _GAP), min_size=1, max_size=4), _FILLER)
def test_nothing_the_pii_check_would_flag_survives_redaction(parts: list[tuple[str, str, str, str]],
                                                            tail: str) -> None:
    text = "".join("".join(part) for part in parts) + tail
    kept = redact(text)
    assert pii_failures(kept) == []
    assert kept == WITHHELD or all(pii not in kept for _, _, pii, _ in parts)


# -- the template --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return Template(REPO / "template.yaml", "ap-northeast-1").resources


def test_every_function_logs_to_a_group_with_retention(resources: dict[str, Any]) -> None:
    functions = [name for name, res in resources.items() if res["Type"] == "AWS::Serverless::Function"]
    groups = {res["Properties"]["LogGroupName"]["Fn::Sub"]: res["Properties"] for res in resources.values()
              if res["Type"] == "AWS::Logs::LogGroup" and isinstance(res["Properties"].get("LogGroupName"), dict)}
    assert functions
    for function in functions:
        group = groups.get(f"/aws/lambda/${{{function}}}")
        assert group is not None, f"{function} has no /aws/lambda log group with a retention"
        assert group["RetentionInDays"] == {"Fn::If": ["IsProd", 30, 7]}
    for res in resources.values():
        if res["Type"] == "AWS::Logs::LogGroup":
            assert "RetentionInDays" in res["Properties"]


def test_the_vector_collection_is_private_behind_a_vpc_endpoint(resources: dict[str, Any]) -> None:
    condition, private, _public = resources["VectorNetworkPolicy"]["Properties"]["Policy"]["Fn::If"]
    assert condition == "HasVpc"
    (rule,) = json.loads(private["Fn::Sub"])
    assert rule["AllowFromPublic"] is False and rule["SourceVPCEs"] == ["${VectorVpcEndpoint}"]
    assert resources["VectorVpcEndpoint"]["Type"] == "AWS::OpenSearchServerless::VpcEndpoint"
    assert resources["VectorVpcEndpoint"]["Condition"] == "HasVpc"
    for function in ("RetrieveFunction", "EmbeddingWorkerFunction"):  # the collection's clients are in the VPC
        assert resources[function]["Properties"]["VpcConfig"]["Fn::If"][0] == "HasVpc"


def test_the_cache_takes_iam_authentication_and_redis_clients_may_connect(resources: dict[str, Any]) -> None:
    cache = resources["RedisCache"]["Properties"]
    assert cache["UserGroupId"] == {"Ref": "RedisUserGroup"}
    app = resources["RedisAppUser"]["Properties"]
    assert app["AuthenticationMode"] == {"Type": "iam"} and app["UserName"] == app["UserId"]
    assert resources["RedisDefaultUser"]["Properties"]["AccessString"].startswith("off")
    statement = resources["RedisConnectPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == "elasticache:Connect"
    for name, res in resources.items():  # every function in the cache's VPC that talks to Redis may connect
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function" and "VpcConfig" in props and name not in (
                "RetrieveFunction", "EmbeddingWorkerFunction"):
            assert {"Ref": "RedisConnectPolicy"} in props["Policies"], name


def test_send_message_has_reserved_concurrency_and_its_limits(resources: dict[str, Any]) -> None:
    props = resources["SendMessageFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "SendMessageReservedConcurrency"}
    env = props["Environment"]["Variables"]
    assert {"DAILY_BUDGET_USD", "RATE_CONNECTION_PER_SECOND", "RATE_PRINCIPAL_PER_MINUTE",
            "DAILY_TURN_QUOTA"} <= set(env)
    template = Template(REPO / "template.yaml", "ap-northeast-1")
    assert template.functions["SendMessageFunction"].reserved_concurrency == 200
