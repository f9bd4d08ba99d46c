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
