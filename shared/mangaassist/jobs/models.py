"""Analytics jobs as typed messages: one pydantic model per kind, a discriminated union on `kind`.

A job on the analytics queue (and what `mangaassist jobs submit` sends) is one JSON object:

    {"kind": "cost-report", "job_id": "cost-report-20251123-101500-3f9c2a", "params": {"start": "2025-11-01",
     "end": "2025-11-30"}}

`job_id` is the client's choice or generated; it keys the job's status item and its results in S3, so it is
restricted to letters, digits, ".", "_" and "-". The same models validate a job when it is submitted and when
the worker receives it: a job the worker would refuse is refused at submit time with the same message.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from mangaassist.planning import BreakEvenInputs, CapacityInputs, StrategyInputs, TcoInputs
from mangaassist.quality.load_report import LoadTestResult
from mangaassist.quality.run_record import RegressionRun
from mangaassist.tuning.params import OptimizeParams

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
_JOB_ID = re.compile(JOB_ID_PATTERN)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_REPORT_DAYS = 93  # a quarter: one Query per day over the sessions table's ByDay index, within one invocation

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]


class JobRejected(ValueError):
    """A job that cannot run as given (not JSON, unknown kind, invalid params): FAILED, never retried.

    The message says what to change, e.g. "params.start: expected a day as YYYY-MM-DD, got '11/01'"."""


def new_job_id(kind: str, now: datetime | None = None) -> str:
    """A fresh id: the kind, the UTC time and a random suffix (sortable by time within a kind)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{kind}-{stamp}-{uuid.uuid4().hex[:6]}"


def valid_job_id(value: object) -> bool:
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


class JobBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: JobId

    @model_validator(mode="before")
    @classmethod
    def _generated_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("job_id") is None:
            return {**data, "job_id": new_job_id(str(data.get("kind", "job")))}
        return data

    def message(self) -> str:
        """The job as the analytics queue carries it."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)

    def params_json(self) -> str:
        params = getattr(self, "params", None)
        return json.dumps(params.model_dump(mode="json") if isinstance(params, BaseModel) else {},
                          ensure_ascii=False, sort_keys=True)


class CostReportParams(BaseModel):
    """JST days, both inclusive: start=end is one day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date = Field(description="the first JST day, YYYY-MM-DD")
    end: date | None = Field(None, description="the last JST day, YYYY-MM-DD (default: start)")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        if value is None or isinstance(value, date):
            return value
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError(f"expected a day as YYYY-MM-DD, got {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar day") from None

    @model_validator(mode="after")
    def _a_bounded_range(self) -> CostReportParams:
        if self.end is None:
            object.__setattr__(self, "end", self.start)  # frozen: set once, while validating
        if self.last < self.start:
            raise ValueError(f"end ({self.last}) is before start ({self.start})")
        if self.days > MAX_REPORT_DAYS:
            raise ValueError(f"the range has {self.days} days; a report covers at most {MAX_REPORT_DAYS} "
                             "(split it into several jobs)")
        return self

    @property
    def last(self) -> date:
        return self.end or self.start

    @property
    def days(self) -> int:
        return (self.last - self.start).days + 1


class CostReportJob(JobBase):
    kind: Literal["cost-report"]
    params: CostReportParams


# The planning kinds: params are the planning library's input models, every field defaulted (SPEC §3, the seeds).
class CapacityPlanJob(JobBase):
    kind: Literal["capacity-plan"]
    params: CapacityInputs = Field(default_factory=CapacityInputs)


class TcoJob(JobBase):
    kind: Literal["tco"]
    params: TcoInputs = Field(default_factory=TcoInputs)


class BreakEvenJob(JobBase):
    kind: Literal["break-even"]
    params: BreakEvenInputs = Field(default_factory=BreakEvenInputs)


class StrategiesJob(JobBase):
    kind: Literal["strategies"]
    params: StrategyInputs = Field(default_factory=StrategyInputs)


class LoadTestJob(JobBase):
    """A load test's summary and time bins, as `mangaassist loadtest --job` measured them: stored with a chart."""

    kind: Literal["load-test"]
    params: LoadTestResult


class RegressionRunJob(JobBase):
    """A prompt regression run, as `mangaassist regress --job` measured it: stored with a chart and as the
    last-run record the SLA optimizer reads."""

    kind: Literal["regression-run"]
    params: RegressionRun


class OptimizeJob(JobBase):
    """The SLA optimizer over the stored turns (mangaassist.tuning): the schedule's job, or yours."""

    kind: Literal["optimize"]
    params: OptimizeParams = Field(default_factory=OptimizeParams)


Job = Annotated[CostReportJob | CapacityPlanJob | TcoJob | BreakEvenJob | StrategiesJob | LoadTestJob | OptimizeJob
                | RegressionRunJob,
                Field(discriminator="kind")]
KIND_TYPES: dict[str, type[JobBase]] = {"cost-report": CostReportJob, "capacity-plan": CapacityPlanJob, "tco": TcoJob,
                                        "break-even": BreakEvenJob, "strategies": StrategiesJob,
                                        "load-test": LoadTestJob, "optimize": OptimizeJob,
                                        "regression-run": RegressionRunJob}
JOB_KINDS: tuple[str, ...] = tuple(KIND_TYPES)
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Job)


def params_model(kind: str) -> type[BaseModel]:
    """The params model of a kind (JobRejected for an unknown kind)."""
    if kind not in KIND_TYPES:
        raise JobRejected(unknown_kind(kind))
    annotation = KIND_TYPES[kind].model_fields["params"].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def unknown_kind(kind: object) -> str:
    return f"unknown job kind {kind!r} (kinds: {', '.join(JOB_KINDS)})"


def describe(error: ValidationError) -> str:
    """A pydantic error as one line a person can act on: "params.start: expected a day as YYYY-MM-DD, ..."."""
    problems = []
    for item in error.errors(include_url=False):
        if item["type"] == "union_tag_invalid":
            problems.append(unknown_kind(item.get("input", {}).get("kind") if isinstance(item.get("input"), dict)
                                         else item.get("ctx", {}).get("tag")))
            continue
        if item["type"] == "union_tag_not_found":
            problems.append(f'no job kind: give "kind", one of {", ".join(JOB_KINDS)}')
            continue
        loc = [str(part) for part in item["loc"]]
        if loc and loc[0] in JOB_KINDS:
            loc = loc[1:]  # the union's tag
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif loc == ["job_id"]:
            message = f"{item.get('input')!r} is not a job id: 1-80 letters, digits, '.', '_' or '-', " \
                      "starting with a letter or digit"
        problems.append(f"{'.'.join(loc) or 'job'}: {message}")
    return "; ".join(problems)


def parse_job(data: Any) -> JobBase:
    """A job from a message body (str/bytes) or a decoded object; JobRejected says what is wrong."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as error:
            raise JobRejected(f"the message is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise JobRejected(f"a job is a JSON object with kind, job_id and params, got {type(data).__name__}")
    try:
        job = _ADAPTER.validate_python(data)
    except ValidationError as error:
        raise JobRejected(describe(error)) from None
    assert isinstance(job, JobBase)
    return job


def build_job(kind: str, params: dict[str, Any], job_id: str | None = None) -> JobBase:
    """A job from its parts (the CLI's submit): the same validation as parse_job."""
    if kind not in JOB_KINDS:
        raise JobRejected(unknown_kind(kind))
    return parse_job({"kind": kind, "job_id": job_id, "params": params})
