"""The runtime configuration: tuned values a chat turn reads at run time, without a redeploy.

Where it lives: the RuntimeConfigTable (template.yaml), hash key `id`, value in `value` (JSON):

- `chat-turn`            the current record: the version and the overrides in force;
- `chat-turn#v000007`    one immutable audit record per version: who, when, why, old -> new, the previous version.

A dedicated small table rather than a reserved key in the budget table: the audit trail is kept (no TTL, point in
time recovery), the functions that only read get GetItem on it alone, and the budget table's per-day items keep
their own lifecycle.

Only overrides are stored: a value without one follows the deploy (the ConfidenceThreshold parameter, the
prompts' max tokens, the cache TTL), so `revert` to version 0 means "the deployed defaults". Every write is one
transaction (the current record, conditional on the version it replaces, and its audit record), so two writers
never both win.

How a turn reads it: Route reads the current record through Powertools Parameters (DynamoDBProvider, one GetItem
cached for RUNTIME_CONFIG_MAX_AGE_SECONDS, 5 s as deployed, 0 locally) and puts the turn's effective threshold,
max tokens and cache TTL in its decision; CheckConfidence, Attempt/Escalate and Finalize use those, so one turn
uses one version throughout. An unreadable configuration is the deployed defaults, never a failed turn.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mangaassist.answer.prompts import MAX_TOKENS
from mangaassist.reply.cache import CACHEABLE_TASKS, TTL_SECONDS
from mangaassist.settings import settings
from mangaassist.turn import Task

logger = Logger(service="mangaassist")

CONFIG_ID = "chat-turn"
Knob = Literal["confidence_threshold", "max_tokens", "cache_ttl_seconds"]
# Bounds the optimizer (and any write) must stay within, and its step sizes.
THRESHOLD_BOUNDS = (0.70, 0.90)
THRESHOLD_STEP = 0.02
TTL_BOUNDS = (60, 900)  # beyond 15 min a cached recommendation may quote stale stock
TTL_STEP = 60
MAX_TOKENS_FLOOR_SHARE = 0.5  # never below half of what the prompt was designed for
MAX_TOKENS_MIN = 64
# Read inside Route's 3 s: one short try, then the deployed defaults.
READ_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 1})


def default_ttl(task: Task) -> int | None:
    """The cache TTL of a cacheable task as deployed (None: the task is never cached)."""
    return TTL_SECONDS if task.value in CACHEABLE_TASKS else None


def max_tokens_bounds(task: Task) -> tuple[int, int]:
    default = MAX_TOKENS[task]
    return max(MAX_TOKENS_MIN, round(default * MAX_TOKENS_FLOOR_SHARE)), default


def max_tokens_step(task: Task) -> int:
    """10% of the task's designed maximum, in tens of tokens."""
    return max(10, round(MAX_TOKENS[task] * 0.1 / 10) * 10)


class Overrides(BaseModel):
    """The tuned values that differ from the deployed defaults; every one within its bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    confidence_threshold: float | None = None
    max_tokens: dict[Task, int] = Field(default_factory=dict)
    cache_ttl_seconds: dict[Task, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _within_bounds(self) -> Overrides:
        low, high = THRESHOLD_BOUNDS
        if self.confidence_threshold is not None and not low <= self.confidence_threshold <= high:
            raise ValueError(f"confidence_threshold {self.confidence_threshold} is outside {low}..{high}")
        for task, tokens in self.max_tokens.items():
            floor, ceiling = max_tokens_bounds(task)
            if not floor <= tokens <= ceiling:
                raise ValueError(f"max_tokens[{task.value}] {tokens} is outside {floor}..{ceiling}")
        for task, ttl in self.cache_ttl_seconds.items():
            if default_ttl(task) is None:
                raise ValueError(f"cache_ttl_seconds[{task.value}]: {task.value} answers are never cached")
            if not TTL_BOUNDS[0] <= ttl <= TTL_BOUNDS[1]:
                raise ValueError(f"cache_ttl_seconds[{task.value}] {ttl} is outside {TTL_BOUNDS[0]}..{TTL_BOUNDS[1]}")
        return self


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)
    knob: Knob
    task: Task | None = None
    old: float
    new: float

    def describe(self) -> str:
        where = f"[{self.task.value}]" if self.task else ""
        return f"{self.knob}{where} {_num(self.old)} -> {_num(self.new)}"


class ConfigRecord(BaseModel):
    """One version of the runtime configuration (version 0: nothing written, the deployed defaults)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    version: int = Field(default=0, ge=0)
    overrides: Overrides = Field(default_factory=Overrides)
    action: Literal["defaults", "apply", "revert", "reset"] = "defaults"
    previous_version: int | None = None
    changes: list[Change] = Field(default_factory=list)
    updated_at: str | None = None  # ISO 8601, UTC
    updated_by: str = ""
    reason: str = ""

    def updated_at_time(self) -> datetime | None:
        return datetime.fromisoformat(self.updated_at) if self.updated_at else None


