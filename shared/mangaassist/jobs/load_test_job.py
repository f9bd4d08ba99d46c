"""The load-test kind: the summary `mangaassist loadtest --job` measured, stored with its latency chart.

The client runs the load and the job only stores it: a load generator inside the stack would compete with the
turns it measures for the same Lambda concurrency and network, could not outlast Lambda's 15 minutes, and
would measure from inside AWS rather than from where the customers are.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mangaassist.jobs.models import LoadTestJob
from mangaassist.jobs.results import JobOutput
from mangaassist.quality.load_chart import latency_chart


def run_load_test(job: LoadTestJob) -> JobOutput:
    summary = job.params.summary
    latency = summary.latency_ms_all_turns

    def ms(value: float | None) -> str:
        return "no reply" if value is None else f"{value:.0f} ms"

    line = (f"{summary.shape.pattern.value} {summary.shape.rate:g}/s for {summary.shape.duration:g} s against "
            f"{summary.target}: {summary.replied}/{summary.scheduled} replied, p50 {ms(latency.p50)}, "
            f"p95 {ms(latency.p95)}, p99 {ms(latency.p99)}; {summary.fallbacks} fallbacks, "
            f"{summary.no_reply} no reply; ${summary.cost.per_turn_usd:.6f}/turn, "
            f"${summary.cost.projected_monthly_usd:,.2f}/month at {summary.cost.daily_messages:,}/day")
    return JobOutput(result={"kind": job.kind, "job_id": job.job_id,
                             "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                             "summary": summary.model_dump(mode="json"),
                             "bins": [b.model_dump(mode="json") for b in job.params.bins]},
                     charts={"latency": latency_chart(summary.shape, job.params.bins)}, summary=line)
