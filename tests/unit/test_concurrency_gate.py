"""Reserved concurrency in the local runtimes: beyond ReservedConcurrentExecutions, TooManyRequestsException."""

from __future__ import annotations

from pathlib import Path

import pytest

from mangaassist_local.lambda_runtime import ConcurrencyGate, TooManyRequestsError
from mangaassist_local.template import FunctionSpec, Template

ROOT = Path(__file__).resolve().parents[2]


def spec(reserved: int | None) -> FunctionSpec:
    return FunctionSpec(logical_id="F", code_uri=ROOT, handler="app.lambda_handler", timeout=3,
                        reserved_concurrency=reserved)


def test_a_reserved_function_runs_that_many_at_once_and_throttles_the_next():
    gate = ConcurrencyGate()
    with gate.enter(spec(2)), gate.enter(spec(2)):
        with pytest.raises(TooManyRequestsError, match="reserved concurrency 2"):
            with gate.enter(spec(2)):
                pass
        assert gate.in_flight["F"] == 2
    with gate.enter(spec(2)):  # released: room again
        assert gate.in_flight["F"] == 1
    assert gate.throttles == {"F": 1}
    assert gate.in_flight["F"] == 0


def test_an_invocation_that_raises_still_frees_its_slot():
    gate = ConcurrencyGate()
    with pytest.raises(RuntimeError), gate.enter(spec(1)):
        raise RuntimeError("handler crashed")
    with gate.enter(spec(1)):
        pass


def test_zero_reserved_disables_the_function_and_none_is_unbounded():
    gate = ConcurrencyGate()
    with pytest.raises(TooManyRequestsError):
        with gate.enter(spec(0)):
            pass
    with gate.enter(spec(None)), gate.enter(spec(None)), gate.enter(spec(None)):
        assert gate.in_flight["F"] == 3


def test_the_template_reads_reserved_concurrency_resolving_parameters(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "Parameters:\n  Reserved:\n    Type: Number\n    Default: 7\n"
        "Resources:\n"
        "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n"
        "      ReservedConcurrentExecutions: !Ref Reserved\n"
        "  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n")
    template = Template(tmp_path / "t.yaml", "ap-northeast-1")
    assert template.functions["A"].reserved_concurrency == 7
    assert template.functions["B"].reserved_concurrency is None
    assert Template(tmp_path / "t.yaml", "ap-northeast-1", overrides={"Reserved": "2"}).functions[
        "A"].reserved_concurrency == 2