DEFAULTS = ConfigRecord()


def _num(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:g}"


# -- effective values ----------------------------------------------------------------------------------------------
def value_of(overrides: Overrides, knob: Knob, task: Task | None, deploy_threshold: float) -> float | None:
    """The value in force for one knob (None: a TTL of a task that is never cached)."""
    if knob == "confidence_threshold":
        return overrides.confidence_threshold if overrides.confidence_threshold is not None else deploy_threshold
    assert task is not None, f"{knob} is per task"
    if knob == "max_tokens":
        return overrides.max_tokens.get(task, MAX_TOKENS[task])
    return overrides.cache_ttl_seconds.get(task, default_ttl(task))


def effective(overrides: Overrides, deploy_threshold: float) -> dict[str, Any]:
    """Every tuned value in force, as JSON."""
    return {"confidence_threshold": value_of(overrides, "confidence_threshold", None, deploy_threshold),
            "max_tokens": {t.value: value_of(overrides, "max_tokens", t, deploy_threshold) for t in Task},
            "cache_ttl_seconds": {t.value: value_of(overrides, "cache_ttl_seconds", t, deploy_threshold)
                                  for t in Task if default_ttl(t) is not None}}


def with_change(overrides: Overrides, change: Change, deploy_threshold: float) -> Overrides:
    """The overrides after one change; a value back at its default is dropped (it follows the deploy again)."""
    data = overrides.model_dump()
    if change.knob == "confidence_threshold":
        new = round(change.new, 4)
        data["confidence_threshold"] = None if abs(new - deploy_threshold) < 1e-9 else new
    else:
        assert change.task is not None
        per_task = dict(data[change.knob])
        default = MAX_TOKENS[change.task] if change.knob == "max_tokens" else default_ttl(change.task)
        if int(change.new) == default:
            per_task.pop(change.task, None)
        else:
            per_task[change.task] = int(change.new)
        data[change.knob] = per_task
    return Overrides.model_validate(data)


def differences(old: Overrides, new: Overrides, deploy_threshold: float) -> list[Change]:
    """What moves when `new` replaces `old` (effective values, so a dropped override shows its default)."""
    changes = []
    keys: list[tuple[Knob, Task | None]] = [("confidence_threshold", None)]
    keys += [("max_tokens", t) for t in Task] + [("cache_ttl_seconds", t) for t in Task if default_ttl(t)]
    for knob, task in keys:
        before, after = value_of(old, knob, task, deploy_threshold), value_of(new, knob, task, deploy_threshold)
        if before != after and before is not None and after is not None:
            changes.append(Change(knob=knob, task=task, old=before, new=after))
    return changes


class TurnTuning(BaseModel):
    """What one turn uses: Route puts it in its decision."""

    version: int
    confidence_threshold: float
    max_tokens: int
    cache_ttl_seconds: int | None


def turn_tuning(record: ConfigRecord, task: Task, deploy_threshold: float) -> TurnTuning:
    o = record.overrides
    ttl = value_of(o, "cache_ttl_seconds", task, deploy_threshold)
    return TurnTuning(version=record.version,
                      confidence_threshold=float(value_of(o, "confidence_threshold", None, deploy_threshold) or 0),
                      max_tokens=int(value_of(o, "max_tokens", task, deploy_threshold) or MAX_TOKENS[task]),
                      cache_ttl_seconds=None if ttl is None else int(ttl))


# -- the store: versions, audit records, revert ----------------------------------------------------------------------
class ConfigConflict(RuntimeError):
    """Another writer changed the configuration first."""


class NothingToRevert(ValueError):
    pass


def audit_id(version: int) -> str:
    return f"{CONFIG_ID}#v{version:06d}"


def now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


