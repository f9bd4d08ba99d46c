"""The `mangaassist` command, run as users run it (a subprocess with an ephemeral stack)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "mangaassist_local.cli"]
NOWHERE = "http://127.0.0.1:9"  # no stack there: the command starts an ephemeral one


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "REDIS_URL", "STATE_MACHINE"))}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env={**clean, **(env or {})},
                          cwd=Path(__file__).resolve().parents[2])


def test_chat_json_with_a_throttled_haiku_answers_through_the_fallback_chain():
    result = run("chat", "What are the themes of Vinland Saga?", "--json", "--url", NOWHERE,
                 "--fault", "haiku=throttle")
    assert result.returncode == 0, result.stderr
    frame = json.loads(result.stdout)
    tiers = [(t["target"], t["outcome"]) for t in frame["meta"]["tiers"]]
    assert tiers == [("haiku", "throttled"), ("sonnet", "ok")]
    assert frame["meta"]["escalated"] is True and "Vinland Saga" in frame["text"]


def test_faults_from_the_environment_and_japanese_canned_answer_when_all_models_are_down():
    result = run("chat", "ワンピースの最新刊はいくらですか？", "--url", NOWHERE,
                 env={"MANGAASSIST_FAULTS": "haiku=error,sonnet=timeout"})
    assert result.returncode == 0, result.stderr
    assert "申し訳ありません" in result.stdout


def test_bad_fault_spec_is_a_clear_usage_error():
    result = run("chat", "hi", "--url", NOWHERE, "--fault", "haiku=explode")
    assert result.returncode == 2
    assert "bad fault" in result.stderr


def test_an_empty_message_is_reported_as_a_protocol_error():
    result = run("chat", "   ", "--url", NOWHERE)
    assert result.returncode == 2
    assert "EMPTY_MESSAGE" in result.stderr


def test_classify_reads_json_lines_and_answers_bad_lines_with_errors():
    lines = "\n".join(['{"text": "ワンピースの105巻ありますか？"}', "not json", '{"text": ""}',
                       '{"text": "Where is my order MGA-2025-00417?"}']) + "\n"
    result = subprocess.run([*CLI, "classify"], input=lines, capture_output=True, text=True, timeout=180,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["task"] == "product_search" and out[0]["language"] == "ja"
    assert out[0]["entities"] == {"titles": ["one-piece"], "volumes": [105], "order_ids": []}
    assert out[1]["line"] == 2 and "error" in out[1] and out[2]["line"] == 3
    assert out[3]["task"] == "order_status" and 0 <= out[3]["confidence"] <= 1
    assert {"complexity", "manga_specific"} <= set(out[3])
