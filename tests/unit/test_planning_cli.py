"""`mangaassist plan ...` and the charts: JSON figures at SPEC §3's inputs, readable tables, clear errors, PNGs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mangaassist.planning import (
    TurnCost,
    break_even,
    capacity_plan,
    chart,
    compare_strategies,
    project_from_turns,
    recommend_pattern,
    select_model,
    total_cost_of_ownership,
)
from mangaassist_local.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["plan", *args])


def test_plan_capacity_json_at_spec_inputs():
    result = run("capacity", "--messages-per-day", "1000000", "--peak-multiplier", "3.5", "--burst-factor", "2",
                 "--tokens-per-request", "800", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["average_rps"] == pytest.approx(11.57, abs=0.005)
    assert data["peak_rps"] == pytest.approx(40.5, abs=0.01)
    assert data["burst_rps"] == pytest.approx(81.0, abs=0.02)
    assert data["tokens_per_minute_peak"] == pytest.approx(1_944_444, abs=1)
    assert data["model_units"]["sonnet"] == 49
    assert isinstance(data["sagemaker_instances"], int) and isinstance(data["lambda_concurrency"], int)
    assert data["assumptions"] and data["notes"]


def test_plan_strategies_json():
    result = run("strategies", "--json")
    assert result.exit_code == 0, result.output
    strategies = json.loads(result.stdout)["strategies"]
    assert float(strategies["all_sonnet"]["daily_cost_usd"]) == 6750
    assert float(strategies["all_haiku"]["daily_cost_usd"]) == 562.5
    assert float(strategies["all_sonnet"]["monthly_cost_usd"]) == 202_500
    assert set(strategies) == {"all_sonnet", "all_haiku", "cascade", "cascade_cache"}


@pytest.mark.parametrize("command", ["capacity", "recommend", "tco", "break-even", "strategies", "select-model"])
def test_every_subcommand_prints_a_table_and_writes_a_chart(command, tmp_path):
    path = tmp_path / f"{command}.png"
    result = run(command, "--chart", str(path))
    assert result.exit_code == 0, result.output
    assert "Notes:" in result.stdout
    assert path.read_bytes().startswith(b"\x89PNG")


def test_options_override_inputs():
    result = run("tco", "--provisioned-units", "49", "--commitment", "six_months", "--json")
    provisioned = next(p for p in json.loads(result.stdout)["patterns"] if p["pattern"] == "bedrock_provisioned")
    assert provisioned["viable"] is True and float(provisioned["compute_usd"]) == 49 * 11.5 * 24 * 30
    assert json.loads(run("capacity", "--haiku-tpm", "80000", "--json").stdout)["model_units"]["haiku"] == 25
    assert json.loads(run("capacity", "--set", "headroom=0", "--json").stdout)["sagemaker_instances"] == 11
    assert json.loads(run("strategies", "--escalation-rate", "0.05", "--json").stdout)["identity"]["holds"]
    assert json.loads(run("recommend", "--latency-tolerance", "1.5", "--json").stdout)["runner_up"] == (
        "lambda_bedrock_on_demand")
    assert json.loads(run("select-model", "--min-quality", "0.8", "--json").stdout)["selected"] == "haiku"
    assert json.loads(run("break-even", "--sonnet-unit-price", "15", "--json").stdout)["points"][3]["never"] is False


@pytest.mark.parametrize("args, message", [
    (["capacity", "--messages-per-day", "lots"], "--messages-per-day"),
    (["capacity", "--messages-per-day", "-5"], "messages_per_day"),
    (["capacity", "--set", "nonsense=1"], "nonsense"),
    (["strategies", "--escalation-rate", "1.5"], "escalation_rate"),
    (["recommend", "--weight", "latency"], "NAME=NUMBER"),
    (["tco", "--commitment", "forever"], "--commitment"),
])
def test_bad_option_values_fail_with_a_clear_message(args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_charts_are_pngs_for_every_result():
    turns = [TurnCost(day="2025-11-01", cost_usd="0.001"), TurnCost(day="2025-11-02", cost_usd="0.002")]
    for result in (capacity_plan(), recommend_pattern(), total_cost_of_ownership(), break_even(),
                   compare_strategies(), select_model(), project_from_turns(turns)):
        png = chart(result)
        assert png.startswith(b"\x89PNG") and len(png) > 1000
    with pytest.raises(TypeError):
        chart(object())
