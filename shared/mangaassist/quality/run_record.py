"""A regression run as a `regression-run` analytics job carries it: the report without the answers' text.

The client runs the golden set and the job stores it (like the load test): the turns go through the public
WebSocket as a customer's would, and a run outlasts nothing in Lambda. The job writes the report and its chart
under jobs/<id>/ and the last-run record to quality/last-regression.json, where the SLA optimizer reads quality.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mangaassist.quality.report import LAST_RUN_KEY, last_run_record


class RegressionFinding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scope: str
    name: str
    baseline: float | None
    current: float | None
    severity: str
    relative_drop: float | None


class RegressionRun(BaseModel):
    """The parts of `mangaassist regress --json` a job stores (answers and per-run problems stay client-side)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    generated_at: str
    target: str
    commit: str
    prompts_version: str
    overall: float = Field(ge=0, le=1)
    per_task: dict[str, float]
    per_language: dict[str, float]
    cases: dict[str, float]
    case_count: int = Field(gt=0)
    repeat: int = Field(ge=1)
    threshold: float
    pass_rate: float
    pass_k: float
    flaky: list[str]
    failing: list[str]
    errors: int
    fallbacks: int
    cached: int
    model_ids: list[str]
    embedding: dict[str, Any]
    verdict: str
    severity_counts: dict[str, int]
    findings: list[RegressionFinding]
    baseline: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """The last-run record (report.last_run_record) of this run."""
        return last_run_record(self.model_dump(mode="json") | {"baseline": self.baseline or {}})


__all__ = ["LAST_RUN_KEY", "RegressionFinding", "RegressionRun"]
