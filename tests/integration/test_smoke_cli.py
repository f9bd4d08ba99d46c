"""`mangaassist smoke` over the local gateway's WebSocket, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mangaassist_local.faults import FaultPlan, parse_faults
from mangaassist_local.gateway import Gateway
from mangaassist_local.smoke import STEPS
from mangaassist_local.stack import REGION, LocalAws

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "mangaassist_local.cli"]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
CHECKS = ["connect", *STEPS]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "REDIS_URL", "STATE_MACHINE"))}
    return subprocess.run([*CLI, "smoke", *args], capture_output=True, text=True, timeout=300,
                          env={**clean, **CREDENTIALS, "AWS_CONFIG_FILE": "/dev/null",
                               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
                          cwd=Path(__file__).resolve().parents[2])


def test_a_healthy_stack_passes_every_check(gateway: Gateway) -> None:
    result = run("--ws-url", gateway.ws_url, "--json", "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)
    assert [c["name"] for c in checks] == CHECKS
    assert all(c["ok"] for c in checks), checks
    assert all(c["detail"] and c["ms"] >= 0 for c in checks)
    assert checks[3]["detail"] == "INVALID_JSON"
    assert "product_search" in checks[1]["detail"]  # "task via tiers, the answer's start"


def test_the_readable_table_and_the_stack_name_route(gateway: Gateway, local_aws: LocalAws) -> None:
    name = f"smoke-test-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"WebSocketUrl": {"Value": gateway.ws_url}}}
    local_aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    result = run("--stack-name", name, "--region", REGION, "--endpoint-url", local_aws.endpoint, "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "ms", "detail"]
    for line, check in zip(lines[1:], CHECKS, strict=True):
        assert line.startswith(check) and line[len(check):].split()[0] == "ok", line
    assert gateway.ws_url in result.stdout


def test_a_missing_stack_or_output_is_one_clear_line(local_aws: LocalAws) -> None:
    result = run("--stack-name", "no-such-stack", "--region", REGION, "--endpoint-url", local_aws.endpoint)
    assert result.returncode == 2
    assert result.stderr.strip() == ("mangaassist smoke: stack 'no-such-stack' does not exist "
                                     "(wrong --stack-name or --region?)")
    name = f"smoke-test-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Other": {"Value": "x"}}}
    local_aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    result = run("--stack-name", name, "--region", REGION, "--endpoint-url", local_aws.endpoint)
    assert result.returncode == 2 and "has no output WebSocketUrl" in result.stderr


def test_nothing_listening_fails_clearly() -> None:
    result = run("--ws-url", "ws://127.0.0.1:9/ws", "--timeout", "5")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "mangaassist smoke: FAILED: connect (4 more not run)"
    first, *rest = result.stdout.splitlines()[1:]
    assert first.split()[:2] == ["connect", "FAIL"] and "cannot connect to ws://127.0.0.1:9/ws" in first
    assert all(" SKIP " in line and line.endswith("not run") for line in rest) and len(rest) == 4


def test_the_url_options_are_exclusive() -> None:
    assert run().returncode == 2
    assert run("--ws-url", "ws://x", "--stack-name", "s").returncode == 2


def test_fallback_answers_fail_the_answer_checks(gateway: Gateway, faults: FaultPlan) -> None:
    faults.set(parse_faults(["haiku=error", "sonnet=error"]))
    result = run("--ws-url", gateway.ws_url, "--json", "--timeout", "60")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["connect"]["ok"] and checks["malformed frame -> INVALID_JSON"]["ok"]
    for name in ("answer (en)", "answer (ja)", "answers after the error"):
        assert not checks[name]["ok"], checks[name]
        assert "validation.decision is 'fallback'" in checks[name]["detail"], checks[name]
    assert "FAILED: answer (en), answer (ja), answers after the error" in result.stderr
    assert "Traceback" not in result.stderr
