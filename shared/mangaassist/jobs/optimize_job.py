"""The `optimize` analytics job: the SLA optimizer over the stored turns, run every 15 minutes by an EventBridge
rule (template.yaml OptimizerSchedule). It recommends only, unless the stack's OptimizerApply=true (the
function's OPTIMIZER_APPLY): then it writes its one step to the runtime configuration, with the audit record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mangaassist.jobs.results import JobOutput
from mangaassist.settings import settings
from mangaassist.tuning.params import OptimizeParams
from mangaassist.tuning.runtime_config import RuntimeConfigStore
from mangaassist.tuning.service import run_optimizer, summary
from mangaassist.tuning.window import TurnSource

logger = Logger(service="mangaassist")


def run_optimize(job_id: str, params: OptimizeParams, turns: TurnSource, store: RuntimeConfigStore | None = None,
                 s3: Any = None) -> JobOutput:
    from mangaassist.adapters import aws
    from mangaassist.jobs.worker import JOBS_CONFIG

    s = settings()
    store = store or RuntimeConfigStore(aws.client("dynamodb", JOBS_CONFIG), s.require("runtime_config_table"))
    notes = []
    quality, source = params.quality, "job params" if params.quality is not None else "unknown"
    if quality is None and s.results_bucket:
        from mangaassist.tuning.quality import QualityUnreadable, quality_from_bucket

        try:
            found = quality_from_bucket(s3 or aws.client("s3", JOBS_CONFIG), s.results_bucket)
        except QualityUnreadable as error:
            found = None
            notes.append(f"quality unknown: {error}")
        if found is not None:
            quality, source = found
    apply = bool(params.apply) if params.apply is not None else s.optimizer_apply
    if apply and not s.optimizer_apply:
        notes.append("apply was asked but this stack's OptimizerApply is false: dry run")
        apply = False
    result = run_optimizer(turns, store, s.confidence_threshold, minutes=params.window_minutes, quality=quality,
                           quality_source=source, apply=apply, who=f"analytics-worker job {job_id}",
                           cooldown_minutes=params.cooldown_minutes, min_turns=params.min_turns)
    result["job_id"] = job_id
    result["notes"] = notes + result["notes"]
    if result["applied"]:
        logger.info("optimizer applied a step", extra={"job_id": job_id, "applied": result["applied"]})
    return JobOutput(result=result, summary=summary(result))
