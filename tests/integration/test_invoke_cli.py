"""`mangaassist invoke`: one function on a sample event through a stack's Lambda API, like `sam local invoke`.

The calls that reach a stack run the command as users do (a subprocess) against the session's local stack
(--aws-url), or an ephemeral one it starts; the usage errors, found before any stack is looked for, run
in-process with typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mangaassist_local.cli import app

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
CLI = [sys.executable, "-m", "mangaassist_local.cli"]
NOWHERE = "http://127.0.0.1:9"  # nothing answers there


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "REDIS_URL", "STATE_MACHINE"))}
    return subprocess.run([*CLI, "invoke", *args], input=stdin, capture_output=True, text=True, timeout=120,
                          env=clean, cwd=REPO)


def test_a_good_event_prints_the_json_result_of_the_stacks_function(local_aws):
    before = local_aws.runtime.invocations.get("ClassifyFunction", 0)
    result = run("ClassifyFunction", "--event", "events/state_classify.json", "--json",
                 "--url", NOWHERE, "--aws-url", local_aws.endpoint)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # --json: the result and nothing else
    assert out["task"] == "product_search" and out["language"] == "en"
    assert out["entities"]["titles"] == ["one-piece"]
    assert local_aws.runtime.invocations["ClassifyFunction"] == before + 1, "it ran in the running stack"
    assert "ephemeral" not in result.stderr


def test_without_json_a_header_then_the_result_and_the_event_may_come_from_stdin(local_aws):
    result = run("ValidateFunction", "-e", "-", "--url", NOWHERE, "--aws-url", local_aws.endpoint,
                 stdin=(EVENTS / "state_validate.json").read_text())
    assert result.returncode == 0, result.stderr
    header, _, body = result.stdout.partition("\n{")
    lines = header.splitlines()
    assert lines[0].split() == ["function", "ValidateFunction", "(mangaassist-ValidateFunction)"]
    assert lines[1].split() == ["status", "ok"]
    assert lines[2].startswith("duration") and "ms" in lines[2] and local_aws.endpoint in lines[2]
    assert json.loads("{" + body)["decision"] == "accept"


def test_a_function_error_is_printed_as_lambda_reports_it_and_exits_1(local_aws):
    # The first state's input handed to Route, which needs the classification.
    args = ("RouteFunction", "--event", "events/state_embed_query.json", "--url", NOWHERE,
            "--aws-url", local_aws.endpoint)
    result = run(*args, "--json")
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "route needs the classification"
    assert error["stackTrace"]
    readable = run(*args)
    assert readable.returncode == 1
    assert "status    function error (Unhandled: ValueError)" in readable.stdout
    assert '"errorType": "ValueError"' in readable.stdout


def test_a_queue_workers_batch_response_is_its_result(local_aws):
    result = run("AnalyticsWorkerFunction", "-e", "events/sqs_analytics_jobs.json", "--json",
                 "--url", NOWHERE, "--aws-url", local_aws.endpoint)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"batchItemFailures": []}  # both sample jobs ran


def test_with_no_stack_running_an_ephemeral_one_runs_the_function():
    result = run("ValidateFunction", "--event", "events/state_validate.json", "--json",
                 "--url", NOWHERE, "--aws-url", NOWHERE)
    assert result.returncode == 0, result.stderr
    assert "starting an ephemeral one" in result.stderr
    out = json.loads(result.stdout)
    assert out["decision"] == "accept" and out["failures"] == []


def test_a_gateway_without_its_aws_endpoint_is_a_clear_error(gateway):
    result = run("ValidateFunction", "--event", "events/state_validate.json", "--url", gateway.url,
                 "--aws-url", NOWHERE)
    assert result.returncode == 2
    assert f"gateway answers at {gateway.url}" in result.stderr and "--aws-url" in result.stderr
    assert result.stdout == ""


# -- usage errors: exit 2, a clear message, nothing invoked ------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["Classify", "--event", "events/state_classify.json"],
     "no function 'Classify' in template.yaml (did you mean ClassifyFunction?)"),
    (["NoSuchFunction", "--event", "events/state_classify.json"], "its functions: AnalyticsWorkerFunction, "),
    (["ClassifyFunction", "--event", "events/nope.json"], "event file events/nope.json: no such file"),
    (["ClassifyFunction", "--event", "events"], "cannot read event file events: "),
    (["ClassifyFunction", "--event", "{bad}"], "is not valid JSON: "),
    (["ClassifyFunction"], "Missing option '--event'"),
])
def test_usage_errors_exit_2_with_a_clear_message(args, message, local_aws, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    if "{bad}" in args:
        bad = tmp_path / "bad.json"
        bad.write_text('{"request": {"message": "hi",}\n')
        args = [str(bad) if arg == "{bad}" else arg for arg in args]
    before = dict(local_aws.runtime.invocations)
    # --aws-url names the session's stack: never an ephemeral stack in this process.
    result = CliRunner().invoke(app, ["invoke", *args, "--url", NOWHERE, "--aws-url", local_aws.endpoint])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""
    assert local_aws.runtime.invocations == before