class RuntimeConfigStore:
    """Reads and writes the runtime configuration table (a low-level DynamoDB client)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def _get(self, key: str) -> ConfigRecord | None:
        item = self.client.get_item(TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
        return ConfigRecord.model_validate_json(item["value"]["S"]) if item else None

    def current(self) -> ConfigRecord:
        return self._get(CONFIG_ID) or DEFAULTS

    def version(self, version: int) -> ConfigRecord | None:
        return DEFAULTS if version == 0 else self._get(audit_id(version))

    def history(self, limit: int = 20) -> list[ConfigRecord]:
        """The latest versions, newest first (version 0, the defaults, not included)."""
        latest = self.current().version
        ids = [audit_id(v) for v in range(latest, max(latest - limit, 0), -1)]
        if not ids:
            return []
        response = self.client.batch_get_item(RequestItems={self.table: {
            "Keys": [{"id": {"S": i}} for i in ids], "ConsistentRead": True}})
        records = [ConfigRecord.model_validate_json(item["value"]["S"])
                   for item in response.get("Responses", {}).get(self.table, [])]
        return sorted(records, key=lambda r: -r.version)

    def write(self, base: ConfigRecord, overrides: Overrides, changes: list[Change], action: str, who: str,
              reason: str, now: datetime | None = None) -> ConfigRecord:
        """Version base.version + 1, only if `base` is still the current version (else ConfigConflict)."""
        from botocore.exceptions import ClientError

        record = ConfigRecord(version=base.version + 1, overrides=overrides, action=action,  # type: ignore[arg-type]
                              previous_version=base.version, changes=changes, updated_at=now_iso(now),
                              updated_by=who, reason=reason)
        value = {"S": record.model_dump_json()}
        version = {"N": str(record.version)}
        current: dict[str, Any] = {"TableName": self.table,
                                   "Item": {"id": {"S": CONFIG_ID}, "version": version, "value": value}}
        if base.version == 0:
            current["ConditionExpression"] = "attribute_not_exists(id)"
        else:
            current["ConditionExpression"] = "version = :v"
            current["ExpressionAttributeValues"] = {":v": {"N": str(base.version)}}
        audit = {"TableName": self.table, "ConditionExpression": "attribute_not_exists(id)",
                 "Item": {"id": {"S": audit_id(record.version)}, "version": version, "value": value}}
        try:
            self.client.transact_write_items(TransactItems=[{"Put": current}, {"Put": audit}])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("TransactionCanceledException",
                                                               "ConditionalCheckFailedException"):
                raise ConfigConflict(f"the runtime configuration moved past version {base.version} meanwhile; "
                                     "run again") from None
            raise
        return record


def apply_change(store: RuntimeConfigStore, base: ConfigRecord, change: Change, deploy_threshold: float, who: str,
                 reason: str, now: datetime | None = None) -> ConfigRecord:
    overrides = with_change(base.overrides, change, deploy_threshold)
    return store.write(base, overrides, [change], "apply", who, reason, now)


def revert(store: RuntimeConfigStore, deploy_threshold: float, who: str, to_defaults: bool = False,
           now: datetime | None = None) -> ConfigRecord:
    """Back to the version before the current one (undo the last change), or to the deployed defaults.

    A revert is itself a new version with its audit record, so it can be reverted too."""
    current = store.current()
    if to_defaults:
        target, why = DEFAULTS, "reset to the deployed defaults"
    else:
        if current.version == 0 or current.previous_version is None:
            raise NothingToRevert("nothing to revert: the runtime configuration is the deployed defaults "
                                  "(no version written yet)")
        found = store.version(current.previous_version)
        if found is None:
            raise NothingToRevert(f"the audit record of version {current.previous_version} is missing")
        target, why = found, f"revert version {current.version} to version {current.previous_version}"
    changes = differences(current.overrides, target.overrides, deploy_threshold)
    if to_defaults and not changes:
        raise NothingToRevert("nothing to reset: the runtime configuration is already the deployed defaults")
    return store.write(current, target.overrides, changes, "reset" if to_defaults else "revert", who, why, now)


# -- the turn's cached read -------------------------------------------------------------------------------------------
_unreadable_until: dict[str, float] = {}  # table -> monotonic time: defaults are used until then


@cache
def _provider(table: str) -> Any:
    import boto3
    from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

    resource = boto3.resource("dynamodb", region_name=settings().region, config=READ_CONFIG)
    return DynamoDBProvider(table_name=table, key_attr="id", value_attr="value", boto3_client=resource)


def current_record() -> ConfigRecord:
    """The record in force for this turn: cached for max_age seconds; the defaults when there is none or it cannot
    be read (a miss is remembered for max_age too, so a turn never waits on a failing table twice)."""
    s = settings()
    table = s.runtime_config_table
    if not table:
        return DEFAULTS
    max_age = s.runtime_config_max_age_seconds
    if _unreadable_until.get(table, 0.0) > time.monotonic():
        return DEFAULTS
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    try:
        raw = _provider(table).get(CONFIG_ID, max_age=max_age, transform="json", force_fetch=max_age <= 0)
        return ConfigRecord.model_validate(raw)
    except GetParameterError as error:
        if str(error) != "'Item'":  # Powertools' message for a missing item: nothing written yet
            logger.warning("runtime configuration unreadable: deployed defaults", extra={"error": str(error)})
    except (TransformParameterError, ValidationError, json.JSONDecodeError) as error:
        logger.warning("runtime configuration invalid: deployed defaults", extra={"error": str(error)[:500]})
    _unreadable_until[table] = time.monotonic() + max_age
    return DEFAULTS


def forget_cached() -> None:
    """Drop the cached record (tests; a local stack after an apply)."""
    _unreadable_until.clear()
    _provider.cache_clear()
