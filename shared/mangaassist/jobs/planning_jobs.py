"""The planning kinds: the planning library (mangaassist.planning) on the job's params, its result and its chart.

result.json holds the inputs as validated (every default filled in) and the library's result, whose
`assumptions` and `notes` say what it assumed and where it departs from the seeds' arithmetic (SPEC §7).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from mangaassist.jobs.models import BreakEvenJob, CapacityPlanJob, JobBase, StrategiesJob, TcoJob
from mangaassist.jobs.results import JobOutput
from mangaassist.planning import (
    BreakEvenReport,
    CapacityPlan,
    StrategyComparison,
    TcoReport,
    break_even,
    capacity_plan,
    chart,
    compare_strategies,
    total_cost_of_ownership,
)


def _capacity_summary(plan: CapacityPlan) -> str:
    units = ", ".join(f"{model} {n}" for model, n in plan.model_units.items())
    return (f"{plan.average_rps:.2f} RPS average, {plan.peak_rps:.1f} peak, {plan.burst_rps:.1f} burst; model units "
            f"at peak: {units}; SageMaker instances: {plan.sagemaker_instances}; Lambda concurrency: "
            f"{plan.lambda_concurrency}")


def _tco_summary(report: TcoReport) -> str:
    def total(pattern: Any) -> str:
        cost = next((p for p in report.patterns if p.pattern == pattern), None)
        return f" (${cost.total_usd:,.0f}/month)" if cost is not None else ""

    viable = report.cheapest_viable
    sized = report.cheapest_when_sized
    return (f"cheapest viable as configured: {viable.value + total(viable) if viable else 'none'}; "
            f"cheapest when sized for the load: {sized.value + total(sized) if sized else 'none'}")


def _break_even_summary(report: BreakEvenReport) -> str:
    return "; ".join(f"{p.model}/{p.commitment.value}: "
                     + ("never" if p.never or p.break_even_utilisation is None
                        else f"above {p.break_even_utilisation:.0%} utilisation")
                     for p in report.points)


def _strategies_summary(result: StrategyComparison) -> str:
    per_query = ", ".join(f"{name} ${r.cost_per_query_usd:.6f}/query" for name, r in result.strategies.items())
    floor = result.best_meeting_quality_floor
    return (f"best by score: {result.best_by_score.value}; best meeting the quality floor: "
            f"{floor.value if floor else 'none'}; {per_query}")


# kind -> (the library's function, the one-line summary of its result)
PLANNERS: dict[type[JobBase], tuple[Callable[[Any], BaseModel], Callable[[Any], str]]] = {
    CapacityPlanJob: (capacity_plan, _capacity_summary),
    TcoJob: (total_cost_of_ownership, _tco_summary),
    BreakEvenJob: (break_even, _break_even_summary),
    StrategiesJob: (compare_strategies, _strategies_summary),
}


def run_planning(job: JobBase) -> JobOutput:
    plan, summarise = PLANNERS[type(job)]
    params = getattr(job, "params")  # noqa: B009 - every planning job has params; JobBase does not declare them
    result = plan(params)
    kind = str(getattr(job, "kind"))  # noqa: B009
    return JobOutput(
        result={"kind": kind, "job_id": job.job_id,
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "inputs": params.model_dump(mode="json"), "result": result.model_dump(mode="json")},
        charts={kind: chart(result)}, summary=summarise(result))
