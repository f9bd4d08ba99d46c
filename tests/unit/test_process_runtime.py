"""Lambda-like execution environments for a build: isolation from the dev venv, timeouts, import errors."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from mangaassist_local.process_runtime import BuildLayout, ProcessRuntime
from mangaassist_local.template import Template

HANDLERS = {
    "Echo": "import json\n\ndef handler(event, context):\n"
            "    print('a log line, not the reply')\n"
            "    return {'echo': event, 'remaining_ms': context.get_remaining_time_in_millis() > 0}\n",
    "Slow": "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n",
    "DevOnly": "import moto  # in the dev venv, never in a Lambda environment\n\ndef handler(event, context):\n"
               "    return 'unreachable'\n",
    "Counter": "import os, time\n\nCALLS = []\n\ndef handler(event, context):\n    CALLS.append(1)\n"
               "    time.sleep(event.get('sleep', 0))\n"
               "    return {'pid': os.getpid(), 'parent': os.getppid(), 'calls': len(CALLS),\n"
               "            'init': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n",
    "Fails": "class OrderLookupError(Exception):\n    pass\n\ndef handler(event, context):\n"
             "    raise OrderLookupError('no such order')\n",
}


@pytest.fixture(params=[True, False], ids=["snapshots", "fresh-processes"])
def runtime(tmp_path: Path, request: pytest.FixtureRequest):
    resources = ""
    for name, code in HANDLERS.items():
        (tmp_path / "build" / name).mkdir(parents=True)
        (tmp_path / "build" / name / "app.py").write_text(code)
        resources += textwrap.dedent(f"""\
          {name}:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: {name}/
              Handler: app.handler
              Timeout: {2 if name == "Slow" else 10}
              Environment:
                Variables:
                  GREETING: hello-{name}
        """).replace("\n", "\n  ")
    (tmp_path / "build" / "template.yaml").write_text("Resources:\n  " + resources)
    for part in ("layer/python", "runtime"):
        (tmp_path / part).mkdir(parents=True)
    layout = BuildLayout(build_dir=tmp_path / "build", layer_dir=tmp_path / "layer", runtime_dir=tmp_path / "runtime")
    rt = ProcessRuntime(Template(tmp_path / "build" / "template.yaml", "ap-northeast-1"), layout, {"STAGE": "t"},
                        snapshots=request.param)
    yield rt
    rt.stop()


def test_an_environment_answers_and_is_reused_warm(runtime: ProcessRuntime) -> None:
    first = runtime.invoke("Echo", {"n": 1})
    second = runtime.invoke("Echo", {"n": 2})
    assert not first.error and first.payload == {"echo": {"n": 1}, "remaining_ms": True}
    assert second.payload["echo"] == {"n": 2}
    assert len(runtime.cold_starts["Echo"]) == 1  # the second call found the environment warm


def test_the_dev_venv_is_invisible(runtime: ProcessRuntime) -> None:
    result = runtime.invoke("DevOnly", {})
    assert result.error and result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "moto" in result.payload["errorMessage"]


def test_a_function_error_is_named_by_its_class(runtime: ProcessRuntime) -> None:
    result = runtime.invoke("Fails", {})
    assert result.error and result.payload["errorType"] == "OrderLookupError"
    assert result.payload["errorMessage"] == "no such order"


def test_the_timeout_fails_the_invocation_and_replaces_the_environment(runtime: ProcessRuntime) -> None:
    timed_out = runtime.invoke("Slow", {"sleep": 5})
    assert timed_out.error and timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert "2.00 seconds" in timed_out.payload["errorMessage"]
    again = runtime.invoke("Slow", {"sleep": 0})
    assert not again.error and again.payload == "done"
    assert len(runtime.cold_starts["Slow"]) == 2  # a new environment after the timeout


def test_each_function_sees_its_own_environment(tmp_path: Path, runtime: ProcessRuntime) -> None:
    code = "import os\n\ndef handler(event, context):\n    return [os.environ.get(n) for n in event]\n"
    (runtime.layout.function_dir("Echo") / "app.py").write_text(code)
    result = runtime.invoke("Echo", ["GREETING", "STAGE", "AWS_LAMBDA_FUNCTION_NAME", "VIRTUAL_ENV"])
    assert result.payload == ["hello-Echo", "t", "mangaassist-Echo", None]


def test_warm_starts_one_environment_per_function_initialised_ahead(runtime: ProcessRuntime) -> None:
    runtime.warm()
    assert runtime.cold_starts == {}  # provisioned ahead of time: not a cold start of any invocation
    assert runtime.invoke("Echo", {}).payload["echo"] == {}
    assert runtime.cold_starts == {}, "the invocation found the warmed environment"
    assert all(len(pool.idle) == 1 for pool in runtime._pools.values())


def test_the_source_tree_runs_in_worker_processes_as_deployed(tmp_path: Path) -> None:
    """SourceLayout: the real ClassifyFunction from the source tree in a worker process; its cold start is
    reported on an on-demand environment and not on one initialised ahead of time."""
    from mangaassist_local.process_runtime import SourceLayout

    root = Path(__file__).resolve().parents[2]
    template = Template(root / "template.yaml", "ap-northeast-1")
    event = (root / "events" / "state_classify.json").read_text()

    def classify(rt: ProcessRuntime) -> dict:
        result = rt.invoke("ClassifyFunction", json.loads(event))
        assert not result.error, result.payload
        return result.payload

    on_demand = ProcessRuntime(template, SourceLayout(template, root / "shared"), {})
    try:
        assert classify(on_demand)["cold_start_ms"] > 0
        assert classify(on_demand)["cold_start_ms"] == 0  # the same environment, warm
        assert len(on_demand.cold_starts["ClassifyFunction"]) == 1
        worker = on_demand._pools["ClassifyFunction"].idle[0]
        assert worker.pid != os.getpid()
    finally:
        on_demand.stop()
    provisioned = ProcessRuntime(template, SourceLayout(template, root / "shared"), {})
    try:  # what warm() does, for this one function
        spec = template.functions["ClassifyFunction"]
        provisioned._release(spec, provisioned._acquire(spec, "provisioned-concurrency"), reuse=True)
        assert classify(provisioned)["cold_start_ms"] == 0
    finally:
        provisioned.stop()


def test_concurrent_invocations_each_get_an_environment_of_their_own(runtime: ProcessRuntime) -> None:
    """Three at once: three environments (one invocation at a time each), none sharing module state; with
    snapshots all three are forked from one initialised process and the init phase ran once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: runtime.invoke("Counter", {"sleep": 0.5}), range(3)))
    replies = [r.payload for r in results]
    assert all(not r.error for r in results), replies
    assert len({r["pid"] for r in replies}) == 3
    assert [r["calls"] for r in replies] == [1, 1, 1]  # each environment's own memory
    assert len(runtime.cold_starts["Counter"]) == 3
    if runtime.snapshots:
        assert len({r["parent"] for r in replies}) == 1 and replies[0]["parent"] != os.getpid()
        # The first waited for the init phase (a cold start as Lambda reports it); the others were restored.
        assert sorted(r["init"] for r in replies) == ["on-demand", "snap-start", "snap-start"]
        assert list(runtime._snapshots) == ["Counter"]  # one init phase for the three
    else:
        assert {r["parent"] for r in replies} == {os.getpid()}
        assert {r["init"] for r in replies} == {"on-demand"}
    again = runtime.invoke("Counter", {})
    assert again.payload["calls"] == 2 and again.payload["pid"] in {r["pid"] for r in replies}  # reused warm


def test_a_dead_snapshot_is_replaced(tmp_path: Path, runtime: ProcessRuntime) -> None:
    if not runtime.snapshots:
        pytest.skip("fresh processes have no snapshot")
    assert not runtime.invoke("Echo", {}).error
    runtime._snapshots["Echo"].process.stop()
    runtime.stop()  # and every environment: the next invocation must start from nothing
    assert runtime.invoke("Echo", {"n": 3}).payload["echo"] == {"n": 3}
    assert runtime._snapshots["Echo"].alive()
