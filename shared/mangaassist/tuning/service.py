"""One optimizer run, the same for the CLI and the analytics worker: window -> SLA status -> plan -> (apply)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mangaassist.tuning.optimizer import DEFAULT_COOLDOWN_MINUTES, DEFAULT_MIN_TURNS, Plan, recommend
from mangaassist.tuning.runtime_config import ConfigRecord, RuntimeConfigStore, apply_change, effective
from mangaassist.tuning.window import TurnSource, WindowStats, collect, sla_status


def record_json(record: ConfigRecord, deploy_threshold: float) -> dict[str, Any]:
    return {"version": record.version, "action": record.action, "updated_at": record.updated_at,
            "updated_by": record.updated_by, "reason": record.reason,
            "changes": [c.model_dump(mode="json") for c in record.changes],
            "overrides": record.overrides.model_dump(mode="json", exclude_defaults=True),
            "effective": effective(record.overrides, deploy_threshold)}


def report(stats: WindowStats, plan: Plan, record: ConfigRecord, deploy_threshold: float, mode: str,
           applied: ConfigRecord | None, now: datetime) -> dict[str, Any]:
    figures = stats.model_dump(mode="json", exclude={"by_task", "config_versions", "start", "end"})
    return {
        "kind": "optimize",
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "window": {"start": stats.start.isoformat(timespec="seconds"), "end": stats.end.isoformat(timespec="seconds"),
                   "minutes": round((stats.end - stats.start).total_seconds() / 60),
                   "config_versions": stats.config_versions},
        "figures": figures,
        "sla": [c.model_dump(mode="json") for c in plan.sla],
        "met": all(c.status != "breach" for c in plan.sla),
        "by_task": {task: f.model_dump(mode="json") for task, f in stats.by_task.items()},
        "config": record_json(applied or record, deploy_threshold),
        "recommendations": [r.model_dump(mode="json") for r in plan.recommendations],
        "action": plan.action.model_dump(mode="json") if plan.action else None,
        "applied": None if applied is None else {"version": applied.version,
                                                 "changes": [c.describe() for c in applied.changes]},
        "cooldown_until": plan.cooldown_until.isoformat(timespec="seconds") if plan.cooldown_until else None,
        "notes": plan.notes,
        "definitions": {
            "latency": "meta.latency_ms.total of every turn in the window (cache hits included), nearest rank",
            "cost_per_query_usd": "sum of costUsd over all turns (a cache hit costs 0)",
            "escalation_rate": "escalated turns over the turns that ran the model",
            "availability": "turns with a real answer (accepted, or a cache hit) over all turns",
            "quality": "the last prompt regression score (None: unknown, not a breach)"},
    }


def run_optimizer(turns: TurnSource, store: RuntimeConfigStore, deploy_threshold: float, *, minutes: int = 60,
                  quality: float | None = None, quality_source: str = "unknown", apply: bool = False,
                  who: str = "", now: datetime | None = None, cooldown_minutes: int = DEFAULT_COOLDOWN_MINUTES,
                  min_turns: int = DEFAULT_MIN_TURNS) -> dict[str, Any]:
    """The report of one run; with `apply`, its one step is written (a new version with its audit record)."""
    now = now or datetime.now(UTC)
    record = store.current()
    stats = collect(turns, now, minutes, quality, quality_source)
    plan = recommend(stats, sla_status(stats), record, deploy_threshold, now, cooldown_minutes, min_turns)
    applied = None
    if apply and plan.action is not None:
        applied = apply_change(store, record, plan.action.change(), deploy_threshold, who, plan.action.reason, now)
        done = plan.action.model_copy(update={"status": "applied"})
        plan = plan.model_copy(update={"action": done, "recommendations": [
            done if r is plan.action else r for r in plan.recommendations]})
    return report(stats, plan, record, deploy_threshold, "apply" if apply else "dry-run", applied, now)


def summary(result: dict[str, Any]) -> str:
    breaches = [c["name"] for c in result["sla"] if c["status"] == "breach"]
    action = result["action"]
    step = "no change" if action is None else (
        f"{'applied' if result['applied'] else 'recommends'} {action['knob']}"
        f"{'[' + action['task'] + ']' if action.get('task') else ''} {action['old']:g} -> {action['new']:g}")
    return (f"{result['figures']['turns']} turns in {result['window']['minutes']} min; "
            f"{'breaches: ' + ', '.join(breaches) if breaches else 'SLA met'}; {step} "
            f"(config version {result['config']['version']})")
