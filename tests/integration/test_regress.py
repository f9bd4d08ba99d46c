"""`mangaassist regress` end to end against the local stack: it passes against the committed baseline, and it
fails with a critical regression when both Claude tiers fail (every turn gets the canned fallback)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mangaassist_local.cli import app
from mangaassist_local.faults import FaultPlan, parse_faults
from mangaassist_local.gateway import Gateway

# Price, stock and order answers are never served from the answer cache, so a faulted run cannot be answered
# from an earlier healthy run's cache; 36 of the golden set's cases, both languages.
TASKS = ["--task", "product_search", "--task", "order_status"]


def _regress(gateway: Gateway, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    # The report is read from --out: the in-process handlers log to the same stdout as --json.
    result = CliRunner().invoke(app, ["regress", "--url", gateway.url, *TASKS, "--json", "--out",
                                      str(tmp_path / "report.json"), "--last-run", str(tmp_path / "last.json"),
                                      *extra])
    assert (tmp_path / "report.json").exists(), result.output
    return result.exit_code, json.loads((tmp_path / "report.json").read_text())


def test_regress_passes_against_the_committed_baseline(gateway: Gateway, tmp_path: Path) -> None:
    code, report = _regress(gateway, tmp_path, "--chart", str(tmp_path / "tasks.png"))
    assert report["case_count"] == 36 and report["errors"] == 0
    assert report["severity_counts"]["critical"] == 0, [f for f in report["findings"] if f["severity"] == "critical"]
    assert report["verdict"] == "pass" and code == 0
    assert report["overall"] >= 0.9 and set(report["per_language"]) == {"en", "ja"}
    assert (tmp_path / "tasks.png").read_bytes().startswith(b"\x89PNG")
    last = json.loads((tmp_path / "last.json").read_text())
    assert last["overall"] == report["overall"] and last["verdict"] == "pass"


def test_regress_fails_critical_when_both_models_fail(gateway: Gateway, faults: FaultPlan, tmp_path: Path) -> None:
    faults.set(parse_faults("haiku=error,sonnet=error"))
    code, report = _regress(gateway, tmp_path)
    # Every turn gets the apology (through the fallback, or straight from the open circuit): no case passes.
    assert report["errors"] == 0 and report["pass_k"] == 0.0
    assert report["verdict"] == "fail" and code == 1
    critical = {(f["scope"], f["name"]) for f in report["findings"] if f["severity"] == "critical"}
    assert ("overall", "overall") in critical and ("task", "product_search") in critical
    assert json.loads((tmp_path / "last.json").read_text())["verdict"] == "fail"
