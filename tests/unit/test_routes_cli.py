"""`mangaassist routes`: decisions for JSON lines, errors for bad ones, no model called."""

from __future__ import annotations

import json

from mangaassist_local.routes import route_lines

PROVISIONED = "arn:aws:bedrock:ap-northeast-1:123456789012:provisioned-model/abc"


def run(*lines: str, **options: str) -> list[dict]:
    return list(route_lines(lines, **options))


def test_each_rule_is_visible_with_its_reason_and_fallback():
    noon = "2025-11-23T12:00:00+09:00"  # off-peak in JST
    out = run(json.dumps({"text": "Hello", "at": noon}),
              json.dumps({"text": "hi", "spent_usd": "665", "at": noon}),
              json.dumps({"text": "What are the themes of Berserk?", "at": noon}),
              json.dumps({"text": "Hello", "at": "2025-11-23T18:00:00+09:00"}),
              sagemaker_endpoint="manga-ep", provisioned_arn=PROVISIONED, daily_budget="700")
    assert [(o["target"], o["reason"], o["fallback"]) for o in out] == [
        ("haiku", "default_haiku_first", "sonnet"),
        ("haiku", "budget_guard", "canned"),
        ("sagemaker", "manga_specific", "haiku"),
        ("sonnet_provisioned", "peak_provisioned", "sonnet"),
    ]


def test_peak_boundary_in_jst():
    before, at = run(json.dumps({"text": "Hello", "at": "2025-11-23T17:59:59+09:00"}),
                     json.dumps({"text": "Hello", "at": "2025-11-23T09:00:00+00:00"}), provisioned_arn=PROVISIONED)
    assert before["target"] == "haiku" and at["target"] == "sonnet_provisioned"


def test_budget_guard_at_95_percent_of_the_daily_budget():
    below, at = run(json.dumps({"text": "hi", "spent_usd": "94.9"}), json.dumps({"text": "hi", "spent_usd": "95"}),
                    daily_budget="100")
    assert below["reason"] == "default_haiku_first" and at["reason"] == "budget_guard"


def test_bad_lines_get_error_lines_and_the_rest_still_route():
    out = run("not json", json.dumps({"text": 5}), "", json.dumps({"text": "x", "at": "2025-01-01T10:00"}),
              json.dumps({"text": "hi", "spent_usd": "-1"}), json.dumps({"text": "こんにちは"}))
    assert [o.get("line") for o in out[:4]] == [1, 2, 4, 5]
    assert all("error" in o for o in out[:4])
    assert out[4]["task"] == "greeting" and out[4]["language"] == "ja"
